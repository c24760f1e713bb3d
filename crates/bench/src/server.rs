//! A `crosscare serve` child process for the benchmarks: started on a loopback port (without
//! authentication: the figures are the FHIR path), ready once `/health` answers 200, stopped
//! with SIGTERM (graceful shutdown; SIGKILL after 10 s) when asked or dropped.

use anyhow::Context;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Option<Child>,
    pub base: String,
    /// From spawning the process to the first `/health` 200.
    pub startup: Duration,
}

impl Server {
    /// Starts `binary serve` with `store_args` (`--data DIR` or `--database URL`) and waits up
    /// to `timeout` for it to be healthy.
    pub fn start(
        binary: &Path,
        port: u16,
        store_args: &[OsString],
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("serve")
            .arg("--insecure-no-auth")
            .arg("--listen")
            .arg(&addr)
            .args(store_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Server {
            child: Some(child),
            base: format!("http://{addr}/fhir"),
            startup: Duration::ZERO,
        };
        let health = format!("http://{addr}/health");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        loop {
            if client
                .get(&health)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                server.startup = started.elapsed();
                return Ok(server);
            }
            if let Some(child) = server.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    anyhow::bail!("crosscare serve exited during start-up: {status}");
                }
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "crosscare serve did not answer {health} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s); returns how long that took.
    pub fn stop(&mut self) -> Duration {
        let stopping = Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return stopping.elapsed();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        stopping.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
