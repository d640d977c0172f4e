//! `icat show doi:...` and `icat show --collection ID`: what a citation resolves to, then its
//! data as the visit → dataset → datafile tree `icat show VISIT` prints.

use std::collections::BTreeMap;
use std::io::Write;

use icat_soap::client::Session;
use icat_soap::model::{Datafile, Dataset, Investigation};
use icat_soap::query::MAX_IN_VALUES;
use serde::Serialize;

use crate::catalog;
use crate::output::{Align, Format, Table, sanitize_cell, to_json};
use crate::queries::{self, Target};
use crate::resolve::Resolved;
use crate::tree::{self, VisitNode};

/// A resolved citation with its data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CitedData {
    /// What the reference named.
    #[serde(flatten)]
    pub resolved: Resolved,
    /// Its data, by visit.
    pub visits: Vec<VisitNode>,
}

/// The datafiles a resolved reference selects, grouped into visit trees (datafile searches with
/// their dataset and investigation, in bounded IN lists).
pub async fn cited_data(session: &Session, resolved: Resolved) -> anyhow::Result<CitedData> {
    let chunks: Vec<Target> = match &resolved.target {
        Target::Datafiles(ids) => ids
            .chunks(MAX_IN_VALUES)
            .map(|c| Target::Datafiles(c.to_vec()))
            .collect(),
        other => vec![other.clone()],
    };
    let mut files: Vec<Datafile> = Vec::new();
    for chunk in &chunks {
        let values =
            catalog::all_pages(session, &queries::datafiles_query(chunk), catalog::PAGE).await?;
        files.extend(catalog::typed::<Datafile>(values));
    }
    Ok(CitedData {
        visits: group(files),
        resolved,
    })
}

/// Datafiles (with `dataset.investigation`) as visit trees, ordered by investigation id.
pub fn group(files: Vec<Datafile>) -> Vec<VisitNode> {
    let mut invs: BTreeMap<i64, (Investigation, BTreeMap<i64, Dataset>)> = BTreeMap::new();
    for mut df in files {
        let Some(mut ds) = df.dataset.take().map(|b| *b) else {
            continue;
        };
        let inv = ds.investigation.take().map(|b| *b).unwrap_or_default();
        let entry = invs
            .entry(inv.id.unwrap_or_default())
            .or_insert_with(|| (inv, BTreeMap::new()));
        let ds = entry
            .1
            .entry(ds.id.unwrap_or_default())
            .or_insert_with(|| ds);
        ds.datafiles.push(df);
    }
    invs.into_values()
        .map(|(mut inv, datasets)| {
            inv.datasets = datasets.into_values().collect();
            VisitNode::from_investigation(&inv)
        })
        .collect()
}

/// The first line: what the reference is.
pub fn heading(r: &Resolved) -> String {
    let mut line = format!("{}: {} {}", sanitize_cell(&r.reference), r.kind, r.id);
    if let Some(t) = &r.title {
        line.push_str(&format!(
            "  {}",
            sanitize_cell(&crate::output::bounded_text(t, 200))
        ));
    }
    if let Some(c) = r.collection
        && r.kind != "DataCollection"
    {
        line.push_str(&format!("  (collection {c})"));
    }
    line
}

/// Prints the citation: a heading and the trees, the whole as JSON, or one CSV row per file.
pub fn print(data: &CitedData, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => out.write_all(to_json(data)?.as_bytes())?,
        Format::Table => {
            writeln!(out, "{}", heading(&data.resolved))?;
            if data.visits.is_empty() {
                writeln!(
                    out,
                    "  it holds no datafiles you may read (empty, or not yours to read)"
                )?;
            }
            out.write_all(tree::render(&data.visits).as_bytes())?;
        }
        Format::Csv => {
            let mut t = Table::new(&[
                ("VISIT", Align::Left),
                ("INVESTIGATION_ID", Align::Right),
                ("DATASET_ID", Align::Right),
                ("DATASET", Align::Left),
                ("DATAFILE_ID", Align::Right),
                ("FILE", Align::Left),
                ("SIZE", Align::Right),
                ("CHECKSUM", Align::Left),
            ]);
            for v in &data.visits {
                for ds in &v.datasets {
                    for f in &ds.files {
                        t.push(vec![
                            v.visit_id.clone().unwrap_or_default(),
                            v.id.to_string(),
                            ds.id.to_string(),
                            ds.name.clone().unwrap_or_default(),
                            f.id.to_string(),
                            f.name.clone().unwrap_or_default(),
                            f.size.map(|s| s.to_string()).unwrap_or_default(),
                            f.checksum.clone().unwrap_or_default(),
                        ]);
                    }
                }
            }
            out.write_all(t.render_csv().as_bytes())?;
        }
    }
    Ok(())
}
