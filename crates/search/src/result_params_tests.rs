//! Tests of the result parameters (`_sort`, `_count`, `_include`, …).

use crate::result_params::*;
use crate::{parse_query_string, SearchQuery};

fn result(rt: &str, qs: &str) -> Result<ResultParams, String> {
    SearchQuery::parse(Some(rt), &parse_query_string(qs), false)
        .map(|q| q.result)
        .map_err(|e| e.to_string())
}

#[test]
fn paging_and_summary() {
    let r = result(
        "Patient",
        "_count=10&_offset=20&_total=accurate&_summary=count",
    )
    .unwrap();
    assert_eq!((r.count, r.offset), (Some(10), 20));
    assert_eq!(r.total, Some(TotalMode::Accurate));
    assert_eq!(r.summary, Some(SummaryMode::Count));
    assert!(result("Patient", "_count=-1").is_err());
    assert!(result("Patient", "_count=x").is_err());
    assert!(result("Patient", "_total=all").is_err());
    assert!(result("Patient", "_summary=yes").is_err());
    assert!(result("Patient", "_format=json&_pretty=true").is_ok());
    let r = result("Patient", "_contained=both&_containedType=contained").unwrap();
    assert_eq!(
        (r.contained, r.contained_type),
        (ContainedMode::Both, ContainedType::Contained)
    );
}

#[test]
fn sort_keys() {
    let r = result("Patient", "_sort=family,-birthdate,_lastUpdated").unwrap();
    let keys: Vec<(String, bool)> = r
        .sort
        .iter()
        .map(|k| (k.param.clone(), k.descending))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("family".into(), false),
            ("birthdate".into(), true),
            ("_lastUpdated".into(), false)
        ]
    );
    assert_eq!(
        result("Patient", "_sort=nope").unwrap_err(),
        "invalid value 'nope' for search parameter '_sort': 'nope' is not a search parameter of this type"
    );
    assert!(result("Observation", "_sort=code-value-quantity").is_err());
}

#[test]
fn elements() {
    let r = result("Patient", "_elements=name,birthDate").unwrap();
    assert_eq!(r.elements, vec!["name", "birthDate"]);
    assert!(result("Patient", "_elements=nope").is_err());
}

#[test]
fn includes() {
    let r = result(
        "Observation",
        "_include=Observation:subject:Patient&_include:iterate=Patient:organization&_revinclude=Provenance:target&_include=*",
    )
    .unwrap();
    assert_eq!(r.include.len(), 3);
    assert_eq!(r.include[0].target_type.as_deref(), Some("Patient"));
    assert!(r.include[1].iterate);
    assert_eq!(r.include[2].param, None);
    assert_eq!(r.revinclude[0].source_type, "Provenance");
    assert!(result("Observation", "_include=Observation:code").is_err());
    assert!(result("Observation", "_include=Observation:subject:Medication").is_err());
    assert!(result("Observation", "_include=Nope:subject").is_err());
    assert!(result("Observation", "_include=Observation").is_err());
    assert!(result("Observation", "_include:bogus=Observation:subject").is_err());
}
