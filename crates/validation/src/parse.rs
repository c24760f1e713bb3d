//! Parsing untrusted resource JSON under limits: UTF-8, nesting depth and string length are
//! checked by a byte scan before serde_json sees the input, so no input can exhaust the stack.

use serde_json::Value;

/// Bounds applied by [`parse_resource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Maximum nesting of objects and arrays; the root object is depth 1.
    pub max_depth: usize,
    /// Maximum length of one JSON string (keys included), in bytes of its encoded form
    /// between the quotes.
    pub max_string_len: usize,
}

impl Default for ParseLimits {
    fn default() -> ParseLimits {
        ParseLimits {
            max_depth: 64,
            max_string_len: 1024 * 1024,
        }
    }
}

/// Why bytes could not be read as a resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("the body is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("nesting deeper than {max} levels (at byte {offset})")]
    TooDeep { max: usize, offset: usize },
    #[error("a string is longer than {max} bytes (starting at byte {offset})")]
    StringTooLong { max: usize, offset: usize },
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the JSON root is not an object")]
    NotAnObject,
}

/// Parses one resource: valid UTF-8, valid JSON, an object at the root, within `limits`.
/// Decimals keep their exact lexical form (`1.50` stays `1.50`): serde_json's
/// `arbitrary_precision` stores numbers as text and nothing here goes through `f64`.
pub fn parse_resource(bytes: &[u8], limits: &ParseLimits) -> Result<Value, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    scan(bytes, limits)?;
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    if !value.is_object() {
        return Err(ParseError::NotAnObject);
    }
    Ok(value)
}

/// serde_json appends " at line L column C" to its messages; the position has its own fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// One pass over the bytes tracking string state and nesting depth. It does not validate JSON
/// (serde_json does that next); it only guarantees that whatever serde_json will recurse into
/// is at most `max_depth` deep and that no string exceeds `max_string_len`. Brackets inside
/// strings are ignored; an escaped quote does not end a string.
fn scan(bytes: &[u8], limits: &ParseLimits) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                continue;
            }
            if i + 1 - string_start > limits.max_string_len {
                return Err(ParseError::StringTooLong {
                    max: limits.max_string_len,
                    offset: string_start,
                });
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(ParseError::TooDeep {
                        max: limits.max_depth,
                        offset: i,
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, ParseError>) {
        let limits = ParseLimits {
            max_depth: 4,
            max_string_len: 8,
        };
        let got = parse_resource(input.as_bytes(), &limits).map(|v| v.to_string());
        assert_eq!(got, expected.map(str::to_string), "{input}");
    }

    #[test]
    fn accepts_objects_and_keeps_decimals() {
        check(r#"{"a":1.50}"#, Ok(r#"{"a":1.50}"#));
        check(r#"{"b":1,"a":2}"#, Ok(r#"{"b":1,"a":2}"#));
        // serde_json writes exponents with an explicit sign; digits are kept as written.
        check(r#"{"a":1e400}"#, Ok(r#"{"a":1e+400}"#));
        check(r#"{"a":-0.000100}"#, Ok(r#"{"a":-0.000100}"#));
        check(r#"{"a":[[{"b":"]]]]"}]]}"#, Ok(r#"{"a":[[{"b":"]]]]"}]]}"#));
    }

    #[test]
    fn rejects_bad_input() {
        check("[1]", Err(ParseError::NotAnObject));
        check("\"x\"", Err(ParseError::NotAnObject));
        check(
            r#"{"a":[[[[1]]]]}"#,
            Err(ParseError::TooDeep { max: 4, offset: 8 }),
        );
        check(
            r#"{"a":"123456789"}"#,
            Err(ParseError::StringTooLong { max: 8, offset: 6 }),
        );
        check(r#"{"a":"12\"4]6"}"#, Ok(r#"{"a":"12\"4]6"}"#));
        check(r#"{"a":"12345678"}"#, Ok(r#"{"a":"12345678"}"#));
        assert!(matches!(
            parse_resource(b"{\"a\":\xff}", &ParseLimits::default()),
            Err(ParseError::InvalidUtf8 { offset: 5 })
        ));
        for bad in [
            r#"{"a":01}"#,
            r#"{"a":NaN}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            "{",
            "{} x",
        ] {
            assert!(
                matches!(
                    parse_resource(bad.as_bytes(), &ParseLimits::default()),
                    Err(ParseError::Syntax { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn deep_input_is_a_clean_error() {
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let input = format!("{{\"a\":{deep}}}");
        let got = parse_resource(input.as_bytes(), &ParseLimits::default());
        assert!(matches!(got, Err(ParseError::TooDeep { max: 64, .. })));
        let deep = "{\"a\":".repeat(100_000);
        let got = parse_resource(deep.as_bytes(), &ParseLimits::default());
        assert!(matches!(got, Err(ParseError::TooDeep { .. })));
    }
}
