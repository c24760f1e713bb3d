//! Combining: `union` (deduplicating) and `combine` (keeping duplicates).

use super::{Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn combining(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        let other = self.eval(&args[0], f)?;
        if func == Func::Union {
            return self.union_of(focus, other);
        }
        let mut out = focus;
        out.extend(other);
        self.check_size(&out)?;
        Ok(out)
    }
}
