//! `number` parameters (integers and decimals): a value with the implicit range its precision
//! gives, as the spec defines it (`100` is `[99.5, 100.5)`, `1.50` is `[1.495, 1.505)`, and `1e2`, one significant digit,
//! is `[50, 150)`; the spec's own example says `[95, 105)`, which does not follow its rule).

use super::Prefix;

/// A number and its implicit precision range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberValue {
    pub value: f64,
    /// `value` minus half a unit in the last significant digit.
    pub low: f64,
    /// `value` plus half a unit in the last significant digit (exclusive).
    pub high: f64,
}

/// Why a number cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a number: {0}")]
pub struct NumberError(pub String);

impl NumberValue {
    /// Reads a decimal as written (`-1.50`, `1e2`, `100`); the precision comes from the text.
    pub fn parse(text: &str) -> Result<NumberValue, NumberError> {
        let err = || NumberError(text.to_string());
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().map_err(|_| err())?),
            None => (text, 0),
        };
        let unsigned = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !all_digits(int) || !all_digits(frac) || unsigned.ends_with('.') {
            return Err(err());
        }
        let value: f64 = text.parse().map_err(|_| err())?;
        if !value.is_finite() {
            return Err(err());
        }
        let decimals = frac.len() as i32 - exponent;
        let half = 0.5 * 10f64.powi(-decimals);
        Ok(NumberValue {
            value,
            low: value - half,
            high: value + half,
        })
    }

    /// An exact value (no implicit range), for values computed rather than written.
    pub fn exact(value: f64) -> NumberValue {
        NumberValue {
            value,
            low: value,
            high: value,
        }
    }
}

/// A search value of a `number` parameter (`gt5.4`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberPredicate {
    pub prefix: Prefix,
    pub number: NumberValue,
}

impl NumberPredicate {
    pub fn parse(value: &str) -> Result<NumberPredicate, NumberError> {
        let (prefix, rest) = Prefix::split(value);
        Ok(NumberPredicate {
            prefix,
            number: NumberValue::parse(rest)?,
        })
    }

    /// Reference semantics: `eq`/`ne` test the target value against the search value's
    /// implicit range `[low, high)`; `gt lt ge le sa eb` compare with the search value itself;
    /// `ap` accepts values within 10% of the search value (and at least its implicit range).
    pub fn matches(&self, target: &NumberValue) -> bool {
        let t = target.value;
        let s = &self.number;
        let in_range = s.low <= t && t < s.high;
        match self.prefix {
            Prefix::Eq => in_range,
            Prefix::Ne => !in_range,
            Prefix::Gt | Prefix::Sa => t > s.value,
            Prefix::Lt | Prefix::Eb => t < s.value,
            Prefix::Ge => t >= s.value,
            Prefix::Le => t <= s.value,
            Prefix::Ap => {
                let tol = (s.value.abs() * 0.1).max((s.high - s.low) / 2.0);
                (t - s.value).abs() <= tol
            }
        }
    }
}

/// A `Range` value of a resource, for `number` and `quantity` parameters: the range is
/// indexed as a number whose implicit range is the Range itself.
pub fn range_value(low: Option<f64>, high: Option<f64>) -> Option<NumberValue> {
    match (low, high) {
        (None, None) => None,
        (l, h) => {
            let low = l.unwrap_or(f64::NEG_INFINITY);
            let high = h.unwrap_or(f64::INFINITY);
            let value = match (l, h) {
                (Some(l), Some(h)) => (l + h) / 2.0,
                (Some(l), None) => l,
                (None, Some(h)) => h,
                (None, None) => 0.0,
            };
            Some(NumberValue { value, low, high })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(f64, f64, f64)>) {
        let got = NumberValue::parse(input)
            .ok()
            .map(|n| (n.value, n.low, n.high));
        match (got, expected) {
            (Some(g), Some(e)) => {
                for (a, b) in [(g.0, e.0), (g.1, e.1), (g.2, e.2)] {
                    assert!((a - b).abs() < 1e-9, "{input}: {g:?} vs {e:?}");
                }
            }
            (g, e) => assert_eq!(g, e, "{input}"),
        }
    }

    #[test]
    fn implicit_precision() {
        check("100", Some((100.0, 99.5, 100.5)));
        check("1.50", Some((1.5, 1.495, 1.505)));
        check("1e2", Some((100.0, 50.0, 150.0)));
        check("1.0e2", Some((100.0, 95.0, 105.0)));
        check("-3", Some((-3.0, -3.5, -2.5)));
        check("0.001", Some((0.001, 0.0005, 0.0015)));
        for bad in [
            "", "abc", "1.", ".5", "1,5", "--1", "1e", "NaN", "inf", "1e999",
        ] {
            check(bad, None);
        }
    }

    fn matches(query: &str, target: &str) -> bool {
        NumberPredicate::parse(query)
            .unwrap()
            .matches(&NumberValue::parse(target).unwrap())
    }

    #[test]
    fn prefixes() {
        assert!(matches("100", "100.2"));
        assert!(!matches("100.0", "100.2"));
        assert!(matches("ne100.0", "100.2"));
        assert!(matches("gt100", "100.2"));
        assert!(!matches("lt100", "100"));
        assert!(matches("le100", "100"));
        assert!(matches("ge100", "100"));
        assert!(matches("ap100", "109"));
        assert!(!matches("ap100", "111"));
    }
}
