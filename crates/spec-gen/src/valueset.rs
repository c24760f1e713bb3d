//! Offline expansion of the core value sets from the core code systems.
//!
//! Supported: whole code systems (with nested concepts), enumerated concepts, `is-a` and
//! `descendent-of` filters on hierarchical systems, `concept = X` filters, and value-set imports.
//! Anything else (external systems such as SNOMED CT, property filters) makes the expansion
//! incomplete; the validator only enforces complete expansions.

use crate::{arr, str_of};
use crosscare_spec::model::{ValueSetCode, ValueSetDef};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A code system's concepts in definition order, with their parent.
struct CodeSystem {
    complete: bool,
    concepts: Vec<(String, Option<String>, Option<String>)>, // (code, display, parent)
}

fn flatten(
    concepts: &[Value],
    parent: Option<&str>,
    out: &mut Vec<(String, Option<String>, Option<String>)>,
) {
    for c in concepts {
        let Some(code) = str_of(c, "code") else {
            continue;
        };
        out.push((
            code.to_string(),
            str_of(c, "display").map(str::to_string),
            parent.map(str::to_string),
        ));
        flatten(arr(c, "concept"), Some(code), out);
    }
}

pub fn expand_all(value_sets: &[Value], code_systems: &[Value]) -> Vec<ValueSetDef> {
    let mut systems = HashMap::new();
    for cs in code_systems {
        let Some(url) = str_of(cs, "url") else {
            continue;
        };
        let mut concepts = Vec::new();
        flatten(arr(cs, "concept"), None, &mut concepts);
        let complete = str_of(cs, "content") == Some("complete");
        systems.insert(url.to_string(), CodeSystem { complete, concepts });
    }
    let by_url: HashMap<&str, &Value> = value_sets
        .iter()
        .filter_map(|v| Some((str_of(v, "url")?, v)))
        .collect();
    let mut out: Vec<ValueSetDef> = value_sets
        .iter()
        .filter_map(|vs| {
            let url = str_of(vs, "url")?;
            let mut codes = BTreeMap::new();
            let complete = expand(vs, &systems, &by_url, &mut codes, 0);
            Some(ValueSetDef {
                url: url.to_string(),
                name: str_of(vs, "name").unwrap_or_default().to_string(),
                complete,
                codes: codes
                    .into_iter()
                    .map(|((system, code), display)| ValueSetCode {
                        system,
                        code,
                        display,
                    })
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.url.cmp(&b.url));
    out
}

type Codes = BTreeMap<(String, String), Option<String>>;

fn expand(
    vs: &Value,
    systems: &HashMap<String, CodeSystem>,
    by_url: &HashMap<&str, &Value>,
    out: &mut Codes,
    depth: usize,
) -> bool {
    if depth > 8 {
        return false;
    }
    let Some(compose) = vs.get("compose") else {
        return false;
    };
    let mut complete = true;
    for include in arr(compose, "include") {
        complete &= include_into(include, systems, by_url, out, depth);
    }
    if !arr(compose, "exclude").is_empty() {
        let mut excluded = Codes::new();
        for exclude in arr(compose, "exclude") {
            complete &= include_into(exclude, systems, by_url, &mut excluded, depth);
        }
        out.retain(|k, _| !excluded.contains_key(k));
    }
    complete
}

fn include_into<'a>(
    include: &'a Value,
    systems: &'a HashMap<String, CodeSystem>,
    by_url: &HashMap<&str, &Value>,
    out: &mut Codes,
    depth: usize,
) -> bool {
    let mut complete = true;
    for imported in arr(include, "valueSet").iter().filter_map(Value::as_str) {
        let url = imported.split('|').next().unwrap_or(imported);
        match by_url.get(url) {
            Some(vs) => complete &= expand(vs, systems, by_url, out, depth + 1),
            None => complete = false,
        }
    }
    let Some(system) = str_of(include, "system") else {
        return complete;
    };
    let cs = systems.get(system);
    let concepts = arr(include, "concept");
    let filters = arr(include, "filter");
    if !concepts.is_empty() {
        for c in concepts {
            if let Some(code) = str_of(c, "code") {
                let display = str_of(c, "display").map(str::to_string).or_else(|| {
                    cs.and_then(|cs| {
                        cs.concepts
                            .iter()
                            .find(|x| x.0 == code)
                            .and_then(|x| x.1.clone())
                    })
                });
                out.insert((system.to_string(), code.to_string()), display);
            }
        }
        return complete;
    }
    let Some(cs) = cs else { return false };
    if filters.is_empty() {
        for (code, display, _) in &cs.concepts {
            out.insert((system.to_string(), code.clone()), display.clone());
        }
        return complete && cs.complete;
    }
    // Every filter narrows the set; start with all codes and intersect.
    let mut selected: BTreeSet<&str> = cs.concepts.iter().map(|c| c.0.as_str()).collect();
    for f in filters {
        let (Some(prop), Some(op), Some(value)) =
            (str_of(f, "property"), str_of(f, "op"), str_of(f, "value"))
        else {
            return false;
        };
        if prop != "concept" {
            return false;
        }
        let descendants = |root: &'a str, include_root: bool| -> BTreeSet<&'a str> {
            let mut set: BTreeSet<&'a str> = BTreeSet::new();
            if include_root {
                set.insert(root);
            }
            let mut changed = true;
            while changed {
                changed = false;
                for (code, _, parent) in &cs.concepts {
                    let p = parent.as_deref();
                    let in_tree = p == Some(root) || p.is_some_and(|p| set.contains(p));
                    if in_tree && set.insert(code.as_str()) {
                        changed = true;
                    }
                }
            }
            set
        };
        let matched = match op {
            "is-a" => descendants(value, true),
            "descendent-of" => descendants(value, false),
            "=" => [value].into_iter().collect(),
            "is-not-a" => {
                let d = descendants(value, true);
                selected
                    .iter()
                    .copied()
                    .filter(|c| !d.contains(c))
                    .collect()
            }
            _ => return false,
        };
        selected = selected.intersection(&matched).copied().collect();
    }
    for (code, display, _) in &cs.concepts {
        if selected.contains(code.as_str()) {
            out.insert((system.to_string(), code.clone()), display.clone());
        }
    }
    complete && cs.complete
}
