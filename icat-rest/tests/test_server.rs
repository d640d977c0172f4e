//! The client against a small server on 127.0.0.1 that answers as icat.server's `ICATRest`
//! documents it (search/documents with search_after paging, facet/documents, session calls,
//! JSON errors), recording what it was sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use icat_rest::{
    DimensionRequest, Direction, FacetQuery, FacetRange, FacetRequest, RestClient, RestError,
    RetryPolicy, SearchQuery, SearchRequest, Target,
};
use serde_json::{Value, json};

const SESSION: &str = "0d9a3706-80d4-4d29-9ff3-4d65d4308a24";

#[derive(Default)]
struct Seen {
    searches: Vec<HashMap<String, String>>,
    facets: Vec<HashMap<String, String>>,
}

type Shared = Arc<Mutex<Seen>>;

fn icat_error(status: StatusCode, code: &str, message: &str) -> axum::response::Response {
    (
        status,
        json!({"code": code, "message": message}).to_string(),
    )
        .into_response()
}

/// Five datafile documents; `maxCount` per page; `search_after` is `{"doc": <last index>}`.
async fn search(
    State(seen): State<Shared>,
    Query(p): Query<HashMap<String, String>>,
) -> axum::response::Response {
    seen.lock().unwrap().searches.push(p.clone());
    if p.get("sessionId").map(String::as_str) != Some(SESSION) {
        return icat_error(
            StatusCode::FORBIDDEN,
            "SESSION",
            "Unable to find user by sessionid: x",
        );
    }
    let Some(query) = p.get("query") else {
        return icat_error(StatusCode::BAD_REQUEST, "BAD_PARAMETER", "query is not set");
    };
    let q: Value = serde_json::from_str(query).unwrap();
    if q["target"] != "Datafile" {
        return icat_error(
            StatusCode::BAD_REQUEST,
            "BAD_PARAMETER",
            "target:x is not expected",
        );
    }
    let max: usize = p.get("maxCount").map_or(100, |m| m.parse().unwrap());
    let start = p
        .get("search_after")
        .map(|s| {
            serde_json::from_str::<Value>(s).unwrap()["doc"]
                .as_u64()
                .unwrap() as usize
                + 1
        })
        .unwrap_or(0);
    let docs: Vec<Value> = (0..5)
        .map(|i| {
            json!({"id": 100 + i, "score": 5.0 - i as f64, "source": {
                "name": format!("f{i}.nxs"), "fileSize": 1000 * (i + 1), "dataset.name": "run",
                "dataset.id": 7, "visitId": "V1", "investigation.id": 3, "date": 1_700_000_000_000_i64}})
        })
        .collect();
    let page: Vec<Value> = docs.iter().skip(start).take(max).cloned().collect();
    let end = start + page.len();
    let mut answer = json!({"results": page});
    if end < docs.len() {
        answer["search_after"] = json!({"doc": end - 1, "shardIndex": 0, "score": 1.0});
    }
    if q.get("facets").is_some() {
        answer["dimensions"] = json!({"Datafile.datafileFormat.name": {"NeXus": 4, "text": 1}});
    }
    answer.to_string().into_response()
}

async fn facet(
    State(seen): State<Shared>,
    Query(p): Query<HashMap<String, String>>,
) -> axum::response::Response {
    seen.lock().unwrap().facets.push(p);
    // Written as text: the label order is the server's, not alphabetical.
    r#"{"dimensions":{"Datafile.fileSize":{"small":{"from":0,"to":2500,"count":2},"large":{"from":2500,"to":1000000,"count":3}}}}"#
        .into_response()
}

async fn login(Form(f): Form<HashMap<String, String>>) -> axum::response::Response {
    let j: Value = serde_json::from_str(&f["json"]).unwrap();
    if j["plugin"] == "db" && j["credentials"] == json!([{"username": "root"}, {"password": "pw"}])
    {
        json!({"sessionId": SESSION}).to_string().into_response()
    } else {
        icat_error(
            StatusCode::FORBIDDEN,
            "SESSION",
            "The username and password do not match",
        )
    }
}

async fn session(Path(id): Path<String>) -> axum::response::Response {
    if id == SESSION {
        json!({"userName": "db/root", "remainingMinutes": 117.5})
            .to_string()
            .into_response()
    } else {
        icat_error(
            StatusCode::FORBIDDEN,
            "SESSION",
            "Unable to find user by sessionid",
        )
    }
}

async fn huge() -> String {
    "x".repeat(10_000)
}

async fn start() -> (String, Shared, tokio::task::JoinHandle<()>) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/icat/search/documents", get(search))
        .route("/icat/facet/documents", get(facet))
        .route("/icat/session", post(login))
        .route("/icat/session/{id}", get(session))
        .route("/icat/version", get(huge))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/ICATService/ICAT?wsdl"), seen, h)
}

#[tokio::test]
async fn pages_with_search_after_until_the_end_and_sends_every_option() {
    let (url, seen, _h) = start().await;
    let rest = RestClient::new(&url).unwrap().with_session_id(SESSION);
    let mut q = SearchQuery::new(Target::Datafile)
        .text("lysozyme")
        .instrument("ALF");
    q.facets.push(FacetRequest {
        target: "Datafile".into(),
        dimensions: vec![DimensionRequest::new("datafileFormat.name")],
    });
    let mut req = SearchRequest::new(q);
    req.max_count = Some(2);
    req.min_count = Some(2);
    req.sort = vec![
        ("fileSize".into(), Direction::Desc),
        ("name".into(), Direction::Asc),
    ];
    req.restrict = true;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = rest.search(&req).await.unwrap();
        pages += 1;
        assert_eq!(
            page.dimensions
                .get("Datafile.datafileFormat.name")
                .unwrap()
                .labels[0]
                .label,
            "NeXus"
        );
        ids.extend(page.results.iter().map(|h| h.id));
        match page.search_after {
            Some(after) => req.search_after = Some(after),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(ids, [100, 101, 102, 103, 104]);
    assert_eq!(pages, 3);
    let seen = seen.lock().unwrap();
    let first = &seen.searches[0];
    assert_eq!(first["sort"], r#"{"fileSize":"desc","name":"asc"}"#);
    assert_eq!(first["restrict"], "true");
    assert_eq!(first["maxCount"], "2");
    assert_eq!(first["minCount"], "2");
    assert!(!first.contains_key("search_after"));
    let q: Value = serde_json::from_str(&first["query"]).unwrap();
    assert_eq!(
        q["filter"]["investigationinstrument.instrument.name"],
        "ALF"
    );
    let second: Value = serde_json::from_str(&seen.searches[1]["search_after"]).unwrap();
    assert_eq!(second["doc"], 1);
}

#[tokio::test]
async fn facets_with_ranges() {
    let (url, seen, _h) = start().await;
    let rest = RestClient::new(&url).unwrap().with_session_id(SESSION);
    let q = FacetQuery {
        target: Target::Datafile,
        facets: vec![FacetRequest {
            target: "Datafile".into(),
            dimensions: vec![DimensionRequest {
                dimension: "fileSize".into(),
                ranges: vec![FacetRange {
                    key: Some("small".into()),
                    from: Some(0_i64.into()),
                    to: Some(2500_i64.into()),
                }],
            }],
        }],
        filter: serde_json::Map::new(),
    };
    let a = rest.facets(&q).await.unwrap();
    let d = a.dimensions.get("Datafile.fileSize").unwrap();
    assert_eq!(
        d.labels
            .iter()
            .map(|l| (l.label.as_str(), l.count))
            .collect::<Vec<_>>(),
        [("small", 2), ("large", 3)]
    );
    let sent: Value = serde_json::from_str(&seen.lock().unwrap().facets[0]["query"]).unwrap();
    assert_eq!(
        sent["facets"][0]["dimensions"][0]["ranges"][0]["key"],
        "small"
    );
}

#[tokio::test]
async fn errors_are_typed_and_never_show_the_session_id() {
    let (url, _seen, _h) = start().await;
    let stale = "11111111-2222-3333-4444-555555555555";
    let rest = RestClient::new(&url).unwrap().with_session_id(stale);
    let e = rest
        .search(&SearchRequest::new(SearchQuery::new(Target::Datafile)))
        .await
        .unwrap_err();
    assert!(e.is_session(), "{e}");
    assert!(!format!("{e} {e:?}").contains("555555555555"));
    // Wrong target: ICAT's BAD_PARAMETER.
    let rest = RestClient::new(&url).unwrap().with_session_id(SESSION);
    let e = rest
        .search(&SearchRequest::new(SearchQuery::new(Target::Dataset)))
        .await
        .unwrap_err();
    assert!(matches!(e, RestError::Icat { status: 400, .. }), "{e}");
    // No such endpoint (an ICAT before 6.1).
    let old = RestClient::new(&url.replace("/ICATService/ICAT?wsdl", "/old/ICATService/ICAT"))
        .unwrap()
        .with_session_id(SESSION);
    let e = old
        .search(&SearchRequest::new(SearchQuery::new(Target::Datafile)))
        .await
        .unwrap_err();
    assert!(matches!(e, RestError::NoEndpoint { .. }), "{e}");
    // Answers are bounded.
    let small = RestClient::builder(&url).max_answer(1000).build().unwrap();
    assert!(matches!(
        small.version().await.unwrap_err(),
        RestError::TooLarge { limit: 1000, .. }
    ));
    // Nothing listening: a connect error without the session id.
    let gone = RestClient::builder("http://127.0.0.1:9")
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
        .with_session_id(SESSION);
    let e = gone
        .search(&SearchRequest::new(SearchQuery::new(Target::Datafile)))
        .await
        .unwrap_err();
    assert!(matches!(e, RestError::Connect { .. }), "{e}");
    assert!(!e.to_string().contains("4d65d4308a24"), "{e}");
}

#[tokio::test]
async fn login_and_session_info_over_rest() {
    let (url, _seen, _h) = start().await;
    let rest = RestClient::new(&url).unwrap();
    let id = rest
        .login("db", &[("username", "root"), ("password", "pw")])
        .await
        .unwrap();
    let info = rest
        .clone()
        .with_session_id(id)
        .session_info()
        .await
        .unwrap();
    assert_eq!(info.user_name, "db/root");
    assert!(
        rest.login("db", &[("username", "root"), ("password", "no")])
            .await
            .unwrap_err()
            .is_session()
    );
}

/// A gateway in front of ICAT that answers 503 (an HTML page, no ICAT error) to the first
/// `busy` searches, then ICAT's answer; a BAD_PARAMETER for a Dataset target. Counts requests.
async fn gateway(busy: usize) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/icat/search/documents",
        get(move |Query(p): Query<HashMap<String, String>>| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if p.get("query").is_some_and(|q| q.contains("Dataset")) {
                    return icat_error(StatusCode::BAD_REQUEST, "BAD_PARAMETER", "no datasets");
                }
                if n < busy {
                    return (StatusCode::SERVICE_UNAVAILABLE, "<html>busy</html>").into_response();
                }
                json!({"results": [{"id": 1, "score": 1.0, "source": {"name": "a.nxs"}}]})
                    .to_string()
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/ICATService/ICAT"), calls, h)
}

#[tokio::test]
async fn reads_are_retried_after_gateway_errors_within_the_policy() {
    let quick = |attempts: u32| RetryPolicy::new(attempts - 1, Duration::from_millis(1));
    let client = |url: &str, policy| {
        RestClient::builder(url)
            .retry(policy)
            .build()
            .unwrap()
            .with_session_id(SESSION)
    };
    let datafiles = SearchRequest::new(SearchQuery::new(Target::Datafile));
    // Two 503s, three attempts allowed: the third answers.
    let (url, calls, _h) = gateway(2).await;
    let page = client(&url, quick(3)).search(&datafiles).await.unwrap();
    assert_eq!(page.results.len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Two attempts allowed: both meet a 503, and the error says so.
    let (url, calls, _h) = gateway(2).await;
    let e = client(&url, quick(2)).search(&datafiles).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    match &e {
        RestError::RetriesExhausted {
            attempts: 2, last, ..
        } => {
            assert!(matches!(**last, RestError::Http { status: 503, .. }), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // No retries: the 503 itself after one request.
    let (url, calls, _h) = gateway(2).await;
    let e = client(&url, RetryPolicy::none())
        .search(&datafiles)
        .await
        .unwrap_err();
    assert!(matches!(e, RestError::Http { status: 503, .. }), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // ICAT's own refusals are answers, not transient: never repeated.
    let (url, calls, _h) = gateway(0).await;
    let e = client(&url, quick(3))
        .search(&SearchRequest::new(SearchQuery::new(Target::Dataset)))
        .await
        .unwrap_err();
    assert!(matches!(e, RestError::Icat { status: 400, .. }), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Nothing listening: retried too, then reported as a connection failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = client(&format!("http://127.0.0.1:{port}"), quick(2))
        .search(&datafiles)
        .await
        .unwrap_err();
    match &e {
        RestError::RetriesExhausted {
            attempts: 2, last, ..
        } => {
            assert!(matches!(**last, RestError::Connect { .. }), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 14 re-review (HIGH): a search answer holding far more hits than the `maxCount` asked
/// (the review: 1,400,000 tiny hits for 25 asked, 63 MiB, just under the answer limit) was
/// decoded whole, 1.1 GiB of memory in `icat find`. Now the hits are counted before they are
/// built and such an answer is refused as not a search answer; one with no more than asked
/// is decoded as before.
#[tokio::test]
async fn a_search_answer_with_more_hits_than_asked_is_refused_before_it_is_decoded() {
    async fn hits(State(n): State<Arc<AtomicUsize>>) -> String {
        let results: Vec<Value> = (1..=n.load(Ordering::SeqCst))
            .map(|id| json!({"id": id, "score": 1.0, "source": {"id": id}}))
            .collect();
        json!({ "results": results }).to_string()
    }
    let answered = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/icat/search/documents", get(hits))
        .with_state(answered.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let rest = RestClient::new(&format!("http://{addr}/ICATService/ICAT"))
        .unwrap()
        .with_session_id(SESSION);
    for (n, asked, refused) in [(5000, 25, true), (26, 25, true), (25, 25, false)] {
        answered.store(n, Ordering::SeqCst);
        let mut req = SearchRequest::new(SearchQuery::new(Target::Datafile));
        req.max_count = Some(asked);
        match rest.search(&req).await {
            Err(RestError::Decode { detail, .. }) if refused => {
                assert!(
                    detail.contains(&format!("{n} hits where at most {asked} were asked")),
                    "{detail}"
                );
            }
            Ok(page) if !refused => assert_eq!(page.results.len(), n),
            other => panic!("{n} hits for {asked} asked: {other:?}"),
        }
    }
    server.abort();
}
