//! `Rest::handle` never panics and answers every failure with an `OperationOutcome`, whatever
//! the path, method, headers and body (property test over generated requests).
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{FhirRequest, Method};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Head),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Patch),
        Just(Method::Delete),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Patient".to_string()),
        Just("Observation".to_string()),
        Just("_history".to_string()),
        Just("$validate".to_string()),
        Just("$everything".to_string()),
        Just("metadata".to_string()),
        Just("1".to_string()),
        Just("*".to_string()),
        "[a-zA-Z0-9_.$-]{0,8}",
    ]
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        Just(Some(br#"{"resourceType":"Patient","id":"1"}"#.to_vec())),
        Just(Some(br#"{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient"}}]}"#.to_vec())),
        Just(Some(br#"[{"op":"add","path":"/gender","value":"male"}]"#.to_vec())),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Some),
        "\\PC{0,64}".prop_map(|s| Some(s.into_bytes())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn every_failure_is_an_operation_outcome(
        m in method(),
        path in proptest::collection::vec(segment(), 0..5),
        query in proptest::collection::vec(("[_a-z:]{1,8}", "[a-z0-9|,]{0,6}"), 0..3),
        b in body(),
        if_match in proptest::option::of("W/\"[0-9]\"|\\*|x"),
    ) {
        let rest = support::rest();
        let mut req = FhirRequest::new(m, "");
        req.path = path;
        req.query = query;
        req.body = b;
        req.content_type = Some("application/fhir+json".into());
        req.if_match = if_match;
        let is_head = m == Method::Head;
        let resp = rest.handle(req);
        prop_assert!((200..600).contains(&resp.status));
        if is_head {
            prop_assert!(resp.json().is_none());
        } else if resp.status >= 400 {
            let body = resp.json().unwrap();
            prop_assert_eq!(&body["resourceType"], "OperationOutcome");
            prop_assert_ne!(resp.status, 500, "{}", body);
        }
    }
}
