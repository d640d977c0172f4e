//! Scenario 3: downloads from the simulator's IDS: one large file and one dataset of many files,
//! by `icat download` (raw streams, verified, fsynced, renamed into place), the same with
//! `--no-fsync` (like the baselines, which leave the bytes in the page cache), `curl -o`, and
//! python-icat's `IDSClient.getData` streamed to disk in 8 KiB blocks. Each case gets its own
//! simulator whose synthetic facility is exactly that file or dataset.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::startup::{icat_login, prepare};
use super::{Ctx, Row, interleave, row_from_runs};

/// The row name of `icat download --no-fsync`.
pub const NO_FSYNC_CLIENT: &str = "icat download --no-fsync";

/// Total bytes of the regular files under `path` (or of `path` itself).
fn bytes_under(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| bytes_under(&e.path())).sum())
            .unwrap_or(0),
        _ => 0,
    }
}

fn clear(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path)?,
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.0} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Runs both download cases.
pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let o = &ctx.opts;
    let mut rows = single_or_dataset(ctx, true, 1, o.single_size)?;
    rows.extend(single_or_dataset(
        ctx,
        false,
        o.dataset_files,
        o.dataset_file_size,
    )?);
    Ok(rows)
}

fn single_or_dataset(ctx: &Ctx, single: bool, files: u32, size: u64) -> Result<Vec<Row>> {
    let total = u64::from(files) * size;
    let (name, kind, flag) = if single {
        ("single", "single", "--datafile")
    } else {
        ("dataset", "dataset", "--dataset")
    };
    let spec = format!("visits=1,datasets=1,files={files},size={size}");
    let sim = ctx.start_sim(&format!("download-{name}"), &spec)?;
    icat_login(ctx, &sim)?;
    let p = prepare(ctx, &sim)?;
    let id = if single { p.datafile } else { p.dataset }.to_string();
    let out = ctx.work.join(format!("download-{name}-out"));
    let out_s = out.to_string_lossy().into_owned();
    let ids_param = if single { "datafileIds" } else { "datasetIds" };
    let url = format!(
        "{}/getData?sessionId={}&{ids_param}={id}",
        sim.ids.trim_end_matches('/'),
        p.session
    );
    let mut ours = || {
        ctx.icat(&[
            "-q", "-w", &sim.wsdl, "--idsurl", &sim.ids, "-a", "simple", "-u", "root", "download",
            flag, &id, "-o", &out_s,
        ])
    };
    let mut ours_no_fsync = || {
        ctx.icat(&[
            "-q",
            "-w",
            &sim.wsdl,
            "--idsurl",
            &sim.ids,
            "-a",
            "simple",
            "-u",
            "root",
            "download",
            "--no-fsync",
            flag,
            &id,
            "-o",
            &out_s,
        ])
    };
    let mut curl = || {
        let mut c = Command::new(&ctx.tools.curl);
        c.args(["-s", "-f", "-o", &out_s, &url]);
        c
    };
    let mut py = || ctx.pyicat(&["download", &sim.ids, &p.session, kind, &id, &out_s]);
    let mut clients: Vec<(&str, &mut dyn FnMut() -> Command)> = vec![
        ("download-ours", &mut ours),
        ("download-ours-no-fsync", &mut ours_no_fsync),
        ("download-curl", &mut curl),
        ("download-python-icat", &mut py),
    ];
    let mut first = true;
    let mut before = || {
        // The previous run's output must be complete; then it goes (icat would resume it).
        let got = bytes_under(&out);
        if !first && got < total {
            bail!("a download left {got} bytes, expected at least {total}");
        }
        first = false;
        clear(&out)
    };
    let runs = interleave(ctx, None, &mut clients, &mut before)?;
    let got = bytes_under(&out);
    if got < total {
        bail!("the last download left {got} bytes, expected at least {total}");
    }
    clear(&out)?;
    drop(sim);
    let scenario = if single {
        format!("download: one {} file", size_label(total))
    } else {
        format!(
            "download: dataset of {files} files, {} in all",
            size_label(total)
        )
    };
    let (ours_note, no_fsync_note, other_note) = if single {
        (
            "raw stream to .part, size + CRC32 verified, fsync, rename",
            "raw stream to .part, size + CRC32 verified, rename, no fsync",
            "one stream to a file, unverified, no fsync",
        )
    } else {
        (
            "4 raw streams at a time, each verified, fsynced, renamed into visit/dataset/file",
            "4 raw streams at a time, each verified, renamed into visit/dataset/file, no fsync",
            "one zip stream of the dataset (getData?datasetIds), not extracted, no fsync",
        )
    };
    Ok(vec![
        row_from_runs(&scenario, "icat download", &runs[0], Some(total), ours_note)?,
        row_from_runs(
            &scenario,
            NO_FSYNC_CLIENT,
            &runs[1],
            Some(total),
            no_fsync_note,
        )?,
        row_from_runs(&scenario, "curl", &runs[2], Some(total), other_note)?,
        row_from_runs(
            &scenario,
            "python-icat IDSClient.getData",
            &runs[3],
            Some(total),
            &format!("{other_note}, 8 KiB copy"),
        )?,
    ])
}
