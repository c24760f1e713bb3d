//! Differential search: the same data in `SqliteStore` and `PostgresStore`, the same queries
//! (every parameter type, modifier and prefix the compiler handles, chains, `_has`, composites,
//! includes, totals), the same answers — matches and included resources as sets (the default
//! tiebreak differs: insertion order on SQLite, id order on PostgreSQL), totals exactly, and
//! the exact order wherever `_sort` keys are unique.

#![allow(clippy::unwrap_used)]

use crosscare_search::{parse_query_string, SearchQuery};
use crosscare_store::conformance_search::{data, load};
use crosscare_store::sqlite::SqliteStore;
use crosscare_store::{PartitionId, SearchPage, Store};
use crosscare_store_postgres::{testing, PostgresStore};
use serde_json::json;

fn extra() -> Vec<serde_json::Value> {
    vec![
        json!({"resourceType": "Patient", "id": "e1", "gender": "other", "birthDate": "1990-06",
            "active": true,
            "name": [{"family": "O'Brien", "given": ["Zoë"]}],
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                            "system": "urn:mrn", "value": "900"}],
            "address": [{"city": "Saarbrücken", "postalCode": "66111"}]}),
        json!({"resourceType": "Observation", "id": "e2", "status": "amended",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}], "text": "Glucose fasting"},
            "subject": {"identifier": {"system": "urn:mrn", "value": "900"}},
            "effectivePeriod": {"start": "2024-03-01", "end": "2024-03-10"},
            "valueQuantity": {"value": 99.5, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
        json!({"resourceType": "RiskAssessment", "id": "e3", "status": "final",
            "subject": {"reference": "Patient/e1"},
            "prediction": [{"probabilityDecimal": 0.25}]}),
    ]
}

const QUERIES: &[(&str, &str)] = &[
    ("Patient", ""),
    ("Patient", "family=sm"),
    ("Patient", "family=o'b"),
    ("Patient", "family:exact=O'Brien"),
    ("Patient", "family:contains=ll"),
    ("Patient", "given=zoe"),
    ("Patient", "address-city=saarbrucken"),
    ("Patient", "address-postalcode=661"),
    ("Patient", "gender=female,other"),
    ("Patient", "gender:not=female"),
    ("Patient", "active=true"),
    ("Patient", "identifier=urn:mrn|"),
    ("Patient", "identifier=|900"),
    (
        "Patient",
        "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|900",
    ),
    ("Patient", "birthdate=1990"),
    ("Patient", "birthdate=1990-06-15"),
    ("Patient", "birthdate=ap1990-06"),
    ("Patient", "birthdate=sa1980&birthdate=eb2000"),
    ("Patient", "birthdate=ne1980-05-12"),
    ("Patient", "gender:missing=true"),
    ("Patient", "birthdate:missing=false"),
    ("Patient", "_id=a,e1"),
    ("Patient", "_lastUpdated=ge2000-01-01"),
    ("Patient", "_has:Observation:subject:code=2339-0"),
    ("Patient", "_has:RiskAssessment:subject:probability=gt0.2"),
    ("Patient", "_list=l"),
    ("Patient", "link=Patient/a"),
    ("Observation", "code=2339-0"),
    ("Observation", "code:text=gluc"),
    ("Observation", "code=http://loinc.org|"),
    ("Observation", "status=amended,final"),
    ("Observation", "date=2024-03"),
    ("Observation", "date=2024-03-05"),
    ("Observation", "date=ge2024-03-05&date=le2024-03-31"),
    ("Observation", "date=gt2024-03-09"),
    ("Observation", "date=lt2023"),
    ("Observation", "value-quantity=99.5"),
    (
        "Observation",
        "value-quantity=ge5.4|http://unitsofmeasure.org|mg",
    ),
    ("Observation", "value-quantity=le100||mg/dL"),
    ("Observation", "value-quantity=ne7"),
    ("Observation", "value-quantity=ap100"),
    ("Observation", "subject=Patient/a,Patient/c"),
    ("Observation", "subject:identifier=urn:mrn|900"),
    ("Observation", "subject:Patient.gender=female"),
    ("Observation", "subject:Patient.link:Patient.family=smith"),
    ("Observation", "subject:missing=true"),
    ("Observation", "code-value-quantity=2339-0$gt5"),
    ("Observation", "code-value-quantity=2339-0$gt5,2339-0$lt4"),
    ("Observation", "component-code-value-quantity=8480-6$lt100"),
    ("Observation", "code-value-concept=883-9$112144000"),
    ("Observation", "code=2339-0&_include=Observation:subject"),
    (
        "Observation",
        "_include=Observation:subject:Patient&_include:iterate=Patient:link",
    ),
    (
        "Patient",
        "_revinclude=Observation:subject&_revinclude=RiskAssessment:subject",
    ),
    (
        "Patient",
        "_id=d&_include=Patient:link&_revinclude:iterate=Observation:subject",
    ),
    ("RiskAssessment", "probability=0.25"),
    ("RiskAssessment", "probability=gt0.2"),
    ("ValueSet", "url:below=http://x.org"),
    ("ValueSet", "url:above=http://x.org/fhir/ValueSet/a/b"),
    ("ValueSet", "url=http://x.org/other"),
];

/// Queries whose order is fully decided by their `_sort` keys (unique values).
const SORTED: &[(&str, &str)] = &[
    ("Patient", "_sort=_id"),
    ("Patient", "_sort=-_id&_count=3&_offset=2"),
    ("Patient", "_sort=birthdate,_id"),
    ("Patient", "_sort=-family,_id"),
    ("Observation", "_sort=-value-quantity,_id"),
    ("Observation", "_sort=date,_id&_count=4"),
    ("Observation", "_sort=code,-_id"),
    ("Observation", "_sort=subject,_id"),
];

fn search(store: &dyn Store, ty: &str, qs: &str) -> SearchPage {
    let q = SearchQuery::parse(Some(ty), &parse_query_string(qs), false)
        .unwrap_or_else(|e| panic!("{ty}?{qs}: {e}"));
    let mut q = q;
    q.result.total = Some(crosscare_search::TotalMode::Accurate);
    let mut r = store.read_tx().unwrap();
    r.search(&[PartitionId::default_partition()], &q)
        .unwrap_or_else(|e| panic!("{ty}?{qs}: {e}"))
}

fn ids(v: &[crosscare_store::ResourceVersion]) -> Vec<String> {
    v.iter()
        .map(|v| format!("{}/{}", v.resource_type, v.id))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn postgres_answers_every_search_like_sqlite() {
    let Some(db) = testing::database_or_skip() else {
        return;
    };
    let pg = PostgresStore::connect(&db.url, 2).unwrap();
    let lite = SqliteStore::temporary().unwrap();
    let mut all = data();
    all.extend(extra());
    for s in [&pg as &dyn Store, &lite] {
        load(s, &PartitionId::default_partition(), &all);
    }
    let mut nonempty = 0;
    for (ty, qs) in QUERIES {
        let (a, b) = (search(&lite, ty, qs), search(&pg, ty, qs));
        assert_eq!(
            sorted(ids(&b.matches)),
            sorted(ids(&a.matches)),
            "{ty}?{qs}: matches"
        );
        assert_eq!(b.total, a.total, "{ty}?{qs}: total");
        assert_eq!(
            sorted(ids(&b.included)),
            sorted(ids(&a.included)),
            "{ty}?{qs}: included"
        );
        nonempty += usize::from(!a.matches.is_empty());
    }
    // The comparison is not vacuous: nearly every query finds something.
    assert!(
        nonempty + 4 >= QUERIES.len(),
        "{nonempty} of {}",
        QUERIES.len()
    );
    for (ty, qs) in SORTED {
        let (a, b) = (search(&lite, ty, qs), search(&pg, ty, qs));
        assert!(!a.matches.is_empty(), "{ty}?{qs}");
        assert_eq!(ids(&b.matches), ids(&a.matches), "{ty}?{qs}: order");
    }
}
