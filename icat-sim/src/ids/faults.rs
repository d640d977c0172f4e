//! Fault injection for the simulated IDS (all off by default; adjustable while it runs).
//!
//! Tests reach the knobs through [`super::IdsState::faults`]; the simulator's configuration
//! starts from a [`FaultSettings`].

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where to cut a download's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropAt {
    /// After this many body bytes have been sent.
    AfterBytes(u64),
    /// At a random offset within the body (uniform over its expected length).
    Random,
}

/// The fault configuration; `Default` injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSettings {
    /// Cut getData bodies at this point.
    pub drop_at: Option<DropAt>,
    /// How many getData responses to cut; `None` means every one while `drop_at` is set.
    pub drop_count: Option<u32>,
    /// Answer the next this many requests (any endpoint) with `fail_status`.
    pub fail_next: u32,
    /// 503 (`DataNotOnlineException`), 502 or 504 (a gateway's HTML page, as a proxy in front of
    /// a stopped IDS sends) or 500 (`InternalException`); anything else acts as 500.
    pub fail_status: u16,
    /// Wait this long before answering each request.
    pub delay: Option<Duration>,
    /// Corrupt the bytes of every file read (getData) so checksums no longer match.
    pub corrupt_all: bool,
    /// Corrupt the bytes read for these datafile ids.
    pub corrupt_datafiles: BTreeSet<i64>,
    /// Make every restore fail (two-level mode), setting the "Restore failed" flag.
    pub fail_restores: bool,
    /// Seed of the random drop offsets (`None`: a random seed); the same seed gives the same
    /// sequence of offsets for the same sequence of bodies.
    pub seed: Option<u64>,
}

/// Runtime fault knobs shared by all requests.
#[derive(Debug)]
pub struct Faults {
    settings: Mutex<FaultSettings>,
    rng: Mutex<StdRng>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultSettings::default())
    }
}

/// A generator from `seed`, or from the operating system's randomness.
fn rng_from(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl Faults {
    /// Knobs starting from `settings`.
    pub fn new(settings: FaultSettings) -> Self {
        let rng = rng_from(settings.seed);
        Faults {
            settings: Mutex::new(settings),
            rng: Mutex::new(rng),
        }
    }

    /// Restart the random drop offsets from `seed` (deterministic from here on).
    pub fn reseed(&self, seed: u64) {
        self.lock().seed = Some(seed);
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = StdRng::seed_from_u64(seed);
    }

    fn lock(&self) -> MutexGuard<'_, FaultSettings> {
        // Settings are plain values, always consistent; a poisoned lock is taken over.
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> FaultSettings {
        self.lock().clone()
    }

    /// Replace all settings at once (a new `seed` restarts the random offsets).
    pub fn set(&self, settings: FaultSettings) {
        let reseed = settings.seed.filter(|s| self.lock().seed != Some(*s));
        *self.lock() = settings;
        if let Some(seed) = reseed {
            self.reseed(seed);
        }
    }

    /// Turn every fault off.
    pub fn clear(&self) {
        self.set(FaultSettings::default());
    }

    /// Cut the next `count` getData bodies (`None`: all of them) at `at`.
    pub fn drop_downloads(&self, at: DropAt, count: Option<u32>) {
        let mut s = self.lock();
        s.drop_at = Some(at);
        s.drop_count = count;
    }

    /// Stop cutting getData bodies.
    pub fn clear_drops(&self) {
        let mut s = self.lock();
        s.drop_at = None;
        s.drop_count = None;
    }

    /// Answer the next `count` requests with HTTP `status` (503 or 500).
    pub fn fail_next_requests(&self, count: u32, status: u16) {
        let mut s = self.lock();
        s.fail_next = count;
        s.fail_status = status;
    }

    /// Delay every response by `delay` (`None`: no delay).
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// Corrupt the bytes served for one datafile.
    pub fn corrupt_datafile(&self, datafile_id: i64) {
        self.lock().corrupt_datafiles.insert(datafile_id);
    }

    /// Corrupt (or stop corrupting) the bytes of every file served.
    pub fn corrupt_all_reads(&self, on: bool) {
        self.lock().corrupt_all = on;
    }

    /// Stop corrupting any file.
    pub fn clear_corruption(&self) {
        let mut s = self.lock();
        s.corrupt_all = false;
        s.corrupt_datafiles.clear();
    }

    /// Make restores fail (or succeed again).
    pub fn fail_restores(&self, on: bool) {
        self.lock().fail_restores = on;
    }

    /// For a new getData body of about `expected_len` bytes: where to cut it, if at all.
    pub(crate) fn take_drop(&self, expected_len: u64) -> Option<u64> {
        let mut s = self.lock();
        let at = s.drop_at?;
        match s.drop_count {
            Some(0) => {
                s.drop_at = None;
                s.drop_count = None;
                return None;
            }
            Some(n) => s.drop_count = Some(n - 1),
            None => {}
        }
        Some(match at {
            DropAt::AfterBytes(n) => n,
            DropAt::Random => self
                .rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .random_range(0..expected_len.max(1)),
        })
    }

    /// For a new request: the status to fail it with, if any.
    pub(crate) fn take_failure(&self) -> Option<u16> {
        let mut s = self.lock();
        if s.fail_next == 0 {
            return None;
        }
        s.fail_next -= 1;
        Some(s.fail_status)
    }

    /// The current response delay.
    pub(crate) fn delay(&self) -> Option<Duration> {
        self.lock().delay
    }

    /// Whether reads of this datafile are corrupted.
    pub(crate) fn corrupts(&self, datafile_id: i64) -> bool {
        let s = self.lock();
        s.corrupt_all || s.corrupt_datafiles.contains(&datafile_id)
    }

    /// Whether restores fail.
    pub(crate) fn restores_fail(&self) -> bool {
        self.lock().fail_restores
    }
}

/// The HTML page a proxy sends for 502, 503 or 504 when the service behind it is down.
pub fn gateway_page(status: u16) -> Option<Response> {
    if !matches!(status, 502..=504) {
        return None;
    }
    let code = StatusCode::from_u16(status).ok()?;
    Some(
        (
            code,
            [(header::CONTENT_TYPE, "text/html")],
            format!(
                "<html><body><h1>{} {}</h1>Injected fault</body></html>",
                code.as_u16(),
                code.canonical_reason().unwrap_or("")
            ),
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_counted_down() {
        let f = Faults::default();
        assert_eq!(f.take_drop(100), None);
        f.drop_downloads(DropAt::AfterBytes(10), Some(2));
        assert_eq!(f.take_drop(100), Some(10));
        assert_eq!(f.take_drop(100), Some(10));
        assert_eq!(f.take_drop(100), None);
        assert_eq!(f.settings().drop_at, None);
    }

    #[test]
    fn random_drops_fall_inside_the_body() {
        let f = Faults::default();
        f.drop_downloads(DropAt::Random, None);
        for _ in 0..100 {
            let at = f.take_drop(50).unwrap();
            assert!(at < 50);
        }
    }

    #[test]
    fn seeded_random_drops_repeat() {
        let offsets = |seed| {
            let f = Faults::new(FaultSettings {
                drop_at: Some(DropAt::Random),
                seed: Some(seed),
                ..FaultSettings::default()
            });
            (0..20).map(|_| f.take_drop(1000)).collect::<Vec<_>>()
        };
        assert_eq!(offsets(7), offsets(7));
        assert_ne!(offsets(7), offsets(8));
    }

    #[test]
    fn failures_are_counted_down() {
        let f = Faults::default();
        f.fail_next_requests(2, 503);
        assert_eq!(f.take_failure(), Some(503));
        assert_eq!(f.take_failure(), Some(503));
        assert_eq!(f.take_failure(), None);
    }
}
