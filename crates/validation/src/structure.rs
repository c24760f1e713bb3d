//! The structural walk: every JSON property is resolved against the spec tables, checked for
//! shape, primitive form, cardinality and required bindings, and handed to the invariant
//! checker.
//!
//! The walk is driven by the data alone: each object is validated under a "children path"
//! (a type name such as `HumanName` or an inline element path such as `Patient.contact`) and
//! `Spec::child` resolves each property name, including choice types and inherited elements.

use std::collections::HashMap;

use crosscare_spec::model::ElementDef;
use crosscare_spec::Spec;
use serde_json::{Map, Value};

use crate::report::{Issue, IssueType};
use crate::{binding, invariant, primitive, ValidationOptions};

/// Nesting beyond which the walk stops, for values not produced by `parse_resource`.
const MAX_WALK_DEPTH: usize = 128;

pub(crate) struct Walker<'o> {
    spec: &'static Spec,
    options: &'o ValidationOptions,
    pub issues: Vec<Issue>,
    pub skipped_invariants: usize,
}

/// What is known about a property while its value is being checked.
#[derive(Clone, Copy)]
struct Slot<'a> {
    element: &'static ElementDef,
    type_code: &'static str,
    children_path: &'static str,
    loc: &'a str,
}

impl<'o> Walker<'o> {
    pub fn new(options: &'o ValidationOptions) -> Walker<'o> {
        Walker {
            spec: Spec::r4(),
            options,
            issues: Vec::new(),
            skipped_invariants: 0,
        }
    }

    fn error(&mut self, code: IssueType, loc: &str, message: impl Into<String>) {
        self.issues.push(Issue::error(code, loc, message));
    }

    /// Validates a resource at `loc` (its type name at the root, `Bundle.entry[0].resource`
    /// below). `in_contained` forbids a further `contained` (dom-2).
    pub fn resource(&mut self, value: &Value, loc: Option<&str>, in_contained: bool, depth: usize) {
        let Some(obj) = value.as_object() else {
            self.error(
                IssueType::Structure,
                loc.unwrap_or("Resource"),
                "a resource must be a JSON object",
            );
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(rt)) => rt.as_str(),
            Some(_) => {
                self.error(
                    IssueType::Structure,
                    loc.unwrap_or("Resource"),
                    "resourceType must be a string",
                );
                return;
            }
            None => {
                self.error(
                    IssueType::Required,
                    loc.unwrap_or("Resource"),
                    "resourceType is missing",
                );
                return;
            }
        };
        let Some(def) = self
            .spec
            .type_def(rt)
            .filter(|_| self.spec.is_resource_type(rt))
        else {
            self.error(
                IssueType::Invalid,
                &format!("{}.resourceType", loc.unwrap_or("Resource")),
                format!("unknown resource type {rt:?}"),
            );
            return;
        };
        let loc = loc.unwrap_or(def.name.as_str());
        if in_contained && obj.contains_key("contained") {
            self.issues.push(
                Issue::error(
                    IssueType::Structure,
                    &format!("{loc}.contained"),
                    "a contained resource must not contain resources",
                )
                .with_key("dom-2"),
            );
        }
        let clean = self.issues.len();
        self.object(obj, &def.name, loc, true, in_contained, depth + 1);
        if self.options.check_invariants && self.issues.len() == clean {
            let constraints = invariant::resource_constraints(self.spec, &def.name);
            self.skipped_invariants +=
                invariant::check(&constraints, value, None, loc, &mut self.issues);
        }
    }

    /// Validates the properties of one object whose children are defined under `path`.
    fn object(
        &mut self,
        obj: &Map<String, Value>,
        path: &'static str,
        loc: &str,
        is_resource: bool,
        in_contained: bool,
        depth: usize,
    ) {
        if depth > MAX_WALK_DEPTH {
            self.error(IssueType::Structure, loc, "nesting too deep");
            return;
        }
        if obj.is_empty() || (is_resource && obj.len() == 1) {
            self.issues.push(
                Issue::error(
                    IssueType::Structure,
                    loc,
                    "an object must have at least one property",
                )
                .with_key("ele-1"),
            );
            return;
        }
        // Number of values per element path, and the property name that supplied them (to
        // catch two variants of one choice, `valueString` with `valueQuantity`).
        let mut counts: HashMap<&'static str, (usize, &str)> = HashMap::new();
        for (key, value) in obj {
            if is_resource && key == "resourceType" {
                continue;
            }
            let (name, is_ext) = match key.strip_prefix('_') {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            let child_loc = format!("{loc}.{name}");
            let Some(child) = self.spec.child(path, name) else {
                self.error(
                    IssueType::Structure,
                    &child_loc,
                    format!("unknown element {key:?}"),
                );
                continue;
            };
            // The resource id is of type `id`; the tables carry its System type as `string`.
            let type_code = if is_resource && name == "id" {
                "id"
            } else {
                child.type_code
            };
            let is_primitive = primitive::is_primitive(type_code);
            let slot = Slot {
                element: child.element,
                type_code,
                children_path: child.children_path,
                loc: &child_loc,
            };
            let n = if is_ext {
                if !is_primitive {
                    self.error(
                        IssueType::Structure,
                        &child_loc,
                        format!("{key:?} is only allowed for primitive elements"),
                    );
                    continue;
                }
                self.primitive_extension(value, obj.get(name), slot, depth)
            } else {
                self.property(
                    value,
                    obj.get(&format!("_{name}")),
                    slot,
                    in_contained,
                    depth,
                )
            };
            let entry = counts
                .entry(child.element.path.as_str())
                .or_insert((0, name));
            if entry.1 != name {
                self.error(
                    IssueType::Structure,
                    &child_loc,
                    format!(
                        "only one of the choices for {} is allowed",
                        child.element.path
                    ),
                );
            }
            // A value and its `_name` sibling describe the same items.
            entry.0 = entry.0.max(n);
        }
        self.cardinality(path, loc, &counts);
    }

    /// Checks that each element defined under `path` occurs within its min and max.
    fn cardinality(
        &mut self,
        path: &str,
        loc: &str,
        counts: &HashMap<&'static str, (usize, &str)>,
    ) {
        for element in self.spec.children(path) {
            let n = counts.get(element.path.as_str()).map_or(0, |c| c.0);
            let name = element
                .path
                .rsplit('.')
                .next()
                .unwrap_or(&element.path)
                .trim_end_matches("[x]");
            if n < element.min as usize {
                self.error(
                    IssueType::Required,
                    &format!("{loc}.{name}"),
                    format!(
                        "{} requires at least {} value(s), found {n}",
                        element.path, element.min
                    ),
                );
            }
            if let Some(max) = element.max {
                if n > max as usize {
                    self.error(
                        IssueType::Structure,
                        &format!("{loc}.{name}"),
                        format!("{} allows at most {max} value(s), found {n}", element.path),
                    );
                }
            }
        }
    }

    /// Validates the value of a property (a single value or an array) and returns how many
    /// values it holds.
    fn property(
        &mut self,
        value: &Value,
        ext: Option<&Value>,
        slot: Slot<'_>,
        in_contained: bool,
        depth: usize,
    ) -> usize {
        let repeats = slot.element.max != Some(1) && slot.element.max != Some(0);
        match value {
            Value::Array(items) => {
                if !repeats {
                    self.error(
                        IssueType::Structure,
                        slot.loc,
                        "this element does not repeat and must not be an array",
                    );
                    return items.len();
                }
                if items.is_empty() {
                    self.error(IssueType::Structure, slot.loc, "an array must not be empty");
                    return 0;
                }
                let ext_items = ext.and_then(Value::as_array);
                for (i, item) in items.iter().enumerate() {
                    let loc = format!("{}[{i}]", slot.loc);
                    if item.is_null() {
                        let has_ext = ext_items
                            .and_then(|e| e.get(i))
                            .is_some_and(|e| !e.is_null());
                        if !primitive::is_primitive(slot.type_code) || !has_ext {
                            self.error(IssueType::Structure, &loc, "null is only allowed as a placeholder for a primitive with extensions");
                        }
                        continue;
                    }
                    self.item(item, Slot { loc: &loc, ..slot }, in_contained, depth);
                }
                items.len()
            }
            Value::Null => {
                self.error(IssueType::Structure, slot.loc, "null is not allowed");
                0
            }
            single => {
                if repeats {
                    self.error(
                        IssueType::Structure,
                        slot.loc,
                        "this element repeats and must be an array",
                    );
                }
                self.item(single, slot, in_contained, depth);
                1
            }
        }
    }

    /// Validates the `_name` sibling of a primitive: an object, or for a repeating primitive an
    /// array aligned with the values, with `null` where an item has no extensions.
    fn primitive_extension(
        &mut self,
        ext: &Value,
        value: Option<&Value>,
        slot: Slot<'_>,
        depth: usize,
    ) -> usize {
        let element_def = self.element_def();
        match (ext, value) {
            (Value::Array(items), value) => {
                if let Some(Value::Array(values)) = value {
                    if values.len() != items.len() {
                        self.error(
                            IssueType::Structure,
                            &format!("{}._", slot.loc),
                            format!(
                                "the extension array has {} items but the value array has {}",
                                items.len(),
                                values.len()
                            ),
                        );
                    }
                } else if value.is_some() {
                    self.error(
                        IssueType::Structure,
                        slot.loc,
                        "an extension array needs a value array",
                    );
                }
                if items.is_empty() || items.iter().all(Value::is_null) {
                    self.error(
                        IssueType::Structure,
                        slot.loc,
                        "an extension array must hold at least one object",
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Null => {}
                        Value::Object(obj) => {
                            let loc = format!("{}[{i}]", slot.loc);
                            self.object(obj, element_def, &loc, false, false, depth + 1);
                        }
                        _ => self.error(
                            IssueType::Structure,
                            &format!("{}[{i}]", slot.loc),
                            "primitive extensions must be objects",
                        ),
                    }
                }
                items.len()
            }
            (Value::Object(obj), value) => {
                if matches!(value, Some(Value::Array(_))) {
                    self.error(
                        IssueType::Structure,
                        slot.loc,
                        "extensions of a repeating primitive must be an array",
                    );
                }
                self.object(obj, element_def, slot.loc, false, false, depth + 1);
                1
            }
            _ => {
                self.error(
                    IssueType::Structure,
                    slot.loc,
                    "primitive extensions must be an object",
                );
                0
            }
        }
    }

    /// The children path of a primitive's `_name` object: `Element` (`id` and `extension`).
    fn element_def(&self) -> &'static str {
        "Element"
    }

    /// Validates one non-null value of an element.
    fn item(&mut self, value: &Value, slot: Slot<'_>, in_contained: bool, depth: usize) {
        let first_issue = self.issues.len();
        if slot.type_code == "Resource" {
            let contained = slot.element.path.ends_with(".contained");
            self.resource(value, Some(slot.loc), in_contained || contained, depth + 1);
            return;
        }
        if primitive::is_primitive(slot.type_code) {
            if let Err(e) = primitive::check(slot.type_code, value) {
                self.error(e.code, slot.loc, e.message);
            }
        } else if let Value::Object(obj) = value {
            self.object(
                obj,
                slot.children_path,
                slot.loc,
                false,
                in_contained,
                depth + 1,
            );
        } else {
            self.error(
                IssueType::Structure,
                slot.loc,
                format!("a {} must be a JSON object", slot.type_code),
            );
        }
        if self.issues.len() != first_issue {
            return;
        }
        if self.options.check_bindings {
            if let Some(message) = binding::check(slot.element, slot.type_code, value) {
                self.error(IssueType::CodeInvalid, slot.loc, message);
                return;
            }
        }
        if self.options.check_invariants {
            let constraints = invariant::constraints_for(self.spec, slot.element, slot.type_code);
            if !constraints.is_empty() {
                let context = if primitive::is_primitive(slot.type_code) {
                    slot.type_code
                } else {
                    slot.children_path
                };
                self.skipped_invariants += invariant::check(
                    &constraints,
                    value,
                    Some(context),
                    slot.loc,
                    &mut self.issues,
                );
            }
        }
    }
}
