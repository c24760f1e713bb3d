//! Search parameter types: one module per FHIR `SearchParamType`, each with its index value
//! (what [`crate::extract`] produces), its search predicate (what [`crate::SearchQuery::parse`]
//! produces) and the predicate's reference semantics (`matches`).

pub mod composite;
pub mod date;
pub mod number;
pub mod quantity;
pub mod reference;
pub mod string;
pub mod token;
pub mod uri;

/// A comparison prefix of `number`, `date` and `quantity` search values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Prefix {
    #[default]
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// Starts after.
    Sa,
    /// Ends before.
    Eb,
    /// Approximately (see `docs/design/search.md` for the tolerance).
    Ap,
}

impl Prefix {
    pub const ALL: [Prefix; 9] = [
        Prefix::Eq,
        Prefix::Ne,
        Prefix::Gt,
        Prefix::Lt,
        Prefix::Ge,
        Prefix::Le,
        Prefix::Sa,
        Prefix::Eb,
        Prefix::Ap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }

    /// Splits a leading two-letter prefix off a value (`ge2024` -> `(Ge, "2024")`). A value
    /// without a recognised prefix keeps its text and gets `Eq`.
    pub fn split(value: &str) -> (Prefix, &str) {
        if value.len() >= 2 && value.is_char_boundary(2) {
            let (head, rest) = value.split_at(2);
            if let Some(p) = Prefix::ALL.iter().find(|p| p.as_str() == head) {
                return (*p, rest);
            }
        }
        (Prefix::Eq, value)
    }

    /// The spec's range comparison of a target range `[tl, th]` (from the resource) against a
    /// search range `[sl, sh]`, both inclusive. `Ap` is evaluated as an overlap test; callers
    /// widen the search range by their tolerance first.
    pub fn compare_ranges<T: PartialOrd>(self, tl: T, th: T, sl: T, sh: T) -> bool {
        let contains = sl <= tl && th <= sh;
        match self {
            Prefix::Eq => contains,
            Prefix::Ne => !contains,
            Prefix::Gt => th > sh,
            Prefix::Lt => tl < sl,
            Prefix::Ge => th > sh || contains,
            Prefix::Le => tl < sl || contains,
            Prefix::Sa => tl > sh,
            Prefix::Eb => th < sl,
            Prefix::Ap => tl <= sh && th >= sl,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Prefix;

    fn check(input: &str, expected: (Prefix, &str)) {
        assert_eq!(Prefix::split(input), expected, "{input}");
    }

    #[test]
    fn splits_prefixes() {
        check("ge2024", (Prefix::Ge, "2024"));
        check("2024", (Prefix::Eq, "2024"));
        check("ap5.4", (Prefix::Ap, "5.4"));
        check("x", (Prefix::Eq, "x"));
        check("é1", (Prefix::Eq, "é1"));
        check("eq", (Prefix::Eq, ""));
    }

    #[test]
    fn compares_ranges() {
        // target [10,20], search [0,30]
        assert!(Prefix::Eq.compare_ranges(10, 20, 0, 30));
        assert!(!Prefix::Eq.compare_ranges(10, 40, 0, 30));
        assert!(Prefix::Gt.compare_ranges(10, 40, 0, 30));
        assert!(!Prefix::Gt.compare_ranges(10, 20, 0, 30));
        assert!(Prefix::Lt.compare_ranges(-5, 20, 0, 30));
        assert!(Prefix::Sa.compare_ranges(31, 40, 0, 30));
        assert!(!Prefix::Sa.compare_ranges(30, 40, 0, 30));
        assert!(Prefix::Eb.compare_ranges(-9, -1, 0, 30));
        assert!(Prefix::Ap.compare_ranges(25, 35, 0, 30));
        assert!(Prefix::Ne.compare_ranges(25, 35, 0, 30));
        assert!(Prefix::Ge.compare_ranges(10, 20, 0, 30));
        assert!(Prefix::Le.compare_ranges(10, 20, 0, 30));
    }
}
