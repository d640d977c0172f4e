//! Limits and waits as the user writes them (issue 16, fresh-eyes findings): `--limit 0` is
//! refused with what to do instead, `download --max-wait 0` does not wait for tape (it reports
//! what is not online, requests the restore and exits 9), and a query in ICAT's concise syntax
//! that the server refuses gets advice that fits it (not ORDER BY).

mod common;

use std::time::Duration;

use common::{Home, files_under, login, ok, start_sim, start_sim_with, stderr, stdout};

#[test]
fn limit_zero_is_refused_with_what_to_do() {
    let home = Home::new();
    for args in [
        &["visits", "--limit", "0"][..],
        &["search", "SELECT i FROM Investigation i", "--limit", "0"][..],
    ] {
        let o = home.run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("0 would list nothing") && err.contains("leave --limit out"),
            "{err}"
        );
    }
    let help = ok(&home.run(&["visits", "--help"]));
    assert!(help.contains("at least 1"), "{help}");
}

/// `--max-wait 0` was refused ("must be longer than 0s"); it now means: do not wait for tape.
/// The online dataset is downloaded, the archived one is reported as not restored (not
/// failed), and the exit code is 9, which `--help` documents; the dry run foresees it.
#[test]
fn max_wait_zero_downloads_what_is_online_and_exits_9() {
    let sim = start_sim(
        "visits=1,datasets=2,files=2,size=1KiB,archived=0.5",
        true,
        Duration::from_secs(600),
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("out");
    let d = dest.to_str().unwrap();
    let o = home.run(&[
        "download",
        "SIM000001",
        "--dry-run",
        "--max-wait",
        "0",
        "-o",
        d,
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-wait 0"), "{}", stderr(&o));

    let o = home.run(&[
        "download",
        "SIM000001",
        "--max-wait",
        "0",
        "--json",
        "-o",
        d,
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(9), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["verified"], 2, "{doc}");
    assert_eq!(doc["not_restored"], 2, "{doc}");
    assert_eq!(doc["failed"], 0, "{doc}");
    for f in doc["files"].as_array().unwrap() {
        if f["outcome"] == "not_restored" {
            let reason = f["reason"].as_str().unwrap();
            assert!(reason.contains("not waited for: --max-wait 0"), "{reason}");
        }
    }
    assert!(
        err.contains("2 of 4 files are archived and not restored from tape yet")
            && err.contains("give --max-wait a duration"),
        "{err}"
    );
    assert_eq!(files_under(&dest).len(), 2, "{:?}", files_under(&dest));
    let help = ok(&home.run(&["--help"]));
    assert!(
        help.contains("  9    archived data not online yet"),
        "{help}"
    );
}

/// `icat search Investigation` (ICAT's concise syntax) past the server's maxEntities was told
/// to add `ORDER BY x.id`, which means nothing there. The advice is the JPQL form (which icat
/// pages) or `--limit`; and `--limit` works on such a query (the concise `0, N` prefix, not a
/// JPQL LIMIT clause appended).
#[test]
fn concise_queries_get_advice_that_fits_them() {
    let config = icat_sim::process::config::SimConfig {
        max_entities: 5,
        ..Default::default()
    };
    let sim = start_sim_with(
        "visits=8,datasets=1,files=1,size=1KiB",
        false,
        Duration::ZERO,
        config,
    );
    let home = Home::new();
    common::login_with(&home, &sim, "simple", "root");
    let o = home.run(&["search", "Investigation"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("concise syntax") && err.contains("\"SELECT x FROM Investigation x\""),
        "{err}"
    );
    assert!(!err.contains("ORDER BY") && !err.contains(".;"), "{err}");
    let out = ok(&home.run(&["search", "Investigation", "--limit", "3"]));
    assert!(out.contains("(3 results)"), "{out}");
    // The JPQL form it advises is paged past the limit.
    let out = ok(&home.run(&["search", "SELECT x FROM Investigation x"]));
    assert!(out.contains("(8 results)"), "{out}");
}

/// Re-review finding 3: an upload into an archived dataset said "...or use prepare-and-wait" (not
/// an icat command) with exit 5; it names `icat restore --dataset N --wait` and exits 9 (not
/// online yet).
#[test]
fn upload_into_an_archived_dataset_says_restore_first() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=1KiB,archived=1",
        true,
        Duration::from_secs(600),
    );
    let home = Home::new();
    common::login_with(&home, &sim, "simple", "root");
    let tree: serde_json::Value =
        serde_json::from_str(&ok(&home.run(&["show", "SIM000001", "--json"]))).unwrap();
    let ds = tree["datasets"][0]["id"].as_i64().unwrap().to_string();
    let file = home.path().join("notes.txt");
    std::fs::write(&file, b"notes").unwrap();
    let o = home.run(&[
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NeXus",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(9), "{err}");
    assert!(
        err.contains(&format!("icat restore --dataset {ds} --wait"))
            && !err.contains("prepare-and-wait"),
        "{err}"
    );
}
