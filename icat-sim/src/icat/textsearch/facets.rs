//! Facet counts, as icat.server asks icat.lucene for them (`EntityBeanManager.buildFacetQuery`,
//! `Lucene.luceneFacetResult`, `FacetedDimension`): a facet names a target document type (the
//! searched type, or one joined to it such as `InvestigationParameter` or
//! `InvestigationInstrument`), a query selecting those documents (the ids of the hits, or the
//! `filter` of `facet/documents`), and dimensions. A string dimension counts documents per value
//! (only icat.lucene's default `facetFields`; the 10 largest counts, ties by label); a dimension
//! with `ranges` counts numeric values in `[from, to)` per range, zero counts included. Without
//! dimensions every string facet field of the type is counted ("sparse" faceting).

use std::collections::HashMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

use super::fields::Target;
use crate::icat::access::Access;
use crate::icat::access::UserAccess;
use crate::icat::db::Db;
use crate::icat::error::IcatError;

/// icat.lucene's default `facetFields` (`run.properties.example`).
const FACET_FIELDS: [&str; 6] = [
    "datafileFormat.name",
    "instrument.name",
    "sample.type.name",
    "stringValue",
    "technique.name",
    "type.name",
];

/// Labels per string dimension (`maxLabels` as icat.server passes it).
const MAX_LABELS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FKind {
    Str,
    Long,
    Double,
}

/// A document type that can be faceted: its rows, the object whose READ access governs each row,
/// and its fields.
struct FacetIndex {
    name: &'static str,
    from: &'static str,
    owner_entity: &'static str,
    owner_sql: &'static str,
    fields: &'static [(&'static str, FKind, &'static str)],
    /// One field more, after `fields` (a parameter's owner id).
    owner_field: Option<(&'static str, FKind, &'static str)>,
}

use FKind::{Double, Long, Str};

/// The fields of an investigation's, dataset's or datafile's parameter documents before their
/// owner's id (icat.server `Parameter.getDoc`).
const PARAMETER_FIELDS: &[(&str, FKind, &str)] = &[
    ("type.name", Str, "pt.\"name\""),
    ("stringValue", Str, "f.\"stringValue\""),
    ("numericValue", Double, "f.\"numericValue\""),
    ("rangeTop", Double, "f.\"rangeTop\""),
    ("rangeBottom", Double, "f.\"rangeBottom\""),
    ("dateTimeValue", Long, "f.\"dateTimeValue\""),
    ("type.id", Long, "f.\"type_id\""),
    ("id", Long, "f.\"id\""),
];

/// The parameter documents of `owner_entity`, whose id is `owner_field` (`owner_sql` in a row).
const fn param_index(
    name: &'static str,
    owner_entity: &'static str,
    owner_sql: &'static str,
    owner_field: &'static str,
) -> FacetIndex {
    FacetIndex {
        name,
        from: "",
        owner_entity,
        owner_sql,
        fields: PARAMETER_FIELDS,
        owner_field: Some((owner_field, Long, owner_sql)),
    }
}

static INDICES: &[FacetIndex] = &[
    FacetIndex {
        name: "Investigation",
        from: "\"Investigation\" f",
        owner_entity: "Investigation",
        owner_sql: "f.\"id\"",
        owner_field: None,
        fields: &[
            (
                "type.name",
                Str,
                "(SELECT \"name\" FROM \"InvestigationType\" WHERE \"id\" = f.\"type_id\")",
            ),
            ("id", Long, "f.\"id\""),
            ("date", Long, "COALESCE(f.\"startDate\", f.\"createTime\")"),
            (
                "startDate",
                Long,
                "COALESCE(f.\"startDate\", f.\"createTime\")",
            ),
            ("endDate", Long, "COALESCE(f.\"endDate\", f.\"modTime\")"),
            ("fileSize", Long, "COALESCE(f.\"fileSize\", 0)"),
            ("fileCount", Long, "COALESCE(f.\"fileCount\", 0)"),
            ("facility.id", Long, "f.\"facility_id\""),
            ("type.id", Long, "f.\"type_id\""),
        ],
    },
    FacetIndex {
        name: "Dataset",
        from: "\"Dataset\" f",
        owner_entity: "Dataset",
        owner_sql: "f.\"id\"",
        owner_field: None,
        fields: &[
            (
                "type.name",
                Str,
                "(SELECT \"name\" FROM \"DatasetType\" WHERE \"id\" = f.\"type_id\")",
            ),
            (
                "sample.type.name",
                Str,
                "(SELECT st.\"name\" FROM \"Sample\" s JOIN \"SampleType\" st ON st.\"id\" = s.\"type_id\" WHERE s.\"id\" = f.\"sample_id\")",
            ),
            ("id", Long, "f.\"id\""),
            ("investigation.id", Long, "f.\"investigation_id\""),
            ("date", Long, "COALESCE(f.\"startDate\", f.\"createTime\")"),
            (
                "startDate",
                Long,
                "COALESCE(f.\"startDate\", f.\"createTime\")",
            ),
            ("endDate", Long, "COALESCE(f.\"endDate\", f.\"modTime\")"),
            ("fileSize", Long, "COALESCE(f.\"fileSize\", 0)"),
            ("fileCount", Long, "COALESCE(f.\"fileCount\", 0)"),
            ("type.id", Long, "f.\"type_id\""),
            ("sample.id", Long, "f.\"sample_id\""),
        ],
    },
    FacetIndex {
        name: "Datafile",
        from: "\"Datafile\" f",
        owner_entity: "Datafile",
        owner_sql: "f.\"id\"",
        owner_field: None,
        fields: &[
            (
                "datafileFormat.name",
                Str,
                "(SELECT \"name\" FROM \"DatafileFormat\" WHERE \"id\" = f.\"datafileFormat_id\")",
            ),
            (
                "sample.type.name",
                Str,
                "(SELECT st.\"name\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" JOIN \"SampleType\" st ON st.\"id\" = s.\"type_id\" WHERE d.\"id\" = f.\"dataset_id\")",
            ),
            ("id", Long, "f.\"id\""),
            ("dataset.id", Long, "f.\"dataset_id\""),
            (
                "investigation.id",
                Long,
                "(SELECT \"investigation_id\" FROM \"Dataset\" WHERE \"id\" = f.\"dataset_id\")",
            ),
            (
                "date",
                Long,
                "COALESCE(f.\"datafileModTime\", f.\"datafileCreateTime\", f.\"modTime\")",
            ),
            ("fileSize", Long, "COALESCE(f.\"fileSize\", 0)"),
            ("fileCount", Long, "1"),
            ("datafileFormat.id", Long, "f.\"datafileFormat_id\""),
            (
                "sample.id",
                Long,
                "(SELECT \"sample_id\" FROM \"Dataset\" WHERE \"id\" = f.\"dataset_id\")",
            ),
        ],
    },
    param_index(
        "InvestigationParameter",
        "Investigation",
        "f.\"investigation_id\"",
        "investigation.id",
    ),
    param_index(
        "DatasetParameter",
        "Dataset",
        "f.\"dataset_id\"",
        "dataset.id",
    ),
    param_index(
        "DatafileParameter",
        "Datafile",
        "f.\"datafile_id\"",
        "datafile.id",
    ),
    FacetIndex {
        name: "SampleParameter",
        from: "",
        owner_entity: "Investigation",
        owner_sql: "(SELECT \"investigation_id\" FROM \"Sample\" WHERE \"id\" = f.\"sample_id\")",
        owner_field: None,
        fields: &[
            ("type.name", Str, "pt.\"name\""),
            ("stringValue", Str, "f.\"stringValue\""),
            ("numericValue", Double, "f.\"numericValue\""),
            ("dateTimeValue", Long, "f.\"dateTimeValue\""),
            ("type.id", Long, "f.\"type_id\""),
            ("id", Long, "f.\"id\""),
            ("sample.id", Long, "f.\"sample_id\""),
        ],
    },
    FacetIndex {
        name: "InvestigationInstrument",
        from: "\"InvestigationInstrument\" f JOIN \"Instrument\" ins ON ins.\"id\" = f.\"instrument_id\"",
        owner_entity: "Investigation",
        owner_sql: "f.\"investigation_id\"",
        owner_field: None,
        fields: &[
            ("instrument.name", Str, "ins.\"name\""),
            ("instrument.id", Long, "f.\"instrument_id\""),
            ("investigation.id", Long, "f.\"investigation_id\""),
            ("id", Long, "f.\"id\""),
        ],
    },
    FacetIndex {
        name: "Sample",
        from: "\"Sample\" f LEFT JOIN \"SampleType\" st ON st.\"id\" = f.\"type_id\"",
        owner_entity: "Investigation",
        owner_sql: "f.\"investigation_id\"",
        owner_field: None,
        fields: &[
            ("sample.type.name", Str, "st.\"name\""),
            ("type.name", Str, "st.\"name\""),
            ("sample.id", Long, "f.\"id\""),
            ("id", Long, "f.\"id\""),
            ("sample.investigation.id", Long, "f.\"investigation_id\""),
            ("sample.type.id", Long, "f.\"type_id\""),
        ],
    },
    FacetIndex {
        name: "DatasetTechnique",
        from: "\"DatasetTechnique\" f JOIN \"Technique\" t ON t.\"id\" = f.\"technique_id\"",
        owner_entity: "Dataset",
        owner_sql: "f.\"dataset_id\"",
        owner_field: None,
        fields: &[
            ("technique.name", Str, "t.\"name\""),
            ("technique.id", Long, "f.\"technique_id\""),
            ("dataset.id", Long, "f.\"dataset_id\""),
            ("id", Long, "f.\"id\""),
        ],
    },
    FacetIndex {
        name: "InvestigationUser",
        from: "\"InvestigationUser\" f",
        owner_entity: "Investigation",
        owner_sql: "f.\"investigation_id\"",
        owner_field: None,
        fields: &[
            ("user.id", Long, "f.\"user_id\""),
            ("investigation.id", Long, "f.\"investigation_id\""),
            ("id", Long, "f.\"id\""),
        ],
    },
    FacetIndex {
        name: "InvestigationFacilityCycle",
        from: "\"InvestigationFacilityCycle\" f",
        owner_entity: "Investigation",
        owner_sql: "f.\"investigation_id\"",
        owner_field: None,
        fields: &[
            ("facilityCycle.id", Long, "f.\"facilityCycle_id\""),
            ("investigation.id", Long, "f.\"investigation_id\""),
            ("id", Long, "f.\"id\""),
        ],
    },
];

impl FacetIndex {
    fn rows_sql(&self) -> String {
        if self.from.is_empty() {
            format!(
                "\"{}\" f JOIN \"ParameterType\" pt ON pt.\"id\" = f.\"type_id\"",
                self.name
            )
        } else {
            self.from.to_string()
        }
    }

    fn field(&self, name: &str) -> Option<(FKind, &'static str)> {
        self.all_fields().find(|f| f.0 == name).map(|f| (f.1, f.2))
    }

    /// `fields`, then the owner's id field, if any.
    fn all_fields(&self) -> impl Iterator<Item = &(&'static str, FKind, &'static str)> {
        self.fields.iter().chain(self.owner_field.as_ref())
    }
}

/// One counted label.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The value or range key.
    pub label: String,
    /// Documents counted.
    pub count: i64,
    /// For a range: its bounds as icat.lucene reports them (`to` made inclusive).
    pub range: Option<(Value, Value)>,
}

/// One dimension's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// The faceted document type, e.g. `InvestigationParameter`.
    pub target: String,
    /// The dimension, e.g. `type.name`.
    pub dimension: String,
    /// The labels.
    pub labels: Vec<Label>,
}

/// Counts the `dimensions` (JSON array, or absent for sparse faceting) over the documents of
/// `target` that `query` selects; with `reader`, only documents whose owning object the reader
/// may read are counted.
pub fn facet(
    db: &Db,
    reader: Option<&UserAccess>,
    target: &str,
    query: &Map<String, Value>,
    dimensions: Option<&Value>,
) -> Result<Vec<Dimension>, IcatError> {
    let Some(index) = INDICES.iter().find(|i| i.name == target) else {
        return Ok(Vec::new());
    };
    // The requested dimensions: (name, ranges).
    let mut wanted: Vec<(String, Option<Vec<Value>>)> = Vec::new();
    match dimensions {
        None | Some(Value::Null) => {
            for (name, kind, _) in index.all_fields() {
                if *kind == Str && FACET_FIELDS.contains(name) {
                    wanted.push(((*name).to_string(), None));
                }
            }
        }
        Some(Value::Array(list)) => {
            for d in list {
                let name = d.get("dimension").and_then(Value::as_str).ok_or_else(|| {
                    IcatError::bad_parameter(format!(
                        "'dimension' not specified for facet request {d}"
                    ))
                })?;
                let ranges = d.get("ranges").and_then(Value::as_array).cloned();
                wanted.push((name.to_string(), ranges));
            }
        }
        Some(other) => {
            return Err(IcatError::bad_parameter(format!(
                "dimensions should be an ARRAY, but was {other}"
            )));
        }
    }
    // Filter: field -> value, list of values, as SearchBucket.parseGenericQuery reads it.
    let mut conds = vec!["1 = 1".to_string()];
    let mut params: Vec<Sql> = Vec::new();
    for (key, value) in query {
        let Some((_, sql)) = index.field(key) else {
            conds.push("0 = 1".into());
            continue;
        };
        let as_sql = |v: &Value| -> Result<Sql, IcatError> {
            match v {
                Value::String(s) => Ok(Sql::Text(s.clone())),
                Value::Number(n) => Ok(n
                    .as_i64()
                    .map(Sql::Integer)
                    .unwrap_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0)))),
                other => Err(IcatError::bad_parameter(format!(
                    "Query values should be ARRAY, STRING or NUMBER, but had value of type {}",
                    super::query::json_type(other)
                ))),
            }
        };
        match value {
            Value::Array(list) if list.is_empty() => conds.push("0 = 1".into()),
            Value::Array(list) => {
                conds.push(format!("{sql} IN ({})", vec!["?"; list.len()].join(", ")));
                for v in list {
                    params.push(as_sql(v)?);
                }
            }
            other => {
                conds.push(format!("{sql} = ?"));
                params.push(as_sql(other)?);
            }
        }
    }
    let exprs: Vec<Option<(FKind, &'static str)>> =
        wanted.iter().map(|(name, _)| index.field(name)).collect();
    let select: Vec<String> = exprs
        .iter()
        .map(|e| e.map_or("NULL".to_string(), |(_, sql)| sql.to_string()))
        .collect();
    let sql = format!(
        "SELECT {}{} FROM {} WHERE {}",
        index.owner_sql,
        select.iter().map(|s| format!(", {s}")).collect::<String>(),
        index.rows_sql(),
        conds.join(" AND ")
    );
    let mut stmt = db.conn().prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params.iter()), |r| {
        let owner: Option<i64> = r.get(0)?;
        let mut values = Vec::with_capacity(select.len());
        for i in 0..select.len() {
            values.push(r.get::<_, Sql>(i + 1)?);
        }
        Ok((owner, values))
    })?;
    let mut docs: Vec<(Option<i64>, Vec<Sql>)> = rows.collect::<Result<_, _>>()?;
    if let Some(reader) = reader {
        let owners: Vec<i64> = docs.iter().filter_map(|d| d.0).collect();
        let now = db.clock().now_millis();
        let readable: std::collections::HashSet<i64> = reader
            .allowed_ids(db.conn(), Access::Read, index.owner_entity, &owners, now)?
            .into_iter()
            .collect();
        docs.retain(|d| d.0.is_some_and(|o| readable.contains(&o)));
    }
    let mut out = Vec::new();
    for (i, (name, ranges)) in wanted.iter().enumerate() {
        let values = docs.iter().map(|d| &d.1[i]);
        let labels = match ranges {
            Some(ranges) => {
                let numeric = match exprs[i] {
                    Some((Long, _)) => Some(Long),
                    Some((Double, _)) => Some(Double),
                    _ if LONG_FIELDS.contains(&name.as_str()) => Some(Long),
                    _ if DOUBLE_FIELDS.contains(&name.as_str()) => Some(Double),
                    _ => None,
                };
                let Some(kind) = numeric else {
                    return Err(IcatError::bad_parameter(format!(
                        "'ranges' specified for dimension {name} but this is not a supported numeric field"
                    )));
                };
                let vals: Vec<f64> = values
                    .filter_map(|v| match v {
                        Sql::Integer(n) => Some(*n as f64),
                        Sql::Real(d) => Some(*d),
                        _ => None,
                    })
                    .collect();
                let longs: Vec<i64> = docs
                    .iter()
                    .filter_map(|d| match &d.1[i] {
                        Sql::Integer(n) => Some(*n),
                        Sql::Real(r) => Some(*r as i64),
                        _ => None,
                    })
                    .collect();
                range_labels(kind, ranges, &vals, &longs)?
            }
            None => {
                if !FACET_FIELDS.contains(&name.as_str()) || !matches!(exprs[i], Some((Str, _))) {
                    continue;
                }
                let mut counts: HashMap<String, i64> = HashMap::new();
                for v in values {
                    if let Sql::Text(s) = v {
                        *counts.entry(s.clone()).or_default() += 1;
                    }
                }
                let mut labels: Vec<(String, i64)> = counts.into_iter().collect();
                labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                labels.truncate(MAX_LABELS);
                labels
                    .into_iter()
                    .map(|(label, count)| Label {
                        label,
                        count,
                        range: None,
                    })
                    .collect()
            }
        };
        if labels.is_empty() {
            continue;
        }
        out.push(Dimension {
            target: target.to_string(),
            dimension: name.clone(),
            labels,
        });
    }
    Ok(out)
}

/// icat.lucene `DocumentMapping.longFields`.
const LONG_FIELDS: [&str; 21] = [
    "date",
    "startDate",
    "endDate",
    "dateTimeValue",
    "investigation.startDate",
    "fileSize",
    "fileCount",
    "datafile.id",
    "datafileFormat.id",
    "dataset.id",
    "facility.id",
    "facilityCycle.id",
    "investigation.id",
    "instrument.id",
    "id",
    "sample.id",
    "sample.investigation.id",
    "sample.type.id",
    "technique.id",
    "type.id",
    "user.id",
];

/// icat.lucene `DocumentMapping.doubleFields`.
const DOUBLE_FIELDS: [&str; 6] = [
    "numericValue",
    "numericValueSI",
    "rangeTop",
    "rangeTopSI",
    "rangeBottom",
    "rangeBottomSI",
];

/// Java's `Double.toString` for the values a default range label shows.
fn java_double(d: f64) -> String {
    if d == f64::MAX {
        "1.7976931348623157E308".into()
    } else if d == f64::from_bits(1) {
        "4.9E-324".into()
    } else if d.fract() == 0.0 && d.abs() < 1e7 {
        format!("{d:.1}")
    } else {
        format!("{d}")
    }
}

/// The counts of `[from, to)` ranges (`SearchBucket.parseDimensions`: a missing bound is the
/// type's extreme, the label is `key` or `from-to`; `LongRange`/`DoubleRange` report the upper
/// bound made inclusive).
fn range_labels(
    kind: FKind,
    ranges: &[Value],
    values: &[f64],
    longs: &[i64],
) -> Result<Vec<Label>, IcatError> {
    let mut out = Vec::new();
    for r in ranges {
        let key = r.get("key").and_then(Value::as_str).map(str::to_string);
        if kind == Long {
            let bound = |k: &str, default: i64| -> Result<i64, IcatError> {
                match r.get(k) {
                    None => Ok(default),
                    Some(v) if v.is_number() => long_value_exact(v),
                    Some(v) => Err(IcatError::bad_parameter(format!(
                        "range {k} should be a long, not {v}"
                    ))),
                }
            };
            let lo = bound("from", i64::MIN)?;
            let hi = bound("to", i64::MAX)?;
            let count = longs.iter().filter(|v| **v >= lo && **v < hi).count() as i64;
            out.push(Label {
                label: key.unwrap_or_else(|| format!("{lo}-{hi}")),
                count,
                range: Some((json!(lo), json!(hi.saturating_sub(1)))),
            });
        } else {
            let bound = |k: &str, default: f64| -> Result<f64, IcatError> {
                match r.get(k) {
                    None => Ok(default),
                    Some(v) => v.as_f64().ok_or_else(|| {
                        IcatError::bad_parameter(format!("range {k} should be a number, not {v}"))
                    }),
                }
            };
            let lo = bound("from", f64::from_bits(1))?;
            let hi = bound("to", f64::MAX)?;
            let count = values.iter().filter(|v| **v >= lo && **v < hi).count() as i64;
            out.push(Label {
                label: key.unwrap_or_else(|| format!("{}-{}", java_double(lo), java_double(hi))),
                count,
                range: Some((json!(lo), json!(next_down(hi)))),
            });
        }
    }
    Ok(out)
}

/// A JSON number as `JsonNumber.longValueExact` reads it (icat.lucene reads long range bounds so):
/// any number without a fractional part, `0.0` and `1e3` included; a fractional or out-of-range
/// one is an `ArithmeticException`, which icat.lucene answers with HTTP 500 and icat.server
/// passes on as INTERNAL.
pub(crate) fn long_value_exact(v: &Value) -> Result<i64, IcatError> {
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    let d = v.as_f64().unwrap_or(f64::NAN);
    // 2^63 as f64 is exactly i64::MAX + 1: beyond the range.
    if d.is_finite() && d.fract() == 0.0 && d >= i64::MIN as f64 && d < i64::MAX as f64 {
        return Ok(d as i64);
    }
    let why = if d.is_finite() && d.fract() != 0.0 {
        "Rounding necessary"
    } else {
        "Overflow"
    };
    Err(IcatError::internal(format!(
        "class java.lang.ArithmeticException {why}"
    )))
}

/// `Math.nextDown` for finite values.
fn next_down(d: f64) -> f64 {
    if d.is_nan() || d == f64::NEG_INFINITY {
        d
    } else if d == 0.0 {
        -f64::from_bits(1)
    } else if d > 0.0 {
        f64::from_bits(d.to_bits() - 1)
    } else {
        f64::from_bits(d.to_bits() + 1)
    }
}

/// True when every relationship step is public (`GateKeeper.allowed`).
fn allowed(public: &UserAccess, steps: &[(&str, &str, &str)]) -> bool {
    steps.iter().all(|s| public.step_is_public(s.0, s.1, s.2))
}

/// The query of a facet over the hits of a search (`EntityBeanManager.buildFacetQuery` with
/// results): the document type to facet and the id field with its values, or `None` when the
/// relationship to it is not public; INTERNAL where icat.server's relationship lookup fails
/// ([`lowercase_relation`]).
pub fn hits_query(
    public: &UserAccess,
    klass: Target,
    facet_target: &str,
    hit_ids: &[i64],
    sources: &[&Map<String, Value>],
) -> Result<Option<Map<String, Value>>, IcatError> {
    let parent = klass.entity();
    let ids_from = |field: &str| -> Value {
        let mut out = Vec::new();
        for s in sources {
            match s.get(field) {
                Some(Value::Number(n)) => out.push(Value::Number(n.clone())),
                Some(Value::Array(a)) => out.extend(a.iter().filter(|v| v.is_number()).cloned()),
                _ => {}
            }
        }
        Value::Array(out)
    };
    let hits = Value::Array(hit_ids.iter().map(|id| json!(id)).collect());
    let one = |k: &str, v: Value| {
        let mut m = Map::new();
        m.insert(k.to_string(), v);
        Some(m)
    };
    if facet_target == parent {
        return Ok(one("id", hits));
    }
    if facet_target == "SampleParameter" {
        let mut steps = Vec::new();
        if klass == Target::Investigation {
            steps.push(("Investigation", "samples", "Sample"));
        } else {
            if klass == Target::Datafile {
                steps.push(("Datafile", "dataset", "Dataset"));
            }
            steps.push(("Dataset", "sample", "Sample"));
        }
        steps.push(("Sample", "parameters", "SampleParameter"));
        return Ok(allowed(public, &steps)
            .then(|| one("sample.id", ids_from("sample.id")))
            .flatten());
    }
    if facet_target == "InvestigationInstrument" {
        let mut steps = Vec::new();
        let field = match klass {
            Target::Investigation => "id",
            Target::Dataset => {
                steps.push(("Dataset", "investigation", "Investigation"));
                "investigation.id"
            }
            Target::Datafile => {
                steps.push(("Datafile", "dataset", "Dataset"));
                steps.push(("Dataset", "investigation", "Investigation"));
                "investigation.id"
            }
        };
        steps.push((
            "Investigation",
            "investigationInstruments",
            "InvestigationInstrument",
        ));
        steps.push(("InvestigationInstrument", "instrument", "Instrument"));
        return Ok(allowed(public, &steps)
            .then(|| one("investigation.id", ids_from(field)))
            .flatten());
    }
    let parent_id = format!("{}.id", parent.to_lowercase());
    if facet_target.contains("Parameter") {
        let param = format!("{parent}Parameter");
        return Ok(allowed(public, &[(parent, "parameters", param.as_str())])
            .then(|| one(&parent_id, hits))
            .flatten());
    }
    let relation = lowercase_relation(klass, facet_target)?;
    let Some(relation) = relation else {
        return Ok(None);
    };
    if !allowed(public, &[(parent, relation, facet_target)]) {
        return Ok(None);
    }
    if facet_target == "Sample" {
        // Samples are one to many on investigations: their documents hold
        // `sample.investigation.id`.
        return Ok(one("sample.investigation.id", hits));
    }
    Ok(one(&parent_id, hits))
}

/// The relationship `buildFacetQuery` looks up for a joined target that is not a parameter:
/// `getRelationshipsByName(klass).get(target.toLowerCase() + "s")`. The map is keyed by field
/// name, so only all-lower-case fields are found (`samples`, `datasets`, `datafiles`); for any
/// other target of the catalogue's documents (`InvestigationUser`, `DatasetTechnique` in a
/// search, a `Sample` of a dataset, ...) the lookup gives null and `GateKeeper.allowed(null)`
/// throws a NullPointerException (INTERNAL). `Ok(None)`: a target the simulator has no
/// documents for (nothing counted).
fn lowercase_relation(
    klass: Target,
    facet_target: &str,
) -> Result<Option<&'static str>, IcatError> {
    match (klass, facet_target) {
        (Target::Investigation, "Sample") => Ok(Some("samples")),
        (Target::Investigation, "Dataset") => Ok(Some("datasets")),
        (Target::Dataset, "Datafile") => Ok(Some("datafiles")),
        (
            _,
            "Investigation"
            | "Dataset"
            | "Datafile"
            | "Sample"
            | "InvestigationInstrument"
            | "InvestigationUser"
            | "InvestigationFacilityCycle"
            | "DatasetTechnique",
        ) => Err(IcatError::internal(format!(
            "class java.lang.NullPointerException no relationship {}s from {}",
            facet_target.to_lowercase(),
            klass.entity()
        ))),
        _ => Ok(None),
    }
}

/// Whether `facet/documents` may facet `facet_target` for searches of `klass`
/// (`EntityBeanManager.buildFacetQuery` with a filter); INTERNAL where its relationship lookup
/// fails ([`lowercase_relation`]; unlike a search, `DatasetTechnique` of datasets is looked up
/// as `datasetTechniques`).
pub fn filter_allowed(
    public: &UserAccess,
    klass: Target,
    facet_target: &str,
) -> Result<bool, IcatError> {
    let parent = klass.entity();
    if facet_target == parent {
        return Ok(true);
    }
    if facet_target == "SampleParameter" {
        let mut steps = Vec::new();
        if klass == Target::Investigation {
            steps.push(("Investigation", "samples", "Sample"));
        } else {
            if klass == Target::Datafile {
                steps.push(("Datafile", "dataset", "Dataset"));
            }
            steps.push(("Dataset", "sample", "Sample"));
        }
        steps.push(("Sample", "parameters", "SampleParameter"));
        return Ok(allowed(public, &steps));
    }
    if facet_target.contains("Parameter") {
        let param = format!("{parent}Parameter");
        return Ok(allowed(public, &[(parent, "parameters", param.as_str())]));
    }
    if facet_target.contains("DatasetTechnique") {
        if klass != Target::Dataset {
            return Err(IcatError::internal(format!(
                "class java.lang.NullPointerException no relationship datasetTechniques from {parent}"
            )));
        }
        return Ok(allowed(
            public,
            &[("Dataset", "datasetTechniques", "DatasetTechnique")],
        ));
    }
    match lowercase_relation(klass, facet_target)? {
        Some(relation) => Ok(allowed(public, &[(parent, relation, facet_target)])),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests;
