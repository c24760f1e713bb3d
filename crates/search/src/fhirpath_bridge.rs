//! The one place this crate calls the FHIRPath engine: compile an expression, evaluate it on a
//! resource (or on a node of a known type), and hand back typed JSON nodes.

use crosscare_fhirpath::{EvalContext, Expression, Item, Resolver};
use serde_json::{json, Value};
use std::sync::LazyLock;

/// One result node: its FHIR type (inferred from the JSON for System values) and its JSON.
#[derive(Debug, Clone)]
pub(crate) struct TypedNode {
    pub fhir_type: String,
    pub json: Value,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    expr: Expression,
}

/// `$this`, to obtain the root item of a resource for `%resource`.
static THIS: LazyLock<Option<Expression>> = LazyLock::new(|| Expression::compile("$this").ok());

/// Resolves a literal reference to a stub resource that has only its type and id: enough for
/// the `where(resolve() is Patient)` filters of the spec's search expressions, without reading
/// the store during indexing.
struct TypeOnlyResolver;

impl Resolver for TypeOnlyResolver {
    fn resolve(&self, reference: &str) -> Option<Value> {
        let r = crate::param::reference::ReferenceValue::parse(reference);
        let ty = r.resource_type?;
        Some(json!({"resourceType": ty, "id": r.id}))
    }
}

static RESOLVER: TypeOnlyResolver = TypeOnlyResolver;

fn typed(item: &Item<'_>) -> TypedNode {
    let json = item.to_json();
    let fhir_type = type_of(item, &json).to_string();
    TypedNode { fhir_type, json }
}

/// The FHIR type of an item: its node type, or for System values the type its JSON implies.
fn type_of<'i>(item: &'i Item<'_>, json: &Value) -> &'i str {
    match item.fhir_type() {
        Some(t) => t,
        None => match json {
            Value::Bool(_) => "boolean",
            Value::Number(_) => "decimal",
            Value::String(_) => "string",
            Value::Object(o) if o.contains_key("unit") => "Quantity",
            _ => "",
        },
    }
}

static NULL: Value = Value::Null;

/// Calls `f` with the type and JSON of an item, borrowing the JSON of input nodes instead of
/// copying it (what [`Item::to_json`] returns, without the copy).
fn with_typed<R>(item: &Item<'_>, f: &mut dyn FnMut(&str, &Value) -> R) -> R {
    let borrowed = match item {
        Item::Node(_) => Some(
            item.json()
                .or_else(|| item.primitive_extension())
                .unwrap_or(&NULL),
        ),
        _ => None,
    };
    match borrowed {
        Some(json) => f(type_of(item, json), json),
        None => {
            let json = item.to_json();
            f(type_of(item, &json), &json)
        }
    }
}

/// `a.b.c as Type`, where the operand is a plain path.
static PATH_AS: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(
        r"\b([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+)\s+as\s+([A-Za-z][A-Za-z0-9_]*)",
    )
    .ok()
});

/// The published R4 search expressions apply the `as` operator to collections
/// (`Observation.component.value as Quantity`), which FHIRPath defines as an error for more
/// than one item. For a plain path operand, `path as T` is rewritten to `path.ofType(T)`: the
/// same result for one item, and the intended filter for several.
pub(crate) fn rewrite_as_on_paths(src: &str) -> String {
    match PATH_AS.as_ref() {
        Some(re) => re.replace_all(src, "$1.ofType($2)").into_owned(),
        None => src.to_string(),
    }
}

impl Compiled {
    pub fn compile(src: &str) -> Result<Compiled, String> {
        Expression::compile(&rewrite_as_on_paths(src))
            .map(|expr| Compiled { expr })
            .map_err(|e| e.to_string())
    }

    pub fn source(&self) -> &str {
        self.expr.source()
    }

    /// Evaluates on `root` like [`Compiled::evaluate`] and calls `f` with the type and JSON of
    /// each result node in order, borrowing the JSON from `root` where it comes from there.
    pub fn for_each_node(
        &self,
        root: &Value,
        context_type: Option<&str>,
        resource: &Value,
        f: &mut dyn FnMut(&str, &Value) -> Result<(), String>,
    ) -> Result<(), String> {
        // Most of a type's parameters name elements this resource does not have.
        if self.expr.is_empty_on(root) {
            return Ok(());
        }
        let mut ctx = EvalContext::new(root).with_resolver(&RESOLVER);
        if let Some(t) = context_type {
            // `%resource` is the resource the node belongs to; set as the container, it costs
            // no evaluation and no variable map (a composite evaluates this per component).
            ctx = ctx.with_context_type(t).with_resource(resource);
        }
        // As in `evaluate`, an engine defect is an evaluation error, not a crash.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.expr.evaluate_with(&ctx)
        }));
        let items = match run {
            Ok(result) => result.map_err(|e| e.to_string())?,
            Err(_) => return Err(format!("FHIRPath engine panicked on '{}'", self.source())),
        };
        for item in &items {
            with_typed(item, f)?;
        }
        Ok(())
    }

    /// Evaluates on `root`; `context_type` types a non-resource root (`UsageContext`,
    /// `Observation.component`), and `resource` is `%resource` then.
    pub fn evaluate(
        &self,
        root: &Value,
        context_type: Option<&str>,
        resource: &Value,
    ) -> Result<Vec<TypedNode>, String> {
        let mut ctx = EvalContext::new(root).with_resolver(&RESOLVER);
        if let Some(t) = context_type {
            ctx = ctx.with_context_type(t);
            if let Some(this) = THIS.as_ref() {
                let items = this.evaluate(resource).map_err(|e| e.to_string())?;
                ctx = ctx.with_variable("resource", items);
            }
        }
        // A defect in the engine must not turn a write into a crash: a panic during evaluation
        // is reported like an evaluation error and the parameter is skipped.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.expr
                .evaluate_with(&ctx)
                .map(|items| items.iter().map(typed).collect::<Vec<_>>())
        }));
        match run {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("FHIRPath engine panicked on '{}'", self.source())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite_as_on_paths;

    fn check(input: &str, expected: &str) {
        assert_eq!(rewrite_as_on_paths(input), expected);
    }

    #[test]
    fn rewrites_as_on_paths_only() {
        check(
            "(Observation.component.value as Quantity) | (Observation.value as SampledData)",
            "(Observation.component.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))",
        );
        check("value.as(Quantity)", "value.as(Quantity)");
        check(
            "Patient.name.where(x = 'a as b')",
            "Patient.name.where(x = 'a as b')",
        );
    }
}
