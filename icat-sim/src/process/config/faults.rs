//! The `[faults]` table of `sim.toml`: which faults the simulator injects (all off by default).
//! The injection itself is [`crate::glue::fault_injection`].

use std::time::Duration;

use serde::Deserialize;

use crate::ids::{DropAt, FaultSettings};

/// The `[faults]` table of `sim.toml`; `Default` injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of every random choice (drop offsets); `None` picks one at random.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Forget every session this often (as if the server lost them), e.g. `"30s"`.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub expire_sessions_every: Option<Duration>,
    /// Faults of the ICAT SOAP service.
    #[serde(default)]
    pub icat: ServiceFaultConfig,
    /// Faults of the IDS.
    #[serde(default)]
    pub ids: IdsFaultConfig,
}

/// Faults of one HTTP service (`[faults.icat]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceFaultConfig {
    /// Answer the first this many requests with `failStatus`.
    #[serde(default)]
    pub fail_next: u32,
    /// 502, 503 or 504 (a gateway page) or 500 (an ICAT `INTERNAL` fault); default 503.
    #[serde(default)]
    pub fail_status: Option<u16>,
    /// Wait this long before answering each request, e.g. `"200ms"`.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub delay: Option<Duration>,
    /// Cut the connection after this many bytes of each answer body.
    #[serde(default)]
    pub drop_after_bytes: Option<u64>,
    /// Cut the connection at a random offset of each answer body (seeded by `seed`).
    #[serde(default)]
    pub drop_random: bool,
    /// Cut only this many answers (default: every one while a drop is configured).
    #[serde(default)]
    pub drop_count: Option<u32>,
}

/// Faults of the IDS (`[faults.ids]`): those of every service plus corruption and restores.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdsFaultConfig {
    /// Answer the first this many requests with `failStatus`.
    #[serde(default)]
    pub fail_next: u32,
    /// 503 (`DataNotOnlineException`), 502/504 (a gateway page) or 500 (`InternalException`);
    /// default 503.
    #[serde(default)]
    pub fail_status: Option<u16>,
    /// Wait this long before answering each request.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub delay: Option<Duration>,
    /// Cut getData bodies after this many bytes.
    #[serde(default)]
    pub drop_after_bytes: Option<u64>,
    /// Cut getData bodies at a random offset (seeded by `seed`).
    #[serde(default)]
    pub drop_random: bool,
    /// Cut only this many getData bodies (default: every one while a drop is configured).
    #[serde(default)]
    pub drop_count: Option<u32>,
    /// Flip bytes of the files served for these datafile ids.
    #[serde(default)]
    pub corrupt_datafiles: Vec<i64>,
    /// Flip bytes of every file served.
    #[serde(default)]
    pub corrupt_all: bool,
    /// Make every restore from archive fail (two-level mode).
    #[serde(default)]
    pub fail_restores: bool,
}

fn de_opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    crate::process::duration::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn drop_at(after: Option<u64>, random: bool) -> Option<DropAt> {
    match (after, random) {
        (Some(n), _) => Some(DropAt::AfterBytes(n)),
        (None, true) => Some(DropAt::Random),
        (None, false) => None,
    }
}

impl ServiceFaultConfig {
    /// Where answers are cut, if at all.
    pub fn drop_at(&self) -> Option<DropAt> {
        drop_at(self.drop_after_bytes, self.drop_random)
    }
}

impl FaultConfig {
    /// True when nothing is injected.
    pub fn is_off(&self) -> bool {
        *self == FaultConfig::default()
    }

    /// Checks the values (statuses that can be injected).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.icat.fail_status
            && !matches!(s, 500 | 502 | 503 | 504)
        {
            return Err(format!(
                "faults.icat.failStatus = {s}: use 500, 502, 503 or 504"
            ));
        }
        if let Some(s) = self.ids.fail_status
            && !matches!(s, 500 | 502 | 503 | 504)
        {
            return Err(format!(
                "faults.ids.failStatus = {s}: use 500, 502, 503 or 504"
            ));
        }
        if self.expire_sessions_every.is_some_and(|d| d.is_zero()) {
            return Err("faults.expireSessionsEvery must be longer than 0s".into());
        }
        Ok(())
    }

    /// The IDS part as the IDS's own fault settings.
    pub fn ids_settings(&self) -> FaultSettings {
        let ids = &self.ids;
        FaultSettings {
            drop_at: drop_at(ids.drop_after_bytes, ids.drop_random),
            drop_count: ids.drop_count,
            fail_next: ids.fail_next,
            fail_status: ids.fail_status.unwrap_or(503),
            delay: ids.delay,
            corrupt_all: ids.corrupt_all,
            corrupt_datafiles: ids.corrupt_datafiles.iter().copied().collect(),
            fail_restores: ids.fail_restores,
            seed: self.seed,
        }
    }
}
