//! `icat demo` runs the whole story against its own simulator and exits 0.

mod common;

use common::{Home, files_under, ok};

#[test]
fn demo_completes_and_leaves_verified_files() {
    let home = Home::new();
    let dest = home.path().join("demo-out");
    let out = ok(&home.run(&["demo", "-o", dest.to_str().unwrap()]));
    for needle in [
        "1. ",
        "logged in as db/jdoe",
        "icat visits",
        "icat show",
        "--zip",
        "--datafile",
        "match the sizes and CRC32",
        "Your files are in",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    let files = files_under(&dest);
    assert!(files.len() >= 6, "{files:?}");
    assert!(
        files
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".part"))
    );
    // The demo never touches the user's session cache.
    assert!(files_under(&home.cache()).is_empty());
}
