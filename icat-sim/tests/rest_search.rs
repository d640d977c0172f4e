//! `search/documents` and `facet/documents` checked against a brute-force oracle over the same
//! catalogue: plain SQL over the catalogue tables (no full-text index), tokens compared in Rust,
//! and each user's readable objects taken from SOAP-style `search` (the same access rules). For
//! root and non-root users: the hits, their order (sorted searches and `search_after` paging
//! across small index blocks), and facet counts. Also: the index follows creates, updates
//! (including a renamed visit reaching its datafiles) and deletes.

use std::collections::{BTreeMap, BTreeSet};

use icat_sim::icat::search::{Cell, SearchItem};
use icat_sim::icat::textsearch::lucene::analyse;
use icat_sim::process::config::SimConfig;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::dynamic::{AttrValue, DynEntity};
use serde_json::{Value, json};

/// 12 visits × 3 datasets × 4 files; index blocks of 5 hits so paging crosses blocks.
async fn start() -> (RunningSimulator, reqwest::Client) {
    let mut config = SimConfig::default();
    config.search.search_block_size = 5;
    let sim = Simulator::builder()
        .config(config)
        .synthetic("visits=12,datasets=3,files=4,size=10".parse().unwrap())
        .start()
        .await
        .unwrap();
    (sim, icat_soap::tls::http_client().unwrap())
}

fn login(sim: &RunningSimulator, plugin: &str, user: &str) -> String {
    let creds = BTreeMap::from([
        ("username".to_string(), user.to_string()),
        ("password".to_string(), "secret".to_string()),
    ]);
    sim.icat().login(plugin, &creds).unwrap()
}

async fn get(
    sim: &RunningSimulator,
    http: &reqwest::Client,
    path: &str,
    params: &[(&str, String)],
) -> (u16, Value) {
    let r = http
        .get(format!("{}/icat/{path}", sim.base_url()))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The ids of `entity` the session may read, by SOAP-style search (the oracle of access).
fn readable(sim: &RunningSimulator, session: &str, entity: &str) -> BTreeSet<i64> {
    sim.icat()
        .search(session, &format!("SELECT x.id FROM {entity} x"))
        .unwrap()
        .into_iter()
        .map(|item| match item {
            SearchItem::Value(Cell::Long(id)) => id,
            other => panic!("not an id: {other:?}"),
        })
        .collect()
}

/// Rows of plain SQL over the catalogue: id and the remaining columns as text (NULL as "").
fn rows(sim: &RunningSimulator, sql: &str) -> Vec<(i64, Vec<String>)> {
    let db = sim.icat().db();
    let mut stmt = db.conn().prepare(sql).unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let mut cols = Vec::new();
        for i in 1..width {
            let v: rusqlite::types::Value = r.get(i)?;
            cols.push(match v {
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Real(d) => d.to_string(),
                _ => String::new(),
            });
        }
        Ok((id, cols))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Ids whose text columns contain the (analysed) term.
fn with_term(rows: &[(i64, Vec<String>)], term: &str) -> BTreeSet<i64> {
    rows.iter()
        .filter(|(_, cols)| cols.iter().any(|c| analyse(c).iter().any(|t| t == term)))
        .map(|(id, _)| *id)
        .collect()
}

const INV_TEXT: &str = r#"SELECT i."id", i."name", i."visitId", i."title", i."summary", i."doi", f."name", t."name"
FROM "Investigation" i JOIN "Facility" f ON f."id" = i."facility_id" JOIN "InvestigationType" t ON t."id" = i."type_id""#;
const SAMPLE_TEXT: &str = r#"SELECT s."investigation_id", s."name", st."name" FROM "Sample" s LEFT JOIN "SampleType" st ON st."id" = s."type_id""#;
const DS_TEXT: &str = r#"SELECT d."id", d."name", d."description", d."doi", s."name", st."name", t."name", i."visitId"
FROM "Dataset" d JOIN "Investigation" i ON i."id" = d."investigation_id" LEFT JOIN "Sample" s ON s."id" = d."sample_id"
LEFT JOIN "SampleType" st ON st."id" = s."type_id" LEFT JOIN "DatasetType" t ON t."id" = d."type_id""#;
const DF_TEXT: &str = r#"SELECT df."id", df."name", df."description", df."location", df."doi", fmt."name", i."visitId", s."name", st."name"
FROM "Datafile" df JOIN "Dataset" d ON d."id" = df."dataset_id" JOIN "Investigation" i ON i."id" = d."investigation_id"
LEFT JOIN "DatafileFormat" fmt ON fmt."id" = df."datafileFormat_id" LEFT JOIN "Sample" s ON s."id" = d."sample_id"
LEFT JOIN "SampleType" st ON st."id" = s."type_id""#;

/// Pages through a search with `search_after` and returns every hit (id, score, source).
async fn all_pages(
    sim: &RunningSimulator,
    http: &reqwest::Client,
    session: &str,
    query: &Value,
    sort: Option<&str>,
    max_count: usize,
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut after: Option<Value> = None;
    for _ in 0..1000 {
        let mut params = vec![
            ("sessionId", session.to_string()),
            ("query", query.to_string()),
            ("maxCount", max_count.to_string()),
            ("minCount", max_count.to_string()),
        ];
        if let Some(s) = sort {
            params.push(("sort", s.to_string()));
        }
        if let Some(a) = &after {
            params.push(("search_after", a.to_string()));
        }
        let (status, body) = get(sim, http, "search/documents", &params).await;
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap().clone();
        assert!(results.len() <= max_count);
        out.extend(results);
        match body.get("search_after") {
            Some(a) => after = Some(a.clone()),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn ids(hits: &[Value]) -> Vec<i64> {
    hits.iter().map(|h| h["id"].as_i64().unwrap()).collect()
}

/// Relevance order: scores never rise, and equal scores come in ascending id order.
fn assert_relevance_order(hits: &[Value]) {
    for w in hits.windows(2) {
        let (a, b) = (
            w[0]["score"].as_f64().unwrap(),
            w[1]["score"].as_f64().unwrap(),
        );
        assert!(
            a > b || (a == b && w[0]["id"].as_i64() < w[1]["id"].as_i64()),
            "{w:?}"
        );
    }
}

#[tokio::test]
async fn text_searches_match_the_oracle_for_root_and_non_root_users() {
    let (sim, http) = start().await;
    let inv_rows = rows(&sim, INV_TEXT);
    let sample_rows = rows(&sim, SAMPLE_TEXT);
    let ds_rows = rows(&sim, DS_TEXT);
    let df_rows = rows(&sim, DF_TEXT);
    for (plugin, user) in [
        ("simple", "root"),
        ("db", "jdoe"),
        ("db", "nbour"),
        ("db", "acord"),
    ] {
        let session = login(&sim, plugin, user);
        for (target, term, expected) in [
            (
                "Investigation",
                "lysozyme",
                &with_term(&inv_rows, "lysozyme") | &with_term(&sample_rows, "lysozyme"),
            ),
            (
                "Investigation",
                "magnetite",
                &with_term(&inv_rows, "magnetite") | &with_term(&sample_rows, "magnetite"),
            ),
            ("Dataset", "diffraction", with_term(&ds_rows, "diffraction")),
            ("Dataset", "quartz", with_term(&ds_rows, "quartz")),
            ("Datafile", "graphene", with_term(&df_rows, "graphene")),
            ("Datafile", "df00002", with_term(&df_rows, "df00002")),
        ] {
            assert!(
                !expected.is_empty(),
                "{target} {term}: the oracle finds something"
            );
            let visible: BTreeSet<i64> = &expected & &readable(&sim, &session, target);
            let hits = all_pages(
                &sim,
                &http,
                &session,
                &json!({"target": target, "text": term}),
                None,
                4,
            )
            .await;
            assert_relevance_order(&hits);
            let got = ids(&hits);
            let got_set: BTreeSet<i64> = got.iter().copied().collect();
            assert_eq!(
                got.len(),
                got_set.len(),
                "{user} {target} {term}: no hit twice"
            );
            assert_eq!(got_set, visible, "{user} {target} {term}");
        }
    }
}

#[tokio::test]
async fn sorted_paging_dates_parameters_samples_and_user_names_match_the_oracle() {
    let (sim, http) = start().await;
    let root = login(&sim, "simple", "root");
    let nbour = login(&sim, "db", "nbour");
    for session in [&root, &nbour] {
        // Datafiles by date (newest first), then name, then id, across blocks and pages.
        let mut expected = rows(
            &sim,
            r#"SELECT df."id", COALESCE(df."datafileModTime", df."datafileCreateTime", df."modTime"), df."name" FROM "Datafile" df"#,
        );
        let readable_files = readable(&sim, session, "Datafile");
        expected.retain(|(id, _)| readable_files.contains(id));
        expected.sort_by(|a, b| {
            let (da, db) = (
                a.1[0].parse::<i64>().unwrap(),
                b.1[0].parse::<i64>().unwrap(),
            );
            db.cmp(&da).then(a.1[1].cmp(&b.1[1])).then(a.0.cmp(&b.0))
        });
        let hits = all_pages(
            &sim,
            &http,
            session,
            &json!({"target": "Datafile"}),
            Some(r#"{"date":"desc","name":"asc"}"#),
            7,
        )
        .await;
        assert_eq!(ids(&hits), expected.iter().map(|r| r.0).collect::<Vec<_>>());
        // Datasets whose start and end lie in the first four days of 2020.
        let lower = "202001010000";
        let upper = "202001032359";
        let in_range = rows(
            &sim,
            r#"SELECT d."id" FROM "Dataset" d WHERE COALESCE(d."startDate", d."createTime") BETWEEN 1577836800000 AND 1578095999999
               AND COALESCE(d."endDate", d."modTime") BETWEEN 1577836800000 AND 1578095999999"#,
        );
        let want: BTreeSet<i64> = &in_range.iter().map(|r| r.0).collect::<BTreeSet<_>>()
            & &readable(&sim, session, "Dataset");
        let hits = all_pages(
            &sim,
            &http,
            session,
            &json!({"target": "Dataset", "lower": lower, "upper": upper}),
            None,
            50,
        )
        .await;
        assert_eq!(ids(&hits).into_iter().collect::<BTreeSet<_>>(), want);
        // Investigations with a temperature parameter between 5 and 9 K.
        let warm = rows(
            &sim,
            r#"SELECT p."investigation_id" FROM "InvestigationParameter" p JOIN "ParameterType" t ON t."id" = p."type_id"
               WHERE t."name" = 'temperature' AND p."numericValue" BETWEEN 5 AND 9"#,
        );
        let want: BTreeSet<i64> = &warm.iter().map(|r| r.0).collect::<BTreeSet<_>>()
            & &readable(&sim, session, "Investigation");
        assert!(!warm.is_empty());
        let q = json!({"target": "Investigation", "parameters": [
            {"name": "temp*", "units": "K", "lowerNumericValue": 5, "upperNumericValue": 9}]});
        let hits = all_pages(&sim, &http, session, &q, None, 50).await;
        assert_eq!(ids(&hits).into_iter().collect::<BTreeSet<_>>(), want);
        // Datasets of quartz samples.
        let quartz = rows(
            &sim,
            r#"SELECT d."id" FROM "Dataset" d JOIN "Sample" s ON s."id" = d."sample_id" WHERE s."name" LIKE 'quartz %'"#,
        );
        let want: BTreeSet<i64> = &quartz.iter().map(|r| r.0).collect::<BTreeSet<_>>()
            & &readable(&sim, session, "Dataset");
        let hits = all_pages(
            &sim,
            &http,
            session,
            &json!({"target": "Dataset", "samples": ["quartz"]}),
            None,
            50,
        )
        .await;
        assert_eq!(ids(&hits).into_iter().collect::<BTreeSet<_>>(), want);
        // Visits with a user whose full name mentions jbotu.
        let jbotu = rows(
            &sim,
            r#"SELECT iu."investigation_id" FROM "InvestigationUser" iu JOIN "User" u ON u."id" = iu."user_id" WHERE u."fullName" LIKE '%jbotu%'"#,
        );
        let want: BTreeSet<i64> = &jbotu.iter().map(|r| r.0).collect::<BTreeSet<_>>()
            & &readable(&sim, session, "Investigation");
        let hits = all_pages(
            &sim,
            &http,
            session,
            &json!({"target": "Investigation", "userFullName": "jbotu"}),
            None,
            50,
        )
        .await;
        assert_eq!(ids(&hits).into_iter().collect::<BTreeSet<_>>(), want);
    }
}

#[tokio::test]
async fn restrict_min_and_max_count_and_search_after_follow_icat() {
    let (sim, http) = start().await;
    let jdoe = login(&sim, "db", "jdoe");
    // jdoe (instrument scientist of every instrument) reads every visit; restrict keeps the
    // visits jdoe is a user or instrument scientist of: all of them here, by instrument.
    let all = readable(&sim, &jdoe, "Investigation");
    let q = json!({"target": "Investigation"}).to_string();
    let (_, body) = get(
        &sim,
        &http,
        "search/documents",
        &[
            ("sessionId", jdoe.clone()),
            ("query", q.clone()),
            ("restrict", "true".into()),
        ],
    )
    .await;
    assert_eq!(body["results"].as_array().unwrap().len(), all.len().min(10));
    // A user name that is nobody's: restrict through an explicit "user" finds nothing.
    let q_user = json!({"target": "Investigation", "user": "db/nobody"}).to_string();
    let (_, body) = get(
        &sim,
        &http,
        "search/documents",
        &[("sessionId", jdoe.clone()), ("query", q_user)],
    )
    .await;
    assert_eq!(body["results"], json!([]));
    assert!(body.get("search_after").is_none());
    // maxCount caps the page and search_after is the last hit's [score, id].
    let (_, body) = get(
        &sim,
        &http,
        "search/documents",
        &[
            ("sessionId", jdoe.clone()),
            ("query", q),
            ("maxCount", "3".into()),
        ],
    )
    .await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        body["search_after"],
        json!([results[2]["score"], results[2]["id"]])
    );
    assert!(
        results[0]["source"]["visitId"]
            .as_str()
            .unwrap()
            .starts_with("SIM")
    );
}

#[tokio::test]
async fn facet_counts_match_the_oracle_and_hide_unreadable_objects() {
    let (sim, http) = start().await;
    let root = login(&sim, "simple", "root");
    let nbour = login(&sim, "db", "nbour");
    for session in [&root, &nbour] {
        let q = json!({"target": "Investigation", "facets": [
            {"target": "Investigation", "dimensions": [{"dimension": "type.name"}]},
            {"target": "InvestigationInstrument", "dimensions": [{"dimension": "instrument.name"}]},
            {"target": "InvestigationParameter", "dimensions": [{"dimension": "numericValue",
                "ranges": [{"key": "cold", "from": 0, "to": 10}, {"key": "warm", "from": 10, "to": 1000}]}]}]});
        let (status, body) = get(
            &sim,
            &http,
            "search/documents",
            &[
                ("sessionId", session.clone()),
                ("query", q.to_string()),
                ("maxCount", "50".into()),
                ("minCount", "50".into()),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let hit_ids: BTreeSet<i64> = ids(body["results"].as_array().unwrap())
            .into_iter()
            .collect();
        assert_eq!(hit_ids, readable(&sim, session, "Investigation"));
        let list = hit_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let count = |sql: String| -> BTreeMap<String, i64> {
            rows(&sim, &sql)
                .into_iter()
                .map(|(n, cols)| (cols[0].clone(), n))
                .collect()
        };
        let instruments = count(format!(
            r#"SELECT COUNT(*), ins."name" FROM "InvestigationInstrument" ii JOIN "Instrument" ins ON ins."id" = ii."instrument_id"
               WHERE ii."investigation_id" IN ({list}) GROUP BY ins."name""#
        ));
        let dims = &body["dimensions"];
        let got: BTreeMap<String, i64> = dims["InvestigationInstrument.instrument.name"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .collect();
        assert_eq!(got, instruments);
        assert_eq!(
            dims["Investigation.type.name"],
            json!({"experiment": hit_ids.len()})
        );
        let temps = rows(
            &sim,
            &format!(
                r#"SELECT p."id", p."numericValue" FROM "InvestigationParameter" p WHERE p."investigation_id" IN ({list})"#
            ),
        );
        let cold = temps
            .iter()
            .filter(|r| r.1[0].parse::<f64>().unwrap() < 10.0)
            .count();
        assert_eq!(
            dims["InvestigationParameter.numericValue"],
            json!({"cold": cold, "warm": temps.len() - cold})
        );
        // facet/documents over every visit: only readable ones are counted.
        let every: Vec<i64> = readable(&sim, &root, "Investigation").into_iter().collect();
        let fq = json!({"target": "Investigation", "filter": {"investigation.id": every},
            "facets": [{"target": "InvestigationParameter", "dimensions": [{"dimension": "numericValue", "ranges": [{"from": 0, "to": 10}]}]}]});
        let (status, body) = get(
            &sim,
            &http,
            "facet/documents",
            &[("sessionId", session.clone()), ("query", fq.to_string())],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let fq = json!({"target": "Investigation", "filter": {"id": every},
            "facets": [{"target": "Investigation", "dimensions": [{"dimension": "type.name"}]}]});
        let (status, types) = get(
            &sim,
            &http,
            "facet/documents",
            &[("sessionId", session.clone()), ("query", fq.to_string())],
        )
        .await;
        assert_eq!(status, 200, "{types}");
        assert_eq!(
            types["dimensions"]["Investigation.type.name"],
            json!({"experiment": hit_ids.len()}),
            "facet/documents counts readable visits only"
        );
        assert_eq!(
            // A double range without key: labelled as Java prints doubles, `to` made inclusive
            // (`DoubleRange` with an exclusive upper bound).
            body["dimensions"]["InvestigationParameter.numericValue"]["0.0-10.0"],
            json!({"from": 0.0, "to": 9.999999999999998, "count": cold})
        );
    }
}

fn text(v: &str) -> AttrValue {
    AttrValue::String(v.to_string())
}

#[tokio::test]
async fn the_index_follows_creates_updates_and_deletes() {
    let (sim, http) = start().await;
    let root = login(&sim, "simple", "root");
    let find = |target: &'static str, text: &'static str| {
        let (sim, http, root) = (&sim, &http, root.clone());
        async move {
            let q = json!({"target": target, "text": text}).to_string();
            let params = [
                ("sessionId", root),
                ("query", q),
                ("minCount", "100".into()),
            ];
            let (status, body) = get(sim, http, "search/documents", &params).await;
            assert_eq!(status, 200, "{body}");
            ids(body["results"].as_array().unwrap())
        }
    };
    assert!(find("Investigation", "zebrafish").await.is_empty());
    let inv_id = sim
        .icat()
        .search(
            &root,
            "SELECT i FROM Investigation i WHERE i.name = 'SIM000001' INCLUDE 1",
        )
        .unwrap();
    let SearchItem::Value(Cell::Entity(mut inv)) = inv_id.into_iter().next().unwrap() else {
        panic!("an investigation")
    };
    let id = inv.id().unwrap();
    inv.attrs.insert("title".into(), text("Zebrafish imaging"));
    inv.attrs.insert("visitId".into(), text("RENAMED-7"));
    sim.icat().update(&root, &inv).unwrap();
    assert_eq!(find("Investigation", "zebrafish").await, vec![id]);
    assert!(
        find("Investigation", "lysozyme")
            .await
            .iter()
            .all(|i| *i != id)
            || inv_rows_mention(&sim, id)
    );
    let files = find("Datafile", "renamed").await;
    assert_eq!(
        files.len(),
        3 * 4,
        "the renamed visit reaches its datafiles"
    );
    let mut fresh = DynEntity::new("Investigation");
    fresh.attrs.insert("name".into(), text("NEW1"));
    fresh.attrs.insert("visitId".into(), text("1"));
    fresh.attrs.insert("title".into(), text("Okapi genome"));
    for (field, entity, query) in [
        ("facility", "Facility", "SELECT f.id FROM Facility f"),
        (
            "type",
            "InvestigationType",
            "SELECT t.id FROM InvestigationType t",
        ),
    ] {
        let SearchItem::Value(Cell::Long(fid)) = sim.icat().search(&root, query).unwrap().remove(0)
        else {
            panic!("an id")
        };
        let mut r = DynEntity::new(entity);
        r.attrs.insert("id".into(), AttrValue::Long(fid));
        fresh.one.insert(field.into(), r);
    }
    let new_id = sim.icat().create(&root, &fresh).unwrap();
    assert_eq!(find("Investigation", "okapi").await, vec![new_id]);
    fresh.attrs.insert("id".into(), AttrValue::Long(new_id));
    sim.icat().delete(&root, &fresh).unwrap();
    assert!(find("Investigation", "okapi").await.is_empty());
}

/// True when the investigation's sample still mentions lysozyme (it keeps its sample on rename).
fn inv_rows_mention(sim: &RunningSimulator, id: i64) -> bool {
    with_term(&rows(sim, SAMPLE_TEXT), "lysozyme").contains(&id)
}

#[tokio::test]
async fn search_errors_are_icat_exceptions() {
    let (sim, http) = start().await;
    let root = login(&sim, "simple", "root");
    let call = |params: Vec<(&'static str, String)>| {
        let (sim, http) = (&sim, &http);
        async move { get(sim, http, "search/documents", &params).await }
    };
    let (s, b) = call(vec![("sessionId", root.clone())]).await;
    assert_eq!(
        (s, b["code"].as_str(), b["message"].as_str()),
        (400, Some("BAD_PARAMETER"), Some("query is not set"))
    );
    let (s, b) = call(vec![
        ("sessionId", "nope".into()),
        ("query", json!({"target": "Dataset"}).to_string()),
    ])
    .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("SESSION")));
    let (s, b) = call(vec![
        ("sessionId", root.clone()),
        ("query", json!({"target": "Sample"}).to_string()),
    ])
    .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (400, Some("target:Sample is not expected"))
    );
    let (s, b) = call(vec![("sessionId", root.clone()), ("query", "{".into())]).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("BAD_PARAMETER")));
    let (s, b) = call(vec![
        ("sessionId", root.clone()),
        ("query", json!({"target": "Dataset"}).to_string()),
        ("sort", r#"{"name":"up"}"#.into()),
    ])
    .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (
            400,
            Some("Sort order must be 'asc' or 'desc' but it was 'up'")
        )
    );
    let (s, _) = call(vec![
        ("sessionId", root.clone()),
        ("query", json!({"target": "Dataset"}).to_string()),
        ("maxCount", "x".into()),
    ])
    .await;
    assert_eq!(s, 501);
    let (s, b) = call(vec![
        ("sessionId", root),
        (
            "query",
            json!({"target": "Dataset", "text": "(open"}).to_string(),
        ),
    ])
    .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (
            400,
            Some("Search term could not be parsed due to syntax errors")
        )
    );
}

/// icat.server's `buildFacetQuery` finds a joined facet target's relationship by
/// `target.toLowerCase() + "s"` in a map keyed by field name: `InvestigationInstrument` through
/// `facet/documents`, and `DatasetTechnique` or `InvestigationUser` in a search, are not found and
/// `GateKeeper.allowed(null)` throws (INTERNAL); `Sample` of visits (`samples`) is found.
#[tokio::test]
async fn facet_targets_whose_relationship_icat_cannot_find_are_internal_errors() {
    let (sim, http) = start().await;
    let root = login(&sim, "simple", "root");
    let facet = |target: &str, facet_target: &str, dim: &str| {
        json!({"target": target, "filter": {"id": [1, 2]},
            "facets": [{"target": facet_target, "dimensions": [{"dimension": dim}]}]})
    };
    for (endpoint, q) in [
        (
            "facet/documents",
            facet(
                "Investigation",
                "InvestigationInstrument",
                "instrument.name",
            ),
        ),
        (
            "facet/documents",
            facet("Datafile", "DatasetTechnique", "technique.name"),
        ),
        (
            "search/documents",
            facet("Dataset", "DatasetTechnique", "technique.name"),
        ),
        (
            "search/documents",
            facet("Investigation", "InvestigationUser", "user.id"),
        ),
    ] {
        let (status, body) = get(
            &sim,
            &http,
            endpoint,
            &[("sessionId", root.clone()), ("query", q.to_string())],
        )
        .await;
        assert_eq!(status, 500, "{endpoint} {q}: {body}");
        assert_eq!(body["code"], "INTERNAL", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("NullPointerException"),
            "{body}"
        );
    }
    // Found relationships still count: datasets' techniques through facet/documents, and the
    // samples of visits in a search.
    for (endpoint, q) in [
        (
            "facet/documents",
            facet("Dataset", "DatasetTechnique", "technique.name"),
        ),
        (
            "search/documents",
            facet("Investigation", "Sample", "type.name"),
        ),
    ] {
        let (status, body) = get(
            &sim,
            &http,
            endpoint,
            &[("sessionId", root.clone()), ("query", q.to_string())],
        )
        .await;
        assert_eq!(status, 200, "{endpoint} {q}: {body}");
    }
}
