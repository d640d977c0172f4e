//! Getting a logged-in session: resolve the configuration, reuse (and refresh) a cached session, or
//! log in and cache the new one; plus the IDS client that goes with it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icat_ids::{IdsClient, TransportOptions};
use icat_soap::client::{Client, Credentials, RetryPolicy, Session};

use crate::app::Context;
use crate::config::{self, Network, Settings};
use crate::credentials::{PasswordSources, build_credentials};
use crate::failure::Failure;
use crate::session_cache::{CachedSession, SessionCache, short_id};

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

/// Reads the config files and resolves the settings, printing any warnings.
pub fn settings(ctx: &Context) -> Result<Settings, Failure> {
    let flags = ctx.conn.to_flags();
    let home = dirs::home_dir().or_else(|| ctx.env.get("HOME").map(PathBuf::from));
    let (paths, explicit) = config::config_paths(&flags, &ctx.env, home.as_deref());
    let files = config::load_files(&paths, explicit)?;
    let settings = config::resolve(&flags, &ctx.env, &files)?;
    for warning in &settings.warnings {
        ctx.reporter.note(&format!("warning: {warning}"));
    }
    Ok(settings)
}

/// The pause between retries of small IDS calls chosen with `--retries` (the library's).
fn ids_backoff() -> icat_ids::Backoff {
    icat_ids::Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(10),
        ..icat_ids::Backoff::default()
    }
}

/// An ICAT client for a URL with the TLS settings and network limits.
pub fn icat_client(
    url: &str,
    check_cert: bool,
    ca_file: Option<&PathBuf>,
    network: &Network,
) -> Result<Client, Failure> {
    let mut builder = Client::builder(url)
        .proxy_from_env(true)
        .user_agent(concat!("icat-rs/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = network.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    if let Some(t) = network.read_timeout {
        builder = builder.read_timeout(t);
    }
    if let Some(n) = network.retries {
        let default = RetryPolicy::default();
        builder = builder.retry(RetryPolicy {
            max_attempts: n.saturating_add(1),
            ..default
        });
    }
    if let Some(ca) = ca_file {
        builder = builder.ca_certificate(ca.clone());
    }
    if !check_cert {
        // The client warns once per process (ICAT and IDS clients share the warning).
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| {
        Failure::usage(
            format!("cannot use ICAT URL {url}: {e}"),
            "check -w/--url, ICAT_SERVICE or url in icat.cfg",
        )
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
        let defaults = TransportOptions::default();
        let options = TransportOptions {
            ca_certificate: self.ca_file.clone(),
            insecure: !self.check_cert,
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
            client = client.with_retries(n, ids_backoff());
        }
        let client = client.with_session_source(std::sync::Arc::new(self.session.clone()));
        Ok(self.ids.get_or_init(|| client).clone())
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
    connect_with(ctx, &settings, &cache, reuse).await
}

/// [`connect`] with explicit settings and cache (the demo uses its own).
pub async fn connect_with(
    ctx: &Context,
    settings: &Settings,
    cache: &SessionCache,
    reuse: Reuse,
) -> anyhow::Result<Connection> {
    let cached = find_cached(settings, cache);
    let url = match (&settings.url, &cached) {
        (Some(url), _) => url.clone(),
        (None, Some(c)) => c.url.clone(),
        (None, None) if reuse == Reuse::CachedOnly => {
            return Err(Failure::auth("not logged in", "run `icat login` first").into());
        }
        (None, None) => {
            return Err(Failure::usage(
                "no ICAT server configured",
                "pass -w URL -a AUTH -u USER, set ICAT_SERVICE, choose an icat.cfg section with -s, or run `icat login` first",
            )
            .into());
        }
    };
    let check_cert = match &cached {
        Some(c) if settings.url.is_none() => c.check_cert,
        _ => settings.check_cert,
    };
    // A CA file given now wins; else the one stored with the session for this server.
    let ca_file = match (&settings.ca_file, &cached) {
        (Some(path), _) => Some(absolute(path)),
        (None, Some(c)) if c.url == url => c.ca_file.clone(),
        _ => None,
    };
    let client = icat_client(&url, check_cert, ca_file.as_ref(), &settings.network)?;
    let idsurl = settings
        .idsurl
        .clone()
        .or_else(|| cached.as_ref().and_then(|c| c.idsurl.clone()));

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
                    if reuse == Reuse::CachedOnly {
                        return Err(Failure::auth(
                            format!("the stored session for {} has expired", entry.server_user),
                            "run `icat login` again",
                        )
                        .into());
                    }
                    ctx.reporter
                        .note("the stored session has expired; logging in again");
                }
                Err(e) => return Err(e.into()),
            }
        } else if reuse == Reuse::CachedOnly {
            return Err(Failure::auth("not logged in", "run `icat login` first").into());
        }
    }

    let auth = settings
        .auth
        .clone()
        .or_else(|| cached.as_ref().map(|c| c.auth.clone()))
        .ok_or_else(|| {
            Failure::usage(
                "no authenticator configured",
                "pass -a PLUGIN (e.g. db, ldap), set ICAT_AUTH, or add auth to the icat.cfg section",
            )
        })?;
    let mut login_settings = settings.clone();
    if login_settings.username.is_none() {
        login_settings.username = cached
            .as_ref()
            .map(|c| c.username.clone())
            .filter(|u| !u.is_empty());
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
    let server_user = session.user_name().await?;
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
    if let Err(e) = cache.save(&entry) {
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

/// The cache entry matching the settings: same server, authenticator and user where given.
pub fn find_cached(settings: &Settings, cache: &SessionCache) -> Option<CachedSession> {
    let matches = |c: &CachedSession| {
        settings.url.as_ref().is_none_or(|u| &c.url == u)
            && settings.auth.as_ref().is_none_or(|a| &c.auth == a)
            && settings.username.as_ref().is_none_or(|u| &c.username == u)
    };
    cache.all().into_iter().map(|(_, c)| c).find(|c| matches(c))
}
