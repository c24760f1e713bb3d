//! Reading inputs: NDJSON files line by line, Bundle files entry by entry, folders recursively.

use crate::IngestError;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One input position: a resource, or why that line is not one.
#[derive(Debug)]
pub struct SourceItem {
    /// 1-based line (NDJSON) or entry number (Bundle).
    pub line: u64,
    /// Bytes consumed up to and including this item.
    pub offset: u64,
    pub resource: Result<Value, String>,
}

/// The files named by `paths`: files as they are, folders expanded to their `.ndjson` and
/// `.json` files (sorted, so that runs are repeatable).
pub fn input_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| IngestError::Io {
                    path: path.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "ndjson" || x == "json"))
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn is_ndjson(path: &Path) -> bool {
    path.extension()
        .is_some_and(|x| x == "ndjson" || x == "jsonl")
}

/// Calls `f` for every resource position of one file, starting after `skip_lines`.
pub fn read_resources(
    path: &Path,
    skip_lines: u64,
    f: &mut dyn FnMut(SourceItem) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    if is_ndjson(path) {
        return read_ndjson(path, skip_lines, f);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let value: Value = match serde_json::from_reader(std::io::BufReader::new(file)) {
        Ok(v) => v,
        Err(e) => {
            return f(SourceItem {
                line: 1,
                offset: len,
                resource: Err(format!("not valid JSON: {e}")),
            })
        }
    };
    if value.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        if skip_lines == 0 {
            f(SourceItem {
                line: 1,
                offset: len,
                resource: Ok(value),
            })?;
        }
        return Ok(());
    }
    let entries = value
        .get("entry")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let count = entries.len() as u64;
    for (i, entry) in entries.into_iter().enumerate() {
        let number = i as u64 + 1;
        if number <= skip_lines {
            continue;
        }
        let resource = match entry {
            Value::Object(mut e) => e
                .remove("resource")
                .ok_or_else(|| "Bundle entry without a resource".to_string()),
            _ => Err("Bundle entry is not an object".to_string()),
        };
        let offset = len * number / count.max(1);
        f(SourceItem {
            line: number,
            offset,
            resource,
        })?;
    }
    Ok(())
}

/// Calls `f` for every line of an NDJSON file (whatever its name), starting after `skip_lines`;
/// blank lines are skipped.
pub fn read_ndjson(
    path: &Path,
    skip_lines: u64,
    f: &mut dyn FnMut(SourceItem) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let (mut number, mut offset) = (0u64, 0u64);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        offset += n as u64;
        if number <= skip_lines || line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let resource =
            serde_json::from_slice::<Value>(&line).map_err(|e| format!("not valid JSON: {e}"));
        f(SourceItem {
            line: number,
            offset,
            resource,
        })?;
    }
}
