//! Acceptance test of the access rules: python-icat's reference dump loaded into the simulator,
//! then, for root and six `db/` users, the number of objects of every entity type seen through
//! the SOAP service (`SELECT COUNT(o) FROM <Entity> o` and `SELECT o FROM <Entity> o`) must equal
//! python-icat's reference summaries (`summary-6.2`, `summary-6.2.<user>`).
//!
//! The dump does not record who created what, but some rules grant access to the creator
//! (`o.createId = :user`). In python-icat's setup that produced the summaries, `db/jbotu` and
//! `db/rbeck` each created a data collection and `db/nbour` created a job with its input and
//! output data collections and a related datafile. The test re-creates exactly those objects as
//! those users through SOAP `create` (which also exercises create rules), then compares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use icat_sim::Simulator;
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::dynamic::{AttrValue, DynEntity};
use icat_soap::model::{Entity, Value};

/// The python-icat reference data, or `None` (with a message) when `../shared` is absent.
fn reference_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/python-icat-6.2");
    if dir.join("icatdump-6.2.xml").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} not found (shared reference data absent)",
            dir.display()
        );
        None
    }
}

/// `Entity : count` lines of a python-icat summary file.
fn summary_counts(path: &Path) -> Vec<(String, i64)> {
    let text = std::fs::read_to_string(path).expect("summary file");
    text.lines()
        .filter_map(|line| {
            let (name, n) = line.split_once(':')?;
            Some((name.trim().to_string(), n.trim().parse::<i64>().ok()?))
        })
        .collect()
}

async fn login(client: &Client, plugin: &str, user: &str) -> Session {
    let creds = Credentials::new()
        .with("username", user)
        .with("password", "secret");
    client.login(plugin, &creds).await.expect("login")
}

fn dyn_of(v: &Value) -> DynEntity {
    match v {
        Value::Entity(e) => e.to_dyn(),
        other => panic!("not an entity: {other:?}"),
    }
}

async fn entities(session: &Session, query: &str) -> Vec<DynEntity> {
    session
        .search(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(dyn_of)
        .collect()
}

/// A reference to an existing object (only its id).
fn reference(e: &DynEntity) -> DynEntity {
    let mut r = DynEntity::new(e.entity.clone());
    if let Some(id) = e.attrs.get("id") {
        r.attrs.insert("id".into(), id.clone());
    }
    r
}

/// A copy of `e` to create again: no id or server fields, many-to-one relations as references,
/// one-to-many children (the cascaded ones named in `children`) copied the same way.
fn fresh(e: &DynEntity, children: &[&str]) -> DynEntity {
    let mut out = DynEntity::new(e.entity.clone());
    for (k, v) in &e.attrs {
        if !["id", "createId", "createTime", "modId", "modTime"].contains(&k.as_str()) {
            out.attrs.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &e.one {
        out.one.insert(k.clone(), reference(v));
    }
    for name in children {
        if let Some(list) = e.many.get(*name) {
            out.many.insert(
                (*name).to_string(),
                list.iter().map(|c| fresh(c, &[])).collect(),
            );
        }
    }
    out
}

async fn create(session: &Session, bean: &DynEntity) -> i64 {
    let entity = Entity::from_dyn(bean).expect("valid bean");
    session
        .create(entity)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", bean.entity))
}

fn with_id(entity: &str, id: i64) -> DynEntity {
    let mut r = DynEntity::new(entity);
    r.attrs.insert("id".into(), AttrValue::Long(id));
    r
}

/// Re-creates the objects python-icat's setup made as ordinary users (see the module doc).
async fn restore_owners(client: &Client, root: &Session) {
    const DC_PARTS: [&str; 4] = [
        "dataCollectionDatasets",
        "dataCollectionDatafiles",
        "dataCollectionInvestigations",
        "parameters",
    ];
    let collections = entities(
        root,
        "SELECT dc FROM DataCollection dc INCLUDE dc.dataCollectionDatasets dcs, dcs.dataset, \
         dc.dataCollectionDatafiles dcf, dcf.datafile, dc.dataCollectionInvestigations dci, \
         dci.investigation, dc.parameters p, p.type, \
         dc.jobsAsInput, dc.jobsAsOutput, dc.dataPublications",
    )
    .await;
    let jobs = entities(root, "SELECT j FROM Job j INCLUDE 1").await;
    let related = entities(root, "SELECT r FROM RelatedDatafile r INCLUDE 1").await;
    assert_eq!(
        (collections.len(), jobs.len(), related.len()),
        (5, 1, 1),
        "the reference dump"
    );
    let has = |dc: &DynEntity, field: &str| dc.many.get(field).is_some_and(|l| !l.is_empty());
    let holds_dataset = |dc: &DynEntity, name: &str| {
        dc.many.get("dataCollectionDatasets").is_some_and(|l| {
            l.iter().any(|dcs| {
                dcs.one.get("dataset").and_then(|d| d.attrs.get("name"))
                    == Some(&AttrValue::String(name.into()))
            })
        })
    };
    // Delete what will be re-created: the job and related datafile first (they refer to the rest).
    let mut doomed: Vec<Entity> = Vec::new();
    for e in jobs.iter().chain(&related) {
        doomed.push(Entity::from_dyn(&reference(e)).unwrap());
    }
    let mut owned: Vec<(&str, &DynEntity)> = Vec::new();
    for dc in &collections {
        let owner = if has(dc, "dataPublications") {
            continue; // the content of the data publication, made by the ingest account
        } else if has(dc, "jobsAsInput") || has(dc, "jobsAsOutput") {
            "nbour"
        } else if holds_dataset(dc, "e201215") {
            "jbotu"
        } else if has(dc, "dataCollectionInvestigations") {
            "rbeck"
        } else {
            panic!("unexpected data collection {dc:?}")
        };
        owned.push((owner, dc));
        doomed.push(Entity::from_dyn(&reference(dc)).unwrap());
    }
    for e in doomed {
        root.delete(e).await.expect("root deletes");
    }
    let mut new_ids: BTreeMap<i64, i64> = BTreeMap::new();
    for (owner, dc) in owned {
        let session = login(client, "db", owner).await;
        let id = create(&session, &fresh(dc, &DC_PARTS)).await;
        if let Some(AttrValue::Long(old)) = dc.attrs.get("id") {
            new_ids.insert(*old, id);
        }
    }
    let nbour = login(client, "db", "nbour").await;
    for job in &jobs {
        let mut bean = fresh(job, &[]);
        for field in ["inputDataCollection", "outputDataCollection"] {
            let old = job.one.get(field).and_then(|dc| dc.attrs.get("id"));
            if let Some(AttrValue::Long(old)) = old {
                bean.one
                    .insert(field.into(), with_id("DataCollection", new_ids[old]));
            }
        }
        create(&nbour, &bean).await;
    }
    for r in &related {
        create(&nbour, &fresh(r, &[])).await;
    }
}

fn count_of(values: &[Value]) -> i64 {
    match values {
        [Value::Long(n)] => *n,
        other => panic!("not a count: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_sees_what_the_reference_summaries_say() {
    let Some(dir) = reference_data() else { return };
    let sim = Simulator::builder()
        .load_file(dir.join("icatdump-6.2.xml"))
        .start()
        .await
        .expect("simulator starts");
    let client = Client::new(&sim.icat_url()).expect("client");
    let root = login(&client, "simple", "root").await;
    restore_owners(&client, &root).await;
    let mut checked = 0;
    let mut mismatches = Vec::new();
    let users = ["root", "acord", "ahau", "jbotu", "jdoe", "nbour", "rbeck"];
    for user in users {
        let (session, summary) = if user == "root" {
            (
                login(&client, "simple", "root").await,
                "summary-6.2".to_string(),
            )
        } else {
            (
                login(&client, "db", user).await,
                format!("summary-6.2.{user}"),
            )
        };
        let counts = summary_counts(&dir.join(&summary));
        assert!(counts.len() >= 50, "{summary}: {} lines", counts.len());
        for (entity, expected) in counts {
            let query = format!("SELECT COUNT(o) FROM {entity} o");
            let counted = count_of(&session.search(query.as_str()).await.expect("count"));
            let query = format!("SELECT o FROM {entity} o");
            let listed = session.search(query.as_str()).await.expect("list").len() as i64;
            if counted != expected || listed != expected {
                mismatches.push(format!(
                    "{user} {entity}: expected {expected}, COUNT gave {counted}, SELECT gave {listed}"
                ));
            }
            checked += 1;
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(checked >= 7 * 50, "{checked} counts checked");
    sim.shutdown().await;
}
