//! `icat visits`, `icat show`, `icat search`: browsing the catalogue.

use std::collections::HashMap;
use std::io::Write;

use icat_soap::IcatError;
use icat_soap::client::Session;
use icat_soap::dynamic::DynEntity;
use serde::Serialize;

use crate::catalog::{self, columns, int, text};
use crate::failure::Failure;
use crate::output::{Align, Format, Table, human_bytes, to_json};
use crate::queries::{self, VisitFilter};
use crate::tree::{self, VisitNode};

/// One row of `icat visits`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VisitRow {
    /// Investigation id.
    pub id: i64,
    /// Visit id.
    pub visit_id: Option<String>,
    /// Investigation name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Start date (lexical `xs:dateTime`).
    pub start_date: Option<String>,
    /// Number of datasets.
    pub dataset_count: u64,
    /// Total size of the datafiles in bytes.
    pub total_size: u64,
}

/// Runs the visit list query (one request).
pub async fn visit_rows(session: &Session, filter: &VisitFilter) -> anyhow::Result<Vec<VisitRow>> {
    let rows = session
        .search(queries::visits_query(filter)?.as_str())
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let c = columns(row);
            let get = |i: usize| c.get(i).copied().flatten();
            Some(VisitRow {
                id: int(get(0))?,
                visit_id: text(get(1)),
                name: text(get(2)),
                title: text(get(3)),
                start_date: text(get(4)),
                dataset_count: int(get(5)).unwrap_or(0).max(0) as u64,
                total_size: int(get(6)).unwrap_or(0).max(0) as u64,
            })
        })
        .collect())
}

/// Prints visit rows in the chosen format.
pub fn print_visits(rows: &[VisitRow], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        visits: &'a [VisitRow],
    }
    if format == Format::Json {
        out.write_all(to_json(&Doc { visits: rows })?.as_bytes())?;
        return Ok(());
    }
    let mut t = Table::new(&[
        ("ID", Align::Right),
        ("VISIT", Align::Left),
        ("NAME", Align::Left),
        ("TITLE", Align::Left),
        ("START", Align::Left),
        ("DATASETS", Align::Right),
        ("SIZE", Align::Right),
    ]);
    for r in rows {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        let start = match (format, &r.start_date) {
            (Format::Table, Some(d)) => d.chars().take(10).collect(),
            (_, d) => opt(d),
        };
        t.push(vec![
            r.id.to_string(),
            opt(&r.visit_id),
            opt(&r.name),
            opt(&r.title),
            start,
            r.dataset_count.to_string(),
            if format == Format::Csv {
                r.total_size.to_string()
            } else {
                human_bytes(r.total_size)
            },
        ]);
    }
    match format {
        Format::Csv => out.write_all(t.render_csv().as_bytes())?,
        _ if t.is_empty() => writeln!(out, "no visits found")?,
        _ => out.write_all(t.render().as_bytes())?,
    }
    Ok(())
}

/// The visit with its datasets and datafiles: two requests (resolve, then one INCLUDE query). When
/// the visit holds more objects than the server's `maxEntities`, the server refuses the INCLUDE
/// query; the datafiles are then fetched in ordered pages and attached to their datasets.
pub async fn visit_tree(session: &Session, visit: &str) -> anyhow::Result<VisitNode> {
    let found = catalog::resolve_visit(session, visit).await?;
    let disappeared = || {
        Failure::not_found(
            format!("visit {visit:?} disappeared while reading it"),
            "try again",
        )
    };
    match session.search(&queries::visit_tree_query(found.id)).await {
        Ok(values) => {
            let inv = catalog::entities(&values)
                .into_iter()
                .next()
                .ok_or_else(disappeared)?;
            return Ok(VisitNode::from_dyn(&inv));
        }
        Err(IcatError::Validation { message, .. }) => {
            tracing::info!(%message, "visit too large for one INCLUDE query; paging its datafiles");
        }
        Err(other) => return Err(other.into()),
    }
    let values = session
        .search(&queries::visit_datasets_query(found.id))
        .await?;
    let mut inv = catalog::entities(&values)
        .into_iter()
        .next()
        .ok_or_else(disappeared)?;
    let files = catalog::all_pages(
        session,
        &queries::datafiles_query(&queries::Target::Investigation(found.id)),
        catalog::PAGE,
    )
    .await?;
    let mut by_dataset: HashMap<i64, Vec<DynEntity>> = HashMap::new();
    for mut df in catalog::entities(&files) {
        let dataset = df.one.remove("dataset").and_then(|ds| ds.id());
        if let Some(ds) = dataset {
            by_dataset.entry(ds).or_default().push(df);
        }
    }
    if let Some(datasets) = inv.many.get_mut("datasets") {
        for ds in datasets {
            if let Some(files) = ds.id().and_then(|id| by_dataset.remove(&id)) {
                ds.many.insert("datafiles".to_owned(), files);
            }
        }
    }
    Ok(VisitNode::from_dyn(&inv))
}

/// Prints a visit tree as text or JSON.
pub fn print_tree(node: &VisitNode, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        out.write_all(to_json(node)?.as_bytes())?;
    } else {
        out.write_all(tree::render(std::slice::from_ref(node)).as_bytes())?;
    }
    Ok(())
}

/// `icat search`: runs any JPQL and prints typed results.
pub async fn search(
    session: &Session,
    query: &str,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let values = session.search(query).await?;
    if format == Format::Json {
        let doc = serde_json::json!({
            "query": query,
            "count": values.len(),
            "results": values.iter().map(catalog::json).collect::<Vec<_>>(),
        });
        out.write_all(to_json(&doc)?.as_bytes())?;
        return Ok(());
    }
    let entities = catalog::entities(&values);
    let table = if !values.is_empty() && entities.len() == values.len() {
        // One row per entity, one column per attribute present (id first).
        let mut names: Vec<String> = entities
            .iter()
            .flat_map(|e| e.attrs.keys().cloned())
            .filter(|k| k != "id")
            .collect();
        names.sort();
        names.dedup();
        names.insert(0, "id".into());
        let cols: Vec<(&str, Align)> = names.iter().map(|n| (n.as_str(), Align::Left)).collect();
        let mut t = Table::new(&cols);
        for e in &entities {
            t.push(
                names
                    .iter()
                    .map(|n| tree::attr_text(e, n).unwrap_or_default())
                    .collect(),
            );
        }
        t
    } else {
        let width = values.iter().map(|v| columns(v).len()).max().unwrap_or(1);
        let heads: Vec<String> = if width == 1 {
            vec!["value".into()]
        } else {
            (1..=width).map(|i| format!("column{i}")).collect()
        };
        let cols: Vec<(&str, Align)> = heads.iter().map(|n| (n.as_str(), Align::Left)).collect();
        let mut t = Table::new(&cols);
        for v in &values {
            t.push(
                columns(v)
                    .into_iter()
                    .map(|c| text(c).unwrap_or_default())
                    .collect(),
            );
        }
        t
    };
    match format {
        Format::Csv => out.write_all(table.render_csv().as_bytes())?,
        _ if table.is_empty() => writeln!(out, "no results")?,
        _ => {
            out.write_all(table.render().as_bytes())?;
            writeln!(out, "({} results)", values.len())?;
        }
    }
    Ok(())
}
