//! `prepare_and_wait`: prepare data, then poll `isPrepared` at a [`PollPace`] until it is online,
//! a deadline passes, the caller cancels, or the restore fails.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio_util::sync::CancellationToken;

use icat_soap::RetryPolicy;

use crate::client::IdsClient;
use crate::error::IdsError;
use crate::pause::{PollPace, sleep_or_cancel};
use crate::selection::{DataSelection, PreparedId};
use crate::types::{Packing, Status};

/// One report while waiting for prepared data.
#[derive(Debug, Clone)]
pub struct WaitStatus {
    /// The prepared id being waited on.
    pub prepared_id: PreparedId,
    /// Number of `isPrepared` polls so far.
    pub polls: u32,
    /// Time since waiting started.
    pub elapsed: Duration,
    /// Status from `getStatus`, when the server told it.
    pub status: Option<Status>,
    /// When the next poll happens.
    pub next_poll_in: Duration,
    /// How long the IDS has not answered, when this poll failed because it is unreachable
    /// (the wait gives up at [`WaitOptions::unreachable_limit`]).
    pub unreachable_for: Option<Duration>,
}

/// Callback for [`WaitStatus`] reports.
pub type WaitCallback = Arc<dyn Fn(&WaitStatus) + Send + Sync>;

/// How to wait for prepared data.
#[derive(Clone)]
pub struct WaitOptions {
    /// Delay between polls: starts near 1 s, grows, capped, with jitter. Whatever it says, a
    /// delay is at most a tenth of the time waited so far (and at least `pace.base_delay`), so
    /// data that comes online is seen within about 10% of the wait it took (a restore of 8 s
    /// is noticed within a second, not after a 13 s pause).
    pub pace: PollPace,
    /// Give up after this long (tape restores can take hours: set it generously).
    pub deadline: Duration,
    /// Give up when the IDS has answered no poll for this long (it is down or unreachable):
    /// the last transient error is returned. Default 5 minutes.
    pub unreachable_limit: Duration,
    /// Stop waiting when this fires (e.g. on Ctrl-C).
    pub cancel: CancellationToken,
    /// Called after every poll that found the data not ready.
    pub on_status: Option<WaitCallback>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            pace: PollPace::default(),
            deadline: Duration::from_secs(24 * 3600),
            unreachable_limit: Duration::from_secs(5 * 60),
            cancel: CancellationToken::new(),
            on_status: None,
        }
    }
}

impl std::fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("pace", &self.pace)
            .field("deadline", &self.deadline)
            .field("unreachable_limit", &self.unreachable_limit)
            .finish_non_exhaustive()
    }
}

/// The pause after poll number `polls` (1-based), `elapsed` into the wait: the pace's, but
/// at most a tenth of `elapsed` (at least the pace's first delay), so the data is seen
/// online within about 10% of the time it took.
fn poll_delay(pace: &PollPace, polls: u32, elapsed: Duration, notice: NoticeWithin) -> Duration {
    let tenth = (elapsed / 10).max(pace.base_delay);
    let d = pace.delay(polls).min(tenth);
    match notice {
        NoticeWithin::Tenth => d,
        // A hundredth of the wait, at least 2 s: a restore is seen within about 1% of its time.
        NoticeWithin::Hundredth => d.min((elapsed / 100).max(PIPELINE_POLL_FLOOR)),
    }
}

/// The shortest poll pause of a download run's tape pipeline (see [`NoticeWithin::Hundredth`]).
const PIPELINE_POLL_FLOOR: Duration = Duration::from_secs(2);

/// How soon a wait notices data that came online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoticeWithin {
    /// Within about a tenth of the time waited (a single wait: `icat restore --wait`).
    Tenth,
    /// Within about a hundredth of it, at least every 2 s: a download run's tape pipeline,
    /// whose datasets each wait from the start of the run, so that the last of many restores
    /// (after a minute, say) is not noticed seconds late, which the whole run would pay.
    Hundredth,
}

impl IdsClient {
    /// `prepareData` then [`IdsClient::wait_prepared`]; returns the prepared id once all data is
    /// online.
    pub async fn prepare_and_wait(
        &self,
        sel: &DataSelection,
        packing: Packing,
        opts: &WaitOptions,
    ) -> Result<PreparedId, IdsError> {
        if opts.cancel.is_cancelled() {
            return Err(IdsError::Cancelled);
        }
        let id = self.prepare_data(sel, packing).await?;
        // A prepared id grants access to the data without a session: logs show its start only.
        tracing::info!(
            prepared_id = %icat_soap::client::short_id(id.as_str()),
            "data prepared; waiting until it is online"
        );
        self.wait_prepared(&id, opts).await?;
        Ok(id)
    }

    /// Poll `isPrepared` until true. A failed restore ([`IdsError::RestoreFailed`]) and other
    /// non-transient errors end the wait at once; transient failures are retried until the
    /// deadline.
    pub async fn wait_prepared(&self, id: &PreparedId, opts: &WaitOptions) -> Result<(), IdsError> {
        self.wait_prepared_paced(id, opts, NoticeWithin::Tenth)
            .await
    }

    /// [`IdsClient::wait_prepared`], noticing data online within `notice` of the wait.
    pub(crate) async fn wait_prepared_paced(
        &self,
        id: &PreparedId,
        opts: &WaitOptions,
        notice: NoticeWithin,
    ) -> Result<(), IdsError> {
        let start = Instant::now();
        let mut last_answer = start;
        // This loop is the retry loop (with its own budget, `unreachable_limit`, and a status
        // report per poll): polls are not retried inside the client as well.
        let once = self.clone().with_retry(RetryPolicy::none());
        let mut polls = 0u32;
        loop {
            if opts.cancel.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            let ready = tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                r = once.is_prepared(id) => r,
            };
            polls += 1;
            if ready.is_ok() {
                last_answer = Instant::now();
            }
            let mut unreachable_for = None;
            let status = match ready {
                Ok(true) => return Ok(()),
                Ok(false) => match once.get_status(id).await {
                    Ok(s) => Some(s),
                    Err(e @ IdsError::RestoreFailed { .. }) => return Err(e),
                    Err(_) => None,
                },
                Err(e) if e.is_transient() => {
                    if last_answer.elapsed() >= opts.unreachable_limit {
                        tracing::debug!(error = %e, unreachable_for = ?last_answer.elapsed(), "the IDS stopped answering; giving up");
                        return Err(e);
                    }
                    tracing::debug!(error = %e, "polling isPrepared failed; will retry");
                    unreachable_for = Some(last_answer.elapsed());
                    None
                }
                Err(e) => return Err(e),
            };
            let elapsed = start.elapsed();
            if elapsed >= opts.deadline {
                return Err(IdsError::DeadlineExceeded {
                    prepared_id: id.to_string(),
                    waited: elapsed,
                });
            }
            // The last poll is at the deadline, so the whole deadline is waited.
            let delay = poll_delay(&opts.pace, polls, elapsed, notice).min(opts.deadline - elapsed);
            if let Some(cb) = &opts.on_status {
                cb(&WaitStatus {
                    prepared_id: id.clone(),
                    polls,
                    elapsed,
                    status,
                    next_poll_in: delay,
                    unreachable_for,
                });
            }
            sleep_or_cancel(delay, &opts.cancel).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_waits_at_most_a_tenth_of_the_wait_so_far() {
        let b = PollPace {
            jitter: 0.0,
            ..PollPace::default()
        };
        let s = Duration::from_secs;
        // Early on the pace's first delay; after 8 s of waiting at most 1 s, not 13 s.
        let t = NoticeWithin::Tenth;
        assert_eq!(poll_delay(&b, 1, s(0), t), s(1));
        assert_eq!(poll_delay(&b, 7, s(8), t), s(1));
        assert!(b.delay(7) > s(10));
        // A long restore: a tenth of it, up to the pace's cap.
        assert_eq!(poll_delay(&b, 20, s(100), t), s(10));
        assert_eq!(poll_delay(&b, 30, s(3600), t), s(30));
    }

    /// A download run's tape pipeline: the last of 14 restores on 2 drives came online after
    /// about a minute and was noticed 5.7 s late (a tenth of its wait), which the whole run paid
    /// (BENCHMARKS.md, facility (c)). It polls at a hundredth of the wait, at least every 2 s.
    #[test]
    fn the_tape_pipeline_polls_at_a_hundredth_of_the_wait() {
        let b = PollPace {
            jitter: 0.0,
            ..PollPace::default()
        };
        let s = Duration::from_secs;
        let h = NoticeWithin::Hundredth;
        assert_eq!(poll_delay(&b, 1, s(0), h), s(1));
        assert_eq!(poll_delay(&b, 20, s(55), h), s(2));
        assert_eq!(poll_delay(&b, 30, s(600), h), s(6));
        assert_eq!(poll_delay(&b, 30, s(3600), h), s(30));
    }
}
