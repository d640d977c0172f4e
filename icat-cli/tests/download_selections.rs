//! `icat download` selections and reports: dataset names within a visit, `--match`/`--exclude`
//! on `dataset/file` paths, `--dry-run`, `--json`, `--overwrite`, and `show --csv`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Home, Sim, files_under, json, login, ok, start_sim, stderr, stdout};

/// One visit of 3 datasets x 3 files of 2 KiB; datasets and files by name, in order.
fn setup(two_level: bool, archived: bool) -> (Sim, Home, Vec<(String, Vec<String>)>) {
    let spec = if archived {
        "visits=1,datasets=3,files=3,size=2KiB,archived=1"
    } else {
        "visits=1,datasets=3,files=3,size=2KiB"
    };
    let sim = start_sim(spec, two_level, Duration::from_millis(200));
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let datasets = tree["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ds| {
            let files = ds["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_owned())
                .collect();
            (ds["name"].as_str().unwrap().to_owned(), files)
        })
        .collect();
    (sim, home, datasets)
}

fn names(dest: &Path) -> Vec<String> {
    files_under(dest)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn dataset_names_within_a_visit() {
    let (_sim, home, datasets) = setup(false, false);
    let (ds, files) = &datasets[1];
    let dest = home.path().join("one");
    let out = ok(&home.run(&[
        "download",
        "SIM000001",
        "--dataset",
        ds,
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 3 files"), "{out}");
    let got = names(&dest);
    assert_eq!(got.len(), files.len());
    assert!(
        got.iter().all(|p| p.contains(&format!("/{ds}/"))),
        "{got:?}"
    );

    let o = home.run(&["download", "SIM000001", "--dataset", "no-such-dataset"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-dataset"), "{}", stderr(&o));
    let o = home.run(&["download", "--dataset", ds]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("VISIT"), "{}", stderr(&o));
    // status and restore take the same selection.
    let doc = json(&home.run(&["status", "SIM000001", "--dataset", ds, "--json"]));
    assert_eq!(doc["items"].as_array().unwrap().len(), 1);
    assert_eq!(doc["items"][0]["name"], ds.as_str());
}

#[test]
fn match_paths_alternatives_and_exclude() {
    let (_sim, home, datasets) = setup(false, false);
    let (ds0, files0) = &datasets[0];
    let (ds2, files2) = &datasets[2];
    let dest = home.path().join("m");
    let out = ok(&home.run(&[
        "download",
        "SIM000001",
        "--match",
        &format!("{{{ds0},{ds2}}}/*"),
        "--exclude",
        &files0[0],
        "--exclude",
        &format!("{ds2}/{}", files2[1]),
        "-o",
        dest.to_str().unwrap(),
    ]));
    // Synthetic datasets name their files alike (df00001.nxs, ...): a name-only pattern
    // applies in every dataset, a path pattern in one.
    assert_eq!(files0, files2);
    assert!(out.contains("downloaded 3 files"), "{out}");
    let got = names(&dest);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(!got.iter().any(|p| p.ends_with(&files0[0])), "{got:?}");
    assert!(
        got.iter()
            .any(|p| p.ends_with(&format!("{ds0}/{}", files0[1]))),
        "{got:?}"
    );
    assert!(
        !got.iter()
            .any(|p| p.ends_with(&format!("{ds2}/{}", files2[1]))),
        "{got:?}"
    );
    assert!(!got.iter().any(|p| p.contains(&datasets[1].0)), "{got:?}");
    // Repeated --match adds up.
    let dest = home.path().join("r");
    ok(&home.run(&[
        "download",
        "SIM000001",
        "--match",
        &format!("{ds0}/{}", files0[1]),
        "--match",
        &format!("{ds2}/*"),
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert_eq!(names(&dest).len(), 4);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let (_sim, home, datasets) = setup(true, true);
    let dest = home.path().join("d");
    let (ds, files) = &datasets[0];
    // Get one dataset onto disk, then spoil one file and leave a .part of another.
    let status = json(&home.run(&["status", "SIM000001", "--json"]));
    let ds_id = status["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == ds.as_str())
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    ok(&home.run(&[
        "download",
        "--dataset",
        &ds_id,
        "-o",
        dest.to_str().unwrap(),
    ]));
    let visit_dir = std::fs::read_dir(&dest)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(visit_dir.join(ds).join(&files[0]), b"changed").unwrap();
    std::fs::remove_file(visit_dir.join(ds).join(&files[1])).unwrap();
    // A partial download of the second file, where the download engine keeps them.
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let id = tree["datasets"][0]["files"][1]["id"].as_i64().unwrap();
    assert_eq!(tree["datasets"][0]["files"][1]["name"], files[1].as_str());
    let work = dest.join(".icat-download");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join(format!("df-{id}.part")), [0u8; 100]).unwrap();
    let before = names(&dest);

    let o = home.run(&[
        "download",
        "SIM000001",
        "--dry-run",
        "-o",
        dest.to_str().unwrap(),
    ]);
    // A local file differs: the plan is printed, and the exit code is the real run's (6).
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Nothing was changed"), "{text}");
    assert!(
        text.contains("1 present and verified")
            && text.contains("1 differ")
            && text.contains("1 would resume")
            && text.contains("6 to download"),
        "{text}"
    );
    assert!(text.contains("restore from tape"), "{text}");
    let doc = json(&home.run(&[
        "download",
        "SIM000001",
        "--dry-run",
        "--overwrite",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]));
    let planned = doc["files"].as_array().unwrap();
    assert_eq!(planned.len(), 9);
    assert_eq!(doc["to_transfer"], 7 * 2048 - 100);
    assert!(doc["need_restore"].as_u64().unwrap() >= 1, "{doc}");
    let resume = planned.iter().find(|f| f["local"] == "resume").unwrap();
    assert_eq!(resume["resume_from"], 100);
    assert_eq!(names(&dest), before, "nothing on disk changed");
    let fresh = home.path().join("never-created");
    ok(&home.run(&[
        "download",
        "SIM000001",
        "--dry-run",
        "-o",
        fresh.to_str().unwrap(),
    ]));
    assert!(!fresh.exists(), "a dry run creates no directory");
}

#[test]
fn json_report_mismatch_exit_6_and_overwrite() {
    let (_sim, home, datasets) = setup(false, false);
    let dest = home.path().join("j");
    let doc = json(&home.run(&[
        "download",
        "SIM000001",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert_eq!(doc["ok"], true);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 9);
    for f in files {
        assert_eq!(f["outcome"], "verified", "{f}");
        assert!(f["path"].is_string() && f["size"] == 2048 && f["checksum"].is_string());
    }
    let (ds, names0) = &datasets[0];
    let spoiled = files
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{ds}/{}", names0[0]))
        })
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(dest.join(&spoiled), b"local edit").unwrap();

    // Left in place: exit 6, the JSON report still printed, the file named with the reason.
    let o = home.run(&[
        "download",
        "SIM000001",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["skipped"], 8);
    let failed: Vec<&serde_json::Value> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["path"], spoiled.as_str());
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{}",
        failed[0]
    );
    assert_eq!(std::fs::read(dest.join(&spoiled)).unwrap(), b"local edit");
    // Without --json the summary line is printed too, and the advice names --overwrite.
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stdout(&o).contains("8 already present"), "{}", stdout(&o));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));

    let out = ok(&home.run(&[
        "download",
        "SIM000001",
        "--overwrite",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 1 file "), "{out}");
    assert_eq!(std::fs::metadata(dest.join(&spoiled)).unwrap().len(), 2048);
}

#[test]
fn show_csv_lists_one_row_per_file() {
    let (_sim, home, datasets) = setup(false, false);
    let csv = ok(&home.run(&["show", "SIM000001", "--csv"]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("DATASET_ID,DATASET,DATAFILE_ID,FILE,SIZE,CHECKSUM,CREATED")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 9, "{csv}");
    assert!(
        rows[0].contains(&datasets[0].0) && rows[0].contains(",2048,"),
        "{csv}"
    );
}

/// `--dry-run` sees what an interrupted striped download left (its temporary file and state):
/// the file would resume with the bytes its shares hold, as the real run does.
#[test]
fn dry_run_reports_the_bytes_a_striped_partial_resumes() {
    let (_sim, home, _datasets) = setup(false, false);
    let dest = home.path().join("s");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let f = &tree["datasets"][0]["files"][0];
    let id = f["id"].as_i64().unwrap();
    let size = f["size"].as_u64().unwrap();
    let checksum = f["checksum"].as_str().unwrap();
    // What an interrupted transfer in two shares left: 100 bytes of the first share, 50 of the
    // second (icat-ids' state file format: size, checksum, then per share from, to, done).
    let work = dest.join(".icat-download");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join(format!("df-{id}.stripes.part")),
        vec![0u8; size as usize],
    )
    .unwrap();
    let half = size / 2;
    std::fs::write(
        work.join(format!("df-{id}.stripes.state")),
        format!(
            "icat-stripes 1\nsize {size}\nchecksum {checksum}\nshare 0 {half} 100\nshare {half} {size} {}\n",
            half + 50
        ),
    )
    .unwrap();
    let doc = json(&home.run(&[
        "download",
        "SIM000001",
        "--dry-run",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]));
    let planned = doc["files"].as_array().unwrap();
    let resume: Vec<_> = planned.iter().filter(|f| f["local"] == "resume").collect();
    assert_eq!(resume.len(), 1, "{doc}");
    assert_eq!(resume[0]["resume_from"], 150, "{doc}");
    assert_eq!(doc["to_transfer"], 9 * 2048 - 150, "{doc}");
}
