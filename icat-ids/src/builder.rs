//! [`IdsClientBuilder`]: an IDS client configured in the style of `icat_soap::ClientBuilder`, and
//! [`SessionIds`]: an IDS client straight from a logged-in ICAT `Session`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use icat_soap::RetryPolicy;

use crate::client::{IdsClient, SessionId};
use crate::error::IdsError;
use crate::session_source::SessionSource;
use crate::transport::TransportOptions;

/// Builds an [`IdsClient`] with non-default options; start with [`IdsClient::builder`]. Its
/// methods have the names and meaning of `icat_soap::client::ClientBuilder`'s: `retry`,
/// `timeout`, `connect_timeout`, `read_timeout`, `operation_timeout`, `ca_certificate`,
/// `ca_certificate_pem`, `danger_accept_invalid_certs`, `proxy_from_env`, `user_agent`
/// ([`icat_settings`](Self::icat_settings) takes them all from an ICAT client). Three defaults
/// differ, for the IDS's sake: `timeout` 300 s (ICAT: 120 s), as IDS calls on large selections
/// take longer; `read_timeout` 120 s (ICAT: none), as it is what bounds a stalled download;
/// `retry` [`DEFAULT_RETRY`](crate::DEFAULT_RETRY) (from 0.5 s growing by 1.6, ICAT: from
/// 250 ms doubling).
///
/// ```
/// use std::time::Duration;
/// use icat_ids::RetryPolicy;
/// let ids = icat_ids::IdsClient::builder("https://ids.example.org:8181")
///     .read_timeout(Duration::from_secs(60))
///     .retry(RetryPolicy { max_retries: 5, ..icat_ids::DEFAULT_RETRY })
///     .build()?; // no round trip yet
/// assert_eq!(ids.retry_policy().max_retries, 5);
/// assert_eq!(ids.base_url().as_str(), "https://ids.example.org:8181/ids/");
/// # Ok::<(), icat_ids::IdsError>(())
/// ```
#[derive(Clone)]
pub struct IdsClientBuilder {
    url: String,
    options: TransportOptions,
    retry: Option<RetryPolicy>,
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
            retry: None,
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

    /// Time allowed for one request of a small call such as ping or getSize, answer included
    /// (default 300 s); downloads and uploads are bounded by the read timeout instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Time allowed for a whole small call, every try and the pauses between them included
    /// (default: none beyond `timeout` per try and the retry bound); fails with
    /// [`IdsError::Timeout`].
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.options.operation_timeout = Some(timeout);
        self
    }

    /// Trusts the CA certificate(s) in a PEM file in addition to the system store (read when
    /// [`build`](Self::build) runs).
    pub fn ca_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.options.ca_certificates.push(pem_file.into());
        self
    }

    /// Trusts the CA certificate(s) in this PEM text in addition to the system store.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.options.ca_pems.push(pem.into());
        self
    }

    /// The options of an ICAT client ([`icat_soap::Client::settings`]): its retry policy,
    /// connect timeout, read timeout (its request timeout when it has none), operation timeout
    /// and, unless it was given its own HTTP client, its CA certificates, verification,
    /// proxies and user agent. The IDS request timeout of small calls ([`timeout`](Self::timeout),
    /// 300 s) stays: IDS calls on large selections take longer than ICAT's.
    pub fn icat_settings(mut self, icat: &icat_soap::client::ClientSettings) -> Self {
        self.retry = Some(icat.retry);
        self.options.connect_timeout = icat.connect_timeout;
        self.options.read_timeout = icat.read_timeout.unwrap_or(icat.timeout);
        self.options.operation_timeout = icat.operation_timeout;
        if !icat.own_http_client {
            self.options.ca_certificates = icat.ca_files.clone();
            self.options.ca_pems = icat.ca_pems.clone();
            self.options.insecure = icat.insecure;
            self.options.proxy_from_env = icat.proxy_from_env;
            self.options.user_agent = icat.user_agent.clone();
        }
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

    /// How idempotent calls are retried after transient failures (default
    /// [`DEFAULT_RETRY`](crate::DEFAULT_RETRY): 3 retries from 0.5 s; a longer `Retry-After` from
    /// a busy server is waited); [`RetryPolicy::none`] turns retries off. The ICAT client takes
    /// the same type (`icat_soap::client::ClientBuilder::retry`).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
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
        if let Some(policy) = self.retry {
            client = client.with_retry(policy);
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
/// and renewed once when the IDS refuses it), and the ICAT client's options
/// ([`IdsClientBuilder::icat_settings`]): the same retry policy, connect, read and operation
/// timeouts, CA certificates, verification, proxies and user agent, so a facility's private CA
/// or "no retries" given once holds for both services. [`SessionIds::ids_with`] takes an
/// [`IdsClientBuilder`] as it is, for anything else.
///
/// ```no_run
/// # fn demo(session: icat_soap::Session) -> Result<(), icat_ids::IdsError> {
/// use icat_ids::SessionIds;
/// let ids = session.ids("https://icat.example.org:8181")?;
/// assert_eq!(ids.retry_policy(), session.client().retry_policy());
/// # Ok(()) }
/// ```
///
/// ```no_run
/// # async fn demo(session: icat_soap::Session) -> Result<(), icat_ids::IdsError> {
/// use icat_ids::SessionIds;
/// let ids = session.ids("https://icat.example.org:8181")?;
/// println!("IDS {}", ids.version().await?);
/// # Ok(()) }
/// ```
pub trait SessionIds {
    /// An IDS client at `url` that uses this session and its ICAT client's options.
    fn ids(&self, url: &str) -> Result<IdsClient, IdsError>;
    /// An IDS client configured by `builder` (as it is: start it with
    /// [`IdsClientBuilder::icat_settings`] to share the ICAT client's options) that uses this
    /// session.
    fn ids_with(&self, builder: IdsClientBuilder) -> Result<IdsClient, IdsError>;
}

impl SessionIds for icat_soap::Session {
    fn ids(&self, url: &str) -> Result<IdsClient, IdsError> {
        self.ids_with(IdsClientBuilder::new(url).icat_settings(self.client().settings()))
    }

    fn ids_with(&self, builder: IdsClientBuilder) -> Result<IdsClient, IdsError> {
        builder.session_source(Arc::new(self.clone())).build()
    }
}
