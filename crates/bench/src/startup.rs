//! Start-up time and idle memory of the `crosscare` binary: spawn `crosscare serve` on a data
//! folder, time until `/health` answers 200, let it idle, read its resident set size from
//! `/proc/<pid>/status`, then stop it with SIGTERM and time the shutdown.

use crate::server::Server;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// What one start/idle/stop cycle measured.
#[derive(Debug, Clone)]
pub struct StartupResult {
    pub startup: Duration,
    pub idle_rss_kib: Option<u64>,
    pub idle_peak_kib: Option<u64>,
    pub shutdown: Duration,
}

/// Runs `runs` cycles and returns each result.
pub fn measure(
    binary: &Path,
    data: &Path,
    port: u16,
    idle: Duration,
    runs: usize,
) -> anyhow::Result<Vec<StartupResult>> {
    let mut results = Vec::new();
    for _ in 0..runs {
        results.push(cycle(binary, data, port, idle)?);
    }
    Ok(results)
}

fn cycle(binary: &Path, data: &Path, port: u16, idle: Duration) -> anyhow::Result<StartupResult> {
    let store_args = [OsString::from("--data"), data.as_os_str().to_owned()];
    let mut server = Server::start(binary, port, &store_args, Duration::from_secs(30))?;
    std::thread::sleep(idle);
    let (idle_rss_kib, idle_peak_kib) = server.pid().map_or((None, None), memory_kib);
    let shutdown = server.stop();
    Ok(StartupResult {
        startup: server.startup,
        idle_rss_kib,
        idle_peak_kib,
        shutdown,
    })
}

/// `VmRSS` and `VmHWM` of a process, in KiB (Linux only; `None` elsewhere).
pub fn memory_kib(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    (field_kib(&status, "VmRSS:"), field_kib(&status, "VmHWM:"))
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// A Markdown table of results.
pub fn markdown(results: &[StartupResult]) -> String {
    let mut out = String::from(
        "| run | start-up ms | idle RSS MiB | peak RSS MiB | shutdown ms |\n|---:|---:|---:|---:|---:|\n",
    );
    let mib = |k: Option<u64>| k.map_or("n/a".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    for (i, r) in results.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {:.0} |\n",
            i + 1,
            r.startup.as_secs_f64() * 1000.0,
            mib(r.idle_rss_kib),
            mib(r.idle_peak_kib),
            r.shutdown.as_secs_f64() * 1000.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_status_fields() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(field_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(field_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn own_process_has_a_resident_set_on_linux() {
        if cfg!(target_os = "linux") {
            let (rss, peak) = memory_kib(std::process::id());
            assert!(rss.is_some_and(|r| r > 0));
            assert!(peak >= rss);
        }
    }
}
