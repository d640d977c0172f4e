//! `--load` with `--db`: an empty database is filled; a database that already holds a catalogue
//! is refused with an error that says what to do, and is left as it was.

use icat_sim::{SimError, Simulator};

const DUMP: &str = r#"<?xml version="1.0"?>
<icatdata><data>
  <facility id="f"><name>ESNF</name></facility>
  <investigationType id="t"><name>E</name><facility ref="f"/></investigationType>
</data></icatdata>"#;

fn facilities(sim: &icat_sim::RunningSimulator) -> i64 {
    sim.icat()
        .db()
        .conn()
        .query_row("SELECT COUNT(*) FROM \"Facility\"", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn load_fills_an_empty_db_and_refuses_a_non_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.db");
    let dump = dir.path().join("dump.xml");
    std::fs::write(&dump, DUMP).unwrap();
    let storage = dir.path().join("storage");

    let sim = Simulator::builder()
        .db_path(&db)
        .storage_dir(&storage)
        .load_file(&dump)
        .start()
        .await
        .unwrap();
    assert_eq!(facilities(&sim), 1);
    sim.shutdown().await;

    let err = Simulator::builder()
        .db_path(&db)
        .storage_dir(&storage)
        .load_file(&dump)
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(err, SimError::LoadIntoNonEmpty { objects: 2, .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("drop --load"), "{message}");
    assert!(message.contains("sim.db"), "{message}");

    // Without --load the database is used as it is: nothing was added or lost.
    let sim = Simulator::builder()
        .db_path(&db)
        .storage_dir(&storage)
        .start()
        .await
        .unwrap();
    assert_eq!(facilities(&sim), 1);
    sim.shutdown().await;
}
