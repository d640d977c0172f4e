//! HTTP transport options (timeouts, CA certificate, proxy, insecure mode, user agent) and the
//! `reqwest` client built from them.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::IdsError;

/// How to reach a server. Shared in spirit with the ICAT SOAP client so one configuration
/// (`icat.cfg` or CLI flags) drives both.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Time allowed to establish a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest pause allowed between two reads of a response (a stalled download fails after this).
    pub read_timeout: Duration,
    /// Time allowed for one request of a small call (ping, getSize, prepareData ...), answer
    /// included. Downloads and uploads are not limited by it, only by `read_timeout`, since large
    /// files take as long as they take.
    pub timeout: Duration,
    /// Time allowed for a whole small call, every try and the pauses between them included
    /// (default `None`: only `timeout` per try and the retry policy bound it).
    pub operation_timeout: Option<Duration>,
    /// Extra CA certificate files (PEM), trusted in addition to the system store.
    pub ca_certificates: Vec<PathBuf>,
    /// Extra CA certificates as PEM text, trusted in addition to the system store.
    pub ca_pems: Vec<Vec<u8>>,
    /// Use `HTTP(S)_PROXY` / `NO_PROXY` from the environment (default true).
    pub proxy_from_env: bool,
    /// Explicit proxy URL for all requests; overrides the environment.
    pub proxy: Option<String>,
    /// Disable TLS certificate verification. Off by default; logged as a warning (once per
    /// process) when on.
    pub insecure: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            timeout: Duration::from_secs(300),
            operation_timeout: None,
            ca_certificates: Vec::new(),
            ca_pems: Vec::new(),
            proxy_from_env: true,
            proxy: None,
            insecure: false,
            user_agent: format!("icat-rs/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl TransportOptions {
    /// Build the HTTP client these options describe.
    pub fn build_client(&self) -> Result<reqwest::Client, IdsError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .user_agent(self.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60))
            // The URL holds the session id: never put it in a Referer.
            .referer(false)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let from = attempt.previous().last();
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.stop()
                } else if from.is_some_and(|from| redirect_allowed(from, attempt.url())) {
                    attempt.follow()
                } else {
                    // The 3xx answer comes back and becomes `IdsError::Redirected`.
                    attempt.stop()
                }
            }));
        let mut trust = icat_soap::tls::Trust::system();
        for path in &self.ca_certificates {
            trust
                .add_ca_file(path)
                .map_err(|e| IdsError::Config(e.to_string()))?;
        }
        for pem in &self.ca_pems {
            trust
                .add_ca_pem(pem, "the PEM text given")
                .map_err(|e| IdsError::Config(e.to_string()))?;
        }
        trust.set_insecure(self.insecure);
        b = b.tls_backend_preconfigured(
            trust
                .client_config()
                .map_err(|e| IdsError::Config(e.to_string()))?,
        );
        if let Some(p) = &self.proxy {
            let proxy = reqwest::Proxy::all(p)
                .map_err(|e| IdsError::Config(format!("invalid proxy URL {p:?}: {e}")))?;
            b = b.proxy(proxy);
        } else if !self.proxy_from_env {
            b = b.no_proxy();
        }
        b.build()
            .map_err(|e| IdsError::Config(format!("cannot build HTTP client: {e}")))
    }
}

/// Most redirects followed for one request.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// True when a redirect from `from` to `to` may be followed: same origin only (scheme, host and
/// port), so the session id in the URL never reaches another server, and never from https to
/// plain http.
pub fn redirect_allowed(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    from.scheme() == to.scheme()
        && from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_redirects_are_followed() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        let ids = u("https://ids.example.org:8181/ids/getData?sessionId=x");
        assert!(redirect_allowed(
            &ids,
            &u("https://ids.example.org:8181/ids/other")
        ));
        assert!(redirect_allowed(
            &u("https://ids.example.org/ids/a"),
            &u("https://ids.example.org:443/ids/b")
        ));
        // https -> http, even to the same host and port: never.
        assert!(!redirect_allowed(
            &ids,
            &u("http://ids.example.org:8181/ids/getData")
        ));
        assert!(!redirect_allowed(
            &ids,
            &u("https://evil.example.org:8181/ids/getData")
        ));
        assert!(!redirect_allowed(
            &ids,
            &u("https://ids.example.org:9999/ids/getData")
        ));
        assert!(!redirect_allowed(
            &ids,
            &u("https://ids.example.org.evil.org:8181/")
        ));
    }

    #[test]
    fn defaults_are_safe() {
        let o = TransportOptions::default();
        assert!(!o.insecure);
        assert!(o.proxy_from_env);
        assert!(o.build_client().is_ok());
    }

    #[test]
    fn missing_ca_file_is_a_config_error() {
        let o = TransportOptions {
            ca_certificates: vec!["/nonexistent/ca.pem".into()],
            ..Default::default()
        };
        let e = o.build_client().unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn garbage_ca_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").unwrap();
        let o = TransportOptions {
            ca_certificates: vec![p],
            ..Default::default()
        };
        assert!(matches!(o.build_client(), Err(IdsError::Config(_))));
    }
}
