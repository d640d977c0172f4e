//! IDS 2.1 details checked against ids.server v2.1.1 (each test names its source): prepared ids
//! need no session, how many are kept, zip entry order, `getStatus` on mixed selections.

mod ids_common;

use std::io::Read;
use std::time::Duration;

use icat_sim::ids::IdsSettings;
use ids_common::{Fixture, NBOUR, assert_error};

/// `IdsBean.getData(preparedId, ...)`, `getStatus`/`getSize` by preparedId: no session is asked
/// for, so a prepared id keeps working after the session that made it has gone.
#[tokio::test]
async fn prepared_ids_need_no_session_and_outlive_it() {
    let f = Fixture::new().await;
    let form = format!("sessionId={}&datafileIds={}", f.session, f.df_nbour);
    let (status, prepared) = f.post_text("prepareData", &form).await;
    assert_eq!(status, 200, "{prepared}");
    f.catalog.logout(&f.session);
    let q = format!("preparedId={prepared}");
    let r = f.get("getData", &q).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-length").is_none());
    assert_eq!(r.bytes().await.unwrap(), NBOUR);
    assert_eq!(f.get_text("getStatus", &q).await, (200, "ONLINE".into()));
    assert_eq!(
        f.get_text("getSize", &q).await,
        (200, NBOUR.len().to_string())
    );
    assert_eq!(f.get_text("isPrepared", &q).await, (200, "true".into()));
}

/// `Tidier.cleanPreparedDir`: beyond `preparedCount` prepared selections the oldest are deleted,
/// and a deleted one is 404 `The preparedId ... is not known` (`IdsBean.getPreparedData`).
#[tokio::test]
async fn only_the_newest_prepared_count_prepared_ids_are_kept() {
    let f = Fixture::with_settings(IdsSettings {
        prepared_count: 2,
        ..IdsSettings::default()
    })
    .await;
    let form = format!("sessionId={}&datafileIds={}", f.session, f.df_nbour);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, id) = f.post_text("prepareData", &form).await;
        assert_eq!(status, 200, "{id}");
        ids.push(id);
        // Distinct modification times: the oldest is the one prepared first.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = f
        .get_text("isPrepared", &format!("preparedId={}", ids[0]))
        .await;
    assert_error(
        status,
        &body,
        404,
        "NotFoundException",
        &format!("The preparedId {} is not known", ids[0]),
    );
    for id in &ids[1..] {
        let r = f.get("getData", &format!("preparedId={id}")).await;
        assert_eq!(r.status(), 200, "{id}");
    }
}

/// `IdsBean.pack` keeps the datafiles of a prepared selection in a `TreeSet` by id, so the zip
/// lists them in ascending datafile id whatever order the ids were given in; entry names follow
/// ids.storage_file's default `ZipMapper`: `ids/<facility>/<investigation>/<visitId>/<dataset>/<name>`
/// with the directory parts URL-encoded.
#[tokio::test]
async fn prepared_zips_list_datafiles_by_ascending_id() {
    let f = Fixture::new().await;
    let mut ids = [f.df_big, f.df_nbour, f.df_jdoe];
    let list = ids.map(|i| i.to_string()).join(",");
    let form = format!("sessionId={}&datafileIds={list}&zip=true", f.session);
    let (status, prepared) = f.post_text("prepareData", &form).await;
    assert_eq!(status, 200, "{prepared}");
    let bytes = f
        .get("getData", &format!("preparedId={prepared}"))
        .await
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_string())
        .collect();
    ids.sort();
    let name_of = |id: i64| {
        if id == f.df_big {
            "ids/ESNF/12100409-ST/1.1-P/raw+data/big file.bin"
        } else if id == f.df_nbour {
            "ids/ESNF/12100409-ST/1.1-P/greetings/greet-nbour.txt"
        } else {
            "ids/ESNF/12100409-ST/1.1-P/greetings/greet-jdoe.txt"
        }
    };
    let expected: Vec<&str> = ids.iter().map(|&id| name_of(id)).collect();
    assert_eq!(names, expected);
    let mut nbour = Vec::new();
    zip.by_name(name_of(f.df_nbour))
        .unwrap()
        .read_to_end(&mut nbour)
        .unwrap();
    assert_eq!(nbour, NBOUR);
}

/// `IdsBean.getStatus`: a dataset being restored makes RESTORING, an archived one ARCHIVED and
/// stops the scan, so ARCHIVED wins over RESTORING in a mixed selection; empty datasets are online.
#[tokio::test]
async fn mixed_selections_are_archived_when_anything_is_archived() {
    let f = Fixture::two_level(Duration::from_secs(30)).await;
    f.server
        .state()
        .storage()
        .set_archived([f.dataset, f.dataset2], true)
        .unwrap();
    let form = format!("sessionId={}&datasetIds={}", f.session, f.dataset2);
    assert_eq!(f.post("restore", &form).await.status(), 204);
    let restoring = format!(
        "sessionId={}&datasetIds={},{}",
        f.session, f.dataset2, f.empty_dataset
    );
    assert_eq!(
        f.get_text("getStatus", &restoring).await,
        (200, "RESTORING".into())
    );
    let mixed = format!(
        "sessionId={}&datasetIds={},{}",
        f.session, f.dataset2, f.dataset
    );
    assert_eq!(
        f.get_text("getStatus", &mixed).await,
        (200, "ARCHIVED".into())
    );
    let mixed_files = format!(
        "sessionId={}&datafileIds={},{}",
        f.session, f.df_big, f.df_jdoe
    );
    assert_eq!(
        f.get_text("getStatus", &mixed_files).await,
        (200, "ARCHIVED".into())
    );
}
