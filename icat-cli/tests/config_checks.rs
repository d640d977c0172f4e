//! icat.cfg mistakes a user can see: misspelt keys warn with a guess, a missing section names
//! the files searched, and without an IDS URL the one next to ICAT is used and said once.

mod common;

use std::time::Duration;

use common::{Home, login_without_idsurl, ok, start_sim, start_sim_with, stderr};

const SPEC: &str = "visits=2,datasets=1,files=1,size=1KiB";

/// Writes `~/.icat/icat.cfg` (mode 0600); returns its path.
fn write_cfg(home: &Home, text: &str) -> std::path::PathBuf {
    let dir = home.path().join(".icat");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("icat.cfg");
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
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
    let o = login_without_idsurl(&home, &sim, "jdoe");
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

/// A misspelt `url` is reported before the error it causes ("section has no url"), and
/// warnings name the file the key is in.
#[test]
fn a_misspelt_url_is_reported_before_the_missing_url() {
    let home = Home::new();
    let path = write_cfg(
        &home,
        "[x]\nur1 = http://127.0.0.1:9/ICATService/ICAT\nauth = db\nusername = jdoe\n",
    );
    let o = home.run(&["-s", "x", "visits"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("did you mean `url`"), "{err}");
    assert!(
        err.contains(&format!("{} section [x]", path.display())),
        "the warning names the file: {err}"
    );
    let warned = err.find("did you mean").unwrap_or(usize::MAX);
    let failed = err.find("has no url").expect("the error");
    assert!(warned < failed, "warning first: {err}");
}

/// A section given twice, or a key given twice in one section, is refused as python's
/// configparser refuses it: merging them would send one block's password to the other's url.
#[test]
fn a_section_or_key_given_twice_is_refused() {
    let home = Home::new();
    let path = write_cfg(
        &home,
        "[a]\nurl = http://127.0.0.1:9/ICATService/ICAT\nauth = db\nusername = acord\npassword = secret\n\
         [a]\nurl = http://127.0.0.1:8/ICATService/ICAT\nusername = jdoe\n",
    );
    let o = home.run(&["-s", "a", "visits"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{} has section [a] twice", path.display())),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");

    write_cfg(
        &home,
        "[b]\nurl = http://127.0.0.1:9/ICATService/ICAT\nauth = db\nURL = http://127.0.0.1:8/ICATService/ICAT\n",
    );
    let o = home.run(&["-s", "b", "visits"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("section [b] has key `url` twice"), "{err}");
}

/// A section with neither a user name nor credential keys: refused, naming the missing key,
/// for an authenticator that needs credentials (the server's getAuthenticatorInfo says so);
/// an anonymous authenticator logs in.
#[test]
fn a_section_without_credentials_needs_an_authenticator_that_takes_none() {
    let mut config = icat_sim::process::config::SimConfig::default();
    config
        .authenticators
        .push(icat_sim::process::config::Authenticator {
            mnemonic: "anon".into(),
            mechanism: Some("anon".into()),
            friendly: None,
            users: Default::default(),
            anon: true,
        });
    let sim = start_sim_with(SPEC, false, Duration::ZERO, config);
    let home = Home::new();
    write_cfg(
        &home,
        &format!(
            "[nobody]\nurl = {}\nauth = db\n[guest]\nurl = {}\nauth = anon\n",
            sim.icat_url, sim.icat_url
        ),
    );
    let o = home.run(&["-s", "nobody", "login"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no username given")
            && err.contains("username = NAME")
            && err.contains("[nobody]"),
        "{err}"
    );
    let out = ok(&home.run(&["-s", "guest", "login"]));
    assert!(out.contains("logged in as anon/anon"), "{out}");
}

/// `checkCert = No` on a plain-http URL does nothing, and says so.
#[test]
fn check_cert_off_on_http_warns_that_it_does_nothing() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    write_cfg(
        &home,
        &format!(
            "[jdoe]\nurl = {}\nauth = db\nusername = jdoe\npassword = secret\ncheckCert = No\n",
            sim.icat_url
        ),
    );
    let o = home.run(&["-s", "jdoe", "login"]);
    ok(&o);
    assert!(
        stderr(&o).contains("checkCert = No has no effect"),
        "{}",
        stderr(&o)
    );
    // One warning, not also "verification is off" (there is no certificate on http), on login
    // and on commands that talk to ICAT and the IDS.
    for args in [
        vec!["-s", "jdoe", "login"],
        vec!["-s", "jdoe", "status", "SIM000001"],
    ] {
        let o = home.run(&args);
        ok(&o);
        let err = stderr(&o);
        assert!(!err.contains("verification is off"), "{args:?}: {err}");
        assert_eq!(err.matches("checkCert").count(), 1, "{args:?}: {err}");
    }
}

/// A later icat.cfg (./icat.cfg in the working directory) that changes the url of a section
/// whose password is in another file is refused: the password would go to a server the file
/// holding it never named.
#[test]
fn a_url_from_another_file_than_the_password_is_refused() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let other = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let personal = write_cfg(
        &home,
        &format!(
            "[jdoe]\nurl = {}\nauth = db\nusername = jdoe\npassword = secret\n",
            sim.icat_url
        ),
    );
    ok(&home.run(&["-s", "jdoe", "login"]));
    // The working directory is the home: ./icat.cfg is read after ~/.icat/icat.cfg. Neither
    // the url, nor the IDS the session id goes to, nor the user may come from it.
    for (key, value) in [
        ("url", other.icat_url.as_str()),
        ("idsurl", other.ids_url.as_str()),
        ("username", "acord"),
    ] {
        std::fs::write(
            home.path().join("icat.cfg"),
            format!("[jdoe]\n{key} = {value}\n"),
        )
        .unwrap();
        for args in [
            vec!["-s", "jdoe", "login"],
            vec!["-s", "jdoe", "status", "SIM000001"],
        ] {
            let o = home.run(&args);
            assert_eq!(o.status.code(), Some(2), "{key} {args:?}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(
                err.contains(&personal.display().to_string())
                    && err.contains("./icat.cfg")
                    && err.contains(&format!("put {key} and password in the same file")),
                "{key}: {err}"
            );
        }
    }
    // The other server never saw a login: its only session is none.
    ok(&home.run(&["-w", &sim.icat_url, "whoami"]));
}
