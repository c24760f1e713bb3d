//! Page sizes and the `self`/`first`/`previous`/`next`/`last` links of searchset and history
//! Bundles. Paging is by offset: `_count` is the page size and `_offset` the number of entries
//! skipped; each link repeats the applied parameters.

use crate::error::FhirError;
use crate::RestConfig;
use crosscare_search::percent_encode;
use serde_json::{json, Value};

/// The page size for `_count` (default when absent, capped at the maximum). `_count=0` is
/// allowed and asks for the total only.
pub fn page_size(config: &RestConfig, count: Option<&str>) -> Result<usize, FhirError> {
    match count {
        None => Ok(config.default_page_size),
        Some(c) => c
            .parse::<usize>()
            .map(|n| n.min(config.max_page_size))
            .map_err(|_| {
                FhirError::bad_request(format!("_count '{c}' is not a number")).at("_count")
            }),
    }
}

/// `_offset`, 0 when absent.
pub fn offset(value: Option<&str>) -> Result<usize, FhirError> {
    match value {
        None => Ok(0),
        Some(o) => o.parse().map_err(|_| {
            FhirError::bad_request(format!("_offset '{o}' is not a number")).at("_offset")
        }),
    }
}

/// The Bundle links for one page. `url` is the absolute URL of the interaction without a
/// query; `params` are the applied parameters other than `_count` and `_offset`.
pub fn links(
    url: &str,
    params: &[(String, String)],
    offset: usize,
    count: usize,
    total: Option<u64>,
    returned: usize,
) -> Vec<Value> {
    let link = |relation: &str, off: usize| {
        let mut q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        q.push(format!("_count={count}"));
        if off > 0 {
            q.push(format!("_offset={off}"));
        }
        json!({ "relation": relation, "url": format!("{url}?{}", q.join("&")) })
    };
    let mut out = vec![link("self", offset), link("first", 0)];
    if count > 0 && offset > 0 {
        out.push(link("previous", offset.saturating_sub(count)));
    }
    let more = match total {
        Some(t) => (offset + returned) < t as usize,
        None => returned >= count && count > 0,
    };
    if count > 0 && more {
        out.push(link("next", offset + count));
    }
    if let (Some(t), true) = (total, count > 0) {
        let t = t as usize;
        let last = if t == 0 { 0 } else { ((t - 1) / count) * count };
        out.push(link("last", last));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relations(links: &[Value]) -> Vec<(String, String)> {
        links
            .iter()
            .map(|l| {
                (
                    l["relation"].as_str().unwrap().to_string(),
                    l["url"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn middle_page() {
        let params = vec![("name".to_string(), "a b".to_string())];
        let got = relations(&links("http://x/Patient", &params, 10, 10, Some(25), 10));
        let u = |s: &str| format!("http://x/Patient?name=a%20b&_count=10{s}");
        assert_eq!(
            got,
            vec![
                ("self".into(), u("&_offset=10")),
                ("first".into(), u("")),
                ("previous".into(), u("")),
                ("next".into(), u("&_offset=20")),
                ("last".into(), u("&_offset=20")),
            ]
        );
    }

    #[test]
    fn last_page_has_no_next() {
        let got = relations(&links("http://x/_history", &[], 20, 10, Some(25), 5));
        assert!(got.iter().all(|(r, _)| r != "next"));
    }

    #[test]
    fn page_sizes() {
        let c = RestConfig::default();
        assert_eq!(page_size(&c, None).unwrap(), c.default_page_size);
        assert_eq!(page_size(&c, Some("100000")).unwrap(), c.max_page_size);
        assert_eq!(page_size(&c, Some("x")).unwrap_err().status, 400);
    }
}
