//! Type specifiers and type tests (`is`, `as`, `ofType`) over System and FHIR types.

use crosscare_spec::Spec;

use crate::value::{Item, NodeKind, Prim};

/// A type name as written (`Patient`, `FHIR.Quantity`, `System.String`), split into namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeSpec {
    /// `Some("FHIR")` or `Some("System")` when qualified.
    pub namespace: Option<String>,
    pub name: String,
}

const SYSTEM_TYPES: [&str; 9] = [
    "Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity", "Any",
];

impl TypeSpec {
    pub fn parse(text: &str) -> TypeSpec {
        match text.split_once('.') {
            Some((ns, name)) => TypeSpec {
                namespace: Some(ns.to_string()),
                name: name.to_string(),
            },
            None => TypeSpec {
                namespace: None,
                name: text.to_string(),
            },
        }
    }

    /// True when the name denotes a type FHIRPath knows (System or FHIR).
    pub fn is_known(&self) -> bool {
        let spec = Spec::r4();
        match self.namespace.as_deref() {
            Some("System" | "FHIR") => true,
            None => {
                SYSTEM_TYPES.contains(&self.name.as_str()) || spec.type_def(&self.name).is_some()
            }
            Some(_) => false,
        }
    }

    /// Whether the item is of this type or a subtype of it.
    pub fn matches(&self, item: &Item<'_>) -> bool {
        self.matches_with(item, false)
    }

    /// Type test; with `exact_primitives`, a FHIR primitive matches only its own type name
    /// (`as(string)` on a `code` is empty while `is(string)` is true, as the R4 suite expects).
    pub fn matches_with(&self, item: &Item<'_>, exact_primitives: bool) -> bool {
        let spec = Spec::r4();
        match item {
            Item::Node(n) if !n.fhir_type.is_empty() => {
                if self.namespace.as_deref() == Some("System") {
                    return false;
                }
                if exact_primitives && crate::value::system_type_of(n.fhir_type).is_some() {
                    // FHIR primitive types match exactly: a `code` is not a `string` here.
                    return n.fhir_type == self.name;
                }
                spec.is_subtype_of(n.fhir_type, &self.name)
            }
            _ => {
                if self.namespace.as_deref() == Some("FHIR") {
                    return false;
                }
                let p = item.prim();
                if matches!(p, Prim::Complex) {
                    return false;
                }
                self.name == "Any" || p.system_name() == self.name
            }
        }
    }
}

/// The `'static` type name and children path for a type name or element path.
pub(crate) fn static_type(spec: &'static Spec, name: &str) -> (&'static str, &'static str) {
    if let Some(t) = spec.type_def(name) {
        return (t.name.as_str(), t.name.as_str());
    }
    if let Some(e) = spec.element(name) {
        let code = e
            .types
            .first()
            .map_or("BackboneElement", |t| t.code.as_str());
        return match code {
            "BackboneElement" | "Element" => (code, e.path.as_str()),
            other => static_type(spec, other),
        };
    }
    ("", "")
}

/// The type and spec path a child is created with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildType {
    pub fhir_type: &'static str,
    pub path: &'static str,
    pub kind: NodeKind,
    /// The element holds a resource of any type (`contained`, `Bundle.entry.resource`), or is
    /// untyped: its type comes from the JSON `resourceType`.
    pub typed_by_json: bool,
}

/// The child type of nodes whose parent has no known type.
pub(crate) const UNTYPED: ChildType = ChildType {
    fhir_type: "",
    path: "",
    kind: NodeKind::Unknown,
    typed_by_json: true,
};

/// The child `name` under the spec path `path`, and whether it was reached through a choice
/// element (`valueQuantity` under `value[x]`); `None` when the spec defines no such child.
pub(crate) fn resolve_child(
    spec: &'static Spec,
    path: &'static str,
    name: &str,
) -> Option<(ChildType, bool)> {
    let c = spec.child(path, name)?;
    let fhir_type = if c.element.content_reference.is_some() {
        "BackboneElement"
    } else {
        c.type_code
    };
    Some((
        ChildType {
            fhir_type,
            path: c.children_path,
            kind: NodeKind::of(fhir_type),
            typed_by_json: matches!(fhir_type, "Resource" | "DomainResource"),
        },
        c.is_choice,
    ))
}
