//! IDS endpoints on single-level storage: service calls, selection calls, errors.

mod ids_common;

use ids_common::{Fixture, ICAT_URL, assert_error};

#[tokio::test]
async fn service_calls_answer_plain_text_and_json() {
    let f = Fixture::new().await;
    let r = f.get("ping", "").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "IdsOK");
    let r = f.get("version", "").await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"version": "2.1.1"}));
    assert_eq!(
        f.get_text("getIcatUrl", "").await,
        (200, ICAT_URL.to_string())
    );
    assert_eq!(
        f.get_text("isReadOnly", "").await,
        (200, "false".to_string())
    );
    assert_eq!(
        f.get_text("isTwoLevel", "").await,
        (200, "false".to_string())
    );
}

#[tokio::test]
async fn every_answer_has_cors_headers() {
    let f = Fixture::new().await;
    for (call, query) in [("ping", ""), ("getSize", "sessionId=bad"), ("nonsense", "")] {
        let r = f.get(call, query).await;
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{call}");
        assert_eq!(h["access-control-allow-methods"], "GET, POST, DELETE, PUT");
        assert_eq!(h["access-control-allow-headers"], "Content-Type");
    }
}

#[tokio::test]
async fn unknown_and_removed_calls_are_not_implemented() {
    let f = Fixture::new().await;
    for call in ["getApiVersion", "lock", "getPercentageComplete", "x/y"] {
        let (status, body) = f.get_text(call, "").await;
        assert_error(
            status,
            &body,
            501,
            "NOT_IMPLEMENTED",
            "Operation not implemented by this IDS server.",
        );
    }
}

#[tokio::test]
async fn wrong_method_is_refused_with_json() {
    let f = Fixture::new().await;
    let (status, body) = f.get_text("prepareData", "").await;
    assert_error(status, &body, 405, "InternalException", "405");
}

#[tokio::test]
async fn session_ids_must_be_lower_case_uuids() {
    let f = Fixture::new().await;
    let (status, body) = f
        .get_text("getSize", "sessionId=not-a-uuid&datafileIds=1")
        .await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The sessionId parameter 'not-a-uuid' is not a valid UUID",
    );
    let upper = f.session.to_uppercase();
    let (status, body) = f
        .get_text("getSize", &format!("sessionId={upper}&datafileIds=1"))
        .await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "is not a valid UUID",
    );
    let (status, body) = f.get_text("getSize", "datafileIds=1").await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The sessionId parameter 'null' is not a valid UUID",
    );
    let (status, body) = f.get_text("isPrepared", "preparedId=xyz").await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The preparedId parameter 'xyz' is not a valid UUID",
    );
}

#[tokio::test]
async fn unknown_or_ended_sessions_are_forbidden() {
    let f = Fixture::new().await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let (status, body) = f
        .get_text(
            "getSize",
            &format!("sessionId={unknown}&datasetIds={}", f.dataset),
        )
        .await;
    assert_error(status, &body, 403, "InsufficientPrivilegesException", "");
    f.catalog.logout(&f.session);
    let (status, body) = f
        .get_text(
            "getDatafileIds",
            &format!("sessionId={}&datasetIds={}", f.session, f.dataset),
        )
        .await;
    assert_error(status, &body, 403, "InsufficientPrivilegesException", "");
}

#[tokio::test]
async fn denied_data_is_forbidden_and_missing_data_not_found() {
    let f = Fixture::new().await;
    f.catalog.deny("db/jdoe", f.investigation);
    let (status, body) = f
        .get_text(
            "getSize",
            &format!("sessionId={}&datasetIds={}", f.session, f.dataset),
        )
        .await;
    assert_error(
        status,
        &body,
        403,
        "InsufficientPrivilegesException",
        "Investigation",
    );
    let (status, body) = f
        .get_text(
            "getSize",
            &format!("sessionId={}&datasetIds=999999", f.root_session),
        )
        .await;
    assert_error(status, &body, 404, "NotFoundException", "999999");
}

#[tokio::test]
async fn bad_id_lists_are_bad_requests() {
    let f = Fixture::new().await;
    for (name, value) in [
        ("datafileIds", "1,x"),
        ("datasetIds", ""),
        ("investigationIds", "1,,2"),
    ] {
        let (status, body) = f
            .get_text(
                "getSize",
                &format!("sessionId={}&{name}={value}", f.session),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            "BadRequestException",
            &format!(
                "The {name} parameter '{value}' is not a valid string representation of a comma separated list of longs"
            ),
        );
    }
}

#[tokio::test]
async fn get_size_sums_catalogued_sizes_without_null_locations() {
    let f = Fixture::new().await;
    let expected = ids_common::JDOE.len() + ids_common::NBOUR.len();
    let q = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    assert_eq!(f.get_text("getSize", &q).await, (200, expected.to_string()));
    let q = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    assert_eq!(
        f.get_text("getSize", &q).await,
        (200, (expected + 300_000).to_string())
    );
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_no_location);
    let (status, body) = f.get_text("getSize", &q).await;
    assert_error(
        status,
        &body,
        404,
        "NotFoundException",
        &format!("Datafile {}", f.df_no_location),
    );
    let q = format!("sessionId={}&datasetIds={}", f.session, f.empty_dataset);
    assert_eq!(f.get_text("getSize", &q).await, (200, "0".to_string()));
}

#[tokio::test]
async fn get_datafile_ids_by_session_and_by_prepared_id() {
    let f = Fixture::new().await;
    let q = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    let r = f.get("getDatafileIds", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ids": [f.df_jdoe, f.df_nbour, f.df_big]})
    );

    let form = format!(
        "sessionId={}&datafileIds={}&compress=true",
        f.session, f.df_jdoe
    );
    let (status, prepared) = f.post_text("prepareData", &form).await;
    assert_eq!(status, 200);
    let (_, body) = f
        .get_text("getDatafileIds", &format!("preparedId={prepared}"))
        .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"zip": false, "compress": true, "ids": [f.df_jdoe]})
    );
}

#[tokio::test]
async fn prepare_data_gives_uuid_and_forces_zip_when_needed() {
    let f = Fixture::new().await;
    let form = format!("sessionId={}&datasetIds={}&zip=false", f.session, f.dataset);
    let r = f.post("prepareData", &form).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let id = r.text().await.unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "{id} is not a v4 UUID");
    let (_, body) = f
        .get_text("getDatafileIds", &format!("preparedId={id}"))
        .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["zip"], true);
    assert_eq!(v["compress"], false);
    assert_eq!(
        f.get_text("isPrepared", &format!("preparedId={id}")).await,
        (200, "true".into())
    );
    let q = format!("preparedId={id}");
    assert_eq!(
        f.get_text("getSize", &q).await,
        (
            200,
            (ids_common::JDOE.len() + ids_common::NBOUR.len()).to_string()
        )
    );
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ONLINE".into()));
}

#[tokio::test]
async fn unknown_prepared_ids_are_not_found() {
    let f = Fixture::new().await;
    let unknown = "11111111-2222-4333-8444-555555555555";
    for call in [
        "isPrepared",
        "getStatus",
        "getSize",
        "getDatafileIds",
        "getData",
    ] {
        let (status, body) = f.get_text(call, &format!("preparedId={unknown}")).await;
        assert_error(
            status,
            &body,
            404,
            "NotFoundException",
            &format!("The preparedId {unknown} is not known"),
        );
    }
}

#[tokio::test]
async fn get_status_is_online_on_single_level_and_needs_no_session() {
    let f = Fixture::new().await;
    let q = format!("datasetIds={}", f.dataset);
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ONLINE".into()));
    let q = format!("sessionId={}&datasetIds=424242", f.session);
    let (status, body) = f.get_text("getStatus", &q).await;
    assert_error(status, &body, 404, "NotFoundException", "424242");
}

#[tokio::test]
async fn two_level_calls_are_not_implemented_on_single_level() {
    let f = Fixture::new().await;
    for call in ["archive", "restore", "write"] {
        let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
        let (status, body) = f.post_text(call, &form).await;
        assert_error(status, &body, 501, "NotImplementedException", "");
    }
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let r = f.post("reset", &form).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.text().await.unwrap(), "");
}

#[tokio::test]
async fn service_status_is_for_root_only() {
    let f = Fixture::new().await;
    let (status, body) = f
        .get_text("getServiceStatus", &format!("sessionId={}", f.session))
        .await;
    assert_error(
        status,
        &body,
        403,
        "InsufficientPrivilegesException",
        "db/jdoe is not included in the ids rootUserNames set.",
    );
    let (status, body) = f
        .get_text("getServiceStatus", &format!("sessionId={}", f.root_session))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"opsQueue": [], "lockCount": 0, "locks": [], "failures": []})
    );
}

#[tokio::test]
async fn read_only_ids_refuses_put_and_delete() {
    let f = Fixture::with_settings(icat_sim::ids::IdsSettings {
        read_only: true,
        ..Default::default()
    })
    .await;
    assert_eq!(f.get_text("isReadOnly", "").await, (200, "true".into()));
    let r = f
        .http
        .put(f.url(
            "put",
            &format!(
                "sessionId={}&name=x&datasetId={}&datafileFormatId={}",
                f.session, f.dataset, f.format
            ),
        ))
        .body("abc")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        501,
        "NotImplementedException",
        "",
    );
    let r = f
        .http
        .delete(f.url(
            "delete",
            &format!("sessionId={}&datafileIds={}", f.session, f.df_jdoe),
        ))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        501,
        "NotImplementedException",
        "",
    );
    assert!(f.catalog.datafile(f.df_jdoe).is_some());
}
