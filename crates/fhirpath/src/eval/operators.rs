//! Binary and unary operators: logic, equality, comparison, membership, union and arithmetic
//! (numbers, strings, quantities and date/time arithmetic with calendar durations).

use std::borrow::Cow;
use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use super::equality::{compare, equals, equivalent, quantity_pair};
use super::{boolean, opt_bool, singleton, Engine, EvalResult, Frame, Items};

/// The single item of a borrowed collection, `None` when empty, an error when larger.
fn single<'s, 'a>(v: &'s [Item<'a>]) -> Result<Option<&'s Item<'a>>, EvalError> {
    match v {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(EvalError::NotSingleton(many.len())),
    }
}
use crate::compile::Expr;
use crate::parser::BinOp;
use crate::temporal::{Precision, Temporal};
use crate::value::{Item, JsonRef, NodeKind, Prim, Quantity};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn binary(
        &self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        use BinOp::*;
        match op {
            And | Or | Implies | Xor => return self.logic(op, a, b, f),
            _ => {}
        }
        if op == Union {
            let l = self.eval(a, f)?;
            return self.union_of(l, self.eval(b, f)?);
        }
        let l = self.operand(a, f)?;
        let r = self.operand(b, f)?;
        let (l, r) = (&*l, &*r);
        match op {
            Eq | Ne | Lt | Le | Gt | Ge => Ok(opt_bool(compare_op(op, l, r)?)),
            Equiv | NotEquiv => {
                let eqv = collection_equivalent(l, r);
                Ok(boolean(if op == Equiv { eqv } else { !eqv }))
            }
            In | Contains => {
                let (needle, hay) = if op == In { (l, r) } else { (r, l) };
                let Some(x) = single(needle)? else {
                    return Ok(Vec::new());
                };
                self.step(hay.len() as u64)?;
                Ok(boolean(hay.iter().any(|h| equals(x, h) == Some(true))))
            }
            Concat => {
                let s = |v: &[Item<'a>]| -> Result<String, EvalError> {
                    Ok(match single(v)? {
                        None => String::new(),
                        Some(i) => i
                            .as_str()
                            .ok_or_else(|| EvalError::Type("& needs strings".into()))?
                            .to_string(),
                    })
                };
                let out = s(l)? + &s(r)?;
                self.check_string(&out)?;
                Ok(vec![Item::String(out)])
            }
            _ => {
                let (Some(x), Some(y)) = (single(l)?, single(r)?) else {
                    return Ok(Vec::new());
                };
                let out = arithmetic(op, x, y)?;
                if let Some(Item::String(s)) = &out {
                    self.check_string(s)?;
                }
                Ok(out.into_iter().collect())
            }
        }
    }

    /// Evaluates an operand, borrowing literals instead of cloning them.
    pub(super) fn operand<'e>(
        &self,
        e: &'e Expr,
        f: &Frame<'_, 'a>,
    ) -> Result<Cow<'e, [Item<'a>]>, EvalError> {
        match e {
            Expr::Literal(item) => {
                self.step(1)?;
                Ok(Cow::Borrowed(std::slice::from_ref(item)))
            }
            _ => Ok(Cow::Owned(self.eval(e, f)?)),
        }
    }

    pub(super) fn check_string(&self, s: &str) -> Result<(), EvalError> {
        if s.len() > self.ctx.limits.max_string {
            return Err(EvalError::SizeLimit(self.ctx.limits.max_string));
        }
        Ok(())
    }

    /// Appends items not already present (by `=`), as `|` and `union()` do.
    pub(super) fn union_into(
        &self,
        out: &mut Items<'a>,
        items: Items<'a>,
    ) -> Result<(), EvalError> {
        if out.is_empty() {
            *out = items;
            return self.dedupe(out);
        }
        // No reservation up front: duplicates are common, and pushing only the new items often
        // fits in the capacity `out` already has.
        for item in items {
            self.step(out.len() as u64 / 8 + 1)?;
            if !out.iter().any(|o| same(o, &item)) {
                out.push(item);
            }
        }
        Ok(())
    }

    /// `l | r` in `l`'s buffer: its duplicates dropped in place, then the new items of `r`.
    pub(super) fn union_of(&self, l: Items<'a>, r: Items<'a>) -> EvalResult<'a> {
        let mut out = l;
        self.dedupe(&mut out)?;
        if out.is_empty() {
            out = r;
            self.dedupe(&mut out)?;
        } else {
            self.union_into(&mut out, r)?;
        }
        Ok(out)
    }

    /// Drops items equal (by `=`) to an earlier one, keeping the order of first occurrences.
    fn dedupe(&self, out: &mut Items<'a>) -> Result<(), EvalError> {
        let mut kept = 0;
        for i in 0..out.len() {
            self.step(kept as u64 / 8 + 1)?;
            let (head, tail) = out.split_at(i);
            let duplicate = tail
                .first()
                .is_some_and(|x| head[..kept].iter().any(|o| same(o, x)));
            if !duplicate {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
        Ok(())
    }

    fn logic(&self, op: BinOp, a: &Expr, b: &Expr, f: &Frame<'_, 'a>) -> EvalResult<'a> {
        Ok(opt_bool(self.logic_bool(op, a, b, f)?))
    }

    /// `and`, `or`, `xor` and `implies` over the singleton Booleans of their operands.
    pub(super) fn logic_bool(
        &self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        f: &Frame<'_, 'a>,
    ) -> Result<Option<bool>, EvalError> {
        let l = self.eval_bool(a, f)?;
        // Short-circuit where the right operand cannot change the result.
        match (op, l) {
            (BinOp::And, Some(false)) => return Ok(Some(false)),
            (BinOp::Or, Some(true)) => return Ok(Some(true)),
            (BinOp::Implies, Some(false)) => return Ok(Some(true)),
            _ => {}
        }
        let r = self.eval_bool(b, f)?;
        Ok(match op {
            BinOp::And => match (l, r) {
                (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            BinOp::Or => match (l, r) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            BinOp::Xor => l.zip(r).map(|(x, y)| x != y),
            _ => match (l, r) {
                (Some(true), r) => r,
                (None, Some(true)) => Some(true),
                _ => None,
            },
        })
    }
}

/// `a = b` is true; two string nodes of the input are compared in place (the common case in
/// unions of names and codes).
#[inline]
fn same(a: &Item<'_>, b: &Item<'_>) -> bool {
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if let (
            NodeKind::String,
            NodeKind::String,
            Some(JsonRef::Borrowed(Value::String(p))),
            Some(JsonRef::Borrowed(Value::String(q))),
        ) = (x.kind, y.kind, &x.value, &y.value)
        {
            return p == q;
        }
    }
    equals(a, b) == Some(true)
}

/// `=`, `!=`, `<`, `<=`, `>` and `>=` over evaluated operands; `None` is the empty result.
pub(super) fn compare_op(
    op: BinOp,
    l: &[Item<'_>],
    r: &[Item<'_>],
) -> Result<Option<bool>, EvalError> {
    match op {
        BinOp::Eq | BinOp::Ne => {
            if l.is_empty() || r.is_empty() {
                return Ok(None);
            }
            let eq = collection_equals(l, r);
            Ok(if op == BinOp::Eq { eq } else { eq.map(|b| !b) })
        }
        _ => {
            let (Some(x), Some(y)) = (single(l)?, single(r)?) else {
                return Ok(None);
            };
            let ord = compare(x, y)?;
            Ok(ord.map(|o| match op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
    }
}

pub(super) fn collection_equals(l: &[Item<'_>], r: &[Item<'_>]) -> Option<bool> {
    if l.len() != r.len() {
        return Some(false);
    }
    let mut result = Some(true);
    for (x, y) in l.iter().zip(r) {
        match equals(x, y) {
            Some(true) => {}
            Some(false) => return Some(false),
            None => result = None,
        }
    }
    result
}

pub(super) fn collection_equivalent(l: &[Item<'_>], r: &[Item<'_>]) -> bool {
    l.len() == r.len() && l.iter().all(|x| r.iter().any(|y| equivalent(x, y)))
}

pub(super) fn negate(v: Items<'_>) -> EvalResult<'_> {
    let Some(x) = singleton(v)? else {
        return Ok(Vec::new());
    };
    Ok(vec![match x.prim() {
        Prim::Integer(i) => match i.checked_neg() {
            Some(n) => Item::Integer(n),
            None => return Ok(Vec::new()),
        },
        Prim::Decimal(d) => Item::Decimal(-d),
        Prim::Quantity(q) => Item::Quantity(Quantity {
            value: -q.value,
            unit: q.unit.clone(),
        }),
        other => {
            return Err(EvalError::Type(format!(
                "cannot negate {}",
                other.system_name()
            )))
        }
    }])
}

fn dec(p: &Prim<'_>) -> Option<Decimal> {
    match p {
        Prim::Integer(i) => Some(Decimal::from(*i)),
        Prim::Decimal(d) => Some(*d),
        _ => None,
    }
}

/// Arithmetic on two single items; `Ok(None)` is an empty result (overflow, division by zero).
pub(crate) fn arithmetic(
    op: BinOp,
    x: &Item<'_>,
    y: &Item<'_>,
) -> Result<Option<Item<'static>>, EvalError> {
    use BinOp::*;
    let (px, py) = (x.prim(), y.prim());
    let mismatch = || {
        EvalError::Type(format!(
            "cannot apply {} to {} and {}",
            op.symbol(),
            px.system_name(),
            py.system_name()
        ))
    };
    Ok(match (&px, &py) {
        (Prim::Integer(a), Prim::Integer(b)) => match op {
            Add => a.checked_add(*b).map(Item::Integer),
            Sub => a.checked_sub(*b).map(Item::Integer),
            Mul => a.checked_mul(*b).map(Item::Integer),
            Div => Decimal::from(*a)
                .checked_div(Decimal::from(*b))
                .map(Item::Decimal),
            IntDiv => a.checked_div(*b).map(Item::Integer),
            Mod => a.checked_rem(*b).map(Item::Integer),
            _ => return Err(mismatch()),
        },
        (Prim::Integer(_) | Prim::Decimal(_), Prim::Integer(_) | Prim::Decimal(_)) => {
            let (Some(a), Some(b)) = (dec(&px), dec(&py)) else {
                return Err(mismatch());
            };
            match op {
                Add => a.checked_add(b).map(Item::Decimal),
                Sub => a.checked_sub(b).map(Item::Decimal),
                Mul => a.checked_mul(b).map(Item::Decimal),
                Div => a.checked_div(b).map(|d| Item::Decimal(d.normalize())),
                IntDiv => a
                    .checked_div(b)
                    .and_then(|d| i64::try_from(d.trunc()).ok())
                    .map(Item::Integer),
                Mod => a.checked_rem(b).map(Item::Decimal),
                _ => return Err(mismatch()),
            }
        }
        (Prim::String(a), Prim::String(b)) if op == Add => Some(Item::String(format!("{a}{b}"))),
        (Prim::Quantity(a), Prim::Quantity(b)) => match op {
            Add | Sub => {
                let (p, q) = quantity_pair(a, b).ok_or_else(mismatch)?;
                let v = if op == Add {
                    p.checked_add(q)
                } else {
                    p.checked_sub(q)
                };
                v.map(|value| {
                    Item::Quantity(Quantity {
                        value,
                        unit: a.unit.clone(),
                    })
                })
            }
            Mul => match quantity_pair(a, b) {
                Some((p, q)) if a.unit != "1" => p.checked_mul(q).map(|value| {
                    Item::Quantity(Quantity {
                        value,
                        unit: product_unit(&a.unit, &a.unit, '.'),
                    })
                }),
                _ => a.value.checked_mul(b.value).map(|value| {
                    Item::Quantity(Quantity {
                        value,
                        unit: product_unit(&a.unit, &b.unit, '.'),
                    })
                }),
            },
            Div => match quantity_pair(a, b) {
                Some((p, q)) => p.checked_div(q).map(|value| {
                    Item::Quantity(Quantity {
                        value: value.normalize(),
                        unit: "1".into(),
                    })
                }),
                None => a.value.checked_div(b.value).map(|value| {
                    Item::Quantity(Quantity {
                        value: value.normalize(),
                        unit: product_unit(&a.unit, &b.unit, '/'),
                    })
                }),
            },
            _ => return Err(mismatch()),
        },
        (Prim::Quantity(a), Prim::Integer(_) | Prim::Decimal(_)) if matches!(op, Mul | Div) => {
            let b = dec(&py).ok_or_else(mismatch)?;
            let v = if op == Mul {
                a.value.checked_mul(b)
            } else {
                a.value.checked_div(b)
            };
            v.map(|value| {
                Item::Quantity(Quantity {
                    value: value.normalize(),
                    unit: a.unit.clone(),
                })
            })
        }
        (Prim::Integer(_) | Prim::Decimal(_), Prim::Quantity(b)) if op == Mul => {
            let a = dec(&px).ok_or_else(mismatch)?;
            a.checked_mul(b.value).map(|value| {
                Item::Quantity(Quantity {
                    value,
                    unit: b.unit.clone(),
                })
            })
        }
        (Prim::Date(t), Prim::Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_add(t, q, op == Sub, TemporalKind::Date)?.map(Item::Date)
        }
        (Prim::DateTime(t), Prim::Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_add(t, q, op == Sub, TemporalKind::DateTime)?.map(Item::DateTime)
        }
        (Prim::Time(t), Prim::Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_add(t, q, op == Sub, TemporalKind::Time)?.map(Item::Time)
        }
        _ => return Err(mismatch()),
    })
}

fn product_unit(a: &str, b: &str, sep: char) -> String {
    match (a, b) {
        ("1", u) if sep == '.' => u.to_string(),
        (u, "1") => u.to_string(),
        (a, b) if a == b && sep == '.' => format!("{a}2"),
        _ => format!("{a}{sep}{b}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TemporalKind {
    Date,
    DateTime,
    Time,
}

/// Adds a time-valued quantity to a date, dateTime or time. Calendar keywords and the UCUM
/// definite durations `wk`, `d`, `h`, `min`, `s`, `ms` are accepted; `a` and `mo` are not,
/// because a UCUM year or month is not a calendar year or month.
fn temporal_add(
    t: &Temporal,
    q: &Quantity,
    subtract: bool,
    kind: TemporalKind,
) -> Result<Option<Temporal>, EvalError> {
    let unit = match q.unit.as_str() {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" | "wk" => "week",
        "day" | "days" | "d" => "day",
        "hour" | "hours" | "h" => "hour",
        "minute" | "minutes" | "min" => "minute",
        "second" | "seconds" | "s" => "second",
        "millisecond" | "milliseconds" | "ms" => "millisecond",
        other => {
            return Err(EvalError::Type(format!(
                "cannot add a quantity in `{other}` to a date/time"
            )))
        }
    };
    let mut value = if unit == "millisecond" {
        q.value.round()
    } else {
        q.value.trunc()
    };
    if subtract {
        value = -value;
    }
    let Ok(n) = i64::try_from(value) else {
        return Ok(None);
    };
    if kind == TemporalKind::Time && matches!(unit, "year" | "month" | "week" | "day") {
        return Err(EvalError::Type(
            "cannot add a date quantity to a time".into(),
        ));
    }
    let ms = |per: i64| n.checked_mul(per);
    let result = match unit {
        "year" => n.checked_mul(12).map(|m| t.add_months(m)),
        "month" => Some(t.add_months(n)),
        "week" => ms(7 * 86_400_000).map(|d| t.add_millis(d)),
        "day" => ms(86_400_000).map(|d| t.add_millis(d)),
        _ if kind == TemporalKind::Date || t.precision < Precision::Hour => {
            // A date has no time part: sub-day quantities are converted to whole days.
            let per = match unit {
                "hour" => 3_600_000,
                "minute" => 60_000,
                "second" => 1000,
                _ => 1,
            };
            ms(per).map(|total| t.add_millis(total / 86_400_000 * 86_400_000))
        }
        "hour" => ms(3_600_000).map(|d| t.add_millis(d)),
        "minute" => ms(60_000).map(|d| t.add_millis(d)),
        "second" => ms(1000).map(|d| t.add_millis(d)),
        _ => Some(t.add_millis(n)),
    };
    Ok(result.filter(|r| kind == TemporalKind::Time || r.in_range()))
}
