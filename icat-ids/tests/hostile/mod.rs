//! Shared helpers of the hostile-server download tests: the scripted server and a client for it.

#![allow(dead_code)]

pub mod server;

pub use server::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use icat_ids::{DownloadOptions, IdsClient, Progress, SessionId, TransportOptions};

/// A client for the hostile IDS: no retries, so each scenario sees the first answer's effect.
pub fn client(ids: &HostileIds) -> IdsClient {
    IdsClient::new(&ids.url(), TransportOptions::default())
        .unwrap()
        .with_session(SessionId::new("hostile-test-session".to_string()))
}

/// Download options without retries or restore waits, recording the largest byte count any
/// progress report carried (bytes written to one file).
pub fn options(max_done: &Arc<AtomicU64>) -> DownloadOptions {
    let seen = max_done.clone();
    DownloadOptions {
        retry: icat_ids::RetryPolicy::none(),
        wait_for_restore: None,
        progress: Some(Arc::new(move |p: &Progress<'_>| {
            seen.fetch_max(p.done, Ordering::SeqCst);
        })),
        ..DownloadOptions::default()
    }
}

/// Every regular file under `root` with its size, sorted; a missing root is empty.
pub fn files_with_sizes(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(root).unwrap().to_path_buf(), m.len()));
            }
        }
    }
    out.sort();
    out
}

/// Deterministic content of `len` bytes for datafile `id`.
pub fn content(id: i64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as i64 * 31 + id * 7) as u8).collect()
}

/// The datafile id a raw `getData` asks for.
pub fn datafile_id(req: &Request) -> Option<i64> {
    req.param("datafileIds")?.parse().ok()
}
