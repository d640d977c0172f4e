//! `icat upload`: stream files into a dataset through the IDS, checking the CRC32 the server reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use icat_ids::PutRequest;

use crate::catalog;
use crate::connect::Connection;
use crate::failure::Failure;
use crate::output::human_bytes;
use crate::queries;

/// Finds the datafile format id: a number is used as is; `NAME` or `NAME:VERSION` is looked up
/// among the formats of the dataset's facility.
pub async fn resolve_format(conn: &Connection, dataset: i64, format: &str) -> anyhow::Result<i64> {
    let rows = conn
        .session
        .search(&queries::dataset_facility_query(dataset))
        .await?;
    let facility = rows
        .first()
        .and_then(|r| catalog::int(catalog::columns(r).first().copied().flatten()))
        .ok_or_else(|| {
            Failure::not_found(
                format!("no dataset with id {dataset}"),
                "check the id with `icat show VISIT`",
            )
        })?;
    if let Ok(id) = format.parse::<i64>() {
        return Ok(id);
    }
    let (name, version) = match format.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (format, None),
    };
    let q = queries::format_query(facility, name, version)?;
    let rows = conn.session.search(q.as_str()).await?;
    let found: Vec<(i64, Option<String>)> = rows
        .iter()
        .filter_map(|r| {
            let c = catalog::columns(r);
            Some((
                catalog::int(c.first().copied().flatten())?,
                catalog::text(c.get(1).copied().flatten()),
            ))
        })
        .collect();
    match found.as_slice() {
        [(id, _)] => Ok(*id),
        [] => Err(Failure::not_found(
            format!("no datafile format {format:?} at this facility"),
            "list them with `icat search \"SELECT f FROM DatafileFormat f\"`",
        )
        .into()),
        many => Err(Failure::usage(
            format!(
                "datafile format {name:?} has {} versions ({})",
                many.len(),
                many.iter()
                    .map(|(_, v)| v.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give NAME:VERSION or the numeric id",
        )
        .into()),
    }
}

/// Uploads each file; prints the new datafile id, size and checksum.
pub async fn upload(
    conn: &Connection,
    files: &[PathBuf],
    dataset: i64,
    format: &str,
    description: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<i64>> {
    let ids = conn.ids()?;
    let format_id = resolve_format(conn, dataset, format).await?;
    let mut created = Vec::new();
    for path in files {
        let name = file_name(path)?;
        let meta = tokio::fs::metadata(path).await.map_err(|e| {
            Failure::not_found(
                format!("cannot read {}: {e}", path.display()),
                "check the path",
            )
        })?;
        if !meta.is_file() {
            return Err(Failure::usage(
                format!("{} is not a regular file", path.display()),
                "upload files, not directories",
            )
            .into());
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64);
        let req = PutRequest {
            name: name.clone(),
            dataset_id: dataset,
            datafile_format_id: format_id,
            description: description.map(String::from),
            doi: None,
            create_time_millis: modified,
            mod_time_millis: modified,
        };
        let resp = ids
            .put(path, &req, None)
            .await
            .map_err(|e| duplicate_name(e, &name, dataset))?;
        writeln!(
            out,
            "uploaded {} as datafile {} ({}, CRC32 {:x} verified)",
            path.display(),
            resp.id,
            human_bytes(resp.size),
            resp.checksum
        )?;
        created.push(resp.id);
    }
    Ok(created)
}

/// A real IDS reports a name the dataset already holds as a 500 `InternalException` whose
/// message starts with ICAT's `OBJECT_ALREADY_EXISTS` (ids.server `IdsBean.registerDatafile`);
/// that is the user's input, not a server fault worth retrying, so say what to do instead.
fn duplicate_name(e: icat_ids::IdsError, name: &str, dataset: i64) -> anyhow::Error {
    match &e {
        icat_ids::IdsError::Internal { message }
            if message.starts_with("OBJECT_ALREADY_EXISTS") =>
        {
            Failure::usage(
                format!("dataset {dataset} already has a datafile named {name:?}"),
                "rename the file or choose another --dataset",
            )
            .into()
        }
        _ => e.into(),
    }
}

fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| {
            Failure::usage(
                format!("{} has no usable file name", path.display()),
                "rename the file to UTF-8",
            )
        })
}
