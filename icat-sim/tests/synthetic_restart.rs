//! `--synthetic` on a `--db`: a restart with the same spec reuses the catalogue, any other spec or
//! catalogue is refused with an error saying what to do; `archived=` and `--restore-delay` switch
//! two-level storage on (unless the builder switched it off explicitly).

use std::time::Duration;

use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::{SimError, Simulator};

fn spec(text: &str) -> SyntheticSpec {
    text.parse().expect("a valid spec")
}

fn count(sim: &icat_sim::RunningSimulator, table: &str) -> i64 {
    sim.icat()
        .db()
        .conn()
        .query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn restart_with_the_same_spec_reuses_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.db");
    let storage = dir.path().join("storage");
    let start = |text: &str| {
        Simulator::builder()
            .db_path(&db)
            .storage_dir(&storage)
            .synthetic(spec(text))
            .start()
    };
    let sim = start("visits=2,datasets=1,files=1,size=10").await.unwrap();
    assert_eq!(count(&sim, "Investigation"), 2);
    sim.shutdown().await;

    // The same facility, written differently: reused, nothing added.
    let sim = start("files=1, size=10B, visits=2, datasets=1, seed=42")
        .await
        .unwrap();
    assert_eq!(count(&sim, "Facility"), 1);
    assert_eq!(count(&sim, "Investigation"), 2);
    sim.shutdown().await;

    let err = start("visits=3,datasets=1,files=1,size=10")
        .await
        .unwrap_err();
    assert!(matches!(err, SimError::SyntheticMismatch { .. }), "{err}");
    let message = err.to_string();
    for part in [
        "sim.db",
        "made from --synthetic visits=2,",
        "not from --synthetic visits=3,",
        "same --synthetic",
        "new --db",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }

    // Without --synthetic the catalogue is used as it is.
    let sim = Simulator::builder()
        .db_path(&db)
        .storage_dir(&storage)
        .start()
        .await
        .unwrap();
    assert_eq!(count(&sim, "Investigation"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn synthetic_on_a_catalogue_made_otherwise_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loaded.db");
    let dump = dir.path().join("dump.xml");
    std::fs::write(
        &dump,
        r#"<?xml version="1.0"?><icatdata><data><facility id="f"><name>ESNF</name></facility></data></icatdata>"#,
    )
    .unwrap();
    let sim = Simulator::builder()
        .db_path(&db)
        .load_file(&dump)
        .start()
        .await
        .unwrap();
    sim.shutdown().await;
    let err = Simulator::builder()
        .db_path(&db)
        .synthetic(spec("visits=1"))
        .start()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("of 1 objects"), "{message}");
    assert!(message.contains("new --db"), "{message}");
}

#[tokio::test]
async fn archived_and_restore_delay_imply_two_level_storage() {
    let sim = Simulator::builder()
        .synthetic(spec("visits=2,datasets=2,files=1,size=10,archived=0.5"))
        .start()
        .await
        .unwrap();
    assert!(sim.icat().config().ids.two_level);
    sim.shutdown().await;

    let sim = Simulator::builder()
        .restore_delay(Duration::from_millis(10))
        .start()
        .await
        .unwrap();
    assert!(sim.icat().config().ids.two_level);
    sim.shutdown().await;

    let sim = Simulator::builder()
        .synthetic(spec("visits=1"))
        .start()
        .await
        .unwrap();
    assert!(!sim.icat().config().ids.two_level, "nothing asked for it");
    sim.shutdown().await;

    // The builder's explicit single-level wins (a caller passing a delay either way).
    let sim = Simulator::builder()
        .two_level(false)
        .restore_delay(Duration::from_millis(10))
        .synthetic(spec("visits=1,archived=0.3"))
        .start()
        .await
        .unwrap();
    assert!(!sim.icat().config().ids.two_level);
    sim.shutdown().await;
}
