//! The REST client: ICAT's `/icat/...` endpoints on the server of a SOAP URL, the TLS settings
//! of `icat_soap::tls`, and a session id taken from the SOAP [`Session`] before every call (so
//! refreshes and re-logins are shared) or given directly. Session ids never reach the logs in
//! full.

use std::sync::Arc;
use std::time::Duration;

use icat_soap::client::{Session, short_id};
use icat_soap::retry::{RetryPolicy, Verdict};
use serde::de::DeserializeOwned;

use crate::answer::{FacetAnswer, SearchAnswer};
use crate::error::RestError;
use crate::query::{FacetQuery, SearchRequest};

/// The largest answer read (a page of hits with their documents is far smaller).
pub const DEFAULT_MAX_ANSWER: u64 = 64 << 20;

/// Where the session id comes from.
#[derive(Clone)]
enum SessionSource {
    None,
    Soap(Arc<Session>),
    Id(String),
}

/// A client for one ICAT's REST API. `Clone` shares the connection pool.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    session: SessionSource,
    max_answer: u64,
    retry: RetryPolicy,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let session = match &self.session {
            SessionSource::None => "none".to_string(),
            SessionSource::Soap(s) => format!("soap {}", short_id(&s.id())),
            SessionSource::Id(id) => short_id(id),
        };
        f.debug_struct("RestClient")
            .field("base", &self.base)
            .field("session", &session)
            .finish()
    }
}

/// Settings for a [`RestClient`].
#[derive(Debug, Clone)]
pub struct RestClientBuilder {
    url: String,
    trust: icat_soap::tls::Trust,
    ca_file: Option<std::path::PathBuf>,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: String,
    max_answer: u64,
    retry: RetryPolicy,
}

/// The REST base (`scheme://host:port/<prefix>/icat`) of an ICAT URL in any form the SOAP client
/// takes (`https://host:8181`, `…/ICATService/ICAT`, `…?wsdl`).
pub fn rest_base(url: &str) -> Result<String, RestError> {
    let parsed = icat_soap::client::endpoint_url(url).map_err(|e| RestError::Config {
        what: "the ICAT URL".into(),
        detail: e.to_string(),
    })?;
    let path = parsed.path().trim_end_matches('/');
    let prefix = path
        .strip_suffix(icat_soap::client::DEFAULT_PATH)
        .unwrap_or("")
        .trim_end_matches('/');
    let mut base = parsed.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.set_path(&format!("{prefix}/icat"));
    Ok(base.as_str().trim_end_matches('/').to_string())
}

impl RestClientBuilder {
    /// Verification on, the system trust store, 30 s to connect, 120 s per request (ICAT's
    /// search limit is 5 s by default), reads retried as the SOAP client retries them
    /// ([`RetryPolicy::default`]).
    pub fn new(url: &str) -> Self {
        RestClientBuilder {
            url: url.to_string(),
            trust: icat_soap::tls::Trust::system(),
            ca_file: None,
            connect_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(120),
            user_agent: concat!("icat-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            max_answer: DEFAULT_MAX_ANSWER,
            retry: RetryPolicy::default(),
        }
    }

    /// Also trust the CA certificate(s) in this PEM file.
    pub fn ca_certificate(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.ca_file = Some(pem_file.into());
        self
    }

    /// Turn certificate verification off (insecure; test servers only).
    pub fn danger_accept_invalid_certs(mut self, insecure: bool) -> Self {
        self.trust.set_insecure(insecure);
        self
    }

    /// Time allowed to open a connection.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Time allowed for a whole request.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The User-Agent header.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// The largest answer read, in bytes.
    pub fn max_answer(mut self, bytes: u64) -> Self {
        self.max_answer = bytes;
        self
    }

    /// How the reads (`search`, `facets`, `version`, `session_info`) are retried after a
    /// transient failure: no connection, a connection broken mid-answer, or HTTP 502/503/504
    /// from a gateway. `login` is never retried; [`RetryPolicy::none`] turns retries off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The client (no request is made).
    pub fn build(self) -> Result<RestClient, RestError> {
        let base = rest_base(&self.url)?;
        let mut trust = self.trust;
        if let Some(ca) = &self.ca_file {
            trust.add_ca_file(ca).map_err(|e| RestError::Config {
                what: format!("the CA file {}", ca.display()),
                detail: e.to_string(),
            })?;
        }
        let http = trust
            .http_client_builder()
            .map_err(|e| RestError::Config {
                what: "the TLS settings".into(),
                detail: e.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| RestError::Config {
                what: "the HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(RestClient {
            http,
            base,
            session: SessionSource::None,
            max_answer: self.max_answer,
            retry: self.retry,
        })
    }
}

impl RestClient {
    /// A client with default settings for the ICAT at `url`.
    pub fn new(url: &str) -> Result<RestClient, RestError> {
        RestClientBuilder::new(url).build()
    }

    /// Settings for a client of the ICAT at `url`.
    pub fn builder(url: &str) -> RestClientBuilder {
        RestClientBuilder::new(url)
    }

    /// The REST base URL, e.g. `https://icat.example.org:8181/icat`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Uses the SOAP session: its id is taken before every call (refreshed when close to
    /// expiry), and a `SESSION` refusal renews it once (re-login when the session can).
    pub fn with_session(mut self, session: Session) -> Self {
        self.session = SessionSource::Soap(Arc::new(session));
        self
    }

    /// Uses this session id (made over REST or SOAP: ICAT has one session store).
    pub fn with_session_id(mut self, id: impl Into<String>) -> Self {
        self.session = SessionSource::Id(id.into());
        self
    }

    async fn session_id(&self) -> Result<String, RestError> {
        match &self.session {
            SessionSource::None => Err(RestError::Config {
                what: "the REST client".into(),
                detail: "no session: log in first".into(),
            }),
            SessionSource::Id(id) => Ok(id.clone()),
            SessionSource::Soap(s) => s.fresh_id().await.map_err(RestError::Session),
        }
    }

    /// `GET /icat/version`: the server's API version.
    pub async fn version(&self) -> Result<String, RestError> {
        #[derive(serde::Deserialize)]
        struct V {
            version: String,
        }
        let v: V = self.get("version", "version", &[]).await?;
        Ok(crate::error::clean(&v.version))
    }

    /// `POST /icat/session`: logs in with an authenticator plugin and credentials; returns the
    /// session id (usable over SOAP too).
    pub async fn login(
        &self,
        plugin: &str,
        credentials: &[(&str, &str)],
    ) -> Result<String, RestError> {
        let creds: Vec<serde_json::Value> = credentials
            .iter()
            .map(|(k, v)| serde_json::json!({ *k: *v }))
            .collect();
        let json = serde_json::json!({ "plugin": plugin, "credentials": creds }).to_string();
        let req = self
            .http
            .post(format!("{}/session", self.base))
            .form(&[("json", json.as_str())]);
        #[derive(serde::Deserialize)]
        struct S {
            #[serde(rename = "sessionId")]
            session_id: String,
        }
        let s: S = self.send("session", req).await?;
        tracing::debug!(session = %short_id(&s.session_id), "logged in over REST");
        Ok(s.session_id)
    }

    /// `GET /icat/session/{id}`: the user name and minutes left of this client's session.
    pub async fn session_info(&self) -> Result<SessionInfo, RestError> {
        let id = self.session_id().await?;
        let path = format!("session/{}", encode(&id));
        self.get("session", &path, &[]).await
    }

    /// `search/documents`: one page of hits. Pass the answer's `search_after` back in the next
    /// request for the following page.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchAnswer, RestError> {
        let query = serde_json::to_string(&request.query).map_err(|e| RestError::Decode {
            endpoint: "search/documents",
            detail: format!("cannot encode the query: {e}"),
        })?;
        let mut params: Vec<(&str, String)> = vec![("query", query)];
        if let Some(after) = &request.search_after {
            params.push(("search_after", after.to_string()));
        }
        if let Some(n) = request.min_count {
            params.push(("minCount", n.to_string()));
        }
        if let Some(n) = request.max_count {
            params.push(("maxCount", n.to_string()));
        }
        if let Some(sort) = request.sort_json() {
            params.push(("sort", sort));
        }
        if request.restrict {
            params.push(("restrict", "true".into()));
        }
        let body = self
            .get_with_session_bytes("search/documents", "search/documents", &params)
            .await?;
        decode_search(&body, request.max_count)
    }

    /// `facet/documents`: facet counts over the documents a filter selects.
    pub async fn facets(&self, query: &FacetQuery) -> Result<FacetAnswer, RestError> {
        let query = serde_json::to_string(query).map_err(|e| RestError::Decode {
            endpoint: "facet/documents",
            detail: format!("cannot encode the query: {e}"),
        })?;
        self.get_with_session("facet/documents", "facet/documents", &[("query", query)])
            .await
    }

    /// A GET with `sessionId`, its answer decoded as `T`.
    async fn get_with_session<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, RestError> {
        let body = self.get_with_session_bytes(endpoint, path, params).await?;
        decode(endpoint, &body)
    }

    /// A GET with `sessionId`; a `SESSION` refusal of a SOAP-shared session renews it once.
    async fn get_with_session_bytes(
        &self,
        endpoint: &'static str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<u8>, RestError> {
        let id = self.session_id().await?;
        let mut with_id: Vec<(&str, &str)> = vec![("sessionId", id.as_str())];
        with_id.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        match self.get_bytes(endpoint, path, &with_id).await {
            Err(e) if e.is_session() => {
                let SessionSource::Soap(s) = &self.session else {
                    return Err(e);
                };
                tracing::info!(session = %short_id(&id), "REST refused the session; renewing it");
                let fresh = s
                    .renew_after_rejection(&id)
                    .await
                    .map_err(RestError::Session)?;
                with_id[0] = ("sessionId", fresh.as_str());
                self.get_bytes(endpoint, path, &with_id).await
            }
            other => other,
        }
    }

    /// A GET, its answer decoded as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, RestError> {
        let body = self.get_bytes(endpoint, path, params).await?;
        decode(endpoint, &body)
    }

    /// A GET, retried after transient failures as the policy allows (a read may be repeated).
    async fn get_bytes(
        &self,
        endpoint: &'static str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<u8>, RestError> {
        let url = format!("{}/{path}", self.base);
        self.retry
            .run(
                || self.send_bytes(endpoint, self.http.get(&url).query(params)),
                |e| {
                    if e.is_transient() {
                        Verdict::Transient { retry_after: None }
                    } else {
                        Verdict::Final
                    }
                },
                |e, retry, pause| {
                    tracing::warn!(
                        endpoint,
                        attempt = retry,
                        error = %e,
                        "transient ICAT REST failure; retrying in {pause:?}"
                    );
                },
            )
            .await
            .map_err(|gave_up| {
                if gave_up.exhausted && gave_up.attempts > 1 {
                    RestError::RetriesExhausted {
                        endpoint,
                        attempts: gave_up.attempts,
                        last: Box::new(gave_up.error),
                    }
                } else {
                    gave_up.error
                }
            })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, RestError> {
        let body = self.send_bytes(endpoint, req).await?;
        decode(endpoint, &body)
    }

    /// Sends a request and reads its answer (at most `max_answer` bytes); an error status is
    /// the error ICAT's answer names.
    async fn send_bytes(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, RestError> {
        let mut resp = req.send().await.map_err(|e| self.transport(endpoint, e))?;
        let status = resp.status().as_u16();
        if resp.content_length().is_some_and(|n| n > self.max_answer) {
            return Err(RestError::TooLarge {
                endpoint,
                limit: self.max_answer,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport(endpoint, e))?
        {
            if body.len() as u64 + chunk.len() as u64 > self.max_answer {
                return Err(RestError::TooLarge {
                    endpoint,
                    limit: self.max_answer,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !(200..300).contains(&status) {
            return Err(RestError::from_answer(endpoint, &self.base, status, &body));
        }
        Ok(body)
    }

    fn transport(&self, endpoint: &'static str, e: reqwest::Error) -> RestError {
        if e.is_timeout() {
            return RestError::Timeout { endpoint };
        }
        // reqwest errors name the URL, whose query holds the session id: strip it.
        let e = e.without_url();
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        RestError::Connect {
            url: self.base.clone(),
            detail: crate::error::clean(&detail),
        }
    }
}

/// `GET /icat/session/{id}`'s answer.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct SessionInfo {
    /// The user name with its authenticator prefix, e.g. `db/jdoe`.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// Minutes left.
    #[serde(rename = "remainingMinutes")]
    pub remaining_minutes: f64,
}

/// A path segment percent-encoded.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An answer body decoded as `T`.
fn decode<T: DeserializeOwned>(endpoint: &'static str, body: &[u8]) -> Result<T, RestError> {
    serde_json::from_slice(body).map_err(|e| RestError::Decode {
        endpoint,
        detail: e.to_string(),
    })
}

/// A `search/documents` answer, refused before it is decoded when it holds more hits than the
/// `maxCount` asked: an in-bound answer of tiny hits would otherwise become far more memory
/// than its bytes (issue 14 re-review: 1,400,000 hits for 25 asked, 63 MiB, held as 1.1 GiB).
/// The hits are first counted without building them.
fn decode_search(body: &[u8], max_count: Option<u32>) -> Result<SearchAnswer, RestError> {
    const ENDPOINT: &str = "search/documents";
    if let Some(asked) = max_count {
        let counted: HitCount = decode(ENDPOINT, body)?;
        if counted.results > u64::from(asked) {
            return Err(RestError::Decode {
                endpoint: ENDPOINT,
                detail: format!(
                    "{} hits where at most {asked} were asked; that is not a search answer, report it to the facility",
                    counted.results
                ),
            });
        }
    }
    decode(ENDPOINT, body)
}

/// The number of hits in a search answer, counted without building them.
#[derive(serde::Deserialize)]
struct HitCount {
    #[serde(default, deserialize_with = "count_items")]
    results: u64,
}

/// The length of a JSON array, its items skipped.
fn count_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of hits")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
    d.deserialize_seq(Count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_base_from_any_icat_url_form() {
        for (url, want) in [
            ("https://h:8181", "https://h:8181/icat"),
            (
                "https://h:8181/ICATService/ICAT?wsdl",
                "https://h:8181/icat",
            ),
            (
                "http://127.0.0.1:4000/ICATService/ICAT",
                "http://127.0.0.1:4000/icat",
            ),
            ("https://h/pre/ICATService/ICAT", "https://h/pre/icat"),
        ] {
            assert_eq!(rest_base(url).unwrap(), want, "{url}");
        }
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn debug_never_shows_a_full_session_id() {
        let c = RestClient::new("http://127.0.0.1:1")
            .unwrap()
            .with_session_id("0d9a3706-80d4-4d29-9ff3-4d65d4308a24");
        let d = format!("{c:?}");
        assert!(!d.contains("4d65d4308a24"), "{d}");
    }
}
