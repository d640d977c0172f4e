//! `icat find --facets`: counts per facet dimension over every hit the user may read, not only
//! the page printed. icat.server counts the facets a search asks for over the hits of that one
//! answer (`EntityBeanManager.freeTextSearchDocs` builds the facet query from `results`), so the
//! counts of a whole search are taken the way `ICATRest.facetDocuments` documents ("subsequent
//! faceting for a particular query containing a list of ids"): the search is paged through with
//! `search_after` (the server drops what the user may not read), then `facet/documents` counts
//! the dimensions over those ids (`{"id": [...]}`, `{"dataset.id": [...]}`), a few hundred ids
//! per request because the query travels in the URL.
//!
//! Instruments are counted here from the hits' own documents (their `investigationinstrument`
//! lists), in hits: `facet/documents` cannot count `InvestigationInstrument` on a real ICAT
//! (`buildFacetQuery` looks up the relationship `investigationinstruments`, which no entity has).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::output::bounded_text;
use icat_rest::{
    DimensionRequest, FacetQuery, FacetRange, FacetRequest, Hit, RestClient, SearchRequest, Target,
};
use icat_soap::Session;
use serde::Serialize;
use serde_json::{Value, json};

use super::rest_failure::rest_failure;
use crate::failure::{ExitKind, Failure};

/// Most hits the counts are taken over; a larger search says the counts cover the first ones.
pub const MAX_COUNTED_HITS: u64 = 100_000;

/// Hits per request while collecting ids.
const COLLECT_PAGE: u32 = 1000;

/// Ids per `facet/documents` request (a GET: the ids are part of the URL, kept well under the
/// 8 KiB request lines servers commonly accept).
const IDS_PER_REQUEST: usize = 400;

/// Labels icat.server asks icat.lucene for per string dimension (`maxLabels`).
const SERVER_MAX_LABELS: usize = 10;

/// Longest server text kept per label.
const MAX_LABEL: usize = 200;

/// The field of the date dimension (`Target.date`), counted by the CLI as `--since`/`--until`
/// select ([`date_counts`]).
pub const DATE_DIMENSION: &str = "date";

/// The date dimension's label for the hits within no one year or range.
pub const OTHER_DATES: &str = "other";

/// The dimension key of instrument counts (as ICAT names it).
pub const INSTRUMENT_DIMENSION: &str = "InvestigationInstrument.instrument.name";

/// Facet counts over the hits of a whole search.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FacetCounts {
    /// `Target.dimension` and its labels with counts; ranges in ascending order.
    pub dimensions: Vec<(String, Vec<(String, u64)>)>,
    /// How many hits were counted.
    pub hits_counted: u64,
    /// False when the search had more than [`MAX_COUNTED_HITS`] hits (the first ones counted).
    pub all_hits: bool,
    /// Dimensions whose counts may be low: more than one request was needed and one of them
    /// returned as many labels as the server gives (the rest of its labels are not told).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub may_be_low: Vec<String>,
}

/// What the counting keeps of each hit.
#[derive(Default)]
pub struct Matches {
    ids: BTreeSet<i64>,
    /// Per hit: instrument names (visits) or ids (datasets, datafiles) from its document.
    instruments: Vec<Vec<Value>>,
    /// Per hit: the dates a `--since`/`--until` filter tests (milliseconds): start and end.
    spans: Vec<(i64, i64)>,
    complete: bool,
}

impl Matches {
    fn add(&mut self, hit: &Hit) {
        if hit.id <= 0 || !self.ids.insert(hit.id) {
            return;
        }
        let mut seen = Vec::new();
        if let Some(Value::Array(list)) = hit.source.0.get("investigationinstrument") {
            for ii in list {
                let v = ii
                    .get("instrument.name")
                    .filter(|v| v.is_string())
                    .or_else(|| ii.get("instrument.id").filter(|v| v.is_i64()));
                if let Some(v) = v
                    && !seen.contains(v)
                {
                    seen.push(v.clone());
                }
            }
        }
        self.instruments.push(seen);
        if let Some(span) = filtered_span(&hit.source) {
            self.spans.push(span);
        }
    }
}

/// Pages through the whole search (without `search_after`: from its first hit) and keeps what
/// the counts need of each hit, up to [`MAX_COUNTED_HITS`].
pub async fn collect(
    rest: &RestClient,
    query: &icat_rest::SearchQuery,
) -> Result<Matches, Failure> {
    let mut req = SearchRequest::new(query.clone());
    req.max_count = Some(COLLECT_PAGE);
    let mut m = Matches::default();
    let mut taken = 0u64;
    loop {
        let page = rest.search(&req).await.map_err(rest_failure)?;
        for h in &page.results {
            if taken >= MAX_COUNTED_HITS {
                return Ok(m);
            }
            taken += 1;
            m.add(h);
        }
        match page.search_after {
            Some(after) if !page.results.is_empty() => {
                if req.search_after.as_ref() == Some(&after) {
                    return Err(Failure::new(
                        ExitKind::Server,
                        "the server answered the same search_after twice while counting facets",
                        "report this to the facility; run without --facets meanwhile",
                    ));
                }
                req.search_after = Some(after);
            }
            _ => {
                m.complete = true;
                return Ok(m);
            }
        }
    }
}

/// The facets counted by the server for a target: its own dimensions (type or format, size
/// and date ranges), its parameters' names, and for datasets their techniques; each with the
/// field that selects the documents by the hits' ids.
fn requests(target: Target) -> Vec<(FacetRequest, &'static str)> {
    let own_name = match target {
        Target::Datafile => "datafileFormat.name",
        _ => "type.name",
    };
    let range = |key: String, from: Option<i64>, to: Option<i64>| FacetRange {
        key: Some(key),
        from: from.map(Into::into),
        to: to.map(Into::into),
    };
    let own = vec![
        DimensionRequest::new(own_name),
        DimensionRequest {
            dimension: "fileSize".into(),
            ranges: vec![
                range("< 1 MB".into(), Some(0), Some(1_000_000)),
                range("1 MB - 1 GB".into(), Some(1_000_000), Some(1_000_000_000)),
                range(">= 1 GB".into(), Some(1_000_000_000), None),
            ],
        },
    ];
    let (parameter, id_field) = match target {
        Target::Investigation => ("InvestigationParameter", "investigation.id"),
        Target::Dataset => ("DatasetParameter", "dataset.id"),
        Target::Datafile => ("DatafileParameter", "datafile.id"),
    };
    let mut out = vec![
        (
            FacetRequest {
                target: target.as_str().into(),
                dimensions: own,
            },
            "id",
        ),
        (
            FacetRequest {
                target: parameter.into(),
                dimensions: vec![DimensionRequest::new("type.name")],
            },
            id_field,
        ),
    ];
    if target == Target::Dataset {
        out.push((
            FacetRequest {
                target: "DatasetTechnique".into(),
                dimensions: vec![DimensionRequest::new("technique.name")],
            },
            "dataset.id",
        ));
    }
    out
}

/// Milliseconds at the start of a UTC year.
fn year_start(year: i64) -> i64 {
    icat_soap::calendar::days_from_civil(year, 1, 1) * 86_400_000
}

/// The UTC year of a time in milliseconds.
fn year_of(millis: i64) -> i64 {
    icat_soap::calendar::civil_from_days(millis.div_euclid(86_400_000)).0
}

/// Whole-year ranges covering `lo..=hi`: one per year, or per span of years when they are more
/// than twelve (at most twelve ranges), oldest first.
fn year_ranges(lo: i64, hi: i64) -> Vec<(String, i64, i64)> {
    let (first, last) = (year_of(lo), year_of(hi));
    let years = last - first + 1;
    let step = (years + 11) / 12;
    let mut out = Vec::new();
    let mut y = first;
    while y <= last {
        let end = (y + step - 1).min(last);
        let key = if step == 1 {
            y.to_string()
        } else {
            format!("{y}-{end}")
        };
        out.push((key, year_start(y), year_start(end + 1)));
        y = end + 1;
    }
    out
}

/// The start and end of a hit's document as ICAT's date filter tests them (icat.lucene
/// `SearchBucket.buildDateRanges`): `startDate` and `endDate` of visits and datasets (ICAT
/// writes a missing end date as the last modification, icat.server `Dataset.getDoc`), `date`
/// alone of datafiles.
fn filtered_span(doc: &icat_rest::Document) -> Option<(i64, i64)> {
    let start = doc.int("startDate").or_else(|| doc.int("date"))?;
    Some((start, doc.int("endDate").unwrap_or(start)))
}

/// The date dimension, counted from the hits' documents by the rule of `--since`/`--until`:
/// a year's count is the hits whose start and end both fall in it, which is what
/// `--since YEAR-01-01 --until YEAR-12-31` finds (issue 20: counted by start date on the
/// server, a year's bucket listed datasets that its filter did not find, e.g. those without an
/// end date, which ICAT dates by their last modification). Over more than twelve years the
/// buckets are ranges of years. Hits within no one bucket count as [`OTHER_DATES`].
fn date_counts(target: Target, m: &Matches) -> Option<Dim> {
    let lo = m.spans.iter().map(|s| s.0.min(s.1)).min()?;
    let hi = m.spans.iter().map(|s| s.0.max(s.1)).max()?;
    let ranges = year_ranges(lo, hi);
    let mut order: Vec<String> = ranges.iter().map(|r| r.0.clone()).collect();
    order.push(OTHER_DATES.to_owned());
    let mut dim = Dim {
        key: format!("{}.{DATE_DIMENSION}", target.as_str()),
        ranges: Some(order),
        labels: Vec::new(),
        may_be_low: false,
    };
    let mut within_one = 0u64;
    for (key, from, to) in ranges {
        let within = |t: i64| from <= t && t < to;
        let n = m
            .spans
            .iter()
            .filter(|(start, end)| within(*start) && within(*end))
            .count() as u64;
        within_one += n;
        dim.add(key, n);
    }
    // The rest (spanning years, no end date before the last modification, or no date), so that
    // the counts add up to the hits (session 8 review: a catalogue of datasets without end
    // dates showed seven years of zeros).
    dim.add(
        OTHER_DATES.to_owned(),
        (m.ids.len() as u64).saturating_sub(within_one),
    );
    Some(dim)
}

/// Counts the facets over the collected hits: the server's counts over their ids, instruments
/// from their documents (names looked up by id where the document gives only ids).
pub async fn count(
    rest: &RestClient,
    session: &Session,
    target: Target,
    m: &Matches,
) -> Result<FacetCounts, Failure> {
    let ids: Vec<i64> = m.ids.iter().copied().collect();
    let mut dims: Vec<Dim> = Vec::new();
    let chunks = ids.len().div_ceil(IDS_PER_REQUEST);
    for (facet, field) in requests(target) {
        // The order of ranges as asked for (labels come back keyed by them).
        let order: Vec<(String, Vec<String>)> = facet
            .dimensions
            .iter()
            .filter(|d| !d.ranges.is_empty())
            .map(|d| {
                (
                    format!("{}.{}", facet.target, d.dimension),
                    d.ranges.iter().filter_map(|r| r.key.clone()).collect(),
                )
            })
            .collect();
        for part in ids.chunks(IDS_PER_REQUEST) {
            let mut filter = serde_json::Map::new();
            filter.insert(field.into(), json!(part));
            let q = FacetQuery {
                target,
                facets: vec![facet.clone()],
                filter,
            };
            let answer = rest.facets(&q).await.map_err(rest_failure)?;
            for d in &answer.dimensions.0 {
                let key = bounded_text(&d.key, MAX_LABEL);
                let dim = match dims.iter_mut().position(|x| x.key == key) {
                    Some(i) => &mut dims[i],
                    None => {
                        let ranges = order
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map(|(_, r)| r.clone());
                        dims.push(Dim {
                            key,
                            ranges,
                            labels: Vec::new(),
                            may_be_low: false,
                        });
                        dims.last_mut().expect("just pushed")
                    }
                };
                if dim.ranges.is_none() && d.labels.len() >= SERVER_MAX_LABELS && chunks > 1 {
                    dim.may_be_low = true;
                }
                for l in &d.labels {
                    dim.add(bounded_text(&l.label, MAX_LABEL), l.count);
                }
            }
        }
    }
    if let Some(dates) = date_counts(target, m) {
        dims.push(dates);
    }
    let instruments = instrument_counts(session, m).await;
    if !instruments.is_empty() {
        dims.push(Dim {
            key: INSTRUMENT_DIMENSION.into(),
            ranges: None,
            labels: instruments,
            may_be_low: false,
        });
    }
    let may_be_low = dims
        .iter()
        .filter(|d| d.may_be_low)
        .map(|d| d.key.clone())
        .collect();
    Ok(FacetCounts {
        dimensions: dims.into_iter().map(Dim::finish).collect(),
        hits_counted: ids.len() as u64,
        all_hits: m.complete,
        may_be_low,
    })
}

/// One dimension being summed.
struct Dim {
    key: String,
    /// Range keys in their natural order, for a range dimension.
    ranges: Option<Vec<String>>,
    labels: Vec<(String, u64)>,
    may_be_low: bool,
}

impl Dim {
    fn add(&mut self, label: String, count: u64) {
        match self.labels.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n = n.saturating_add(count),
            None => self.labels.push((label, count)),
        }
    }

    /// Ranges in the order asked for; values by count (largest first), then label.
    fn finish(mut self) -> (String, Vec<(String, u64)>) {
        match &self.ranges {
            Some(order) => {
                let at = |l: &str| order.iter().position(|k| k == l).unwrap_or(usize::MAX);
                self.labels.sort_by_key(|(l, _)| at(l));
            }
            None => self
                .labels
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))),
        }
        (self.key, self.labels)
    }
}

/// Hits per instrument, from the hits' documents; instrument ids are named by a SOAP search
/// (an instrument the user may not read keeps its id as label).
async fn instrument_counts(session: &Session, m: &Matches) -> Vec<(String, u64)> {
    let ids: BTreeSet<i64> = m
        .instruments
        .iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    let mut names: HashMap<i64, String> = HashMap::new();
    if !ids.is_empty() {
        match session
            .search_entities_in::<icat_soap::model::Instrument, i64>(
                &icat_soap::Query::new("Instrument"),
                "id",
                ids.iter().copied(),
            )
            .await
        {
            Ok(found) => {
                for i in found {
                    if let (Some(id), Some(name)) = (i.id, i.name) {
                        names.insert(id, name);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "instrument names not found"),
        }
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for hit in &m.instruments {
        for v in hit {
            let label = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => match n.as_i64().and_then(|id| names.get(&id)) {
                    Some(name) => name.clone(),
                    None => format!("instrument {n}"),
                },
                _ => continue,
            };
            *counts.entry(bounded_text(&label, MAX_LABEL)).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_are_ranges_in_order() {
        let t = |y| year_start(y) + 5;
        let r = year_ranges(t(2019), t(2021));
        let keys: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(keys, ["2019", "2020", "2021"]);
        assert_eq!(r[1].1, year_start(2020));
        assert_eq!(r[1].2, year_start(2021));
        let wide = year_ranges(t(1990), t(2025));
        assert!(wide.len() <= 12, "{wide:?}");
        assert_eq!(wide[0].0, "1990-1992");
        assert_eq!(wide.last().unwrap().2, year_start(2026));
    }

    #[test]
    fn ranges_keep_their_order_and_values_sort_by_count() {
        let mut d = Dim {
            key: "Dataset.fileSize".into(),
            ranges: Some(vec![
                "< 1 MB".into(),
                "1 MB - 1 GB".into(),
                ">= 1 GB".into(),
            ]),
            labels: Vec::new(),
            may_be_low: false,
        };
        d.add("1 MB - 1 GB".into(), 1);
        d.add(">= 1 GB".into(), 0);
        d.add("< 1 MB".into(), 2);
        d.add("< 1 MB".into(), 3);
        assert_eq!(
            d.finish().1,
            vec![
                ("< 1 MB".to_string(), 5),
                ("1 MB - 1 GB".to_string(), 1),
                (">= 1 GB".to_string(), 0)
            ]
        );
    }
}
