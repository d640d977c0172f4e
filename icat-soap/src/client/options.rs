//! Client options: timeouts, extra CA certificates, the explicit insecure mode, proxies, user agent.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::transport::Transport;
use super::{Client, endpoint_url};
use crate::IcatError;
use crate::retry::RetryPolicy;

/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default largest answer accepted (32 MiB). An answer is held whole before it is decoded,
/// so this is also about the most memory a broken or hostile server's endless answer can cost.
///
/// ICAT refuses searches that would return more than `maxEntities` objects (10,000 by default,
/// included objects counted). Encoded with every text field filled, 10,000 datafiles take
/// 11.3 MiB, 2,000 datafiles with their format and three parameters with types each 7.3 MiB,
/// and 3,000 datafiles each with its dataset and investigation (a 4,000-character summary)
/// 20.3 MiB (`tests/answer_size.rs`). Only a server with a raised `maxEntities`, or 10,000
/// investigations all with maximal summaries (46 MiB), needs more: page the search, or raise
/// the limit with [`ClientBuilder::max_response_size`].
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 32 * 1024 * 1024;

/// The options a [`Client`] was built with ([`Client::settings`]), so that a client of another
/// service of the same facility can be built alike: `icat_ids::SessionIds::ids` builds the IDS
/// client of a session from them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientSettings {
    /// Time allowed for one request, answer included.
    pub timeout: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Longest pause between two reads of an answer, if set.
    pub read_timeout: Option<Duration>,
    /// Time allowed for a whole operation, retries included, if set.
    pub operation_timeout: Option<Duration>,
    /// How read-only calls are retried.
    pub retry: RetryPolicy,
    /// CA certificate files trusted besides the system store.
    pub ca_files: Vec<PathBuf>,
    /// CA certificates (PEM text) trusted besides the system store.
    pub ca_pems: Vec<Vec<u8>>,
    /// Whether certificate verification is off.
    pub insecure: bool,
    /// Whether proxies come from the environment.
    pub proxy_from_env: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// True when the caller brought its own HTTP client ([`ClientBuilder::http_client`]): the
    /// HTTP-level settings above (CA certificates, verification, proxies, user agent, connect
    /// and read timeouts) are the builder's, not necessarily that client's.
    pub own_http_client: bool,
}

/// Builds a [`Client`] with non-default options.
///
/// ```
/// use std::time::Duration;
/// let client = icat_soap::client::Client::builder("https://icat.example.org")
///     .timeout(Duration::from_secs(600))
///     .user_agent("my-pipeline/1.0")
///     .build()?;
/// assert_eq!(client.endpoint(), "https://icat.example.org/ICATService/ICAT");
/// # Ok::<(), icat_soap::IcatError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    url: String,
    timeout: Duration,
    connect_timeout: Duration,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    insecure: bool,
    proxy_from_env: bool,
    user_agent: String,
    read_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    max_response_size: u64,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// Options for the server at `url`, all defaults.
    pub fn new(url: &str) -> Self {
        ClientBuilder {
            url: url.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            insecure: false,
            proxy_from_env: true,
            user_agent: concat!("icat-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            read_timeout: None,
            operation_timeout: None,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// Sends the requests with this HTTP client (bring your own: a shared connection pool, a
    /// custom resolver or middleware-configured client) instead of building one.
    ///
    /// The client is used as it is: the builder's HTTP-level settings ([`timeout`](Self::timeout),
    /// [`connect_timeout`](Self::connect_timeout), [`read_timeout`](Self::read_timeout), CA
    /// certificates, [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs),
    /// [`proxy_from_env`](Self::proxy_from_env), [`user_agent`](Self::user_agent)) are not applied
    /// to it; [`operation_timeout`](Self::operation_timeout),
    /// [`max_response_size`](Self::max_response_size) and [`retry`](Self::retry) still are, and
    /// `timeout` is what timeout errors report. Build the client with
    /// `redirect(reqwest::redirect::Policy::none())`: a client that follows redirects would send a
    /// login's password wherever a server points it. [`tls::Trust`](crate::tls::Trust) makes the
    /// TLS settings this crate uses (`Trust::http_client_builder`).
    ///
    /// ```
    /// let http = icat_soap::tls::Trust::system()
    ///     .http_client_builder()?
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let client = icat_soap::client::Client::builder("https://icat.example.org")
    ///     .http_client(http)
    ///     .build()?;
    /// assert_eq!(client.endpoint(), "https://icat.example.org/ICATService/ICAT");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Longest pause allowed between two reads of an answer (default: none beyond
    /// [`timeout`](Self::timeout)); a stalled connection fails with [`IcatError::Timeout`].
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Time allowed for a whole operation, retries and the pauses between them included
    /// (default: none beyond `timeout` per attempt and the retry bound).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = Some(timeout);
        self
    }

    /// Largest answer accepted, in bytes (default [`DEFAULT_MAX_RESPONSE_SIZE`]); a larger one
    /// fails with [`IcatError::ResponseTooLarge`] without being held in memory.
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// How read-only calls are retried after transient failures (default
    /// [`RetryPolicy::default`]: 3 retries from 250 ms); [`RetryPolicy::none`] turns retries off.
    /// The same type configures the IDS client (`icat_ids::IdsClientBuilder::retry`).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Time allowed for one request, answer included (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to open a connection (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the certificate authorities in this PEM file as well as the system store
    /// (for servers with a private or institutional CA). Read when [`build`](Self::build) runs.
    pub fn ca_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.ca_files.push(pem_file.into());
        self
    }

    /// Trusts the certificate authorities in this PEM text as well as the system store.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// Turns off TLS certificate verification. Off by default; anyone on the network path can
    /// then read and change the traffic, including passwords. Logged as a warning, once per process.
    pub fn danger_accept_invalid_certs(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Whether to use `http_proxy` / `https_proxy` / `no_proxy` from the environment (default on).
    pub fn proxy_from_env(mut self, enabled: bool) -> Self {
        self.proxy_from_env = enabled;
        self
    }

    /// The `User-Agent` header (default `icat-rs/<version>`).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Builds the client. Makes no network round trip; fails only on a bad URL or certificate.
    pub fn build(self) -> Result<Client, IcatError> {
        let endpoint = endpoint_url(&self.url)?;
        super::warn_if_plain_http(&endpoint, "ICAT", "the password and session ids");
        let http = match &self.http {
            Some(http) => http.clone(),
            None => self.build_http()?,
        };
        let settings = ClientSettings {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            operation_timeout: self.operation_timeout,
            retry: self.retry,
            ca_files: self.ca_files,
            ca_pems: self.ca_pems,
            insecure: self.insecure,
            proxy_from_env: self.proxy_from_env,
            user_agent: self.user_agent,
            own_http_client: self.http.is_some(),
        };
        Ok(Client {
            transport: Arc::new(Transport {
                http,
                endpoint,
                timeout: self.timeout,
                read_timeout: self.read_timeout,
                operation_timeout: self.operation_timeout,
                max_response_size: self.max_response_size,
                retry: self.retry,
                settings,
            }),
        })
    }

    /// The HTTP client for the builder's settings.
    fn build_http(&self) -> Result<reqwest::Client, IcatError> {
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .cookie_store(true)
            .gzip(true)
            // Never follow a redirect: it would re-send the envelope (a login's password
            // included) to wherever the server points, maybe plain http. It is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(&self.user_agent)
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(t) = self.read_timeout {
            http = http.read_timeout(t);
        }
        let mut trust = crate::tls::Trust::system();
        for path in &self.ca_files {
            trust
                .add_ca_file(path)
                .map_err(|e| IcatError::Config(e.to_string()))?;
        }
        for pem in &self.ca_pems {
            trust
                .add_ca_pem(pem, "the PEM text given")
                .map_err(|e| IcatError::Config(e.to_string()))?;
        }
        trust.set_insecure(self.insecure);
        let mut http = http.tls_backend_preconfigured(
            trust
                .client_config()
                .map_err(|e| IcatError::Config(e.to_string()))?,
        );
        if !self.proxy_from_env {
            http = http.no_proxy();
        }
        http.build()
            .map_err(|e| IcatError::Config(format!("cannot set up the HTTP client: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<Client>();
    }

    #[test]
    fn building_needs_no_server() {
        // Port 9 (discard) on a reserved address: building must not try to connect.
        let c = Client::builder("https://192.0.2.1:9")
            .timeout(Duration::from_secs(1))
            .build();
        assert!(c.is_ok());
    }

    #[test]
    fn unreadable_or_bogus_ca_files_are_config_errors() {
        let err = ClientBuilder::new("https://h")
            .ca_certificate("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        assert!(matches!(err, IcatError::Config(ref m) if m.contains("/nonexistent/ca.pem")));
        let err = ClientBuilder::new("https://h")
            .ca_certificate_pem(b"not a certificate".to_vec())
            .build()
            .unwrap_err();
        assert!(matches!(err, IcatError::Config(_)), "{err}");
    }
}
