//! Tree navigation: member access with FHIR types (choice types, primitive `_name` siblings),
//! `children()` and `descendants()`.

use crosscare_spec::Spec;
use serde_json::Value;

use super::{Engine, EvalResult, Items};
use crate::compile::Func;
use crate::types::static_type;
use crate::value::{system_type_of, Item, JsonRef, Node};

/// The type and spec path a child is created with.
#[derive(Clone, Copy)]
struct ChildType {
    fhir_type: &'static str,
    path: &'static str,
}

const UNTYPED: ChildType = ChildType {
    fhir_type: "",
    path: "",
};

impl<'c, 'a> Engine<'c, 'a> {
    /// `focus.name` for every item of the focus.
    pub fn members(&self, focus: &[Item<'a>], name: &str) -> EvalResult<'a> {
        let mut out = Vec::new();
        for item in focus {
            if let Item::Node(n) = item {
                self.step(1)?;
                member(n, name, &mut out);
                self.check_size(&out)?;
            }
        }
        Ok(out)
    }

    pub(super) fn navigation(&self, func: Func, focus: Items<'a>) -> EvalResult<'a> {
        let mut out = Vec::new();
        match func {
            Func::Children => {
                for item in &focus {
                    self.step(1)?;
                    children(item, &mut out);
                }
            }
            _ => {
                // Iterative walk so that deeply nested input cannot exhaust the stack.
                let mut stack: Vec<Item<'a>> = Vec::new();
                for item in focus.iter().rev() {
                    stack.push(item.clone());
                }
                let mut level = Vec::new();
                while let Some(item) = stack.pop() {
                    self.step(1)?;
                    level.clear();
                    children(&item, &mut level);
                    for c in level.drain(..).rev() {
                        out.push(c.clone());
                        stack.push(c);
                    }
                    self.check_size(&out)?;
                }
                // `descendants()` lists each level before going deeper in some engines; order
                // is not defined by the specification, so document order is kept.
            }
        }
        self.check_size(&out)?;
        Ok(out)
    }
}

fn child_type(spec: &'static Spec, parent: &Node<'_>, name: &str) -> Option<(ChildType, bool)> {
    if parent.path.is_empty() {
        return Some((UNTYPED, false));
    }
    let c = spec.child(parent.path, name)?;
    let fhir_type = if c.element.content_reference.is_some() {
        "BackboneElement"
    } else {
        c.type_code
    };
    Some((
        ChildType {
            fhir_type,
            path: c.children_path,
        },
        c.is_choice,
    ))
}

/// The object holding a node's children: the value itself, or the `_name` object of a primitive.
fn source<'n, 'a>(n: &'n Node<'a>) -> Option<&'n JsonRef<'a>> {
    match &n.value {
        Some(v) if v.get().is_object() => Some(v),
        _ => n.ext.as_ref(),
    }
}

fn member<'a>(n: &Node<'a>, name: &str, out: &mut Items<'a>) {
    let Some(src) = source(n) else { return };
    let Value::Object(obj) = src.get() else {
        return;
    };
    let spec = Spec::r4();
    match child_type(spec, n, name) {
        Some((ty, false)) => push_key(src, name, ty, out),
        Some((_, true)) => {}
        None => {
            if n.path.is_empty() {
                return;
            }
            // A choice element: `value` finds `valueQuantity`, `valueString`, ...
            for key in obj.keys() {
                let Some(rest) = key.strip_prefix(name) else {
                    continue;
                };
                if !rest.starts_with(|c: char| c.is_ascii_uppercase()) {
                    continue;
                }
                if let Some((ty, true)) = child_type(spec, n, key) {
                    push_key(src, key, ty, out);
                }
            }
            if obj.is_empty() {
                return;
            }
            // Primitive choice values that carry only extensions (`_valueString`).
            for key in obj.keys() {
                let Some(base) = key.strip_prefix('_') else {
                    continue;
                };
                let Some(rest) = base.strip_prefix(name) else {
                    continue;
                };
                if !rest.starts_with(|c: char| c.is_ascii_uppercase()) || obj.contains_key(base) {
                    continue;
                }
                if let Some((ty, true)) = child_type(spec, n, base) {
                    push_key(src, base, ty, out);
                }
            }
        }
    }
}

/// Pushes the value(s) under `key` of `src`, pairing primitives with their `_key` sibling.
fn push_key<'a>(src: &JsonRef<'a>, key: &str, ty: ChildType, out: &mut Items<'a>) {
    let value = src.project(|o| o.get(key));
    let primitive = ty.fhir_type.is_empty() || system_type_of(ty.fhir_type).is_some();
    let ext = if primitive {
        let ext_key = format!("_{key}");
        src.project(|o| o.get(ext_key.as_str()))
    } else {
        None
    };
    push_values(value, ext, ty, out);
}

fn len_of(v: &Option<JsonRef<'_>>) -> Option<usize> {
    v.as_ref().and_then(|j| j.get().as_array().map(Vec::len))
}

fn push_values<'a>(
    value: Option<JsonRef<'a>>,
    ext: Option<JsonRef<'a>>,
    ty: ChildType,
    out: &mut Items<'a>,
) {
    let (lv, le) = (len_of(&value), len_of(&ext));
    if lv.is_some() || le.is_some() {
        let n = lv.unwrap_or(0).max(le.unwrap_or(0));
        for i in 0..n {
            let v = value.as_ref().and_then(|j| j.project(|a| a.get(i)));
            let e = ext.as_ref().and_then(|j| j.project(|a| a.get(i)));
            push_one(v, e, ty, out);
        }
    } else {
        push_one(value, ext, ty, out);
    }
}

fn push_one<'a>(
    value: Option<JsonRef<'a>>,
    ext: Option<JsonRef<'a>>,
    ty: ChildType,
    out: &mut Items<'a>,
) {
    let value = value.filter(|v| !v.get().is_null());
    let ext = ext.filter(|v| !v.get().is_null());
    if value.is_none() && ext.is_none() {
        return;
    }
    let mut ty = ty;
    if matches!(ty.fhir_type, "Resource" | "DomainResource")
        || (ty.fhir_type.is_empty() && ty.path.is_empty())
    {
        if let Some(rt) = value
            .as_ref()
            .and_then(|v| v.get().get("resourceType"))
            .and_then(Value::as_str)
        {
            let (t, p) = static_type(Spec::r4(), rt);
            if !t.is_empty() {
                ty = ChildType {
                    fhir_type: t,
                    path: p,
                };
            }
        }
    }
    out.push(Item::Node(Node {
        value,
        ext,
        fhir_type: ty.fhir_type,
        path: ty.path,
    }));
}

/// All child nodes of an item in document order (skipping `resourceType` and `_name` keys,
/// which are folded into their primitive).
pub(crate) fn children<'a>(item: &Item<'a>, out: &mut Items<'a>) {
    let Item::Node(n) = item else { return };
    let Some(src) = source(n) else { return };
    let Value::Object(obj) = src.get() else {
        return;
    };
    let spec = Spec::r4();
    for key in obj.keys() {
        if key == "resourceType" {
            continue;
        }
        if let Some(base) = key.strip_prefix('_') {
            if obj.contains_key(base) {
                continue;
            }
            let ty = child_type(spec, n, base).map_or(UNTYPED, |(t, _)| t);
            push_values(None, src.project(|o| o.get(key.as_str())), ty, out);
            continue;
        }
        let ty = child_type(spec, n, key).map_or(UNTYPED, |(t, _)| t);
        push_key(src, key, ty, out);
    }
}
