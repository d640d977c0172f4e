//! What a progress callback hears per file: one final report each, not the last byte count twice
//! (a `Transferring` report with every byte and then a `Done` report with the same bytes), so a
//! consumer counting reports or summing what each adds sees every file once.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use icat_ids::{AutoOptions, DatafileSpec, DownloadPlan, Phase, Progress, Strategy};

/// Downloads the fixture's three datafiles with `strategy`, returning every report as
/// (index, phase, bytes done).
async fn reports(strategy: Strategy) -> Vec<(usize, Phase, u64)> {
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
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut opts = quick_options();
    opts.strategy = strategy;
    opts.progress = Some({
        let seen = seen.clone();
        Arc::new(move |p: &Progress<'_>| seen.lock().unwrap().push((p.index, p.phase, p.done)))
    });
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.is_complete(), "{:?}", s.files);
    seen.lock().unwrap().clone()
}

/// For each of the plan's three files: exactly one final report (`Done` or `Extracted`), and
/// no other report of the file carrying the bytes that final report carries.
fn assert_one_final_report_per_file(strategy: &str, seen: &[(usize, Phase, u64)]) {
    for file in 0..3 {
        let of_file: Vec<_> = seen.iter().filter(|(i, ..)| *i == file).collect();
        let finals: Vec<_> = of_file
            .iter()
            .filter(|(_, phase, _)| matches!(phase, Phase::Done | Phase::Extracted))
            .collect();
        assert_eq!(finals.len(), 1, "{strategy}, file {file}: {of_file:?}");
        let (_, _, bytes) = finals[0];
        let same_bytes = of_file
            .iter()
            .filter(|(_, phase, done)| done == bytes && *bytes > 0 && *phase == Phase::Transferring)
            .count();
        assert_eq!(
            same_bytes, 0,
            "{strategy}, file {file}: its last byte count reported twice: {of_file:?}"
        );
    }
}

#[tokio::test]
async fn raw_files_report_each_file_finished_once() {
    let seen = reports(Strategy::RawFiles).await;
    assert_one_final_report_per_file("raw", &seen);
}

#[tokio::test]
async fn auto_reports_each_file_finished_once() {
    let seen = reports(Strategy::Auto(AutoOptions::default())).await;
    assert_one_final_report_per_file("auto", &seen);
}

/// The 300 kB file striped in 64 KiB shares, the small ones streamed alone.
#[tokio::test]
async fn striped_files_report_each_file_finished_once() {
    let seen = reports(Strategy::Auto(AutoOptions {
        stripe_min_file: 100_000,
        stripe_min_share: 64 << 10,
        bundle_max_file: 1,
        ..AutoOptions::default()
    }))
    .await;
    let striped = seen
        .iter()
        .filter(|(i, phase, _)| *i == 2 && *phase == Phase::Transferring)
        .count();
    assert!(striped > 1, "the big file came in parts: {seen:?}");
    assert_one_final_report_per_file("striped", &seen);
}
