//! Bounded retries of read-only ICAT calls: which operations may be repeated, which failures are
//! worth another try, and the exponential backoff with jitter between tries.

use std::time::Duration;

use rand::Rng;

use crate::IcatError;

/// How often and how patiently read-only calls are retried after transient failures (connection
/// refused or reset, HTTP 502/503/504 from a proxy). Calls that change the catalogue (`create`,
/// `update`, `delete`, ...), `login` and `logout` are never retried.
///
/// The pause before retry `n` (1-based) is `base_delay * 2^(n-1)`, capped at `max_delay`, then
/// scaled by a random factor in `[0.5, 1.0]` so that many clients do not retry in lock-step.
///
/// ```
/// use std::time::Duration;
/// use icat_soap::client::RetryPolicy;
/// let p = RetryPolicy::new(5, Duration::from_millis(100));
/// assert_eq!(p.max_attempts, 5);
/// assert!(p.delay(1) <= Duration::from_millis(100));
/// assert!(RetryPolicy::none().max_attempts == 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Pause before the first retry (before jitter).
    pub base_delay: Duration,
    /// Longest pause between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 250 ms base delay, at most 8 s between attempts.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// `max_attempts` attempts (at least 1) starting at `base_delay`, capped at 8 s or `base_delay`
    /// if larger.
    pub fn new(max_attempts: u32, base_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay: base_delay.max(Duration::from_secs(8)),
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The pause before retry number `retry` (1-based), jitter applied.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let full = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        full.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

/// True for operations that read only, so that repeating one after a lost answer is harmless: the
/// generated [`OperationInfo::read_only`](crate::meta::OperationInfo::read_only) flag. Operations
/// these bindings do not know are never retried.
pub fn is_idempotent(operation: &str) -> bool {
    crate::meta::operation(operation).is_some_and(|op| op.read_only)
}

/// True for failures that another attempt may not meet: no connection, a connection broken while
/// the answer arrived, or a gateway reporting the service briefly unavailable.
pub fn is_retryable(e: &IcatError) -> bool {
    match e {
        IcatError::Connect { .. } | IcatError::Interrupted { .. } => true,
        IcatError::Http { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(40) <= Duration::from_millis(700));
        }
        assert_eq!(RetryPolicy::new(0, Duration::ZERO).max_attempts, 1);
    }

    #[test]
    fn only_reads_are_idempotent() {
        for op in ["search", "get", "getUserName", "refresh", "getApiVersion"] {
            assert!(is_idempotent(op), "{op}");
        }
        for op in [
            "login",
            "logout",
            "create",
            "createMany",
            "update",
            "delete",
            "deleteMany",
            "noSuchOperation",
        ] {
            assert!(!is_idempotent(op), "{op}");
        }
    }

    /// A real connection-refused error, as the transport reports it.
    async fn refused() -> IcatError {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let client = crate::Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
        client.post_envelope(b"<x/>".to_vec()).await.unwrap_err()
    }

    #[tokio::test]
    async fn only_transient_failures_are_retried() {
        let http = |status| IcatError::Http {
            status,
            url: "u".into(),
            excerpt: String::new(),
        };
        assert!(is_retryable(&http(503)) && is_retryable(&http(502)) && is_retryable(&http(504)));
        assert!(!is_retryable(&http(500)) && !is_retryable(&http(404)));
        let refused = refused().await;
        assert!(matches!(refused, IcatError::Connect { .. }), "{refused:?}");
        assert!(is_retryable(&refused));
        assert!(!is_retryable(&IcatError::from_fault("INTERNAL", "m", -1)));
        assert!(!is_retryable(&IcatError::from_fault("SESSION", "m", -1)));
        assert!(!is_retryable(&IcatError::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1)
        }));
    }
}
