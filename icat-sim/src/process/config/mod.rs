//! The simulator's configuration (`sim.toml`): authenticators, root users, session lifetime,
//! result limits, write permissions and IDS settings, with the documented defaults.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::process::duration::parse_duration;

mod faults;

pub use faults::{FaultConfig, IdsFaultConfig, ServiceFaultConfig};

/// Errors reading or checking a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file that was read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or ill-typed keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file that was read (or `<string>`).
        path: String,
        /// What is wrong, from the TOML parser.
        message: String,
    },
    /// The configuration parsed but is inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The `[network]` section (or `--network`) names figures the simulator refuses.
    #[error("invalid configuration: {0}")]
    Network(#[from] crate::network::ProfileError),
}

/// The whole simulator configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimConfig {
    /// The login plugins, in the order `getAuthenticatorInfo` lists them (without any
    /// `[[authenticators]]`, the default `simple` and `db` ones).
    #[serde(default = "default_authenticators")]
    pub authenticators: Vec<Authenticator>,
    /// Users (with mechanism prefix, e.g. `simple/root`) with full access (default
    /// `["simple/root"]`).
    #[serde(default = "default_root_user_names")]
    pub root_user_names: Vec<String>,
    /// Session lifetime in minutes (ICAT's `lifetimeMinutes`).
    #[serde(default = "default_lifetime")]
    pub lifetime_minutes: u32,
    /// Most entities one `search` or `get` may return, included ones counted (ICAT's `maxEntities`).
    #[serde(default = "default_max_entities")]
    pub max_entities: u64,
    /// When true, non-root users may create, update and delete anything.
    #[serde(default)]
    pub non_root_write: bool,
    /// IDS behaviour.
    #[serde(default)]
    pub ids: IdsSettings,
    /// Injected faults (all off by default; see [`crate::glue::fault_injection`]).
    #[serde(default)]
    pub faults: FaultConfig,
    /// The facility's network (none by default: answers are not shaped; see [`crate::network`]).
    #[serde(default)]
    pub network: crate::network::NetworkConfig,
    /// Free-text search settings (`[search]`).
    #[serde(default)]
    pub search: SearchSettings,
}

/// Free-text search settings, as icat.server's `search.searchBlockSize` and
/// `search.maxSearchTimeSeconds` (`run.properties`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchSettings {
    /// Hits fetched from the index per block before access filtering (default 1000).
    #[serde(default = "default_search_block_size")]
    pub search_block_size: usize,
    /// A search taking longer fails with INTERNAL (default 5).
    #[serde(default = "default_max_search_time")]
    pub max_search_time_seconds: u64,
}

fn default_search_block_size() -> usize {
    1000
}

fn default_max_search_time() -> u64 {
    5
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            search_block_size: default_search_block_size(),
            max_search_time_seconds: default_max_search_time(),
        }
    }
}

/// One login plugin, as `login(plugin, credentials)` knows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authenticator {
    /// The plugin name clients pass to `login`, e.g. `simple`.
    pub mnemonic: String,
    /// The prefix put before user names (`simple` gives `simple/root`); none when absent.
    #[serde(default)]
    pub mechanism: Option<String>,
    /// Human-readable name for `getAuthenticatorInfo`.
    #[serde(default)]
    pub friendly: Option<String>,
    /// Known users and their passwords, by name without prefix.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// When true this is an anonymous plugin: no credentials, the user is `anon`.
    #[serde(default)]
    pub anon: bool,
}

/// IDS settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdsSettings {
    /// Two-level storage (archive + cache) instead of a single level.
    #[serde(default)]
    pub two_level: bool,
    /// How long a restore from the archive takes, e.g. `"2s"`, `"500ms"`.
    #[serde(default = "default_restore_delay", deserialize_with = "de_duration")]
    pub restore_delay: Duration,
    /// Each restore takes `restoreDelay` plus or minus up to this, e.g. `"4s"` (default 0).
    #[serde(default = "zero_duration", deserialize_with = "de_duration")]
    pub restore_jitter: Duration,
    /// Seed of the restore-time distribution.
    #[serde(default)]
    pub restore_seed: u64,
    /// Restores that run at once (tape drives); 0 (the default) is no limit.
    #[serde(default)]
    pub tape_drives: usize,
    /// A read-only IDS refuses put, delete and write.
    #[serde(default)]
    pub read_only: bool,
    /// How long a `getLink` hard link lives, in seconds; 0 (the default, as on a real IDS)
    /// switches `getLink` off (501).
    #[serde(default)]
    pub link_lifetime_seconds: u64,
    /// How many prepared selections (`prepareData`) are kept before the oldest are deleted
    /// (ids.server's `preparedCount`, 10000 in its example configuration).
    #[serde(default = "default_prepared_count")]
    pub prepared_count: usize,
}

/// Longest restore delay accepted (a day: a tape robot queue at its worst).
pub const MAX_RESTORE_DELAY: Duration = Duration::from_secs(24 * 3600);
/// Most tape drives accepted.
pub const MAX_TAPE_DRIVES: usize = 10_000;

impl IdsSettings {
    /// Refuses tape figures the simulator cannot model, with the allowed range, as `[network]`
    /// figures are: a restore delay above [`MAX_RESTORE_DELAY`], a jitter larger than the delay
    /// (a restore cannot take less than nothing), more than [`MAX_TAPE_DRIVES`] drives. The
    /// message names the sim.toml key and the `icat sim serve` flag that set it.
    pub fn check_tape(&self) -> Result<(), String> {
        if self.restore_delay > MAX_RESTORE_DELAY {
            return Err(format!(
                "[ids] restoreDelay (--restore-delay) = {} is out of range: allowed 0s to 24h",
                seconds(self.restore_delay)
            ));
        }
        if self.restore_jitter > self.restore_delay {
            return Err(format!(
                "[ids] restoreJitter (--restore-jitter) = {} is out of range: allowed 0s to the \
                 restore delay ({}); a restore takes the delay plus or minus the jitter",
                seconds(self.restore_jitter),
                seconds(self.restore_delay)
            ));
        }
        if self.tape_drives > MAX_TAPE_DRIVES {
            return Err(format!(
                "[ids] tapeDrives (--tape-drives) = {} is out of range: allowed 0 (no limit) to \
                 {MAX_TAPE_DRIVES}",
                self.tape_drives
            ));
        }
        Ok(())
    }
}

/// A duration as the messages write it: whole seconds as `12s`, else milliseconds.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn default_prepared_count() -> usize {
    crate::ids::DEFAULT_PREPARED_COUNT
}

impl Default for IdsSettings {
    fn default() -> Self {
        IdsSettings {
            two_level: false,
            restore_delay: default_restore_delay(),
            restore_jitter: Duration::ZERO,
            restore_seed: 0,
            tape_drives: 0,
            read_only: false,
            link_lifetime_seconds: 0,
            prepared_count: default_prepared_count(),
        }
    }
}

/// The authenticators of the default configuration, for a file that configures none.
fn default_authenticators() -> Vec<Authenticator> {
    /// Only the authenticators of [`DEFAULT_TOML`].
    #[derive(Deserialize)]
    struct Authenticators {
        authenticators: Vec<Authenticator>,
    }
    match toml::from_str::<Authenticators>(DEFAULT_TOML) {
        Ok(a) => a.authenticators,
        Err(e) => unreachable!("the built-in default authenticators are valid: {e}"),
    }
}

fn default_root_user_names() -> Vec<String> {
    vec!["simple/root".to_string()]
}

fn default_lifetime() -> u32 {
    120
}

fn default_max_entities() -> u64 {
    10_000
}

fn zero_duration() -> Duration {
    Duration::ZERO
}

fn default_restore_delay() -> Duration {
    Duration::from_secs(2)
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

const DEFAULT_TOML: &str = r#"
rootUserNames = ["simple/root"]
lifetimeMinutes = 120
maxEntities = 10000

[[authenticators]]
mnemonic = "simple"
mechanism = "simple"
friendly = "Simple"
users = { root = "secret", useroffice = "secret", dataingest = "secret", idsreader = "secret", pubreader = "secret" }

[[authenticators]]
mnemonic = "db"
mechanism = "db"
friendly = "Database"
users = { acord = "secret", ahau = "secret", jbotu = "secret", jdoe = "secret", nbour = "secret", rbeck = "secret" }
"#;

impl Default for SimConfig {
    fn default() -> Self {
        // The default is itself a config file, so it goes through the same checks as a user's.
        match Self::from_toml_str(DEFAULT_TOML, "<default>") {
            Ok(config) => config,
            Err(e) => unreachable!("the built-in default configuration is valid: {e}"),
        }
    }
}

impl SimConfig {
    /// The default configuration as TOML text (a starting point for a `sim.toml`).
    pub fn default_toml() -> &'static str {
        DEFAULT_TOML.trim_start()
    }

    /// Reads and checks a `sim.toml` file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks configuration text; `origin` names it in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: SimConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.search.search_block_size == 0 {
            return Err(ConfigError::Invalid(
                "[search] searchBlockSize must be at least 1".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.authenticators {
            if a.mnemonic.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "an authenticator has an empty mnemonic".into(),
                ));
            }
            if !seen.insert(a.mnemonic.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "authenticator mnemonic '{}' is configured twice",
                    a.mnemonic
                )));
            }
            if a.anon && !a.users.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "authenticator '{}' is anonymous and cannot list users",
                    a.mnemonic
                )));
            }
        }
        if self.lifetime_minutes == 0 {
            return Err(ConfigError::Invalid(
                "lifetimeMinutes must be positive".into(),
            ));
        }
        if self.ids.prepared_count == 0 {
            return Err(ConfigError::Invalid(
                "[ids] preparedCount must be positive".into(),
            ));
        }
        if self.max_entities == 0 {
            return Err(ConfigError::Invalid("maxEntities must be positive".into()));
        }
        self.faults.validate().map_err(ConfigError::Invalid)?;
        self.network.resolve(None)?;
        self.ids.check_tape().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// The authenticator with this mnemonic.
    pub fn authenticator(&self, mnemonic: &str) -> Option<&Authenticator> {
        self.authenticators.iter().find(|a| a.mnemonic == mnemonic)
    }

    /// True when `user` (full name with prefix) is a root user.
    pub fn is_root(&self, user: &str) -> bool {
        self.root_user_names.iter().any(|r| r == user)
    }

    /// Every full user name (with prefix) that can log in with a password, in configuration order.
    pub fn known_users(&self) -> Vec<String> {
        self.authenticators
            .iter()
            .flat_map(|a| a.users.keys().map(move |u| a.full_name(u)))
            .collect()
    }

    /// The simulator's test accounts, one line per login plugin, for people starting it:
    /// `plugin db: jdoe, acord ... (password "secret")`. These are simulator test accounts from
    /// the configuration (the built-in ones are documented in the README), not real secrets.
    pub fn test_accounts(&self) -> Vec<String> {
        let mut lines = vec!["test accounts (simulator only):".to_owned()];
        for a in &self.authenticators {
            if a.anon {
                lines.push(format!("  plugin {}: anonymous, no password", a.mnemonic));
                continue;
            }
            if a.users.is_empty() {
                continue;
            }
            let passwords: std::collections::BTreeSet<&String> = a.users.values().collect();
            let names: Vec<&str> = a.users.keys().map(String::as_str).collect();
            let line = match passwords.iter().next() {
                Some(p) if passwords.len() == 1 => {
                    format!(
                        "  plugin {}: {} (password {p:?})",
                        a.mnemonic,
                        names.join(", ")
                    )
                }
                _ => format!(
                    "  plugin {}: {}",
                    a.mnemonic,
                    a.users
                        .iter()
                        .map(|(u, p)| format!("{u} (password {p:?})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            lines.push(line);
        }
        let root = self.root_user_names.join(", ");
        lines.push(format!(
            "  e.g. icat -w URL -a db -u jdoe login; root users: {root}"
        ));
        lines
    }

    /// `getProperties` lines, "key value" as ICAT's run.properties would show them.
    pub fn properties(&self) -> Vec<String> {
        let mnemonics: Vec<&str> = self
            .authenticators
            .iter()
            .map(|a| a.mnemonic.as_str())
            .collect();
        vec![
            format!("authn.list {}", mnemonics.join(" ")),
            format!("lifetimeMinutes {}", self.lifetime_minutes),
            format!("maxEntities {}", self.max_entities),
            format!("rootUserNames {}", self.root_user_names.join(" ")),
        ]
    }
}

impl Authenticator {
    /// The user name as the server reports it: `mechanism/name`, or `name` without a mechanism.
    pub fn full_name(&self, user: &str) -> String {
        match &self.mechanism {
            Some(m) if !m.is_empty() => format!("{m}/{user}"),
            _ => user.to_string(),
        }
    }

    /// Checks credentials; returns the full user name, or the SESSION message ICAT plugins give.
    pub fn authenticate(&self, credentials: &BTreeMap<String, String>) -> Result<String, String> {
        if self.anon {
            return Ok(self.full_name("anon"));
        }
        let user = credentials
            .get("username")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| "The username cannot be null or empty.".to_string())?;
        let password = credentials
            .get("password")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| "The password cannot be null or empty.".to_string())?;
        match self.users.get(user) {
            Some(expected) if expected == password => Ok(self.full_name(user)),
            _ => Err("The username and password do not match".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_has_the_documented_users() {
        let c = SimConfig::default();
        assert_eq!(c.root_user_names, vec!["simple/root"]);
        assert_eq!(c.lifetime_minutes, 120);
        assert_eq!(c.max_entities, 10_000);
        assert!(!c.non_root_write);
        let users = c.known_users();
        for u in [
            "simple/root",
            "simple/useroffice",
            "simple/dataingest",
            "simple/idsreader",
            "simple/pubreader",
        ] {
            assert!(users.contains(&u.to_string()), "{u} missing");
        }
        for u in ["acord", "ahau", "jbotu", "jdoe", "nbour", "rbeck"] {
            assert!(users.contains(&format!("db/{u}")), "db/{u} missing");
        }
        assert_eq!(users.len(), 11);
        assert!(c.is_root("simple/root"));
        assert!(!c.is_root("db/acord"));
    }

    #[test]
    fn authenticate_checks_passwords() {
        let c = SimConfig::default();
        let db = c.authenticator("db").unwrap();
        let creds = |u: &str, p: &str| {
            BTreeMap::from([
                ("username".to_string(), u.to_string()),
                ("password".to_string(), p.to_string()),
            ])
        };
        assert_eq!(
            db.authenticate(&creds("jdoe", "secret")).unwrap(),
            "db/jdoe"
        );
        assert!(db.authenticate(&creds("jdoe", "wrong")).is_err());
        assert!(db.authenticate(&creds("root", "secret")).is_err());
        assert!(db.authenticate(&BTreeMap::new()).is_err());
    }

    #[test]
    fn parses_a_custom_file_and_rejects_bad_ones() {
        let c = SimConfig::from_toml_str(
            r#"
            rootUserNames = ["anon/anon"]
            lifetimeMinutes = 5
            nonRootWrite = true
            [[authenticators]]
            mnemonic = "anon"
            mechanism = "anon"
            anon = true
            [ids]
            twoLevel = true
            restoreDelay = "250ms"
            linkLifetimeSeconds = 3600
            "#,
            "test",
        )
        .unwrap();
        assert!(c.non_root_write);
        assert!(c.ids.two_level);
        assert_eq!(c.ids.restore_delay, Duration::from_millis(250));
        assert_eq!(c.ids.link_lifetime_seconds, 3600);
        assert_eq!(SimConfig::default().ids.link_lifetime_seconds, 0);
        assert_eq!(
            c.authenticator("anon")
                .unwrap()
                .authenticate(&BTreeMap::new())
                .unwrap(),
            "anon/anon"
        );

        let err = SimConfig::from_toml_str("lifetimeMinutes = 'x'", "bad.toml").unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
        assert!(SimConfig::from_toml_str("unknownKey = 1", "t").is_err());
        let dup = "[[authenticators]]\nmnemonic='a'\n[[authenticators]]\nmnemonic='a'\n";
        assert!(matches!(
            SimConfig::from_toml_str(dup, "t"),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn missing_sections_and_keys_take_the_defaults() {
        let defaults = SimConfig::default();
        for text in ["", "lifetimeMinutes = 30\n", "[ids]\ntwoLevel = true\n"] {
            let c = SimConfig::from_toml_str(text, "t").unwrap();
            assert_eq!(c.authenticators, defaults.authenticators, "{text:?}");
            assert_eq!(c.root_user_names, vec!["simple/root"], "{text:?}");
            let db = c.authenticator("db").expect("the default db authenticator");
            let creds = BTreeMap::from([
                ("username".to_string(), "jdoe".to_string()),
                ("password".to_string(), "secret".to_string()),
            ]);
            assert_eq!(db.authenticate(&creds).unwrap(), "db/jdoe");
        }
        // Given sections replace the defaults; an explicit empty list stays empty.
        let own = "[[authenticators]]\nmnemonic = 'anon'\nanon = true\n";
        let c = SimConfig::from_toml_str(own, "t").unwrap();
        assert_eq!(c.authenticators.len(), 1);
        let c = SimConfig::from_toml_str("authenticators = []\nrootUserNames = []", "t").unwrap();
        assert!(c.authenticators.is_empty() && c.root_user_names.is_empty());
    }

    #[test]
    fn network_and_tape_sections_parse_and_are_checked() {
        let c = SimConfig::from_toml_str(
            "[ids]\ntapeDrives = 2\nrestoreDelay = \"5s\"\nrestoreJitter = \"3s\"\nrestoreSeed = 9\n\
             [network]\npreset = \"wan\"\nrtt = \"30ms\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.ids.tape_drives, 2);
        assert_eq!(c.ids.restore_jitter, Duration::from_secs(3));
        assert_eq!(c.ids.restore_seed, 9);
        let p = c.network.resolve(None).unwrap().unwrap();
        assert_eq!(p.rtt, Duration::from_millis(30));
        assert_eq!(p.preset.as_deref(), Some("wan"));
        assert!(
            SimConfig::default()
                .network
                .resolve(None)
                .unwrap()
                .is_none()
        );
        for bad in [
            "[ids]\nrestoreDelay = \"100000000h\"\n",
            "[ids]\nrestoreDelay = \"1s\"\nrestoreJitter = \"2s\"\n",
            "[ids]\ntapeDrives = 999999999999\n",
            "[network]\npreset = \"moon\"\n",
            "[network]\nlinkRate = \"fast\"\n",
            "[network]\nbandwidth = 1\n",
        ] {
            assert!(SimConfig::from_toml_str(bad, "t").is_err(), "{bad}");
        }
    }

    /// Reviewer finding 10 (issue 19): absurd tape figures started a simulator whose restores
    /// never finish, while absurd `[network]` figures were refused. Each is refused now with the
    /// key, the flag and the allowed range.
    #[test]
    fn absurd_tape_figures_are_refused_with_the_allowed_range() {
        let ids = |delay: u64, jitter: u64, drives: usize| IdsSettings {
            restore_delay: Duration::from_secs(delay),
            restore_jitter: Duration::from_secs(jitter),
            tape_drives: drives,
            ..IdsSettings::default()
        };
        assert!(ids(1, 1, 2).check_tape().is_ok());
        assert!(ids(24 * 3600, 0, MAX_TAPE_DRIVES).check_tape().is_ok());
        let e = ids(1, 360_000_000_000, 0).check_tape().unwrap_err();
        assert!(e.contains("restoreJitter (--restore-jitter)"), "{e}");
        assert!(e.contains("allowed 0s to the restore delay (1s)"), "{e}");
        let e = ids(360_000_000_000, 0, 0).check_tape().unwrap_err();
        assert!(
            e.contains("--restore-delay") && e.contains("0s to 24h"),
            "{e}"
        );
        let e = ids(1, 0, 999_999_999_999).check_tape().unwrap_err();
        assert!(e.contains("--tape-drives") && e.contains("to 10000"), "{e}");
    }
}
