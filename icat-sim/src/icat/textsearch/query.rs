//! The JSON query of `search/documents` (ICATRest.searchDocuments' javadoc; icat.lucene
//! `SearchBucket.parse*Query`; icat.server `OpensearchQuery.parseQuery` for `samples`) and its
//! translation to SQL conditions over the target row `x`.

use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::fields::{Kind, Target};
use super::index;
use super::lucene::{self, Match};
use crate::icat::error::IcatError;

/// SQL text with its positional (`?`) parameters, in order.
#[derive(Debug, Default, Clone)]
pub struct SqlPart {
    /// The SQL.
    pub sql: String,
    /// The parameters of its `?` marks, in order.
    pub params: Vec<Sql>,
}

/// A parsed `search/documents` query.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// The target.
    pub target: Target,
    /// The free text (Lucene syntax).
    pub text: Option<String>,
    /// Lower date bound in milliseconds (inclusive).
    pub lower: Option<i64>,
    /// Upper date bound in milliseconds (inclusive; a `yyyyMMddHHmm` string covers its minute).
    pub upper: Option<i64>,
    /// Only data of visits this user is an InvestigationUser or instrument scientist of.
    pub user: Option<String>,
    /// Investigations with a user whose full name matches (investigation searches only).
    pub user_full_name: Option<String>,
    /// Each must match the sample's name or type.
    pub samples: Vec<String>,
    /// Parameter conditions, all of which must hold.
    pub parameters: Vec<Map<String, Value>>,
    /// Facet filters (`filter` object).
    pub filter: Option<Map<String, Value>>,
    /// The `facets` requests.
    pub facets: Vec<Map<String, Value>>,
}

fn bad(message: impl Into<String>) -> IcatError {
    IcatError::bad_parameter(message)
}

/// Milliseconds of `yyyyMMddHHmm` in UTC (SearchApi's `df`), plus `offset`.
pub fn parse_date(value: &Value, offset: i64) -> Result<i64, IcatError> {
    match value {
        Value::String(s) => {
            let fail = || {
                bad(format!(
                    "Could not parse date {s} using expected format yyyyMMddHHmm"
                ))
            };
            if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail());
            }
            let num = |a: usize, b: usize| s[a..b].parse::<i64>().map_err(|_| fail());
            let (y, mo, d, h, mi) = (
                num(0, 4)?,
                num(4, 6)?,
                num(6, 8)?,
                num(8, 10)?,
                num(10, 12)?,
            );
            if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
                return Err(fail());
            }
            Ok(days_from_civil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + offset)
        }
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| bad(format!("Could not parse date {n} as a long"))),
        other => Err(bad(format!(
            "Dates should be represented by a NUMBER or STRING JsonValue, but got {}",
            json_type(other)
        ))),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The JSON type name as jakarta.json's `ValueType` spells it.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(true) => "TRUE",
        Value::Bool(false) => "FALSE",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

fn string_of(o: &Map<String, Value>, key: &str) -> Result<Option<String>, IcatError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!(
            "{key} should be a STRING, but was {}",
            json_type(other)
        ))),
    }
}

impl SearchQuery {
    /// Reads and checks a query object as `ICATRest.searchDocuments` does (the target, then each
    /// parameter's name, units and value).
    pub fn parse(o: &Map<String, Value>) -> Result<SearchQuery, IcatError> {
        if let Some(params) = o.get("parameters") {
            let list = params
                .as_array()
                .ok_or_else(|| bad("parameters should be an ARRAY"))?;
            for p in list {
                let p = p
                    .as_object()
                    .ok_or_else(|| bad("name not set in one of parameters"))?;
                let name = string_of(p, "name")?
                    .ok_or_else(|| bad("name not set in one of parameters"))?;
                if string_of(p, "units")?.is_none() {
                    return Err(bad(format!("units not set in parameter '{name}'")));
                }
                let has = |k: &str| p.contains_key(k);
                if !(has("stringValue")
                    || (has("lowerDateValue") && has("upperDateValue"))
                    || (has("lowerNumericValue") && has("upperNumericValue")))
                {
                    return Err(bad(format!("value not set in parameter '{name}'")));
                }
            }
        }
        let target = match o.get("target") {
            Some(Value::String(t)) => {
                Target::parse(t).ok_or_else(|| bad(format!("target:{t} is not expected")))?
            }
            // `target.equals(...)` on a null target: NullPointerException, mapped to INTERNAL.
            _ => {
                return Err(IcatError::internal(
                    "class java.lang.NullPointerException target is not set",
                ));
            }
        };
        let samples = match o.get("samples") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("samples should be an ARRAY of STRING"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(bad(format!(
                    "samples should be an ARRAY, but was {}",
                    json_type(other)
                )));
            }
        };
        let objects = |key: &str| -> Result<Vec<Map<String, Value>>, IcatError> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .cloned()
                            .ok_or_else(|| bad(format!("{key} should be an ARRAY of OBJECT")))
                    })
                    .collect(),
                Some(other) => Err(bad(format!(
                    "{key} should be an ARRAY, but was {}",
                    json_type(other)
                ))),
            }
        };
        Ok(SearchQuery {
            target,
            text: string_of(o, "text")?,
            lower: o.get("lower").map(|v| parse_date(v, 0)).transpose()?,
            upper: o.get("upper").map(|v| parse_date(v, 59_999)).transpose()?,
            user: string_of(o, "user")?,
            user_full_name: string_of(o, "userFullName")?,
            samples,
            parameters: objects("parameters")?,
            filter: match o.get("filter") {
                None | Some(Value::Null) => None,
                Some(Value::Object(f)) => Some(f.clone()),
                Some(other) => {
                    return Err(bad(format!(
                        "filter should be an OBJECT, but was {}",
                        json_type(other)
                    )));
                }
            },
            facets: objects("facets")?,
        })
    }

    /// The text translated for the target's index (and, for investigations, the sample index),
    /// or `None` without text.
    pub fn text_matches(&self) -> Result<Option<(Match, Option<Match>)>, IcatError> {
        let Some(text) = &self.text else {
            return Ok(None);
        };
        let own = lucene::translate(text, &|f| column_of(self.target, f))?;
        let samples = match self.target {
            Target::Investigation => Some(lucene::translate(text, &sample_column)?),
            _ => None,
        };
        Ok(Some((own, samples)))
    }

    /// The conditions other than the text, ANDed, over the target row `x`.
    pub fn conditions(&self) -> Result<SqlPart, IcatError> {
        let mut parts: Vec<SqlPart> = Vec::new();
        let inv = self.target.investigation_id_sql();
        if let Some(user) = &self.user {
            // SearchBucket.buildUserNameQuery: InvestigationUser, or instrument scientist of an
            // instrument of the visit.
            parts.push(SqlPart {
                sql: format!(
                    "{inv} IN (SELECT iu.\"investigation_id\" FROM \"InvestigationUser\" iu \
                     JOIN \"User\" u ON u.\"id\" = iu.\"user_id\" WHERE u.\"name\" = ? \
                     UNION SELECT ii.\"investigation_id\" FROM \"InvestigationInstrument\" ii \
                     JOIN \"InstrumentScientist\" sc ON sc.\"instrument_id\" = ii.\"instrument_id\" \
                     JOIN \"User\" u ON u.\"id\" = sc.\"user_id\" WHERE u.\"name\" = ?)"
                ),
                params: vec![Sql::Text(user.clone()), Sql::Text(user.clone())],
            });
        }
        if let (Some(name), Target::Investigation) = (&self.user_full_name, self.target) {
            match lucene::translate(name, &|f| (f == "user.fullName").then_some("fullName"))? {
                Match::Nothing => return Ok(nothing()),
                Match::Expr(e) => parts.push(SqlPart {
                    sql: format!(
                        "x.\"id\" IN (SELECT iu.\"investigation_id\" FROM \"InvestigationUser\" iu \
                         WHERE iu.\"user_id\" IN (SELECT rowid FROM \"{t}\" WHERE \"{t}\" MATCH ?))",
                        t = index::USER.table
                    ),
                    params: vec![Sql::Text(e)],
                }),
            }
        }
        for sample in &self.samples {
            let Match::Expr(e) = lucene::translate(sample, &sample_column)? else {
                return Ok(nothing());
            };
            let matching = format!(
                "SELECT rowid FROM \"{t}\" WHERE \"{t}\" MATCH ?",
                t = index::SAMPLE.table
            );
            let sql = match self.target.sample_id_sql() {
                None => format!(
                    "x.\"id\" IN (SELECT \"investigation_id\" FROM \"Sample\" WHERE \"id\" IN ({matching}))"
                ),
                Some(sample_id) => format!("{sample_id} IN ({matching})"),
            };
            parts.push(SqlPart {
                sql,
                params: vec![Sql::Text(e)],
            });
        }
        if self.lower.is_some() || self.upper.is_some() {
            let lo = self.lower.unwrap_or(i64::MIN);
            let hi = self.upper.unwrap_or(i64::MAX);
            for name in self.target.date_fields() {
                let field = self.target.field(name).map(|f| f.sql).unwrap_or("NULL");
                parts.push(SqlPart {
                    sql: format!("{field} BETWEEN ? AND ?"),
                    params: vec![Sql::Integer(lo), Sql::Integer(hi)],
                });
            }
        }
        for p in &self.parameters {
            parts.push(self.parameter_condition(p)?);
        }
        if let Some(filter) = &self.filter {
            for (key, value) in filter {
                parts.push(self.filter_condition(key, value)?);
            }
        }
        let mut out = SqlPart {
            sql: "1 = 1".into(),
            params: Vec::new(),
        };
        for p in parts {
            out.sql.push_str(" AND ");
            out.sql.push_str(&p.sql);
            out.params.extend(p.params);
        }
        Ok(out)
    }

    fn parameter_table(&self) -> (&'static str, &'static str) {
        match self.target {
            Target::Investigation => ("InvestigationParameter", "investigation_id"),
            Target::Dataset => ("DatasetParameter", "dataset_id"),
            Target::Datafile => ("DatafileParameter", "datafile_id"),
        }
    }

    /// `SearchBucket.parseParameter`: name (case-sensitive wildcard), units (wildcard, ignoring
    /// case), and a string value (wildcard, ignoring case), a date range or a numeric range.
    fn parameter_condition(&self, p: &Map<String, Value>) -> Result<SqlPart, IcatError> {
        let (table, fk) = self.parameter_table();
        let mut sql = format!(
            "x.\"id\" IN (SELECT p.\"{fk}\" FROM \"{table}\" p JOIN \"ParameterType\" pt \
             ON pt.\"id\" = p.\"type_id\" WHERE 1 = 1"
        );
        let mut params = Vec::new();
        if let Some(name) = string_of(p, "name")? {
            sql.push_str(" AND pt.\"name\" GLOB ?");
            params.push(Sql::Text(glob_of(&name)));
        }
        if let Some(units) = string_of(p, "units")? {
            sql.push_str(" AND lower(pt.\"units\") GLOB ?");
            params.push(Sql::Text(glob_of(&units.to_lowercase())));
        }
        if p.contains_key("stringValue") {
            let v = string_of(p, "stringValue")?.unwrap_or_default();
            sql.push_str(" AND lower(p.\"stringValue\") GLOB ?");
            params.push(Sql::Text(glob_of(&v.to_lowercase())));
        } else if p.contains_key("lowerDateValue") && p.contains_key("upperDateValue") {
            let lo = parse_date(&p["lowerDateValue"], 0)?;
            let hi = parse_date(&p["upperDateValue"], 59_999)?;
            sql.push_str(" AND p.\"dateTimeValue\" BETWEEN ? AND ?");
            params.extend([Sql::Integer(lo), Sql::Integer(hi)]);
        } else if p.contains_key("lowerNumericValue") && p.contains_key("upperNumericValue") {
            let num = |k: &str| {
                p[k].as_f64()
                    .ok_or_else(|| bad(format!("{k} should be a NUMBER")))
            };
            sql.push_str(" AND p.\"numericValue\" BETWEEN ? AND ?");
            params.extend([
                Sql::Real(num("lowerNumericValue")?),
                Sql::Real(num("upperNumericValue")?),
            ]);
        }
        sql.push(')');
        Ok(SqlPart { sql, params })
    }

    /// One `filter` entry (`SearchBucket.buildFilterQueries`): a field of the target document
    /// equal to a string or number, in a list, or in a `{"from", "to"}` range; or an instrument
    /// (`investigationinstrument.instrument.name`/`.id`) or parameter
    /// (`<target>parameter.type.name`/`.stringValue`) of the document's visit or of itself.
    fn filter_condition(&self, key: &str, value: &Value) -> Result<SqlPart, IcatError> {
        let own_prefix = format!("{}.", self.target.entity().to_lowercase());
        let field_name = key.strip_prefix(&own_prefix).unwrap_or(key);
        let values = |v: &Value| -> Result<Vec<Sql>, IcatError> {
            let one = |v: &Value| match v {
                Value::String(s) => Ok(Sql::Text(s.clone())),
                Value::Number(n) => Ok(n
                    .as_i64()
                    .map(Sql::Integer)
                    .unwrap_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0)))),
                other => Err(bad(format!(
                    "filter object values should be STRING or OBJECT, but were {}",
                    json_type(other)
                ))),
            };
            match v {
                Value::Array(list) => list.iter().map(one).collect(),
                other => Ok(vec![one(other)?]),
            }
        };
        let membership = |expr: &str, v: &Value| -> Result<SqlPart, IcatError> {
            if let Value::Object(range) = v {
                let bound = |k: &str| {
                    range
                        .get(k)
                        .and_then(Value::as_f64)
                        .ok_or_else(|| bad(format!("filter range for {key} needs a numeric {k}")))
                };
                return Ok(SqlPart {
                    sql: format!("{expr} BETWEEN ? AND ?"),
                    params: vec![Sql::Real(bound("from")?), Sql::Real(bound("to")?)],
                });
            }
            let vals = values(v)?;
            if vals.is_empty() {
                return Ok(nothing());
            }
            let marks = vec!["?"; vals.len()].join(", ");
            Ok(SqlPart {
                sql: format!("{expr} IN ({marks})"),
                params: vals,
            })
        };
        if let Some(field) = self.target.field(field_name) {
            return membership(field.sql, value);
        }
        if let Some(rest) = key.strip_prefix("investigationinstrument.") {
            let column = match rest {
                "instrument.name" => "ins.\"name\"",
                "instrument.id" => "ins.\"id\"",
                "instrument.fullName" => "ins.\"fullName\"",
                _ => return Err(unsupported_filter(key)),
            };
            let inner = membership(column, value)?;
            return Ok(SqlPart {
                sql: format!(
                    "{} IN (SELECT ii.\"investigation_id\" FROM \"InvestigationInstrument\" ii \
                     JOIN \"Instrument\" ins ON ins.\"id\" = ii.\"instrument_id\" WHERE {})",
                    self.target.investigation_id_sql(),
                    inner.sql
                ),
                params: inner.params,
            });
        }
        let (table, fk) = self.parameter_table();
        let param_prefix = format!("{}.", table.to_lowercase());
        if let Some(rest) = key.strip_prefix(&param_prefix) {
            let column = match rest {
                "type.name" => "pt.\"name\"",
                "stringValue" => "p.\"stringValue\"",
                "numericValue" => "p.\"numericValue\"",
                _ => return Err(unsupported_filter(key)),
            };
            let inner = membership(column, value)?;
            return Ok(SqlPart {
                sql: format!(
                    "x.\"id\" IN (SELECT p.\"{fk}\" FROM \"{table}\" p JOIN \"ParameterType\" pt \
                     ON pt.\"id\" = p.\"type_id\" WHERE {})",
                    inner.sql
                ),
                params: inner.params,
            });
        }
        Err(unsupported_filter(key))
    }
}

fn unsupported_filter(key: &str) -> IcatError {
    bad(format!(
        "filter on {key} is not supported by the simulator (fields of the target document, \
         investigationinstrument.instrument.* and <target>parameter.type.name/stringValue/numericValue are)"
    ))
}

/// A condition nothing satisfies.
fn nothing() -> SqlPart {
    SqlPart {
        sql: "0 = 1".into(),
        params: Vec::new(),
    }
}

/// A Lucene wildcard pattern (`*`, `?`, `\` escapes) as an SQLite GLOB pattern.
pub fn glob_of(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '?' | '[')) => {
                    out.push('[');
                    out.push(e);
                    out.push(']');
                }
                Some(e) => out.push(e),
                None => out.push_str("[\\]"),
            },
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// The FTS column of a Lucene field name in a target's index (`None`: the index lacks it).
pub fn column_of(target: Target, field: &str) -> Option<&'static str> {
    let table = match target {
        Target::Investigation => &index::INVESTIGATION,
        Target::Dataset => &index::DATASET,
        Target::Datafile => &index::DATAFILE,
    };
    let column = match field {
        "facility.name" => "facility",
        "type.name" => "type",
        "datafileFormat.name" => "format",
        "sample.name" => "sample",
        "sample.type.name" => "sampleType",
        "location.fileName" => "location",
        other => other,
    };
    table.columns.iter().copied().find(|c| *c == column)
}

fn sample_column(field: &str) -> Option<&'static str> {
    match field {
        "sample.name" => Some("sample"),
        "sample.type.name" => Some("sampleType"),
        _ => None,
    }
}

/// The kind of a sortable document field of `target`, or a BAD_PARAMETER error.
pub fn sort_field(target: Target, name: &str) -> Result<(&'static str, Kind), IcatError> {
    target.field(name).map(|f| (f.sql, f.kind)).ok_or_else(|| {
        bad(format!(
            "cannot sort on {name}: it is not a field of {} documents",
            target.entity()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_are_utc_minutes_with_the_upper_bound_covering_its_minute() {
        assert_eq!(parse_date(&json!("197001010000"), 0).unwrap(), 0);
        assert_eq!(
            parse_date(&json!("202403011015"), 59_999).unwrap(),
            1_709_288_100_000 + 59_999
        );
        assert_eq!(parse_date(&json!(42), 0).unwrap(), 42);
        assert!(parse_date(&json!("2024-03-01"), 0).is_err());
        assert!(parse_date(&json!(true), 0).is_err());
    }

    #[test]
    fn parameters_are_checked_as_icat_rest_does() {
        let q = |v: Value| {
            SearchQuery::parse(v.as_object().unwrap())
                .unwrap_err()
                .message
        };
        assert_eq!(
            q(json!({"target": "Dataset", "parameters": [{"units": "K"}]})),
            "name not set in one of parameters"
        );
        assert_eq!(
            q(json!({"target": "Dataset", "parameters": [{"name": "T"}]})),
            "units not set in parameter 'T'"
        );
        assert_eq!(
            q(
                json!({"target": "Dataset", "parameters": [{"name": "T", "units": "K", "lowerNumericValue": 1}]})
            ),
            "value not set in parameter 'T'"
        );
        assert_eq!(
            q(json!({"target": "Sample"})),
            "target:Sample is not expected"
        );
    }

    #[test]
    fn lucene_wildcards_become_globs() {
        assert_eq!(glob_of("temp*"), "temp*");
        assert_eq!(glob_of("a\\*b?"), "a[*]b?");
        assert_eq!(glob_of("x[1]"), "x[[]1]");
    }
}
