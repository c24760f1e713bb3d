//! Property tests: date parsing and precision, and parse -> to_query_string -> parse round trips.
#![allow(clippy::unwrap_used)]

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use crosscare_search::{parse_query_string, DateRange, SearchQuery};
use proptest::prelude::*;

fn two(n: u32) -> String {
    format!("{n:02}")
}

proptest! {
    /// A date/time at any precision parses to a range whose low bound is the written instant
    /// (shifted by the offset) and whose width is exactly the precision.
    #[test]
    fn date_precision(
        year in 1u32..=9998, month in 1u32..=12, day in 1u32..=28,
        hour in 0u32..24, minute in 0u32..60, second in 0u32..60, micros in 0u32..1_000_000,
        precision in 0usize..7, offset_min in -12i32*60..=14*60,
    ) {
        let date = format!("{year:04}-{}-{}", two(month), two(day));
        let offset = if offset_min == 0 { "Z".to_string() } else {
            let a = offset_min.unsigned_abs();
            format!("{}{}:{}", if offset_min < 0 { '-' } else { '+' }, two(a / 60), two(a % 60))
        };
        let text = match precision {
            0 => format!("{year:04}"),
            1 => format!("{year:04}-{}", two(month)),
            2 => date.clone(),
            3 => format!("{date}T{}:{}{offset}", two(hour), two(minute)),
            4 => format!("{date}T{}:{}:{}{offset}", two(hour), two(minute), two(second)),
            5 => format!("{date}T{}:{}:{}.{:03}{offset}", two(hour), two(minute), two(second), micros / 1000),
            _ => format!("{date}T{}:{}:{}.{:06}{offset}", two(hour), two(minute), two(second), micros),
        };
        let r = DateRange::parse(&text).unwrap();
        let (low, high) = (r.low.unwrap(), r.high.unwrap());
        prop_assert!(low <= high);
        let width = high - low + Duration::microseconds(1);
        let nd = NaiveDate::from_ymd_opt(year as i32, month, day).unwrap();
        let expected_width = match precision {
            0 => NaiveDate::from_ymd_opt(year as i32 + 1, 1, 1).unwrap() - NaiveDate::from_ymd_opt(year as i32, 1, 1).unwrap(),
            1 => nd.with_day(1).unwrap().checked_add_months(chrono::Months::new(1)).unwrap() - nd.with_day(1).unwrap(),
            2 => Duration::days(1),
            3 => Duration::minutes(1),
            4 => Duration::seconds(1),
            5 => Duration::milliseconds(1),
            _ => Duration::microseconds(1),
        };
        prop_assert_eq!(width, expected_width, "{}", text);
        if precision >= 3 {
            let local = low + Duration::minutes(i64::from(offset_min));
            prop_assert_eq!((local.hour(), local.minute()), (hour, minute), "{}", text);
        }
        // The low bound written at full precision parses back to a one-microsecond range.
        let again = DateRange::parse(&low.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()).unwrap();
        prop_assert_eq!(again.low, Some(low));
        prop_assert_eq!(again.high, Some(low));
    }

    /// Arbitrary text never panics the date parser.
    #[test]
    fn date_parse_never_panics(s in "\\PC{0,40}") {
        let _ = DateRange::parse(&s);
    }
}

/// `(name, value)` generators of valid parameters with arbitrary text in them.
fn pair() -> impl Strategy<Value = (String, String)> {
    let text = "[^\\\\,|$]{1,12}";
    prop_oneof![
        text.prop_map(|s| ("family".to_string(), s)),
        text.prop_map(|s| ("name:contains".to_string(), s)),
        text.prop_map(|s| ("given:exact".to_string(), s)),
        (text, text).prop_map(|(a, b)| ("identifier".to_string(), format!("{a}|{b}"))),
        "[a-z0-9]{1,8}".prop_map(|s| ("_id".to_string(), s)),
        (0u32..3000, 1u32..13)
            .prop_map(|(y, m)| ("birthdate".to_string(), format!("ge{:04}-{m:02}", y.max(1)))),
        "[a-zA-Z0-9.-]{1,10}".prop_map(|s| (
            "general-practitioner".to_string(),
            format!("Practitioner/{s}")
        )),
        Just(("_count".to_string(), "20".to_string())),
        Just(("_sort".to_string(), "-birthdate,family".to_string())),
        Just(("gender:missing".to_string(), "true".to_string())),
        Just(("organization.name".to_string(), "Acme & Söhne".to_string())),
        Just((
            "_has:Observation:patient:code".to_string(),
            "http://loinc.org|2339-0".to_string()
        )),
        Just(("identifier:not".to_string(), "urn:x|1,urn:x|2".to_string())),
        Just(("_include".to_string(), "Patient:organization".to_string())),
        (
            proptest::sample::select(vec![
                "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap", ""
            ]),
            1900u32..2100
        )
            .prop_map(|(p, y)| (
                "death-date".to_string(),
                format!("{p}{y}-01-01T10:00:00+01:00")
            )),
    ]
}

proptest! {
    #[test]
    fn query_string_round_trip(pairs in proptest::collection::vec(pair(), 0..6)) {
        let first = SearchQuery::parse(Some("Patient"), &pairs, false);
        prop_assume!(first.is_ok());
        let first = first.unwrap();
        let qs = first.to_query_string();
        let second = SearchQuery::parse(Some("Patient"), &parse_query_string(&qs), false).unwrap();
        prop_assert_eq!(&first, &second, "{}", qs);
        prop_assert_eq!(second.to_query_string(), qs);
    }

    /// Arbitrary query strings never panic the parser, strict or lenient.
    #[test]
    fn parser_never_panics(qs in "(\\PC|[=&:,|$%+.]|code|subject|_has|date|value-quantity){0,20}", lenient: bool) {
        let pairs = parse_query_string(&qs);
        for rt in [Some("Observation"), None] {
            if let Ok(q) = SearchQuery::parse(rt, &pairs, lenient) {
                let again = SearchQuery::parse(rt, &parse_query_string(&q.to_query_string()), false);
                prop_assert_eq!(again, Ok(SearchQuery { ignored: Vec::new(), ..q }));
            }
        }
    }
}
