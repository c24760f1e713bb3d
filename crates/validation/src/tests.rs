//! Data-driven tests of `validate`: one `check(json, expected_issues)` per rejection class.

use serde_json::{json, Value};

use crate::{validate, ValidationOptions};

/// Validates `resource` and compares its issues as `code@expression` (with `[key]` when the
/// issue names a constraint) to `expected`, in order.
fn check(resource: Value, expected: &[&str]) {
    check_with(resource, &ValidationOptions::default(), expected);
}

fn check_with(resource: Value, options: &ValidationOptions, expected: &[&str]) {
    let report = validate(&resource, options);
    let got: Vec<String> = report
        .issues
        .iter()
        .map(|i| match &i.key {
            Some(k) => format!("{}@{}[{k}]", i.code.code(), i.expression),
            None => format!("{}@{}", i.code.code(), i.expression),
        })
        .collect();
    assert_eq!(got, expected, "{resource}\n{:#?}", report.issues);
}

#[test]
fn valid_resources_have_no_issues() {
    check(
        json!({"resourceType": "Patient", "id": "p1", "active": true,
               "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
               "gender": "male", "birthDate": "1974-12-25",
               "multipleBirthInteger": 2,
               "contact": [{"relationship": [{"text": "partner"}], "name": {"family": "X"}}]}),
        &[],
    );
    check(
        json!({"resourceType": "Observation", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
               "valueQuantity": {"value": 1.50, "unit": "mg"}}),
        &[],
    );
}

#[test]
fn unknown_elements_and_choices() {
    check(
        json!({"resourceType": "Patient", "foo": 1}),
        &["structure@Patient.foo"],
    );
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueFoo": 1}),
        &["structure@Observation.valueFoo"],
    );
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "valueString": "a", "valueBoolean": true}),
        &["structure@Observation.valueBoolean"],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"familyy": "x"}]}),
        &["structure@Patient.name[0].familyy"],
    );
}

#[test]
fn json_shapes() {
    check(
        json!({"resourceType": "Patient", "name": {"family": "x"}}),
        &["structure@Patient.name"],
    );
    check(
        json!({"resourceType": "Patient", "gender": ["male"]}),
        &["structure@Patient.gender"],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"family": ["x"]}]}),
        &["structure@Patient.name[0].family"],
    );
    check(
        json!({"resourceType": "Patient", "name": ["x"]}),
        &["structure@Patient.name[0]"],
    );
    check(
        json!({"resourceType": "Patient", "active": "true"}),
        &["structure@Patient.active"],
    );
    check(
        json!({"resourceType": "Patient", "active": null}),
        &["structure@Patient.active"],
    );
}

#[test]
fn empty_values() {
    check(
        json!({"resourceType": "Patient", "name": []}),
        &["structure@Patient.name"],
    );
    check(
        json!({"resourceType": "Patient", "name": [{}]}),
        &["structure@Patient.name[0][ele-1]"],
    );
    check(
        json!({"resourceType": "Patient", "gender": ""}),
        &["value@Patient.gender"],
    );
    check(
        json!({"resourceType": "Patient"}),
        &["structure@Patient[ele-1]"],
    );
}

#[test]
fn malformed_primitives() {
    check(
        json!({"resourceType": "Patient", "birthDate": "1974-13-01"}),
        &["value@Patient.birthDate"],
    );
    check(
        json!({"resourceType": "Patient", "id": "a_b"}),
        &["value@Patient.id"],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["ok", "bad\u{1}"]}]}),
        &["value@Patient.name[0].given[1]"],
    );
    check(
        json!({"resourceType": "Patient", "multipleBirthInteger": 1.5}),
        &["value@Patient.multipleBirthInteger"],
    );
    check(
        json!({"resourceType": "Patient", "meta": {"lastUpdated": "2020-01-01"}}),
        &["value@Patient.meta.lastUpdated"],
    );
    check(
        json!({"resourceType": "Patient", "photo": [{"data": "not base64!"}]}),
        &["value@Patient.photo[0].data"],
    );
}

#[test]
fn required_elements() {
    check(
        json!({"resourceType": "Observation", "code": {"text": "x"}}),
        &["required@Observation.status"],
    );
    check(
        json!({"resourceType": "Patient", "link": [{"type": "seealso"}]}),
        &["required@Patient.link[0].other"],
    );
    check(
        json!({"resourceType": "Patient", "extension": [{"valueString": "x"}]}),
        &["required@Patient.extension[0].url"],
    );
}

#[test]
fn required_bindings() {
    check(
        json!({"resourceType": "Patient", "gender": "femme"}),
        &["code-invalid@Patient.gender"],
    );
    check(
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"},
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "gone"}]}}),
        &["code-invalid@Condition.clinicalStatus"],
    );
    let options = ValidationOptions {
        check_bindings: false,
        ..ValidationOptions::default()
    };
    check_with(
        json!({"resourceType": "Patient", "gender": "femme"}),
        &options,
        &[],
    );
}

#[test]
fn resource_types_and_ids() {
    check(
        json!({"resourceType": "Patientt", "id": "1"}),
        &["invalid@Resource.resourceType"],
    );
    check(json!({"id": "1"}), &["required@Resource"]);
    let update = ValidationOptions {
        expected_type: Some("Patient".into()),
        expected_id: Some("1".into()),
        require_id: true,
        ..ValidationOptions::default()
    };
    check_with(
        json!({"resourceType": "Patient", "id": "1", "active": true}),
        &update,
        &[],
    );
    check_with(
        json!({"resourceType": "Patient", "id": "2", "active": true}),
        &update,
        &["invalid@Patient.id"],
    );
    check_with(
        json!({"resourceType": "Patient", "active": true}),
        &update,
        &["required@Patient.id"],
    );
    check_with(
        json!({"resourceType": "Observation", "id": "1", "status": "final", "code": {"text": "x"}}),
        &update,
        &["invalid@Observation.resourceType"],
    );
}

#[test]
fn primitive_extensions() {
    let ext = json!({"extension": [{"url": "http://e", "valueString": "x"}]});
    check(json!({"resourceType": "Patient", "_birthDate": ext}), &[]);
    check(
        json!({"resourceType": "Patient", "birthDate": "1970", "_birthDate": ext}),
        &[],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["a", null], "_given": [null, ext]}]}),
        &[],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["a", null], "_given": [ext, null]}]}),
        &["structure@Patient.name[0].given[1]"],
    );
    check(
        json!({"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [ext]}]}),
        &["structure@Patient.name[0].given._"],
    );
    check(
        json!({"resourceType": "Patient", "_birthDate": "x"}),
        &["structure@Patient.birthDate"],
    );
    check(
        json!({"resourceType": "Patient", "_name": ext}),
        &["structure@Patient.name"],
    );
    check(
        json!({"resourceType": "Patient", "_birthDate": {"foo": 1}}),
        &["structure@Patient.birthDate.foo"],
    );
}

#[test]
fn nested_resources() {
    let bad_obs = json!({"resourceType": "Observation", "code": {"text": "x"}});
    check(
        json!({"resourceType": "Patient", "contained": [bad_obs], "active": true}),
        &["required@Patient.contained[0].status"],
    );
    check(
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "gender": "x"}}]}),
        &["code-invalid@Bundle.entry[0].resource.gender"],
    );
    check(
        json!({"resourceType": "Parameters", "parameter": [{"name": "p", "resource": {"resourceType": "Nope"}}]}),
        &["invalid@Parameters.parameter[0].resource.resourceType"],
    );
    let nested = json!({"resourceType": "Patient", "id": "a",
                        "contained": [{"resourceType": "Patient", "id": "b", "active": true}]});
    check(
        json!({"resourceType": "Patient", "contained": [nested],
               "link": [{"other": {"reference": "#a"}, "type": "seealso"}]}),
        &["structure@Patient.contained[0].contained[dom-2]"],
    );
}

#[test]
fn invariants() {
    // obs-6: dataAbsentReason SHALL only be present if value[x] is not present.
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "valueString": "a", "dataAbsentReason": {"text": "gone"}}),
        &["invariant@Observation[obs-6]"],
    );
    // ext-1: an extension has a value or nested extensions, not both.
    check(
        json!({"resourceType": "Patient", "extension": [{"url": "http://e", "valueString": "a",
               "extension": [{"url": "http://f", "valueString": "b"}]}]}),
        &["invariant@Patient.extension[0][ext-1]"],
    );
    // dom-4: a contained resource has no meta.versionId.
    check(
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "b",
               "meta": {"versionId": "1"}}], "link": [{"other": {"reference": "#b"}, "type": "seealso"}]}),
        &["invariant@Patient[dom-4]"],
    );
    // FIXME: dom-3 (a contained resource must be referenced) applies `as(canonical)` to a
    // collection, which the FHIRPath engine rejects (singleton expected), so it is skipped and
    // counted rather than reported.
    let unreferenced = json!({"resourceType": "Patient",
                              "contained": [{"resourceType": "Patient", "id": "b", "active": true}]});
    let report = validate(&unreferenced, &ValidationOptions::default());
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    assert!(report.skipped_invariants >= 1);
    // per-1 on Period (a data type's own constraint).
    check(
        json!({"resourceType": "Patient", "name": [{"family": "x", "period": {"start": "2020", "end": "2019"}}]}),
        &["invariant@Patient.name[0].period[per-1]"],
    );
    let off = ValidationOptions {
        check_invariants: false,
        ..ValidationOptions::default()
    };
    check_with(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "valueString": "a", "dataAbsentReason": {"text": "gone"}}),
        &off,
        &[],
    );
}

#[test]
fn constraints_the_engine_cannot_compile_are_listed() {
    let (compiled, unsupported) = crate::unsupported_constraints();
    for u in &unsupported {
        eprintln!(
            "unsupported {} {}: {} ({})",
            u.path, u.key, u.expression, u.reason
        );
    }
    assert!(compiled > 150, "only {compiled} constraints compile");
    assert!(
        unsupported.len() <= 5,
        "{} constraints do not compile",
        unsupported.len()
    );
}
