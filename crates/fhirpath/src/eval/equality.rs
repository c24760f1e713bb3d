//! Equality (`=`), equivalence (`~`) and ordering of items, including quantities and
//! partial-precision dates.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::ucum;
use crate::value::{Item, Prim, Quantity};
use crate::EvalError;

fn decimal_of(p: &Prim<'_>) -> Option<Decimal> {
    match p {
        Prim::Integer(i) => Some(Decimal::from(*i)),
        Prim::Decimal(d) => Some(*d),
        _ => None,
    }
}

/// Converts `b` into `a`'s unit when the units are comparable.
pub(crate) fn quantity_pair(a: &Quantity, b: &Quantity) -> Option<(Decimal, Decimal)> {
    if a.unit == b.unit {
        return Some((a.value, b.value));
    }
    let cal = |u: &str| ucum::calendar_to_ucum(u).unwrap_or(u).to_string();
    let (ua, ub) = (cal(&a.unit), cal(&b.unit));
    if ua == ub {
        return Some((a.value, b.value));
    }
    Some((a.value, ucum::convert(b.value, &ub, &ua)?))
}

/// `a = b` for single items; `None` when the result is empty (uncertain precision).
pub(crate) fn equals(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    let (pa, pb) = (a.prim(), b.prim());
    match (&pa, &pb) {
        (Prim::Complex, Prim::Complex) => Some(json_eq(a.json(), b.json())),
        (Prim::Complex, _) | (_, Prim::Complex) => Some(false),
        (Prim::Boolean(x), Prim::Boolean(y)) => Some(x == y),
        (Prim::String(x), Prim::String(y)) => Some(x == y),
        (Prim::Integer(x), Prim::Integer(y)) => Some(x == y),
        (Prim::Integer(_) | Prim::Decimal(_), Prim::Integer(_) | Prim::Decimal(_)) => {
            Some(decimal_of(&pa) == decimal_of(&pb))
        }
        (Prim::Date(x) | Prim::DateTime(x), Prim::Date(y) | Prim::DateTime(y)) => {
            if x.tz.is_some() != y.tz.is_some()
                && x.precision >= crate::temporal::Precision::Hour
                && y.precision >= crate::temporal::Precision::Hour
            {
                // One side has an offset and the other does not: the instants are unknown.
                return None;
            }
            x.compare(y, false).map(|o| o == Ordering::Equal)
        }
        (Prim::Time(x), Prim::Time(y)) => x.compare(y, true).map(|o| o == Ordering::Equal),
        (Prim::Quantity(x), Prim::Quantity(y)) => {
            if is_calendar_vs_ucum(&x.unit, &y.unit) {
                return None;
            }
            quantity_pair(x, y).map(|(p, q)| p == q)
        }
        _ => Some(false),
    }
}

/// `year`/`month` calendar durations never equal the UCUM `a`/`mo` definite durations.
fn is_calendar_vs_ucum(a: &str, b: &str) -> bool {
    let big = |u: &str| matches!(u, "year" | "years" | "month" | "months");
    (big(a) && !big(b))
        || (big(b) && !big(a)) && (ucum::canonical(a).is_some() || ucum::canonical(b).is_some())
}

fn json_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => json_value_eq(x, y),
        _ => false,
    }
}

fn json_value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (sx, sy) = (x.to_string(), y.to_string());
            sx == sy
                || matches!((crate::value::parse_decimal(&sx), crate::value::parse_decimal(&sy)), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_value_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_value_eq(v, w)))
        }
        _ => a == b,
    }
}

fn normalise_ws(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `a ~ b` for single items.
pub(crate) fn equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    let (pa, pb) = (a.prim(), b.prim());
    match (&pa, &pb) {
        (Prim::Complex, Prim::Complex) => json_eq(a.json(), b.json()),
        (Prim::String(x), Prim::String(y)) => normalise_ws(x) == normalise_ws(y),
        (Prim::Integer(_) | Prim::Decimal(_), Prim::Integer(_) | Prim::Decimal(_)) => {
            match (decimal_of(&pa), decimal_of(&pb)) {
                (Some(x), Some(y)) => {
                    let scale = x.scale().min(y.scale());
                    x.round_dp(scale) == y.round_dp(scale)
                }
                _ => false,
            }
        }
        (Prim::Date(x) | Prim::DateTime(x), Prim::Date(y) | Prim::DateTime(y)) => {
            x.equivalent(y, false)
        }
        (Prim::Time(x), Prim::Time(y)) => x.equivalent(y, true),
        (Prim::Quantity(x), Prim::Quantity(y)) => {
            if is_calendar_vs_ucum(&x.unit, &y.unit) {
                let strip = |u: &str| match u {
                    "year" | "years" => "a".to_string(),
                    "month" | "months" => "mo".to_string(),
                    other => other.to_string(),
                };
                return x.value == y.value && strip(&x.unit) == strip(&y.unit);
            }
            match quantity_pair(x, y) {
                Some((p, q)) => {
                    let scale = p.scale().min(q.scale());
                    p.round_dp(scale) == q.round_dp(scale)
                }
                None => false,
            }
        }
        _ => equals(a, b) == Some(true),
    }
}

/// Ordering for `<`, `>`, `<=`, `>=`: `Ok(None)` means an empty result; mismatched types are
/// an error.
pub(crate) fn compare(a: &Item<'_>, b: &Item<'_>) -> Result<Option<Ordering>, EvalError> {
    let (pa, pb) = (a.prim(), b.prim());
    Ok(match (&pa, &pb) {
        (Prim::String(x), Prim::String(y)) => Some(x.cmp(y)),
        (Prim::Integer(x), Prim::Integer(y)) => Some(x.cmp(y)),
        (Prim::Integer(_) | Prim::Decimal(_), Prim::Integer(_) | Prim::Decimal(_)) => {
            decimal_of(&pa).zip(decimal_of(&pb)).map(|(x, y)| x.cmp(&y))
        }
        (Prim::Date(x) | Prim::DateTime(x), Prim::Date(y) | Prim::DateTime(y)) => {
            x.compare(y, false)
        }
        (Prim::Time(x), Prim::Time(y)) => x.compare(y, true),
        (Prim::Quantity(x), Prim::Quantity(y)) => quantity_pair(x, y).map(|(p, q)| p.cmp(&q)),
        _ => {
            return Err(EvalError::Type(format!(
                "cannot compare {} with {}",
                pa.system_name(),
                pb.system_name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(v: &str, u: &str) -> Item<'static> {
        Item::Quantity(Quantity {
            value: crate::value::parse_decimal(v).unwrap(),
            unit: u.into(),
        })
    }

    fn check(a: Item<'_>, b: Item<'_>, eq: Option<bool>, equiv: bool) {
        assert_eq!(equals(&a, &b), eq, "{a:?} = {b:?}");
        assert_eq!(equivalent(&a, &b), equiv, "{a:?} ~ {b:?}");
    }

    #[test]
    fn quantities() {
        check(q("4", "mg"), q("0.004", "g"), Some(true), true);
        check(q("1", "week"), q("7", "d"), Some(true), true);
        check(q("1", "year"), q("1", "a"), None, true);
        check(
            Item::Integer(1),
            Item::Decimal(Decimal::ONE),
            Some(true),
            true,
        );
        check(
            Item::String("a  B".into()),
            Item::String("A b".into()),
            Some(false),
            true,
        );
    }
}
