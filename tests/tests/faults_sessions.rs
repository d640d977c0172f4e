//! ICAT sessions and SOAP calls against a simulator injecting faults: 5xx storms, cut answers and
//! delays on the SOAP service; sessions expired early (armed at run time or every so often from
//! `sim.toml`), also in the middle of a download. Each ends with the work done or a typed error.

mod faults_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faults_support::*;
use icat_ids::{IdsError, Outcome, Phase, Progress};
use icat_sim::ids::DropAt;
use icat_sim::process::config::SimConfig;
use icat_soap::client::{Client, RetryPolicy};
use icat_soap::model::Facility;
use icat_soap::{IcatError, Query};

async fn facilities(session: &icat_soap::client::Session) -> Result<Vec<Facility>, IcatError> {
    session.search_entities(&Query::new("Facility")).await
}

#[tokio::test]
async fn soap_storms_and_cut_answers_are_retried_for_reads_only() {
    let sim = start(facility(1, 1)).await;
    let session = login(&sim, false).await;
    let soap = sim.faults().icat();

    // Gateway storms below the bound (4 attempts) pass unnoticed.
    for status in [502, 503, 504] {
        soap.fail_next_requests(3, status);
        assert_eq!(facilities(&session).await.expect("search").len(), 1);
    }
    // Beyond the bound: a typed error naming the operation and the last failure.
    soap.fail_next_requests(10, 503);
    let e = facilities(&session).await.unwrap_err();
    assert!(
        matches!(&e, IcatError::RetriesExhausted { operation, attempts: 4, last }
            if operation == "search" && matches!(**last, IcatError::Http { status: 503, .. })),
        "{e:?}"
    );
    soap.clear();

    // A write meeting one 503 fails at once and is not repeated behind the caller's back.
    soap.fail_next_requests(1, 503);
    let new = Facility {
        name: Some("Faulty".into()),
        ..Facility::default()
    };
    let e = session.create(new.clone()).await.unwrap_err();
    assert!(matches!(e, IcatError::Http { status: 503, .. }), "{e:?}");
    let named = Query::new("Facility").where_eq("name", "Faulty");
    assert!(session.search(&named).await.expect("search").is_empty());

    // An ICAT INTERNAL fault (HTTP 500 with a SOAP fault) is the server's answer: not retried.
    soap.fail_next_requests(1, 500);
    let e = facilities(&session).await.unwrap_err();
    assert!(matches!(e, IcatError::Internal { .. }), "{e:?}");
    assert_eq!(facilities(&session).await.expect("search").len(), 1);

    // Answers cut at random offsets: reads are repeated until complete.
    sim.faults().reseed(7);
    soap.drop_responses(DropAt::Random, Some(3));
    assert_eq!(facilities(&session).await.expect("search").len(), 1);
    // A cut answer to a write is reported, and the change may well have been made.
    soap.drop_responses(DropAt::AfterBytes(20), Some(1));
    let e = session.create(new).await.unwrap_err();
    assert!(matches!(e, IcatError::Interrupted { .. }), "{e:?}");
    assert_eq!(session.search(&named).await.expect("search").len(), 1);
    soap.clear();
}

#[tokio::test]
async fn slow_answers_hit_the_configured_timeouts() {
    // Delays far above the timeouts, so that a busy machine cannot blur the outcome; the server
    // holds the delayed requests, the clients give up at their timeouts.
    let delay = Some(Duration::from_secs(30));
    let limit = Duration::from_millis(300);
    let sim = start(facility(1, 1)).await;
    let session = login(&sim, false).await;
    sim.faults().icat().set_delay(delay);
    sim.faults().ids().set_delay(delay);

    let whole = Client::builder(&sim.icat_url())
        .timeout(limit)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let e = whole.api_version().await.unwrap_err();
    assert!(matches!(e, IcatError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("raise the client timeout"), "{e}");
    let reads = Client::builder(&sim.icat_url())
        .read_timeout(limit)
        .build()
        .expect("client");
    let e = reads.api_version().await.unwrap_err();
    assert!(
        matches!(e, IcatError::Timeout { after, .. } if after == limit),
        "{e:?}"
    );

    let ids = icat_ids::IdsClient::new(
        &sim.ids_url(),
        icat_ids::TransportOptions {
            read_timeout: limit,
            ..icat_ids::TransportOptions::default()
        },
    )
    .expect("ids")
    .with_retry(quick_retry(1))
    .with_session_source(Arc::new(session.clone()));
    let e = ids.ping().await.unwrap_err();
    assert!(matches!(e, IdsError::Timeout { .. }), "{e:?}");

    // Once the server is quick again, so are the calls.
    sim.faults().clear();
    assert_eq!(
        icat_client(&sim.icat_url())
            .api_version()
            .await
            .expect("version"),
        "6.2.0"
    );
    ids_client(&sim, &session).ping().await.expect("ping");
}

#[tokio::test]
async fn sessions_expired_early_are_renewed_with_relogin_and_reported_without() {
    let sim = start(facility(1, 1)).await;
    let kept = login(&sim, true).await;
    let plain = login(&sim, false).await;
    let before = kept.id();
    assert_eq!(sim.faults().expire_sessions().expect("expire"), 2);

    // With re-login: transparent, under a new id.
    assert_eq!(facilities(&kept).await.expect("search").len(), 1);
    assert_eq!(kept.user_name().await.expect("user"), "simple/root");
    assert_ne!(kept.id(), before);
    // Without: the SESSION fault, saying what to do.
    let e = facilities(&plain).await.unwrap_err();
    assert!(e.is_session(), "{e:?}");
    assert!(e.to_string().contains("Log in again"), "{e}");
    // A write after expiry is not retried even with re-login; the session is renewed for later.
    sim.faults().expire_sessions().expect("expire");
    let e = kept
        .create(Facility {
            name: Some("After expiry".into()),
            ..Facility::default()
        })
        .await
        .unwrap_err();
    assert!(e.is_session(), "{e:?}");
    assert_eq!(facilities(&kept).await.expect("search").len(), 1);
}

#[tokio::test]
async fn sessions_forgotten_every_so_often_by_configuration() {
    let text = format!(
        "{}\n[faults]\nexpireSessionsEvery = \"1s\"\n[faults.icat]\nfailNext = 2\n",
        SimConfig::default_toml()
    );
    let config = SimConfig::from_toml_str(&text, "<test>").expect("config");
    let sim = start(facility(1, 1).config(config)).await;
    // The first two SOAP requests fail with 503 (the login is not retried: it meets both).
    let client = icat_client(&sim.icat_url());
    for _ in 0..2 {
        let e = client.login("simple", &root()).await.unwrap_err();
        assert!(matches!(e, IcatError::Http { status: 503, .. }), "{e:?}");
    }
    let plain = client.login("simple", &root()).await.expect("login");
    assert_eq!(facilities(&plain).await.expect("search").len(), 1);
    // Within a period or two the session is gone (re-login itself is covered deterministically
    // by the test above, which forgets sessions at a known moment).
    let mut gone = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(e) = facilities(&plain).await {
            gone = Some(e);
            break;
        }
    }
    let e = gone.expect("the session was forgotten");
    assert!(e.is_session(), "{e:?}");
}

/// Runs a sequential plan of every datafile, forgetting all sessions once the first file is
/// done; returns the plan, its summary and the directory holding it.
async fn download_with_expiry_after_first_file(
    relogin: bool,
) -> (
    icat_ids::DownloadPlan,
    icat_ids::DownloadSummary,
    tempfile::TempDir,
    String,
    String,
) {
    let sim = start(facility(1, 4)).await;
    let session = login(&sim, relogin).await;
    let files = datafiles(&session).await;
    let ids = ids_client(&sim, &session);
    let before = session.id();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = plan(dir.path(), &files);
    let mut opts = quick_options(3, true);
    let faults = sim.faults().clone();
    let expired = Arc::new(Mutex::new(false));
    opts.progress = Some(Arc::new(move |p: &Progress<'_>| {
        let mut done = expired.lock().expect("lock");
        if p.phase == Phase::Done && !*done {
            *done = true;
            faults.expire_sessions().expect("expire");
        }
    }));
    let summary = ids.download_plan(&plan, &opts).await.expect("plan");
    (plan, summary, dir, before, session.id())
}

#[tokio::test]
async fn a_session_expiring_mid_download_is_renewed_and_the_download_completes() {
    let (plan, summary, _dir, before, after) = download_with_expiry_after_first_file(true).await;
    assert!(summary.is_complete(), "{:?}", summary.files);
    assert_ne!(before, after, "the IDS calls went on with a new session");
    assert_all_verified(&plan);
}

#[tokio::test]
async fn a_session_expiring_mid_download_without_relogin_fails_typed_and_leaves_no_final_files() {
    let (plan, summary, dir, before, after) = download_with_expiry_after_first_file(false).await;
    assert_eq!(before, after);
    let done = summary
        .files
        .iter()
        .filter(|f| matches!(f.outcome, Outcome::Downloaded { .. }))
        .count();
    // The file whose completion forgot the sessions is done; a transfer the engine had
    // already started beside it (it keeps up to twice the concurrency under way) may finish
    // too, since its request was authorised before the sessions went. Every other file needs
    // a request after that, and must fail typed.
    assert!((1..=2).contains(&done), "{:?}", summary.files);
    for (report, err) in summary.failed() {
        assert!(
            matches!(err, IdsError::SessionRenewal { source } if source.is_session()),
            "{err:?}"
        );
        assert!(!report.path.exists());
    }
    assert_eq!(summary.failed().count(), plan.files.len() - done);
    // Besides the complete files, nothing but .part files.
    let finals: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.extension().is_none_or(|e| e != "part"))
        .collect();
    assert_eq!(finals.len(), done, "{finals:?}");
}
