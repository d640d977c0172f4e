//! Every IDS endpoint through `IdsClient` against the simulator, errors per status, and a
//! selection of 5,000 datafile ids.

mod common;

use common::*;
use icat_ids::{
    DataSelection, IdsClient, IdsError, Packing, PutRequest, SessionId, Status, TransportOptions,
    ZipOutput,
};

#[tokio::test]
async fn server_information_endpoints() {
    let f = Fixture::new().await;
    f.client.ping().await.unwrap();
    assert_eq!(f.client.version().await.unwrap(), "2.1.1");
    assert_eq!(
        f.client.get_icat_url().await.unwrap(),
        "https://icat.example.org/ICATService/ICAT"
    );
    assert!(!f.client.is_read_only().await.unwrap());
    assert!(!f.client.is_two_level().await.unwrap());
    // The URL may be given without the /ids suffix.
    let base = f.server.url().trim_end_matches("/ids").to_string();
    let c = IdsClient::new(&base, TransportOptions::default()).unwrap();
    c.ping().await.unwrap();
}

#[tokio::test]
async fn service_status_needs_a_root_user() {
    let f = Fixture::new().await;
    let e = f.client.get_service_status().await.unwrap_err();
    assert!(matches!(e, IdsError::InsufficientPrivileges { .. }), "{e}");
    let root = f
        .client
        .clone()
        .with_session(SessionId::new(f.root_session.clone()));
    let s = root.get_service_status().await.unwrap();
    assert!(s.ops_queue.is_empty());
    assert!(s.failures.is_empty());
}

#[tokio::test]
async fn selection_queries_by_selection_and_prepared_id() {
    let f = Fixture::new().await;
    let sel = DataSelection::datasets([f.dataset]).with_datafiles([f.df_big]);
    let size = f.client.get_size(&sel).await.unwrap();
    assert_eq!(
        size,
        (SMALL.len() + SMALL2.len() + big_bytes().len()) as u64
    );
    assert_eq!(f.client.get_status(&sel).await.unwrap(), Status::Online);
    let ids = f.client.get_datafile_ids(&sel).await.unwrap();
    assert_eq!(ids.ids, vec![f.df_small, f.df_small2, f.df_big]);

    let pid = f
        .client
        .prepare_data(
            &sel,
            Packing {
                zip: true,
                compress: false,
            },
        )
        .await
        .unwrap();
    assert!(f.client.is_prepared(&pid).await.unwrap());
    assert_eq!(f.client.get_size(&pid).await.unwrap(), size);
    assert_eq!(f.client.get_status(&pid).await.unwrap(), Status::Online);
    let pids = f.client.get_datafile_ids(&pid).await.unwrap();
    assert_eq!(pids.ids, ids.ids);
    assert_eq!(pids.zip, Some(true));
    // getStatus works without a session.
    let anon = IdsClient::new(f.server.url(), TransportOptions::default()).unwrap();
    assert_eq!(anon.get_status(&sel).await.unwrap(), Status::Online);
    assert!(matches!(
        anon.get_size(&sel).await,
        Err(IdsError::NoSession)
    ));
}

#[tokio::test]
async fn get_data_streams_raw_file_with_range() {
    let f = Fixture::new().await;
    let sel = DataSelection::datafiles([f.df_big]);
    let ds = f
        .client
        .get_data(&sel, Packing::default(), 1000)
        .await
        .unwrap();
    assert!(ds.is_partial());
    assert_eq!(ds.content_length(), Some(big_bytes().len() as u64 - 1000));
    use futures_util::StreamExt;
    let mut s = std::pin::pin!(ds.into_stream());
    let mut got = Vec::new();
    while let Some(c) = s.next().await {
        got.extend_from_slice(&c.unwrap());
    }
    assert_eq!(got, big_bytes()[1000..]);
}

#[tokio::test]
async fn two_level_calls_and_single_level_not_implemented() {
    let f = Fixture::new().await;
    let sel = DataSelection::datasets([f.dataset]);
    for r in [
        f.client.archive(&sel).await,
        f.client.restore(&sel).await,
        f.client.write(&sel).await,
    ] {
        assert!(matches!(r, Err(IdsError::NotImplemented { .. })), "{r:?}");
    }
    // reset is accepted on any storage.
    f.client.reset(&sel).await.unwrap();

    let f = Fixture::two_level().await;
    let sel = DataSelection::datasets([f.dataset]);
    assert!(f.client.is_two_level().await.unwrap());
    f.client.write(&sel).await.unwrap();
    f.client.archive(&sel).await.unwrap();
    let st = f.client.get_status(&sel).await.unwrap();
    assert_ne!(st, Status::Online);
    f.client.restore(&sel).await.unwrap();
    let pid = f
        .client
        .prepare_and_wait(&sel, Packing::default(), &quick_wait())
        .await
        .unwrap();
    assert_eq!(f.client.get_status(&pid).await.unwrap(), Status::Online);
    f.client.reset(&pid).await.unwrap();
}

#[tokio::test]
async fn errors_are_typed_per_status() {
    let f = Fixture::new().await;
    // 403: unknown session.
    let bad = f
        .client
        .clone()
        .with_session(SessionId::new("00000000-0000-4000-8000-000000000000"));
    let e = bad
        .get_size(&DataSelection::datasets([f.dataset]))
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::InsufficientPrivileges { .. }), "{e}");
    // 404: unknown datafile.
    let e = f
        .client
        .get_size(&DataSelection::datafiles([999_999]))
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::NotFound { .. }), "{e}");
    // 400: a session id that is not a UUID.
    let malformed = f.client.clone().with_session(SessionId::new("not-a-uuid"));
    let e = malformed
        .get_size(&DataSelection::datasets([f.dataset]))
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::BadRequest { .. }), "{e}");
    // A put without a name is refused before any byte is sent.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, b"x").unwrap();
    let e = f
        .client
        .put(&p, &PutRequest::new("", f.dataset, f.format), None)
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::BadRequest { .. }), "{e}");
    // put into an unknown dataset: the server's 404 arrives as a typed error.
    let e = f
        .client
        .put(&p, &PutRequest::new("x.txt", 999_999, f.format), None)
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::NotFound { .. }), "{e}");
    // A large upload rejected early (expired session) reports the real reason.
    let big = dir.path().join("big");
    std::fs::write(&big, vec![7u8; 8 << 20]).unwrap();
    let e = bad
        .put(&big, &PutRequest::new("big.bin", f.dataset, f.format), None)
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::InsufficientPrivileges { .. }), "{e}");
    // 500 and 503 on small calls are retried; more failures than retries surface typed.
    f.server.state().faults().fail_next_requests(2, 500);
    f.client.ping().await.unwrap();
    f.server.state().faults().fail_next_requests(2, 503);
    f.client.ping().await.unwrap();
    f.server.state().faults().fail_next_requests(10, 500);
    let e = f.client.ping().await.unwrap_err();
    assert!(matches!(e, IdsError::Internal { .. }), "{e}");
    f.server.state().faults().clear();
    // 501: getLink is off unless the IDS sets linkLifetimeSeconds > 0 (the default is 0).
    let e = f.client.get_link(f.df_small, "jdoe").await.unwrap_err();
    assert!(matches!(e, IdsError::NotImplemented { .. }), "{e}");
    // 503: archived data on getData.
    let f = Fixture::two_level().await;
    f.client
        .archive(&DataSelection::datasets([f.dataset2]))
        .await
        .unwrap();
    // Wait until the archive happened.
    for _ in 0..100 {
        if f.client
            .get_status(&DataSelection::datasets([f.dataset2]))
            .await
            .unwrap()
            == Status::Archived
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let e = f
        .client
        .get_data(&DataSelection::datafiles([f.df_big]), Packing::default(), 0)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, IdsError::DataNotOnline { .. }), "{e}");
    // Messages tell the user what to do.
    assert!(e.to_string().contains("retry"), "{e}");
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let c = IdsClient::new(&format!("http://{addr}"), TransportOptions::default())
        .unwrap()
        .with_retry(icat_ids::RetryPolicy::none());
    let e = c.ping().await.unwrap_err();
    assert!(matches!(e, IdsError::Connect { .. }), "{e}");
    // The reqwest error is the source, its text said once: not in Display as well.
    let source = std::error::Error::source(&e).expect("a source");
    assert!(source.is::<reqwest::Error>(), "{source:?}");
    assert!(!e.to_string().contains(&source.to_string()), "{e}");
}

#[tokio::test]
async fn five_thousand_datafile_ids() {
    let f = Fixture::new().await;
    let ds = f.catalog.add_dataset(f.investigation, "many");
    let loc = "m/shared";
    let stored = f
        .server
        .state()
        .storage()
        .write_bytes(loc, b"0123456789")
        .unwrap();
    let ids: Vec<i64> = (0..5000)
        .map(|i| {
            f.catalog.add_datafile(
                ds,
                &format!("f{i:04}.dat"),
                Some(loc),
                Some(10),
                Some(&stored.checksum_hex()),
            )
        })
        .collect();
    let sel = DataSelection::datafiles(ids.iter().copied());
    assert_eq!(f.client.get_size(&sel).await.unwrap(), 50_000);
    assert_eq!(f.client.get_status(&sel).await.unwrap(), Status::Online);
    let got = f.client.get_datafile_ids(&sel).await.unwrap();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got.ids, want);
    let pid = f
        .client
        .prepare_data(&sel, Packing::default())
        .await
        .unwrap();
    assert_eq!(f.client.get_datafile_ids(&pid).await.unwrap().ids, want);

    // getData with the long selection goes through prepareData and yields every file.
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    f.client
        .download_zip(
            &sel,
            false,
            &ZipOutput::File(zip_path.clone()),
            &quick_options(),
        )
        .await
        .unwrap();
    let z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(z.len(), 5000);

    // delete works in several requests.
    f.client.delete(&sel).await.unwrap();
    assert!(f.catalog.datafile(ids[0]).is_none());
    assert!(f.catalog.datafile(ids[4999]).is_none());
}

#[tokio::test]
async fn get_link_gives_a_path_to_the_same_bytes_when_links_are_on() {
    let f = Fixture::with_settings(icat_sim::ids::IdsSettings {
        link_lifetime: std::time::Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let path = f.client.get_link(f.df_small, "jdoe").await.unwrap();
    assert!(std::path::Path::new(&path).is_absolute(), "{path}");
    assert_eq!(std::fs::read(&path).unwrap(), SMALL);
    let e = f.client.get_link(999_999, "jdoe").await.unwrap_err();
    assert!(matches!(e, IdsError::NotFound { .. }), "{e}");
}
