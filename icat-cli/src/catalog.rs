//! Reading ICAT search results: cells of `fieldSet` rows, typed entities, JSON values, paging
//! past the server's `maxEntities`, and resolving what a user typed (a visit) to an investigation.

use std::sync::atomic::{AtomicU64, Ordering};

use icat_soap::IcatError;
use icat_soap::client::{EntityType, PageGuard, Session};
use icat_soap::model::Value;
use icat_soap::query::Query;

use crate::failure::Failure;
use crate::queries::{self, Target};

/// The columns of a result row (a `fieldSet` gives several, anything else one).
pub fn columns(v: &Value) -> Vec<Option<&Value>> {
    match v {
        Value::FieldSet(cols) => cols.iter().map(Option::as_ref).collect(),
        other => vec![Some(other)],
    }
}

/// A cell as an integer (`xs:long` or `xs:int`).
pub fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Long(n)) => Some(*n),
        Some(Value::Int(n)) => Some(i64::from(*n)),
        Some(Value::Double(x)) if x.fract() == 0.0 => Some(*x as i64),
        _ => None,
    }
}

/// A cell as text (dates in their lexical form, enums by wire name).
pub fn text(v: Option<&Value>) -> Option<String> {
    let v = v?;
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Long(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Double(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::DateTime(d) => d.to_string(),
        Value::Entity(e) => format!("{} {}", e.entity_name(), e.id().unwrap_or_default()),
        Value::FieldSet(cols) => cols
            .iter()
            .map(|c| text(c.as_ref()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", "),
        other => match serde_json::to_value(other) {
            Ok(serde_json::Value::Object(map)) => map
                .values()
                .next()
                .and_then(|x| x.as_str().map(String::from))
                .unwrap_or_default(),
            Ok(x) => x.to_string(),
            Err(_) => String::new(),
        },
    })
}

/// A result value as JSON: entities as `{entity, attrs, one, many}`, rows as arrays, scalars as is.
pub fn json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Entity(e) => {
            serde_json::to_value(crate::entity_view::EntityView::of(e)).unwrap_or(J::Null)
        }
        Value::String(s) => J::String(s.clone()),
        Value::Long(n) => J::from(*n),
        Value::Int(n) => J::from(*n),
        Value::Double(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::Bool(b) => J::Bool(*b),
        Value::DateTime(d) => J::String(d.to_string()),
        Value::FieldSet(cols) => J::Array(
            cols.iter()
                .map(|c| c.as_ref().map_or(J::Null, json))
                .collect(),
        ),
        other => text(Some(other)).map_or(J::Null, J::String),
    }
}

/// The entities of type `T` in a result (values of other kinds are skipped).
pub fn typed<T: EntityType>(values: Vec<Value>) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|v| match v {
            Value::Entity(e) => T::from_entity(e).ok(),
            _ => None,
        })
        .collect()
}

/// Results per page when the CLI pages a datafile search. ICAT counts every included object
/// against `maxEntities` (10,000 by default), and the CLI's datafile queries include the dataset
/// and the investigation: 3,000 x 3 objects stays under the default.
pub const PAGE: u64 = 3000;

/// Whether the server refused a search because the answer would hold more objects than its
/// `maxEntities` (ICAT's `EntityBeanManager`: "attempt to return more than N entities").
pub fn is_too_many(e: &IcatError) -> bool {
    match e {
        IcatError::Validation { message, .. } => message.contains("attempt to return more than"),
        IcatError::RetriesExhausted { last, .. } => is_too_many(last),
        _ => false,
    }
}

/// The default of `--max-rows` (`maxRows` in icat.cfg): the most results a paged listing reads.
pub const DEFAULT_MAX_ROWS: u64 = 1_000_000;

/// The row limit of this process, set once from `--max-rows` / `maxRows` when it connects.
static MAX_ROWS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_ROWS);

/// Sets the most results a paged listing reads (`--max-rows`; at least 1).
pub fn set_max_rows(rows: u64) {
    MAX_ROWS.store(rows.max(1), Ordering::Relaxed);
}

/// The most results a paged listing reads: a server whose COUNT says more, or that keeps
/// sending fresh pages past it, is refused with [`too_many_rows`] (issue 14: a lying COUNT
/// with fresh pages grew `icat search` to 2.3 GB).
pub fn max_rows() -> u64 {
    MAX_ROWS.load(Ordering::Relaxed)
}

/// The refusal of a listing larger than the row limit: `counted` is the server's COUNT when
/// that is what went past the limit.
pub fn too_many_rows(limit: u64, counted: Option<u64>) -> Failure {
    let message = match counted {
        Some(n) => format!(
            "the server counts {n} results for this selection, more than the {limit} icat reads \
             for one listing"
        ),
        None => format!(
            "the server sent more than {limit} results, the most icat reads for one listing"
        ),
    };
    Failure::usage(
        message,
        "narrow the selection (add conditions, or use --limit N where the command has it), or \
         raise the limit with --max-rows N (maxRows in icat.cfg)",
    )
}

/// Every result of an ordered query, fetched `page` results at a time, so selections larger than
/// the server's `maxEntities` work. When the server refuses a page as too large (its
/// `maxEntities` is smaller than ours, or included objects push a page over it), or its answer
/// is above the answer limit (`--max-answer-mib`), the page is halved and asked again. A COUNT
/// of the same selection is searched first and bounds the paging ([`paged`]): a server handing
/// out fresh pages forever is stopped with `IcatError::EndlessPaging` (issue 14).
pub async fn all_pages(session: &Session, query: &Query, page: u64) -> anyhow::Result<Vec<Value>> {
    let jpql = |offset, count| {
        query
            .clone()
            .limit(offset, count)
            .to_jpql()
            .map_err(anyhow::Error::from)
    };
    let count = query.row_count_bound().to_jpql()?;
    paged(session, page, None, Some(count), jpql).await
}

/// Every result of the query that `page_query(offset, count)` renders (the same ordered query
/// with `LIMIT offset, count`), `page` at a time and at most `limit` in all. Pages the server
/// refuses as too large, and pages whose answer is above the client's answer limit, are halved
/// down to 2 results; a refusal of 2 is returned as the error.
/// A page that only repeats earlier results (a server ignoring the offset) ends the paging with
/// `IcatError::EndlessPaging` ([`PageGuard`]). With a `count_query` (a COUNT of at least the
/// rows the paged query returns), that count is searched first and more results than it and
/// one page more end the paging with `IcatError::EndlessPaging` too: a server handing out
/// fresh full pages forever is stopped (issue 14). More results than [`max_rows`] (unless
/// `limit` is below it), counted or sent, are refused with [`too_many_rows`].
pub async fn paged(
    session: &Session,
    page: u64,
    limit: Option<u64>,
    count_query: Option<String>,
    page_query: impl Fn(u64, u64) -> anyhow::Result<String>,
) -> anyhow::Result<Vec<Value>> {
    let mut pages = Pager::start(session, page, limit, count_query, page_query).await?;
    let mut values = Vec::new();
    while let Some(batch) = pages.next_page().await? {
        values.extend(batch);
    }
    Ok(values)
}

/// The pages of a paged search one at a time, with the bounds of [`paged`]: for output that is
/// printed as it arrives, so that only one page is held whatever the server's COUNT says.
pub struct Pager<'a, F> {
    session: &'a Session,
    page: u64,
    limit: Option<u64>,
    page_query: F,
    guard: PageGuard,
    counted_total: Option<u64>,
    /// Most results the count allows, with one page to spare for rows added meanwhile.
    most: Option<u64>,
    row_limit: u64,
    /// Whether the row limit applies (no `limit` below it).
    capped: bool,
    offset: u64,
    done: bool,
}

impl<'a, F: Fn(u64, u64) -> anyhow::Result<String>> Pager<'a, F> {
    /// Searches the count (when given) and checks it against the row limit; see [`paged`].
    pub async fn start(
        session: &'a Session,
        page: u64,
        limit: Option<u64>,
        count_query: Option<String>,
        page_query: F,
    ) -> anyhow::Result<Self> {
        let counted_total = match count_query {
            Some(q) => match session.search(q.as_str()).await {
                Ok(values) => Some(counted(values)?),
                // The count is built from the user's query; a server that cannot count that
                // selection still pages it, with the repeated-page guard alone.
                Err(
                    e @ (IcatError::BadParameter { .. }
                    | IcatError::Internal { .. }
                    | IcatError::NotImplemented { .. }),
                ) => {
                    tracing::debug!(error = %e, "the server refused the count before paging; paging without it");
                    None
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        // The row limit: unless `limit` stops the paging first, a larger count is refused at
        // once and a server sending more than the limit is stopped there.
        let row_limit = max_rows();
        let capped = limit.is_none_or(|l| l > row_limit);
        if capped && let Some(total) = counted_total.filter(|t| *t > row_limit) {
            return Err(too_many_rows(row_limit, Some(total)).into());
        }
        let page = page.max(2);
        Ok(Pager {
            session,
            page,
            limit,
            page_query,
            // A server ignoring the LIMIT offset would otherwise be asked forever (issue 14).
            guard: PageGuard::new(),
            counted_total,
            most: counted_total.map(|total| total.saturating_add(page)),
            row_limit,
            capped,
            offset: 0,
            done: false,
        })
    }

    /// The next page (never empty), or `None` after the last.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<Value>>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let offset = self.offset;
            let want = match self.limit {
                Some(l) if offset >= l => return Ok(None),
                Some(l) => self.page.min(l - offset),
                None => self.page,
            };
            let batch = match self
                .session
                .search((self.page_query)(offset, want)?.as_str())
                .await
            {
                Ok(batch) => batch,
                Err(e)
                    if self.page > 2
                        && matches!(
                            e,
                            IcatError::Validation { .. } | IcatError::ResponseTooLarge { .. }
                        ) =>
                {
                    self.page /= 2;
                    tracing::info!(error = %e, page = self.page, "server refused the page; asking for smaller pages");
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            self.guard.check(offset, &batch)?;
            if let Some(most) = self.most
                && offset + batch.len() as u64 > most
            {
                return Err(IcatError::EndlessPaging {
                    offset,
                    pages: self.guard.pages(),
                    reason: format!(
                        "the server sent more results than the {} it counted before paging",
                        self.counted_total.unwrap_or(0)
                    ),
                }
                .into());
            }
            if self.capped && offset + batch.len() as u64 > self.row_limit {
                // Past the server's own count too: the server broke it, which is what to say
                // (narrowing the selection or raising the limit cannot help).
                if let Some(total) = self.counted_total
                    && offset + batch.len() as u64 > total
                {
                    return Err(IcatError::EndlessPaging {
                        offset,
                        pages: self.guard.pages(),
                        reason: format!(
                            "the server sent more results than the {total} it counted before paging"
                        ),
                    }
                    .into());
                }
                return Err(too_many_rows(self.row_limit, None).into());
            }
            self.done = (batch.len() as u64) < want;
            self.offset += batch.len() as u64;
            if batch.is_empty() {
                return Ok(None);
            }
            return Ok(Some(batch));
        }
    }
}

/// The number a `COUNT` search answered. The COUNT is icat's own (made before paging), so an
/// answer that is not one whole number of at least 0 is the server's fault, said so (issue 14
/// review: "expected one count ... Select the entity itself", advice to rewrite a query the
/// user had not written), exit 5.
fn counted(values: Vec<Value>) -> anyhow::Result<u64> {
    let answer = match values.as_slice() {
        [one @ (Value::Long(_) | Value::Int(_))] => match one.as_i64() {
            Some(n) if n >= 0 => return Ok(n as u64),
            Some(n) => format!("{n}"),
            None => "a number out of range".to_owned(),
        },
        [] => "no value".to_owned(),
        [_] => "a value that is not a whole number".to_owned(),
        more => format!("{} values", more.len()),
    };
    Err(Failure::new(
        crate::failure::ExitKind::Server,
        format!(
            "the server answered the COUNT icat asks before reading a listing with {answer}, not \
             a number of results"
        ),
        "the server is not answering as ICAT does; report it to the facility's ICAT \
         administrators",
    )
    .into())
}

/// An investigation a visit argument resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitRef {
    /// Investigation id.
    pub id: i64,
    /// Visit id.
    pub visit_id: String,
    /// Investigation name.
    pub name: String,
}

/// Picks the investigation a user meant from the candidates matching by visit id, name or id:
/// a unique name match wins, then a unique visit id match, then the id.
pub fn pick_visit(visit: &str, candidates: &[VisitRef]) -> Result<VisitRef, Failure> {
    if candidates.len() == 1 {
        return Ok(candidates[0].clone());
    }
    if candidates.is_empty() {
        return Err(Failure::not_found(
            format!("no visit {visit:?} (no investigation has that visit id, name or id)"),
            "list the visits you can see with `icat visits`",
        ));
    }
    let by_name: Vec<&VisitRef> = candidates.iter().filter(|c| c.name == visit).collect();
    if by_name.len() == 1 {
        return Ok(by_name[0].clone());
    }
    let by_visit: Vec<&VisitRef> = candidates.iter().filter(|c| c.visit_id == visit).collect();
    if by_visit.len() == 1 {
        return Ok(by_visit[0].clone());
    }
    if let Some(c) = candidates.iter().find(|c| c.id.to_string() == visit) {
        return Ok(c.clone());
    }
    let names: Vec<String> = candidates
        .iter()
        .take(5)
        .map(|c| format!("{} (id {})", c.name, c.id))
        .collect();
    Err(Failure::usage(
        format!(
            "visit {visit:?} matches {} investigations: {}{}",
            candidates.len(),
            names.join(", "),
            if candidates.len() > 5 { ", ..." } else { "" }
        ),
        "give the investigation name or its numeric id instead",
    ))
}

/// Resolves a visit argument to one investigation (one query).
pub async fn resolve_visit(session: &Session, visit: &str) -> anyhow::Result<VisitRef> {
    let rows = session
        .search(queries::visit_ids_query(visit)?.as_str())
        .await?;
    let candidates: Vec<VisitRef> = rows
        .iter()
        .filter_map(|row| {
            let cols = columns(row);
            Some(VisitRef {
                id: int(cols.first().copied().flatten())?,
                visit_id: text(cols.get(1).copied().flatten()).unwrap_or_default(),
                name: text(cols.get(2).copied().flatten()).unwrap_or_default(),
            })
        })
        .collect();
    Ok(pick_visit(visit, &candidates)?)
}

/// Resolves the visit of a target: a visit becomes its investigation, dataset names within a
/// visit become dataset ids (every name must exist there). Ids are passed through.
pub async fn resolve_target(session: &Session, target: &Target) -> anyhow::Result<Target> {
    match target {
        Target::Visit(v) => Ok(Target::Investigation(resolve_visit(session, v).await?.id)),
        Target::VisitDatasets { visit, datasets } => {
            let inv = resolve_visit(session, visit).await?;
            let rows = session
                .search(&queries::named_datasets_query(inv.id, datasets))
                .await?;
            let found: Vec<(i64, String)> = rows
                .iter()
                .filter_map(|row| {
                    let c = columns(row);
                    Some((
                        int(c.first().copied().flatten())?,
                        text(c.get(1).copied().flatten()).unwrap_or_default(),
                    ))
                })
                .collect();
            let missing: Vec<&str> = datasets
                .iter()
                .filter(|d| {
                    !found
                        .iter()
                        .any(|(id, name)| name == *d || id.to_string() == **d)
                })
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(Failure::not_found(
                    format!("visit {} has no dataset {}", inv.name, missing.join(", ")),
                    format!("list its datasets with `icat show {visit}`"),
                )
                .into());
            }
            Ok(Target::Datasets(
                found.into_iter().map(|(id, _)| id).collect(),
            ))
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: i64, visit: &str, name: &str) -> VisitRef {
        VisitRef {
            id,
            visit_id: visit.into(),
            name: name.into(),
        }
    }

    #[test]
    fn visit_picking() {
        let c = [v(1, "1", "SIM000001"), v(2, "1", "SIM000002")];
        assert_eq!(pick_visit("SIM000002", &c).unwrap().id, 2);
        assert_eq!(pick_visit("2", &[v(2, "1", "SIM000002")]).unwrap().id, 2);
        // "1" is the visit id of both and the id of the first: the id decides.
        assert_eq!(pick_visit("1", &c).unwrap().id, 1);
        let amb = [v(5, "7", "A"), v(6, "7", "B")];
        let err = pick_visit("7", &amb).unwrap_err();
        assert_eq!(err.kind, crate::failure::ExitKind::Usage);
        assert!(err.message.contains("matches 2 investigations"));
        let err = pick_visit("nope", &[]).unwrap_err();
        assert_eq!(err.kind, crate::failure::ExitKind::NotFound);
    }

    #[test]
    fn cells() {
        let row = Value::FieldSet(vec![
            Some(Value::Long(3)),
            None,
            Some(Value::String("x".into())),
        ]);
        let cols = columns(&row);
        assert_eq!(int(cols[0]), Some(3));
        assert_eq!(text(cols[1]), None);
        assert_eq!(text(cols[2]).as_deref(), Some("x"));
        assert_eq!(json(&row), serde_json::json!([3, null, "x"]));
    }
}
