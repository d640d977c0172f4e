//! Test helpers: a simulator per test (in-process, on its own runtime) and running the built `icat`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use icat_sim::{RunningSimulator, Simulator};

/// A running simulator; stopped when dropped.
pub struct Sim {
    running: Option<RunningSimulator>,
    rt: tokio::runtime::Runtime,
    /// The ICAT SOAP endpoint.
    pub icat_url: String,
    /// The IDS base URL.
    pub ids_url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.rt.block_on(running.shutdown());
        }
    }
}

impl Sim {
    /// Runs SQL on the simulator's catalogue (to make it say what a test needs, e.g. a
    /// datafile without a size or checksum).
    pub fn sql(&self, sql: &str) {
        let running = self.running.as_ref().expect("running");
        running
            .icat()
            .db()
            .conn()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Sim {
    /// Rows of plain SQL over the simulator's catalogue (a brute-force oracle for searches),
    /// every column as text (NULL as "").
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let running = self.running.as_ref().expect("running");
        let db = running.icat().db();
        let mut stmt = db
            .conn()
            .prepare(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let width = stmt.column_count();
        stmt.query_map([], |r| {
            let mut cols = Vec::new();
            for i in 0..width {
                cols.push(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Real(d) => d.to_string(),
                    _ => String::new(),
                });
            }
            Ok(cols)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// The ids of `entity` that `auth/user` may read, by SOAP search (ICAT's access rules).
    pub fn readable(
        &self,
        auth: &str,
        user: &str,
        entity: &str,
    ) -> std::collections::BTreeSet<i64> {
        use icat_sim::icat::search::{Cell, SearchItem};
        let icat = self.running.as_ref().expect("running").icat();
        let creds = std::collections::BTreeMap::from([
            ("username".to_string(), user.to_string()),
            ("password".to_string(), "secret".to_string()),
        ]);
        let session = icat.login(auth, &creds).unwrap();
        icat.search(&session, &format!("SELECT x.id FROM {entity} x"))
            .unwrap()
            .into_iter()
            .map(|item| match item {
                SearchItem::Value(Cell::Long(id)) => id,
                other => panic!("not an id: {other:?}"),
            })
            .collect()
    }
}

/// Starts a simulator with a synthetic facility (`spec` as for `--synthetic`).
pub fn start_sim(spec: &str, two_level: bool, restore_delay: Duration) -> Sim {
    start_sim_with(
        spec,
        two_level,
        restore_delay,
        icat_sim::process::config::SimConfig::default(),
    )
}

/// Like [`start_sim`], with a given configuration (e.g. a small `maxEntities`).
pub fn start_sim_with(
    spec: &str,
    two_level: bool,
    restore_delay: Duration,
    config: icat_sim::process::config::SimConfig,
) -> Sim {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let spec = spec.parse().expect("synthetic spec");
    let running = rt
        .block_on(
            Simulator::builder()
                .config(config)
                .synthetic(spec)
                .two_level(two_level)
                .restore_delay(restore_delay)
                .start(),
        )
        .expect("simulator starts");
    Sim {
        icat_url: running.icat_url(),
        ids_url: running.ids_url(),
        running: Some(running),
        rt,
    }
}

/// A private home, working directory and session cache for one test.
pub struct Home {
    /// The temporary directory holding everything.
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A fresh, empty home.
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The home directory (`$HOME`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The session cache directory (`$ICAT_CACHE_DIR`).
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// A command running the built `icat` with a clean environment rooted in this home.
    pub fn icat(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_icat"));
        cmd.args(args)
            .env_clear()
            .env("HOME", self.path())
            .env("XDG_CACHE_HOME", self.path().join(".cache"))
            .env("ICAT_CACHE_DIR", self.cache())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `icat` with these arguments.
    pub fn run(&self, args: &[&str]) -> Output {
        self.icat(args).output().expect("icat runs")
    }

    /// Runs `icat` with the password on stdin.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .icat(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("icat starts");
        // icat may end (e.g. refuse its arguments) before it reads its input: a closed pipe
        // then is its outcome to check, not a failure of the test's harness.
        if let Err(e) = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            panic!("write stdin: {e}");
        }
        child.wait_with_output().expect("icat runs")
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "icat failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Logs in as `db/<user>` with the password on stdin; panics on failure.
pub fn login(home: &Home, sim: &Sim, user: &str) {
    login_with(home, sim, "db", user);
}

/// The arguments of `icat -w ICAT [--idsurl IDS] -a AUTH -u USER --password-stdin login`.
pub fn login_args<'a>(
    icat_url: &'a str,
    ids_url: Option<&'a str>,
    auth: &'a str,
    user: &'a str,
) -> Vec<&'a str> {
    let mut args = vec!["-w", icat_url];
    if let Some(ids) = ids_url {
        args.extend(["--idsurl", ids]);
    }
    args.extend(["-a", auth, "-u", user, "--password-stdin", "login"]);
    args
}

/// Logs in as `<auth>/<user>` (the simulator's password is `secret`) with the simulator's IDS
/// URL; panics on failure.
pub fn login_with(home: &Home, sim: &Sim, auth: &str, user: &str) {
    let args = login_args(&sim.icat_url, Some(&sim.ids_url), auth, user);
    ok(&home.run_with_stdin(&args, "secret\n"));
}

/// A simulator with a synthetic facility (`spec` as for `--synthetic`, one-level storage) and
/// a fresh home logged in to it as `simple/root`.
pub fn sim_with_root(spec: &str, restore_delay: Duration) -> (Sim, Home) {
    let sim = start_sim(spec, false, restore_delay);
    let home = Home::new();
    login_with(&home, &sim, "simple", "root");
    (sim, home)
}

/// Logs in as `db/<user>` without `--idsurl` (the IDS URL is then derived from the ICAT URL);
/// returns the output, whatever it is.
pub fn login_without_idsurl(home: &Home, sim: &Sim, user: &str) -> Output {
    home.run_with_stdin(&login_args(&sim.icat_url, None, "db", user), "secret\n")
}

/// Parses stdout as JSON, panicking with the output on failure.
pub fn json(o: &Output) -> serde_json::Value {
    let text = ok(o);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Size and CRC32 (lower-case hex) of a file.
pub fn size_and_crc(path: &Path) -> (u64, String) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    (bytes.len() as u64, format!("{:x}", crc32fast::hash(&bytes)))
}

/// Every regular file under `dir`, recursively, relative paths sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            }
        }
    }
    out.sort();
    out
}
