//! The evaluator: walks a compiled expression over a focus collection, with step and size limits.

mod aggregate;
mod combining;
mod conversion;
mod equality;
mod existence;
mod fhir;
mod filtering;
mod math;
mod navigation;
pub(crate) use navigation::is_choice_key;
mod operators;
mod string;
mod subsetting;
mod utility;

use std::cell::Cell;

use crate::compile::{Compiled, Expr, Func, TypeFn};
use crate::context::EvalContext;
use crate::value::{Item, Prim};
use crate::EvalError;

pub(crate) type Items<'a> = Vec<Item<'a>>;
pub(crate) type EvalResult<'a> = Result<Items<'a>, EvalError>;

/// The evaluation-wide state: context, root item, and the step counter.
pub(crate) struct Engine<'c, 'a> {
    pub ctx: &'c EvalContext<'a>,
    pub root: Item<'a>,
    steps: Cell<u64>,
}

/// What `$this`, `$index` and `$total` mean at a point of evaluation.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'f, 'a> {
    pub this: &'f [Item<'a>],
    pub index: Option<usize>,
    pub total: Option<&'f [Item<'a>]>,
}

pub(crate) fn run<'a>(compiled: &Compiled, ctx: &EvalContext<'a>) -> EvalResult<'a> {
    let engine = Engine {
        ctx,
        root: ctx.root_item(),
        steps: Cell::new(0),
    };
    let frame = Frame {
        this: std::slice::from_ref(&engine.root),
        index: None,
        total: None,
    };
    engine.eval(&compiled.root, &frame)
}

impl<'c, 'a> Engine<'c, 'a> {
    /// Counts one unit of work, failing once the limit is reached.
    pub fn step(&self, n: u64) -> Result<(), EvalError> {
        let s = self.steps.get().saturating_add(n);
        self.steps.set(s);
        if s > self.ctx.limits.max_steps {
            return Err(EvalError::StepLimit(self.ctx.limits.max_steps));
        }
        Ok(())
    }

    pub fn check_size(&self, items: &Items<'a>) -> Result<(), EvalError> {
        if items.len() > self.ctx.limits.max_collection {
            return Err(EvalError::SizeLimit(self.ctx.limits.max_collection));
        }
        Ok(())
    }

    pub fn eval(&self, e: &Expr, f: &Frame<'_, 'a>) -> EvalResult<'a> {
        self.step(1)?;
        let out = match e {
            Expr::Literal(item) => vec![item.clone()],
            Expr::Empty => Vec::new(),
            Expr::This => f.this.to_vec(),
            Expr::Index => f
                .index
                .map(|i| vec![Item::Integer(i as i64)])
                .unwrap_or_default(),
            Expr::Total => f.total.map(<[Item<'a>]>::to_vec).unwrap_or_default(),
            Expr::Env(name) => self.variable(name)?,
            Expr::Member { target, name, hint } => {
                let hint = Some(hint);
                match target.as_deref() {
                    // `Patient.name`: filter the focus by type without building a collection.
                    Some(Expr::TypeName(ty)) => {
                        let spec = crosscare_spec::Spec::r4();
                        let mut out = Vec::new();
                        for item in f.this {
                            if let Item::Node(n) = item {
                                if n.fhir_type == ty || spec.is_subtype_of(n.fhir_type, ty) {
                                    self.members_into(n, name, hint, &mut out)?;
                                }
                            }
                        }
                        out
                    }
                    Some(t) => {
                        let focus = self.eval(t, f)?;
                        self.members(&focus, name, hint)?
                    }
                    None => self.members(f.this, name, hint)?,
                }
            }
            Expr::TypeName(name) => {
                let spec = crosscare_spec::Spec::r4();
                f.this
                    .iter()
                    .filter(|i| match i {
                        Item::Node(n) => spec.is_subtype_of(n.fhir_type, name),
                        _ => false,
                    })
                    .cloned()
                    .collect()
            }
            Expr::Call { target, func, args } if args.is_empty() && is_focus_only(*func) => {
                vec![self.focus_only(*func, target.as_deref(), f)?]
            }
            Expr::Call { target, func, args } => match target {
                Some(t) => {
                    let focus = self.eval(t, f)?;
                    self.call(*func, focus, args, f)?
                }
                None => self.call(*func, f.this.to_vec(), args, f)?,
            },
            Expr::TypeCall { target, kind, ty } => {
                let focus = match target {
                    Some(t) => self.eval(t, f)?,
                    None => f.this.to_vec(),
                };
                if !ty.is_known() {
                    return Err(EvalError::Type(format!("unknown type {}", ty.name)));
                }
                match kind {
                    TypeFn::Is => match focus.as_slice() {
                        [] => Vec::new(),
                        [one] => vec![Item::Boolean(ty.matches(one))],
                        many => return Err(EvalError::NotSingleton(many.len())),
                    },
                    // `as` on a collection filters like `ofType`: the R4 invariants and search
                    // parameters rely on it (dom-3 applies `as(canonical)` to descendants()).
                    TypeFn::As | TypeFn::OfType => focus
                        .into_iter()
                        .filter(|i| ty.matches_with(i, true))
                        .collect(),
                }
            }
            Expr::Indexer(base, idx) => {
                let base = self.eval(base, f)?;
                let idx = self.eval(idx, f)?;
                match self.integer_arg(&idx)? {
                    Some(i) if i >= 0 => base.into_iter().nth(i as usize).into_iter().collect(),
                    _ => Vec::new(),
                }
            }
            Expr::Negate(inner) => {
                let v = self.eval(inner, f)?;
                operators::negate(v)?
            }
            Expr::Binary(op, a, b) => self.binary(*op, a, b, f)?,
        };
        self.check_size(&out)?;
        Ok(out)
    }

    /// Evaluates `e` as a condition (`where`, `exists(criteria)`, the operands of `and` and
    /// `or`): the singleton Boolean of its result, computed without building a collection for
    /// the forms conditions are usually written in (logic, comparisons, `exists()`, `empty()`).
    pub fn eval_bool(&self, e: &Expr, f: &Frame<'_, 'a>) -> Result<Option<bool>, EvalError> {
        use crate::parser::BinOp::*;
        match e {
            Expr::Binary(op @ (And | Or | Implies | Xor), a, b) => {
                self.step(1)?;
                self.logic_bool(*op, a, b, f)
            }
            Expr::Binary(op @ (Eq | Ne | Lt | Le | Gt | Ge), a, b) => {
                self.step(1)?;
                let l = self.operand(a, f)?;
                let r = self.operand(b, f)?;
                operators::compare_op(*op, &l, &r)
            }
            Expr::Call { target, func, args } if args.is_empty() && is_focus_only(*func) => {
                self.step(1)?;
                let item = self.focus_only(*func, target.as_deref(), f)?;
                to_bool(std::slice::from_ref(&item))
            }
            _ => to_bool(&self.eval(e, f)?),
        }
    }

    /// Applies `k` to the focus of a call: `$this` itself when there is no target, so that
    /// functions that only look at their focus do not copy it.
    fn with_focus<R>(
        &self,
        target: Option<&Expr>,
        f: &Frame<'_, 'a>,
        k: impl FnOnce(&[Item<'a>]) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        match target {
            None => k(f.this),
            Some(t) => k(&self.eval(t, f)?),
        }
    }

    /// `count()`, `exists()`, `empty()` and `hasValue()` without arguments: one item computed
    /// from a borrowed focus. `children().count()` (the ele-1 invariant on every element)
    /// counts the children without building them.
    fn focus_only(
        &self,
        func: Func,
        target: Option<&Expr>,
        f: &Frame<'_, 'a>,
    ) -> Result<Item<'a>, EvalError> {
        if let (
            Func::Count,
            Some(Expr::Call {
                target: inner,
                func: Func::Children,
                args,
            }),
        ) = (func, target)
        {
            if args.is_empty() {
                self.step(1)?;
                let mut n = 0;
                self.with_focus(inner.as_deref(), f, |focus| {
                    for item in focus {
                        self.step(1)?;
                        n += navigation::children_count(item);
                    }
                    Ok(())
                })?;
                if n > self.ctx.limits.max_collection {
                    return Err(EvalError::SizeLimit(self.ctx.limits.max_collection));
                }
                return Ok(Item::Integer(n as i64));
            }
        }
        self.with_focus(target, f, |focus| {
            Ok(match func {
                Func::Count => Item::Integer(focus.len() as i64),
                Func::Exists => Item::Boolean(!focus.is_empty()),
                Func::Empty => Item::Boolean(focus.is_empty()),
                _ => Item::Boolean(fhir::has_value(focus)),
            })
        })
    }

    fn variable(&self, name: &str) -> EvalResult<'a> {
        if let Some(v) = self.ctx.variables.get(name) {
            return Ok(v.clone());
        }
        let text = |s: String| Ok(vec![Item::String(s)]);
        match name {
            "resource" | "rootResource" => Ok(vec![self
                .ctx
                .resource_item()
                .unwrap_or_else(|| self.root.clone())]),
            "context" => Ok(vec![self.root.clone()]),
            "ucum" => text("http://unitsofmeasure.org".into()),
            "sct" => text("http://snomed.info/sct".into()),
            "loinc" => text("http://loinc.org".into()),
            _ => {
                if let Some(vs) = name.strip_prefix("vs-") {
                    return text(format!("http://hl7.org/fhir/ValueSet/{vs}"));
                }
                if let Some(ext) = name.strip_prefix("ext-") {
                    return text(format!("http://hl7.org/fhir/StructureDefinition/{ext}"));
                }
                Err(EvalError::UnknownVariable(name.to_string()))
            }
        }
    }

    /// Evaluates a function argument as a single optional value in the given frame.
    pub fn arg(&self, e: &Expr, f: &Frame<'_, 'a>) -> Result<Option<Item<'a>>, EvalError> {
        let v = self.eval(e, f)?;
        singleton(v)
    }

    pub fn integer_arg(&self, v: &[Item<'a>]) -> Result<Option<i64>, EvalError> {
        match v {
            [] => Ok(None),
            [one] => match one.prim() {
                Prim::Integer(i) => Ok(Some(i)),
                _ => Err(EvalError::Type("expected an integer".into())),
            },
            many => Err(EvalError::NotSingleton(many.len())),
        }
    }

    pub fn string_arg(&self, e: &Expr, f: &Frame<'_, 'a>) -> Result<Option<String>, EvalError> {
        match self.arg(e, f)? {
            None => Ok(None),
            Some(i) => match i.prim() {
                Prim::String(s) => Ok(Some(s.to_string())),
                _ => Err(EvalError::Type("expected a string argument".into())),
            },
        }
    }

    fn call(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        use Func::*;
        match func {
            Empty | Exists | All | AllTrue | AnyTrue | AllFalse | AnyFalse | SubsetOf
            | SupersetOf | Count | Distinct | IsDistinct | Not => {
                self.existence(func, focus, args, f)
            }
            Where | Select | Repeat | Sort => self.filtering(func, focus, args, f),
            Single | First | Last | Tail | Skip | Take | Intersect | Exclude => {
                self.subsetting(func, focus, args, f)
            }
            Union | Combine => self.combining(func, focus, args, f),
            Iif | ToBoolean | ConvertsToBoolean | ToInteger | ConvertsToInteger | ToDecimal
            | ConvertsToDecimal | ToStringFn | ConvertsToString | ToDate | ConvertsToDate
            | ToDateTime | ConvertsToDateTime | ToTime | ConvertsToTime | ToQuantity
            | ConvertsToQuantity => self.conversion(func, focus, args, f),
            IndexOf | Substring | StartsWith | EndsWith | Contains | Upper | Lower | Replace
            | Matches | MatchesFull | Escape | Unescape | ReplaceMatches | Length | ToChars
            | Trim | Split | Join | Encode | Decode => self.string(func, focus, args, f),
            Abs | Ceiling | Exp | Floor | Ln | Log | Power | Round | Sqrt | Truncate => {
                self.math(func, focus, args, f)
            }
            Children | Descendants => self.navigation(func, focus),
            Trace | Now | Today | TimeOfDay | Type | LowBoundary | HighBoundary | Precision
            | Comparable => self.utility(func, focus, args, f),
            Aggregate | Sum | Min | Max | Avg => self.aggregate(func, focus, args, f),
            Extension | HasExtension | HasValue | GetValue | Resolve | ConformsTo | HtmlChecks
            | MemberOf => self.fhir(func, focus, args, f),
        }
    }
}

/// Functions whose result, without arguments, depends only on their focus (see `focus_only`).
fn is_focus_only(func: Func) -> bool {
    matches!(
        func,
        Func::Count | Func::Exists | Func::Empty | Func::HasValue
    )
}

/// The single item of a collection, `None` when empty, an error when larger.
pub(crate) fn singleton<'a>(v: Items<'a>) -> Result<Option<Item<'a>>, EvalError> {
    match v.len() {
        0 => Ok(None),
        1 => Ok(v.into_iter().next()),
        n => Err(EvalError::NotSingleton(n)),
    }
}

/// Singleton evaluation of a collection as a Boolean: empty is `None`; one Boolean is its value;
/// any other single item counts as `true`.
pub(crate) fn to_bool(v: &[Item<'_>]) -> Result<Option<bool>, EvalError> {
    match v {
        [] => Ok(None),
        [one] => Ok(Some(one.as_bool().unwrap_or(true))),
        many => Err(EvalError::NotSingleton(many.len())),
    }
}

pub(crate) fn boolean<'a>(b: bool) -> Items<'a> {
    vec![Item::Boolean(b)]
}

pub(crate) fn opt_bool<'a>(b: Option<bool>) -> Items<'a> {
    b.map(boolean).unwrap_or_default()
}

#[cfg(test)]
mod tests;
