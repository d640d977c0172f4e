//! The figures of a facility profile (`[network]` in sim.toml, `--network PRESET`): presets and
//! the knobs that override them. The sources of the preset figures are in the README.

use std::time::Duration;

use serde::Deserialize;

use crate::process::duration::{DurationError, parse_duration};

/// A data rate in bytes per second, written like `350Mbit/s`, `1Gbit/s`, `500MB/s` or `100MiB/s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

impl Rate {
    /// A rate of `bytes` per second.
    pub fn bytes_per_sec(bytes: f64) -> Rate {
        Rate(bytes)
    }

    /// A rate of `mbit` megabits (10^6 bits) per second.
    pub fn mbit_per_sec(mbit: f64) -> Rate {
        Rate(mbit * 1e6 / 8.0)
    }

    /// Bytes per second.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Mbit/s", self.0 * 8.0 / 1e6)
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a rate like 350Mbit/s or 500MB/s"))?;
        let per_sec = match unit.trim() {
            "bit/s" => value / 8.0,
            "kbit/s" => value * 1e3 / 8.0,
            "Mbit/s" => value * 1e6 / 8.0,
            "Gbit/s" => value * 1e9 / 8.0,
            "Tbit/s" => value * 1e12 / 8.0,
            "B/s" => value,
            "kB/s" => value * 1e3,
            "MB/s" => value * 1e6,
            "GB/s" => value * 1e9,
            "KiB/s" => value * 1024.0,
            "MiB/s" => value * 1024.0 * 1024.0,
            "GiB/s" => value * 1024.0 * 1024.0 * 1024.0,
            other => {
                return Err(format!(
                    "unknown rate unit '{other}' in '{text}' (use bit/s, kbit/s, Mbit/s, Gbit/s, \
                     Tbit/s, B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s or GiB/s)"
                ));
            }
        };
        if !(per_sec.is_finite() && per_sec > 0.0) {
            return Err(format!("rate '{text}' must be above zero"));
        }
        Ok(Rate(per_sec))
    }
}

/// The resolved figures of a facility profile; `None` means unlimited.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkProfile {
    /// The preset the figures started from, if any.
    pub preset: Option<String>,
    /// Round-trip time: every request waits this long before its answer starts.
    pub rtt: Duration,
    /// What a new connection waits before its first request is read (TCP and TLS handshakes).
    pub connection_setup: Duration,
    /// What one connection (one TCP stream) reaches.
    pub connection_rate: Option<Rate>,
    /// The capacity shared by all connections.
    pub link_rate: Option<Rate>,
    /// Extra time of every IDS call authorized by a session id (the ICAT searches a real IDS
    /// runs for it); calls by preparedId do not pay it.
    pub ids_session_overhead: Duration,
    /// How fast the server reads the prefix it skips for `Range: bytes=N-`.
    pub disk_read_rate: Option<Rate>,
    /// Most getData answers one user may be receiving at once; more are answered 503.
    pub max_downloads_per_user: Option<u32>,
    /// The `Retry-After` of those 503 answers.
    pub retry_after: Option<Duration>,
}

/// Why a `[network]` section (or `--network`) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// `--network` or `preset` names no built-in preset.
    #[error("unknown network preset '{name}' (known: {})", PRESETS.join(", "))]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// A figure that is not a rate or duration.
    #[error("[network] {key}: {message}")]
    Malformed {
        /// The key, as in sim.toml.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A figure outside the range the simulator models.
    #[error("[network] {key} = '{value}' is out of range: allowed {allowed}")]
    OutOfRange {
        /// The key, as in sim.toml.
        key: &'static str,
        /// The value as written.
        value: String,
        /// The allowed range, in words.
        allowed: &'static str,
    },
}

/// Slowest rate accepted (an ISDN line), bytes per second.
pub const MIN_RATE: f64 = 64e3 / 8.0;
/// Fastest rate accepted (10 Tbit/s), bytes per second.
pub const MAX_RATE: f64 = 10e12 / 8.0;
const RATE_RANGE: &str = "64kbit/s to 10Tbit/s, or \"unlimited\"";
/// Longest round-trip time accepted (a geostationary satellite hop is about 0.6 s).
pub const MAX_RTT: Duration = Duration::from_secs(10);
/// Longest connection set-up and IDS overhead accepted.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Longest `Retry-After` accepted.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Most concurrent downloads per user accepted.
pub const MAX_DOWNLOADS_PER_USER: u32 = 10_000;

/// The names of the built-in presets.
pub const PRESETS: [&str; 3] = ["lan", "wan", "transatlantic"];

impl NetworkProfile {
    /// A profile that shapes nothing (every figure zero or unlimited).
    pub fn unshaped() -> NetworkProfile {
        NetworkProfile {
            preset: None,
            rtt: Duration::ZERO,
            connection_setup: Duration::ZERO,
            connection_rate: None,
            link_rate: None,
            ids_session_overhead: Duration::ZERO,
            disk_read_rate: None,
            max_downloads_per_user: None,
            retry_after: None,
        }
    }

    /// A built-in preset by name (see the README for the figures' sources).
    pub fn preset(name: &str) -> Option<NetworkProfile> {
        let ms = Duration::from_millis;
        let (rtt, conn, link, overhead, disk, cap) = match name {
            "lan" => (ms(1), 940.0, 1000.0, ms(10), 500.0, None),
            "wan" => (ms(60), 350.0, 1000.0, ms(10), 500.0, Some(8)),
            "transatlantic" => (ms(90), 233.0, 1000.0, ms(10), 500.0, Some(8)),
            _ => return None,
        };
        Some(NetworkProfile {
            preset: Some(name.to_string()),
            rtt,
            // One round trip for the TCP handshake and one for TLS 1.3.
            connection_setup: rtt * 2,
            connection_rate: Some(Rate::mbit_per_sec(conn)),
            link_rate: Some(Rate::mbit_per_sec(link)),
            ids_session_overhead: overhead,
            disk_read_rate: Some(Rate::bytes_per_sec(disk * 1e6)),
            max_downloads_per_user: cap,
            retry_after: cap.map(|_| Duration::from_secs(1)),
        })
    }
}

/// The `[network]` section of sim.toml: an optional preset and figures that override it.
/// Without a preset and without figures the simulator is not shaped at all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkConfig {
    /// `lan`, `wan` or `transatlantic`.
    #[serde(default)]
    pub preset: Option<String>,
    /// Round-trip time, e.g. `"60ms"`.
    #[serde(default)]
    pub rtt: Option<String>,
    /// Set-up time of a new connection, e.g. `"120ms"` (presets: two round trips).
    #[serde(default)]
    pub connection_setup: Option<String>,
    /// Per-connection rate, e.g. `"350Mbit/s"`, or `"unlimited"`.
    #[serde(default)]
    pub connection_rate: Option<String>,
    /// Shared link capacity, e.g. `"1Gbit/s"`, or `"unlimited"`.
    #[serde(default)]
    pub link_rate: Option<String>,
    /// IDS overhead per session-authorized call, e.g. `"10ms"`.
    #[serde(default)]
    pub ids_session_overhead: Option<String>,
    /// Server disk read rate for skipped Range prefixes, e.g. `"500MB/s"`, or `"unlimited"`.
    #[serde(default)]
    pub disk_read_rate: Option<String>,
    /// Concurrent getData answers per user (0: no cap).
    #[serde(default)]
    pub max_downloads_per_user: Option<u32>,
    /// `Retry-After` of the cap's 503 answers, e.g. `"1s"` (`"0s"`: none).
    #[serde(default)]
    pub retry_after: Option<String>,
}

fn optional_rate(key: &'static str, text: &str) -> Result<Option<Rate>, ProfileError> {
    if text.trim() == "unlimited" {
        return Ok(None);
    }
    let out_of_range = || ProfileError::OutOfRange {
        key,
        value: text.to_string(),
        allowed: RATE_RANGE,
    };
    // A bare number, such as "0", is a rate without a unit: out of range, not malformed.
    if text.trim().parse::<f64>().is_ok() {
        return Err(out_of_range());
    }
    let rate: Rate = text.parse().map_err(|message: String| {
        if message.ends_with("must be above zero") {
            out_of_range()
        } else {
            ProfileError::Malformed { key, message }
        }
    })?;
    if !(MIN_RATE..=MAX_RATE).contains(&rate.get()) {
        return Err(out_of_range());
    }
    Ok(Some(rate))
}

fn duration(key: &'static str, text: &str, max: Duration) -> Result<Duration, ProfileError> {
    let allowed = if max == MAX_RTT {
        "0s to 10s"
    } else if max == MAX_DELAY {
        "0s to 60s"
    } else {
        "0s to 1h"
    };
    let out_of_range = || ProfileError::OutOfRange {
        key,
        value: text.to_string(),
        allowed,
    };
    match parse_duration(text) {
        Ok(d) if d <= max => Ok(d),
        Ok(_) | Err(DurationError::OutOfRange(_)) => Err(out_of_range()),
        Err(e) => Err(ProfileError::Malformed {
            key,
            message: e.to_string(),
        }),
    }
}

impl NetworkConfig {
    /// Whether the section sets anything.
    pub fn is_empty(&self) -> bool {
        *self == NetworkConfig::default()
    }

    /// The profile: `preset` (from `--network`, else the section's own) with the section's
    /// figures on top; `None` when there is neither a preset nor a figure (unshaped).
    pub fn resolve(&self, preset: Option<&str>) -> Result<Option<NetworkProfile>, ProfileError> {
        let name = preset.or(self.preset.as_deref());
        if name.is_none() && self.is_empty() {
            return Ok(None);
        }
        let mut p = match name {
            Some(n) => NetworkProfile::preset(n).ok_or_else(|| ProfileError::UnknownPreset {
                name: n.to_string(),
            })?,
            None => NetworkProfile::unshaped(),
        };
        if let Some(t) = &self.rtt {
            p.rtt = duration("rtt", t, MAX_RTT)?;
        }
        if let Some(t) = &self.connection_setup {
            p.connection_setup = duration("connectionSetup", t, MAX_DELAY)?;
        }
        if let Some(t) = &self.connection_rate {
            p.connection_rate = optional_rate("connectionRate", t)?;
        }
        if let Some(t) = &self.link_rate {
            p.link_rate = optional_rate("linkRate", t)?;
        }
        if let Some(t) = &self.ids_session_overhead {
            p.ids_session_overhead = duration("idsSessionOverhead", t, MAX_DELAY)?;
        }
        if let Some(t) = &self.disk_read_rate {
            p.disk_read_rate = optional_rate("diskReadRate", t)?;
        }
        if let Some(n) = self.max_downloads_per_user {
            if n > MAX_DOWNLOADS_PER_USER {
                return Err(ProfileError::OutOfRange {
                    key: "maxDownloadsPerUser",
                    value: n.to_string(),
                    allowed: "0 (no cap) to 10000",
                });
            }
            p.max_downloads_per_user = (n > 0).then_some(n);
        }
        if let Some(t) = &self.retry_after {
            let d = duration("retryAfter", t, MAX_RETRY_AFTER)?;
            p.retry_after = (!d.is_zero()).then_some(d);
        }
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_bits_and_bytes() {
        assert_eq!("8bit/s".parse::<Rate>().unwrap().get(), 1.0);
        assert_eq!("350Mbit/s".parse::<Rate>().unwrap().get(), 43.75e6);
        assert_eq!("1Gbit/s".parse::<Rate>().unwrap().get(), 125e6);
        assert_eq!("500MB/s".parse::<Rate>().unwrap().get(), 500e6);
        assert_eq!("2MiB/s".parse::<Rate>().unwrap().get(), 2.0 * 1048576.0);
        // The out-of-range message names 10Tbit/s as the bound: that rate parses (finding 11).
        assert_eq!("10Tbit/s".parse::<Rate>().unwrap().get(), MAX_RATE);
        assert!(optional_rate("linkRate", "10Tbit/s").is_ok());
        assert!(optional_rate("linkRate", "11Tbit/s").is_err());
        for bad in ["", "fast", "10", "10Mbps", "0MB/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn figures_override_the_preset_and_nothing_means_unshaped() {
        assert_eq!(NetworkConfig::default().resolve(None).unwrap(), None);
        let wan = NetworkConfig::default()
            .resolve(Some("wan"))
            .unwrap()
            .unwrap();
        assert_eq!(wan, NetworkProfile::preset("wan").unwrap());
        let c = NetworkConfig {
            preset: Some("lan".into()),
            rtt: Some("5ms".into()),
            link_rate: Some("unlimited".into()),
            max_downloads_per_user: Some(0),
            ..NetworkConfig::default()
        };
        let p = c.resolve(None).unwrap().unwrap();
        assert_eq!(p.preset.as_deref(), Some("lan"));
        assert_eq!(p.rtt, Duration::from_millis(5));
        assert_eq!(p.link_rate, None);
        assert_eq!(p.max_downloads_per_user, None);
        // --network wins over the file's preset, the file's figures still apply.
        let p = c.resolve(Some("transatlantic")).unwrap().unwrap();
        assert_eq!(p.preset.as_deref(), Some("transatlantic"));
        assert_eq!(p.rtt, Duration::from_millis(5));
        assert!(
            c.resolve(Some("moon"))
                .unwrap_err()
                .to_string()
                .contains("known: lan, wan")
        );
        let bad = NetworkConfig {
            connection_rate: Some("fast".into()),
            ..NetworkConfig::default()
        };
        assert!(
            bad.resolve(None)
                .unwrap_err()
                .to_string()
                .contains("connectionRate")
        );
    }

    /// Figures the simulator cannot model (a reviewer's `rtt = "100000000h"`, `linkRate =
    /// "1bit/s"` and `linkRate = "0"`) are refused with the allowed range, not accepted.
    #[test]
    fn absurd_figures_are_refused_with_the_allowed_range() {
        let cases = [
            (
                NetworkConfig {
                    rtt: Some("100000000h".into()),
                    ..NetworkConfig::default()
                },
                "rtt",
                "0s to 10s",
            ),
            (
                NetworkConfig {
                    link_rate: Some("1bit/s".into()),
                    ..NetworkConfig::default()
                },
                "linkRate",
                "64kbit/s to 10Tbit/s",
            ),
            (
                NetworkConfig {
                    link_rate: Some("0".into()),
                    ..NetworkConfig::default()
                },
                "linkRate",
                "64kbit/s to 10Tbit/s",
            ),
            (
                NetworkConfig {
                    connection_rate: Some("0Mbit/s".into()),
                    ..NetworkConfig::default()
                },
                "connectionRate",
                "64kbit/s to 10Tbit/s",
            ),
            (
                NetworkConfig {
                    retry_after: Some("2h".into()),
                    ..NetworkConfig::default()
                },
                "retryAfter",
                "0s to 1h",
            ),
        ];
        for (config, key, allowed) in cases {
            match config.resolve(Some("wan")) {
                Err(ProfileError::OutOfRange {
                    key: k, allowed: a, ..
                }) => {
                    assert_eq!(k, key);
                    assert!(a.starts_with(allowed), "{a}");
                }
                other => panic!("{key}: {other:?}"),
            }
        }
        // The edges are accepted.
        let edge = NetworkConfig {
            rtt: Some("10s".into()),
            link_rate: Some("64kbit/s".into()),
            ..NetworkConfig::default()
        };
        assert!(edge.resolve(None).is_ok());
    }
}
