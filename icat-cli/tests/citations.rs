//! Citing and piping data: `doi:` references (DataPublication, DataCollection, Investigation,
//! Dataset, Datafile), `--collection ID`, id lists on standard input, and `--manifest` BagIt bags.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{Home, Sim, files_under, json, ok, sim_with_root, stderr, stdout};
use sha2::Digest;

/// Two visits of 2 datasets x 2 files; root logged in. Returns the ids of SIM000001's datasets
/// and files: `[(dataset id, [datafile ids])]`.
fn setup() -> (Sim, Home, Vec<(i64, Vec<i64>)>) {
    let (sim, home) = sim_with_root(
        "visits=2,datasets=2,files=2,size=2KiB",
        Duration::from_millis(100),
    );
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let datasets = tree["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ds| {
            let files = ds["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_i64().unwrap())
                .collect();
            (ds["id"].as_i64().unwrap(), files)
        })
        .collect();
    (sim, home, datasets)
}

/// Item 5 of the #20 review: the synthetic catalogue has DOIs (visits 10.5286/SIM.E.N, their
/// datasets .D1, .D2, ...), a data collection (10.5286/SIM.C.1: the first dataset of every third
/// visit) and a data publication (10.5286/SIM.P.1: the first visit), so they can be tried.
#[test]
fn the_synthetic_catalogue_has_dois_a_collection_and_a_publication() {
    let (_sim, home, ds) = setup();
    let doc = json(&home.run(&["show", "doi:10.5286/SIM.E.2", "--json"]));
    assert_eq!(doc["kind"], "Investigation", "{doc}");
    assert_eq!(file_ids(&doc).len(), 4, "{doc}");
    let doc = json(&home.run(&["show", "doi:10.5286/sim.e.1.d2", "--json"]));
    assert_eq!(doc["kind"], "Dataset", "{doc}");
    assert_eq!(file_ids(&doc), sorted(ds[1].1.clone()), "{doc}");
    let doc = json(&home.run(&["show", "doi:10.5286/SIM.C.1", "--json"]));
    assert_eq!(doc["kind"], "DataCollection", "{doc}");
    assert_eq!(file_ids(&doc), sorted(ds[0].1.clone()), "{doc}");
    let id = doc["id"].as_i64().unwrap().to_string();
    let doc = json(&home.run(&["show", "--collection", &id, "--json"]));
    assert_eq!(file_ids(&doc), sorted(ds[0].1.clone()), "{doc}");
    let doc = json(&home.run(&["show", "doi:10.5286/SIM.P.1", "--json"]));
    assert_eq!(doc["kind"], "DataPublication", "{doc}");
    assert_eq!(file_ids(&doc).len(), 4, "{doc}");
    let dest = home.path().join("pub");
    let out = ok(&home.run(&[
        "download",
        "doi:10.5286/SIM.P.1",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 4 files"), "{out}");
}

/// Collection 1 = dataset A of SIM000001 + one file of dataset B + (nothing else); publication
/// 10.5286/test.pub shows it. SIM000002 has DOI 10.5286/test.inv, dataset B has
/// 10.5286/test.ds, and B's second file 10.5286/test.df.
fn cite(sim: &Sim, ds: &[(i64, Vec<i64>)]) {
    let (a, b) = (&ds[0], &ds[1]);
    // The synthetic catalogue's own collections and publication make way for these.
    sim.sql(
        "DELETE FROM \"DataPublication\"; DELETE FROM \"DataCollectionDataset\";
         DELETE FROM \"DataCollectionInvestigation\"; DELETE FROM \"DataCollection\";",
    );
    sim.sql(&format!(
        "INSERT INTO \"DataCollection\" (\"id\", \"doi\") VALUES (1, '10.5286/test.coll');
         INSERT INTO \"DataCollectionDataset\" (\"id\", \"dataCollection_id\", \"dataset_id\") VALUES (1, 1, {});
         INSERT INTO \"DataCollectionDatafile\" (\"id\", \"dataCollection_id\", \"datafile_id\") VALUES (1, 1, {});
         INSERT INTO \"DataPublication\" (\"id\", \"pid\", \"title\", \"content_id\") VALUES (1, '10.5286/test.pub', 'Lysozyme at 100 K', 1);
         UPDATE \"Investigation\" SET \"doi\" = '10.5286/test.inv' WHERE \"name\" = 'SIM000002';
         UPDATE \"Dataset\" SET \"doi\" = '10.5286/test.ds' WHERE \"id\" = {};
         UPDATE \"Datafile\" SET \"doi\" = '10.5286/test.df' WHERE \"id\" = {};",
        a.0, b.1[0], b.0, b.1[1]
    ));
}

fn file_ids(doc: &serde_json::Value) -> Vec<i64> {
    let mut ids: Vec<i64> = doc["visits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["datasets"].as_array().unwrap().iter())
        .flat_map(|d| d["files"].as_array().unwrap().iter())
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[test]
fn dois_and_collections_resolve_to_their_data() {
    let (sim, home, ds) = setup();
    cite(&sim, &ds);
    let collection = sorted(vec![ds[0].1[0], ds[0].1[1], ds[1].1[0]]);

    let doc = json(&home.run(&["show", "doi:10.5286/test.pub", "--json"]));
    assert_eq!(doc["kind"], "DataPublication", "{doc}");
    assert_eq!(doc["title"], "Lysozyme at 100 K");
    assert_eq!(doc["collection"], 1);
    assert_eq!(file_ids(&doc), collection);

    // The collection's own DOI, its id, and the https://doi.org/ form.
    let doc = json(&home.run(&["show", "https://doi.org/10.5286/test.coll", "--json"]));
    assert_eq!(doc["kind"], "DataCollection", "{doc}");
    assert_eq!(file_ids(&doc), collection);
    let csv = ok(&home.run(&["show", "--collection", "1", "--csv"]));
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    let table = ok(&home.run(&["show", "doi:10.5286/test.pub"]));
    assert!(
        table.starts_with("doi:10.5286/test.pub: DataPublication 1  Lysozyme at 100 K"),
        "{table}"
    );

    let doc = json(&home.run(&["show", "doi:10.5286/test.inv", "--json"]));
    assert_eq!(doc["kind"], "Investigation", "{doc}");
    assert_eq!(file_ids(&doc).len(), 4);
    let doc = json(&home.run(&["show", "doi:10.5286/test.ds", "--json"]));
    assert_eq!(doc["kind"], "Dataset", "{doc}");
    assert_eq!(file_ids(&doc), sorted(ds[1].1.clone()));
    let doc = json(&home.run(&["show", "doi:10.5286/test.df", "--json"]));
    assert_eq!(doc["kind"], "Datafile", "{doc}");
    assert_eq!(file_ids(&doc), vec![ds[1].1[1]]);

    // Downloads take the same references.
    let dest = home.path().join("pub");
    let out = ok(&home.run(&[
        "download",
        "doi:10.5286/test.pub",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 3 files"), "{out}");
    assert_eq!(files_under(&dest).len(), 3);
    let dest = home.path().join("coll");
    let doc = json(&home.run(&[
        "download",
        "--collection",
        "1",
        "--json",
        "-o",
        dest.to_str().unwrap(),
    ]));
    let mut got: Vec<i64> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, collection);
    let dest = home.path().join("inv");
    let out = ok(&home.run(&[
        "download",
        "doi:10.5286/test.inv",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 4 files"), "{out}");
    let under = files_under(&dest);
    assert!(
        under
            .iter()
            .all(|p| p.starts_with(under[0].iter().next().unwrap())),
        "{under:?}"
    );

    // Unknown DOI and collection: not found (exit 4), saying what was looked for.
    let o = home.run(&["download", "doi:10.5286/nothing", "-o", "x"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("10.5286/nothing"), "{}", stderr(&o));
    let o = home.run(&["show", "--collection", "99"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // A DOI cannot take --dataset.
    let o = home.run(&["download", "doi:10.5286/test.pub", "--dataset", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_non_root_user_never_resolves_a_doi_of_data_they_cannot_read() {
    let (sim, home, ds) = setup();
    cite(&sim, &ds);
    // jdoe is a member of some visits only; the synthetic rules give no DataPublication access.
    let other = Home::new();
    common::login(&other, &sim, "jdoe");
    let o = other.run(&["show", "doi:10.5286/test.pub"]);
    assert_eq!(o.status.code(), Some(4), "{}{}", stdout(&o), stderr(&o));
    drop(home);
}

fn sha512_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha512::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks a bag the way a validator does: every payload file listed once with its digest,
/// nothing else under data/, the tag manifest over the tag files, and the Payload-Oxum.
fn check_bag(bag: &Path) -> Vec<String> {
    assert_eq!(
        read(&bag.join("bagit.txt")),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    let manifest = read(&bag.join("manifest-sha512.txt"));
    let mut listed = Vec::new();
    let mut bytes = 0;
    for line in manifest.lines() {
        let (digest, path) = line.split_once("  ").unwrap();
        assert_eq!(digest, sha512_hex(&bag.join(path)), "{path}");
        bytes += std::fs::metadata(bag.join(path)).unwrap().len();
        listed.push(path.to_string());
    }
    let on_disk: Vec<String> = files_under(&bag.join("data"))
        .iter()
        .map(|p| format!("data/{}", p.display()))
        .collect();
    let mut sorted_listed = listed.clone();
    sorted_listed.sort();
    assert_eq!(sorted_listed, on_disk);
    for line in read(&bag.join("tagmanifest-sha512.txt")).lines() {
        let (digest, path) = line.split_once("  ").unwrap();
        assert_eq!(digest, sha512_hex(&bag.join(path)), "{path}");
    }
    let info = read(&bag.join("bag-info.txt"));
    assert!(
        info.contains(&format!("Payload-Oxum: {bytes}.{}\n", listed.len())),
        "{info}"
    );
    listed
}

#[test]
fn manifest_makes_a_valid_bag_and_reruns_rewrite_it() {
    let (sim, home, ds) = setup();
    cite(&sim, &ds);
    let bag = home.path().join("bag");
    let o = home.run(&[
        "download",
        "doi:10.5286/test.pub",
        "--manifest",
        "-o",
        bag.to_str().unwrap(),
    ]);
    ok(&o);
    assert!(stderr(&o).contains("BagIt bag written"), "{}", stderr(&o));
    let listed = check_bag(&bag);
    assert_eq!(listed.len(), 3);
    let info = read(&bag.join("bag-info.txt"));
    for want in [
        format!("ICAT-Source: {}", sim.icat_url.trim_end_matches('/')),
        "ICAT-User: simple/root".to_string(),
        "ICAT-Query: doi:10.5286/test.pub".to_string(),
        "External-Identifier: doi:10.5286/test.pub".to_string(),
        "ICAT-Download-Time: ".to_string(),
        "Bagging-Date: ".to_string(),
    ] {
        assert!(info.contains(&want), "{want:?} not in\n{info}");
    }
    // Nothing but the bag: no work folder, no temporary files.
    let mut top: Vec<String> = std::fs::read_dir(&bag)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "bag-info.txt",
            "bagit.txt",
            "data",
            "manifest-sha512.txt",
            "tagmanifest-sha512.txt"
        ]
    );

    // A second run skips the present files and still lists each with its digest.
    let manifest = read(&bag.join("manifest-sha512.txt"));
    ok(&home.run(&[
        "download",
        "doi:10.5286/test.pub",
        "--manifest",
        "-o",
        bag.to_str().unwrap(),
    ]));
    assert_eq!(read(&bag.join("manifest-sha512.txt")), manifest);
    check_bag(&bag);

    // --zip: digests read from the extracted files; sha256 on request.
    let bag2 = home.path().join("bag2");
    ok(&home.run(&[
        "download",
        "SIM000002",
        "--zip",
        "--manifest",
        "--manifest-algorithm",
        "sha256",
        "-o",
        bag2.to_str().unwrap(),
    ]));
    let m = read(&bag2.join("manifest-sha256.txt"));
    assert_eq!(m.lines().count(), 4, "{m}");
    assert!(read(&bag2.join("bag-info.txt")).contains("ICAT-Query: visit SIM000002\n"));
}

fn run_stdin(home: &Home, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = home
        .icat(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn download_reads_an_id_list_from_standard_input() {
    let (_sim, home, ds) = setup();
    let dest = home.path().join("ids");
    let input = format!(
        "# picked by hand\ndatafile {}\ndataset {}\n{}\n",
        ds[0].1[0], ds[1].0, ds[0].1[0]
    );
    let doc: serde_json::Value = serde_json::from_str(&ok(&run_stdin(
        &home,
        &["download", "-", "--json", "-o", dest.to_str().unwrap()],
        &input,
    )))
    .unwrap();
    let mut got: Vec<i64> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, sorted(vec![ds[0].1[0], ds[1].1[0], ds[1].1[1]]));

    // --from-stdin is the same; a bad line is a usage error naming it.
    let o = run_stdin(
        &home,
        &["download", "--from-stdin", "--dry-run"],
        &format!("datafile {}\nsample 3\n", ds[0].1[0]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    // A list with no ids (what a search that found nothing pipes in) is nothing found, exit 4
    // (issue 20 review, finding 12; before, a usage error).
    let o = run_stdin(&home, &["download", "-"], "\n# nothing\n");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

/// Review finding S1: ids in the list that do not exist (or may not be read) are named and
/// exit 4, while the rest is still downloaded; a list of only such ids fails before anything.
#[test]
fn download_names_ids_of_the_list_that_are_not_found_and_exits_4() {
    let (_sim, home, ds) = setup();
    let dest = home.path().join("some");
    // One kind (datasets) and a mix of kinds take different paths: both are checked.
    for (n, input) in [
        format!("dataset {}\ndataset 999999\n", ds[0].0),
        format!(
            "dataset {}\ndataset 999999\ndatafile 888888\ninvestigation 777777\n",
            ds[0].0
        ),
    ]
    .iter()
    .enumerate()
    {
        let out = dest.join(n.to_string());
        let o = run_stdin(
            &home,
            &["download", "-", "--json", "-o", out.to_str().unwrap()],
            input,
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(4), "{err}");
        let total = input.lines().count();
        assert!(
            err.contains(&format!(
                "{} of {total} ids not found or not readable: ",
                total - 1
            )) && err.contains("dataset 999999"),
            "{err}"
        );
        if n == 1 {
            assert!(
                err.contains("datafile 888888") && err.contains("investigation 777777"),
                "{err}"
            );
        }
        // The dataset that exists was downloaded all the same.
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let mut got: Vec<i64> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, sorted(ds[0].1.clone()), "{input}");
        assert_eq!(files_under(&out).len(), 2, "{input}");
    }
    // Only unknown ids: exit 4 naming them, nothing written.
    let none = dest.join("none");
    let o = run_stdin(
        &home,
        &["download", "-", "-o", none.to_str().unwrap()],
        "dataset 999999\n",
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of 1 ids not found or not readable: dataset 999999"),
        "{}",
        stderr(&o)
    );
    assert!(!none.exists() || files_under(&none).is_empty());
}

/// Review finding S6: `doi:` prefixes without a DOI after them are not visit names.
#[test]
fn show_says_a_doi_prefix_without_a_doi_is_not_a_valid_doi() {
    let (_sim, home, _ds) = setup();
    for text in ["doi:%", "doi:", "doi:_", "https://doi.org/", "DOI:11.1/x"] {
        let o = home.run(&["show", text]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains("is not a valid DOI") && err.contains("10.PREFIX/SUFFIX"),
            "{text}: {err}"
        );
        assert!(!err.contains("no visit"), "{text}: {err}");
    }
}

/// Review finding B1, the case a bag-info check cannot see: `data/` already holds files this
/// selection does not download (no bag yet, or put there by hand). A bag written around them
/// would fail Payload-Oxum validation: refused before any byte; without them it is a bag.
#[test]
fn manifest_into_a_folder_whose_data_holds_other_files_is_refused() {
    let (_sim, home, _ds) = setup();
    let bag = home.path().join("bag");
    let bag_arg = bag.to_str().unwrap();
    std::fs::create_dir_all(bag.join("data/old")).unwrap();
    std::fs::write(bag.join("data/old/notes.txt"), "mine\n").unwrap();
    let o = home.run(&["download", "SIM000001", "--manifest", "-o", bag_arg]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already holds data this selection does not download")
            && err.contains("data/old/notes.txt")
            && err.contains("new, empty -o folder"),
        "{err}"
    );
    assert_eq!(files_under(&bag.join("data")).len(), 1);
    assert!(!bag.join("bag-info.txt").exists());
    std::fs::remove_dir_all(bag.join("data/old")).unwrap();
    ok(&home.run(&["download", "SIM000001", "--manifest", "-o", bag_arg]));
    check_bag(&bag);
}

/// Review findings 15: DOI names are case-insensitive (DOI Handbook 2.4), so an upper-cased DOI
/// from a citation resolves; an empty collection is shown as empty (exit 0), while a download of
/// it has nothing to do (exit 4).
#[test]
fn dois_match_ignoring_case_and_an_empty_collection_is_shown_as_empty() {
    let (sim, home, ds) = setup();
    cite(&sim, &ds);
    let doc = json(&home.run(&["show", "DOI:10.5286/TEST.INV", "--json"]));
    assert_eq!(doc["kind"], "Investigation", "{doc}");
    let doc = json(&home.run(&["show", "https://doi.org/10.5286/Test.Pub", "--json"]));
    assert_eq!(doc["kind"], "DataPublication", "{doc}");
    let dest = home.path().join("upper");
    let out = ok(&home.run(&[
        "download",
        "doi:10.5286/TEST.DS",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert!(out.contains("downloaded 2 files"), "{out}");

    sim.sql("INSERT INTO \"DataCollection\" (\"id\", \"doi\") VALUES (2, '10.5286/test.empty');");
    let o = home.run(&["show", "--collection", "2"]);
    let t = ok(&o);
    assert!(
        t.contains("holds no datafiles you may read (empty, or not yours to read)"),
        "{t}"
    );
    let doc = json(&home.run(&["show", "doi:10.5286/test.empty", "--json"]));
    assert_eq!(doc["kind"], "DataCollection", "{doc}");
    assert_eq!(doc["visits"], serde_json::json!([]), "{doc}");
    let o = home.run(&["download", "--collection", "2", "-o", "x"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no datafiles you may read"),
        "{}",
        stderr(&o)
    );
}

/// Review finding 1 (session 7): two datasets holding one DOI in different cases: the one
/// holding it exactly as written wins; written in a third case, the DOI is ambiguous (exit 2,
/// both named), never one picked silently.
#[test]
fn a_doi_held_twice_in_different_cases_is_never_resolved_silently() {
    let (sim, home, ds) = setup();
    sim.sql(&format!(
        "UPDATE \"Dataset\" SET \"doi\" = '10.5286/SIM.DUP' WHERE \"id\" = {};
         UPDATE \"Dataset\" SET \"doi\" = '10.5286/sim.dup' WHERE \"id\" = {};",
        ds[0].0, ds[1].0
    ));
    let doc = json(&home.run(&["show", "doi:10.5286/sim.dup", "--json"]));
    assert_eq!(doc["id"], ds[1].0, "{doc}");
    let doc = json(&home.run(&["show", "doi:10.5286/SIM.DUP", "--json"]));
    assert_eq!(doc["id"], ds[0].0, "{doc}");
    let o = home.run(&["show", "doi:10.5286/Sim.Dup"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ambiguous")
            && err.contains(&format!("Dataset {}", ds[0].0))
            && err.contains(&format!("Dataset {}", ds[1].0)),
        "{err}"
    );
}
