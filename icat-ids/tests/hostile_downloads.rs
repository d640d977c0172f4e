//! Downloads against a hostile IDS (issue 14, download half): names that look like our
//! temporary files, names that collide on case-insensitive file systems, endless bodies and lying
//! lengths, and bodies that cannot be verified. Each test bounds what the server can send.

mod hostile;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hostile::*;
use icat_ids::download::crc_hex;
use icat_ids::{DatafileSpec, DownloadPlan, Expected, IdsError, Outcome, SafeRelPath};

fn expected_of(bytes: &[u8]) -> Expected {
    Expected {
        size: Some(bytes.len() as u64),
        checksum: Some(crc_hex(crc32fast::hash(bytes))),
    }
}

fn spec(id: i64, path: &str, expected: Expected) -> DatafileSpec {
    DatafileSpec::new(id, SafeRelPath::parse(path).unwrap(), expected)
}

/// Serves datafile `id` as `content(id, sizes[id])`, honouring `Range`.
async fn honest_ids(sizes: Vec<(i64, usize)>) -> HostileIds {
    HostileIds::start(move |req| {
        let Some(id) = datafile_id(req) else {
            return Reply::not_found();
        };
        match sizes.iter().find(|(i, _)| *i == id) {
            Some((_, len)) => {
                let body = content(id, *len);
                let from = req.range_from.unwrap_or(0) as usize;
                let mut reply = Reply::ok(body[from.min(body.len())..].to_vec());
                if req.range_from.is_some() {
                    reply.status = 206;
                }
                reply
            }
            None => Reply::not_found(),
        }
    })
    .await
}

/// Finding 1: a datafile named like our temporary file (`x.part` beside `x`) is a datafile like
/// any other; neither is taken for the other's partial download, in any order or concurrency.
#[tokio::test]
async fn datafile_named_like_the_temporary_file_is_kept_apart() {
    for (order, concurrency) in [([2, 1], 1), ([1, 2], 1), ([2, 1], 4)] {
        let ids = honest_ids(vec![(1, 5000), (2, 9000)]).await;
        let dir = tempfile::tempdir().unwrap();
        let mut plan = DownloadPlan::new(dir.path());
        for id in order {
            let (name, len) = if id == 1 {
                ("x", 5000)
            } else {
                ("x.part", 9000)
            };
            plan.push(spec(
                id,
                &format!("v/d/{name}"),
                expected_of(&content(id, len)),
            ));
        }
        let max = Arc::new(AtomicU64::new(0));
        let mut opts = options(&max);
        opts.concurrency = concurrency;
        let s = client(&ids).download_plan(&plan, &opts).await.unwrap();
        assert!(s.is_complete(), "{order:?}/{concurrency}: {s:?}");
        let d = dir.path().join("v/d");
        assert!(
            std::fs::read(d.join("x")).unwrap() == content(1, 5000),
            "{order:?}: x"
        );
        let other = std::fs::read(d.join("x.part")).unwrap();
        assert!(other == content(2, 9000), "{order:?}: x.part");
        // Nothing of ours is left once every file is in place.
        let names: Vec<_> = files_with_sizes(dir.path())
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}

/// Finding 1: an earlier run's partial download of another datafile never becomes this one's
/// resume data, even when it sits where the old `<name>.part` naming would have looked.
#[tokio::test]
async fn resume_only_takes_the_same_datafiles_partial_data() {
    let ids = honest_ids(vec![(1, 5000)]).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("v/d");
    std::fs::create_dir_all(&d).unwrap();
    // A user's (or another datafile's) file that happens to be called x.part.
    std::fs::write(d.join("x.part"), b"someone else's bytes").unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    // No catalogue values: nothing would catch foreign bytes taken as a resume.
    plan.push(spec(1, "v/d/x", Expected::default()));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    assert!(s.is_complete(), "{s:?}");
    assert!(std::fs::read(d.join("x")).unwrap() == content(1, 5000), "x");
    assert_eq!(
        std::fs::read(d.join("x.part")).unwrap(),
        b"someone else's bytes"
    );
}

/// Finding 1: `A.dat` and `a.dat` in one dataset would be one file on a case-insensitive file
/// system: both are reported, neither is written, the rest of the plan goes ahead.
#[tokio::test]
async fn names_colliding_without_case_are_reported_not_merged() {
    let ids = honest_ids(vec![(1, 100), (2, 200), (3, 300)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/A.dat", expected_of(&content(1, 100))));
    plan.push(spec(2, "v/d/a.dat", expected_of(&content(2, 200))));
    plan.push(spec(3, "v/d/b.dat", expected_of(&content(3, 300))));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    for f in &s.files[..2] {
        match &f.outcome {
            Outcome::Failed(e) => assert!(
                matches!(e.as_ref(), IdsError::NameCollision { .. }),
                "{}: {e}",
                f.path.display()
            ),
            other => panic!("{}: {other:?}", f.path.display()),
        }
    }
    assert!(matches!(s.files[2].outcome, Outcome::Downloaded { .. }));
    let names: Vec<_> = files_with_sizes(dir.path())
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(names, vec![std::path::PathBuf::from("v/d/b.dat")]);
}

/// Finding 2: the catalogue says 1000 bytes, the IDS sends without end (no length, or a lying
/// 50 GB `Content-Length`). The client stops at the expected size: typed error, nothing at the
/// final path, not one byte written past 1000.
#[tokio::test]
async fn endless_body_stops_at_the_catalogue_size() {
    for content_length in [None, Some(50_000_000_000u64)] {
        let ids = HostileIds::start(move |_| Reply::body(Body::Endless { content_length })).await;
        let dir = tempfile::tempdir().unwrap();
        let mut plan = DownloadPlan::new(dir.path());
        plan.push(spec(
            1,
            "v/d/f.dat",
            Expected {
                size: Some(1000),
                checksum: None,
            },
        ));
        let max = Arc::new(AtomicU64::new(0));
        let s = client(&ids)
            .download_plan(&plan, &options(&max))
            .await
            .unwrap();
        match &s.files[0].outcome {
            Outcome::Failed(e) => assert!(
                matches!(e.as_ref(), IdsError::BodyTooLong { expected: 1000, .. }),
                "{content_length:?}: {e}"
            ),
            other => panic!("{content_length:?}: {other:?}"),
        }
        assert!(!dir.path().join("v/d/f.dat").exists());
        assert!(
            max.load(Ordering::SeqCst) <= 1000,
            "{content_length:?}: wrote {max:?}"
        );
        for (p, len) in files_with_sizes(dir.path()) {
            assert!(len <= 1000, "{}: {len} bytes", p.display());
        }
        assert!(
            ids.bytes_sent() < hostile::SERVER_CAP,
            "the client kept reading"
        );
    }
}

/// Finding 11: no catalogue size or checksum and a body without `Content-Length` cut short: the
/// file is placed (nothing says it is wrong) but reported as unverified, never as verified.
#[tokio::test]
async fn body_with_nothing_to_verify_against_is_reported_unverified() {
    let ids = HostileIds::start(|_| Reply::body(Body::CloseDelimited(content(1, 33_333)))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/f.dat", Expected::default()));
    plan.push(spec(
        2,
        "v/d/g.dat",
        Expected {
            size: Some(33_333),
            checksum: None,
        },
    ));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    use icat_ids::download::{FileStatus, UnverifiedReason};
    assert_eq!(
        s.files[0].status(),
        FileStatus::Unverified(UnverifiedReason::NothingToCompare)
    );
    // Only its size vouches for it: not reported as (checksum-)verified.
    assert_eq!(s.files[1].status(), FileStatus::SizeOnly);
    assert_eq!(s.unverified().count(), 1);
    assert!(!s.is_verified());
}

/// Serves datafile 1 (`len` bytes) pausing after `head` bytes at the first request only; later
/// requests get the whole file at once.
async fn pausing_ids(len: usize, head: usize, gate: Gate) -> HostileIds {
    let first = std::sync::atomic::AtomicBool::new(true);
    HostileIds::start(move |_| {
        let body = content(1, len);
        if first.swap(false, Ordering::SeqCst) {
            Reply::body(Body::Paused {
                head: body[..head].to_vec(),
                gate: gate.clone(),
                tail: body[head..].to_vec(),
            })
        } else {
            Reply::ok(body)
        }
    })
    .await
}

/// Review H1: two runs fetch the same file into the same destination. Run A pauses mid-body;
/// run B must not write into A's temporary file (it used to finish and rename, and A then
/// appended to the renamed file: 8192 bytes for a 4096-byte datafile). B is refused at once
/// while A holds the destination; A then finishes with the right bytes.
#[tokio::test]
async fn second_run_into_the_same_destination_is_refused() {
    let gate = Gate::default();
    let ids = pausing_ids(4096, 1000, gate.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/f.dat", expected_of(&content(1, 4096))));
    let max = Arc::new(AtomicU64::new(0));
    let opts = options(&max);
    let run_a = {
        let (c, plan, opts) = (client(&ids), plan.clone(), opts.clone());
        tokio::spawn(async move { c.download_plan(&plan, &opts).await })
    };
    gate.reached().await;
    let b = client(&ids).download_plan(&plan, &opts).await;
    gate.release();
    let a = run_a.await.unwrap().unwrap();
    match b {
        Err(IdsError::DestinationBusy { .. }) => {}
        other => panic!("run B: {other:?}"),
    }
    assert!(a.is_complete(), "run A: {a:?}");
    let got = std::fs::read(dir.path().join("v/d/f.dat")).unwrap();
    assert_eq!(got.len(), 4096);
    assert!(got == content(1, 4096));
    // The lock is gone with the run: nothing of ours is left.
    let names: Vec<_> = files_with_sizes(dir.path())
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(names, vec![std::path::PathBuf::from("v/d/f.dat")]);
    // And a later run may use the destination again.
    let again = client(&ids).download_plan(&plan, &opts).await.unwrap();
    assert!(again.is_complete(), "{again:?}");
}

/// Review H2: while the body is paused, something on this machine replaces the dataset folder
/// by a symbolic link to a folder outside the destination. The finished file must not be
/// renamed through the link: typed local error (not a server error), nothing outside.
#[cfg(unix)]
#[tokio::test]
async fn folder_replaced_by_a_link_mid_transfer_is_not_followed() {
    let gate = Gate::default();
    let ids = pausing_ids(4096, 1000, gate.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let mut plan = DownloadPlan::new(&dest);
    plan.push(spec(1, "v/ds/f.dat", expected_of(&content(1, 4096))));
    let max = Arc::new(AtomicU64::new(0));
    let run = {
        let (c, plan, opts) = (client(&ids), plan.clone(), options(&max));
        tokio::spawn(async move { c.download_plan(&plan, &opts).await })
    };
    gate.reached().await;
    std::fs::remove_dir_all(dest.join("v/ds")).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("v/ds")).unwrap();
    gate.release();
    let s = run.await.unwrap().unwrap();
    match &s.files[0].outcome {
        Outcome::Failed(e) => assert!(
            matches!(e.as_ref(), IdsError::LocalPathChanged { .. }),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(files_with_sizes(&outside), vec![]);
}

/// Leaves `bytes` as an earlier run's partial download of datafile `id` under `dest`.
fn plant_partial(dest: &std::path::Path, id: i64, bytes: &[u8]) {
    let work = dest.join(".icat-download");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join(format!("df-{id}.part")), bytes).unwrap();
}

/// Review M1: a resume request from byte 1000 answered with 206 and `Content-Range: bytes
/// 0-3095/4096` (the right length, the wrong bytes). With a checksum that is not a CRC32 the
/// size alone used to "verify" the spliced file. Now the partial data is thrown away and the
/// file fetched once more from the start; and a file only its size vouches for is reported as
/// `size_only`, never as verified.
#[tokio::test]
async fn partial_answer_that_starts_elsewhere_is_not_spliced() {
    let body = content(1, 4096);
    let ids = {
        let body = body.clone();
        HostileIds::start(move |req| match req.range_from {
            Some(from) => Reply::status(206, body[..4096 - from as usize].to_vec())
                .header("Content-Range", format!("bytes 0-{}/4096", 4095 - from)),
            None => Reply::ok(body.clone()),
        })
        .await
    };
    let dir = tempfile::tempdir().unwrap();
    plant_partial(dir.path(), 1, &body[..1000]);
    let mut plan = DownloadPlan::new(dir.path());
    let md5 = Expected {
        size: Some(4096),
        checksum: Some("md5:00112233445566778899aabbccddeeff".into()),
    };
    plan.push(spec(1, "v/d/f.dat", md5));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    assert!(s.is_complete(), "{s:?}");
    assert!(std::fs::read(dir.path().join("v/d/f.dat")).unwrap() == body);
    use icat_ids::download::FileStatus;
    assert_eq!(s.files[0].status(), FileStatus::SizeOnly);
    assert_eq!(s.files[0].status().as_str(), "size_only");
    let ranges: Vec<_> = ids.requests().iter().map(|r| r.range_from).collect();
    assert_eq!(ranges, vec![Some(1000), None]);
}

/// Review M1: a 206 with a tail of the file to a request for the whole file (no `Range`), with
/// nothing in the catalogue to catch it, used to be placed as the file. Now: `BadRange`,
/// nothing placed.
#[tokio::test]
async fn partial_answer_to_a_whole_file_request_is_refused() {
    let body = content(1, 4096);
    let ids = HostileIds::start(move |_| {
        Reply::status(206, body[1000..].to_vec()).header("Content-Range", "bytes 1000-4095/4096")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/f.dat", Expected::default()));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    match &s.files[0].outcome {
        Outcome::Failed(e) => assert!(matches!(e.as_ref(), IdsError::BadRange { .. }), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("v/d/f.dat").exists());
}

/// Review L1: the server answers the resume request with 416 (the partial data no longer fits
/// its file). The partial data is thrown away and the file fetched once from the start, instead
/// of failing on every run.
#[tokio::test]
async fn range_not_satisfiable_restarts_from_the_start_once() {
    let body = content(1, 4096);
    let ids = {
        let body = body.clone();
        HostileIds::start(move |req| match req.range_from {
            Some(_) => Reply::status(416, Vec::new()),
            None => Reply::ok(body.clone()),
        })
        .await
    };
    let dir = tempfile::tempdir().unwrap();
    plant_partial(dir.path(), 1, &content(9, 1000));
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/f.dat", expected_of(&body)));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    assert!(s.is_complete(), "{s:?}");
    assert!(std::fs::read(dir.path().join("v/d/f.dat")).unwrap() == body);
    let ranges: Vec<_> = ids.requests().iter().map(|r| r.range_from).collect();
    assert_eq!(ranges, vec![Some(1000), None]);
}

/// Review L2: `café` as one code point (NFC) and as `e` + combining accent (NFD) in one dataset
/// are one name on macOS: both reported as colliding, like case twins, neither written.
#[tokio::test]
async fn names_colliding_by_unicode_normalisation_are_reported() {
    let ids = honest_ids(vec![(1, 100), (2, 200), (3, 300)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/caf\u{e9}.dat", expected_of(&content(1, 100))));
    plan.push(spec(
        2,
        "v/d/cafe\u{301}.dat",
        expected_of(&content(2, 200)),
    ));
    plan.push(spec(
        3,
        "v/d/CAFE\u{301}2.dat",
        expected_of(&content(3, 300)),
    ));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    for f in &s.files[..2] {
        match &f.outcome {
            Outcome::Failed(e) => assert!(
                matches!(e.as_ref(), IdsError::NameCollision { .. }),
                "{}: {e}",
                f.path.display()
            ),
            other => panic!("{}: {other:?}", f.path.display()),
        }
    }
    assert!(matches!(s.files[2].outcome, Outcome::Downloaded { .. }));
}

/// Review L4: messages promise only what exists: an existing file is not "asked to
/// overwrite", two datafiles on one path are not told to "keep the zip as a file", an invalid
/// zip is not "kept for inspection" (it is removed).
#[test]
fn local_problem_messages_name_only_what_exists() {
    let exists = IdsError::TargetExists {
        path: "f".into(),
        detail: "size 1 instead of 2".into(),
    }
    .to_string();
    assert!(!exists.contains("ask to overwrite"), "{exists}");
    let dup = IdsError::DuplicatePath {
        path: "v/d/f".into(),
    }
    .to_string();
    assert!(!dup.contains("keep the zip"), "{dup}");
    let bad = IdsError::BadZip {
        path: "z".into(),
        detail: "x".into(),
    }
    .to_string();
    assert!(
        !bad.contains("inspection") && bad.contains("removed"),
        "{bad}"
    );
}

/// A datafile of unknown size (the catalogue's `fileSize` absent or -1) and an endless body,
/// with and without a lying `Content-Length`: the transfer stops at the unknown-size bound (here
/// an explicit 64 KiB cap standing in for the destination's free space minus the margin), typed
/// error, nothing at the final path.
#[tokio::test]
async fn endless_body_of_unknown_size_stops_at_the_room_bound() {
    const CAP: u64 = 64 * 1024;
    for content_length in [None, Some(50_000_000_000u64)] {
        let ids = HostileIds::start(move |_| Reply::body(Body::Endless { content_length })).await;
        let dir = tempfile::tempdir().unwrap();
        let mut plan = DownloadPlan::new(dir.path());
        plan.push(spec(1, "v/d/f.dat", Expected::default()));
        let max = Arc::new(AtomicU64::new(0));
        let mut opts = options(&max);
        opts.unknown_size_limit = Some(CAP);
        let s = client(&ids).download_plan(&plan, &opts).await.unwrap();
        match &s.files[0].outcome {
            Outcome::Failed(e) => assert!(
                matches!(e.as_ref(), IdsError::BodyTooLong { expected: CAP, .. }),
                "{content_length:?}: {e}"
            ),
            other => panic!("{content_length:?}: {other:?}"),
        }
        assert!(!dir.path().join("v/d/f.dat").exists());
        assert!(max.load(Ordering::SeqCst) <= CAP, "{content_length:?}");
        for (p, len) in files_with_sizes(dir.path()) {
            assert!(len <= CAP, "{}: {len} bytes", p.display());
        }
        assert!(
            ids.bytes_sent() < hostile::SERVER_CAP,
            "the client kept reading"
        );
    }
}

/// A datafile `sub` beside `sub/nested.dat` in one dataset: one would have to be a file and a
/// folder at once. Both are reported as `NameCollision` (exit 1), not as "already exists (it is
/// a directory)"; the rest of the dataset downloads.
#[tokio::test]
async fn a_file_named_like_another_files_folder_is_a_name_collision() {
    let ids = honest_ids(vec![(1, 10), (2, 20), (3, 30)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = DownloadPlan::new(dir.path());
    plan.push(spec(1, "v/d/sub", expected_of(&content(1, 10))));
    plan.push(spec(2, "v/d/sub/nested.dat", expected_of(&content(2, 20))));
    plan.push(spec(3, "v/d/other.dat", expected_of(&content(3, 30))));
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &options(&max))
        .await
        .unwrap();
    for f in &s.files[..2] {
        match &f.outcome {
            Outcome::Failed(e) => {
                assert!(matches!(e.as_ref(), IdsError::NameCollision { .. }), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(s.files[2].outcome, Outcome::Downloaded { .. }),
        "{:?}",
        s.files[2]
    );
    assert!(!dir.path().join("v/d/sub").exists());
}
