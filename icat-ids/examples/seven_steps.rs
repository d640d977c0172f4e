//! The seven steps of issue 18 with the library API: a user's investigations with dataset and
//! file counts, get with includes, create and delete, COUNT + SUM, a paged stream, a dataset
//! download with progress, a typed fault. `python/seven_steps.py` is python-icat's version; the
//! line counts are in the README. Values reach queries only through `Jpql::bind` or the builder.
//!
//! `ICAT_PASSWORD=… cargo run -p icat-ids --example seven_steps -- https://icat.example.org:8181 \
//!  https://icat.example.org:8181 db jdoe db/jdoe`

use std::{env, error::Error, path::Path};

use futures_util::TryStreamExt;
use icat_ids::{DownloadOptions, DownloadPlan, SessionIds};
use icat_soap::model::{Datafile, Dataset, DatasetType, Investigation};
use icat_soap::{Client, Credentials, IcatError, Jpql, Query, Session};

type Res<T = ()> = Result<T, Box<dyn Error>>;

const MINE: &str = "SELECT i.name, COUNT(DISTINCT d), COUNT(f) FROM Investigation i JOIN \
    i.investigationUsers u JOIN i.datasets d JOIN d.datafiles f WHERE u.user.name = :owner \
    GROUP BY i.name ORDER BY i.name";

/// Runs the steps in `session` for the investigations of `owner`, downloading from the IDS at
/// `ids_url` into `dest`.
pub async fn run(session: &Session, ids_url: &str, owner: &str, dest: &Path) -> Res {
    // 1. A user's investigations with dataset and file counts.
    let q = Jpql::new(MINE).bind("owner", owner);
    for (name, datasets, files) in session.search_rows::<(String, i64, i64)>(&q).await? {
        println!("{name}: {datasets} datasets, {files} files");
    }
    // 2. Get an entity with includes.
    let first: i64 = session
        .search_one("SELECT MIN(i.id) FROM Investigation i")
        .await?;
    let inv: Investigation = session.get_entity(first, &["datasets", "facility"]).await?;
    println!("{:?} has {} datasets", inv.name, inv.datasets.len());
    // 3. Create and delete a Dataset and a Datafile.
    let types: Vec<DatasetType> = session.search_entities(&Query::new("DatasetType")).await?;
    let new_ds = Dataset {
        name: Some("seven-steps".into()),
        investigation: Investigation::reference(first).into(),
        type_: types.into_iter().next().map(Box::new),
        ..Default::default()
    };
    let ds_id = session.create(new_ds.clone()).await?;
    let df = Datafile {
        name: Some("seven.dat".into()),
        dataset: Dataset::reference(ds_id).into(),
        ..Default::default()
    };
    let df_id = session.create(df).await?;
    // 7. A typed fault: the same dataset again.
    match session.create(new_ds).await {
        Err(IcatError::ObjectAlreadyExists { message, .. }) => println!("as expected: {message}"),
        other => return Err(format!("expected OBJECT_ALREADY_EXISTS, got {other:?}").into()),
    }
    session.delete_by_id::<Datafile>(df_id).await?;
    session.delete_by_id::<Dataset>(ds_id).await?;
    // 4. An aggregate query: COUNT + SUM.
    let sums = "SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df";
    let (files, bytes): (i64, Option<i64>) = session.search_one(sums).await?;
    println!("{files} files, {} bytes", bytes.unwrap_or(0));
    // 5. A paged stream.
    let all = Query::new("Datafile").order_by("id");
    let mut stream = session.search_entities_stream::<Datafile>(&all, 100)?;
    while let Some(df) = stream.try_next().await? {
        println!("{}", df.name.unwrap_or_default());
    }
    // 6. A dataset download with progress.
    let q = Query::new("Datafile").include("dataset.investigation");
    let q = q.where_eq("dataset.id", inv.datasets.first().and_then(|ds| ds.id));
    let plan = DownloadPlan::of_datafiles(dest, &session.search_entities::<Datafile>(&q).await?)?;
    let opts = DownloadOptions::default().on_progress(|p| println!("{} {}", p.name, p.done));
    let summary = session.ids(ids_url)?.download_plan(&plan, &opts).await?;
    println!("complete: {}", summary.is_complete());
    Ok(())
}

const ARGS: &str = "arguments: ICAT_URL IDS_URL PLUGIN USER OWNER (password in ICAT_PASSWORD)";

#[tokio::main]
async fn main() -> Res {
    let args: Vec<String> = env::args().skip(1).collect();
    let [icat, ids, plugin, user, owner]: [String; 5] = args.try_into().map_err(|_| ARGS)?;
    let creds = Credentials::user_password(user, env::var("ICAT_PASSWORD")?);
    let session = Client::new(&icat)?.login(&plugin, &creds).await?;
    run(&session, &ids, &owner, Path::new("seven-steps-download")).await
}
