//! `icat find TEXT`: free-text search through ICAT's REST API (`search/documents`), ranked hits
//! with their visit, dataset and size, facet counts, `search_after` paging on demand, and the
//! hits as a stable id list for `icat download -`.

use std::io::Write;

use icat_rest::{
    Hit, ParameterFilter, ParameterValue, RestClient, SearchQuery, SearchRequest, Target,
};
use serde::Serialize;

use super::find_facets::{self, FacetCounts};
use super::rest_failure::rest_failure;
use crate::connect::Connection;
use crate::failure::{ExitKind, Failure};
use crate::idlist::IdList;
use crate::output::{Align, Format, Table, human_bytes, sanitize_cell, to_json};

/// Hits asked for per request (ICAT's `maxCount` default is 100).
pub const PAGE: u32 = 100;

/// Longest server text kept per field.
const MAX_FIELD: usize = 200;

/// What `icat find` searches for.
#[derive(Clone, Debug, PartialEq)]
pub struct FindRequest {
    /// Free text.
    pub text: String,
    /// Visits, datasets or datafiles.
    pub target: Target,
    /// Earliest date, `yyyyMMddHHmm` UTC.
    pub since: Option<String>,
    /// Latest date, `yyyyMMddHHmm` UTC.
    pub until: Option<String>,
    /// Instrument name.
    pub instrument: Option<String>,
    /// Parameters that must match.
    pub parameters: Vec<ParameterFilter>,
    /// Ask for facet counts.
    pub facets: bool,
    /// Most hits.
    pub limit: u64,
    /// Continue after this point (a previous run's `search_after`).
    pub after: Option<serde_json::Value>,
    /// The rank of the first hit (1, or where a previous run stopped plus one).
    pub first_rank: u64,
}

/// One hit as printed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindHit {
    /// 1 for the best hit.
    pub rank: u64,
    /// `investigation`, `dataset` or `datafile`.
    pub kind: &'static str,
    /// Entity id.
    pub id: i64,
    /// Relevance score, when ranked by relevance.
    pub score: Option<f64>,
    /// Visit id.
    pub visit: Option<String>,
    /// Investigation id.
    pub investigation_id: Option<i64>,
    /// Dataset name (datafiles and datasets).
    pub dataset: Option<String>,
    /// Dataset id (datafiles).
    pub dataset_id: Option<i64>,
    /// Name of the hit.
    pub name: Option<String>,
    /// The document's `date` (a visit's or dataset's start, a datafile's modification), UTC
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Investigation title (visits and datasets).
    pub title: Option<String>,
    /// Files (1 for a datafile).
    pub files: Option<i64>,
    /// Size in bytes.
    pub size: Option<i64>,
}

/// What a find run found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Found {
    /// `Investigation`, `Dataset` or `Datafile`.
    pub target: &'static str,
    /// The text searched for.
    pub text: String,
    /// The hits, best first.
    pub hits: Vec<FindHit>,
    /// Facet counts over every hit of the search (not only those printed), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<FacetCounts>,
    /// Where the next hits start (`--after`), when there are more.
    pub search_after: Option<serde_json::Value>,
    /// The rank of the next hit (`--first-rank`), when there are more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rank: Option<u64>,
    /// The search continued a previous one (`--after`).
    #[serde(skip)]
    pub continued: bool,
    /// Filters (dates, instrument, parameters) narrowed the search.
    #[serde(skip)]
    pub filtered: bool,
}

impl Found {
    /// The hits as an id list (`KIND ID` lines) for `icat download -`.
    pub fn id_list(&self) -> IdList {
        let mut list = IdList::default();
        for h in &self.hits {
            match h.kind {
                "investigation" => list.investigations.insert(h.id),
                "dataset" => list.datasets.insert(h.id),
                _ => list.datafiles.insert(h.id),
            };
        }
        list
    }
}

/// `--after JSON`: a relevance search's `search_after` as a previous run printed it: icat.lucene's
/// `{"doc": N, "shardIndex": N, "score": S, "fields": [...]}` or a `[SCORE, ID]` pair with a
/// positive id (the simulator's); anything else is refused here rather than by the server (or
/// silently read as "from the start").
pub fn after_point(text: &str) -> Result<serde_json::Value, Failure> {
    let bad = |why: String| {
        Failure::usage(
            format!("--after is not the JSON a previous run printed: {why}"),
            "copy the --after value from the previous run's hint (or its --json search_after)",
        )
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let lucene = v
        .get("doc")
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|d| d >= 0)
        && v.get("score").is_none_or(serde_json::Value::is_number);
    let pair = matches!(v.as_array().map(Vec::as_slice),
        Some([score, id]) if score.is_number() && id.as_i64().is_some_and(|i| i > 0));
    if lucene || pair {
        Ok(v)
    } else {
        Err(bad(format!(
            "{} is neither [SCORE, ID] with a positive id nor {{\"doc\": N, ...}}",
            sanitize_cell(text)
        )))
    }
}

/// `--since`/`--until` as ICAT's search dates: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC);
/// a day alone means its first minute for `--since` and its last for `--until`.
pub fn search_date(text: &str, end_of_day: bool) -> Result<String, Failure> {
    let bad = || {
        Failure::usage(
            format!("{text:?} is not a date"),
            "write YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)",
        )
    };
    let (day, time) = match text.trim().split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text.trim(), None),
    };
    let d: Vec<&str> = day.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or(99);
    let (year, month, day_of_month) = (i64::from(num(d[0])), num(d[1]), num(d[2]));
    // 2020-02-30 and 2021-02-29 are not dates either.
    if !icat_soap::calendar::is_valid_date(
        year,
        u8::try_from(month).unwrap_or(0),
        u8::try_from(day_of_month).unwrap_or(0),
    ) {
        return Err(bad());
    }
    let hm = match time {
        None if end_of_day => "2359".to_string(),
        None => "0000".to_string(),
        Some(t) => {
            // HH:MM or HH:MM:SS, UTC (a trailing Z at most): an offset such as +02:00 is refused
            // rather than dropped.
            let t = t.strip_suffix('Z').unwrap_or(t);
            let p: Vec<&str> = t.split(':').collect();
            if !(2..=3).contains(&p.len())
                || p.get(2).is_some_and(|sec| !digits(sec, 2) || num(sec) > 59)
                || !digits(p[0], 2)
                || !digits(p[1], 2)
                || num(p[0]) > 23
                || num(p[1]) > 59
            {
                return Err(bad());
            }
            format!("{}{}", p[0], p[1])
        }
    };
    Ok(format!("{}{}{}{hm}", d[0], d[1], d[2]))
}

/// `--parameter NAME=VALUE` or `NAME=LOW..HIGH`, with optional units as `NAME[UNITS]`: a number
/// matches a numeric value exactly, a range both ends included, anything else a string value
/// (`*` and `?` wildcards).
pub fn parameter(text: &str) -> Result<ParameterFilter, Failure> {
    let bad = |why: &str| {
        Failure::usage(
            format!("--parameter {text:?}: {why}"),
            "write NAME=VALUE, NAME=LOW..HIGH, or NAME[UNITS]=... (e.g. temperature[K]=90..110)",
        )
    };
    let (lhs, value) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (name, units) = match lhs.split_once('[') {
        Some((n, u)) => (
            n.trim(),
            u.strip_suffix(']')
                .ok_or_else(|| bad("units need a closing ']'"))?
                .trim(),
        ),
        None => (lhs.trim(), "*"),
    };
    if name.is_empty() || units.is_empty() {
        return Err(bad("empty name or units"));
    }
    let value = value.trim();
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let value = match value.split_once("..") {
        Some((lo, hi)) => {
            let (Some(lower), Some(upper)) = (number(lo), number(hi)) else {
                return Err(bad("a range needs two numbers"));
            };
            if lower > upper {
                return Err(bad("the range's low end is above its high end"));
            }
            ParameterValue::Numeric { lower, upper }
        }
        None => match number(value) {
            Some(v) => ParameterValue::Numeric { lower: v, upper: v },
            None if value.is_empty() => return Err(bad("empty value")),
            None => ParameterValue::String {
                string_value: value.to_string(),
            },
        },
    };
    Ok(ParameterFilter {
        name: name.to_string(),
        units: units.to_string(),
        value,
    })
}

/// The REST client for a connection: its URL, TLS settings and session.
pub fn rest_client(conn: &Connection) -> Result<RestClient, Failure> {
    let mut b = RestClient::builder(&conn.url)
        .user_agent(concat!("icat-rs/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(!conn.check_cert);
    if let Some(ca) = &conn.ca_file {
        b = b.ca_certificate(ca.clone());
    }
    if let Some(t) = conn.network.connect_timeout {
        b = b.connect_timeout(t);
    }
    // One search answer is small: --read-timeout bounds the whole request.
    if let Some(t) = conn.network.read_timeout {
        b = b.timeout(t);
    }
    // --retries (retries in icat.cfg) as for the SOAP calls: N retries after the first attempt.
    if let Some(n) = conn.network.retries {
        b = b.retry(icat_rest::RetryPolicy {
            max_retries: n,
            ..icat_rest::RetryPolicy::default()
        });
    }
    b.build()
        .map(|c| c.with_session(conn.session.clone()))
        .map_err(|e| {
            Failure::usage(
                e.to_string(),
                "check -w/--url and --ca-file (url and caFile in icat.cfg)",
            )
        })
}

fn kind_of(target: Target) -> &'static str {
    match target {
        Target::Investigation => "investigation",
        Target::Dataset => "dataset",
        Target::Datafile => "datafile",
    }
}

/// Server text, bounded; every character kept: tables and CSV escape what a terminal must not
/// receive and JSON writes it as `\u` escapes, as for `show` (issue 20: `find` blanked them, so
/// a name copied from it named nothing).
fn text_field(value: Option<&str>) -> Option<String> {
    value.map(|v| crate::output::bounded_text(v, MAX_FIELD))
}

/// The UTC day of a time in milliseconds since the epoch, `YYYY-MM-DD`.
fn day_of(millis: i64) -> String {
    let (y, m, d) = icat_soap::calendar::civil_from_days(millis.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// One hit's printed fields, from its document (server text bounded).
pub fn find_hit(rank: u64, target: Target, hit: &Hit) -> FindHit {
    let s = &hit.source;
    let (dataset, dataset_id, investigation_id, title) = match target {
        Target::Investigation => (None, None, Some(hit.id), s.text("title")),
        Target::Dataset => (s.name(), Some(hit.id), s.investigation_id(), s.title()),
        Target::Datafile => (s.dataset_name(), s.dataset_id(), s.investigation_id(), None),
    };
    FindHit {
        rank,
        kind: kind_of(target),
        id: hit.id,
        score: hit.score,
        visit: text_field(s.visit_id()),
        investigation_id,
        dataset: text_field(dataset),
        dataset_id,
        name: text_field(s.name()),
        date: s.date_millis().map(day_of),
        title: text_field(title),
        files: s.file_count(),
        size: s.file_size(),
    }
}

/// Runs the search, fetching pages (`search_after`) until `limit` hits or the end; with
/// `facets`, counts them over every hit of the search (`session` names instruments).
pub async fn find(
    rest: &RestClient,
    session: &icat_soap::Session,
    req: &FindRequest,
) -> Result<Found, Failure> {
    // No words: every document the filters select (ICAT scores them all 1.0).
    let mut query = SearchQuery::new(req.target);
    if !req.text.trim().is_empty() {
        query = query.text(req.text.clone());
    }
    query.lower = req.since.clone();
    query.upper = req.until.clone();
    query.parameters = req.parameters.clone();
    if let Some(i) = &req.instrument {
        query = query.instrument(i.clone());
    }
    let mut sreq = SearchRequest::new(query.clone());
    sreq.search_after = req.after.clone();
    let mut hits = Vec::new();
    let mut after = None;
    while (hits.len() as u64) < req.limit {
        let want = (req.limit - hits.len() as u64).min(u64::from(PAGE)) as u32;
        // minCount stays at the server's default (10): a larger one makes a real ICAT keep
        // filtering blocks for a user who may read few hits, up to its search time limit.
        sreq.max_count = Some(want);
        let page = rest.search(&sreq).await.map_err(rest_failure)?;
        let got = page.results.len();
        for h in page.results.iter().take(want as usize) {
            let rank = req.first_rank.saturating_add(hits.len() as u64);
            hits.push(find_hit(rank, req.target, h));
        }
        after = page.search_after;
        // No next point, or a page without hits (a server that would repeat itself): done.
        if after.is_none() || got == 0 {
            after = None;
            break;
        }
        if sreq.search_after.as_ref() == after.as_ref() {
            return Err(Failure::new(
                ExitKind::Server,
                "the server answered the same search_after twice; stopping",
                "report this to the facility; use --limit to take what was found",
            ));
        }
        sreq.search_after = after.clone();
    }
    // ICAT hands out a search_after whenever a page is full, also when nothing follows: with
    // exactly `limit` hits, ask for one more before saying there are more.
    if after.is_some() && hits.len() as u64 >= req.limit {
        sreq.search_after = after.clone();
        sreq.max_count = Some(1);
        match rest.search(&sreq).await {
            Ok(next) if next.results.is_empty() => after = None,
            Ok(_) => {}
            // The hits are there; whether more follow stays unknown (said as "more hits").
            Err(e) => tracing::debug!(error = %e, "could not tell whether more hits follow"),
        }
    }
    let facets = if req.facets {
        let matches = find_facets::collect(rest, &query).await?;
        Some(find_facets::count(rest, session, req.target, &matches).await?)
    } else {
        None
    };
    let next_rank = after
        .is_some()
        .then(|| req.first_rank.saturating_add(hits.len() as u64));
    Ok(Found {
        target: req.target.as_str(),
        text: req.text.clone(),
        hits,
        facets,
        next_rank,
        search_after: after,
        continued: req.after.is_some(),
        filtered: req.since.is_some()
            || req.until.is_some()
            || req.instrument.is_some()
            || !req.parameters.is_empty(),
    })
}

/// Prints hits (and facets) as a table, JSON, or CSV (facet rows with `--facets`).
pub fn print(found: &Found, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => out.write_all(to_json(found)?.as_bytes())?,
        Format::Csv if found.facets.is_some() => {
            let mut t = Table::new(&[
                ("DIMENSION", Align::Left),
                ("LABEL", Align::Left),
                ("COUNT", Align::Right),
            ]);
            let dims = found.facets.as_ref().map(|f| f.dimensions.as_slice());
            for (dim, labels) in dims.unwrap_or_default() {
                for (label, n) in labels {
                    t.push(vec![dim.clone(), label.clone(), n.to_string()]);
                }
            }
            out.write_all(t.render_csv().as_bytes())?;
        }
        Format::Csv => out.write_all(hits_table(found, true).render_csv().as_bytes())?,
        Format::Table => {
            if found.hits.is_empty() {
                writeln!(out, "{}", no_hits_line(found))?;
            } else {
                out.write_all(hits_table(found, false).render().as_bytes())?;
            }
            if let Some(f) = &found.facets {
                writeln!(out, "{}", facets_heading(found, f))?;
                for (dim, labels) in &f.dimensions {
                    let parts: Vec<String> = labels
                        .iter()
                        .map(|(l, n)| format!("{} {n}", sanitize_cell(l)))
                        .collect();
                    let low = if f.may_be_low.contains(dim) {
                        " (each request tells its 10 largest labels: others may be low)"
                    } else if dim.ends_with(".date") {
                        " (as --since/--until select: start and end within the year or range; \
                         other: not within one, e.g. no end date, which ICAT takes as the last \
                         modification)"
                    } else {
                        ""
                    };
                    writeln!(out, "{}: {}{low}", sanitize_cell(dim), parts.join(", "))?;
                }
            }
        }
    }
    Ok(())
}

/// What the facet counts cover: every hit the user may read (or the first ones of a very large
/// search).
fn facets_heading(found: &Found, f: &FacetCounts) -> String {
    let n = f.hits_counted;
    let unit = if n == 1 {
        plural(found).trim_end_matches('s')
    } else {
        plural(found)
    };
    let over = if f.all_hits {
        format!("all {n} {unit} matching")
    } else {
        format!("the first {n} {unit} matching (the search has more)")
    };
    if f.dimensions.is_empty() {
        format!("facet counts over {over}: none")
    } else {
        format!("facet counts over {over}:")
    }
}

/// What a table says when there are no hits: for the words and filters given, or that a page
/// continued with `--after` found no more.
fn no_hits_line(found: &Found) -> String {
    let what = if found.text.trim().is_empty() {
        "the filters".to_string()
    } else {
        format!("{:?}", sanitize_cell(&found.text))
    };
    if found.continued {
        format!("no more {} match {what}", plural(found))
    } else if found.filtered {
        let with = if found.text.trim().is_empty() {
            String::new()
        } else {
            format!(" {what} with")
        };
        format!(
            "no {} match{with} these filters (instrument names and parameter names are \
             case-sensitive; parameter units are matched, not converted)",
            plural(found)
        )
    } else {
        format!("no {} match {what}", plural(found))
    }
}

fn plural(found: &Found) -> &'static str {
    match found.target {
        "Investigation" => "visits",
        "Dataset" => "datasets",
        _ => "datafiles",
    }
}

/// One printed column: header, alignment, and the cell of a hit (`raw`: CSV, exact numbers).
type Column = (&'static str, Align, fn(&FindHit, bool) -> String);

fn text_cell(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

const RANK: Column = ("RANK", Align::Right, |h, _| h.rank.to_string());
// The table rounds; CSV keeps every digit (`--after` needs the exact score of a hit).
const SCORE: Column = ("SCORE", Align::Right, |h, raw| match (raw, h.score) {
    (true, Some(s)) => s.to_string(),
    (false, Some(s)) => format!("{s:.3}"),
    (_, None) => String::new(),
});
const ID: Column = ("ID", Align::Right, |h, _| h.id.to_string());
const VISIT: Column = ("VISIT", Align::Left, |h, _| text_cell(&h.visit));
const DATE: Column = ("DATE", Align::Left, |h, _| text_cell(&h.date));
const NAME: Column = ("NAME", Align::Left, |h, _| text_cell(&h.name));
const TITLE: Column = ("TITLE", Align::Left, |h, _| text_cell(&h.title));
const DATASET: Column = ("DATASET", Align::Left, |h, _| text_cell(&h.dataset));
const FILE: Column = ("FILE", Align::Left, |h, _| text_cell(&h.name));
const FILES: Column = ("FILES", Align::Right, |h, _| {
    h.files.map(|n| n.to_string()).unwrap_or_default()
});
const SIZE: Column = ("SIZE", Align::Right, |h, raw| match (raw, h.size) {
    (true, Some(s)) => s.to_string(),
    (false, Some(s)) => human_bytes(u64::try_from(s).unwrap_or(0)),
    (_, None) => String::new(),
});

/// The columns of each target's hits, for the table and CSV alike.
fn columns(target: &str) -> &'static [Column] {
    match target {
        "Investigation" => &[RANK, SCORE, ID, VISIT, DATE, NAME, TITLE, FILES, SIZE],
        "Dataset" => &[RANK, SCORE, ID, VISIT, DATE, DATASET, FILES, SIZE],
        _ => &[RANK, SCORE, ID, VISIT, DATE, DATASET, FILE, SIZE],
    }
}

fn hits_table(found: &Found, raw: bool) -> Table {
    let cols = columns(found.target);
    let heads: Vec<(&str, Align)> = cols.iter().map(|(h, a, _)| (*h, *a)).collect();
    let mut t = Table::new(&heads);
    for h in &found.hits {
        t.push(cols.iter().map(|(_, _, cell)| cell(h, raw)).collect());
    }
    t
}

/// Prints the hits as `KIND ID` lines (`icat download -` reads them).
pub fn print_ids(found: &Found, out: &mut dyn Write) -> anyhow::Result<()> {
    // A server that repeats a hit across pages gets one line for it.
    let mut seen = std::collections::HashSet::new();
    for h in found.hits.iter().filter(|h| seen.insert((h.kind, h.id))) {
        writeln!(out, "{}", crate::idlist::line(h.kind, h.id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_icat_minutes() {
        assert_eq!(search_date("2024-03-01", false).unwrap(), "202403010000");
        assert_eq!(search_date("2024-03-01", true).unwrap(), "202403012359");
        assert_eq!(
            search_date("2024-03-01T07:05", true).unwrap(),
            "202403010705"
        );
        assert_eq!(
            search_date("2024-03-01T07:05:09Z", false).unwrap(),
            "202403010705"
        );
        for bad in [
            "2024-3-1",
            "yesterday",
            "2024-13-01",
            "2024-03-01T25:00",
            "2020-02-30",
            "2021-02-29",
            "2020-04-31",
            "2020-01-00",
            "2020-01-17T01:00:00+02:00",
            "2020-01-17T01:00+02:00",
            "2020-01-17T01:00:00-02:00",
            "2020-01-17T01:00:60",
        ] {
            assert!(search_date(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn after_points_are_a_score_and_a_positive_id() {
        assert!(after_point("[2.659435086336173,2]").is_ok());
        assert!(after_point(r#"{"doc":4,"shardIndex":0,"score":1.0,"fields":[]}"#).is_ok());
        for bad in [
            "[\"x\",\"y\"]",
            "[2.67,-3]",
            "[]",
            "[1]",
            "{\"a\":1}",
            "[1,2,3]",
            "nope",
        ] {
            assert!(after_point(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_parse_values_ranges_and_units() {
        let p = parameter("temperature[K]=90..110").unwrap();
        assert_eq!((p.name.as_str(), p.units.as_str()), ("temperature", "K"));
        assert_eq!(
            p.value,
            ParameterValue::Numeric {
                lower: 90.0,
                upper: 110.0
            }
        );
        let p = parameter("sample=lyso*").unwrap();
        assert_eq!(p.units, "*");
        assert_eq!(
            p.value,
            ParameterValue::String {
                string_value: "lyso*".into()
            }
        );
        assert_eq!(
            parameter("energy=12.5").unwrap().value,
            ParameterValue::Numeric {
                lower: 12.5,
                upper: 12.5
            }
        );
        for bad in ["x", "=1", "t=", "t=5..1", "t=a..b", "t[K=1"] {
            assert!(parameter(bad).is_err(), "{bad}");
        }
    }
}
