//! `icat download --dry-run`: what a download would do, file by file, without writing anything:
//! which files are already here and verified, which differ, which would resume from a partial
//! download, which need a restore from tape first, and how much would be transferred.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use icat_ids::{DataSelection, Expected, Status};
use serde::Serialize;

use crate::commands::download::{DownloadRequest, Selected, select};
use crate::connect::Connection;
use crate::output::{Align, Table, human_bytes, to_json};
use crate::progress::Reporter;

/// What would happen to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Datafile id.
    pub id: i64,
    /// Local path under the destination.
    pub path: String,
    /// Catalogue size.
    pub size: Option<u64>,
    /// `present` (here and verified), `differs` (here but not what the catalogue says),
    /// `resume` (a partial download holds the start), or `download`.
    pub local: &'static str,
    /// Bytes already in the partial download (for `resume`).
    pub resume_from: u64,
    /// Whether the IDS must restore the file's data from tape first.
    pub needs_restore: bool,
    /// Bytes that would be transferred.
    pub to_transfer: u64,
}

/// The whole plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// Destination root.
    pub dest: String,
    /// One entry per selected file.
    pub files: Vec<PlannedFile>,
    /// Total catalogue size of the selection.
    pub total_size: u64,
    /// Bytes that would be transferred.
    pub to_transfer: u64,
    /// Files needing a restore first.
    pub need_restore: usize,
}

/// Size and CRC32 of a local file (`None` when it cannot be read).
fn size_and_crc(path: &Path) -> Option<(u64, u32)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Some((len, hasher.finalize()))
}

/// Whether a local file matches what the catalogue says.
fn matches(path: &Path, expected: &Expected) -> bool {
    let Some((len, crc)) = size_and_crc(path) else {
        return false;
    };
    expected.size.is_none_or(|s| s == len) && expected.crc32().is_none_or(|c| c == crc)
}

/// Builds the plan: one ICAT search (paged), one IDS status check per dataset, and reads of
/// the local files that exist; then the real run's destination checks (a directory, writable,
/// with room). Nothing is created or changed.
pub async fn plan(
    conn: &Connection,
    req: &DownloadRequest,
    reporter: &Reporter,
) -> anyhow::Result<DryRun> {
    let ids = conn.ids()?;
    let Selected { records, plan } = select(conn, req, reporter).await?;
    let mut offline: HashMap<i64, bool> = HashMap::new();
    for r in &records {
        if let std::collections::hash_map::Entry::Vacant(e) = offline.entry(r.dataset_id) {
            let status = ids
                .get_status(&DataSelection::datasets([r.dataset_id]))
                .await?;
            e.insert(status != Status::Online);
        }
    }
    let dest = plan.dest.clone();
    let files = tokio::task::spawn_blocking(move || {
        plan.files
            .iter()
            .zip(&records)
            .map(|(spec, r)| {
                let target = spec.path.under(&plan.dest);
                let part = icat_ids::download::datafile_part(
                    &icat_ids::download::work_dir(&plan.dest),
                    spec.id,
                );
                let size = r.size;
                let part_len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
                let (local, resume_from) = if target.is_file() {
                    if matches(&target, &spec.expected) {
                        ("present", 0)
                    } else {
                        ("differs", 0)
                    }
                } else if part_len > 0 && size.is_none_or(|s| part_len <= s) {
                    ("resume", part_len)
                } else {
                    ("download", 0)
                };
                let to_transfer = match local {
                    "present" | "differs" => 0,
                    _ => size.unwrap_or(0).saturating_sub(resume_from),
                };
                PlannedFile {
                    id: r.id,
                    path: spec.path.as_path().to_string_lossy().into_owned(),
                    size,
                    local,
                    resume_from,
                    needs_restore: local != "present"
                        && offline.get(&r.dataset_id).copied().unwrap_or(false),
                    to_transfer,
                }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let to_transfer = files.iter().map(|f| f.to_transfer).sum();
    // The destination checks of the real run, without creating anything: a dry run that
    // succeeds promises a run that gets past them.
    crate::destination::check(&dest, to_transfer)?;
    Ok(DryRun {
        dest: dest.display().to_string(),
        total_size: files.iter().filter_map(|f| f.size).sum(),
        to_transfer,
        need_restore: files.iter().filter(|f| f.needs_restore).count(),
        files,
    })
}

/// Prints the plan as a table with a closing summary, or as JSON.
pub fn print(
    plan: &DryRun,
    json: bool,
    overwrite: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if json {
        out.write_all(to_json(plan)?.as_bytes())?;
        return Ok(());
    }
    let mut t = Table::new(&[
        ("PATH", Align::Left),
        ("SIZE", Align::Right),
        ("LOCAL", Align::Left),
        ("ACTION", Align::Left),
    ]);
    for f in &plan.files {
        let local = match f.local {
            "present" => "present, verified".to_owned(),
            "differs" => "present, differs from the catalogue".to_owned(),
            "resume" => format!("{} in .part", human_bytes(f.resume_from)),
            _ => "missing".to_owned(),
        };
        let action = match (f.local, overwrite) {
            ("present", _) => "skip",
            ("differs", true) => "replace (--overwrite)",
            ("differs", false) => "leave (exit 6; --overwrite replaces it)",
            ("resume", _) if f.needs_restore => "restore from tape, then resume",
            ("resume", _) => "resume",
            _ if f.needs_restore => "restore from tape, then download",
            _ => "download",
        };
        t.push(vec![
            f.path.clone(),
            f.size.map(human_bytes).unwrap_or_else(|| "?".into()),
            local,
            action.to_owned(),
        ]);
    }
    out.write_all(t.render().as_bytes())?;
    let count = |kind: &str| plan.files.iter().filter(|f| f.local == kind).count();
    writeln!(
        out,
        "dry run: {} ({}) into {}: {} present and verified, {} differ, {} would resume, {} to download, {} need a restore from tape; {} to transfer. Nothing was changed.",
        crate::grammar::count(plan.files.len() as u64, "file", "files"),
        human_bytes(plan.total_size),
        plan.dest,
        count("present"),
        count("differs"),
        count("resume"),
        count("download"),
        plan.need_restore,
        human_bytes(plan.to_transfer),
    )?;
    Ok(())
}
