//! `icat download --dry-run`: what a download would do, file by file, without writing anything:
//! which files are already here and verified, which differ, which would resume from a partial
//! download, which need a restore from tape first, which would fail (names that cannot be local
//! paths), and how much would be transferred. It ends with the exit code the real run would have
//! for what it can foresee: 6 when local files differ (without `--overwrite`), the real run's
//! code when names would fail.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use icat_ids::{DataSelection, Expected, Status};
use serde::Serialize;

use crate::commands::download::{DownloadRequest, Selected, select};
use crate::connect::Connection;
use crate::failure::{ExitKind, Failure};
use crate::output::{Align, Table, human_bytes, to_json};
use crate::progress::Reporter;

/// What would happen to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Datafile id.
    pub id: i64,
    /// Local path under the destination; `null` when the catalogue names cannot be a safe
    /// local path (`local` is then `unsafe_name` and `reason` says why), or the file was
    /// refused for its size (`too_large`).
    pub path: Option<String>,
    /// Catalogue size.
    pub size: Option<u64>,
    /// `present` (here and verified), `differs` (here but not what the catalogue says),
    /// `resume` (a partial download holds the start), `download`, `unsafe_name` (would
    /// fail: its names cannot be a local path), `too_large` (would fail: its catalogue size
    /// alone is more than the destination's free space), or `link` (would fail: a symbolic
    /// link stands at its path or on the way, and downloads never write through links).
    pub local: &'static str,
    /// Why the file would fail (`unsafe_name`, `too_large`, `link`), else `null`.
    pub reason: Option<String>,
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
    /// Files the real run would fail (`unsafe_name`, `too_large`).
    pub would_fail: usize,
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
    // Datafiles refused for their names are in `records` but not in `plan.files`: by id.
    let by_id: HashMap<i64, crate::commands::download::DatafileRecord> =
        records.iter().map(|r| (r.id, r.clone())).collect();
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
        let mut files: Vec<PlannedFile> = plan
            .files
            .iter()
            .filter_map(|spec| Some((spec, by_id.get(&spec.id)?)))
            .map(|(spec, r)| {
                let target = spec.path.under(&plan.dest);
                let size = r.size;
                // A raw partial download, or what an interrupted striped one saved.
                let partial =
                    icat_ids::download::resumable_bytes(&plan.dest, spec.id, &spec.expected);
                let link = icat_ids::download::names::check_no_symlinks(&plan.dest, &spec.path)
                    .err()
                    .map(|e| crate::failure::one_line(&e.to_string()));
                let (local, resume_from) = if link.is_some() {
                    ("link", 0)
                } else if target.is_file() {
                    if matches(&target, &spec.expected) {
                        ("present", 0)
                    } else {
                        ("differs", 0)
                    }
                } else if partial > 0 {
                    ("resume", partial)
                } else {
                    ("download", 0)
                };
                let to_transfer = match local {
                    "present" | "differs" | "link" => 0,
                    _ => size.unwrap_or(0).saturating_sub(resume_from),
                };
                PlannedFile {
                    id: r.id,
                    path: Some(spec.path.as_path().to_string_lossy().into_owned()),
                    size,
                    local,
                    reason: link,
                    resume_from,
                    needs_restore: !matches!(local, "present" | "link")
                        && offline.get(&r.dataset_id).copied().unwrap_or(false),
                    to_transfer,
                }
            })
            .collect();
        // What the real run reports as failed, with the same words, after the others.
        files.extend(plan.refused.iter().map(|refused| PlannedFile {
            id: refused.id,
            path: None,
            size: by_id.get(&refused.id).and_then(|r| r.size),
            local: match refused.error.as_ref() {
                icat_ids::IdsError::LargerThanFreeSpace { .. } => "too_large",
                _ => "unsafe_name",
            },
            reason: Some(crate::failure::one_line(&refused.error.to_string())),
            resume_from: 0,
            needs_restore: false,
            to_transfer: 0,
        }));
        files
    })
    .await?;
    let to_transfer = files
        .iter()
        .map(|f| f.to_transfer)
        .fold(0, u64::saturating_add);
    // The destination checks of the real run, without creating anything: a dry run that
    // succeeds promises a run that gets past them.
    crate::destination::check(&dest, crate::destination::room_for(to_transfer, req.zip))?;
    Ok(DryRun {
        dest: dest.display().to_string(),
        total_size: files
            .iter()
            .filter_map(|f| f.size)
            .fold(0, u64::saturating_add),
        to_transfer,
        need_restore: files.iter().filter(|f| f.needs_restore).count(),
        would_fail: files
            .iter()
            .filter(|f| matches!(f.local, "unsafe_name" | "too_large" | "link"))
            .count(),
        files,
    })
}

/// The failure the real run would end with, as far as the plan shows it: files whose names
/// cannot be local paths fail (exit 5, as the real run), files larger than the free space fail
/// (exit 1, as the real run), local files that differ are left in
/// place without `--overwrite` (exit 6), files needing a restore are not waited for with
/// `--max-wait 0` (exit 9). `None` when the plan foresees none.
pub fn foreseen_failure(plan: &DryRun, req: &DownloadRequest) -> Option<Failure> {
    let overwrite = req.overwrite;
    let no_wait = req.max_wait.is_zero() && plan.need_restore > 0;
    let differ = plan.files.iter().filter(|f| f.local == "differs").count();
    let links = plan.files.iter().filter(|f| f.local == "link").count();
    let unsafe_names = plan
        .files
        .iter()
        .filter(|f| f.local == "unsafe_name")
        .count();
    let too_large = plan.files.iter().filter(|f| f.local == "too_large").count();
    let mut problems = Vec::new();
    if unsafe_names > 0 {
        problems.push(format!(
            "{} fail (catalogue names that cannot be local paths)",
            crate::grammar::count(unsafe_names as u64, "file would", "files would")
        ));
    }
    if links > 0 {
        problems.push(format!(
            "{} fail (a symbolic link in the destination where it would be written)",
            crate::grammar::count(links as u64, "file would", "files would")
        ));
    }
    // Issue 14 review: a catalogue size larger than the free space was worded as an unsafe
    // name, exit 5, where the real run says "free some space", exit 1.
    if too_large > 0 {
        problems.push(format!(
            "{} fail (the catalogue's size is more than the free space)",
            crate::grammar::count(too_large as u64, "file would", "files would")
        ));
    }
    if differ > 0 && !overwrite {
        problems.push(format!(
            "{} from the catalogue and would be left in place",
            crate::grammar::count(differ as u64, "local file differs", "local files differ")
        ));
    }
    if no_wait {
        problems.push(format!(
            "{} a restore from tape, which --max-wait 0 does not wait for",
            crate::grammar::count(plan.need_restore as u64, "file needs", "files need")
        ));
    }
    if problems.is_empty() {
        return None;
    }
    // The real run's exit code: failed names first (they decide its code), then mismatches.
    let (kind, hint) = if unsafe_names > 0 {
        (
            ExitKind::Server,
            "the real run downloads the other files and fails these; ask the facility to \
             rename them",
        )
    } else if links > 0 {
        (
            ExitKind::Other,
            "the real run downloads the other files and fails these (exit 1): remove or rename \
             the symbolic links first (a download never writes through a link)",
        )
    } else if too_large > 0 {
        (
            ExitKind::Other,
            "the real run downloads the other files and fails these: free some space or \
             download them to another disk with -o; if they cannot be that large, the \
             catalogue is wrong: report it to the facility",
        )
    } else if differ > 0 && !overwrite {
        (
            ExitKind::Verify,
            "the real run would exit 6 too: move those files away, or add --overwrite to \
             replace them",
        )
    } else {
        (
            ExitKind::NotOnline,
            "the real run would request the restore and exit 9: run it again later, or give \
             --max-wait a duration to wait for the restore",
        )
    };
    Some(Failure::new(
        kind,
        format!("dry run: {}", problems.join("; ")),
        hint,
    ))
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
            "unsafe_name" | "too_large" => "-".to_owned(),
            "link" => "symbolic link".to_owned(),
            _ => "missing".to_owned(),
        };
        let fail;
        let action = match (f.local, overwrite) {
            ("unsafe_name" | "too_large" | "link", _) => {
                fail = format!(
                    "would fail: {}",
                    f.reason.as_deref().unwrap_or("unsafe name")
                );
                fail.as_str()
            }
            ("present", _) => "skip",
            ("differs", true) => "replace (--overwrite)",
            ("differs", false) => "leave (exit 6; --overwrite replaces it)",
            ("resume", _) if f.needs_restore => "restore from tape, then resume",
            ("resume", _) => "resume",
            _ if f.needs_restore => "restore from tape, then download",
            _ => "download",
        };
        t.push(vec![
            f.path.clone().unwrap_or_else(|| match f.local {
                "too_large" => format!("(datafile {}: too large)", f.id),
                _ => format!("(datafile {}: no safe path)", f.id),
            }),
            f.size.map(human_bytes).unwrap_or_else(|| "?".into()),
            local,
            action.to_owned(),
        ]);
    }
    out.write_all(t.render().as_bytes())?;
    let count = |kind: &str| plan.files.iter().filter(|f| f.local == kind).count();
    writeln!(
        out,
        "dry run: {} ({}) into {}: {} present and verified, {} differ, {} would resume, {} to download, {} need a restore from tape, {} would fail; {} to transfer. Nothing was changed.",
        crate::grammar::count(plan.files.len() as u64, "file", "files"),
        human_bytes(plan.total_size),
        plan.dest,
        count("present"),
        count("differs"),
        count("resume"),
        count("download"),
        plan.need_restore,
        plan.would_fail,
        human_bytes(plan.to_transfer),
    )?;
    Ok(())
}
