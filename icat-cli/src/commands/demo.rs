//! `icat demo`: the whole find-and-download story against an in-process simulator, narrated.
//!
//! It uses the same code paths as the real commands (login with the session cache, visits, show,
//! download with prepare/restore/stream/verify/extract), only against a simulated facility on a
//! free loopback port, with its own session cache so the user's real sessions are untouched.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use icat_ids::{DataSelection, Status};
use icat_sim::Simulator;
use icat_sim::data::synthetic::SyntheticSpec;

use crate::commands::browse;
use crate::commands::download::{self, DatafileRecord, DownloadRequest};
use crate::config::{Secret, Settings, Source};
use crate::connect::{self, Reuse};
use crate::context::{Context, ctrl_c_token};
use crate::failure::{ExitKind, Failure};
use crate::output::{human_bytes, human_duration};
use crate::queries::{Target, VisitFilter};
use crate::session_cache::{SessionCache, short_id};

/// The synthetic facility of the demo: small, with half the datasets on "tape".
const FACILITY: &str = "visits=5,datasets=3,files=4,size=192KiB,archived=0.5,seed=11";
/// How long the simulated tape restore takes.
const RESTORE_DELAY: Duration = Duration::from_secs(3);
/// The demo user (a default simulator account).
const USER: &str = "jdoe";

fn step(out: &mut dyn Write, n: u32, title: &str, command: &str) -> std::io::Result<()> {
    writeln!(out)?;
    if command.is_empty() {
        writeln!(out, "{n}. {title}")
    } else {
        writeln!(out, "{n}. {title}\n   $ {command}")
    }
}

fn indent(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    for line in text.lines() {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// Runs the demo; files go to `output` or a new temporary directory that is kept.
pub async fn run(ctx: &Context, output: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("icat-demo-")
        .tempdir()
        .map_err(|e| {
            Failure::bare(
                ExitKind::Other,
                format!("cannot create a temporary directory: {e}"),
            )
        })?;
    let dest = match output {
        Some(dir) => dir.to_path_buf(),
        None => work.path().join("data"),
    };
    let cache = SessionCache::at(work.path().join("session-cache"));

    writeln!(
        out,
        "icat demo: find and download data from a (simulated) facility"
    )?;

    // 1. The facility.
    step(
        out,
        1,
        "Start a facility to talk to",
        "icat sim serve --synthetic ... --two-level --restore-delay 3s",
    )?;
    let spec: SyntheticSpec = FACILITY
        .parse()
        .map_err(|e: String| Failure::bare(ExitKind::Other, format!("demo facility: {e}")))?;
    let sim = Simulator::builder()
        .synthetic(spec.clone())
        .two_level(true)
        .restore_delay(RESTORE_DELAY)
        .start()
        .await
        .map_err(|e| Failure::bare(ExitKind::Other, format!("cannot start the simulator: {e}")))?;
    indent(
        out,
        &format!(
            "A simulated ICAT 6.2 + IDS is listening on {}.\n\
             It holds {} visits with {} datasets of {} files each ({} per file); about half the\n\
             datasets are archived on \"tape\" and take {} to restore, as on a real two-level IDS.\n\
             ICAT {}\n\
             IDS  {}",
            sim.addr(),
            spec.visits,
            spec.datasets,
            spec.files,
            human_bytes(spec.size),
            human_duration(RESTORE_DELAY),
            sim.icat_url(),
            sim.ids_url()
        ),
    )?;

    let result = story(ctx, &sim.icat_url(), &sim.ids_url(), &cache, &dest, out).await;
    sim.shutdown().await;
    let files = result?;

    // Keep the temporary directory when the files are in it.
    let kept = if output.is_none() {
        Some(work.keep())
    } else {
        None
    };
    writeln!(out)?;
    writeln!(
        out,
        "Done in {}: {} downloaded and verified.",
        human_duration(started.elapsed()),
        crate::grammar::count(files as u64, "file", "files")
    )?;
    writeln!(out, "Your files are in {}", dest.display())?;
    if let Some(dir) = kept {
        writeln!(
            out,
            "(a temporary directory; remove {} when you are done)",
            dir.display()
        )?;
    }
    writeln!(
        out,
        "Against a real facility: see \"Using icat with a real server\" in the README."
    )?;
    Ok(())
}

/// Steps 2 to 7; returns the number of verified files.
async fn story(
    ctx: &Context,
    icat_url: &str,
    ids_url: &str,
    cache: &SessionCache,
    dest: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    // 2. Log in.
    step(
        out,
        2,
        "Log in",
        &format!("icat login -w {icat_url} --idsurl {ids_url} -a db -u {USER}"),
    )?;
    let settings = Settings {
        url: Some(icat_url.to_string()),
        idsurl: Some(ids_url.to_string()),
        auth: Some("db".into()),
        username: Some(USER.into()),
        username_source: Some(Source::File),
        password: Some(Secret::new("secret")),
        prompt_pass: false,
        check_cert: true,
        ca_file: None,
        credentials: BTreeMap::new(),
        section: None,
        warnings: Vec::new(),
        network: crate::config::Network::default(),
    };
    let mut quiet_ctx = ctx.clone();
    quiet_ctx.conn.password_stdin = false;
    connect::connect_with(&quiet_ctx, &settings, cache, Reuse::AlwaysLogin).await?;
    // Like the next command would: reuse the cached session instead of logging in again.
    let conn = connect::connect_with(&quiet_ctx, &settings, cache, Reuse::CachedOnly).await?;
    indent(
        out,
        &format!(
            "logged in as {} (session {}, {})\n\
             The session id (never the password) is cached with mode 0600 and reused by the next commands.",
            conn.server_user,
            short_id(&conn.cached.session_id),
            crate::grammar::count(
                connect::minutes_left(&conn.session).round() as u64,
                "minute",
                "minutes"
            )
        ),
    )?;

    // 3. Visits.
    step(
        out,
        3,
        "Which visits can I see? (one query: counts and sizes included)",
        "icat visits",
    )?;
    let rows = browse::visit_rows(&conn.session, &VisitFilter::default(), None).await?;
    let mut table = Vec::new();
    browse::print_visits(&rows, crate::output::Format::Table, &mut table)?;
    indent(out, &String::from_utf8_lossy(&table))?;

    // Pick a visit with archived data, so the download shows a restore.
    let ids = conn.ids()?;
    let mut chosen = None;
    for r in &rows {
        if ids
            .get_status(&DataSelection::investigations([r.id]))
            .await?
            == Status::Archived
        {
            chosen = Some(r.clone());
            break;
        }
    }
    let visit = chosen
        .or_else(|| rows.first().cloned())
        .ok_or_else(|| Failure::bare(ExitKind::Other, "the simulated facility has no visits"))?;
    let visit_name = visit.name.clone().unwrap_or_else(|| visit.id.to_string());

    // 4. Show one visit.
    step(
        out,
        4,
        &format!("What is in visit {visit_name}?"),
        &format!("icat show {visit_name}"),
    )?;
    let tree = browse::visit_tree(&conn.session, &visit_name).await?;
    let mut text = Vec::new();
    browse::print_tree(&tree, crate::output::Format::Table, &mut text)?;
    indent(out, &String::from_utf8_lossy(&text))?;

    // Which dataset is archived, which online?
    let mut archived = None;
    let mut online = None;
    for ds in &tree.datasets {
        let status = ids.get_status(&DataSelection::datasets([ds.id])).await?;
        if status == Status::Archived && archived.is_none() {
            archived = Some(ds.clone());
        } else if status == Status::Online && online.is_none() && ds.files.len() >= 2 {
            online = Some(ds.clone());
        }
    }
    let big = archived
        .clone()
        .or_else(|| tree.datasets.first().cloned())
        .ok_or_else(|| Failure::bare(ExitKind::Other, "the chosen visit has no datasets"))?;

    // 5. Download a dataset.
    step(
        out,
        5,
        &format!(
            "Download dataset {} ({})",
            big.id,
            big.name.clone().unwrap_or_default()
        ),
        &format!(
            "icat download --dataset {} --zip -o {}",
            big.id,
            dest.display()
        ),
    )?;
    if archived.is_some() {
        indent(
            out,
            "It is ARCHIVED: the IDS must restore it from tape first. icat prepares the data, shows the\n\
             restore on a live status line, then streams one zip, extracts it safely (no entry may\n\
             escape the directory) and checks every file's size and CRC32 against ICAT.",
        )?;
    }
    out.flush()?;
    let report = download::download(
        &conn,
        &DownloadRequest {
            zip: true,
            ..DownloadRequest::new(Target::Datasets(vec![big.id]), dest)
        },
        &ctx.reporter,
        ctrl_c_token(),
    )
    .await?;
    indent(out, &report.summary_line())?;

    // 6. Two single datafiles.
    let source = online
        .or_else(|| {
            tree.datasets
                .iter()
                .find(|d| d.id != big.id && d.files.len() >= 2)
                .cloned()
        })
        .unwrap_or_else(|| big.clone());
    let picked: Vec<i64> = source.files.iter().take(2).map(|f| f.id).collect();
    let list = picked
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    step(
        out,
        6,
        "Download two single datafiles (raw streams: resumable, verified one by one)",
        &format!("icat download --datafile {list} -o {}", dest.display()),
    )?;
    out.flush()?;
    let report = download::download(
        &conn,
        &DownloadRequest {
            parallel: 2,
            ..DownloadRequest::new(Target::Datafiles(picked.clone()), dest)
        },
        &ctx.reporter,
        ctrl_c_token(),
    )
    .await?;
    indent(out, &report.summary_line())?;

    // 7. Verify on disk, independently of the download engine.
    step(out, 7, "Check what is on disk against the catalogue", "")?;
    let mut ids_all: Vec<i64> = big.files.iter().map(|f| f.id).collect();
    ids_all.extend(&picked);
    let records = download::find_datafiles(&conn, &Target::Datafiles(ids_all)).await?;
    let checked = verify_on_disk(&records, dest, out)?;
    Ok(checked)
}

/// Recomputes size and CRC32 of every file and compares them with ICAT; prints one line each.
fn verify_on_disk(
    records: &[DatafileRecord],
    dest: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let mut bad = 0;
    for r in records {
        let path: PathBuf = dest.join(&r.visit).join(&r.dataset).join(&r.name);
        let shown = path
            .strip_prefix(dest)
            .unwrap_or(&path)
            .display()
            .to_string();
        let (size, crc) = match crc_of(&path) {
            Ok(v) => v,
            Err(e) => {
                bad += 1;
                writeln!(out, "   {shown}: MISSING ({e})")?;
                continue;
            }
        };
        let crc_hex = format!("{crc:x}");
        let ok = r.size.is_none_or(|s| s == size)
            && r.checksum
                .as_deref()
                .is_none_or(|c| c.trim_start_matches('0') == crc_hex.trim_start_matches('0'));
        if !ok {
            bad += 1;
        }
        writeln!(
            out,
            "   {shown}  {}  CRC32 {crc_hex}  {}",
            human_bytes(size),
            if ok {
                "matches ICAT"
            } else {
                "DIFFERS FROM ICAT"
            }
        )?;
    }
    if bad > 0 {
        return Err(Failure::new(
            ExitKind::Verify,
            format!(
                "{bad} of {} do not match the catalogue",
                crate::grammar::count(records.len() as u64, "file", "files")
            ),
            "this is a bug: please report it",
        )
        .into());
    }
    writeln!(
        out,
        "   {} the sizes and CRC32 checksums recorded in ICAT",
        if records.len() == 1 {
            "the file matches".to_string()
        } else {
            format!("all {} files match", records.len())
        }
    )?;
    Ok(records.len())
}

fn crc_of(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize()))
}
