//! Load: 50 concurrent clients each run 200 mixed operations (search, get, create in their own
//! dataset, IDS download) against one in-process simulator, and `createMany` stays all-or-nothing
//! when concurrent batches collide on a uniqueness constraint.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::TryStreamExt;
use icat_ids::{DataSelection, IdsClient, Packing, PutRequest, SessionId, TransportOptions};
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::model::{Datafile, Dataset, Entity, Value};
use icat_soap::{IcatError, Query};

const CLIENTS: usize = 50;
const OPS_PER_CLIENT: usize = 200;

fn root() -> Credentials {
    Credentials::new()
        .with("username", "root")
        .with("password", "secret")
}

async fn sim() -> RunningSimulator {
    Simulator::builder()
        .synthetic(SyntheticSpec {
            visits: 2,
            datasets: 2,
            files: 3,
            size: 64,
            ..SyntheticSpec::default()
        })
        .start()
        .await
        .expect("simulator starts")
}

fn long(values: &[Value]) -> i64 {
    match values {
        [Value::Long(n)] => *n,
        other => panic!("expected one number, got {other:?}"),
    }
}

async fn first_id(session: &Session, entity: &str) -> i64 {
    long(
        &session
            .search(&Query::new(entity).select("id").order_by("id").limit(0, 1))
            .await
            .expect("id search"),
    )
}

/// Reads a whole `getData` answer.
async fn download(ids: &IdsClient, datafile: i64) -> Result<Vec<u8>, icat_ids::IdsError> {
    let sel = DataSelection::datafiles([datafile]);
    let stream = ids.get_data(&sel, Packing::default(), 0).await?;
    let chunks: Vec<bytes::Bytes> = stream.into_stream().try_collect().await.map_err(|e| {
        icat_ids::IdsError::UnexpectedResponse {
            call: "getData",
            detail: e.to_string(),
        }
    })?;
    Ok(chunks.concat())
}

/// What one client did, checked against the server at the end.
struct ClientReport {
    dataset: i64,
    created: usize,
    downloads: usize,
}

/// Everything a client needs to know about the shared facility.
#[derive(Clone)]
struct Shared {
    icat_url: String,
    ids_url: String,
    investigation: i64,
    dataset_type: i64,
    format: i64,
    /// A synthetic datafile every client downloads, and its bytes as first downloaded.
    common_file: i64,
    common_bytes: Arc<Vec<u8>>,
    upload_dir: Arc<tempfile::TempDir>,
}

/// One client: its own ICAT client, session, IDS client and dataset; 200 operations in a fixed
/// mix (a quarter each of search, get, create and download), checking every answer as it goes.
async fn run_client(n: usize, shared: Shared) -> Result<ClientReport, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("client {n}: {what}: {e}");
    let client = Client::new(&shared.icat_url).map_err(|e| fail("client", &e))?;
    let session = client
        .login("simple", &root())
        .await
        .map_err(|e| fail("login", &e))?;
    let ids = IdsClient::new(&shared.ids_url, TransportOptions::default())
        .map_err(|e| fail("ids client", &e))?
        .with_session(SessionId::new(session.id()));

    let dataset = Dataset {
        name: Some(format!("load-{n}")),
        investigation: Some(Box::new(icat_soap::model::Investigation {
            id: Some(shared.investigation),
            ..Default::default()
        })),
        type_: Some(Box::new(icat_soap::model::DatasetType {
            id: Some(shared.dataset_type),
            ..Default::default()
        })),
        ..Default::default()
    };
    let dataset_id = session
        .create(dataset)
        .await
        .map_err(|e| fail("create dataset", &e))?;

    // One uploaded file with contents unique to this client.
    let contents: Vec<u8> = format!("client {n} says hello\n")
        .bytes()
        .cycle()
        .take(300 + n)
        .collect();
    let local = shared.upload_dir.path().join(format!("upload-{n}.dat"));
    tokio::fs::write(&local, &contents)
        .await
        .map_err(|e| fail("write upload", &e))?;
    let put = ids
        .put(
            &local,
            &PutRequest::new(format!("upload-{n}.dat"), dataset_id, shared.format),
            None,
        )
        .await
        .map_err(|e| fail("put", &e))?;
    let uploaded = put.id;

    let mut created = 1; // the upload registered a datafile
    let mut downloads = 0;
    for op in 0..OPS_PER_CLIENT {
        match op % 4 {
            0 => {
                let count = long(
                    &session
                        .search(
                            &Query::new("Datafile")
                                .where_eq("dataset.id", dataset_id)
                                .count(),
                        )
                        .await
                        .map_err(|e| fail("search", &e))?,
                );
                if count != created as i64 {
                    return Err(format!(
                        "client {n}: op {op}: {count} datafiles in my dataset, expected {created}"
                    ));
                }
            }
            1 => {
                let got = session
                    .get("Dataset", dataset_id)
                    .await
                    .map_err(|e| fail("get", &e))?;
                match got {
                    Entity::Dataset(d) if d.name.as_deref() == Some(&format!("load-{n}")) => {}
                    other => return Err(format!("client {n}: get returned {other:?}")),
                }
            }
            2 => {
                let df = Datafile {
                    name: Some(format!("op-{op}")),
                    file_size: Some(op as i64),
                    dataset: Some(Box::new(Dataset {
                        id: Some(dataset_id),
                        ..Default::default()
                    })),
                    ..Default::default()
                };
                session
                    .create(df)
                    .await
                    .map_err(|e| fail("create datafile", &e))?;
                created += 1;
            }
            _ => {
                // Alternate between this client's upload and the file everyone reads.
                let (id, expected): (i64, &[u8]) = if op % 8 == 3 {
                    (uploaded, &contents)
                } else {
                    (shared.common_file, &shared.common_bytes)
                };
                let got = download(&ids, id).await.map_err(|e| fail("download", &e))?;
                if got != expected {
                    return Err(format!(
                        "client {n}: op {op}: datafile {id} came back with {} bytes that differ",
                        got.len()
                    ));
                }
                downloads += 1;
            }
        }
    }
    session.logout().await.map_err(|e| fail("logout", &e))?;
    Ok(ClientReport {
        dataset: dataset_id,
        created,
        downloads,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_two_hundred_mixed_operations_each() {
    let s = sim().await;
    let admin = Client::new(&s.icat_url())
        .expect("client")
        .login("simple", &root())
        .await
        .expect("login");
    let before = long(
        &admin
            .search(&Query::new("Datafile").count())
            .await
            .expect("count"),
    );
    let common_file = first_id(&admin, "Datafile").await;
    let ids = IdsClient::new(&s.ids_url(), TransportOptions::default())
        .expect("ids")
        .with_session(SessionId::new(admin.id()));
    let common_bytes = download(&ids, common_file).await.expect("first download");
    assert_eq!(common_bytes.len(), 64, "the synthetic file size");

    let shared = Shared {
        icat_url: s.icat_url(),
        ids_url: s.ids_url(),
        investigation: first_id(&admin, "Investigation").await,
        dataset_type: first_id(&admin, "DatasetType").await,
        format: first_id(&admin, "DatafileFormat").await,
        common_file,
        common_bytes: Arc::new(common_bytes),
        upload_dir: Arc::new(tempfile::tempdir().expect("tempdir")),
    };
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(run_client(n, shared.clone())))
        .collect();
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await.expect("client task panicked") {
            Ok(r) => reports.push(r),
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "{} clients failed: {errors:#?}",
        errors.len()
    );

    // The server agrees with what every client did.
    let mut total_created = 0;
    for r in &reports {
        let on_server = long(
            &admin
                .search(
                    &Query::new("Datafile")
                        .where_eq("dataset.id", r.dataset)
                        .count(),
                )
                .await
                .expect("count"),
        );
        assert_eq!(on_server, r.created as i64, "dataset {}", r.dataset);
        assert_eq!(r.created, 1 + OPS_PER_CLIENT / 4);
        assert_eq!(r.downloads, OPS_PER_CLIENT / 4);
        total_created += r.created as i64;
    }
    let after = long(
        &admin
            .search(&Query::new("Datafile").count())
            .await
            .expect("count"),
    );
    assert_eq!(after, before + total_created);
    let datasets = admin
        .search(&Query::new("Dataset").filter(icat_soap::query::Condition::like("name", "load-%")))
        .await
        .expect("datasets");
    assert_eq!(datasets.len(), CLIENTS);
    s.shutdown().await;
}

/// Concurrent `createMany` batches over an overlapping pool of names in one dataset: some fail
/// on the (dataset, name) constraint. A batch is all-or-nothing, so the names on the server are
/// exactly the disjoint union of the successful batches, with the ids those batches returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_many_is_all_or_nothing_under_concurrency() {
    const TASKS: usize = 16;
    const BATCHES: usize = 8;
    const BATCH: usize = 4;
    const POOL: usize = 40;
    let s = sim().await;
    let client = Client::new(&s.icat_url()).expect("client");
    let admin = client.login("simple", &root()).await.expect("login");
    let dataset = first_id(&admin, "Dataset").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let session = admin.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for b in 0..BATCHES {
                    // A deterministic spread over the pool so that batches overlap.
                    let names: Vec<String> = (0..BATCH)
                        .map(|k| format!("batch-{}", (t * 7 + b * 13 + k * 5) % POOL))
                        .collect();
                    let beans: Vec<Entity> = names
                        .iter()
                        .map(|name| {
                            Datafile {
                                name: Some(name.clone()),
                                dataset: Some(Box::new(Dataset {
                                    id: Some(dataset),
                                    ..Default::default()
                                })),
                                ..Default::default()
                            }
                            .into()
                        })
                        .collect();
                    outcomes.push((names, session.create_many(beans).await));
                }
                outcomes
            })
        })
        .collect();

    let mut on_success: BTreeMap<String, i64> = BTreeMap::new();
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        for (names, outcome) in t.await.expect("task") {
            match outcome {
                Ok(ids) => {
                    ok += 1;
                    assert_eq!(ids.len(), names.len(), "one id per bean");
                    for (name, id) in names.into_iter().zip(ids) {
                        let previous = on_success.insert(name.clone(), id);
                        assert!(
                            previous.is_none(),
                            "{name} created by two successful batches"
                        );
                    }
                }
                Err(IcatError::ObjectAlreadyExists { .. }) => refused += 1,
                Err(other) => panic!("unexpected createMany error: {other:?}"),
            }
        }
    }
    assert!(
        ok > 0 && refused > 0,
        "{ok} batches succeeded, {refused} refused: no contention"
    );

    let rows = admin
        .search(
            &Query::new("Datafile")
                .select("name")
                .select("id")
                .where_eq("dataset.id", dataset)
                .filter(icat_soap::query::Condition::like("name", "batch-%")),
        )
        .await
        .expect("search");
    let on_server: BTreeMap<String, i64> = rows
        .into_iter()
        .map(|row| match row {
            Value::FieldSet(cols) => match cols.as_slice() {
                [Some(Value::String(name)), Some(Value::Long(id))] => (name.clone(), *id),
                other => panic!("unexpected row {other:?}"),
            },
            other => panic!("unexpected row {other:?}"),
        })
        .collect();
    assert_eq!(
        on_server.keys().collect::<BTreeSet<_>>(),
        on_success.keys().collect::<BTreeSet<_>>(),
        "names left behind by refused batches (or lost from successful ones)"
    );
    assert_eq!(on_server, on_success, "ids as returned by createMany");
    s.shutdown().await;
}
