//! Fault injection: cut connections, failed requests, delays, corrupted bytes.

mod ids_common;

use std::time::{Duration, Instant};

use icat_sim::ids::DropAt;
use ids_common::{Fixture, assert_error, big_bytes, unzip};

#[tokio::test]
async fn cut_download_resumes_to_the_full_file() {
    let f = Fixture::new().await;
    let big = big_bytes();
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_big);
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::AfterBytes(70_000), Some(1));
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "300000");
    let mut got = Vec::new();
    let mut r = r;
    let failed = loop {
        match r.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(failed, "the body must end in an error, not look complete");
    assert_eq!(got.len(), 70_000);
    assert_eq!(got, &big[..70_000]);

    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", format!("bytes={}-", got.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.unwrap());
    assert_eq!(got, big);
}

#[tokio::test]
async fn random_cuts_hit_every_download_until_cleared() {
    let f = Fixture::new().await;
    let q = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    f.server
        .state()
        .faults()
        .drop_downloads(DropAt::Random, None);
    for _ in 0..5 {
        let r = f.get("getData", &q).await;
        assert!(r.bytes().await.is_err());
    }
    f.server.state().faults().clear_drops();
    let r = f.get("getData", &q).await;
    assert_eq!(unzip(&r.bytes().await.unwrap()).len(), 3);
}

#[tokio::test]
async fn next_requests_fail_with_the_chosen_status() {
    let f = Fixture::new().await;
    f.server.state().faults().fail_next_requests(2, 503);
    for _ in 0..2 {
        let (status, body) = f.get_text("ping", "").await;
        assert_error(
            status,
            &body,
            503,
            "DataNotOnlineException",
            "Injected fault",
        );
    }
    assert_eq!(f.get_text("ping", "").await, (200, "IdsOK".into()));
    f.server.state().faults().fail_next_requests(1, 500);
    let (status, body) = f
        .get_text(
            "getSize",
            &format!("sessionId={}&datasetIds={}", f.session, f.dataset),
        )
        .await;
    assert_error(status, &body, 500, "InternalException", "Injected fault");
}

#[tokio::test]
async fn responses_can_be_delayed() {
    let f = Fixture::new().await;
    f.server
        .state()
        .faults()
        .set_delay(Some(Duration::from_millis(200)));
    let start = Instant::now();
    assert_eq!(f.get_text("ping", "").await, (200, "IdsOK".into()));
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn corrupted_reads_no_longer_match_the_checksum() {
    let f = Fixture::new().await;
    let q = format!("sessionId={}&datafileIds={}", f.session, f.df_big);
    f.server.state().faults().corrupt_datafile(f.df_big);
    let got = f.get("getData", &q).await.bytes().await.unwrap();
    let catalogued = f.catalog.datafile(f.df_big).unwrap().checksum.unwrap();
    assert_eq!(got.len(), 300_000);
    assert_ne!(format!("{:x}", crc32fast::hash(&got)), catalogued);
    // A resumed read from an offset is corrupted too.
    let r = f
        .http
        .get(f.url("getData", &q))
        .header("Range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_ne!(r.bytes().await.unwrap(), &big_bytes()[100_000..]);
    // Inside zips as well; other files stay intact.
    let zq = format!(
        "sessionId={}&investigationIds={}",
        f.session, f.investigation
    );
    let entries = unzip(&f.get("getData", &zq).await.bytes().await.unwrap());
    assert_eq!(entries[0].1, ids_common::JDOE);
    assert_ne!(entries[2].1, big_bytes());

    f.server.state().faults().clear_corruption();
    let got = f.get("getData", &q).await.bytes().await.unwrap();
    assert_eq!(format!("{:x}", crc32fast::hash(&got)), catalogued);
}
