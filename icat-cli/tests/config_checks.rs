//! icat.cfg mistakes a user can see: misspelt keys warn with a guess, a missing section names
//! the files searched, and without an IDS URL the one next to ICAT is used and said once.

mod common;

use std::time::Duration;

use common::{Home, ok, start_sim, stderr};

const SPEC: &str = "visits=2,datasets=1,files=1,size=1KiB";

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
fn misspelt_keys_warn_with_a_did_you_mean() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    write_cfg(
        &home,
        &format!(
            "[jdoe]\nurl = {}\nur1 = {}\nauth = db\nusrname = jdoe\nusername = jdoe\npasword = x\npassword = secret\n",
            sim.icat_url, sim.icat_url
        ),
    );
    let o = home.run(&["-s", "jdoe", "login"]);
    ok(&o);
    let err = stderr(&o);
    for (typo, meant) in [
        ("ur1", "url"),
        ("usrname", "username"),
        ("pasword", "password"),
    ] {
        assert!(
            err.contains(&format!("`{typo}`")) && err.contains(&format!("did you mean `{meant}`")),
            "{typo}: {err}"
        );
    }
    // Our own keys and python-icat's are known.
    write_cfg(
        &home,
        &format!(
            "[jdoe]\nurl = {}\nauth = db\nusername = jdoe\npassword = secret\ncheckCert = yes\n\
             retries = 2\nreadTimeout = 30s\nconnectTimeout = 5s\ncred_otp = 1\nhttp_proxy = \nno_proxy = x\n",
            sim.icat_url
        ),
    );
    let o = home.run(&["-s", "jdoe", "login"]);
    ok(&o);
    assert!(!stderr(&o).contains("unknown key"), "{}", stderr(&o));
}

#[test]
fn a_missing_section_names_the_files_searched() {
    let home = Home::new();
    let o = home.run(&["-s", "big", "visits"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("[big] not found"), "{err}");
    assert!(err.contains("/etc/icat/icat.cfg"), "{err}");
    assert!(err.contains(".icat/icat.cfg"), "{err}");
    assert!(!err.contains("no ICAT server configured"), "{err}");
}

#[test]
fn without_an_ids_url_the_one_next_to_icat_is_used_and_said_once() {
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
        "secret\n",
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains(&sim.ids_url) && err.contains("--idsurl"),
        "{err}"
    );
    let dest = home.path().join("dl");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    ok(&o);
    assert!(
        !stderr(&o).contains("no IDS URL"),
        "said once: {}",
        stderr(&o)
    );
    assert_eq!(common::files_under(&dest).len(), 1);
}
