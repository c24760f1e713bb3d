//! Filtering and projection: `where`, `select`, `repeat` (`ofType` is a type operation).

use std::cmp::Ordering;

use super::equality::{compare, equals};
use super::{Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn filtering(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        match func {
            Func::Where => self.filter(focus, &args[0], f),
            Func::Sort => self.sort(focus, args, f),
            Func::Select => {
                let mut out = Vec::new();
                for (i, item) in focus.iter().enumerate() {
                    let frame = Frame {
                        this: std::slice::from_ref(item),
                        index: Some(i),
                        total: f.total,
                    };
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
                        let frame = Frame {
                            this: std::slice::from_ref(item),
                            index: Some(i),
                            total: f.total,
                        };
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

    /// `sort(keys...)`: stable sort by each key in turn; a key written `-expr` sorts descending.
    fn sort(&self, focus: Items<'a>, args: &[Expr], f: &Frame<'_, 'a>) -> EvalResult<'a> {
        let mut keyed = Vec::with_capacity(focus.len());
        for (i, item) in focus.into_iter().enumerate() {
            let mut keys = Vec::with_capacity(args.len().max(1));
            if args.is_empty() {
                keys.push(vec![item.clone()]);
            }
            for a in args {
                let (expr, _) = sort_key(a);
                let frame = Frame {
                    this: std::slice::from_ref(&item),
                    index: Some(i),
                    total: f.total,
                };
                keys.push(self.eval(expr, &frame)?);
            }
            keyed.push((keys, item));
        }
        self.step(keyed.len() as u64)?;
        let descending: Vec<bool> = args.iter().map(|a| sort_key(a).1).collect();
        let mut failure: Option<EvalError> = None;
        keyed.sort_by(|(ka, _), (kb, _)| {
            for (k, (x, y)) in ka.iter().zip(kb).enumerate() {
                let ord = match (x.first(), y.first()) {
                    (None, None) => Ordering::Equal,
                    // Empty keys sort after every value.
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(x), Some(y)) => match compare(x, y) {
                        Ok(o) => o.unwrap_or(Ordering::Equal),
                        Err(e) => {
                            failure.get_or_insert(e);
                            Ordering::Equal
                        }
                    },
                };
                let ord = if descending.get(k).copied().unwrap_or(false) {
                    ord.reverse()
                } else {
                    ord
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(keyed.into_iter().map(|(_, item)| item).collect())
    }
}

fn sort_key(e: &Expr) -> (&Expr, bool) {
    match e {
        Expr::Negate(inner) => (inner, true),
        other => (other, false),
    }
}
