//! Quotas: how fast a client may call the API (a token bucket per client) and how many
//! resources a workspace may keep in its partition.
//!
//! The rate applies to every request authenticated with a token; the limit comes from the
//! client's own setting, else its workspace's, else the server default ([`QuotaDefaults`]).
//! A client may send `rate` requests per second on average and up to [`BURST_SECONDS`] seconds'
//! worth at once; beyond, the request is refused with the number of seconds after which one
//! request will be accepted again (HTTP 429 with `Retry-After`). Administrators have no rate
//! limit unless one is set on their client: they are the hospital's own operators and bulk
//! loaders.
//!
//! The storage quota is a number of current (not deleted) resources in a sandbox or training
//! partition; the REST layer refuses a write that would add one more (see
//! `crosscare_rest::context::put`), and reads and deletes stay allowed.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A client may send this many seconds' worth of its rate at once.
pub const BURST_SECONDS: f64 = 2.0;

/// Server-wide defaults (`crosscare serve --lab-rate-limit`, `--lab-max-resources`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaDefaults {
    /// Requests per second per workspace client; `None`: no limit.
    pub rate: Option<f64>,
    /// Current resources per sandbox or training partition; `None`: no limit.
    pub max_resources: Option<u64>,
}

impl QuotaDefaults {
    /// No limit at all: a [`crate::Lab`] opened by a library caller or a test starts so;
    /// `crosscare serve` sets its own defaults (the values of [`QuotaDefaults::default`]).
    pub const UNLIMITED: QuotaDefaults = QuotaDefaults {
        rate: None,
        max_resources: None,
    };
}

/// The defaults of `crosscare serve`.
impl Default for QuotaDefaults {
    fn default() -> Self {
        QuotaDefaults {
            rate: Some(50.0),
            max_resources: Some(100_000),
        }
    }
}

/// One client's bucket: tokens left, and when it was last refilled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The token buckets of every client seen since the server started (in memory: a restart
/// gives every client a full bucket).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token from `client`'s bucket (`rate` per second, capacity
    /// `rate × BURST_SECONDS`, at least 1). `Err` is how long until a token is available.
    pub fn take(&self, client: &str, rate: f64, now: Instant) -> Result<(), Duration> {
        if !(rate.is_finite() && rate > 0.0) {
            return Ok(());
        }
        let capacity = (rate * BURST_SECONDS).max(1.0);
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

/// The `Retry-After` value for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rate: f64, at_ms: &[u64], expected: &[Result<(), u64>]) {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        let got: Vec<Result<(), u64>> = at_ms
            .iter()
            .map(|ms| {
                limiter
                    .take("c", rate, start + Duration::from_millis(*ms))
                    .map_err(retry_after_secs)
            })
            .collect();
        assert_eq!(got, expected, "rate {rate} at {at_ms:?}");
    }

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        // 1/s: a burst of 2, then one per second.
        check(
            1.0,
            &[0, 0, 0, 500, 1000, 1000, 3000, 3000, 3000],
            &[
                Ok(()),
                Ok(()),
                Err(1),
                Err(1),
                Ok(()),
                Err(1),
                Ok(()),
                Ok(()),
                Err(1),
            ],
        );
        // 10/s: 20 at once, the 21st waits 100 ms (Retry-After rounds up to 1 s).
        let mut expected = vec![Ok(()); 20];
        expected.push(Err(1));
        check(10.0, &[0; 21], &expected);
        // No limit.
        check(0.0, &[0; 5], &[Ok(()); 5]);
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        assert!(limiter.take("a", 0.5, now).is_ok());
        assert!(limiter.take("a", 0.5, now).is_err());
        assert!(limiter.take("b", 0.5, now).is_ok());
        assert_eq!(
            limiter.take("a", 0.5, now).map_err(retry_after_secs),
            Err(2)
        );
    }
}
