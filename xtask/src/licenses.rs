//! `cargo xtask licenses`: every package the workspace resolves for this platform (per
//! `cargo metadata`) has a licence expression that the allow-list `xtask/allowed-licenses.txt`
//! satisfies. Works offline once the dependencies are downloaded; checks licences only (security
//! advisories need the RustSec database, which this task does not fetch).

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// The allow-list's path below the workspace root.
const ALLOW_LIST: &str = "xtask/allowed-licenses.txt";

/// Runs the check from the workspace `root`.
pub fn cmd(root: &Path) -> Result<ExitCode> {
    let allowed = parse_allow_list(
        &std::fs::read_to_string(root.join(ALLOW_LIST))
            .with_context(|| format!("reading {ALLOW_LIST}"))?,
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = host_triple()?;
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
        ])
        .arg(&host)
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata's answer")?;
    let packages = meta["packages"]
        .as_array()
        .context("no packages in cargo metadata")?;
    let mut refused = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or("?");
        let version = p["version"].as_str().unwrap_or("?");
        match p["license"].as_str() {
            Some(expr) => match satisfied(expr, &allowed) {
                Ok(true) => {}
                Ok(false) => refused.push(format!("{name} {version}: {expr}")),
                Err(why) => refused.push(format!("{name} {version}: {expr:?} ({why})")),
            },
            None => refused.push(format!(
                "{name} {version}: no SPDX licence (license-file only); check it by hand"
            )),
        }
    }
    if refused.is_empty() {
        eprintln!(
            "licences ok: {} packages for {host}, all within {ALLOW_LIST}",
            packages.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for r in &refused {
        eprintln!("not allowed: {r}");
    }
    eprintln!("replace the dependency, or add the licence to {ALLOW_LIST} if it is acceptable");
    Ok(ExitCode::FAILURE)
}

fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

fn parse_allow_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the SPDX expression `expr` can be satisfied with the `allowed` licences. The legacy
/// `/` separator (`MIT/Apache-2.0`) means OR.
fn satisfied(expr: &str, allowed: &[String]) -> Result<bool, String> {
    let spaced = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos, allowed)?;
    if pos != tokens.len() {
        return Err(format!("unexpected {:?}", tokens[pos]));
    }
    Ok(ok)
}

fn or_expr(t: &[&str], pos: &mut usize, allowed: &[String]) -> Result<bool, String> {
    let mut ok = and_expr(t, pos, allowed)?;
    while t.get(*pos).is_some_and(|w| w.eq_ignore_ascii_case("OR")) {
        *pos += 1;
        ok |= and_expr(t, pos, allowed)?;
    }
    Ok(ok)
}

fn and_expr(t: &[&str], pos: &mut usize, allowed: &[String]) -> Result<bool, String> {
    let mut ok = atom(t, pos, allowed)?;
    while t.get(*pos).is_some_and(|w| w.eq_ignore_ascii_case("AND")) {
        *pos += 1;
        ok &= atom(t, pos, allowed)?;
    }
    Ok(ok)
}

fn atom(t: &[&str], pos: &mut usize, allowed: &[String]) -> Result<bool, String> {
    match t.get(*pos).copied() {
        Some("(") => {
            *pos += 1;
            let ok = or_expr(t, pos, allowed)?;
            if t.get(*pos) != Some(&")") {
                return Err("unbalanced parentheses".into());
            }
            *pos += 1;
            Ok(ok)
        }
        Some(id) if !matches!(id, ")" | "AND" | "OR" | "WITH") => {
            *pos += 1;
            let id = id.trim_end_matches('+');
            let listed = |s: &str| allowed.iter().any(|a| a == s);
            if t.get(*pos).is_some_and(|w| w.eq_ignore_ascii_case("WITH")) {
                let exception = t.get(*pos + 1).ok_or("WITH without an exception")?;
                *pos += 2;
                return Ok(listed(&format!("{id} WITH {exception}")) || listed(id));
            }
            Ok(listed(id))
        }
        other => Err(format!("expected a licence, found {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        parse_allow_list("MIT\nApache-2.0 # comment\n\n# GPL-3.0\nUnicode-3.0\n")
    }

    #[test]
    fn expressions_are_evaluated_as_spdx_says() {
        let a = allowed();
        for ok in [
            "MIT",
            "MIT OR Apache-2.0",
            "MIT/Apache-2.0",
            "GPL-3.0 OR MIT",
            "(MIT OR Apache-2.0) AND Unicode-3.0",
            "Apache-2.0 WITH LLVM-exception OR GPL-2.0",
            "Apache-2.0 WITH LLVM-exception",
        ] {
            assert_eq!(satisfied(ok, &a), Ok(true), "{ok}");
        }
        for refused in [
            "GPL-3.0",
            "MIT AND GPL-3.0",
            "(GPL-3.0 OR LGPL-2.1) AND MIT",
            "BSD-3-Clause",
        ] {
            assert_eq!(satisfied(refused, &a), Ok(false), "{refused}");
        }
        for broken in ["(MIT", "MIT OR", "AND MIT", "MIT WITH"] {
            assert!(satisfied(broken, &a).is_err(), "{broken}");
        }
    }
}
