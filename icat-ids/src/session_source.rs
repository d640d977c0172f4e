//! Session ids for IDS calls ([`SessionId`]) and where an [`IdsClient`](crate::IdsClient) gets
//! them from ([`SessionSource`]): a fixed id, or a live ICAT
//! session that refreshes itself and logs in again, so that long downloads keep working after the
//! session was refreshed, expired early or was lost in a server restart.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::IdsError;

/// An ICAT session id. Its `Debug` and `Display` show only a short prefix so it never lands in
/// logs whole.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// Wrap a session id obtained from ICAT `login`.
    pub fn new(s: impl Into<String>) -> Self {
        SessionId(Arc::from(s.into()))
    }

    /// The full id, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&icat_soap::client::short_id(&self.0))
    }
}

/// A supplier of ICAT session ids for IDS calls.
///
/// The client asks [`fresh`](SessionSource::fresh) before every call that carries a session id,
/// and [`renew`](SessionSource::renew) once when the IDS refuses the id (403), then retries the
/// call with the new id.
pub trait SessionSource: Send + Sync {
    /// The id as it is now (no round trip).
    fn id(&self) -> SessionId;

    /// The id for the next call, refreshed first if it is close to expiry.
    fn fresh(&self) -> BoxFuture<'_, Result<SessionId, IdsError>>;

    /// The IDS refused `stale`: the id to retry with (the same id when the session is still
    /// valid and the refusal was about something else), or why there is none.
    fn renew<'a>(&'a self, stale: &'a SessionId) -> BoxFuture<'a, Result<SessionId, IdsError>>;
}

impl SessionSource for icat_soap::client::Session {
    fn id(&self) -> SessionId {
        SessionId::new(icat_soap::client::Session::id(self))
    }

    fn fresh(&self) -> BoxFuture<'_, Result<SessionId, IdsError>> {
        Box::pin(async move {
            self.fresh_id()
                .await
                .map(SessionId::new)
                .map_err(|source| IdsError::SessionRenewal { source })
        })
    }

    fn renew<'a>(&'a self, stale: &'a SessionId) -> BoxFuture<'a, Result<SessionId, IdsError>> {
        Box::pin(async move {
            self.renew_after_rejection(stale.expose())
                .await
                .map(SessionId::new)
                .map_err(|source| IdsError::SessionRenewal { source })
        })
    }
}
