//! Fails when `icat-soap/src/generated/` differs from what the generator makes of `wsdl/` today
//! (the test regenerates in memory and compares; fix with `cargo xtask codegen`).

use std::path::Path;

#[test]
fn checked_in_bindings_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut config = icat_codegen::Config::for_wsdl(root.join("wsdl/ICAT.wsdl"));
    config.source_label = "wsdl/".into();
    config.runtime = "crate".into();
    let files = icat_codegen::generate(&config).expect("wsdl/ generates");
    let out = root.join("icat-soap/src/generated");
    let mut stale = Vec::new();
    for (rel, contents) in &files.files {
        if std::fs::read_to_string(out.join(rel)).ok().as_deref() != Some(contents.as_str()) {
            stale.push(rel.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files in icat-soap/src/generated: {stale:?}; run `cargo xtask codegen` and commit"
    );
}
