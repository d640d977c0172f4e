//! The ICAT client: construction and transport options, the operations, and login sessions.
//!
//! ```
//! let client = icat_soap::Client::new("https://icat.example.org:8181")?; // no round trip yet
//! assert_eq!(client.endpoint(), "https://icat.example.org:8181/ICATService/ICAT");
//! # Ok::<(), icat_soap::IcatError>(())
//! ```

mod call;
mod chunked;
mod generic;
mod ops;
mod options;
mod paging;
mod retry;
mod rows;
mod session;
mod transport;
mod typed;
mod url;

use std::sync::Arc;
use std::time::Duration;

pub use chunked::DEFAULT_IN_CHUNK;
pub use generic::SessionRequest;
pub use options::{
    ClientBuilder, ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_TIMEOUT,
};
pub use paging::PageGuard;
pub use retry::{RetryPolicy, is_idempotent, is_retryable, verdict};
pub use session::{Credentials, Session, short_id};
pub use typed::{EntityType, get_query};
pub use url::{
    DEFAULT_PATH, IDS_PATH, endpoint_url, ids_url, ids_url_beside, is_loopback, warn_if_plain_http,
};

pub use transport::Reply;
use transport::Transport;

/// A handle on one ICAT server: a connection pool, cookies and the endpoint.
///
/// Cheap to clone (clones share the pool and cookie jar) and safe to use from many tasks at once.
/// Building one makes no network round trip.
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.transport.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `url` with default options (TLS verification on, 120 s timeout,
    /// proxies from the environment). Accepts `https://host:8181`, `…/ICATService/ICAT` and `…?wsdl`.
    pub fn new(url: &str) -> Result<Client, crate::IcatError> {
        ClientBuilder::new(url).build()
    }

    /// A builder for a client with non-default options.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// The SOAP endpoint this client posts to.
    pub fn endpoint(&self) -> &str {
        self.transport.endpoint.as_str()
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.transport.timeout
    }

    /// How read-only calls are retried.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.transport.retry
    }

    /// The options this client was built with, for building a client of another service alike.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = icat_soap::Client::builder("https://icat.example.org")
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .user_agent("my-pipeline/1.0")
    ///     .build()?;
    /// let settings = client.settings();
    /// assert_eq!(settings.connect_timeout, Duration::from_secs(5));
    /// assert_eq!(settings.user_agent, "my-pipeline/1.0");
    /// # Ok::<(), icat_soap::IcatError>(())
    /// ```
    pub fn settings(&self) -> &ClientSettings {
        &self.transport.settings
    }

    /// Posts a complete SOAP envelope and returns the raw answer or fault body: the low-level
    /// escape hatch for calls the typed methods do not cover. HTTP errors that are not SOAP,
    /// timeouts, TLS and connection failures come back as [`IcatError`](crate::IcatError)s.
    pub async fn post_envelope(&self, envelope: Vec<u8>) -> Result<Reply, crate::IcatError> {
        self.transport.post(envelope).await
    }
}
