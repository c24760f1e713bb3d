//! The search half of the backend conformance suite (see [`crate::conformance`]): a small
//! data set indexed with `crosscare_search::extract`, and one check per search shape, each
//! comparing the ids found with the expected ones.

use crate::conformance::{ok, p, MakeStore};
use crate::{PartitionId, Store};
use crosscare_search::{compartment_filter, extract, parse_query_string, SearchQuery, TotalMode};
use serde_json::{json, Value};

/// Runs the search checks on one store loaded with [`data`].
pub fn run_all(make_store: MakeStore<'_>) {
    let store = make_store();
    load(store.as_ref(), &PartitionId::default_partition(), &data());
    load(
        store.as_ref(),
        &p("ws-other"),
        &[patient("x", "Smith", "female", "1990-01-01", "other")],
    );
    for (name, check) in SEARCH_CHECKS {
        eprintln!("conformance (search): {name}");
        check(store.as_ref());
    }
    if let Err(e) = store.close() {
        panic!("close failed: {e}");
    }
}

/// Every search check, by name.
pub const SEARCH_CHECKS: &[crate::conformance::Check] = &[
    ("string", string),
    ("token", token),
    ("date", date),
    ("quantity_and_number", quantity),
    ("reference_and_chain", reference),
    ("has_and_compartment", has_and_compartment),
    ("composite", composite),
    ("derived", derived),
    ("missing_not_id", missing_not_id),
    ("sort_page_total", sort_page_total),
    ("include_revinclude", include_revinclude),
    ("partitions_and_deletes", partitions_and_deletes),
    ("uri", uri),
    ("many_matches_paged", many_matches_paged),
    (
        "agrees_with_reference_semantics",
        agrees_with_reference_semantics,
    ),
];

fn patient(id: &str, family: &str, gender: &str, birth: &str, mrn: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": gender, "birthDate": birth,
        "name": [{"family": family, "given": ["Ann"]}],
        "identifier": [{"system": "urn:mrn", "value": mrn}]})
}

fn observation(id: &str, subject: &str, code: &str, value: &str, unit: &str, when: &str) -> Value {
    let text = format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final",
        "code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"Glucose"}}]}},
        "subject":{{"reference":"{subject}"}},"effectiveDateTime":"{when}",
        "valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}},
        "component":[{{"code":{{"coding":[{{"system":"http://loinc.org","code":"8480-6"}}]}},
          "valueQuantity":{{"value":{value},"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}}}]}}"#
    );
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The shared data set.
pub fn data() -> Vec<Value> {
    vec![
        patient("a", "Smith", "female", "1980-05-12", "100"),
        patient("b", "Smythe", "male", "1975-01-01", "200"),
        patient("c", "Müller", "female", "2001-11-30", "300"),
        json!({"resourceType": "Patient", "id": "d", "name": [{"family": "Jones"}],
            "link": [{"other": {"reference": "Patient/a"}, "type": "seealso"}]}),
        observation(
            "o1",
            "Patient/a",
            "2339-0",
            "5.4",
            "mg",
            "2024-03-05T10:00:00Z",
        ),
        observation("o2", "Patient/a", "2339-0", "7.0", "mg", "2024-04-01"),
        observation("o3", "Patient/b", "1234-5", "120", "mg", "2023-12-31"),
        observation("o4", "Patient/c", "2339-0", "3", "g", "2022"),
        // Two components in one Observation: a composite must match both parts in the same
        // component, never the code of one and the value of the other.
        json!({"resourceType": "Observation", "id": "bp", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
        json!({"resourceType": "Observation", "id": "o5", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "883-9"}]},
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "112144000"}]}}),
        json!({"resourceType": "ValueSet", "id": "v1", "status": "active", "url": "http://x.org/fhir/ValueSet/a"}),
        json!({"resourceType": "ValueSet", "id": "v2", "status": "active", "url": "http://x.org/other"}),
        json!({"resourceType": "List", "id": "l", "status": "current", "mode": "working",
            "entry": [{"item": {"reference": "Patient/b"}}, {"item": {"reference": "Patient/c"}}]}),
    ]
}

/// Puts resources with their extracted index entries in one transaction.
pub fn load(store: &dyn Store, partition: &PartitionId, resources: &[Value]) {
    let mut tx = ok(store.write_tx());
    for r in resources {
        let ty = r["resourceType"].as_str().unwrap_or_default().to_string();
        ok(tx.put(partition, r.clone(), extract(&ty, r)));
    }
    ok(tx.commit());
}

fn query(ty: Option<&str>, qs: &str) -> SearchQuery {
    match SearchQuery::parse(ty, &parse_query_string(qs), false) {
        Ok(q) => q,
        Err(e) => panic!("{qs}: {e}"),
    }
}

/// The ids found (matches, in order) in the default partition.
fn ids(store: &dyn Store, ty: &str, qs: &str) -> Vec<String> {
    ids_in(store, &[PartitionId::default_partition()], Some(ty), qs)
}

fn ids_in(store: &dyn Store, parts: &[PartitionId], ty: Option<&str>, qs: &str) -> Vec<String> {
    let mut r = ok(store.read_tx());
    let page = ok(r.search(parts, &query(ty, qs)));
    page.matches.iter().map(|v| v.id.clone()).collect()
}

fn check(store: &dyn Store, ty: &str, qs: &str, expected: &[&str]) {
    let mut got = ids(store, ty, qs);
    got.sort();
    assert_eq!(got, expected, "{ty}?{qs}");
}

fn string(s: &dyn Store) {
    check(s, "Patient", "family=smi", &["a"]);
    check(s, "Patient", "family=sm", &["a", "b"]);
    check(s, "Patient", "family=MUL", &["c"]);
    check(s, "Patient", "family:exact=Smith", &["a"]);
    check(s, "Patient", "family:exact=smith", &[]);
    check(s, "Patient", "family:contains=yth", &["b"]);
    check(s, "Patient", "family=smi,jon", &["a", "d"]);
    check(s, "Patient", "name=ann&family=smy", &["b"]);
}

fn token(s: &dyn Store) {
    check(s, "Patient", "gender=female", &["a", "c"]);
    check(s, "Patient", "identifier=urn:mrn|200", &["b"]);
    check(s, "Patient", "identifier=200", &["b"]);
    check(s, "Patient", "identifier=|200", &[]);
    check(s, "Patient", "identifier=urn:mrn|", &["a", "b", "c"]);
    check(
        s,
        "Observation",
        "code=http://loinc.org|2339-0",
        &["o1", "o2", "o4"],
    );
    check(
        s,
        "Observation",
        "code:text=gluc",
        &["o1", "o2", "o3", "o4"],
    );
    check(s, "Observation", "code:not=2339-0", &["bp", "o3", "o5"]);
}

fn date(s: &dyn Store) {
    check(s, "Patient", "birthdate=1980", &["a"]);
    check(s, "Patient", "birthdate=ge1980-01-01", &["a", "c"]);
    check(s, "Patient", "birthdate=lt1980", &["b"]);
    check(
        s,
        "Patient",
        "birthdate=ge1970&birthdate=le1981",
        &["a", "b"],
    );
    check(s, "Observation", "date=2024-03", &["o1"]);
    check(s, "Observation", "date=sa2023", &["o1", "o2"]);
    check(s, "Observation", "date=eb2023", &["o4"]);
    // `2022` covers the whole year, which reaches past June: it matches `gt`.
    check(
        s,
        "Observation",
        "date=gt2022-06",
        &["o1", "o2", "o3", "o4"],
    );
    check(s, "Observation", "date=gt2023-12-31", &["o1", "o2"]);
}

fn quantity(s: &dyn Store) {
    check(s, "Observation", "value-quantity=5.4", &["o1"]);
    check(
        s,
        "Observation",
        "value-quantity=gt5|http://unitsofmeasure.org|mg",
        &["o1", "o2", "o3"],
    );
    check(s, "Observation", "value-quantity=le7||mg", &["o1", "o2"]);
    check(s, "Observation", "value-quantity=ap120", &["o3"]);
    check(
        s,
        "Observation",
        "value-quantity=lt100&value-quantity=ge5",
        &["o1", "o2"],
    );
}

fn reference(s: &dyn Store) {
    check(s, "Observation", "subject=Patient/a", &["o1", "o2"]);
    check(s, "Observation", "subject:Patient=b", &["o3"]);
    check(s, "Observation", "patient=c", &["o4"]);
    check(
        s,
        "Observation",
        "subject:Patient.family=smi",
        &["o1", "o2"],
    );
    check(
        s,
        "Observation",
        "subject:Patient.gender=female&code=2339-0",
        &["o1", "o2", "o4"],
    );
    check(s, "Patient", "link=Patient/a", &["d"]);
    check(s, "Patient", "_list=l", &["b", "c"]);
}

fn has_and_compartment(s: &dyn Store) {
    check(s, "Patient", "_has:Observation:subject:code=1234-5", &["b"]);
    check(
        s,
        "Patient",
        "_has:Observation:patient:value-quantity=lt6",
        &["a", "c"],
    );
    let mut q = query(Some("Observation"), "");
    q.filters
        .extend(compartment_filter("Patient", "a", "Observation"));
    let mut r = ok(s.read_tx());
    let mut got: Vec<String> = ok(r.search(&[PartitionId::default_partition()], &q))
        .matches
        .into_iter()
        .map(|v| v.id)
        .collect();
    got.sort();
    assert_eq!(got, ["o1", "o2"], "Patient/a/Observation");
    // The compartment's own resource (`_id`) and a member by reference (`link`), one per page,
    // with the total on each page: no resource twice, none missed.
    let mut got = Vec::new();
    for offset in 0..3 {
        let mut q = query(Some("Patient"), "_count=1&_total=accurate");
        q.filters
            .extend(compartment_filter("Patient", "a", "Patient"));
        q.result.offset = offset;
        let page = ok(r.search(&[PartitionId::default_partition()], &q));
        assert_eq!(
            page.total,
            Some(2),
            "Patient/a/Patient total, offset {offset}"
        );
        got.extend(page.matches.into_iter().map(|v| v.id));
    }
    got.sort();
    assert_eq!(got, ["a", "d"], "Patient/a/Patient");
    // A hint, but never missing a type that refers to the resource.
    let parts = [PartitionId::default_partition()];
    if let Some(types) = ok(r.referring_types(&parts, "Patient", "a")) {
        for t in ["Observation", "Patient"] {
            assert!(
                types.iter().any(|x| x == t),
                "{t} refers to Patient/a: {types:?}"
            );
        }
    }
    if let Some(types) = ok(r.referring_types(&parts, "Patient", "nobody")) {
        assert!(
            types.is_empty(),
            "nothing refers to Patient/nobody: {types:?}"
        );
    }
}

fn composite(s: &dyn Store) {
    check(
        s,
        "Observation",
        "component-code-value-quantity=http://loinc.org|8480-6$gt100",
        &["bp", "o3"],
    );
    // bp has 8480-6 (at 120) and a value below 100 (80), but in two different components.
    check(
        s,
        "Observation",
        "component-code-value-quantity=8480-6$lt100",
        &["o1", "o2", "o4"],
    );
    check(
        s,
        "Observation",
        "component-code-value-quantity=8462-4$lt100",
        &["bp"],
    );
    check(
        s,
        "Observation",
        "code-value-quantity=http://loinc.org|2339-0$gt5",
        &["o1", "o2"],
    );
    check(s, "Observation", "code-value-quantity=2339-0$lt4", &["o4"]);
    // `:missing` on a composite: bp's own code has no value, so it has no tuple of its own.
    check(
        s,
        "Observation",
        "code-value-quantity:missing=true",
        &["bp", "o5"],
    );
    check(
        s,
        "Observation",
        "code-value-quantity:missing=false",
        &["o1", "o2", "o3", "o4"],
    );
    check(
        s,
        "Observation",
        "combo-code-value-quantity:missing=true",
        &["o5"],
    );
    check(s, "Observation", "code-value-quantity=1234-5$lt4", &[]);
    check(
        s,
        "Observation",
        "code-value-quantity=2339-0$gt5,1234-5$gt100",
        &["o1", "o2", "o3"],
    );
    check(
        s,
        "Observation",
        "code-value-concept=http://loinc.org|883-9$http://snomed.info/sct|112144000",
        &["o5"],
    );
    check(s, "Observation", "code-value-concept=883-9$999", &[]);
    check(
        s,
        "Observation",
        "component-code-value-quantity=8480-6$lt10",
        &["o1", "o2", "o4"],
    );
    check(
        s,
        "Observation",
        "component-code-value-quantity=9999-9$lt10",
        &[],
    );
}

fn missing_not_id(s: &dyn Store) {
    check(s, "Patient", "gender:missing=true", &["d"]);
    check(s, "Patient", "gender:missing=false", &["a", "b", "c"]);
    check(s, "Patient", "gender:not=female", &["b", "d"]);
    check(s, "Patient", "_id=a,c", &["a", "c"]);
    check(
        s,
        "Patient",
        "_lastUpdated=gt2000-01-01",
        &["a", "b", "c", "d"],
    );
    check(s, "Patient", "_lastUpdated=lt2000-01-01", &[]);
}

/// Parameters answered from the rows of others (`combo-*` on Observation: the resource's own
/// element and its components'), which are not stored themselves. Expected ids are read off
/// the data set by hand.
fn derived(s: &dyn Store) {
    let obs = "Observation";
    // Only the components of o1–o4 and bp carry 8480-6; only bp's main code is 85354-9.
    check(s, obs, "combo-code=8480-6", &["bp", "o1", "o2", "o3", "o4"]);
    check(s, obs, "code=8480-6", &[]);
    check(
        s,
        obs,
        "combo-code=http://loinc.org|85354-9,883-9",
        &["bp", "o5"],
    );
    check(s, obs, "combo-code:not=8480-6", &["o5"]);
    check(s, obs, "combo-value-quantity=80||mm[Hg]", &["bp"]);
    check(s, obs, "combo-value-quantity=gt100", &["bp", "o3"]);
    check(s, obs, "combo-value-concept=112144000", &["o5"]);
    check(s, obs, "combo-value-quantity:missing=true", &["o5"]);
    check(
        s,
        obs,
        "combo-value-quantity:missing=false",
        &["bp", "o1", "o2", "o3", "o4"],
    );
    check(s, obs, "combo-code:missing=true", &[]);
    // A tuple from the resource itself (o1's code and value) and one from a component (bp).
    check(s, obs, "combo-code-value-quantity=2339-0$5.4", &["o1"]);
    check(s, obs, "combo-code-value-quantity=8462-4$80", &["bp"]);
    check(s, obs, "combo-code-value-quantity=85354-9$80", &[]);
    // ANDed with a stored parameter, and through a chain and `_has`.
    check(s, obs, "combo-code=8480-6&subject=Patient/a", &["o1", "o2"]);
    check(
        s,
        "Patient",
        "_has:Observation:subject:combo-code=1234-5",
        &["b"],
    );
    let mut sys = ids_in(
        s,
        &[PartitionId::default_partition()],
        None,
        "_type=Observation&combo-code=85354-9",
    );
    sys.sort();
    assert_eq!(sys, ["bp"]);
    // Sorted by the smallest code over the resource and its components: o3 (1234-5), then
    // o1, o2, o4 (2339-0), bp (8462-4), o5 (883-9).
    let sorted = ids(s, obs, "_sort=combo-code");
    assert_eq!(sorted.first().map(String::as_str), Some("o3"), "{sorted:?}");
    assert_eq!(&sorted[4..], ["bp", "o5"], "{sorted:?}");
    assert_eq!(ids(s, obs, "_sort=-combo-code&_count=1"), ["o5"]);
}

fn sort_page_total(s: &dyn Store) {
    assert_eq!(ids(s, "Patient", "_sort=family"), ["d", "c", "a", "b"]);
    assert_eq!(ids(s, "Patient", "_sort=-birthdate"), ["c", "a", "b", "d"]);
    assert_eq!(
        ids(s, "Patient", "_sort=gender,-family"),
        ["a", "c", "b", "d"]
    );
    assert_eq!(
        ids(s, "Patient", "_sort=_id&_count=2&_offset=1"),
        ["b", "c"]
    );
    assert_eq!(
        ids(s, "Observation", "_sort=-value-quantity&_count=1"),
        ["o3"]
    );
    let mut r = ok(s.read_tx());
    let mut q = query(Some("Patient"), "gender=female&_count=1");
    q.result.total = Some(TotalMode::Accurate);
    let page = ok(r.search(&[PartitionId::default_partition()], &q));
    assert_eq!((page.matches.len(), page.total), (1, Some(2)));
    let page = ok(r.search(
        &[PartitionId::default_partition()],
        &query(Some("Patient"), "_summary=count"),
    ));
    assert_eq!((page.matches.len(), page.total), (0, Some(4)));
}

fn include_revinclude(s: &dyn Store) {
    let mut r = ok(s.read_tx());
    let d = [PartitionId::default_partition()];
    let page = ok(r.search(
        &d,
        &query(
            Some("Observation"),
            "code=1234-5&_include=Observation:subject",
        ),
    ));
    let inc: Vec<&str> = page.included.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(inc, ["b"]);
    let page = ok(r.search(
        &d,
        &query(Some("Patient"), "_id=a&_revinclude=Observation:subject"),
    ));
    let mut inc: Vec<&str> = page.included.iter().map(|v| v.id.as_str()).collect();
    inc.sort();
    assert_eq!(inc, ["o1", "o2"]);
    let q = "_id=d&_include=Patient:link&_revinclude:iterate=Observation:subject";
    let page = ok(r.search(&d, &query(Some("Patient"), q)));
    let mut inc: Vec<&str> = page.included.iter().map(|v| v.id.as_str()).collect();
    inc.sort();
    assert_eq!(inc, ["a", "o1", "o2"]);
}

fn partitions_and_deletes(s: &dyn Store) {
    let other = p("ws-other");
    check(s, "Patient", "family=smith", &["a"]);
    assert_eq!(
        ids_in(
            s,
            std::slice::from_ref(&other),
            Some("Patient"),
            "family=smith"
        ),
        ["x"]
    );
    let mut both = ids_in(
        s,
        &[PartitionId::default_partition(), other.clone()],
        Some("Patient"),
        "family=smith",
    );
    both.sort();
    assert_eq!(both, ["a", "x"]);
    assert!(ids_in(s, &[p("nowhere")], Some("Patient"), "").is_empty());
    // Deleting and updating replace the index entries.
    let mut tx = ok(s.write_tx());
    ok(tx.delete(&other, "Patient", "x"));
    ok(tx.commit());
    assert!(ids_in(
        s,
        std::slice::from_ref(&other),
        Some("Patient"),
        "family=smith"
    )
    .is_empty());
    load(s, &other, &[patient("y", "Smith", "male", "1990", "1")]);
    load(s, &other, &[patient("y", "Brown", "male", "1990", "1")]);
    assert!(ids_in(
        s,
        std::slice::from_ref(&other),
        Some("Patient"),
        "family=smith"
    )
    .is_empty());
    assert_eq!(ids_in(s, &[other], Some("Patient"), "family=brown"), ["y"]);
}

fn uri(s: &dyn Store) {
    check(s, "ValueSet", "url=http://x.org/other", &["v2"]);
    check(s, "ValueSet", "url:below=http://x.org/fhir", &["v1"]);
    check(s, "ValueSet", "url:below=http://x.org/fh", &[]);
    check(
        s,
        "ValueSet",
        "url:above=http://x.org/fhir/ValueSet/a/extra",
        &["v1"],
    );
    let all = ids_in(
        s,
        &[PartitionId::default_partition()],
        None,
        "_type=ValueSet,List&_sort=_id",
    );
    assert_eq!(all, ["l", "v1", "v2"]);
}

/// Differential check: the store returns exactly the resources whose extracted entries satisfy
/// every filter by `Filter::matches`, the search crate's reference semantics (a composite on
/// the resource itself is two filters, see `crosscare_search::Derivation`).
fn agrees_with_reference_semantics(s: &dyn Store) {
    let cases = [
        ("Patient", "family=sm"),
        ("Patient", "family:contains=ll"),
        ("Patient", "given=an"),
        ("Patient", "birthdate=le1980-05-12"),
        ("Patient", "birthdate=ne1975"),
        ("Patient", "identifier=urn:mrn|100,300"),
        ("Observation", "value-quantity=ap6"),
        ("Observation", "value-quantity=ne7.0"),
        ("Observation", "date=ap2024-03-05"),
        ("Observation", "date=ge2024-03-05T10:00:00Z"),
        ("Observation", "code=2339-0,1234-5"),
        ("Observation", "subject=Patient/b,Patient/c"),
        ("ValueSet", "url:below=http://x.org"),
        ("Observation", "component-code-value-quantity=8480-6$gt4"),
        ("Observation", "component-code-value-quantity=8462-4$lt100"),
        ("Observation", "code-value-quantity=2339-0$le5.4"),
        ("Observation", "code-value-concept=883-9$112144000"),
        (
            "Observation",
            "code-value-quantity=2339-0$le5.4,1234-5$gt100",
        ),
        ("Observation", "code-value-quantity:missing=true"),
        (
            "Observation",
            "combo-code-value-quantity=8480-6$gt4,2339-0$5.4",
        ),
    ];
    for (ty, qs) in cases {
        let q = query(Some(ty), qs);
        let mut expected: Vec<String> = data()
            .iter()
            .filter(|r| r["resourceType"] == ty)
            .filter(|r| {
                let entries = extract(ty, r);
                q.filters.iter().all(|f| f.matches(&entries) == Some(true))
            })
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        expected.sort();
        // Every case is chosen to match something, so agreement is not vacuous.
        assert!(
            !expected.is_empty(),
            "{ty}?{qs}: reference semantics match nothing"
        );
        let mut got = ids(s, ty, qs);
        got.sort();
        assert_eq!(got, expected, "{ty}?{qs}: store vs reference semantics");
    }
}

/// A token matched by many resources, some listing the code twice, under several systems or
/// none, some deleted: every page, walked to the end, and every total agree with the data.
fn many_matches_paged(s: &dyn Store) {
    let part = p("ws-many");
    let coding = |system: Option<&str>| match system {
        Some(sys) => json!({"system": sys, "code": "7777-7"}),
        None => json!({"code": "7777-7"}),
    };
    let mut resources = Vec::new();
    let mut expected: Vec<(String, Option<&str>)> = Vec::new();
    for i in 0..30 {
        let system = match i % 5 {
            0 => Some("urn:local"),
            1 => None,
            _ => Some("http://loinc.org"),
        };
        let mut codings = vec![coding(system)];
        if i % 3 == 0 {
            codings.push(coding(system));
        }
        let id = format!("m{i:02}");
        resources.push(
            json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": codings}}),
        );
        expected.push((id, system));
    }
    load(s, &part, &resources);
    let mut tx = ok(s.write_tx());
    for id in ["m03", "m05", "m11"] {
        ok(tx.delete(&part, "Observation", id));
    }
    ok(tx.commit());
    expected.retain(|(id, _)| !["m03", "m05", "m11"].contains(&id.as_str()));
    let parts = std::slice::from_ref(&part);
    for (qs, keep) in [
        (
            "code=7777-7",
            &(|_: Option<&str>| true) as &dyn Fn(Option<&str>) -> bool,
        ),
        ("code=http://loinc.org|7777-7", &|s| {
            s == Some("http://loinc.org")
        }),
        ("code=|7777-7", &|s| s.is_none()),
        ("code=urn:local|7777-7,|7777-7", &|s| {
            s != Some("http://loinc.org")
        }),
    ] {
        let want: Vec<&str> = expected
            .iter()
            .filter(|(_, sys)| keep(*sys))
            .map(|(id, _)| id.as_str())
            .collect();
        let mut r = ok(s.read_tx());
        let mut q = query(Some("Observation"), qs);
        q.result.total = Some(TotalMode::Accurate);
        let total = ok(r.search(parts, &q)).total;
        assert_eq!(total, Some(want.len() as u64), "total of {qs}");
        // The bounded default: exact up to the limit, absent beyond, whatever the page size.
        for (limit, expect) in [(100, Some(want.len() as u64)), (3, None)] {
            let mut q = query(Some("Observation"), &format!("{qs}&_count=2"));
            q.result.total = Some(TotalMode::UpTo(limit));
            assert_eq!(
                ok(r.search(parts, &q)).total,
                expect,
                "{qs}, total up to {limit}"
            );
        }
        let mut got = Vec::new();
        for offset in (0..40).step_by(4) {
            let page = ok(r.search(
                parts,
                &query(
                    Some("Observation"),
                    &format!("{qs}&_count=4&_offset={offset}"),
                ),
            ));
            got.extend(page.matches.into_iter().map(|v| v.id));
        }
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            got.len(),
            "a resource on two pages of {qs}: {got:?}"
        );
        assert_eq!(sorted, want, "{qs}");
        let count = ok(r.search(
            parts,
            &query(Some("Observation"), &format!("{qs}&_summary=count")),
        ));
        assert_eq!(
            count.total,
            Some(want.len() as u64),
            "_summary=count of {qs}"
        );
    }
    // One parameter value matching two index rows of the same resource counts it once.
    load(
        s,
        &part,
        &[
            json!({"resourceType": "Patient", "id": "dup1",
                "name": [{"family": "Dupont"}, {"family": "Dupond"}]}),
            json!({"resourceType": "Patient", "id": "dup2", "name": [{"family": "Dupuis"}]}),
        ],
    );
    let mut r = ok(s.read_tx());
    let count = ok(r.search(parts, &query(Some("Patient"), "family=dup&_summary=count")));
    assert_eq!(count.total, Some(2), "family=dup&_summary=count");
    let mut q = query(Some("Patient"), "family=dup&_count=1");
    q.result.total = Some(TotalMode::UpTo(2));
    assert_eq!(ok(r.search(parts, &q)).total, Some(2), "family=dup up to 2");
    let page = ok(r.search(parts, &query(Some("Patient"), "family=dup&_count=1")));
    assert_eq!(page.matches.len(), 1);
    let page = ok(r.search(
        parts,
        &query(Some("Patient"), "family=dup&_count=1&_offset=1"),
    ));
    assert_eq!(page.matches.len(), 1);
    let page = ok(r.search(
        parts,
        &query(Some("Patient"), "family=dup&_count=1&_offset=2"),
    ));
    assert!(page.matches.is_empty(), "{:?}", page.matches);
    drop(r);
    // Chains and `_has` over the same data: referrers of a deleted resource do not make it
    // match, and every page and count agrees.
    let obs = |id: &str, subject: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "x"}, "subject": {"reference": subject}})
    };
    load(
        s,
        &part,
        &[
            obs("c1", "Patient/dup1"),
            obs("c2", "Patient/dup1"),
            obs("c3", "Patient/dup2"),
            obs("c4", "Patient/dup1"),
            json!({"resourceType": "Patient", "id": "dup3", "name": [{"family": "Dupré"}]}),
            obs("c5", "Patient/dup3"),
        ],
    );
    let mut tx = ok(s.write_tx());
    ok(tx.delete(&part, "Patient", "dup3"));
    ok(tx.commit());
    for (ty, qs, want) in [
        (
            "Observation",
            "subject:Patient.family=dup",
            &["c1", "c2", "c3", "c4"][..],
        ),
        (
            "Observation",
            "subject:Patient.family=dupont",
            &["c1", "c2", "c4"],
        ),
        (
            "Patient",
            "_has:Observation:subject:status=final",
            &["dup1", "dup2"],
        ),
    ] {
        let mut r = ok(s.read_tx());
        let mut got = Vec::new();
        for offset in 0..6 {
            let page = ok(r.search(
                parts,
                &query(Some(ty), &format!("{qs}&_count=1&_offset={offset}")),
            ));
            got.extend(page.matches.into_iter().map(|v| v.id));
        }
        got.sort();
        assert_eq!(got, want, "{ty}?{qs}");
        let count = ok(r.search(parts, &query(Some(ty), &format!("{qs}&_summary=count"))));
        assert_eq!(
            count.total,
            Some(want.len() as u64),
            "{ty}?{qs}&_summary=count"
        );
    }
    // More targets than a store may resolve up front (SQLite rewrites a chain over at most
    // 64 targets into their references): the chain itself must give the same answers.
    let mut many = Vec::new();
    for i in 0..70 {
        many.push(json!({"resourceType": "Patient", "id": format!("z{i:02}"),
            "name": [{"family": format!("Zed{i:02}")}]}));
        many.push(obs(&format!("cz{i:02}"), &format!("Patient/z{i:02}")));
    }
    load(s, &part, &many);
    let mut tx = ok(s.write_tx());
    ok(tx.delete(&part, "Patient", "z07"));
    ok(tx.commit());
    let mut r = ok(s.read_tx());
    let mut got = Vec::new();
    for offset in (0..80).step_by(30) {
        let q = query(
            Some("Observation"),
            &format!("subject:Patient.family=zed&_count=30&_offset={offset}"),
        );
        got.extend(ok(r.search(parts, &q)).matches.into_iter().map(|v| v.id));
    }
    got.sort();
    let want: Vec<String> = (0..70)
        .filter(|i| *i != 7)
        .map(|i| format!("cz{i:02}"))
        .collect();
    assert_eq!(got, want, "a chain over 69 live targets");
    let count = ok(r.search(
        parts,
        &query(
            Some("Observation"),
            "subject:Patient.family=zed&_summary=count",
        ),
    ));
    assert_eq!(count.total, Some(69));
}
