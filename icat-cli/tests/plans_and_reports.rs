//! `icat download --dry-run` and `--json` tell what the real run does (issue 16, fresh-eyes
//! findings): files whose names cannot be local paths are listed as would-fail, a local file
//! that differs makes the dry run exit as the real run would, `--json` gives such files a null
//! path and a reason, files replaced with `--overwrite` are "replaced", and a `--zip` download
//! is checked for room for the zip and its extracted files.

mod common;

use std::time::Duration;

use common::{Home, Sim, files_under, json, login_with, ok, start_sim, stderr, stdout};

/// One visit of one dataset with 3 files of 1 KiB, logged in as root; the datafile ids in order.
fn setup() -> (Sim, Home, Vec<i64>) {
    let sim = start_sim(
        "visits=1,datasets=1,files=3,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login_with(&home, &sim, "simple", "root");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ids = tree["datasets"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    (sim, home, ids)
}

/// Finding M1: `--dry-run` left out a datafile whose name cannot be a local path (the real run
/// fails it). It is listed as would-fail with the real run's reason, the plan's other files
/// stay aligned with their own sizes, and the dry run exits as the real run does (5). The real
/// run's `--json` gives it a null path (was `""`) and the reason.
#[test]
fn unsafe_names_are_planned_as_would_fail_and_reported_with_null_path() {
    let (sim, home, ids) = setup();
    // The first file: a name that is the dataset folder itself; the second one grows, so a
    // shifted plan would show the wrong size.
    sim.sql(&format!(
        "UPDATE \"Datafile\" SET \"name\" = '..' WHERE \"id\" = {}",
        ids[0]
    ));
    let dest = home.path().join("out");
    let d = dest.to_str().unwrap();
    let o = home.run(&["download", "SIM000001", "--dry-run", "-o", d]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{text}\n{}", stderr(&o));
    assert!(
        text.contains("would fail: refusing unsafe name") && text.contains("1 would fail"),
        "{text}"
    );
    assert!(stderr(&o).contains("1 file would fail"), "{}", stderr(&o));
    let o = home.run(&["download", "SIM000001", "--dry-run", "--json", "-o", d]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let files = plan["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{plan}");
    let bad = files.iter().find(|f| f["id"] == ids[0]).unwrap();
    assert_eq!(bad["local"], "unsafe_name", "{bad}");
    assert!(bad["path"].is_null(), "{bad}");
    assert!(
        bad["reason"].as_str().unwrap().contains("unsafe name"),
        "{bad}"
    );
    assert_eq!(plan["would_fail"], 1);
    assert_eq!(plan["to_transfer"], 2 * 1024);
    assert!(!dest.exists(), "a dry run creates nothing");

    // The real run agrees: 5, and its report names no empty path.
    let o = home.run(&["download", "SIM000001", "--json", "-o", d]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let bad = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == ids[0])
        .unwrap()
        .clone();
    assert_eq!(bad["outcome"], "failed", "{bad}");
    assert!(bad["path"].is_null(), "{bad}");
    assert!(
        bad["reason"].as_str().unwrap().contains("unsafe name"),
        "{bad}"
    );
    assert_eq!(files_under(&dest).len(), 2);
}

/// Findings: `--dry-run` with a local file that differs exited 0 (the real run exits 6), and
/// `--overwrite --json` called the replaced file "verified".
#[test]
fn differing_files_make_the_dry_run_exit_6_and_replacements_say_so() {
    let (_sim, home, _ids) = setup();
    let dest = home.path().join("out");
    let d = dest.to_str().unwrap();
    let doc = json(&home.run(&["download", "SIM000001", "--json", "-o", d]));
    let path = doc["files"][0]["path"].as_str().unwrap().to_owned();
    std::fs::write(dest.join(&path), b"local edit").unwrap();

    let o = home.run(&["download", "SIM000001", "--dry-run", "-o", d]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 differ"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("1 local file differs") && err.contains("--overwrite"),
        "{err}"
    );
    // With --overwrite the real run would replace it: the dry run exits 0.
    ok(&home.run(&["download", "SIM000001", "--dry-run", "--overwrite", "-o", d]));
    assert_eq!(std::fs::read(dest.join(&path)).unwrap(), b"local edit");

    let doc = json(&home.run(&["download", "SIM000001", "--overwrite", "--json", "-o", d]));
    let replaced = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path.as_str())
        .unwrap()
        .clone();
    assert_eq!(replaced["outcome"], "replaced", "{replaced}");
    assert!(
        replaced["reason"].as_str().unwrap().contains("--overwrite"),
        "{replaced}"
    );
    assert_eq!(doc["replaced"], 1);
    assert_eq!(doc["skipped"], 2);
    assert_eq!(std::fs::metadata(dest.join(&path)).unwrap().len(), 1024);
}

/// Bytes free on the file system holding `dir`.
#[cfg(unix)]
fn free_space(dir: &std::path::Path) -> u64 {
    let st = rustix::fs::statvfs(dir).unwrap();
    st.f_bavail * st.f_frsize
}

/// Finding M3: a `--zip` download stores the whole zip before extracting it, so it needs room
/// for the data twice; the room check asked for it once. The catalogue says the selection is
/// 3/5 of the free space: it fits once (with the margin), not twice. Nothing is downloaded.
#[cfg(unix)]
#[test]
fn a_zip_download_is_checked_for_room_twice() {
    let (sim, home, ids) = setup();
    let free = free_space(home.path());
    let each = free / 5;
    sim.sql(&format!(
        "UPDATE \"Datafile\" SET \"fileSize\" = {each} WHERE \"id\" IN ({}, {}, {})",
        ids[0], ids[1], ids[2]
    ));
    let d = home.path().join("out");
    let d = d.to_str().unwrap();
    ok(&home.run(&["download", "SIM000001", "--dry-run", "-o", d]));
    let o = home.run(&["download", "SIM000001", "--dry-run", "--zip", "-o", d]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("not enough room")
            && err.contains("once as the zip and once extracted")
            && err.contains("without --zip"),
        "{err}"
    );
    // The real run refuses before the first byte, with the same words.
    let o = home.run(&["download", "SIM000001", "--zip", "-o", d]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("once as the zip"), "{}", stderr(&o));
}
