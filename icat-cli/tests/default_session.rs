//! Which session a command uses, driven as a user would: two servers and two users, expiry,
//! logout, one-off `-s`, `icat sessions`, `icat logout --all`, and the first line of commands
//! that act on data naming the server and user.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Home, Sim, login, ok, start_sim, stderr, stdout};

const SPEC: &str = "visits=2,datasets=1,files=1,size=1KiB";

fn two_sims() -> (Sim, Sim) {
    (
        start_sim(SPEC, false, Duration::ZERO),
        start_sim(SPEC, false, Duration::ZERO),
    )
}

/// The stored session files (not the default marker).
fn session_files(home: &Home) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(home.cache()) else {
        return Vec::new();
    };
    let mut v: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("session-"))
        })
        .collect();
    v.sort();
    v
}

/// The stored session file of `server_user` at `url`.
fn session_file_of(home: &Home, url: &str, server_user: &str) -> std::path::PathBuf {
    session_files(home)
        .into_iter()
        .find(|p| {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            doc["url"] == url && doc["server_user"] == server_user
        })
        .unwrap_or_else(|| panic!("no session file for {server_user} at {url}"))
}

/// Changes one field of a stored session file.
fn edit_session(path: &Path, key: &str, value: serde_json::Value) {
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc[key] = value;
    std::fs::write(path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

/// Makes the server forget a stored session, as when it expires there.
fn expire_on_server(path: &Path) {
    edit_session(
        path,
        "session_id",
        serde_json::Value::from("00000000-0000-0000-0000-000000000000"),
    );
}

fn assert_not_logged_in(o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(o), stderr(o));
    assert!(stdout(o).is_empty(), "nothing may be listed: {}", stdout(o));
    let err = stderr(o);
    assert!(
        err.contains("not logged in") && err.contains("icat login"),
        "{err}"
    );
}

#[test]
fn an_expired_session_never_falls_back_to_another_server_or_user() {
    let (a, b) = two_sims();
    let home = Home::new();
    login(&home, &a, "acord");
    login(&home, &b, "jdoe");
    expire_on_server(&session_file_of(&home, &b.icat_url, "db/jdoe"));
    // No terminal and no password: the first and the second attempt both stop.
    assert_not_logged_in(&home.run(&["visits"]));
    assert_not_logged_in(&home.run(&["visits"]));
    assert_not_logged_in(&home.run(&["whoami"]));
    // The expired session's file is gone; acord's is still there and usable when chosen.
    assert_eq!(session_files(&home).len(), 1);
    let out = ok(&home.run(&["-w", &a.icat_url, "-a", "db", "-u", "acord", "whoami"]));
    assert!(out.contains("db/acord"), "{out}");
}

#[test]
fn logout_leaves_no_default_behind() {
    let (a, b) = two_sims();
    let home = Home::new();
    login(&home, &a, "acord");
    login(&home, &b, "jdoe");
    let out = ok(&home.run(&["logout"]));
    assert!(out.contains("db/jdoe"), "{out}");
    assert_not_logged_in(&home.run(&["whoami"]));
    assert_eq!(home.run(&["logout"]).status.code(), Some(3));
    assert_not_logged_in(&home.run(&["visits"]));
}

#[test]
fn sessions_lists_them_and_logout_all_ends_them() {
    let (a, b) = two_sims();
    let home = Home::new();
    login(&home, &a, "acord");
    login(&home, &b, "jdoe");
    let out = ok(&home.run(&["sessions"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header and two sessions:\n{out}");
    let jdoe = lines.iter().find(|l| l.contains("db/jdoe")).unwrap();
    let acord = lines.iter().find(|l| l.contains("db/acord")).unwrap();
    assert!(
        jdoe.trim_start().starts_with('*'),
        "jdoe is the default:\n{out}"
    );
    assert!(!acord.trim_start().starts_with('*'), "{out}");
    assert!(
        jdoe.contains(&b.icat_url) && acord.contains(&a.icat_url),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&home.run(&["sessions", "--json"]))).unwrap();
    let rows = doc["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let minutes = r["minutes_left"].as_i64().unwrap();
        assert!((100..=120).contains(&minutes), "{r}");
    }
    // A session past its expiry is removed when noticed.
    edit_session(
        &session_file_of(&home, &a.icat_url, "db/acord"),
        "expires_at_ms",
        serde_json::Value::from(1),
    );
    let o = home.run(&["sessions"]);
    assert!(!ok(&o).contains("db/acord"));
    assert!(
        stderr(&o).contains("removed 1 expired session"),
        "{}",
        stderr(&o)
    );
    assert_eq!(session_files(&home).len(), 1);
    login(&home, &a, "acord");
    let out = ok(&home.run(&["logout", "--all"]));
    assert!(out.contains("2 sessions"), "{out}");
    assert!(session_files(&home).is_empty());
    assert_not_logged_in(&home.run(&["whoami"]));
    // The server ended them too: the old ids no longer work there.
}

fn write_cfg(home: &Home, text: &str) {
    let dir = home.path().join(".icat");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("icat.cfg");
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn a_one_off_section_does_not_change_the_default() {
    let (a, b) = two_sims();
    let home = Home::new();
    write_cfg(
        &home,
        &format!(
            "[a]\nurl = {}\nidsurl = {}\nauth = db\nusername = acord\npassword = secret\n\n\
             [big]\nurl = {}\nidsurl = {}\nauth = db\nusername = jdoe\npassword = secret\n",
            a.icat_url, a.ids_url, b.icat_url, b.ids_url
        ),
    );
    ok(&home.run(&["-s", "a", "login"]));
    ok(&home.run(&["-s", "big", "visits"]));
    let out = ok(&home.run(&["whoami"]));
    assert!(
        out.contains("db/acord") && out.contains(&a.icat_url),
        "{out}"
    );
}

#[test]
fn a_section_never_borrows_another_users_session() {
    let (a, b) = two_sims();
    let home = Home::new();
    login(&home, &b, "jdoe");
    write_cfg(
        &home,
        &format!(
            "[serveronly]\nurl = {}\n\n[nourl]\nauth = db\nusername = acord\n",
            b.icat_url
        ),
    );
    // Same server as jdoe's session but no user: not jdoe's session.
    let o = home.run(&["-s", "serveronly", "visits"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    // No url in the section: not the default session's server either.
    let o = home.run(&["-s", "nourl", "visits"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[nourl]") && stderr(&o).contains("url"),
        "{}",
        stderr(&o)
    );
    drop(a);
}

#[test]
fn data_commands_name_the_server_and_user_first() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dest = home.path().join("dl");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    ok(&o);
    let first = stderr(&o).lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("db/jdoe") && first.contains(&sim.icat_url),
        "first line: {first}\n{}",
        stderr(&o)
    );
    let o = home.run(&["-q", "download", "SIM000001", "-o", dest.to_str().unwrap()]);
    ok(&o);
    assert!(!stderr(&o).contains("db/jdoe"), "{}", stderr(&o));
}

/// `-w URL -u USER` finds USER's stored session there without `-a`; a one-off selection that
/// matches no stored session and has no password to log in with stops with the exact
/// `icat login` to run (exit 3), and with a password it logs in without changing the default.
#[test]
fn one_off_user_selection_finds_its_session_or_names_the_login_to_run() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let url = sim.icat_url.as_str();
    let out = ok(&home.run(&["-w", url, "-u", "jdoe", "whoami"]));
    assert!(out.contains("db/jdoe"), "{out}");
    ok(&home.run(&["-w", url, "-u", "jdoe", "visits"]));
    // No session for acord, no password: the login to run, not a password complaint.
    let o = home.run(&["-w", url, "-a", "db", "-u", "acord", "visits"]);
    assert_not_logged_in(&o);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("not logged in as acord at {url}"))
            && err.contains(&format!("run icat login -w {url} -a db -u acord")),
        "{err}"
    );
    assert!(!err.contains("password"), "{err}");
    let o = home.run(&["-w", url, "-u", "acord", "visits"]);
    assert_not_logged_in(&o);
    assert!(
        stderr(&o).contains(&format!("run icat login -w {url} -a AUTH -u acord")),
        "{}",
        stderr(&o)
    );
    // With the password piped in, the one-off logs in; the default stays jdoe's.
    let o = home.run_with_stdin(
        &[
            "-w",
            url,
            "-a",
            "db",
            "-u",
            "acord",
            "--password-stdin",
            "whoami",
        ],
        "secret\n",
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "whoami never logs in: {}",
        stderr(&o)
    );
    let o = home.run_with_stdin(
        &[
            "-w",
            url,
            "-a",
            "db",
            "-u",
            "acord",
            "--password-stdin",
            "visits",
        ],
        "secret\n",
    );
    ok(&o);
    let out = ok(&home.run(&["whoami"]));
    assert!(out.contains("db/jdoe"), "{out}");
    let out = ok(&home.run(&["-w", url, "-u", "acord", "whoami"]));
    assert!(out.contains("db/acord"), "{out}");
}

/// A session with less than a minute left by the last estimate may already be gone on the
/// server (its time is known to the minute): `icat sessions` says `expiring`, not a minute.
#[test]
fn sessions_marks_a_session_in_its_last_minute_as_expiring() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    edit_session(
        &session_file_of(&home, &sim.icat_url, "db/jdoe"),
        "expires_at_ms",
        serde_json::Value::from(now_ms + 40_000),
    );
    let out = ok(&home.run(&["sessions"]));
    let row = out.lines().find(|l| l.contains("db/jdoe")).unwrap();
    assert!(row.trim_end().ends_with("expiring"), "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&home.run(&["sessions", "--json"]))).unwrap();
    assert_eq!(doc["sessions"][0]["expiring"], true, "{doc}");
    assert_eq!(doc["sessions"][0]["minutes_left"], 1, "{doc}");
}

/// A session file that is cut short or was edited (it names another user than its file is
/// for) is said to be damaged and removed, not that the session "has ended".
#[test]
fn a_damaged_or_edited_session_file_is_named_not_an_ended_session() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    for damage in ["cut", "edited"] {
        for args in [&["visits"][..], &["whoami"][..]] {
            login(&home, &sim, "jdoe");
            let file = session_file_of(&home, &sim.icat_url, "db/jdoe");
            match damage {
                "cut" => std::fs::write(&file, b"{\"url\": \"http://127.0").unwrap(),
                _ => edit_session(&file, "username", serde_json::Value::from("acord")),
            }
            let o = home.run(args);
            assert_not_logged_in(&o);
            let err = stderr(&o);
            assert!(
                err.contains("damaged") && err.contains(&file.display().to_string()),
                "{damage} {args:?}: {err}"
            );
            assert!(!err.contains("has ended"), "{damage}: {err}");
            assert!(!file.exists(), "{damage}: the file is removed");
            if args == ["visits"] {
                assert_eq!(err.trim_end().lines().count(), 1, "said once: {err}");
            }
        }
    }
}

/// A wrong IDS URL is said to be one: another ICAT's IDS (it does not know the session) or a
/// URL that is no IDS (a bare 404) names --idsurl, not "ask the data owner" or "a prepared id
/// may have been evicted"; upload and restore name the IDS they act on in their first line.
#[test]
fn a_wrong_ids_url_is_named_as_such() {
    let (a, b) = two_sims();
    let home = Home::new();
    common::login_with(&home, &a, "simple", "root");
    let not_an_ids = a.ids_url.replace("/ids", "/nothere");
    let check = |o: &std::process::Output, url: &str, code: i32| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.contains(&format!("the IDS at {url}")) && last.contains("--idsurl"),
            "{err}"
        );
        for misleading in ["evicted", "data owner", "write access", "may not add"] {
            assert!(!last.contains(misleading), "{misleading}: {err}");
        }
    };
    for (ids, code) in [(b.ids_url.as_str(), 3), (not_an_ids.as_str(), 2)] {
        check(
            &home.run(&["--idsurl", ids, "status", "SIM000001"]),
            ids,
            code,
        );
        let dest = home.path().join("dl");
        let o = home.run(&[
            "--idsurl",
            ids,
            "download",
            "SIM000001",
            "--zip",
            "-o",
            dest.to_str().unwrap(),
        ]);
        check(&o, ids, code);
    }
    let file = home.path().join("notes.txt");
    std::fs::write(&file, b"some notes").unwrap();
    let o = home.run(&[
        "--idsurl",
        &b.ids_url,
        "upload",
        file.to_str().unwrap(),
        "--dataset",
        "1",
        "--format",
        "NeXus",
    ]);
    check(&o, &b.ids_url, 3);
    let first = stderr(&o).lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains(&format!(
            "uploading to the IDS at {} as simple/root",
            b.ids_url
        )),
        "{first}"
    );
}

/// `-w URL` without `-u` where several users have stored sessions (none of them the default)
/// is refused as ambiguous instead of taking whoever was used last.
#[test]
fn a_server_with_several_stored_users_needs_u() {
    let (a, b) = two_sims();
    let home = Home::new();
    login(&home, &a, "ahau");
    login(&home, &a, "acord");
    login(&home, &b, "jdoe");
    let o = home.run(&["-w", &a.icat_url, "whoami"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("2 stored sessions")
            && err.contains("db/acord, db/ahau")
            && err.contains("-u USER"),
        "{err}"
    );
    let out = ok(&home.run(&["-w", &a.icat_url, "-u", "ahau", "whoami"]));
    assert!(out.contains("db/ahau"), "{out}");
    // The default session's server: the default, whatever else is stored there.
    login(&home, &b, "rbeck");
    let out = ok(&home.run(&["-w", &b.icat_url, "whoami"]));
    assert!(out.contains("db/rbeck"), "{out}");
}

/// `-a`/`-u` without `-w` mean another user on the default session's server; the advice never
/// borrows the default user's name or authenticator. An ended default session's advice is the
/// exact login.
#[test]
fn one_off_auth_or_user_never_borrow_the_default_users_parts() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    common::login_with(&home, &sim, "simple", "root");
    let url = sim.icat_url.as_str();
    let o = home.run(&["-a", "db", "whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("run icat login -w {url} -a db -u USER")),
        "{}",
        stderr(&o)
    );
    let o = home.run(&["-u", "acord", "whoami"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("run icat login -w {url} -a AUTH -u acord")),
        "{}",
        stderr(&o)
    );
    expire_on_server(&session_file_of(&home, url, "simple/root"));
    let o = home.run(&["visits"]);
    assert_not_logged_in(&o);
    assert!(
        stderr(&o).contains(&format!("run icat login -w {url} -a simple -u root")),
        "{}",
        stderr(&o)
    );
}
