//! Throughput benchmark: generates N patients (default 100, then 1,000) on one thread and reports
//! resources per second, both for building the JSON values only and for serialising them to
//! NDJSON bytes in memory. Run with `cargo run --release -p crosscare-synth --example synth_bench -- 100 1000`.

use std::time::Instant;

use crosscare_synth::{generate, SynthConfig, SynthError};

/// CPU time this thread has spent running, in seconds (Linux `schedstat`), so that figures stay
/// meaningful on a machine shared with other builds. Falls back to 0 elsewhere.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() -> Result<(), SynthError> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000]
    } else {
        sizes
    };
    for n in sizes {
        let config = SynthConfig {
            patients: n,
            ..SynthConfig::default()
        };
        let t = Instant::now();
        let c = thread_cpu_seconds();
        let stats = generate(&config, &mut |_| Ok(()))?;
        let build = t.elapsed().as_secs_f64();
        let build_cpu = thread_cpu_seconds() - c;
        let t = Instant::now();
        let c = thread_cpu_seconds();
        let mut bytes: u64 = 0;
        let mut buf = Vec::with_capacity(1 << 16);
        generate(&config, &mut |r| {
            buf.clear();
            serde_json::to_writer(&mut buf, r)?;
            bytes += buf.len() as u64 + 1;
            Ok(())
        })?;
        let ser = t.elapsed().as_secs_f64();
        let ser_cpu = thread_cpu_seconds() - c;
        let r = stats.resources as f64;
        println!(
            "patients={n} resources={} per_patient={:.0} MB_ndjson={:.1}",
            stats.resources,
            r / n as f64,
            bytes as f64 / 1e6
        );
        println!(
            "  build only:        wall {build:.2}s = {:.0} res/s; thread CPU {build_cpu:.2}s = {:.0} res/s",
            r / build,
            r / build_cpu
        );
        println!(
            "  build + serialise: wall {ser:.2}s = {:.0} res/s; thread CPU {ser_cpu:.2}s = {:.0} res/s",
            r / ser,
            r / ser_cpu
        );
        println!("  by type: {:?}", stats.by_type);
    }
    Ok(())
}
