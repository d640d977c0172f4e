//! Fault injection for the whole simulator (all off by default): failed, delayed and cut answers of
//! the ICAT SOAP service, the IDS knobs of [`crate::ids::Faults`], sessions expired early and
//! stored files corrupted on disk. Configured by the `[faults]` table of `sim.toml` or
//! [`crate::SimulatorBuilder::faults`], and armed at run time through [`FaultHandle`]
//! ([`crate::RunningSimulator::faults`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::icat::Icat;
use crate::ids::{DropAt, IdsState, StoredContent, gateway_page};
use crate::process::config::{FaultConfig, ServiceFaultConfig};

/// The current SOAP fault settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SoapSettings {
    fail_next: u32,
    fail_status: u16,
    delay: Option<Duration>,
    drop_at: Option<DropAt>,
    drop_count: Option<u32>,
}

/// Runtime fault knobs of the ICAT SOAP service.
#[derive(Debug)]
pub struct SoapFaults {
    settings: Mutex<SoapSettings>,
    rng: Mutex<StdRng>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain values, always consistent: a poisoned lock is taken over.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SoapFaults {
    fn new(config: &ServiceFaultConfig, seed: Option<u64>) -> Self {
        SoapFaults {
            settings: Mutex::new(SoapSettings {
                fail_next: config.fail_next,
                fail_status: config.fail_status.unwrap_or(503),
                delay: config.delay,
                drop_at: config.drop_at(),
                drop_count: config.drop_count,
            }),
            rng: Mutex::new(match seed {
                Some(s) => StdRng::seed_from_u64(s),
                None => StdRng::from_os_rng(),
            }),
        }
    }

    /// Answer the next `count` SOAP requests with HTTP `status`: 502/503/504 send a gateway page
    /// (as a proxy in front of a stopped ICAT does), 500 an ICAT `INTERNAL` fault.
    pub fn fail_next_requests(&self, count: u32, status: u16) {
        let mut s = relock(&self.settings);
        s.fail_next = count;
        s.fail_status = status;
    }

    /// Delay every SOAP answer by `delay` (`None`: no delay).
    pub fn set_delay(&self, delay: Option<Duration>) {
        relock(&self.settings).delay = delay;
    }

    /// Cut the next `count` SOAP answers (`None`: all of them) at `at`.
    pub fn drop_responses(&self, at: DropAt, count: Option<u32>) {
        let mut s = relock(&self.settings);
        s.drop_at = Some(at);
        s.drop_count = count;
    }

    /// Restart the random drop offsets from `seed`.
    pub fn reseed(&self, seed: u64) {
        *relock(&self.rng) = StdRng::seed_from_u64(seed);
    }

    /// Turn every SOAP fault off.
    pub fn clear(&self) {
        *relock(&self.settings) = SoapSettings::default();
    }

    fn take_failure(&self) -> Option<u16> {
        let mut s = relock(&self.settings);
        if s.fail_next == 0 {
            return None;
        }
        s.fail_next -= 1;
        Some(s.fail_status)
    }

    fn delay(&self) -> Option<Duration> {
        relock(&self.settings).delay
    }

    fn take_drop(&self, len: u64) -> Option<u64> {
        let mut s = relock(&self.settings);
        let at = s.drop_at?;
        match s.drop_count {
            Some(0) => {
                s.drop_at = None;
                s.drop_count = None;
                return None;
            }
            Some(n) => s.drop_count = Some(n - 1),
            None => {}
        }
        Some(match at {
            DropAt::AfterBytes(n) => n,
            DropAt::Random => relock(&self.rng).random_range(0..len.max(1)),
        })
    }
}

/// Errors of the fault actions that touch stored data.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The datafile is not in the catalogue or has no location.
    #[error("datafile {0} is unknown or has no location")]
    NoSuchDatafile(i64),
    /// The stored file could not be changed.
    #[error("cannot corrupt the stored file of datafile {id}: {detail}")]
    Storage {
        /// The datafile.
        id: i64,
        /// What failed.
        detail: String,
    },
    /// The catalogue could not be changed.
    #[error("fault action failed in the catalogue: {0}")]
    Db(String),
}

/// Arms and clears faults on a running simulator; cheap to clone.
#[derive(Clone)]
pub struct FaultHandle {
    soap: Arc<SoapFaults>,
    ids: IdsState,
    icat: Icat,
}

impl std::fmt::Debug for FaultHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultHandle")
            .field("soap", &self.soap)
            .field("ids", &self.ids.faults())
            .finish_non_exhaustive()
    }
}

impl FaultHandle {
    /// Knobs starting from `config`, over the running services.
    pub(crate) fn new(config: &FaultConfig, icat: Icat, ids: IdsState) -> Self {
        FaultHandle {
            soap: Arc::new(SoapFaults::new(&config.icat, config.seed)),
            ids,
            icat,
        }
    }

    pub(crate) fn soap_state(&self) -> Arc<SoapFaults> {
        self.soap.clone()
    }

    /// The ICAT SOAP service's knobs.
    pub fn icat(&self) -> &SoapFaults {
        &self.soap
    }

    /// The IDS's knobs (failures, delays, cut downloads, corrupted reads, failed restores).
    pub fn ids(&self) -> &crate::ids::Faults {
        self.ids.faults()
    }

    /// Seeds the random drop offsets of both services.
    pub fn reseed(&self, seed: u64) {
        self.soap.reseed(seed);
        self.ids.faults().reseed(seed);
    }

    /// Turns every fault off (stored files already corrupted stay corrupted).
    pub fn clear(&self) {
        self.soap.clear();
        self.ids.faults().clear();
    }

    /// Forgets every session now, as a server that lost them would: later calls with their ids
    /// get ICAT `SESSION` faults (and IDS 403s). Returns how many were dropped.
    pub fn expire_sessions(&self) -> Result<usize, FaultError> {
        expire_all(&self.icat)
    }

    /// Flips one byte in the middle of the stored file of `datafile_id` (main storage), so its
    /// CRC32 no longer matches the catalogue's checksum; the size stays the same. Generated
    /// (synthetic) contents are replaced by a stored, corrupted copy.
    pub fn corrupt_stored_file(&self, datafile_id: i64) -> Result<(), FaultError> {
        let location: Option<String> = self
            .icat
            .db()
            .conn()
            .query_row(
                "SELECT \"location\" FROM \"Datafile\" WHERE \"id\" = ?",
                [datafile_id],
                |row| row.get(0),
            )
            .map_err(|_| FaultError::NoSuchDatafile(datafile_id))?;
        let location = location.ok_or(FaultError::NoSuchDatafile(datafile_id))?;
        let storage_err = |detail: String| FaultError::Storage {
            id: datafile_id,
            detail,
        };
        let storage = self.ids.storage();
        let content = storage
            .content(&location)
            .map_err(|e| storage_err(e.to_string()))?;
        let flip = || -> std::io::Result<()> {
            match content {
                StoredContent::File { path, size } => flip_in_place(&path, size),
                // Generated bytes: store a corrupted copy at the location (a stored file
                // takes precedence over generated contents).
                StoredContent::Synthetic(_) => {
                    let path = storage
                        .path_of(&location)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    store_flipped_copy(&mut *content.open()?, &path, content.size())
                }
            }
        };
        flip().map_err(|e| storage_err(e.to_string()))?;
        tracing::info!(
            datafile = datafile_id,
            "corrupted a stored file (injected fault)"
        );
        Ok(())
    }
}

/// Flips the middle byte of the file at `path` (`size` bytes long).
fn flip_in_place(path: &std::path::Path, size: u64) -> std::io::Result<()> {
    if size == 0 {
        return Err(std::io::Error::other("the file is empty"));
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let at = size / 2;
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut byte)?;
    byte[0] ^= 0xFF;
    file.seek(SeekFrom::Start(at))?;
    file.write_all(&byte)?;
    file.sync_all()
}

/// Copies `size` bytes from `source` to `path` (through a temporary file), flipping the middle one.
fn store_flipped_copy(
    source: &mut dyn Read,
    path: &std::path::Path,
    size: u64,
) -> std::io::Result<()> {
    if size == 0 {
        return Err(std::io::Error::other("the file is empty"));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".corrupting");
    let tmp = std::path::PathBuf::from(tmp);
    let mut copy = || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&tmp)?;
        let copied = std::io::copy(source, &mut out)?;
        if copied != size {
            return Err(std::io::Error::other(
                "the stored bytes changed while copying",
            ));
        }
        out.sync_all()?;
        drop(out);
        flip_in_place(&tmp, size)
    };
    match copy() {
        Ok(()) => std::fs::rename(&tmp, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn expire_all(icat: &Icat) -> Result<usize, FaultError> {
    let n = icat
        .db()
        .conn()
        .execute("DELETE FROM \"_session\"", [])
        .map_err(|e| FaultError::Db(e.to_string()))?;
    tracing::info!(sessions = n, "forgot every session (injected fault)");
    Ok(n)
}

/// Forgets every session each `every` until `stop` turns true.
pub(crate) async fn expire_sessions_periodically(
    icat: Icat,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let icat = icat.clone();
                let r = tokio::task::spawn_blocking(move || expire_all(&icat)).await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "could not expire sessions");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Middleware of the SOAP endpoint applying [`SoapFaults`]: delay, failure, cut body.
pub(crate) async fn soap_layer(
    State(faults): State<Arc<SoapFaults>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(delay) = faults.delay() {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = faults.take_failure() {
        tracing::info!(status, "failing SOAP request (injected fault)");
        return failure(status);
    }
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    // SOAP answers are small and already complete: buffer to know where to cut.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match faults.take_drop(bytes.len() as u64) {
        None => Response::from_parts(parts, Body::from(bytes)),
        Some(at) => {
            tracing::info!(
                after_bytes = at,
                "dropping SOAP connection (injected fault)"
            );
            Response::from_parts(parts, cut_body(bytes, at))
        }
    }
}

/// A body that sends the first `at` bytes of `bytes`, then fails (the connection is aborted).
fn cut_body(bytes: Bytes, at: u64) -> Body {
    let head = bytes.slice(..(at as usize).min(bytes.len()));
    let parts: Vec<std::io::Result<Bytes>> = vec![
        Ok(head),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault",
        )),
    ];
    Body::from_stream(futures_util::stream::iter(parts).filter(|p| {
        let keep = !matches!(p, Ok(b) if b.is_empty());
        async move { keep }
    }))
}

/// The answer of an injected failure with `status`.
fn failure(status: u16) -> Response {
    if status == 500 {
        let fault = icat_soap::model::IcatException {
            type_: Some(icat_soap::model::IcatExceptionType::Internal),
            message: Some("Injected fault: internal error".into()),
            offset: -1,
        };
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/xml;charset=utf-8")],
            icat_soap::envelope::write_icat_fault(&fault),
        )
            .into_response();
    }
    gateway_page(status).unwrap_or_else(|| StatusCode::SERVICE_UNAVAILABLE.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faults_table_parses_and_is_off_by_default() {
        assert!(FaultConfig::default().is_off());
        let config: FaultConfig = toml::from_str(
            r#"
            seed = 42
            expireSessionsEvery = "30s"
            [icat]
            failNext = 3
            failStatus = 502
            delay = "200ms"
            dropRandom = true
            dropCount = 2
            [ids]
            dropAfterBytes = 1000
            corruptDatafiles = [7]
            failRestores = true
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.expire_sessions_every, Some(Duration::from_secs(30)));
        assert_eq!(config.icat.delay, Some(Duration::from_millis(200)));
        let ids = config.ids_settings();
        assert_eq!(ids.drop_at, Some(DropAt::AfterBytes(1000)));
        assert_eq!(ids.fail_status, 503);
        assert_eq!(ids.seed, Some(42));
        assert!(ids.corrupt_datafiles.contains(&7) && ids.fail_restores);
        let bad: FaultConfig = toml::from_str("[icat]\nfailStatus = 404").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<FaultConfig>("[icat]\nfailnext = 1").is_err());
    }

    #[test]
    fn corruption_flips_one_byte_in_place_or_in_a_stored_copy() {
        let dir = tempfile::tempdir().unwrap();
        let original: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let path = dir.path().join("f");
        std::fs::write(&path, &original).unwrap();
        flip_in_place(&path, 1000).unwrap();
        let changed = std::fs::read(&path).unwrap();
        assert_eq!(changed.len(), 1000);
        let diffs: Vec<usize> = (0..1000).filter(|&i| changed[i] != original[i]).collect();
        assert_eq!(diffs, [500]);

        let copy = dir.path().join("sub/copy");
        store_flipped_copy(&mut &original[..], &copy, 1000).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), changed);
        assert!(store_flipped_copy(&mut &original[..10], &copy, 1000).is_err());
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            changed,
            "a failed copy changes nothing"
        );
        assert!(flip_in_place(&path, 0).is_err());
    }

    #[test]
    fn soap_drops_and_failures_count_down_and_repeat_with_a_seed() {
        let f = SoapFaults::new(&ServiceFaultConfig::default(), Some(1));
        assert_eq!(f.take_drop(100), None);
        assert_eq!(f.take_failure(), None);
        f.fail_next_requests(2, 503);
        assert_eq!(f.take_failure(), Some(503));
        assert_eq!(f.take_failure(), Some(503));
        assert_eq!(f.take_failure(), None);
        f.drop_responses(DropAt::Random, Some(3));
        let first: Vec<_> = (0..3).map(|_| f.take_drop(500)).collect();
        assert!(first.iter().all(|o| o.is_some_and(|o| o < 500)));
        assert_eq!(f.take_drop(500), None);
        f.reseed(1);
        f.drop_responses(DropAt::Random, Some(3));
        let again: Vec<_> = (0..3).map(|_| f.take_drop(500)).collect();
        assert_eq!(first, again);
    }
}
