//! The per-file extra digest hook (`DownloadOptions::extra_digest`): computed while the bytes
//! stream, correct over a resumed prefix and after dropped connections, and given for skipped
//! files too.

mod common;

use std::sync::Arc;

use common::*;
use icat_ids::download::{DigestFactory, StreamDigest, datafile_part_for};
use icat_ids::{DatafileSpec, DownloadPlan, Outcome};
use icat_sim::ids::DropAt;

/// An independent digest for the test: CRC32 and length of every byte fed, in hex.
struct LenCrc(crc32fast::Hasher, u64);

impl StreamDigest for LenCrc {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
        self.1 += data.len() as u64;
    }
    fn finish(self: Box<Self>) -> String {
        format!("{}:{:08x}", self.1, self.0.finalize())
    }
}

fn factory() -> DigestFactory {
    Arc::new(|| Box::new(LenCrc(crc32fast::Hasher::new(), 0)))
}

fn want(bytes: &[u8]) -> String {
    format!("{}:{:08x}", bytes.len(), crc32fast::hash(bytes))
}

#[tokio::test]
async fn digest_covers_resumed_and_retried_bytes_exactly_once() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");
    let mut opts = quick_options();
    opts.extra_digest = Some(factory());
    // First run: connections cut after 50 kB until retries run out, leaving a partial file.
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::AfterBytes(50_000), None);
    opts.retry.max_retries = 1;
    assert!(
        f.client
            .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
            .await
            .is_err()
    );
    let partial = std::fs::metadata(datafile_part_for(&target, f.df_big))
        .unwrap()
        .len();
    assert!(partial > 0);
    // Second run: two more cuts, then the rest; the digest must cover every byte once.
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::AfterBytes(60_000), Some(2));
    opts.retry.max_retries = 5;
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
        .await
        .unwrap();
    assert_eq!(out.resumed_from, partial);
    assert_eq!(out.retries, 2);
    assert_eq!(
        out.extra_digest.as_deref(),
        Some(want(&big_bytes()).as_str())
    );

    // Skipped because it matches: the digest is still given.
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
        .await
        .unwrap();
    assert!(out.skipped);
    assert_eq!(
        out.extra_digest.as_deref(),
        Some(want(&big_bytes()).as_str())
    );

    // Not asked for: none.
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &quick_options())
        .await
        .unwrap();
    assert_eq!(out.extra_digest, None);
}

#[tokio::test]
async fn plan_reports_carry_each_files_digest() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    for (id, ds, name) in [
        (f.df_small, "greetings", "greet-jdoe.txt"),
        (f.df_small2, "greetings", "greet-nbour.txt"),
        (f.df_big, "raw data", "big file.bin"),
    ] {
        plan.push(DatafileSpec::in_visit_dataset(id, "1.1-P", ds, name, f.expected(id)).unwrap());
    }
    let mut opts = quick_options();
    opts.extra_digest = Some(factory());
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.is_complete());
    let by_id = |id: i64| s.files.iter().find(|r| r.id == id).unwrap();
    assert!(matches!(
        by_id(f.df_big).outcome,
        Outcome::Downloaded { .. }
    ));
    assert_eq!(by_id(f.df_small).extra_digest, Some(want(SMALL)));
    assert_eq!(by_id(f.df_small2).extra_digest, Some(want(SMALL2)));
    assert_eq!(by_id(f.df_big).extra_digest, Some(want(&big_bytes())));
}
