//! Property test: printing any syntax tree and parsing the text gives back the same tree.
#![allow(clippy::unwrap_used)]

use crosscare_fhirpath::parser::{parse, Ast, BinOp, Literal};
use crosscare_fhirpath::print::print;
use proptest::prelude::*;

const OPS: [BinOp; 22] = [
    BinOp::Mul,
    BinOp::Div,
    BinOp::IntDiv,
    BinOp::Mod,
    BinOp::Add,
    BinOp::Sub,
    BinOp::Concat,
    BinOp::Union,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Eq,
    BinOp::Equiv,
    BinOp::Ne,
    BinOp::NotEquiv,
    BinOp::In,
    BinOp::Contains,
    BinOp::And,
    BinOp::Or,
    BinOp::Xor,
    BinOp::Implies,
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-zA-Z0-9_]{0,6}",
        Just("div".to_string()),
        Just("contains".to_string()),
        Just("true".to_string()),
        Just("given name".to_string()),
        Just("vs-administrative-gender".to_string()),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Empty),
        any::<bool>().prop_map(Literal::Boolean),
        "(?s).{0,8}".prop_map(Literal::String),
        "[0-9]{1,5}".prop_map(Literal::Number),
        "[0-9]{1,3}\\.[0-9]{1,3}".prop_map(Literal::Number),
        "[0-9]{1,5}".prop_map(Literal::Long),
        "[0-9]{4}(-0[1-9](-1[0-9])?)?".prop_map(Literal::DateTime),
        "[0-9]{4}-0[1-9]-1[0-9]T1[0-9](:[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,3})?)?)?(Z|[+-]0[0-9]:00)?"
            .prop_map(Literal::DateTime),
        "1[0-9](:[0-5][0-9](:[0-5][0-9])?)?".prop_map(Literal::Time),
        ("[0-9]{1,3}", "[a-z]{1,3}").prop_map(|(value, unit)| Literal::Quantity {
            value,
            unit,
            calendar: false
        }),
        "[0-9]{1,3}".prop_map(|value| Literal::Quantity {
            value,
            unit: "days".into(),
            calendar: true
        }),
    ]
}

fn ast() -> impl Strategy<Value = Ast> {
    let leaf = prop_oneof![
        literal().prop_map(Ast::Literal),
        Just(Ast::This),
        Just(Ast::Index),
        Just(Ast::Total),
        name().prop_map(Ast::Env),
        name().prop_map(|name| Ast::Invoke {
            target: None,
            name,
            args: None
        }),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        prop_oneof![
            (
                proptest::option::of(inner.clone()),
                name(),
                proptest::option::of(proptest::collection::vec(inner.clone(), 0..3))
            )
                .prop_map(|(target, name, args)| Ast::Invoke {
                    target: target.map(Box::new),
                    name,
                    args
                }),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Ast::Indexer(Box::new(a), Box::new(b))),
            (any::<bool>(), inner.clone()).prop_map(|(n, a)| Ast::Negate(n, Box::new(a))),
            (0..OPS.len(), inner.clone(), inner.clone()).prop_map(|(i, a, b)| Ast::Binary(
                OPS[i],
                Box::new(a),
                Box::new(b)
            )),
            (
                any::<bool>(),
                inner,
                prop_oneof![
                    Just("Patient"),
                    Just("FHIR.Quantity"),
                    Just("System.String")
                ]
            )
                .prop_map(|(is, a, t)| Ast::TypeOp(is, Box::new(a), t.to_string())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_is_identity(tree in ast()) {
        let text = print(&tree);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, tree, "{}", text);
    }

    #[test]
    fn random_trees_evaluate_without_panic(tree in ast()) {
        let text = print(&tree);
        if let Ok(e) = crosscare_fhirpath::Expression::compile(&text) {
            let patient = serde_json::json!({
                "resourceType": "Patient", "id": "p", "birthDate": "1974-12-25",
                "name": [{"family": "F", "given": ["A", "B"]}],
                "contained": [{"resourceType": "Organization", "id": "o"}],
                "managingOrganization": {"reference": "#o"}
            });
            let limits = crosscare_fhirpath::Limits { max_steps: 20_000, max_collection: 1_000, max_string: 1 << 16 };
            let ctx = crosscare_fhirpath::EvalContext::new(&patient).with_limits(limits);
            let _ = e.evaluate_with(&ctx);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,64}") {
        if let Ok(e) = crosscare_fhirpath::Expression::compile(&text) {
            let patient = serde_json::json!({"resourceType": "Patient", "name": [{"given": ["A"]}]});
            let _ = e.evaluate(&patient);
        }
    }
}
