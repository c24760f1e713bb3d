//! Evaluator tests over small resources: navigation, primitives with extensions, choice types,
//! resolve(), exact decimals, variables and limits.

use serde_json::{json, Value};

use crate::{EvalContext, EvalError, Expression, Item, Limits, Resolver};

/// Evaluates `expr` over `input` and renders each item as `type:json`.
fn run(input: &Value, expr: &str) -> Result<Vec<String>, EvalError> {
    let e = Expression::compile(expr).unwrap();
    Ok(e.evaluate(input)?
        .iter()
        .map(|i| format!("{}:{}", i.type_name(), i.to_json()))
        .collect())
}

fn check(input: &Value, expr: &str, expected: &[&str]) {
    let got = run(input, expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(got, expected, "{expr}");
}

fn patient() -> Value {
    serde_json::from_str(
        r##"{"resourceType":"Patient","id":"p1",
        "birthDate":"1974-12-25",
        "_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
        "_gender":{"extension":[{"url":"http://example.org/absent","valueCode":"unknown"}]},
        "name":[{"use":"official","family":"Chalmers","given":["Peter",null,"James"],
                 "_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"middle"}]},null]}],
        "multipleBirthInteger":2,
        "contained":[{"resourceType":"Organization","id":"org1","name":"Acme"}],
        "managingOrganization":{"reference":"#org1"}}"##,
    )
    .unwrap()
}

#[test]
fn paths_and_types() {
    let p = patient();
    check(&p, "Patient.name.family", &["FHIR.string:\"Chalmers\""]);
    check(&p, "name.given.hasValue()", &["System.Boolean:false"]);
    check(&p, "name.given.first()", &["FHIR.string:\"Peter\""]);
    check(&p, "Patient.id is string", &["System.Boolean:true"]);
    check(&p, "Practitioner.name", &[]);
}

#[test]
fn primitive_extensions() {
    let p = patient();
    check(
        &p,
        "birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value",
        &["FHIR.dateTime:\"1974-12-25T14:35:45-05:00\""],
    );
    check(&p, "birthDate.hasValue()", &["System.Boolean:true"]);
    check(&p, "gender.hasValue()", &["System.Boolean:false"]);
    check(&p, "gender.exists()", &["System.Boolean:true"]);
    check(&p, "gender.extension.value", &["FHIR.code:\"unknown\""]);
    check(&p, "name.given.count()", &["System.Integer:3"]);
    check(
        &p,
        "name.given[1].extension.value",
        &["FHIR.string:\"middle\""],
    );
    check(
        &p,
        "name.given.where(hasValue()).count()",
        &["System.Integer:2"],
    );
    check(
        &p,
        "birthDate.getValue() = @1974-12-25",
        &["System.Boolean:true"],
    );
}

#[test]
fn choice_types() {
    let p = patient();
    check(&p, "multipleBirth", &["FHIR.integer:2"]);
    check(&p, "multipleBirth is integer", &["System.Boolean:true"]);
    check(&p, "multipleBirthInteger", &[]);
    let obs: Value = serde_json::from_str(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"w"},
        "valueQuantity":{"value":185.50,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"}}"#,
    )
    .unwrap();
    check(&obs, "Observation.value.unit", &["FHIR.string:\"lbs\""]);
    check(
        &obs,
        "(Observation.value as Quantity).value",
        &["FHIR.decimal:185.50"],
    );
    check(
        &obs,
        "value.ofType(Quantity).exists()",
        &["System.Boolean:true"],
    );
    check(&obs, "value > 80 'kg'", &["System.Boolean:true"]);
}

#[test]
fn resolve_contained_and_bundle() {
    let p = patient();
    check(
        &p,
        "managingOrganization.resolve().name",
        &["FHIR.string:\"Acme\""],
    );
    check(
        &p,
        "managingOrganization.resolve() is Organization",
        &["System.Boolean:true"],
    );
    let bundle = json!({"resourceType":"Bundle","type":"collection","entry":[
        {"fullUrl":"http://x/Patient/1","resource":{"resourceType":"Patient","id":"1","active":true}},
        {"fullUrl":"http://x/Observation/2","resource":{"resourceType":"Observation","id":"2","status":"final",
         "code":{"text":"c"},"subject":{"reference":"Patient/1"}}}]});
    check(
        &bundle,
        "Bundle.entry.resource.ofType(Observation).subject.resolve().active",
        &["FHIR.boolean:true"],
    );
    struct Store;
    impl Resolver for Store {
        fn resolve(&self, reference: &str) -> Option<Value> {
            (reference == "Organization/9")
                .then(|| json!({"resourceType":"Organization","id":"9","name":"Ext"}))
        }
    }
    let plan = json!({"resourceType":"CarePlan","subject":{"reference":"Patient/7"}});
    check(
        &plan,
        "CarePlan.subject.where(resolve() is Patient).exists()",
        &["System.Boolean:true"],
    );
    check(&plan, "subject.resolve().id", &["FHIR.string:\"7\""]);
    check(
        &plan,
        "subject.where(resolve() is Group).exists()",
        &["System.Boolean:false"],
    );
    let obs = json!({"resourceType":"Observation","performer":[{"reference":"Organization/9"}]});
    let e = Expression::compile("performer.resolve().name").unwrap();
    let store = Store;
    let ctx = EvalContext::new(&obs).with_resolver(&store);
    let out = e.evaluate_with(&ctx).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_str(), Some("Ext"));
}

#[test]
fn exact_decimals() {
    let v: Value = serde_json::from_str(
        r#"{"resourceType":"Observation","valueQuantity":{"value":0.30000000000000000001}}"#,
    )
    .unwrap();
    check(&v, "0.1 + 0.2 = 0.3", &["System.Boolean:true"]);
    check(&v, "value.value = 0.3", &["System.Boolean:false"]);
    check(&v, "value.value > 0.3", &["System.Boolean:true"]);
    check(&v, "4 'mg' = 0.004 'g'", &["System.Boolean:true"]);
}

#[test]
fn variables_and_context() {
    let p = patient();
    let e = Expression::compile("%who.given.first() & ' ' & %`ext-foo`").unwrap();
    let names = Expression::compile("name").unwrap().evaluate(&p).unwrap();
    let ctx = EvalContext::new(&p).with_variable("who", names);
    let out = e.evaluate_with(&ctx).unwrap();
    assert_eq!(
        out[0].as_str(),
        Some("Peter http://hl7.org/fhir/StructureDefinition/foo")
    );
    assert!(matches!(
        run(&p, "%nope"),
        Err(EvalError::UnknownVariable(_))
    ));
    let name = json!({"family":"Doe","given":["Jane"]});
    let e = Expression::compile("given.first() + ' ' + family").unwrap();
    let out = e
        .evaluate_with(&EvalContext::new(&name).with_context_type("HumanName"))
        .unwrap();
    assert_eq!(out[0].as_str(), Some("Jane Doe"));
    assert_eq!(out.len(), 1);
    let typed = Expression::compile("given").unwrap();
    let out = typed
        .evaluate_with(&EvalContext::new(&name).with_context_type("HumanName"))
        .unwrap();
    assert_eq!(out[0].fhir_type(), Some("string"));
    let p = patient();
    let org = &p["contained"][0];
    let e = Expression::compile("%resource.id & '/' & %context.id & '/' & name").unwrap();
    let ctx = EvalContext::new(org).with_resource(&p);
    assert_eq!(
        e.evaluate_with(&ctx).unwrap()[0].as_str(),
        Some("p1/org1/Acme")
    );
}

#[test]
fn limits_stop_runaway_evaluation() {
    let p = patient();
    let e = Expression::compile("(1).repeat($this + 1)").unwrap();
    let ctx = EvalContext::new(&p).with_limits(Limits {
        max_steps: 100_000,
        ..Limits::default()
    });
    assert!(matches!(
        e.evaluate_with(&ctx),
        Err(EvalError::StepLimit(_))
    ));
    let e = Expression::compile("('ab' & 'ab' & 'ab' & 'ab').replace('a', 'aaaaaaaaaaaaaaaa').replace('a', 'aaaaaaaaaaaaaaaa').replace('a', 'aaaaaaaaaaaaaaaa').replace('a', 'aaaaaaaaaaaaaaaa').replace('a', 'aaaaaaaaaaaaaaaa').replace('a', 'aaaaaaaaaaaaaaaa')").unwrap();
    assert!(matches!(e.evaluate(&p), Err(EvalError::SizeLimit(_))));
    assert!(Expression::compile(&format!("{}1{}", "(".repeat(500), ")".repeat(500))).is_err());
    assert!(Expression::compile(&vec!["name"; 2000].join(".")).is_err());
    assert!(Expression::compile(&vec!["1"; 2000].join(" + ")).is_err());
    // The deepest accepted shapes still evaluate without exhausting a 2 MiB (test) stack.
    let nested = format!("{}1{}", "(".repeat(120), ")".repeat(120));
    check(&p, &nested, &["System.Integer:1"]);
    let chain = vec!["1"; 120].join(" + ");
    check(&p, &chain, &["System.Integer:120"]);
    let path = vec!["name"; 120].join(".");
    check(&p, &path, &[]);
    let mixed = format!(
        "{}{}{}",
        "(".repeat(40),
        vec!["name.given"; 40].join(" | "),
        ")".repeat(40)
    );
    assert_eq!(run(&p, &mixed).unwrap().len(), 3);
}

#[test]
fn expression_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Expression>();
    let _unused: Option<Item<'static>> = None;
}

#[test]
fn numeric_edges_do_not_panic() {
    let p = patient();
    check(&p, "-(-9223372036854775807L - 1)", &[]);
    check(
        &p,
        "(1.0 / 3).lowBoundary().exists()",
        &["System.Boolean:false"],
    );
    check(
        &p,
        "(@2014-01-01 + 9223372036854775807 months).exists()",
        &["System.Boolean:false"],
    );
    check(&p, "9223372036854775807L + 1", &[]);
    check(&p, "1 / 0", &[]);
}

#[test]
fn fast_paths_agree_with_the_general_evaluation() {
    // `children().count()` counts without building the children: it must count what
    // `children()` returns, nulls and `_name`-only primitives included.
    let p = patient();
    let odd = json!({"resourceType":"Patient","id":null,"active":[null,true],
        "_active":[{"id":"a"},null],"_gender":{"id":"g"},"name":[null,{"family":"X"}]});
    for input in [&p, &odd] {
        for path in ["", "name.", "name.given.", "_birthDate.", "contained."] {
            let counted = run(input, &format!("{path}children().count()")).unwrap();
            let built = run(input, &format!("{path}children()")).unwrap().len();
            let expected = if path.is_empty() || !counted.is_empty() {
                vec![format!("System.Integer:{built}")]
            } else {
                Vec::new()
            };
            assert_eq!(counted, expected, "{path}children().count()");
        }
    }
    // Unions keep the first occurrence in order, whatever buffer they are built in.
    check(
        &p,
        "name.given | name.family | name.given",
        &[
            "FHIR.string:\"Peter\"",
            r#"FHIR.string:{"extension":[{"url":"http://example.org/x","valueString":"middle"}]}"#,
            "FHIR.string:\"James\"",
            "FHIR.string:\"Chalmers\"",
        ],
    );
    check(&p, "(1 | 2 | 1 | 3).count()", &["System.Integer:3"]);
    // Conditions evaluated as Booleans keep the empty and singleton rules.
    check(
        &p,
        "name.where(family = 'Chalmers' and given.exists()).count()",
        &["System.Integer:1"],
    );
    check(&p, "(name.family = {}) or true", &["System.Boolean:true"]);
    check(&p, "(name.family = {}) and true", &[]);
    check(
        &p,
        "name.family.where($this > 'A' or false).exists()",
        &["System.Boolean:true"],
    );
    assert!(matches!(
        run(&p, "name.where(given = 'Peter').exists()"),
        Ok(v) if v == ["System.Boolean:false"]
    ));
    check(&p, "hasValue() or id.hasValue()", &["System.Boolean:true"]);
    // One compiled expression over roots of different types: the resolution kept from the
    // first root does not apply to the second.
    let e = Expression::compile("name.first()").unwrap();
    let org = json!({"resourceType":"Organization","name":"Acme"});
    for _ in 0..2 {
        let got = e.evaluate(&p).unwrap();
        assert_eq!(got[0].type_name(), "FHIR.HumanName");
        let got = e.evaluate(&org).unwrap();
        assert_eq!(got[0].type_name(), "FHIR.string");
    }
    // A hint computed for one type is ignored on a node of another type.
    check(&p, "contained.name", &["FHIR.string:\"Acme\""]);
    check(&p, "Patient.contained.name", &["FHIR.string:\"Acme\""]);
}
