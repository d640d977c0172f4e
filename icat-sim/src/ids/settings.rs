//! Settings of the simulated IDS (what `run.properties` configures on a real one).

use std::time::Duration;

/// How the simulated IDS behaves; `Default` is a single-level, writable IDS 2.1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdsSettings {
    /// Two-level storage with `storageUnit=dataset` (`isTwoLevel` is `true`).
    pub two_level: bool,
    /// How long a dataset restore takes in two-level mode (the middle of the distribution).
    pub restore_delay: Duration,
    /// Each dataset's restore takes `restore_delay` plus or minus up to this much, drawn
    /// uniformly and deterministically from `restore_seed` and the dataset id.
    pub restore_jitter: Duration,
    /// Seed of the restore times.
    pub restore_seed: u64,
    /// How many restores run at once (tape drives); the others wait in order. 0: no limit.
    pub tape_drives: usize,
    /// `readOnly`: `put` and `delete` answer 501.
    pub read_only: bool,
    /// `enableWrite`; `None` means the real default, `!read_only`.
    pub enable_write: Option<bool>,
    /// The version reported by `version`.
    pub version: String,
    /// `linkLifetimeSeconds`: how long a `getLink` hard link lives; zero (the real default)
    /// switches `getLink` off (501).
    pub link_lifetime: Duration,
    /// `preparedCount`: how many prepared selections are kept; beyond it the oldest (by file
    /// modification time) are deleted, as ids.server's `Tidier.cleanPreparedDir` does.
    pub prepared_count: usize,
}

/// `preparedCount` of ids.server's `run.properties.example` (10000).
pub const DEFAULT_PREPARED_COUNT: usize = 10_000;

impl Default for IdsSettings {
    fn default() -> Self {
        IdsSettings {
            prepared_count: DEFAULT_PREPARED_COUNT,
            two_level: false,
            restore_delay: Duration::from_secs(2),
            restore_jitter: Duration::ZERO,
            restore_seed: 0,
            tape_drives: 0,
            read_only: false,
            enable_write: None,
            version: "2.1.1".to_string(),
            link_lifetime: Duration::ZERO,
        }
    }
}

impl IdsSettings {
    /// Whether the `write` call is enabled.
    pub fn write_enabled(&self) -> bool {
        self.enable_write.unwrap_or(!self.read_only)
    }

    /// How long the restore of `dataset_id` takes: [`IdsSettings::restore_delay`] plus or minus
    /// up to [`IdsSettings::restore_jitter`], the same for the same seed and dataset.
    pub fn restore_time(&self, dataset_id: i64) -> Duration {
        if self.restore_jitter.is_zero() {
            return self.restore_delay;
        }
        let mut rng = super::storage::SplitMix64::new(self.restore_seed ^ (dataset_id as u64));
        let unit = rng.next_f64() * 2.0 - 1.0;
        let delay = self.restore_delay.as_secs_f64() + unit * self.restore_jitter.as_secs_f64();
        Duration::try_from_secs_f64(delay.max(0.0)).unwrap_or(self.restore_delay)
    }

    /// Whether `getLink` is available (`linkLifetimeSeconds > 0`).
    pub fn links_enabled(&self) -> bool {
        !self.link_lifetime.is_zero()
    }
}
