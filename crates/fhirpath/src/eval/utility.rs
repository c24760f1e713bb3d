//! Utility functions: `trace`, `now`, `today`, `timeOfDay`, `type`, and the boundary and
//! precision functions (`lowBoundary`, `highBoundary`, `precision`, `comparable`).

use std::sync::Arc;

use rust_decimal::Decimal;

use super::equality::quantity_pair;
use super::{boolean, singleton, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::temporal::{Precision, Temporal};
use crate::value::{Item, JsonRef, Prim, Quantity};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn utility(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        match func {
            Func::Trace => {
                // Tracing has no sink in a library: the projection is still evaluated so that
                // errors surface, and the input passes through unchanged.
                if let Some(proj) = args.get(1) {
                    let frame = Frame {
                        this: &focus,
                        index: None,
                        total: f.total,
                    };
                    self.eval(proj, &frame)?;
                }
                Ok(focus)
            }
            Func::Now => Ok(vec![Item::DateTime(Temporal::now_utc())]),
            Func::Today => {
                let mut t = Temporal::now_utc();
                t.precision = Precision::Day;
                t.tz = None;
                Ok(vec![Item::Date(t)])
            }
            Func::TimeOfDay => Ok(vec![Item::Time(Temporal::now_utc())]),
            Func::Type => Ok(focus.iter().map(type_info).collect()),
            Func::Comparable => {
                let other = match args.first() {
                    Some(e) => self.arg(e, f)?,
                    None => None,
                };
                let (Some(a), Some(b)) = (singleton(focus)?, other) else {
                    return Ok(Vec::new());
                };
                match (a.prim(), b.prim()) {
                    (Prim::Quantity(x), Prim::Quantity(y)) => {
                        Ok(boolean(quantity_pair(&x, &y).is_some()))
                    }
                    _ => Err(EvalError::Type("comparable() needs quantities".into())),
                }
            }
            _ => {
                let Some(item) = singleton(focus)? else {
                    return Ok(Vec::new());
                };
                let digits = match args.first() {
                    Some(e) => match self.arg(e, f)? {
                        Some(v) => match v.prim() {
                            Prim::Integer(i) => Some(i),
                            _ => {
                                return Err(EvalError::Argument(
                                    "precision must be an integer".into(),
                                ))
                            }
                        },
                        None => None,
                    },
                    None => None,
                };
                Ok(boundary(func, &item, digits)?.into_iter().collect())
            }
        }
    }
}

fn type_info<'a>(item: &Item<'a>) -> Item<'a> {
    let name = item.type_name();
    let (ns, n) = name.split_once('.').unwrap_or(("System", name.as_str()));
    let v = serde_json::json!({"namespace": ns, "name": n});
    Item::node(JsonRef::Owned(Arc::new(v)), "", "")
}

fn decimal_boundary(d: Decimal, high: bool, digits: Option<i64>) -> Option<Decimal> {
    let target = digits.unwrap_or(8);
    if !(0..=28).contains(&target) {
        return None;
    }
    let half = Decimal::new(5, d.scale() + 1);
    let v = if high {
        d.checked_add(half)?
    } else {
        d.checked_sub(half)?
    };
    let strategy = match (high, v.is_sign_negative()) {
        (false, false) | (true, true) => rust_decimal::RoundingStrategy::ToZero,
        _ => rust_decimal::RoundingStrategy::AwayFromZero,
    };
    let mut r = v.round_dp_with_strategy(target as u32, strategy);
    r.rescale(target as u32);
    Some(r)
}

fn boundary(
    func: Func,
    item: &Item<'_>,
    digits: Option<i64>,
) -> Result<Option<Item<'static>>, EvalError> {
    let high = func == Func::HighBoundary;
    let p = item.prim();
    if func == Func::Precision {
        return Ok(Some(Item::Integer(match p {
            Prim::Decimal(d) => i64::from(d.scale()),
            Prim::Integer(_) => 0,
            Prim::Date(t) | Prim::DateTime(t) => t.digits(false),
            Prim::Time(t) => t.digits(true),
            _ => return Ok(None),
        })));
    }
    let temporal_target = |max: i64| -> Option<Precision> {
        Some(match digits.unwrap_or(max) {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            17 => Precision::Millisecond,
            _ => return None,
        })
    };
    Ok(match p {
        Prim::Decimal(d) => decimal_boundary(d, high, digits).map(Item::Decimal),
        Prim::Integer(i) => decimal_boundary(Decimal::from(i), high, digits).map(Item::Decimal),
        Prim::Quantity(q) => decimal_boundary(q.value, high, digits).map(|value| {
            Item::Quantity(Quantity {
                value,
                unit: q.unit.clone(),
            })
        }),
        Prim::Date(t) => temporal_target(8)
            .map(|target| Item::Date(t.boundary(high, false, target.min(Precision::Day)))),
        Prim::DateTime(t) => {
            temporal_target(17).map(|target| Item::DateTime(t.boundary(high, false, target)))
        }
        Prim::Time(t) => {
            let target = match digits.unwrap_or(9) {
                2 => Some(Precision::Hour),
                4 => Some(Precision::Minute),
                6 => Some(Precision::Second),
                9 => Some(Precision::Millisecond),
                _ => None,
            };
            target.map(|target| Item::Time(t.boundary(high, true, target)))
        }
        _ => None,
    })
}
