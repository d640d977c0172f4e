//! `icat find` against the simulator's own REST search (`/icat/search/documents`, its FTS5
//! index over the synthetic catalogue): visit SIM00000N studies sample material N-1 mod 8
//! (lysozyme for SIM000001 and SIM000009), with an investigation temperature of N+3 K and a
//! dataset wavelength of 0.5 Angstrom (ds0001) or 0.75 (ds0002).

mod common;

use std::time::Duration;

use common::{Home, files_under, json, ok, start_sim};
use serde_json::Value;

fn setup() -> (common::Sim, Home) {
    let sim = start_sim(
        "visits=10,datasets=2,files=2,size=1KiB",
        false,
        Duration::from_millis(100),
    );
    let home = Home::new();
    ok(&home.run_with_stdin(
        &[
            "-w",
            &sim.icat_url,
            "--idsurl",
            &sim.ids_url,
            "-a",
            "simple",
            "-u",
            "root",
            "--password-stdin",
            "login",
        ],
        "secret\n",
    ));
    (sim, home)
}

fn names(doc: &Value, field: &str) -> Vec<String> {
    let mut v: Vec<String> = doc["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[field].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn find_searches_the_simulators_index() {
    let (_sim, home) = setup();
    let visits = json(&home.run(&["find", "lysozyme", "--visits", "--json"]));
    assert_eq!(
        names(&visits, "name"),
        ["SIM000001", "SIM000009"],
        "{visits}"
    );
    let datasets = json(&home.run(&["find", "lysozyme", "--json"]));
    assert_eq!(datasets["hits"].as_array().unwrap().len(), 4, "{datasets}");
    for h in datasets["hits"].as_array().unwrap() {
        assert!(h["visit"].as_str().unwrap().starts_with("SIM00000"), "{h}");
        assert_eq!(h["size"], 2048, "{h}");
    }
    let files = json(&home.run(&["find", "lysozyme", "--datafiles", "--json"]));
    assert_eq!(files["hits"].as_array().unwrap().len(), 8, "{files}");

    // Parameters: numeric ranges with units.
    let warm = json(&home.run(&[
        "find",
        "lysozyme",
        "--visits",
        "--parameter",
        "temperature[K]=3..5",
        "--json",
    ]));
    assert_eq!(names(&warm, "name"), ["SIM000001"], "{warm}");
    let long = json(&home.run(&[
        "find",
        "lysozyme",
        "--parameter",
        "wavelength[Angstrom]=0.7..0.8",
        "--json",
    ]));
    assert_eq!(names(&long, "dataset"), ["ds0002", "ds0002"], "{long}");

    // Paging with search_after: 3 at a time gives the same 8 datafiles in the same order.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..5 {
        let mut args = vec!["find", "lysozyme", "--datafiles", "--limit", "3", "--json"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page = json(&home.run(&args));
        paged.extend(
            page["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_i64().unwrap()),
        );
        match &page["search_after"] {
            Value::Null => break,
            v => after = Some(v.to_string()),
        }
    }
    let all: Vec<i64> = files["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(paged, all);

    // Facets come back per dimension.
    let faceted = json(&home.run(&["find", "lysozyme", "--facets", "--json"]));
    assert!(
        !faceted["facets"]["dimensions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{faceted}"
    );

    // Hits into a download through the id list.
    let ids = ok(&home.run(&["find", "lysozyme", "--visits", "--ids"]));
    assert_eq!(ids.lines().count(), 2, "{ids}");
    let dest = home.path().join("lyso");
    let o = home.run_with_stdin(&["download", "-", "-o", dest.to_str().unwrap()], &ids);
    assert!(ok(&o).contains("downloaded 8 files"));
    assert_eq!(files_under(&dest).len(), 8);
}

#[test]
fn a_non_root_user_finds_exactly_the_visits_soap_lets_them_read() {
    let (sim, _root) = setup();
    let jdoe = Home::new();
    common::login(&jdoe, &sim, "jdoe");
    // Every synthetic visit title holds "synthetic".
    let found = json(&jdoe.run(&["find", "synthetic", "--visits", "--limit", "100", "--json"]));
    let found = names(&found, "name");
    let listed = json(&jdoe.run(&["visits", "--json"]));
    let mut readable: Vec<String> = listed["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    readable.sort();
    assert!(!found.is_empty());
    assert_eq!(found, readable);
}

#[test]
fn the_last_page_says_when_nothing_follows_and_filters_alone_find_data() {
    let (_sim, home) = setup();
    // Exactly two lysozyme visits: --limit 2 gets both, and nothing says there are more.
    let o = home.run(&["find", "lysozyme", "--visits", "--limit", "2", "--json"]);
    let both = json(&o);
    assert_eq!(names(&both, "name"), ["SIM000001", "SIM000009"], "{both}");
    assert!(both["search_after"].is_null(), "{both}");
    assert!(
        !common::stderr(&o).contains("more hits"),
        "{}",
        common::stderr(&o)
    );
    // --limit 1 does leave one.
    let o = home.run(&["find", "lysozyme", "--visits", "--limit", "1", "--json"]);
    assert!(!json(&o)["search_after"].is_null());
    assert!(
        common::stderr(&o).contains("more hits"),
        "{}",
        common::stderr(&o)
    );
    // Continuing after the last hit: no more, said as such.
    let last = &both["hits"][1];
    let after = serde_json::json!([last["score"], last["id"]]).to_string();
    let t = ok(&home.run(&["find", "lysozyme", "--visits", "--after", &after]));
    assert_eq!(t.trim(), "no more visits match \"lysozyme\"", "{t}");
    // Without words: everything the filters select (instrument I02 runs visits 2, 5, 8).
    let on_i02 = json(&home.run(&["find", "--visits", "--instrument", "I02", "--json"]));
    assert_eq!(
        names(&on_i02, "name"),
        ["SIM000002", "SIM000005", "SIM000008"],
        "{on_i02}"
    );
    // A filter that excludes everything is named as the reason.
    let t = ok(&home.run(&["find", "lysozyme", "--instrument", "NOPE"]));
    assert!(
        t.starts_with("no datasets match \"lysozyme\" with these filters"),
        "{t}"
    );
}
