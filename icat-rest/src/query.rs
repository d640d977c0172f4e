//! The JSON a search or facet request sends, as icat.server's `ICATRest.searchDocuments` and
//! `facetDocuments` read it (and icat.lucene's `SearchBucket` interprets it): the query object,
//! its parameter and facet parts, and the paging/sort options sent beside it.

use serde::Serialize;
use serde_json::Value;

/// What a search looks for: the entity whose documents are searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Target {
    /// Investigation documents (visits).
    Investigation,
    /// Dataset documents.
    Dataset,
    /// Datafile documents.
    Datafile,
}

impl Target {
    /// The name ICAT expects in `"target"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Investigation => "Investigation",
            Target::Dataset => "Dataset",
            Target::Datafile => "Datafile",
        }
    }
}

/// A search's `query` object. Dates (`lower`, `upper`) are UTC minutes as `yyyyMMddHHmm`
/// ([`minutes`]); for investigations and datasets both the start and the end date must lie
/// between them, for datafiles the file's date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchQuery {
    /// The documents searched.
    pub target: Target,
    /// Free text (Lucene query syntax; avoid field names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Earliest date, `yyyyMMddHHmm` UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<String>,
    /// Latest date, `yyyyMMddHHmm` UTC (the whole minute is included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<String>,
    /// Parameters that must all match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterFilter>,
    /// Text each of which must match a sample (investigation searches only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
    /// A person's full name (investigation searches only).
    #[serde(rename = "userFullName", skip_serializing_if = "Option::is_none")]
    pub user_full_name: Option<String>,
    /// Only data of this user (`restrict` fills it with the caller's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Exact-value filters, e.g. `investigationinstrument.instrument.name` -> `"ALF"` (a
    /// string, or an array of strings any of which may match).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub filter: serde_json::Map<String, Value>,
    /// Facets over the returned hits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facets: Vec<FacetRequest>,
}

impl SearchQuery {
    /// A query for `target` documents with nothing else set.
    pub fn new(target: Target) -> Self {
        SearchQuery {
            target,
            text: None,
            lower: None,
            upper: None,
            parameters: Vec::new(),
            samples: Vec::new(),
            user_full_name: None,
            user: None,
            filter: serde_json::Map::new(),
            facets: Vec::new(),
        }
    }

    /// Sets the free text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Only data on this instrument (by `Instrument.name`): the filter DataGateway sends.
    pub fn instrument(mut self, name: impl Into<String>) -> Self {
        self.filter.insert(
            "investigationinstrument.instrument.name".into(),
            Value::String(name.into()),
        );
        self
    }
}

/// A parameter every hit must have. ICAT requires `name` and `units` (wildcards `*` and `?`
/// allowed) and one value form: a string, a pair of dates, or a pair of numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParameterFilter {
    /// Parameter type name (wildcards allowed).
    pub name: String,
    /// Units (wildcards allowed; `*` for any).
    pub units: String,
    /// The value.
    #[serde(flatten)]
    pub value: ParameterValue,
}

/// A parameter's value condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParameterValue {
    /// A string value (wildcards allowed).
    String {
        /// The value.
        #[serde(rename = "stringValue")]
        string_value: String,
    },
    /// A numeric range, both ends included.
    Numeric {
        /// Lowest value.
        #[serde(rename = "lowerNumericValue")]
        lower: f64,
        /// Highest value.
        #[serde(rename = "upperNumericValue")]
        upper: f64,
    },
    /// A date range, `yyyyMMddHHmm` UTC.
    Date {
        /// Earliest date.
        #[serde(rename = "lowerDateValue")]
        lower: String,
        /// Latest date.
        #[serde(rename = "upperDateValue")]
        upper: String,
    },
}

/// Facets wanted for one entity (`target`: the searched entity itself, or a related one such
/// as `InvestigationInstrument`, `DatasetTechnique`, `InvestigationParameter`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetRequest {
    /// The entity the dimensions belong to.
    pub target: String,
    /// The dimensions (all string fields of the target when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<DimensionRequest>,
}

/// One facet dimension: a field, with ranges for a numeric field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DimensionRequest {
    /// The field, e.g. `instrument.name`, `type.name`, `fileSize`.
    pub dimension: String,
    /// Ranges to count a numeric field in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<FacetRange>,
}

impl DimensionRequest {
    /// A dimension counted per value.
    pub fn new(dimension: impl Into<String>) -> Self {
        DimensionRequest {
            dimension: dimension.into(),
            ranges: Vec::new(),
        }
    }
}

/// A range of a numeric dimension: `from` included, `to` excluded; the label is `key`, or
/// `from-to` when no key is given.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetRange {
    /// The label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Lowest value (included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Bound>,
    /// Upper bound (excluded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Bound>,
}

/// A range bound: an integer for long fields (`fileSize`, `fileCount`, dates in milliseconds),
/// a floating-point number for double fields (parameter values).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    /// For long fields (written without a decimal point).
    Long(i64),
    /// For double fields.
    Double(f64),
}

impl From<i64> for Bound {
    fn from(v: i64) -> Self {
        Bound::Long(v)
    }
}

impl From<f64> for Bound {
    fn from(v: f64) -> Self {
        Bound::Double(v)
    }
}

/// A `facet/documents` query: facets over the documents matching `filter` (exact string
/// values, as in [`SearchQuery::filter`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetQuery {
    /// The documents counted.
    pub target: Target,
    /// The facets wanted.
    pub facets: Vec<FacetRequest>,
    /// Which documents count.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub filter: serde_json::Map<String, Value>,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A search request: the query plus the options sent as separate URL parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRequest {
    /// The query object.
    pub query: SearchQuery,
    /// Continue after this point: the `search_after` of the previous answer, as given.
    pub search_after: Option<Value>,
    /// Fewest hits to return when that many exist (server default 10).
    pub min_count: Option<u32>,
    /// Most hits to return (server default 100).
    pub max_count: Option<u32>,
    /// Document fields to sort by, in order; relevance then id when empty.
    pub sort: Vec<(String, Direction)>,
    /// Only the caller's "own" data (faster; as InvestigationUser or InstrumentScientist).
    pub restrict: bool,
}

impl SearchRequest {
    /// The first page of `query` with the server's defaults.
    pub fn new(query: SearchQuery) -> Self {
        SearchRequest {
            query,
            search_after: None,
            min_count: None,
            max_count: None,
            sort: Vec::new(),
            restrict: false,
        }
    }

    /// The `sort` parameter: one JSON object, keys in tie-break order (written by hand, as a
    /// JSON map would reorder them).
    pub fn sort_json(&self) -> Option<String> {
        if self.sort.is_empty() {
            return None;
        }
        let fields: Vec<String> = self
            .sort
            .iter()
            .map(|(field, dir)| {
                let dir = match dir {
                    Direction::Asc => "asc",
                    Direction::Desc => "desc",
                };
                format!("{}:\"{dir}\"", Value::String(field.clone()))
            })
            .collect();
        Some(format!("{{{}}}", fields.join(",")))
    }
}

/// A time as ICAT's search dates write it: `yyyyMMddHHmm` in UTC.
pub fn minutes(t: &icat_soap::DateTime) -> String {
    let ms = t.to_unix_millis();
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000) / 60_000;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}{:02}{:02}", in_day / 60, in_day % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_json_has_icat_field_names_and_skips_unset_ones() {
        let mut q = SearchQuery::new(Target::Dataset)
            .text("lysozyme")
            .instrument("ALF");
        q.lower = Some("202401010000".into());
        q.parameters.push(ParameterFilter {
            name: "temperature".into(),
            units: "*".into(),
            value: ParameterValue::Numeric {
                lower: 90.0,
                upper: 110.0,
            },
        });
        q.facets.push(FacetRequest {
            target: "Dataset".into(),
            dimensions: vec![DimensionRequest {
                dimension: "fileSize".into(),
                ranges: vec![FacetRange {
                    key: Some("small".into()),
                    from: Some(0_i64.into()),
                    to: Some(1_000_000_i64.into()),
                }],
            }],
        });
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "target": "Dataset",
                "text": "lysozyme",
                "lower": "202401010000",
                "parameters": [{"name": "temperature", "units": "*",
                                "lowerNumericValue": 90.0, "upperNumericValue": 110.0}],
                "filter": {"investigationinstrument.instrument.name": "ALF"},
                "facets": [{"target": "Dataset", "dimensions": [
                    {"dimension": "fileSize", "ranges": [{"key": "small", "from": 0, "to": 1_000_000}]}]}]
            })
        );
        let s = serde_json::to_value(ParameterValue::String {
            string_value: "x*".into(),
        })
        .unwrap();
        assert_eq!(s, serde_json::json!({"stringValue": "x*"}));
    }

    #[test]
    fn sort_keeps_tie_break_order() {
        let mut r = SearchRequest::new(SearchQuery::new(Target::Datafile));
        assert_eq!(r.sort_json(), None);
        r.sort = vec![
            ("name".into(), Direction::Desc),
            ("date".into(), Direction::Asc),
        ];
        assert_eq!(r.sort_json().unwrap(), r#"{"name":"desc","date":"asc"}"#);
    }

    #[test]
    fn dates_in_icat_minutes() {
        let t = icat_soap::DateTime::parse("2024-02-29T23:59:30+01:00").unwrap();
        assert_eq!(minutes(&t), "202402292259");
        let t = icat_soap::DateTime::parse("1969-12-31T23:00:00Z").unwrap();
        assert_eq!(minutes(&t), "196912312300");
    }
}
