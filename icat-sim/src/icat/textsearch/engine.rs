//! Running a `search/documents` query: hits come from the index in blocks of
//! `searchBlockSize`, ordered by relevance (or the requested sort) with the entity id as
//! tie-breaker; each block is filtered by the caller's READ access, and blocks are fetched until
//! `minCount` readable hits are collected or the hits run out; at most `maxCount` are returned
//! (icat.server `EntityBeanManager.searchDocuments` and `filterReadAccess`). `search_after` is the
//! array `[score, id]`, or `[sort values..., id]` with a sort (`SearchApi.buildSearchAfter`, as
//! the OpenSearch backend writes it).

use std::time::{Duration, Instant};

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

use super::fields::{JoinedKind, Kind, Target};
use super::index;
use super::lucene::Match;
use super::query::{SearchQuery, SqlPart, sort_field};
use crate::icat::access::Access;
use crate::icat::access::UserAccess;
use crate::icat::db::Db;
use crate::icat::error::IcatError;

/// One hit: entity id, score and its document's public fields.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The entity id.
    pub id: i64,
    /// The relevance score (1 for every hit when the query has no text).
    pub score: f64,
    /// The document fields (`source`).
    pub source: Map<String, Value>,
    /// The values of the sort fields (or the score), then the id: its `search_after`.
    pub after: Vec<Value>,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The readable hits, in order.
    pub hits: Vec<Hit>,
    /// Where the next page starts, if the hits may go on.
    pub search_after: Option<Value>,
}

/// Limits of one search.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Collect at least this many readable hits if there are (default 10).
    pub min_count: usize,
    /// Return at most this many (default 100).
    pub max_count: usize,
    /// Hits per index block (`search.searchBlockSize`).
    pub block_size: usize,
    /// `maxEntities`.
    pub max_entities: u64,
    /// `search.maxSearchTimeSeconds`.
    pub max_time: Duration,
}

/// The sort of a search: by score, or by fields.
#[derive(Debug, Clone)]
pub enum Sort {
    /// Relevance, then id.
    Score,
    /// Fields (SQL, kind, name, descending), then id.
    Fields(Vec<(&'static str, Kind, String, bool)>),
}

impl Sort {
    /// Parses the `sort` parameter (`{"date": "desc", ...}`; empty or `{}` is by score).
    pub fn parse(target: Target, sort: Option<&str>) -> Result<Sort, IcatError> {
        let Some(text) = sort.filter(|s| !s.trim().is_empty()) else {
            return Ok(Sort::Score);
        };
        // Keys in the order given: serde_json's map sorts them, so read them in order here.
        let keys = ordered_keys(text)?;
        if keys.is_empty() {
            return Ok(Sort::Score);
        }
        let mut fields = Vec::new();
        for (key, order) in keys {
            let desc = match order.as_str() {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(IcatError::bad_parameter(format!(
                        "Sort order must be 'asc' or 'desc' but it was '{other}'"
                    )));
                }
            };
            let (sql, kind) = sort_field(target, &key)?;
            fields.push((sql, kind, key, desc));
        }
        Ok(Sort::Fields(fields))
    }
}

/// The `(key, value)` pairs of a flat JSON object of strings, in document order.
fn ordered_keys(text: &str) -> Result<Vec<(String, String)>, IcatError> {
    let bad = |e: &dyn std::fmt::Display| IcatError::bad_parameter(format!("JsonException {e}"));
    let mut de = serde_json::Deserializer::from_str(text);
    let pairs = <OrderedPairs as serde::Deserialize>::deserialize(&mut de).map_err(|e| bad(&e))?;
    de.end().map_err(|e| bad(&e))?;
    Ok(pairs.0)
}

struct OrderedPairs(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for OrderedPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of field names to \"asc\" or \"desc\"")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedPairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedPairs(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn sql_of_json(v: &Value) -> Result<Sql, IcatError> {
    match v {
        Value::Number(n) => Ok(n
            .as_i64()
            .map(Sql::Integer)
            .or_else(|| n.as_f64().map(Sql::Real))
            .unwrap_or(Sql::Null)),
        Value::String(s) => Ok(Sql::Text(s.clone())),
        other => Err(IcatError::bad_parameter(format!(
            "search_after should be an array of STRING and NUMBER, but had entry of type {}",
            super::query::json_type(other)
        ))),
    }
}

fn json_of_sql(v: &Sql) -> Value {
    match v {
        Sql::Integer(n) => json!(n),
        Sql::Real(d) => json!(d),
        Sql::Text(s) => json!(s),
        Sql::Null | Sql::Blob(_) => Value::Null,
    }
}

/// Everything one block query needs.
struct Plan {
    /// `WITH hits(id, score) AS (...)` or empty.
    with: SqlPart,
    /// The score expression.
    score: &'static str,
    /// Join to the hits, or empty.
    join: &'static str,
    conditions: SqlPart,
    sort: Sort,
    entity: &'static str,
}

impl Plan {
    fn new(q: &SearchQuery, sort: Sort) -> Result<Option<Plan>, IcatError> {
        let mut with = SqlPart::default();
        let (score, join) = match q.text_matches()? {
            None => ("1.0", ""),
            Some((own, samples)) => {
                let own_table = match q.target {
                    Target::Investigation => index::INVESTIGATION.table,
                    Target::Dataset => index::DATASET.table,
                    Target::Datafile => index::DATAFILE.table,
                };
                let mut arms = Vec::new();
                if let Match::Expr(e) = own {
                    arms.push(format!(
                        "SELECT rowid AS id, -bm25(\"{own_table}\") AS s FROM \"{own_table}\" WHERE \"{own_table}\" MATCH ?"
                    ));
                    with.params.push(Sql::Text(e));
                }
                let mut sample_cte = String::new();
                if let Some(Match::Expr(e)) = samples {
                    // SearchBucket.parseInvestigationQuery: samples joined with ScoreMode.Avg.
                    sample_cte = format!(
                        "smp AS MATERIALIZED (SELECT s.\"investigation_id\" AS id, -bm25(\"{t}\") AS s \
                         FROM \"{t}\" JOIN \"Sample\" s ON s.\"id\" = \"{t}\".rowid WHERE \"{t}\" MATCH ?), ",
                        t = index::SAMPLE.table
                    );
                    with.params.insert(0, Sql::Text(e));
                    arms.push("SELECT id, AVG(s) FROM smp GROUP BY id".into());
                }
                if arms.is_empty() {
                    return Ok(None);
                }
                with.sql = format!(
                    "WITH {sample_cte}own AS MATERIALIZED ({}), \
                     hits(id, score) AS (SELECT id, SUM(s) FROM own GROUP BY id) ",
                    arms.join(" UNION ALL ")
                );
                ("h.score", "JOIN hits h ON h.id = x.\"id\"")
            }
        };
        Ok(Some(Plan {
            with,
            score,
            join,
            conditions: q.conditions()?,
            sort,
            entity: q.target.entity(),
        }))
    }

    /// The sort columns (none for a sort by score).
    fn sort_cols(&self) -> Vec<String> {
        match &self.sort {
            Sort::Score => Vec::new(),
            Sort::Fields(f) => f.iter().map(|(sql, ..)| sql.to_string()).collect(),
        }
    }

    /// The query of one block of hits after `after`, with its parameters.
    fn block_sql(
        &self,
        after: Option<&[Value]>,
        size: usize,
    ) -> Result<(String, Vec<Sql>), IcatError> {
        let mut params = self.with.params.clone();
        let sort_cols = self.sort_cols();
        let mut sql = format!(
            "{}SELECT x.\"id\", {}{} FROM \"{}\" x {} WHERE {}",
            self.with.sql,
            self.score,
            sort_cols
                .iter()
                .map(|c| format!(", {c}"))
                .collect::<String>(),
            self.entity,
            self.join,
            self.conditions.sql
        );
        params.extend(self.conditions.params.iter().cloned());
        if let Some(after) = after {
            let (cond, p) = self.after_condition(after)?;
            sql.push_str(" AND ");
            sql.push_str(&cond);
            params.extend(p);
        }
        let order = match &self.sort {
            Sort::Score => format!("{} DESC, x.\"id\" ASC", self.score),
            Sort::Fields(f) => {
                let mut parts: Vec<String> = f
                    .iter()
                    .map(|(s, _, _, desc)| format!("{s} {}", if *desc { "DESC" } else { "ASC" }))
                    .collect();
                parts.push("x.\"id\" ASC".into());
                parts.join(", ")
            }
        };
        sql.push_str(&format!(" ORDER BY {order} LIMIT {size}"));
        Ok((sql, params))
    }

    /// One block of hits after `after` (ids, scores and sort values).
    fn block(
        &self,
        db: &Db,
        after: Option<&[Value]>,
        size: usize,
    ) -> Result<Vec<(i64, f64, Vec<Value>)>, IcatError> {
        let (sql, params) = self.block_sql(after, size)?;
        let sort_cols = self.sort_cols();
        let mut stmt = db.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), |r| {
            let id: i64 = r.get(0)?;
            let score: f64 = r.get(1)?;
            let mut values = Vec::with_capacity(sort_cols.len());
            for i in 0..sort_cols.len() {
                values.push(json_of_sql(&r.get::<_, Sql>(2 + i)?));
            }
            Ok((id, score, values))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?);
        }
        Ok(out)
    }

    /// Rows strictly after the `search_after` values in the sort order.
    fn after_condition(&self, after: &[Value]) -> Result<(String, Vec<Sql>), IcatError> {
        let (cols, descs): (Vec<String>, Vec<bool>) = match &self.sort {
            Sort::Score => (vec![self.score.to_string()], vec![true]),
            Sort::Fields(f) => f.iter().map(|(s, _, _, d)| (s.to_string(), *d)).unzip(),
        };
        if after.len() != cols.len() + 1 {
            return Err(IcatError::bad_parameter(format!(
                "search_after should have {} values (the sort values and the id), but had {}",
                cols.len() + 1,
                after.len()
            )));
        }
        let values: Vec<Sql> = after.iter().map(sql_of_json).collect::<Result<_, _>>()?;
        let mut ors = Vec::new();
        // The first sort value also bounds the rows on its own: implied by the OR below, but a
        // range an index on the first sort column can start at, instead of reading every row
        // before the page again.
        let lead = format!("{} {} ?", cols[0], if descs[0] { "<=" } else { ">=" });
        let mut params = vec![values[0].clone()];
        for i in 0..=cols.len() {
            let mut ands = Vec::new();
            for j in 0..i {
                ands.push(format!("{} = ?", cols[j]));
                params.push(values[j].clone());
            }
            if i < cols.len() {
                ands.push(format!(
                    "{} {} ?",
                    cols[i],
                    if descs[i] { "<" } else { ">" }
                ));
            } else {
                ands.push("x.\"id\" > ?".into());
            }
            params.push(values[i].clone());
            ors.push(format!("({})", ands.join(" AND ")));
        }
        Ok((format!("{lead} AND ({})", ors.join(" OR ")), params))
    }
}

/// Runs a search. `access` is `None` for a root user; `public` tells which relationships are
/// public (what `source` may show).
#[allow(clippy::too_many_arguments)]
pub fn search(
    db: &Db,
    access: Option<&UserAccess>,
    public: &UserAccess,
    q: &SearchQuery,
    search_after: Option<&Value>,
    sort: Sort,
    limits: Limits,
) -> Result<Found, IcatError> {
    let started = Instant::now();
    let Some(plan) = Plan::new(q, sort.clone())? else {
        return Ok(Found {
            hits: Vec::new(),
            search_after: None,
        });
    };
    let mut after: Option<Vec<Value>> = match search_after {
        None => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(other) => {
            return Err(IcatError::bad_parameter(format!(
                "search_after should be an ARRAY, but was {}",
                super::query::json_type(other)
            )));
        }
    };
    let now = db.clock().now_millis();
    let mut accepted: Vec<(i64, f64, Vec<Value>)> = Vec::new();
    let last: Option<Vec<Value>> = loop {
        let block = plan.block(db, after.as_deref(), limits.block_size)?;
        let ids: Vec<i64> = block.iter().map(|b| b.0).collect();
        let readable: std::collections::HashSet<i64> = match access {
            None => ids.iter().copied().collect(),
            Some(a) => a
                .allowed_ids(db.conn(), Access::Read, plan.entity, &ids, now)?
                .into_iter()
                .collect(),
        };
        let engine_after = (block.len() == limits.block_size)
            .then(|| block.last().map(|b| key_of(&sort, b)))
            .flatten();
        let mut stopped = None;
        for row in &block {
            if !readable.contains(&row.0) {
                continue;
            }
            accepted.push(row.clone());
            if accepted.len() as u64 > limits.max_entities {
                return Err(IcatError::validation(format!(
                    "attempt to return more than {} entities",
                    limits.max_entities
                )));
            }
            if accepted.len() == limits.max_count {
                stopped = Some(key_of(&sort, row));
                break;
            }
        }
        if let Some(stop) = stopped {
            break Some(stop);
        }
        let Some(next) = engine_after else {
            break None;
        };
        if started.elapsed() > limits.max_time {
            return Err(IcatError::internal(format!(
                "Search cancelled for exceeding {} seconds",
                limits.max_time.as_secs()
            )));
        }
        if accepted.len() >= limits.min_count {
            break Some(next);
        }
        after = Some(next);
    };
    let fields: Vec<_> = q
        .target
        .fields()
        .iter()
        .filter(|f| f.needs.iter().all(|s| public.step_is_public(s.0, s.1, s.2)))
        .collect();
    let joined: Vec<_> = q
        .target
        .joined()
        .iter()
        .filter(|j| j.needs.iter().all(|s| public.step_is_public(s.0, s.1, s.2)))
        .collect();
    let mut hits = Vec::with_capacity(accepted.len());
    for (id, score, sort_values) in accepted {
        let source = source_of(db, q.target, id, &fields, &joined)?;
        let mut after = sort_values;
        if after.is_empty() {
            after.push(json!(score));
        }
        after.push(json!(id));
        hits.push(Hit {
            id,
            score,
            source,
            after,
        });
    }
    Ok(Found {
        hits,
        search_after: last.map(Value::Array),
    })
}

fn key_of(sort: &Sort, row: &(i64, f64, Vec<Value>)) -> Vec<Value> {
    let mut key = match sort {
        Sort::Score => vec![json!(row.1)],
        Sort::Fields(_) => row.2.clone(),
    };
    key.push(json!(row.0));
    key
}

/// The public fields of one document, plus its joined lists.
fn source_of(
    db: &Db,
    target: Target,
    id: i64,
    fields: &[&super::fields::DocField],
    joined: &[&super::fields::Joined],
) -> Result<Map<String, Value>, IcatError> {
    let select = fields.iter().map(|f| f.sql).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {select} FROM \"{}\" x WHERE x.\"id\" = ?1",
        target.entity()
    );
    let mut out = Map::new();
    let values: Vec<Sql> = db.conn().prepare_cached(&sql)?.query_row([id], |r| {
        (0..fields.len()).map(|i| r.get::<_, Sql>(i)).collect()
    })?;
    for (f, v) in fields.iter().zip(values) {
        let value = match (f.kind, v) {
            (_, Sql::Null) => continue,
            (Kind::Long, Sql::Integer(n)) => json!(n),
            (Kind::Long, Sql::Real(d)) => json!(d as i64),
            (_, other) => json_of_sql(&other),
        };
        out.insert(f.name.to_string(), value);
    }
    if !joined.is_empty() {
        let inv_sql = format!(
            "SELECT {} FROM \"{}\" x WHERE x.\"id\" = ?1",
            target.investigation_id_sql(),
            target.entity()
        );
        let inv: Option<i64> = db
            .conn()
            .prepare_cached(&inv_sql)?
            .query_row([id], |r| r.get(0))?;
        if let Some(inv) = inv {
            for j in joined {
                let mut stmt = db.conn().prepare_cached(j.sql)?;
                let rows = stmt.query_map([inv], |r| {
                    let mut doc = Map::new();
                    for (i, (name, kind)) in j.fields.iter().enumerate() {
                        let v: Sql = r.get(i)?;
                        let value = match (kind, v) {
                            (_, Sql::Null) => continue,
                            (JoinedKind::Double, Sql::Integer(n)) => json!(n as f64),
                            (_, other) => json_of_sql(&other),
                        };
                        doc.insert((*name).to_string(), value);
                    }
                    Ok(Value::Object(doc))
                })?;
                let list: Vec<Value> = rows.collect::<Result<_, _>>()?;
                out.insert(j.key.to_string(), Value::Array(list));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
