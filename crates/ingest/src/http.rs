//! Import over HTTP: batches become transaction Bundles of `PUT Type/id` entries. A batch the
//! server refuses as a whole is resent as a batch Bundle, so that each invalid resource is
//! reported on its own line and the valid ones still load.

use crate::offline::describe;
use crate::source::{input_files, read_resources};
use crate::{
    Checkpoint, ClientCredentials, ImportOptions, ImportSummary, IngestError, Progress, Rejected,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Mutex;
use std::time::Instant;

/// One batch on its way to the server, numbered in reading order.
struct Work {
    seq: u64,
    file: usize,
    /// The batch's last line: the checkpoint once it and every earlier batch are in.
    last_line: u64,
    /// Input bytes read once this batch is in (for the progress bar).
    bytes: u64,
    batch: Vec<(u64, Value)>,
}

/// What sending one batch gave.
struct Done {
    seq: u64,
    file: usize,
    last_line: u64,
    bytes: u64,
    result: Result<ImportSummary, IngestError>,
}

/// Loads every resource of `paths` into the FHIR server at `base_url` (`http://host/fhir`).
///
/// Up to [`ImportOptions::in_flight`] Bundles are on their way at once, so the server
/// validates one while it writes another and the client reads ahead. The checkpoint only
/// moves past a batch once it and every batch read before it are committed, so a resumed
/// import never skips a batch that failed, whatever order the answers came in.
pub fn import_over_http(
    base_url: &str,
    paths: &[PathBuf],
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .map_err(|e| server_error(base_url, e))?;
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
    let skips: Vec<u64> = files.iter().map(|f| checkpoint.committed(f)).collect();
    let tokens = Mutex::new(Tokens {
        credentials: options.credentials.as_ref(),
        current: None,
    });
    // Set once a batch fails: queued batches are not sent, and reading stops.
    let stop = AtomicBool::new(false);
    let workers = options.in_flight.max(1);
    let mut order = InOrder {
        next: 0,
        waiting: BTreeMap::new(),
        error: None,
    };
    // A rendezvous channel: a batch is read only when a sender is free to take it.
    let (work_tx, work_rx) = sync_channel::<Work>(0);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = channel::<Done>();
    std::thread::scope(|scope| -> Result<(), IngestError> {
        for _ in 0..workers {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            let (client, tokens, stop, files) = (&client, &tokens, &stop, &files);
            scope.spawn(move || loop {
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(mut work) = next else { return };
                let mut part = ImportSummary::default();
                let result = if stop.load(Ordering::Acquire) {
                    Err(IngestError::Stopped)
                } else {
                    send(
                        client,
                        tokens,
                        base_url,
                        &files[work.file],
                        &mut work.batch,
                        &mut part,
                    )
                    .map(|()| part)
                };
                if result.is_err() {
                    stop.store(true, Ordering::Release);
                }
                let done = Done {
                    seq: work.seq,
                    file: work.file,
                    last_line: work.last_line,
                    bytes: work.bytes,
                    result,
                };
                if done_tx.send(done).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut apply = |done: Done, summary: &mut ImportSummary| -> Result<(), IngestError> {
            order.accept(done, &mut |d: Done, ok: ImportSummary| {
                summary.absorb(ok);
                checkpoint.record(options.checkpoint.as_deref(), &files[d.file], d.last_line)?;
                progress.update(d.bytes, summary.loaded);
                Ok(())
            })
        };
        let mut seq = 0u64;
        let mut bytes_before = 0u64;
        let read = (|| -> Result<(), IngestError> {
            for (index, file) in files.iter().enumerate() {
                let skip = skips[index];
                summary.resumed_past += skip;
                let mut batch: Vec<(u64, Value)> = Vec::new();
                let mut submit = |batch: &mut Vec<(u64, Value)>,
                                  last_line: u64,
                                  bytes: u64,
                                  summary: &mut ImportSummary|
                 -> Result<(), IngestError> {
                    if batch.is_empty() {
                        return Ok(());
                    }
                    if stop.load(Ordering::Acquire) {
                        return Err(IngestError::Stopped);
                    }
                    let work = Work {
                        seq,
                        file: index,
                        last_line,
                        bytes,
                        batch: std::mem::take(batch),
                    };
                    seq += 1;
                    if work_tx.send(work).is_err() {
                        return Err(IngestError::Stopped);
                    }
                    while let Ok(done) = done_rx.try_recv() {
                        apply(done, summary)?;
                    }
                    Ok(())
                };
                read_resources(file, skip, &mut |item| {
                    match item.resource {
                        Ok(r) => batch.push((item.line, r)),
                        Err(message) => summary.rejected.push(Rejected {
                            file: file.clone(),
                            line: item.line,
                            message,
                        }),
                    }
                    if batch.len() >= options.batch_size {
                        let bytes = bytes_before + item.offset;
                        submit(&mut batch, item.line, bytes, &mut summary)?;
                    }
                    Ok(())
                })?;
                bytes_before += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                let last = batch.last().map(|(l, _)| *l).unwrap_or(0);
                submit(&mut batch, last, bytes_before, &mut summary)?;
            }
            Ok(())
        })();
        drop(work_tx);
        // Every batch sent gets its answer, even after a failure, so that the checkpoint
        // covers all that was committed.
        for done in done_rx.iter() {
            apply(done, &mut summary)?;
        }
        // The failed batch's own error explains a stop better than the reader's.
        match order.error.take() {
            Some(e) => Err(e),
            None => read,
        }
    })?;
    summary
        .rejected
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Batches are applied in reading order: the checkpoint and the summary only take a batch
/// once every earlier one is in; after a failure, none.
struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, Done>,
    error: Option<IngestError>,
}

impl InOrder {
    fn accept(
        &mut self,
        done: Done,
        apply: &mut dyn FnMut(Done, ImportSummary) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        self.waiting.insert(done.seq, done);
        while let Some(mut done) = self.waiting.remove(&self.next) {
            self.next += 1;
            if self.error.is_some() {
                continue;
            }
            let result = std::mem::replace(&mut done.result, Ok(ImportSummary::default()));
            match result {
                Ok(part) => apply(done, part)?,
                Err(e) => self.error = Some(e),
            }
        }
        Ok(())
    }
}

impl ImportSummary {
    /// Adds one batch's counts and rejections.
    fn absorb(&mut self, part: ImportSummary) {
        self.loaded += part.loaded;
        self.unchanged += part.unchanged;
        self.rejected.extend(part.rejected);
        for (ty, n) in part.by_type {
            *self.by_type.entry(ty).or_default() += n;
        }
    }
}

fn server_error(url: &str, e: impl std::fmt::Display) -> IngestError {
    IngestError::Server {
        url: url.to_string(),
        message: e.to_string(),
    }
}

fn bundle(kind: &str, batch: &[(u64, Value)]) -> Value {
    let entries: Vec<Value> = batch
        .iter()
        .map(|(_, r)| {
            let ty = r["resourceType"].as_str().unwrap_or_default();
            let id = r["id"].as_str().unwrap_or_default();
            json!({ "resource": r, "request": { "method": "PUT", "url": format!("{ty}/{id}") } })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

/// Access tokens for the import, fetched from the server's token endpoint (found through
/// `.well-known/smart-configuration`) and renewed 30 s before they expire.
struct Tokens<'a> {
    credentials: Option<&'a ClientCredentials>,
    current: Option<(String, Instant, u64)>,
}

impl Tokens<'_> {
    fn bearer(
        &mut self,
        client: &reqwest::blocking::Client,
        base: &str,
    ) -> Result<Option<String>, IngestError> {
        let Some(creds) = self.credentials else {
            return Ok(None);
        };
        if let Some((token, at, lifetime)) = &self.current {
            if at.elapsed().as_secs() + 30 < *lifetime {
                return Ok(Some(token.clone()));
            }
        }
        let config: Value = client
            .get(format!("{base}/.well-known/smart-configuration"))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| server_error(base, format!("SMART configuration: {e}")))?;
        let endpoint = config["token_endpoint"]
            .as_str()
            .ok_or_else(|| server_error(base, "the server announces no token endpoint"))?;
        let resp = client
            .post(endpoint)
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .map_err(|e| server_error(endpoint, e))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().unwrap_or(Value::Null);
        let token = body["access_token"].as_str().ok_or_else(|| {
            server_error(
                endpoint,
                format!(
                    "token request answered {status}: {}",
                    body["error_description"].as_str().unwrap_or("no token")
                ),
            )
        })?;
        let lifetime = body["expires_in"].as_u64().unwrap_or(60);
        self.current = Some((token.to_string(), Instant::now(), lifetime));
        Ok(Some(token.to_string()))
    }
}

fn post(
    client: &reqwest::blocking::Client,
    bearer: Option<&str>,
    base: &str,
    body: &Value,
) -> Result<(u16, Value), IngestError> {
    let mut req = client.post(base);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=minimal")
        .json(body)
        .send()
        .map_err(|e| server_error(base, e))?;
    let status = resp.status().as_u16();
    let value = resp.json::<Value>().unwrap_or(Value::Null);
    Ok((status, value))
}

fn send(
    client: &reqwest::blocking::Client,
    tokens: &Mutex<Tokens<'_>>,
    base: &str,
    file: &Path,
    batch: &mut Vec<(u64, Value)>,
    summary: &mut ImportSummary,
) -> Result<(), IngestError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Resources without an id cannot be PUT; report them before sending the rest.
    batch.retain(|(line, r)| {
        let ok = r["id"].as_str().is_some() && r["resourceType"].as_str().is_some();
        if !ok {
            summary.rejected.push(Rejected {
                file: file.to_path_buf(),
                line: *line,
                message: "a resource without resourceType or id cannot be imported".to_string(),
            });
        }
        ok
    });
    let bearer = match tokens.lock() {
        Ok(mut t) => t.bearer(client, base)?,
        Err(poisoned) => poisoned.into_inner().bearer(client, base)?,
    };
    let (status, _) = post(
        client,
        bearer.as_deref(),
        base,
        &bundle("transaction", batch),
    )?;
    if (200..300).contains(&status) {
        count_loaded(batch, summary);
        batch.clear();
        return Ok(());
    }
    if status >= 500 {
        return Err(server_error(base, format!("transaction answered {status}")));
    }
    let (status, response) = post(client, bearer.as_deref(), base, &bundle("batch", batch))?;
    if !(200..300).contains(&status) {
        return Err(server_error(base, format!("batch answered {status}")));
    }
    let results = response["entry"].as_array().cloned().unwrap_or_default();
    for ((line, resource), result) in batch
        .drain(..)
        .zip(results.iter().chain(std::iter::repeat(&Value::Null)))
    {
        let code = result["response"]["status"].as_str().unwrap_or("");
        if code.starts_with('2') {
            summary.loaded += 1;
            let ty = resource["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            *summary.by_type.entry(ty).or_default() += 1;
        } else {
            let message = outcome_text(&result["response"]["outcome"])
                .unwrap_or_else(|| format!("status {code}"));
            summary.rejected.push(Rejected {
                file: file.to_path_buf(),
                line,
                message,
            });
        }
    }
    Ok(())
}

fn count_loaded(batch: &[(u64, Value)], summary: &mut ImportSummary) {
    for (_, r) in batch {
        summary.loaded += 1;
        *summary
            .by_type
            .entry(r["resourceType"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
}

fn outcome_text(outcome: &Value) -> Option<String> {
    let issues = outcome["issue"].as_array()?;
    let error = crosscare_rest::FhirError {
        status: 400,
        issues: issues
            .iter()
            .map(|i| crosscare_rest::error::Issue {
                severity: crosscare_rest::IssueSeverity::Error,
                code: crosscare_rest::IssueCode::Invalid,
                diagnostics: i["diagnostics"].as_str().unwrap_or_default().to_string(),
                expression: i["expression"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| e.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        retry_after: None,
    };
    Some(describe(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(seq: u64, ok: bool) -> Done {
        let result = if ok {
            Ok(ImportSummary {
                loaded: 1,
                ..ImportSummary::default()
            })
        } else {
            Err(IngestError::Server {
                url: "u".into(),
                message: format!("batch {seq}"),
            })
        };
        Done {
            seq,
            file: 0,
            last_line: seq * 10 + 9,
            bytes: 0,
            result,
        }
    }

    /// Answers out of order are applied in reading order; nothing after a failure is.
    #[test]
    fn batches_apply_in_reading_order_and_stop_at_a_failure() {
        let mut order = InOrder {
            next: 0,
            waiting: BTreeMap::new(),
            error: None,
        };
        let mut applied = Vec::new();
        let mut apply = |d: Done, _: ImportSummary| -> Result<(), IngestError> {
            applied.push(d.last_line);
            Ok(())
        };
        for (seq, ok) in [
            (2, true),
            (1, true),
            (4, true),
            (0, true),
            (3, false),
            (5, true),
        ] {
            order
                .accept(done(seq, ok), &mut apply)
                .expect("applying succeeds");
        }
        assert_eq!(applied, vec![9, 19, 29]);
        let error = order.error.expect("the failure is kept");
        assert!(error.to_string().contains("batch 3"));
    }
}
