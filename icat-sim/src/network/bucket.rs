//! A token bucket in reservation form (GCRA): callers reserve bytes and learn when they may send
//! them, so a shared link is divided between connections without a background refill task.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A bucket that lets `rate` bytes per second through, with a burst of `burst` bytes.
///
/// Time is tokio's clock, so tests can run it paused and measure exactly.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: Duration,
    /// When the bytes reserved so far have all gone through (the "theoretical arrival time").
    busy_until: Mutex<Option<Instant>>,
}

impl TokenBucket {
    /// A bucket of `rate` bytes per second (must be positive and finite) that lets `burst` bytes
    /// go at once after an idle period.
    pub fn new(rate: f64, burst: u64) -> TokenBucket {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::MAX
        };
        TokenBucket {
            rate,
            burst: Duration::from_secs_f64(burst as f64 / rate),
            busy_until: Mutex::new(None),
        }
    }

    /// The rate in bytes per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Reserve `bytes` at time `now`; returns when they may be released (never before `now`).
    pub fn reserve(&self, bytes: u64, now: Instant) -> Instant {
        let cost = Duration::try_from_secs_f64(bytes as f64 / self.rate).unwrap_or(Duration::MAX);
        // The bucket is a single value updated in one statement: a poisoned lock is taken over.
        let mut busy = self.busy_until.lock().unwrap_or_else(|e| e.into_inner());
        // An idle bucket has at most `burst` worth of credit.
        let earliest = now.checked_sub(self.burst).unwrap_or(now);
        let start = busy.map_or(earliest, |b| b.max(earliest));
        let done = start.checked_add(cost).unwrap_or(start);
        *busy = Some(done);
        done.max(now)
    }

    /// Reserve `bytes` now and wait until they may go; bytes that may go now go at once.
    ///
    /// A timer is only set for a time still ahead: tokio rounds a deadline up to its next
    /// 1 ms tick and wakes it on the timer driver's next turn, so sleeping until "now" cost
    /// about 1 ms per call, which capped every shaped stream near 27 MB/s whatever its rate.
    pub async fn take(&self, bytes: u64) {
        let at = self.reserve(bytes, Instant::now());
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reservations_follow_the_rate_after_the_burst() {
        let b = TokenBucket::new(1000.0, 100);
        let t0 = Instant::now();
        // The first 100 bytes fit the burst of an idle bucket.
        assert_eq!(b.reserve(100, t0), t0);
        // Then each 100 bytes costs 0.1 s.
        assert_eq!(b.reserve(100, t0), t0 + Duration::from_millis(100));
        assert_eq!(b.reserve(500, t0), t0 + Duration::from_millis(600));
        // After a long idle period the credit is again only the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.reserve(100, later), later);
        assert_eq!(b.reserve(100, later), later + Duration::from_millis(100));
    }
}
