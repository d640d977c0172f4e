//! The download engine against the simulator: resume after dropped connections, verification,
//! restores from archive, safe zip extraction, cancellation, plans and uploads.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use icat_ids::download::datafile_part_for;
use icat_ids::{
    CancellationToken, DataSelection, DatafileSpec, DownloadPlan, IdsError, Outcome, Packing,
    Phase, PutRequest, Status, Strategy, ZipLayout, ZipOutput,
};
use icat_sim::ids::DropAt;

#[tokio::test]
async fn dropped_connection_is_resumed_and_verified() {
    let f = Fixture::new().await;
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::AfterBytes(100_000), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &quick_options())
        .await
        .unwrap();
    assert_eq!(out.retries, 2);
    assert_eq!(std::fs::read(&target).unwrap(), big_bytes());
    assert!(!datafile_part_for(&target, f.df_big).exists());
    assert_eq!(all_files(dir.path()), vec![target.clone()]);
}

#[tokio::test]
async fn too_many_drops_leave_only_a_part_file_and_a_later_run_resumes() {
    let f = Fixture::new().await;
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::AfterBytes(50_000), None);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");
    let mut opts = quick_options();
    opts.retry.max_retries = 1;
    let e = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IdsError::RetriesExhausted { attempts: 2, .. }),
        "{e}"
    );
    assert!(!target.exists());
    // Whatever arrived before the cuts is kept (the exact byte-level resume is in resume.rs).
    let partial = std::fs::metadata(datafile_part_for(&target, f.df_big))
        .unwrap()
        .len();
    assert!(partial <= 100_000);

    f.server.state().faults().clear_drops();
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
        .await
        .unwrap();
    assert_eq!(out.resumed_from, partial);
    assert_eq!(std::fs::read(&target).unwrap(), big_bytes());
    // A third run finds the verified file and skips it.
    let out = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &opts)
        .await
        .unwrap();
    assert!(out.skipped);
}

#[tokio::test]
async fn checksum_mismatch_is_detected_and_nothing_lands_at_the_final_path() {
    let f = Fixture::new().await;
    f.server.state().faults().corrupt_datafile(f.df_big);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.bin");
    let e = f
        .client
        .download_datafile(f.df_big, &target, &f.expected(f.df_big), &quick_options())
        .await
        .unwrap_err();
    match &e {
        IdsError::ChecksumMismatch {
            file,
            expected,
            actual,
            ..
        } => {
            assert!(file.contains("big.bin"));
            assert_eq!(Some(expected.clone()), f.expected(f.df_big).checksum);
            assert_ne!(expected, actual);
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    assert!(!target.exists());
    assert!(datafile_part_for(&target, f.df_big).exists());
}

#[tokio::test]
async fn archived_data_is_restored_then_downloaded() {
    let f = Fixture::two_level().await;
    f.server
        .state()
        .storage()
        .set_archived([f.dataset, f.dataset2], true)
        .unwrap();
    let sel = DataSelection::datasets([f.dataset, f.dataset2]);
    assert_eq!(f.client.get_status(&sel).await.unwrap(), Status::Archived);

    let polls = Arc::new(AtomicU64::new(0));
    let p2 = polls.clone();
    let mut wait = quick_wait();
    wait.on_status = Some(Arc::new(move |_s| {
        p2.fetch_add(1, Ordering::SeqCst);
    }));
    let pid = f
        .client
        .prepare_and_wait(
            &sel,
            Packing {
                zip: true,
                compress: true,
            },
            &wait,
        )
        .await
        .unwrap();
    assert!(
        polls.load(Ordering::SeqCst) >= 1,
        "waited without reporting"
    );
    let dir = tempfile::tempdir().unwrap();
    let rep = f
        .client
        .download_zip(
            &pid,
            true,
            &ZipOutput::Extract {
                dir: dir.path().to_path_buf(),
                layout: ZipLayout::VisitDataset,
            },
            &quick_options(),
        )
        .await
        .unwrap();
    assert_eq!(rep.files.len(), 3);
    assert_eq!(
        std::fs::read(dir.path().join("1.1-P/greetings/greet-jdoe.txt")).unwrap(),
        SMALL
    );
    assert_eq!(
        std::fs::read(dir.path().join("1.1-P/raw data/big file.bin")).unwrap(),
        big_bytes()
    );
    // The temporary zip is gone; only the tree remains.
    assert_eq!(all_files(dir.path()).len(), 3);
}

#[tokio::test]
async fn plan_restores_offline_files_then_fetches_raw() {
    let f = Fixture::two_level().await;
    f.server
        .state()
        .storage()
        .set_archived([f.dataset2], true)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    for (id, ds, name) in [
        (f.df_small, "greetings", "greet-jdoe.txt"),
        (f.df_small2, "greetings", "greet-nbour.txt"),
        (f.df_big, "raw data", "big file.bin"),
    ] {
        plan.push(DatafileSpec::in_visit_dataset(id, "1.1-P", ds, name, f.expected(id)).unwrap());
    }
    let phases = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ph = phases.clone();
    let mut opts = quick_options();
    opts.progress = Some(Arc::new(move |p| ph.lock().unwrap().push(p.phase)));
    let summary = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(summary.is_complete(), "{:?}", summary.files);
    assert_eq!(summary.bytes_transferred, plan.total_bytes().unwrap());
    assert!(phases.lock().unwrap().contains(&Phase::WaitingForRestore));
    assert_eq!(
        std::fs::read(dir.path().join("1.1-P/raw data/big file.bin")).unwrap(),
        big_bytes()
    );
    // Run again: all present and verified, so skipped.
    let again = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(
        again
            .files
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Skipped { .. }))
    );
}

#[tokio::test]
async fn failed_restore_surfaces_as_an_error() {
    let f = Fixture::two_level().await;
    f.server.state().faults().fail_restores(true);
    f.server
        .state()
        .storage()
        .set_archived([f.dataset2], true)
        .unwrap();
    let e = f
        .client
        .prepare_and_wait(
            &DataSelection::datasets([f.dataset2]),
            Packing::default(),
            &quick_wait(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::RestoreFailed { .. }), "{e}");
}

#[tokio::test]
async fn prepared_zip_plan_verifies_each_file() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    for (id, ds, name) in [
        (f.df_small, "greetings", "greet-jdoe.txt"),
        (f.df_big, "raw data", "big file.bin"),
    ] {
        plan.push(DatafileSpec::in_visit_dataset(id, "1.1-P", ds, name, f.expected(id)).unwrap());
    }
    let mut opts = quick_options();
    opts.strategy = Strategy::PreparedZip { compress: true };
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.is_complete(), "{:?}", s.files);
    assert_eq!(
        std::fs::read(dir.path().join("1.1-P/greetings/greet-jdoe.txt")).unwrap(),
        SMALL
    );
    // A corrupted file in the zip is caught by the catalogue checksum.
    f.server.state().faults().corrupt_datafile(f.df_small);
    let dir2 = tempfile::tempdir().unwrap();
    plan.dest = dir2.path().to_path_buf();
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(!s.is_complete());
    let (_, e) = s.failed().next().unwrap();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
}

#[tokio::test]
async fn hostile_datafile_names_from_the_server_never_escape() {
    let f = Fixture::new().await;
    let loc = "h/evil";
    let stored = f
        .server
        .state()
        .storage()
        .write_bytes(loc, b"pwned")
        .unwrap();
    let evil = f.catalog.add_datafile(
        f.dataset,
        "../../../escaped.txt",
        Some(loc),
        Some(5),
        Some(&stored.checksum_hex()),
    );
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let sel = DataSelection::datafiles([f.df_small, evil]);
    let e = f
        .client
        .download_zip(
            &sel,
            false,
            &ZipOutput::Extract {
                dir: dest.clone(),
                layout: ZipLayout::VisitDataset,
            },
            &quick_options(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::UnsafeName { .. }), "{e}");
    // Nothing is left: not the temporary zip, and nothing outside dest.
    let files = all_files(root.path());
    assert!(files.is_empty(), "{files:?}");
    // The plan API refuses such a name before any request.
    let spec =
        DatafileSpec::in_visit_dataset(evil, "v", "d", "../../../escaped.txt", Default::default());
    assert!(matches!(spec, Err(IdsError::UnsafeName { .. })));
}

#[tokio::test]
async fn cancellation_leaves_only_part_files_and_a_later_run_resumes() {
    let f = Fixture::new().await;
    // Slow the transfer down so the cancel lands mid-file.
    f.server
        .state()
        .faults()
        .set_delay(Some(std::time::Duration::from_millis(50)));
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(
        DatafileSpec::in_visit_dataset(
            f.df_big,
            "1.1-P",
            "raw data",
            "big file.bin",
            f.expected(f.df_big),
        )
        .unwrap(),
    );
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let mut opts = quick_options();
    opts.cancel = cancel.clone();
    opts.progress = Some(Arc::new(move |p| {
        if p.phase == Phase::Transferring && p.done > 0 {
            c2.cancel();
        }
    }));
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.cancelled);
    let files = all_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with(".part"));
    let partial = std::fs::metadata(&files[0]).unwrap().len();
    assert!(partial > 0 && partial < big_bytes().len() as u64);

    f.server.state().faults().set_delay(None);
    let opts = quick_options();
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.is_complete());
    match &s.files[0].outcome {
        Outcome::Downloaded { resumed_from, .. } => assert_eq!(*resumed_from, partial),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&s.files[0].path).unwrap(), big_bytes());
}

#[tokio::test]
async fn upload_then_download_round_trips() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("upload.bin");
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let mut req = PutRequest::new("uploaded.bin", f.dataset, f.format);
    req.description = Some("round trip".into());
    let req = req.with_file_times(&std::fs::metadata(&src).unwrap());
    let mtime = req.mod_time_millis;
    assert!(mtime.is_some());
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let resp = f
        .client
        .put(
            &src,
            &req,
            Some(Arc::new(move |p| s2.store(p.done, Ordering::SeqCst))),
        )
        .await
        .unwrap();
    assert_eq!(resp.size, data.len() as u64);
    assert_eq!(resp.checksum, crc32fast::hash(&data));
    assert_eq!(sent.load(Ordering::SeqCst), data.len() as u64);
    let df = f.catalog.datafile(resp.id).unwrap();
    assert_eq!(df.checksum.as_deref(), Some(resp.checksum_hex().as_str()));
    assert_eq!(df.mod_time_millis, mtime);
    assert_eq!(df.description.as_deref(), Some("round trip"));

    let target = dir.path().join("back.bin");
    f.client
        .download_datafile(resp.id, &target, &f.expected(resp.id), &quick_options())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), data);
}

#[tokio::test]
async fn many_files_concurrently_with_drops() {
    let f = Fixture::new().await;
    let ds = f.catalog.add_dataset(f.investigation, "many");
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    let mut contents = Vec::new();
    for i in 0..20u64 {
        let mut bytes = vec![0u8; 40_000 + i as usize * 1000];
        icat_sim::ids::fill_pattern(i, 0, &mut bytes);
        let loc = format!("many/{i}");
        let st = f
            .server
            .state()
            .storage()
            .write_bytes(&loc, &bytes)
            .unwrap();
        let name = format!("file{i:02}.dat");
        let id = f.catalog.add_datafile(
            ds,
            &name,
            Some(&loc),
            Some(st.size as i64),
            Some(&st.checksum_hex()),
        );
        plan.push(
            DatafileSpec::in_visit_dataset(id, "1.1-P", "many", &name, f.expected(id)).unwrap(),
        );
        contents.push(bytes);
    }
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::Random, Some(10));
    let mut opts = quick_options();
    opts.concurrency = 6;
    opts.retry.max_retries = 10; // at most 10 drops in total, so no file can run out
    let s = f.client.download_plan(&plan, &opts).await.unwrap();
    assert!(s.is_complete(), "{:?}", s.files);
    for (r, bytes) in s.files.iter().zip(&contents) {
        assert_eq!(&std::fs::read(&r.path).unwrap(), bytes);
    }
}

#[tokio::test]
async fn waiting_for_a_restore_honours_cancel_and_deadline() {
    let f = Fixture::with_settings(icat_sim::ids::IdsSettings {
        two_level: true,
        restore_delay: std::time::Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    f.server
        .state()
        .storage()
        .set_archived([f.dataset2], true)
        .unwrap();
    let sel = DataSelection::datasets([f.dataset2]);

    let mut wait = quick_wait();
    wait.deadline = std::time::Duration::from_millis(300);
    let e = f
        .client
        .prepare_and_wait(&sel, Packing::default(), &wait)
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::DeadlineExceeded { .. }), "{e}");

    let mut wait = quick_wait();
    let cancel = CancellationToken::new();
    wait.cancel = cancel.clone();
    let c2 = cancel.clone();
    wait.on_status = Some(Arc::new(move |s| {
        if s.polls >= 2 {
            c2.cancel();
        }
    }));
    let e = f
        .client
        .prepare_and_wait(&sel, Packing::default(), &wait)
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::Cancelled), "{e}");
}
