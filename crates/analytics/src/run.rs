//! Running a plan over input files: NDJSON is read by one thread and parsed and evaluated in
//! chunks by a worker per core, rows are written in input order by the calling thread; JSON
//! documents (Bundles) are evaluated in order on the calling thread.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::input::{self, InputKind};
use crate::{Row, RowWriter, ViewError, ViewPlan};

/// Lines per unit of work handed to a worker.
const CHUNK_LINES: usize = 512;

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub files: usize,
    /// Resources read from the inputs, of any type.
    pub resources: u64,
    /// Resources of the view's type that passed its `where` paths.
    pub matched: u64,
    pub rows: u64,
}

/// Runs a view over NDJSON (`.ndjson`, `.jsonl`) and JSON (a Bundle or one resource) files,
/// streaming rows into `writer` and finishing it.
pub fn run_files(
    view: &Value,
    inputs: &[PathBuf],
    writer: Box<dyn RowWriter>,
) -> Result<RunStats, ViewError> {
    let plan = ViewPlan::compile(view)?;
    run_plan(&plan, inputs, writer)
}

/// [`run_files`] with an already compiled plan.
pub fn run_plan(
    plan: &ViewPlan,
    inputs: &[PathBuf],
    mut writer: Box<dyn RowWriter>,
) -> Result<RunStats, ViewError> {
    writer.start(plan.columns())?;
    let mut stats = RunStats::default();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    for path in inputs {
        stats.files += 1;
        match InputKind::of(path) {
            InputKind::Ndjson if workers > 1 => {
                run_ndjson(plan, path, workers, writer.as_mut(), &mut stats)?
            }
            _ => run_sequential(plan, path, writer.as_mut(), &mut stats)?,
        }
    }
    writer.finish()?;
    Ok(stats)
}

fn run_sequential(
    plan: &ViewPlan,
    path: &Path,
    writer: &mut dyn RowWriter,
    stats: &mut RunStats,
) -> Result<(), ViewError> {
    input::for_each_resource(path, &mut |resource, file, line| {
        stats.resources += 1;
        let rows = &mut stats.rows;
        let matched = plan
            .for_each_row(&resource, &mut |row| {
                *rows += 1;
                writer.write_row(&row)
            })
            .map_err(|e| e.at_input(file, line))?;
        stats.matched += u64::from(matched);
        Ok(())
    })
}

/// Numbered non-blank lines of one chunk.
struct Chunk {
    seq: u64,
    lines: Vec<(usize, String)>,
}

struct ChunkRows {
    rows: Vec<Row>,
    resources: u64,
    matched: u64,
}

fn evaluate_chunk(plan: &ViewPlan, name: &str, chunk: Chunk) -> Result<ChunkRows, ViewError> {
    let mut out = ChunkRows {
        rows: Vec::new(),
        resources: 0,
        matched: 0,
    };
    input::read_ndjson_lines(chunk.lines, name, &mut |resource, file, line| {
        out.resources += 1;
        let rows = &mut out.rows;
        let matched = plan
            .for_each_row(&resource, &mut |row| {
                rows.push(row);
                Ok(())
            })
            .map_err(|e| e.at_input(file, line))?;
        out.matched += u64::from(matched);
        Ok(())
    })?;
    Ok(out)
}

fn run_ndjson(
    plan: &ViewPlan,
    path: &Path,
    workers: usize,
    writer: &mut dyn RowWriter,
    stats: &mut RunStats,
) -> Result<(), ViewError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ViewError::Io {
        file: name.clone(),
        source,
    })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = sync_channel::<Chunk>(workers * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Result<ChunkRows, ViewError>)>(workers * 2);
        let reader_done = done_tx.clone();
        let reader_name = name.clone();
        scope.spawn(move || {
            let mut seq = 0;
            let mut number = 0;
            loop {
                let mut lines = Vec::with_capacity(CHUNK_LINES);
                while lines.len() < CHUNK_LINES {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) => break,
                        Ok(_) => {
                            number += 1;
                            if !line.trim().is_empty() {
                                lines.push((number, line));
                            }
                        }
                        Err(source) => {
                            let error = ViewError::Io {
                                file: reader_name.clone(),
                                source,
                            };
                            let _ = reader_done.send((seq, Err(error)));
                            return;
                        }
                    }
                }
                if lines.is_empty() {
                    return;
                }
                if work_tx.send(Chunk { seq, lines }).is_err() {
                    return;
                }
                seq += 1;
            }
        });
        for _ in 0..workers {
            let rx = Arc::clone(&work_rx);
            let tx = done_tx.clone();
            let name = name.as_str();
            scope.spawn(move || loop {
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = next else { return };
                let seq = chunk.seq;
                if tx.send((seq, evaluate_chunk(plan, name, chunk))).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        write_in_order(done_rx, writer, stats)
    })
}

/// Writes chunk results in sequence order; the first error (in input order) stops the run,
/// and dropping the receiver then stops the reader and workers.
fn write_in_order(
    done: Receiver<(u64, Result<ChunkRows, ViewError>)>,
    writer: &mut dyn RowWriter,
    stats: &mut RunStats,
) -> Result<(), ViewError> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    for (seq, result) in done {
        pending.insert(seq, result);
        while let Some(result) = pending.remove(&next) {
            let chunk = result?;
            stats.resources += chunk.resources;
            stats.matched += chunk.matched;
            for row in &chunk.rows {
                stats.rows += 1;
                writer.write_row(row)?;
            }
            next += 1;
        }
    }
    // A reader error is sent with the sequence number of the chunk it could not fill.
    if let Some((_, result)) = pending.into_iter().next() {
        result?;
    }
    Ok(())
}
