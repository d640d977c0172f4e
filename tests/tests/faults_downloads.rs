//! Downloads against a simulator injecting faults: connections dropped at seeded random offsets
//! (single files, multi-file plans, prepared zips), corrupted stored files, 5xx storms and a
//! server restart while a prepared id is polled. Each ends verified on disk, or with a typed
//! error and nothing but `.part` files.

mod faults_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use faults_support::*;
use icat_ids::{
    DataRef, DataSelection, IdsError, Outcome, Packing, Strategy, WaitOptions, ZipLayout, ZipOutput,
};
use icat_sim::Simulator;
use icat_sim::ids::DropAt;

/// Retries recorded in a plan's summary.
fn retries(summary: &icat_ids::DownloadSummary) -> u32 {
    summary
        .files
        .iter()
        .map(|f| match f.outcome {
            Outcome::Downloaded { retries, .. } => retries,
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn connections_dropped_at_seeded_random_offsets_always_end_verified() {
    let sim = start(facility(2, 3)).await;
    let session = login(&sim, false).await;
    let files = datafiles(&session).await;
    assert_eq!(files.len(), 6);
    let ids = ids_client(&sim, &session);
    let faults = sim.faults();
    let mut drops = 0;

    // Single raw files: 30 downloads, each cut once or twice at offsets from a fixed seed.
    for run in 0..30u64 {
        faults.reseed(1000 + run);
        let cuts = 1 + (run % 2) as u32;
        faults.ids().drop_downloads(DropAt::Random, Some(cuts));
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = plan(dir.path(), &files[run as usize % files.len()..][..1]);
        let spec = &plan.files[0];
        let out = ids
            .download_datafile(
                spec.id,
                &spec.path.under(&plan.dest),
                &spec.expected,
                &quick_options(5, true),
            )
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert_eq!(out.retries, cuts, "run {run}: one resume per cut");
        assert!(!out.skipped);
        assert_all_verified(&plan);
        drops += cuts;
    }

    // Multi-file plans: 6 runs of all 6 files, 2 cuts each.
    for run in 0..6u64 {
        faults.reseed(2000 + run);
        faults.ids().drop_downloads(DropAt::Random, Some(2));
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = plan(dir.path(), &files);
        let summary = ids
            .download_plan(&plan, &quick_options(5, true))
            .await
            .expect("plan");
        assert!(summary.is_complete(), "run {run}: {:?}", summary.files);
        assert_eq!(retries(&summary), 2, "run {run}");
        assert_all_verified(&plan);
        drops += 2;
    }

    // One prepared zip of everything, cut once per run: fetched again from the start.
    for run in 0..3u64 {
        faults.reseed(3000 + run);
        faults.ids().drop_downloads(DropAt::Random, Some(1));
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = plan(dir.path(), &files);
        let mut opts = quick_options(5, true);
        opts.strategy = Strategy::PreparedZip { compress: false };
        let summary = ids.download_plan(&plan, &opts).await.expect("zip plan");
        assert!(summary.is_complete(), "zip run {run}: {:?}", summary.files);
        assert_all_verified(&plan);
        drops += 1;
    }
    assert!(drops >= 50, "{drops} drops");
    faults.clear();
}

#[tokio::test]
async fn a_corrupted_stored_file_fails_its_checksum_and_never_reaches_the_final_path() {
    let sim = start(facility(1, 3)).await;
    let session = login(&sim, false).await;
    let files = datafiles(&session).await;
    let bad = files[1].id.expect("id");
    sim.faults().corrupt_stored_file(bad).expect("corrupt");
    let ids = ids_client(&sim, &session);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan(dir.path(), &files);
    let summary = ids
        .download_plan(&plan, &quick_options(3, true))
        .await
        .expect("plan");
    let failed: Vec<_> = summary.failed().collect();
    assert_eq!(failed.len(), 1, "{:?}", summary.files);
    let (report, err) = failed[0];
    assert!(
        matches!(err, IdsError::ChecksumMismatch { .. }),
        "expected a checksum error, got {err}"
    );
    assert!(
        !report.path.exists(),
        "a corrupt file reached its final path"
    );
    let tmp =
        icat_ids::download::datafile_part(&icat_ids::download::work_dir(dir.path()), report.id);
    assert!(tmp.exists());
    // The other two are complete and verified; only the bad one's partial data is left.
    for f in files_under(dir.path()) {
        if f.extension().is_some_and(|e| e == "part") {
            assert_eq!(f, tmp);
        } else {
            let spec = plan
                .files
                .iter()
                .find(|s| s.path.under(&plan.dest) == f)
                .expect("planned");
            assert_eq!(crc_of(&f), catalogue_crc(spec.expected.checksum.as_deref()));
        }
    }
    // A second run fails the same way: the damage is in storage, not in transit.
    let summary = ids
        .download_plan(&plan, &quick_options(3, true))
        .await
        .expect("plan");
    assert_eq!(summary.failed().count(), 1);
    assert!(!report.path.exists());
}

#[tokio::test]
async fn ids_5xx_storms_are_retried_and_beyond_the_bound_give_a_typed_error() {
    let sim = start(facility(1, 2)).await;
    let session = login(&sim, false).await;
    let files = datafiles(&session).await;
    let ids = ids_client(&sim, &session);
    let faults = sim.faults();
    let sel = DataSelection::datafiles(files.iter().filter_map(|f| f.id));

    // Small calls: 3 gateway errors or 503s, then an answer (the client tries 4 times).
    for status in [502, 503, 504, 500] {
        faults.ids().fail_next_requests(3, status);
        let size = ids
            .get_size(&sel)
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(size, 2 * FILE_SIZE);
    }
    faults.ids().fail_next_requests(10, 502);
    let e = ids.get_size(&sel).await.unwrap_err();
    assert!(matches!(e, IdsError::Server { status: 502, .. }), "{e:?}");
    faults.clear();

    // getData: a storm of 4 gateway errors is ridden out by a download allowing 5 retries.
    let dir = tempfile::tempdir().expect("tempdir");
    let first = plan(dir.path(), &files[..1]);
    let spec = &first.files[0];
    let target = spec.path.under(&first.dest);
    faults.ids().fail_next_requests(4, 502);
    let out = ids
        .download_datafile(spec.id, &target, &spec.expected, &quick_options(5, true))
        .await
        .expect("download through the storm");
    assert_eq!(out.retries, 4);
    assert_all_verified(&first);

    // Beyond the bound: RetriesExhausted with the last error, and no final file.
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan(dir.path(), &files[1..]);
    let spec = &plan.files[0];
    let target = spec.path.under(&plan.dest);
    faults.ids().fail_next_requests(100, 502);
    let e = ids
        .download_datafile(spec.id, &target, &spec.expected, &quick_options(2, true))
        .await
        .unwrap_err();
    let IdsError::RetriesExhausted { attempts, last, .. } = &e else {
        panic!("expected RetriesExhausted, got {e:?}")
    };
    assert_eq!(*attempts, 3);
    assert!(
        matches!(**last, IdsError::Server { status: 502, .. }),
        "{last:?}"
    );
    assert!(!target.exists());
    assert_only_part_files(dir.path());
    // Once the storm is over the same call completes.
    faults.clear();
    ids.download_datafile(spec.id, &target, &spec.expected, &quick_options(2, true))
        .await
        .expect("download after the storm");
    assert_all_verified(&plan);
}

#[tokio::test]
async fn a_restart_on_the_same_db_while_a_prepared_id_is_polled_completes_the_download() {
    let work = tempfile::tempdir().expect("tempdir");
    let db = work.path().join("icat.db");
    let storage = work.path().join("storage");
    let restore = Duration::from_secs(1);
    let mut spec = facility(1, 3);
    spec = spec
        .db_path(&db)
        .storage_dir(&storage)
        .two_level(true)
        .restore_delay(restore);
    let first = start(spec.synthetic(icat_sim::data::synthetic::SyntheticSpec {
        visits: 1,
        datasets: 1,
        files: 3,
        size: FILE_SIZE,
        archived: 1.0,
        ..Default::default()
    }))
    .await;
    let addr = first.addr();
    let session = login(&first, false).await;
    let files = datafiles(&session).await;
    let ids = ids_client(&first, &session);
    let sel = DataSelection::datafiles(files.iter().filter_map(|f| f.id));
    assert_eq!(
        ids.get_status(&sel).await.expect("status"),
        icat_ids::Status::Archived
    );
    let prepared = ids
        .prepare_data(&sel, Packing::default())
        .await
        .expect("prepare");

    // Poll in the background; count the polls answered "not yet" after the restart.
    let restarted = Arc::new(AtomicBool::new(false));
    let polls_after = Arc::new(AtomicU32::new(0));
    let wait = WaitOptions {
        pace: quick_pace(),
        deadline: Duration::from_secs(60),
        on_status: Some({
            let restarted = restarted.clone();
            let polls_after = polls_after.clone();
            Arc::new(move |_: &icat_ids::WaitStatus| {
                if restarted.load(Ordering::SeqCst) {
                    polls_after.fetch_add(1, Ordering::SeqCst);
                }
            })
        }),
        ..WaitOptions::default()
    };
    let poller = {
        let ids = ids.clone();
        let prepared = prepared.clone();
        tokio::spawn(async move { ids.wait_prepared(&prepared, &wait).await })
    };
    tokio::time::sleep(restore / 10).await;
    assert!(
        !poller.is_finished(),
        "the restore finished before the restart"
    );
    first.shutdown().await;
    let second = Simulator::builder()
        .db_path(&db)
        .storage_dir(&storage)
        .two_level(true)
        .restore_delay(restore)
        .listen(addr)
        .start()
        .await
        .expect("restart on the same port");
    restarted.store(true, Ordering::SeqCst);
    poller
        .await
        .expect("poller task")
        .expect("the prepared id becomes ready after the restart");
    assert!(polls_after.load(Ordering::SeqCst) > 0);

    // The session and the prepared id survived: fetch the zip and check every file.
    let dest = work.path().join("out");
    let report = ids
        .download_zip(
            DataRef::Prepared(&prepared),
            false,
            &ZipOutput::Extract {
                dir: dest.clone(),
                layout: ZipLayout::default(),
            },
            &quick_options(3, true),
        )
        .await
        .expect("download by prepared id");
    assert_eq!(report.files.len(), 3);
    let expected = plan(&dest, &files);
    assert_all_verified(&expected);
    second.shutdown().await;
}
