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

/// Datasets (or datafiles) asked together, after the whole selection, while that pays off.
const STATUS_GROUP: usize = 16;

/// `getStatus` calls under way at once when items are asked one by one.
const STATUS_PARALLEL: usize = 8;

/// `icat status`: the archive state of each dataset (or datafile).
///
/// The IDS's `getStatus` takes several ids and answers one status for them all: ONLINE only when
/// every one is online, else RESTORING or ARCHIVED (ids.server `IdsBean.getStatus`). So the whole
/// selection is asked first: an online visit costs one call, not one per dataset (issue 14).
/// Otherwise groups of [`STATUS_GROUP`] are asked while they pay off (an online group answers
/// for all its members, a mixed one costs a call more than asking its members alone), and the
/// rest one by one, [`STATUS_PARALLEL`] at a time: a few archived datasets among many cost few
/// calls, and many spread everywhere cost at most two calls more than asking each alone
/// (session 8 review: bisecting 3000 datasets of which 30% archived took 4257 calls).
pub async fn status_rows(conn: &Connection, target: &Target) -> anyhow::Result<Vec<StatusRow>> {
    use futures_util::StreamExt;
    use icat_ids::Status;

    let ids = conn.ids()?;
    let items = items(conn, target).await?;
    let kind = items[0].0;
    let ask = |range: std::ops::Range<usize>| {
        let sel = selection(kind, items[range].iter().map(|item| item.1));
        let ids = &ids;
        async move { ids.get_status(&sel).await }
    };
    let mut statuses: Vec<Option<Status>> = vec![None; items.len()];
    let whole = ask(0..items.len()).await?;
    if whole == Status::Online || items.len() == 1 {
        statuses.fill(Some(whole));
    } else {
        // Datasets resolved minus calls made: group asks go on while they do not cost more
        // than asking one by one would (the whole selection's call already counts).
        let mut credit: i64 = -1;
        let mut singles = Vec::new();
        for start in (0..items.len()).step_by(STATUS_GROUP) {
            let group = start..(start + STATUS_GROUP).min(items.len());
            if credit >= -1 && group.len() > 1 {
                if ask(group.clone()).await? == Status::Online {
                    credit += group.len() as i64 - 1;
                    statuses[group].fill(Some(Status::Online));
                    continue;
                }
                credit -= 1;
            }
            singles.extend(group);
        }
        let found: Vec<_> = futures_util::stream::iter(singles.iter().map(|&i| ask(i..i + 1)))
            .buffered(STATUS_PARALLEL)
            .collect()
            .await;
        for (i, status) in singles.into_iter().zip(found) {
            statuses[i] = Some(status?);
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
