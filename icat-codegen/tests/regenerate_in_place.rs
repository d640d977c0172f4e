//! Regenerating icat-soap *in place* from a real ICAT 4.2 WSDL/XSD, as `cargo xtask refresh-wsdl`
//! against such a server would, gives crates that compile: the hand-written runtime of icat-soap
//! (and icat-ids on top of it) names no entity, type or operation that only newer servers have,
//! except through what the generator emits about the schema (`if_operation!`, the metadata tables).
//!
//! The test copies what the two crates need (the root manifest reduced to them, `Cargo.lock`,
//! `icat-soap/`, `icat-ids/`) into `<target>/tmp/regenerate-in-place/ws/`, writes the 4.2 bindings
//! into the copy's `icat-soap/src/generated/` exactly as `cargo xtask codegen` does (`wsdl/` there
//! holds the 4.2 files and the repository's read-only table, no `entity-info.json`), and runs
//! `cargo check --offline -p icat-soap -p icat-ids --all-features` in the copy. It shares the
//! workspace's target directory, so the dependencies already checked by clippy are reused; files
//! whose contents did not change are not rewritten, so a second run rechecks little.
//!
//! The reference files are read from
//! `../shared/reference/real-icat-4.2/` (or a `shared/` beside a parent directory, or
//! `$ICAT_SHARED/reference/...`); the test is skipped with a message when they are absent. They are
//! test data only: they are copied into the scratch directory, never into the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `$ICAT_SHARED`, else the `shared/` folder beside the checkout or beside one of its parents
/// (`../shared` for a checkout, `../../shared` for a worktree under `wt/`).
fn shared_dir(root: &Path) -> PathBuf {
    match std::env::var_os("ICAT_SHARED") {
        Some(d) => PathBuf::from(d),
        None => root
            .ancestors()
            .skip(1)
            .map(|d| d.join("shared"))
            .find(|d| d.join("reference").is_dir())
            .unwrap_or_else(|| root.join("../shared")),
    }
}

/// Writes `contents` unless the file already holds exactly that (keeps its mtime, so cargo sees
/// it unchanged on the next run).
fn write_if_changed(path: &Path, contents: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(contents) {
        return;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

/// Copies the tree `from` into `to` (files whose contents changed only), leaving out `skip`
/// (paths relative to `from`) and build output.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    fn walk(base: &Path, dir: &Path, to: &Path, skip: &[&str]) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(base).unwrap();
            if skip.iter().any(|s| rel == Path::new(s)) || entry.file_name() == "target" {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(base, &path, to, skip);
            } else if kind.is_file() {
                write_if_changed(&to.join(rel), &std::fs::read(&path).unwrap());
            }
        }
    }
    walk(from, from, to, skip);
}

/// The root manifest with the workspace reduced to `members` (the other crates are not copied).
fn reduced_manifest(manifest: &str, members: &[&str]) -> String {
    let start = manifest
        .find("\nmembers = [")
        .expect("the root manifest lists its members");
    let end = start + manifest[start..].find(']').expect("the member list ends") + 1;
    let list = members
        .iter()
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let reduced = format!(
        "{}\nmembers = [{list}]{}",
        &manifest[..start],
        &manifest[end..]
    );
    reduced
        .lines()
        .filter(|l| !l.starts_with("default-members"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A member manifest without its `[dev-dependencies]` (they name crates that are not copied and
/// `cargo check` of the library does not need them).
fn without_dev_dependencies(manifest: &str) -> String {
    let mut out = String::new();
    let mut in_dev = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_dev = line.trim() == "[dev-dependencies]";
        }
        if !in_dev {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn icat_soap_and_icat_ids_compile_after_regenerating_in_place_from_icat_4_2() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let reference = shared_dir(root).join("reference/real-icat-4.2");
    if !reference.join("ICAT.wsdl").is_file() || !reference.join("ICAT.xsd").is_file() {
        eprintln!(
            "SKIPPED: {}/ICAT.wsdl or ICAT.xsd is absent (set ICAT_SHARED to the shared folder)",
            reference.display()
        );
        return;
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let ws = tmp.join("regenerate-in-place/ws");
    let target = tmp.parent().expect("the target directory").to_path_buf();

    let members = ["icat-soap", "icat-ids"];
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    write_if_changed(
        &ws.join("Cargo.toml"),
        reduced_manifest(&root_manifest, &members).as_bytes(),
    );
    write_if_changed(
        &ws.join("Cargo.lock"),
        &std::fs::read(root.join("Cargo.lock")).unwrap(),
    );
    for member in members {
        copy_tree(
            &root.join(member),
            &ws.join(member),
            &["src/generated", "Cargo.toml"],
        );
        let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
        write_if_changed(
            &ws.join(member).join("Cargo.toml"),
            without_dev_dependencies(&manifest).as_bytes(),
        );
    }

    // wsdl/ as `refresh-wsdl` leaves it after talking to a 4.2 server: its WSDL and XSD (4.2 has
    // no getEntityNames to list entities for entity-info.json), plus the read-only table.
    let wsdl_dir = ws.join("wsdl");
    for name in ["ICAT.wsdl", "ICAT.xsd"] {
        write_if_changed(
            &wsdl_dir.join(name),
            &std::fs::read(reference.join(name)).unwrap(),
        );
    }
    let table = icat_codegen::READ_ONLY_OPERATIONS_FILE;
    write_if_changed(
        &wsdl_dir.join(table),
        &std::fs::read(root.join("wsdl").join(table)).unwrap(),
    );
    let _ = std::fs::remove_file(wsdl_dir.join("entity-info.json"));

    // Generate as `cargo xtask codegen` does in a checkout (runtime `crate`, label `wsdl/`).
    let mut config = icat_codegen::Config::for_wsdl(wsdl_dir.join("ICAT.wsdl"));
    config.source_label = "wsdl/".into();
    config.runtime = "crate".into();
    let files = icat_codegen::generate(&config).expect("the 4.2 WSDL generates");
    let gen_dir = ws.join("icat-soap/src/generated");
    std::fs::create_dir_all(&gen_dir).unwrap();
    for entry in std::fs::read_dir(&gen_dir).unwrap() {
        let path = entry.unwrap().path();
        if !files.files.iter().any(|(rel, _)| gen_dir.join(rel) == path) {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for (rel, contents) in &files.files {
        write_if_changed(&gen_dir.join(rel), contents.as_bytes());
    }
    let ops = std::fs::read_to_string(gen_dir.join("ops.rs")).unwrap();
    assert!(
        ops.contains("pub struct DeleteManyRequest")
            && !ops.contains("GetEntityNamesRequest")
            && !ops.contains("RefreshRequest"),
        "the bindings are not the 4.2 ones (deleteMany, no getEntityNames, no refresh)"
    );

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "--message-format",
            "short",
            "--all-features",
            "-p",
            "icat-soap",
            "-p",
            "icat-ids",
        ])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "icat-soap or icat-ids does not compile after regenerating icat-soap from the ICAT 4.2 WSDL \
         (in {}):\n{}",
        ws.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
