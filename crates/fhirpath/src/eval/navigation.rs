//! Tree navigation: member access with FHIR types (choice types, primitive `_name` siblings),
//! `children()` and `descendants()`.

use std::cell::RefCell;

use crosscare_spec::Spec;
use serde_json::Value;

use super::{Engine, EvalResult, Items};
use crate::compile::Func;
use crate::infer::MemberHint;
use crate::types::{resolve_child, static_type, ChildType, UNTYPED};
use crate::value::{Item, JsonRef, Node, NodeKind};
use crate::EvalError;

impl<'c, 'a> Engine<'c, 'a> {
    /// `focus.name` for every item of the focus.
    pub fn members(
        &self,
        focus: &[Item<'a>],
        name: &str,
        hint: Option<&MemberHint>,
    ) -> EvalResult<'a> {
        // Several parents usually give several children each: room for two per parent saves
        // the reallocations of growing from empty.
        let mut out = match focus.len() {
            0 | 1 => Vec::new(),
            n => Vec::with_capacity(n * 2),
        };
        for item in focus {
            if let Item::Node(n) = item {
                self.members_into(n, name, hint, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Appends `node.name` to `out`, using the compile-time resolution when it applies.
    pub fn members_into(
        &self,
        n: &Node<'a>,
        name: &str,
        hint: Option<&MemberHint>,
        out: &mut Items<'a>,
    ) -> Result<(), EvalError> {
        self.step(1)?;
        member(n, name, hint, out);
        self.check_size(out)
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

/// One slot of the direct-mapped child cache.
struct CacheSlot {
    path: (usize, usize),
    name: Box<str>,
    resolved: Option<(ChildType, bool)>,
}

const CACHE_SLOTS: usize = 4096;

thread_local! {
    /// Resolved children per (spec path, member name). Spec lookups allocate and walk the type
    /// hierarchy, so results are kept in a direct-mapped cache: one hash, one comparison, and
    /// a bounded size whatever names the input JSON uses.
    static CHILD_CACHE: RefCell<Vec<Option<CacheSlot>>> =
        RefCell::new((0..CACHE_SLOTS).map(|_| None).collect());
}

fn slot_index(path: (usize, usize), name: &str) -> usize {
    let mut h = (path.0 as u64) ^ ((path.1 as u64) << 32);
    for chunk in name.as_bytes().chunks(8) {
        let mut buf = [0u8; 8];
        buf[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    (h >> 40) as usize % CACHE_SLOTS
}

fn child_type(spec: &'static Spec, parent: &Node<'_>, name: &str) -> Option<(ChildType, bool)> {
    if parent.path.is_empty() {
        return Some((UNTYPED, false));
    }
    let path = (parent.path.as_ptr() as usize, parent.path.len());
    let idx = slot_index(path, name);
    CHILD_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(Some(slot)) = cache.get(idx) {
            if slot.path == path && &*slot.name == name {
                return slot.resolved;
            }
        }
        let resolved = resolve_child(spec, parent.path, name);
        if let Some(entry) = cache.get_mut(idx) {
            *entry = Some(CacheSlot {
                path,
                name: name.into(),
                resolved,
            });
        }
        resolved
    })
}

/// The object holding a node's children: the value itself, or the `_name` object of a primitive.
fn source<'n, 'a>(n: &'n Node<'a>) -> Option<&'n JsonRef<'a>> {
    match &n.value {
        Some(v) if v.get().is_object() => Some(v),
        _ => n.ext.as_ref(),
    }
}

fn member<'a>(n: &Node<'a>, name: &str, hint: Option<&MemberHint>, out: &mut Items<'a>) {
    let Some(src) = source(n) else { return };
    let Value::Object(obj) = src.get() else {
        return;
    };
    let spec = Spec::r4();
    let resolved = match hint.and_then(|h| h.lookup(n.path)) {
        Some(resolved) => resolved,
        None => {
            let resolved = child_type(spec, n, name);
            if let Some(h) = hint {
                h.remember(n.path, resolved);
            }
            resolved
        }
    };
    match resolved {
        Some((ty, false)) => push_key(src, name, &ty, out),
        Some((_, true)) => {}
        None => {
            if n.path.is_empty() {
                return;
            }
            // A choice element: `value` finds `valueQuantity`, `valueString`, ...
            for key in obj.keys() {
                if !is_choice_key(key, name) {
                    continue;
                }
                if let Some((ty, true)) = child_type(spec, n, key) {
                    push_key(src, key, &ty, out);
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
                if !is_choice_key(base, name) || obj.contains_key(base) {
                    continue;
                }
                if let Some((ty, true)) = child_type(spec, n, base) {
                    push_key(src, base, &ty, out);
                }
            }
        }
    }
}

/// Whether `key` is a JSON key of the choice element `name` (`valueQuantity` for `value`).
pub(crate) fn is_choice_key(key: &str, name: &str) -> bool {
    key.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// Pushes the value(s) under `key` of `src`, pairing primitives with their `_key` sibling.
fn push_key<'a>(src: &JsonRef<'a>, key: &str, ty: &ChildType, out: &mut Items<'a>) {
    let primitive = !matches!(ty.kind, NodeKind::Complex | NodeKind::Quantity);
    if let JsonRef::Borrowed(o) = src {
        let o: &'a Value = o;
        let value = field(o, key).map(JsonRef::Borrowed);
        let ext = if primitive {
            ext_field(o, key).map(JsonRef::Borrowed)
        } else {
            None
        };
        push_values(value, ext, ty, out);
        return;
    }
    let value = src.project(|o| field(o, key));
    let ext = if primitive {
        src.project(|o| ext_field(o, key))
    } else {
        None
    };
    push_values(value, ext, ty, out);
}

fn len_of(v: &Option<JsonRef<'_>>) -> Option<usize> {
    v.as_ref().and_then(|j| j.get().as_array().map(Vec::len))
}

/// Inlined into its callers: pushing children is the innermost loop of navigation.
#[inline(always)]
fn push_values<'a>(
    value: Option<JsonRef<'a>>,
    ext: Option<JsonRef<'a>>,
    ty: &ChildType,
    out: &mut Items<'a>,
) {
    // The common case, an array without `_name` sibling in the input: walk it directly.
    if let (Some(JsonRef::Borrowed(Value::Array(values))), None) = (&value, &ext) {
        let values: &'a [Value] = values;
        out.reserve(values.len());
        for v in values {
            push_one(Some(JsonRef::Borrowed(v)), None, ty, out);
        }
        return;
    }
    let (lv, le) = (len_of(&value), len_of(&ext));
    if lv.is_some() || le.is_some() {
        let n = lv.unwrap_or(0).max(le.unwrap_or(0));
        out.reserve(n);
        for i in 0..n {
            let v = value.as_ref().and_then(|j| j.project(|a| a.get(i)));
            let e = ext.as_ref().and_then(|j| j.project(|a| a.get(i)));
            push_one(v, e, ty, out);
        }
    } else {
        push_one(value, ext, ty, out);
    }
}

#[inline(always)]
fn push_one<'a>(
    value: Option<JsonRef<'a>>,
    ext: Option<JsonRef<'a>>,
    ty: &ChildType,
    out: &mut Items<'a>,
) {
    let value = value.filter(|v| !v.get().is_null());
    let ext = ext.filter(|v| !v.get().is_null());
    if value.is_none() && ext.is_none() {
        return;
    }
    let (fhir_type, path, kind) = if ty.typed_by_json {
        typed_by_resource_type(value.as_ref(), ty)
    } else {
        (ty.fhir_type, ty.path, ty.kind)
    };
    out.push(Item::Node(Node {
        value,
        ext,
        fhir_type,
        path,
        kind,
    }));
}

/// The type of a resource held by a `Resource`-typed element, from its `resourceType`.
#[cold]
fn typed_by_resource_type(
    value: Option<&JsonRef<'_>>,
    ty: &ChildType,
) -> (&'static str, &'static str, NodeKind) {
    if let Some(rt) = value
        .and_then(|v| v.get().get("resourceType"))
        .and_then(Value::as_str)
    {
        let (t, p) = static_type(Spec::r4(), rt);
        if !t.is_empty() {
            return (t, p, NodeKind::Complex);
        }
    }
    (ty.fhir_type, ty.path, ty.kind)
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
    if let JsonRef::Borrowed(whole) = src {
        let whole: &'a Value = whole;
        let Value::Object(obj) = whole else { return };
        // Most objects have no `_name` siblings: then no primitive needs the lookup.
        let has_ext = obj.keys().any(|k| k.starts_with('_'));
        out.reserve(obj.len());
        // Borrowed input: push each value as it is visited instead of looking it up again.
        for (key, value) in obj.iter() {
            if key == "resourceType" {
                continue;
            }
            if let Some(base) = key.strip_prefix('_') {
                if field(whole, base).is_some() {
                    continue;
                }
                let ty = child_type(spec, n, base).map_or(UNTYPED, |(t, _)| t);
                push_values(None, Some(JsonRef::Borrowed(value)), &ty, out);
                continue;
            }
            let ty = child_type(spec, n, key).map_or(UNTYPED, |(t, _)| t);
            let ext = if !has_ext || matches!(ty.kind, NodeKind::Complex | NodeKind::Quantity) {
                None
            } else {
                ext_field(whole, key).map(JsonRef::Borrowed)
            };
            push_values(Some(JsonRef::Borrowed(value)), ext, &ty, out);
        }
        return;
    }
    for key in obj.keys() {
        if key == "resourceType" {
            continue;
        }
        if let Some(base) = key.strip_prefix('_') {
            if obj.contains_key(base) {
                continue;
            }
            let ty = child_type(spec, n, base).map_or(UNTYPED, |(t, _)| t);
            push_values(None, src.project(|o| o.get(key.as_str())), &ty, out);
            continue;
        }
        let ty = child_type(spec, n, key).map_or(UNTYPED, |(t, _)| t);
        push_key(src, key, &ty, out);
    }
}

/// The number of items `children()` returns for `item`, without building them: the same keys
/// are skipped and the same null entries dropped. A primitive's `_name` sibling only matters
/// when it exists, so the spec is consulted only then.
pub(crate) fn children_count(item: &Item<'_>) -> usize {
    let Item::Node(n) = item else { return 0 };
    let Some(src) = source(n) else { return 0 };
    let whole = src.get();
    let Value::Object(obj) = whole else { return 0 };
    let spec = Spec::r4();
    let mut count = 0;
    for (key, value) in obj {
        if key == "resourceType" {
            continue;
        }
        if let Some(base) = key.strip_prefix('_') {
            if field(whole, base).is_none() {
                count += present(None, Some(value));
            }
            continue;
        }
        let ext = ext_field(whole, key).filter(|_| {
            let ty = child_type(spec, n, key).map_or(UNTYPED, |(t, _)| t);
            !matches!(ty.kind, NodeKind::Complex | NodeKind::Quantity)
        });
        count += present(Some(value), ext);
    }
    count
}

/// How many items `push_values` makes of a value and its `_name` sibling.
fn present(value: Option<&Value>, ext: Option<&Value>) -> usize {
    let some = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map(Vec::len);
    match (len(value), len(ext)) {
        (None, None) => usize::from(some(value) || some(ext)),
        (lv, le) => (0..lv.unwrap_or(0).max(le.unwrap_or(0)))
            .filter(|&i| some(value.and_then(|v| v.get(i))) || some(ext.and_then(|e| e.get(i))))
            .count(),
    }
}

/// Objects up to this size are searched linearly: cheaper than hashing the key.
const LINEAR_LOOKUP: usize = 16;

/// `o[key]`, for an object.
#[inline]
fn field<'v>(o: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Object(map) = o else { return None };
    if map.len() <= LINEAR_LOOKUP {
        // Many FHIR names share a length (`code`, `meta`, `text`): the last byte tells most
        // of them apart without a call to `memcmp`.
        let last = key.as_bytes().last();
        return map
            .iter()
            .find(|(k, _)| k.len() == key.len() && k.as_bytes().last() == last && k.as_str() == key)
            .map(|(_, v)| v);
    }
    map.get(key)
}

/// `o["_" + key]` without building the key.
#[inline]
fn ext_field<'v>(o: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Object(map) = o else { return None };
    if map.len() <= LINEAR_LOOKUP {
        return map
            .iter()
            .find(|(k, _)| k.len() == key.len() + 1 && k.strip_prefix('_') == Some(key))
            .map(|(_, v)| v);
    }
    let mut ext_key = String::with_capacity(key.len() + 1);
    ext_key.push('_');
    ext_key.push_str(key);
    map.get(&ext_key)
}
