//! python-icat compatible configuration: `icat.cfg` files, environment and flags resolved into settings.
//!
//! The resolution is a pure function ([`resolve`]) over the flags, an environment map and the
//! contents of the config files, so every precedence rule is unit-tested without touching the real
//! environment. [`load_files`] is the only part that reads the disk.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::failure::Failure;
use crate::suggest::edit_distance;

/// The config file name python-icat uses.
pub const CONFIG_FILE_NAME: &str = "icat.cfg";

/// Network and listing limits: `--connect-timeout`, `--read-timeout`, `--retries`,
/// `--max-answer-mib`, `--max-rows` on the command line, or `connectTimeout`, `readTimeout`,
/// `retries`, `maxAnswerMiB`, `maxRows` in the config file section; `None` keeps the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// Time allowed to open a connection (ICAT and IDS).
    pub connect_timeout: Option<std::time::Duration>,
    /// Longest wait for the next bytes of an answer (ICAT and IDS; also bounds a stalled download).
    pub read_timeout: Option<std::time::Duration>,
    /// Retries of read-only calls after network errors and 502/503/504 (ICAT and IDS).
    pub retries: Option<u32>,
    /// Largest ICAT answer accepted, in MiB (the library's default is 32 MiB).
    pub max_answer_mib: Option<u32>,
    /// Most results a paged listing reads (`--max-rows`, `maxRows`; default
    /// [`crate::catalog::DEFAULT_MAX_ROWS`]).
    pub max_rows: Option<u64>,
}

/// Connection options given on the command line (the `-w`, `-a`, `-u`, ... flags).
#[derive(Clone, Debug, Default)]
pub struct ConnFlags {
    /// `-w/--url`: the ICAT service URL.
    pub url: Option<String>,
    /// `--idsurl`: the IDS URL.
    pub idsurl: Option<String>,
    /// `-a/--auth`: the authentication plugin.
    pub auth: Option<String>,
    /// `-u/--user`: the user name.
    pub user: Option<String>,
    /// `-c/--configfile`: an explicit config file.
    pub configfile: Option<PathBuf>,
    /// `-s/--section`: the config file section.
    pub section: Option<String>,
    /// `--no-check-certificate` (Some(false)) or `--check-certificate` (Some(true)).
    pub check_cert: Option<bool>,
    /// `--ca-file`: an extra CA certificate (PEM).
    pub ca_file: Option<PathBuf>,
    /// `-P/--prompt-pass`: always prompt for the password, even if a file holds one.
    pub prompt_pass: bool,
    /// `--cred KEY=VALUE`: extra credential keys for the authenticator.
    pub creds: Vec<String>,
    /// `--connect-timeout`, `--read-timeout`, `--retries`.
    pub network: Network,
}

/// One config file as read from disk.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// Its text.
    pub contents: String,
    /// Whether users other than the owner may read it (group or other read bit set).
    pub readable_by_others: bool,
}

/// A password that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends it (login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env,
    /// A config file section.
    File,
}

/// The resolved connection settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The ICAT service URL, normalised to `scheme://host[:port]/path` without `?wsdl`.
    pub url: Option<String>,
    /// The IDS URL, normalised (`/ids` appended when there is no path).
    pub idsurl: Option<String>,
    /// The authentication plugin (`db`, `simple`, `ldap`, `anon`, ...).
    pub auth: Option<String>,
    /// The user name as given (without the mechanism prefix).
    pub username: Option<String>,
    /// Where the user name came from.
    pub username_source: Option<Source>,
    /// A password from the config file, used only when the user name came from the same file.
    pub password: Option<Secret>,
    /// Whether to prompt for the password even if one is configured.
    pub prompt_pass: bool,
    /// Verify TLS certificates (default true).
    pub check_cert: bool,
    /// An extra CA certificate.
    pub ca_file: Option<PathBuf>,
    /// Extra credential keys (`cred_<key>` in the file, `--cred key=value` on the command line).
    pub credentials: BTreeMap<String, String>,
    /// The section the values were read from, if any.
    pub section: Option<String>,
    /// Warnings to show the user (for example a readable file holding a password).
    pub warnings: Vec<String>,
    /// Network limits (flags, then the config file section).
    pub network: Network,
}

/// The config files to read, in order (later ones override earlier ones).
///
/// `-c FILE` or `ICAT_CFG` name a single file; otherwise python-icat's search path
/// `/etc/icat`, `~/.config/icat`, `~/.icat`, `.` is used.
pub fn config_paths(
    flags: &ConnFlags,
    env: &HashMap<String, String>,
    home: Option<&Path>,
) -> (Vec<PathBuf>, bool) {
    if let Some(path) = &flags.configfile {
        return (vec![path.clone()], true);
    }
    if let Some(path) = env.get("ICAT_CFG").filter(|p| !p.is_empty()) {
        return (vec![PathBuf::from(path)], true);
    }
    let mut dirs = vec![PathBuf::from("/etc/icat")];
    if let Some(home) = home {
        dirs.push(home.join(".config").join("icat"));
        dirs.push(home.join(".icat"));
    }
    dirs.push(PathBuf::from("."));
    (
        dirs.into_iter().map(|d| d.join(CONFIG_FILE_NAME)).collect(),
        false,
    )
}

/// Reads the config files that exist. An explicitly named file (`-c`, `ICAT_CFG`) must exist.
pub fn load_files(paths: &[PathBuf], explicit: bool) -> Result<Vec<ConfigFile>, Failure> {
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(contents) => files.push(ConfigFile {
                path: path.clone(),
                contents,
                readable_by_others: readable_by_others(path),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {}
            Err(err) => {
                return Err(Failure::usage(
                    format!("cannot read config file {}: {err}", path.display()),
                    "check the -c/--configfile path or ICAT_CFG",
                ));
            }
        }
    }
    Ok(files)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o044 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

/// Parses a python `configparser` file into sections of lower-cased keys.
/// A parsed section: its name and lower-cased keys.
type Section = (String, BTreeMap<String, String>);

fn parse_ini(file: &ConfigFile) -> Result<Vec<Section>, Failure> {
    let options = ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let parsed = ini::Ini::load_from_str_opt(&file.contents, options).map_err(|err| {
        Failure::usage(
            format!("config file {} is malformed: {err}", file.path.display()),
            "fix the file (INI format: [section] then key = value lines)",
        )
    })?;
    let mut sections: Vec<Section> = Vec::new();
    for (name, props) in parsed.iter() {
        let Some(name) = name else { continue };
        // python's configparser (which python-icat reads these files with) refuses a section or a
        // key given twice; merging them silently could send one block's password to the other's url.
        if sections.iter().any(|(seen, _)| seen == name) {
            return Err(Failure::usage(
                format!(
                    "config file {} has section [{name}] twice",
                    file.path.display()
                ),
                "remove or rename one of them (python-icat refuses such a file too)",
            ));
        }
        let mut map = BTreeMap::new();
        for (key, value) in props.iter() {
            let key = key.to_ascii_lowercase();
            if map.insert(key.clone(), value.trim().to_string()).is_some() {
                return Err(Failure::usage(
                    format!(
                        "config file {} section [{name}] has key `{key}` twice",
                        file.path.display()
                    ),
                    "keep one of them (python-icat refuses such a file too)",
                ));
            }
        }
        sections.push((name.to_string(), map));
    }
    Ok(sections)
}

/// The error for a selected section that no config file has, naming every file searched.
pub fn section_not_found(name: &str, searched: &[PathBuf], files: &[ConfigFile]) -> Failure {
    let list: Vec<String> = searched
        .iter()
        .map(|p| {
            if files.iter().any(|f| &f.path == p) {
                p.display().to_string()
            } else {
                format!("{} (absent)", p.display())
            }
        })
        .collect();
    Failure::usage(
        format!(
            "config section [{name}] not found; searched {}",
            list.join(", ")
        ),
        "check -s/--section or ICAT_CFG_SECTION, or point -c/--configfile at the right file",
    )
}

/// The error for a section that names no server: a section never borrows another session's.
pub fn require_section_url(settings: &Settings, files: &[ConfigFile]) -> Result<(), Failure> {
    let (Some(name), None) = (&settings.section, &settings.url) else {
        return Ok(());
    };
    let holders: Vec<String> = files
        .iter()
        .filter(|f| parse_ini(f).is_ok_and(|secs| secs.iter().any(|(n, _)| n == name)))
        .map(|f| f.path.display().to_string())
        .collect();
    Err(Failure::usage(
        format!(
            "config section [{name}] ({}) has no url",
            holders.join(", ")
        ),
        "add url = https://host:port to the section, or pass -w URL",
    ))
}

/// Whether any of the files has section `name`.
pub fn has_section(files: &[ConfigFile], name: &str) -> Result<bool, Failure> {
    for file in files {
        if parse_ini(file)?.iter().any(|(n, _)| n == name) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keys an `icat.cfg` section may hold (lower case): python-icat's and this tool's.
/// `cred_<key>` keys are credentials for the authenticator and always allowed.
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("url", "url"),
    ("idsurl", "idsurl"),
    ("auth", "auth"),
    ("username", "username"),
    ("password", "password"),
    ("promptpass", "promptPass"),
    ("checkcert", "checkCert"),
    ("cafile", "caFile"),
    ("capath", "caPath"),
    ("http_proxy", "http_proxy"),
    ("https_proxy", "https_proxy"),
    ("no_proxy", "no_proxy"),
    ("connecttimeout", "connectTimeout"),
    ("readtimeout", "readTimeout"),
    ("retries", "retries"),
    ("maxanswermib", "maxAnswerMiB"),
    ("maxrows", "maxRows"),
];

/// Warnings for the keys of section `name` that no tool reads, with the likely intended key.
pub fn unknown_key_warnings(
    path: &Path,
    name: &str,
    values: &BTreeMap<String, String>,
) -> Vec<String> {
    let path = path.display();
    values
        .keys()
        .filter(|k| !k.starts_with("cred_") && !KNOWN_KEYS.iter().any(|(known, _)| known == k))
        .map(|key| {
            let guess = KNOWN_KEYS
                .iter()
                .map(|(known, spelt)| (edit_distance(key, known), *spelt))
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d);
            match guess {
                Some((_, spelt)) => format!(
                    "{path} section [{name}]: unknown key `{key}` is ignored; did you mean `{spelt}`?"
                ),
                None => format!("{path} section [{name}]: unknown key `{key}` is ignored"),
            }
        })
        .collect()
}

/// `~` or `~/...` at the start of a path is the home directory (as a shell would expand it;
/// `caFile = ~/ca.pem` in icat.cfg, `--ca-file=~/ca.pem`). Other paths are left alone.
pub fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    let (Some(home), Ok(rest)) = (home, path.strip_prefix("~")) else {
        return path.to_path_buf();
    };
    home.join(rest)
}

/// python configparser's boolean words.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Normalises an ICAT URL with the client's own rules (`icat_soap::client::endpoint_url`):
/// `/ICATService/ICAT` when there is no path, `?wsdl` dropped. An address the client cannot use
/// is kept as given, for the client to refuse with its reason.
pub fn normalize_icat_url(url: &str) -> String {
    icat_soap::client::endpoint_url(url).map_or_else(|_| url.trim().to_string(), String::from)
}

/// Normalises an IDS URL with the client's own rules (`icat_soap::client::ids_url`): `/ids` when
/// there is no path, written without the trailing slash.
pub fn normalize_ids_url(url: &str) -> String {
    icat_soap::client::ids_url(url).map_or_else(
        |_| url.trim().to_string(),
        |u| u.as_str().trim_end_matches('/').to_string(),
    )
}

/// Picks the first present value by precedence flag > environment > file.
fn pick(
    flag: Option<&String>,
    env: &HashMap<String, String>,
    env_key: &str,
    file: Option<&BTreeMap<String, String>>,
    file_key: &str,
) -> Option<(String, Source)> {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Some((v.clone(), Source::Flag));
    }
    if let Some(v) = env.get(env_key).filter(|v| !v.is_empty()) {
        return Some((v.clone(), Source::Env));
    }
    file.and_then(|f| f.get(file_key))
        .filter(|v| !v.is_empty())
        .map(|v| (v.clone(), Source::File))
}

/// Resolves the settings from flags, environment and config files (in read order).
///
/// Values are read from the files only when a section is selected (`-s` or `ICAT_CFG_SECTION`),
/// as in python-icat; a selected section that no file has is an error. A password is taken from
/// the file only when the user name also came from the file, so `-u other` never sends the file
/// user's password.
pub fn resolve(
    flags: &ConnFlags,
    env: &HashMap<String, String>,
    files: &[ConfigFile],
) -> Result<Settings, Failure> {
    let section = flags
        .section
        .clone()
        .or_else(|| env.get("ICAT_CFG_SECTION").cloned())
        .filter(|s| !s.is_empty());
    let mut warnings = Vec::new();
    let mut merged: Option<BTreeMap<String, String>> = None;
    let mut password_file: Option<(usize, &ConfigFile)> = None;
    // Which file (read order, file) set each key of the section last.
    let mut key_files: BTreeMap<String, (usize, &ConfigFile)> = BTreeMap::new();
    let mut ca_file_dir: Option<&Path> = None;
    if let Some(name) = &section {
        for (index, file) in files.iter().enumerate() {
            for (sec_name, values) in parse_ini(file)? {
                if &sec_name == name {
                    if values.contains_key("password") {
                        password_file = Some((index, file));
                    }
                    for key in values.keys() {
                        if let Some((_, earlier)) = key_files.insert(key.clone(), (index, file))
                            && key != "password"
                        {
                            // A later file changes the section: said, so that a file in the
                            // working directory cannot change it unnoticed.
                            warnings.push(format!(
                                "{} overrides `{key}` of section [{name}] set in {}",
                                file.path.display(),
                                earlier.path.display()
                            ));
                        }
                    }
                    if values.contains_key("cafile") {
                        ca_file_dir = file.path.parent();
                    }
                    warnings.extend(unknown_key_warnings(&file.path, name, &values));
                    merged.get_or_insert_with(BTreeMap::new).extend(values);
                }
            }
        }
        if merged.is_none() {
            let found: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
            let where_ = if found.is_empty() {
                "no icat.cfg file was found".to_string()
            } else {
                format!("read {}", found.join(", "))
            };
            return Err(Failure::usage(
                format!("config section [{name}] not found ({where_})"),
                "check -s/--section or ICAT_CFG_SECTION, or point -c/--configfile at the right file",
            ));
        }
    }
    let file = merged.as_ref();

    let url_pick = pick(flags.url.as_ref(), env, "ICAT_SERVICE", file, "url");
    let url_source = url_pick.as_ref().map(|(_, s)| *s);
    let url = url_pick.map(|(v, _)| normalize_icat_url(&v));
    let idsurl_pick = pick(
        flags.idsurl.as_ref(),
        env,
        "ICAT_DATA_SERVICE",
        file,
        "idsurl",
    );
    let idsurl_source = idsurl_pick.as_ref().map(|(_, s)| *s);
    let idsurl = idsurl_pick.map(|(v, _)| normalize_ids_url(&v));
    let auth = pick(flags.auth.as_ref(), env, "ICAT_AUTH", file, "auth").map(|(v, _)| v);
    let user = pick(flags.user.as_ref(), env, "ICAT_USER", file, "username");
    let (username, username_source) = match user {
        Some((u, s)) => (Some(u), Some(s)),
        None => (None, None),
    };

    let prompt_pass = flags.prompt_pass
        || match file.and_then(|f| f.get("promptpass")) {
            Some(v) => parse_bool(v).ok_or_else(|| bad_bool("promptPass", v))?,
            None => false,
        };
    let file_password = file.and_then(|f| f.get("password")).cloned();
    // Any file read that others may read and that holds a password in any section (or a
    // misspelt `password` key, which is still a secret), not only the section in use.
    if section.is_some() {
        for f in files.iter().filter(|f| f.readable_by_others) {
            let holds_password = parse_ini(f)?.iter().any(|(_, values)| {
                values
                    .keys()
                    .any(|k| k == "password" || edit_distance(k, "password") <= 2)
            });
            if holds_password {
                warnings.push(format!(
                    "{} holds a password and is readable by other users; run `chmod 600 {}`",
                    f.path.display(),
                    f.path.display()
                ));
            }
        }
    }
    let password = match (&file_password, username_source) {
        (Some(p), Some(Source::File)) if !prompt_pass => Some(Secret::new(p.clone())),
        _ => None,
    };
    if let (Some(_), Some((password_at, pf)), Some(name)) = (&password, password_file, &section) {
        let p = pf.path.display();
        // A file read later (e.g. ./icat.cfg in the working directory) must not redirect the
        // password kept in another file, or the session it buys, to a server (or for a user)
        // that file does not name.
        let sources = [
            ("url", url_source, "-w URL"),
            ("idsurl", idsurl_source, "--idsurl URL"),
            ("username", username_source, "-u NAME"),
        ];
        for (key, source, flag) in sources {
            let Some((at, kf)) = key_files.get(key).copied() else {
                continue;
            };
            if source != Some(Source::File) || at == password_at {
                continue;
            }
            let k = kf.path.display();
            if at > password_at {
                let what = match key {
                    "username" => format!("for the user set in {k}"),
                    "idsurl" => format!("(as the session it buys) to the IDS set in {k}"),
                    _ => format!("to the url set in {k}"),
                };
                return Err(Failure::usage(
                    format!("config section [{name}]: the password in {p} would be sent {what}"),
                    format!(
                        "put {key} and password in the same file, or remove {key} from [{name}] \
                         in {k} (or give it with {flag})"
                    ),
                ));
            }
            if key == "url" {
                warnings.push(format!(
                    "config section [{name}]: the password from {p} is sent to the url from {k}"
                ));
            }
        }
    }

    let check_cert = match flags.check_cert {
        Some(v) => v,
        None => match file.and_then(|f| f.get("checkcert")) {
            Some(v) => parse_bool(v).ok_or_else(|| bad_bool("checkCert", v))?,
            None => true,
        },
    };
    // Said when no server of the section uses TLS (with an https IDS the check is really off,
    // which the TLS layer says).
    if !check_cert
        && url.as_deref().is_some_and(|u| u.starts_with("http://"))
        && idsurl.as_deref().is_none_or(|u| u.starts_with("http://"))
    {
        let how = if flags.check_cert == Some(false) {
            "--no-check-certificate"
        } else {
            "checkCert = No"
        };
        warnings.push(format!(
            "{how} has no effect: the ICAT URL uses plain http, which has no certificate to \
             check (and sends the password unencrypted)"
        ));
    }
    let home = env.get("HOME").map(Path::new);
    let ca_file = flags
        .ca_file
        .as_ref()
        .map(|p| expand_home(p, home))
        .or_else(|| {
            file.and_then(|f| f.get("cafile")).map(|v| {
                let path = expand_home(Path::new(v.as_str()), home);
                match ca_file_dir {
                    // A relative caFile is relative to the icat.cfg that names it.
                    Some(dir) => dir.join(path),
                    None => path,
                }
            })
        });

    let mut credentials = BTreeMap::new();
    if let Some(f) = file {
        for (key, value) in f {
            if let Some(name) = key.strip_prefix("cred_") {
                credentials.insert(name.to_string(), value.clone());
            }
        }
    }
    for item in &flags.creds {
        let Some((key, value)) = item.split_once('=') else {
            return Err(Failure::usage(
                format!("--cred {item:?} is not KEY=VALUE"),
                "write --cred key=value",
            ));
        };
        if key.eq_ignore_ascii_case("password") {
            return Err(Failure::usage(
                "passwords are never accepted as command-line flags",
                "use --password-stdin, the interactive prompt, or the config file",
            ));
        }
        credentials.insert(key.to_string(), value.to_string());
    }

    let network = Network {
        connect_timeout: match flags.network.connect_timeout {
            Some(d) => Some(d),
            None => file_duration(file, "connecttimeout", "connectTimeout")?,
        },
        read_timeout: match flags.network.read_timeout {
            Some(d) => Some(d),
            None => file_duration(file, "readtimeout", "readTimeout")?,
        },
        retries: match flags.network.retries {
            Some(n) => Some(n),
            None => match file.and_then(|f| f.get("retries")) {
                Some(v) => Some(v.trim().parse::<u32>().map_err(|_| {
                    Failure::usage(
                        format!("config value retries = {v:?} is not a whole number"),
                        "write e.g. retries = 3 (0 turns retries off)",
                    )
                })?),
                None => None,
            },
        },
        max_answer_mib: match flags.network.max_answer_mib {
            Some(n) => Some(n),
            None => match file.and_then(|f| f.get("maxanswermib")) {
                Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(
                    || {
                        Failure::usage(
                            format!(
                                "config value maxAnswerMiB = {v:?} is not a positive whole number"
                            ),
                            "write e.g. maxAnswerMiB = 64 (the default is 32)",
                        )
                    },
                )?),
                None => None,
            },
        },
        max_rows: match flags.network.max_rows {
            Some(n) => Some(n),
            None => match file.and_then(|f| f.get("maxrows")) {
                Some(v) => Some(v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(
                    || {
                        Failure::usage(
                            format!("config value maxRows = {v:?} is not a positive whole number"),
                            "write e.g. maxRows = 2000000 (the default is 1000000)",
                        )
                    },
                )?),
                None => None,
            },
        },
    };

    Ok(Settings {
        url,
        idsurl,
        auth,
        username,
        username_source,
        password,
        prompt_pass,
        check_cert,
        ca_file,
        credentials,
        section,
        warnings,
        network,
    })
}

/// A duration longer than zero: `30s`, `2m`, `500ms`, `1h`; a bare number is seconds (the
/// `--connect-timeout`/`--read-timeout` flags and the file keys).
pub fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::duration_text::parse_duration(text).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("the duration must be longer than 0s".into());
    }
    Ok(d)
}

/// A [`positive_duration`] from the file section's `key` (`name` as the user writes it).
fn file_duration(
    file: Option<&BTreeMap<String, String>>,
    key: &str,
    name: &str,
) -> Result<Option<std::time::Duration>, Failure> {
    let Some(value) = file.and_then(|f| f.get(key)) else {
        return Ok(None);
    };
    positive_duration(value).map(Some).map_err(|e| {
        Failure::usage(
            format!("config value {name} = {value:?}: {e}"),
            "write e.g. 30s, 2m or 500ms",
        )
    })
}

fn bad_bool(key: &str, value: &str) -> Failure {
    Failure::usage(
        format!("config value {key} = {value:?} is not a boolean"),
        "use yes/no, true/false, on/off or 1/0",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(path: &str, contents: &str) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from(path),
            contents: contents.to_string(),
            readable_by_others: false,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const JDOE: &str = "[jdoe]\nurl = https://icat.example.com:8181/ICATService/ICAT?wsdl\n\
        auth = db\nusername = jdoe\npassword = secret\nidsurl = https://icat.example.com:8181/ids\n\
        #checkCert = No\n";

    #[test]
    fn file_values_need_a_section() {
        let files = [file("/etc/icat/icat.cfg", JDOE)];
        let s = resolve(&ConnFlags::default(), &env(&[]), &files).unwrap();
        assert_eq!(s.url, None);
        assert_eq!(s.username, None);
        assert_eq!(s.password, None);
        assert!(s.check_cert);
    }

    #[test]
    fn section_from_flag_reads_python_icat_keys() {
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", JDOE)]).unwrap();
        assert_eq!(
            s.url.as_deref(),
            Some("https://icat.example.com:8181/ICATService/ICAT")
        );
        assert_eq!(
            s.idsurl.as_deref(),
            Some("https://icat.example.com:8181/ids")
        );
        assert_eq!(s.auth.as_deref(), Some("db"));
        assert_eq!(s.username.as_deref(), Some("jdoe"));
        assert_eq!(s.password, Some(Secret::new("secret")));
        assert!(
            s.check_cert,
            "commented-out checkCert keeps verification on"
        );
    }

    #[test]
    fn section_from_env_and_precedence_flag_over_env_over_file() {
        let e = env(&[
            ("ICAT_CFG_SECTION", "jdoe"),
            ("ICAT_SERVICE", "https://env.example.org"),
            ("ICAT_AUTH", "ldap"),
            ("ICAT_DATA_SERVICE", "https://ids.example.org:443"),
        ]);
        let flags = ConnFlags {
            auth: Some("simple".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &e, &[file("icat.cfg", JDOE)]).unwrap();
        assert_eq!(
            s.url.as_deref(),
            Some("https://env.example.org/ICATService/ICAT")
        );
        // The client's normaliser writes the default port as implied (the same address).
        assert_eq!(s.idsurl.as_deref(), Some("https://ids.example.org/ids"));
        assert_eq!(s.auth.as_deref(), Some("simple"));
        assert_eq!(s.username.as_deref(), Some("jdoe"));
        assert_eq!(s.username_source, Some(Source::File));
    }

    #[test]
    fn network_limits_from_the_file_section_and_flags_over_file() {
        let cfg = "[jdoe]\nconnectTimeout = 5s\nreadTimeout = 2m\nretries = 0\nmaxAnswerMiB = 64\nmaxRows = 20\n";
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", cfg)]).unwrap();
        assert_eq!(s.network.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(s.network.read_timeout, Some(Duration::from_secs(120)));
        assert_eq!(s.network.retries, Some(0));
        assert_eq!(s.network.max_answer_mib, Some(64));
        assert_eq!(s.network.max_rows, Some(20));
        let flags = ConnFlags {
            network: Network {
                connect_timeout: Some(Duration::from_secs(1)),
                read_timeout: None,
                retries: Some(7),
                max_answer_mib: Some(128),
                max_rows: Some(5),
            },
            ..flags
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", cfg)]).unwrap();
        assert_eq!(s.network.connect_timeout, Some(Duration::from_secs(1)));
        assert_eq!(s.network.read_timeout, Some(Duration::from_secs(120)));
        assert_eq!(s.network.retries, Some(7));
        assert_eq!(s.network.max_answer_mib, Some(128));
        assert_eq!(s.network.max_rows, Some(5));
        // Without a section nothing comes from the file.
        let s = resolve(&ConnFlags::default(), &env(&[]), &[file("icat.cfg", cfg)]).unwrap();
        assert_eq!(s.network, Network::default());
    }

    #[test]
    fn bad_network_limits_in_the_file_name_the_key() {
        let flags = ConnFlags {
            section: Some("x".into()),
            ..Default::default()
        };
        for (cfg, key) in [
            ("[x]\nreadTimeout = soon\n", "readTimeout"),
            ("[x]\nconnectTimeout = 0s\n", "connectTimeout"),
            ("[x]\nretries = -1\n", "retries"),
            ("[x]\nmaxAnswerMiB = 0\n", "maxAnswerMiB"),
            ("[x]\nmaxAnswerMiB = lots\n", "maxAnswerMiB"),
            ("[x]\nmaxRows = 0\n", "maxRows"),
            ("[x]\nmaxRows = many\n", "maxRows"),
        ] {
            let err = resolve(&flags, &env(&[]), &[file("icat.cfg", cfg)]).unwrap_err();
            assert!(err.message.contains(key), "{cfg}: {err}");
        }
    }

    #[test]
    fn later_files_override_earlier_ones_key_by_key() {
        let files = [
            file("/etc/icat/icat.cfg", JDOE),
            file("./icat.cfg", "[jdoe]\nauth = ldap\ncheckCert = No\n"),
        ];
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &files).unwrap();
        assert_eq!(s.auth.as_deref(), Some("ldap"));
        assert_eq!(s.username.as_deref(), Some("jdoe"));
        assert!(!s.check_cert);
        let flags = ConnFlags {
            check_cert: Some(true),
            ..flags
        };
        assert!(resolve(&flags, &env(&[]), &files).unwrap().check_cert);
    }

    #[test]
    fn file_password_is_not_sent_for_another_user() {
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            user: Some("rbeck".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", JDOE)]).unwrap();
        assert_eq!(s.username.as_deref(), Some("rbeck"));
        assert_eq!(s.password, None);
        let e = env(&[("ICAT_USER", "ahau")]);
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &e, &[file("icat.cfg", JDOE)]).unwrap();
        assert_eq!(s.username.as_deref(), Some("ahau"));
        assert_eq!(s.password, None);
    }

    #[test]
    fn prompt_pass_in_file_or_flag_drops_the_file_password() {
        let text = format!("{JDOE}promptPass = yes\n");
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", &text)]).unwrap();
        assert!(s.prompt_pass);
        assert_eq!(s.password, None);
        let flags = ConnFlags {
            prompt_pass: true,
            ..flags
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", JDOE)]).unwrap();
        assert_eq!(s.password, None);
    }

    #[test]
    fn cred_keys_from_file_and_flags() {
        let text = "[x]\nurl = http://h\nauth = ldap\ncred_otp = 123\n";
        let flags = ConnFlags {
            section: Some("x".into()),
            creds: vec!["realm=ESS".into()],
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", text)]).unwrap();
        assert_eq!(s.credentials.get("otp").map(String::as_str), Some("123"));
        assert_eq!(s.credentials.get("realm").map(String::as_str), Some("ESS"));
        let flags = ConnFlags {
            creds: vec!["password=x".into()],
            ..Default::default()
        };
        assert!(resolve(&flags, &env(&[]), &[]).is_err());
    }

    #[test]
    fn missing_section_and_bad_values_are_usage_errors() {
        let flags = ConnFlags {
            section: Some("nobody".into()),
            ..Default::default()
        };
        let err = resolve(&flags, &env(&[]), &[file("icat.cfg", JDOE)]).unwrap_err();
        assert!(err.message.contains("[nobody]"), "{err}");
        let flags = ConnFlags {
            section: Some("x".into()),
            ..Default::default()
        };
        let err = resolve(
            &flags,
            &env(&[]),
            &[file("icat.cfg", "[x]\ncheckCert = maybe\n")],
        )
        .unwrap_err();
        assert!(err.message.contains("checkCert"), "{err}");
    }

    #[test]
    fn readable_file_with_password_warns() {
        let mut f = file("/home/u/.icat/icat.cfg", JDOE);
        f.readable_by_others = true;
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[f.clone()]).unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("chmod 600"));
        f.contents = "[jdoe]\nurl = http://h\n".into();
        let s = resolve(&flags, &env(&[]), std::slice::from_ref(&f)).unwrap();
        assert!(s.warnings.is_empty());
        // A password in another section, or a misspelt one, is a secret all the same.
        for other in [
            "[root]\npassword = hunter2\n",
            "[root]\npasword = hunter2\n",
        ] {
            f.contents = format!("[jdoe]\nurl = http://h\n{other}");
            let s = resolve(&flags, &env(&[]), std::slice::from_ref(&f)).unwrap();
            assert!(
                s.warnings.iter().any(|w| w.contains("chmod 600")),
                "{other}: {:?}",
                s.warnings
            );
        }
    }

    #[test]
    fn search_path_and_explicit_file() {
        let (paths, explicit) =
            config_paths(&ConnFlags::default(), &env(&[]), Some(Path::new("/home/u")));
        assert!(!explicit);
        assert_eq!(
            paths,
            vec![
                PathBuf::from("/etc/icat/icat.cfg"),
                PathBuf::from("/home/u/.config/icat/icat.cfg"),
                PathBuf::from("/home/u/.icat/icat.cfg"),
                PathBuf::from("./icat.cfg"),
            ]
        );
        let (paths, explicit) = config_paths(
            &ConnFlags::default(),
            &env(&[("ICAT_CFG", "/x/my.cfg")]),
            None,
        );
        assert!(explicit);
        assert_eq!(paths, vec![PathBuf::from("/x/my.cfg")]);
        let flags = ConnFlags {
            configfile: Some("/y.cfg".into()),
            ..Default::default()
        };
        let (paths, _) = config_paths(&flags, &env(&[("ICAT_CFG", "/x/my.cfg")]), None);
        assert_eq!(paths, vec![PathBuf::from("/y.cfg")]);
    }

    #[test]
    fn url_normalisation() {
        assert_eq!(
            normalize_icat_url("https://h:8181"),
            "https://h:8181/ICATService/ICAT"
        );
        assert_eq!(
            normalize_icat_url("https://h:8181/ICATService/ICAT?wsdl"),
            "https://h:8181/ICATService/ICAT"
        );
        assert_eq!(normalize_ids_url("https://h:8181/"), "https://h:8181/ids");
        assert_eq!(normalize_ids_url("https://h/ids"), "https://h/ids");
    }

    #[test]
    fn the_shipped_python_icat_example_file_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/python-icat-6.2/icat.cfg");
        let Ok(contents) = std::fs::read_to_string(&path) else {
            eprintln!("skipping: {} is absent", path.display());
            return;
        };
        let f = file("icat.cfg", &contents);
        for (section, auth) in [("root", "simple"), ("acord", "db"), ("rbeck", "db")] {
            let flags = ConnFlags {
                section: Some(section.into()),
                ..Default::default()
            };
            let s = resolve(&flags, &env(&[]), std::slice::from_ref(&f)).unwrap();
            assert_eq!(s.auth.as_deref(), Some(auth));
            assert_eq!(s.username.as_deref(), Some(section));
            assert!(s.password.is_some());
            assert!(s.check_cert);
            assert_eq!(
                s.idsurl.as_deref(),
                Some("https://icat.example.com:8181/ids")
            );
        }
    }

    #[test]
    fn misspelt_keys_warn_with_a_guess() {
        let text = "[x]\nur1 = http://h\nusrname = jdoe\npasword = s\ncred_otp = 1\nzzzzzzzz = 1\ncaFile = /ca.pem\n";
        let flags = ConnFlags {
            section: Some("x".into()),
            url: Some("http://h".into()),
            ..Default::default()
        };
        let s = resolve(&flags, &env(&[]), &[file("icat.cfg", text)]).unwrap();
        let all = s.warnings.join("\n");
        assert!(
            all.contains("`ur1`") && all.contains("did you mean `url`"),
            "{all}"
        );
        assert!(all.contains("did you mean `username`"), "{all}");
        assert!(all.contains("did you mean `password`"), "{all}");
        assert!(
            all.contains("`zzzzzzzz` is ignored") && !all.contains("cred_otp"),
            "{all}"
        );
        assert_eq!(s.warnings.len(), 4, "{all}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_section_without_url_is_an_error() {
        let flags = ConnFlags {
            section: Some("x".into()),
            ..Default::default()
        };
        let files = [file("icat.cfg", "[x]\nauth = db\n")];
        let s = resolve(&flags, &env(&[]), &files).unwrap();
        let err = require_section_url(&s, &files).unwrap_err();
        assert!(
            err.message.contains("[x]") && err.message.contains("no url"),
            "{err}"
        );
    }

    #[test]
    fn url_and_password_from_different_files() {
        let flags = ConnFlags {
            section: Some("jdoe".into()),
            ..Default::default()
        };
        // ./icat.cfg sets the url, IDS or user of a section whose password is in ~/.icat:
        // refused.
        for key in ["url", "idsurl", "username"] {
            let files = [
                file("/home/u/.icat/icat.cfg", JDOE),
                file(
                    "./icat.cfg",
                    &format!("[jdoe]\n{key} = https://x.example.org\n"),
                ),
            ];
            let err = resolve(&flags, &env(&[]), &files).unwrap_err();
            assert!(
                err.message.contains("/home/u/.icat/icat.cfg")
                    && err.message.contains("./icat.cfg")
                    && err.hint.as_deref().is_some_and(|h| h.contains(key)),
                "{key}: {err}"
            );
        }
        let files = [
            file("/home/u/.icat/icat.cfg", JDOE),
            file(
                "./icat.cfg",
                "[jdoe]\nurl = https://elsewhere.example.org\n",
            ),
        ];
        let err = resolve(&flags, &env(&[]), &files).unwrap_err();
        assert!(
            err.message.contains("/home/u/.icat/icat.cfg") && err.message.contains("./icat.cfg"),
            "{err}"
        );
        // -w names the server: the user chose where the password goes.
        let with_url = ConnFlags {
            url: Some("https://h".into()),
            ..flags.clone()
        };
        assert!(resolve(&with_url, &env(&[]), &files).is_ok());
        // A url from an earlier (system) file with a personal password: allowed, said once.
        let files = [
            file(
                "/etc/icat/icat.cfg",
                "[jdoe]\nurl = https://icat.example.org\n",
            ),
            file(
                "/home/u/.icat/icat.cfg",
                "[jdoe]\nauth = db\nusername = jdoe\npassword = s\n",
            ),
        ];
        let s = resolve(&flags, &env(&[]), &files).unwrap();
        assert!(s.password.is_some());
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].contains("/etc/icat/icat.cfg"),
            "{:?}",
            s.warnings
        );
        // Same file: nothing to say.
        let s = resolve(&flags, &env(&[]), &[file("/etc/icat/icat.cfg", JDOE)]).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn ca_file_expands_the_home_directory() {
        let flags = ConnFlags {
            section: Some("x".into()),
            ..Default::default()
        };
        let e = env(&[("HOME", "/home/u")]);
        let files = [file("/etc/icat/icat.cfg", "[x]\ncaFile = ~/certs/ca.pem\n")];
        let s = resolve(&flags, &e, &files).unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/home/u/certs/ca.pem")));
        let flags = ConnFlags {
            ca_file: Some("~/ca.pem".into()),
            ..flags
        };
        let s = resolve(&flags, &e, &files).unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/home/u/ca.pem")));
        assert_eq!(
            expand_home(Path::new("~other/ca.pem"), Some(Path::new("/h"))),
            PathBuf::from("~other/ca.pem")
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
