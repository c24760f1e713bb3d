//! FHIRPath invariants (`ele-1`, `dom-2`, `obs-6`, …) of severity `error`, evaluated with
//! `crosscare-fhirpath`.
//!
//! Each constraint is compiled once, on first use, and cached by its identity in the static
//! spec tables (one entry per element path and key). A constraint the engine cannot compile or
//! evaluate is skipped and counted, never reported as a violation. Below a resource root,
//! `%resource` and `%rootResource` are bound to the enclosing resources explicitly (the engine
//! would otherwise bind them to the node the constraint is evaluated on).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use crosscare_fhirpath::{EvalContext, Expression, Item};
use crosscare_spec::model::{Constraint, ConstraintSeverity, ElementDef};
use crosscare_spec::Spec;
use serde_json::Value;

use crate::report::{Issue, IssueType};

/// One applicable constraint, compiled (`None` if the engine rejects it).
pub(crate) struct Rule {
    constraint: &'static Constraint,
    expr: Option<Expression>,
    /// The expression refers to `%resource` or `%rootResource`.
    needs_roots: bool,
    /// The expression is `hasValue() or …` (`ele-1`): satisfied by any primitive with a value,
    /// so evaluating it there cannot fail and is skipped.
    holds_with_value: bool,
}

/// The compiled rules of each (element, type) pair met so far, keyed by the identity of the
/// element definition and of the type name in the static spec tables. Every constraint is
/// compiled once per element path and key, on first use.
type RuleCache = HashMap<(usize, usize), Arc<[Rule]>>;
static RULES: LazyLock<RwLock<RuleCache>> = LazyLock::new(|| RwLock::new(HashMap::new()));

fn cached(key: (usize, usize), build: impl FnOnce() -> Vec<&'static Constraint>) -> Arc<[Rule]> {
    if let Ok(cache) = RULES.read() {
        if let Some(rules) = cache.get(&key) {
            return rules.clone();
        }
    }
    let rules: Arc<[Rule]> = build()
        .into_iter()
        .map(|c| Rule {
            constraint: c,
            expr: Expression::compile(&c.expression).ok(),
            needs_roots: c.expression.contains("%resource")
                || c.expression.contains("%rootResource"),
            holds_with_value: c.expression.starts_with("hasValue() or "),
        })
        .collect();
    if let Ok(mut cache) = RULES.write() {
        cache.insert(key, rules.clone());
    }
    rules
}

/// A constraint of severity `error` that the FHIRPath engine cannot compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedConstraint {
    /// The element path the constraint is declared on (`Bundle.entry`).
    pub path: String,
    pub key: String,
    pub expression: String,
    pub reason: String,
}

/// Compiles every error constraint of the R4 tables and lists those the engine rejects,
/// deduplicated by key and expression. Returns `(compiled, unsupported)`.
pub fn unsupported_constraints() -> (usize, Vec<UnsupportedConstraint>) {
    let mut seen: HashMap<(&str, &str), bool> = HashMap::new();
    let mut failed = Vec::new();
    for t in Spec::r4().types() {
        for e in &t.elements {
            for c in e
                .constraints
                .iter()
                .filter(|c| c.severity == ConstraintSeverity::Error)
            {
                if seen.contains_key(&(c.key.as_str(), c.expression.as_str())) {
                    continue;
                }
                let result = Expression::compile(&c.expression);
                seen.insert((&c.key, &c.expression), result.is_ok());
                if let Err(err) = result {
                    failed.push(UnsupportedConstraint {
                        path: e.path.clone(),
                        key: c.key.clone(),
                        expression: c.expression.clone(),
                        reason: err.to_string(),
                    });
                }
            }
        }
    }
    let ok = seen.values().filter(|&&v| v).count();
    (ok, failed)
}

/// The error constraints that apply to a node reached through `element` as `type_code`: the
/// element's own, those of the type's root element (`Quantity` for `qty-3`) and, for an
/// element defined by `contentReference`, those of the referenced element. Deduplicated by key.
pub(crate) fn constraints_for(
    spec: &'static Spec,
    element: &'static ElementDef,
    type_code: &'static str,
) -> Arc<[Rule]> {
    let key = (
        element as *const ElementDef as usize,
        type_code.as_ptr() as usize,
    );
    cached(key, || collect_constraints(spec, element, type_code))
}

fn collect_constraints(
    spec: &'static Spec,
    element: &'static ElementDef,
    type_code: &str,
) -> Vec<&'static Constraint> {
    let mut out: Vec<&'static Constraint> = Vec::new();
    let mut add = |e: &'static ElementDef| {
        for c in &e.constraints {
            if c.severity == ConstraintSeverity::Error && !out.iter().any(|o| o.key == c.key) {
                out.push(c);
            }
        }
    };
    add(element);
    if let Some(target) = element
        .content_reference
        .as_deref()
        .and_then(|p| spec.element(p))
    {
        add(target);
    }
    if !matches!(type_code, "BackboneElement" | "Element") {
        if let Some(root) = spec.type_def(type_code).and_then(|t| t.elements.first()) {
            add(root);
        }
    }
    out
}

/// The constraints of a resource type's root element (`dom-2`…`dom-6`, `bdl-1`…).
pub(crate) fn resource_constraints(spec: &'static Spec, resource_type: &str) -> Arc<[Rule]> {
    let Some(root) = spec
        .type_def(resource_type)
        .and_then(|t| t.elements.first())
    else {
        return Arc::from(Vec::new());
    };
    cached((root as *const ElementDef as usize, 0), || {
        root.constraints
            .iter()
            .filter(|c| c.severity == ConstraintSeverity::Error)
            .collect()
    })
}

/// `%resource` and `%rootResource` of the resource being walked, as FHIRPath items.
pub(crate) struct Roots<'v> {
    pub resource: Vec<Item<'v>>,
    pub root: Vec<Item<'v>>,
}

/// `%resource`, evaluated on a resource, is that resource as a typed node.
static THIS_RESOURCE: LazyLock<Option<Expression>> =
    LazyLock::new(|| Expression::compile("%resource").ok());

impl<'v> Roots<'v> {
    /// The roots for `resource`; `root` is the container's root for a contained resource.
    pub fn new(resource: &'v Value, root: Option<Vec<Item<'v>>>) -> Roots<'v> {
        let items = THIS_RESOURCE
            .as_ref()
            .and_then(|e| e.evaluate(resource).ok())
            .unwrap_or_default();
        Roots {
            root: root.unwrap_or_else(|| items.clone()),
            resource: items,
        }
    }
}

/// Evaluates `constraints` on `node`. `context_type` is the node's type or element path, or
/// `None` when the node is a resource (typed by its `resourceType`); `roots` are the enclosing
/// resources for `%resource`/`%rootResource` below the root. Violations are appended to
/// `issues`; the number of constraints that could not be evaluated is returned.
pub(crate) fn check<'v>(
    rules: &[Rule],
    node: &'v Value,
    context_type: Option<&str>,
    roots: Option<&Roots<'v>>,
    location: &str,
    issues: &mut Vec<Issue>,
) -> usize {
    let mut skipped = 0;
    let has_value = !node.is_object() && !node.is_array() && !node.is_null();
    for rule in rules {
        if has_value && rule.holds_with_value {
            continue;
        }
        let c = rule.constraint;
        let Some(expr) = &rule.expr else {
            skipped += 1;
            continue;
        };
        let mut ctx = EvalContext::new(node);
        if let Some(t) = context_type {
            ctx = ctx.with_context_type(t);
            if rule.needs_roots {
                let Some(roots) = roots.filter(|r| !r.resource.is_empty()) else {
                    skipped += 1;
                    continue;
                };
                ctx = ctx
                    .with_variable("resource", roots.resource.clone())
                    .with_variable("rootResource", roots.root.clone());
            }
        }
        match expr.evaluate_with(&ctx) {
            // The constraint fails only on a definite `false`; an empty result means the
            // expression had nothing to test.
            Ok(items) => {
                if items.len() == 1 && items[0].as_bool() == Some(false) {
                    issues.push(
                        Issue::error(
                            IssueType::Invariant,
                            location,
                            format!("constraint failed: {}", c.human),
                        )
                        .with_key(&c.key),
                    );
                }
            }
            Err(_) => skipped += 1,
        }
    }
    skipped
}
