//! FHIR additions: `extension(url)`, `hasValue()`, `getValue()`, `resolve()`, `conformsTo()`,
//! `htmlChecks()` and `memberOf()`.

use std::sync::Arc;

use crosscare_spec::Spec;
use serde_json::Value;

use super::{boolean, singleton, Engine, EvalResult, Frame, Items};
use crate::compile::{Expr, Func};
use crate::types::static_type;
use crate::value::{system_type_of, Item, JsonRef, Prim};
use crate::EvalError;

const SD_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/";

impl<'c, 'a> Engine<'c, 'a> {
    pub(super) fn fhir(
        &self,
        func: Func,
        focus: Items<'a>,
        args: &[Expr],
        f: &Frame<'_, 'a>,
    ) -> EvalResult<'a> {
        match func {
            Func::Extension | Func::HasExtension => {
                let Some(url) = self.string_arg(&args[0], f)? else {
                    return Ok(Vec::new());
                };
                let exts = self.members(&focus, "extension", None)?;
                let matching = exts.into_iter().filter(|e| {
                    e.json()
                        .and_then(|j| j.get("url"))
                        .and_then(Value::as_str)
                        .is_some_and(|u| u == url)
                });
                if func == Func::HasExtension {
                    // Non-standard but used by R4 search parameters: `extension(url).exists()`.
                    return Ok(boolean(matching.count() > 0));
                }
                Ok(matching.collect())
            }
            Func::HasValue => Ok(boolean(has_value(&focus))),
            Func::GetValue => Ok(match focus.as_slice() {
                [item @ Item::Node(n)] if system_type_of(n.fhir_type).is_some() => {
                    item.to_system().into_iter().collect()
                }
                _ => Vec::new(),
            }),
            Func::Resolve => {
                let mut out = Vec::new();
                for item in &focus {
                    self.step(1)?;
                    let reference = match item {
                        Item::Node(_) if item.as_str().is_none() => item
                            .json()
                            .and_then(|j| j.get("reference"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        _ => item.as_str().map(str::to_string),
                    };
                    if let Some(r) = reference {
                        if let Some(found) = self.resolve(&r) {
                            out.push(found);
                        }
                    }
                }
                Ok(out)
            }
            Func::ConformsTo => {
                let Some(url) = self.string_arg(&args[0], f)? else {
                    return Ok(Vec::new());
                };
                let spec = Spec::r4();
                let Some(name) = url
                    .strip_prefix(SD_PREFIX)
                    .filter(|n| spec.type_def(n).is_some())
                else {
                    return Err(EvalError::Argument(format!("unknown profile {url}")));
                };
                let Some(item) = singleton(focus)? else {
                    return Ok(Vec::new());
                };
                Ok(boolean(
                    item.fhir_type()
                        .is_some_and(|t| spec.is_subtype_of(t, name)),
                ))
            }
            Func::HtmlChecks => {
                let Some(item) = singleton(focus)? else {
                    return Ok(Vec::new());
                };
                Ok(boolean(item.as_str().is_some_and(html_ok)))
            }
            _ => {
                let Some(vs) = self.string_arg(&args[0], f)? else {
                    return Ok(Vec::new());
                };
                let Some(item) = singleton(focus)? else {
                    return Ok(Vec::new());
                };
                Ok(self.member_of(&item, &vs).map(boolean).unwrap_or_default())
            }
        }
    }

    /// Resolves a reference: `#id` among the root's contained resources, then entries of a
    /// Bundle root (by `fullUrl` or `Type/id`), then the pluggable resolver.
    fn resolve(&self, reference: &str) -> Option<Item<'a>> {
        let spec = Spec::r4();
        let root = self.ctx.container.unwrap_or(self.ctx.resource);
        let typed = |v: &'a Value| -> Item<'a> {
            let rt = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
            let (t, p) = static_type(spec, rt);
            Item::node(JsonRef::Borrowed(v), t, p)
        };
        if let Some(id) = reference.strip_prefix('#') {
            let contained = root.get("contained").and_then(Value::as_array)?;
            return contained
                .iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
                .map(typed);
        }
        if let Some(entries) = root.get("entry").and_then(Value::as_array) {
            for e in entries {
                let Some(res) = e.get("resource") else {
                    continue;
                };
                let full = e.get("fullUrl").and_then(Value::as_str);
                let rt = res.get("resourceType").and_then(Value::as_str);
                let id = res.get("id").and_then(Value::as_str);
                let matches_full = full == Some(reference);
                let matches_rel = match (rt, id) {
                    (Some(rt), Some(id)) => {
                        let rel = format!("{rt}/{id}");
                        reference == rel || reference.ends_with(&format!("/{rel}"))
                    }
                    _ => false,
                };
                if matches_full || matches_rel {
                    return Some(typed(res));
                }
            }
        }
        if let Some(found) = self.ctx.resolver.and_then(|r| r.resolve(reference)) {
            let rt = found
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let (t, p) = static_type(spec, &rt);
            return Some(Item::node(JsonRef::Owned(Arc::new(found)), t, p));
        }
        // Unresolvable `Type/id` references still reveal their target type: a stub resource
        // with just `resourceType` and `id` keeps `resolve() is Patient` (used by search
        // parameters and compartments) meaningful without a store.
        let (rt, id) = reference_type_and_id(reference)?;
        let stub = serde_json::json!({"resourceType": rt, "id": id});
        let (t, p) = static_type(spec, rt);
        Some(Item::node(JsonRef::Owned(Arc::new(stub)), t, p))
    }

    /// `memberOf`: the pluggable terminology service first, then complete expansions from the
    /// spec tables; unknown answers give an empty result.
    fn member_of(&self, item: &Item<'a>, vs: &str) -> Option<bool> {
        let codings: Vec<(Option<String>, String)> = match item.prim() {
            Prim::String(code) => vec![(None, code.to_string())],
            _ => {
                let j = item.json()?;
                let coding_of = |c: &Value| -> Option<(Option<String>, String)> {
                    Some((
                        c.get("system").and_then(Value::as_str).map(str::to_string),
                        c.get("code").and_then(Value::as_str)?.to_string(),
                    ))
                };
                match item.fhir_type() {
                    Some("Coding") => coding_of(j).into_iter().collect(),
                    Some("CodeableConcept") => j
                        .get("coding")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(coding_of).collect())
                        .unwrap_or_default(),
                    _ => return None,
                }
            }
        };
        let vs_base = vs.split('|').next().unwrap_or(vs);
        let mut unknown = false;
        for (system, code) in &codings {
            let answer = match self.ctx.terminology {
                Some(t) => t.member_of(system.as_deref(), code, vs),
                None => None,
            };
            let answer = answer.or_else(|| {
                let def = Spec::r4().value_set(vs_base)?;
                let hit = def
                    .codes
                    .iter()
                    .any(|c| &c.code == code && system.as_deref().is_none_or(|s| s == c.system));
                if hit {
                    Some(true)
                } else if def.complete {
                    Some(false)
                } else {
                    None
                }
            });
            match answer {
                Some(true) => return Some(true),
                Some(false) => {}
                None => unknown = true,
            }
        }
        if unknown {
            None
        } else {
            Some(false)
        }
    }
}

/// `hasValue()`: a single primitive node with a value (not only extensions).
pub(super) fn has_value(focus: &[Item<'_>]) -> bool {
    match focus {
        [Item::Node(n)] => {
            n.value
                .as_ref()
                .is_some_and(|v| !v.get().is_object() && !v.get().is_array())
                && (n.fhir_type.is_empty() || system_type_of(n.fhir_type).is_some())
        }
        _ => false,
    }
}

/// Basic XHTML narrative checks: a `div` root and none of the elements or attributes the FHIR
/// narrative rules forbid (scripts, forms, event handlers).
fn html_ok(html: &str) -> bool {
    let t = html.trim_start();
    if !t.starts_with("<div") {
        return false;
    }
    let lower = html.to_ascii_lowercase();
    const FORBIDDEN: [&str; 9] = [
        "<script",
        "<form",
        "<iframe",
        "<object",
        "<embed",
        "<base",
        "<link",
        "<meta",
        "javascript:",
    ];
    if FORBIDDEN.iter().any(|f| lower.contains(f)) {
        return false;
    }
    !lower
        .split(|c: char| c.is_whitespace())
        .any(|w| w.starts_with("on") && w.contains('='))
}

/// `Patient/7`, `http://x/fhir/Patient/7` or `Patient/7/_history/2` -> (`Patient`, `7`).
fn reference_type_and_id(reference: &str) -> Option<(&str, &str)> {
    let spec = Spec::r4();
    let segs: Vec<&str> = reference.split('/').collect();
    let n = segs.len();
    if n >= 4 && segs[n - 2] == "_history" && spec.is_resource_type(segs[n - 4]) {
        return Some((segs[n - 4], segs[n - 3]));
    }
    if n >= 2 && spec.is_resource_type(segs[n - 2]) && !segs[n - 1].is_empty() {
        return Some((segs[n - 2], segs[n - 1]));
    }
    None
}
