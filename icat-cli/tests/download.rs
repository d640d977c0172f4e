//! `icat download`, `status`, `restore`, `upload` against the simulator: verified files on disk,
//! resume after an interruption, restores from "tape".

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Home, files_under, json, login, login_with, ok, size_and_crc, start_sim, stderr};

/// Checks every downloaded file against what `icat show --json` says about it.
fn assert_verified(home: &Home, visit: &str, dest: &Path) -> usize {
    let doc = json(&home.run(&["show", visit, "--json"]));
    let mut n = 0;
    for ds in doc["datasets"].as_array().unwrap() {
        for f in ds["files"].as_array().unwrap() {
            let path = dest
                .join(doc["visit_id"].as_str().unwrap())
                .join(ds["name"].as_str().unwrap())
                .join(f["name"].as_str().unwrap());
            if !path.exists() {
                continue;
            }
            let (size, crc) = size_and_crc(&path);
            assert_eq!(Some(size), f["size"].as_u64(), "{}", path.display());
            assert_eq!(
                crc,
                f["checksum"].as_str().unwrap().trim_start_matches('0'),
                "{}",
                path.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn download_a_visit_then_rerun_skips_everything() {
    let sim = start_sim(
        "visits=2,datasets=2,files=3,size=20KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("out");
    let out = ok(&home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]));
    assert!(out.contains("downloaded 6 files"), "{out}");
    assert!(out.contains("files are in"), "{out}");
    assert_eq!(files_under(&dest).len(), 6);
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 6);
    let out = ok(&home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]));
    assert!(
        out.contains("downloaded 0 files") && out.contains("6 already present"),
        "{out}"
    );
}

#[test]
fn download_datafiles_datasets_match_and_zip() {
    let sim = start_sim(
        "visits=1,datasets=2,files=4,size=8KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ds0 = &tree["datasets"][0];
    let ds1 = &tree["datasets"][1];
    let f0 = ds0["files"][0]["id"].as_i64().unwrap().to_string();
    let f1 = ds0["files"][1]["id"].as_i64().unwrap().to_string();

    // --no-fsync only skips the flush to disk: the files are still verified and renamed.
    let dest = home.path().join("single");
    let out = ok(&home.run(&[
        "download",
        "--no-fsync",
        "--datafile",
        &format!("{f0},{f1}"),
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 2 files"), "{out}");
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 2);

    let name = ds1["files"][2]["name"].as_str().unwrap().to_string();
    let dest = home.path().join("matched");
    let ds1_id = ds1["id"].as_i64().unwrap().to_string();
    let out = ok(&home.run(&[
        "download",
        "--dataset",
        &ds1_id,
        "--match",
        &name,
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 1 file "), "{out}");
    assert_eq!(files_under(&dest).len(), 1);

    let dest = home.path().join("zip");
    let out = ok(&home.run(&[
        "download",
        "--dataset",
        &ds1_id,
        "--zip",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 4 files"), "{out}");
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 4);
    assert!(
        files_under(&dest)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".zip"))
    );

    let o = home.run(&[
        "download",
        "--datafile",
        "999999",
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = home.run(&[
        "download",
        "SIM000001",
        "--match",
        "*.nothing",
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

/// Bytes in the download's work folder (partial files and the zip of a bundle under way).
fn work_bytes(dest: &Path) -> u64 {
    let work = dest.join(".icat-download");
    files_under(&work)
        .iter()
        .filter_map(|p| std::fs::metadata(work.join(p)).ok())
        .map(|m| m.len())
        .sum()
}

/// Starts a download of 24 files of 8 MiB (one bundle: they are small enough), stops it with
/// `signal` once a file is in place or 3 files' worth of data has arrived, and checks the
/// stop: exit 130, every file at its final path verified (the files of the bundle that arrived
/// whole are kept), and the rerun completes the rest. Waits on what arrived, not on a clock.
#[cfg(unix)]
fn stop_with_signal_then_resume(signal: &str, said: &str) {
    let sim = start_sim(
        "visits=1,datasets=1,files=24,size=8MiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("out");
    let mut child = home
        .icat(&[
            "download",
            "SIM000001",
            "--parallel",
            "1",
            "-o",
            dest.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let placed = |dest: &Path| {
        files_under(dest)
            .iter()
            .filter(|p| !p.to_string_lossy().ends_with(".part") && !p.starts_with(".icat-download"))
            .count()
    };
    // A safety bound only (the wait ends on data arriving): a stuck run fails below.
    let start = Instant::now();
    while placed(&dest) == 0
        && work_bytes(&dest) < 3 * (8 << 20) + (1 << 20)
        && start.elapsed() < Duration::from_secs(600)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args([signal, &pid])
        .status();
    let o = child.wait_with_output().unwrap();
    let finished = placed(&dest);
    if o.status.success() {
        eprintln!("the download finished before the signal arrived; resume not exercised this run");
    } else {
        assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
        assert!(stderr(&o).contains(said), "{}", stderr(&o));
        assert!(stderr(&o).contains("resume"), "{}", stderr(&o));
        assert!(finished < 24, "not everything was done");
        assert!(
            finished >= 1,
            "files that arrived whole were thrown away: {}",
            stderr(&o)
        );
        // Every final file is complete and verified; the rest are .part or absent.
        assert_eq!(assert_verified(&home, "SIM000001", &dest), finished);
    }
    let out = ok(&home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]));
    assert!(
        out.contains(&format!("{finished} already present")),
        "{out}"
    );
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 24);
    assert!(
        files_under(&dest)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".part"))
    );
}

#[cfg(unix)]
#[test]
fn interrupted_download_resumes_to_verified_files() {
    stop_with_signal_then_resume("-INT", "interrupted");
}

/// SIGTERM (kill, systemd, a batch scheduler) stops a download like Ctrl-C does.
#[cfg(unix)]
#[test]
fn terminated_download_stops_cleanly_and_resumes() {
    stop_with_signal_then_resume("-TERM", "terminated (SIGTERM)");
}

/// Reviewer finding 1 (issue 19), the reviewer's own scenario: on `wan` with
/// `connectionRate = "8Mbit/s"` and `linkRate = "16Mbit/s"`, 3 datasets of 100 files of 64 KiB
/// (three bundles under way at once), SIGTERM once about 1.5 MiB of the bundles' zips have
/// arrived (the reviewer's 7 s, measured on what arrived). Before the fix no file was kept and
/// the work folder was gone; now every entry that arrived whole is at its final path,
/// verified, the message says what was kept, and the rerun skips those files and fetches the
/// rest.
#[cfg(unix)]
#[test]
fn a_stop_during_shaped_bundles_keeps_their_whole_entries() {
    let config = icat_sim::process::config::SimConfig::from_toml_str(
        "[network]\npreset = \"wan\"\nconnectionRate = \"8Mbit/s\"\nlinkRate = \"16Mbit/s\"\n",
        "test",
    )
    .unwrap();
    let sim = common::start_sim_with(
        "visits=1,datasets=3,files=100,size=64KiB,seed=3",
        false,
        Duration::ZERO,
        config,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("out");
    let child = home
        .icat(&["download", "SIM000001", "-o", dest.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let placed = |dest: &Path| {
        files_under(dest)
            .iter()
            .filter(|p| !p.starts_with(".icat-download"))
            .count()
    };
    // A safety bound only (the wait ends on data arriving).
    let start = Instant::now();
    let mut child = child;
    while work_bytes(&dest) < 3 << 19
        && start.elapsed() < Duration::from_secs(600)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    let kept = placed(&dest);
    if o.status.success() {
        eprintln!("the download finished before the signal arrived; the stop not exercised");
    } else {
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(130), "{err}");
        assert!(err.contains("terminated (SIGTERM)"), "{err}");
        assert!(
            err.contains("the files that arrived whole are kept"),
            "{err}"
        );
        assert!(
            kept >= 1,
            "the bundles' whole entries were thrown away: {err}"
        );
        assert!(kept < 300, "not everything was done");
        assert_eq!(assert_verified(&home, "SIM000001", &dest), kept);
        // The rerun's plan shows them present.
        let plan = ok(&home.run(&[
            "download",
            "SIM000001",
            "--dry-run",
            "-o",
            dest.to_str().unwrap(),
        ]));
        assert!(
            plan.contains(&format!("{kept} present and verified")),
            "{plan}"
        );
    }
    let out = ok(&home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]));
    assert!(out.contains(&format!("{kept} already present")), "{out}");
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 300);
}

#[test]
fn archived_data_status_restore_and_download() {
    let sim = start_sim(
        "visits=1,datasets=2,files=2,size=4KiB,archived=1",
        true,
        Duration::from_millis(800),
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let doc = json(&home.run(&["status", "SIM000001", "--json"]));
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i["status"] == "ARCHIVED" && i["kind"] == "dataset"),
        "{doc}"
    );
    let ds = items[0]["id"].as_i64().unwrap().to_string();
    let out = ok(&home.run(&["restore", "--dataset", &ds, "--wait"]));
    assert!(
        out.contains("restore requested for 1 dataset\n") && out.contains("online"),
        "{out}"
    );
    let doc = json(&home.run(&["status", "--dataset", &ds, "--json"]));
    assert_eq!(doc["items"][0]["status"], "ONLINE");
    // The other dataset is still archived: download waits for its restore.
    let dest = home.path().join("out");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    let out = ok(&o);
    assert!(out.contains("downloaded 4 files"), "{out}");
    assert!(
        stderr(&o).contains("restore"),
        "the wait is shown: {}",
        stderr(&o)
    );
    assert_eq!(assert_verified(&home, "SIM000001", &dest), 4);
}

#[test]
fn upload_then_download_round_trips() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    // Uploads need write access: root may write.
    login_with(&home, &sim, "simple", "root");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ds = tree["datasets"][0]["id"].as_i64().unwrap().to_string();
    let file = home.path().join("notes.txt");
    let content: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(&file, &content).unwrap();
    let out = ok(&home.run(&[
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NeXus",
    ]));
    assert!(out.contains("verified"), "{out}");
    let id: String = out
        .split("as datafile ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let dest = home.path().join("back");
    ok(&home.run(&["download", "--datafile", &id, "-o", dest.to_str().unwrap()]));
    let got = files_under(&dest);
    assert_eq!(got.len(), 1);
    assert!(got[0].ends_with("notes.txt"));
    assert_eq!(std::fs::read(dest.join(&got[0])).unwrap(), content);
    // The same name again: one line saying what to do, a usage exit (not a retried server fault).
    let o = home.run(&[
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NeXus",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("already has a datafile named \"notes.txt\"")
            && err.contains("rename the file")
            && err.lines().filter(|l| l.starts_with("error:")).count() == 1,
        "{err}"
    );
    let o = home.run(&[
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NoSuchFormat",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

/// Refusals of an upload: no write access to the dataset is one line naming the user, with
/// advice about access (not "log in again", no doubled period), exit 8 (permission denied,
/// not 3, which `--help` documents as "authentication failed"); format names match whatever
/// their letter case, and an unknown one gets a suggestion.
#[test]
fn upload_refusals_say_what_to_do() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ds = tree["datasets"][0]["id"].as_i64().unwrap().to_string();
    let file = home.path().join("notes.txt");
    std::fs::write(&file, b"some notes").unwrap();
    let upload = |home: &Home, format: &str| {
        home.run(&[
            "upload",
            file.to_str().unwrap(),
            "--dataset",
            &ds,
            "--format",
            format,
        ])
    };
    let o = upload(&home, "nexus");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(8), "{err}");
    let help = ok(&home.run(&["--help"]));
    assert!(help.contains("  8    permission denied"), "{help}");
    assert!(
        err.contains(&format!("db/jdoe may not add files to dataset {ds}"))
            && err.contains("write access"),
        "{err}"
    );
    assert!(
        !err.contains("..") && !err.contains(".;") && !err.contains("Log in again"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    // As root: any letter case of a format name works, a misspelt one gets a suggestion.
    let root = Home::new();
    login_with(&root, &sim, "simple", "root");
    let o = upload(&root, "NEXUS");
    assert!(ok(&o).contains("verified"), "{}", stderr(&o));
    let o = upload(&root, "nexsu");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did you mean --format NeXus"),
        "{}",
        stderr(&o)
    );
}
