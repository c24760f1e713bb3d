//! Math functions: `abs`, `ceiling`, `exp`, `floor`, `ln`, `log`, `power`, `round`, `sqrt`,
//! `truncate`. Transcendental functions go through `f64` and are approximate by nature.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use super::{singleton, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::value::{Item, Prim, Quantity};
use crate::EvalError;

fn from_f64(x: f64) -> Option<Item<'static>> {
    if !x.is_finite() {
        return None;
    }
    Decimal::from_f64(x).map(|d| Item::Decimal(d.round_dp(15).normalize()))
}

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn math(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        let Some(item) = singleton(focus)? else {
            return Ok(Vec::new());
        };
        let arg = match args.first() {
            Some(e) => match self.arg(e, f)? {
                Some(v) => Some(v),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let p = item.prim();
        let (is_int, d) = match &p {
            Prim::Integer(i) => (true, Decimal::from(*i)),
            Prim::Decimal(d) => (false, *d),
            Prim::Quantity(q) if func == Func::Abs => {
                return Ok(vec![Item::Quantity(Quantity {
                    value: q.value.abs(),
                    unit: q.unit.clone(),
                })])
            }
            other => {
                return Err(EvalError::Type(format!(
                    "{}() needs a number, got {}",
                    func.name(),
                    other.system_name()
                )))
            }
        };
        let int_or_none = |x: Decimal| -> Option<Item<'static>> { x.to_i64().map(Item::Integer) };
        let x = d.to_f64().unwrap_or(f64::NAN);
        let out = match func {
            Func::Abs => {
                if is_int {
                    int_or_none(d.abs())
                } else {
                    Some(Item::Decimal(d.abs()))
                }
            }
            Func::Ceiling => int_or_none(d.ceil()),
            Func::Floor => int_or_none(d.floor()),
            Func::Truncate => int_or_none(d.trunc()),
            Func::Exp => from_f64(x.exp()),
            Func::Ln => from_f64(x.ln()),
            Func::Sqrt => from_f64(x.sqrt()),
            Func::Log => {
                let base = arg
                    .as_ref()
                    .and_then(|a| num(&a.prim()))
                    .unwrap_or(f64::NAN);
                from_f64(x.ln() / base.ln())
            }
            Func::Power => {
                let exp_item = arg.as_ref().map(Item::prim);
                match (&p, &exp_item) {
                    (Prim::Integer(b), Some(Prim::Integer(e))) if *e >= 0 => u32::try_from(*e)
                        .ok()
                        .and_then(|e| b.checked_pow(e))
                        .map(Item::Integer),
                    (_, Some(e)) => from_f64(x.powf(num(e).unwrap_or(f64::NAN))),
                    _ => None,
                }
            }
            _ => {
                let dp = match &arg {
                    Some(a) => match a.prim() {
                        Prim::Integer(i) if (0..=28).contains(&i) => i as u32,
                        _ => {
                            return Err(EvalError::Argument(
                                "round() precision must be 0..=28".into(),
                            ))
                        }
                    },
                    None => 0,
                };
                Some(Item::Decimal(d.round_dp_with_strategy(
                    dp,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                )))
            }
        };
        Ok(out.into_iter().collect())
    }
}

fn num(p: &Prim<'_>) -> Option<f64> {
    match p {
        Prim::Integer(i) => Some(*i as f64),
        Prim::Decimal(d) => d.to_f64(),
        _ => None,
    }
}
