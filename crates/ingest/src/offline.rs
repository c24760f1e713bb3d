//! Offline import into a store: validate, index and write in batches, one write transaction per
//! batch, the same checks as the REST layer applies to every write.

use crate::source::{input_files, read_resources};
use crate::{Checkpoint, ImportOptions, ImportSummary, IngestError, Progress, Rejected};
use crosscare_rest::context::strip_server_meta;
use crosscare_rest::FhirError;
use crosscare_search::IndexEntry;
use crosscare_store::{PartitionId, Store, StoreError};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Loads every resource of `paths` into `partition` of `store`.
pub fn import_into_store(
    store: &dyn Store,
    partition: &PartitionId,
    paths: &[PathBuf],
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let started = Instant::now();
    let files = input_files(paths)?;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    progress.start(total);
    let mut checkpoint = match &options.checkpoint {
        Some(path) => Checkpoint::load(path)?,
        None => Checkpoint::default(),
    };
    let mut summary = ImportSummary {
        files: files.len(),
        ..ImportSummary::default()
    };
    let mut bytes_before = 0u64;
    for file in &files {
        let skip = checkpoint.committed(file);
        summary.resumed_past += skip;
        let mut batch: Vec<(u64, Value)> = Vec::with_capacity(options.batch_size);
        let mut last_offset = 0u64;
        read_resources(file, skip, &mut |item| {
            last_offset = item.offset;
            match item.resource {
                Ok(resource) => batch.push((item.line, resource)),
                Err(message) => summary.rejected.push(Rejected {
                    file: file.clone(),
                    line: item.line,
                    message,
                }),
            }
            if batch.len() >= options.batch_size {
                let last_line = item.line;
                write_batch(store, partition, file, &mut batch, &mut summary)?;
                checkpoint.record(options.checkpoint.as_deref(), file, last_line)?;
                progress.update(bytes_before + item.offset, summary.loaded);
            }
            Ok(())
        })?;
        let last_line = batch.last().map(|(l, _)| *l);
        write_batch(store, partition, file, &mut batch, &mut summary)?;
        if let Some(line) = last_line {
            checkpoint.record(options.checkpoint.as_deref(), file, line)?;
        }
        bytes_before += std::fs::metadata(file)
            .map(|m| m.len())
            .unwrap_or(last_offset);
        progress.update(bytes_before, summary.loaded);
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Writes one batch in one transaction. Invalid resources are rejected one by one; a storage
/// failure aborts the import (nothing of this batch is committed).
fn write_batch(
    store: &dyn Store,
    partition: &PartitionId,
    file: &Path,
    batch: &mut Vec<(u64, Value)>,
    summary: &mut ImportSummary,
) -> Result<(), IngestError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Validation and index extraction need only the resource: they run on worker threads
    // ahead of the write transaction, which only reads, compares and writes.
    let items: Vec<Item> = batch.drain(..).map(Item::new).collect();
    let mut tx = store.write_tx()?;
    let (mut loaded, mut unchanged) = (0u64, 0u64);
    let mut by_type: Vec<String> = Vec::new();
    let mut rejected = Vec::new();
    let prepare = |mut item: Item| {
        item.prepare();
        item
    };
    crosscare_rest::parallel::pipeline(items, prepare, |_, item| {
        let reject = |message: String| Rejected {
            file: file.to_path_buf(),
            line: item.line,
            message,
        };
        let (ty, id, index) = match item.state {
            State::Rejected(message) => {
                rejected.push(reject(message));
                return Ok(());
            }
            State::Ready { ty, id, index } => (ty, id, index),
        };
        if let Some(current) = tx.read(partition, &ty, &id)? {
            if is_same_content(current.body.as_deref(), &item.resource) {
                unchanged += 1;
                return Ok(());
            }
        }
        match tx.put(partition, item.resource, index) {
            Ok(_) => {
                loaded += 1;
                by_type.push(ty);
            }
            Err(StoreError::InvalidResource(message)) => rejected.push(reject(message)),
            Err(e) => return Err(IngestError::from(e)),
        }
        Ok(())
    })?;
    tx.commit()?;
    summary.loaded += loaded;
    summary.unchanged += unchanged;
    summary.rejected.extend(rejected);
    for ty in by_type {
        *summary.by_type.entry(ty).or_default() += 1;
    }
    Ok(())
}

/// One resource of a batch and what the checks decided for it.
struct Item {
    line: u64,
    resource: Value,
    state: State,
}

enum State {
    Rejected(String),
    /// Valid: its type, id and index entries.
    Ready {
        ty: String,
        id: String,
        index: Vec<IndexEntry>,
    },
}

impl Item {
    fn new((line, resource): (u64, Value)) -> Item {
        Item {
            line,
            resource,
            state: State::Rejected(String::new()),
        }
    }

    /// The checks of an HTTP write (server meta stripped, `check_for_write`), then extraction.
    fn prepare(&mut self) {
        let resource = &mut self.resource;
        let Some(ty) = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            self.state = State::Rejected("no resourceType".to_string());
            return;
        };
        let Some(id) = resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            self.state = State::Rejected(format!(
                "{ty} without an id: bulk imports keep the ids they are given"
            ));
            return;
        };
        strip_server_meta(resource);
        if let Err(e) = crosscare_rest::body::check_for_write(&ty, resource) {
            self.state = State::Rejected(describe(&e));
            return;
        }
        let index = crosscare_search::extract(&ty, resource);
        self.state = State::Ready { ty, id, index };
    }
}

/// True when the stored body equals `resource` apart from the server-owned meta elements.
fn is_same_content(stored: Option<&str>, resource: &Value) -> bool {
    let Some(Ok(mut stored)) = stored.map(serde_json::from_str::<Value>) else {
        return false;
    };
    strip_server_meta(&mut stored);
    &stored == resource
}

/// One line of text from an error's issues.
pub(crate) fn describe(e: &FhirError) -> String {
    e.issues
        .iter()
        .map(|i| match i.expression.first() {
            Some(at) => format!("{} (at {at})", i.diagnostics),
            None => i.diagnostics.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
