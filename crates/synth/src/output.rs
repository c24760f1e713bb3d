//! Writing a population to a directory: Bulk Data–style NDJSON files per resource type, or one
//! transaction Bundle per patient.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{json, Value};

use crate::{generate_events, Event, Group, OutputFormat, SynthConfig, SynthError, SynthStats};

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes the population to `dir` (created if missing).
/// `Ndjson`: one `<ResourceType>.ndjson` file per type. `Bundles`: `Bundle-shared.json` with the
/// shared resources and one `Bundle-<patient id>.json` per patient, each a transaction whose
/// entries PUT `<type>/<id>`, so references between files resolve by stable id.
pub fn write_to_dir(
    config: &SynthConfig,
    dir: &Path,
    format: OutputFormat,
) -> Result<SynthStats, SynthError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    match format {
        OutputFormat::Ndjson => write_ndjson(config, dir),
        OutputFormat::Bundles => write_bundles(config, dir),
    }
}

fn write_ndjson(config: &SynthConfig, dir: &Path) -> Result<SynthStats, SynthError> {
    let mut files: BTreeMap<String, BufWriter<File>> = BTreeMap::new();
    let stats = crate::generate(config, &mut |r| {
        let ty = r
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        if !files.contains_key(ty) {
            let path = dir.join(format!("{ty}.ndjson"));
            let f = File::create(&path).map_err(io_err(&path))?;
            files.insert(ty.to_string(), BufWriter::with_capacity(1 << 16, f));
        }
        let path = dir.join(format!("{ty}.ndjson"));
        let Some(w) = files.get_mut(ty) else {
            return Err(SynthError::Sink(format!("no writer for {ty}")));
        };
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n").map_err(io_err(&path))
    })?;
    for (ty, mut w) in files {
        let path = dir.join(format!("{ty}.ndjson"));
        w.flush().map_err(io_err(&path))?;
    }
    Ok(stats)
}

/// A transaction Bundle that PUTs every resource at its stable id.
pub fn transaction_bundle(id: &str, resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let ty = r
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or("Unknown");
            let rid = r.get("id").and_then(Value::as_str).unwrap_or("");
            let url = format!("{ty}/{rid}");
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        })
        .collect();
    json!({"resourceType": "Bundle", "id": id, "type": "transaction", "entry": entries})
}

fn write_bundles(config: &SynthConfig, dir: &Path) -> Result<SynthStats, SynthError> {
    let mut name = String::new();
    let mut resources: Vec<Value> = Vec::new();
    generate_events(config, &mut |event| match event {
        Event::Begin(group) => {
            name = match group {
                Group::Shared => "shared".to_string(),
                Group::Patient(pid) => pid,
            };
            Ok(())
        }
        Event::Resource(r) => {
            resources.push(r);
            Ok(())
        }
        Event::End => {
            let path = dir.join(format!("Bundle-{name}.json"));
            let bundle = transaction_bundle(&format!("tx-{name}"), std::mem::take(&mut resources));
            let f = File::create(&path).map_err(io_err(&path))?;
            let mut w = BufWriter::with_capacity(1 << 16, f);
            serde_json::to_writer(&mut w, &bundle)?;
            w.flush().map_err(io_err(&path))
        }
    })
}
