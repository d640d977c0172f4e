//! One restore deadline for a whole download run (`WaitOptions::deadline`, `icat download
//! --max-wait`): every wait of the run for data coming off tape (each prepared transfer, a
//! bundle found offline, the files found offline one by one) gets what is left of it, so a run
//! with many archived transfers gives up once, when the deadline has passed, not one deadline
//! after the other.

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::IdsError;
use crate::prepare::WaitOptions;

/// The run's restore deadline, started with the run.
pub(crate) struct RestoreClock {
    started: Instant,
    options: WaitOptions,
}

impl RestoreClock {
    /// The clock of a run waiting with `options` (`None`: the run does not wait for restores).
    pub(crate) fn start(options: Option<&WaitOptions>) -> Option<Self> {
        options.map(|o| RestoreClock {
            started: Instant::now(),
            options: o.clone(),
        })
    }

    /// The options of one wait starting now: the caller's, cancelled with the run, with what is
    /// left of the run's deadline (nothing left: one poll, then the deadline error).
    pub(crate) fn options(&self, cancel: &CancellationToken) -> WaitOptions {
        let mut w = self.options.clone();
        w.cancel = cancel.clone();
        w.deadline = self.options.deadline.saturating_sub(self.started.elapsed());
        w
    }

    /// A wait's error as the run's: a deadline error says how long the run waited in all.
    pub(crate) fn run_error(&self, e: IdsError) -> IdsError {
        match e {
            IdsError::DeadlineExceeded { prepared_id, .. } => IdsError::DeadlineExceeded {
                prepared_id,
                waited: self.started.elapsed(),
            },
            other => other,
        }
    }
}
