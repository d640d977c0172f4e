//! Every operation, fault mapping, session refresh and re-login, concurrency and paging, against a
//! local server replaying Metro-style answers (the wire examples of the ICAT SOAP reference).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use common::{FakeSessions, Recorded, Replay, SESSION_A, SESSION_B, answer, element, fault};
use futures_util::TryStreamExt;
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::model::{Dataset, Entity, Investigation, Value};
use icat_soap::{IcatError, Query};

const PASSWORD: &str = "s3cret-Pa55";

const INVESTIGATION: &str = "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ns2:investigation\"><createId>db/root</createId><createTime>2024-03-01T10:15:30.123Z</createTime><id>42</id><modId>db/root</modId><modTime>2024-03-01T10:15:30.123Z</modTime><facility><createId>db/root</createId><createTime>2024-01-01T00:00:00Z</createTime><id>1</id><modId>db/root</modId><modTime>2024-01-01T00:00:00Z</modTime><name>ISIS</name></facility><fileCount>0</fileCount><fileSize>0</fileSize><name>RB1234</name><title>A test</title><visitId>1</visitId></return>";

fn creds() -> Credentials {
    Credentials::new()
        .with("username", "root")
        .with("password", PASSWORD)
}

/// Answers every operation like a small ICAT: `valid` holds the session ids it accepts.
struct FakeIcat {
    sessions: FakeSessions,
    logins: AtomicUsize,
    remaining_minutes: f64,
}

impl FakeIcat {
    fn new(remaining_minutes: f64) -> Arc<FakeIcat> {
        Arc::new(FakeIcat {
            sessions: FakeSessions::default(),
            logins: AtomicUsize::new(0),
            remaining_minutes,
        })
    }

    fn invalidate_all(&self) {
        self.sessions.forget_all();
    }

    fn respond(&self, rec: &Recorded) -> Response {
        let op = rec.operation();
        let sid = element(&rec.body, "sessionId");
        let needs_session = !matches!(
            op.as_str(),
            "login" | "getApiVersion" | "getEntityNames" | "getEntityInfo" | "getAuthenticatorInfo"
        );
        if needs_session {
            let ok = sid.as_ref().is_some_and(|s| self.sessions.is_valid(s));
            if !ok {
                return fault(
                    "SESSION",
                    &format!(
                        "Unable to find user by sessionid: {}",
                        sid.unwrap_or_default()
                    ),
                    -1,
                );
            }
        }
        match op.as_str() {
            "login" => {
                if element(&rec.body, "value").is_none() {
                    return fault("SESSION", "The username and password do not match", -1);
                }
                self.logins.fetch_add(1, Ordering::SeqCst);
                let id = self.sessions.login();
                answer("login", &format!("<return>{id}</return>"))
            }
            "getRemainingMinutes" => answer(
                "getRemainingMinutes",
                &format!("<return>{}</return>", self.remaining_minutes),
            ),
            "refresh" => answer("refresh", ""),
            "logout" => {
                self.invalidate_all();
                answer("logout", "")
            }
            "getUserName" => answer("getUserName", "<return>db/root</return>"),
            "getApiVersion" => answer("getApiVersion", "<return>6.2.0</return>"),
            "getEntityNames" => answer(
                "getEntityNames",
                "<return>Affiliation</return><return>Application</return><return>Datafile</return>",
            ),
            "getEntityInfo" => answer(
                "getEntityInfo",
                "<return><classComment>A facility</classComment><constraints><fieldNames>name</fieldNames></constraints><fields><comment>A short name</comment><name>name</name><notNullable>true</notNullable><relType>ATTRIBUTE</relType><stringLength>255</stringLength><type>String</type></fields></return>",
            ),
            "getAuthenticatorInfo" => answer(
                "getAuthenticatorInfo",
                "<return><friendly>Database</friendly><keys><name>username</name></keys><keys><hide>true</hide><name>password</name></keys><mnemonic>db</mnemonic></return>",
            ),
            "getProperties" => answer(
                "getProperties",
                "<return>lifetimeMinutes 120</return><return>maxEntities 10000</return>",
            ),
            "isAccessAllowed" => answer("isAccessAllowed", "<return>true</return>"),
            "create" => answer("create", "<return>1234</return>"),
            "createMany" => answer("createMany", "<return>7</return><return>8</return>"),
            "update" | "delete" | "deleteMany" => answer(&op, ""),
            "get" => answer(
                "get",
                "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ns2:dataset\"><id>1234</id><complete>false</complete><name>ds1</name></return>",
            ),
            "search" => self.search(&element(&rec.body, "query").unwrap_or_default()),
            other => fault("NOT_IMPLEMENTED", &format!("{other} is not known"), -1),
        }
    }

    fn search(&self, query: &str) -> Response {
        if query.contains("Investigation") && !query.contains("LIMIT") {
            return answer("search", INVESTIGATION);
        }
        if let Some(limit) = query.split("LIMIT ").nth(1) {
            // Seven names in all, served in pages.
            let mut parts = limit.split(", ");
            let offset: usize = parts
                .next()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0);
            let count: usize = parts
                .next()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0);
            let rows: String = (offset..7.min(offset + count))
                .map(|i| format!("<return xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">name{i}</return>"))
                .collect();
            return answer("search", &rows);
        }
        answer(
            "search",
            "<return xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:long\">17</return>",
        )
    }
}

async fn start(fake: Arc<FakeIcat>) -> Replay {
    Replay::start(move |rec, _| fake.respond(rec)).await
}

fn ops(server: &Replay) -> Vec<String> {
    server.recorded().iter().map(Recorded::operation).collect()
}

// Every operation of ICAT 4.9 and later (bindings for an older server lack some of them).
icat_soap::ops::if_operation! { getAuthenticatorInfo {
#[tokio::test]
async fn every_operation_round_trips() {
    let fake = FakeIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&format!("{}/ICATService/ICAT?wsdl", server.url)).expect("client");

    assert_eq!(client.api_version().await.expect("version"), "6.2.0");
    assert_eq!(
        client.entity_names().await.expect("names"),
        ["Affiliation", "Application", "Datafile"]
    );
    let info = client.entity_info("Facility").await.expect("info");
    assert_eq!(info.fields.len(), 1);
    let auth = client.authenticator_info().await.expect("auth");
    assert_eq!(auth[0].mnemonic.as_deref(), Some("db"));

    let session = client.login("db", &creds()).await.expect("login");
    let login = &server.recorded()[server.recorded().len() - 2];
    assert!(login.body.contains("<plugin>db</plugin>"));
    assert!(
        login
            .body
            .contains("<entry><key>username</key><value>root</value></entry>")
    );
    assert_eq!(session.id(), SESSION_A);
    assert!(session.lifetime() > Duration::from_secs(119 * 60));

    assert_eq!(session.user_name().await.expect("user"), "db/root");
    assert!((session.remaining_minutes().await.expect("remaining") - 120.0).abs() < 1e-9);
    session.refresh().await.expect("refresh");
    assert_eq!(session.properties().await.expect("props").len(), 2);

    let found = session
        .search("SELECT i FROM Investigation i")
        .await
        .expect("search");
    let [Value::Entity(Entity::Investigation(inv))] = found.as_slice() else {
        panic!("unexpected {found:?}")
    };
    assert_eq!(inv.name.as_deref(), Some("RB1234"));
    assert_eq!(
        inv.facility.as_ref().and_then(|f| f.name.as_deref()),
        Some("ISIS")
    );

    let typed: Vec<Investigation> = session
        .search_entities(&Query::new("Investigation"))
        .await
        .expect("typed");
    assert_eq!(typed[0].id, Some(42));

    let count = session
        .search(&Query::new("Dataset").count())
        .await
        .expect("count");
    assert!(matches!(count.as_slice(), [Value::Long(17)]), "{count:?}");

    let ds: Dataset = session.get_entity(1234, &[]).await.expect("get");
    assert_eq!(ds.name.as_deref(), Some("ds1"));
    let get = server.recorded().last().cloned().expect("recorded");
    assert_eq!(element(&get.body, "query").as_deref(), Some("Dataset"));
    assert_eq!(element(&get.body, "primaryKey").as_deref(), Some("1234"));

    let new = Dataset {
        name: Some("ds2".into()),
        ..Default::default()
    };
    assert_eq!(session.create(new.clone()).await.expect("create"), 1234);
    let create = server.recorded().last().cloned().expect("recorded");
    assert!(create.body.contains("<name>ds2</name>"), "{}", create.body);
    assert!(
        create.body.contains(":dataset\""),
        "bean needs xsi:type: {}",
        create.body
    );
    assert_eq!(
        session
            .create_many(vec![new.clone().into(), new.clone().into()])
            .await
            .expect("createMany"),
        [7, 8]
    );
    let with_id = Dataset {
        id: Some(1234),
        ..new
    };
    session.update(with_id.clone()).await.expect("update");
    assert!(
        session
            .is_access_allowed(with_id.clone(), icat_soap::model::AccessType::Update)
            .await
            .expect("access")
    );
    session.delete(with_id.clone()).await.expect("delete");
    session
        .delete_many(vec![with_id.clone().into()])
        .await
        .expect("deleteMany");
    session.clone().logout().await.expect("logout");
    assert!(matches!(
        session.user_name().await,
        Err(IcatError::Session { .. })
    ));

    let seen = ops(&server);
    for op in [
        "getApiVersion",
        "getEntityNames",
        "getEntityInfo",
        "getAuthenticatorInfo",
        "login",
        "getUserName",
        "getRemainingMinutes",
        "refresh",
        "getProperties",
        "search",
        "get",
        "create",
        "createMany",
        "update",
        "isAccessAllowed",
        "delete",
        "deleteMany",
        "logout",
    ] {
        assert!(seen.iter().any(|s| s == op), "{op} never sent: {seen:?}");
    }
}
} else {} }

#[tokio::test]
async fn each_fault_type_maps_to_its_variant() {
    let kinds = [
        "BAD_PARAMETER",
        "INTERNAL",
        "INSUFFICIENT_PRIVILEGES",
        "NO_SUCH_OBJECT_FOUND",
        "OBJECT_ALREADY_EXISTS",
        "SESSION",
        "VALIDATION",
        "NOT_IMPLEMENTED",
    ];
    let index = Arc::new(AtomicUsize::new(0));
    let i2 = index.clone();
    let server = Replay::start(move |_, _| {
        let k = kinds[i2.load(Ordering::SeqCst)];
        fault(k, &format!("a {k} problem"), 3)
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    for (i, kind) in kinds.iter().enumerate() {
        index.store(i, Ordering::SeqCst);
        let err = client.api_version().await.unwrap_err();
        let matched = matches!(
            (*kind, &err),
            ("BAD_PARAMETER", IcatError::BadParameter { .. })
                | ("INTERNAL", IcatError::Internal { .. })
                | (
                    "INSUFFICIENT_PRIVILEGES",
                    IcatError::InsufficientPrivileges { .. }
                )
                | ("NO_SUCH_OBJECT_FOUND", IcatError::NoSuchObjectFound { .. })
                | (
                    "OBJECT_ALREADY_EXISTS",
                    IcatError::ObjectAlreadyExists { .. }
                )
                | ("SESSION", IcatError::Session { .. })
                | ("VALIDATION", IcatError::Validation { .. })
                | ("NOT_IMPLEMENTED", IcatError::NotImplemented { .. })
        );
        assert!(matched, "{kind} became {err:?}");
        assert_eq!(
            err.fault_message(),
            Some(format!("a {kind} problem").as_str())
        );
        assert_eq!(err.fault_offset(), Some(3));
    }
}

#[tokio::test]
async fn wrong_credentials_give_a_session_error() {
    let server = start(FakeIcat::new(120.0)).await;
    let client = Client::new(&server.url).expect("client");
    let err = client.login("db", &Credentials::new()).await.unwrap_err();
    assert!(err.is_session(), "{err:?}");
}

// Sessions refresh with `refresh` (ICAT 4.3 on; without it they log in again: tests/old_server.rs).
icat_soap::ops::if_operation! { refresh {
#[tokio::test]
async fn a_session_close_to_expiry_is_refreshed_before_the_next_call() {
    // The server grants 0.02 minutes (1.2 s); after 1 s less than a quarter is left.
    let server = start(FakeIcat::new(0.02)).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    session.user_name().await.expect("first call");
    assert_eq!(
        ops(&server),
        ["login", "getRemainingMinutes", "getUserName"]
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    session.user_name().await.expect("second call");
    assert_eq!(
        ops(&server)[3..],
        ["refresh", "getRemainingMinutes", "getUserName"]
    );
    // Fresh again: no refresh on the following call.
    session.user_name().await.expect("third call");
    assert_eq!(ops(&server)[6..], ["getUserName"]);
}
} else {} }

#[tokio::test]
async fn a_session_fault_leads_to_one_relogin_and_a_retry_of_reads() {
    let fake = FakeIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");
    assert_eq!(session.id(), SESSION_A);
    fake.invalidate_all(); // e.g. the server restarted

    let found = session
        .search("SELECT i FROM Investigation i")
        .await
        .expect("retried");
    assert_eq!(found.len(), 1);
    assert_eq!(session.id(), SESSION_B);
    assert_eq!(fake.logins.load(Ordering::SeqCst), 2);
    assert_eq!(
        ops(&server)[2..],
        ["search", "login", "getRemainingMinutes", "search"]
    );

    // A write is not repeated: the fault comes back, but the session is usable again.
    fake.invalidate_all();
    let before = server.recorded().len();
    let err = session.create(Dataset::default()).await.unwrap_err();
    assert!(err.is_session(), "{err:?}");
    assert_eq!(
        ops(&server)[before..],
        ["create", "login", "getRemainingMinutes"]
    );
    session.user_name().await.expect("usable after relogin");
}

#[tokio::test]
async fn without_kept_credentials_a_session_fault_is_returned() {
    let fake = FakeIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    fake.invalidate_all();
    let err = session.user_name().await.unwrap_err();
    assert!(err.is_session(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Log in again"), "{text}");
    assert!(
        text.contains("5c3d0b8e…") && !text.contains(SESSION_A),
        "{text}"
    );
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn relogin_happens_only_once_when_the_fault_persists() {
    // A server that rejects every session, even fresh ones.
    let logins = Arc::new(AtomicUsize::new(0));
    let l2 = logins.clone();
    let server = Replay::start(move |rec, _| match rec.operation().as_str() {
        "login" => {
            l2.fetch_add(1, Ordering::SeqCst);
            answer("login", &format!("<return>{SESSION_A}</return>"))
        }
        "getRemainingMinutes" if l2.load(Ordering::SeqCst) > 0 => {
            answer("getRemainingMinutes", "<return>120.0</return>")
        }
        _ => fault("SESSION", "Session id has expired", -1),
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");
    let err = session
        .search("SELECT COUNT(d) FROM Dataset d")
        .await
        .unwrap_err();
    assert!(err.is_session());
    assert_eq!(logins.load(Ordering::SeqCst), 2, "exactly one re-login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_client_and_renew_only_once() {
    let fake = FakeIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");

    let run_all = |session: Session| async move {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = session.clone();
                tokio::spawn(async move { s.search("SELECT COUNT(d) FROM Dataset d").await })
            })
            .collect();
        for t in tasks {
            let values = t.await.expect("task").expect("search");
            assert!(matches!(values.as_slice(), [Value::Long(17)]));
        }
    };
    run_all(session.clone()).await;
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);

    // All 32 calls hit a SESSION fault at once: one re-login serves them all.
    fake.invalidate_all();
    run_all(session.clone()).await;
    assert_eq!(fake.logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn paged_search_walks_limit_offsets_until_a_short_page() {
    let server = start(FakeIcat::new(120.0)).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    let query = Query::new("Datafile").select("name").order_by("name");
    let all: Vec<Value> = session
        .search_stream(&query, 3)
        .expect("stream")
        .try_collect()
        .await
        .expect("pages");
    let names: Vec<String> = all
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        (0..7).map(|i| format!("name{i}")).collect::<Vec<_>>()
    );
    let queries: Vec<String> = server
        .recorded()
        .iter()
        .filter(|r| r.operation() == "search")
        .filter_map(|r| element(&r.body, "query"))
        .collect();
    // Plain values are counted first: the count bounds the pages.
    assert_eq!(queries[0], "SELECT COUNT(d) FROM Datafile d");
    let limits: Vec<String> = queries[1..]
        .iter()
        .map(|q| q.split("LIMIT ").nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(limits, ["0, 3", "3, 3", "6, 3"]);

    // The documented caveats are enforced before anything is sent.
    assert!(session.search_stream(&Query::new("Datafile"), 3).is_err());
    assert!(session.search_stream(&query, 1).is_err());
    assert!(
        session
            .search_stream(&query.clone().limit(0, 5), 3)
            .is_err()
    );
}

#[tokio::test]
async fn typed_search_rejects_the_wrong_query_before_sending() {
    let server = start(FakeIcat::new(120.0)).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    let before = server.recorded().len();
    let err = session
        .search_entities::<Dataset>(&Query::new("Investigation"))
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::UnexpectedResult { .. }), "{err:?}");
    let err = session
        .search(&Query::new("Investigation").where_eq("nmae", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::Query(_)), "{err:?}");
    assert_eq!(server.recorded().len(), before, "nothing was sent");
}

/// A `tracing` writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_show_short_session_ids_and_never_passwords() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");
    session
        .search("SELECT i FROM Investigation i")
        .await
        .expect("search");
    fake.invalidate_all();
    session
        .search("SELECT i FROM Investigation i")
        .await
        .expect("search after relogin");

    let logs = String::from_utf8_lossy(&capture.0.lock().expect("lock")).into_owned();
    assert!(
        logs.contains("op=\"search\"") || logs.contains("op=search"),
        "{logs}"
    );
    assert!(logs.contains("5c3d0b8e…"), "short ids are logged: {logs}");
    assert!(
        !logs.contains(SESSION_A) && !logs.contains(SESSION_B),
        "{logs}"
    );
    assert!(!logs.contains(PASSWORD), "{logs}");
    assert!(!format!("{session:?}").contains(SESSION_B));
    assert!(!format!("{:?}", creds()).contains(PASSWORD));
}

// As above: bindings with `refresh`.
icat_soap::ops::if_operation! { refresh {
#[tokio::test]
async fn resuming_a_session_refreshes_it_only_when_close_to_expiry() {
    for (left, expected) in [
        (100.0, vec!["getRemainingMinutes"]),
        (
            20.0,
            vec!["getRemainingMinutes", "refresh", "getRemainingMinutes"],
        ),
    ] {
        let fake = FakeIcat::new(left);
        fake.sessions.accept(SESSION_A);
        let server = start(fake).await;
        let client = Client::new(&server.url).expect("client");
        let session = client.resume(SESSION_A, None).await.expect("resume");
        assert_eq!(session.id(), SESSION_A);
        assert_eq!(ops(&server), expected, "with {left} minutes left");
    }
    // An unknown id is a SESSION error, or a fresh login when credentials are given.
    let server = start(FakeIcat::new(120.0)).await;
    let client = Client::new(&server.url).expect("client");
    assert!(client.resume("stale", None).await.unwrap_err().is_session());
    let creds = creds();
    let session = client
        .resume("stale", Some(("db", &creds)))
        .await
        .expect("relogin");
    assert_eq!(session.id(), SESSION_A);
    assert!(session.can_relogin());
}
} else {} }
