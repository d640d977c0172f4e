//! `icat visits`, `icat show`, `icat search`: browsing the catalogue.

use std::collections::HashMap;
use std::io::Write;

use icat_soap::IcatError;
use icat_soap::client::Session;
use icat_soap::model::{Datafile, Investigation, Value};

use crate::catalog::{self, columns, int, text};
pub use crate::commands::browse_output::VisitRow;
use crate::commands::browse_output::{SearchPrinter, VisitPrinter};
use crate::failure::Failure;
use crate::jpql_text::{Paging, QueryShape, with_limit};
use crate::output::{Align, Format, Table, to_json};
use crate::queries::{self, VisitFilter};
use crate::tree::{self, VisitNode};

/// Rows per page of `icat visits` (one row per visit, under ICAT's default `maxEntities`).
pub const VISIT_PAGE: u64 = 5000;

/// Visits per pair of count searches (dataset counts, sizes): as many as one `IN (...)` list may
/// hold.
const COUNT_CHUNK: usize = icat_soap::query::MAX_IN_VALUES;

/// Count searches in flight at once (each chunk's two searches count as two).
const COUNT_CONCURRENCY: usize = 4;

/// Results per page of `icat search` (halved while the server refuses, e.g. for big INCLUDEs).
pub const SEARCH_PAGE: u64 = 1000;

/// Runs the visit list query, page by page past the server's `maxEntities`, stopping after
/// `limit` visits, and hands each page (with its dataset counts and sizes) to `each` as it
/// arrives, so that only one page is held. An instrument that matches no visit is checked:
/// unknown is an error (before anything is handed over).
pub async fn visit_pages(
    session: &Session,
    filter: &VisitFilter,
    limit: Option<u64>,
    mut each: impl FnMut(Vec<VisitRow>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let query = queries::visits_query(filter)?;
    let count = queries::visits_count_query(filter)?;
    let mut pages =
        catalog::Pager::start(session, VISIT_PAGE, limit, Some(count), |offset, count| {
            Ok(with_limit(&query, offset, count))
        })
        .await?;
    let mut any = false;
    while let Some(rows) = pages.next_page().await? {
        let mut visits: Vec<VisitRow> = rows
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
                    dataset_count: 0,
                    total_size: 0,
                })
            })
            .collect();
        drop(rows);
        any = true;
        add_counts(session, &mut visits).await?;
        each(visits)?;
    }
    if !any && let Some(instrument) = &filter.instrument {
        let known = session
            .search(&queries::instrument_count_query(instrument)?)
            .await?;
        let known = known.first().and_then(|v| int(Some(v))).unwrap_or(0);
        if known == 0 {
            return Err(Failure::not_found(
                format!("unknown instrument {instrument:?}"),
                "list the instruments with `icat search \"SELECT i.name FROM Instrument i\"`",
            )
            .into());
        }
    }
    Ok(())
}

/// Every visit row of [`visit_pages`], held together (for the demo's short list).
pub async fn visit_rows(
    session: &Session,
    filter: &VisitFilter,
    limit: Option<u64>,
) -> anyhow::Result<Vec<VisitRow>> {
    let mut all = Vec::new();
    visit_pages(session, filter, limit, |rows| {
        all.extend(rows);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// `icat visits`: prints the visit list page by page as it arrives.
pub async fn visits(
    session: &Session,
    filter: &VisitFilter,
    limit: Option<u64>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut printer = VisitPrinter::new(format);
    visit_pages(session, filter, limit, |rows| printer.page(&rows, out)).await?;
    printer.finish(out)
}

/// Fills in dataset counts and sizes: two searches per [`COUNT_CHUNK`] visits, a few in flight
/// at once. While the server refuses to return that many rows (its `maxEntities` counts them
/// too), the chunks are halved and the counts asked again.
async fn add_counts(session: &Session, visits: &mut [VisitRow]) -> anyhow::Result<()> {
    let ids: Vec<i64> = visits.iter().map(|v| v.id).collect();
    let mut chunk = COUNT_CHUNK;
    let (datasets, sizes) = loop {
        match counts_in_chunks(session, &ids, chunk).await {
            Ok(counted) => break counted,
            Err(IcatError::Validation { .. }) if chunk > 1 => chunk /= 2,
            Err(e) => return Err(e.into()),
        }
    };
    for v in visits {
        v.dataset_count = datasets.get(&v.id).copied().unwrap_or(0);
        v.total_size = sizes.get(&v.id).copied().unwrap_or(0);
    }
    Ok(())
}

/// Dataset counts and total sizes of these investigations, `chunk` per pair of searches, the
/// searches of up to [`COUNT_CONCURRENCY`] / 2 chunks in flight at once.
async fn counts_in_chunks(
    session: &Session,
    ids: &[i64],
    chunk: usize,
) -> Result<(HashMap<i64, u64>, HashMap<i64, u64>), IcatError> {
    use futures_util::{StreamExt, TryStreamExt};
    let parts: Vec<(HashMap<i64, u64>, HashMap<i64, u64>)> =
        futures_util::stream::iter(ids.chunks(chunk.max(1)))
            .map(|part| async move {
                futures_util::try_join!(
                    per_investigation(session, queries::dataset_counts_query(part)),
                    per_investigation(session, queries::datafile_sizes_query(part)),
                )
            })
            .buffer_unordered((COUNT_CONCURRENCY / 2).max(1))
            .try_collect()
            .await?;
    let mut datasets = HashMap::new();
    let mut sizes = HashMap::new();
    for (d, s) in parts {
        datasets.extend(d);
        sizes.extend(s);
    }
    Ok((datasets, sizes))
}

/// Runs a query of (investigation id, number) rows into a map.
async fn per_investigation(
    session: &Session,
    query: icat_soap::Query,
) -> Result<HashMap<i64, u64>, IcatError> {
    let rows = session.search(&query).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let c = columns(row);
            let id = int(c.first().copied().flatten())?;
            let n = int(c.get(1).copied().flatten()).unwrap_or(0);
            Some((id, n.max(0) as u64))
        })
        .collect())
}

/// Prints visit rows in the chosen format.
pub fn print_visits(rows: &[VisitRow], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut printer = VisitPrinter::new(format);
    printer.page(rows, out)?;
    printer.finish(out)
}

/// The visit with its datasets and datafiles. The datasets and the datafiles are read in ordered
/// pages, each after a COUNT, as the other listings are: a visit larger than `--max-rows` is
/// refused before its rows are read, and no single answer can hold more than one page (issue 14:
/// one unpaged INCLUDE answer of 560,000 datafiles cost 338 MiB whatever `--max-rows` said).
pub async fn visit_tree(session: &Session, visit: &str) -> anyhow::Result<VisitNode> {
    let found = catalog::resolve_visit(session, visit).await?;
    let mut inv = session
        .search_entities::<Investigation>(&queries::visit_query(found.id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Failure::not_found(
                format!("visit {visit:?} disappeared while reading it"),
                "try again",
            )
        })?;
    inv.datasets = catalog::typed(
        catalog::all_pages(
            session,
            &queries::visit_datasets_query(found.id),
            catalog::PAGE,
        )
        .await?,
    );
    let files: Vec<Datafile> = catalog::typed(
        catalog::all_pages(
            session,
            &queries::datafiles_query(&queries::Target::Investigation(found.id)),
            catalog::PAGE,
        )
        .await?,
    );
    let mut by_dataset: HashMap<i64, Vec<Datafile>> = HashMap::new();
    for mut df in files {
        if let Some(ds) = df.dataset.take().and_then(|ds| ds.id) {
            by_dataset.entry(ds).or_default().push(df);
        }
    }
    for ds in &mut inv.datasets {
        if let Some(files) = ds.id.and_then(|id| by_dataset.remove(&id)) {
            ds.datafiles = files;
        }
    }
    Ok(VisitNode::from_investigation(&inv))
}

/// Prints a visit tree as text, JSON, or CSV (one row per datafile).
pub fn print_tree(node: &VisitNode, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => out.write_all(to_json(node)?.as_bytes())?,
        Format::Table => out.write_all(tree::render(std::slice::from_ref(node)).as_bytes())?,
        Format::Csv => {
            let mut t = Table::new(&[
                ("DATASET_ID", Align::Right),
                ("DATASET", Align::Left),
                ("DATAFILE_ID", Align::Right),
                ("FILE", Align::Left),
                ("SIZE", Align::Right),
                ("CHECKSUM", Align::Left),
                ("CREATED", Align::Left),
            ]);
            for ds in &node.datasets {
                for f in &ds.files {
                    t.push(vec![
                        ds.id.to_string(),
                        ds.name.clone().unwrap_or_default(),
                        f.id.to_string(),
                        f.name.clone().unwrap_or_default(),
                        f.size.map(|s| s.to_string()).unwrap_or_default(),
                        f.checksum.clone().unwrap_or_default(),
                        f.create_time.clone().unwrap_or_default(),
                    ]);
                }
            }
            out.write_all(t.render_csv().as_bytes())?;
        }
    }
    Ok(())
}

/// Runs a user's JPQL: page by page when it can be ordered (entity queries by id, or queries
/// with their own ORDER BY), as written otherwise; at most `limit` results (for a query that
/// cannot be paged, `LIMIT 0, limit` is added to it).
pub async fn search_values(
    session: &Session,
    query: &str,
    limit: Option<u64>,
) -> anyhow::Result<Vec<Value>> {
    let mut pages = search_pages(session, query, limit).await?;
    let mut values = Vec::new();
    while let Some(page) = pages.next_page().await? {
        values.extend(page);
    }
    Ok(values)
}

/// How the page queries of a user's ordered JPQL are made: `LIMIT offset, count` appended.
type PageQuery = Box<dyn Fn(u64, u64) -> anyhow::Result<String> + Send + Sync>;

/// The pages of a user's JPQL one at a time: ordered queries page by page ([`catalog::Pager`]),
/// others in one search.
pub enum SearchPages<'a> {
    /// An ordered query, paged.
    Paged(catalog::Pager<'a, PageQuery>),
    /// The results of the one search (taken by the first call).
    Once(Option<Vec<Value>>),
}

impl SearchPages<'_> {
    /// The next page (never empty), or `None` after the last.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<Value>>> {
        match self {
            SearchPages::Paged(pager) => pager.next_page().await,
            SearchPages::Once(values) => Ok(values.take().filter(|v| !v.is_empty())),
        }
    }
}

/// Starts a user's JPQL as [`search_values`] runs it, page by page.
pub async fn search_pages<'a>(
    session: &'a Session,
    query: &str,
    limit: Option<u64>,
) -> anyhow::Result<SearchPages<'a>> {
    let shape = QueryShape::parse(query);
    let paging = shape.paging();
    if let Paging::Ordered(ordered) = &paging {
        let count = shape.row_count_query();
        let ordered = ordered.clone();
        let page_query: PageQuery =
            Box::new(move |offset, count| Ok(with_limit(&ordered, offset, count)));
        let pager = catalog::Pager::start(session, SEARCH_PAGE, limit, count, page_query).await?;
        return Ok(SearchPages::Paged(pager));
    }
    // `--limit N` on a query that cannot be paged: the server stops at N itself (when it may
    // return N results at all; if not, the refusal below says how to page).
    let query = match (&paging, limit) {
        (Paging::Unpageable, Some(n)) => shape.first(n),
        _ => query.to_owned(),
    };
    match session.search(&query).await {
        Ok(mut values) => {
            if let Some(l) = limit {
                values.truncate(usize::try_from(l).unwrap_or(usize::MAX));
            }
            // One answer, held whole: bounded by the answer limit; the row limit applies to it
            // like to paged results.
            let row_limit = catalog::max_rows();
            if limit.is_none_or(|l| l > row_limit) && values.len() as u64 > row_limit {
                return Err(catalog::too_many_rows(row_limit, None).into());
            }
            Ok(SearchPages::Once(Some(values)))
        }
        Err(e) if catalog::is_too_many(&e) => {
            let server = e.fault_message().unwrap_or_default().to_owned();
            let server = crate::failure::without_final_stop(&server);
            Err(if let Some(entity) = shape.concise_entity() {
                // ORDER BY or LIMIT advice means nothing in the concise syntax: say how to write
                // it so that icat pages it, or how to ask for the first results.
                let more = if shape.text().trim().eq_ignore_ascii_case(&entity) {
                    ""
                } else {
                    " with its conditions in WHERE"
                };
                Failure::usage(
                    format!(
                        "the server refused the query ({server}) and icat cannot page a query in \
                         ICAT's concise syntax"
                    ),
                    format!(
                        "write it in JPQL, which icat fetches page by page (e.g. \"SELECT x FROM \
                         {entity} x\"{more}), or ask for the first results with --limit 1000"
                    ),
                )
            } else if paging == Paging::OwnLimit {
                Failure::usage(
                    format!("the server refused the query: {server}"),
                    "ask for fewer results at a time with a smaller LIMIT count, e.g. LIMIT 0, 1000",
                )
            } else {
                let key = shape
                    .select_items
                    .first()
                    .filter(|item| !item.contains('('))
                    .cloned()
                    .or_else(|| shape.from_var().map(|v| format!("{v}.id")))
                    .unwrap_or_else(|| "its id".to_owned());
                Failure::usage(
                    format!(
                        "the server refused the query ({server}) and icat cannot page it: it has \
                         no ORDER BY"
                    ),
                    format!(
                        "add ORDER BY (e.g. \"... ORDER BY {key}\") and icat fetches it page by \
                         page, or add LIMIT for the first results (e.g. \"... LIMIT 0, 1000\")"
                    ),
                )
            }
            .into())
        }
        Err(other) => Err(other.into()),
    }
}

/// `icat search`: runs any JPQL and prints typed results page by page as they arrive. Tables
/// head their columns with the SELECT items; entity results show one column per attribute, then
/// the included objects (one cell per relation: the related object, or how many); the columns
/// and their widths come from the first page.
pub async fn search(
    session: &Session,
    query: &str,
    format: Format,
    limit: Option<u64>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut pages = search_pages(session, query, limit).await?;
    let mut printer = SearchPrinter::new(query, QueryShape::parse(query).select_items, format);
    while let Some(values) = pages.next_page().await? {
        printer.page(&values, out)?;
    }
    printer.finish(out)
}
