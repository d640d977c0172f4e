//! The download engine against the simulator's facility profile (icat-sim `[network]`, tape
//! drives, the per-user download cap): datasets come off one tape drive one after another and
//! the first is downloaded and verified before the last is restored; a cap of one download per
//! user answered 503 + `Retry-After` makes the engine back off to one transfer and finish.
//! Orderings are read on the simulator's own clock (`/sim/network`), not against thresholds.

mod faults_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults_support::*;
use icat_ids::{AutoOptions, FileStatus, Phase, Progress, Strategy};
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::network::{NetworkProfile, Rate, STATS_PATH};
use icat_sim::{RunningSimulator, Simulator};

/// The simulator's counters, and the local instant at which it had been up `uptime_ms`.
async fn stats(sim: &RunningSimulator) -> (serde_json::Value, Instant) {
    let http = icat_soap::tls::http_client().expect("http client");
    let t = http
        .get(format!("{}{STATS_PATH}", sim.base_url()))
        .send()
        .await
        .expect("stats")
        .text()
        .await
        .expect("stats text");
    (
        serde_json::from_str(&t).expect("stats json"),
        Instant::now(),
    )
}

fn ms(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[tokio::test]
async fn one_tape_drive_the_first_dataset_is_verified_before_the_last_is_restored() {
    let sim = start(
        Simulator::builder()
            .synthetic(SyntheticSpec {
                visits: 1,
                datasets: 3,
                files: 4,
                size: 2048,
                archived: 1.0,
                ..SyntheticSpec::default()
            })
            .two_level(true)
            .restore_delay(Duration::from_millis(500))
            .tape_drives(1)
            .restore_jitter(Duration::ZERO)
            .network(NetworkProfile::unshaped()),
    )
    .await;
    let session = login(&sim, true).await;
    let files = datafiles(&session).await;
    assert_eq!(files.len(), 12);
    let dest = tempfile::tempdir().unwrap();
    let plan = plan(dest.path(), &files);
    // When each file was placed (local clock).
    let placed: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let p = placed.clone();
    let mut opts = quick_options(3, false);
    opts.strategy = Strategy::Auto(AutoOptions::default());
    opts.progress = Some(Arc::new(move |pr: &Progress<'_>| {
        if matches!(pr.phase, Phase::Done | Phase::Extracted) {
            p.lock()
                .unwrap()
                .entry(pr.index)
                .or_insert_with(Instant::now);
        }
    }));
    let summary = ids_client(&sim, &session)
        .download_plan(&plan, &opts)
        .await
        .expect("plan");
    for f in &summary.files {
        assert_eq!(f.status(), FileStatus::Verified, "{:?}", f.outcome);
    }
    let (s, at) = stats(&sim).await;
    // The simulator's start on the local clock (to within one local request).
    let started = at - Duration::from_millis(ms(&s, "uptimeMs"));
    let restores = s["restores"].as_array().expect("restores").clone();
    assert_eq!(restores.len(), 3, "{s}");
    let first = restores
        .iter()
        .min_by_key(|r| ms(r, "doneMs"))
        .expect("first restore");
    let last_done = restores.iter().map(|r| ms(r, "doneMs")).max().unwrap_or(0);
    // One drive: the restores ran one after another.
    assert!(last_done >= 3 * 500, "{restores:?}");
    let first_ds = first["dataset"].as_i64().expect("dataset");
    let placed = placed.lock().unwrap();
    let first_files: Vec<usize> = plan
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.dataset == Some(first_ds))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(first_files.len(), 4);
    for i in first_files {
        let when = placed[&i].duration_since(started).as_millis() as u64;
        assert!(
            when < last_done,
            "file {i} of the first restored dataset placed at {when} ms, the last restore ended at {last_done} ms"
        );
    }
    // Every restore was asked for before the first one finished (one call up front).
    assert!(
        restores
            .iter()
            .all(|r| ms(r, "queuedMs") <= ms(first, "doneMs")),
        "{restores:?}"
    );
}

#[tokio::test]
async fn a_download_cap_of_one_answered_503_makes_the_engine_back_off_and_finish() {
    let sim = start(facility(1, 8).network(NetworkProfile {
        // 48 KiB at 200 kB/s: the first two transfers overlap for certain.
        connection_rate: Some(Rate::bytes_per_sec(200_000.0)),
        max_downloads_per_user: Some(1),
        retry_after: Some(Duration::from_millis(200)),
        ..NetworkProfile::unshaped()
    }))
    .await;
    let session = login(&sim, true).await;
    let files = datafiles(&session).await;
    let dest = tempfile::tempdir().unwrap();
    let plan = plan(dest.path(), &files);
    let mut opts = quick_options(5, false);
    opts.concurrency = 4;
    let summary = ids_client(&sim, &session)
        .download_plan(&plan, &opts)
        .await
        .expect("plan");
    for f in &summary.files {
        assert_eq!(f.status(), FileStatus::Verified, "{:?}", f.outcome);
    }
    let c = &summary.concurrency;
    assert!(c.backoffs >= 1, "{c:?}");
    assert_eq!(c.final_limit, 1, "{c:?}");
    let (s, _) = stats(&sim).await;
    assert!(ms(&s, "refusedDownloads") >= 1, "{s}");
    assert_eq!(ms(&s, "peakDownloadsPerUser"), 1, "{s}");
}
