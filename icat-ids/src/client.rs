//! `IdsClient`: one method per IDS 2.1 endpoint, with typed errors, URL-length-safe selections
//! and retries of idempotent calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use icat_soap::retry::{RetryPolicy, Verdict};

use crate::error::IdsError;
use crate::selection::{DataRef, DataSelection, PreparedId};
pub use crate::session_source::SessionId;
use crate::session_source::SessionSource;
use crate::transport::TransportOptions;
use crate::types::{DatafileIds, Packing, ServiceStatus, Status};

/// Longest URL this client sends. Proxies and servers commonly fail between 2 and 8 KiB
/// (python-icat broke at ~880 ids); longer selections are split or prepared with POST.
pub const DEFAULT_MAX_URL_LEN: usize = 2000;

/// Largest answer accepted from a small call (everything but `getData`): a prepared id, a
/// status, a size, a `put` answer, or the JSON ids of `getDatafileIds` (about a million ids).
pub const MAX_SMALL_ANSWER: u64 = 16 << 20;

/// How the IDS client retries idempotent calls by default: 3 retries, 0.5 s before the first,
/// growing by 1.6, at most 10 s between tries, jitter 0.2.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(10),
    multiplier: 1.6,
    jitter: 0.2,
};

/// Client for one IDS. Cheap to clone (the HTTP connection pool is shared).
#[derive(Clone)]
pub struct IdsClient {
    http: reqwest::Client,
    base: Url,
    session: Option<SessionId>,
    source: Option<Arc<dyn SessionSource>>,
    options: Arc<TransportOptions>,
    max_url_len: usize,
    retry: RetryPolicy,
}

impl fmt::Debug for IdsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdsClient")
            .field("base", &self.base.as_str())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Normalise an IDS URL: `https://host:8181`, `https://host:8181/` and `https://host:8181/ids`
/// all become `https://host:8181/ids/`.
pub fn normalize_ids_url(url: &str) -> Result<Url, IdsError> {
    // One normaliser for every server address: icat-soap's.
    icat_soap::client::ids_url(url).map_err(|e| match e {
        icat_soap::IcatError::InvalidUrl { url, reason } => IdsError::InvalidUrl { url, reason },
        other => IdsError::InvalidUrl {
            url: url.to_string(),
            reason: other.to_string(),
        },
    })
}

impl IdsClient {
    /// Client for the IDS at `url` (`https://host:8181` or `https://host:8181/ids`).
    pub fn new(url: &str, options: TransportOptions) -> Result<Self, IdsError> {
        let base = normalize_ids_url(url)?;
        let http = options.build_client()?;
        icat_soap::client::warn_if_plain_http(&base, "IDS", "session ids and data");
        Ok(IdsClient {
            http,
            base,
            session: None,
            source: None,
            options: Arc::new(options),
            max_url_len: DEFAULT_MAX_URL_LEN,
            retry: DEFAULT_RETRY,
        })
    }

    /// The same client using `session` for calls that need one.
    pub fn with_session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self.source = None;
        self
    }

    /// The same client taking its session id from `source` before every call (e.g. an
    /// `icat_soap::client::Session`, which refreshes itself and, when made with re-login, logs
    /// in again): when the IDS refuses the id, the call is retried once with a renewed id.
    pub fn with_session_source(mut self, source: Arc<dyn SessionSource>) -> Self {
        self.session = Some(source.id());
        self.source = Some(source);
        self
    }

    /// Set or replace the session (a fixed id; any session source is dropped).
    pub fn set_session(&mut self, session: Option<SessionId>) {
        self.session = session;
        self.source = None;
    }

    /// The session, if any.
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }

    /// Override the longest URL sent (default [`DEFAULT_MAX_URL_LEN`]).
    pub fn with_max_url_len(mut self, len: usize) -> Self {
        self.max_url_len = len.max(256);
        self
    }

    /// How idempotent calls are retried after transient failures (default [`DEFAULT_RETRY`]);
    /// [`RetryPolicy::none`] turns retries off. Downloads retry as
    /// [`DownloadOptions::retry`](crate::DownloadOptions::retry) says.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How idempotent calls are retried.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The normalised base URL (ending in `/ids/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The transport options in use.
    pub fn transport(&self) -> &TransportOptions {
        &self.options
    }

    pub(crate) fn url(&self, call: &str) -> Url {
        // Joining a plain relative name onto a base ending in '/' cannot fail.
        let mut u = self.base.clone();
        let path = format!("{}{call}", self.base.path());
        u.set_path(&path);
        u
    }

    fn require_session(&self) -> Result<&SessionId, IdsError> {
        self.session.as_ref().ok_or(IdsError::NoSession)
    }

    /// Room left in a URL for selection parameters after the fixed parts of `call`.
    fn selection_budget(&self, call: &str) -> usize {
        let fixed = self.url(call).as_str().len() + 1 // '?'
            + self.session.as_ref().map_or(0, |s| 11 + s.expose().len()) // sessionId=..&
            + 64; // zip/compress/outname and safety margin
        self.max_url_len.saturating_sub(fixed).max(64)
    }

    // ---------- plumbing ----------

    pub(crate) fn map_reqwest(&self, call: &'static str, e: reqwest::Error) -> IdsError {
        // The URL may hold the session id in its query: never let it reach a message or a log.
        let e = e.without_url();
        if e.is_timeout() {
            IdsError::Timeout {
                call,
                after: self.options.read_timeout.min(self.options.timeout),
            }
        } else if e.is_connect() {
            IdsError::Connect {
                url: self.base.to_string(),
                source: e,
            }
        } else {
            IdsError::Transport { call, source: e }
        }
    }

    /// Send a request; non-2xx statuses become typed errors.
    pub(crate) async fn send(
        &self,
        call: &'static str,
        req: RequestBuilder,
    ) -> Result<Response, IdsError> {
        tracing::debug!(call, "IDS request");
        let resp = req.send().await.map_err(|e| self.map_reqwest(call, e))?;
        check_status(call, resp, self.session.as_ref()).await
    }

    /// `params` with the session id replaced by the session source's fresh one.
    pub(crate) async fn fresh_params<'p>(
        &self,
        params: &[(&'p str, String)],
    ) -> Result<Vec<(&'p str, String)>, IdsError> {
        let mut params = params.to_vec();
        if let Some(source) = &self.source
            && let Some(slot) = params.iter_mut().find(|(k, _)| *k == "sessionId")
        {
            slot.1 = source.fresh().await?.expose().to_string();
        }
        Ok(params)
    }

    /// After `err`: `params` with a renewed session id when the IDS refused the one sent and the
    /// session source has a different one; `None` when retrying would not help.
    pub(crate) async fn renewed_params<'p>(
        &self,
        params: &[(&'p str, String)],
        err: &IdsError,
    ) -> Result<Option<Vec<(&'p str, String)>>, IdsError> {
        let (Some(source), IdsError::InsufficientPrivileges { .. }) = (&self.source, err) else {
            return Ok(None);
        };
        let Some((_, sent)) = params.iter().find(|(k, _)| *k == "sessionId") else {
            return Ok(None);
        };
        let stale = SessionId::new(sent.clone());
        let renewed = source.renew(&stale).await?;
        if renewed == stale {
            return Ok(None);
        }
        tracing::info!(session = %renewed, "IDS refused the session; retrying with the renewed one");
        let mut params = params.to_vec();
        for (k, v) in params.iter_mut() {
            if *k == "sessionId" {
                *v = renewed.expose().to_string();
            }
        }
        Ok(Some(params))
    }

    /// Build and send a small call, retrying transient failures as the retry policy says, all
    /// tries within the operation timeout when one is set.
    async fn call(
        &self,
        call: &'static str,
        method: Method,
        params: &[(&str, String)],
        form: bool,
    ) -> Result<Response, IdsError> {
        let tries = self.call_with_retries(call, method, params, form);
        match self.options.operation_timeout {
            None => tries.await,
            Some(after) => tokio::time::timeout(after, tries)
                .await
                .unwrap_or(Err(IdsError::Timeout { call, after })),
        }
    }

    async fn call_with_retries(
        &self,
        call: &'static str,
        method: Method,
        params: &[(&str, String)],
        form: bool,
    ) -> Result<Response, IdsError> {
        let params = std::sync::Mutex::new(self.fresh_params(params).await?);
        let renewed = std::sync::atomic::AtomicBool::new(false);
        let params = &params;
        let renewed = &renewed;
        let method = &method;
        self.retry
            .run(
                || async move {
                    let sent = params.lock().map(|p| p.clone()).unwrap_or_default();
                    match self.call_once(call, method, &sent, form).await {
                        // A refused session is renewed once and the call sent again, outside
                        // the retry count.
                        Err(e @ IdsError::InsufficientPrivileges { .. })
                            if !renewed.swap(true, std::sync::atomic::Ordering::Relaxed) =>
                        {
                            let Some(fresh) = self.renewed_params(&sent, &e).await? else {
                                return Err(e);
                            };
                            if let Ok(mut p) = params.lock() {
                                p.clone_from(&fresh);
                            }
                            self.call_once(call, method, &fresh, form).await
                        }
                        other => other,
                    }
                },
                |e| small_call_verdict(method, e),
                |e, retry, pause| {
                    tracing::info!(call, attempt = retry, error = %e, "transient IDS failure, retrying in {pause:?}");
                },
            )
            .await
            .map_err(|gave_up| gave_up.error)
    }

    /// One try of a small call.
    async fn call_once(
        &self,
        call: &'static str,
        method: &Method,
        params: &[(&str, String)],
        form: bool,
    ) -> Result<Response, IdsError> {
        let mut req = self
            .http
            .request(method.clone(), self.url(call))
            .timeout(self.options.timeout);
        req = if form {
            req.form(params)
        } else {
            req.query(params)
        };
        self.send(call, req)
            .await
            .map_err(|e| busy_not_tape(call, e))
    }

    async fn text(
        &self,
        call: &'static str,
        method: Method,
        params: &[(&str, String)],
        form: bool,
    ) -> Result<String, IdsError> {
        let resp = self.call(call, method, params, form).await?;
        self.small_answer(call, resp).await
    }

    /// The whole body of a small call's answer as text, refused with
    /// [`IdsError::AnswerTooLarge`] beyond [`MAX_SMALL_ANSWER`] (as soon as `Content-Length`
    /// says so, else while reading), so an endless answer cannot fill the memory.
    pub(crate) async fn small_answer(
        &self,
        call: &'static str,
        resp: Response,
    ) -> Result<String, IdsError> {
        let too_large = IdsError::AnswerTooLarge {
            call,
            limit: MAX_SMALL_ANSWER,
        };
        if resp.content_length().is_some_and(|n| n > MAX_SMALL_ANSWER) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.map_reqwest(call, e))?;
            if (body.len() + chunk.len()) as u64 > MAX_SMALL_ANSWER {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn session_params(&self) -> Result<Vec<(&'static str, String)>, IdsError> {
        Ok(vec![(
            "sessionId",
            self.require_session()?.expose().to_string(),
        )])
    }

    fn selection_params(
        &self,
        sel: &DataSelection,
    ) -> Result<Vec<(&'static str, String)>, IdsError> {
        let mut p = self.session_params()?;
        p.extend(sel.params());
        Ok(p)
    }

    // ---------- server information ----------

    /// `ping`: succeeds when the server answers `IdsOK`.
    pub async fn ping(&self) -> Result<(), IdsError> {
        let t = self.text("ping", Method::GET, &[], false).await?;
        if t.trim() == "IdsOK" {
            Ok(())
        } else {
            Err(IdsError::UnexpectedResponse {
                call: "ping",
                detail: format!(
                    "expected IdsOK, got {:?}",
                    t.chars().take(80).collect::<String>()
                ),
            })
        }
    }

    /// `version`: the server's version string, e.g. `2.1.1`.
    pub async fn version(&self) -> Result<String, IdsError> {
        #[derive(serde::Deserialize)]
        struct V {
            version: String,
        }
        let t = self.text("version", Method::GET, &[], false).await?;
        let v: V = serde_json::from_str(&t).map_err(|e| IdsError::UnexpectedResponse {
            call: "version",
            detail: e.to_string(),
        })?;
        Ok(v.version)
    }

    /// `getIcatUrl`: the ICAT server this IDS uses.
    pub async fn get_icat_url(&self) -> Result<String, IdsError> {
        Ok(self
            .text("getIcatUrl", Method::GET, &[], false)
            .await?
            .trim()
            .to_string())
    }

    /// `isReadOnly`.
    pub async fn is_read_only(&self) -> Result<bool, IdsError> {
        parse_bool(
            "isReadOnly",
            &self.text("isReadOnly", Method::GET, &[], false).await?,
        )
    }

    /// `isTwoLevel`: true when the IDS has archive (tape) storage behind main storage.
    pub async fn is_two_level(&self) -> Result<bool, IdsError> {
        parse_bool(
            "isTwoLevel",
            &self.text("isTwoLevel", Method::GET, &[], false).await?,
        )
    }

    /// `getServiceStatus` (root users only).
    pub async fn get_service_status(&self) -> Result<ServiceStatus, IdsError> {
        let t = self
            .text(
                "getServiceStatus",
                Method::GET,
                &self.session_params()?,
                false,
            )
            .await?;
        parse_json("getServiceStatus", &t)
    }

    // ---------- preparing ----------

    /// `prepareData` (POST, so any selection length works): returns the prepared id.
    pub async fn prepare_data(
        &self,
        sel: &DataSelection,
        packing: Packing,
    ) -> Result<PreparedId, IdsError> {
        let mut p = self.selection_params(sel)?;
        p.push(("zip", packing.zip.to_string()));
        p.push(("compress", packing.compress.to_string()));
        let t = self.text("prepareData", Method::POST, &p, true).await?;
        PreparedId::parse(&t).map_err(|_| IdsError::UnexpectedResponse {
            call: "prepareData",
            detail: format!(
                "not a prepared id: {:?}",
                t.chars().take(80).collect::<String>()
            ),
        })
    }

    /// `isPrepared`: true when all prepared data is online. A failed restore is
    /// [`IdsError::RestoreFailed`].
    pub async fn is_prepared(&self, id: &PreparedId) -> Result<bool, IdsError> {
        let p = [("preparedId", id.as_str().to_string())];
        parse_bool(
            "isPrepared",
            &self.text("isPrepared", Method::GET, &p, false).await?,
        )
    }

    // ---------- selection queries (split when long) ----------

    async fn per_chunk<T>(
        &self,
        call: &'static str,
        what: DataRef<'_>,
        parse: impl Fn(&str) -> Result<T, IdsError>,
    ) -> Result<Vec<T>, IdsError> {
        match what {
            DataRef::Prepared(id) => {
                let p = [("preparedId", id.as_str().to_string())];
                Ok(vec![parse(
                    &self.text(call, Method::GET, &p, false).await?,
                )?])
            }
            DataRef::Selection(sel) => {
                let chunks = sel.split(self.selection_budget(call));
                if chunks.len() > 1 {
                    tracing::debug!(call, chunks = chunks.len(), "long selection split");
                }
                let mut out = Vec::with_capacity(chunks.len());
                for c in &chunks {
                    // getStatus works without a session (the IDS reader account is used).
                    let mut p = match (&self.session, call) {
                        (None, "getStatus") => Vec::new(),
                        _ => self.session_params()?,
                    };
                    p.extend(c.params());
                    out.push(parse(&self.text(call, Method::GET, &p, false).await?)?);
                }
                Ok(out)
            }
        }
    }

    /// `getStatus`; for a long selection the worst status over all parts.
    pub async fn get_status<'a>(&self, what: impl Into<DataRef<'a>>) -> Result<Status, IdsError> {
        let parts = self
            .per_chunk("getStatus", what.into(), Status::parse)
            .await?;
        Ok(parts.into_iter().max().unwrap_or(Status::Online))
    }

    /// `getSize`: total of the catalogue's `fileSize` in bytes; summed over parts of a long
    /// selection. (Overlapping datasets and datafiles in one selection are counted as the IDS
    /// counts them per part.)
    pub async fn get_size<'a>(&self, what: impl Into<DataRef<'a>>) -> Result<u64, IdsError> {
        let parts = self
            .per_chunk("getSize", what.into(), |t| {
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| IdsError::UnexpectedResponse {
                        call: "getSize",
                        detail: format!("not a size: {:?}", t.chars().take(40).collect::<String>()),
                    })
            })
            .await?;
        Ok(parts.into_iter().sum())
    }

    /// `getDatafileIds`: the datafiles a selection or prepared id covers; concatenated over
    /// parts of a long selection (ascending, without duplicates).
    pub async fn get_datafile_ids<'a>(
        &self,
        what: impl Into<DataRef<'a>>,
    ) -> Result<DatafileIds, IdsError> {
        let what = what.into();
        let parts = self
            .per_chunk("getDatafileIds", what, |t| parse_json("getDatafileIds", t))
            .await?;
        if let DataRef::Prepared(_) = what {
            return parts
                .into_iter()
                .next()
                .ok_or(IdsError::UnexpectedResponse {
                    call: "getDatafileIds",
                    detail: "no answer".into(),
                });
        }
        let mut ids: Vec<i64> = parts.into_iter().flat_map(|p| p.ids).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(DatafileIds {
            ids,
            zip: None,
            compress: None,
        })
    }

    // ---------- data ----------

    /// `getData`: start streaming data. `offset > 0` sends `Range: bytes=<offset>-` (only
    /// meaningful for a single raw datafile). A selection too long for a URL is prepared with
    /// POST first and fetched by prepared id.
    pub async fn get_data<'a>(
        &self,
        what: impl Into<DataRef<'a>>,
        packing: Packing,
        offset: u64,
    ) -> Result<DataStream, IdsError> {
        let what = what.into();
        let prepared;
        let mut params: Vec<(&str, String)> = Vec::new();
        match what {
            DataRef::Prepared(id) => params.push(("preparedId", id.as_str().to_string())),
            DataRef::Selection(sel) => {
                if sel.encoded_len() > self.selection_budget("getData") {
                    tracing::debug!("selection too long for getData URL; preparing it with POST");
                    prepared = self.prepare_data(sel, packing).await?;
                    params.push(("preparedId", prepared.as_str().to_string()));
                } else {
                    params = self.selection_params(sel)?;
                    if packing.zip {
                        params.push(("zip", "true".into()));
                    }
                    if packing.compress {
                        params.push(("compress", "true".into()));
                    }
                }
            }
        }
        let mut params = self.fresh_params(&params).await?;
        let mut renewed = false;
        loop {
            let mut req = self.http.get(self.url("getData")).query(&params);
            if offset > 0 {
                req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
            }
            match self.send("getData", req).await {
                Ok(resp) => return Ok(DataStream::new(resp, offset)),
                Err(e) if !renewed => {
                    renewed = true;
                    match self.renewed_params(&params, &e).await? {
                        Some(p) => params = p,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A `getData` URL for a prepared id (safe to hand out: it embeds no session).
    pub fn get_data_url(&self, id: &PreparedId, outname: Option<&str>) -> Url {
        let mut u = self.url("getData");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("preparedId", id.as_str());
            if let Some(o) = outname {
                q.append_pair("outname", o);
            }
        }
        u
    }

    // ---------- two-level storage and housekeeping ----------

    async fn post_selection(
        &self,
        call: &'static str,
        sel: &DataSelection,
    ) -> Result<(), IdsError> {
        self.call(call, Method::POST, &self.selection_params(sel)?, true)
            .await
            .map(drop)
    }

    /// `archive`: ask for the data to be moved to archive storage.
    pub async fn archive(&self, sel: &DataSelection) -> Result<(), IdsError> {
        self.post_selection("archive", sel).await
    }

    /// `restore`: ask for the data to be restored from archive storage.
    pub async fn restore(&self, sel: &DataSelection) -> Result<(), IdsError> {
        self.post_selection("restore", sel).await
    }

    /// `write`: ask for the data to be written to archive storage.
    pub async fn write(&self, sel: &DataSelection) -> Result<(), IdsError> {
        self.post_selection("write", sel).await
    }

    /// `reset`: clear "restore failed" flags so a restore can be tried again.
    pub async fn reset<'a>(&self, what: impl Into<DataRef<'a>>) -> Result<(), IdsError> {
        match what.into() {
            DataRef::Prepared(id) => self
                .call(
                    "reset",
                    Method::POST,
                    &[("preparedId", id.as_str().to_string())],
                    true,
                )
                .await
                .map(drop),
            DataRef::Selection(sel) => self.post_selection("reset", sel).await,
        }
    }

    /// `delete`: delete the datafiles (in ICAT and storage). Long selections are deleted in
    /// several requests.
    pub async fn delete(&self, sel: &DataSelection) -> Result<(), IdsError> {
        for chunk in sel.split(self.selection_budget("delete")) {
            let p = self.fresh_params(&self.selection_params(&chunk)?).await?;
            // Not retried: a repeated delete after a lost answer would report NotFound.
            let req = self
                .http
                .delete(self.url("delete"))
                .query(&p)
                .timeout(self.options.timeout);
            self.send("delete", req).await?;
        }
        Ok(())
    }

    /// `getLink` (deprecated by the IDS since 2.0): a hard link path readable by `username`.
    pub async fn get_link(&self, datafile_id: i64, username: &str) -> Result<String, IdsError> {
        let mut p = self.session_params()?;
        p.push(("datafileId", datafile_id.to_string()));
        p.push(("username", username.to_string()));
        Ok(self
            .text("getLink", Method::POST, &p, true)
            .await?
            .trim()
            .to_string())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Most bytes of a redirect target kept in an error message.
const MAX_LOCATION_LEN: usize = 300;

/// Turn a non-success response into a typed error (reading at most 64 KiB of its body). The
/// server may echo the session id ("Session id:… has expired"): it is shortened like
/// [`SessionId`]'s `Display` before the message reaches the error or a log.
pub(crate) async fn check_status(
    call: &'static str,
    resp: Response,
    session: Option<&SessionId>,
) -> Result<Response, IdsError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let mask = |text: String| match session.map(SessionId::expose).filter(|id| !id.is_empty()) {
        Some(id) if text.contains(id) => {
            text.replace(id, &session.map(ToString::to_string).unwrap_or_default())
        }
        _ => text,
    };
    if status.is_redirection() {
        // Only same-origin redirects are followed (see `TransportOptions::build_client`).
        let location = resp.headers().get(reqwest::header::LOCATION).map_or_else(
            || "(no Location header)".to_owned(),
            |v| String::from_utf8_lossy(v.as_bytes()).into_owned(),
        );
        // A target this client would have followed (same origin) means it stopped following:
        // the redirects go round within the IDS, not to another address.
        let within = resp
            .url()
            .join(location.trim())
            .is_ok_and(|to| crate::transport::redirect_allowed(resp.url(), &to));
        let location = icat_soap::untrusted::clean_text(&mask(location), MAX_LOCATION_LEN);
        let err = if within {
            IdsError::RedirectLoop {
                call,
                status: status.as_u16(),
                location,
                followed: crate::transport::MAX_REDIRECTS,
            }
        } else {
            IdsError::Redirected {
                call,
                status: status.as_u16(),
                location,
            }
        };
        tracing::debug!(call, status = status.as_u16(), error = %err, "IDS redirect not followed");
        return Err(err);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| icat_soap::retry::parse_retry_after(v.as_bytes()));
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    let text = mask(String::from_utf8_lossy(&body).into_owned());
    let err = match (IdsError::from_response(status.as_u16(), &text), retry_after) {
        // Only a proxy's or overloaded server's refusal carries a pause; an IDS exception keeps
        // its own meaning.
        (
            IdsError::Server {
                status, message, ..
            },
            Some(retry_after),
        ) if status == 503 || status == 429 => IdsError::Busy {
            status,
            retry_after,
            message,
        },
        (e, _) => e,
    };
    tracing::debug!(call, status = status.as_u16(), error = %err, "IDS error");
    Err(err)
}

/// Whether a small call that failed with `e` is tried again: transient failures (a busy server
/// after the pause it asked for), and, for the GET calls, a 503 "data not online", which from
/// them means a temporarily unavailable server (only getData, write, put and delete can mean
/// "data offline" with a 503).
fn small_call_verdict(method: &Method, e: &IdsError) -> Verdict {
    let retry_after = match e {
        IdsError::Busy { retry_after, .. } => Some(*retry_after),
        _ => None,
    };
    if e.is_transient() || (*method == Method::GET && matches!(e, IdsError::DataNotOnline { .. })) {
        Verdict::Transient { retry_after }
    } else {
        Verdict::Final
    }
}

fn parse_bool(call: &'static str, t: &str) -> Result<bool, IdsError> {
    match t.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(IdsError::UnexpectedResponse {
            call,
            detail: format!(
                "expected true/false, got {:?}",
                other.chars().take(80).collect::<String>()
            ),
        }),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(call: &'static str, t: &str) -> Result<T, IdsError> {
    serde_json::from_str(t).map_err(|e| IdsError::UnexpectedResponse {
        call,
        detail: format!("invalid JSON: {e}"),
    })
}

/// A `getData` response being received.
pub struct DataStream {
    resp: Response,
    offset: u64,
}

impl DataStream {
    fn new(resp: Response, offset: u64) -> Self {
        DataStream { resp, offset }
    }

    /// True when the server honoured the requested offset (206 Partial Content). A 200 to a
    /// ranged request means the whole data is coming again.
    pub fn is_partial(&self) -> bool {
        self.offset > 0 && self.resp.status() == StatusCode::PARTIAL_CONTENT
    }

    /// The HTTP status of the answer (200, or 206 for a ranged answer).
    pub fn status(&self) -> u16 {
        self.resp.status().as_u16()
    }

    /// The `Content-Range` header of a partial answer as (first byte, total length when not
    /// `*`); `Some(Err(text))` when it is present but not `bytes FIRST-LAST/TOTAL`. The IDS sends
    /// none (its 206 answers carry only a `Content-Length`); proxies and other servers do.
    pub fn content_range(&self) -> Option<Result<(u64, Option<u64>), String>> {
        let v = self.resp.headers().get(reqwest::header::CONTENT_RANGE)?;
        let text = String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(100)
            .collect::<String>();
        let parsed = (|| {
            let rest = text.trim().strip_prefix("bytes ")?;
            let (span, total) = rest.split_once('/')?;
            let (first, _last) = span.split_once('-')?;
            let first = first.trim().parse().ok()?;
            let total = match total.trim() {
                "*" => None,
                t => Some(t.parse().ok()?),
            };
            Some((first, total))
        })();
        Some(parsed.ok_or(text))
    }

    /// Bytes the server announced (only for a single raw file), counted from the offset.
    pub fn content_length(&self) -> Option<u64> {
        self.resp.content_length()
    }

    /// The file name from `Content-Disposition` (untrusted: sanitise before using as a path).
    pub fn filename(&self) -> Option<String> {
        let v = self
            .resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)?
            .to_str()
            .ok()?;
        let start = v.find("filename=")? + "filename=".len();
        Some(v[start..].trim().trim_matches('"').to_string())
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> impl Stream<Item = Result<bytes::Bytes, reqwest::Error>> {
        self.resp.bytes_stream()
    }
}

/// ids.server answers `503 DataNotOnlineException` only from the calls that need the data on
/// disk (getData, write, put, delete: `IdsBean.checkOnline`); prepareData, restore, getStatus,
/// isPrepared and the others queue restores or report status instead. A 503 from one of those
/// says the IDS (or its front end) is overloaded or down: a transient server error that the
/// retry budget and `--max-unreachable` bound, not data waiting for a tape.
fn busy_not_tape(call: &'static str, e: IdsError) -> IdsError {
    match e {
        IdsError::DataNotOnline { message } if !matches!(call, "write" | "put" | "delete") => {
            IdsError::Server {
                status: 503,
                code: "DataNotOnlineException".into(),
                message: format!(
                    "{message} (answered to {call}, which never waits for tape: the IDS is busy \
                     or unavailable)"
                ),
            }
        }
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_normalise_to_ids_root() {
        for u in [
            "https://h:8181",
            "https://h:8181/",
            "https://h:8181/ids",
            "https://h:8181/ids/",
            " https://h:8181/ids?x=1#f ",
        ] {
            assert_eq!(
                normalize_ids_url(u).unwrap().as_str(),
                "https://h:8181/ids/",
                "{u}"
            );
        }
        assert_eq!(
            normalize_ids_url("https://h/proxy/ids").unwrap().as_str(),
            "https://h/proxy/ids/"
        );
        assert_eq!(
            normalize_ids_url("https://h/proxy").unwrap().as_str(),
            "https://h/proxy/ids/"
        );
    }

    #[test]
    fn bad_urls_are_rejected() {
        assert!(matches!(
            normalize_ids_url("ftp://h"),
            Err(IdsError::InvalidUrl { .. })
        ));
        assert!(matches!(
            normalize_ids_url("not a url"),
            Err(IdsError::InvalidUrl { .. })
        ));
        assert!(matches!(
            normalize_ids_url("https://u:p@h"),
            Err(IdsError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn endpoint_urls() {
        let c = IdsClient::new("https://h:8181", TransportOptions::default()).unwrap();
        assert_eq!(c.url("getData").as_str(), "https://h:8181/ids/getData");
    }

    #[test]
    fn session_is_redacted() {
        let s = SessionId::new("0d9a3706-80d4-4d29-9ff3-4d65d4308a24");
        // The one shortening of the workspace (icat_soap::client::short_id), as the CLI shows it.
        assert_eq!(format!("{s:?}"), "SessionId(0d9a3706…)");
        let c = IdsClient::new("https://h", TransportOptions::default())
            .unwrap()
            .with_session(s);
        assert!(!format!("{c:?}").contains("80d4"));
    }

    #[test]
    fn long_selection_budget_leads_to_split() {
        let c = IdsClient::new("https://h", TransportOptions::default())
            .unwrap()
            .with_session(SessionId::new("0d9a3706-80d4-4d29-9ff3-4d65d4308a24"));
        let sel = DataSelection::datafiles(1_000_000..1_005_000);
        let budget = c.selection_budget("getSize");
        let chunks = sel.split(budget);
        assert!(chunks.len() > 10);
        for ch in chunks {
            let mut u = c.url("getSize");
            u.query_pairs_mut()
                .append_pair("sessionId", "0d9a3706-80d4-4d29-9ff3-4d65d4308a24")
                .extend_pairs(ch.params());
            assert!(u.as_str().len() <= DEFAULT_MAX_URL_LEN);
        }
    }
}
