//! The library examples run against the simulator, so that CI proves they work as written.

use icat_sim::Simulator;
use icat_sim::synthetic::SyntheticSpec;

#[path = "../../icat-ids/examples/seven_steps.rs"]
#[allow(dead_code)]
mod seven_steps;

#[tokio::test]
async fn seven_steps_runs_against_the_simulator() {
    let s = Simulator::builder()
        .synthetic(SyntheticSpec {
            visits: 3,
            datasets: 2,
            files: 3,
            size: 64,
            ..SyntheticSpec::default()
        })
        .start()
        .await
        .expect("simulator starts");
    let dest = tempfile::tempdir().expect("temp dir");
    seven_steps::run(
        [&s.icat_url(), &s.ids_url()],
        ["simple", "root", "secret"],
        "db/jdoe",
        dest.path(),
    )
    .await
    .unwrap_or_else(|e| panic!("seven steps: {e}"));
    // The dataset's three files arrived under <visit>/<dataset>/.
    let files = walk(dest.path());
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| std::fs::metadata(f).map(|m| m.len()).ok() == Some(64)),
        "{files:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}
