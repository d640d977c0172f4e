//! Shared by the in-place regeneration tests: a copy of the workspace reduced to icat-soap,
//! icat-ids and icat-rest, bindings written into the copy's `icat-soap/src/generated/` exactly as
//! `cargo xtask codegen` does, and `cargo check` of the copy in a target directory of its own.
// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the parent of icat-codegen).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("icat-codegen is inside the repository")
}

/// `$ICAT_SHARED`, else the `shared/` folder beside the checkout or beside one of its parents
/// (`../shared` for a checkout, `../../shared` for a worktree under `wt/`).
pub fn shared_dir(root: &Path) -> PathBuf {
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
pub fn write_if_changed(path: &Path, contents: &[u8]) {
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

/// A member manifest without its `[dev-dependencies]` (icat-ids' and icat-rest's name workspace
/// crates that are not copied; `cargo check` of their libraries does not need them).
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

/// A copy of the workspace with icat-soap (tests included: its dev-dependencies are all
/// registry crates), icat-ids and icat-rest (libraries only) in `<target>/tmp/<name>/ws/`.
pub struct WorkspaceCopy {
    /// The copy's root.
    pub dir: PathBuf,
    target: PathBuf,
}

impl WorkspaceCopy {
    /// Creates or refreshes the copy named `name`; `wsdl_files` (file name, contents) become its
    /// `wsdl/` together with the repository's read-only table (no `entity-info.json`, as after
    /// `refresh-wsdl` against a server whose entity metadata was not fetched).
    pub fn new(name: &str, wsdl_files: &[(&str, &[u8])]) -> WorkspaceCopy {
        let root = repo_root();
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join(name).join("ws");
        // Its own target directory: every copy has the workspace's layout (`icat-soap/` ... under
        // its root), and cargo names a path package's artifacts by its path relative to the
        // workspace root, so in a shared target one copy's check found the artifacts of another
        // (or of the workspace) and called them fresh without compiling anything: the test passed
        // whatever the bindings were (seen: a deliberate break missed once in four runs).
        let target = tmp.join(name).join("target");

        let root_manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        write_if_changed(
            &dir.join("Cargo.toml"),
            reduced_manifest(&root_manifest, &["icat-soap", "icat-ids", "icat-rest"]).as_bytes(),
        );
        write_if_changed(
            &dir.join("Cargo.lock"),
            &std::fs::read(root.join("Cargo.lock")).unwrap(),
        );
        for (member, keep_dev) in [
            ("icat-soap", true),
            ("icat-ids", false),
            ("icat-rest", false),
        ] {
            copy_tree(
                &root.join(member),
                &dir.join(member),
                &["src/generated", "Cargo.toml"],
            );
            let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
            let manifest = if keep_dev {
                manifest
            } else {
                without_dev_dependencies(&manifest)
            };
            write_if_changed(&dir.join(member).join("Cargo.toml"), manifest.as_bytes());
        }

        let wsdl_dir = dir.join("wsdl");
        for (file, contents) in wsdl_files {
            write_if_changed(&wsdl_dir.join(file), contents);
        }
        let table = icat_codegen::READ_ONLY_OPERATIONS_FILE;
        write_if_changed(
            &wsdl_dir.join(table),
            &std::fs::read(root.join("wsdl").join(table)).unwrap(),
        );
        let _ = std::fs::remove_file(wsdl_dir.join("entity-info.json"));
        WorkspaceCopy { dir, target }
    }

    /// Generates icat-soap's bindings from the copy's `wsdl/` as `cargo xtask codegen` does in a
    /// checkout (runtime `crate`, label `wsdl/`) and returns the generated files' contents.
    pub fn regenerate(&self) -> Vec<(PathBuf, String)> {
        let mut config = icat_codegen::Config::for_wsdl(self.dir.join("wsdl/ICAT.wsdl"));
        config.source_label = "wsdl/".into();
        config.runtime = "crate".into();
        let files = icat_codegen::generate(&config)
            .unwrap_or_else(|e| panic!("generating from {}: {e}", self.dir.display()));
        let gen_dir = self.dir.join("icat-soap/src/generated");
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
        files.files
    }

    /// `cargo check --offline --all-features` in the copy of icat-soap, icat-ids and icat-rest
    /// (libraries)
    /// and of icat-soap's own tests (`cargo test -p icat-soap` must keep working after a refresh
    /// against an older server: tests of 6.2-only operations and types are gated with the
    /// generated `if_operation!`/`if_type!`); panics with the compiler's messages when it fails.
    pub fn check(&self, what: &str) {
        self.cargo_check(
            what,
            &["-p", "icat-soap", "-p", "icat-ids", "-p", "icat-rest"],
        );
        self.cargo_check(what, &["-p", "icat-soap", "--tests"]);
    }

    fn cargo_check(&self, what: &str, args: &[&str]) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(&cargo)
            .args([
                "check",
                "--offline",
                "--quiet",
                "--message-format",
                "short",
                "--all-features",
            ])
            .args(args)
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "`cargo check {}` fails after regenerating icat-soap from {what} (in {}):\n{}",
            args.join(" "),
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
