//! One retry policy and one retry loop for every service of the workspace (ICAT SOAP, ICAT REST,
//! IDS): how often a failed call is tried again, the growing, jittered pause between tries, and
//! the server's `Retry-After` honoured when it asks for a longer one.
//!
//! Which failures are worth another try, and which calls may be repeated at all, is each
//! client's own knowledge (for ICAT: read-only operations only; for the IDS: idempotent calls);
//! each says so through the [`Verdict`] it gives [`RetryPolicy::run`].

use std::time::Duration;

use rand::Rng;

/// How often and how patiently a call is tried again after a transient failure (connection
/// refused or reset, HTTP 502/503/504 from a proxy, a busy server). The same type configures the
/// ICAT client (`icat_soap::client::ClientBuilder::retry`), the ICAT REST client and the IDS
/// client (`icat_ids::IdsClientBuilder::retry`, `icat_ids::DownloadOptions::retry`).
///
/// The pause before retry `n` (1-based) is `base_delay * multiplier^(n-1)`, capped at
/// `max_delay`, then scaled by a random factor in `[1 - jitter, 1]` so that many clients do not
/// retry in lock-step: a pause never exceeds `max_delay`. When the server asks for a longer pause
/// (`Retry-After`), that is waited instead.
///
/// ```
/// use std::time::Duration;
/// use icat_soap::RetryPolicy;
/// let p = RetryPolicy { max_retries: 5, ..RetryPolicy::default() };
/// assert_eq!(p.max_retries, 5);
/// assert!(p.delay(1) <= Duration::from_millis(250));
/// // A server asking for 2 s gets 2 s, however short the policy's own pause.
/// assert_eq!(p.pause(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries after the first one (0 = never retry).
    pub max_retries: u32,
    /// Pause before the first retry (before jitter).
    pub base_delay: Duration,
    /// Longest pause between two tries (unless the server asks for a longer one).
    pub max_delay: Duration,
    /// Growth of the pause from one retry to the next (at least 1.0).
    pub multiplier: f64,
    /// Spread of the pauses, a fraction from 0.0 (none) to 1.0: each pause is scaled by a
    /// random factor in `[1 - jitter, 1]`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 3 retries, 250 ms before the first, doubling, at most 8 s between tries, jitter 0.5: the
    /// ICAT clients' default, and so that of an IDS client made by `session.ids(url)` (one built
    /// by hand defaults to `icat_ids::DEFAULT_RETRY`).
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            multiplier: 2.0,
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// `max_retries` retries starting at `base_delay`, doubling, capped at 8 s or `base_delay`
    /// if larger, jitter 0.5.
    pub fn new(max_retries: u32, base_delay: Duration) -> Self {
        RetryPolicy {
            max_retries,
            base_delay,
            max_delay: base_delay.max(Duration::from_secs(8)),
            ..RetryPolicy::default()
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The pause before retry number `retry` (1-based), jitter applied.
    pub fn delay(&self, retry: u32) -> Duration {
        growing_delay(
            self.base_delay,
            self.max_delay,
            self.multiplier,
            self.jitter,
            retry.saturating_sub(1),
        )
    }

    /// The pause before retry number `retry` (1-based) when the server asked for
    /// `retry_after`: the longer of the two.
    pub fn pause(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        self.delay(retry).max(retry_after.unwrap_or_default())
    }

    /// Runs `attempt` (a closure making one try's future) until it succeeds, `verdict` calls its failure [`Verdict::Final`], or the
    /// retries are used up, sleeping [`pause`](Self::pause) between tries; `on_retry` hears of
    /// each failure about to be retried (with the retry number, 1-based, and the pause) so the
    /// caller can log it in its own words.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use icat_soap::retry::{RetryPolicy, Verdict};
    /// let policy = RetryPolicy::new(2, Duration::from_millis(1));
    /// let mut calls = 0;
    /// let r: Result<(), _> = policy
    ///     .run(
    ///         || { calls += 1; async { Err::<(), _>("503") } },
    ///         |_| Verdict::Transient { retry_after: None },
    ///         |_, _, _| {},
    ///     )
    ///     .await;
    /// let gave_up = r.unwrap_err();
    /// assert_eq!((gave_up.attempts, gave_up.exhausted, calls), (3, true, 3));
    /// # }
    /// ```
    pub async fn run<T, E, Fut>(
        &self,
        mut attempt: impl FnMut() -> Fut,
        mut verdict: impl FnMut(&E) -> Verdict,
        mut on_retry: impl FnMut(&E, u32, Duration),
    ) -> Result<T, GaveUp<E>>
    where
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut retries = 0;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match verdict(&error) {
                Verdict::Transient { retry_after } if retries < self.max_retries => {
                    retries += 1;
                    let pause = self.pause(retries, retry_after);
                    on_retry(&error, retries, pause);
                    tokio::time::sleep(pause).await;
                }
                Verdict::Transient { .. } => {
                    return Err(GaveUp {
                        error,
                        attempts: retries + 1,
                        exhausted: true,
                    });
                }
                Verdict::Final => {
                    return Err(GaveUp {
                        error,
                        attempts: retries + 1,
                        exhausted: false,
                    });
                }
            }
        }
    }
}

/// Whether a failed try may be repeated: each client's judgement of its own errors and calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not again: the failure will not go away, or the call must not be repeated.
    Final,
    /// Again after the policy's pause, or after `retry_after` when the server asked for longer.
    Transient {
        /// The pause the server asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
}

/// The last failure of a call [`RetryPolicy::run`] gave up on.
#[derive(Debug)]
pub struct GaveUp<E> {
    /// The last failure.
    pub error: E,
    /// Tries made, the first included.
    pub attempts: u32,
    /// True when the last failure was transient and the policy allowed no more retries; false
    /// when it was final.
    pub exhausted: bool,
}

/// The pause before step `step` (0-based) of a growing sequence: `first * multiplier^step`,
/// capped at `max`, scaled by a random factor in `[1 - jitter, 1]`. The one delay function of the
/// workspace: [`RetryPolicy::delay`] and the IDS client's poll pace both use it.
pub fn growing_delay(
    first: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
    step: u32,
) -> Duration {
    let grown = first.as_secs_f64() * multiplier.max(1.0).powi(step.min(1000) as i32);
    let capped = if grown.is_finite() {
        grown.min(max.as_secs_f64())
    } else {
        max.as_secs_f64()
    };
    let j = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let scale = if j > 0.0 {
        rand::rng().random_range(1.0 - j..=1.0)
    } else {
        1.0
    };
    Duration::try_from_secs_f64(capped * scale)
        .unwrap_or(max)
        .min(max)
}

/// A `Retry-After` header in seconds (the HTTP-date form is not used by ICAT or IDS front ends
/// and is ignored), capped at one hour.
///
/// ```
/// use std::time::Duration;
/// use icat_soap::retry::parse_retry_after;
/// assert_eq!(parse_retry_after(b" 3 "), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT"), None);
/// ```
pub fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let secs: u64 = std::str::from_utf8(value).ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let p = RetryPolicy {
            max_retries: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(40) <= Duration::from_millis(700));
            assert!(p.delay(u32::MAX) <= Duration::from_millis(700));
        }
    }

    #[test]
    fn without_jitter_the_curve_is_exact() {
        let p = RetryPolicy {
            max_retries: 9,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            multiplier: 1.6,
            jitter: 0.0,
        };
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(2), Duration::from_millis(1600));
        assert_eq!(p.delay(50), Duration::from_secs(30));
        // A nonsense multiplier or jitter does not panic or shrink the pauses.
        let odd = RetryPolicy {
            multiplier: f64::NAN,
            jitter: f64::INFINITY,
            ..p
        };
        assert_eq!(odd.delay(3), Duration::from_secs(1));
    }

    #[test]
    fn a_longer_retry_after_wins() {
        let p = RetryPolicy::new(3, Duration::from_millis(10));
        assert_eq!(
            p.pause(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert!(p.pause(1, Some(Duration::ZERO)) <= Duration::from_millis(10));
        assert!(p.pause(1, None) <= Duration::from_millis(10));
    }

    #[test]
    fn retry_after_in_seconds_is_read_and_capped() {
        assert_eq!(parse_retry_after(b"3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(b" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(b"86400"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(b"-1"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_stops_at_final_failures_and_after_max_retries() {
        let p = RetryPolicy::new(3, Duration::from_millis(5));
        let mut tries = 0;
        let r: Result<u8, _> = p
            .run(
                || {
                    tries += 1;
                    std::future::ready(Err::<u8, _>(tries))
                },
                |&n| {
                    if n < 2 {
                        Verdict::Transient { retry_after: None }
                    } else {
                        Verdict::Final
                    }
                },
                |_, _, _| {},
            )
            .await;
        let g = r.unwrap_err();
        assert_eq!((g.error, g.attempts, g.exhausted), (2, 2, false));

        let mut heard = Vec::new();
        let r: Result<u8, _> = p
            .run(
                || async { Err::<u8, _>("busy") },
                |_| Verdict::Transient {
                    retry_after: Some(Duration::from_secs(7)),
                },
                |_, n, pause| heard.push((n, pause)),
            )
            .await;
        let g = r.unwrap_err();
        assert_eq!((g.attempts, g.exhausted), (4, true));
        let s7 = Duration::from_secs(7);
        assert_eq!(heard, vec![(1, s7), (2, s7), (3, s7)]);

        let mut tries = 0;
        let ok = RetryPolicy::none()
            .run(
                || {
                    tries += 1;
                    std::future::ready(Ok::<_, ()>(tries))
                },
                |_| Verdict::Final,
                |_, _, _| {},
            )
            .await;
        assert_eq!(ok.unwrap(), 1);
    }
}
