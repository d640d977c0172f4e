//! The facility profile on a running simulator: what every request is charged (RTT, the IDS's
//! session overhead, the server reads of a skipped Range prefix) as the simulator counts it, and
//! the per-user download cap answered with 503 and Retry-After. No timing thresholds: the
//! simulator's own counters are checked.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use icat_sim::network::{NetworkProfile, NetworkStats, Rate, RestoreRecord, STATS_PATH};
use icat_sim::{RunningSimulator, Simulator};

const MIB: u64 = 1 << 20;

fn creds(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".into(), user.into()),
        ("password".into(), "secret".into()),
    ])
}

/// A simulator with one visit of 2 datasets of one synthetic file of `size` bytes each.
async fn start(profile: NetworkProfile, size: u64) -> (RunningSimulator, Vec<i64>) {
    let sim = Simulator::builder()
        .synthetic(
            format!("visits=1,datasets=2,files=1,size={size}")
                .parse()
                .unwrap(),
        )
        .network(profile)
        .start()
        .await
        .unwrap();
    let ids = {
        let db = sim.icat().db();
        let conn = db.conn();
        let mut stmt = conn
            .prepare("SELECT \"id\" FROM \"Datafile\" ORDER BY \"id\"")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<i64>, _>>()
            .unwrap()
    };
    (sim, ids)
}

async fn stats(http: &reqwest::Client, sim: &RunningSimulator) -> NetworkStats {
    let v: serde_json::Value = http
        .get(format!("{}{STATS_PATH}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let restores = v["restores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| RestoreRecord {
            dataset: r["dataset"].as_i64().unwrap(),
            id: 0,
            queued_ms: r["queuedMs"].as_u64().unwrap(),
            started_ms: r["startedMs"].as_u64(),
            done_ms: r["doneMs"].as_u64(),
        })
        .collect();
    NetworkStats {
        uptime_ms: n("uptimeMs"),
        restores,
        connections: n("connections"),
        setup_charged_ms: n("setupChargedMs"),
        requests: n("requests"),
        rtt_charged_ms: n("rttChargedMs"),
        session_overheads: n("sessionOverheads"),
        session_overhead_charged_ms: n("sessionOverheadChargedMs"),
        body_bytes: n("bodyBytes"),
        get_data_requests: n("getDataRequests"),
        get_data_bytes: n("getDataBytes"),
        prefix_bytes_read: n("prefixBytesRead"),
        prefix_read_charged_ms: n("prefixReadChargedMs"),
        server_bytes_read: n("serverBytesRead"),
        refused_downloads: n("refusedDownloads"),
        peak_downloads_per_user: n("peakDownloadsPerUser"),
        get_data_open: n("getDataOpen"),
    }
}

/// Reads a response to the end without keeping it; returns its length.
async fn drain(r: reqwest::Response) -> u64 {
    let mut body = r.bytes_stream();
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        n += chunk.unwrap().len() as u64;
    }
    n
}

#[tokio::test]
async fn rtt_and_session_overhead_are_charged_per_request_but_not_by_prepared_id() {
    let profile = NetworkProfile {
        rtt: Duration::from_millis(2),
        connection_setup: Duration::from_millis(5),
        ids_session_overhead: Duration::from_millis(3),
        ..NetworkProfile::unshaped()
    };
    let (sim, files) = start(profile, 5000).await;
    let http = icat_soap::tls::http_client().unwrap();
    let session = sim.icat().login("simple", &creds("root")).unwrap();
    let ids = sim.ids_url();
    let s0 = stats(&http, &sim).await;
    assert_eq!(
        s0.requests, 0,
        "the counters endpoint is not itself counted"
    );

    // A getData by session: one RTT, one session overhead, the file's bytes.
    let r = http
        .get(format!(
            "{ids}/getData?sessionId={session}&datafileIds={}",
            files[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(drain(r).await, 5000);
    let s1 = stats(&http, &sim).await;
    assert_eq!(s1.requests, 1);
    assert_eq!(s1.rtt_charged_ms, 2);
    assert_eq!(
        (s1.session_overheads, s1.session_overhead_charged_ms),
        (1, 3)
    );
    assert_eq!((s1.get_data_requests, s1.get_data_bytes), (1, 5000));
    assert_eq!(s1.server_bytes_read, 5000);

    // prepareData pays the overhead (it authorizes with the session) ...
    let prepared = http
        .post(format!("{ids}/prepareData"))
        .form(&[
            ("sessionId", session.as_str()),
            ("datafileIds", &files[1].to_string()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // ... getData by preparedId does not (ids.server IdsBean.getData(preparedId, ...) reads
    // the prepared file and calls no ICAT).
    let r = http
        .get(format!("{ids}/getData?preparedId={prepared}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(drain(r).await, 5000);
    // An ICAT request pays the RTT too.
    let r = http.get(sim.wsdl_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await.unwrap();
    let s2 = stats(&http, &sim).await;
    assert_eq!(s2.requests, 4);
    assert_eq!(s2.rtt_charged_ms, 8);
    assert_eq!(
        (s2.session_overheads, s2.session_overhead_charged_ms),
        (2, 6)
    );
    assert_eq!((s2.get_data_requests, s2.get_data_bytes), (2, 10_000));
    assert!(
        s2.body_bytes > s2.get_data_bytes,
        "the WSDL and the preparedId were counted"
    );
    // Every new connection pays its set-up once: a client that keeps none open pays it per request.
    assert!(s2.connections >= 1);
    assert_eq!(s2.setup_charged_ms, 5 * s2.connections);
    let no_reuse = icat_soap::tls::Trust::system()
        .http_client_builder()
        .unwrap()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = no_reuse.get(sim.wsdl_url()).send().await.unwrap();
        let _ = r.bytes().await.unwrap();
    }
    let s3 = stats(&http, &sim).await;
    assert_eq!(s3.connections, s2.connections + 3);
    assert_eq!(s3.setup_charged_ms, 5 * s3.connections);
}

#[tokio::test]
async fn a_range_offset_costs_server_reads_of_the_skipped_prefix() {
    let size = 64 * MIB;
    let profile = NetworkProfile {
        disk_read_rate: Some(Rate::bytes_per_sec(1e9)),
        ..NetworkProfile::unshaped()
    };
    let (sim, files) = start(profile, size).await;
    let http = icat_soap::tls::http_client().unwrap();
    let session = sim.icat().login("simple", &creds("root")).unwrap();
    let offset = size - 1000;
    let r = http
        .get(format!(
            "{}/getData?sessionId={session}&datafileIds={}",
            sim.ids_url(),
            files[0]
        ))
        .header("Range", format!("bytes={offset}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(drain(r).await, 1000);
    let s = stats(&http, &sim).await;
    assert_eq!(s.get_data_bytes, 1000);
    assert_eq!(s.prefix_bytes_read, offset);
    // The server read the whole file to send its last 1000 bytes (ids.server's
    // RangeOutputStream discards the prefix), at the profile's disk rate.
    assert_eq!(s.server_bytes_read, size);
    assert_eq!(s.prefix_read_charged_ms, (offset as f64 / 1e6) as u64);
}

#[tokio::test]
async fn downloads_over_the_per_user_cap_are_answered_503_with_retry_after() {
    // 8 Mbit/s per connection: a 64 MiB answer stays open for a minute, long enough to be
    // certainly still open when the second request comes.
    let profile = NetworkProfile {
        connection_rate: Some(Rate::mbit_per_sec(8.0)),
        max_downloads_per_user: Some(1),
        retry_after: Some(Duration::from_secs(2)),
        ..NetworkProfile::unshaped()
    };
    let (sim, files) = start(profile, 64 * MIB).await;
    let http = icat_soap::tls::http_client().unwrap();
    let root = sim.icat().login("simple", &creds("root")).unwrap();
    let url = |session: &str, file: i64| {
        format!(
            "{}/getData?sessionId={session}&datafileIds={file}",
            sim.ids_url()
        )
    };
    let first = http.get(url(&root, files[0])).send().await.unwrap();
    assert_eq!(first.status(), 200);

    // The same user again, even for another file and by preparedId: 503 and Retry-After.
    let second = http.get(url(&root, files[1])).send().await.unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()["retry-after"], "2");
    let prepared = http
        .post(format!("{}/prepareData", sim.ids_url()))
        .form(&[
            ("sessionId", root.as_str()),
            ("datafileIds", &files[1].to_string()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let by_prepared = http
        .get(format!("{}/getData?preparedId={prepared}", sim.ids_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_prepared.status(), 503);

    // Another user is not affected (db/acord is the visit's principal investigator).
    let acord = sim.icat().login("db", &creds("acord")).unwrap();
    let other = http.get(url(&acord, files[1])).send().await.unwrap();
    assert_eq!(other.status(), 200);
    drop(other);

    let s = stats(&http, &sim).await;
    assert_eq!(s.refused_downloads, 2);
    assert_eq!(s.peak_downloads_per_user, 1);

    // When the first download goes away its place is free again (the server notices the closed
    // connection at its next write).
    drop(first);
    let mut status = 0;
    for _ in 0..200 {
        let r = http.get(url(&root, files[1])).send().await.unwrap();
        status = r.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "the slot of a closed download is never freed");
}

#[tokio::test]
async fn without_a_profile_nothing_is_shaped_or_counted() {
    let sim = Simulator::builder()
        .synthetic("visits=1,datasets=1,files=1,size=10".parse().unwrap())
        .start()
        .await
        .unwrap();
    let r = icat_soap::tls::http_client()
        .unwrap()
        .get(format!("{}{STATS_PATH}", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn is_prepared_stays_false_until_every_dataset_is_restored_one_drive_at_a_time() {
    let sim = Simulator::builder()
        .synthetic(
            "visits=1,datasets=2,files=1,size=100,archived=1"
                .parse()
                .unwrap(),
        )
        .restore_delay(Duration::from_secs(1))
        .tape_drives(1)
        .network(NetworkProfile::unshaped())
        .start()
        .await
        .unwrap();
    let http = icat_soap::tls::http_client().unwrap();
    let ids = sim.ids_url();
    let root = sim.icat().login("simple", &creds("root")).unwrap();
    let datasets: Vec<i64> = {
        let db = sim.icat().db();
        let conn = db.conn();
        let mut stmt = conn
            .prepare("SELECT \"id\" FROM \"Dataset\" ORDER BY \"id\"")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<i64>, _>>()
            .unwrap()
    };
    let get = |call: &str, query: String| {
        let http = http.clone();
        let url = format!("{ids}/{call}?{query}");
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let status = |ds: i64| get("getStatus", format!("sessionId={root}&datasetIds={ds}"));
    let both = format!("{},{}", datasets[0], datasets[1]);
    let prepared = http
        .post(format!("{ids}/prepareData"))
        .form(&[("sessionId", root.as_str()), ("datasetIds", both.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Both restores are listed from the start, before they are done (the second waits 1 s for
    // the drive, then takes 1 s): queued or in progress.
    let s = stats(&http, &sim).await;
    assert_eq!(s.restores.len(), 2, "{:?}", s.restores);
    assert!(
        s.restores.iter().any(|r| r.done_ms.is_none()),
        "{:?}",
        s.restores
    );
    // One drive: while one dataset restores, the other waits; isPrepared is false throughout.
    let mut seen_one_online = false;
    for _ in 0..400 {
        // isPrepared first: data that is online stays online, so `true` here must be seen
        // as both datasets online after it.
        let prepared_now = get("isPrepared", format!("preparedId={prepared}")).await;
        let (a, b) = (status(datasets[0]).await, status(datasets[1]).await);
        if prepared_now == "true" {
            assert_eq!((a.as_str(), b.as_str()), ("ONLINE", "ONLINE"));
        }
        if a == "ONLINE" && b == "ONLINE" {
            break;
        }
        seen_one_online |= a == "ONLINE" || b == "ONLINE";
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_one_online, "the restores were not one at a time");
    assert_eq!(
        get("isPrepared", format!("preparedId={prepared}")).await,
        "true"
    );
    // The simulator's record: both queued at once, the second started when the first was done.
    let s = stats(&http, &sim).await;
    assert_eq!(s.restores.len(), 2, "{:?}", s.restores);
    let times = |r: &RestoreRecord| (r.queued_ms, r.started_ms.unwrap(), r.done_ms.unwrap());
    let ((_, a_started, a_done), (b_queued, b_started, b_done)) =
        (times(&s.restores[0]), times(&s.restores[1]));
    assert!(
        b_queued <= a_done && b_started >= a_done,
        "{:?}",
        s.restores
    );
    assert!(a_done - a_started >= 1000 && b_done - b_started >= 1000);
    assert!(s.uptime_ms >= b_done);
}
