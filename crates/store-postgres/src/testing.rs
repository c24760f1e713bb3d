//! Test support: throwaway PostgreSQL clusters and one fresh, migrated database per test.
//!
//! This module is compiled into the library (it needs nothing beyond `std` and `tempfile`) so
//! that integration tests of this crate and of crates above it (the server, the CLI) can use
//! it; it is not meant for production code.
//!
//! **Life cycle.** [`database`] starts one cluster per test process on first use (lazily, in
//! a `OnceLock`), migrates a template database `tpl` once, and hands every test its own
//! database created with `CREATE DATABASE t_<n> TEMPLATE tpl` (copying a template is much
//! faster than migrating). A process cannot run code at exit from a static, so every cluster
//! is paired with a *watchdog*: a small `sh` child whose stdin is a pipe from the test
//! process. The kernel closes that pipe when the test process ends, however it ends (normal
//! exit, panic, abort, SIGKILL), the watchdog's `cat` sees end-of-file and it runs
//! `pg_ctl stop -m immediate` and removes the data directory. No postgres process outlives the
//! test binary by more than the time an immediate shutdown takes (well under a second).
//!
//! **Availability.** The binaries are looked up in `$CROSSCARE_PG_BIN` when it is set (and
//! only there), else in `/usr/lib/postgresql/{17,16,15,14}/bin`. When none is found, [`database`] returns
//! [`Availability::Skipped`] after printing `SKIPPED: PostgreSQL not available`, so the test
//! passes visibly; with `CI=true` in the environment it panics instead, so CI cannot go green
//! without actually running the PostgreSQL tests.
//!
//! **Root.** `initdb` refuses to run as root; when the test process is root, every cluster
//! command runs as the `postgres` system user through `runuser`, and the data directory is
//! handed to that user.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Why a cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL binaries not found (set CROSSCARE_PG_BIN)")]
    NotInstalled,
    #[error("{command} failed: {detail}")]
    Command { command: String, detail: String },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// A running throwaway cluster, listening on 127.0.0.1 and on a socket in its data directory.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Dropping (or the process ending) closes the watchdog's stdin, which stops the cluster.
    watchdog: Mutex<Option<Child>>,
    _dir: tempfile::TempDir,
}

/// The directory holding `initdb`, `pg_ctl` and `psql`, if PostgreSQL is installed.
pub fn pg_bin() -> Option<PathBuf> {
    // An explicit directory is the only one tried, so that pointing it elsewhere (for
    // instance at an empty directory) exercises the "not installed" path.
    let candidates: Vec<PathBuf> = match std::env::var("CROSSCARE_PG_BIN") {
        Ok(dir) => vec![PathBuf::from(dir)],
        Err(_) => ["17", "16", "15", "14"]
            .iter()
            .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
            .collect(),
    };
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Cluster {
    /// Creates and starts a new cluster in a fresh temporary directory (about two seconds).
    pub fn start() -> Result<Cluster, ClusterError> {
        let bin = pg_bin().ok_or(ClusterError::NotInstalled)?;
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new().prefix("crosscare-pg-").tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        if as_postgres {
            let (uid, gid) = postgres_ids()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))?;
        }
        let cluster = Cluster {
            bin,
            data,
            port: free_port()?,
            as_postgres,
            watchdog: Mutex::new(None),
            _dir: dir,
        };
        let data = cluster.data.to_string_lossy().into_owned();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.spawn_watchdog()?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` as the superuser `postgres`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server (immediate shutdown) but keeps the data directory, for outage tests.
    pub fn stop(&self) -> Result<(), ClusterError> {
        let data = self.data.to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .map(drop)
    }

    /// Starts the server again after [`Cluster::stop`].
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.pg_ctl_start()
    }

    /// Runs one SQL statement through `psql` against database `db`.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, ClusterError> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", db])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(ClusterError::Command {
                command: format!("psql -c {sql:?}"),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Starts the server. `fsync=off` and `full_page_writes=off` make it fast and lose data
    /// only on an operating-system crash; `synchronous_commit` stays on so that an immediate
    /// stop (the outage tests) keeps every acknowledged commit.
    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let data = self.data.to_string_lossy().into_owned();
        let log = self.data.join("server.log").to_string_lossy().into_owned();
        let opts = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c max_connections=200",
            self.port
        );
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-o", &opts, "start"],
        )
        .map(drop)
    }

    /// The command line of a cluster binary, through `runuser` when running as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String, ClusterError> {
        let out = self
            .command(program)
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if let Ok(log) = std::fs::read_to_string(self.data.join("server.log")) {
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                detail.push_str(" | server.log: ");
                detail.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "));
            }
            return Err(ClusterError::Command {
                command: format!("{program} {}", args.join(" ")),
                detail,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the watchdog that stops the cluster once our end of its stdin pipe closes.
    fn spawn_watchdog(&self) -> Result<(), ClusterError> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            "runuser -u postgres -- \"$0\" -D \"$1\" -m immediate stop"
        } else {
            "\"$0\" -D \"$1\" -m immediate stop"
        };
        let script = format!("cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf \"$2\"");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(pg_ctl)
            .arg(&self.data)
            .arg(self._dir.path())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Ok(mut w) = self.watchdog.lock() {
            *w = Some(child);
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the watchdog's stdin makes it stop the cluster; wait so that the cluster is
        // gone when the drop returns.
        if let Ok(mut w) = self.watchdog.lock() {
            if let Some(mut child) = w.take() {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.flush();
                }
                let _ = child.wait();
            }
        }
    }
}

fn postgres_ids() -> Result<(u32, u32), ClusterError> {
    let out = |flag: &str| -> Result<u32, ClusterError> {
        let o = Command::new("id").args([flag, "postgres"]).output()?;
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .map_err(|_| ClusterError::Command {
                command: format!("id {flag} postgres"),
                detail: "no postgres system user".into(),
            })
    };
    Ok((out("-u")?, out("-g")?))
}

/// The process-wide cluster with its migrated template database.
struct Shared {
    cluster: Cluster,
    next: AtomicU64,
    /// `CREATE DATABASE … TEMPLATE` fails while another session uses the template; one at a
    /// time is plenty fast.
    create_lock: Mutex<()>,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

fn shared() -> &'static Result<Shared, String> {
    SHARED.get_or_init(|| {
        let cluster = Cluster::start().map_err(|e| e.to_string())?;
        cluster
            .psql("postgres", "CREATE DATABASE tpl")
            .map_err(|e| e.to_string())?;
        crate::migrate(&cluster.url("tpl")).map_err(|e| e.to_string())?;
        Ok(Shared {
            cluster,
            next: AtomicU64::new(1),
            create_lock: Mutex::new(()),
        })
    })
}

/// A fresh database of the shared test cluster, migrated to the current schema.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Runs one SQL statement in this database through `psql`; returns its unaligned output.
    pub fn psql(&self, sql: &str) -> Result<String, ClusterError> {
        match shared() {
            Ok(s) => s.cluster.psql(&self.name, sql),
            Err(e) => Err(ClusterError::Command {
                command: "psql".into(),
                detail: e.clone(),
            }),
        }
    }
}

/// The outcome of asking for a test database.
pub enum Availability {
    Ready(TestDatabase),
    /// PostgreSQL is not installed here (and `CI` is not `true`); the caller returns early.
    Skipped,
}

fn skip_or_fail(reason: &str) -> Availability {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL is required when CI=true: {reason}");
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "SKIPPED: PostgreSQL not available ({reason})");
    println!("SKIPPED: PostgreSQL not available ({reason})");
    Availability::Skipped
}

/// A new database for one test, created from the migrated template of the process-wide
/// cluster (started on first use). Panics when PostgreSQL is installed but fails to start.
pub fn database() -> Availability {
    if pg_bin().is_none() {
        return skip_or_fail("no initdb/pg_ctl found; set CROSSCARE_PG_BIN");
    }
    let shared = match shared() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test PostgreSQL cluster: {e}"),
    };
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    let name = format!("t_{}_{n}", std::process::id());
    {
        let _guard = shared.create_lock.lock();
        if let Err(e) = shared
            .cluster
            .psql("postgres", &format!("CREATE DATABASE {name} TEMPLATE tpl"))
        {
            panic!("cannot create test database {name}: {e}");
        }
    }
    Availability::Ready(TestDatabase {
        url: shared.cluster.url(&name),
        name,
    })
}

/// [`database`] as an `Option`: `None` means "skipped" (the notice is already printed).
pub fn database_or_skip() -> Option<TestDatabase> {
    match database() {
        Availability::Ready(db) => Some(db),
        Availability::Skipped => None,
    }
}

/// A dedicated cluster (not the shared one), for tests that stop and restart the server.
/// Returns `None` (after printing the skip notice) when PostgreSQL is not installed.
pub fn dedicated_cluster() -> Option<Cluster> {
    if pg_bin().is_none() {
        skip_or_fail("no initdb/pg_ctl found; set CROSSCARE_PG_BIN");
        return None;
    }
    match Cluster::start() {
        Ok(c) => Some(c),
        Err(e) => panic!("cannot start a PostgreSQL cluster: {e}"),
    }
}

/// The data directory of a cluster (for diagnostics).
impl Cluster {
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

/// Writes a self-signed certificate for `CN=127.0.0.1` (with the IP as subject alternative
/// name) and its key as `<dir>/<name>.crt` and `<dir>/<name>.key`, with the `openssl` tool.
pub fn self_signed_certificate(dir: &Path, name: &str) -> Result<PathBuf, ClusterError> {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(ClusterError::Command {
            command: "openssl req -x509".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(crt)
}

impl Cluster {
    /// Turns TLS on (`ssl = on`, reloaded) with a fresh self-signed certificate for
    /// 127.0.0.1 in the data directory; returns the certificate's path (a client's root).
    pub fn enable_tls(&self) -> Result<PathBuf, ClusterError> {
        let crt = self_signed_certificate(&self.data, "server")?;
        let key = self.data.join("server.key");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        if self.as_postgres {
            let (uid, gid) = postgres_ids()?;
            std::os::unix::fs::chown(&crt, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&key, Some(uid), Some(gid))?;
        }
        self.psql("postgres", "ALTER SYSTEM SET ssl = on")?;
        self.psql("postgres", "SELECT pg_reload_conf()")?;
        for _ in 0..50 {
            if self.psql("postgres", "SHOW ssl")? == "on" {
                return Ok(crt);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(ClusterError::Command {
            command: "SHOW ssl".into(),
            detail: "TLS still off after reload".into(),
        })
    }
}
