//! Findings of a fresh-eyes user trial (issue 16, second round): tape files not restored in
//! time, dry runs that promise too much, `--limit` on unordered searches, mismatch and replace
//! messages, `--match` with plan paths, `-q` and `--json` summaries, the simulator's start-up
//! lines.

mod common;

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use common::{Home, json, login, ok, start_sim, start_sim_with, stderr, stdout};

/// Finding 1: archived files not restored within `--max-wait` are "not restored yet", not
/// "failed"; the wait lasts the whole `--max-wait` and is said in whole seconds, without library
/// terms (prepared id, deadline); one line says what to do; exit 9 (documented for it: not
/// online yet, which scripts can tell from a server error, 5).
#[test]
fn files_not_restored_within_max_wait_are_not_failures() {
    let sim = start_sim(
        "visits=1,datasets=1,files=3,size=1KiB,archived=1",
        true,
        Duration::from_secs(600),
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("d3");
    let o = home.run(&[
        "download",
        "SIM000001",
        "-o",
        dest.to_str().unwrap(),
        "--max-wait",
        "1s",
        "--json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(9), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON on stdout");
    let files = doc["files"].as_array().unwrap();
    let waiting: Vec<&serde_json::Value> = files
        .iter()
        .filter(|f| f["outcome"] == "not_restored")
        .collect();
    assert!(!waiting.is_empty(), "{doc}");
    assert_eq!(doc["failed"], 0, "{doc}");
    assert_eq!(doc["not_restored"], waiting.len(), "{doc}");
    for f in &waiting {
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.contains("--max-wait"), "{reason}");
        for word in ["prepared id", "deadline", "ms", "waited 0 s"] {
            assert!(!reason.contains(word), "{word:?} in {reason}");
        }
    }
    let advice: Vec<&str> = err.lines().filter(|l| l.contains("--max-wait")).collect();
    assert_eq!(advice.len(), 1, "one line of advice: {err}");
    assert!(advice[0].contains("not restored"), "{err}");
    assert!(!err.contains("failed"), "{err}");
    assert!(
        icat_cli::failure::EXIT_CODES_HELP.contains("--max-wait"),
        "exit 9 documents it"
    );
}

/// Finding 4: a dry run runs the real run's destination checks (same exit code, 2).
#[test]
fn a_dry_run_checks_the_destination_like_the_real_run() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let file = home.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    for dry in [true, false] {
        let mut args = vec!["download", "SIM000001", "-o", file.to_str().unwrap()];
        if dry {
            args.push("--dry-run");
        }
        let o = home.run(&args);
        assert_eq!(o.status.code(), Some(2), "dry {dry}: {}", stderr(&o));
        assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
        assert!(
            !stdout(&o).contains("Nothing was changed"),
            "{}",
            stdout(&o)
        );
    }
    // One selected file: "1 file", not "1 files".
    let dest = home.path().join("one");
    let out = ok(&home.run(&[
        "download",
        "SIM000001",
        "--match",
        "*1.*",
        "--dry-run",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("dry run: 1 file ("), "{out}");
    assert!(!dest.exists(), "a dry run creates nothing");
}

/// Finding 6: `--limit N` on a query without ORDER BY or LIMIT adds `LIMIT 0, N` (when the
/// server allows N results); beyond the server's limit the advice stays.
#[test]
fn search_limit_limits_an_unordered_query() {
    let config = icat_sim::process::config::SimConfig {
        max_entities: 40,
        ..Default::default()
    };
    let sim = start_sim_with(
        "visits=50,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
        config,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let q = "SELECT d.name FROM Datafile d";
    let doc = json(&home.run(&["search", q, "--limit", "3", "--json"]));
    assert_eq!(doc["count"], 3, "{doc}");
    let o = home.run(&["search", q, "--limit", "60"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("ORDER BY"), "{}", stderr(&o));
}

/// Finding 7: `visits --help` does not claim one query (counts take more).
#[test]
fn visits_help_says_how_it_counts() {
    let out = ok(&Home::new().run(&["visits", "--help"]));
    assert!(!out.contains("(one query)"), "{out}");
}

/// Findings 8, 10 and 11: the mismatch line names the path once and `--overwrite`; a run that
/// replaced a file says so; `-q` prints no summary; `--json` keeps the summary on stderr.
#[test]
fn mismatch_overwrite_quiet_and_json_summaries() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("ro");
    let d = dest.to_str().unwrap();
    let o = home.run(&["-q", "download", "SIM000001", "-o", d]);
    assert_eq!(ok(&o), "", "-q: errors only");
    assert_eq!(stderr(&o), "");
    let o = home.run(&["download", "SIM000001", "-o", d, "--json"]);
    let doc = json(&o);
    assert_eq!(doc["skipped"], 2);
    assert!(
        stderr(&o).contains("already present and verified"),
        "summary on stderr: {}",
        stderr(&o)
    );
    let path = doc["files"][0]["path"].as_str().unwrap().to_owned();
    std::fs::write(dest.join(&path), b"local edit").unwrap();
    let o = home.run(&["download", "SIM000001", "-o", d]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let line = stderr(&o)
        .lines()
        .find(|l| l.starts_with("failed:"))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(line.matches(path.as_str()).count(), 1, "{line}");
    assert!(line.contains("--overwrite"), "{line}");
    let out = ok(&home.run(&["download", "SIM000001", "-o", d, "--overwrite"]));
    assert!(out.contains("1 local file replaced"), "{out}");
}

/// Finding 9: a `--match` path written as the plan prints it (with the visit folder) selects;
/// a pattern that matches nothing shows what paths look like; `--exclude '*'` says it excluded
/// everything.
#[test]
fn match_takes_plan_paths_and_explains_misses() {
    let sim = start_sim(
        "visits=2,datasets=2,files=2,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("m");
    let d = dest.to_str().unwrap();
    let plan = json(&home.run(&["download", "SIM000002", "--dry-run", "--json", "-o", d]));
    let first = plan["files"][0]["path"].as_str().unwrap().to_owned();
    let folder = first.rsplit_once('/').unwrap().0;
    let pattern = format!("{folder}/*");
    let plan = json(&home.run(&[
        "download",
        "SIM000002",
        "--match",
        &pattern,
        "--dry-run",
        "--json",
        "-o",
        d,
    ]));
    assert_eq!(plan["files"].as_array().unwrap().len(), 2, "{plan}");
    let o = home.run(&["download", "SIM000002", "--match", "nothing/*", "-o", d]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let dataset_path = first.split_once('/').unwrap().1;
    assert!(stderr(&o).contains(dataset_path), "{}", stderr(&o));
    let o = home.run(&["download", "SIM000002", "--exclude", "*", "-o", d]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("excludes all 4"), "{}", stderr(&o));
}

/// Finding 12: `icat sim serve` says which test accounts it serves, and summarises the archived
/// datasets instead of listing thousands of ids.
#[test]
fn sim_serve_names_its_accounts_and_summarises_archived_datasets() {
    let home = Home::new();
    let mut child = home
        .icat(&[
            "-v",
            "sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--two-level",
            "--synthetic",
            "visits=100,datasets=2,files=1,size=1KiB,archived=1",
            "--storage",
            home.path().join("storage").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let _wsdl = out.next();
    let _ids = out.next();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(err.contains("jdoe") && err.contains("secret"), "{err}");
    let summary = err
        .lines()
        .find(|l| l.contains("synthetic facility"))
        .unwrap_or_default();
    assert!(summary.contains("200"), "{summary}");
    assert!(summary.len() < 400, "{summary}");
}
