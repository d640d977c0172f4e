//! getLink: off by default (501), otherwise a hard link to the stored file that expires, against
//! a running simulator.

#![cfg(unix)]

mod sim_common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use icat_sim::Simulator;
use sim_common::{Sim, assert_error};

async fn get_link(s: &Sim, session: &str, datafile: &str, username: &str) -> (u16, String) {
    let r = s
        .http
        .post(s.url("getLink"))
        .form(&[
            ("sessionId", session),
            ("datafileId", datafile),
            ("username", username),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }
    (status, r.text().await.unwrap())
}

/// A simulator with links living `lifetime`.
async fn with_links(lifetime: Duration) -> Sim {
    Sim::with(Simulator::builder().link_lifetime(lifetime)).await
}

#[tokio::test]
async fn get_link_is_off_by_default() {
    let s = Sim::start().await;
    let (id, _, _) = s.datafiles()[0].clone();
    let (status, body) = get_link(&s, &s.root, &id.to_string(), "jdoe").await;
    assert_error(
        status,
        &body,
        501,
        "NotImplementedException",
        "Sorry getLink is not available on this IDS installation",
    );
    // As on the real IDS, the switch is checked before anything else.
    let (status, body) = get_link(&s, "bad", "x", "").await;
    assert_eq!(status, 501, "{body}");
    assert!(
        !s.sim
            .storage_dir()
            .join("link")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
}

#[tokio::test]
async fn a_link_is_a_hard_link_to_the_stored_bytes() {
    let s = with_links(Duration::from_secs(3600)).await;
    let (id, location, checksum) = s.datafiles()[0].clone();
    let (status, path) = get_link(&s, &s.root, &id.to_string(), "no-such-account").await;
    assert_eq!(status, 200, "{path}");
    let link = PathBuf::from(&path);
    assert!(link.is_absolute(), "{path}");
    let link_dir = std::fs::canonicalize(s.sim.storage_dir().join("link")).unwrap();
    assert_eq!(link.parent(), Some(link_dir.as_path()));
    // The synthetic file was written out, so the link has real bytes: the ones getData serves.
    let stored = s.sim.storage_dir().join("main").join(&location);
    let (link_meta, stored_meta) = (
        std::fs::metadata(&link).unwrap(),
        std::fs::metadata(&stored).unwrap(),
    );
    assert_eq!(link_meta.ino(), stored_meta.ino(), "same inode");
    assert_eq!(link_meta.dev(), stored_meta.dev());
    assert!(stored_meta.nlink() >= 2);
    let linked = std::fs::read(&link).unwrap();
    let (status, served, _) = s.get_data(&s.root, id).await;
    assert_eq!(status, 200);
    assert_eq!(linked, served);
    assert_eq!(format!("{:x}", crc32fast::hash(&linked)), checksum);

    // Every call makes a new, unguessable link; an uploaded file links the same way.
    let (_, again) = get_link(&s, &s.root, &id.to_string(), "").await;
    assert_ne!(again, path);
    let name = Path::new(&again).file_name().unwrap().to_str().unwrap();
    assert_eq!(name.len(), 36, "a random UUID: {name}");
    let r = s
        .http
        .put(s.url("put"))
        .query(&[
            ("sessionId", s.root.as_str()),
            ("name", "up.txt"),
            ("datasetId", &s.dataset.to_string()),
            ("datafileFormatId", &s.format.to_string()),
        ])
        .body("uploaded bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let put: serde_json::Value = r.json().await.unwrap();
    let (status, path) = get_link(&s, &s.root, &put["id"].to_string(), "").await;
    assert_eq!(status, 200, "{path}");
    assert_eq!(std::fs::read(&path).unwrap(), b"uploaded bytes");
}

#[tokio::test]
async fn access_rules_and_unknown_datafiles() {
    let s = with_links(Duration::from_secs(3600)).await;
    // db/rbeck only reads the visits they take part in: find a datafile they cannot read.
    let rbeck = s.login_db("rbeck");
    let hidden = s
        .datafiles()
        .into_iter()
        .map(|(id, _, _)| id)
        .find(|id| s.sim.icat().get(&rbeck, "Datafile", *id).is_err())
        .expect("a datafile db/rbeck may not read");
    let (status, body) = get_link(&s, &rbeck, &hidden.to_string(), "rbeck").await;
    assert_eq!(status, 403, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["code"], "InsufficientPrivilegesException");

    let (status, body) = get_link(&s, &s.root, "999999", "").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_link(&s, "not-a-session", "1", "").await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The sessionId parameter 'not-a-session' is not a valid UUID",
    );
    let (status, body) = get_link(&s, &s.root, "one", "").await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The datafileId parameter must be numeric",
    );
    let link_dir = s.sim.storage_dir().join("link");
    assert_eq!(
        std::fs::read_dir(link_dir).unwrap().count(),
        0,
        "no link made"
    );
}

#[tokio::test]
async fn links_expire() {
    let s = with_links(Duration::from_millis(300)).await;
    let (id, location, _) = s.datafiles()[0].clone();
    let (status, path) = get_link(&s, &s.root, &id.to_string(), "").await;
    assert_eq!(status, 200, "{path}");
    assert!(Path::new(&path).exists());
    // The server's sweeper removes it once its lifetime is over, with no further call.
    let mut waited = Duration::ZERO;
    while Path::new(&path).exists() {
        assert!(
            waited < Duration::from_secs(20),
            "the link was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(
        s.sim.storage_dir().join("main").join(&location).exists(),
        "the stored file stays"
    );
    // Shutting down stops the sweeper with the server.
    s.sim.shutdown().await;
}

#[tokio::test]
async fn archived_data_is_restored_before_linking() {
    let s = Sim::with(
        Simulator::builder()
            .link_lifetime(Duration::from_secs(3600))
            .two_level(true)
            .restore_delay(Duration::from_millis(100)),
    )
    .await;
    let (id, _, _) = s.datafiles()[0].clone();
    let ds: i64 = s
        .sim
        .icat()
        .db()
        .conn()
        .query_row(
            "SELECT \"dataset_id\" FROM \"Datafile\" WHERE \"id\" = ?",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let r = s
        .http
        .post(s.url("archive"))
        .form(&[
            ("sessionId", s.root.as_str()),
            ("datasetIds", &ds.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = get_link(&s, &s.root, &id.to_string(), "").await;
    assert_error(
        status,
        &body,
        503,
        "DataNotOnlineException",
        "Before linking a datafile, its dataset has to be restored, restoration requested automatically",
    );
    // The refusal started a restore: the link comes once it is done.
    let mut tries = 0;
    loop {
        let (status, body) = get_link(&s, &s.root, &id.to_string(), "").await;
        if status == 200 {
            assert!(Path::new(&body).exists());
            break;
        }
        assert_eq!(status, 503, "{body}");
        tries += 1;
        assert!(tries < 200, "the restore never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
