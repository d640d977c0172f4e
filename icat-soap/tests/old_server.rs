//! A server older than ICAT 4.3 (no `refresh`, `getEntityNames`, `isAccessAllowed`,
//! `getProperties`) behind the ICAT 6.2 bindings: the operations it lacks are a typed
//! `NotSupported` error, and sessions cope without `refresh` (they log in again when they must,
//! or run until the server ends them when no credentials were kept).
//!
//! The fake answers an unknown operation as JAX-WS RI (Metro, ICAT's SOAP stack) does: HTTP 500,
//! faultcode `S:Client`, faultstring `Cannot find dispatch method for {namespace}operation`
//! (`com.sun.xml.ws.server.sei.SEIInvokerPipe`, message `dispatch.cannotFindMethod`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use common::{
    FakeSessions, Recorded, Replay, SESSION_A, SESSION_B, answer, element, envelope, fault, xml,
};
use icat_soap::IcatError;
use icat_soap::client::{Client, Credentials};

/// The operations ICAT 4.2 lacks that the runtime uses.
const MISSING: [&str; 4] = [
    "refresh",
    "getEntityNames",
    "isAccessAllowed",
    "getProperties",
];

/// Metro's answer to an operation the endpoint does not have.
fn no_dispatch(op: &str) -> Response {
    xml(
        500,
        envelope(&format!(
            "<S:Fault xmlns:ns4=\"http://www.w3.org/2003/05/soap-envelope\"><faultcode>S:Client</faultcode><faultstring>Cannot find dispatch method for {{http://icatproject.org}}{op}</faultstring></S:Fault>"
        )),
    )
}

/// A small ICAT 4.2: sessions by id, `minutes` of lifetime, no operation from [`MISSING`].
struct OldIcat {
    sessions: FakeSessions,
    minutes: f64,
}

impl OldIcat {
    fn new(minutes: f64) -> Arc<OldIcat> {
        Arc::new(OldIcat {
            sessions: FakeSessions::default(),
            minutes,
        })
    }

    fn forget_sessions(&self) {
        self.sessions.forget_all();
    }

    fn respond(&self, rec: &Recorded) -> Response {
        let op = rec.operation();
        if MISSING.contains(&op.as_str()) {
            return no_dispatch(&op);
        }
        if op == "login" {
            let id = self.sessions.login();
            return answer("login", &format!("<return>{id}</return>"));
        }
        let sid = element(&rec.body, "sessionId").unwrap_or_default();
        if !self.sessions.is_valid(&sid) {
            return fault("SESSION", "Unable to find user by sessionid", -1);
        }
        match op.as_str() {
            "getRemainingMinutes" => answer(
                "getRemainingMinutes",
                &format!("<return>{}</return>", self.minutes),
            ),
            "getUserName" => answer("getUserName", "<return>db/root</return>"),
            other => fault("INTERNAL", &format!("{other} is not in this fake"), -1),
        }
    }
}

async fn start(fake: Arc<OldIcat>) -> Replay {
    Replay::start(move |rec, _| fake.respond(rec)).await
}

fn ops(server: &Replay) -> Vec<String> {
    server.recorded().iter().map(Recorded::operation).collect()
}

fn creds() -> Credentials {
    Credentials::user_password("root", "pw")
}

fn assert_not_supported(result: Result<impl std::fmt::Debug, IcatError>, op: &str) {
    match result {
        Err(IcatError::NotSupported { operation }) => assert_eq!(operation, op),
        other => panic!("{op}: expected NotSupported, got {other:?}"),
    }
}

#[tokio::test]
async fn operations_the_server_lacks_are_a_typed_not_supported_error() {
    let server = start(OldIcat::new(120.0)).await;
    let client = Client::new(&server.url).expect("client");
    icat_soap::ops::if_operation! { getEntityNames {
        assert_not_supported(client.entity_names().await, "getEntityNames");
    } else {
        // Bindings for such a server list the schema's own entities, with no round trip.
        assert!(!client.entity_names().await.expect("names").is_empty());
    } }
    let session = client.login("db", &creds()).await.expect("login");
    assert_not_supported(session.refresh().await, "refresh");
    assert_not_supported(session.properties().await, "getProperties");
    // `Session::is_access_allowed` exists only in bindings that have `isAccessAllowed` (4.3 on).
    icat_soap::ops::if_operation! { isAccessAllowed {
        use icat_soap::model::{AccessType, Investigation};
        assert_not_supported(
            session
                .is_access_allowed(Investigation::default(), AccessType::Read)
                .await,
            "isAccessAllowed",
        );
    } else {} }
    // The error says what it means for the user, and the session still works.
    let text = IcatError::NotSupported {
        operation: "refresh".into(),
    }
    .to_string();
    assert!(
        text.contains("refresh") && text.contains("older ICAT"),
        "{text}"
    );
    assert_eq!(session.user_name().await.expect("user"), "db/root");
}

#[tokio::test]
async fn a_session_that_cannot_be_refreshed_logs_in_again_before_it_expires() {
    // 0.02 minutes (1.2 s) of lifetime: after 1 s less than a quarter is left.
    let server = start(OldIcat::new(0.02)).await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");
    assert_eq!(session.id(), SESSION_A);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(session.user_name().await.expect("user"), "db/root");
    assert_eq!(
        ops(&server)[2..],
        ["refresh", "login", "getRemainingMinutes", "getUserName"]
    );
    assert_eq!(session.id(), SESSION_B);
    // Next time the session runs low it logs in again at once: `refresh` is not tried again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    session.user_name().await.expect("user");
    assert_eq!(
        ops(&server)[6..],
        ["login", "getRemainingMinutes", "getUserName"]
    );
}

#[tokio::test]
async fn without_kept_credentials_the_session_runs_until_the_server_ends_it() {
    let server = start(OldIcat::new(0.02)).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The refresh is tried once; the call goes ahead with the session the server still accepts.
    assert_eq!(session.user_name().await.expect("user"), "db/root");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(session.user_name().await.expect("user"), "db/root");
    assert_eq!(ops(&server)[2..], ["refresh", "getUserName", "getUserName"]);
}

#[tokio::test]
async fn a_session_refused_elsewhere_is_checked_without_refresh() {
    let fake = OldIcat::new(120.0);
    let server = start(fake.clone()).await;
    let client = Client::new(&server.url).expect("client");
    let session = client
        .login_with_relogin("db", &creds())
        .await
        .expect("login");
    // ICAT still knows the session: the same id comes back, checked by getRemainingMinutes.
    assert_eq!(
        session
            .renew_after_rejection(SESSION_A)
            .await
            .expect("renew"),
        SESSION_A
    );
    assert_eq!(ops(&server)[2..], ["refresh", "getRemainingMinutes"]);
    // ICAT forgot it: the session logs in again (and does not try refresh again).
    fake.forget_sessions();
    assert_eq!(
        session
            .renew_after_rejection(SESSION_A)
            .await
            .expect("renew"),
        SESSION_B
    );
    assert_eq!(
        ops(&server)[4..],
        ["getRemainingMinutes", "login", "getRemainingMinutes"]
    );
}
