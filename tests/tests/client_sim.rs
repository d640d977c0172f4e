//! `icat_soap::Client` against the simulator: every operation, faults, session refresh and re-login,
//! concurrency, paging, hostile query values and the visits workflow.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::icat::db::Clock;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::model::{AccessType, Datafile, Dataset, Entity, Facility, Investigation, Value};
use icat_soap::query::Condition;
use icat_soap::{IcatError, Query};

fn root() -> Credentials {
    Credentials::new()
        .with("username", "root")
        .with("password", "secret")
}

fn jdoe() -> Credentials {
    Credentials::new()
        .with("username", "jdoe")
        .with("password", "secret")
}

async fn sim(clock: Clock) -> RunningSimulator {
    Simulator::builder()
        .clock(clock)
        .synthetic(SyntheticSpec {
            visits: 4,
            datasets: 3,
            files: 5,
            size: 16,
            ..SyntheticSpec::default()
        })
        .start()
        .await
        .expect("simulator starts")
}

async fn login_root(s: &RunningSimulator) -> Session {
    let client = Client::new(&s.icat_url()).expect("client");
    client.login("simple", &root()).await.expect("root login")
}

#[tokio::test]
async fn every_operation_against_the_simulator() {
    let s = sim(Clock::default()).await;
    let client = Client::new(&s.wsdl_url()).expect("client from the ?wsdl address");
    assert_eq!(client.api_version().await.expect("version"), "6.2.0");
    let names = client.entity_names().await.expect("names");
    assert!(names.iter().any(|n| n == "Investigation"));
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted");
    let info = client.entity_info("Investigation").await.expect("info");
    assert!(
        info.fields
            .iter()
            .any(|f| f.name.as_deref() == Some("visitId"))
    );
    let auth = client.authenticator_info().await.expect("authenticators");
    assert!(auth.iter().any(|a| a.mnemonic.as_deref() == Some("simple")));

    let session = client.login("simple", &root()).await.expect("login");
    assert_eq!(session.user_name().await.expect("user"), "simple/root");
    let left = session.remaining_minutes().await.expect("remaining");
    assert!(left > 119.0 && left <= 120.0, "{left}");
    session.refresh().await.expect("refresh");
    assert!(!session.properties().await.expect("properties").is_empty());

    let facilities: Vec<Facility> = session
        .search_entities(&Query::new("Facility"))
        .await
        .expect("facilities");
    let facility_id = facilities[0].id.expect("id");

    let new = Facility {
        name: Some("Client test facility".into()),
        full_name: Some("O'Brien's \"quoted\" <facility> & co".into()),
        ..Default::default()
    };
    let id = session.create(new.clone()).await.expect("create");
    let got: Facility = session.get_entity(id, &[]).await.expect("get");
    assert_eq!(
        got.full_name, new.full_name,
        "round trip of awkward characters"
    );

    let mut changed = got.clone();
    changed.description = Some("updated".into());
    session.update(changed).await.expect("update");
    let got: Facility = session.get_entity(id, &[]).await.expect("get after update");
    assert_eq!(got.description.as_deref(), Some("updated"));
    assert!(
        session
            .is_access_allowed(got.clone(), AccessType::Update)
            .await
            .expect("access")
    );

    let many = session
        .create_many(vec![
            Facility {
                name: Some("F-a".into()),
                ..Default::default()
            }
            .into(),
            Facility {
                name: Some("F-b".into()),
                ..Default::default()
            }
            .into(),
        ])
        .await
        .expect("createMany");
    assert_eq!(many.len(), 2);
    session.delete(got).await.expect("delete");
    let gone = session.get("Facility", id).await.unwrap_err();
    assert!(
        matches!(gone, IcatError::NoSuchObjectFound { .. }),
        "{gone:?}"
    );
    let beans: Vec<Entity> = many
        .iter()
        .map(|i| {
            Facility {
                id: Some(*i),
                ..Default::default()
            }
            .into()
        })
        .collect();
    session.delete_many(beans).await.expect("deleteMany");

    let with_facility = session
        .get(
            &icat_soap::client::get_query("Investigation", &["facility"]).expect("q"),
            {
                let ids = session
                    .search("SELECT i.id FROM Investigation i")
                    .await
                    .expect("ids");
                match ids.first() {
                    Some(Value::Long(i)) => *i,
                    other => panic!("{other:?}"),
                }
            },
        )
        .await
        .expect("get with include");
    let Entity::Investigation(inv) = with_facility else {
        panic!("not an investigation")
    };
    assert_eq!(inv.facility.and_then(|f| f.id), Some(facility_id));

    session.clone().logout().await.expect("logout");
    assert!(session.user_name().await.unwrap_err().is_session());
    s.shutdown().await;
}

#[tokio::test]
async fn server_faults_arrive_as_typed_variants() {
    let s = sim(Clock::default()).await;
    let client = Client::new(&s.icat_url()).expect("client");
    let err = client
        .login(
            "simple",
            &Credentials::new()
                .with("username", "root")
                .with("password", "wrong"),
        )
        .await
        .unwrap_err();
    assert!(err.is_session(), "{err:?}");
    let err = client.login("nosuchplugin", &root()).await.unwrap_err();
    assert!(err.is_session(), "{err:?}");

    let session = client.login("simple", &root()).await.expect("login");
    let err = session
        .search("SELECT x FROM Nonsense x")
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::BadParameter { .. }), "{err:?}");
    let err = session.get("Dataset", 987_654_321).await.unwrap_err();
    assert!(
        matches!(err, IcatError::NoSuchObjectFound { .. }),
        "{err:?}"
    );
    let facility = Facility {
        name: Some("dup".into()),
        ..Default::default()
    };
    session.create(facility.clone()).await.expect("first");
    let err = session.create(facility).await.unwrap_err();
    assert!(
        matches!(err, IcatError::ObjectAlreadyExists { .. }),
        "{err:?}"
    );
    let err = session.create(Dataset::default()).await.unwrap_err();
    assert!(matches!(err, IcatError::Validation { .. }), "{err:?}");

    let user = client.login("db", &jdoe()).await.expect("jdoe");
    let err = user.properties().await.unwrap_err();
    assert!(
        matches!(err, IcatError::InsufficientPrivileges { .. }),
        "{err:?}"
    );
    let err = client.resume("not-a-session", None).await.unwrap_err();
    assert!(err.is_session(), "{err:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_resumed_session_close_to_expiry_is_refreshed() {
    let clock = Clock::default();
    let s = sim(clock.clone()).await;
    let session = login_root(&s).await;
    // 100 of 120 minutes pass on the server: 20 minutes left, under the refresh margin.
    clock.advance(Duration::from_secs(100 * 60));
    let client = Client::new(&s.icat_url()).expect("second client");
    let resumed = client.resume(&session.id(), None).await.expect("resume");
    let left = resumed.remaining_minutes().await.expect("remaining");
    assert!(left > 119.0, "refreshed on resume, {left} minutes left");
    s.shutdown().await;
}

#[tokio::test]
async fn an_expired_session_logs_in_again_once_when_allowed() {
    let clock = Clock::default();
    let s = sim(clock.clone()).await;
    let client = Client::new(&s.icat_url()).expect("client");
    let keeping = client
        .login_with_relogin("simple", &root())
        .await
        .expect("login");
    let plain = client.login("simple", &root()).await.expect("login");
    let first_id = keeping.id();
    clock.advance(Duration::from_secs(121 * 60));

    let n = keeping
        .search(&Query::new("Investigation").count())
        .await
        .expect("re-login and retry");
    assert!(matches!(n.as_slice(), [Value::Long(4)]), "{n:?}");
    assert_ne!(keeping.id(), first_id);

    let err = plain
        .search(&Query::new("Investigation").count())
        .await
        .unwrap_err();
    assert!(err.is_session(), "{err:?}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_from_many_tasks() {
    let s = sim(Clock::default()).await;
    let session = Arc::new(login_root(&s).await);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let session = session.clone();
            tokio::spawn(async move {
                let q = Query::new("Dataset").where_eq("investigation.name", format!("nope-{i}"));
                let none = session.search(&q).await?;
                let all = session.search(&Query::new("Dataset").count()).await?;
                Ok::<_, IcatError>((none.len(), all))
            })
        })
        .collect();
    for t in tasks {
        let (none, all) = t.await.expect("join").expect("calls");
        assert_eq!(none, 0);
        assert!(matches!(all.as_slice(), [Value::Long(12)]), "{all:?}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn hostile_values_cannot_change_the_query() {
    let s = sim(Clock::default()).await;
    let session = login_root(&s).await;
    let total = session
        .search(&Query::new("Investigation"))
        .await
        .expect("all")
        .len();
    assert_eq!(total, 4);
    for hostile in ["x' OR '1'='1", "O'Brien", "' OR 1=1 --", "''", "%"] {
        let hits = session
            .search(&Query::new("Investigation").where_eq("visitId", hostile))
            .await
            .expect("hostile value is just a value");
        assert!(hits.is_empty(), "{hostile:?} matched {} rows", hits.len());
    }
    // The same value stored and searched for comes back exactly.
    let facility = Facility {
        name: Some("x' OR '1'='1".into()),
        ..Default::default()
    };
    session.create(facility).await.expect("create");
    let found: Vec<Facility> = session
        .search_entities(&Query::new("Facility").where_eq("name", "x' OR '1'='1"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn paged_and_typed_search_with_includes() {
    let s = sim(Clock::default()).await;
    let session = login_root(&s).await;
    let query = Query::new("Datafile")
        .order_by("name")
        .order_by("id")
        .include("dataset");
    let all: Vec<Datafile> = session
        .search_entities_stream::<Datafile>(&query, 7)
        .expect("stream")
        .try_collect()
        .await
        .expect("pages");
    assert_eq!(all.len(), 60);
    let mut ids: Vec<i64> = all.iter().filter_map(|d| d.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60, "no page overlaps");
    assert!(
        all.iter().all(|d| d.dataset.is_some()),
        "includes kept in every page"
    );

    // The visits workflow: every visit with datasets and datafiles in one query.
    let visits: Vec<Investigation> = session
        .search_entities(
            &Query::new("Investigation")
                .filter(Condition::is_not_null("visitId"))
                .order_by("visitId")
                .include("datasets.datafiles"),
        )
        .await
        .expect("visits");
    assert_eq!(visits.len(), 4);
    assert!(
        visits
            .iter()
            .all(|v| v.datasets.len() == 3 && v.datasets.iter().all(|d| d.datafiles.len() == 5))
    );
    s.shutdown().await;
}

#[tokio::test]
async fn bad_paths_are_rejected_before_reaching_the_server() {
    let s = sim(Clock::default()).await;
    let session = login_root(&s).await;
    let err = session
        .search(&Query::new("Dataset").where_eq("investigation.facilty.name", "x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did you mean `facility`"), "{err}");
    s.shutdown().await;
}
