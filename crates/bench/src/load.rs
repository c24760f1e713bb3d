//! Closed-loop HTTP load: N concurrent clients repeat requests for a fixed time; latencies are
//! recorded per request and summarised as throughput and percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u64>,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) in milliseconds, nearest rank.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_us.len());
        self.latencies_us[rank - 1] as f64 / 1000.0
    }
}

/// Runs `concurrency` clients for `duration`, each picking URLs round-robin from `urls`
/// (offset by client so that they do not move in lockstep).
pub async fn run(
    name: &str,
    client: &reqwest::Client,
    urls: Arc<Vec<String>>,
    concurrency: usize,
    duration: Duration,
) -> LoadResult {
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = worker;
            while Instant::now() < deadline && !urls.is_empty() {
                let url = &urls[i % urls.len()];
                i += 1;
                let t = Instant::now();
                let ok = match client.get(url).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        resp.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                latencies.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies_us.extend(l);
            errors += e;
        }
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    LoadResult {
        name: name.to_string(),
        requests: latencies_us.len() as u64,
        errors,
        elapsed,
        latencies_us,
    }
}

/// A Markdown table of results.
pub fn markdown(results: &[LoadResult]) -> String {
    let mut out = String::from(
        "| scenario | requests/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |\n",
            r.name,
            r.throughput(),
            r.percentile_ms(0.50),
            r.percentile_ms(0.99),
            r.errors
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let r = LoadResult {
            name: "x".into(),
            requests: 4,
            errors: 0,
            elapsed: Duration::from_secs(2),
            latencies_us: vec![1000, 2000, 3000, 4000],
        };
        assert_eq!(r.percentile_ms(0.5), 2.0);
        assert_eq!(r.percentile_ms(0.99), 4.0);
        assert_eq!(r.throughput(), 2.0);
    }
}
