//! Pauses that are not retries: the pace at which a wait for restored data polls the IDS, and a
//! sleep that ends early when the caller cancels.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::IdsError;

/// How often a wait for prepared or restored data polls the IDS (`isPrepared`): pauses that
/// start at `base_delay`, grow by `multiplier`, never exceed `max_delay`, and are spread by
/// `jitter` as [`RetryPolicy`](icat_soap::RetryPolicy)'s are (the same delay function).
///
/// A poll pace, not a retry policy: a poll that finds the data still on tape is not a failure,
/// and the wait is bounded by time (`WaitOptions::deadline`, hours for tape), not by a number of
/// tries; failed polls are retried by the wait itself, bounded by
/// `WaitOptions::unreachable_limit`. Whatever the pace says, a wait also polls at least every
/// tenth of the time waited so far, so restored data is noticed soon after it is online.
///
/// ```
/// use std::time::Duration;
/// let pace = icat_ids::PollPace { jitter: 0.0, ..Default::default() };
/// assert_eq!(pace.delay(1), Duration::from_secs(1));
/// assert_eq!(pace.delay(100), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPace {
    /// Pause after the first poll.
    pub base_delay: Duration,
    /// Longest pause between two polls.
    pub max_delay: Duration,
    /// Growth of the pause from one poll to the next (at least 1.0).
    pub multiplier: f64,
    /// Spread of the pauses, 0.0 to 1.0: each is scaled by a random factor in `[1 - jitter, 1]`.
    pub jitter: f64,
}

impl Default for PollPace {
    /// From 1 s, growing by 1.6, at most 30 s, jitter 0.2.
    fn default() -> Self {
        PollPace {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            multiplier: 1.6,
            jitter: 0.2,
        }
    }
}

impl PollPace {
    /// The pause after poll number `poll` (1-based), jitter applied.
    pub fn delay(&self, poll: u32) -> Duration {
        icat_soap::retry::growing_delay(
            self.base_delay,
            self.max_delay,
            self.multiplier,
            self.jitter,
            poll.saturating_sub(1),
        )
    }
}

/// Sleep for `d` unless `cancel` fires first.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> Result<(), IdsError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(IdsError::Cancelled),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let p = PollPace {
            jitter: 0.0,
            ..Default::default()
        };
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert!(p.delay(2) > p.delay(1));
        assert_eq!(p.delay(50), Duration::from_secs(30));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_band() {
        let p = PollPace::default();
        for _ in 0..200 {
            let d = p.delay(1).as_secs_f64();
            assert!((0.8..=1.0).contains(&d), "{d}");
            assert!(p.delay(40) <= p.max_delay);
        }
    }

    #[tokio::test]
    async fn cancelled_sleep_returns_cancelled() {
        let t = CancellationToken::new();
        t.cancel();
        let r = sleep_or_cancel(Duration::from_secs(60), &t).await;
        assert!(matches!(r, Err(IdsError::Cancelled)));
    }
}
