//! FHIRPath Patch (a `Parameters` resource of `operation` parameters: `add`, `insert`,
//! `delete`, `replace`, `move`), applied in order over resource JSON with the FHIRPath engine.
//!
//! The engine returns nodes borrowed from the resource; each is located in the JSON tree by
//! address to get a path that can then be changed. Operations see the result of the previous
//! ones; the whole patch applies or nothing does.

use super::PatchError;
use crosscare_fhirpath::Expression;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Applies a FHIRPath Patch `Parameters` to `resource`. On error `resource` is unchanged.
pub fn apply(resource: &mut Value, parameters: &Value) -> Result<(), PatchError> {
    if parameters["resourceType"] != "Parameters" {
        return Err(PatchError::Malformed(
            "a FHIRPath Patch is a Parameters resource".into(),
        ));
    }
    let mut work = resource.clone();
    let ops = parameters["parameter"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, op) in ops.iter().enumerate() {
        if op["name"] != "operation" {
            return Err(PatchError::Malformed(format!(
                "parameter {i} is not named 'operation'"
            )));
        }
        apply_one(&mut work, op).map_err(|e| match e {
            PatchError::Malformed(m) => PatchError::Malformed(format!("operation {i}: {m}")),
            PatchError::Failed(m) => PatchError::Failed(format!("operation {i}: {m}")),
        })?;
    }
    *resource = work;
    Ok(())
}

fn part<'a>(op: &'a Value, name: &str) -> Option<&'a Value> {
    op["part"].as_array()?.iter().find(|p| p["name"] == name)
}

/// The `value[x]` of a part (`valueString`, `valueInteger`, …).
fn part_value(p: &Value) -> Option<&Value> {
    p.as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("value") && k.len() > 5)
        .map(|(_, v)| v)
}

fn text_part<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    part(op, name)
        .and_then(part_value)
        .and_then(Value::as_str)
        .ok_or_else(|| PatchError::Malformed(format!("missing '{name}'")))
}

fn index_part(op: &Value, name: &str) -> Result<usize, PatchError> {
    part(op, name)
        .and_then(part_value)
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| PatchError::Malformed(format!("missing or negative '{name}'")))
}

/// The new value: a `value[x]` primitive or complex type, or nested `part`s building an
/// element, or a `resource`.
fn value_of(op: &Value) -> Result<Value, PatchError> {
    let p = part(op, "value").ok_or_else(|| PatchError::Malformed("missing 'value'".into()))?;
    build(p)
}

fn build(p: &Value) -> Result<Value, PatchError> {
    if let Some(v) = part_value(p) {
        return Ok(v.clone());
    }
    if let Some(r) = p.get("resource") {
        return Ok(r.clone());
    }
    if let Some(parts) = p["part"].as_array() {
        let mut obj = Map::new();
        for child in parts {
            let name = child["name"]
                .as_str()
                .ok_or_else(|| PatchError::Malformed("a value part has no name".into()))?;
            obj.insert(name.to_string(), build(child)?);
        }
        return Ok(Value::Object(obj));
    }
    Err(PatchError::Malformed(
        "the value has no value[x], resource or part".into(),
    ))
}

/// Evaluates `path` and returns the JSON location of every result node.
fn locate_all(root: &Value, path: &str) -> Result<Vec<Vec<Seg>>, PatchError> {
    Ok(locate_typed(root, path)?
        .into_iter()
        .map(|(t, _)| t)
        .collect())
}

/// A node's location in the JSON tree and its FHIR type.
type Located = (Vec<Seg>, Option<String>);

/// Like [`locate_all`], with the FHIR type of each node.
fn locate_typed(root: &Value, path: &str) -> Result<Vec<Located>, PatchError> {
    let expr = Expression::compile(path).map_err(|e| PatchError::Malformed(e.to_string()))?;
    let items = expr
        .evaluate(root)
        .map_err(|e| PatchError::Failed(format!("evaluating '{path}': {e}")))?;
    items
        .iter()
        .map(|item| {
            let target = item.json().ok_or_else(|| {
                PatchError::Failed(format!("'{path}' selects a value that is not an element"))
            })?;
            let mut trail = Vec::new();
            if find(root, target, &mut trail) {
                Ok((trail, item.fhir_type().map(str::to_string)))
            } else {
                Err(PatchError::Failed(format!(
                    "'{path}' selects a value outside the resource"
                )))
            }
        })
        .collect()
}

fn locate_one(root: &Value, path: &str) -> Result<Vec<Seg>, PatchError> {
    let mut all = locate_all(root, path)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(PatchError::Failed(format!(
            "'{path}' selects {n} elements; exactly one is needed"
        ))),
    }
}

fn find(node: &Value, target: &Value, trail: &mut Vec<Seg>) -> bool {
    if std::ptr::eq(node, target) {
        return true;
    }
    match node {
        Value::Object(m) => {
            for (k, v) in m {
                trail.push(Seg::Key(k.clone()));
                if find(v, target, trail) {
                    return true;
                }
                trail.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                trail.push(Seg::Index(i));
                if find(v, target, trail) {
                    return true;
                }
                trail.pop();
            }
        }
        _ => {}
    }
    false
}

fn get_mut<'a>(root: &'a mut Value, trail: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = root;
    for s in trail {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The array a list path designates: the parent array of its nodes, or, when the list is
/// empty, the member named by the last step of `path` on the single element before it.
fn list_location(root: &Value, path: &str) -> Result<Vec<Seg>, PatchError> {
    let nodes = locate_all(root, path)?;
    if let Some(first) = nodes.first() {
        if let Some((Seg::Index(_), parent)) = first.split_last() {
            return Ok(parent.to_vec());
        }
        return Err(PatchError::Failed(format!("'{path}' is not a list")));
    }
    let (prefix, name) = path
        .rsplit_once('.')
        .filter(|(_, n)| n.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| PatchError::Failed(format!("'{path}' selects nothing")))?;
    let mut parent = locate_one(root, prefix)?;
    parent.push(Seg::Key(name.to_string()));
    Ok(parent)
}

fn fail(msg: &str) -> PatchError {
    PatchError::Failed(msg.to_string())
}

fn apply_one(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let kind = text_part(op, "type")?;
    let path = text_part(op, "path")?;
    match kind {
        "add" => {
            let name = text_part(op, "name")?;
            let value = value_of(op)?;
            let mut found = locate_typed(doc, path)?;
            if found.len() != 1 {
                return Err(fail(&format!(
                    "'{path}' selects {} elements; add needs one",
                    found.len()
                )));
            }
            let (at, ty) = found.remove(0);
            let repeats = ty
                .and_then(|t| {
                    crosscare_spec::Spec::r4()
                        .child(&t, name)
                        .map(|c| c.element.max != Some(1))
                })
                .unwrap_or(false);
            let target = get_mut(doc, &at).ok_or_else(|| fail("lost the element"))?;
            let obj = target
                .as_object_mut()
                .ok_or_else(|| fail("add needs a complex element as its path"))?;
            match obj.get_mut(name) {
                Some(Value::Array(a)) => a.push(value),
                Some(_) => return Err(fail(&format!("'{name}' already has a value"))),
                None if repeats => {
                    obj.insert(name.to_string(), Value::Array(vec![value]));
                }
                None => {
                    obj.insert(name.to_string(), value);
                }
            }
            Ok(())
        }
        "insert" => {
            let value = value_of(op)?;
            let index = index_part(op, "index")?;
            let at = list_location(doc, path)?;
            let list = ensure_array(doc, &at)?;
            if index > list.len() {
                return Err(fail(&format!(
                    "index {index} is beyond the list of {}",
                    list.len()
                )));
            }
            list.insert(index, value);
            Ok(())
        }
        "delete" => {
            let mut found = locate_all(doc, path)?;
            match found.len() {
                0 => Ok(()),
                1 => remove(doc, &found.remove(0)),
                n => Err(fail(&format!(
                    "'{path}' selects {n} elements; delete needs at most one"
                ))),
            }
        }
        "replace" => {
            let value = value_of(op)?;
            let at = locate_one(doc, path)?;
            *get_mut(doc, &at).ok_or_else(|| fail("lost the element"))? = value;
            Ok(())
        }
        "move" => {
            let source = index_part(op, "source")?;
            let destination = index_part(op, "destination")?;
            let at = list_location(doc, path)?;
            let list = ensure_array(doc, &at)?;
            if source >= list.len() || destination >= list.len() {
                return Err(fail("move index out of range"));
            }
            let v = list.remove(source);
            list.insert(destination, v);
            Ok(())
        }
        other => Err(PatchError::Malformed(format!(
            "unknown operation type '{other}'"
        ))),
    }
}

fn ensure_array<'a>(doc: &'a mut Value, at: &[Seg]) -> Result<&'a mut Vec<Value>, PatchError> {
    let (last, parent) = at
        .split_last()
        .ok_or_else(|| fail("a list path cannot be the resource"))?;
    let parent = get_mut(doc, parent).ok_or_else(|| fail("lost the element"))?;
    let slot = match (last, parent) {
        (Seg::Key(k), Value::Object(m)) => m
            .entry(k.clone())
            .or_insert_with(|| Value::Array(Vec::new())),
        (Seg::Index(i), Value::Array(a)) => {
            a.get_mut(*i).ok_or_else(|| fail("lost the element"))?
        }
        _ => return Err(fail("lost the element")),
    };
    slot.as_array_mut()
        .ok_or_else(|| fail("the path is not a list"))
}

fn remove(doc: &mut Value, at: &[Seg]) -> Result<(), PatchError> {
    let (last, parent_path) = at
        .split_last()
        .ok_or_else(|| fail("cannot delete the resource"))?;
    let parent = get_mut(doc, parent_path).ok_or_else(|| fail("lost the element"))?;
    match (last, parent) {
        (Seg::Key(k), Value::Object(m)) => {
            m.shift_remove(k);
        }
        (Seg::Index(i), Value::Array(a)) => {
            a.remove(*i);
            if a.is_empty() {
                if let Some((Seg::Key(k), grand)) = parent_path.split_last() {
                    if let Some(Value::Object(m)) = get_mut(doc, grand) {
                        m.shift_remove(k);
                    }
                }
            }
        }
        _ => return Err(fail("lost the element")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(parts: Value) -> Value {
        json!({"name": "operation", "part": parts})
    }

    fn check(ops: Vec<Value>, expected: Result<Value, &str>) {
        let mut doc = json!({"resourceType": "Patient", "id": "1", "gender": "male",
            "name": [{"family": "A"}, {"family": "B"}], "identifier": [{"value": "x"}]});
        let before = doc.clone();
        let params = json!({"resourceType": "Parameters", "parameter": ops});
        match (apply(&mut doc, &params), expected) {
            (Ok(()), Ok(e)) => assert_eq!(doc, e),
            (Err(PatchError::Failed(_)), Err("failed"))
            | (Err(PatchError::Malformed(_)), Err("malformed")) => {
                assert_eq!(doc, before)
            }
            (got, e) => panic!("got {got:?} / {doc}, expected {e:?}"),
        }
    }

    #[test]
    fn operations() {
        let t = |s: &str| json!({"name": "type", "valueCode": s});
        let p = |s: &str| json!({"name": "path", "valueString": s});
        check(
            vec![op(
                json!([t("replace"), p("Patient.gender"), {"name": "value", "valueCode": "female"}]),
            )],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "female",
                "name": [{"family": "A"}, {"family": "B"}], "identifier": [{"value": "x"}]}),
            ),
        );
        check(
            vec![
                op(json!([t("delete"), p("Patient.name.where(family = 'A')")])),
                op(
                    json!([t("add"), p("Patient"), {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "2000-01-01"}]),
                ),
                op(json!([t("delete"), p("Patient.identifier")])),
            ],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "male",
                "name": [{"family": "B"}], "birthDate": "2000-01-01"}),
            ),
        );
        check(
            vec![
                op(
                    json!([t("insert"), p("Patient.name"), {"name": "index", "valueInteger": 0},
                {"name": "value", "part": [{"name": "family", "valueString": "Z"}]}]),
                ),
                op(
                    json!([t("move"), p("Patient.name"), {"name": "source", "valueInteger": 0}, {"name": "destination", "valueInteger": 2}]),
                ),
            ],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "male",
                "name": [{"family": "A"}, {"family": "B"}, {"family": "Z"}], "identifier": [{"value": "x"}]}),
            ),
        );
        check(
            vec![op(
                json!([t("insert"), p("Patient.telecom"), {"name": "index", "valueInteger": 0},
                {"name": "value", "valueContactPoint": {"system": "phone", "value": "1"}}]),
            )],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "male",
                "name": [{"family": "A"}, {"family": "B"}], "identifier": [{"value": "x"}],
                "telecom": [{"system": "phone", "value": "1"}]}),
            ),
        );
        check(
            vec![op(
                json!([t("replace"), p("Patient.name"), {"name": "value", "valueString": "x"}]),
            )],
            Err("failed"),
        );
        check(
            vec![op(json!([t("delete"), p("Patient.birthDate")]))],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "male",
                "name": [{"family": "A"}, {"family": "B"}], "identifier": [{"value": "x"}]}),
            ),
        );
        check(
            vec![op(
                json!([t("add"), p("Patient"), {"name": "name", "valueString": "address"},
                {"name": "value", "valueAddress": {"city": "C"}}]),
            )],
            Ok(
                json!({"resourceType": "Patient", "id": "1", "gender": "male",
                "name": [{"family": "A"}, {"family": "B"}], "identifier": [{"value": "x"}],
                "address": [{"city": "C"}]}),
            ),
        );
        check(
            vec![op(json!([t("shuffle"), p("Patient")]))],
            Err("malformed"),
        );
        check(
            vec![op(json!([t("replace"), p("Patient.(")]))],
            Err("malformed"),
        );
    }
}
