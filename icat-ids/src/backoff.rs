//! Exponential backoff with a cap and jitter, and a cancellable sleep.

use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::error::IdsError;

/// Backoff policy: delays start at `initial`, grow by `factor`, never exceed `max`, and are
/// spread by ±`jitter` (a fraction, 0.0–1.0) so many clients do not poll in lock-step.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth factor per step.
    pub factor: f64,
    /// Relative jitter, e.g. 0.2 for ±20 %.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            factor: 1.6,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before attempt number `step` (0-based), with jitter applied.
    pub fn delay(&self, step: u32) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.max(1.0).powi(step.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let j = self.jitter.clamp(0.0, 1.0);
        let spread = if j > 0.0 {
            rand::rng().random_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        Duration::from_secs_f64((capped * spread).min(self.max.as_secs_f64()))
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
        let b = Backoff {
            jitter: 0.0,
            ..Default::default()
        };
        assert_eq!(b.delay(0), Duration::from_secs(1));
        assert!(b.delay(1) > b.delay(0));
        assert_eq!(b.delay(50), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_band() {
        let b = Backoff::default();
        for _ in 0..200 {
            let d = b.delay(0).as_secs_f64();
            assert!((0.8..=1.2).contains(&d), "{d}");
            assert!(b.delay(40) <= b.max);
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
