//! Adaptive concurrency for a download run: transfers start few at a time, one more is allowed
//! while the measured goodput keeps growing, and the limit halves on signs of an overloaded
//! server (503, 429, timeouts, `Retry-After`), never going above the caller's cap.
//!
//! The rule, with `cap` = `DownloadOptions::concurrency` (`icat download --parallel`):
//! - start at `min(2, cap)` transfers;
//! - goodput (bytes received by all transfers) is measured over windows of [`WINDOW`]; at the end
//!   of a window in which the limit was fully used, the limit grows when goodput grew by at
//!   least [`GROWTH`] over the previous window (or there was no previous window), and holds
//!   otherwise. It doubles until the first window in which goodput did not grow (or the first
//!   congestion signal), by one after that, as TCP's slow start: on a WAN every stream needs a
//!   round trip and a connection set-up before its first byte, and growing by one per window
//!   kept the third and fourth stream of a striped file (which the server starts late anyway,
//!   reading their prefix first) waiting for 0.6 s;
//! - a congestion signal halves the limit (at least 1), at most once per window, and sets a
//!   ceiling one below the level at which it happened, kept for the rest of the run; a
//!   `Retry-After` also holds back every new transfer until it has passed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::IdsError;

/// Length of one goodput measurement window.
pub const WINDOW: Duration = Duration::from_millis(300);
/// Goodput must grow by this factor over the previous window for the limit to grow.
pub const GROWTH: f64 = 1.10;
/// Transfers allowed at the start (or the cap, when lower).
pub const START: usize = 2;

/// How the concurrency limit moved during a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConcurrencyStats {
    /// The limit at the start.
    pub start: usize,
    /// The highest limit reached.
    pub peak_limit: usize,
    /// The most transfers that ran at once.
    pub peak_in_flight: usize,
    /// The limit at the end.
    pub final_limit: usize,
    /// The cap (`--parallel`).
    pub cap: usize,
    /// Times the limit grew.
    pub increases: u32,
    /// Times the limit was cut after a congestion signal.
    pub backoffs: u32,
}

#[derive(Debug)]
struct State {
    limit: usize,
    ceiling: usize,
    in_flight: usize,
    hold_until: Option<Instant>,
    window_start: Instant,
    window_bytes: u64,
    window_full: bool,
    last_goodput: Option<f64>,
    last_cut: Option<Instant>,
    /// Still in the start phase: the limit doubles while goodput grows.
    slow_start: bool,
    stats: ConcurrencyStats,
}

/// The shared limiter of one run.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
    changed: Notify,
}

/// A transfer slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.limiter.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.limiter.changed.notify_waiters();
    }
}

/// What an error says about the server's load: `Some(retry_after)` for a congestion signal.
pub fn congestion(e: &IdsError) -> Option<Option<Duration>> {
    match e {
        IdsError::Busy { retry_after, .. } => Some(Some(*retry_after)),
        IdsError::Server {
            status: 503 | 429, ..
        }
        | IdsError::Timeout { .. } => Some(None),
        IdsError::DataNotOnline { message } if message.contains("busy") => Some(None),
        _ => None,
    }
}

impl Limiter {
    /// A limiter that never allows more than `cap` transfers, starting at `min(START, cap)`.
    pub fn new(cap: usize, now: Instant) -> Self {
        let cap = cap.max(1);
        let start = START.min(cap);
        Limiter {
            state: Mutex::new(State {
                limit: start,
                ceiling: cap,
                in_flight: 0,
                hold_until: None,
                window_start: now,
                window_bytes: 0,
                window_full: false,
                last_goodput: None,
                last_cut: None,
                slow_start: true,
                stats: ConcurrencyStats {
                    start,
                    peak_limit: start,
                    final_limit: start,
                    cap,
                    ..ConcurrencyStats::default()
                },
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// What happened so far.
    pub fn stats(&self) -> ConcurrencyStats {
        let s = self.lock();
        ConcurrencyStats {
            final_limit: s.limit,
            ..s.stats.clone()
        }
    }

    /// Take a slot at `now` if one is free; else how long to wait at most before asking again
    /// (`None`: until a slot is freed).
    pub fn try_acquire_at(&self, now: Instant) -> Result<Permit<'_>, Option<Duration>> {
        let mut s = self.lock();
        if let Some(t) = s.hold_until {
            if now < t {
                return Err(Some(t - now));
            }
            s.hold_until = None;
        }
        if s.in_flight >= s.limit {
            return Err(None);
        }
        s.in_flight += 1;
        if s.in_flight >= s.limit {
            s.window_full = true;
        }
        s.stats.peak_in_flight = s.stats.peak_in_flight.max(s.in_flight);
        Ok(Permit { limiter: self })
    }

    /// Wait for a slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let changed = self.changed.notified();
            match self.try_acquire_at(Instant::now()) {
                Ok(p) => return p,
                Err(Some(wait)) => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                Err(None) => changed.await,
            }
        }
    }

    /// `bytes` arrived at `now`; ends a measurement window when one is over.
    pub fn record(&self, bytes: u64, now: Instant) {
        let mut s = self.lock();
        s.window_bytes += bytes;
        if s.in_flight >= s.limit {
            s.window_full = true;
        }
        let elapsed = now.saturating_duration_since(s.window_start);
        if elapsed < WINDOW {
            return;
        }
        let goodput = s.window_bytes as f64 / elapsed.as_secs_f64();
        let grew = s.last_goodput.is_none_or(|last| goodput >= last * GROWTH);
        let mut notify = false;
        if s.window_full && grew && s.limit < s.ceiling {
            let step = if s.slow_start { s.limit } else { 1 };
            s.limit = (s.limit + step).min(s.ceiling);
            s.stats.increases += 1;
            s.stats.peak_limit = s.stats.peak_limit.max(s.limit);
            notify = true;
            tracing::debug!(limit = s.limit, goodput, "goodput grew; more transfers");
        } else if s.window_full && !grew {
            s.slow_start = false;
        }
        // Only a window with the limit in use says what the limit achieves.
        if s.window_full {
            s.last_goodput = Some(goodput);
        }
        s.window_start = now;
        s.window_bytes = 0;
        s.window_full = s.in_flight >= s.limit;
        drop(s);
        if notify {
            self.changed.notify_waiters();
        }
    }

    /// The server signalled overload at `now` (503, 429, a timeout), asking to wait
    /// `retry_after` when it said so.
    pub fn congested(&self, retry_after: Option<Duration>, now: Instant) {
        let mut s = self.lock();
        if let Some(wait) = retry_after {
            let until = now + wait.min(Duration::from_secs(3600));
            s.hold_until = Some(s.hold_until.map_or(until, |t| t.max(until)));
        }
        // A burst of refusals from one overload counts once.
        if s.last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < WINDOW)
        {
            return;
        }
        let level = s.limit.max(s.in_flight);
        s.ceiling = level.saturating_sub(1).max(1).min(s.ceiling);
        s.limit = (s.limit / 2).max(1);
        s.last_cut = Some(now);
        s.slow_start = false;
        s.last_goodput = None;
        s.window_start = now;
        s.window_bytes = 0;
        s.window_full = false;
        s.stats.backoffs += 1;
        tracing::info!(
            limit = s.limit,
            ceiling = s.ceiling,
            "the server is overloaded; fewer transfers at once"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Fill the limit and run windows with the given goodput (bytes per window).
    fn run_window(l: &Limiter, t: &mut Instant, bytes: u64) -> usize {
        let mut permits = Vec::new();
        while let Ok(p) = l.try_acquire_at(*t) {
            permits.push(p);
        }
        *t += WINDOW;
        l.record(bytes, *t);
        drop(permits);
        l.limit()
    }

    #[test]
    fn starts_small_and_doubles_while_goodput_grows_up_to_the_cap() {
        let mut t = Instant::now();
        let l = Limiter::new(5, t);
        assert_eq!(l.limit(), 2);
        // Goodput proportional to the limit: it doubles each window until the cap.
        let mut limits = Vec::new();
        for _ in 0..4 {
            let n = l.limit() as u64;
            limits.push(run_window(&l, &mut t, n * 1_000_000));
        }
        assert_eq!(limits, [4, 5, 5, 5]);
        let s = l.stats();
        assert_eq!((s.start, s.peak_limit, s.cap, s.increases), (2, 5, 5, 2));
        assert!(s.peak_in_flight <= 5);
        // A wide cap: 2, 4, 8, 16.
        let l = Limiter::new(64, t);
        let mut limits = Vec::new();
        for _ in 0..3 {
            let n = l.limit() as u64;
            limits.push(run_window(&l, &mut t, n * 1_000_000));
        }
        assert_eq!(limits, [4, 8, 16]);
    }

    #[test]
    fn holds_when_goodput_stops_growing_then_grows_by_one() {
        let mut t = Instant::now();
        let l = Limiter::new(16, t);
        // Goodput grows from 2 to 4 streams, then the link is full: the start phase ends; when
        // goodput grows again (the link freed up), one more at a time.
        let mut limits = Vec::new();
        for bytes in [2, 4, 4, 4, 5, 6] {
            limits.push(run_window(&l, &mut t, bytes * 1_000_000));
        }
        assert_eq!(limits, [4, 8, 8, 8, 9, 10]);
    }

    #[test]
    fn a_window_without_the_limit_in_use_does_not_grow_it() {
        let mut t = Instant::now();
        let l = Limiter::new(8, t);
        let one = l.try_acquire_at(t).unwrap();
        t += WINDOW;
        l.record(5_000_000, t);
        assert_eq!(l.limit(), 2);
        drop(one);
    }

    #[test]
    fn congestion_halves_once_per_window_and_caps_below_the_level() {
        let mut t = Instant::now();
        let l = Limiter::new(6, t);
        for n in 2..6 {
            run_window(&l, &mut t, n * 1_000_000);
        }
        assert_eq!(l.limit(), 6);
        l.congested(None, t);
        l.congested(None, t + ms(10)); // same burst
        assert_eq!(l.limit(), 3);
        assert_eq!(l.stats().backoffs, 1);
        // Growing again (one at a time after a congestion signal) stops one below where the
        // server refused.
        let mut limits = Vec::new();
        for n in 3..7 {
            limits.push(run_window(&l, &mut t, n * 1_000_000));
        }
        assert_eq!(limits, [4, 5, 5, 5]);
        assert_eq!(l.stats().peak_limit, 6);
    }

    #[test]
    fn retry_after_holds_new_transfers_back() {
        let t = Instant::now();
        let l = Limiter::new(4, t);
        l.congested(Some(Duration::from_secs(2)), t);
        assert_eq!(l.limit(), 1);
        match l.try_acquire_at(t + ms(500)) {
            Err(Some(wait)) => assert_eq!(wait, ms(1500)),
            other => panic!("{other:?}"),
        }
        let p = l.try_acquire_at(t + Duration::from_secs(2)).unwrap();
        assert!(matches!(
            l.try_acquire_at(t + Duration::from_secs(2)),
            Err(None)
        ));
        drop(p);
        assert!(l.try_acquire_at(t + Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn never_above_the_cap_and_never_below_one() {
        let mut t = Instant::now();
        let l = Limiter::new(1, t);
        for n in 1..5 {
            assert_eq!(run_window(&l, &mut t, n * 1_000_000), 1);
        }
        l.congested(None, t);
        assert_eq!(l.limit(), 1);
    }

    #[test]
    fn congestion_signals() {
        let busy = IdsError::Busy {
            status: 503,
            retry_after: Duration::from_secs(3),
            message: "x".into(),
        };
        assert_eq!(congestion(&busy), Some(Some(Duration::from_secs(3))));
        let s = |status| IdsError::Server {
            status,
            code: "-".into(),
            message: String::new(),
        };
        assert_eq!(congestion(&s(503)), Some(None));
        assert_eq!(congestion(&s(429)), Some(None));
        assert_eq!(congestion(&s(500)), None);
        let offline = IdsError::DataNotOnline {
            message: "restoring".into(),
        };
        assert_eq!(congestion(&offline), None);
    }
}
