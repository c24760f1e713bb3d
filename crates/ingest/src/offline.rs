//! Offline import into a store: validate, index and write in batches, one write transaction per
//! batch, the same checks as the REST layer applies to every write.

use crate::source::{input_files, read_ndjson, read_resources, SourceItem};
use crate::{Checkpoint, ImportOptions, ImportSummary, IngestError, Progress, Rejected};
use crosscare_rest::context::strip_server_meta;
use crosscare_rest::search_params::SearchParams;
use crosscare_rest::FhirError;
use crosscare_search::{IndexEntry, ParamRegistry};
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
    // The store's custom search parameters index what is loaded, as they index every write.
    let params = SearchParams::load(store, std::time::Duration::MAX)
        .map_err(|e| IngestError::Store(StoreError::Unavailable(e.to_string())))?;
    let mut sink = SummarySink {
        checkpoint: match &options.checkpoint {
            Some(path) => Checkpoint::load(path)?,
            None => Checkpoint::default(),
        },
        checkpoint_path: options.checkpoint.as_deref(),
        summary: ImportSummary {
            files: files.len(),
            ..ImportSummary::default()
        },
        progress,
        bytes_before: 0,
    };
    for file in &files {
        let skip = sink.checkpoint.committed(file);
        sink.summary.resumed_past += skip;
        let load = FileLoad {
            file,
            skip_lines: skip,
            expected_type: None,
            ndjson_only: false,
        };
        load_file(
            store,
            &params,
            partition,
            &load,
            options.batch_size,
            &mut sink,
        )?;
        sink.bytes_before += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        progress.update(sink.bytes_before, sink.summary.loaded);
    }
    if sink.summary.loaded > 0 {
        // Searches right after a large load otherwise run on the planner's guesses about
        // empty tables. The data is committed whatever happens here, and the database
        // refreshes statistics by itself later, so a failure is not the import's.
        let _ = store.analyze();
    }
    let mut summary = sink.summary;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The offline importer's sink: a summary, a checkpoint file, a progress bar.
struct SummarySink<'a> {
    checkpoint: Checkpoint,
    checkpoint_path: Option<&'a Path>,
    summary: ImportSummary,
    progress: &'a dyn Progress,
    /// Bytes of the files before the current one.
    bytes_before: u64,
}

impl BatchSink for SummarySink<'_> {
    fn committed(
        &mut self,
        file: &Path,
        through_line: u64,
        offset: u64,
        batch: BatchOutcome,
    ) -> Result<(), IngestError> {
        let summary = &mut self.summary;
        summary.loaded += batch.loaded;
        summary.unchanged += batch.unchanged;
        summary.rejected.extend(batch.rejected);
        for ty in batch.by_type {
            *summary.by_type.entry(ty).or_default() += 1;
        }
        self.checkpoint
            .record(self.checkpoint_path, file, through_line)?;
        self.progress
            .update(self.bytes_before + offset, self.summary.loaded);
        Ok(())
    }
}

/// What one committed batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Resources written as new versions.
    pub loaded: u64,
    /// Resources identical to their stored current version, left alone.
    pub unchanged: u64,
    /// The type of each loaded resource.
    pub by_type: Vec<String>,
    /// Lines of the batch that were not loaded, in line order.
    pub rejected: Vec<Rejected>,
}

/// Where [`load_file`] reports: once per committed batch, and asked between batches whether
/// to stop.
pub trait BatchSink {
    /// A batch is committed: every line up to `through_line` is done (loaded, unchanged or
    /// rejected), and `offset` bytes of the file are read.
    fn committed(
        &mut self,
        file: &Path,
        through_line: u64,
        offset: u64,
        batch: BatchOutcome,
    ) -> Result<(), IngestError>;

    /// Checked after each batch: `true` stops the load at that boundary.
    fn should_stop(&self) -> bool {
        false
    }
}

/// One file to load.
#[derive(Debug, Clone, Copy)]
pub struct FileLoad<'a> {
    pub file: &'a Path,
    /// Lines already committed by an earlier run.
    pub skip_lines: u64,
    /// When set, a line holding another resource type is rejected.
    pub expected_type: Option<&'a str>,
    /// Read the file as NDJSON whatever its name (else `.json` files are Bundles).
    pub ndjson_only: bool,
}

/// Loads one file into `partition`, one write transaction per `batch_size` resources, through
/// the checks of an HTTP write and indexed with the search parameters in force (`params`).
/// Returns `false` when the sink asked to stop (the lines of the committed batches are
/// reported; nothing after them is written).
pub fn load_file(
    store: &dyn Store,
    params: &SearchParams,
    partition: &PartitionId,
    load: &FileLoad<'_>,
    batch_size: usize,
    sink: &mut dyn BatchSink,
) -> Result<bool, IngestError> {
    let file = load.file;
    let mut batch: Vec<(u64, Value)> = Vec::with_capacity(batch_size.min(10_000));
    let mut early: Vec<Rejected> = Vec::new();
    let mut last = (0u64, 0u64);
    let mut flush = |batch: &mut Vec<(u64, Value)>,
                     early: &mut Vec<Rejected>,
                     (line, offset): (u64, u64)|
     -> Result<(), IngestError> {
        let mut outcome = write_batch(store, params, partition, file, batch)?;
        outcome.rejected.append(early);
        outcome.rejected.sort_by_key(|r| r.line);
        sink.committed(file, line, offset, outcome)?;
        if sink.should_stop() {
            return Err(IngestError::Stopped);
        }
        Ok(())
    };
    let mut on_item = |item: SourceItem| -> Result<(), IngestError> {
        last = (item.line, item.offset);
        let reject = |message: String| Rejected {
            file: file.to_path_buf(),
            line: item.line,
            message,
        };
        match item.resource {
            Ok(resource) => match (load.expected_type, resource.get("resourceType")) {
                (Some(want), Some(Value::String(got))) if got != want => early.push(reject(
                    format!("this line holds a {got}, but the input is declared as {want}"),
                )),
                _ => batch.push((item.line, resource)),
            },
            Err(message) => early.push(reject(message)),
        }
        if batch.len() + early.len() >= batch_size {
            flush(&mut batch, &mut early, last)?;
        }
        Ok(())
    };
    let read = if load.ndjson_only {
        read_ndjson(file, load.skip_lines, &mut on_item)
    } else {
        read_resources(file, load.skip_lines, &mut on_item)
    };
    match read {
        Ok(()) => {}
        Err(IngestError::Stopped) => return Ok(false),
        Err(e) => return Err(e),
    }
    if !batch.is_empty() || !early.is_empty() {
        match flush(&mut batch, &mut early, last) {
            Ok(()) | Err(IngestError::Stopped) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes one batch in one transaction. Invalid resources are rejected one by one; a storage
/// failure aborts the import (nothing of this batch is committed).
fn write_batch(
    store: &dyn Store,
    params: &SearchParams,
    partition: &PartitionId,
    file: &Path,
    batch: &mut Vec<(u64, Value)>,
) -> Result<BatchOutcome, IngestError> {
    let mut outcome = BatchOutcome::default();
    if batch.is_empty() {
        return Ok(outcome);
    }
    let registry = params.current();
    // Validation and index extraction need only the resource: they run on worker threads
    // ahead of the write transaction, which only reads, compares and writes.
    let items: Vec<Item> = batch.drain(..).map(Item::new).collect();
    let mut tx = store.write_tx()?;
    // The batch reads and writes these resources one by one; announced together, a backend
    // with round trips (PostgreSQL) locks and fetches them in a few statements.
    let keys: Vec<(String, String)> = items.iter().filter_map(Item::key).collect();
    tx.prefetch(partition, &keys)?;
    let prepare = |mut item: Item| {
        item.prepare(&registry);
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
                outcome.rejected.push(reject(message));
                return Ok(());
            }
            State::Ready { ty, id, index } => (ty, id, index),
        };
        if let Some(current) = tx.read(partition, &ty, &id)? {
            if is_same_content(current.body.as_deref(), &item.resource) {
                outcome.unchanged += 1;
                return Ok(());
            }
        }
        if let Err(e) = crosscare_rest::search_params::before_write(
            &registry,
            Some(params),
            &mut *tx,
            partition,
            &ty,
            Some(&item.resource),
        ) {
            outcome.rejected.push(reject(describe(&e)));
            return Ok(());
        }
        match tx.put(partition, item.resource, index) {
            Ok(_) => {
                outcome.loaded += 1;
                outcome.by_type.push(ty);
            }
            Err(StoreError::InvalidResource(message)) => outcome.rejected.push(reject(message)),
            Err(e) => return Err(IngestError::from(e)),
        }
        Ok(())
    })?;
    tx.commit()?;
    Ok(outcome)
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

    /// `(resourceType, id)` as given, before any check.
    fn key(&self) -> Option<(String, String)> {
        let field = |name: &str| self.resource.get(name).and_then(Value::as_str);
        Some((field("resourceType")?.to_string(), field("id")?.to_string()))
    }

    /// The checks of an HTTP write (server meta stripped, `check_for_write`), then extraction.
    fn prepare(&mut self, registry: &ParamRegistry) {
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
        let index = registry.extract(&ty, resource).0;
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
