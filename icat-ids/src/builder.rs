//! [`IdsClientBuilder`]: an IDS client configured in the style of `icat_soap::ClientBuilder`, and
//! [`SessionIds`]: an IDS client straight from a logged-in ICAT `Session`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{IdsClient, SessionId};
use crate::error::IdsError;
use crate::session_source::SessionSource;
use crate::transport::TransportOptions;

/// Builds an [`IdsClient`] with non-default options; start with [`IdsClient::builder`].
///
/// ```
/// use std::time::Duration;
/// let ids = icat_ids::IdsClient::builder("https://ids.example.org:8181")
///     .read_timeout(Duration::from_secs(60))
///     .retries(5)
///     .build()?; // no round trip yet
/// assert_eq!(ids.base_url().as_str(), "https://ids.example.org:8181/ids/");
/// # Ok::<(), icat_ids::IdsError>(())
/// ```
#[derive(Clone)]
pub struct IdsClientBuilder {
    url: String,
    options: TransportOptions,
    retries: Option<u32>,
    session: Option<SessionId>,
    source: Option<Arc<dyn SessionSource>>,
}

impl std::fmt::Debug for IdsClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdsClientBuilder")
            .field("url", &self.url)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl IdsClientBuilder {
    /// A builder for the IDS at `url` (`https://host:8181` or `https://host:8181/ids`).
    pub fn new(url: &str) -> Self {
        IdsClientBuilder {
            url: url.to_owned(),
            options: TransportOptions::default(),
            retries: None,
            session: None,
            source: None,
        }
    }

    /// Time allowed to establish a TCP + TLS connection (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Longest pause between two reads of an answer (default 120 s); downloads are limited by
    /// this, not by their total time.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.options.read_timeout = timeout;
        self
    }

    /// Limit for one whole small call such as ping or getSize (default 300 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.options.call_timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) in a PEM file in addition to the system store.
    pub fn ca_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.options.ca_certificate = Some(pem_file.into());
        self
    }

    /// Turns TLS certificate verification off (default: on). Logged as a warning.
    pub fn danger_accept_invalid_certs(mut self, insecure: bool) -> Self {
        self.options.insecure = insecure;
        self
    }

    /// Uses `HTTP(S)_PROXY` / `NO_PROXY` from the environment (default true).
    pub fn proxy_from_env(mut self, enabled: bool) -> Self {
        self.options.proxy_from_env = enabled;
        self
    }

    /// Sends every request through this proxy.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.options.proxy = Some(url.into());
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.options.user_agent = agent.into();
        self
    }

    /// How often idempotent calls are retried on transient failures (default 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// A fixed session id for calls that need one.
    pub fn session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self.source = None;
        self
    }

    /// Takes the session id from `source` before every call (e.g. an `icat_soap::Session`).
    pub fn session_source(mut self, source: Arc<dyn SessionSource>) -> Self {
        self.source = Some(source);
        self.session = None;
        self
    }

    /// The transport options so far, to start from instead of the defaults.
    pub fn options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// Builds the client (no network round trip).
    pub fn build(self) -> Result<IdsClient, IdsError> {
        let mut client = IdsClient::new(&self.url, self.options)?;
        if let Some(retries) = self.retries {
            let backoff = client.backoff();
            client = client.with_retries(retries, backoff);
        }
        if let Some(source) = self.source {
            client = client.with_session_source(source);
        } else if let Some(session) = self.session {
            client = client.with_session(session);
        }
        Ok(client)
    }
}

impl IdsClient {
    /// A builder for a client with non-default options, in the style of
    /// `icat_soap::Client::builder`.
    pub fn builder(url: &str) -> IdsClientBuilder {
        IdsClientBuilder::new(url)
    }
}

/// An IDS client from a logged-in ICAT session: `session.ids(url)`.
///
/// The client takes its session id from the session before every call (so the id is refreshed,
/// and renewed once when the IDS refuses it), and takes the ICAT client's request timeout as its
/// read timeout. TLS trust and proxies are the defaults of both crates
/// (system store, proxies from the environment); use [`SessionIds::ids_with`] with an
/// [`IdsClientBuilder`] for anything else.
///
/// ```no_run
/// # async fn demo(session: icat_soap::Session) -> Result<(), icat_ids::IdsError> {
/// use icat_ids::SessionIds;
/// let ids = session.ids("https://icat.example.org:8181")?;
/// println!("IDS {}", ids.version().await?);
/// # Ok(()) }
/// ```
pub trait SessionIds {
    /// An IDS client at `url` that uses this session.
    fn ids(&self, url: &str) -> Result<IdsClient, IdsError>;
    /// An IDS client configured by `builder` that uses this session.
    fn ids_with(&self, builder: IdsClientBuilder) -> Result<IdsClient, IdsError>;
}

impl SessionIds for icat_soap::Session {
    fn ids(&self, url: &str) -> Result<IdsClient, IdsError> {
        self.ids_with(IdsClientBuilder::new(url).read_timeout(self.client().timeout()))
    }

    fn ids_with(&self, builder: IdsClientBuilder) -> Result<IdsClient, IdsError> {
        builder.session_source(Arc::new(self.clone())).build()
    }
}
