//! Two-level storage (storageUnit=dataset): archive, restore, status, prepare, failures, restart.

mod ids_common;

use std::time::{Duration, Instant};

use icat_sim::ids::{IdsServer, IdsSettings, IdsState};
use ids_common::{Fixture, JDOE, assert_error};

const DELAY: Duration = Duration::from_millis(300);

async fn wait_for_status(f: &Fixture, query: &str, want: &str) {
    let start = Instant::now();
    loop {
        let (status, body) = f.get_text("getStatus", query).await;
        assert_eq!(status, 200, "{body}");
        if body == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {body}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn archive(f: &Fixture, datasets: &[i64]) {
    f.server
        .state()
        .storage()
        .set_archived(datasets.iter().copied(), true)
        .unwrap();
}

#[tokio::test]
async fn get_data_on_archived_data_is_refused_and_restores_the_dataset() {
    let f = Fixture::two_level(DELAY).await;
    assert_eq!(f.get_text("isTwoLevel", "").await, (200, "true".into()));
    archive(&f, &[f.dataset]);
    let ds_query = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    assert_eq!(
        f.get_text("getStatus", &ds_query).await,
        (200, "ARCHIVED".into())
    );
    // getStatus does not start a restore.
    tokio::time::sleep(DELAY * 2).await;
    assert_eq!(
        f.get_text("getStatus", &ds_query).await,
        (200, "ARCHIVED".into())
    );

    // Asking for one datafile restores its whole dataset.
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_jdoe);
    let (status, body) = f.get_text("getData", &q).await;
    assert_error(
        status,
        &body,
        503,
        "DataNotOnlineException",
        "its dataset has to be restored, restoration requested automatically",
    );
    assert_eq!(
        f.get_text("getStatus", &ds_query).await,
        (200, "RESTORING".into())
    );
    wait_for_status(&f, &ds_query, "ONLINE").await;
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), JDOE);
}

#[tokio::test]
async fn status_combines_datasets_and_ignores_empty_ones() {
    let f = Fixture::two_level(DELAY).await;
    archive(&f, &[f.dataset2, f.empty_dataset]);
    let inv = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    assert_eq!(
        f.get_text("getStatus", &inv).await,
        (200, "ARCHIVED".into())
    );
    let empty = format!("datasetIds={}", f.empty_dataset);
    assert_eq!(
        f.get_text("getStatus", &empty).await,
        (200, "ONLINE".into())
    );
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset2);
    assert_eq!(f.post("restore", &form).await.status(), 204);
    assert_eq!(
        f.get_text("getStatus", &inv).await,
        (200, "RESTORING".into())
    );
    wait_for_status(&f, &inv, "ONLINE").await;
}

#[tokio::test]
async fn archive_and_restore_calls() {
    let f = Fixture::two_level(DELAY).await;
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let q = format!("datasetIds={}", f.dataset);
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ONLINE".into()));
    let r = f.post("archive", &form).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.text().await.unwrap(), "");
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ARCHIVED".into()));
    assert_eq!(f.post("restore", &form).await.status(), 204);
    assert_eq!(f.get_text("getStatus", &q).await, (200, "RESTORING".into()));
    // Archiving while restoring cancels the restore.
    assert_eq!(f.post("archive", &form).await.status(), 204);
    tokio::time::sleep(DELAY * 2).await;
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ARCHIVED".into()));
    let (status, body) = f
        .post_text(
            "archive",
            &format!("sessionId={}&datasetIds=55555", f.session),
        )
        .await;
    assert_error(status, &body, 404, "NotFoundException", "55555");
}

#[tokio::test]
async fn prepare_data_starts_restores_and_is_prepared_follows_them() {
    let f = Fixture::two_level(DELAY).await;
    archive(&f, &[f.dataset]);
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let (status, prepared) = f.post_text("prepareData", &form).await;
    assert_eq!(status, 200);
    let q = format!("preparedId={prepared}");
    assert_eq!(f.get_text("isPrepared", &q).await, (200, "false".into()));
    assert_eq!(f.get_text("getStatus", &q).await, (200, "RESTORING".into()));

    let (_, body) = f
        .get_text("getServiceStatus", &format!("sessionId={}", f.root_session))
        .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let expected_data = format!(
        "{}/{} (ESNF/12100409-ST/1.1-P/greetings)",
        f.investigation, f.dataset
    );
    assert_eq!(
        v["opsQueue"],
        serde_json::json!([{"data": expected_data, "request": "RESTORE_REQUESTED"}])
    );

    let start = Instant::now();
    while f.get_text("isPrepared", &q).await.1 != "true" {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(ids_common::unzip(&r.bytes().await.unwrap()).len(), 2);
}

#[tokio::test]
async fn is_prepared_requeues_restores_of_data_archived_again() {
    let f = Fixture::two_level(DELAY).await;
    let form = format!("sessionId={}&datafileIds={}", f.session, f.df_big);
    let (_, prepared) = f.post_text("prepareData", &form).await;
    let q = format!("preparedId={prepared}");
    assert_eq!(f.get_text("isPrepared", &q).await, (200, "true".into()));
    archive(&f, &[f.dataset2]);
    assert_eq!(f.get_text("isPrepared", &q).await, (200, "false".into()));
    assert_eq!(f.get_text("getStatus", &q).await, (200, "RESTORING".into()));
}

#[tokio::test]
async fn failed_restores_raise_errors_until_reset() {
    let f = Fixture::two_level(Duration::from_millis(50)).await;
    archive(&f, &[f.dataset]);
    f.server.state().faults().fail_restores(true);
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let (_, prepared) = f.post_text("prepareData", &form).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pq = format!("preparedId={prepared}");
    let (status, body) = f.get_text("isPrepared", &pq).await;
    assert_error(status, &body, 500, "InternalException", "Restore failed");
    let sq = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let (status, body) = f.get_text("getStatus", &sq).await;
    assert_error(status, &body, 500, "InternalException", "Restore failed");
    let (_, body) = f
        .get_text("getServiceStatus", &format!("sessionId={}", f.root_session))
        .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["failures"], serde_json::json!([f.dataset]));

    assert_eq!(f.post("reset", &pq).await.status(), 204);
    assert_eq!(f.get_text("getStatus", &sq).await, (200, "ARCHIVED".into()));

    // A new prepareData also clears the flag.
    f.post("restore", &form).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = f.get_text("getStatus", &sq).await;
    assert_eq!(status, 500);
    assert_eq!(f.post("prepareData", &form).await.status(), 200);
    let (status, body) = f.get_text("getStatus", &sq).await;
    assert_eq!(status, 200, "{body}");

    // Once restores work again, the dataset comes online.
    f.server.state().faults().fail_restores(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.post("restore", &form).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.get_text("getStatus", &sq).await, (200, "ONLINE".into()));
}

#[tokio::test]
async fn put_delete_and_write_need_online_data() {
    let f = Fixture::two_level(DELAY).await;
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    assert_eq!(f.post("write", &form).await.status(), 204);
    archive(&f, &[f.dataset]);
    let (status, body) = f.post_text("write", &form).await;
    assert_error(
        status,
        &body,
        503,
        "DataNotOnlineException",
        "Requested data is not online, write request refused",
    );

    let q = format!(
        "sessionId={}&name=n&datasetId={}&datafileFormatId={}",
        f.session, f.dataset, f.format
    );
    let r = f.http.put(f.url("put", &q)).body("x").send().await.unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        503,
        "DataNotOnlineException",
        "restored",
    );
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_jdoe);
    let r = f.http.delete(f.url("delete", &q)).send().await.unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        503,
        "DataNotOnlineException",
        "restored",
    );
    assert!(f.catalog.datafile(f.df_jdoe).is_some());
    // Both started the restore.
    wait_for_status(&f, &format!("datasetIds={}", f.dataset), "ONLINE").await;
    let r = f.http.delete(f.url("delete", &q)).send().await.unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn write_can_be_disabled() {
    let f = Fixture::with_settings(IdsSettings {
        two_level: true,
        enable_write: Some(false),
        ..IdsSettings::default()
    })
    .await;
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let (status, body) = f.post_text("write", &form).await;
    assert_error(status, &body, 501, "NotImplementedException", "");
}

#[tokio::test]
async fn prepared_ids_and_archive_state_survive_a_restart() {
    let f = Fixture::two_level(DELAY).await;
    archive(&f, &[f.dataset2]);
    let form = format!(
        "sessionId={}&datafileIds={},{}&compress=true",
        f.session, f.df_jdoe, f.df_nbour
    );
    let (_, prepared) = f.post_text("prepareData", &form).await;

    let settings = IdsSettings {
        two_level: true,
        restore_delay: DELAY,
        ..IdsSettings::default()
    };
    let state = IdsState::new(f.catalog.clone(), f.dir.path(), settings).unwrap();
    let restarted = IdsServer::start(state).await.unwrap();
    let base = restarted.url().to_string();
    let http = &f.http;
    let text = |call: &str, q: String| {
        let url = format!("{base}/{call}?{q}");
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(
        text("isPrepared", format!("preparedId={prepared}")).await,
        "true"
    );
    let ids: serde_json::Value =
        serde_json::from_str(&text("getDatafileIds", format!("preparedId={prepared}")).await)
            .unwrap();
    assert_eq!(
        ids,
        serde_json::json!({"zip": true, "compress": true, "ids": [f.df_jdoe, f.df_nbour]})
    );
    assert_eq!(
        text("getStatus", format!("datasetIds={}", f.dataset2)).await,
        "ARCHIVED"
    );
    let r = http
        .get(format!("{base}/getData?preparedId={prepared}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ids_common::unzip(&r.bytes().await.unwrap()).len(), 2);
    restarted.shutdown().await;
}
