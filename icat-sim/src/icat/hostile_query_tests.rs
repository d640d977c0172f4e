//! Queries that push the database to its limits: long IN lists, odd ESCAPE clauses. Faults must
//! stay short and never carry SQL (issue 14, "Simulator as a server").

use std::collections::BTreeMap;

use icat_soap::dynamic::{AttrValue, DynEntity};

use super::Icat;
use super::search::{Cell, SearchItem};
use crate::icat::db::{Clock, Db};
use crate::icat::error::{IcatErrorKind, MAX_FAULT_MESSAGE};
use crate::process::config::SimConfig;

fn icat() -> Icat {
    Icat::new(
        Db::open(None, crate::entities(), Clock::default()).unwrap(),
        SimConfig::default(),
    )
}

fn creds(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".into(), user.into()),
        ("password".into(), "secret".into()),
    ])
}

fn named(entity: &str, name: &str) -> DynEntity {
    let mut f = DynEntity::new(entity);
    f.attrs
        .insert("name".into(), AttrValue::String(name.into()));
    f
}

/// Root and a non-root user who may read facilities, with facilities `F0` and `F1`.
fn with_facilities() -> (Icat, String, String) {
    let icat = icat();
    let root = icat.login("simple", &creds("root")).unwrap();
    let user = icat.login("db", &creds("jdoe")).unwrap();
    for name in ["F0", "F1"] {
        icat.create(&root, &named("Facility", name)).unwrap();
    }
    let mut rule = DynEntity::new("Rule");
    rule.attrs
        .insert("crudFlags".into(), AttrValue::String("R".into()));
    rule.attrs.insert(
        "what".into(),
        AttrValue::String("SELECT f FROM Facility f WHERE f.name LIKE 'F%'".into()),
    );
    icat.create(&root, &rule).unwrap();
    (icat, root, user)
}

fn names(items: &[SearchItem]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|i| match i {
            SearchItem::Value(Cell::String(s)) => s.clone(),
            other => panic!("not a name: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// A query with an IN list of `n` strings, two of which name existing facilities.
fn long_in_list(n: usize) -> String {
    let mut list: Vec<String> = (0..n).map(|i| format!("'x{i}'")).collect();
    list[n / 2] = "'F1'".into();
    list[n - 1] = "'F0'".into();
    format!(
        "SELECT f.name FROM Facility f WHERE f.name IN ({})",
        list.join(", ")
    )
}

#[test]
fn an_in_list_longer_than_the_database_variable_limit_is_answered() {
    // SQLite allows 32766 bound variables per statement; ICAT's JPQL has no such limit.
    let (icat, root, user) = with_facilities();
    let query = long_in_list(40_000);
    for session in [&root, &user] {
        let found = icat.search(session, &query);
        let found = found.unwrap_or_else(|e| {
            panic!(
                "{}: {}",
                e.kind.as_str(),
                &e.message[..200.min(e.message.len())]
            )
        });
        assert_eq!(names(&found), ["F0", "F1"]);
    }
    // NOT IN, numbers and a list beside other bound values work the same way.
    let ids: Vec<String> = (1..40_000).map(|i| i.to_string()).collect();
    let query = format!(
        "SELECT f.name FROM Facility f WHERE f.name LIKE 'F%' AND f.id NOT IN ({}) ",
        ids[2..].join(",")
    );
    assert_eq!(names(&icat.search(&user, &query).unwrap()), ["F0", "F1"]);
}

#[test]
fn database_errors_are_short_and_carry_no_sql() {
    let (icat, root, user) = with_facilities();
    // An empty ESCAPE: the database refuses it ("ESCAPE expression must be a single character").
    for session in [&root, &user] {
        let err = icat
            .search(
                session,
                "SELECT f.name FROM Facility f WHERE f.name LIKE 'F%' ESCAPE ''",
            )
            .unwrap_err();
        assert_eq!(err.kind, IcatErrorKind::BadParameter, "{err}");
        assert!(err.message.contains("ESCAPE"), "{err}");
        assert!(!err.message.contains("SELECT"), "SQL in the fault: {err}");
        assert!(!err.message.contains("\"id\""), "SQL in the fault: {err}");
    }
    // Beyond the variable limit without a long IN list (400 lists of 100): still no SQL, and a
    // bounded message.
    let lists: Vec<String> = (0..400)
        .map(|k| {
            let items: Vec<String> = (0..100).map(|i| format!("'x{k}-{i}'")).collect();
            format!("f.name IN ({})", items.join(", "))
        })
        .collect();
    let query = format!("SELECT f.name FROM Facility f WHERE {}", lists.join(" OR "));
    let err = icat.search(&user, &query).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter, "{err}");
    assert!(
        err.message.len() <= MAX_FAULT_MESSAGE,
        "{} bytes",
        err.message.len()
    );
    assert!(!err.message.contains("SELECT"), "SQL in the fault");
    assert!(
        err.message.contains("more values than the database takes"),
        "{err}"
    );
    assert!(err.message.contains("split it"), "{err}");
}

#[test]
fn a_long_chain_of_operators_is_refused_not_a_crash() {
    // 40,000 ORs overflowed the stack (every walk of the left-deep tree recurses) and aborted
    // the simulator with every session in it.
    let (icat, _root, user) = with_facilities();
    let ors: Vec<String> = (0..40_000).map(|i| format!("f.name = 'x{i}'")).collect();
    let query = format!("SELECT f.name FROM Facility f WHERE {}", ors.join(" OR "));
    let err = icat.search(&user, &query).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter, "{err}");
    assert!(err.message.contains("More than 1000 operators"), "{err}");
    // Within the bound the query is answered (or refused by the database), never a crash.
    let ors: Vec<String> = (0..999).map(|i| format!("f.name = 'x{i}'")).collect();
    let query = format!(
        "SELECT f.name FROM Facility f WHERE f.name = 'F1' OR {}",
        ors.join(" OR ")
    );
    match icat.search(&user, &query) {
        Ok(found) => assert_eq!(names(&found), ["F1"]),
        Err(e) => assert_eq!(e.kind, IcatErrorKind::BadParameter, "{e}"),
    }
}

#[test]
fn faults_on_the_wire_are_bounded() {
    // A parse error names the offending token: here a 100 KB one. The fault sent keeps 1000 bytes.
    let (icat, root, _user) = with_facilities();
    let token = "y".repeat(100_000);
    let err = icat
        .search(
            &root,
            &format!("SELECT f FROM Facility f WHERE {token} {token}"),
        )
        .unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter);
    assert!(err.message.len() > 100_000, "the error itself is whole");
    // The REST API's error body is bounded the same way.
    let rest = crate::icat::rest::error_response(&err).into_body();
    let rest = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(axum::body::to_bytes(rest, usize::MAX))
        .unwrap();
    let rest: serde_json::Value = serde_json::from_slice(&rest).unwrap();
    let rest_message = rest["message"].as_str().unwrap();
    assert!(
        rest_message.len() <= MAX_FAULT_MESSAGE,
        "{} bytes",
        rest_message.len()
    );
    let sent = crate::icat::soap::exception(err);
    let message = sent.message.unwrap();
    assert!(
        message.len() <= MAX_FAULT_MESSAGE,
        "{} bytes",
        message.len()
    );
    assert!(message.ends_with('…'));
}
