//! The "find your data" workflow from the ICAT data-access guide, as library code: log in, fetch every
//! visit with its datasets and datafiles in one paged query, and print them as JSON, page by page.
//!
//! ```sh
//! ICAT_PASSWORD=secret cargo run -p icat-soap --example visits -- https://icat.example.org:8181 db jdoe
//! # against a local simulator:
//! cargo run -p icat-sim -- --listen 127.0.0.1:8181 --synthetic visits=3,datasets=2,files=4 &
//! ICAT_PASSWORD=secret cargo run -p icat-soap --example visits -- http://127.0.0.1:8181 simple root
//! ```
//!
//! The password comes from `ICAT_PASSWORD` so that it never shows in the process list.

use std::io::Write;

use futures_util::TryStreamExt;
use icat_soap::Query;
use icat_soap::client::{Client, Credentials};
use icat_soap::model::Investigation;
use serde_json::{Value as Json, json};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(plugin)) = (args.next(), args.next()) else {
        eprintln!("usage: visits URL PLUGIN [USERNAME]   (password in ICAT_PASSWORD)");
        std::process::exit(2);
    };
    let mut credentials = Credentials::new();
    if let Some(user) = args.next() {
        credentials.insert("username", user);
        credentials.insert(
            "password",
            std::env::var("ICAT_PASSWORD").unwrap_or_default(),
        );
    }

    let client = Client::new(&url)?;
    let session = client.login_with_relogin(&plugin, &credentials).await?;

    // One query for visits, datasets and datafiles. Included objects count against the server's
    // maxEntities, so fetch a few investigations per page.
    let query = Query::new("Investigation")
        .order_by("visitId")
        .order_by("name")
        .include("datasets.datafiles");
    // Each page is written out as it arrives, so memory holds one page, not the whole catalogue.
    let mut visits = std::pin::pin!(session.search_entities_stream::<Investigation>(&query, 5)?);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(b"[")?;
    let mut first = true;
    while let Some(inv) = visits.try_next().await? {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer_pretty(&mut out, &visit_json(&inv))?;
    }
    out.write_all(b"\n]\n")?;
    out.flush()?;
    session.logout().await?;
    Ok(())
}

fn visit_json(inv: &Investigation) -> Json {
    json!({
        "visitId": inv.visit_id,
        "name": inv.name,
        "title": inv.title,
        "startDate": inv.start_date.as_ref().map(ToString::to_string),
        "datasets": inv.datasets.iter().map(|ds| json!({
            "id": ds.id,
            "name": ds.name,
            "startDate": ds.start_date.as_ref().map(ToString::to_string),
            "files": ds.datafiles.iter().map(|df| json!({
                "id": df.id,
                "name": df.name,
                "size": df.file_size,
                "createTime": df.create_time.as_ref().map(ToString::to_string),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
