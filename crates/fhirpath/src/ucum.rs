//! A small UCUM subset: simple units with metric prefixes, so `4 'mg' = 0.004 'g'` and calendar
//! duration keywords compare with their UCUM definite-duration counterparts.

use rust_decimal::Decimal;

/// Base atoms: (code, dimension, factor to the dimension's base as a decimal string).
const ATOMS: [(&str, &str, &str); 21] = [
    ("g", "g", "1"),
    ("m", "m", "1"),
    ("L", "m3", "0.001"),
    ("l", "m3", "0.001"),
    ("s", "s", "1"),
    ("min", "s", "60"),
    ("h", "s", "3600"),
    ("d", "s", "86400"),
    ("wk", "s", "604800"),
    ("mo", "mo", "1"),
    ("a", "a", "1"),
    ("mol", "mol", "1"),
    ("[in_i]", "m", "0.0254"),
    ("[ft_i]", "m", "0.3048"),
    ("[lb_av]", "g", "453.59237"),
    ("[oz_av]", "g", "28.349523125"),
    ("1", "1", "1"),
    ("%", "1", "0.01"),
    ("eq", "eq", "1"),
    ("U", "U", "1"),
    ("[iU]", "[iU]", "1"),
];

const PREFIXES: [(&str, &str); 9] = [
    ("k", "1000"),
    ("h", "100"),
    ("da", "10"),
    ("d", "0.1"),
    ("c", "0.01"),
    ("m", "0.001"),
    ("u", "0.000001"),
    ("n", "0.000000001"),
    ("p", "0.000000000001"),
];

fn dec(s: &str) -> Decimal {
    crate::value::parse_decimal(s).unwrap_or(Decimal::ONE)
}

/// Maps a calendar keyword to the UCUM unit it equals for comparison. `year` and `month` only
/// equal themselves (they are not definite durations).
pub fn calendar_to_ucum(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" => "wk",
        "day" | "days" => "d",
        "hour" | "hours" => "h",
        "minute" | "minutes" => "min",
        "second" | "seconds" => "s",
        "millisecond" | "milliseconds" => "ms",
        _ => return None,
    })
}

/// The dimension and the factor to its base unit, for a simple unit.
pub fn canonical(unit: &str) -> Option<(String, Decimal)> {
    for (suffix, power) in [("2", 2), ("3", 3)] {
        if let Some(base) = unit.strip_suffix(suffix).filter(|b| !b.is_empty()) {
            let (dim, f) = simple(base)?;
            let factor = if power == 2 { f * f } else { f * f * f };
            return Some((format!("{dim}{power}"), factor));
        }
    }
    simple(unit).map(|(d, f)| (d.to_string(), f))
}

fn simple(unit: &str) -> Option<(&'static str, Decimal)> {
    let unit = calendar_to_ucum(unit).unwrap_or(unit);
    if let Some(&(_, dim, f)) = ATOMS.iter().find(|(c, _, _)| *c == unit) {
        return Some((dim, dec(f)));
    }
    for (p, pf) in PREFIXES {
        if let Some(rest) = unit.strip_prefix(p) {
            if let Some(&(_, dim, f)) = ATOMS.iter().find(|(c, _, _)| {
                *c == rest && !matches!(*c, "1" | "%" | "mo" | "a" | "wk" | "d" | "h" | "min")
            }) {
                return Some((dim, dec(f) * dec(pf)));
            }
        }
    }
    None
}

/// Converts `value unit` into `target` units when both are simple and of the same dimension.
pub fn convert(value: Decimal, unit: &str, target: &str) -> Option<Decimal> {
    if unit == target {
        return Some(value);
    }
    let (d1, f1) = canonical(unit)?;
    let (d2, f2) = canonical(target)?;
    if d1 != d2 {
        return None;
    }
    value.checked_mul(f1)?.checked_div(f2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &str, unit: &str, target: &str, expected: Option<&str>) {
        let got = convert(dec(v), unit, target).map(|d| d.normalize().to_string());
        assert_eq!(got.as_deref(), expected, "{v} {unit} -> {target}");
    }

    #[test]
    fn conversions() {
        check("4", "mg", "g", Some("0.004"));
        check("1", "week", "d", Some("7"));
        check("1", "m", "cm", Some("100"));
        check("1", "mg", "m", None);
        check("1", "year", "a", None);
    }
}
