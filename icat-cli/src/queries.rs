//! The JPQL the CLI sends. Queries are built with `icat_soap::query::Query`, which escapes every
//! value and checks every path against the ICAT schema offline; only the visit listing (which uses
//! ICAT's `:user` variable) is written as text, with values quoted by the same `quote_string` the
//! builder uses.

use icat_soap::query::{Aggregate, Condition, Query, QueryError, quote_string};

use crate::failure::Failure;

/// Turns a builder error (a user value the server could not carry) into a usage error.
fn invalid(value: &str, err: QueryError) -> Failure {
    Failure::usage(
        format!("{value:?} cannot be sent to ICAT: {err}"),
        "remove control characters and try again",
    )
}

/// A JPQL string literal: quotes doubled; characters XML cannot carry are refused.
pub fn literal(value: &str) -> Result<String, Failure> {
    quote_string(value, "value").map_err(|e| invalid(value, e))
}

/// Renders a builder query, mapping errors in user values to usage errors.
fn render(query: &Query, value: &str) -> Result<String, Failure> {
    query.to_jpql().map_err(|e| invalid(value, e))
}

/// A comma-separated id list, for messages.
pub fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` into a JPQL timestamp literal `{ts ...}`.
pub fn ts_literal(date: &str) -> Result<String, Failure> {
    let bad = || {
        Failure::usage(
            format!("{date:?} is not a date"),
            "write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS",
        )
    };
    let (day, time) = match date.split_once(['T', ' ']) {
        Some((d, t)) => (d, t),
        None => (date, "00:00:00"),
    };
    let d: Vec<&str> = day.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
        return Err(bad());
    }
    if !(2..=3).contains(&t.len()) || !t.iter().all(|p| digits(p, 2)) {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or(99);
    if !(1..=12).contains(&num(d[1]))
        || !(1..=31).contains(&num(d[2]))
        || num(t[0]) > 23
        || num(t[1]) > 59
    {
        return Err(bad());
    }
    let secs = t.get(2).copied().unwrap_or("00");
    Ok(format!(
        "{{ts {}-{}-{} {}:{}:{}}}",
        d[0], d[1], d[2], t[0], t[1], secs
    ))
}

/// Filters for `icat visits`.
#[derive(Clone, Debug, Default)]
pub struct VisitFilter {
    /// Instrument name or full name.
    pub instrument: Option<String>,
    /// Start date lower bound (`YYYY-MM-DD...`).
    pub since: Option<String>,
    /// Only the caller's visits.
    pub mine: bool,
}

/// The visit list, one row per visit: id, visit id, name, title, start date.
///
/// Dataset counts and sizes are not aggregated here: on a real ICAT a non-root user's rule
/// restrictions are added for every joined variable (`ds.id IN (...)`, `df.id IN (...)`), so an
/// outer join to a dataset without datafiles yields a row no rule admits and the dataset is not
/// counted. [`dataset_counts_query`] and [`datafile_sizes_query`] count with inner joins instead.
pub fn visits_query(filter: &VisitFilter) -> Result<String, Failure> {
    let mut q = String::from("SELECT DISTINCT i.id, i.visitId, i.name, i.title, i.startDate FROM ");
    q.push_str(&visits_selection(filter)?);
    q.push_str(" ORDER BY i.startDate DESC, i.id");
    Ok(q)
}

/// At least as many as the visits [`visits_query`] lists (the same selection without DISTINCT),
/// searched before paging it so that a server handing out fresh pages forever is stopped.
pub fn visits_count_query(filter: &VisitFilter) -> Result<String, Failure> {
    Ok(format!(
        "SELECT COUNT(i) FROM {}",
        visits_selection(filter)?
    ))
}

/// The FROM .. WHERE of the visit list.
fn visits_selection(filter: &VisitFilter) -> Result<String, Failure> {
    let mut q = String::from("Investigation i");
    let mut conditions = Vec::new();
    if let Some(inst) = &filter.instrument {
        q.push_str(" JOIN i.investigationInstruments ii JOIN ii.instrument inst");
        let l = literal(inst)?;
        conditions.push(format!("(inst.name = {l} OR inst.fullName = {l})"));
    }
    if filter.mine {
        q.push_str(" JOIN i.investigationUsers iu JOIN iu.user u");
        conditions.push("u.name = :user".to_string());
    }
    if let Some(since) = &filter.since {
        conditions.push(format!("i.startDate >= {}", ts_literal(since)?));
    }
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    Ok(q)
}

/// How many datasets each of these investigations has: rows of (investigation id, count), none
/// for an investigation without (readable) datasets.
pub fn dataset_counts_query(investigations: &[i64]) -> Query {
    Query::new("Dataset")
        .select("investigation.id")
        .count()
        .filter(Condition::is_in(
            "investigation.id",
            investigations.iter().copied(),
        ))
        .group_by("investigation.id")
}

/// The total datafile size of each of these investigations: rows of (investigation id, sum).
pub fn datafile_sizes_query(investigations: &[i64]) -> Query {
    Query::new("Datafile")
        .select("dataset.investigation.id")
        .aggregate(Aggregate::Sum, "fileSize")
        .filter(Condition::is_in(
            "dataset.investigation.id",
            investigations.iter().copied(),
        ))
        .group_by("dataset.investigation.id")
}

/// How many instruments have this name or full name (to tell an unknown instrument from one
/// without visits).
pub fn instrument_count_query(instrument: &str) -> Result<String, Failure> {
    let q = Query::new("Instrument").count().filter(Condition::any([
        Condition::eq("name", instrument),
        Condition::eq("fullName", instrument),
    ]));
    render(&q, instrument)
}

/// The condition picking a visit by visit id or investigation name, or by numeric id. `path` leads
/// from the queried entity to the investigation (`""` on an `Investigation` query,
/// `"dataset.investigation."` on a `Datafile` query).
pub fn visit_condition(path: &str, visit: &str) -> Condition {
    let mut any = vec![
        Condition::eq(format!("{path}visitId"), visit),
        Condition::eq(format!("{path}name"), visit),
    ];
    if let Ok(id) = visit.parse::<i64>() {
        any.push(Condition::eq(format!("{path}id"), id));
    }
    Condition::any(any)
}

/// How many investigations carry this visit id.
pub fn visit_id_count_query(visit_id: &str) -> Query {
    Query::new("Investigation")
        .count()
        .where_eq("visitId", visit_id)
}

/// The investigations a visit name or id refers to (id, visit id, name).
pub fn visit_ids_query(visit: &str) -> Result<String, Failure> {
    let q = Query::new("Investigation")
        .select("id")
        .select("visitId")
        .select("name")
        .filter(visit_condition("", visit))
        .order_by("id");
    render(&q, visit)
}

/// One investigation, nothing included: the first step of `icat show`, whose datasets and
/// datafiles are then paged ([`visit_datasets_query`], [`datafiles_query`]).
pub fn visit_query(investigation: i64) -> Query {
    Query::new("Investigation").where_eq("id", investigation)
}

/// The datasets of an investigation, ordered for paging (by name, then id).
pub fn visit_datasets_query(investigation: i64) -> Query {
    Query::new("Dataset")
        .where_eq("investigation.id", investigation)
        .order_by("name")
        .order_by("id")
}

/// What a download, status or restore acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A visit, by visit id, name or investigation id.
    Visit(String),
    /// Datasets of a visit, by name or id.
    VisitDatasets {
        /// The visit, by visit id, name or investigation id.
        visit: String,
        /// Dataset names or ids within the visit.
        datasets: Vec<String>,
    },
    /// An investigation by id (a visit after resolution).
    Investigation(i64),
    /// Dataset ids.
    Datasets(Vec<i64>),
    /// Datafile ids.
    Datafiles(Vec<i64>),
}

/// Datasets by name, or by id for the values that are numbers; `path` leads to the dataset.
pub fn dataset_condition(path: &str, datasets: &[String]) -> Condition {
    let ids: Vec<i64> = datasets.iter().filter_map(|d| d.parse().ok()).collect();
    let mut any = vec![Condition::is_in(
        format!("{path}name"),
        datasets.iter().map(String::as_str),
    )];
    if !ids.is_empty() {
        any.push(Condition::is_in(format!("{path}id"), ids));
    }
    Condition::any(any)
}

/// The datafiles of a target with their dataset and investigation, ordered for stable paging.
/// Unlimited: callers page it with `Session::search_pages`.
pub fn datafiles_query(target: &Target) -> Query {
    let q = Query::new("Datafile");
    let q = match target {
        Target::Visit(v) => q.filter(visit_condition("dataset.investigation.", v)),
        Target::VisitDatasets { visit, datasets } => q
            .filter(visit_condition("dataset.investigation.", visit))
            .filter(dataset_condition("dataset.", datasets)),
        Target::Investigation(id) => q.where_eq("dataset.investigation.id", *id),
        Target::Datasets(ids) => q.filter(Condition::is_in("dataset.id", ids.iter().copied())),
        Target::Datafiles(ids) => q.filter(Condition::is_in("id", ids.iter().copied())),
    };
    q.order_by("dataset.investigation.id")
        .order_by("dataset.id")
        .order_by("id")
        .include("dataset.investigation")
}

/// The ids and names of a target's datasets (a resolved investigation, or dataset ids), or of
/// datafile ids: `(kind, query)`.
pub fn items_query(target: &Target) -> (&'static str, Query) {
    match target {
        Target::Visit(v) => (
            "dataset",
            Query::new("Dataset")
                .select("id")
                .select("name")
                .filter(visit_condition("investigation.", v))
                .order_by("name")
                .order_by("id"),
        ),
        Target::VisitDatasets { visit, datasets } => (
            "dataset",
            Query::new("Dataset")
                .select("id")
                .select("name")
                .filter(visit_condition("investigation.", visit))
                .filter(dataset_condition("", datasets))
                .order_by("name")
                .order_by("id"),
        ),
        Target::Investigation(id) => (
            "dataset",
            Query::new("Dataset")
                .select("id")
                .select("name")
                .where_eq("investigation.id", *id)
                .order_by("name")
                .order_by("id"),
        ),
        Target::Datasets(ids) => (
            "dataset",
            Query::new("Dataset")
                .select("id")
                .select("name")
                .filter(Condition::is_in("id", ids.iter().copied()))
                .order_by("id"),
        ),
        Target::Datafiles(ids) => (
            "datafile",
            Query::new("Datafile")
                .select("id")
                .select("name")
                .filter(Condition::is_in("id", ids.iter().copied()))
                .order_by("id"),
        ),
    }
}

/// The ids and names of the datasets of an investigation picked by name or id.
pub fn named_datasets_query(investigation: i64, datasets: &[String]) -> Query {
    Query::new("Dataset")
        .select("id")
        .select("name")
        .where_eq("investigation.id", investigation)
        .filter(dataset_condition("", datasets))
        .order_by("id")
}

/// The facility id of a dataset.
pub fn dataset_facility_query(dataset: i64) -> Query {
    Query::new("Dataset")
        .select("investigation.facility.id")
        .where_eq("id", dataset)
}

/// The datafile formats of a facility (a handful; names are matched in the CLI, ignoring case).
pub fn formats_query(facility: i64) -> Query {
    Query::new("DatafileFormat")
        .where_eq("facility.id", facility)
        .order_by("id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_literals() {
        assert_eq!(literal("O'Brien").unwrap(), "'O''Brien'");
        assert_eq!(literal("x' OR '1'='1").unwrap(), "'x'' OR ''1''=''1'");
        assert!(literal("a\u{0}b").is_err());
        let q = visits_query(&VisitFilter {
            instrument: Some("I'11".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(
            q.contains("inst.name = 'I''11' OR inst.fullName = 'I''11'"),
            "{q}"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            ts_literal("2024-03-01").unwrap(),
            "{ts 2024-03-01 00:00:00}"
        );
        assert_eq!(
            ts_literal("2024-03-01T12:30").unwrap(),
            "{ts 2024-03-01 12:30:00}"
        );
        assert_eq!(
            ts_literal("2024-03-01 12:30:05").unwrap(),
            "{ts 2024-03-01 12:30:05}"
        );
        for bad in [
            "yesterday",
            "2024-3-1",
            "2024-13-01",
            "2024-01-01T25:00",
            "2024-01-01'",
        ] {
            assert!(ts_literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn visits_query_shapes() {
        let q = visits_query(&VisitFilter::default()).unwrap();
        assert!(!q.contains("WHERE"));
        assert!(q.starts_with("SELECT DISTINCT i.id, i.visitId"), "{q}");
        assert!(!q.contains("LEFT JOIN") && !q.contains("COUNT"), "{q}");
        assert_eq!(
            dataset_counts_query(&[3, 4]).to_jpql().unwrap(),
            "SELECT i.id, COUNT(d) FROM Dataset d JOIN d.investigation i \
             WHERE i.id IN (3, 4) GROUP BY i.id"
        );
        let q = visits_query(&VisitFilter {
            mine: true,
            since: Some("2020-01-01".into()),
            instrument: None,
        })
        .unwrap();
        assert!(
            q.contains("WHERE u.name = :user AND i.startDate >= {ts 2020-01-01 00:00:00}"),
            "{q}"
        );
    }

    #[test]
    fn visit_lookup_queries() {
        assert_eq!(
            visit_ids_query("42").unwrap(),
            "SELECT i.id, i.visitId, i.name FROM Investigation i \
             WHERE (i.visitId = '42' OR i.name = '42' OR i.id = 42) ORDER BY i.id"
        );
        assert_eq!(
            visit_ids_query("x' OR '1'='1").unwrap(),
            "SELECT i.id, i.visitId, i.name FROM Investigation i \
             WHERE (i.visitId = 'x'' OR ''1''=''1' OR i.name = 'x'' OR ''1''=''1') ORDER BY i.id"
        );
        assert!(visit_ids_query("a\u{1}b").is_err());
    }

    #[test]
    fn datafile_queries_are_ordered_for_paging() {
        let q = datafiles_query(&Target::Datasets(vec![1, 2]))
            .to_jpql()
            .unwrap();
        assert!(q.contains("IN (1, 2)"), "{q}");
        assert!(q.contains("ORDER BY"), "{q}");
        assert!(q.contains("INCLUDE"), "{q}");
        let q = datafiles_query(&Target::Visit("V'1".into()))
            .to_jpql()
            .unwrap();
        assert!(q.contains("visitId = 'V''1'"), "{q}");
        for target in [
            Target::VisitDatasets {
                visit: "V1".into(),
                datasets: vec!["ds'1".into(), "7".into()],
            },
            Target::Investigation(3),
            Target::Datafiles(vec![5]),
            Target::Visit("7".into()),
        ] {
            datafiles_query(&target).to_jpql().unwrap();
            items_query(&target).1.to_jpql().unwrap();
        }
        dataset_facility_query(1).to_jpql().unwrap();
        visit_query(1).to_jpql().unwrap();
        visit_datasets_query(1).to_jpql().unwrap();
        formats_query(1).to_jpql().unwrap();
    }
}
