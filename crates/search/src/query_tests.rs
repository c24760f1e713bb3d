//! Data-driven tests of the query parser: every parameter type, modifier and prefix, errors,
//! lenient mode, chains, `_has`, composites and result parameters.

use crate::param::reference::ReferencePredicate;
use crate::param::token::TokenMatch;
use crate::query::{Filter, Predicate};
use crate::{parse_query_string, SearchError, SearchQuery};

/// A compact rendering of filters, so expectations stay readable.
fn render(f: &Filter) -> String {
    match f {
        Filter::Param(p) => {
            let vals: Vec<String> = p.values.iter().map(render_pred).collect();
            format!("{}={}", p.param, vals.join(","))
        }
        Filter::Missing { param, missing } => format!("{param}:missing={missing}"),
        Filter::Not(inner) => format!("not({})", render(inner)),
        Filter::Chain {
            param,
            target_type,
            filter,
        } => format!("{param}->{target_type}[{}]", render(filter)),
        Filter::Has {
            resource_type,
            param,
            filter,
        } => format!("has({resource_type}.{param})[{}]", render(filter)),
        Filter::Any(v) => format!(
            "any({})",
            v.iter().map(render).collect::<Vec<_>>().join(" | ")
        ),
        Filter::All(v) => format!(
            "all({})",
            v.iter().map(render).collect::<Vec<_>>().join(" & ")
        ),
        Filter::List(id) => format!("list({id})"),
    }
}

fn render_pred(p: &Predicate) -> String {
    match p {
        Predicate::Token(t) => match &t.matcher {
            TokenMatch::Code(c) => format!("tok({c})"),
            TokenMatch::SystemCode { system, code } => format!("tok({system}|{code})"),
            TokenMatch::NoSystem(c) => format!("tok(|{c})"),
            TokenMatch::System(s) => format!("tok({s}|)"),
            TokenMatch::Text(s) => format!("text({s})"),
            TokenMatch::OfType {
                system,
                code,
                value,
            } => format!("oftype({system}|{code}|{value})"),
            TokenMatch::AnyOf { value_set, codes } => format!("in({value_set}:{})", codes.len()),
        },
        Predicate::String(s) => format!("{:?}({})", s.mode, s.value),
        Predicate::Date(d) => format!(
            "{}[{}..{}]",
            d.prefix,
            d.range.low.map(|t| t.to_rfc3339()).unwrap_or_default(),
            d.range.high.map(|t| t.to_rfc3339()).unwrap_or_default()
        ),
        Predicate::Number(n) => format!("{}{}", n.prefix, n.number.value),
        Predicate::Quantity(q) => format!(
            "{}{}|{}|{}",
            q.prefix,
            q.number.value,
            q.system.as_deref().unwrap_or(""),
            q.code.as_deref().unwrap_or("")
        ),
        Predicate::Reference(r) => match r {
            ReferencePredicate::Local {
                resource_type,
                id,
                version,
            } => format!(
                "ref({}/{id}{})",
                resource_type.as_deref().unwrap_or("*"),
                version
                    .as_deref()
                    .map(|v| format!("@{v}"))
                    .unwrap_or_default()
            ),
            ReferencePredicate::Url { url, .. } => format!("url({url})"),
            ReferencePredicate::Identifier(t) => {
                format!("ident({})", render_pred(&Predicate::Token(t.clone())))
            }
        },
        Predicate::Uri(u) => format!("uri:{:?}({})", u.mode, u.value),
        Predicate::Composite(c) => format!(
            "({})",
            c.components
                .iter()
                .map(render_pred)
                .collect::<Vec<_>>()
                .join(" $ ")
        ),
    }
}

fn parse(rt: Option<&str>, qs: &str, lenient: bool) -> Result<SearchQuery, SearchError> {
    SearchQuery::parse(rt, &parse_query_string(qs), lenient)
}

/// Parses `qs` for `rt` and compares the rendered filters (joined with ` & `) or the error.
fn check(rt: &str, qs: &str, expected: &str) {
    let got = match parse(Some(rt), qs, false) {
        Ok(q) => q.filters.iter().map(render).collect::<Vec<_>>().join(" & "),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, expected, "{rt}?{qs}");
}

#[test]
fn token_forms_and_modifiers() {
    check(
        "Observation",
        "code=http://loinc.org|2339-0",
        "code=tok(http://loinc.org|2339-0)",
    );
    check(
        "Observation",
        "code=2339-0,1234-5",
        "code=tok(2339-0),tok(1234-5)",
    );
    check("Observation", "code=|x", "code=tok(|x)");
    check(
        "Observation",
        "code=http://loinc.org|",
        "code=tok(http://loinc.org|)",
    );
    check(
        "Observation",
        "status:not=final,amended",
        "not(status=tok(final),tok(amended))",
    );
    check(
        "Observation",
        "code:text=Hämoglobin",
        "code=text(hamoglobin)",
    );
    check(
        "Patient",
        "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123",
        "identifier=oftype(http://terminology.hl7.org/CodeSystem/v2-0203|MR|123)",
    );
    check("Patient", "active=true", "active=tok(true)");
    check("Patient", "active:not=false", "not(active=tok(false))");
    check(
        "Patient",
        "active=yes",
        "error: invalid value 'yes' for search parameter 'active': expected true or false",
    );
    check("Observation", "status=yes", "status=tok(yes)");
    check("Patient", "gender:missing=true", "gender:missing=true");
    check("Patient", "gender:missing=maybe", "error: invalid value 'maybe' for search parameter 'gender:missing': :missing expects true or false");
    check(
        "Patient",
        "gender:exact=male",
        "error: unknown or inapplicable modifier ':exact' on search parameter 'gender'",
    );
    check(
        "Patient",
        "gender=",
        "error: invalid value '' for search parameter 'gender': empty value",
    );
    check("Patient", "identifier=a|b|c", "error: invalid value 'a|b|c' for search parameter 'identifier': expected code, system|code, |code or system|");
    check(
        "Patient",
        r"identifier=urn:x|a\,b",
        r"identifier=tok(urn:x|a,b)",
    );
    check(
        "Patient",
        "gender:in=http://hl7.org/fhir/ValueSet/administrative-gender",
        "gender=in(http://hl7.org/fhir/ValueSet/administrative-gender:4)",
    );
    check(
        "Patient",
        "gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender",
        "not(gender=in(http://hl7.org/fhir/ValueSet/administrative-gender:4))",
    );
    check("Observation", "code:below=http://snomed.info/sct|123", "error: search parameter 'code:below' is not supported: :below on tokens needs code system hierarchies");
    check("Patient", "_id=abc", "_id=tok(abc)");
}

#[test]
fn string_modifiers() {
    check("Patient", "family=Müller", "family=Prefix(muller)");
    check("Patient", "family=Mu\u{308}ller", "family=Prefix(muller)");
    check("Patient", "family:exact=Müller", "family=Exact(Müller)");
    check("Patient", "family:contains=BRÜCK", "family=Contains(bruck)");
    check(
        "Patient",
        "address-city=Saarbrücken",
        "address-city=Prefix(saarbrucken)",
    );
    check("Patient", "name=Strauß", "name=Prefix(strauss)");
    check(
        "Patient",
        "family:text=x",
        "error: unknown or inapplicable modifier ':text' on search parameter 'family'",
    );
    check(
        "Patient",
        "family=a&family=b",
        "family=Prefix(a) & family=Prefix(b)",
    );
}

#[test]
fn date_prefixes_and_precision() {
    check(
        "Patient",
        "birthdate=1962",
        "birthdate=eq[1962-01-01T00:00:00+00:00..1962-12-31T23:59:59.999999+00:00]",
    );
    check(
        "Observation",
        "date=ge2024-03",
        "date=ge[2024-03-01T00:00:00+00:00..2024-03-31T23:59:59.999999+00:00]",
    );
    check(
        "Observation",
        "date=lt2024-03-05T10:00",
        "date=lt[2024-03-05T10:00:00+00:00..2024-03-05T10:00:59.999999+00:00]",
    );
    check(
        "Observation",
        "date=sa2024-03-05T10:00:00%2B02:00",
        "date=sa[2024-03-05T08:00:00+00:00..2024-03-05T08:00:00.999999+00:00]",
    );
    // An unencoded `+` arrives as a space; it is read back as the offset sign.
    check(
        "Observation",
        "date=sa2024-03-05T10:00:00+02:00",
        "date=sa[2024-03-05T08:00:00+00:00..2024-03-05T08:00:00.999999+00:00]",
    );
    check(
        "Observation",
        "_lastUpdated=gt2024-01-01T00:00:00Z",
        "_lastUpdated=gt[2024-01-01T00:00:00+00:00..2024-01-01T00:00:00.999999+00:00]",
    );
    check("Observation", "date=2024-13", "error: invalid value '2024-13' for search parameter 'date': not a FHIR date/dateTime/instant: 2024-13");
    check("Observation", "date=xx2024", "error: invalid value 'xx2024' for search parameter 'date': not a FHIR date/dateTime/instant: xx2024");
    check(
        "Observation",
        "date=ge2024&date=lt2025",
        "date=ge[2024-01-01T00:00:00+00:00..2024-12-31T23:59:59.999999+00:00] & date=lt[2025-01-01T00:00:00+00:00..2025-12-31T23:59:59.999999+00:00]",
    );
}

#[test]
fn number_quantity_uri() {
    check("RiskAssessment", "probability=gt0.8", "probability=gt0.8");
    check(
        "RiskAssessment",
        "probability=abc",
        "error: invalid value 'abc' for search parameter 'probability': not a number: abc",
    );
    check(
        "Observation",
        "value-quantity=5.4|http://unitsofmeasure.org|mg",
        "value-quantity=eq5.4|http://unitsofmeasure.org|mg",
    );
    check(
        "Observation",
        "value-quantity=le5.4||mg",
        "value-quantity=le5.4||mg",
    );
    check("Observation", "value-quantity=ap5", "value-quantity=ap5||");
    check(
        "ValueSet",
        "url=http://acme.org/fhir/ValueSet/x",
        "url=uri:Exact(http://acme.org/fhir/ValueSet/x)",
    );
    check(
        "ValueSet",
        "url:below=http://acme.org/fhir",
        "url=uri:Below(http://acme.org/fhir)",
    );
    check(
        "ValueSet",
        "url:above=http://acme.org/fhir/ValueSet/x/1",
        "url=uri:Above(http://acme.org/fhir/ValueSet/x/1)",
    );
    check(
        "ValueSet",
        "url:contains=x",
        "error: unknown or inapplicable modifier ':contains' on search parameter 'url'",
    );
}

#[test]
fn references_and_chains() {
    check(
        "Observation",
        "subject=Patient/123",
        "subject=ref(Patient/123)",
    );
    check("Observation", "subject=123", "subject=ref(*/123)");
    check(
        "Observation",
        "subject:Patient=123",
        "subject=ref(Patient/123)",
    );
    check(
        "Observation",
        "subject=http://x.org/fhir/Patient/1",
        "subject=url(http://x.org/fhir/Patient/1)",
    );
    check(
        "Observation",
        "subject=Patient/1/_history/2",
        "subject=ref(Patient/1@2)",
    );
    check("Observation", "subject=Medication/1", "error: invalid value 'Medication/1' for search parameter 'subject': Medication is not a target of subject");
    check(
        "Observation",
        "subject:Medication=1",
        "error: unknown or inapplicable modifier ':Medication' on search parameter 'subject'",
    );
    check(
        "Observation",
        "subject:identifier=urn:mrn|42",
        "subject=ident(tok(urn:mrn|42))",
    );
    check(
        "Observation",
        "patient.name=peter",
        "patient->Patient[name=Prefix(peter)]",
    );
    check(
        "Observation",
        "subject:Patient.organization.name=Acme",
        "subject->Patient[organization->Organization[name=Prefix(acme)]]",
    );
    check(
        "Observation",
        "subject.name=x",
        "error: chained parameter 'subject' can refer to several types (Patient, Location); add a type modifier such as 'subject:Patient'",
    );
    check("Observation", "code.name=x", "error: invalid value 'x' for search parameter 'code.name': code is not a reference parameter and cannot be chained");
    check(
        "Observation",
        "patient.nope=x",
        "error: unknown search parameter 'nope' for Patient|Group",
    );
    check(
        "Patient",
        "_has:Observation:patient:code=1234-5",
        "has(Observation.patient)[code=tok(1234-5)]",
    );
    check(
        "Patient",
        "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1",
        "has(Observation.patient)[has(AuditEvent.entity)[agent=ref(Practitioner/1)]]",
    );
    check("Patient", "_has:Observation:code:code=x", "error: invalid value 'x' for search parameter '_has:Observation:code:code': Observation.code is not a reference parameter");
    check(
        "Patient",
        "_has:Nope:patient:code=x",
        "error: unknown resource type 'Nope'",
    );
    check("Patient", "_has:Observation:patient=x", "error: invalid value 'x' for search parameter '_has:Observation:patient': expected _has:Type:reference-param:param");
}

#[test]
fn composites() {
    // On the resource itself, a composite is its components' parameters on the same
    // resource (see `derived`): ANDed at the top level, `all(…)` inside an OR or a chain.
    check(
        "Observation",
        "code-value-quantity=http://loinc.org|2339-0$gt5",
        "code=tok(http://loinc.org|2339-0) & value-quantity=gt5||",
    );
    check(
        "Observation",
        "code-value-quantity=2339-0$gt5,8480-6$lt60",
        "any(all(code=tok(2339-0) & value-quantity=gt5||) | all(code=tok(8480-6) & value-quantity=lt60||))",
    );
    check(
        "Observation",
        "code-value-concept:missing=true",
        "not(all(code:missing=false & value-concept:missing=false))",
    );
    check(
        "Observation",
        "code-value-quantity:missing=false",
        "code:missing=false & value-quantity:missing=false",
    );
    check(
        "Patient",
        "_has:Observation:subject:code-value-quantity=2339-0$gt5",
        "has(Observation.subject)[all(code=tok(2339-0) & value-quantity=gt5||)]",
    );
    check(
        "Observation",
        "combo-code-value-quantity=2339-0$gt5",
        "any(all(code=tok(2339-0) & value-quantity=gt5||) | component-code-value-quantity=(tok(2339-0) $ gt5||))",
    );
    check(
        "Observation",
        "component-code-value-quantity=http://loinc.org|8480-6$lt60||mm[Hg]",
        "component-code-value-quantity=(tok(http://loinc.org|8480-6) $ lt60||mm[Hg])",
    );
    check("Observation", "code-value-quantity=2339-0", "error: invalid value '2339-0' for search parameter 'code-value-quantity': expected 2 components separated by $");
    check("Observation", "code-value-date=x$ge2024", "code-value-date=(tok(x) $ ge[2024-01-01T00:00:00+00:00..2024-12-31T23:59:59.999999+00:00])");
}

#[test]
fn unknown_and_lenient() {
    check(
        "Patient",
        "foo=bar",
        "error: unknown search parameter 'foo' for Patient",
    );
    check("Patient", "_text=x", "error: search parameter '_text' is not supported: full-text and named queries are not available");
    let q = parse(
        Some("Patient"),
        "foo=bar&family=x&gender:bogus=y&_count=5",
        true,
    )
    .unwrap();
    assert_eq!(
        q.ignored,
        vec![
            ("foo".into(), "bar".into()),
            ("gender:bogus".into(), "y".into())
        ]
    );
    assert_eq!(q.to_query_string(), "family=x&_count=5");
    assert!(parse(Some("Patient"), "birthdate=nope", true).is_err());
    assert_eq!(
        parse(Some("Nope"), "", false),
        Err(SearchError::UnknownResourceType("Nope".into()))
    );
}

#[test]
fn system_search_and_list() {
    let q = parse(None, "_type=Patient,Observation&_lastUpdated=gt2024", false).unwrap();
    assert_eq!(q.types, vec!["Patient", "Observation"]);
    assert_eq!(q.filters.len(), 1);
    assert!(parse(None, "_id=1", false).is_ok());
    assert!(parse(None, "family=x", false).is_err());
    assert!(parse(None, "_type=Patient&family=x", false).is_ok());
    assert!(parse(None, "_type=Patient,Observation&family=x", false).is_err());
    assert!(parse(Some("Patient"), "_type=Patient", false).is_err());
    check("Patient", "_list=42", "list(42)");
}

/// A value of the right shape for a parameter type, for the all-parameters test.
fn sample_value(def: &crosscare_spec::model::SearchParamDef) -> String {
    use crosscare_spec::model::SearchParamType as T;
    match def.param_type {
        T::Token => "http://example.org|x".to_string(),
        T::String => "x".to_string(),
        T::Date => "ge2024-01".to_string(),
        T::Number => "gt1".to_string(),
        T::Quantity => "le5.4|http://unitsofmeasure.org|mg".to_string(),
        T::Reference => match def.target.first() {
            Some(t) => format!("{t}/1"),
            None => "http://example.org/x".to_string(),
        },
        T::Uri => "http://example.org/x".to_string(),
        T::Composite => def
            .component
            .iter()
            .map(|c| {
                crosscare_spec::Spec::r4()
                    .search_param_by_url(&c.definition)
                    .map(sample_value)
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("$"),
        T::Special => "x".to_string(),
    }
}

/// Every parameter of every resource type parses with a value of its type, except the ones
/// that are deliberately unsupported; booleans are exercised with `true`.
#[test]
fn every_parameter_of_every_type_parses() {
    use crosscare_spec::model::SearchParamType as T;
    let registry = crate::ParamRegistry::r4();
    let mut unsupported = std::collections::BTreeSet::new();
    let mut parsed = 0;
    for rt in registry.resource_types() {
        for def in registry.params(rt) {
            let mut value = sample_value(def);
            let pairs = vec![(def.code.clone(), value.clone())];
            let mut result = SearchQuery::parse(Some(rt), &pairs, false);
            if matches!(&result, Err(SearchError::InvalidValue { reason, .. }) if reason == "expected true or false")
            {
                value = "true".to_string();
                result = SearchQuery::parse(Some(rt), &[(def.code.clone(), value.clone())], false);
            }
            match result {
                Ok(q) => {
                    parsed += 1;
                    // A joined composite is one filter per component (see `derived`).
                    let filters = match registry.derivation(rt, &def.code) {
                        Some(crate::Derivation::Joined(parts)) => parts.len(),
                        _ => 1,
                    };
                    assert_eq!(q.filters.len(), filters, "{rt}?{}={value}", def.code);
                }
                Err(SearchError::Unsupported { param, .. }) => {
                    unsupported.insert(param);
                }
                Err(e) => panic!("{rt}?{}={value}: {e}", def.code),
            }
            if def.param_type != T::Composite && def.param_type != T::Special {
                let missing = SearchQuery::parse(
                    Some(rt),
                    &[(format!("{}:missing", def.code), "true".into())],
                    false,
                );
                assert!(missing.is_ok(), "{rt} {}:missing", def.code);
            }
        }
    }
    assert!(parsed > 2500, "{parsed}");
    let unsupported: Vec<&str> = unsupported.iter().map(String::as_str).collect();
    assert_eq!(
        unsupported,
        vec!["_content", "_filter", "_query", "_text", "near"]
    );
}
