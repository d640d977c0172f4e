//! Secrets: a full session (library and CLI) at TRACE level never shows the password or a full
//! session id in logs, command output or the Display/Debug of any error; the CLI's session cache
//! is private (0600) and holds no password.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use icat_cli::cli::ConnArgs;
use icat_cli::commands::{browse, download, session as cli_session};
use icat_cli::connect::{self, Reuse};
use icat_cli::context::Context;
use icat_cli::exit_code::describe_error;
use icat_cli::output::Format;
use icat_cli::progress::{Mode, Reporter};
use icat_cli::queries::Target;
use icat_ids::{
    CancellationToken, DataSelection, DatafileSpec, DownloadOptions, DownloadPlan, Expected,
    IdsClient, Packing, SessionId, TransportOptions, WaitOptions,
};
use icat_sim::Simulator;
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::icat::db::Clock;
use icat_sim::process::config::SimConfig;
use icat_soap::Query;
use icat_soap::client::{Client, Credentials};
use icat_soap::model::{Datafile, Investigation};
use icat_soap::query::Literal;

/// A password that cannot appear by accident.
const PASSWORD: &str = "Pw-7f3e9c-never-LOG-me";

/// Everything the session printed, logged or returned as an error.
#[derive(Clone, Default)]
struct Haystack(Arc<Mutex<Vec<u8>>>);

impl Haystack {
    fn add(&self, what: &str, text: impl AsRef<str>) {
        let mut buf = self.0.lock().expect("lock");
        let _ = writeln!(buf, "--- {what}\n{}", text.as_ref());
    }
    fn error(&self, what: &str, e: &(impl std::fmt::Display + std::fmt::Debug)) {
        self.add(what, format!("{e}\n{e:?}\n{e:#?}"));
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl Write for Haystack {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn jdoe(password: &str) -> Credentials {
    Credentials::new()
        .with("username", "jdoe")
        .with("password", password)
}

/// Fails when any 12-character piece of a session id occurs (the logs' short form is 8), listing
/// every line where one does.
fn assert_no_session_id(haystack: &str, ids: &[String]) {
    let mut pieces = Vec::new();
    for id in ids {
        assert!(id.len() >= 16, "session ids are long: {id}");
        let chars: Vec<char> = id.chars().collect();
        pieces.extend(chars.windows(12).map(|w| w.iter().collect::<String>()));
    }
    let leaks: Vec<&str> = haystack
        .lines()
        .filter(|line| pieces.iter().any(|p| line.contains(p.as_str())))
        .collect();
    assert!(
        leaks.is_empty(),
        "{} lines show (part of) a session id:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

fn context_of(haystack: &str, needle: &str) -> String {
    let at = haystack.find(needle).unwrap_or(0);
    let start = haystack[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    haystack[start..].chars().take(700).collect::<String>()
}

#[test]
fn a_full_session_at_trace_level_never_shows_secrets() {
    let logs = Haystack::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let said = Haystack::default();
    let (ids_seen, cache_dir) = rt.block_on(session(said.clone()));

    let mut everything = logs.text();
    assert!(
        everything.contains("TRACE") && everything.contains("DEBUG"),
        "logs were captured at TRACE level"
    );
    everything.push_str(&said.text());
    assert!(
        !everything.contains(PASSWORD),
        "password appears in:\n{}",
        context_of(&everything, PASSWORD)
    );
    assert!(
        !everything.contains("wrong-Pw-3b1d"),
        "the wrong password too"
    );
    assert_no_session_id(&everything, &ids_seen);
    drop(cache_dir);
}

/// Runs the whole session; returns every session id it saw and the CLI's cache directory.
async fn session(said: Haystack) -> (Vec<String>, tempfile::TempDir) {
    let clock = Clock::default();
    let mut config = SimConfig::default();
    for auth in &mut config.authenticators {
        if let Some(p) = auth.users.get_mut("jdoe") {
            *p = PASSWORD.to_string();
        }
    }
    let s = Simulator::builder()
        .config(config)
        .clock(clock.clone())
        .synthetic(SyntheticSpec {
            visits: 6,
            datasets: 2,
            files: 2,
            size: 100,
            ..SyntheticSpec::default()
        })
        .start()
        .await
        .expect("simulator starts");
    let mut ids_seen = Vec::new();

    // ---- The library: ICAT searches, IDS prepare and download, failures, expiry, logout.
    let client = Client::new(&s.icat_url()).expect("client");
    let e = client
        .login("db", &jdoe("wrong-Pw-3b1d"))
        .await
        .unwrap_err();
    assert!(e.is_session(), "{e:?}");
    said.error("wrong password", &e);
    let keeping = client
        .login_with_relogin("db", &jdoe(PASSWORD))
        .await
        .expect("login");
    said.add("session debug", format!("{keeping:?}"));
    ids_seen.push(keeping.id());
    let mine: Vec<Investigation> = keeping
        .search_entities(
            &Query::new("Investigation")
                .where_eq("investigationUsers.user.name", Literal::CurrentUser)
                .order_by("id")
                .include("datasets.datafiles"),
        )
        .await
        .expect("my visits");
    let visit = mine.first().expect("jdoe has a visit");
    let visit_id = visit.visit_id.clone().expect("visit id");
    let datafile: &Datafile = visit
        .datasets
        .iter()
        .flat_map(|d| d.datafiles.iter())
        .next()
        .expect("a datafile");
    let got = keeping
        .get("Datafile", datafile.id.expect("id"))
        .await
        .expect("get");
    said.add("get", format!("{got:?}"));
    let e = keeping
        .search("SELECT x FROM Nonsense x")
        .await
        .unwrap_err();
    said.error("failed query", &e);

    let ids = IdsClient::new(&s.ids_url(), TransportOptions::default())
        .expect("ids")
        .with_session(SessionId::new(keeping.id()));
    said.add("ids client", format!("{ids:?}"));
    let datasets = DataSelection::datasets(visit.datasets.iter().filter_map(|d| d.id));
    let prepared = ids
        .prepare_and_wait(&datasets, Packing::default(), &WaitOptions::default())
        .await
        .expect("prepare");
    let zip: Vec<bytes::Bytes> = ids
        .get_data(&prepared, Packing::default(), 0)
        .await
        .expect("getData")
        .into_stream()
        .try_collect()
        .await
        .expect("body");
    assert!(zip.iter().map(|b| b.len()).sum::<usize>() > 0);
    let dest = tempfile::tempdir().expect("tempdir");
    let mut plan = DownloadPlan::new(dest.path());
    plan.push(
        DatafileSpec::in_visit_dataset(
            datafile.id.expect("id"),
            &visit_id,
            "ds",
            datafile.name.as_deref().expect("name"),
            Expected::default(),
        )
        .expect("spec"),
    );
    let summary = ids
        .download_plan(&plan, &DownloadOptions::default())
        .await
        .expect("download");
    assert!(summary.is_complete(), "{summary:?}");
    said.add("download summary", format!("{summary:?}"));
    let e = ids
        .get_data(
            &DataSelection::datafiles([987_654_321]),
            Packing::default(),
            0,
        )
        .await
        .err()
        .expect("unknown datafile");
    said.error("ids not found", &e);

    // Expiry: the plain session fails, the one allowed to log in again does so (and logs it).
    let plain = client.login("db", &jdoe(PASSWORD)).await.expect("login");
    ids_seen.push(plain.id());
    clock.advance(Duration::from_secs(121 * 60));
    let e = plain.user_name().await.unwrap_err();
    assert!(e.is_session(), "{e:?}");
    said.error("expired session", &e);
    let e = ids.get_size(&datasets).await.unwrap_err();
    said.error("ids with expired session", &e);
    keeping.user_name().await.expect("re-login after expiry");
    ids_seen.push(keeping.id());
    keeping.clone().logout().await.expect("logout");
    let ended = client.login("db", &jdoe(PASSWORD)).await.expect("login");
    ids_seen.push(ended.id());
    ended.clone().logout().await.expect("logout");
    let e = ended.user_name().await.unwrap_err();
    assert!(e.is_session(), "{e:?}");
    said.error("after logout", &e);

    // ---- The CLI commands in-process (their logs go to the same TRACE subscriber).
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("icat.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[sim]\nurl = {}?wsdl\nauth = db\nusername = jdoe\npassword = {PASSWORD}\nidsurl = {}\n",
            s.icat_url(),
            s.ids_url()
        ),
    )
    .expect("config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let cache_dir = home.path().join("cache");
    let ctx = Context {
        conn: ConnArgs {
            configfile: Some(cfg.clone()),
            section: Some("sim".into()),
            ..ConnArgs::default()
        },
        env: [
            ("HOME".to_string(), home.path().display().to_string()),
            (
                "ICAT_CACHE_DIR".to_string(),
                cache_dir.display().to_string(),
            ),
        ]
        .into_iter()
        .collect(),
        reporter: Reporter::new(Mode::Quiet),
    };
    let mut out = said.clone();
    let conn = cli_session::login(&ctx, &mut out)
        .await
        .expect("icat login");
    ids_seen.push(conn.cached.session_id.clone());
    check_cache(&cache_dir);
    cli_session::whoami(&ctx, Format::Json, &mut out)
        .await
        .expect("icat whoami");
    let conn = connect::connect(&ctx, Reuse::CachedOrLogin)
        .await
        .expect("reuse");
    browse::search(
        &conn.session,
        "SELECT i FROM Investigation i",
        Format::Json,
        None,
        &mut out,
    )
    .await
    .expect("icat search");
    let e = browse::search(
        &conn.session,
        "SELECT x FROM Nonsense x",
        Format::Table,
        None,
        &mut out,
    )
    .await
    .unwrap_err();
    said.add("icat search error", describe_error(&e).1);
    said.error("icat search error", &e);
    for zip in [false, true] {
        let req = download::DownloadRequest {
            parallel: 2,
            zip,
            ..download::DownloadRequest::new(
                Target::Visit(visit_id.clone()),
                home.path().join(if zip { "zip" } else { "raw" }),
            )
        };
        let report = download::download(&conn, &req, &ctx.reporter, CancellationToken::new())
            .await
            .expect("icat download");
        said.add("icat download", report.summary_line());
    }
    // The cached session expires: whoami reports it, the next command logs in again.
    clock.advance(Duration::from_secs(121 * 60));
    if let Err(e) = cli_session::whoami(&ctx, Format::Table, &mut out).await {
        said.add("icat whoami expired", describe_error(&e).1);
        said.error("icat whoami expired", &e);
    }
    let conn = connect::connect(&ctx, Reuse::CachedOrLogin)
        .await
        .expect("log in again");
    ids_seen.push(conn.cached.session_id.clone());
    check_cache(&cache_dir);
    cli_session::logout(&ctx, false, &mut out)
        .await
        .expect("icat logout");
    let e = cli_session::whoami(&ctx, Format::Table, &mut out)
        .await
        .unwrap_err();
    said.add("icat whoami after logout", describe_error(&e).1);
    said.error("icat whoami after logout", &e);

    s.shutdown().await;
    (ids_seen, home)
}

/// Every cache file is private and holds the session id but never the password.
fn check_cache(dir: &std::path::Path) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .expect("cache dir")
        .filter_map(Result::ok)
        .collect();
    assert!(!entries.is_empty(), "a session was cached");
    for entry in entries {
        let text = std::fs::read_to_string(entry.path()).expect("cache file");
        assert!(!text.contains(PASSWORD), "password cached: {text}");
        // Session files hold an id; `default.json` only names which session is the default.
        if entry.file_name().to_string_lossy().starts_with("session-") {
            assert!(text.contains("session_id"), "{text}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", entry.path().display());
        }
    }
}
