//! `icat status` and `icat restore`: archive state of data and explicit restore requests.

use std::io::Write;
use std::sync::Arc;

use icat_ids::{CancellationToken, DataSelection, Packing, WaitOptions, WaitStatus};
use serde::Serialize;

use crate::catalog;
use crate::connect::Connection;
use crate::output::{Align, Format, Table, human_duration, to_json};
use crate::progress::Reporter;
use crate::queries::{self, Target};

/// One line of `icat status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusRow {
    /// `investigation`, `dataset` or `datafile`.
    pub kind: &'static str,
    /// The id.
    pub id: i64,
    /// Its name.
    pub name: Option<String>,
    /// `ONLINE`, `RESTORING` or `ARCHIVED`.
    pub status: String,
}

/// The items a status/restore acts on, with names: datasets of a visit, or the given ids. They
/// are read in ordered pages after a COUNT, bounded by `--max-rows` like every listing (issue 14:
/// one unpaged answer of 5,000 datasets made `status` call the IDS 5,000 times).
async fn items(
    conn: &Connection,
    target: &Target,
) -> anyhow::Result<Vec<(&'static str, i64, Option<String>)>> {
    let target = catalog::resolve_target(&conn.session, target).await?;
    let (kind, query) = queries::items_query(&target);
    let rows = catalog::all_pages(&conn.session, &query, catalog::PAGE).await?;
    let found: Vec<(&'static str, i64, Option<String>)> = rows
        .iter()
        .filter_map(|r| {
            let c = catalog::columns(r);
            Some((
                kind,
                catalog::int(c.first().copied().flatten())?,
                catalog::text(c.get(1).copied().flatten()),
            ))
        })
        .collect();
    let wanted: Vec<i64> = match &target {
        Target::Datasets(ids) | Target::Datafiles(ids) => ids.clone(),
        _ => Vec::new(),
    };
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !found.iter().any(|f| f.1 == **id))
        .map(i64::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(crate::failure::Failure::not_found(
            format!("no {kind} with id {}", missing.join(", ")),
            "check the ids with `icat show VISIT`",
        )
        .into());
    }
    if found.is_empty() {
        return Err(crate::failure::Failure::not_found(
            "the visit has no datasets",
            "nothing to check",
        )
        .into());
    }
    Ok(found)
}

fn selection(kind: &str, ids: impl IntoIterator<Item = i64>) -> DataSelection {
    if kind == "datafile" {
        DataSelection::datafiles(ids)
    } else {
        DataSelection::datasets(ids)
    }
}

/// `icat status`: the archive state of each dataset (or datafile).
///
/// The IDS's `getStatus` takes several ids and answers one status for them all: ONLINE only when
/// every one is online, else RESTORING or ARCHIVED (ids.server `IdsBean.getStatus`). So the ids
/// are asked together (the IDS client splits a long list over several calls), and only a group
/// that is not all online is split in two and asked again, down to single ids: an online visit
/// costs one call, not one per dataset (issue 14).
pub async fn status_rows(conn: &Connection, target: &Target) -> anyhow::Result<Vec<StatusRow>> {
    let ids = conn.ids()?;
    let items = items(conn, target).await?;
    let mut statuses = vec![None; items.len()];
    let mut pending = Vec::new();
    pending.push(0..items.len());
    while let Some(range) = pending.pop() {
        let kind = items[range.start].0;
        let sel = selection(kind, items[range.clone()].iter().map(|item| item.1));
        let status = ids.get_status(&sel).await?;
        if status == icat_ids::Status::Online || range.len() == 1 {
            for slot in &mut statuses[range] {
                *slot = Some(status);
            }
        } else {
            let middle = range.start + range.len() / 2;
            pending.push(middle..range.end);
            pending.push(range.start..middle);
        }
    }
    Ok(items
        .into_iter()
        .zip(statuses)
        .map(|((kind, id, name), status)| StatusRow {
            kind,
            id,
            name,
            status: status.map(|s| s.to_string()).unwrap_or_default(),
        })
        .collect())
}

/// Prints status rows.
pub fn print_status(rows: &[StatusRow], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    if format == Format::Json {
        out.write_all(to_json(&serde_json::json!({ "items": rows }))?.as_bytes())?;
        return Ok(());
    }
    let mut t = Table::new(&[
        ("KIND", Align::Left),
        ("ID", Align::Right),
        ("NAME", Align::Left),
        ("STATUS", Align::Left),
    ]);
    for r in rows {
        t.push(vec![
            r.kind.to_string(),
            r.id.to_string(),
            r.name.clone().unwrap_or_default(),
            r.status.clone(),
        ]);
    }
    match format {
        Format::Csv => out.write_all(t.render_csv().as_bytes())?,
        _ => out.write_all(t.render().as_bytes())?,
    }
    Ok(())
}

/// `icat restore`: asks the IDS to restore the data; with `wait` (the longest wait and the
/// longest time the IDS may stay unreachable), waits until it is online.
pub async fn restore(
    conn: &Connection,
    target: &Target,
    wait: Option<(std::time::Duration, std::time::Duration)>,
    reporter: &Reporter,
    cancel: CancellationToken,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let ids = conn.ids()?;
    let found = items(conn, target).await?;
    let kind = found[0].0;
    let sel = selection(kind, found.iter().map(|f| f.1));
    if ids.get_status(&sel).await? == icat_ids::Status::Online {
        writeln!(
            out,
            "already online: {}; nothing to restore",
            crate::grammar::count(found.len() as u64, kind, &format!("{kind}s"))
        )?;
        return Ok(());
    }
    ids.restore(&sel).await?;
    writeln!(
        out,
        "restore requested for {}",
        crate::grammar::count(found.len() as u64, kind, &format!("{kind}s"))
    )?;
    if let Some((max_wait, max_unreachable)) = wait {
        let line = reporter.status("waiting for the IDS to restore the data");
        let shown = line.clone();
        let opts = WaitOptions {
            deadline: max_wait,
            unreachable_limit: max_unreachable,
            cancel,
            on_status: Some(Arc::new(move |w: &WaitStatus| {
                shown.set(&format!(
                    "waiting for the IDS to restore the data ({}): {} so far, next check in {}",
                    w.status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "PREPARING".into()),
                    human_duration(w.elapsed),
                    human_duration(w.next_poll_in)
                ));
            })),
            ..WaitOptions::default()
        };
        let keep_alive = conn.keep_alive();
        let result = ids.prepare_and_wait(&sel, Packing::default(), &opts).await;
        keep_alive.abort();
        line.clear();
        result?;
        if found.len() == 1 {
            writeln!(out, "the {kind} is online")?;
        } else {
            writeln!(out, "all {} {kind}s are online", found.len())?;
        }
    }
    Ok(())
}
