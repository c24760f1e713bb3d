//! The streaming NDJSON writer of an export: one scan per type, batch by batch, into files of
//! at most `max_per_file` resources (`Observation-1.ndjson`, `Observation-2.ndjson`, …).
//!
//! A file boundary is always a batch boundary (a batch never asks for more resources than the
//! open file can still take), so the scan cursor after a completed file is exactly where a
//! resumed export continues. Each completed file is flushed and fsynced before it is reported
//! through [`ExportControl::checkpoint`].

use super::request::ExportRequest;
use super::{io_err, BulkError};
use chrono::{DateTime, Utc};
use crosscare_store::{PartitionId, ScanCursor, Store};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One completed output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The file name inside the export directory.
    pub file: String,
    pub count: u64,
}

/// Where an export stands: the next type to write, where its scan continues, and how many
/// files of that type are already complete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub type_index: usize,
    pub cursor: Option<String>,
    pub files_of_type: u32,
}

/// How a caller follows and steers an export.
pub trait ExportControl {
    /// Checked before every batch: `true` stops the export (cancellation, shutdown).
    fn should_stop(&self) -> bool {
        false
    }
    /// A file is complete and durable (`file`, if one was closed) and the export will continue
    /// from `next`. A job persists both here, so that a restart resumes from `next`.
    fn checkpoint(&mut self, file: Option<&OutputFile>, next: &Position) -> Result<(), BulkError>;
    /// Resources written so far by this run, and the type being written.
    fn progress(&mut self, _written: u64, _resource_type: &str) {}
}

/// Sizes of an export run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Resources per output file, at most.
    pub max_per_file: u64,
    /// Resources per scan batch (memory is proportional to it).
    pub batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_per_file: 100_000,
            batch: 1000,
        }
    }
}

struct OpenFile {
    out: BufWriter<File>,
    path: PathBuf,
    name: String,
    count: u64,
}

impl OpenFile {
    fn create(dir: &Path, resource_type: &str, number: u32) -> Result<OpenFile, BulkError> {
        let name = format!("{resource_type}-{number}.ndjson");
        let path = dir.join(&name);
        let file = File::create(&path).map_err(io_err(&path))?;
        Ok(OpenFile {
            out: BufWriter::with_capacity(1 << 20, file),
            path,
            name,
            count: 0,
        })
    }

    fn finish(self, resource_type: &str) -> Result<OutputFile, BulkError> {
        let path = self.path;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io_err(&path)(e.into_error()))?;
        file.sync_all().map_err(io_err(&path))?;
        Ok(OutputFile {
            resource_type: resource_type.to_string(),
            file: self.name,
            count: self.count,
        })
    }
}

/// The ids matching any of the `_typeFilter`s of a type, found with the search engine (in one
/// read transaction, page by page).
fn filter_ids(
    store: &dyn Store,
    partition: &PartitionId,
    request: &ExportRequest,
    resource_type: &str,
) -> Result<Option<HashSet<String>>, BulkError> {
    let filters = request.filters_for(resource_type);
    if filters.is_empty() {
        return Ok(None);
    }
    const PAGE: usize = 1000;
    let mut ids = HashSet::new();
    let mut tx = store.read_tx()?;
    for f in filters {
        let mut q = f.query()?;
        q.result.total = None;
        q.result.sort.clear();
        let mut offset = 0;
        loop {
            q.result.count = Some(PAGE);
            q.result.offset = offset;
            let page = tx.search(std::slice::from_ref(partition), &q)?;
            let n = page.matches.len();
            ids.extend(
                page.matches
                    .into_iter()
                    .filter(|m| !m.is_deleted())
                    .map(|m| m.id),
            );
            if n < PAGE {
                break;
            }
            offset += n;
        }
    }
    Ok(Some(ids))
}

/// Writes the export described by `request`, as of `until`, into `dir`, starting at `start`
/// (the beginning, or a persisted [`Position`]). Returns `true` when every type is written,
/// `false` when `control` asked to stop.
pub fn export_all(
    store: &dyn Store,
    request: &ExportRequest,
    until: DateTime<Utc>,
    dir: &Path,
    limits: Limits,
    start: &Position,
    control: &mut dyn ExportControl,
) -> Result<bool, BulkError> {
    let partition = PartitionId(request.partition.clone());
    let types = request.resolved_types();
    let max_per_file = limits.max_per_file.max(1);
    let mut written = 0u64;
    for (index, resource_type) in types.iter().enumerate().skip(start.type_index) {
        let mut query = request.scan_query(resource_type, until, limits.batch.max(1))?;
        let mut files = 0;
        if index == start.type_index {
            query.after = start.cursor.clone().map(ScanCursor);
            files = start.files_of_type;
        }
        let keep = filter_ids(store, &partition, request, resource_type)?;
        let mut open: Option<OpenFile> = None;
        loop {
            if control.should_stop() {
                return Ok(false);
            }
            let room = max_per_file - open.as_ref().map_or(0, |f| f.count);
            query.limit = limits
                .batch
                .max(1)
                .min(usize::try_from(room).unwrap_or(usize::MAX));
            let page = {
                let mut tx = store.read_tx()?;
                tx.scan(&partition, &query)?
            };
            for v in &page.versions {
                if keep.as_ref().is_some_and(|k| !k.contains(&v.id)) {
                    continue;
                }
                let Some(body) = &v.body else { continue };
                let file = match &mut open {
                    Some(f) => f,
                    None => {
                        files += 1;
                        open.insert(OpenFile::create(dir, resource_type, files)?)
                    }
                };
                file.out
                    .write_all(body.as_bytes())
                    .and_then(|()| file.out.write_all(b"\n"))
                    .map_err(io_err(&file.path))?;
                file.count += 1;
                written += 1;
            }
            control.progress(written, resource_type);
            match page.next {
                None => {
                    let done = open.take().map(|f| f.finish(resource_type)).transpose()?;
                    let next = Position {
                        type_index: index + 1,
                        cursor: None,
                        files_of_type: 0,
                    };
                    control.checkpoint(done.as_ref(), &next)?;
                    break;
                }
                Some(cursor) => {
                    query.after = Some(cursor);
                    if open.as_ref().is_some_and(|f| f.count >= max_per_file) {
                        let done = open.take().map(|f| f.finish(resource_type)).transpose()?;
                        let next = Position {
                            type_index: index,
                            cursor: query.after.as_ref().map(|c| c.0.clone()),
                            files_of_type: files,
                        };
                        control.checkpoint(done.as_ref(), &next)?;
                    }
                }
            }
        }
    }
    Ok(true)
}
