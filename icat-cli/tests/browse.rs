//! `icat visits`, `show`, `search` against the simulator, in all output formats.

mod common;

use std::time::Duration;

use common::{Home, Sim, json, login, ok, start_sim, stderr};

// 3 visits x 2 datasets x 3 files of 4 KiB.
const SPEC: &str = "visits=3,datasets=2,files=3,size=4KiB";

fn setup() -> (Sim, Home) {
    let sim = start_sim(SPEC, false, Duration::ZERO);
    let home = Home::new();
    login(&home, &sim, "jdoe");
    (sim, home)
}

#[test]
fn visits_table_json_and_csv() {
    let (_sim, home) = setup();
    let table = ok(&home.run(&["visits"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("VISIT") && lines[0].contains("DATASETS") && lines[0].contains("SIZE")
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        table.contains("SIM000001") && table.contains("24.0 KiB"),
        "{table}"
    );

    let doc = json(&home.run(&["visits", "--json"]));
    let visits = doc["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 3);
    for v in visits {
        assert_eq!(v["dataset_count"], 2);
        assert_eq!(v["total_size"], 2 * 3 * 4096);
        assert!(v["name"].as_str().unwrap().starts_with("SIM"));
        assert!(v["id"].is_i64() && v["start_date"].is_string() && v.get("title").is_some());
    }

    let csv = ok(&home.run(&["visits", "--csv"]));
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("ID,VISIT,NAME,TITLE,START,DATASETS,SIZE"));
    assert_eq!(rows.count(), 3);
    assert!(csv.contains(",24576"), "CSV sizes are plain bytes: {csv}");
}

/// A dataset without datafiles still counts for a non-root user. On a real ICAT the rule
/// restrictions of every joined variable are added to the query, so a LEFT JOIN row with no
/// datafile is admitted by no rule: counting over outer joins would miss the empty dataset.
#[test]
fn visits_count_datasets_without_files_for_a_non_root_user() {
    let (sim, home) = setup();
    sim.sql(
        "DELETE FROM \"Datafile\" WHERE \"dataset_id\" = (SELECT d.\"id\" FROM \"Dataset\" d \
         JOIN \"Investigation\" i ON d.\"investigation_id\" = i.\"id\" \
         WHERE i.\"name\" = 'SIM000001' ORDER BY d.\"id\" LIMIT 1)",
    );
    let doc = json(&home.run(&["visits", "--json"]));
    let visits = doc["visits"].as_array().unwrap();
    let first = visits
        .iter()
        .find(|v| v["name"] == "SIM000001")
        .expect("SIM000001 listed");
    assert_eq!(first["dataset_count"], 2, "{first}");
    assert_eq!(first["total_size"], 3 * 4096, "{first}");
    for v in visits.iter().filter(|v| v["name"] != "SIM000001") {
        assert_eq!(v["dataset_count"], 2, "{v}");
        assert_eq!(v["total_size"], 2 * 3 * 4096, "{v}");
    }
}

#[test]
fn visits_filters() {
    let (_sim, home) = setup();
    let all = json(&home.run(&["visits", "--json"]));
    let all = all["visits"].as_array().unwrap();
    // The synthetic visits start on consecutive days from 2020-01-01.
    let since = json(&home.run(&["visits", "--since", "2020-01-02", "--json"]));
    assert_eq!(since["visits"].as_array().unwrap().len(), all.len() - 1);
    let mine = json(&home.run(&["visits", "--mine", "--json"]));
    let mine = mine["visits"].as_array().unwrap();
    assert!(
        !mine.is_empty() && mine.len() < all.len(),
        "jdoe is in some visits only"
    );
    let inst = json(&home.run(&["visits", "--instrument", "I01", "--json"]));
    assert!(!inst["visits"].as_array().unwrap().is_empty());
    let none = home.run(&["visits", "--instrument", "no such", "--json"]);
    assert_eq!(none.status.code(), Some(4), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("unknown instrument \"no such\""),
        "{}",
        stderr(&none)
    );
    let o = home.run(&["visits", "--since", "last tuesday"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn show_tree_and_json() {
    let (_sim, home) = setup();
    let text = ok(&home.run(&["show", "SIM000002"]));
    assert!(text.starts_with("visit "), "{text}");
    assert_eq!(text.matches("dataset ").count(), 2, "{text}");
    assert_eq!(text.matches("[datafile ").count(), 6, "{text}");
    let doc = json(&home.run(&["show", "SIM000002", "--json"]));
    assert_eq!(doc["name"], "SIM000002");
    let datasets = doc["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 2);
    for ds in datasets {
        let files = ds["files"].as_array().unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(ds["total_size"], 3 * 4096);
        for f in files {
            assert_eq!(f["size"], 4096);
            assert!(f["checksum"].is_string() && f["id"].is_i64());
        }
    }
    assert_eq!(doc["total_size"], 6 * 4096);
    // By numeric investigation id too.
    let id = doc["id"].as_i64().unwrap().to_string();
    assert_eq!(
        json(&home.run(&["show", &id, "--json"]))["name"],
        "SIM000002"
    );
}

#[test]
fn unknown_visit_is_not_found() {
    let (_sim, home) = setup();
    let o = home.run(&["show", "NOPE-42"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("icat visits"));
    // A hostile visit id is a literal, not JPQL.
    let o = home.run(&["show", "x' OR '1'='1"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn search_any_jpql() {
    let (_sim, home) = setup();
    let doc = json(&home.run(&[
        "search",
        "SELECT ds FROM Dataset ds ORDER BY ds.id",
        "--json",
    ]));
    assert_eq!(doc["count"], 6);
    assert_eq!(doc["results"][0]["entity"], "Dataset");
    let doc = json(&home.run(&["search", "SELECT COUNT(df) FROM Datafile df", "--json"]));
    assert_eq!(doc["results"][0], 18);
    let table = ok(&home.run(&[
        "search",
        "SELECT i.name, i.visitId FROM Investigation i ORDER BY i.name",
    ]));
    assert!(
        table.contains("SIM000003") && table.contains("(3 results)"),
        "{table}"
    );
    let csv = ok(&home.run(&[
        "search",
        "SELECT i.name FROM Investigation i ORDER BY i.name",
        "--csv",
    ]));
    assert_eq!(
        csv, "i.name\r\nSIM000001\r\nSIM000002\r\nSIM000003\r\n",
        "columns are headed with the SELECT items"
    );
    let o = home.run(&["search", "SELECT nonsense FROM"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad query is a usage error: {}",
        stderr(&o)
    );
}

#[test]
fn visits_larger_than_max_entities_are_paged() {
    // One visit of 2 x 30 files: the single INCLUDE query returns 63 objects, over the limit of 40.
    let config = icat_sim::process::config::SimConfig {
        max_entities: 40,
        ..Default::default()
    };
    let sim = common::start_sim_with(
        "visits=1,datasets=2,files=30,size=1KiB",
        false,
        Duration::ZERO,
        config,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let direct = home.run(&[
        "search",
        "SELECT i FROM Investigation i INCLUDE i.datasets ds, ds.datafiles",
    ]);
    assert_ne!(
        direct.status.code(),
        Some(0),
        "the server enforces the limit"
    );

    let doc = json(&home.run(&["show", "SIM000001", "--json"]));
    let datasets = doc["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 2);
    for ds in datasets {
        let files = ds["files"].as_array().unwrap();
        assert_eq!(files.len(), 30, "every file attached to its dataset");
        let mut ids: Vec<i64> = files.iter().map(|f| f["id"].as_i64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 30, "no file twice");
    }
    assert_eq!(doc["file_count"], 60);
    assert_eq!(doc["total_size"], 60 * 1024);

    // The download pages its datafile query too (pages shrink until the server accepts them).
    let dest = home.path().join("data");
    let out = ok(&home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]));
    assert!(out.contains("downloaded 60 files"), "{out}");
}

/// A simulator whose `maxEntities` (40) is far below the catalogue (50 visits, 50 datasets, 100
/// datafiles), so every listing has to page.
fn small_limit_sim() -> (Sim, Home) {
    let config = icat_sim::process::config::SimConfig {
        max_entities: 40,
        ..Default::default()
    };
    let sim = common::start_sim_with(
        "visits=50,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
        config,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    (sim, home)
}

#[test]
fn visits_page_past_max_entities_and_stop_at_limit() {
    let (_sim, home) = small_limit_sim();
    let doc = json(&home.run(&["visits", "--json"]));
    let visits = doc["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 50, "every visit, over several pages");
    let mut ids: Vec<i64> = visits.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no visit twice");
    let doc = json(&home.run(&["visits", "--limit", "7", "--json"]));
    assert_eq!(doc["visits"].as_array().unwrap().len(), 7);
    let table = ok(&home.run(&["visits"]));
    assert_eq!(table.lines().count(), 51, "{table}");
}

#[test]
fn search_pages_entity_queries_and_explains_unpageable_ones() {
    let (_sim, home) = small_limit_sim();
    let doc = json(&home.run(&["search", "SELECT df FROM Datafile df", "--json"]));
    assert_eq!(doc["count"], 100, "entity queries are paged by id");
    let doc = json(&home.run(&[
        "search",
        "SELECT ds.name FROM Dataset ds ORDER BY ds.name",
        "--json",
    ]));
    assert_eq!(doc["count"], 50, "queries with an ORDER BY are paged");
    let doc = json(&home.run(&[
        "search",
        "SELECT df FROM Datafile df",
        "--limit",
        "5",
        "--json",
    ]));
    assert_eq!(doc["count"], 5);

    let o = home.run(&["search", "SELECT df.name FROM Datafile df"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot page") && err.contains("ORDER BY") && err.contains("LIMIT 0, 1000"),
        "{err}"
    );
    assert!(
        !err.contains("Session::"),
        "no Rust API in a message: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn search_tables_show_included_objects_and_select_items() {
    let (_sim, home) = setup();
    let table = ok(&home.run(&[
        "search",
        "SELECT df FROM Datafile df INCLUDE df.dataset",
        "--limit",
        "2",
    ]));
    let head = table.lines().next().unwrap();
    assert!(head.contains("dataset"), "{table}");
    assert!(table.contains("Dataset "), "{table}");
    let table = ok(&home.run(&[
        "search",
        "SELECT i.name, i.visitId FROM Investigation i ORDER BY i.name",
    ]));
    let head = table.lines().next().unwrap();
    assert!(
        head.contains("i.name") && head.contains("i.visitId") && !head.contains("column"),
        "{table}"
    );
}
