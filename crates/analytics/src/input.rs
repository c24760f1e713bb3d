//! Input readers: NDJSON files streamed one resource per line, and JSON files holding a Bundle
//! (its entries' resources) or a single resource.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use crate::ViewError;

/// The shape of an input file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `.ndjson`, `.jsonl`: one resource per line; blank lines are skipped.
    Ndjson,
    /// Anything else: one JSON document, a Bundle or a single resource.
    Json,
}

impl InputKind {
    pub fn of(path: &Path) -> InputKind {
        match path.extension().and_then(|e| e.to_str()) {
            Some("ndjson" | "jsonl") => InputKind::Ndjson,
            _ => InputKind::Json,
        }
    }
}

/// Calls `f(resource, file, position)` for every resource of the file, where position is the
/// line number (NDJSON) or the 1-based entry number (Bundle; 1 for a single resource).
pub fn for_each_resource(
    path: &Path,
    f: &mut dyn FnMut(Value, &str, usize) -> Result<(), ViewError>,
) -> Result<(), ViewError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| ViewError::Io {
        file: name.clone(),
        source,
    })?;
    let reader = BufReader::with_capacity(1 << 20, file);
    match InputKind::of(path) {
        InputKind::Ndjson => read_ndjson(reader, &name, f),
        InputKind::Json => read_json(reader, &name, f),
    }
}

/// Streams NDJSON: memory holds one line at a time.
pub fn read_ndjson(
    mut reader: impl BufRead,
    name: &str,
    f: &mut dyn FnMut(Value, &str, usize) -> Result<(), ViewError>,
) -> Result<(), ViewError> {
    let mut line = String::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| ViewError::Io {
                file: name.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let value = parse_line(text, name, number)?;
        f(value, name, number)?;
    }
}

/// Parses already numbered NDJSON lines (the parallel runner's chunks).
pub fn read_ndjson_lines(
    lines: Vec<(usize, String)>,
    name: &str,
    f: &mut dyn FnMut(Value, &str, usize) -> Result<(), ViewError>,
) -> Result<(), ViewError> {
    for (number, line) in lines {
        let value = parse_line(line.trim(), name, number)?;
        f(value, name, number)?;
    }
    Ok(())
}

fn parse_line(text: &str, name: &str, number: usize) -> Result<Value, ViewError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ViewError::Input {
        file: name.to_string(),
        line: number,
        message: format!("invalid JSON: {e}"),
    })?;
    if !value.is_object() {
        return Err(ViewError::Input {
            file: name.to_string(),
            line: number,
            message: "expected a resource (a JSON object)".into(),
        });
    }
    Ok(value)
}

/// Reads one JSON document: a Bundle's `entry[].resource`, or the document as one resource.
pub fn read_json(
    mut reader: impl Read,
    name: &str,
    f: &mut dyn FnMut(Value, &str, usize) -> Result<(), ViewError>,
) -> Result<(), ViewError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|source| ViewError::Io {
            file: name.to_string(),
            source,
        })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| ViewError::Input {
        file: name.to_string(),
        line: e.line(),
        message: format!("invalid JSON: {e}"),
    })?;
    drop(text);
    match doc {
        Value::Object(mut obj)
            if obj.get("resourceType").and_then(Value::as_str) == Some("Bundle") =>
        {
            let entries = match obj.remove("entry") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            for (i, entry) in entries.into_iter().enumerate() {
                if let Value::Object(mut e) = entry {
                    if let Some(resource @ Value::Object(_)) = e.remove("resource") {
                        f(resource, name, i + 1)?;
                    }
                }
            }
            Ok(())
        }
        v @ Value::Object(_) => f(v, name, 1),
        _ => Err(ViewError::Input {
            file: name.to_string(),
            line: 1,
            message: "expected a Bundle or a resource (a JSON object)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ndjson(text: &str, expected: Result<Vec<(String, usize)>, &str>) {
        let mut got = Vec::new();
        let r = read_ndjson(text.as_bytes(), "in.ndjson", &mut |v, _, line| {
            got.push((v["id"].as_str().unwrap_or("").to_string(), line));
            Ok(())
        });
        match (r, expected) {
            (Ok(()), Ok(e)) => assert_eq!(got, e),
            (Err(err), Err(needle)) => assert!(err.to_string().contains(needle), "{err}"),
            (r, e) => panic!("{r:?} vs {e:?}"),
        }
    }

    #[test]
    fn ndjson_lines() {
        check_ndjson(
            "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n",
            Ok(vec![("a".into(), 1), ("b".into(), 3)]),
        );
        check_ndjson("{\"id\":\"a\"}\n{oops\n", Err("in.ndjson:2: invalid JSON"));
        check_ndjson("[1]\n", Err("in.ndjson:1: expected a resource"));
    }

    #[test]
    fn bundle_entries() {
        let text = r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"a"}},{"fullUrl":"x"},{"resource":{"resourceType":"Patient","id":"b"}}]}"#;
        let mut got = Vec::new();
        read_json(text.as_bytes(), "b.json", &mut |v, _, n| {
            got.push((v["id"].as_str().unwrap().to_string(), n));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![("a".to_string(), 1), ("b".to_string(), 3)]);
        let err = read_json("[]".as_bytes(), "b.json", &mut |_, _, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("b.json:1"));
    }
}
