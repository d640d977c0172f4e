//! A small scripted IDS on 127.0.0.1 for the engine's tests: datafiles in datasets, two-level
//! storage whose restores the test finishes dataset by dataset (a tape drive it controls),
//! sessions it can expire, `prepareData`/`isPrepared`/`getData` by session or prepared id, zips
//! with the `<visit>/<dataset>/<name>` layout, `Range: bytes=N-` served as a real IDS does (the
//! whole tail from N), and a busy spell answered 503 with `Retry-After`. It records every
//! request and the most `getData` answers it had open at once. What it does follows ids.server
//! (`IdsBean.getData`: a prepared id needs no session; a single datafile not zipped is sent raw;
//! archived data is `DataNotOnlineException`, 503).

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use icat_ids::{Expected, IdsClient, SessionId, TransportOptions};

/// The session the client is given.
pub const SESSION: &str = "0d9a3706-80d4-4d29-9ff3-4d65d4308a24";

/// One stored datafile.
#[derive(Clone, Debug)]
pub struct File {
    pub id: i64,
    pub dataset: i64,
    pub name: String,
    pub bytes: Arc<Vec<u8>>,
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub call: String,
    pub at: Instant,
    /// Sent with a session id (not a prepared id).
    pub by_session: bool,
    pub params: HashMap<String, String>,
    pub range_from: Option<u64>,
    /// The HTTP status of the answer.
    pub status: u16,
}

impl Seen {
    pub fn ids(&self, key: &str) -> Vec<i64> {
        self.params
            .get(key)
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    files: HashMap<i64, File>,
    /// Datasets on tape (not online).
    archived: BTreeSet<i64>,
    /// Datasets whose restore was asked for.
    restoring: BTreeSet<i64>,
    prepared: HashMap<String, (Vec<i64>, bool)>,
    session_valid: bool,
    /// `getData` answers still to refuse with 503 and this `Retry-After` (seconds).
    busy: Vec<Option<u64>>,
    seen: Vec<Seen>,
    next_prepared: u64,
    /// Answer `Range` requests with the whole file (200), as a server without range support.
    ignore_ranges: bool,
    /// Break the body of the next `getData` answer after this many bytes (a dropped
    /// connection).
    cut_next: Option<usize>,
    /// 503 answers (with these `Retry-After`s) that start once that answer is under way.
    busy_after_cut: Vec<Option<u64>>,
    /// From the cut on, every request is answered 502 (the IDS is gone behind its proxy).
    down_after_cut: bool,
    down: bool,
    /// The next `getData` by prepared id finds every prepared id gone (404), as after
    /// ids.server's `Tidier` removed the prepared files.
    forget_at_next_get: bool,
}

/// The server's shared state.
#[derive(Clone)]
pub struct Facility {
    inner: Arc<Mutex<Inner>>,
    open: Arc<AtomicUsize>,
    peak_open: Arc<AtomicUsize>,
    restored: Arc<tokio::sync::Notify>,
    /// Bytes per chunk and pause between chunks of a body (a per-connection rate).
    pub chunk: usize,
    pub pause: Duration,
    pub url: String,
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts an answer open from its request until its last byte is handed to the connection.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Facility {
    /// Serve `files` (all online) on 127.0.0.1.
    pub async fn start(files: Vec<File>) -> Facility {
        Self::start_with(files, 64 * 1024, Duration::ZERO).await
    }

    /// Serve with a per-connection pace of `chunk` bytes per `pause`.
    pub async fn start_with(files: Vec<File>, chunk: usize, pause: Duration) -> Facility {
        let inner = Inner {
            files: files.into_iter().map(|f| (f.id, f)).collect(),
            session_valid: true,
            ..Inner::default()
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ids", l.local_addr().unwrap());
        let f = Facility {
            inner: Arc::new(Mutex::new(inner)),
            open: Arc::new(AtomicUsize::new(0)),
            peak_open: Arc::new(AtomicUsize::new(0)),
            restored: Arc::new(tokio::sync::Notify::new()),
            chunk,
            pause,
            url,
        };
        let app = axum::Router::new()
            .route("/ids/{call}", axum::routing::any(handle))
            .with_state(f.clone());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        f
    }

    pub fn client(&self) -> IdsClient {
        IdsClient::new(&self.url, TransportOptions::default())
            .unwrap()
            .with_session(SessionId::new(SESSION))
    }

    /// Put these datasets on tape.
    pub fn archive(&self, datasets: &[i64]) {
        lock(&self.inner).archived.extend(datasets);
    }

    /// Finish the restore of a dataset (the tape was read).
    pub fn finish_restore(&self, dataset: i64) {
        let mut s = lock(&self.inner);
        s.archived.remove(&dataset);
        s.restoring.remove(&dataset);
    }

    pub fn is_online(&self, dataset: i64) -> bool {
        !lock(&self.inner).archived.contains(&dataset)
    }

    /// Wait until a restore of `dataset` was asked for.
    pub async fn restore_requested(&self, dataset: i64) {
        loop {
            let n = self.restored.notified();
            if lock(&self.inner).restoring.contains(&dataset) {
                return;
            }
            n.await;
        }
    }

    /// From now on the session id is refused (403), as after an expiry.
    pub fn expire_session(&self) {
        lock(&self.inner).session_valid = false;
    }

    /// From now on `Range` is ignored: the whole file, 200.
    pub fn ignore_ranges(&self) {
        lock(&self.inner).ignore_ranges = true;
    }

    /// Refuse the next `getData` requests with 503, each with this `Retry-After` (seconds).
    pub fn busy_spell(&self, answers: Vec<Option<u64>>) {
        lock(&self.inner).busy = answers;
    }

    /// Break the body of the next `getData` answer after `bytes` bytes; from the moment that
    /// answer starts, every request is answered 502 (the IDS went down mid-transfer).
    pub fn cut_next_and_go_down(&self, bytes: usize) {
        let mut s = lock(&self.inner);
        s.cut_next = Some(bytes);
        s.down_after_cut = true;
    }

    /// Break the body of the next `getData` answer after `bytes` bytes; from the moment that
    /// answer starts, refuse the next `getData` requests with 503 (`busy`, as
    /// [`Facility::busy_spell`]).
    pub fn cut_next(&self, bytes: usize, busy: Vec<Option<u64>>) {
        let mut s = lock(&self.inner);
        s.cut_next = Some(bytes);
        s.busy_after_cut = busy;
    }

    /// Forget every prepared id at the next `getData` by prepared id, which is answered
    /// `NotFoundException` (ids.server's `Tidier.cleanPreparedDir` removes prepared files
    /// beyond `preparedCount`; IdsBean then answers "The preparedId ... is not known").
    pub fn forget_prepared_at_next_get(&self) {
        lock(&self.inner).forget_at_next_get = true;
    }

    /// Forget every prepared id now.
    pub fn forget_prepared(&self) {
        lock(&self.inner).prepared.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.inner).seen.clone()
    }

    pub fn peak_open(&self) -> usize {
        self.peak_open.load(Ordering::SeqCst)
    }

    pub fn expected(&self, id: i64) -> Expected {
        let s = lock(&self.inner);
        let b = &s.files[&id].bytes;
        Expected {
            size: Some(b.len() as u64),
            checksum: Some(format!("{:x}", crc32fast::hash(b))),
        }
    }
}

/// Deterministic content for file `id`.
pub fn content(id: i64, len: usize) -> Vec<u8> {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn file(id: i64, dataset: i64, len: usize) -> File {
    File {
        id,
        dataset,
        name: format!("f{id}.dat"),
        bytes: Arc::new(content(id, len)),
    }
}

/// The visit and dataset names the server uses in zips: `visit/ds<dataset>/<name>`.
pub const VISIT: &str = "visit";

fn parse_params(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let v = v.replace("%2C", ",").replace("%2c", ",");
            Some((k.to_string(), v))
        })
        .collect()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"code":"{code}","message":"{message}"}}"#
        )))
        .unwrap()
}

fn text(t: impl Into<String>) -> Response {
    Response::builder()
        .status(200)
        .body(Body::from(t.into()))
        .unwrap()
}

async fn handle(
    State(f): State<Facility>,
    Path(call): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let raw = if method == Method::POST {
        body
    } else {
        query.unwrap_or_default()
    };
    let params = parse_params(&raw);
    let range_from = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<u64>().ok());
    let by_session = params.contains_key("sessionId");
    let resp = answer(&f, &call, &params, range_from);
    lock(&f.inner).seen.push(Seen {
        call,
        at: Instant::now(),
        by_session,
        params,
        range_from,
        status: resp.status().as_u16(),
    });
    resp
}

fn answer(
    f: &Facility,
    call: &str,
    p: &HashMap<String, String>,
    range_from: Option<u64>,
) -> Response {
    let mut s = lock(&f.inner);
    if s.down {
        return error(502, "BadGateway", "the IDS is not answering");
    }
    if p.contains_key("sessionId")
        && (!s.session_valid || p.get("sessionId").map(String::as_str) != Some(SESSION))
    {
        return error(
            403,
            "InsufficientPrivilegesException",
            "session id has expired",
        );
    }
    let ids = |k: &str| -> Vec<i64> {
        p.get(k)
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    };
    // The datafiles and datasets a request is about.
    if call == "getData" && p.contains_key("preparedId") && s.forget_at_next_get {
        s.forget_at_next_get = false;
        s.prepared.clear();
    }
    let (dfs, zip) = match p.get("preparedId") {
        Some(id) => match s.prepared.get(id) {
            Some((dfs, zip)) => (dfs.clone(), *zip),
            None => {
                return error(
                    404,
                    "NotFoundException",
                    &format!("The preparedId {id} is not known"),
                );
            }
        },
        None => {
            let mut dfs = ids("datafileIds");
            let ds = ids("datasetIds");
            let mut extra: Vec<i64> = s
                .files
                .values()
                .filter(|x| ds.contains(&x.dataset))
                .map(|x| x.id)
                .collect();
            extra.sort_unstable();
            dfs.extend(extra);
            (dfs, p.get("zip").is_some_and(|z| z == "true"))
        }
    };
    let mut datasets: BTreeSet<i64> = dfs
        .iter()
        .filter_map(|id| s.files.get(id).map(|x| x.dataset))
        .collect();
    datasets.extend(ids("datasetIds"));
    let offline: Vec<i64> = datasets
        .iter()
        .copied()
        .filter(|d| s.archived.contains(d))
        .collect();
    match call {
        "getStatus" => {
            let st = if offline.is_empty() {
                "ONLINE"
            } else if offline.iter().all(|d| s.restoring.contains(d)) {
                "RESTORING"
            } else {
                "ARCHIVED"
            };
            text(st)
        }
        "restore" => {
            s.restoring.extend(offline);
            drop(s);
            f.restored.notify_waiters();
            text("")
        }
        "prepareData" => {
            s.restoring.extend(offline);
            s.next_prepared += 1;
            let id = format!("00000000-0000-4000-8000-{:012x}", s.next_prepared);
            s.prepared.insert(id.clone(), (dfs, zip));
            drop(s);
            f.restored.notify_waiters();
            text(id)
        }
        "isPrepared" => text(if offline.is_empty() { "true" } else { "false" }),
        "getData" => {
            if !offline.is_empty() {
                s.restoring.extend(offline);
                drop(s);
                f.restored.notify_waiters();
                return error(
                    503,
                    "DataNotOnlineException",
                    "Before getting a datafile, its dataset has to be restored, restoration requested automatically",
                );
            }
            if !s.busy.is_empty() {
                let retry = s.busy.remove(0);
                let mut b = Response::builder().status(503);
                if let Some(secs) = retry {
                    b = b.header(header::RETRY_AFTER, secs.to_string());
                }
                return b.body(Body::from("server busy")).unwrap();
            }
            let files: Vec<File> = dfs
                .iter()
                .filter_map(|id| s.files.get(id).cloned())
                .collect();
            let range_from = range_from.filter(|_| !s.ignore_ranges);
            let cut = s.cut_next.take();
            if cut.is_some() {
                s.busy = std::mem::take(&mut s.busy_after_cut);
                s.down = s.down_after_cut;
            }
            drop(s);
            let (status, data) = if !zip && files.len() == 1 {
                let all = files[0].bytes.clone();
                let from = range_from.unwrap_or(0).min(all.len() as u64) as usize;
                let status = if from > 0 { 206 } else { 200 };
                (status, Arc::new(all[from..].to_vec()))
            } else {
                (200, Arc::new(make_zip(&files)))
            };
            paced(f, status, data, cut)
        }
        other => error(400, "BadRequestException", &format!("unknown call {other}")),
    }
}

/// The body in chunks with a pause between them, broken after `cut` bytes when given; the
/// answer counts as open until its last chunk is handed over (so a client that read everything
/// never overlaps it with its next).
fn paced(f: &Facility, status: u16, data: Arc<Vec<u8>>, cut: Option<usize>) -> Response {
    let now = f.open.fetch_add(1, Ordering::SeqCst) + 1;
    f.peak_open.fetch_max(now, Ordering::SeqCst);
    let guard = Arc::new(Mutex::new(Some(OpenGuard(f.open.clone()))));
    let (chunk, pause) = (f.chunk.max(1), f.pause);
    let len = data.len();
    let body = futures_util::stream::unfold(0usize, move |at| {
        let data = data.clone();
        let guard = guard.clone();
        async move {
            if at >= data.len() {
                guard.lock().unwrap().take();
                return None;
            }
            if cut.is_some_and(|c| at >= c) {
                guard.lock().unwrap().take();
                return Some((
                    Err(std::io::Error::other("connection dropped by the test")),
                    data.len(),
                ));
            }
            if at > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let end = (at + chunk)
                .min(data.len())
                .min(cut.unwrap_or(usize::MAX).max(at + 1));
            if end == data.len() {
                guard.lock().unwrap().take();
            }
            let b = bytes::Bytes::copy_from_slice(&data[at..end]);
            Some((Ok::<_, std::io::Error>(b), end))
        }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(body))
        .unwrap()
}

/// A zip as ids.server writes one (IdsBean.getData: `java.util.zip.ZipOutputStream`, level 0
/// unless compressed, one entry per datafile; the zip crate refuses level 0, so level 1 here):
/// deflated entries whose sizes and CRC follow
/// their data in a data descriptor, the central directory at the end.
pub fn make_zip(files: &[File]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new_stream(Vec::new());
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for f in files {
        w.start_file(format!("{VISIT}/ds{}/{}", f.dataset, f.name), o)
            .unwrap();
        w.write_all(&f.bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}
