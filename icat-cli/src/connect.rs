//! Getting a logged-in session: resolve the configuration, reuse (and refresh) a cached session, or
//! log in and cache the new one; plus the IDS client that goes with it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icat_ids::{IdsClient, TransportOptions};
use icat_soap::client::{Client, Credentials, RetryPolicy, Session};

use crate::config::{self, Network, Settings};
use crate::context::Context;
use crate::credentials::{PasswordSources, build_credentials};
use crate::failure::Failure;
use crate::session_cache::{CachedSession, SessionCache, short_id};
use crate::url_text::{has_userinfo, redact_url};

/// Most bytes of the user name the server reports that are kept and shown.
const MAX_USER_NAME: usize = 256;

/// A logged-in session with everything needed to reach ICAT and the IDS.
#[derive(Debug)]
pub struct Connection {
    /// The ICAT session (refreshes itself before it runs out).
    pub session: Session,
    /// The normalised ICAT URL.
    pub url: String,
    /// The normalised IDS URL, when configured.
    pub idsurl: Option<String>,
    /// The user name as the server reports it (e.g. `db/jdoe`).
    pub server_user: String,
    /// Verify TLS certificates.
    pub check_cert: bool,
    /// Extra CA certificate.
    pub ca_file: Option<PathBuf>,
    /// Network limits.
    pub network: Network,
    /// The cache entry describing this session.
    pub cached: CachedSession,
    /// Whether this connection logged in just now (rather than reusing a cached session).
    pub fresh_login: bool,
    /// The IDS client, made on first use.
    ids: std::sync::OnceLock<IdsClient>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Minutes left by the local estimate of a session's expiry.
pub fn minutes_left(session: &Session) -> f64 {
    session
        .expires_at()
        .saturating_duration_since(std::time::Instant::now())
        .as_secs_f64()
        / 60.0
}

/// The one rule for showing minutes left (`login`, `whoami`, `sessions`): to the nearest whole
/// minute, never below zero.
pub fn whole_minutes(minutes: f64) -> i64 {
    minutes.round().max(0.0) as i64
}

/// Reads the config files and resolves the settings, printing any warnings.
pub fn settings(ctx: &Context) -> Result<Settings, Failure> {
    let flags = ctx.conn.to_flags();
    let home = dirs::home_dir().or_else(|| ctx.env.get("HOME").map(PathBuf::from));
    let (paths, explicit) = config::config_paths(&flags, &ctx.env, home.as_deref());
    let files = config::load_files(&paths, explicit)?;
    let section = flags
        .section
        .clone()
        .or_else(|| ctx.env.get("ICAT_CFG_SECTION").cloned())
        .filter(|s| !s.is_empty());
    if let Some(name) = section
        && !config::has_section(&files, &name)?
    {
        return Err(config::section_not_found(&name, &paths, &files));
    }
    let settings = config::resolve(&flags, &ctx.env, &files)?;
    // Warnings first: a misspelt `url` explains the missing url.
    for warning in &settings.warnings {
        ctx.reporter.note(&format!("warning: {warning}"));
    }
    config::require_section_url(&settings, &files)?;
    Ok(settings)
}

/// Whether a URL is plain `http://` (no TLS, so no certificate to check).
fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// An ICAT client for a URL with the TLS settings and network limits.
pub fn icat_client(
    url: &str,
    check_cert: bool,
    ca_file: Option<&PathBuf>,
    network: &Network,
) -> Result<Client, Failure> {
    if has_userinfo(url) {
        return Err(Failure::usage(
            format!(
                "the ICAT URL {} contains a user name or password",
                redact_url(url)
            ),
            "remove them from -w/--url (ICAT_SERVICE, url in icat.cfg); give the user with -u USER \
             and the password with --password-stdin",
        ));
    }
    let mut builder = Client::builder(url)
        .proxy_from_env(true)
        .user_agent(concat!("icat-rs/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = network.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    if let Some(t) = network.read_timeout {
        builder = builder.read_timeout(t);
    }
    if let Some(mib) = network.max_answer_mib {
        builder = builder.max_response_size(u64::from(mib) << 20);
    }
    if let Some(n) = network.retries {
        builder = builder.retry(RetryPolicy {
            max_retries: n,
            ..RetryPolicy::default()
        });
    }
    if let Some(ca) = ca_file {
        builder = builder.ca_certificate(ca.clone());
    }
    // Plain http has no certificate to check: turning the check off there changes nothing and
    // would only add a second warning to the one the configuration gives.
    if !check_cert && !is_plain_http(url) {
        // The client warns once per process (ICAT and IDS clients share the warning).
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| match e {
        // An unreadable or bogus CA file: the URL is fine.
        icat_soap::IcatError::Config(detail) => Failure::usage(
            detail,
            "check the --ca-file path or caFile in icat.cfg (a PEM file with -----BEGIN CERTIFICATE-----)",
        ),
        e => Failure::usage(
            format!("cannot use ICAT URL {}: {e}", redact_url(url)),
            "check -w/--url, ICAT_SERVICE or url in icat.cfg",
        ),
    })
}

impl Connection {
    /// The IDS client for this session; an error when no IDS URL is configured.
    pub fn ids(&self) -> Result<IdsClient, Failure> {
        if let Some(client) = self.ids.get() {
            return Ok(client.clone());
        }
        let Some(idsurl) = &self.idsurl else {
            return Err(Failure::usage(
                "no IDS URL configured",
                "pass --idsurl URL, set ICAT_DATA_SERVICE, or add idsurl to the icat.cfg section",
            ));
        };
        crate::advice::note_ids_url(idsurl);
        let defaults = TransportOptions::default();
        let options = TransportOptions {
            ca_certificates: self.ca_file.iter().cloned().collect(),
            insecure: !self.check_cert && !is_plain_http(idsurl),
            proxy_from_env: true,
            connect_timeout: self
                .network
                .connect_timeout
                .unwrap_or(defaults.connect_timeout),
            read_timeout: self.network.read_timeout.unwrap_or(defaults.read_timeout),
            ..defaults
        };
        let mut client = IdsClient::new(idsurl, options).map_err(|e| {
            Failure::usage(
                format!("cannot use IDS URL {idsurl}: {e}"),
                "check --idsurl, ICAT_DATA_SERVICE or idsurl in icat.cfg",
            )
        })?;
        // The IDS asks the ICAT session for its id before every call, so it follows refreshes
        // and re-logins instead of keeping the id it started with.
        if let Some(n) = self.network.retries {
            client = client.with_retry(RetryPolicy {
                max_retries: n,
                ..icat_ids::DEFAULT_RETRY
            });
        }
        let client = client.with_session_source(std::sync::Arc::new(self.session.clone()));
        Ok(self.ids.get_or_init(|| client).clone())
    }

    /// Says on stderr (not with `-q`) which server and user a command that reads or changes
    /// data acts for, e.g. `downloading from https://icat.example.org/ICATService/ICAT as db/jdoe`.
    pub fn announce(&self, reporter: &crate::progress::Reporter, action: &str) {
        reporter.note(&format!("{action} {} as {}", self.url, self.server_user));
    }

    /// Like [`Connection::announce`] for commands that act on the IDS (`upload`, `restore`):
    /// `uploading to the IDS at https://host/ids as db/jdoe (ICAT https://host/ICATService/ICAT)`.
    pub fn announce_ids(&self, reporter: &crate::progress::Reporter, action: &str) {
        match &self.idsurl {
            Some(ids) => reporter.note(&format!(
                "{action} the IDS at {} as {} (ICAT {})",
                redact_url(ids),
                self.server_user,
                self.url
            )),
            None => self.announce(reporter, action),
        }
    }

    /// Keeps the session alive during long work: refreshes it before it expires, every few minutes.
    pub fn keep_alive(&self) -> tokio::task::JoinHandle<()> {
        let session = self.session.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(300)).await;
                if let Err(e) = session.fresh_id().await {
                    tracing::warn!(error = %e, "could not refresh the ICAT session");
                }
            }
        })
    }
}

/// Whether to reuse a cached session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Reuse a cached session when there is one, else log in.
    CachedOrLogin,
    /// Always log in (`icat login`).
    AlwaysLogin,
    /// Only a cached session (`icat logout`, `icat whoami`): never prompt.
    CachedOnly,
}

/// Connects: reuses the cached session for the configured server and user, or logs in.
pub async fn connect(ctx: &Context, reuse: Reuse) -> anyhow::Result<Connection> {
    let settings = settings(ctx)?;
    let cache = SessionCache::from_env(&ctx.env)?;
    crate::catalog::set_max_rows(
        settings
            .network
            .max_rows
            .unwrap_or(crate::catalog::DEFAULT_MAX_ROWS),
    );
    connect_with(ctx, &settings, &cache, reuse).await
}

/// The server and user a command acts for, and its stored session if there is one.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// The normalised ICAT URL.
    pub url: String,
    /// The authenticator, when known.
    pub auth: Option<String>,
    /// The user name, when known.
    pub username: Option<String>,
    /// The stored session for exactly this server and user.
    pub entry: Option<CachedSession>,
    /// Chosen as the default (the last `icat login`), not by `-s`, `-w` or the environment.
    pub from_default: bool,
    /// The user as the server named it at the last login, for messages.
    pub server_user: Option<String>,
}

/// The failure of a command that has no session to use. With `-s`/`-w` (or the environment)
/// the advice is the exact `icat login` to run for that server and user (`-a AUTH`, `-u USER`
/// stand for what the user did not say); a plain command is told to run `icat login`.
fn not_logged_in(
    flags: &config::ConnFlags,
    chosen: Option<&Chosen>,
    detail: Option<String>,
) -> Failure {
    let message = match detail {
        Some(d) => format!("not logged in: {d}"),
        None => match chosen.filter(|c| !c.from_default) {
            Some(c) => match &c.username {
                Some(user) => format!("not logged in as {user} at {}", redact_url(&c.url)),
                None => format!("not logged in at {}", redact_url(&c.url)),
            },
            None => "not logged in".to_string(),
        },
    };
    let mut login = vec!["icat login".to_string()];
    if let Some(section) = &flags.section {
        login.push(format!("-s {section}"));
        login.extend(flags.auth.as_ref().map(|a| format!("-a {a}")));
        login.extend(flags.user.as_ref().map(|u| format!("-u {u}")));
    } else if let Some(c) = chosen {
        // The default session's own login too: the exact command, not a bare `icat login`.
        login.push(format!("-w {}", redact_url(&c.url)));
        login.push(format!("-a {}", c.auth.as_deref().unwrap_or("AUTH")));
        // Only the anonymous authenticator goes without a user name.
        if c.username.is_some()
            || !c
                .auth
                .as_deref()
                .is_some_and(|a| ANONYMOUS_AUTHENTICATORS.contains(&a))
        {
            login.push(format!("-u {}", c.username.as_deref().unwrap_or("USER")));
        }
    }
    if login.len() == 1 {
        return Failure::auth(
            message,
            "run icat login (or choose a server with -s SECTION or -w URL)",
        );
    }
    Failure::auth(message, format!("run {}", login.join(" ")))
}

/// Chooses the session a command acts for.
///
/// With `-s`, `-w`, `ICAT_SERVICE` or `ICAT_CFG_SECTION` the settings name the server; a stored
/// session is used only when it is for that server and, when the settings name an authenticator,
/// user or section, exactly that authenticator and user (a section never borrows another user's
/// session). Without them the default session is used, the one of the last `icat login`, and
/// never any other.
pub fn choose(settings: &Settings, cache: &SessionCache) -> Result<Option<Chosen>, Failure> {
    let default = cache.default_key();
    let Some(url) = settings.url.clone() else {
        let Some(key) = default else {
            return Ok(None);
        };
        let same_user = settings.auth.as_deref().is_none_or(|a| a == key.auth)
            && settings
                .username
                .as_deref()
                .is_none_or(|u| u == key.username);
        if same_user {
            let entry = cache
                .load(&key.url, &key.auth, &key.username)
                .filter(|e| e.url == key.url);
            return Ok(Some(Chosen {
                url: key.url.clone(),
                auth: Some(key.auth.clone()).filter(|a| !a.is_empty()),
                username: Some(key.username.clone()).filter(|u| !u.is_empty()),
                entry,
                from_default: true,
                server_user: Some(key.server_user.clone()),
            }));
        }
        // `-a`/`-u` for another user without `-w`: that user on the default session's server,
        // never the default user's authenticator or name.
        return on_server(settings, cache, key.url.clone(), None).map(Some);
    };
    on_server(settings, cache, url, default).map(Some)
}

/// [`choose`] for a named server: a section's exact authenticator and user, or the stored
/// session that has the `-a`/`-u` given (either may be left out). Without `-u`, the default
/// session if it is on this server, else the only stored session that fits; several are
/// ambiguous (which user would change with history) and refused.
fn on_server(
    settings: &Settings,
    cache: &SessionCache,
    url: String,
    default: Option<crate::session_cache::DefaultKey>,
) -> Result<Chosen, Failure> {
    let entry = if settings.section.is_some() {
        // A section names exactly one authenticator and user (none: anonymous).
        let auth = settings.auth.clone().unwrap_or_default();
        let username = settings.username.clone().unwrap_or_default();
        cache.load(&url, &auth, &username)
    } else {
        let fits = |auth: &str, username: &str| {
            settings.auth.as_deref().is_none_or(|a| a == auth)
                && settings.username.as_deref().is_none_or(|u| u == username)
        };
        match default
            .as_ref()
            .filter(|k| k.url == url && fits(&k.auth, &k.username))
            .and_then(|k| cache.load(&k.url, &k.auth, &k.username))
        {
            Some(entry) => Some(entry),
            None => {
                let mut fitting: Vec<CachedSession> = cache
                    .all()
                    .into_iter()
                    .map(|(_, s)| s)
                    .filter(|s| s.url == url && fits(&s.auth, &s.username))
                    .collect();
                if fitting.len() > 1 {
                    let mut users: Vec<String> =
                        fitting.iter().map(|s| s.server_user.clone()).collect();
                    users.sort();
                    return Err(Failure::usage(
                        format!(
                            "{} stored sessions at {} fit ({}): which one is meant?",
                            fitting.len(),
                            redact_url(&url),
                            users.join(", ")
                        ),
                        "add -u USER (and -a AUTH) to choose one",
                    ));
                }
                fitting.pop()
            }
        }
    };
    Ok(Chosen {
        auth: settings
            .auth
            .clone()
            .or_else(|| entry.as_ref().map(|e| e.auth.clone())),
        username: settings
            .username
            .clone()
            .or_else(|| entry.as_ref().map(|e| e.username.clone()))
            .filter(|u| !u.is_empty()),
        server_user: entry.as_ref().map(|e| e.server_user.clone()),
        url,
        entry,
        from_default: false,
    })
}

/// The IDS URL facilities deploy next to ICAT: the same origin plus `/ids`.
pub fn derived_ids_url(icat_url: &str) -> String {
    icat_soap::client::ids_url_beside(icat_url).map_or_else(
        |_| icat_url.to_string(),
        |u| u.as_str().trim_end_matches('/').to_string(),
    )
}

/// Whether a password can be had without the cache: piped in, or a terminal to ask on.
fn can_get_password(ctx: &Context, settings: &Settings) -> bool {
    use std::io::IsTerminal;
    ctx.conn.password_stdin
        || settings.password.is_some()
        || std::io::stdin().is_terminal()
        || std::io::stderr().is_terminal()
}

/// Whether a command without a stored session for its server and user may log in for itself:
/// the authenticator is known and, for a named user, a password can be had (piped in, from the
/// section, or asked on a terminal).
fn can_log_in_now(ctx: &Context, settings: &Settings, chosen: &Chosen) -> bool {
    chosen.auth.is_some() && (chosen.username.is_none() || can_get_password(ctx, settings))
}

/// [`connect`] with explicit settings and cache (the demo uses its own).
pub async fn connect_with(
    ctx: &Context,
    settings: &Settings,
    cache: &SessionCache,
    reuse: Reuse,
) -> anyhow::Result<Connection> {
    // Damaged session files and sessions past their expiry are removed as soon as noticed.
    let mut damaged = cache.remove_damaged();
    cache.prune_expired(now_ms());
    let Some(chosen) = choose(settings, cache)? else {
        if reuse == Reuse::AlwaysLogin {
            return Err(Failure::usage(
                "no ICAT server configured",
                "pass -w URL -a AUTH -u USER, set ICAT_SERVICE, or choose an icat.cfg section with -s",
            )
            .into());
        }
        return Err(not_logged_in(&ctx.conn.to_flags(), None, None).into());
    };
    let cached = chosen.entry.clone();
    let url = chosen.url.clone();
    let who = chosen
        .server_user
        .clone()
        .or_else(|| chosen.username.clone())
        .unwrap_or_else(|| "the last user".to_string());
    // The chosen session's own file was damaged: that is what the user needs to hear (once).
    let chosen_damaged = cache
        .default_key()
        .filter(|_| chosen.from_default)
        .map(|k| cache.path_for(&k.url, &k.auth, &k.username))
        .or_else(|| {
            let auth = chosen.auth.as_deref()?;
            let user = chosen.username.as_deref().unwrap_or_default();
            Some(cache.path_for(&url, auth, user))
        })
        .and_then(|p| damaged.iter().position(|d| d.path == p))
        .map(|i| damaged.remove(i));
    for d in &damaged {
        tracing::warn!("{}", d.describe());
    }
    if let Some(d) = &chosen_damaged
        && cached.is_none()
        && reuse != Reuse::AlwaysLogin
    {
        let what = format!(
            "the stored session of {who} at {}: {}",
            redact_url(&url),
            d.describe()
        );
        if reuse == Reuse::CachedOnly || !can_log_in_now(ctx, settings, &chosen) {
            return Err(not_logged_in(&ctx.conn.to_flags(), Some(&chosen), Some(what)).into());
        }
        ctx.reporter.note(&format!("{what}; logging in again"));
    } else if cached.is_none() && chosen.from_default && reuse != Reuse::AlwaysLogin {
        let ended = format!("the session of {who} at {} has ended", redact_url(&url));
        if reuse == Reuse::CachedOnly || !can_get_password(ctx, settings) {
            return Err(not_logged_in(&ctx.conn.to_flags(), Some(&chosen), Some(ended)).into());
        }
        ctx.reporter.note(&format!("{ended}; logging in again"));
    }
    // --check-certificate / --no-check-certificate win; else what the session was made with.
    let check_cert = match (ctx.conn.to_flags().check_cert, &cached) {
        (Some(flag), _) => flag,
        // `--no-check-certificate` given at login stays with the session (and warns each time).
        (None, Some(c)) if c.url == url => c.check_cert && settings.check_cert,
        _ => settings.check_cert,
    };
    // A CA file given now wins; else the one stored with the session for this server.
    let ca_file = match (&settings.ca_file, &cached) {
        (Some(path), _) => Some(absolute(path)),
        (None, Some(c)) if c.url == url => c.ca_file.clone(),
        _ => None,
    };
    let client = icat_client(&url, check_cert, ca_file.as_ref(), &settings.network)?;
    let mut derived_ids = false;
    let idsurl = settings
        .idsurl
        .clone()
        .or_else(|| cached.as_ref().and_then(|c| c.idsurl.clone()))
        .or_else(|| {
            derived_ids = true;
            Some(derived_ids_url(&url))
        });

    if reuse != Reuse::AlwaysLogin {
        if let Some(entry) = cached.clone() {
            match client.resume(&entry.session_id, None).await {
                Ok(session) => {
                    tracing::info!(session = %short_id(&entry.session_id), user = %entry.server_user, "reusing cached session");
                    let mut entry = entry;
                    entry.expires_at_ms = now_ms() + (minutes_left(&session) * 60_000.0) as i64;
                    entry.saved_at_ms = now_ms();
                    if entry.idsurl.is_none() {
                        entry.idsurl = idsurl.clone();
                    }
                    entry.ca_file = ca_file.clone();
                    // Best effort: a read-only cache must not stop the command.
                    if let Err(e) = cache.save(&entry) {
                        tracing::warn!("{e}");
                    }
                    return Ok(Connection {
                        session,
                        url,
                        idsurl,
                        server_user: entry.server_user.clone(),
                        check_cert,
                        ca_file: ca_file.clone(),
                        network: settings.network,
                        cached: entry,
                        fresh_login: false,
                        ids: std::sync::OnceLock::new(),
                    });
                }
                Err(e) if e.is_session() => {
                    let _ = cache.remove(&entry.url, &entry.auth, &entry.username);
                    let ended = format!(
                        "the session of {} at {} has ended",
                        entry.server_user, entry.url
                    );
                    if reuse == Reuse::CachedOnly
                        || (chosen.from_default && !can_get_password(ctx, settings))
                    {
                        return Err(not_logged_in(
                            &ctx.conn.to_flags(),
                            Some(&chosen),
                            Some(ended),
                        )
                        .into());
                    }
                    ctx.reporter.note(&format!("{ended}; logging in again"));
                }
                Err(e) => return Err(e.into()),
            }
        } else if reuse == Reuse::CachedOnly || !can_log_in_now(ctx, settings, &chosen) {
            // A one-off `-s`/`-w`/`-a`/`-u` with no stored session logs in for this command
            // only when it can without asking anyone (see `icat --help`).
            return Err(not_logged_in(&ctx.conn.to_flags(), Some(&chosen), None).into());
        }
    }

    let auth = chosen.auth.clone().ok_or_else(|| {
        Failure::usage(
            "no authenticator configured",
            "pass -a PLUGIN (e.g. db, ldap), set ICAT_AUTH, or add auth to the icat.cfg section",
        )
    })?;
    let mut login_settings = settings.clone();
    if login_settings.username.is_none() {
        login_settings.username = chosen.username.clone();
    }
    if login_settings.username.is_none() && login_settings.credentials.is_empty() {
        require_no_credentials(&client, &auth, settings).await?;
    }
    let secrets = PasswordSources::with_real(ctx.conn.password_stdin, |sources| {
        build_credentials(&login_settings, &url, sources)
    })?;
    let mut creds = Credentials::new();
    for (key, value) in &secrets {
        creds.insert(key.clone(), value.expose().to_string());
    }
    let username = login_settings.username.clone().unwrap_or_default();
    let session = match client.login_with_relogin(&auth, &creds).await {
        Ok(s) => s,
        Err(e) if e.is_session() => {
            let who = if username.is_empty() {
                "anonymously".to_string()
            } else {
                format!("as {username}")
            };
            return Err(Failure::auth(
                format!(
                    "login {who} with authenticator {auth} failed: {}",
                    crate::failure::one_line(&server_message(&e))
                ),
                "check the user name, password and authenticator (-a)",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if derived_ids && let Some(ids) = &idsurl {
        ctx.reporter.note(&format!(
                "no IDS URL configured; using {ids} (same server + /ids; set --idsurl or idsurl in icat.cfg to change it)"
            ));
    }
    // The server's text, shown in messages and kept in the cache: cleaned and bounded once here.
    let server_user = icat_soap::untrusted::clean_text(&session.user_name().await?, MAX_USER_NAME);
    let entry = CachedSession {
        url: url.clone(),
        idsurl: idsurl.clone(),
        auth,
        username,
        server_user: server_user.clone(),
        session_id: session.id(),
        expires_at_ms: now_ms() + (minutes_left(&session) * 60_000.0) as i64,
        saved_at_ms: now_ms(),
        check_cert,
        ca_file: ca_file.clone(),
    };
    let saved = cache.save(&entry);
    // `icat login`, or a re-login of the default session, makes it the default.
    let saved = match saved {
        Ok(_) if reuse == Reuse::AlwaysLogin || chosen.from_default => cache.set_default(&entry),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = saved {
        if reuse == Reuse::AlwaysLogin {
            // `icat login` exists to keep the session: a session nobody can use again is ended.
            if let Err(end) = session.logout().await {
                tracing::debug!(error = %end, "could not end the session that was not saved");
            }
            return Err(Failure::bare(
                crate::failure::ExitKind::Other,
                format!(
                    "logged in, but the session could not be saved, so it was ended: {}",
                    e.message
                ),
            )
            .into());
        }
        // Any other command still does its work with the session it has.
        tracing::warn!("{e}");
    }
    Ok(Connection {
        session,
        url,
        idsurl,
        server_user,
        check_cert,
        ca_file,
        network: settings.network,
        cached: entry,
        fresh_login: true,
        ids: std::sync::OnceLock::new(),
    })
}

/// Authenticators that take no credentials whatever the server says (ICAT's anonymous plugin).
const ANONYMOUS_AUTHENTICATORS: &[&str] = &["anon"];

/// Before a login with neither a user name nor any credential keys: refuses unless the
/// authenticator needs none. As python-icat does, the server's `getAuthenticatorInfo` says which
/// keys an authenticator needs; a server that cannot tell (ICAT before 4.9) allows it only for
/// the anonymous authenticator.
async fn require_no_credentials(
    client: &Client,
    auth: &str,
    settings: &Settings,
) -> Result<(), Failure> {
    let needed: Vec<String> = match client.authenticator_info().await {
        Ok(infos) => match infos.iter().find(|i| i.mnemonic.as_deref() == Some(auth)) {
            Some(info) => info.keys.iter().filter_map(|k| k.name.clone()).collect(),
            // An authenticator the server does not list: its login answer says so.
            None => return Ok(()),
        },
        Err(e) => {
            tracing::debug!(error = %e, "getAuthenticatorInfo failed");
            if ANONYMOUS_AUTHENTICATORS.contains(&auth) {
                return Ok(());
            }
            vec!["username".into()]
        }
    };
    if needed.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = needed
        .iter()
        .map(|k| icat_soap::untrusted::clean_text(k, 64))
        .collect();
    let missing = if keys.iter().any(|k| k == "username") {
        "username".to_string()
    } else {
        keys.join(", ")
    };
    let place = match &settings.section {
        Some(name) => {
            format!("add username = NAME to the icat.cfg section [{name}] or pass -u NAME")
        }
        None => "pass -u NAME (or set ICAT_USER, or username in an icat.cfg section)".to_string(),
    };
    let place = if missing == "username" {
        place
    } else {
        "pass them with --cred KEY=VALUE (cred_KEY in the icat.cfg section)".to_string()
    };
    Err(Failure::usage(
        format!(
            "no {missing} given: authenticator {auth} needs {}",
            keys.join(" and ")
        ),
        place,
    ))
}

/// An absolute form of a path given relative to the working directory (so a session stored by
/// one command still finds its CA file from another directory).
fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The server's message of an ICAT fault, without the client's advice.
fn server_message(e: &icat_soap::IcatError) -> String {
    match e {
        icat_soap::IcatError::Session { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
