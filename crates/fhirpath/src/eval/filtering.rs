//! Filtering and projection: `where`, `select`, `repeat` (`ofType` is a type operation).

use super::equality::equals;
use super::{Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn filtering(&self, func: Func, focus: Items<'a>, args: &[Expr], f: &Frame<'_, 'a>) -> EvalResult<'a> {
        match func {
            Func::Where => self.filter(focus, &args[0], f),
            Func::Select => {
                let mut out = Vec::new();
                for (i, item) in focus.iter().enumerate() {
                    let frame = Frame { this: std::slice::from_ref(item), index: Some(i), total: f.total };
                    out.extend(self.eval(&args[0], &frame)?);
                    self.check_size(&out)?;
                }
                Ok(out)
            }
            _ => {
                // repeat(): apply the projection until no new items appear.
                let mut out: Items<'a> = Vec::new();
                let mut pending = focus;
                while !pending.is_empty() {
                    let mut next = Vec::new();
                    for (i, item) in pending.iter().enumerate() {
                        let frame = Frame { this: std::slice::from_ref(item), index: Some(i), total: f.total };
                        for r in self.eval(&args[0], &frame)? {
                            self.step(out.len() as u64 / 8 + 1)?;
                            if !out.iter().any(|o| equals(o, &r) == Some(true)) {
                                out.push(r.clone());
                                next.push(r);
                            }
                        }
                        self.check_size(&out)?;
                    }
                    pending = next;
                }
                Ok(out)
            }
        }
    }
}
