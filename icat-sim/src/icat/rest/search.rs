//! `GET /icat/search/documents` and `GET /icat/facet/documents` (`ICATRest.searchDocuments`,
//! `ICATRest.facetDocuments`, `EntityBeanManager.freeTextSearchDocs` and `facetDocs`).

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{blocking, int_param, json_response, query_params};
use crate::icat::Icat;
use crate::icat::error::IcatError;
use crate::icat::http::AppState;
use crate::icat::textsearch::engine::{self, Limits, Sort};
use crate::icat::textsearch::facets::{self, Dimension};
use crate::icat::textsearch::fields::Target;
use crate::icat::textsearch::query::SearchQuery;

/// Reads the `query` parameter as a JSON object (a `JsonException` is BAD_PARAMETER).
fn query_object(raw: Option<&String>) -> Result<Map<String, Value>, IcatError> {
    let text = raw.ok_or_else(|| IcatError::bad_parameter("query is not set"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(IcatError::bad_parameter(
            "JsonException Cannot read JSON object, found JSON array or value",
        )),
        Err(e) => Err(IcatError::bad_parameter(format!("JsonException {e}"))),
    }
}

/// `{"Target.dimension": {label: count, ...}, ...}`; with `ranges_as_objects` (facet/documents)
/// a range label is `{"from", "to", "count"}`.
fn dimensions_json(dimensions: &[Dimension], ranges_as_objects: bool) -> Value {
    let mut out = Map::new();
    for d in dimensions {
        let mut labels = Map::new();
        for l in &d.labels {
            let value = match (&l.range, ranges_as_objects) {
                (Some((from, to)), true) => json!({"from": from, "to": to, "count": l.count}),
                _ => json!(l.count),
            };
            labels.insert(l.label.clone(), value);
        }
        out.insert(
            format!("{}.{}", d.target, d.dimension),
            Value::Object(labels),
        );
    }
    Value::Object(out)
}

/// `GET /icat/search/documents?sessionId=&query=&search_after=&minCount=&maxCount=&sort=&restrict=`.
pub async fn search_documents(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    blocking(&state.icat, move |icat| {
        let params = query_params(raw.as_deref());
        let min_count = int_param(&params, "minCount")?.unwrap_or(0);
        let max_count = int_param(&params, "maxCount")?.unwrap_or(0);
        let restrict = params
            .get("restrict")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut query = query_object(params.get("query"))?;
        let min_count = if min_count == 0 { 10 } else { min_count };
        let max_count = if max_count == 0 { 100 } else { max_count };
        let session = params.get("sessionId").map(String::as_str).unwrap_or("");
        let user = icat.user_of(session)?;
        let search_after = match params.get("search_after").filter(|s| !s.is_empty()) {
            None => None,
            // Read outside the JsonException handler: a parse error reaches
            // ThrowableExceptionMapper (INTERNAL).
            Some(s) => Some(serde_json::from_str::<Value>(s).map_err(|e| {
                IcatError::internal(format!(
                    "class jakarta.json.stream.JsonParsingException {e}"
                ))
            })?),
        };
        if restrict && !query.contains_key("user") {
            query.insert("user".into(), json!(user));
        }
        let q = SearchQuery::parse(&query)?;
        run_search(
            icat,
            &user,
            &q,
            search_after.as_ref(),
            params.get("sort"),
            min_count,
            max_count,
        )
    })
    .await
}

fn run_search(
    icat: &Icat,
    user: &str,
    q: &SearchQuery,
    search_after: Option<&Value>,
    sort: Option<&String>,
    min_count: i64,
    max_count: i64,
) -> Result<Response, IcatError> {
    let sort = Sort::parse(q.target, sort.map(String::as_str))?;
    let settings = &icat.config().search;
    let limits = Limits {
        min_count: usize::try_from(min_count.max(0)).unwrap_or(0),
        max_count: usize::try_from(max_count.max(1)).unwrap_or(1),
        block_size: settings.search_block_size,
        max_entities: icat.config().max_entities,
        max_time: Duration::from_secs(settings.max_search_time_seconds),
    };
    let db = icat.db();
    let access = icat.user_access(&db, user)?;
    let public = icat.public_access(&db, user)?;
    let found = engine::search(
        &db,
        access.as_deref(),
        &public,
        q,
        search_after,
        sort,
        limits,
    )?;
    let mut dimensions = Vec::new();
    if !found.hits.is_empty() {
        let ids: Vec<i64> = found.hits.iter().map(|h| h.id).collect();
        let sources: Vec<&Map<String, Value>> = found.hits.iter().map(|h| &h.source).collect();
        for facet in &q.facets {
            let target = facet_target(facet)?;
            if let Some(filter) = facets::hits_query(&public, q.target, target, &ids, &sources)? {
                dimensions.extend(facets::facet(
                    &db,
                    None,
                    target,
                    &filter,
                    facet.get("dimensions"),
                )?);
            }
        }
    }
    let mut body = Map::new();
    if let Some(after) = found.search_after {
        body.insert("search_after".into(), after);
    }
    if !dimensions.is_empty() {
        body.insert("dimensions".into(), dimensions_json(&dimensions, false));
    }
    let results: Vec<Value> = found
        .hits
        .into_iter()
        .map(|h| json!({"id": h.id, "score": h.score, "source": Value::Object(h.source)}))
        .collect();
    body.insert("results".into(), Value::Array(results));
    Ok(json_response(Value::Object(body).to_string()))
}

fn facet_target(facet: &Map<String, Value>) -> Result<&str, IcatError> {
    facet.get("target").and_then(Value::as_str).ok_or_else(|| {
        IcatError::internal("class java.lang.NullPointerException facet target is not set")
    })
}

/// `GET /icat/facet/documents?sessionId=&query=`. icat.server checks no session here and counts
/// every document the filter selects; the simulator requires a session and counts only documents
/// whose owning investigation, dataset or datafile the user may read.
pub async fn facet_documents(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    blocking(&state.icat, move |icat| {
        let params = query_params(raw.as_deref());
        let query = query_object(params.get("query"))?;
        let target = match query.get("target") {
            Some(Value::String(t)) => Target::parse(t)
                .ok_or_else(|| IcatError::bad_parameter(format!("target:{t} is not expected")))?,
            _ => {
                return Err(IcatError::internal(
                    "class java.lang.NullPointerException target is not set",
                ));
            }
        };
        let session = params.get("sessionId").map(String::as_str).unwrap_or("");
        let user = icat.user_of(session)?;
        let db = icat.db();
        let access = icat.user_access(&db, &user)?;
        let public = icat.public_access(&db, &user)?;
        let mut dimensions = Vec::new();
        if let Some(list) = query.get("facets").and_then(Value::as_array) {
            let filter = match query.get("filter") {
                Some(Value::Object(f)) => f.clone(),
                _ => {
                    return Err(IcatError::internal(
                        "class java.lang.NullPointerException filter is not set",
                    ));
                }
            };
            for facet in list {
                let facet = facet.as_object().ok_or_else(|| {
                    IcatError::bad_parameter("facets should be an ARRAY of OBJECT")
                })?;
                let facet_target = facet_target(facet)?;
                if facets::filter_allowed(&public, target, facet_target)? {
                    dimensions.extend(facets::facet(
                        &db,
                        access.as_deref(),
                        facet_target,
                        &filter,
                        facet.get("dimensions"),
                    )?);
                }
            }
        }
        let mut body = Map::new();
        if !dimensions.is_empty() {
            body.insert("dimensions".into(), dimensions_json(&dimensions, true));
        }
        Ok(json_response(Value::Object(body).to_string()))
    })
    .await
}
