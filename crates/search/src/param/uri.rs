//! `uri` parameters: uri, url, canonical and oid values, matched exactly or with `:below`
//! (the value is under the search URL) and `:above` (the search URL is under the value).

/// How a uri search value matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    Exact,
    /// `:below`: the indexed uri starts with the search value (path-segment aware).
    Below,
    /// `:above`: the search value starts with the indexed uri.
    Above,
}

/// A search value of a `uri` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriPredicate {
    pub mode: UriMode,
    pub value: String,
}

/// True when `inner` equals `outer` or lies under it at a path boundary
/// (`http://a/b/c` is under `http://a/b`; `http://a/bc` is not).
pub fn is_under(inner: &str, outer: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with(['/', '|', '#', '?']))
}

impl UriPredicate {
    pub fn matches(&self, target: &str) -> bool {
        match self.mode {
            UriMode::Exact => target == self.value,
            UriMode::Below => is_under(target, &self.value),
            UriMode::Above => is_under(&self.value, target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mode: UriMode, query: &str, target: &str, expected: bool) {
        let p = UriPredicate {
            mode,
            value: query.to_string(),
        };
        assert_eq!(p.matches(target), expected, "{mode:?} {query} vs {target}");
    }

    #[test]
    fn modes() {
        let url = "http://acme.org/fhir/ValueSet/123";
        check(UriMode::Exact, url, url, true);
        check(UriMode::Exact, "http://acme.org/fhir", url, false);
        check(UriMode::Below, "http://acme.org/fhir", url, true);
        check(UriMode::Below, "http://acme.org/fhir/", url, true);
        check(UriMode::Below, "http://acme.org/fh", url, false);
        check(
            UriMode::Above,
            "http://acme.org/fhir/ValueSet/123/_history/5",
            url,
            true,
        );
        check(
            UriMode::Above,
            "http://acme.org/fhir/ValueSet/1234",
            url,
            false,
        );
    }
}
