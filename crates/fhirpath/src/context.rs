//! The evaluation context: input resource, variables, limits and pluggable resolver/terminology.

use std::collections::HashMap;

use serde_json::Value;

use crate::value::{Item, JsonRef};

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
            None => self.resource.get("resourceType").and_then(Value::as_str),
        };
        let (fhir_type, path) = name.map_or(("", ""), |n| crate::types::static_type(spec, n));
        Item::node(JsonRef::Borrowed(self.resource), fhir_type, path)
    }
}
