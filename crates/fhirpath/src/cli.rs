//! Command-line style entry point: evaluate an expression over JSON text, returning JSON text.

use serde_json::Value;

use crate::{EvalError, Expression, ParseError};

/// Why a command-line evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// Evaluates `expression` over `input_json` and returns the result as a JSON array. With
/// `typed`, each element is `{"type": "<type name>", "value": <json>}`.
pub fn run(input_json: &str, expression: &str, typed: bool) -> Result<String, Error> {
    let input: Value = serde_json::from_str(input_json)?;
    let expr = Expression::compile(expression)?;
    let items = expr.evaluate(&input)?;
    let out: Vec<Value> = items
        .iter()
        .map(|i| {
            if typed {
                serde_json::json!({"type": i.type_name(), "value": i.to_json()})
            } else {
                i.to_json()
            }
        })
        .collect();
    Ok(Value::Array(out).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expr: &str, typed: bool, expected: &str) {
        assert_eq!(run(input, expr, typed).unwrap(), expected, "{expr}");
    }

    #[test]
    fn runs() {
        let p = r#"{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter","James"]}]}"#;
        check(p, "Patient.name.given", false, r#"["Peter","James"]"#);
        check(
            p,
            "name.family",
            true,
            r#"[{"type":"FHIR.string","value":"Chalmers"}]"#,
        );
        check(p, "1 + 1", true, r#"[{"type":"System.Integer","value":2}]"#);
        assert!(run(p, "name.", false).is_err());
    }
}
