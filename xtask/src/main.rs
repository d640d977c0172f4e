//! Project automation: `cargo xtask codegen [--check] [--wsdl PATH --out DIR]`,
//! `cargo xtask refresh-wsdl --url URL [--out DIR] [--no-codegen]`,
//! `cargo xtask bench [--quick]` and `cargo xtask licenses`.

mod bench;
mod licenses;
mod refresh_wsdl;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask codegen [--check] [--wsdl PATH [--entity-info PATH] --out DIR]
       cargo xtask refresh-wsdl --url URL [--out DIR] [--no-codegen]
       cargo xtask bench [--quick]   (see `cargo xtask bench --help`)
       cargo xtask licenses          (every dependency's licence is in xtask/allowed-licenses.txt)

  (no options)   regenerate icat-soap/src/generated/ from wsdl/ICAT.wsdl (+ wsdl/entity-info.json)
  --check        do not write; exit 1 and name every stale file if the checked-in code differs
  --wsdl PATH    generate from another WSDL (its XSD beside it, per schemaLocation)
  --entity-info  optional entity-info.json for --wsdl (default: entity-info.json beside the WSDL)
  --out DIR      where to write with --wsdl (the code refers to the runtime as `icat_soap`;
                 icat-soap/src/generated itself is regenerated in place, as `crate`)

  refresh-wsdl   download URL?wsdl, URL?xsd=1 and every getEntityInfo answer into wsdl/ (or DIR),
                 with addresses normalised, then regenerate the bindings (unless --no-codegen)";

/// The repository being worked on, found at run time: the nearest directory at or above the
/// current one whose `Cargo.toml` declares a `[workspace]` and that has `xtask/` (a path fixed at
/// compile time would make a copy of the repository write into the original checkout).
fn workspace_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    find_workspace_root(&cwd).unwrap_or(cwd)
}

fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        (manifest.contains("[workspace]") && dir.join("xtask").is_dir()).then(|| dir.to_path_buf())
    })
}

struct Args {
    check: bool,
    wsdl: Option<PathBuf>,
    entity_info: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        check: false,
        wsdl: None,
        entity_info: None,
        out: None,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--check" => a.check = true,
            "--wsdl" => a.wsdl = Some(it.next().context("--wsdl needs a path")?.into()),
            "--entity-info" => {
                a.entity_info = Some(it.next().context("--entity-info needs a path")?.into())
            }
            "--out" => a.out = Some(it.next().context("--out needs a directory")?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if a.wsdl.is_some() != a.out.is_some() {
        bail!("--wsdl and --out go together\n{USAGE}");
    }
    Ok(a)
}

/// Writes `contents` to `path` atomically (temp file + rename), so a crash never leaves half a file.
fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("rs.tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Whether `out` is icat-soap's checked-in generated folder (however the path is written).
fn is_icat_soaps_own(root: &Path, out: &Path) -> bool {
    match (
        std::fs::canonicalize(out),
        std::fs::canonicalize(root.join("icat-soap/src/generated")),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn codegen(args: Args) -> Result<ExitCode> {
    let root = workspace_root();
    let (config, out_dir) = match (&args.wsdl, &args.out) {
        (Some(wsdl), Some(out)) => {
            let mut config = icat_codegen::Config::for_wsdl(wsdl);
            if let Some(info) = &args.entity_info {
                config.entity_info = Some(info.clone());
            }
            config.source_label = wsdl.display().to_string();
            if is_icat_soaps_own(&root, out) {
                // Regenerating icat-soap itself from another server's WSDL: the code lives inside
                // the runtime crate, so it must name it `crate`, not `icat_soap` (with `icat_soap`
                // icat-soap stopped compiling, and xtask with it, which depends on icat-soap).
                config.runtime = "crate".into();
                eprintln!(
                    "--out is icat-soap's own generated code: regenerating it in place from {} \
                     (`cargo xtask codegen` without --wsdl goes back to wsdl/)",
                    wsdl.display()
                );
            }
            (config, out.clone())
        }
        _ => {
            let mut config = icat_codegen::Config::for_wsdl(root.join("wsdl/ICAT.wsdl"));
            config.source_label = "wsdl/".into();
            config.runtime = "crate".into();
            (config, root.join("icat-soap/src/generated"))
        }
    };
    let started = std::time::Instant::now();
    let files = icat_codegen::generate(&config)
        .with_context(|| format!("generating from {}", config.wsdl.display()))?;
    if args.check {
        let mut stale = Vec::new();
        for (rel, contents) in &files.files {
            let path = out_dir.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(existing) if existing == *contents => {}
                _ => stale.push(path),
            }
        }
        if let Ok(entries) = std::fs::read_dir(&out_dir) {
            for e in entries.flatten() {
                let name = PathBuf::from(e.file_name());
                if !files.files.iter().any(|(rel, _)| *rel == name) {
                    stale.push(e.path());
                }
            }
        }
        if stale.is_empty() {
            eprintln!("generated code is up to date ({} files)", files.files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for s in &stale {
            eprintln!("stale: {}", s.display());
        }
        eprintln!("run `cargo xtask codegen` and commit the result");
        return Ok(ExitCode::FAILURE);
    }
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for (rel, contents) in &files.files {
        write_atomic(&out_dir.join(rel), contents)?;
    }
    eprintln!(
        "wrote {} files to {} in {:.2?}",
        files.files.len(),
        out_dir.display(),
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("codegen") => parse_args(args).and_then(codegen),
        Some("refresh-wsdl") => refresh_wsdl_cmd(args),
        Some("bench") => bench::cmd(&workspace_root(), args),
        Some("licenses") => licenses::cmd(&workspace_root()),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(anyhow::anyhow!("unknown task {other:?}\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn refresh_wsdl_cmd(mut args: impl Iterator<Item = String>) -> Result<ExitCode> {
    let mut url = None;
    let mut out = None;
    let mut regenerate = true;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = Some(args.next().context("--url needs a URL")?),
            "--out" => {
                out = Some(PathBuf::from(
                    args.next().context("--out needs a directory")?,
                ))
            }
            "--no-codegen" => regenerate = false,
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let url = url.context("refresh-wsdl needs --url URL")?;
    let root = workspace_root();
    let dir = out.clone().unwrap_or_else(|| root.join("wsdl"));
    refresh_wsdl::run(&url, &dir, &root.join("wsdl/entity-info.json"))?;
    eprintln!(
        "wrote ICAT.wsdl, ICAT.xsd and entity-info.json into {}",
        dir.display()
    );
    if !regenerate {
        return Ok(ExitCode::SUCCESS);
    }
    // Regenerate the checked-in bindings from wsdl/, or code beside a custom --out directory.
    let codegen_args = match out {
        None => Args {
            check: false,
            wsdl: None,
            entity_info: None,
            out: None,
        },
        Some(dir) => Args {
            check: false,
            wsdl: Some(dir.join("ICAT.wsdl")),
            entity_info: Some(dir.join("entity-info.json")),
            out: Some(dir.join("generated")),
        },
    };
    codegen(codegen_args)
}

#[cfg(test)]
mod root_tests {
    #[test]
    fn the_root_is_found_from_the_current_directory_not_the_build() {
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(
            copy.path().join("Cargo.toml"),
            "[workspace]\nmembers = []\n",
        )
        .unwrap();
        std::fs::create_dir_all(copy.path().join("xtask")).unwrap();
        let inner = copy.path().join("icat-soap/src");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(
            super::find_workspace_root(&inner).as_deref(),
            Some(copy.path())
        );
        assert_eq!(super::find_workspace_root(std::path::Path::new("/")), None);
    }
}

#[cfg(test)]
mod out_tests {
    use super::is_icat_soaps_own;

    #[test]
    fn out_into_icat_soaps_own_generated_folder_is_recognised_however_written() {
        let root = tempfile::tempdir().unwrap();
        let generated = root.path().join("icat-soap/src/generated");
        std::fs::create_dir_all(&generated).unwrap();
        std::fs::create_dir_all(root.path().join("other")).unwrap();
        assert!(is_icat_soaps_own(root.path(), &generated));
        assert!(is_icat_soaps_own(
            root.path(),
            &root.path().join("other/../icat-soap/src/generated")
        ));
        assert!(!is_icat_soaps_own(root.path(), &root.path().join("other")));
        assert!(!is_icat_soaps_own(
            root.path(),
            &root.path().join("missing")
        ));
    }
}
