//! Black-box tests of history at instance, type and system level: order, deletions,
//! `_count` paging links, `_since` and `_at`.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::*;

#[test]
fn instance_history_newest_first_with_deletion() {
    let rest = rest();
    let id = create(&rest, json!({"resourceType": "Patient", "gender": "male"}));
    let path = format!("Patient/{id}");
    send(
        &rest,
        "PUT",
        &path,
        &[],
        Some(json!({"resourceType": "Patient", "id": id, "gender": "female"})),
    );
    send(&rest, "DELETE", &path, &[], None);
    let resp = send(&rest, "GET", &format!("{path}/_history"), &[], None);
    expect_status(&resp, 200);
    let b = body(&resp);
    assert_eq!(b["type"], "history");
    assert_eq!(b["total"], 3);
    let entries = b["entry"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["request"]["method"].as_str().unwrap().to_string(),
                e["request"]["url"].as_str().unwrap().to_string(),
                e["response"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("DELETE".into(), path.clone(), "204 No Content".into()),
            ("PUT".into(), path.clone(), "200 OK".into()),
            ("POST".into(), "Patient".into(), "201 Created".into()),
        ]
    );
    assert!(entries[0].get("resource").is_none());
    assert_eq!(entries[1]["resource"]["gender"], "female");
    assert_eq!(entries[2]["response"]["etag"], "W/\"1\"");
    assert_eq!(entries[0]["fullUrl"], format!("{BASE}/{path}"));
    expect_error(
        &send(&rest, "GET", "Patient/none/_history", &[], None),
        404,
        "not-found",
    );
}

#[test]
fn type_and_system_history_with_paging() {
    let rest = rest();
    for i in 0..3 {
        create(
            &rest,
            json!({"resourceType": "Patient", "id": format!("x{i}")}),
        );
    }
    create(
        &rest,
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "t"}}),
    );
    let t = send(&rest, "GET", "Patient/_history", &[], None);
    assert_eq!(body(&t)["total"], 3);
    let s = send(&rest, "GET", "_history?_count=2", &[], None);
    let b = body(&s);
    assert_eq!(b["total"], 4);
    assert_eq!(b["entry"].as_array().unwrap().len(), 2);
    assert_eq!(b["entry"][0]["resource"]["resourceType"], "Observation");
    let link = |rel: &str| {
        b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == rel)
            .map(|l| l["url"].as_str().unwrap().to_string())
    };
    assert_eq!(link("self").unwrap(), format!("{BASE}/_history?_count=2"));
    let next = link("next").unwrap();
    assert_eq!(next, format!("{BASE}/_history?_count=2&_offset=2"));
    assert!(link("previous").is_none());
    let page2 = send(&rest, "GET", next.strip_prefix(BASE).unwrap(), &[], None);
    let b2 = body(&page2);
    assert_eq!(b2["entry"].as_array().unwrap().len(), 2);
    assert!(b2["link"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["relation"] != "next"));
    assert!(b2["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "previous"));
}

#[test]
fn since_and_at() {
    let rest = rest();
    let id = create(&rest, json!({"resourceType": "Patient", "gender": "male"}));
    let first = send(&rest, "GET", &format!("Patient/{id}"), &[], None);
    let t1 = body(&first)["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(5));
    send(
        &rest,
        "PUT",
        &format!("Patient/{id}"),
        &[],
        Some(json!({"resourceType": "Patient", "id": id})),
    );
    let future = send(&rest, "GET", "_history?_since=2999-01-01", &[], None);
    assert_eq!(body(&future)["total"], 0);
    let all = send(&rest, "GET", "_history?_since=2000", &[], None);
    assert_eq!(body(&all)["total"], 2);
    let at = send(
        &rest,
        "GET",
        &format!("Patient/{id}/_history?_at={}", t1.replace('+', "%2B")),
        &[],
        None,
    );
    expect_status(&at, 200);
    assert_eq!(body(&at)["total"], 1);
    assert_eq!(body(&at)["entry"][0]["resource"]["meta"]["versionId"], "1");
    expect_error(
        &send(&rest, "GET", "_history?_since=soon", &[], None),
        400,
        "invalid",
    );
    expect_error(
        &send(&rest, "GET", "_history?_count=many", &[], None),
        400,
        "invalid",
    );
    expect_error(
        &send(&rest, "GET", "_history?family=x", &[], None),
        400,
        "invalid",
    );
}
