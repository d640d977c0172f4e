//! `icat find` against a front server on 127.0.0.1 that answers `/icat/search/documents` in
//! icat.server's documented format (ICATRest.searchDocuments: `search_after`, `dimensions`,
//! `results` of `id`/`score`/`source`) from the simulator's own catalogue, and passes every
//! other request (SOAP, IDS, REST sessions) through to the simulator.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Home, files_under, json, ok, start_sim, stderr, stdout};
use serde_json::{Value, json};

/// One document the front server can return.
#[derive(Clone)]
struct Doc {
    id: i64,
    source: Value,
}

#[derive(Default)]
struct Front {
    sim: String,
    /// Documents per target.
    docs: HashMap<String, Vec<Doc>>,
    /// Hits per page at most (to make the client page).
    page_cap: usize,
    /// Every search's parameters.
    seen: Vec<HashMap<String, String>>,
    /// Client for the simulator.
    http: Option<reqwest::Client>,
    /// Searches still to be answered 503 by the "gateway" (an HTML page, no ICAT error).
    busy: usize,
    /// Every page repeats the first hits (a broken server), while search_after moves on.
    repeat: bool,
}

type Shared = Arc<Mutex<Front>>;

fn icat_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        json!({"code": code, "message": message}).to_string(),
    )
        .into_response()
}

/// The documents from `search_after` on, `min(maxCount, page_cap)` of them; scores fall with the
/// rank.
async fn search(State(front): State<Shared>, Query(p): Query<HashMap<String, String>>) -> Response {
    let (sim, docs, cap, http, repeat) = {
        let mut f = front.lock().unwrap();
        f.seen.push(p.clone());
        if f.busy > 0 {
            f.busy -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "<html>busy</html>").into_response();
        }
        (
            f.sim.clone(),
            f.docs.clone(),
            f.page_cap,
            f.http.clone().unwrap(),
            f.repeat,
        )
    };
    // The session must be a live ICAT session (the simulator's REST session call says).
    let id = p.get("sessionId").cloned().unwrap_or_default();
    let live = http
        .get(format!("{sim}/icat/session/{id}"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    if !live {
        return icat_error(
            StatusCode::FORBIDDEN,
            "SESSION",
            "Unable to find user by sessionid",
        );
    }
    let q: Value = serde_json::from_str(p.get("query").map_or("{}", String::as_str)).unwrap();
    if q["text"] == "bad((" {
        return icat_error(
            StatusCode::BAD_REQUEST,
            "BAD_PARAMETER",
            "Cannot parse 'bad((': Encountered <EOF>",
        );
    }
    let all = docs
        .get(q["target"].as_str().unwrap_or(""))
        .cloned()
        .unwrap_or_default();
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
    let take = max.min(cap);
    let page: Vec<Value> = all
        .iter()
        .enumerate()
        .skip(if repeat { 0 } else { start })
        .take(take)
        .map(|(i, d)| json!({"id": d.id, "score": 10.0 - i as f64, "source": d.source}))
        .collect();
    let end = start + page.len();
    let mut body = json!({"results": page});
    if end < all.len() {
        body["search_after"] = json!({"doc": end - 1, "shardIndex": 0, "score": 1.0, "fields": []});
    }
    body.to_string().into_response()
}

/// Everything else goes to the simulator unchanged.
async fn pass(State(front): State<Shared>, req: Request) -> Response {
    let (sim, http) = {
        let f = front.lock().unwrap();
        (f.sim.clone(), f.http.clone().unwrap())
    };
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let url = format!(
        "{sim}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut out = http.request(parts.method.clone(), url);
    for (k, v) in &parts.headers {
        if k != "host" {
            out = out.header(k, v);
        }
    }
    let r = out.body(body).send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let mut resp = (status, bytes).into_response();
    for (k, v) in &headers {
        if k != "transfer-encoding" && k != "content-length" {
            resp.headers_mut().insert(k, v.clone());
        }
    }
    resp
}

struct Setup {
    _sim: common::Sim,
    _rt: tokio::runtime::Runtime,
    home: Home,
    front: Shared,
    /// SIM000001's datasets: (id, name, file ids).
    datasets: Vec<(i64, String, Vec<i64>)>,
}

/// The simulator (2 visits x 2 datasets x 3 files of 2 KiB) behind the front server, jdoe
/// logged in through the front. Documents: SIM000001's datasets, their datafiles, the visit.
fn setup(page_cap: usize) -> Setup {
    let sim = start_sim(
        "visits=2,datasets=2,files=3,size=2KiB",
        false,
        Duration::from_millis(100),
    );
    let base = sim
        .icat_url
        .split("/ICATService")
        .next()
        .unwrap()
        .to_string();
    let front: Shared = Arc::new(Mutex::new(Front {
        sim: base,
        page_cap,
        http: Some(icat_soap::tls::http_client().unwrap()),
        ..Front::default()
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/icat/search/documents", get(search))
        .fallback(pass)
        .with_state(front.clone());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let home = Home::new();
    let ids_url = sim.ids_url.clone();
    let icat_url = format!("http://{addr}/ICATService/ICAT");
    ok(&home.run_with_stdin(
        &[
            "-w",
            &icat_url,
            "--idsurl",
            &ids_url,
            "-a",
            "db",
            "-u",
            "jdoe",
            "--password-stdin",
            "login",
        ],
        "secret\n",
    ));
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let visit = tree["visit_id"].as_str().unwrap().to_string();
    let inv_id = tree["id"].as_i64().unwrap();
    let mut datasets = Vec::new();
    let (mut ds_docs, mut df_docs) = (Vec::new(), Vec::new());
    for ds in tree["datasets"].as_array().unwrap() {
        let (id, name) = (ds["id"].as_i64().unwrap(), ds["name"].as_str().unwrap());
        let files: Vec<&Value> = ds["files"].as_array().unwrap().iter().collect();
        ds_docs.push(Doc {
            id,
            source: json!({"name": name, "visitId": visit, "investigation.id": inv_id,
                "investigation.title": "Lysozyme \u{1b}[2J so\u{200b}ak\u{2066}", "fileCount": files.len(),
                "fileSize": 2048 * files.len(), "id": id}),
        });
        for f in &files {
            df_docs.push(Doc {
                id: f["id"].as_i64().unwrap(),
                source: json!({"name": f["name"], "dataset.name": name, "dataset.id": id,
                    "visitId": visit, "investigation.id": inv_id, "fileSize": 2048,
                    "fileCount": 1}),
            });
        }
        datasets.push((
            id,
            name.to_string(),
            files.iter().map(|f| f["id"].as_i64().unwrap()).collect(),
        ));
    }
    {
        let mut f = front.lock().unwrap();
        f.docs.insert("Dataset".into(), ds_docs);
        f.docs.insert("Datafile".into(), df_docs);
        f.docs.insert(
            "Investigation".into(),
            vec![Doc {
                id: inv_id,
                source: json!({"name": "SIM000001", "visitId": visit,
                    "title": "Lysozyme soak", "fileCount": 6, "fileSize": 6 * 2048}),
            }],
        );
    }
    Setup {
        _sim: sim,
        _rt: rt,
        home,
        front,
        datasets,
    }
}

#[test]
fn find_prints_ranked_hits_as_table_json_and_csv() {
    let s = setup(100);
    let table = ok(&s.home.run(&["find", "lysozyme"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("RANK") && lines[0].contains("DATASET"),
        "{table}"
    );
    assert!(
        lines[1].contains(&s.datasets[0].1) && lines[1].contains("6.0 KiB"),
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");

    let raw = ok(&s.home.run(&["find", "lysozyme", "--json"]));
    let doc: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["target"], "Dataset");
    let hits = doc["hits"].as_array().unwrap();
    assert_eq!(hits[0]["rank"], 1);
    assert_eq!(hits[0]["id"], s.datasets[0].0);
    assert_eq!(hits[0]["files"], 3);
    // Server text never reaches the terminal raw: every field alike, escapes, bidi controls
    // and invisible characters (U+200B) are written as JSON `\u` escapes (issue 20: one rule
    // with `show`), so the document still holds the exact title.
    assert!(
        !raw.contains('\u{1b}') && !raw.contains('\u{200b}') && !raw.contains('\u{2066}'),
        "{raw:?}"
    );
    assert!(
        raw.contains("Lysozyme \\u001b[2J so\\u200bak\\u2066"),
        "{raw}"
    );
    let title = hits[0]["title"].as_str().unwrap();
    assert_eq!(title, "Lysozyme \u{1b}[2J so\u{200b}ak\u{2066}", "{doc}");
    assert!(doc["search_after"].is_null());

    let csv = ok(&s.home.run(&["find", "lysozyme", "--datafiles", "--csv"]));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "RANK,SCORE,ID,VISIT,DATE,DATASET,FILE,SIZE");
    assert_eq!(rows.len(), 1 + 6, "{csv}");
    assert!(rows[1].ends_with(",2048"), "{csv}");
    // Scores with every digit (what --after needs), not rounded as in the table.
    let s1: f64 = rows[1].split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(s1, 10.0, "{csv}");
    assert!(rows[1].starts_with("1,10,"), "{csv}");
    // --facets has no place in an id list: refused like --ids --json.
    let o = s.home.run(&["find", "lysozyme", "--ids", "--facets"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let visits = ok(&s.home.run(&["find", "lysozyme", "--visits"]));
    assert!(
        visits.contains("SIM000001") && visits.contains("Lysozyme soak"),
        "{visits}"
    );

    // Filters reach the server as ICAT reads them.
    ok(&s.home.run(&[
        "find",
        "lysozyme",
        "--since",
        "2024-01-01",
        "--until",
        "2024-12-31",
        "--instrument",
        "ALF",
        "--parameter",
        "temperature[K]=90..110",
        "--parameter",
        "sample=lyso*",
    ]));
    let seen = s.front.lock().unwrap().seen.last().cloned().unwrap();
    let q: Value = serde_json::from_str(&seen["query"]).unwrap();
    assert_eq!(q["target"], "Dataset");
    assert_eq!(q["text"], "lysozyme");
    assert_eq!(q["lower"], "202401010000");
    assert_eq!(q["upper"], "202412312359");
    assert_eq!(
        q["filter"]["investigationinstrument.instrument.name"],
        "ALF"
    );
    assert_eq!(
        q["parameters"],
        json!([{"name": "temperature", "units": "K", "lowerNumericValue": 90.0, "upperNumericValue": 110.0},
               {"name": "sample", "units": "*", "stringValue": "lyso*"}])
    );
    // The session id is never printed.
    assert!(!seen["sessionId"].is_empty());
    assert!(!table.contains(&seen["sessionId"]));

    // Nothing found, and a query the server refuses (exit 2, ICAT's message).
    s.front.lock().unwrap().docs.clear();
    let none = ok(&s.home.run(&["find", "nothing"]));
    assert!(none.starts_with("no datasets match"), "{none}");
    let o = s.home.run(&["find", "bad(("]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Cannot parse"), "{}", stderr(&o));
}

#[test]
fn a_busy_gateway_is_retried_within_the_retries_allowed() {
    let s = setup(100);
    let searches = |s: &Setup| s.front.lock().unwrap().seen.len();
    // Two 503s: the default retries (3) get through.
    s.front.lock().unwrap().busy = 2;
    let t = ok(&s.home.run(&["find", "lysozyme"]));
    assert!(t.contains(&s.datasets[0].1), "{t}");
    assert_eq!(searches(&s), 3);
    // --retries 1 is two attempts: both meet a 503, and the message says what to do.
    s.front.lock().unwrap().busy = 2;
    let o = s.home.run(&["--retries", "1", "find", "lysozyme"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("503") && err.contains("--retries"), "{err}");
    assert_eq!(searches(&s), 5);
    // --retries 0: one attempt.
    s.front.lock().unwrap().busy = 1;
    let o = s.home.run(&["--retries", "0", "find", "lysozyme"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(searches(&s), 6);
}

#[test]
fn find_pages_with_search_after_on_demand_and_counts_facets_over_every_hit() {
    let s = setup(2);
    // 6 datafile documents, 2 per page: --limit 5 takes three pages and says there is more.
    let o = s
        .home
        .run(&["find", "x", "--datafiles", "--limit", "5", "--json"]);
    let doc: Value = serde_json::from_str(&ok(&o)).unwrap();
    let ranks: Vec<i64> = doc["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rank"].as_i64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3, 4, 5]);
    // --after takes only what a previous run printed: a score and a positive id (finding 6).
    for bad in ["[\"x\",\"y\"]", "[2.67,-3]", "[]"] {
        let o = s.home.run(&["find", "x", "--datafiles", "--after", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--after"), "{}", stderr(&o));
    }
    let seen: Vec<HashMap<String, String>> = s.front.lock().unwrap().seen.clone();
    // Three pages, then one hit more asked for to tell whether any follow.
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen.iter()
            .map(|p| p["maxCount"].clone())
            .collect::<Vec<_>>(),
        ["5", "3", "1", "1"]
    );
    assert!(
        seen[3]["search_after"].contains("\"doc\":4"),
        "{:?}",
        seen[3]
    );
    assert!(!seen[0].contains_key("search_after"));
    // minCount is left at the server's default (a large one can run into ICAT's search time limit).
    assert!(!seen[0].contains_key("minCount"));
    assert!(
        stderr(&o).contains("--after") && stderr(&o).contains("--first-rank 6"),
        "{}",
        stderr(&o)
    );
    assert_eq!(doc["next_rank"], 6, "{doc}");
    // Continue where it stopped, the numbering too.
    let after = doc["search_after"].to_string();
    let rest = json(&s.home.run(&[
        "find",
        "x",
        "--datafiles",
        "--after",
        &after,
        "--first-rank",
        "6",
        "--json",
    ]));
    assert_eq!(rest["hits"].as_array().unwrap().len(), 1);
    assert_eq!(rest["hits"][0]["rank"], 6, "{rest}");
    assert!(rest["search_after"].is_null());

    // Facets over every hit of the search, not only those printed: the search is paged through
    // from its start, then facet/documents counts over the hits' ids.
    let before = s.front.lock().unwrap().seen.len();
    let t = ok(&s
        .home
        .run(&["find", "x", "--datafiles", "--limit", "1", "--facets"]));
    assert!(
        t.contains("facet counts over all 6 datafiles matching:"),
        "{t}"
    );
    assert!(t.contains("Datafile.datafileFormat.name: NeXus 6"), "{t}");
    // Ranges in their natural order, not the server's.
    assert!(
        t.contains("Datafile.fileSize: < 1 MB 6, 1 MB - 1 GB 0, >= 1 GB 0"),
        "{t}"
    );
    let seen: Vec<HashMap<String, String>> = s.front.lock().unwrap().seen[before..].to_vec();
    // The page shown (1 hit), whether more follow (1), then the whole search, 2 per page.
    let counting: Vec<&HashMap<String, String>> =
        seen.iter().filter(|p| p["maxCount"] == "1000").collect();
    assert_eq!(counting.len(), 3, "{seen:?}");
    assert!(!counting[0].contains_key("search_after"));
    // The search asks the server for no facets of its own (they would cover one page).
    assert!(
        seen.iter().all(|p| !p["query"].contains("facets")),
        "{seen:?}"
    );
    let csv = ok(&s
        .home
        .run(&["find", "x", "--datafiles", "--facets", "--csv"]));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "DIMENSION,LABEL,COUNT", "{csv}");
    assert!(rows.contains(&"Datafile.fileSize,< 1 MB,6"), "{csv}");
    let f = json(
        &s.home
            .run(&["find", "x", "--datafiles", "--facets", "--json"]),
    );
    assert!(f["facets"]["dimensions"].is_array(), "{f}");
}

#[test]
fn hits_go_straight_into_a_download() {
    let s = setup(100);
    // As an id list, piped into `icat download -`.
    let ids = ok(&s
        .home
        .run(&["find", "x", "--datafiles", "--limit", "2", "--ids"]));
    assert_eq!(ids.lines().count(), 2, "{ids}");
    assert!(ids.lines().all(|l| l.starts_with("datafile ")), "{ids}");
    let dest = s.home.path().join("piped");
    let mut child = s
        .home
        .icat(&["download", "-", "-o", dest.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ids.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(ok(&o).contains("downloaded 2 files"), "{}", stdout(&o));
    assert_eq!(files_under(&dest).len(), 2);

    // --download with --dry-run changes nothing; then for real, as a bag.
    let dest = s.home.path().join("found");
    let plan = ok(&s.home.run(&[
        "find",
        "x",
        "--download",
        "--dry-run",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(plan.contains("dry run: 6 files"), "{plan}");
    // --limit leaves hits out: said next to the plan (finding 9).
    let o = s.home.run(&[
        "find",
        "x",
        "--datafiles",
        "--limit",
        "2",
        "--download",
        "--dry-run",
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert!(ok(&o).contains("dry run: 2 files"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("downloading the first 2 hits only: more match"),
        "{}",
        stderr(&o)
    );
    // The hits come first, as the search prints them, then the plan.
    let table = plan.find("RANK").expect("hits table");
    assert!(table < plan.find("dry run: 6 files").unwrap(), "{plan}");
    assert!(plan.contains(&s.datasets[1].1), "{plan}");
    // With --json the report stays the only thing on stdout; the hits are named on stderr.
    let o = s.home.run(&[
        "find",
        "x",
        "--download",
        "--dry-run",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]);
    json(&o);
    assert!(
        stderr(&o).contains(&format!(
            "2 hits: datasets {},{}",
            s.datasets[0].0, s.datasets[1].0
        )),
        "{}",
        stderr(&o)
    );
    assert!(!dest.exists());
    let bag_find = [
        "find",
        "x",
        "--instrument",
        "ALF",
        "--since",
        "2024-01-01",
        "--parameter",
        "temperature[K]=90..110",
        "--download",
        "--manifest",
        "-o",
        dest.to_str().unwrap(),
    ];
    let o = s.home.run(&bag_find);
    assert!(ok(&o).contains("downloaded 6 files"), "{}", stdout(&o));
    assert_eq!(files_under(&dest.join("data")).len(), 6);
    // The bag records the search with every filter, and the ids it came to.
    let info = std::fs::read_to_string(dest.join("bag-info.txt")).unwrap();
    assert!(
        info.contains(
            "ICAT-Query: icat find 'x' --since '2024-01-01' --instrument 'ALF' \
             --parameter 'temperature[K]=90..110' --limit 25\n"
        ),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "ICAT-Selection: datasets {},{}\n",
            s.datasets[0].0, s.datasets[1].0
        )),
        "{info}"
    );
    // Another selection into the same bag would make it invalid (payload of both, manifest and
    // Payload-Oxum of one): refused before anything is downloaded. The same one again is fine.
    let o = s.home.run(&[
        "find",
        "x",
        "--visits",
        "--download",
        "--manifest",
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("already a bag of another selection"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_under(&dest.join("data")).len(), 6);
    assert_eq!(
        std::fs::read_to_string(dest.join("bag-info.txt")).unwrap(),
        info
    );
    ok(&s.home.run(&bag_find));

    // An id list from standard input: the bag records the ids downloaded.
    let listed = s.home.path().join("listed");
    let o = s.home.run_with_stdin(
        &[
            "download",
            "-",
            "--manifest",
            "-o",
            listed.to_str().unwrap(),
        ],
        &format!(
            "datafile {}\ndatafile {}\n",
            s.datasets[0].2[0], s.datasets[0].2[1]
        ),
    );
    ok(&o);
    let info = std::fs::read_to_string(listed.join("bag-info.txt")).unwrap();
    assert!(
        info.contains("ICAT-Query: id list from standard input (2 ids)\n"),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "ICAT-Selection: datafiles {},{}\n",
            s.datasets[0].2[0], s.datasets[0].2[1]
        )),
        "{info}"
    );
    // A plain download's file filters are part of its selection.
    let matched = s.home.path().join("matched");
    ok(&s.home.run(&[
        "download",
        "SIM000001",
        "--match",
        "*1.nxs",
        "--manifest",
        "-o",
        matched.to_str().unwrap(),
    ]));
    let info = std::fs::read_to_string(matched.join("bag-info.txt")).unwrap();
    assert!(
        info.contains("ICAT-Query: visit SIM000001 --match '*1.nxs'\n"),
        "{info}"
    );

    // The bag's digest can be chosen here as with `icat download`.
    let sha256 = s.home.path().join("found256");
    ok(&s.home.run(&[
        "find",
        "x",
        "--download",
        "--manifest",
        "--manifest-algorithm",
        "sha256",
        "-o",
        sha256.to_str().unwrap(),
    ]));
    assert!(sha256.join("manifest-sha256.txt").is_file());

    // A server repeating the same hits on every page: each id is listed once.
    s.front.lock().unwrap().page_cap = 2;
    s.front.lock().unwrap().repeat = true;
    let ids = ok(&s
        .home
        .run(&["find", "x", "--datafiles", "--limit", "6", "--ids"]));
    assert_eq!(ids.lines().count(), 2, "{ids}");
}

/// Review finding N3: a hit with a non-positive id is a lying answer (exit 5), never a row, an
/// id list line or a silently skipped download.
#[test]
fn a_hit_id_below_one_is_an_unexpected_answer() {
    let s = setup(100);
    s.front.lock().unwrap().docs.insert(
        "Dataset".into(),
        vec![Doc {
            id: -5,
            source: json!({"name": "evil"}),
        }],
    );
    for args in [
        vec!["find", "x"],
        vec!["find", "x", "--ids"],
        vec!["find", "x", "--download", "--dry-run", "-o", "out"],
    ] {
        let o = s.home.run(&args);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not an ICAT id"), "{}", stderr(&o));
        assert!(!stdout(&o).contains("-5"), "{}", stdout(&o));
    }
}
