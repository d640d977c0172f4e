//! getData (raw, zip, ranges, names), put and delete on single-level storage.

mod ids_common;

use ids_common::{Fixture, JDOE, NBOUR, assert_error, big_bytes, unzip};

#[tokio::test]
async fn single_datafile_is_sent_raw_with_length_and_name() {
    let f = Fixture::new().await;
    // compress=true does not zip a single datafile.
    let q = format!(
        "sessionId={}&datafileIds={}&compress=true",
        f.session, f.df_jdoe
    );
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], JDOE.len().to_string().as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"greet-jdoe.txt\""
    );
    assert_eq!(r.bytes().await.unwrap(), JDOE);

    let q = format!(
        "sessionId={}&datafileIds={}&outname=hello.dat",
        f.session, f.df_jdoe
    );
    let r = f.get("getData", &q).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"hello.dat\""
    );
}

#[tokio::test]
async fn range_skips_bytes_with_206() {
    let f = Fixture::new().await;
    let big = big_bytes();
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_big);
    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert!(r.headers().get("content-range").is_none());
    assert_eq!(r.headers()["content-length"], "200000");
    assert_eq!(r.bytes().await.unwrap(), &big[100_000..]);

    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 300_000);

    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", "bytes=400000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 0);

    for bad in ["bytes=0-99", "bytes=-10", "bytes=1-,4-"] {
        let r = f
            .http
            .get(f.url("getData", &q))
            .header("Range", bad)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_error(
            status,
            &r.text().await.unwrap(),
            400,
            "BadRequestException",
            "The range must match bytes=(\\d+)-",
        );
    }
}

#[tokio::test]
async fn zip_uses_the_default_layout_with_encoded_components() {
    let f = Fixture::new().await;
    let q = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-length").is_none());
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".zip\""),
        "{disposition}"
    );
    let entries = unzip(&r.bytes().await.unwrap());
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ids/ESNF/12100409-ST/1.1-P/greetings/greet-jdoe.txt",
            "ids/ESNF/12100409-ST/1.1-P/greetings/greet-nbour.txt",
            "ids/ESNF/12100409-ST/1.1-P/raw+data/big file.bin",
        ]
    );
    assert_eq!(entries[0].1, JDOE);
    assert_eq!(entries[1].1, NBOUR);
    assert_eq!(entries[2].1, big_bytes());
}

#[tokio::test]
async fn zip_flag_and_outname_rules() {
    let f = Fixture::new().await;
    let q = format!(
        "sessionId={}&datafileIds={}&zip=true&outname=mine",
        f.session, f.df_jdoe
    );
    let r = f.get("getData", &q).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"mine.zip\""
    );
    let entries = unzip(&r.bytes().await.unwrap());
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, JDOE);

    let q = format!(
        "sessionId={}&datafileIds={},{}&outname=both.zip",
        f.session, f.df_jdoe, f.df_nbour
    );
    let r = f.get("getData", &q).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"both.zip\""
    );
    assert_eq!(unzip(&r.bytes().await.unwrap()).len(), 2);

    // No ids at all: an empty zip.
    let r = f.get("getData", &format!("sessionId={}", f.session)).await;
    assert_eq!(r.status(), 200);
    assert!(unzip(&r.bytes().await.unwrap()).is_empty());
}

#[tokio::test]
async fn compress_changes_size_not_content() {
    let f = Fixture::new().await;
    let text = "all work and no play ".repeat(5000);
    let loc = "c/text";
    let stored = f
        .server
        .state()
        .storage()
        .write_bytes(loc, text.as_bytes())
        .unwrap();
    let df = f.catalog.add_datafile(
        f.dataset,
        "text.txt",
        Some(loc),
        Some(stored.size as i64),
        None,
    );
    let q = |compress: bool| {
        format!(
            "sessionId={}&datafileIds={df}&zip=true&compress={compress}",
            f.session
        )
    };
    let plain = f.get("getData", &q(false)).await.bytes().await.unwrap();
    let packed = f.get("getData", &q(true)).await.bytes().await.unwrap();
    assert!(
        packed.len() * 10 < plain.len(),
        "{} vs {}",
        packed.len(),
        plain.len()
    );
    assert!(plain.len() > text.len());
    assert_eq!(unzip(&plain)[0].1, text.as_bytes());
    assert_eq!(unzip(&packed)[0].1, text.as_bytes());
}

#[tokio::test]
async fn zip_skips_duplicate_entry_names_and_resumes_identically() {
    let f = Fixture::new().await;
    let stored = f
        .server
        .state()
        .storage()
        .write_bytes("d/dup", b"second")
        .unwrap();
    f.catalog.add_datafile(
        f.dataset,
        "greet-jdoe.txt",
        Some("d/dup"),
        Some(stored.size as i64),
        None,
    );
    let q = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let whole = f.get("getData", &q).await.bytes().await.unwrap();
    let entries = unzip(&whole);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].1, JDOE, "the first file of a name wins");
    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", "bytes=50-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), &whole[50..]);
}

#[tokio::test]
async fn prepared_get_data_checks_the_datafiles_still_exist() {
    let f = Fixture::new().await;
    let form = format!("sessionId={}&datafileIds={}", f.session, f.df_nbour);
    let (_, prepared) = f.post_text("prepareData", &form).await;
    let r = f.get("getData", &format!("preparedId={prepared}")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("content-length").is_none(),
        "no length in preparedId mode"
    );
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"greet-nbour.txt\""
    );
    assert_eq!(r.bytes().await.unwrap(), NBOUR);

    let r = f
        .http
        .delete(f.url(
            "delete",
            &format!("sessionId={}&datafileIds={}", f.session, f.df_nbour),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = f
        .get_text("getData", &format!("preparedId={prepared}"))
        .await;
    assert_error(
        status,
        &body,
        404,
        "NotFoundException",
        "One of the data files requested has been deleted",
    );
}

#[tokio::test]
async fn missing_files_and_null_locations() {
    let f = Fixture::new().await;
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_no_location);
    let (status, body) = f.get_text("getData", &q).await;
    assert_error(status, &body, 404, "NotFoundException", "Datafile");
    let df = f
        .catalog
        .add_datafile(f.dataset, "ghost", Some("no/such/file"), Some(3), None);
    let q = format!("sessionId={}&datafileIds={df}", f.session);
    let (status, body) = f.get_text("getData", &q).await;
    assert_error(
        status,
        &body,
        500,
        "InternalException",
        "missing from main storage",
    );
    let df = f
        .catalog
        .add_datafile(f.dataset, "evil", Some("../../etc/passwd"), Some(3), None);
    let q = format!("sessionId={}&datafileIds={df}", f.session);
    let (status, body) = f.get_text("getData", &q).await;
    assert_error(status, &body, 500, "InternalException", "location");
}

async fn put(f: &Fixture, query: &str, body: Vec<u8>) -> (u16, String) {
    let r = f
        .http
        .put(f.url("put", query))
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn put_stores_streams_checksums_and_registers() {
    let f = Fixture::new().await;
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let q = format!(
        "sessionId={}&name=new.dat&datasetId={}&datafileFormatId={}&description=desc&datafileCreateTime=1000&datafileModTime=2000",
        f.session, f.dataset, f.format
    );
    // A streamed (chunked) body, as python-icat sends it.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let r = f
        .http
        .put(f.url("put", &q))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    let crc = crc32fast::hash(&data);
    assert_eq!(v["checksum"], crc);
    assert_eq!(v["size"], 1_000_000);
    let id = v["id"].as_i64().unwrap();
    let location = v["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/{}/", f.investigation, f.dataset)),
        "{location}"
    );

    let df = f.catalog.datafile(id).unwrap();
    assert_eq!(df.checksum.as_deref(), Some(format!("{crc:x}").as_str()));
    assert_eq!(df.file_size, Some(1_000_000));
    assert_eq!(df.location.as_deref(), Some(location));
    assert_eq!(df.description.as_deref(), Some("desc"));
    assert_eq!(df.create_time_millis, Some(1000));
    assert_eq!(df.mod_time_millis, Some(2000));
    assert_eq!(df.datafile_format_id, Some(f.format));

    let got = f
        .get(
            "getData",
            &format!("sessionId={}&datafileIds={id}", f.session),
        )
        .await;
    assert_eq!(
        got.headers()["content-disposition"],
        "attachment; filename=\"new.dat\""
    );
    assert_eq!(got.bytes().await.unwrap(), data);
    // Nothing but the final file was left in the dataset directory.
    let dir = f
        .dir
        .path()
        .join("main")
        .join(f.investigation.to_string())
        .join(f.dataset.to_string());
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);
}

#[tokio::test]
async fn put_parameter_errors() {
    let f = Fixture::new().await;
    let s = &f.session;
    let (ds, fmt) = (f.dataset, f.format);
    let cases = [
        (
            format!("sessionId={s}&datasetId={ds}&datafileFormatId={fmt}"),
            400,
            "BadRequestException",
            "The name parameter must be set",
        ),
        (
            format!("sessionId={s}&name=a&datasetId={ds}"),
            400,
            "BadRequestException",
            "The datafileFormatId parameter must be set",
        ),
        (
            format!("sessionId={s}&name=a&datasetId=x&datafileFormatId={fmt}"),
            400,
            "BadRequestException",
            "The datasetId parameter must be numeric",
        ),
        (
            format!(
                "sessionId={s}&name=a&datasetId={ds}&datafileFormatId={fmt}&datafileModTime=yesterday"
            ),
            400,
            "BadRequestException",
            "The datafileModTime parameter must be numeric",
        ),
        (
            format!("sessionId=nope&name=a&datasetId={ds}&datafileFormatId={fmt}"),
            400,
            "BadRequestException",
            "not a valid UUID",
        ),
        (
            format!("sessionId={s}&name=a&datasetId=987654&datafileFormatId={fmt}"),
            404,
            "NotFoundException",
            "987654",
        ),
        (
            format!("sessionId={s}&name=a&datasetId={ds}&datafileFormatId=987655"),
            404,
            "NotFoundException",
            "987655",
        ),
        (
            // IdsBean.registerDatafile: OBJECT_ALREADY_EXISTS is InternalException(type + " " + msg).
            format!("sessionId={s}&name=greet-jdoe.txt&datasetId={ds}&datafileFormatId={fmt}"),
            500,
            "InternalException",
            "OBJECT_ALREADY_EXISTS Datafile exists",
        ),
    ];
    for (q, status, code, message) in cases {
        let (got, body) = put(&f, &q, b"abc".to_vec()).await;
        assert_error(got, &body, status, code, message);
    }
    // Failed registrations leave no file behind.
    let dir = f.dir.path().join("main").join(f.investigation.to_string());
    assert!(
        !dir.exists()
            || std::fs::read_dir(dir.join(f.dataset.to_string()))
                .unwrap()
                .count()
                == 0
    );
}

#[tokio::test]
async fn put_empty_file() {
    let f = Fixture::new().await;
    let q = format!(
        "sessionId={}&name=empty&datasetId={}&datafileFormatId={}",
        f.session, f.dataset, f.format
    );
    let (status, body) = put(&f, &q, Vec::new()).await;
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["checksum"], 0);
    assert_eq!(v["size"], 0);
}

#[tokio::test]
async fn delete_removes_datafiles_and_unshared_files() {
    let f = Fixture::new().await;
    // A second datafile sharing greet-jdoe's location keeps the file alive.
    let shared = f
        .catalog
        .add_datafile(f.dataset2, "alias", Some("a/greet-jdoe"), Some(16), None);
    let q = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
    let r = f.http.delete(f.url("delete", &q)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.text().await.unwrap(), "");
    assert!(f.catalog.datafile(f.df_jdoe).is_none());
    assert!(f.catalog.datafile(f.df_nbour).is_none());
    assert!(
        f.catalog.datafile(f.df_no_location).is_some(),
        "null locations are not selected"
    );
    let main = f.dir.path().join("main");
    assert!(main.join("a/greet-jdoe").exists());
    assert!(!main.join("a/greet-nbour").exists());
    let q = format!("sessionId={}&datafileIds={shared}", f.session);
    assert_eq!(f.get("getData", &q).await.bytes().await.unwrap(), JDOE);

    let q = format!("sessionId={}&datafileIds=123456", f.session);
    let r = f.http.delete(f.url("delete", &q)).send().await.unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        404,
        "NotFoundException",
        "123456",
    );
}

#[tokio::test]
async fn downloads_hold_shared_locks_that_block_deletion() {
    let f = Fixture::new().await;
    let size = 64u64 << 20;
    let stored = f
        .server
        .state()
        .storage()
        .write_pattern("big/64m", 3, size)
        .unwrap();
    let df = f.catalog.add_datafile(
        f.dataset2,
        "64m.bin",
        Some("big/64m"),
        Some(stored.size as i64),
        None,
    );
    let status_query = format!("sessionId={}", f.root_session);

    // Headers received, body not read: the download is in progress.
    let download = f
        .get(
            "getData",
            &format!("sessionId={}&datafileIds={df}", f.session),
        )
        .await;
    assert_eq!(download.status(), 200);
    let (_, body) = f.get_text("getServiceStatus", &status_query).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["lockCount"], 1, "{body}");
    assert_eq!(
        v["locks"],
        serde_json::json!([{"id": f.dataset2, "type": "SHARED", "count": 1}])
    );

    let delete = format!("sessionId={}&datafileIds={}", f.session, f.df_big);
    let r = f
        .http
        .delete(f.url("delete", &delete))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        503,
        "DataNotOnlineException",
        "Data is busy",
    );
    // Other datasets are not locked.
    let other = format!("sessionId={}&datafileIds={}", f.session, f.df_nbour);
    assert_eq!(
        f.http
            .delete(f.url("delete", &other))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    // Abandoning the download releases the lock.
    drop(download);
    let start = std::time::Instant::now();
    loop {
        let (_, body) = f.get_text("getServiceStatus", &status_query).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["lockCount"] == 0 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "lock never released: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        f.http
            .delete(f.url("delete", &delete))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
}

/// Raw files larger than the streaming chunks; several downloads, a ranged one and a
/// prepared one (chunked, no Content-Length) on one kept-alive connection must each get exactly
/// their own bytes, with a zip in between.
#[tokio::test]
async fn large_raw_files_arrive_intact_on_a_reused_connection() {
    let f = Fixture::new().await;
    let storage = f.server.state().storage().clone();
    let mut files = Vec::new();
    for (i, size) in [(5u64, 3 * (1 << 20) + 12_345), (6, (1 << 20) - 1)] {
        let loc = format!("big/{i}");
        let stored = storage.write_pattern(&loc, i, size).unwrap();
        let df = f.catalog.add_datafile(
            f.dataset2,
            &format!("f{i}.bin"),
            Some(&loc),
            Some(stored.size as i64),
            None,
        );
        let mut expected = vec![0u8; size as usize];
        icat_sim::ids::fill_pattern(i, 0, &mut expected);
        files.push((df, expected));
    }
    for round in 0..2 {
        for (df, expected) in &files {
            let q = format!("sessionId={}&datafileIds={df}", f.session);
            let got = f.get("getData", &q).await.bytes().await.unwrap();
            assert!(got == expected[..], "datafile {df} round {round}");
            let r = f
                .http
                .get(f.url("getData", &q))
                .header("Range", "bytes=1048577-")
                .send()
                .await
                .unwrap();
            let got = r.bytes().await.unwrap();
            let tail = expected.get(1_048_577..).unwrap_or_default();
            assert!(got == tail, "range of datafile {df}");
        }
        let q = format!("sessionId={}&datasetIds={}", f.session, f.dataset);
        let zip = f.get("getData", &q).await.bytes().await.unwrap();
        assert!(!unzip(&zip).is_empty());
    }
    let (df, expected) = &files[0];
    let prepare = format!("sessionId={}&datafileIds={df}", f.session);
    let r = f
        .http
        .post(f.url("prepareData", ""))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(prepare)
        .send()
        .await
        .unwrap();
    let prepared = r.text().await.unwrap();
    let r = f.get("getData", &format!("preparedId={prepared}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-length").is_none());
    assert!(r.bytes().await.unwrap() == expected[..]);
}
