//! The FHIR R4 primitive types: JSON representation and lexical form, one function per type.
//!
//! The rules are the `regex` extensions of the R4 primitive type definitions, plus calendar
//! checks (`2023-02-30` is not a date) and the 32-bit range of `integer`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::report::IssueType;

/// A primitive that is not acceptable: a JSON type error (`structure`) or a bad lexical form
/// (`value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrimitiveError {
    pub code: IssueType,
    pub message: String,
}

fn value_error(message: impl Into<String>) -> PrimitiveError {
    PrimitiveError {
        code: IssueType::Value,
        message: message.into(),
    }
}

fn json_type_error(type_code: &str, expected: &str, got: &Value) -> PrimitiveError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    PrimitiveError {
        code: IssueType::Structure,
        message: format!("a {type_code} must be {expected} in JSON, not {got}"),
    }
}

/// True for the type codes this module knows how to check.
pub(crate) fn is_primitive(type_code: &str) -> bool {
    matches!(
        type_code,
        "boolean"
            | "integer"
            | "positiveInt"
            | "unsignedInt"
            | "decimal"
            | "string"
            | "markdown"
            | "code"
            | "id"
            | "uri"
            | "url"
            | "canonical"
            | "oid"
            | "uuid"
            | "base64Binary"
            | "date"
            | "dateTime"
            | "instant"
            | "time"
            | "xhtml"
    ) || type_code.starts_with("http://hl7.org/fhirpath/System.")
}

/// Checks one primitive value (never `null`: callers handle placeholders) of `type_code`.
pub(crate) fn check(type_code: &str, value: &Value) -> Result<(), PrimitiveError> {
    match type_code {
        "boolean" => match value {
            Value::Bool(_) => Ok(()),
            other => Err(json_type_error(type_code, "true or false", other)),
        },
        "integer" | "positiveInt" | "unsignedInt" | "decimal" => {
            let Value::Number(n) = value else {
                return Err(json_type_error(type_code, "a number", value));
            };
            let text = n.to_string();
            match type_code {
                "integer" => integer(&text),
                "positiveInt" => positive_int(&text),
                "unsignedInt" => unsigned_int(&text),
                _ => decimal(&text),
            }
            .map_err(value_error)
        }
        _ => {
            let Value::String(s) = value else {
                return Err(json_type_error(type_code, "a string", value));
            };
            check_string(type_code, s).map_err(value_error)
        }
    }
}

fn check_string(type_code: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("a {type_code} must not be empty"));
    }
    match type_code {
        "string" | "markdown" => string(s),
        "code" => code(s),
        "id" => id(s),
        "uri" | "url" | "canonical" => uri(s),
        "oid" => oid(s),
        "uuid" => uuid(s),
        "base64Binary" => base64_binary(s),
        "date" => date(s),
        "dateTime" => date_time(s),
        "instant" => instant(s),
        "time" => time(s),
        "xhtml" => xhtml(s),
        _ => string(s),
    }
}

/// `string`/`markdown`: no control characters other than tab, carriage return and line feed.
pub(crate) fn string(s: &str) -> Result<(), String> {
    match s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        Some(c) => Err(format!(
            "control character U+{:04X} is not allowed in a string",
            c as u32
        )),
        None => Ok(()),
    }
}

/// `code`: `[^\s]+(\s[^\s]+)*` — no leading, trailing or doubled whitespace.
pub(crate) fn code(s: &str) -> Result<(), String> {
    let ok = !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
        && !s
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace());
    if ok {
        string(s)
    } else {
        Err(format!(
            "code {s:?} has leading, trailing or repeated whitespace"
        ))
    }
}

/// `id`: `[A-Za-z0-9\-\.]{1,64}`.
pub(crate) fn id(s: &str) -> Result<(), String> {
    if s.len() > 64 {
        return Err(format!(
            "id is {} characters long; the limit is 64",
            s.len()
        ));
    }
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Ok(())
    } else {
        Err(format!(
            "id {s:?} may only contain letters, digits, '-' and '.'"
        ))
    }
}

/// `uri`, `url`, `canonical`: `\S*` (and not empty, as no JSON string may be).
pub(crate) fn uri(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_whitespace) {
        Err(format!("uri {s:?} contains whitespace"))
    } else {
        Ok(())
    }
}

static OID: LazyLock<Regex> = LazyLock::new(|| regex(r"^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$"));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
});
const YEAR: &str = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
const TIME: &str = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?";
const ZONE: &str = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$"
    ))
});
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{TIME}{ZONE})?)?)?$"
    ))
});
static INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{TIME}{ZONE}$"
    ))
});
static TIME_RE: LazyLock<Regex> = LazyLock::new(|| regex(&format!("^{TIME}$")));

/// The patterns above are constants of this module, checked by its tests.
fn regex(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(r) => r,
        Err(e) => panic!("invalid built-in primitive pattern {pattern}: {e}"),
    }
}

pub(crate) fn oid(s: &str) -> Result<(), String> {
    matches(&OID, s, "oid")
}

pub(crate) fn uuid(s: &str) -> Result<(), String> {
    matches(&UUID, s, "uuid")
}

pub(crate) fn date(s: &str) -> Result<(), String> {
    matches(&DATE, s, "date")?;
    calendar(s)
}

pub(crate) fn date_time(s: &str) -> Result<(), String> {
    matches(&DATE_TIME, s, "dateTime")?;
    calendar(s)
}

pub(crate) fn instant(s: &str) -> Result<(), String> {
    matches(&INSTANT, s, "instant")?;
    calendar(s)
}

pub(crate) fn time(s: &str) -> Result<(), String> {
    matches(&TIME_RE, s, "time")
}

fn matches(re: &Regex, s: &str, type_code: &str) -> Result<(), String> {
    if re.is_match(s) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a valid {type_code}"))
    }
}

/// The day must exist in its month (`2023-02-29` does not). Called after the pattern matched,
/// so the fields are where the pattern puts them.
fn calendar(s: &str) -> Result<(), String> {
    let (Some(y), Some(m), Some(d)) = (s.get(0..4), s.get(5..7), s.get(8..10)) else {
        return Ok(());
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return Ok(());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if d > days {
        Err(format!("{s:?} is not a calendar date"))
    } else {
        Ok(())
    }
}

/// `base64Binary`: `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, and it must decode.
pub(crate) fn base64_binary(s: &str) -> Result<(), String> {
    use base64::Engine;
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map(|_| ())
        .map_err(|e| format!("not valid base64: {e}"))
}

/// `xhtml`: the narrative must be a `div` element (its content is not checked further).
pub(crate) fn xhtml(s: &str) -> Result<(), String> {
    let t = s.trim_start();
    if (t.starts_with("<div ") || t.starts_with("<div>")) && s.trim_end().ends_with('>') {
        Ok(())
    } else {
        Err("the narrative must be an XHTML <div> element".to_string())
    }
}

/// `integer`: `-?([0]|([1-9][0-9]*))` within the signed 32-bit range.
pub(crate) fn integer(text: &str) -> Result<(), String> {
    integer_in(text, i64::from(i32::MIN), "integer")
}

/// `positiveInt`: an integer of at least 1.
pub(crate) fn positive_int(text: &str) -> Result<(), String> {
    integer_in(text, 1, "positiveInt")
}

/// `unsignedInt`: an integer of at least 0.
pub(crate) fn unsigned_int(text: &str) -> Result<(), String> {
    integer_in(text, 0, "unsignedInt")
}

fn integer_in(text: &str, min: i64, type_code: &str) -> Result<(), String> {
    match text.parse::<i64>() {
        Ok(n) if n >= min && n <= i64::from(i32::MAX) => Ok(()),
        Ok(_) => Err(format!("{text} is out of range for {type_code}")),
        Err(_) => Err(format!("{text} is not a valid {type_code}")),
    }
}

/// `decimal`: any JSON number is a valid decimal; it is kept exactly as written.
pub(crate) fn decimal(text: &str) -> Result<(), String> {
    // JSON's number grammar is the FHIR decimal grammar; serde_json already enforced it.
    if text.is_empty() {
        Err("empty decimal".to_string())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_ok(type_code: &str, values: &[Value]) {
        for v in values {
            assert_eq!(check(type_code, v), Ok(()), "{type_code} {v}");
        }
    }

    fn check_err(type_code: &str, code: IssueType, values: &[Value]) {
        for v in values {
            let got = check(type_code, v).map_err(|e| e.code);
            assert_eq!(got, Err(code), "{type_code} {v}");
        }
    }

    fn num(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn temporal_types() {
        check_ok(
            "date",
            &[json!("2024"), json!("2024-02"), json!("2024-02-29")],
        );
        check_err(
            "date",
            IssueType::Value,
            &[
                json!("2023-02-29"),
                json!("2024-13"),
                json!("24-01-01"),
                json!("2024-01-01T10:00:00Z"),
                json!(""),
            ],
        );
        check_ok(
            "dateTime",
            &[
                json!("2015"),
                json!("2015-02-07T13:28:17-05:00"),
                json!("2017-01-01T00:00:00.000Z"),
            ],
        );
        check_err(
            "dateTime",
            IssueType::Value,
            &[
                json!("2015-02-07T13:28:17"),
                json!("2015-02-07T13:28Z"),
                json!("2015-02-07 13:28:17Z"),
            ],
        );
        check_ok("instant", &[json!("2015-02-07T13:28:17.239+02:00")]);
        check_err(
            "instant",
            IssueType::Value,
            &[json!("2015-02-07"), json!("2015-02-07T13:28:17")],
        );
        check_ok("time", &[json!("13:28:17"), json!("23:59:60.5")]);
        check_err(
            "time",
            IssueType::Value,
            &[json!("24:00:00"), json!("13:28")],
        );
        check_err("date", IssueType::Structure, &[json!(2024)]);
    }

    #[test]
    fn string_types() {
        check_ok("id", &[json!("a-B.9"), json!("x".repeat(64))]);
        check_err(
            "id",
            IssueType::Value,
            &[json!("a_b"), json!("x".repeat(65)), json!("")],
        );
        check_ok("code", &[json!("final"), json!("a b")]);
        check_err(
            "code",
            IssueType::Value,
            &[json!(" a"), json!("a  b"), json!("a ")],
        );
        check_ok("string", &[json!("tab\there\r\n"), json!("  ")]);
        check_err("string", IssueType::Value, &[json!("bell\u{7}"), json!("")]);
        check_ok("uri", &[json!("http://x/y"), json!("urn:a")]);
        check_err("uri", IssueType::Value, &[json!("a b")]);
        check_ok("oid", &[json!("urn:oid:1.2.840.10008")]);
        check_err(
            "oid",
            IssueType::Value,
            &[json!("urn:oid:3.1"), json!("1.2.3")],
        );
        check_ok(
            "uuid",
            &[json!("urn:uuid:c757873d-ec9a-4326-a141-556f43239520")],
        );
        check_err(
            "uuid",
            IssueType::Value,
            &[json!("c757873d-ec9a-4326-a141-556f43239520")],
        );
        check_ok("base64Binary", &[json!("aGVsbG8="), json!("aGVs\nbG8=")]);
        check_err(
            "base64Binary",
            IssueType::Value,
            &[json!("aGVsbG8"), json!("!!!!")],
        );
        check_ok(
            "xhtml",
            &[json!("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>")],
        );
        check_err("xhtml", IssueType::Value, &[json!("<p>x</p>")]);
        check_err(
            "string",
            IssueType::Structure,
            &[json!(1), json!(true), json!({})],
        );
    }

    #[test]
    fn numeric_types() {
        check_ok(
            "integer",
            &[num("0"), num("-2147483648"), num("2147483647")],
        );
        check_err(
            "integer",
            IssueType::Value,
            &[num("2147483648"), num("1.0"), num("1e3")],
        );
        check_err("integer", IssueType::Structure, &[json!("1")]);
        check_ok("positiveInt", &[num("1")]);
        check_err("positiveInt", IssueType::Value, &[num("0"), num("-1")]);
        check_ok("unsignedInt", &[num("0")]);
        check_err("unsignedInt", IssueType::Value, &[num("-1")]);
        check_ok(
            "decimal",
            &[
                num("1.50"),
                num("-0.0"),
                num("1e-3"),
                num("12345678901234567890.123"),
            ],
        );
        check_err("decimal", IssueType::Structure, &[json!("1.5")]);
        check_ok("boolean", &[json!(true)]);
        check_err("boolean", IssueType::Structure, &[json!("true")]);
    }
}
