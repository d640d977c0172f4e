//! Update an object: find a dataset by name, change its description, read it back and put the old
//! description back. Values reach the query only through the builder (`where_eq`), never `format!`.
//!
//! ```sh
//! ICAT_PASSWORD=secret cargo run -p icat-soap --example update -- https://icat.example.org:8181 \
//!     db jdoe DATASET_NAME "new description"
//! ```

use std::error::Error;

use icat_soap::model::Dataset;
use icat_soap::{Client, Credentials, EntityType, Query};

type Res<T = ()> = Result<T, Box<dyn Error>>;

/// Logs in to `url` with `login` (plugin, user, password), sets the description of the dataset
/// named `name` to `description`, checks it on the server, restores the old one and returns
/// `(old, new)` as read from the server.
pub async fn run(
    url: &str,
    login: [&str; 3],
    name: &str,
    description: &str,
) -> Res<(Option<String>, Option<String>)> {
    let creds = Credentials::user_password(login[1], login[2]);
    let session = Client::new(url)?.login(login[0], &creds).await?;
    // `update` writes every attribute and many-to-one relation of the object given (a null
    // `investigation` or `type` is refused), so fetch the object with those relations included.
    let query = Query::new("Dataset")
        .where_eq("name", name)
        .include("investigation")
        .include("type")
        .order_by("id")
        .limit(0, 1);
    let Some(mut dataset) = session.search_entities::<Dataset>(&query).await?.pop() else {
        return Err(format!("no dataset is named {name:?}").into());
    };
    let id = dataset.stored_id()?;
    let old = dataset.description.replace(description.to_owned());
    session.update(dataset.clone()).await?;
    let now: Dataset = session.get_entity(id, &[]).await?;
    println!("dataset {id}: {:?} -> {:?}", old, now.description);
    dataset.description = old.clone();
    session.update(dataset).await?;
    session.logout().await?;
    Ok((old, now.description))
}

#[tokio::main]
async fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, plugin, user, name, description]: [String; 5] = args.try_into().map_err(
        |_| "arguments: URL PLUGIN USER DATASET_NAME DESCRIPTION (password in ICAT_PASSWORD)",
    )?;
    let password = std::env::var("ICAT_PASSWORD")?;
    run(&url, [&plugin, &user, &password], &name, &description).await?;
    Ok(())
}
