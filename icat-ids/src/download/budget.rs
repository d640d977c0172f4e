//! One retry budget shared by every file of a download run: when the IDS keeps failing with no
//! bytes arriving anywhere, or the session behind the run is gone, the whole run stops once
//! instead of each remaining file retrying (or failing) in turn.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::IdsError;

/// Failed transfer attempts a run may have in a row (across all its files, with no bytes
/// arriving in between) before it stops, and for how long (see
/// [`with_unreachable_limit`](Self::with_unreachable_limit)), and the reason it stopped, if it
/// did. Raw, striped and bundled (prepared zip) transfers all count, and so do answers of a
/// busy IDS (503/429 with `Retry-After`, e.g. a facility's cap on downloads per user): a
/// server that refuses every transfer for that long is as useless to the run as one that
/// does not answer.
///
/// Pass one in [`DownloadOptions::retry_budget`](super::DownloadOptions::retry_budget) to share
/// it between runs; a plan run without one makes its own, allowing `retry.max_retries × concurrency`
/// failures in a row: about one file's retries in wall time, whatever the concurrency.
#[derive(Debug)]
pub struct RetryBudget {
    limit: u32,
    in_a_row: AtomicU32,
    /// The longest time from the first failure of a run of failures to a later one.
    time_limit: Option<Duration>,
    /// When the current run of failures in a row began.
    first_failure: Mutex<Option<Instant>>,
    stopped: Mutex<Option<Arc<IdsError>>>,
}

impl RetryBudget {
    /// A budget allowing `limit` failed attempts in a row (0: stop at the first failure).
    pub fn new(limit: u32) -> Self {
        RetryBudget {
            limit,
            in_a_row: AtomicU32::new(0),
            time_limit: None,
            first_failure: Mutex::new(None),
            stopped: Mutex::new(None),
        }
    }

    /// Also stop when failures have followed each other, with no bytes arriving, for `limit`
    /// (the same bound as [`WaitOptions::unreachable_limit`](crate::WaitOptions) for restore
    /// waits): a failure that comes `limit` or more after the first of the row spends the
    /// budget, however few failures that was.
    pub fn with_unreachable_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Failed attempts in a row so far.
    pub fn failures_in_a_row(&self) -> u32 {
        self.in_a_row.load(Ordering::Relaxed)
    }

    /// Bytes arrived: the server is reachable, the count starts again.
    pub fn progress(&self) {
        if self.in_a_row.load(Ordering::Relaxed) != 0 {
            self.in_a_row.store(0, Ordering::Relaxed);
            *self.first_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Counts a failed attempt (a transient error): the error back when the budget allows
    /// another try, else the [`IdsError::Unreachable`] (with `err` as its source) that the run
    /// is then stopped with.
    pub fn failed(&self, err: IdsError) -> Result<IdsError, IdsError> {
        let n = self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        let failing_for = {
            let mut first = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(Instant::now).elapsed()
        };
        let in_time = self.time_limit.is_none_or(|t| failing_for < t);
        if n <= self.limit && in_time && self.stopped().is_none() {
            return Ok(err);
        }
        let last = Arc::new(err);
        self.stop(IdsError::Unreachable {
            failures: n,
            last: last.clone(),
        });
        Err(IdsError::Unreachable { failures: n, last })
    }

    /// The pause before the next try of a transfer that failed: `delay` (the backoff, or the
    /// server's `Retry-After`), but never past the moment this row of failures reaches the
    /// time limit. The try at that moment is the last one: failing again, it stops the run
    /// right at `--max-unreachable`, not a whole backoff later.
    pub fn pause(&self, delay: Duration) -> Duration {
        let Some(limit) = self.time_limit else {
            return delay;
        };
        let first = *self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        match first {
            Some(first) => delay.min(limit.saturating_sub(first.elapsed())),
            None => delay,
        }
    }

    /// A transfer gave up after its own retries with `exhausted` (its
    /// [`IdsError::RetriesExhausted`]). When its last answer was a busy IDS (503/429 asking to
    /// come back later) and no bytes arrived anywhere in the run since, the next transfer
    /// would only be refused the same way: the run stops here, once, with
    /// [`IdsError::Unreachable`] naming the busy IDS, instead of every remaining transfer
    /// starting its own retries. Any other error is given back as it is.
    pub fn gave_up(&self, exhausted: IdsError) -> IdsError {
        let busy = match &exhausted {
            IdsError::RetriesExhausted { last, .. } => matches!(**last, IdsError::Busy { .. }),
            e => matches!(e, IdsError::Busy { .. }),
        };
        let n = self.in_a_row.load(Ordering::Relaxed);
        if !busy || n == 0 {
            return exhausted;
        }
        let last = match exhausted {
            IdsError::RetriesExhausted { last, .. } => Arc::new(*last),
            e => Arc::new(e),
        };
        self.stop(IdsError::Unreachable {
            failures: n,
            last: last.clone(),
        });
        IdsError::Unreachable { failures: n, last }
    }

    /// Stops the run for `reason` (the first reason is kept).
    pub fn stop(&self, reason: IdsError) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            tracing::info!(error = %reason, "stopping the download run");
            *stopped = Some(Arc::new(reason));
        }
    }

    /// Why the run stopped, if it did.
    pub fn stopped(&self) -> Option<Arc<IdsError>> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Whether an error from one file ends the whole run: the session is gone (no later file can
/// succeed), or the run's retry budget is spent.
pub(crate) fn stops_the_run(e: &IdsError) -> bool {
    match e {
        IdsError::SessionRenewal { source } => source.is_session(),
        IdsError::NoSession | IdsError::Unreachable { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> IdsError {
        IdsError::Server {
            status: 503,
            code: "-".into(),
            message: "Service Unavailable".into(),
        }
    }

    #[test]
    fn failures_in_a_row_spend_it_and_progress_restores_it() {
        let b = RetryBudget::new(2);
        assert!(b.failed(transient()).is_ok());
        assert!(b.failed(transient()).is_ok());
        b.progress();
        assert!(b.failed(transient()).is_ok());
        assert!(b.failed(transient()).is_ok());
        assert!(b.stopped().is_none());
        assert!(b.failed(transient()).is_err());
        let why = b.stopped().unwrap();
        assert!(
            matches!(*why, IdsError::Unreachable { failures: 3, .. }),
            "{why}"
        );
        // Once stopped, it stays stopped and keeps the first reason.
        b.progress();
        assert!(b.failed(transient()).is_err());
        b.stop(IdsError::NoSession);
        assert!(matches!(
            *b.stopped().unwrap(),
            IdsError::Unreachable { .. }
        ));
    }

    /// Issue-16 finding M2: the count alone let raw transfers go on past `--max-unreachable`.
    #[test]
    fn the_time_limit_spends_it_too() {
        let b = RetryBudget::new(100).with_unreachable_limit(Duration::ZERO);
        assert!(b.failed(transient()).is_err());
        assert!(matches!(
            *b.stopped().unwrap(),
            IdsError::Unreachable { failures: 1, .. }
        ));
        let b = RetryBudget::new(100).with_unreachable_limit(Duration::from_secs(3600));
        for _ in 0..100 {
            assert!(b.failed(transient()).is_ok());
        }
        assert!(b.failed(transient()).is_err());
    }

    #[test]
    fn zero_stops_at_the_first_failure() {
        let b = RetryBudget::new(0);
        assert!(b.failed(transient()).is_err());
        assert!(stops_the_run(&b.stopped().unwrap()));
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;
    use std::error::Error as _;

    /// The run's stop reason keeps the last failure as its `source()` (a typed error a caller
    /// can inspect), not as text in its message.
    #[test]
    fn unreachable_keeps_the_last_failure_as_its_source() {
        let b = RetryBudget::new(0);
        let last = IdsError::Server {
            status: 503,
            code: "-".into(),
            message: "Service Unavailable".into(),
        };
        let stop = b.failed(last).expect_err("the budget is spent");
        for why in [&stop, &*b.stopped().expect("stopped")] {
            let source = why.source().expect("a source");
            let source = source
                .downcast_ref::<Arc<IdsError>>()
                .expect("the shared IdsError");
            assert!(
                matches!(**source, IdsError::Server { status: 503, .. }),
                "{source:?}"
            );
            assert!(!why.to_string().contains("Service Unavailable"), "{why}");
        }
    }
}

#[cfg(test)]
mod busy_tests {
    use super::*;

    fn busy() -> IdsError {
        IdsError::Busy {
            status: 503,
            retry_after: Duration::from_secs(2),
            message: "Too many concurrent downloads".into(),
        }
    }

    fn exhausted(last: IdsError) -> IdsError {
        IdsError::RetriesExhausted {
            file: "bundle 1 (100 files)".into(),
            attempts: 6,
            last: Box::new(last),
        }
    }

    /// Reviewer finding 4 (issue 19): each bundle retried a busy IDS on its own count, one
    /// after the other. A transfer giving up on a busy IDS with no data arriving stops the run
    /// once, naming the busy IDS.
    #[test]
    fn a_transfer_giving_up_on_a_busy_ids_stops_the_run() {
        let b = RetryBudget::new(100);
        for _ in 0..6 {
            assert!(b.failed(busy()).is_ok(), "busy answers count");
        }
        assert_eq!(b.failures_in_a_row(), 6);
        let e = b.gave_up(exhausted(busy()));
        assert!(
            matches!(&e, IdsError::Unreachable { failures: 6, last } if matches!(**last, IdsError::Busy { .. })),
            "{e:?}"
        );
        assert!(b.stopped().is_some());
        // Another kind of failure, or data arriving since, leaves the run going.
        let b = RetryBudget::new(100);
        assert!(b.failed(transient()).is_ok());
        let e = b.gave_up(exhausted(transient()));
        assert!(matches!(e, IdsError::RetriesExhausted { .. }), "{e:?}");
        assert!(b.stopped().is_none());
        let b = RetryBudget::new(100);
        assert!(b.failed(busy()).is_ok());
        b.progress();
        assert!(matches!(
            b.gave_up(exhausted(busy())),
            IdsError::RetriesExhausted { .. }
        ));
    }

    /// Busy answers spend the time limit like failures do (`--max-unreachable`).
    #[test]
    fn busy_answers_spend_the_time_limit() {
        let b = RetryBudget::new(100).with_unreachable_limit(Duration::ZERO);
        assert!(b.failed(busy()).is_err());
        assert!(matches!(
            *b.stopped().unwrap(),
            IdsError::Unreachable { failures: 1, .. }
        ));
    }

    /// Reviewer finding 8 (issue 19): a 7.7 s backoff was slept after the limit had passed.
    /// The pause never runs past the end of the time limit.
    #[test]
    fn the_pause_ends_at_the_time_limit() {
        let b = RetryBudget::new(100).with_unreachable_limit(Duration::from_secs(10));
        // No failure yet: the delay as asked.
        assert_eq!(b.pause(Duration::from_secs(60)), Duration::from_secs(60));
        assert!(b.failed(transient()).is_ok());
        let p = b.pause(Duration::from_secs(60));
        assert!(p <= Duration::from_secs(10), "{p:?}");
        assert_eq!(b.pause(Duration::from_secs(1)), Duration::from_secs(1));
        // Without a time limit the delay is never cut.
        let b = RetryBudget::new(100);
        assert!(b.failed(transient()).is_ok());
        assert_eq!(b.pause(Duration::from_secs(60)), Duration::from_secs(60));
    }

    fn transient() -> IdsError {
        IdsError::Server {
            status: 502,
            code: "-".into(),
            message: "Bad Gateway".into(),
        }
    }
}
