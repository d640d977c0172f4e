//! The IDS side of a running simulator works on the simulator's own catalogue: sessions from ICAT
//! login, synthetic files with matching checksums, put registers a Datafile, two-level archiving.

use std::collections::BTreeMap;

use icat_sim::Simulator;

fn creds(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".into(), user.into()),
        ("password".into(), "secret".into()),
    ])
}

#[tokio::test]
async fn ids_serves_synthetic_files_and_registers_uploads() {
    let sim = Simulator::builder()
        .synthetic("visits=2,datasets=2,files=2,size=5000".parse().unwrap())
        .start()
        .await
        .unwrap();
    let session = sim.icat().login("simple", &creds("root")).unwrap();
    let http = icat_soap::tls::http_client().unwrap();
    let ids = sim.ids_url();
    assert_eq!(
        http.get(format!("{ids}/ping"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "IdsOK"
    );
    let icat_url = http
        .get(format!("{ids}/getIcatUrl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(icat_url, sim.icat_url());

    let (df_id, checksum, ds_id): (i64, String, i64) = sim
        .icat()
        .db()
        .conn()
        .query_row(
            "SELECT \"id\", \"checksum\", \"dataset_id\" FROM \"Datafile\" ORDER BY \"id\" LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let body = http
        .get(format!("{ids}/getData"))
        .query(&[
            ("sessionId", session.as_str()),
            ("datafileIds", &df_id.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 200);
    let bytes = body.bytes().await.unwrap();
    assert_eq!(bytes.len(), 5000);
    assert_eq!(
        format!("{:x}", crc32fast::hash(&bytes)),
        checksum,
        "catalogued checksum matches the bytes served"
    );

    let size = http
        .get(format!("{ids}/getSize"))
        .query(&[
            ("sessionId", session.as_str()),
            ("datasetIds", &ds_id.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(size, "10000");

    let format_id: i64 = sim
        .icat()
        .db()
        .conn()
        .query_row("SELECT MIN(\"id\") FROM \"DatafileFormat\"", [], |r| {
            r.get(0)
        })
        .unwrap();
    let put = http
        .put(format!("{ids}/put"))
        .query(&[
            ("sessionId", session.as_str()),
            ("name", "upload.txt"),
            ("datasetId", &ds_id.to_string()),
            ("datafileFormatId", &format_id.to_string()),
        ])
        .body("hello, ids")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let json: serde_json::Value = put.json().await.unwrap();
    let new_id = json["id"].as_i64().unwrap();
    let got = sim
        .icat()
        .get(&session, "Datafile INCLUDE 1", new_id)
        .unwrap();
    assert_eq!(got.one["dataset"].id(), Some(ds_id));
    assert_eq!(
        json["checksum"].as_u64().unwrap(),
        u64::from(crc32fast::hash(b"hello, ids"))
    );
    let totals = |entity: &str, id: i64| -> (i64, i64) {
        let sql = format!("SELECT \"fileSize\", \"fileCount\" FROM \"{entity}\" WHERE \"id\" = ?");
        sim.icat()
            .db()
            .conn()
            .query_row(&sql, [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
    };
    let inv_id = got.one["dataset"].id().and_then(|ds| {
        let ds = sim.icat().get(&session, "Dataset INCLUDE 1", ds).ok()?;
        ds.one["investigation"].id()
    });
    let inv_id = inv_id.unwrap();
    assert_eq!(
        totals("Dataset", ds_id),
        (10_010, 3),
        "put adds to the dataset"
    );
    assert_eq!(totals("Investigation", inv_id), (20_010, 5));
    let deleted = http
        .delete(format!("{ids}/delete"))
        .query(&[
            ("sessionId", session.as_str()),
            ("datafileIds", &new_id.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        totals("Dataset", ds_id),
        (10_000, 2),
        "delete takes it away"
    );
    assert_eq!(totals("Investigation", inv_id), (20_000, 4));

    // A non-root user cannot put (no write permission in the default configuration): 403.
    let user = sim.icat().login("db", &creds("jdoe")).unwrap();
    let denied = http
        .put(format!("{ids}/put"))
        .query(&[
            ("sessionId", user.as_str()),
            ("name", "nope.txt"),
            ("datasetId", &ds_id.to_string()),
            ("datafileFormatId", &format_id.to_string()),
        ])
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let bad = http
        .get(format!("{ids}/getSize"))
        .query(&[
            ("sessionId", "0d5b4fd6-0000-4000-8000-000000000000"),
            ("datasetIds", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
}

#[tokio::test]
async fn two_level_synthetic_data_starts_archived() {
    let sim = Simulator::builder()
        .synthetic(
            "visits=4,datasets=5,files=1,size=10,archived=0.5"
                .parse()
                .unwrap(),
        )
        .two_level(true)
        .restore_delay(std::time::Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let session = sim.icat().login("simple", &creds("root")).unwrap();
    let http = icat_soap::tls::http_client().unwrap();
    let ids = sim.ids_url();
    assert_eq!(
        http.get(format!("{ids}/isTwoLevel"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "true"
    );
    let inv_ids: Vec<i64> = {
        let db = sim.icat().db();
        let mut st = db
            .conn()
            .prepare("SELECT \"id\" FROM \"Investigation\"")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut statuses = Vec::new();
    for id in inv_ids {
        let s = http
            .get(format!("{ids}/getStatus"))
            .query(&[
                ("sessionId", session.as_str()),
                ("investigationIds", &id.to_string()),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        statuses.push(s);
    }
    assert!(statuses.iter().any(|s| s == "ARCHIVED"), "{statuses:?}");
}
