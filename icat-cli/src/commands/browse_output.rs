//! Printing `icat search` and `icat visits` results page by page (tables, CSV, JSON), so that a
//! listing holds one page whatever the server's COUNT says (issue 14: a COUNT lying just below
//! the row limit made these listings hold every row). Tables take their columns and widths from
//! the first page.

use std::io::Write;

use icat_soap::model::Value;
use serde::Serialize;

use crate::catalog::{self, columns, text};
use crate::entity_view::{EntityView, attr_text};
use crate::output::{Align, Format, JsonListWriter, Table, human_bytes};

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

/// Prints visit rows as they arrive; see [`VisitPrinter::page`] and [`VisitPrinter::finish`].
#[derive(Debug)]
pub struct VisitPrinter {
    format: Format,
    json: Option<JsonListWriter>,
    widths: Option<Vec<usize>>,
    rows: u64,
}

impl VisitPrinter {
    /// A printer in `format`; nothing is written before the first page.
    pub fn new(format: Format) -> VisitPrinter {
        VisitPrinter {
            format,
            json: None,
            widths: None,
            rows: 0,
        }
    }

    /// Rows printed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn table() -> Table {
        Table::new(&[
            ("ID", Align::Right),
            ("VISIT", Align::Left),
            ("NAME", Align::Left),
            ("TITLE", Align::Left),
            ("START", Align::Left),
            ("DATASETS", Align::Right),
            ("SIZE", Align::Right),
        ])
    }

    /// Prints one page of rows.
    pub fn page(&mut self, rows: &[VisitRow], out: &mut dyn Write) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let first = self.rows == 0;
        self.rows += rows.len() as u64;
        if self.format == Format::Json {
            let json = match &mut self.json {
                Some(json) => json,
                None => self.json.insert(JsonListWriter::begin(out, &[], "visits")?),
            };
            for r in rows {
                json.item(out, r)?;
            }
            return Ok(());
        }
        let mut t = Self::table();
        for r in rows {
            let opt = |s: &Option<String>| s.clone().unwrap_or_default();
            let start = match (self.format, &r.start_date) {
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
                if self.format == Format::Csv {
                    r.total_size.to_string()
                } else {
                    human_bytes(r.total_size)
                },
            ]);
        }
        if self.format == Format::Csv {
            out.write_all(t.render_csv_rows(first).as_bytes())?;
        } else {
            let widths = self.widths.get_or_insert_with(|| t.widths());
            out.write_all(t.render_with(widths, first).as_bytes())?;
        }
        Ok(())
    }

    /// Ends the listing (an empty one says so).
    pub fn finish(self, out: &mut dyn Write) -> anyhow::Result<()> {
        match self.format {
            Format::Json => match self.json {
                Some(json) => json.end(out, &[])?,
                None => JsonListWriter::begin(out, &[], "visits")?.end(out, &[])?,
            },
            Format::Csv if self.rows == 0 => {
                out.write_all(Self::table().render_csv().as_bytes())?
            }
            Format::Table if self.rows == 0 => writeln!(out, "no visits found")?,
            _ => {}
        }
        Ok(())
    }
}

/// The columns of a table of entities: `id`, the attributes present (sorted), then one column
/// per included relation: `Dataset 12` for a single object, `3 Datafile` for a list.
struct EntityColumns {
    attrs: Vec<String>,
    ones: Vec<String>,
    manys: Vec<String>,
}

impl EntityColumns {
    fn of(entities: &[EntityView]) -> EntityColumns {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v
        };
        let mut attrs = sorted(
            entities
                .iter()
                .flat_map(|e| e.attrs.keys().cloned())
                .filter(|k| k != "id")
                .collect(),
        );
        attrs.insert(0, "id".into());
        EntityColumns {
            attrs,
            ones: sorted(
                entities
                    .iter()
                    .flat_map(|e| e.one.keys().cloned())
                    .collect(),
            ),
            manys: sorted(
                entities
                    .iter()
                    .flat_map(|e| e.many.keys().cloned())
                    .collect(),
            ),
        }
    }

    fn heads(&self) -> Vec<String> {
        self.attrs
            .iter()
            .chain(&self.ones)
            .chain(&self.manys)
            .cloned()
            .collect()
    }

    fn row(&self, e: &EntityView) -> Vec<String> {
        let mut row: Vec<String> = self
            .attrs
            .iter()
            .map(|n| e.attrs.get(n).map(attr_text).unwrap_or_default())
            .collect();
        row.extend(
            self.ones
                .iter()
                .map(|n| e.one.get(n).map(one_cell).unwrap_or_default()),
        );
        row.extend(self.manys.iter().map(|n| {
            match e.many.get(n) {
                Some(list) => format!(
                    "{} {}",
                    list.len(),
                    list.first().map_or("", |x| x.entity.as_str())
                )
                .trim_end()
                .to_owned(),
                None => String::new(),
            }
        }));
        row
    }
}

/// An included object as table text: its type and id.
fn one_cell(e: &EntityView) -> String {
    match e.id() {
        Some(id) => format!("{} {id}", e.entity),
        None => e.entity.clone(),
    }
}

/// What the columns of a search table are, chosen from its first page.
enum SearchColumns {
    /// Every result of the first page was an entity.
    Entities(EntityColumns),
    /// Plain values or rows of several select items: this many columns.
    Values(usize),
}

/// Prints `icat search` results as they arrive; see [`SearchPrinter::page`] and
/// [`SearchPrinter::finish`].
pub struct SearchPrinter {
    query: String,
    select_items: Vec<String>,
    format: Format,
    json: Option<JsonListWriter>,
    columns: Option<SearchColumns>,
    widths: Option<Vec<usize>>,
    rows: u64,
}

impl SearchPrinter {
    /// A printer for the results of `query` (whose SELECT items head plain columns).
    pub fn new(query: &str, select_items: Vec<String>, format: Format) -> SearchPrinter {
        SearchPrinter {
            query: query.to_owned(),
            select_items,
            format,
            json: None,
            columns: None,
            widths: None,
            rows: 0,
        }
    }

    fn value_heads(&self, width: usize) -> Vec<String> {
        let items = &self.select_items;
        (0..width)
            .map(|i| match items.get(i) {
                Some(item) if items.len() == width => item.clone(),
                _ if width == 1 => "value".to_owned(),
                _ => format!("column{}", i + 1),
            })
            .collect()
    }

    fn heads(&self, columns: &SearchColumns) -> Vec<String> {
        match columns {
            SearchColumns::Entities(c) => c.heads(),
            SearchColumns::Values(width) => self.value_heads(*width),
        }
    }

    /// Prints one page of results.
    pub fn page(&mut self, values: &[Value], out: &mut dyn Write) -> anyhow::Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let first = self.rows == 0;
        self.rows += values.len() as u64;
        if self.format == Format::Json {
            let json = match &mut self.json {
                Some(json) => json,
                None => self.json.insert(JsonListWriter::begin(
                    out,
                    &[("query", serde_json::Value::String(self.query.clone()))],
                    "results",
                )?),
            };
            for v in values {
                json.item(out, &catalog::json(v))?;
            }
            return Ok(());
        }
        let views: Vec<EntityView> = values
            .iter()
            .filter_map(|v| match v {
                Value::Entity(e) => Some(EntityView::of(e)),
                _ => None,
            })
            .collect();
        let chosen = self.columns.get_or_insert_with(|| {
            if views.len() == values.len() {
                SearchColumns::Entities(EntityColumns::of(&views))
            } else {
                SearchColumns::Values(values.iter().map(|v| columns(v).len()).max().unwrap_or(1))
            }
        });
        let rows: Vec<Vec<String>> = match chosen {
            SearchColumns::Entities(c) => views.iter().map(|e| c.row(e)).collect(),
            SearchColumns::Values(_) => values
                .iter()
                .map(|v| {
                    columns(v)
                        .into_iter()
                        .map(|c| text(c).unwrap_or_default())
                        .collect()
                })
                .collect(),
        };
        let heads = match &self.columns {
            Some(c) => self.heads(c),
            None => Vec::new(),
        };
        let cols: Vec<(&str, Align)> = heads.iter().map(|n| (n.as_str(), Align::Left)).collect();
        let mut t = Table::new(&cols);
        for row in rows {
            t.push(row);
        }
        if self.format == Format::Csv {
            out.write_all(t.render_csv_rows(first).as_bytes())?;
        } else {
            let widths = self.widths.get_or_insert_with(|| t.widths());
            out.write_all(t.render_with(widths, first).as_bytes())?;
        }
        Ok(())
    }

    /// Ends the listing: the count (JSON, tables) or, when nothing came, "no results".
    pub fn finish(self, out: &mut dyn Write) -> anyhow::Result<()> {
        let count = serde_json::Value::from(self.rows);
        match self.format {
            Format::Json => {
                let json = match self.json {
                    Some(json) => json,
                    None => JsonListWriter::begin(
                        out,
                        &[("query", serde_json::Value::String(self.query.clone()))],
                        "results",
                    )?,
                };
                json.end(out, &[("count", count)])?;
            }
            Format::Csv if self.rows == 0 => {
                let heads = self.value_heads(1);
                let cols: Vec<(&str, Align)> =
                    heads.iter().map(|n| (n.as_str(), Align::Left)).collect();
                out.write_all(Table::new(&cols).render_csv().as_bytes())?;
            }
            Format::Csv => {}
            Format::Table if self.rows == 0 => writeln!(out, "no results")?,
            Format::Table => writeln!(
                out,
                "({})",
                crate::grammar::count(self.rows, "result", "results")
            )?,
        }
        Ok(())
    }
}
