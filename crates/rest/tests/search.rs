//! Black-box tests of the search interaction: type, system, POST `_search`, compartments,
//! `$everything`, paging links, `total`, `_summary`, `_elements`, lenient handling.
#![allow(clippy::unwrap_used)]

mod support;

use crosscare_rest::{FhirRequest, Method};
use serde_json::{json, Value};
use support::*;

fn link(b: &Value, rel: &str) -> Option<String> {
    b["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == rel)
        .map(|l| l["url"].as_str().unwrap().to_string())
}

fn setup() -> crosscare_rest::Rest {
    let rest = rest();
    for (id, family) in [("p1", "Smith"), ("p2", "Smith"), ("p3", "Jones")] {
        send(
            &rest,
            "PUT",
            &format!("Patient/{id}"),
            &[],
            Some(json!({
            "resourceType": "Patient", "id": id, "name": [{"family": family}], "gender": "female",
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})),
        );
    }
    for (i, subject) in ["Patient/p1", "Patient/p1", "Patient/p2"]
        .iter()
        .enumerate()
    {
        let resp = send(
            &rest,
            "PUT",
            &format!("Observation/o{i}"),
            &[],
            Some(
                json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                        "code": {"text": "t"}, "subject": {"reference": subject}}),
            ),
        );
        expect_status(&resp, 201);
    }
    rest
}

#[test]
fn type_search_with_paging() {
    let rest = setup();
    let resp = send(&rest, "GET", "Patient?family=smith&_count=1", &[], None);
    expect_status(&resp, 200);
    let b = body(&resp);
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 2);
    assert_eq!(b["entry"].as_array().unwrap().len(), 1);
    assert_eq!(b["entry"][0]["search"]["mode"], "match");
    assert!(b["entry"][0]["fullUrl"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{BASE}/Patient/p")));
    assert_eq!(
        link(b, "self").unwrap(),
        format!("{BASE}/Patient?family=smith&_count=1")
    );
    let next = link(b, "next").unwrap();
    assert_eq!(
        next,
        format!("{BASE}/Patient?family=smith&_count=1&_offset=1")
    );
    let page2 = send(&rest, "GET", next.strip_prefix(BASE).unwrap(), &[], None);
    assert_eq!(body(&page2)["entry"].as_array().unwrap().len(), 1);
    assert!(link(body(&page2), "next").is_none());
    assert!(link(body(&page2), "previous").is_some());
}

#[test]
fn post_search_and_system_search() {
    let rest = setup();
    let mut req = FhirRequest::new(Method::Post, "Patient/_search");
    req.body = Some(b"family=jones".to_vec());
    req.content_type = Some("application/x-www-form-urlencoded".into());
    let resp = rest.handle(req);
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["total"], 1);
    let sys = send(
        &rest,
        "GET",
        "?_type=Patient,Observation&_count=100",
        &[],
        None,
    );
    expect_status(&sys, 200);
    assert_eq!(body(&sys)["total"], 6);
}

#[test]
fn summary_and_elements() {
    let rest = setup();
    let count = send(&rest, "GET", "Patient?_summary=count", &[], None);
    assert_eq!(body(&count)["total"], 3);
    assert!(body(&count).get("entry").is_none());
    // No paging links beside `self`, even when `_count` is smaller than the total.
    let small = send(&rest, "GET", "Patient?_summary=count&_count=1", &[], None);
    let relations: Vec<&str> = body(&small)["link"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["relation"].as_str())
        .collect();
    assert_eq!(relations, ["self"]);
    let el = send(&rest, "GET", "Patient?_elements=gender&_id=p1", &[], None);
    let r = &body(&el)["entry"][0]["resource"];
    assert_eq!(r["gender"], "female");
    assert!(r.get("name").is_none());
    assert_eq!(r["meta"]["tag"][0]["code"], "SUBSETTED");
    let summary = send(&rest, "GET", "Patient?_summary=true&_id=p1", &[], None);
    let r = &body(&summary)["entry"][0]["resource"];
    assert!(r.get("text").is_none() && r.get("name").is_some());
}

#[test]
fn compartments_and_everything() {
    let rest = setup();
    let resp = send(&rest, "GET", "Patient/p1/Observation", &[], None);
    expect_status(&resp, 200);
    assert_eq!(body(&resp)["total"], 2);
    let all = send(&rest, "GET", "Patient/p1/*", &[], None);
    assert_eq!(
        body(&all)["total"],
        3,
        "the patient and its two observations"
    );
    let every = send(&rest, "GET", "Patient/p2/$everything", &[], None);
    expect_status(&every, 200);
    assert_eq!(body(&every)["total"], 2);
    expect_error(
        &send(&rest, "GET", "Patient/none/Observation", &[], None),
        404,
        "not-found",
    );
}

#[test]
fn search_errors_and_lenient_handling() {
    let rest = setup();
    expect_error(
        &send(&rest, "GET", "Patient?colour=red", &[], None),
        400,
        "not-supported",
    );
    let resp = send(
        &rest,
        "GET",
        "Patient?colour=red",
        &[("Prefer", "handling=lenient")],
        None,
    );
    expect_status(&resp, 200);
    let b = body(&resp);
    assert_eq!(b["total"], 3);
    assert_eq!(b["entry"][0]["search"]["mode"], "outcome");
    assert_eq!(b["entry"][0]["resource"]["issue"][0]["severity"], "warning");
    expect_error(
        &send(&rest, "GET", "Patient?birthdate=notadate", &[], None),
        400,
        "invalid",
    );
}

#[test]
fn include_and_revinclude() {
    let rest = setup();
    let resp = send(
        &rest,
        "GET",
        "Observation?_id=o2&_include=Observation:subject",
        &[],
        None,
    );
    expect_status(&resp, 200);
    let b = body(&resp);
    let modes: Vec<(&str, &str)> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource"]["resourceType"].as_str().unwrap(),
                e["search"]["mode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        vec![("Observation", "match"), ("Patient", "include")]
    );
    assert_eq!(b["total"], 1, "included resources do not count");
    let rev = send(
        &rest,
        "GET",
        "Patient?_id=p1&_revinclude=Observation:subject",
        &[],
        None,
    );
    let n_included = body(&rev)["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .count();
    assert_eq!(n_included, 2);
}

#[test]
fn search_inside_a_transaction_sees_its_writes() {
    let rest = setup();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": "Patient?family=brown"}},
        {"resource": {"resourceType": "Patient", "name": [{"family": "Brown"}]},
         "request": {"method": "POST", "url": "Patient"}},
    ]});
    let resp = send(&rest, "POST", "", &[], Some(bundle));
    expect_status(&resp, 200);
    let found = &body(&resp)["entry"][0]["resource"];
    assert_eq!(found["type"], "searchset");
    assert_eq!(found["total"], 1);
}

#[test]
fn default_total_is_exact_up_to_the_limit_and_absent_beyond() {
    let rest = rest_with(crosscare_rest::RestConfig {
        search_total_limit: 4,
        ..Default::default()
    });
    for i in 0..6 {
        create(
            &rest,
            json!({"resourceType": "Patient", "gender": if i < 3 { "female" } else { "male" }}),
        );
    }
    let get = |path: &str| {
        let resp = send(&rest, "GET", path, &[], None);
        expect_status(&resp, 200);
        body(&resp).clone()
    };
    // Six matches, over the limit of four: no total on a full page, but `next` is there.
    let b = get("Patient?_count=2");
    assert!(b.get("total").is_none(), "{b}");
    assert!(link(&b, "next").is_some());
    assert!(link(&b, "last").is_none());
    // Three matches, under the limit: counted.
    assert_eq!(get("Patient?gender=female&_count=2")["total"], 3);
    // A short page proves the total even beyond the limit.
    assert_eq!(get("Patient?_count=2&_offset=5")["total"], 6);
    // `_total=accurate` and `_summary=count` always count; `_total=none` never says.
    assert_eq!(get("Patient?_count=2&_total=accurate")["total"], 6);
    assert_eq!(get("Patient?_summary=count")["total"], 6);
    assert!(get("Patient?gender=female&_count=2&_total=none")
        .get("total")
        .is_none());
}

#[test]
fn everything_pages_across_types_without_gaps_or_repeats() {
    let rest = rest();
    send(
        &rest,
        "PUT",
        "Patient/pe",
        &[],
        Some(json!({"resourceType": "Patient", "id": "pe"})),
    );
    for i in 0..4 {
        create(
            &rest,
            json!({"resourceType": "Observation", "status": "final", "code": {"text": format!("o{i}")},
                "subject": {"reference": "Patient/pe"}}),
        );
        create(
            &rest,
            json!({"resourceType": "Condition", "subject": {"reference": "Patient/pe"},
                "code": {"text": format!("c{i}")}}),
        );
    }
    create(
        &rest,
        json!({"resourceType": "Encounter", "status": "finished",
            "class": {"code": "AMB"}, "subject": {"reference": "Patient/pe"}}),
    );
    let mut seen = Vec::new();
    for offset in (0..12).step_by(3) {
        let resp = send(
            &rest,
            "GET",
            &format!("Patient/pe/$everything?_count=3&_offset={offset}"),
            &[],
            None,
        );
        expect_status(&resp, 200);
        let b = body(&resp);
        assert_eq!(
            b["total"], 10,
            "1 patient, 4 observations, 4 conditions, 1 encounter"
        );
        for e in b["entry"].as_array().unwrap() {
            let r = &e["resource"];
            seen.push(format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            ));
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (10, 10), "{seen:?}");
}
