//! Login sessions that do not expire under the caller: local expiry tracking, refresh ahead of time,
//! and (when the caller kept the credentials) one re-login after a SESSION fault.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Client;
use crate::IcatError;

/// The longest a session is allowed to run down before it is refreshed.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30 * 60);

/// Login credentials: key/value pairs as the authenticator plugin defines them (usually
/// `username` and `password`; none for `anon`). `Debug` never shows the values.
///
/// ```
/// use icat_soap::client::Credentials;
/// let creds = Credentials::new().with("username", "jdoe").with("password", "secret");
/// assert!(!format!("{creds:?}").contains("secret"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    entries: Vec<(String, String)>,
}

impl Credentials {
    /// No credentials (e.g. for the `anon` authenticator).
    pub fn new() -> Self {
        Credentials::default()
    }

    /// `username` and `password`: the pair the `db`, `ldap` and `simple` authenticators take.
    pub fn user_password(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::new()
            .with("username", user)
            .with("password", password)
    }

    /// Adds (or replaces) one key/value pair.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds (or replaces) one key/value pair.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The pairs, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, _)| (k, "<hidden>")))
            .finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Credentials {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut c = Credentials::new();
        for (k, v) in iter {
            c.insert(k, v);
        }
        c
    }
}

/// A session id shortened for display and logs: the first 8 characters and an ellipsis (never
/// print or log the whole id). The id is the server's text, so control characters become spaces.
/// The one shortening of the workspace: the CLI and the IDS client use it too.
pub fn short_id(id: &str) -> String {
    let head: String = id.chars().take(8).collect();
    let shown = crate::untrusted::clean_text(&head, 64);
    if head.len() < id.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// The mutable part of a session.
#[derive(Debug)]
struct State {
    id: Arc<str>,
    expires_at: Instant,
    lifetime: Duration,
    /// False for a session resumed by id until its first refresh: `lifetime` is then only a guess.
    lifetime_known: bool,
    /// Bumped on every re-login, so concurrent callers renew only once.
    generation: u64,
    /// The server has no `refresh` (ICAT before 4.3): the session cannot be extended, only
    /// replaced by a new login (when credentials were kept).
    no_refresh: bool,
}

struct Inner {
    client: Client,
    plugin: String,
    /// Kept only when the caller opted in with [`Client::login_with_relogin`].
    credentials: Option<Credentials>,
    state: Mutex<State>,
    /// Held while refreshing or logging in again, so only one task does it.
    renew: tokio::sync::Mutex<()>,
}

/// A logged-in ICAT session. Cheap to clone; clones share the session and may be used from many
/// tasks at once.
///
/// The session tracks its expiry locally (no extra round trip per call) and refreshes itself before
/// it runs out: a refresh happens in the call after less than a quarter of the lifetime (at most
/// 30 minutes) remains. If the session was made with [`Client::login_with_relogin`], a SESSION
/// fault makes it log in once more; read-only calls are then retried, writes return the fault.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Session")
            .field("id", &short_id(&state.id))
            .field("plugin", &self.inner.plugin)
            .field("relogin", &self.inner.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether an operation changes the catalogue (and so must not be repeated blindly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    ReadOnly,
    Write,
}

impl Session {
    /// Makes a session: `id` from `login` (or given by the caller), `remaining` from
    /// `getRemainingMinutes`; `fresh` when the id comes from a login just now, so that `remaining`
    /// is the whole lifetime.
    pub(crate) fn new(
        client: Client,
        plugin: String,
        credentials: Option<Credentials>,
        id: String,
        remaining: Duration,
        started: Instant,
        fresh: bool,
    ) -> Session {
        Session {
            inner: Arc::new(Inner {
                client,
                plugin,
                credentials,
                state: Mutex::new(State {
                    id: id.into(),
                    expires_at: started + remaining,
                    lifetime: remaining,
                    lifetime_known: fresh,
                    generation: 0,
                    no_refresh: false,
                }),
                renew: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update of plain data; keep going.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client this session talks through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The authenticator plugin used to log in.
    pub fn plugin(&self) -> &str {
        &self.inner.plugin
    }

    /// The current session id, as is (it may be close to expiry; see [`Session::fresh_id`]).
    /// Treat it like a password: do not log it; use [`short_id`] for logs.
    pub fn id(&self) -> String {
        self.state().id.to_string()
    }

    /// The session id after refreshing the session if it is close to expiry: what long-running
    /// work that uses the id elsewhere (e.g. IDS downloads) should call before each request.
    pub async fn fresh_id(&self) -> Result<String, IcatError> {
        self.ensure_fresh().await?;
        Ok(self.id())
    }

    /// The session id to use after another service (e.g. the IDS) refused `stale` as invalid.
    ///
    /// If the session already changed since `stale` was handed out (another task logged in
    /// again), the current id. Otherwise the session is checked with a refresh: if ICAT still
    /// accepts it, the same id comes back (the refusal was about something else); if ICAT
    /// answers SESSION and credentials were kept, the session logs in once more and the new id
    /// comes back; without credentials the SESSION error is returned.
    pub async fn renew_after_rejection(&self, stale: &str) -> Result<String, IcatError> {
        let _guard = self.inner.renew.lock().await;
        let (id, generation) = {
            let s = self.state();
            (s.id.clone(), s.generation)
        };
        if &*id != stale {
            return Ok(id.to_string());
        }
        match self.check_alive(&id).await {
            Ok(()) => Ok(id.to_string()),
            Err(e) if e.is_session() && self.inner.credentials.is_some() => {
                tracing::info!(session = %short_id(&id), "session refused elsewhere and by ICAT; logging in again");
                self.relogin_locked(generation).await?;
                Ok(self.id())
            }
            Err(e) => Err(e),
        }
    }

    /// Asks ICAT whether it still accepts `id`: with a refresh (which also extends it), or on a
    /// server without `refresh` with `getRemainingMinutes`. A SESSION error when it does not.
    async fn check_alive(&self, id: &str) -> Result<(), IcatError> {
        let started = Instant::now();
        if !self.state().no_refresh {
            match self.inner.client.refresh_raw(id).await {
                Ok(()) => {
                    self.mark_refreshed(started);
                    return Ok(());
                }
                Err(e) if e.is_not_supported() => self.note_no_refresh(),
                Err(e) => return Err(e),
            }
        }
        let remaining = self.inner.client.remaining_raw(id).await?;
        self.mark_remaining(started, remaining);
        Ok(())
    }

    /// Records that the server has no `refresh`, warning once when the session cannot be renewed
    /// at all (no credentials kept).
    fn note_no_refresh(&self) {
        let first = !std::mem::replace(&mut self.state().no_refresh, true);
        if first && self.inner.credentials.is_none() {
            tracing::warn!(
                "this ICAT server cannot refresh sessions (it is older than ICAT 4.3) and no credentials were kept to log in again: the session ends when its lifetime runs out"
            );
        } else if first {
            tracing::info!(
                "this ICAT server cannot refresh sessions (it is older than ICAT 4.3): logging in again before the session expires"
            );
        }
    }

    /// When the session expires, by the local estimate.
    pub fn expires_at(&self) -> Instant {
        self.state().expires_at
    }

    /// The session lifetime the server granted at login.
    pub fn lifetime(&self) -> Duration {
        self.state().lifetime
    }

    /// True when the caller kept credentials for re-login.
    pub fn can_relogin(&self) -> bool {
        self.inner.credentials.is_some()
    }

    /// Refreshes the session now if less than the refresh margin remains (local estimate).
    pub(crate) async fn ensure_fresh(&self) -> Result<(), IcatError> {
        if !self.needs_refresh(Instant::now()) {
            return Ok(());
        }
        let _guard = self.inner.renew.lock().await;
        if !self.needs_refresh(Instant::now()) {
            return Ok(()); // another task refreshed while we waited
        }
        let (id, generation) = {
            let s = self.state();
            (s.id.clone(), s.generation)
        };
        if self.state().no_refresh {
            // Nothing to extend: replace the session (needs_refresh is false without credentials).
            return self.relogin_locked(generation).await;
        }
        tracing::debug!(session = %short_id(&id), "refreshing ICAT session before it expires");
        let started = Instant::now();
        match self.inner.client.refresh_raw(&id).await {
            Ok(()) => {
                // Ask once how long the refreshed session lives: this also learns the real
                // lifetime of sessions resumed by id, whose lifetime was only estimated.
                let asked = Instant::now();
                let remaining = self.inner.client.remaining_raw(&id).await;
                let mut s = self.state();
                match remaining {
                    Ok(r) if !r.is_zero() => {
                        s.expires_at = asked + r;
                        s.lifetime = if s.lifetime_known {
                            s.lifetime.max(r)
                        } else {
                            r
                        };
                        s.lifetime_known = true;
                    }
                    _ => s.expires_at = started + s.lifetime,
                }
                Ok(())
            }
            Err(e) if e.is_not_supported() => {
                self.note_no_refresh();
                if self.inner.credentials.is_some() {
                    self.relogin_locked(generation).await
                } else {
                    Ok(())
                }
            }
            Err(e) if e.is_session() && self.inner.credentials.is_some() => {
                tracing::info!(session = %short_id(&id), "session could not be refreshed; logging in again");
                self.relogin_locked(generation).await
            }
            Err(e) => Err(e),
        }
    }

    fn needs_refresh(&self, now: Instant) -> bool {
        let s = self.state();
        if s.no_refresh && self.inner.credentials.is_none() {
            return false; // the server cannot extend it and nothing can replace it
        }
        // Until the lifetime is known (a resumed session), refresh when under the largest margin.
        let margin = if s.lifetime_known {
            (s.lifetime / 4).min(MAX_REFRESH_MARGIN)
        } else {
            MAX_REFRESH_MARGIN
        };
        s.expires_at.saturating_duration_since(now) < margin
    }

    /// Logs in again unless another task already did since `generation`. Caller holds `renew`.
    async fn relogin_locked(&self, generation: u64) -> Result<(), IcatError> {
        if self.state().generation != generation {
            return Ok(());
        }
        let Some(credentials) = &self.inner.credentials else {
            return Err(IcatError::InvalidArgument(
                "this session cannot log in again: it was made without keeping credentials".into(),
            ));
        };
        let started = Instant::now();
        let (id, remaining) = self
            .inner
            .client
            .login_raw(&self.inner.plugin, credentials)
            .await?;
        let mut s = self.state();
        tracing::info!(session = %short_id(&id), "logged in to ICAT again");
        s.id = id.into();
        s.expires_at = started + remaining;
        s.lifetime = remaining;
        s.lifetime_known = true;
        s.generation += 1;
        Ok(())
    }

    /// Runs `call(session_id)` with the session policy: refresh ahead of expiry, then on a SESSION
    /// fault (if credentials were kept) log in once more and retry read-only calls.
    pub(crate) async fn run<T, F, Fut>(&self, effect: Effect, call: F) -> Result<T, IcatError>
    where
        F: Fn(Arc<str>) -> Fut,
        Fut: Future<Output = Result<T, IcatError>>,
    {
        self.ensure_fresh().await?;
        let (id, generation) = {
            let s = self.state();
            (s.id.clone(), s.generation)
        };
        match call(id).await {
            Err(e) if e.is_session() && self.inner.credentials.is_some() => {
                {
                    let _guard = self.inner.renew.lock().await;
                    self.relogin_locked(generation).await?;
                }
                if effect == Effect::Write {
                    return Err(e);
                }
                let id = self.state().id.clone();
                call(id).await
            }
            other => other,
        }
    }

    /// Marks the session as logged out locally (after `logout`).
    pub(crate) fn mark_expired(&self) {
        let mut s = self.state();
        s.expires_at = Instant::now();
    }

    /// Records a refresh done explicitly by the caller.
    pub(crate) fn mark_refreshed(&self, started: Instant) {
        let mut s = self.state();
        s.expires_at = started + s.lifetime;
    }

    /// Records the server's view of the remaining time.
    pub(crate) fn mark_remaining(&self, started: Instant, remaining: Duration) {
        let mut s = self.state();
        s.expires_at = started + remaining;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_hide_most_of_the_id() {
        assert_eq!(
            short_id("5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a"),
            "5c3d0b8e…"
        );
        assert_eq!(short_id("abc"), "abc");
        // A hostile server's id cannot reach the terminal as an escape sequence.
        assert_eq!(short_id("ab\u{1b}[2Jcdefgh"), "ab [2Jcd…");
    }

    #[test]
    fn credentials_replace_keys_and_hide_values() {
        let c: Credentials = [("username", "a"), ("password", "p4ss"), ("username", "b")]
            .into_iter()
            .collect();
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [("username", "b"), ("password", "p4ss")]
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("p4ss") && dbg.contains("password"), "{dbg}");
    }
}
