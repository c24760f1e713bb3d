//! Fuzz target: arbitrary bytes as a search query string must never panic the parser, and an
//! accepted query must survive `to_query_string` -> parse unchanged.
#![no_main]

use crosscare_search::{parse_query_string, SearchQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = parse_query_string(text);
    for rt in [Some("Observation"), Some("Patient"), None] {
        for lenient in [false, true] {
            if let Ok(q) = SearchQuery::parse(rt, &pairs, lenient) {
                let again = SearchQuery::parse(rt, &parse_query_string(&q.to_query_string()), false);
                assert_eq!(again.as_ref(), Ok(&SearchQuery { ignored: Vec::new(), ..q.clone() }));
            }
        }
    }
});
