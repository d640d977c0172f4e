//! `icat login`, `whoami`, `logout`: the session cache (0600, no password) and authentication errors.

mod common;

use std::time::Duration;

use common::{Home, json, login, login_args, ok, start_sim, stderr, stdout};

const SPEC: &str = "visits=2,datasets=1,files=1,size=1KiB";

/// The session files in the cache (not the marker naming the default session).
fn session_files(home: &Home) -> Vec<std::path::PathBuf> {
    common::files_under(&home.cache())
        .into_iter()
        .filter(|p| p.to_string_lossy().starts_with("session-"))
        .collect()
}

#[test]
fn login_caches_the_session_privately_and_without_the_password() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let o = home.run_with_stdin(
        &login_args(&sim.icat_url, Some(&sim.ids_url), "db", "jdoe"),
        "secret\n",
    );
    let out = ok(&o);
    assert!(out.contains("logged in as db/jdoe"), "{out}");
    let files = session_files(&home);
    assert_eq!(files.len(), 1, "one session file: {files:?}");
    let path = home.cache().join(&files[0]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("secret"),
        "the password must never be cached:\n{text}"
    );
    assert!(text.contains("db/jdoe"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "session file mode");
    }
    // The full session id is never printed.
    let cached: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sid = cached["session_id"].as_str().unwrap();
    assert!(!out.contains(sid) && !stderr(&o).contains(sid));
}

#[test]
fn whoami_and_logout_use_the_cached_session() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    // No flags at all: the last login is used.
    let out = ok(&home.run(&["whoami"]));
    assert!(
        out.contains("db/jdoe") && out.contains("minutes left"),
        "{out}"
    );
    let doc = json(&home.run(&["whoami", "--json"]));
    assert_eq!(doc["user"], "db/jdoe");
    assert_eq!(doc["url"], sim.icat_url.as_str());
    let minutes = doc["minutes_left"].as_i64().unwrap();
    assert!(minutes > 100 && minutes <= 120, "{minutes}");
    let out = ok(&home.run(&["logout"]));
    assert!(out.contains("logged out db/jdoe"), "{out}");
    assert!(common::files_under(&home.cache()).is_empty());
    let o = home.run(&["whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("icat login"), "{}", stderr(&o));
}

#[test]
fn wrong_password_is_an_authentication_failure() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let o = home.run_with_stdin(
        &[
            "-w",
            &sim.icat_url,
            "-a",
            "db",
            "-u",
            "jdoe",
            "--password-stdin",
            "login",
        ],
        "wrong\n",
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(
        !err.contains("wrong"),
        "the password must not be echoed: {err}"
    );
    assert!(common::files_under(&home.cache()).is_empty());
}

#[test]
fn no_password_and_no_terminal_is_an_authentication_failure() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let o = home.run(&["-w", &sim.icat_url, "-a", "db", "-u", "jdoe", "login"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--password-stdin"));
}

#[test]
fn nothing_configured_is_not_logged_in() {
    let home = Home::new();
    let o = home.run(&["visits"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("not logged in"), "{}", stderr(&o));
    assert!(stderr(&o).contains("icat login"), "{}", stderr(&o));
    // `icat login` with nothing configured is a usage error.
    let o = home.run(&["login"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no ICAT server configured"));
}

#[test]
fn verbose_logs_never_show_the_password_or_session_id() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let o = home.run_with_stdin(
        &[
            "-vvv",
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
    ok(&o);
    let files = session_files(&home);
    let text = std::fs::read_to_string(home.cache().join(&files[0])).unwrap();
    let cached: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sid = cached["session_id"].as_str().unwrap().to_owned();
    let dest = home.path().join("out");
    let dest = dest.to_str().unwrap();
    let mut runs = vec![o];
    for (args, succeeds) in [
        (vec!["-vvv", "visits"], true),
        (vec!["-vvv", "whoami"], true),
        (vec!["-vvv", "search", "SELECT x FROM Nonsense x"], false),
        (vec!["-vvv", "download", "SIM000001", "-o", dest], true),
        (
            vec!["-vvv", "download", "SIM000001", "--zip", "-o", dest],
            true,
        ),
        (vec!["-vvv", "status", "SIM000001"], true),
        (
            vec!["-vvv", "download", "--datafile", "987654321", "-o", dest],
            false,
        ),
        (vec!["-vvv", "logout"], true),
        (vec!["-vvv", "whoami"], false),
    ] {
        let o = home.run(&args);
        assert_eq!(o.status.success(), succeeds, "{args:?}: {}", stderr(&o));
        runs.push(o);
    }
    assert!(
        stderr(&runs[1]).contains("TRACE"),
        "-vvv logs at trace level"
    );
    for o in &runs {
        for text in [stderr(o), stdout(o)] {
            assert!(!text.contains("secret"), "password in output: {text}");
            assert!(!text.contains(&sid), "full session id in output: {text}");
            assert!(
                !text.contains(&sid[..13]),
                "long session id prefix in output: {text}"
            );
        }
    }
}

#[test]
fn network_flags_bound_a_slow_server() {
    // Every ICAT answer is held for a minute; the client gives up after its read timeout.
    let config = icat_sim::process::config::SimConfig::from_toml_str(
        &format!(
            "{}\n[faults.icat]\ndelay = \"60s\"\n",
            icat_sim::process::config::SimConfig::default_toml()
        ),
        "<test>",
    )
    .unwrap();
    let sim = common::start_sim_with(SPEC, false, Duration::ZERO, config);
    let home = Home::new();
    let o = home.run_with_stdin(
        &[
            "-w",
            &sim.icat_url,
            "-a",
            "db",
            "-u",
            "jdoe",
            "--password-stdin",
            "--read-timeout",
            "300ms",
            "--connect-timeout",
            "5s",
            "--retries",
            "0",
            "login",
        ],
        "secret\n",
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("within 300ms"), "{err}");
    // Malformed values are usage errors.
    for bad in [
        &["--read-timeout", "soon", "whoami"][..],
        &["--connect-timeout", "0s", "whoami"][..],
        &["--retries", "-1", "whoami"][..],
    ] {
        let o = home.run(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
}

#[test]
fn a_password_in_the_url_is_never_printed() {
    let home = Home::new();
    let o = home.run_with_stdin(
        &[
            "-w",
            "http://rbeck:hunter2xyz@127.0.0.1:1",
            "-a",
            "db",
            "-u",
            "jdoe",
            "--password-stdin",
            "login",
        ],
        "secret\n",
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(!err.contains("hunter2xyz"), "{err}");
    assert!(!err.contains("pass them to login"), "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
}

#[test]
fn logout_all_counts_failures_not_ended_sessions() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let out = ok(&home.run(&["logout", "--all"]));
    assert_eq!(out.trim(), "logged out of 1 session", "{out}");
    let out = ok(&home.run(&["logout", "--all"]));
    assert_eq!(out.trim(), "no stored sessions", "{out}");
}

/// `icat logout` while the server is unreachable: the session is forgotten here anyway, with a
/// warning that it could not be ended on the server; later commands are not logged in.
#[test]
fn logout_forgets_the_session_when_the_server_is_unreachable() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    drop(sim);
    let o = home.run(&["--retries", "0", "logout"]);
    let out = ok(&o);
    assert!(out.contains("forgot the session of db/jdoe"), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains("could not end the session on the server"),
        "{err}"
    );
    assert!(
        session_files(&home).is_empty(),
        "{:?}",
        session_files(&home)
    );
    let o = home.run(&["whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(ok(&home.run(&["sessions"])).contains("no stored sessions"));
}

/// `logout --all` with the server gone: one attempt per session and one plain line each, not
/// a retry loop with log-style warnings (a user trial saw 24 lines and 8.6 s for 6 sessions).
#[test]
fn logout_all_with_the_server_gone_does_not_retry() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    drop(sim);
    let o = home.run(&["logout", "--all"]);
    let out = ok(&o);
    assert!(out.contains("logged out of 1 session"), "{out}");
    assert!(
        out.contains(
            "1 could not be ended on the server and may stay alive there until it expires"
        ),
        "{out}"
    );
    let err = stderr(&o);
    assert_eq!(err.matches("could not end the session").count(), 1, "{err}");
    assert!(!err.contains("retrying"), "{err}");
    assert!(session_files(&home).is_empty());
}

/// Two sessions that could not be ended: the sentence is about them, in the plural.
#[test]
fn logout_all_says_sessions_left_alive_in_the_plural() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    login(&home, &sim, "acord");
    drop(sim);
    let out = ok(&home.run(&["logout", "--all"]));
    assert!(
        out.contains(
            "(2 could not be ended on the server and may stay alive there until they expire)"
        ),
        "{out}"
    );
}

/// `login`, `whoami` (table, CSV and JSON) and `sessions` show the same whole minutes left.
#[test]
fn minutes_left_are_rounded_the_same_everywhere() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let o = home.run_with_stdin(
        &login_args(&sim.icat_url, Some(&sim.ids_url), "db", "jdoe"),
        "secret\n",
    );
    let out = ok(&o);
    let who = json(&home.run(&["whoami", "--json"]));
    let listed = json(&home.run(&["sessions", "--json"]));
    let whoami = who["minutes_left"].as_i64().expect("whole minutes");
    let sessions = listed["sessions"][0]["minutes_left"].as_i64().unwrap();
    assert_eq!(whoami, sessions, "{who} {listed}");
    assert!(out.contains(&format!("{whoami} minutes")), "{out}");
    let table = ok(&home.run(&["whoami"]));
    assert!(table.contains(&format!("{whoami} minutes left")), "{table}");
    let csv = ok(&home.run(&["whoami", "--csv"]));
    assert!(csv.trim_end().ends_with(&format!(",{whoami}")), "{csv}");
}

/// Without a session, the advice names the section or URL the user chose.
#[test]
fn not_logged_in_advice_names_the_section_or_url_given() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let dir = home.path().join(".icat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("icat.cfg"),
        format!(
            "[big]\nurl = {}\nauth = db\nusername = jdoe\n",
            sim.icat_url
        ),
    )
    .unwrap();
    let o = home.run(&["-s", "big", "whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("run icat login -s big"),
        "{}",
        stderr(&o)
    );
    let o = home.run(&["-w", &sim.icat_url, "whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "run icat login -w {} -a AUTH -u USER",
            sim.icat_url
        )),
        "{}",
        stderr(&o)
    );
}

/// A cache directory others may write to is warned about; a damaged session file is named,
/// removed, and the advice is to log in again.
#[cfg(unix)]
#[test]
fn an_open_cache_directory_and_a_damaged_session_file_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    std::fs::create_dir_all(home.cache()).unwrap();
    std::fs::set_permissions(home.cache(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = home.run_with_stdin(
        &login_args(&sim.icat_url, Some(&sim.ids_url), "db", "jdoe"),
        "secret\n",
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("chmod 700 {}", home.cache().display())),
        "{err}"
    );
    std::fs::set_permissions(home.cache(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = home.cache().join(&session_files(&home)[0]);
    std::fs::write(&file, b"{\"url\": \"cut sh").unwrap();
    let o = home.run(&["visits"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("icat login"),
        "{err}"
    );
    assert!(!file.exists());
}

/// `icat login` that cannot keep the session (the cache is a file, not a directory) fails with
/// a clear message and a non-zero exit, and leaves no live session on the server.
#[test]
fn login_that_cannot_save_the_session_fails() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    std::fs::write(home.cache(), b"not a directory").unwrap();
    let o = home.run_with_stdin(
        &login_args(&sim.icat_url, Some(&sim.ids_url), "db", "jdoe"),
        "secret\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("could not be saved")
            && err.contains("not a directory")
            && err.contains("ICAT_CACHE_DIR"),
        "{err}"
    );
    assert!(!err.contains("open to other users"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Whether `text` holds a whole UUID (`8-4-4-4-12` hex digits), as session and prepared ids are.
fn holds_whole_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|start| {
        b[start..start + 36]
            .iter()
            .enumerate()
            .all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    })
}

/// A prepared id grants access to the data without a session: `-vvv` shows it shortened, like
/// session ids.
#[test]
fn verbose_logs_never_show_a_whole_prepared_id() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("zipped");
    let o = home.run(&[
        "-vvv",
        "download",
        "SIM000001",
        "--zip",
        "-o",
        dest.to_str().unwrap(),
    ]);
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("prepared_id="),
        "the id is logged, shortened: {err}"
    );
    assert!(!holds_whole_uuid(&err), "a whole id in the log: {err}");
    assert!(!holds_whole_uuid(&stdout(&o)), "{}", stdout(&o));
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A server that cannot be reached is said in plain words (refused, unknown host name) with the
/// URL and the flag that sets it, never the HTTP stack's `client error (Connect)`.
#[test]
fn unreachable_servers_are_explained_in_plain_words() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let jargon = |err: &str| {
        for word in ["client error", "(Connect)", "os error", "tcp connect error"] {
            assert!(!err.contains(word), "{word}: {err}");
        }
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    let refused = format!("http://127.0.0.1:{}/ICATService/ICAT", dead_port());
    let o = home.run_with_stdin(
        &["--retries", "0"]
            .into_iter()
            .chain(login_args(&refused, None, "db", "jdoe"))
            .collect::<Vec<_>>(),
        "secret\n",
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "cannot connect to ICAT at {refused}: connection refused"
        )) && err.contains("-w/--url"),
        "{err}"
    );
    jargon(&err);
    let unknown = "http://icat.nowhere.invalid/ICATService/ICAT";
    let o = home.run_with_stdin(
        &["--retries", "0"]
            .into_iter()
            .chain(login_args(unknown, None, "db", "jdoe"))
            .collect::<Vec<_>>(),
        "secret\n",
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    let err = err.lines().last().unwrap_or_default();
    assert!(
        err.contains("the host name icat.nowhere.invalid is not known"),
        "{err}"
    );
    jargon(err);
    // The IDS: its URL and its flag.
    login(&home, &sim, "jdoe");
    let ids = format!("http://127.0.0.1:{}/ids", dead_port());
    let o = home.run(&["--retries", "0", "--idsurl", &ids, "status", "SIM000001"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cannot connect to the IDS at")
            && err.contains("connection refused")
            && err.contains("--idsurl"),
        "{err}"
    );
    jargon(&err);
}
