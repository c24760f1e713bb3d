//! Index extraction: evaluates the FHIRPath `expression` of every search parameter of a
//! resource's type and turns each typed result node into [`IndexValue`]s. Expressions are
//! compiled once per resource type (lazily, shared between threads); an expression that does
//! not compile or fails to evaluate is skipped and reported, never a panic.

use crate::convert::index_values;
use crate::fhirpath_bridge::{Compiled, TypedNode};
use crate::index::{ContainedSource, IndexEntry, IndexValue};
use crate::registry::ParamRegistry;
use crosscare_spec::model::{SearchParamDef, SearchParamType};
use crosscare_spec::Spec;
use serde_json::Value;

/// A search parameter expression that could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedExpression {
    pub resource_type: String,
    pub param: String,
    pub expression: String,
    pub reason: String,
}

/// The index entries of one resource, using the R4 core parameters.
pub fn extract(resource_type: &str, resource: &Value) -> Vec<IndexEntry> {
    ParamRegistry::r4().extract(resource_type, resource).0
}

/// Every R4 core parameter expression that does not compile, over all resource types.
pub fn unsupported_expressions() -> Vec<UnsupportedExpression> {
    ParamRegistry::r4().unsupported_expressions()
}

/// One composite component: its type and expression.
#[derive(Debug)]
struct Component {
    param_type: SearchParamType,
    expr: Compiled,
}

/// One branch of a composite's expression with the type of the nodes it yields.
#[derive(Debug)]
struct CompositeBranch {
    expr: Compiled,
    context_type: String,
}

#[derive(Debug)]
enum Extraction {
    Simple(Compiled),
    Composite {
        branches: Vec<CompositeBranch>,
        components: Vec<Component>,
    },
}

#[derive(Debug)]
struct CompiledParam {
    code: String,
    param_type: SearchParamType,
    extraction: Extraction,
}

/// The compiled parameters of one resource type.
#[derive(Debug)]
pub(crate) struct CompiledTable {
    resource_type: String,
    params: Vec<CompiledParam>,
    unsupported: Vec<UnsupportedExpression>,
}

impl CompiledTable {
    /// Why the parameter `code` could not be compiled for this type, if it could not.
    pub(crate) fn unsupported_for(&self, code: &str) -> Option<&UnsupportedExpression> {
        self.unsupported.iter().find(|u| u.param == code)
    }

    pub(crate) fn build(registry: &ParamRegistry, resource_type: &str) -> CompiledTable {
        let mut table = CompiledTable {
            resource_type: resource_type.to_string(),
            params: Vec::new(),
            unsupported: Vec::new(),
        };
        for def in registry.params(resource_type) {
            if registry.derivation(resource_type, &def.code).is_some() {
                // Derived: its values are the rows of the parameters it is made of.
                continue;
            }
            let Some(expression) = def.expression.as_deref() else {
                // `_text`, `_content`, `_query` and the like have no expression by design.
                continue;
            };
            match compile_param(registry, resource_type, def, expression) {
                Ok(extraction) => table.params.push(CompiledParam {
                    code: def.code.clone(),
                    param_type: def.param_type,
                    extraction,
                }),
                Err(reason) => table.unsupported.push(UnsupportedExpression {
                    resource_type: resource_type.to_string(),
                    param: def.code.clone(),
                    expression: expression.to_string(),
                    reason,
                }),
            }
        }
        table
    }
}

/// The branches of a union expression (`A.x | B.y`) at top level.
pub(crate) fn union_branches(expression: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0usize, false);
    for (i, c) in expression.char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' | '[' if !quote => depth += 1,
            ')' | ']' if !quote => depth -= 1,
            '|' if !quote && depth == 0 => {
                out.push(expression[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(expression[start..].trim());
    out
}

/// Drops the union branches of a shared expression that start with another resource type
/// (`AllergyIntolerance.patient | CarePlan.subject…` for a `CarePlan`): they can never yield
/// anything for this type, and evaluating them on every write costs time.
pub(crate) fn branches_for_type(expression: &str, resource_type: &str) -> String {
    let spec = Spec::r4();
    let branches = union_branches(expression);
    if branches.len() < 2 {
        return expression.to_string();
    }
    let kept: Vec<&str> = branches
        .into_iter()
        .filter(|b| {
            let head = b.trim_start_matches('(');
            let first = head
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or_default();
            let names_a_type = first.starts_with(|c: char| c.is_ascii_uppercase())
                && spec
                    .type_def(first)
                    .is_some_and(|t| t.kind == crosscare_spec::model::TypeKind::Resource);
            !names_a_type || spec.is_subtype_of(resource_type, first)
        })
        .collect();
    if kept.is_empty() {
        // Keep the expression compilable; it selects nothing for this type.
        return "{}".to_string();
    }
    kept.join(" | ")
}

fn compile_param(
    registry: &ParamRegistry,
    resource_type: &str,
    def: &SearchParamDef,
    expression: &str,
) -> Result<Extraction, String> {
    if def.param_type != SearchParamType::Composite {
        return Compiled::compile(&branches_for_type(expression, resource_type))
            .map(Extraction::Simple);
    }
    // Composite: each branch that applies to this type is evaluated on its own so that the
    // nodes it yields have a known type for the component expressions.
    let spec = Spec::r4();
    let mut branches = Vec::new();
    for branch in union_branches(expression) {
        let applies = branch == resource_type || branch.starts_with(&format!("{resource_type}."));
        if !applies {
            continue;
        }
        let context_type = if branch == resource_type {
            resource_type.to_string()
        } else {
            let el = spec
                .element(branch)
                .ok_or_else(|| format!("composite branch '{branch}' is not an element path"))?;
            match el.types.first().map(|t| t.code.as_str()) {
                Some("BackboneElement" | "Element") | None => branch.to_string(),
                Some(code) => code.to_string(),
            }
        };
        branches.push(CompositeBranch {
            expr: Compiled::compile(branch)?,
            context_type,
        });
    }
    let mut components = Vec::new();
    for c in &def.component {
        let comp_def = registry
            .by_url(&c.definition)
            .ok_or_else(|| format!("unknown component definition {}", c.definition))?;
        components.push(Component {
            param_type: comp_def.param_type,
            expr: Compiled::compile(&c.expression)?,
        });
    }
    Ok(Extraction::Composite {
        branches,
        components,
    })
}

/// How expressions are evaluated: the production path, or the original one that copies every
/// result node (kept as the reference the production path is tested against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fast,
    Reference,
}

impl ParamRegistry {
    /// The index entries of a resource and of its contained resources (tagged with
    /// [`IndexEntry::contained`]), plus the expressions that failed on this resource.
    pub fn extract(
        &self,
        resource_type: &str,
        resource: &Value,
    ) -> (Vec<IndexEntry>, Vec<UnsupportedExpression>) {
        self.extract_with(resource_type, resource, Mode::Fast)
    }

    /// [`ParamRegistry::extract`] through the original evaluation path, which copies each
    /// result node into an owned typed node. Slower; kept so that a differential test can
    /// assert that the production path extracts exactly the same entries.
    #[doc(hidden)]
    pub fn extract_reference(
        &self,
        resource_type: &str,
        resource: &Value,
    ) -> (Vec<IndexEntry>, Vec<UnsupportedExpression>) {
        self.extract_with(resource_type, resource, Mode::Reference)
    }

    fn extract_with(
        &self,
        resource_type: &str,
        resource: &Value,
        mode: Mode,
    ) -> (Vec<IndexEntry>, Vec<UnsupportedExpression>) {
        let mut entries = Vec::new();
        let mut issues = Vec::new();
        self.extract_one(
            resource_type,
            resource,
            None,
            mode,
            &mut entries,
            &mut issues,
        );
        if let Some(contained) = resource.get("contained").and_then(Value::as_array) {
            for c in contained {
                let (Some(ty), Some(id)) = (
                    c.get("resourceType").and_then(Value::as_str),
                    c.get("id").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let source = ContainedSource {
                    id: id.to_string(),
                    resource_type: ty.to_string(),
                };
                self.extract_one(ty, c, Some(&source), mode, &mut entries, &mut issues);
            }
        }
        (entries, issues)
    }

    fn extract_one(
        &self,
        resource_type: &str,
        resource: &Value,
        contained: Option<&ContainedSource>,
        mode: Mode,
        entries: &mut Vec<IndexEntry>,
        issues: &mut Vec<UnsupportedExpression>,
    ) {
        let Some(table) = self.compiled(resource_type) else {
            return;
        };
        for p in &table.params {
            let result = match (&p.extraction, mode) {
                (Extraction::Simple(expr), Mode::Fast) => {
                    let mut values = Vec::new();
                    expr.for_each_node(resource, None, resource, &mut |ty, json| {
                        values.extend(index_values(p.param_type, ty, json, resource));
                        Ok(())
                    })
                    .map(|()| values)
                }
                (Extraction::Simple(expr), Mode::Reference) => {
                    expr.evaluate(resource, None, resource).map(|nodes| {
                        nodes
                            .iter()
                            .flat_map(|n| {
                                index_values(p.param_type, &n.fhir_type, &n.json, resource)
                            })
                            .collect::<Vec<_>>()
                    })
                }
                (
                    Extraction::Composite {
                        branches,
                        components,
                    },
                    Mode::Fast,
                ) => composite_values_fast(branches, components, resource),
                (
                    Extraction::Composite {
                        branches,
                        components,
                    },
                    Mode::Reference,
                ) => composite_values(branches, components, resource),
            };
            match result {
                Ok(values) => {
                    for value in dedup(values) {
                        entries.push(IndexEntry {
                            param: p.code.clone(),
                            value,
                            contained: contained.cloned(),
                        });
                    }
                }
                Err(reason) => issues.push(UnsupportedExpression {
                    resource_type: table.resource_type.clone(),
                    param: p.code.clone(),
                    expression: match &p.extraction {
                        Extraction::Simple(e) => e.source().to_string(),
                        Extraction::Composite { .. } => "(composite)".to_string(),
                    },
                    reason,
                }),
            }
        }
    }

    /// Compiles the tables of every resource type and lists the expressions that failed.
    pub fn unsupported_expressions(&self) -> Vec<UnsupportedExpression> {
        self.resource_types()
            .into_iter()
            .filter_map(|t| self.compiled(t))
            .flat_map(|t| t.unsupported.iter().cloned())
            .collect()
    }
}

fn dedup(values: Vec<IndexValue>) -> Vec<IndexValue> {
    let mut out: Vec<IndexValue> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// [`composite_values`] without copying the nodes: each composite node is borrowed from the
/// resource while its components are evaluated on it.
fn composite_values_fast(
    branches: &[CompositeBranch],
    components: &[Component],
    resource: &Value,
) -> Result<Vec<IndexValue>, String> {
    let mut out = Vec::new();
    for b in branches {
        b.expr
            .for_each_node(resource, None, resource, &mut |_, node| {
                // A component without values leaves the node without tuples, so the others
                // need not be evaluated. The last component (usually the value, which most
                // nodes of a `code-value-*` composite lack) is tried first.
                let mut per_component: Vec<Vec<IndexValue>> = vec![Vec::new(); components.len()];
                for (c, slot) in components.iter().zip(per_component.iter_mut()).rev() {
                    c.expr.for_each_node(
                        node,
                        Some(&b.context_type),
                        resource,
                        &mut |ty, json| {
                            slot.extend(index_values(c.param_type, ty, json, resource));
                            Ok(())
                        },
                    )?;
                    if slot.is_empty() {
                        return Ok(());
                    }
                }
                out.extend(tuples(per_component).into_iter().map(IndexValue::Composite));
                Ok(())
            })?;
    }
    Ok(out)
}

/// Every combination of one value per component, in component order.
fn tuples(per_component: Vec<Vec<IndexValue>>) -> Vec<Vec<IndexValue>> {
    let mut tuples: Vec<Vec<IndexValue>> = vec![Vec::new()];
    for values in per_component {
        let mut next = Vec::with_capacity(tuples.len() * values.len());
        for t in &tuples {
            for v in &values {
                let mut t2 = t.clone();
                t2.push(v.clone());
                next.push(t2);
            }
        }
        tuples = next;
    }
    tuples
}

/// One tuple per combination of component values, per composite node.
fn composite_values(
    branches: &[CompositeBranch],
    components: &[Component],
    resource: &Value,
) -> Result<Vec<IndexValue>, String> {
    let mut out = Vec::new();
    for b in branches {
        for node in b.expr.evaluate(resource, None, resource)? {
            let mut per_component: Vec<Vec<IndexValue>> = Vec::with_capacity(components.len());
            for c in components {
                let nodes: Vec<TypedNode> =
                    c.expr
                        .evaluate(&node.json, Some(&b.context_type), resource)?;
                let values: Vec<IndexValue> = nodes
                    .iter()
                    .flat_map(|n| index_values(c.param_type, &n.fhir_type, &n.json, resource))
                    .collect();
                per_component.push(values);
            }
            let mut tuples: Vec<Vec<IndexValue>> = vec![Vec::new()];
            for values in per_component {
                let mut next = Vec::with_capacity(tuples.len() * values.len());
                for t in &tuples {
                    for v in &values {
                        let mut t2 = t.clone();
                        t2.push(v.clone());
                        next.push(t2);
                    }
                }
                tuples = next;
            }
            out.extend(tuples.into_iter().map(IndexValue::Composite));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::union_branches;

    #[test]
    fn keeps_branches_of_this_type() {
        use super::branches_for_type;
        let e = "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | (Observation.value as Quantity)";
        assert_eq!(
            branches_for_type(e, "CarePlan"),
            "CarePlan.subject.where(resolve() is Patient)"
        );
        assert_eq!(
            branches_for_type(e, "Observation"),
            "(Observation.value as Quantity)"
        );
        assert_eq!(
            branches_for_type("Resource.id | x", "Patient"),
            "Resource.id | x"
        );
        assert_eq!(branches_for_type("A.b", "Patient"), "A.b");
        assert_eq!(branches_for_type("Account.a | Group.b", "Patient"), "{}");
    }

    #[test]
    fn splits_unions_at_top_level() {
        assert_eq!(union_branches("A.x | B.y"), vec!["A.x", "B.y"]);
        assert_eq!(
            union_branches("A.where(a | b) | C"),
            vec!["A.where(a | b)", "C"]
        );
        assert_eq!(union_branches("A.where(x = '|')"), vec!["A.where(x = '|')"]);
    }
}
