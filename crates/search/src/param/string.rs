//! `string` parameters: every string part (HumanName family/given/prefix/suffix/text, Address
//! line/city/district/state/postalCode/country/text, string, markdown) indexed folded and as
//! written. Default search is a prefix match on the folded form.

use crate::normalize::normalize;

/// One indexed string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StringValue {
    /// [`normalize`]d form, for the default (prefix) and `:contains` searches.
    pub normalized: String,
    /// The value as written, for `:exact`.
    pub exact: String,
}

impl StringValue {
    pub fn new(exact: &str) -> StringValue {
        StringValue {
            normalized: normalize(exact),
            exact: exact.to_string(),
        }
    }
}

/// How a string search value matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMode {
    /// Default: the folded value starts with the folded search value.
    Prefix,
    /// `:exact`: equal, case- and accent-sensitive (but NFC-equal forms are equal).
    Exact,
    /// `:contains`: the folded value contains the folded search value.
    Contains,
}

/// A search value of a `string` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringPredicate {
    pub mode: StringMode,
    /// Folded for `Prefix`/`Contains`; NFC-normalised as written for `Exact`.
    pub value: String,
}

impl StringPredicate {
    pub fn new(mode: StringMode, raw: &str) -> StringPredicate {
        use unicode_normalization::UnicodeNormalization;
        let value = match mode {
            StringMode::Exact => raw.nfc().collect(),
            StringMode::Prefix | StringMode::Contains => normalize(raw),
        };
        StringPredicate { mode, value }
    }

    pub fn matches(&self, target: &StringValue) -> bool {
        use unicode_normalization::UnicodeNormalization;
        match self.mode {
            StringMode::Prefix => target.normalized.starts_with(&self.value),
            StringMode::Contains => target.normalized.contains(&self.value),
            StringMode::Exact => target.exact.nfc().eq(self.value.chars()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mode: StringMode, query: &str, target: &str, expected: bool) {
        let p = StringPredicate::new(mode, query);
        assert_eq!(
            p.matches(&StringValue::new(target)),
            expected,
            "{mode:?} {query:?} vs {target:?}"
        );
    }

    #[test]
    fn prefix_contains_exact() {
        use StringMode::*;
        check(Prefix, "mul", "Müller", true);
        check(Prefix, "Muller", "Mu\u{308}ller", true);
        check(Prefix, "MÜLL", "Muller", true);
        check(Prefix, "ller", "Müller", false);
        check(Contains, "ller", "Müller", true);
        check(Contains, "brück", "Saarbrücken", true);
        check(Prefix, "strasse", "Straße", true);
        check(Prefix, "oeuvre", "Œuvre", true);
        check(Exact, "Müller", "Müller", true);
        check(Exact, "Müller", "Mu\u{308}ller", true);
        check(Exact, "Muller", "Müller", false);
        check(Exact, "müller", "Müller", false);
        check(Prefix, "", "x", true);
    }
}
