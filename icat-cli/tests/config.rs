//! python-icat compatible configuration against a live simulator: files, sections, environment, flags.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Home, json, ok, start_sim, stderr};

const SPEC: &str = "visits=2,datasets=1,files=1,size=1KiB";

fn write_private(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn section(name: &str, url: &str, ids: &str, user: &str) -> String {
    format!(
        "[{name}]\nurl = {url}?wsdl\nauth = db\nusername = {user}\npassword = secret\nidsurl = {ids}\n#checkCert = No\n"
    )
}

#[test]
fn section_from_home_config_logs_in_with_the_file_password() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    write_private(
        &home.path().join(".icat/icat.cfg"),
        &section("jdoe", &sim.icat_url, &sim.ids_url, "jdoe"),
    );
    let doc = json(&home.run(&["-s", "jdoe", "visits", "--json"]));
    assert_eq!(doc["visits"].as_array().unwrap().len(), 2);
    // The session was cached: whoami (which never logs in) works.
    let who = json(&home.run(&["-s", "jdoe", "whoami", "--json"]));
    assert_eq!(who["user"], "db/jdoe");
    // ICAT_CFG_SECTION selects the section too.
    let o = home
        .icat(&["whoami", "--json"])
        .env("ICAT_CFG_SECTION", "jdoe")
        .output()
        .unwrap();
    assert_eq!(json(&o)["user"], "db/jdoe");
}

#[test]
fn precedence_flags_over_environment_over_file() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let dead = "http://127.0.0.1:9"; // nothing listens on the discard port
    write_private(
        &home.path().join(".config/icat/icat.cfg"),
        &section("jdoe", dead, dead, "jdoe"),
    );
    // File only: unreachable server (a server error, exit 5).
    let o = home.run(&["-s", "jdoe", "visits"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    // The environment beats the file.
    let o = home
        .icat(&["-s", "jdoe", "visits", "--json"])
        .env("ICAT_SERVICE", &sim.icat_url)
        .output()
        .unwrap();
    assert_eq!(json(&o)["visits"].as_array().unwrap().len(), 2);
    // A flag beats the environment.
    let o = home
        .icat(&["-s", "jdoe", "-w", &sim.icat_url, "visits", "--json"])
        .env("ICAT_SERVICE", dead)
        .output()
        .unwrap();
    assert_eq!(json(&o)["visits"].as_array().unwrap().len(), 2);
    // ICAT_USER beats the file's user; the file's password is then not used for that other user.
    let o = home
        .icat(&["-s", "jdoe", "-w", &sim.icat_url, "login"])
        .env("ICAT_USER", "rbeck")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn working_directory_file_overrides_home_file_and_explicit_file_wins() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    write_private(
        &home.path().join(".icat/icat.cfg"),
        &section("me", &sim.icat_url, &sim.ids_url, "jdoe").replace("auth = db", "auth = nosuch"),
    );
    // ./icat.cfg (the working directory is the home here) only overrides the auth key (a url
    // there would redirect the home file's password, which is refused: see config_checks.rs).
    write_private(&home.path().join("icat.cfg"), "[me]\nauth = db\n");
    let o = home.run(&["-s", "me", "login"]);
    assert!(ok(&o).contains("db/jdoe"));
    // The override is said, naming both files.
    assert!(
        stderr(&o).contains(&format!(
            "./icat.cfg overrides `auth` of section [me] set in {}",
            home.path().join(".icat/icat.cfg").display()
        )),
        "{}",
        stderr(&o)
    );
    // -c names one file; other files are not read.
    let other = home.path().join("elsewhere.cfg");
    write_private(&other, &section("me", &sim.icat_url, &sim.ids_url, "acord"));
    let o = home.run(&["-c", other.to_str().unwrap(), "-s", "me", "login"]);
    assert!(ok(&o).contains("db/acord"));
    let o = home
        .icat(&["-s", "me", "login"])
        .env("ICAT_CFG", &other)
        .output()
        .unwrap();
    assert!(ok(&o).contains("db/acord"));
    // An unknown section is a usage error naming it.
    let o = home.run(&["-s", "nobody", "login"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[nobody]"));
}

#[test]
fn readable_config_with_password_warns() {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    let path = home.path().join(".icat/icat.cfg");
    write_private(&path, &section("jdoe", &sim.icat_url, &sim.ids_url, "jdoe"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = home.run(&["-s", "jdoe", "login"]);
        ok(&o);
        assert!(
            stderr(&o).contains("readable by other users"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn the_python_icat_example_config_works_unchanged_but_for_the_url() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/python-icat-6.2/icat.cfg");
    let Ok(text) = std::fs::read_to_string(&shared) else {
        eprintln!("skipping: {} is absent", shared.display());
        return;
    };
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let base = sim.icat_url.trim_end_matches("/ICATService/ICAT");
    let text = text.replace("https://icat.example.com:8181", base);
    let home = Home::new();
    write_private(&home.path().join(".config/icat/icat.cfg"), &text);
    for (section, user) in [
        ("acord", "db/acord"),
        ("rbeck", "db/rbeck"),
        ("root", "simple/root"),
    ] {
        let o = home.run(&["-s", section, "login"]);
        assert!(
            ok(&o).contains(&format!("logged in as {user}")),
            "{section}"
        );
    }
    let doc = json(&home.run(&["-s", "jdoe", "visits", "--json"]));
    assert_eq!(doc["visits"].as_array().unwrap().len(), 2);
}
