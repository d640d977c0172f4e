//! Output for people: no colour codes in a redirected stderr, one style of warning line (the log
//! style only with -v), and counts in the right number ("1 minute", "1 result", "1 file").

mod common;

use std::time::Duration;

use common::{Home, json, login_with, ok, start_sim, start_sim_with, stderr, stdout};

const SPEC: &str = "visits=1,datasets=1,files=1,size=1KiB";

#[cfg(unix)]
#[test]
fn redirected_stderr_has_no_colour_and_plain_warning_lines() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    common::login(&home, &sim, "jdoe");
    // A session cache others may write to makes icat warn (a log warning); stderr is a pipe
    // here. (--no-check-certificate no longer warns against a plain-http server: nothing to
    // check there.)
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.cache(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let o = home.run(&["visits"]);
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "colour codes: {err:?}");
    let warning = err
        .lines()
        .find(|l| l.contains("open to other users"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(warning.starts_with("warning: "), "{warning}");
    // With -v, the log style (level column, timestamp) and still no colour.
    let o = home.run(&["-v", "visits"]);
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "colour codes: {err:?}");
    let warning = err
        .lines()
        .find(|l| l.contains("open to other users"))
        .unwrap();
    assert!(
        warning.contains("WARN") && !warning.starts_with("warning:"),
        "{warning}"
    );
}

#[test]
fn counts_of_one_are_singular() {
    let config = icat_sim::process::config::SimConfig {
        lifetime_minutes: 1,
        ..Default::default()
    };
    let sim = start_sim_with(SPEC, false, Duration::ZERO, config);
    let home = Home::new();
    let o = home.run_with_stdin(
        &[
            "-w",
            &sim.icat_url,
            "--idsurl",
            &sim.ids_url,
            "-a",
            "db",
            "-u",
            "jdoe",
            "--password-stdin",
            "login",
        ],
        "secret\n",
    );
    let out = ok(&o);
    assert!(out.contains(", 1 minute)"), "{out}");
    let out = ok(&home.run(&["whoami"]));
    assert!(
        out.contains("1 minute left") || out.contains("0 minutes left"),
        "{out}"
    );
    let out = ok(&home.run(&["search", "SELECT d.name FROM Dataset d"]));
    assert!(out.contains("(1 result)"), "{out}");
    let dest = home.path().join("dl");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    let out = ok(&o);
    assert!(out.contains("downloaded 1 file "), "{out}");
    assert!(stderr(&o).contains("1 file,"), "{}", stderr(&o));
    let out = ok(&home.run(&["show", "SIM000001"]));
    assert!(
        out.contains("1 dataset,") && out.contains("(1 file,"),
        "{out}"
    );
    assert!(
        !out.contains("1 files") && !out.contains("1 datasets"),
        "{out}"
    );
}

/// Issue-16 finding: `show --csv` (and every CSV) printed catalogue text a spreadsheet runs as a
/// formula. Cells starting with = + - @ tab or CR get a leading ' (OWASP CSV-injection advice).
#[test]
fn csv_cells_cannot_be_spreadsheet_formulas() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login_with(&home, &sim, "simple", "root");
    sim.sql(
        "UPDATE \"Datafile\" SET \"name\" = '=HYPERLINK(\"http://evil\",\"x\")'; \
         UPDATE \"Dataset\" SET \"name\" = '@SUM(A1)'",
    );
    let csv = ok(&home.run(&["show", "SIM000001", "--csv"]));
    assert!(
        csv.contains("\"'=HYPERLINK(") && csv.contains(",'@SUM(A1),"),
        "{csv}"
    );
    for line in csv.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(!cell.starts_with(['=', '+', '@']), "{cell} in {csv}");
        }
    }
    sim.sql("UPDATE \"Investigation\" SET \"title\" = '-2+cmd|calc'");
    let csv = ok(&home.run(&["visits", "--csv"]));
    assert!(csv.contains(",'-2+cmd|calc,"), "{csv}");
}

/// Issue-16 finding: `upload` echoed local file names raw; a name with an escape sequence or a
/// bidirectional override reached the terminal. It is cleaned like server text.
#[test]
fn upload_cleans_local_file_names_it_prints() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login_with(&home, &sim, "simple", "root");
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ds = tree["datasets"][0]["id"].as_i64().unwrap().to_string();
    let name = "evil\u{1b}]0;pwned\u{7}\u{202e}txt.exe";
    let file = home.path().join(name);
    std::fs::write(&file, b"x").unwrap();
    let o = home.run(&[
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NeXus",
    ]);
    let out = ok(&o);
    assert!(
        out.contains("uploaded ") && out.contains("txt.exe"),
        "{out}"
    );
    for text in [out, stdout(&o), stderr(&o)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{text:?}"
        );
    }
}

/// Session 8 review (issue 14): with stderr a closed pipe (`icat ... 2>&1 | head -1`) icat
/// panicked writing its next line ("failed printing to stderr: Broken pipe"), exit 101, a
/// download killed mid-run. Now a line that cannot be written is dropped: here the error of a
/// command without a session ends with its own exit code (not logged in: 3), not a panic.
#[cfg(unix)]
#[test]
fn a_closed_stderr_is_not_a_panic() {
    let home = Home::new();
    let mut child = home
        .icat(&["-w", "http://127.0.0.1:9/ICATService/ICAT", "whoami"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("icat starts");
    drop(child.stderr.take());
    let status = child.wait().expect("icat runs");
    assert_ne!(status.code(), Some(101), "{status:?}");
    assert!(status.code().is_some_and(|c| c != 0), "{status:?}");
}
