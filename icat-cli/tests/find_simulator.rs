//! `icat find` against the simulator's own REST search (`/icat/search/documents`, its FTS5
//! index over the synthetic catalogue): visit SIM00000N studies sample material N-1 mod 8
//! (lysozyme for SIM000001 and SIM000009), with an investigation temperature of N+3 K and a
//! dataset wavelength of 0.5 Angstrom (ds0001) or 0.75 (ds0002).

mod common;

use std::time::Duration;

use common::{Home, files_under, json, ok, sim_with_root, start_sim};
use serde_json::Value;

fn setup() -> (common::Sim, Home) {
    sim_with_root(
        "visits=10,datasets=2,files=2,size=1KiB",
        Duration::from_millis(100),
    )
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
    // The hit's date (a dataset's start: SIM000001's on 2020-01-01, SIM000009's eight days on).
    let mut dates: Vec<&str> = datasets["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["date"].as_str().unwrap())
        .collect();
    dates.sort();
    assert_eq!(
        dates,
        ["2020-01-01", "2020-01-01", "2020-01-09", "2020-01-09"]
    );
    let table = ok(&home.run(&["find", "lysozyme", "--visits"]));
    assert!(table.lines().next().unwrap().contains("DATE"), "{table}");
    assert!(table.contains("2020-01-09"), "{table}");
    let files = json(&home.run(&["find", "lysozyme", "--datafiles", "--json"]));
    assert_eq!(files["hits"].as_array().unwrap().len(), 8, "{files}");

    // As on ICAT (icat.lucene SearchBucket.parseInvestigationQuery: the visit's text OR its
    // samples'), NOT does not keep out a visit whose sample matches the rest: SIM000001 is
    // "Crystal structure of lysozyme", its sample "lysozyme 1".
    let not = json(&home.run(&["find", "lysozyme NOT crystal", "--visits", "--json"]));
    assert_eq!(names(&not, "name"), ["SIM000001", "SIM000009"], "{not}");
    // A word starting with '-' after `--` is search text, not an option.
    let minus = json(&home.run(&["find", "--visits", "--json", "--", "-crystal lysozyme"]));
    assert!(minus["hits"].is_array(), "{minus}");
    assert_eq!(minus["text"], "-crystal lysozyme", "{minus}");

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
    // Without words: said once (finding 13: "match the filters with these filters").
    let t = ok(&home.run(&["find", "--visits", "--instrument", "NOPE"]));
    assert!(t.starts_with("no visits match these filters ("), "{t}");
}

/// Dataset text as the oracle reads it (plain SQL, no index): name, description, doi, sample
/// name and type, dataset type, visit id.
const DS_TEXT: &str = r#"SELECT d."id", d."name", d."description", d."doi", s."name", st."name", t."name", i."visitId"
FROM "Dataset" d JOIN "Investigation" i ON i."id" = d."investigation_id" LEFT JOIN "Sample" s ON s."id" = d."sample_id"
LEFT JOIN "SampleType" st ON st."id" = s."type_id" LEFT JOIN "DatasetType" t ON t."id" = d."type_id""#;

/// Label -> count of one printed dimension.
fn dimension(doc: &Value, key: &str) -> std::collections::BTreeMap<String, u64> {
    doc["facets"]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d[0] == key)
        .map(|d| {
            d[1].as_array()
                .unwrap()
                .iter()
                .map(|l| (l[0].as_str().unwrap().to_string(), l[1].as_u64().unwrap()))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default()
}

/// Counts of the oracle's rows' first column.
fn tally(rows: Vec<Vec<String>>) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for r in rows {
        *out.entry(r[0].clone()).or_default() += 1;
    }
    out
}

#[test]
fn facets_count_every_readable_hit_not_only_the_page_shown() {
    use icat_sim::icat::textsearch::lucene::analyse;
    let (sim, root) = setup();
    let nbour = Home::new();
    common::login(&nbour, &sim, "nbour");
    let mut counted = Vec::new();
    for (home, auth, user) in [(&root, "simple", "root"), (&nbour, "db", "nbour")] {
        // The oracle: datasets whose text holds the word, among those the user may read.
        let readable = sim.readable(auth, user, "Dataset");
        let matching: Vec<i64> = sim
            .rows(DS_TEXT)
            .into_iter()
            .filter(|r| {
                r[1..]
                    .iter()
                    .any(|c| analyse(c).iter().any(|t| t == "diffraction"))
            })
            .map(|r| r[0].parse().unwrap())
            .filter(|id| readable.contains(id))
            .collect();
        assert!(matching.len() > 1, "{user}: {matching:?}");
        let list = matching
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // One hit is printed; the counts cover every match.
        let doc = json(&home.run(&["find", "diffraction", "--limit", "1", "--facets", "--json"]));
        assert_eq!(doc["hits"].as_array().unwrap().len(), 1, "{doc}");
        assert_eq!(
            doc["facets"]["hits_counted"],
            matching.len(),
            "{user}: {doc}"
        );
        assert_eq!(doc["facets"]["all_hits"], true);
        let types = tally(sim.rows(&format!(
            r#"SELECT t."name" FROM "Dataset" d JOIN "DatasetType" t ON t."id" = d."type_id" WHERE d."id" IN ({list})"#
        )));
        assert_eq!(dimension(&doc, "Dataset.type.name"), types, "{user}: {doc}");
        let instruments = tally(sim.rows(&format!(
            r#"SELECT ins."name" FROM "Dataset" d JOIN "InvestigationInstrument" ii ON ii."investigation_id" = d."investigation_id"
               JOIN "Instrument" ins ON ins."id" = ii."instrument_id" WHERE d."id" IN ({list})"#
        )));
        // Instruments in datasets (a visit's instrument counts once per dataset of it).
        assert_eq!(
            dimension(&doc, "InvestigationInstrument.instrument.name"),
            instruments,
            "{user}: {doc}"
        );
        let small = sim.rows(&format!(
            r#"SELECT d."id" FROM "Dataset" d WHERE d."id" IN ({list}) AND COALESCE(d."fileSize", 0) < 1000000"#
        ));
        assert_eq!(
            dimension(&doc, "Dataset.fileSize"),
            std::collections::BTreeMap::from([("< 1 MB".to_string(), small.len() as u64)]),
            "{user}: {doc}"
        );
        // Ranges print in their natural order.
        let sizes: Vec<&str> = doc["facets"]["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d[0] == "Dataset.fileSize")
            .unwrap()[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l[0].as_str().unwrap())
            .collect();
        assert_eq!(sizes, ["< 1 MB", "1 MB - 1 GB", ">= 1 GB"]);
        let table = ok(&home.run(&["find", "diffraction", "--limit", "1", "--facets"]));
        assert!(
            table.contains(&format!(
                "facet counts over all {} datasets matching:",
                matching.len()
            )),
            "{table}"
        );
        counted.push(matching.len());
    }
    // The second user may read fewer: their counts hide what they may not read.
    assert!(counted[1] < counted[0], "{counted:?}");
}

/// Review finding 8: hits with tied scores that do not survive a fast float parse (1 ULP off)
/// were lost when paging (`search_after` sent back below the tie) or paged forever. Every
/// datafile named df00001* is listed, across pages of 100, as plain SQL counts them.
#[test]
fn paging_over_tied_scores_loses_no_hit() {
    let sim = start_sim(
        "visits=40,datasets=4,files=5,size=1KiB",
        false,
        Duration::from_millis(100),
    );
    let home = Home::new();
    common::login_with(&home, &sim, "simple", "root");
    let want = sim
        .rows(r#"SELECT "id" FROM "Datafile" WHERE "name" LIKE 'df00001%'"#)
        .len();
    assert_eq!(want, 160);
    let ids = ok(&home.run(&[
        "find",
        "df00001*",
        "--datafiles",
        "--limit",
        "1000",
        "--ids",
    ]));
    assert_eq!(ids.lines().count(), want, "{ids}");
    // Words are joined by OR: every datafile has "nxs" (the df00003 ones score higher).
    let every = sim
        .rows(r#"SELECT "id" FROM "Datafile" WHERE "name" LIKE '%.nxs'"#)
        .len();
    let ids = ok(&home.run(&[
        "find",
        "df00003.nxs",
        "--datafiles",
        "--limit",
        "1000",
        "--ids",
    ]));
    assert_eq!(ids.lines().count(), every, "{ids}");
}

/// Review finding 4: datasets' techniques are counted (the synthetic rules make
/// `Dataset.datasetTechniques` a public step, as `buildFacetQuery` requires).
#[test]
fn facets_count_datasets_techniques() {
    let (sim, root) = setup();
    sim.sql(
        "INSERT INTO \"Technique\" (\"id\", \"name\") VALUES (1, 'SANS');
         INSERT INTO \"DatasetTechnique\" (\"id\", \"dataset_id\", \"technique_id\") VALUES (1, 1, 1), (2, 2, 1);",
    );
    let doc = json(&root.run(&["find", "diffraction", "--limit", "1", "--facets", "--json"]));
    assert_eq!(
        dimension(&doc, "DatasetTechnique.technique.name"),
        std::collections::BTreeMap::from([("SANS".to_string(), 2)]),
        "{doc}"
    );
}

/// Renames dataset `id` over SOAP as root (the simulator's index follows the update).
fn rename_dataset(sim: &common::Sim, id: i64, name: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = icat_soap::Client::new(&sim.icat_url).unwrap();
        let creds = icat_soap::client::Credentials::new()
            .with("username", "root")
            .with("password", "secret");
        let session = client.login("simple", &creds).await.unwrap();
        let mut ds: icat_soap::model::Dataset = session.get_entity(id, &["1"]).await.unwrap();
        ds.name = Some(name.to_owned());
        session.update(ds).await.unwrap();
    });
}

/// True when `text` holds no character a terminal must not receive from a server: controls
/// other than line breaks, bidirectional formatting, invisible format characters.
fn terminal_safe(text: &str) -> bool {
    !text.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\r')
            || icat_soap::untrusted::is_bidi_control(c)
            || icat_soap::untrusted::is_invisible_format(c)
    })
}

/// Issue 20 review, finding 5: `find` blanked invisible characters (`evil txt.exe`, a name that
/// names nothing) while `show` escaped them (`evil\u{202e}txt.exe\u{200b}`), and `show --json`
/// printed a raw U+202E. Now one rule: tables and CSV show the same visible escapes in `find`
/// and `show`, and JSON writes them as `\u` escapes, so the terminal never receives them and
/// the document still holds the exact name.
#[test]
fn find_and_show_escape_invisible_characters_alike_and_json_never_prints_them_raw() {
    let (sim, home) = setup();
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let id = tree["datasets"][0]["id"].as_i64().unwrap();
    let name = "evil\u{202e}txt.exe\u{200b}";
    rename_dataset(&sim, id, name);
    let shown = "evil\\u{202e}txt.exe\\u{200b}";

    let table = ok(&home.run(&["find", "lysozyme"]));
    assert!(table.contains(shown), "{table}");
    let show = ok(&home.run(&["show", "SIM000001"]));
    assert!(show.contains(shown), "{show}");
    let csv = ok(&home.run(&["find", "lysozyme", "--csv"]));
    assert!(csv.contains(shown), "{csv}");
    assert!(terminal_safe(&csv), "{csv:?}");

    for args in [
        &["find", "lysozyme", "--json"][..],
        &["show", "SIM000001", "--json"][..],
    ] {
        let o = home.run(args);
        let raw = ok(&o);
        assert!(terminal_safe(&raw), "{args:?}: {raw:?}");
        assert!(raw.contains("evil\\u202etxt.exe\\u200b"), "{raw}");
        let doc: Value = serde_json::from_str(&raw).unwrap();
        let text = doc.to_string();
        assert!(
            text.contains(name),
            "{args:?}: the exact name is in the document"
        );
    }
}

/// Issue 20 review, finding 7: `find --download` had none of `download`'s controls; after a
/// local file changed it advised `--overwrite`, which it refused as an unknown argument. Now
/// both commands share one set of transfer options (--match/--exclude, --overwrite,
/// --max-wait, --zip, --parallel, --no-verify ...), and they need --download.
#[test]
fn find_download_takes_the_download_options() {
    let (_sim, home) = setup();
    let dest = home.path().join("hits");
    let d = dest.to_str().unwrap();
    // `find lysozyme --download --match 'ds0001/*' -o DEST` with `extra` options.
    let download = |extra: &[&str]| {
        let mut args = vec![
            "find",
            "lysozyme",
            "--download",
            "--match",
            "ds0001/*",
            "-o",
            d,
        ];
        args.extend_from_slice(extra);
        home.run(&args)
    };
    // --match narrows the hits' files as for `icat download`.
    ok(&download(&[]));
    let files = files_under(&dest);
    assert!(!files.is_empty(), "nothing downloaded");
    assert!(
        files
            .iter()
            .all(|f| f.to_string_lossy().contains("/ds0001/")),
        "{files:?}"
    );
    // A local file that differs: exit 6 and the advice to use --overwrite, which now works.
    let first = dest.join(&files[0]);
    std::fs::write(&first, b"changed locally").unwrap();
    let o = download(&[]);
    assert_eq!(o.status.code(), Some(6), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("--overwrite"),
        "{}",
        common::stderr(&o)
    );
    ok(&download(&[
        "--overwrite",
        "--max-wait",
        "0",
        "--parallel",
        "2",
    ]));
    assert_ne!(std::fs::read(&first).unwrap(), b"changed locally");
    // The transfer options belong to --download.
    let o = home.run(&["find", "lysozyme", "--overwrite"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}

/// Issue 20 review, finding 3: the date facet counted datasets by their start date while
/// `--since`/`--until` select those whose start and end both fall in the range (icat.lucene
/// `buildDateRanges` over `startDate` and `endDate`; a missing end date is written as the last
/// modification), so `find lysozyme --since 2020-01-01 --until 2020-12-31` found nothing where
/// the facet said `2020 4`. Now each year's count is what that filter finds: here the datasets
/// of one visit get an end date on their start day, and those of the others keep none.
#[test]
fn the_date_facet_counts_what_the_date_filter_finds() {
    let (sim, home) = setup();
    sim.sql("UPDATE \"Dataset\" SET \"endDate\" = \"startDate\" WHERE \"investigation_id\" = 1");
    let doc = json(&home.run(&["find", "lysozyme", "--facets", "--json"]));
    let key = format!("{}.date", doc["target"].as_str().unwrap());
    let years: Vec<(String, u64)> = doc["facets"]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d[0] == key.as_str())
        .unwrap_or_else(|| panic!("no {key} in {doc}"))[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l[0].as_str().unwrap().to_string(), l[1].as_u64().unwrap()))
        .collect();
    assert!(years.iter().any(|(_, n)| *n > 0), "{years:?}");
    // The counts add up to the hits: those within no one year are "other" (session 8 review).
    let total: u64 = years.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total,
        doc["facets"]["hits_counted"].as_u64().unwrap(),
        "{years:?}"
    );
    assert!(
        years.iter().any(|(label, n)| label == "other" && *n > 0),
        "{years:?}"
    );
    for (year, n) in years.iter().filter(|(label, _)| label != "other") {
        let since = format!("{year}-01-01");
        let until = format!("{year}-12-31");
        let o = home.run(&[
            "find", "lysozyme", "--since", &since, "--until", &until, "--ids", "--limit", "1000",
        ]);
        let found = common::stdout(&o).lines().count() as u64;
        assert_eq!(
            found, *n,
            "{year}: the facet says {n}, the filter finds {found}"
        );
    }
}

/// Issue 20 review, finding 12: the documented pipeline finding nothing
/// (`icat find nothingatall --ids | icat download -`) was a usage error, exit 2, "standard
/// input held no ids; pipe icat find ... --ids into icat download -", although the user did
/// just that; `find nothingatall --download` says exit 4. Now both are exit 4 (nothing found).
#[test]
fn an_empty_id_list_on_standard_input_is_nothing_found() {
    let (_sim, home) = setup();
    let ids = home.run(&["find", "nothingatall", "--ids"]);
    let dest = home.path().join("none");
    let o = home.run_with_stdin(
        &["download", "-", "-o", dest.to_str().unwrap()],
        &common::stdout(&ids),
    );
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("found nothing"), "{err}");
}
