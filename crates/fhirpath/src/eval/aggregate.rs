//! Aggregates: `aggregate(expr, init)` with `$total`, and `sum`, `min`, `max`, `avg`.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::equality::compare;
use super::operators::arithmetic;
use super::{Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::parser::BinOp;
use crate::value::Item;
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn aggregate(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        match func {
            Func::Aggregate => {
                let mut total = match args.get(1) {
                    Some(init) => self.eval(init, f)?,
                    None => Vec::new(),
                };
                for (i, item) in focus.iter().enumerate() {
                    let frame = Frame {
                        this: std::slice::from_ref(item),
                        index: Some(i),
                        total: Some(&total),
                    };
                    let next = self.eval(&args[0], &frame)?;
                    total = next;
                }
                Ok(total)
            }
            Func::Sum | Func::Avg => {
                let Some(first) = focus.first() else {
                    return Ok(if func == Func::Sum {
                        vec![Item::Integer(0)]
                    } else {
                        Vec::new()
                    });
                };
                let mut acc: Item<'a> = first
                    .to_system()
                    .ok_or_else(|| EvalError::Type("sum() needs numbers".into()))?;
                for item in &focus[1..] {
                    self.step(1)?;
                    match arithmetic(BinOp::Add, &acc, item)? {
                        Some(v) => acc = v,
                        None => return Ok(Vec::new()),
                    }
                }
                if func == Func::Avg {
                    let n = Item::Decimal(Decimal::from(focus.len() as i64));
                    return Ok(arithmetic(BinOp::Div, &acc, &n)?.into_iter().collect());
                }
                Ok(vec![acc])
            }
            _ => {
                let mut best: Option<&Item<'a>> = None;
                for item in &focus {
                    self.step(1)?;
                    best = match best {
                        None => Some(item),
                        Some(b) => {
                            let ord = compare(item, b)?;
                            let better = match func {
                                Func::Min => ord == Some(Ordering::Less),
                                _ => ord == Some(Ordering::Greater),
                            };
                            Some(if better { item } else { b })
                        }
                    };
                }
                Ok(best.cloned().into_iter().collect())
            }
        }
    }
}
