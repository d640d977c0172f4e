//! Paged export: every datafile of the catalogue (or of one investigation) as CSV, fetched page by
//! page with `search_entities_stream`, so memory holds one page however large the catalogue is.
//! Values reach the query only through the builder (`where_eq`), never `format!`.
//!
//! ```sh
//! ICAT_PASSWORD=secret cargo run -p icat-soap --example paged_export -- \
//!     https://icat.example.org:8181 db jdoe [INVESTIGATION_NAME] > datafiles.csv
//! ```

use std::error::Error;
use std::io::Write;

use futures_util::TryStreamExt;
use icat_soap::model::Datafile;
use icat_soap::{Client, Credentials, Query};

type Res<T = ()> = Result<T, Box<dyn Error>>;

/// Datafiles fetched per page (each page is one `search` with `LIMIT offset, 500`).
const PAGE: u64 = 500;

/// Logs in to `url` with `login` (plugin, user, password) and writes `id,dataset,name,size` CSV
/// lines of every datafile (of the investigation named `investigation`, when given) to `out`;
/// returns the number of datafiles written.
pub async fn run(
    url: &str,
    login: [&str; 3],
    investigation: Option<&str>,
    out: &mut impl Write,
) -> Res<u64> {
    let creds = Credentials::user_password(login[1], login[2]);
    let session = Client::new(url)?.login(login[0], &creds).await?;
    let mut query = Query::new("Datafile").include("dataset").order_by("id");
    if let Some(name) = investigation {
        query = query.where_eq("dataset.investigation.name", name);
    }
    let mut files = session.search_entities_stream::<Datafile>(&query, PAGE)?;
    writeln!(out, "id,dataset,name,size")?;
    let mut count = 0;
    while let Some(df) = files.try_next().await? {
        let dataset = df.dataset.as_ref().and_then(|d| d.name.as_deref());
        writeln!(
            out,
            "{},{},{},{}",
            df.id.unwrap_or_default(),
            csv_field(dataset.unwrap_or_default()),
            csv_field(df.name.as_deref().unwrap_or_default()),
            df.file_size.unwrap_or_default()
        )?;
        count += 1;
    }
    out.flush()?;
    session.logout().await?;
    Ok(count)
}

/// A CSV field: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[tokio::main]
async fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, plugin, user) = match &args[..] {
        [url, plugin, user, ..] => (url, plugin, user),
        _ => {
            return Err(
                "arguments: URL PLUGIN USER [INVESTIGATION] (password in ICAT_PASSWORD)".into(),
            );
        }
    };
    let password = std::env::var("ICAT_PASSWORD")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let n = run(
        url,
        [plugin, user, &password],
        args.get(3).map(String::as_str),
        &mut out,
    )
    .await?;
    eprintln!("{n} datafiles");
    Ok(())
}
