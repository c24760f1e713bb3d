//! Static path hints: where the spec path of a focus is known at compile time (`Patient.name`
//! starts from `Patient`, so `name` holds `HumanName`), member accesses are resolved once here
//! instead of on every evaluation.
//!
//! Where the focus path cannot be predicted (members of the root, whose type is only known
//! when the expression is evaluated), the resolution made at the first evaluation is kept in
//! the node and reused while the focus path stays the same.
//!
//! A hint is only a prediction. The evaluator uses it when the node's own spec path is the
//! predicted one and otherwise resolves the child at run time, so a wrong or missing hint costs
//! time, never correctness.

use std::sync::OnceLock;

use crosscare_spec::Spec;

use crate::compile::{Expr, Func, TypeFn};
use crate::parser::BinOp;
use crate::types::{resolve_child, static_type, ChildType};

/// A member access resolved at compile time for the spec path its focus is expected to have.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildHint {
    /// The spec path the focus nodes are expected to have (`Patient`, `HumanName`).
    pub parent: &'static str,
    /// What the run-time lookup of the member under `parent` would return.
    pub child: Option<(ChildType, bool)>,
}

impl ChildHint {
    /// The resolved child when `path` is the predicted parent path.
    #[inline]
    pub fn for_path(&self, path: &str) -> Option<Option<(ChildType, bool)>> {
        let same = (std::ptr::eq(self.parent.as_ptr(), path.as_ptr())
            && self.parent.len() == path.len())
            || self.parent == path;
        same.then_some(self.child)
    }
}

/// What is known of one member access ahead of its evaluation.
#[derive(Debug, Default)]
pub(crate) struct MemberHint {
    /// Resolved at compile time for the predicted focus path.
    pub fixed: Option<ChildHint>,
    /// Resolved at the first evaluation that had no applicable `fixed` hint.
    pub first_seen: OnceLock<ChildHint>,
}

impl MemberHint {
    /// The resolution for a focus node of spec path `path`, if one is known.
    #[inline]
    pub fn lookup(&self, path: &str) -> Option<Option<(ChildType, bool)>> {
        if let Some(found) = self.fixed.as_ref().and_then(|h| h.for_path(path)) {
            return Some(found);
        }
        self.first_seen.get().and_then(|h| h.for_path(path))
    }

    /// Keeps a run-time resolution for later evaluations (the first one only: the node is
    /// shared between threads and must stay cheap to read).
    pub fn remember(&self, path: &'static str, child: Option<(ChildType, bool)>) {
        if !path.is_empty() && self.fixed.is_none() {
            let _ = self.first_seen.set(ChildHint {
                parent: path,
                child,
            });
        }
    }
}

/// Annotates `e`, evaluated with `$this` of spec path `this`, and returns the spec path its
/// result nodes are expected to have.
pub(crate) fn annotate(e: &mut Expr, this: Option<&'static str>) -> Option<&'static str> {
    let spec = Spec::r4();
    match e {
        Expr::Literal(_) | Expr::Empty | Expr::Index | Expr::Total | Expr::Env(_) => None,
        Expr::This => this,
        Expr::TypeName(name) => type_path(spec, name),
        Expr::Member { target, name, hint } => {
            let parent = match target {
                Some(t) => annotate(t, this),
                None => this,
            }?;
            let child = resolve_child(spec, parent, name);
            hint.fixed = Some(ChildHint { parent, child });
            let (ty, choice) = child?;
            (!choice && !ty.typed_by_json && !ty.path.is_empty()).then_some(ty.path)
        }
        Expr::Call { target, func, args } => {
            let focus = match target {
                Some(t) => annotate(t, this),
                None => this,
            };
            let per_item = matches!(
                func,
                Func::Where
                    | Func::Select
                    | Func::Exists
                    | Func::All
                    | Func::Repeat
                    | Func::Sort
                    | Func::Aggregate
            );
            let mut arg_paths = Vec::with_capacity(args.len());
            for a in args.iter_mut() {
                arg_paths.push(annotate(a, if per_item { focus } else { this }));
            }
            match func {
                Func::Where
                | Func::First
                | Func::Last
                | Func::Single
                | Func::Tail
                | Func::Skip
                | Func::Take
                | Func::Distinct
                | Func::Intersect
                | Func::Exclude
                | Func::Trace => focus,
                Func::Select => arg_paths.first().copied().flatten(),
                Func::Union | Func::Combine => {
                    let other = arg_paths.first().copied().flatten();
                    if focus == other {
                        focus
                    } else {
                        None
                    }
                }
                Func::Extension => type_path(spec, "Extension"),
                _ => None,
            }
        }
        Expr::TypeCall { target, kind, ty } => {
            if let Some(t) = target {
                annotate(t, this);
            }
            match kind {
                TypeFn::As | TypeFn::OfType if ty.namespace.as_deref() != Some("System") => {
                    type_path(spec, &ty.name)
                }
                _ => None,
            }
        }
        Expr::Indexer(base, idx) => {
            annotate(idx, this);
            annotate(base, this)
        }
        Expr::Negate(inner) => {
            annotate(inner, this);
            None
        }
        Expr::Binary(op, a, b) => {
            let pa = annotate(a, this);
            let pb = annotate(b, this);
            (*op == BinOp::Union && pa == pb).then_some(pa).flatten()
        }
    }
}

fn type_path(spec: &'static Spec, name: &str) -> Option<&'static str> {
    let (_, path) = static_type(spec, name);
    (!path.is_empty()).then_some(path)
}
