//! Automatic `ANALYZE` after large writes, so that searches right after a load do not run on
//! the planner's guesses for empty tables.
//!
//! Autovacuum gets there too, but only after its nap and its thresholds (10 % of the table
//! changed), and during a long load its last pass can be far behind: after an HTTP import of
//! 990,000 versions the statistics were those of 640,000, and a chained search took 12.7 s
//! instead of 318 ms. Two triggers cover a load from its first rows to its end:
//!
//! - **doubling**: when the versions written since the store was opened reach
//!   [`AnalyzePolicy::first`], then twice that, four times, … (a load of N versions analyzes
//!   about log2(N / first) times while it runs);
//! - **settling**: when at least [`AnalyzePolicy::settle_min`] versions were written since
//!   the last `ANALYZE` started and nothing was written for [`AnalyzePolicy::quiet`] (the end
//!   of an import, whatever its size).
//!
//! At most one `ANALYZE` runs at a time, in the background on the store's runtime; statistics
//! only change plans, never results, so a failed one (an outage) is simply tried again at
//! the next trigger.
//!
//! A doubling `ANALYZE` runs while the load goes on and competes with it for the same cores,
//! and the next doubling or the settling one soon replaces what it computes: it samples with
//! [`LOAD_STATISTICS_TARGET`] instead of the server's `default_statistics_target`, about a
//! quarter of the rows and a quarter of the time (1.2 s → 0.28 s for the ten tables at
//! 100,000 resources), which is enough to replace the estimates of empty tables with the
//! right orders of magnitude. The settling `ANALYZE` at the end of a load, and
//! [`crosscare_store::Store::analyze`], use the server's target.

use deadpool_postgres::Pool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The statistics target of a doubling `ANALYZE` (PostgreSQL's default is 100; it samples
/// 300 rows per unit of target and keeps that many most common values).
pub(crate) const LOAD_STATISTICS_TARGET: u32 = 25;

/// Which trigger started an `ANALYZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Doubling,
    Settling,
}

impl Trigger {
    /// The statements of one run: a doubling one lowers the target for its own transaction.
    fn sql(self) -> String {
        match self {
            Trigger::Doubling => format!(
                "BEGIN; SET LOCAL default_statistics_target = {LOAD_STATISTICS_TARGET}; {}; COMMIT",
                super::analyze_sql()
            ),
            Trigger::Settling => super::analyze_sql(),
        }
    }
}

/// When the store analyzes its tables by itself (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzePolicy {
    /// Versions written before the first doubling `ANALYZE` (`u64::MAX`: never by volume).
    pub first: u64,
    /// Versions written since the last `ANALYZE` that a quiet period settles.
    pub settle_min: u64,
    /// How long without a write counts as the end of a load.
    pub quiet: Duration,
}

impl Default for AnalyzePolicy {
    fn default() -> Self {
        AnalyzePolicy {
            first: 10_000,
            settle_min: 1_000,
            quiet: Duration::from_secs(2),
        }
    }
}

/// The shared state of the two triggers.
pub(crate) struct AutoAnalyze {
    policy: std::sync::Mutex<AnalyzePolicy>,
    /// Versions written by committed transactions since the store was opened.
    written: AtomicU64,
    /// The value of `written` when the last `ANALYZE` started.
    analyzed: AtomicU64,
    /// The value of `written` at which the next doubling `ANALYZE` starts.
    next: AtomicU64,
    /// Milliseconds from `epoch` to the last commit that wrote something.
    last_write_ms: AtomicU64,
    epoch: Instant,
    /// An `ANALYZE` is running.
    running: AtomicBool,
    /// `ANALYZE` statements started so far (for tests and logs).
    runs: AtomicU64,
}

impl AutoAnalyze {
    pub(crate) fn new() -> Arc<AutoAnalyze> {
        let policy = AnalyzePolicy::default();
        Arc::new(AutoAnalyze {
            next: AtomicU64::new(policy.first),
            policy: std::sync::Mutex::new(policy),
            written: AtomicU64::new(0),
            analyzed: AtomicU64::new(0),
            last_write_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            running: AtomicBool::new(false),
            runs: AtomicU64::new(0),
        })
    }

    fn policy(&self) -> AnalyzePolicy {
        match self.policy.lock() {
            Ok(p) => *p,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    pub(crate) fn set_policy(&self, policy: AnalyzePolicy) {
        match self.policy.lock() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
        let written = self.written.load(Ordering::Relaxed);
        self.next.store(
            policy.first.max(written.saturating_mul(2)),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Counts the versions of a committed transaction; starts the doubling `ANALYZE` when
    /// the total reaches its threshold.
    pub(crate) fn note_written(
        self: &Arc<Self>,
        versions: u64,
        pool: &Pool,
        rt: &tokio::runtime::Handle,
    ) {
        if versions == 0 {
            return;
        }
        self.last_write_ms.store(self.now_ms(), Ordering::Relaxed);
        let total = self.written.fetch_add(versions, Ordering::Relaxed) + versions;
        if total >= self.next.load(Ordering::Relaxed) {
            self.start(pool, rt, Trigger::Doubling);
        }
    }

    /// The settling trigger, called periodically by [`AutoAnalyze::watch`].
    fn settle(self: &Arc<Self>, pool: &Pool, rt: &tokio::runtime::Handle) {
        let policy = self.policy();
        let pending = self
            .written
            .load(Ordering::Relaxed)
            .saturating_sub(self.analyzed.load(Ordering::Relaxed));
        let idle = self
            .now_ms()
            .saturating_sub(self.last_write_ms.load(Ordering::Relaxed));
        let quiet = u64::try_from(policy.quiet.as_millis()).unwrap_or(u64::MAX);
        if pending > 0 && pending >= policy.settle_min && idle >= quiet {
            self.start(pool, rt, Trigger::Settling);
        }
    }

    /// Starts one background `ANALYZE` unless one is running.
    fn start(self: &Arc<Self>, pool: &Pool, rt: &tokio::runtime::Handle, trigger: Trigger) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let written = self.written.load(Ordering::Relaxed);
        self.analyzed.store(written, Ordering::Relaxed);
        self.next.store(
            self.policy().first.max(written.saturating_mul(2)),
            Ordering::Relaxed,
        );
        self.runs.fetch_add(1, Ordering::Relaxed);
        let pool = pool.clone();
        let state = self.clone();
        rt.spawn(async move {
            if let Ok(client) = pool.get().await {
                // A failure changes no result; the next trigger tries again. A failed
                // doubling run leaves its transaction aborted on the pooled connection, so
                // it is rolled back before the connection goes back to the pool.
                if client.batch_execute(&trigger.sql()).await.is_err() {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
            }
            state.running.store(false, Ordering::Release);
        });
    }

    /// Checks the settling trigger every quarter of the quiet period (at most every second)
    /// until the pool is closed.
    pub(crate) fn watch(self: &Arc<Self>, pool: Pool, rt: tokio::runtime::Handle) {
        let state = self.clone();
        let inner = rt.clone();
        rt.spawn(async move {
            loop {
                let period = (state.policy().quiet / 4)
                    .clamp(Duration::from_millis(10), Duration::from_secs(1));
                tokio::time::sleep(period).await;
                if pool.is_closed() {
                    break;
                }
                state.settle(&pool, &inner);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doubling_run_lowers_the_target_for_its_own_transaction_only() {
        let sql = Trigger::Doubling.sql();
        assert!(
            sql.starts_with("BEGIN; SET LOCAL default_statistics_target = 25; ANALYZE resource, version, idx_token"),
            "{sql}"
        );
        assert!(sql.ends_with("; COMMIT"), "{sql}");
        let settle = Trigger::Settling.sql();
        assert!(
            settle.starts_with("ANALYZE resource, version, "),
            "{settle}"
        );
        assert!(!settle.contains("statistics_target"), "{settle}");
    }
}
