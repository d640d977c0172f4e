//! The facility profile at work: a latency per request, a rate cap per connection and a shared
//! link (token buckets) on every answer body, the IDS's per-call costs (session authorization,
//! reading a skipped Range prefix), a cap on concurrent downloads per user, and the counters
//! that show what was charged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};

use super::bucket::TokenBucket;
use super::profile::{NetworkProfile, Rate};

/// Most bytes released at a time: the granularity of the shaping, and the burst of an idle
/// bucket, on fast links.
pub const SLICE: usize = 64 * 1024;
/// Fewest bytes released at a time (on very slow links).
pub const MIN_SLICE: usize = 1024;
/// A slice is at most what the slowest rate in force moves in this long, so a slow link sends
/// a steady trickle rather than 64 KiB bursts seconds apart.
const SLICE_TIME: f64 = 0.01;

/// How far behind its schedule a bucket may let a sender catch up: timers wake late (tokio's
/// have 1 ms resolution, and a busy machine adds scheduling delay), and with a credit of only
/// one 64 KiB slice (1.5 ms at 350 Mbit/s) every late wake-up was lost, so one connection
/// reached about 190 of its 350 Mbit/s. With 20 ms of credit the late wake-ups are made up and
/// the average stays the rate; it is also what an idle bucket lets through at once.
pub const CATCH_UP: f64 = 0.02;

/// The burst of a bucket of `rate` bytes per second releasing `slice` bytes at a time: what it
/// moves in [`CATCH_UP`], at least one slice.
pub fn burst_for(rate: f64, slice: usize) -> u64 {
    ((rate * CATCH_UP) as u64).max(slice as u64)
}

/// The slice for a body shaped by these rates (bytes per second; `None`: unlimited): what the
/// slower moves in 10 ms, between [`MIN_SLICE`] and [`SLICE`].
pub fn slice_for(connection: Option<f64>, link: Option<f64>) -> usize {
    let slowest = [connection, link]
        .into_iter()
        .flatten()
        .fold(f64::INFINITY, f64::min);
    if !slowest.is_finite() {
        return SLICE;
    }
    let bytes = (slowest * SLICE_TIME).clamp(MIN_SLICE as f64, SLICE as f64);
    bytes as usize
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    setup_nanos: AtomicU64,
    requests: AtomicU64,
    rtt_nanos: AtomicU64,
    session_overheads: AtomicU64,
    session_overhead_nanos: AtomicU64,
    body_bytes: AtomicU64,
    get_data_requests: AtomicU64,
    get_data_bytes: AtomicU64,
    prefix_bytes_read: AtomicU64,
    prefix_read_nanos: AtomicU64,
    refused_downloads: AtomicU64,
    get_data_open: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    profile: NetworkProfile,
    /// Bytes released at a time ([`slice_for`] the profile's rates).
    slice: usize,
    link: Option<TokenBucket>,
    counters: Counters,
    downloads: Mutex<HashMap<String, u32>>,
    peak_downloads: AtomicU64,
    started: tokio::time::Instant,
    restores: Mutex<Vec<RestoreRecord>>,
    next_restore: AtomicU64,
}

/// Most restore records kept (the oldest go first).
const RESTORE_RECORDS: usize = 10_000;

/// One restore from tape, in milliseconds since the simulator started: queued (waiting for a
/// tape drive), in progress (`startedMs` set) or done (`doneMs` set).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecord {
    /// Identifies the record while the restore goes on.
    #[serde(skip)]
    pub id: u64,
    /// The dataset restored.
    pub dataset: i64,
    /// When the restore was requested.
    pub queued_ms: u64,
    /// When it got a tape drive (`null` while it waits for one).
    pub started_ms: Option<u64>,
    /// When the dataset was online (`null` while it is being restored).
    pub done_ms: Option<u64>,
}

/// The shaping state of one simulator, shared by all connections; cheap to clone.
#[derive(Debug, Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

/// What the simulator charged so far (`GET /sim/network`), by its own clock and counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStats {
    /// Milliseconds since the simulator started (the clock of the restore records).
    pub uptime_ms: u64,
    /// Restores from tape, oldest first (at most the last 10000): queued, in progress and done.
    pub restores: Vec<RestoreRecord>,
    /// Connections accepted.
    pub connections: u64,
    /// Total connection set-up time charged, in milliseconds.
    pub setup_charged_ms: u64,
    /// Requests answered (ICAT and IDS).
    pub requests: u64,
    /// Total latency charged (the RTT of every request), in milliseconds.
    pub rtt_charged_ms: u64,
    /// IDS calls that paid the session-authorization overhead.
    pub session_overheads: u64,
    /// Total session overhead charged, in milliseconds.
    pub session_overhead_charged_ms: u64,
    /// Answer body bytes sent (ICAT and IDS).
    pub body_bytes: u64,
    /// getData requests.
    pub get_data_requests: u64,
    /// getData body bytes sent.
    pub get_data_bytes: u64,
    /// Bytes the server read and discarded for `Range: bytes=N-`.
    pub prefix_bytes_read: u64,
    /// Time charged for reading those prefixes, in milliseconds.
    pub prefix_read_charged_ms: u64,
    /// Bytes the server read for getData: the bytes sent plus the skipped prefixes.
    pub server_bytes_read: u64,
    /// getData requests refused with 503 by the per-user download cap.
    pub refused_downloads: u64,
    /// Most getData answers one user was receiving at once.
    pub peak_downloads_per_user: u64,
    /// getData answers being sent right now (all users): sampled over a run, the number of
    /// streams a client keeps busy.
    pub get_data_open: u64,
}

/// A getData refused because its user already receives as many as the profile allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadCapReached {
    /// The cap.
    pub cap: u32,
    /// The Retry-After to send.
    pub retry_after: Option<Duration>,
}

impl IntoResponse for DownloadCapReached {
    /// The answer a busy facility's front end gives: a plain 503 page, not an IDS error.
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "Too many concurrent downloads: at most {} per user. Retry later.\n",
                self.cap
            ),
        )
            .into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A getData answer counted against its user's cap; released when dropped.
#[derive(Debug)]
pub struct DownloadSlot {
    network: Network,
    user: String,
}

impl Drop for DownloadSlot {
    fn drop(&mut self) {
        let mut downloads = self.network.downloads();
        if let Some(n) = downloads.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                downloads.remove(&self.user);
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Network {
    /// The runtime state of `profile`.
    pub fn new(profile: NetworkProfile) -> Network {
        let slice = slice_for(
            profile.connection_rate.map(Rate::get),
            profile.link_rate.map(Rate::get),
        );
        let link = profile
            .link_rate
            .map(|r| TokenBucket::new(r.get(), burst_for(r.get(), slice)));
        Network {
            inner: Arc::new(Inner {
                profile,
                slice,
                link,
                counters: Counters::default(),
                downloads: Mutex::default(),
                peak_downloads: AtomicU64::new(0),
                started: tokio::time::Instant::now(),
                restores: Mutex::default(),
                next_restore: AtomicU64::new(1),
            }),
        }
    }

    /// The figures in force.
    pub fn profile(&self) -> &NetworkProfile {
        &self.inner.profile
    }

    fn downloads(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        // Counts are updated in single statements: a poisoned lock is taken over.
        self.inner
            .downloads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The counters so far.
    pub fn stats(&self) -> NetworkStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let ms = |a: &AtomicU64| get(a) / 1_000_000;
        NetworkStats {
            uptime_ms: self.millis(tokio::time::Instant::now()),
            restores: self.restores().clone(),
            connections: get(&c.connections),
            setup_charged_ms: ms(&c.setup_nanos),
            requests: get(&c.requests),
            rtt_charged_ms: ms(&c.rtt_nanos),
            session_overheads: get(&c.session_overheads),
            session_overhead_charged_ms: ms(&c.session_overhead_nanos),
            body_bytes: get(&c.body_bytes),
            get_data_requests: get(&c.get_data_requests),
            get_data_bytes: get(&c.get_data_bytes),
            prefix_bytes_read: get(&c.prefix_bytes_read),
            prefix_read_charged_ms: ms(&c.prefix_read_nanos),
            server_bytes_read: get(&c.get_data_bytes) + get(&c.prefix_bytes_read),
            refused_downloads: get(&c.refused_downloads),
            peak_downloads_per_user: self.inner.peak_downloads.load(Ordering::Relaxed),
            get_data_open: get(&c.get_data_open),
        }
    }

    fn millis(&self, at: tokio::time::Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.inner.started).as_millis())
            .unwrap_or(u64::MAX)
    }

    fn restores(&self) -> MutexGuard<'_, Vec<RestoreRecord>> {
        // A list updated in single statements: a poisoned lock is taken over.
        self.inner
            .restores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Record a restore from tape queued at `queued` (for the counters endpoint); returns the
    /// record's id for [`Network::restore_started`], [`Network::restore_done`] and
    /// [`Network::restore_dropped`].
    pub fn restore_queued(&self, dataset: i64, queued: tokio::time::Instant) -> u64 {
        let id = self.inner.next_restore.fetch_add(1, Ordering::Relaxed);
        let record = RestoreRecord {
            id,
            dataset,
            queued_ms: self.millis(queued),
            started_ms: None,
            done_ms: None,
        };
        let mut restores = self.restores();
        if restores.len() >= RESTORE_RECORDS {
            restores.remove(0);
        }
        restores.push(record);
        id
    }

    /// The restore of record `id` got a tape drive at `at`.
    pub fn restore_started(&self, id: u64, at: tokio::time::Instant) {
        let ms = self.millis(at);
        if let Some(r) = self.restores().iter_mut().rev().find(|r| r.id == id) {
            r.started_ms = Some(ms);
        }
    }

    /// The restore of record `id` was done (the dataset online) at `at`.
    pub fn restore_done(&self, id: u64, at: tokio::time::Instant) {
        let ms = self.millis(at);
        if let Some(r) = self.restores().iter_mut().rev().find(|r| r.id == id) {
            r.done_ms = Some(ms);
        }
    }

    /// The restore of record `id` was cancelled (the dataset archived again meanwhile).
    pub fn restore_dropped(&self, id: u64) {
        self.restores().retain(|r| r.id != id);
    }

    /// Count a new connection; returns the set-up time it must wait first (none when zero).
    pub fn connection_setup(&self) -> Option<Duration> {
        let d = self.inner.profile.connection_setup;
        add(&self.inner.counters.connections, 1);
        add(&self.inner.counters.setup_nanos, nanos(d));
        (!d.is_zero()).then_some(d)
    }

    /// Wait the IDS's session-authorization overhead (the ICAT calls a real IDS makes for a call
    /// by session id).
    pub async fn session_overhead(&self) {
        let d = self.inner.profile.ids_session_overhead;
        add(&self.inner.counters.session_overheads, 1);
        add(&self.inner.counters.session_overhead_nanos, nanos(d));
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Wait while the server reads and discards `bytes` of a Range prefix.
    pub async fn read_skipped_prefix(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        add(&self.inner.counters.prefix_bytes_read, bytes);
        if let Some(rate) = self.inner.profile.disk_read_rate {
            let d = Duration::try_from_secs_f64(bytes as f64 / rate.get()).unwrap_or(Duration::MAX);
            add(&self.inner.counters.prefix_read_nanos, nanos(d));
            tokio::time::sleep(d).await;
        }
    }

    /// Count a getData answer against `user`'s cap: `Ok(None)` without a cap, `Err` when the
    /// user already receives as many as allowed.
    pub fn begin_download(&self, user: &str) -> Result<Option<DownloadSlot>, DownloadCapReached> {
        let Some(cap) = self.inner.profile.max_downloads_per_user else {
            return Ok(None);
        };
        let mut downloads = self.downloads();
        let active = downloads.entry(user.to_string()).or_insert(0);
        if *active >= cap {
            drop(downloads);
            add(&self.inner.counters.refused_downloads, 1);
            tracing::debug!(cap, "download refused: per-user cap reached");
            return Err(DownloadCapReached {
                cap,
                retry_after: self.inner.profile.retry_after,
            });
        }
        *active += 1;
        self.inner
            .peak_downloads
            .fetch_max(u64::from(*active), Ordering::Relaxed);
        Ok(Some(DownloadSlot {
            network: self.clone(),
            user: user.to_string(),
        }))
    }

    /// Wait until `bytes` may go on a connection with bucket `connection`, then on the link.
    async fn pace(&self, connection: Option<&TokenBucket>, bytes: u64) {
        if let Some(c) = connection {
            c.take(bytes).await;
        }
        if let Some(link) = &self.inner.link {
            link.take(bytes).await;
        }
    }

    /// A fresh per-connection bucket (one answer at a time goes on an HTTP/1.1 connection, so
    /// a bucket per answer caps the connection).
    fn connection_bucket(&self) -> Option<TokenBucket> {
        self.inner
            .profile
            .connection_rate
            .map(|r| TokenBucket::new(r.get(), burst_for(r.get(), self.inner.slice)))
    }

    /// Bytes released at a time under this profile.
    pub fn slice(&self) -> usize {
        self.inner.slice
    }

    /// `chunks` released at the connection rate and within the shared link, in slices of at
    /// most [`Network::slice`] bytes (slices of the same buffers, so zero-copy chunks stay so).
    pub fn shape_stream<S, E>(&self, chunks: S) -> impl Stream<Item = Result<Bytes, E>> + use<S, E>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    {
        let state = (chunks, Bytes::new(), self.connection_bucket(), self.clone());
        stream::unfold(state, |(mut chunks, mut rest, conn, net)| async move {
            if rest.is_empty() {
                match chunks.next().await? {
                    Ok(chunk) => rest = chunk,
                    Err(e) => return Some((Err(e), (chunks, rest, conn, net))),
                }
            }
            let piece = rest.split_to(rest.len().min(net.inner.slice));
            net.pace(conn.as_ref(), piece.len() as u64).await;
            add(&net.inner.counters.body_bytes, piece.len() as u64);
            Some((Ok(piece), (chunks, rest, conn, net)))
        })
    }

    fn shape_body(&self, body: Body, get_data: bool) -> Body {
        let open = get_data.then(|| OpenAnswer::new(self.clone()));
        let counted = self.clone();
        let shaped = self
            .shape_stream(body.into_data_stream())
            .inspect(move |chunk| {
                // The answer counts as open until its stream (and this closure) is dropped.
                let _ = &open;
                if let (true, Ok(c)) = (get_data, chunk) {
                    add(&counted.inner.counters.get_data_bytes, c.len() as u64);
                }
            });
        Body::from_stream(shaped)
    }
}

/// A getData answer being sent: counted in `get_data_open` until dropped.
struct OpenAnswer(Network);

impl OpenAnswer {
    fn new(network: Network) -> OpenAnswer {
        add(&network.inner.counters.get_data_open, 1);
        OpenAnswer(network)
    }
}

impl Drop for OpenAnswer {
    fn drop(&mut self) {
        self.0
            .inner
            .counters
            .get_data_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware for the whole simulator: the RTT before every answer, and its body shaped.
pub async fn layer(State(network): State<Network>, request: Request, next: Next) -> Response {
    let counters = &network.inner.counters;
    add(&counters.requests, 1);
    let get_data = request.uri().path().ends_with("/getData");
    if get_data {
        add(&counters.get_data_requests, 1);
    }
    let rtt = network.inner.profile.rtt;
    if !rtt.is_zero() {
        add(&counters.rtt_nanos, nanos(rtt));
        tokio::time::sleep(rtt).await;
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    // A stream body has no size of its own: keep the exact length hyper would have sent.
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact()
        && len > 0
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Response::from_parts(parts, network.shape_body(body, get_data))
}

/// `GET /sim/network`: the counters as JSON.
pub async fn stats_handler(State(network): State<Network>) -> Response {
    axum::Json(network.stats()).into_response()
}
