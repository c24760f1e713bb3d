//! The evaluation context: input resource, variables, limits and pluggable resolver/terminology.

use std::collections::HashMap;

use serde_json::Value;

use crate::value::{Item, JsonRef, Node, NodeKind};

/// Resolves a reference string (`Patient/123`, an absolute URL) to a resource, for `resolve()`
/// beyond the Bundle and contained resources the evaluator handles itself.
pub trait Resolver: Sync {
    fn resolve(&self, reference: &str) -> Option<Value>;
}

/// Terminology services for `memberOf()`. `None` means "unknown", which yields an empty result.
pub trait Terminology: Sync {
    fn member_of(&self, system: Option<&str>, code: &str, value_set: &str) -> Option<bool>;
}

/// Bounds on work and memory so that no input can make evaluation run away.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum evaluation steps (node visits and function calls).
    pub max_steps: u64,
    /// Maximum size of any intermediate collection.
    pub max_collection: usize,
    /// Maximum length of a string built during evaluation, in bytes.
    pub max_string: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_collection: 1_000_000,
            max_string: 16 * 1024 * 1024,
        }
    }
}

/// Everything an evaluation needs besides the expression.
pub struct EvalContext<'a> {
    pub(crate) resource: &'a Value,
    /// The containing resource for `%resource`/`%rootResource` when the focus is an element.
    pub(crate) container: Option<&'a Value>,
    pub(crate) root_type: Option<String>,
    pub(crate) variables: HashMap<String, Vec<Item<'a>>>,
    pub(crate) resolver: Option<&'a dyn Resolver>,
    pub(crate) terminology: Option<&'a dyn Terminology>,
    pub(crate) limits: Limits,
}

impl<'a> EvalContext<'a> {
    pub fn new(resource: &'a Value) -> EvalContext<'a> {
        EvalContext {
            resource,
            container: None,
            root_type: None,
            variables: HashMap::new(),
            resolver: None,
            terminology: None,
            limits: Limits::default(),
        }
    }

    /// Adds `%name`; a user variable shadows a built-in of the same name.
    pub fn with_variable(mut self, name: &str, value: Vec<Item<'a>>) -> EvalContext<'a> {
        self.variables.insert(name.to_string(), value);
        self
    }

    pub fn with_resolver(mut self, resolver: &'a dyn Resolver) -> EvalContext<'a> {
        self.resolver = Some(resolver);
        self
    }

    pub fn with_terminology(mut self, terminology: &'a dyn Terminology) -> EvalContext<'a> {
        self.terminology = Some(terminology);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> EvalContext<'a> {
        self.limits = limits;
        self
    }

    /// Sets `%resource` and `%rootResource` to the resource that contains the focus node (for
    /// invariants evaluated on an element). `resolve()` of `#id` looks in its `contained`.
    pub fn with_resource(mut self, resource: &'a Value) -> EvalContext<'a> {
        self.container = Some(resource);
        self
    }

    /// Evaluates on a node that is not a resource: `type_name` is its FHIR type (`HumanName`)
    /// or an element path (`Patient.contact`).
    pub fn with_context_type(mut self, type_name: &str) -> EvalContext<'a> {
        self.root_type = Some(type_name.to_string());
        self
    }

    /// The root item: the resource (typed by `resourceType`) or the node of the given type.
    pub(crate) fn root_item(&self) -> Item<'a> {
        let spec = crosscare_spec::Spec::r4();
        let name = match &self.root_type {
            Some(t) => Some(t.as_str()),
            None => resource_type(self.resource),
        };
        let Some(name) = name else {
            return Item::node(JsonRef::Borrowed(self.resource), "", "");
        };
        let root = cached_root_type(spec, name);
        Item::Node(Node {
            value: Some(JsonRef::Borrowed(self.resource)),
            ext: None,
            fhir_type: root.fhir_type,
            path: root.path,
            kind: root.kind,
        })
    }

    /// The item for `%resource`: the containing resource if one was given, else the root.
    pub(crate) fn resource_item(&self) -> Option<Item<'a>> {
        let r = self.container?;
        let spec = crosscare_spec::Spec::r4();
        let name = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
        let (fhir_type, path) = crate::types::static_type(spec, name);
        Some(Item::node(JsonRef::Borrowed(r), fhir_type, path))
    }
}

/// The `resourceType` of a resource object, found without hashing for small objects (it is
/// almost always the first key).
fn resource_type(v: &Value) -> Option<&str> {
    let Value::Object(map) = v else { return None };
    match map.iter().next() {
        Some((k, Value::String(s))) if k == "resourceType" => Some(s),
        _ => map.get("resourceType").and_then(Value::as_str),
    }
}

/// A root type name resolved to its static type, spec path and node kind.
#[derive(Clone, Copy)]
struct RootType {
    name: &'static str,
    fhir_type: &'static str,
    path: &'static str,
    kind: NodeKind,
}

const NO_ROOT: RootType = RootType {
    name: "",
    fhir_type: "",
    path: "",
    kind: NodeKind::Unknown,
};

thread_local! {
    /// The last root type looked up: evaluations over many resources of one type hit it.
    static LAST_ROOT: std::cell::Cell<RootType> = const { std::cell::Cell::new(NO_ROOT) };
}

fn cached_root_type(spec: &'static crosscare_spec::Spec, name: &str) -> RootType {
    let last = LAST_ROOT.with(std::cell::Cell::get);
    if !last.name.is_empty() && last.name == name {
        return last;
    }
    let (fhir_type, path) = crate::types::static_type(spec, name);
    let found = RootType {
        // The spec's own copy of the name, so that the cache holds no borrowed input.
        name: if fhir_type == name { fhir_type } else { path },
        fhir_type,
        path,
        kind: NodeKind::of(fhir_type),
    };
    if found.name == name {
        LAST_ROOT.with(|c| c.set(found));
    }
    found
}
