//! Ingest benchmark, in process: transaction Bundles of synthetic resources through the real
//! REST layer (`Rest::handle`, validation and every search index) into a fresh SQLite store with
//! the default durability, against the *ceiling* (the same resources parsed and written to the
//! same engine with no validation and no index), the offline importer, and a single-threaded
//! phase breakdown (parse, validate, extract, write with and without index rows).

use anyhow::{ensure, Context};
use crosscare_rest::{FhirRequest, Method, Rest, RestConfig, ReturnPreference};
use crosscare_search::IndexEntry;
use crosscare_store::sqlite::{SqliteOptions, SqliteStore};
use crosscare_store::{PartitionId, Store};
use crosscare_synth::SynthConfig;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to generate and how to cut it.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Synthetic patients (about 1,000 resources each at volume 1).
    #[arg(long, default_value_t = 20)]
    pub patients: usize,
    /// Routine-care volume of the generator.
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
    /// Entries per transaction Bundle (and resources per offline write transaction).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Also run the offline importer (`crosscare import --data` path).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub offline: bool,
    /// SQLite page cache of every store's writer connection, in MiB (the store's default).
    #[arg(long, default_value_t = 128)]
    pub cache_mib: u32,
    /// Transactions sent together in the second REST case (as `crosscare import --in-flight`,
    /// whose default is 2); the first case sends them one at a time.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub in_flight: u32,
}

/// One measured row.
struct Row {
    name: String,
    resources: usize,
    elapsed: Duration,
    /// CPU time of the whole process (all threads) during the case, where known.
    cpu: Option<Duration>,
}

/// CPU time (user + system) from a `/proc/…/stat` file: fields 14 and 15, in USER_HZ ticks,
/// which Linux always exports at 100 per second. `None` elsewhere. CPU time is what a loaded
/// machine does not distort much: wall time includes waiting for other people's compilers.
pub(crate) fn cpu_time(stat: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Wall and process CPU time of `f`.
fn timed<T>(
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, Duration, Option<Duration>)> {
    let cpu0 = cpu_time("/proc/self/stat");
    let start = Instant::now();
    let out = f()?;
    let elapsed = start.elapsed();
    let cpu = cpu_time("/proc/self/stat")
        .zip(cpu0)
        .map(|(b, a)| b.saturating_sub(a));
    Ok((out, elapsed, cpu))
}

impl Row {
    fn rate(&self) -> f64 {
        self.resources as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The synthetic resources, in generation order (shared resources first).
fn resources(args: &IngestArgs) -> anyhow::Result<Vec<Value>> {
    let config = SynthConfig {
        patients: args.patients,
        volume: args.volume,
        ..SynthConfig::default()
    };
    let mut out = Vec::new();
    crosscare_synth::generate(&config, &mut |r| {
        out.push(r.clone());
        Ok(())
    })
    .context("synthetic generation")?;
    Ok(out)
}

/// Transaction Bundles of `batch` entries, each a `PUT Type/id` (as `crosscare synth
/// --format bundles` writes them), serialised as a client would send them.
fn bundles(resources: &[Value], batch: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    resources
        .chunks(batch.max(1))
        .map(|chunk| {
            let entries: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    let ty = r["resourceType"].as_str().unwrap_or_default();
                    let id = r["id"].as_str().unwrap_or_default();
                    json!({
                        "fullUrl": format!("http://localhost/fhir/{ty}/{id}"),
                        "resource": r,
                        "request": {"method": "PUT", "url": format!("{ty}/{id}")}
                    })
                })
                .collect();
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
            Ok(serde_json::to_vec(&bundle)?)
        })
        .collect()
}

/// The SQLite page cache of the stores' writers, in KiB (set once from the arguments).
static CACHE_KIB: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn store(index: bool) -> anyhow::Result<SqliteStore> {
    let defaults = SqliteOptions::default();
    Ok(SqliteStore::temporary_with(SqliteOptions {
        index,
        writer_cache_size_kib: CACHE_KIB
            .get()
            .copied()
            .unwrap_or(defaults.writer_cache_size_kib),
        ..defaults
    })?)
}

/// POSTs every Bundle to `Rest::handle` with `Prefer: return=minimal`, from `in_flight`
/// client threads taking the next Bundle as they finish one.
fn rest_ingest(bundles: &[Vec<u8>], n: usize, in_flight: u32) -> anyhow::Result<Row> {
    let rest = Rest::new(Arc::new(store(true)?), RestConfig::default());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let post = || -> anyhow::Result<()> {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(body) = bundles.get(i) else {
                return Ok(());
            };
            let mut req = FhirRequest::new(Method::Post, "");
            req.body = Some(body.clone());
            req.content_type = Some("application/fhir+json".to_string());
            req.prefer.return_pref = ReturnPreference::Minimal;
            let resp = rest.handle(req);
            ensure!(
                resp.status == 200,
                "transaction failed with {}: {}",
                resp.status,
                resp.json().map(|b| b.to_string()).unwrap_or_default()
            );
        }
    };
    let ((), elapsed, cpu) = timed(|| {
        std::thread::scope(|scope| {
            let clients: Vec<_> = (0..in_flight).map(|_| scope.spawn(post)).collect();
            for c in clients {
                c.join()
                    .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
            }
            Ok(())
        })
    })?;
    let name = match in_flight {
        1 => "transaction via REST (validate + index)".to_string(),
        k => format!("transactions via REST, {k} in flight (validate + index)"),
    };
    Ok(Row {
        name,
        resources: n,
        elapsed,
        cpu,
    })
}

/// The ceiling: each Bundle parsed, its resources written with no validation and no index.
fn ceiling(bundles: &[Vec<u8>], n: usize) -> anyhow::Result<Row> {
    let store = store(false)?;
    let partition = PartitionId::default_partition();
    let ((), elapsed, cpu) = timed(|| {
        for body in bundles {
            let mut bundle: Value = serde_json::from_slice(body)?;
            let mut tx = store.write_tx()?;
            if let Some(entries) = bundle["entry"].as_array_mut() {
                for e in entries {
                    tx.put(&partition, e["resource"].take(), Vec::new())?;
                }
            }
            tx.commit()?;
        }
        Ok(())
    })?;
    Ok(Row {
        name: "ceiling (parse + write, no validation, no index)".into(),
        resources: n,
        elapsed,
        cpu,
    })
}

/// The offline importer over NDJSON files (one per type, as `crosscare synth` writes them).
fn offline(resources: &[Value], batch: usize) -> anyhow::Result<Row> {
    let dir = tempfile::tempdir()?;
    let mut files: std::collections::BTreeMap<String, std::fs::File> = Default::default();
    for r in resources {
        let ty = r["resourceType"].as_str().unwrap_or("Unknown").to_string();
        let file = match files.entry(ty) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let path = dir.path().join(format!("{}.ndjson", v.key()));
                v.insert(std::fs::File::create(path)?)
            }
        };
        serde_json::to_writer(&mut *file, r)?;
        file.write_all(b"\n")?;
    }
    drop(files);
    let store = store(true)?;
    let options = crosscare_ingest::ImportOptions {
        batch_size: batch,
        checkpoint: None,
        credentials: None,
        in_flight: 1,
    };
    let (summary, elapsed, cpu) = timed(|| {
        Ok(crosscare_ingest::import_into_store(
            &store,
            &PartitionId::default_partition(),
            &[dir.path().to_path_buf()],
            &options,
            &crosscare_ingest::Silent,
        )?)
    })?;
    ensure!(
        summary.rejected.is_empty(),
        "offline import rejected {} resources, first: {:?}",
        summary.rejected.len(),
        summary.rejected.first()
    );
    Ok(Row {
        name: "offline import (NDJSON, validate + index)".into(),
        resources: summary.loaded as usize,
        elapsed,
        cpu,
    })
}

/// Wall and thread CPU time of `f`, per resource.
fn per_resource<T>(
    n: u32,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, Duration, Option<Duration>)> {
    let cpu0 = cpu_time("/proc/thread-self/stat");
    let start = Instant::now();
    let out = f()?;
    let wall = start.elapsed() / n;
    let cpu = cpu_time("/proc/thread-self/stat")
        .zip(cpu0)
        .map(|(b, a)| b.saturating_sub(a) / n);
    Ok((out, wall, cpu))
}

/// One line of the phase table: name, wall and thread CPU time per resource.
type Phase = (String, Duration, Option<Duration>);

/// Single-threaded time of each phase over the same resources, per resource.
fn phases(bundles: &[Vec<u8>], resources: &[Value], batch: usize) -> anyhow::Result<Vec<Phase>> {
    let n = resources.len().max(1) as u32;
    let limits = crosscare_validation::ParseLimits::default();
    let ((), parse, parse_cpu) = per_resource(n, || {
        for body in bundles {
            crosscare_validation::parse_resource(body, &limits)
                .map_err(|e| anyhow::anyhow!("parse: {e}"))?;
        }
        Ok(())
    })?;
    let ((), validate, validate_cpu) = per_resource(n, || {
        for r in resources {
            let ty = r["resourceType"].as_str().unwrap_or_default();
            crosscare_rest::body::check_for_write(ty, r)
                .map_err(|e| anyhow::anyhow!("validation: {:?}", e.issues.first()))?;
        }
        Ok(())
    })?;
    let (indexed, extract, extract_cpu) = per_resource(n, || {
        Ok(resources
            .iter()
            .map(|r| {
                let ty = r["resourceType"].as_str().unwrap_or_default();
                (r.clone(), crosscare_search::extract(ty, r))
            })
            .collect::<Vec<(Value, Vec<IndexEntry>)>>())
    })?;
    let rows: usize = indexed.iter().map(|(_, e)| e.len()).sum();

    // `put` and `commit` timed separately, each summed over the transactions.
    let write = |index: bool| -> anyhow::Result<[(Duration, Option<Duration>); 2]> {
        let store = store(index)?;
        let partition = PartitionId::default_partition();
        let mut sums = [(Duration::ZERO, Some(Duration::ZERO)); 2];
        let mut add = |k: usize, wall: Duration, cpu: Option<Duration>| {
            sums[k].0 += wall;
            sums[k].1 = sums[k].1.zip(cpu).map(|(a, b)| a + b);
        };
        for chunk in indexed.chunks(batch.max(1)) {
            let (mut tx, wall, cpu) = per_resource(1, || {
                let mut tx = store.write_tx()?;
                for (r, e) in chunk {
                    let e = if index { e.clone() } else { Vec::new() };
                    tx.put(&partition, r.clone(), e)?;
                }
                Ok(Some(tx))
            })?;
            add(0, wall, cpu);
            let ((), wall, cpu) = per_resource(1, || {
                if let Some(tx) = tx.take() {
                    tx.commit()?;
                }
                Ok(())
            })?;
            add(1, wall, cpu);
        }
        Ok(sums.map(|(w, c)| (w / n, c.map(|c| c / n))))
    };
    let [put_index, commit_index] = write(true)?;
    let [put_bare, commit_bare] = write(false)?;
    Ok(vec![
        ("parse (Bundle bytes → JSON)".into(), parse, parse_cpu),
        (
            "validate (`check_for_write`)".into(),
            validate,
            validate_cpu,
        ),
        (
            format!(
                "extract index entries ({:.1} per resource)",
                rows as f64 / f64::from(n)
            ),
            extract,
            extract_cpu,
        ),
        ("put with index rows".into(), put_index.0, put_index.1),
        ("put without index rows".into(), put_bare.0, put_bare.1),
        (
            "commit with index rows".into(),
            commit_index.0,
            commit_index.1,
        ),
        (
            "commit without index rows".into(),
            commit_bare.0,
            commit_bare.1,
        ),
    ])
}

/// Runs every case and prints Markdown tables.
pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let _ = CACHE_KIB.set(args.cache_mib.saturating_mul(1024));
    let t = Instant::now();
    let resources = resources(args)?;
    let n = resources.len();
    let bundles = bundles(&resources, args.batch)?;
    let mut by_type: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &resources {
        *by_type
            .entry(r["resourceType"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let mut mix: Vec<(&str, usize)> = by_type.into_iter().collect();
    mix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let mix: Vec<String> = mix
        .iter()
        .take(8)
        .map(|(t, c)| format!("{t} {c}"))
        .collect();
    println!(
        "{n} resources in {} Bundles of up to {} entries (generated in {:.1} s, writer page cache {} MiB); mix: {}, …",
        bundles.len(),
        args.batch,
        t.elapsed().as_secs_f64(),
        args.cache_mib,
        mix.join(", ")
    );
    let ceiling = ceiling(&bundles, n)?;
    let mut rows = vec![rest_ingest(&bundles, n, 1)?];
    if args.in_flight > 1 {
        rows.push(rest_ingest(&bundles, n, args.in_flight)?);
    }
    if args.offline {
        rows.push(offline(&resources, args.batch)?);
    }
    println!();
    println!("| case | resources | seconds | resources/s | of ceiling | CPU µs per resource |");
    println!("|---|---|---|---|---|---|");
    for r in rows.iter().chain(std::iter::once(&ceiling)) {
        let cpu = r.cpu.map_or("?".to_string(), |c| {
            format!("{:.0}", c.as_secs_f64() * 1e6 / r.resources.max(1) as f64)
        });
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.0}% | {cpu} |",
            r.name,
            r.resources,
            r.elapsed.as_secs_f64(),
            r.rate(),
            100.0 * r.rate() / ceiling.rate()
        );
    }
    println!();
    println!("| phase (single thread) | wall µs per resource | CPU µs per resource |");
    println!("|---|---|---|");
    for (name, wall, cpu) in phases(&bundles, &resources, args.batch)? {
        let cpu = cpu.map_or("?".to_string(), |c| format!("{:.1}", c.as_secs_f64() * 1e6));
        println!("| {name} | {:.1} | {cpu} |", wall.as_secs_f64() * 1e6);
    }
    Ok(())
}
