//! HTTP header values of the FHIR RESTful API: weak ETags (`W/"3"`), HTTP dates (RFC 7231
//! IMF-fixdate) for `Last-Modified`/`If-Modified-Since`, and the `Prefer` header.

use crate::request::{Prefer, ReturnPreference};
use chrono::{DateTime, NaiveDateTime, Utc};

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version_id: u64) -> String {
    format!("W/\"{version_id}\"")
}

/// The version id named by an `If-Match`/`If-None-Match` value or a Bundle `request.ifMatch`.
/// Accepts `W/"3"`, `"3"` and `3`; returns `None` for anything else (including `*`).
pub fn parse_etag(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v);
    v.parse().ok()
}

/// An RFC 7231 HTTP date: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: &DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Parses an HTTP date (IMF-fixdate; RFC 850 and asctime forms are obsolete but accepted by
/// RFC 7231, so they are accepted here too). Also accepts an RFC 3339 instant, which some
/// FHIR clients send.
pub fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    for fmt in [
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(n.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Parses a `Prefer` header value (`return=minimal, handling=lenient, respond-async`).
/// Unknown preferences are ignored, as RFC 7240 requires.
pub fn parse_prefer(value: &str) -> Prefer {
    let mut prefer = Prefer::default();
    for token in value.split([',', ';']) {
        let token = token.trim();
        let (name, val) = match token.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim().trim_matches('"')),
            None => (token, ""),
        };
        match (name.to_ascii_lowercase().as_str(), val) {
            ("return", "minimal") => prefer.return_pref = ReturnPreference::Minimal,
            ("return", "representation") => prefer.return_pref = ReturnPreference::Representation,
            ("return", "OperationOutcome") => {
                prefer.return_pref = ReturnPreference::OperationOutcome
            }
            ("handling", "lenient") => prefer.lenient = true,
            ("handling", "strict") => prefer.lenient = false,
            ("respond-async", _) => prefer.respond_async = true,
            _ => {}
        }
    }
    prefer
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn check_etag(input: &str, expected: Option<u64>) {
        assert_eq!(parse_etag(input), expected, "{input}");
    }

    #[test]
    fn etags() {
        assert_eq!(etag(3), "W/\"3\"");
        check_etag("W/\"3\"", Some(3));
        check_etag("\"12\"", Some(12));
        check_etag("7", Some(7));
        check_etag("*", None);
        check_etag("W/\"abc\"", None);
    }

    #[test]
    fn http_dates_round_trip() {
        let t = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap();
        assert_eq!(http_date(&t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(parse_http_date("1994-11-06T08:49:37Z"), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    fn check_prefer(input: &str, ret: ReturnPreference, lenient: bool) {
        let p = parse_prefer(input);
        assert_eq!((p.return_pref, p.lenient), (ret, lenient), "{input}");
    }

    #[test]
    fn prefer() {
        check_prefer("return=minimal", ReturnPreference::Minimal, false);
        check_prefer(
            "return=OperationOutcome; handling=lenient",
            ReturnPreference::OperationOutcome,
            true,
        );
        check_prefer("handling=strict", ReturnPreference::Representation, false);
        check_prefer("wait=10", ReturnPreference::Representation, false);
        assert!(parse_prefer("respond-async").respond_async);
    }
}
