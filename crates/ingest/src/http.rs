//! Import over HTTP: batches become transaction Bundles of `PUT Type/id` entries. A batch the
//! server refuses as a whole is resent as a batch Bundle, so that each invalid resource is
//! reported on its own line and the valid ones still load.

use crate::offline::describe;
use crate::source::{input_files, read_resources};
use crate::{
    Checkpoint, ClientCredentials, ImportOptions, ImportSummary, IngestError, Progress, Rejected,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Loads every resource of `paths` into the FHIR server at `base_url` (`http://host/fhir`).
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
    let mut bytes_before = 0u64;
    let mut tokens = Tokens {
        credentials: options.credentials.as_ref(),
        current: None,
    };
    for file in &files {
        let skip = checkpoint.committed(file);
        summary.resumed_past += skip;
        let mut batch: Vec<(u64, Value)> = Vec::new();
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
                let last = item.line;
                send(
                    &client,
                    &mut tokens,
                    base_url,
                    file,
                    &mut batch,
                    &mut summary,
                )?;
                checkpoint.record(options.checkpoint.as_deref(), file, last)?;
                progress.update(bytes_before + item.offset, summary.loaded);
            }
            Ok(())
        })?;
        let last = batch.last().map(|(l, _)| *l);
        send(
            &client,
            &mut tokens,
            base_url,
            file,
            &mut batch,
            &mut summary,
        )?;
        if let Some(last) = last {
            checkpoint.record(options.checkpoint.as_deref(), file, last)?;
        }
        bytes_before += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        progress.update(bytes_before, summary.loaded);
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
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
    tokens: &mut Tokens<'_>,
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
    let bearer = tokens.bearer(client, base)?;
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
