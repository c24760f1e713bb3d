//! JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): `add`, `remove`, `replace`, `move`,
//! `copy`, `test`. The whole patch applies or nothing does.

use super::PatchError;
use serde_json::Value;

/// Applies `patch` (a JSON array of operations) to `doc`. On error `doc` is unchanged.
pub fn apply(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError::Malformed("a JSON Patch document is an array".into()))?;
    let mut work = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_one(&mut work, op).map_err(|e| match e {
            PatchError::Malformed(m) => PatchError::Malformed(format!("operation {i}: {m}")),
            PatchError::Failed(m) => PatchError::Failed(format!("operation {i}: {m}")),
        })?;
    }
    *doc = work;
    Ok(())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, PatchError> {
    op.get(name)
        .ok_or_else(|| PatchError::Malformed(format!("missing '{name}'")))
}

fn str_field<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    field(op, name)?
        .as_str()
        .ok_or_else(|| PatchError::Malformed(format!("'{name}' must be a string")))
}

fn apply_one(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let path = parse_pointer(str_field(op, "path")?)?;
    match str_field(op, "op")? {
        "add" => add(doc, &path, field(op, "value")?.clone()),
        "remove" => remove(doc, &path).map(drop),
        "replace" => {
            let value = field(op, "value")?.clone();
            let target = get_mut(doc, &path)?;
            *target = value;
            Ok(())
        }
        "move" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(PatchError::Failed("cannot move a value into itself".into()));
            }
            let value = remove(doc, &from)?;
            add(doc, &path, value)
        }
        "copy" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            let value = get_mut(doc, &from)?.clone();
            add(doc, &path, value)
        }
        "test" => {
            let expected = field(op, "value")?;
            if get_mut(doc, &path)? == expected {
                Ok(())
            } else {
                Err(PatchError::Failed(format!(
                    "test failed at '{}'",
                    render(&path)
                )))
            }
        }
        other => Err(PatchError::Malformed(format!("unknown op '{other}'"))),
    }
}

/// Splits a JSON Pointer into unescaped reference tokens.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| PatchError::Malformed(format!("pointer '{pointer}' must start with '/'")))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn render(path: &[String]) -> String {
    path.iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    let bad = || PatchError::Failed(format!("'{token}' is not a valid array index here"));
    if token == "-" && allow_end {
        return Ok(len);
    }
    if token.len() > 1 && token.starts_with('0') {
        return Err(bad());
    }
    let i: usize = token.parse().map_err(|_| bad())?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(bad());
    }
    Ok(i)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for token in path {
        cur = match cur {
            Value::Object(map) => map.get_mut(token).ok_or_else(|| {
                PatchError::Failed(format!("no member '{token}' at '{}'", render(path)))
            })?,
            Value::Array(items) => {
                let i = array_index(token, items.len(), false)?;
                &mut items[i]
            }
            _ => {
                return Err(PatchError::Failed(format!(
                    "'{}' goes through a primitive value",
                    render(path)
                )))
            }
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = array_index(last, items.len(), true)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(PatchError::Failed(format!(
            "the parent of '{}' is not a container",
            render(path)
        ))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(PatchError::Failed(
            "cannot remove the whole document".into(),
        ));
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => map
            .shift_remove(last)
            .ok_or_else(|| PatchError::Failed(format!("no member at '{}'", render(path)))),
        Value::Array(items) => {
            let i = array_index(last, items.len(), false)?;
            Ok(items.remove(i))
        }
        _ => Err(PatchError::Failed(format!(
            "the parent of '{}' is not a container",
            render(path)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(doc: Value, patch: Value, expected: Result<Value, &str>) {
        let mut d = doc.clone();
        let got = apply(&mut d, &patch).map(|_| d.clone());
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e),
            (Err(PatchError::Malformed(_)), Err("malformed"))
            | (Err(PatchError::Failed(_)), Err("failed")) => {
                assert_eq!(d, doc, "unchanged on error")
            }
            (g, e) => panic!("got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn operations() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        check(
            doc.clone(),
            json!([{"op": "add", "path": "/a/b/1", "value": 9}]),
            Ok(json!({"a": {"b": [1, 9, 2]}, "c": "x"})),
        );
        check(
            doc.clone(),
            json!([{"op": "add", "path": "/a/b/-", "value": 3}]),
            Ok(json!({"a": {"b": [1, 2, 3]}, "c": "x"})),
        );
        check(
            doc.clone(),
            json!([{"op": "remove", "path": "/c"}]),
            Ok(json!({"a": {"b": [1, 2]}})),
        );
        check(
            doc.clone(),
            json!([{"op": "replace", "path": "/a/b/0", "value": 5}]),
            Ok(json!({"a": {"b": [5, 2]}, "c": "x"})),
        );
        check(
            doc.clone(),
            json!([{"op": "move", "from": "/c", "path": "/d"}]),
            Ok(json!({"a": {"b": [1, 2]}, "d": "x"})),
        );
        check(
            doc.clone(),
            json!([{"op": "copy", "from": "/c", "path": "/a/e"}]),
            Ok(json!({"a": {"b": [1, 2], "e": "x"}, "c": "x"})),
        );
        check(
            doc.clone(),
            json!([{"op": "test", "path": "/c", "value": "x"}]),
            Ok(doc.clone()),
        );
        check(
            doc.clone(),
            json!([{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/c", "value": "y"}]),
            Err("failed"),
        );
        check(
            doc.clone(),
            json!([{"op": "replace", "path": "/nope", "value": 1}]),
            Err("failed"),
        );
        check(
            doc.clone(),
            json!([{"op": "remove", "path": "/a/b/2"}]),
            Err("failed"),
        );
        check(
            doc.clone(),
            json!([{"op": "move", "from": "/a", "path": "/a/z"}]),
            Err("failed"),
        );
        check(
            doc.clone(),
            json!([{"op": "jump", "path": "/c"}]),
            Err("malformed"),
        );
        check(doc.clone(), json!({"op": "add"}), Err("malformed"));
        check(
            doc.clone(),
            json!([{"op": "add", "path": "c", "value": 1}]),
            Err("malformed"),
        );
        check(
            json!({"a/b": {"~": 1}}),
            json!([{"op": "replace", "path": "/a~1b/~0", "value": 2}]),
            Ok(json!({"a/b": {"~": 2}})),
        );
    }
}
