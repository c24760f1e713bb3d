//! FHIRPath invariants (`ele-1`, `dom-2`, `obs-6`, …) of severity `error`, evaluated with
//! `crosscare-fhirpath`.
//!
//! Each constraint is compiled once, on first use, and cached by its identity in the static
//! spec tables (one entry per element path and key). A constraint the engine cannot compile or
//! evaluate is skipped and counted, never reported as a violation; so is a constraint that
//! refers to `%resource`/`%rootResource` while evaluated on a node below the resource root,
//! where the engine would bind those variables to the node.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use crosscare_fhirpath::{EvalContext, Expression};
use crosscare_spec::model::{Constraint, ConstraintSeverity, ElementDef};
use crosscare_spec::Spec;
use serde_json::Value;

use crate::report::{Issue, IssueType};

/// Compiled constraints by the address of their `Constraint` in the static spec tables;
/// `None` records a compile failure so it is attempted only once.
static COMPILED: LazyLock<RwLock<HashMap<usize, Option<Expression>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

fn compiled(constraint: &'static Constraint) -> Option<Expression> {
    let id = constraint as *const Constraint as usize;
    if let Ok(cache) = COMPILED.read() {
        if let Some(entry) = cache.get(&id) {
            return entry.clone();
        }
    }
    let expr = Expression::compile(&constraint.expression).ok();
    if let Ok(mut cache) = COMPILED.write() {
        cache.insert(id, expr.clone());
    }
    expr
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
pub(crate) fn resource_constraints(
    spec: &'static Spec,
    resource_type: &str,
) -> Vec<&'static Constraint> {
    spec.type_def(resource_type)
        .and_then(|t| t.elements.first())
        .map(|root| {
            root.constraints
                .iter()
                .filter(|c| c.severity == ConstraintSeverity::Error)
                .collect()
        })
        .unwrap_or_default()
}

/// Evaluates `constraints` on `node`. `context_type` is the node's type or element path, or
/// `None` when the node is a resource (typed by its `resourceType`). Violations are appended to
/// `issues`; the number of constraints that could not be evaluated is returned.
pub(crate) fn check(
    constraints: &[&'static Constraint],
    node: &Value,
    context_type: Option<&str>,
    location: &str,
    issues: &mut Vec<Issue>,
) -> usize {
    let mut skipped = 0;
    for &c in constraints {
        if context_type.is_some()
            && (c.expression.contains("%resource") || c.expression.contains("%rootResource"))
        {
            skipped += 1;
            continue;
        }
        let Some(expr) = compiled(c) else {
            skipped += 1;
            continue;
        };
        let ctx = match context_type {
            Some(t) => EvalContext::new(node).with_context_type(t),
            None => EvalContext::new(node),
        };
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
