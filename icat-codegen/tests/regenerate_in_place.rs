//! Regenerating icat-soap *in place* from a real ICAT 4.2 WSDL/XSD, as `cargo xtask refresh-wsdl`
//! against such a server would, gives crates that compile: the hand-written runtime of icat-soap
//! (and icat-ids and icat-rest on top of it) names no entity, type or operation that only newer
//! servers have, except through what the generator emits about the schema (`if_operation!`,
//! `if_type!`, the metadata tables), and icat-soap's own tests compile too (`cargo test -p
//! icat-soap` keeps working after such a refresh).
//!
//! The test copies what the crates need (the root manifest reduced to them, `Cargo.lock`,
//! `icat-soap/`, `icat-ids/`, `icat-rest/`) into `<target>/tmp/regenerate-in-place/ws/`, writes the
//! 4.2 bindings into the copy's `icat-soap/src/generated/` exactly as `cargo xtask codegen` does
//! (`wsdl/` there holds the 4.2 files and the repository's read-only table, no `entity-info.json`),
//! and runs `cargo check --offline --all-features` of icat-soap (library and tests), icat-ids and
//! icat-rest in the copy. Each copy has a target directory of its own (`<target>/tmp/<name>/target`):
//! in a shared one, copies with the same layout get the same artifact names and a check could pass
//! on another copy's artifacts without compiling; files whose contents did not change are not
//! rewritten, so a second run rechecks little. `regenerate_versions.rs` does the same for schemas of ICAT 4.3.3 to 6.1.1.
//!
//! The reference files are read from
//! `../shared/reference/real-icat-4.2/` (or a `shared/` beside a parent directory, or
//! `$ICAT_SHARED/reference/...`); the test is skipped with a message when they are absent. They are
//! test data only: they are copied into the scratch directory, never into the repository.

mod in_place;

use in_place::{WorkspaceCopy, repo_root, shared_dir};

#[test]
fn icat_soap_and_icat_ids_compile_after_regenerating_in_place_from_icat_4_2() {
    let reference = shared_dir(repo_root()).join("reference/real-icat-4.2");
    if !reference.join("ICAT.wsdl").is_file() || !reference.join("ICAT.xsd").is_file() {
        eprintln!(
            "SKIPPED: {}/ICAT.wsdl or ICAT.xsd is absent (set ICAT_SHARED to the shared folder)",
            reference.display()
        );
        return;
    }
    // wsdl/ as `refresh-wsdl` leaves it after talking to a 4.2 server: its WSDL and XSD (4.2 has
    // no getEntityNames to list entities for entity-info.json), plus the read-only table.
    let wsdl = std::fs::read(reference.join("ICAT.wsdl")).unwrap();
    let xsd = std::fs::read(reference.join("ICAT.xsd")).unwrap();
    let copy = WorkspaceCopy::new(
        "regenerate-in-place",
        &[("ICAT.wsdl", &wsdl), ("ICAT.xsd", &xsd)],
    );
    let files = copy.regenerate();
    let ops = &files
        .iter()
        .find(|(rel, _)| rel.as_os_str() == "ops.rs")
        .expect("ops.rs is generated")
        .1;
    assert!(
        ops.contains("pub struct DeleteManyRequest")
            && !ops.contains("GetEntityNamesRequest")
            && !ops.contains("RefreshRequest"),
        "the bindings are not the 4.2 ones (deleteMany, no getEntityNames, no refresh)"
    );
    copy.check("the ICAT 4.2 WSDL");
}
