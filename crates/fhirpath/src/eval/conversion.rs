//! Conversion functions: `iif`, `toBoolean`…`toQuantity` and their `convertsTo*` forms.

use rust_decimal::Decimal;

use super::{boolean, singleton, to_bool, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::temporal::{Precision, Temporal};
use crate::ucum;
use crate::value::{parse_decimal, Item, Prim, Quantity};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn conversion(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        use Func::*;
        if func == Iif {
            if focus.len() > 1 {
                return Err(EvalError::NotSingleton(focus.len()));
            }
            let frame = Frame {
                this: &focus,
                index: f.index,
                total: f.total,
            };
            let crit = self.eval(&args[0], &frame)?;
            if crit.len() == 1 && crit[0].as_bool().is_none() {
                return Err(EvalError::Type("iif() criterion must be a Boolean".into()));
            }
            return match to_bool(&crit)? {
                Some(true) => self.eval(&args[1], &frame),
                _ => match args.get(2) {
                    Some(e) => self.eval(e, &frame),
                    None => Ok(Vec::new()),
                },
            };
        }
        let Some(item) = singleton(focus)? else {
            return Ok(Vec::new());
        };
        let unit = match args.first() {
            Some(e) => self.string_arg(e, f)?,
            None => None,
        };
        let converted = match func {
            ToBoolean | ConvertsToBoolean => to_boolean(&item).map(Item::Boolean),
            ToInteger | ConvertsToInteger => to_integer(&item).map(Item::Integer),
            ToDecimal | ConvertsToDecimal => to_decimal(&item).map(Item::Decimal),
            ToStringFn | ConvertsToString => to_string(&item).map(Item::String),
            ToDate | ConvertsToDate => to_date(&item).map(Item::Date),
            ToDateTime | ConvertsToDateTime => to_date_time(&item).map(Item::DateTime),
            ToTime | ConvertsToTime => to_time(&item).map(Item::Time),
            _ => to_quantity(&item, unit.as_deref()).map(Item::Quantity),
        };
        let converts = matches!(
            func,
            ConvertsToBoolean
                | ConvertsToInteger
                | ConvertsToDecimal
                | ConvertsToString
                | ConvertsToDate
                | ConvertsToDateTime
                | ConvertsToTime
                | ConvertsToQuantity
        );
        Ok(if converts {
            boolean(converted.is_some())
        } else {
            converted.into_iter().collect()
        })
    }
}

pub(crate) fn to_boolean(item: &Item<'_>) -> Option<bool> {
    match item.prim() {
        Prim::Boolean(b) => Some(b),
        Prim::Integer(1) => Some(true),
        Prim::Integer(0) => Some(false),
        Prim::Decimal(d) if d == Decimal::ONE => Some(true),
        Prim::Decimal(d) if d.is_zero() => Some(false),
        Prim::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_integer_text(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal_text(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    match body.split_once('.') {
        Some((i, f)) => {
            is_integer_text(i) && !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit())
        }
        None => is_integer_text(body),
    }
}

pub(crate) fn to_integer(item: &Item<'_>) -> Option<i64> {
    match item.prim() {
        Prim::Integer(i) => Some(i),
        Prim::Boolean(b) => Some(i64::from(b)),
        Prim::String(s) if is_integer_text(s) => s.parse().ok(),
        _ => None,
    }
}

pub(crate) fn to_decimal(item: &Item<'_>) -> Option<Decimal> {
    match item.prim() {
        Prim::Integer(i) => Some(Decimal::from(i)),
        Prim::Decimal(d) => Some(d),
        Prim::Boolean(b) => Some(if b { Decimal::ONE } else { Decimal::ZERO }),
        Prim::String(s) if is_decimal_text(s) => parse_decimal(s),
        _ => None,
    }
}

pub(crate) fn quantity_text(q: &Quantity) -> String {
    if ucum::calendar_to_ucum(&q.unit).is_some() {
        format!("{} {}", q.value, q.unit)
    } else {
        format!("{} '{}'", q.value, q.unit)
    }
}

pub(crate) fn to_string(item: &Item<'_>) -> Option<String> {
    Some(match item.prim() {
        Prim::String(s) => s.to_string(),
        Prim::Boolean(b) => b.to_string(),
        Prim::Integer(i) => i.to_string(),
        Prim::Decimal(d) => d.to_string(),
        Prim::Date(t) | Prim::DateTime(t) => match item {
            Item::Node(_) => item.json()?.as_str()?.to_string(),
            _ => t.format_date_time(false),
        },
        Prim::Time(t) => t.format_time(),
        Prim::Quantity(q) => quantity_text(&q),
        Prim::Complex => return None,
    })
}

pub(crate) fn to_date(item: &Item<'_>) -> Option<Temporal> {
    match item.prim() {
        Prim::Date(t) => Some(t),
        Prim::DateTime(t) => {
            let mut d = t;
            d.precision = d.precision.min(Precision::Day);
            d.tz = None;
            Some(d)
        }
        Prim::String(s) => Temporal::parse_date_time(s, false),
        _ => None,
    }
}

pub(crate) fn to_date_time(item: &Item<'_>) -> Option<Temporal> {
    match item.prim() {
        Prim::Date(t) | Prim::DateTime(t) => Some(t),
        Prim::String(s) => Temporal::parse_date_time(s, true),
        _ => None,
    }
}

pub(crate) fn to_time(item: &Item<'_>) -> Option<Temporal> {
    match item.prim() {
        Prim::Time(t) => Some(t),
        Prim::String(s) => Temporal::parse_time(s),
        _ => None,
    }
}

pub(crate) fn to_quantity(item: &Item<'_>, unit: Option<&str>) -> Option<Quantity> {
    let q = match item.prim() {
        Prim::Integer(i) => Quantity {
            value: Decimal::from(i),
            unit: "1".into(),
        },
        Prim::Decimal(d) => Quantity {
            value: d,
            unit: "1".into(),
        },
        Prim::Boolean(b) => Quantity {
            value: if b { Decimal::ONE } else { Decimal::ZERO },
            unit: "1".into(),
        },
        Prim::Quantity(q) => q.into_owned(),
        Prim::String(s) => parse_quantity_text(s)?,
        _ => return None,
    };
    match unit {
        None => Some(q),
        Some(u) => Some(Quantity {
            value: ucum::convert(q.value, &q.unit, u)?,
            unit: u.to_string(),
        }),
    }
}

/// Parses `"5.5 'mg'"`, `"4 days"` or `"1"` into a quantity.
fn parse_quantity_text(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let (num, rest) = match s.find(|c: char| c.is_whitespace() || c == '\'') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    if !is_decimal_text(num) {
        return None;
    }
    let value = parse_decimal(num)?;
    let unit = if rest.is_empty() {
        "1".to_string()
    } else if let Some(u) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        u.to_string()
    } else if ucum::calendar_to_ucum(rest).is_some() {
        rest.to_string()
    } else {
        return None;
    };
    Some(Quantity { value, unit })
}
