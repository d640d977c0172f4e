//! Output for people: no colour codes in a redirected stderr, one style of warning line (the log
//! style only with -v), and counts in the right number ("1 minute", "1 result", "1 file").

mod common;

use std::time::Duration;

use common::{Home, ok, start_sim, start_sim_with, stderr};

const SPEC: &str = "visits=1,datasets=1,files=1,size=1KiB";

#[test]
fn redirected_stderr_has_no_colour_and_plain_warning_lines() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    common::login(&home, &sim, "jdoe");
    // --no-check-certificate makes the clients warn; stderr is a pipe here.
    let o = home.run(&["--no-check-certificate", "visits"]);
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "colour codes: {err:?}");
    let warning = err
        .lines()
        .find(|l| l.contains("verification is off"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(warning.starts_with("warning: "), "{warning}");
    // With -v, the log style (level column, timestamp) and still no colour.
    let o = home.run(&["-v", "--no-check-certificate", "visits"]);
    ok(&o);
    let err = stderr(&o);
    assert!(!err.contains('\x1b'), "colour codes: {err:?}");
    let warning = err
        .lines()
        .find(|l| l.contains("verification is off"))
        .unwrap();
    assert!(
        warning.contains("WARN") && !warning.starts_with("warning:"),
        "{warning}"
    );
}

#[test]
fn counts_of_one_are_singular() {
    let config = icat_sim::config::SimConfig {
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
