//! Existence functions: `empty`, `exists`, `all`, `allTrue`…, `subsetOf`, `count`, `distinct`, `not`.

use super::equality::equals;
use super::{boolean, opt_bool, to_bool, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::value::Item;
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn existence(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        Ok(match func {
            Func::Empty => boolean(focus.is_empty()),
            Func::Exists => match args.first() {
                None => boolean(!focus.is_empty()),
                Some(crit) => {
                    for (i, item) in focus.iter().enumerate() {
                        let frame = Frame {
                            this: std::slice::from_ref(item),
                            index: Some(i),
                            total: f.total,
                        };
                        if self.eval_bool(crit, &frame)? == Some(true) {
                            return Ok(boolean(true));
                        }
                    }
                    boolean(false)
                }
            },
            Func::All => {
                for (i, item) in focus.iter().enumerate() {
                    let frame = Frame {
                        this: std::slice::from_ref(item),
                        index: Some(i),
                        total: f.total,
                    };
                    if self.eval_bool(&args[0], &frame)? != Some(true) {
                        return Ok(boolean(false));
                    }
                }
                boolean(true)
            }
            Func::AllTrue => boolean(bools(&focus)?.iter().all(|b| *b)),
            Func::AnyTrue => boolean(bools(&focus)?.iter().any(|b| *b)),
            Func::AllFalse => boolean(bools(&focus)?.iter().all(|b| !*b)),
            Func::AnyFalse => boolean(bools(&focus)?.iter().any(|b| !*b)),
            Func::SubsetOf | Func::SupersetOf => {
                let other = self.eval(&args[0], &self.root_frame(f))?;
                let (sub, sup) = if func == Func::SubsetOf {
                    (&focus, &other)
                } else {
                    (&other, &focus)
                };
                self.step((sub.len() * sup.len()) as u64 / 16 + 1)?;
                boolean(
                    sub.iter()
                        .all(|x| sup.iter().any(|y| equals(x, y) == Some(true))),
                )
            }
            Func::Count => vec![Item::Integer(focus.len() as i64)],
            Func::Distinct => {
                let mut out = Vec::new();
                self.union_into(&mut out, focus)?;
                out
            }
            Func::IsDistinct => {
                let n = focus.len();
                let mut out = Vec::new();
                self.union_into(&mut out, focus)?;
                boolean(out.len() == n)
            }
            _ => opt_bool(to_bool(&focus)?.map(|b| !b)),
        })
    }

    /// The frame used for arguments that are evaluated against the invocation's `$this`
    /// rather than per item (`subsetOf(%resource.x)`, `substring(1)`).
    pub(super) fn root_frame<'f>(&self, f: &Frame<'f, 'a>) -> Frame<'f, 'a> {
        *f
    }

    /// Items of the focus for which the criterion is true (`where`).
    pub(super) fn filter(
        &self,
        focus: Items<'a>,
        crit: &Expr,
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        let mut out = Vec::new();
        for (i, item) in focus.into_iter().enumerate() {
            let keep = {
                let frame = Frame {
                    this: std::slice::from_ref(&item),
                    index: Some(i),
                    total: f.total,
                };
                self.eval_bool(crit, &frame)? == Some(true)
            };
            if keep {
                out.push(item);
            }
        }
        Ok(out)
    }
}

fn bools(focus: &[Item<'_>]) -> Result<Vec<bool>, EvalError> {
    focus
        .iter()
        .map(|i| {
            i.as_bool()
                .ok_or_else(|| EvalError::Type("expected Booleans".into()))
        })
        .collect()
}
