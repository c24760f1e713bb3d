//! Subsetting: `single`, `first`, `last`, `tail`, `skip`, `take`, `intersect`, `exclude`.

use super::equality::equals;
use super::{Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn subsetting(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        let count = |e: &Expr| -> Result<usize, EvalError> {
            let v = self.eval(e, f)?;
            Ok(self.integer_arg(&v)?.unwrap_or(0).max(0) as usize)
        };
        Ok(match func {
            Func::Single => match focus.len() {
                0 | 1 => focus,
                n => return Err(EvalError::NotSingleton(n)),
            },
            Func::First => focus.into_iter().take(1).collect(),
            Func::Last => focus.into_iter().last().into_iter().collect(),
            Func::Tail => focus.into_iter().skip(1).collect(),
            Func::Skip => {
                let n = count(&args[0])?;
                focus.into_iter().skip(n).collect()
            }
            Func::Take => {
                let n = count(&args[0])?;
                focus.into_iter().take(n).collect()
            }
            Func::Intersect => {
                let other = self.eval(&args[0], f)?;
                self.step((focus.len() * other.len()) as u64 / 16 + 1)?;
                let mut out = Vec::new();
                let hits: Items<'a> = focus
                    .into_iter()
                    .filter(|x| other.iter().any(|y| equals(x, y) == Some(true)))
                    .collect();
                self.union_into(&mut out, hits)?;
                out
            }
            _ => {
                let other = self.eval(&args[0], f)?;
                self.step((focus.len() * other.len()) as u64 / 16 + 1)?;
                focus
                    .into_iter()
                    .filter(|x| !other.iter().any(|y| equals(x, y) == Some(true)))
                    .collect()
            }
        })
    }
}
