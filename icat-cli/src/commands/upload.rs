//! `icat upload`: stream files into a dataset through the IDS, checking the CRC32 the server reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use icat_ids::PutRequest;
use icat_soap::model::DatafileFormat;

use crate::catalog;
use crate::connect::Connection;
use crate::failure::{ExitKind, Failure};
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
    let formats: Vec<DatafileFormat> = conn
        .session
        .search_entities(&queries::formats_query(facility))
        .await?;
    Ok(pick_format(&formats, format)?)
}

/// The format `NAME` or `NAME:VERSION` names among `formats`: letter case is ignored unless two
/// formats differ only in case (then the exact spelling wins); an unknown name gets the closest
/// known one as a suggestion.
pub fn pick_format(formats: &[DatafileFormat], wanted: &str) -> Result<i64, Failure> {
    let (name, version) = match wanted.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (wanted, None),
    };
    let fits = |f: &&DatafileFormat, exact: bool| {
        let same = |have: Option<&String>, want: &str| {
            have.is_some_and(|h| {
                if exact {
                    h == want
                } else {
                    h.eq_ignore_ascii_case(want)
                }
            })
        };
        same(f.name.as_ref(), name) && version.is_none_or(|v| same(f.version.as_ref(), v))
    };
    let mut found: Vec<&DatafileFormat> = formats.iter().filter(|f| fits(f, false)).collect();
    if found.len() > 1 {
        let exact: Vec<&DatafileFormat> = found.iter().copied().filter(|f| fits(f, true)).collect();
        if !exact.is_empty() {
            found = exact;
        }
    }
    match found.as_slice() {
        [f] => f.id.ok_or_else(|| {
            Failure::bare(
                crate::failure::ExitKind::Server,
                "a datafile format without an id",
            )
        }),
        [] => {
            let names: Vec<&str> = formats.iter().filter_map(|f| f.name.as_deref()).collect();
            let hint = match crate::suggest::closest(name, names.iter().copied(), 3) {
                Some(guess) => format!("did you mean --format {guess}? "),
                None => String::new(),
            };
            let mut known: Vec<String> = formats.iter().map(format_label).collect();
            known.sort();
            known.dedup();
            let listed = if known.is_empty() {
                "the facility has no datafile formats".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            Err(Failure::not_found(
                format!("no datafile format {wanted:?} at this facility"),
                format!("{hint}{listed}"),
            ))
        }
        many => Err(Failure::usage(
            format!(
                "datafile format {name:?} has {} versions ({})",
                many.len(),
                many.iter()
                    .map(|f| f.version.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "give --format NAME:VERSION or the numeric id",
        )),
    }
}

/// `NAME:VERSION` (or `NAME`) of a format, for messages.
fn format_label(f: &DatafileFormat) -> String {
    let name = icat_soap::untrusted::clean_text(f.name.as_deref().unwrap_or("?"), 100);
    match &f.version {
        Some(v) => format!("{name}:{}", icat_soap::untrusted::clean_text(v, 50)),
        None => name,
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
                format!("cannot read {}: {e}", shown(path)),
                "check the path",
            )
        })?;
        if !meta.is_file() {
            return Err(Failure::usage(
                format!("{} is not a regular file", shown(path)),
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
            .map_err(|e| refused(e, &name, dataset, &conn.server_user))?;
        writeln!(
            out,
            "uploaded {} as datafile {} ({}, CRC32 {:x} verified)",
            shown(path),
            resp.id,
            human_bytes(resp.size),
            resp.checksum
        )?;
        created.push(resp.id);
    }
    Ok(created)
}

/// A refused upload's one line with what to do. A real IDS reports a name the dataset already
/// holds as a 500 `InternalException` whose message starts with ICAT's `OBJECT_ALREADY_EXISTS`
/// (ids.server `IdsBean.registerDatafile`): the user's input, not a server fault worth
/// retrying. Missing write access is a 403 `InsufficientPrivilegesException`.
fn refused(e: icat_ids::IdsError, name: &str, dataset: i64, user: &str) -> anyhow::Error {
    match &e {
        icat_ids::IdsError::Internal { message }
            if message.starts_with("OBJECT_ALREADY_EXISTS") =>
        {
            Failure::usage(
                format!(
                    "dataset {dataset} already has a datafile named \"{}\"",
                    shown(Path::new(name))
                ),
                "rename the file or choose another --dataset",
            )
            .into()
        }
        // ids.server refuses writes into a dataset that is not online (archived on two-level
        // storage) with DataNotOnlineException: restore it first.
        icat_ids::IdsError::DataNotOnline { .. } => Failure::new(
            crate::failure::ExitKind::NotOnline,
            format!(
                "dataset {dataset} is archived (not online), so files cannot be added to it now"
            ),
            format!(
                "restore it first with `icat restore --dataset {dataset} --wait`, then upload again"
            ),
        )
        .into(),
        // The IDS client already tried a renewed session: this is about the dataset, not the
        // session.
        icat_ids::IdsError::InsufficientPrivileges { message }
            if crate::advice::ids_does_not_know_the_session(message) =>
        {
            Failure::bare(ExitKind::Auth, crate::advice::foreign_ids_text(message)).into()
        }
        icat_ids::IdsError::InsufficientPrivileges { message } => Failure::denied(
            format!(
                "{user} may not add files to dataset {dataset} (the server says: {})",
                crate::failure::one_line(message.trim_end_matches('.'))
            ),
            "ask the dataset's owner or the facility for write access, or upload to a dataset \
             you may write to",
        )
        .into(),
        _ => e.into(),
    }
}

/// A local path as printed: control and bidirectional formatting characters in a file name
/// (a name made to rewrite the terminal or reorder the line) are cleaned like server text.
fn shown(path: &Path) -> String {
    icat_soap::untrusted::clean_text(&path.display().to_string(), 4096)
}

/// The file name of `path` as the datafile's name.
fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| {
            Failure::usage(
                format!("{} has no usable file name", shown(path)),
                "rename the file to UTF-8",
            )
        })
}
