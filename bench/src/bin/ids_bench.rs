//! Download benchmark helper (driven by `icat-ids/bench/run.py`).
//!
//! `ids_bench serve <dir> <manifest.json>`: start the simulator's IDS on 127.0.0.1 with a 1 GiB
//! datafile and a 100-file dataset of 1 GiB in `<dir>`, write a manifest, and serve until stdin
//! closes.
//! `ids_bench single <manifest.json> <out-file>`: download the single file with `IdsClient`.
//! `ids_bench many <manifest.json> <out-dir>`: download the 100 files with a concurrent plan.
//! `single-nosync` / `many-nosync`: the same without the final fsync of each file.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use icat_ids::{
    DatafileSpec, DownloadOptions, DownloadPlan, Expected, IdsClient, SessionId, TransportOptions,
};
use icat_sim::ids::{IdsServer, IdsSettings, IdsState, MemoryCatalog};
use serde_json::{Value, json};

const GIB: u64 = 1 << 30;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 4 => serve(Path::new(&args[2]), Path::new(&args[3])).await,
        Some("single") if args.len() == 4 => single(&args[2], Path::new(&args[3]), true).await,
        Some("many") if args.len() == 4 => many(&args[2], Path::new(&args[3]), true).await,
        Some("single-nosync") if args.len() == 4 => {
            single(&args[2], Path::new(&args[3]), false).await
        }
        Some("many-nosync") if args.len() == 4 => many(&args[2], Path::new(&args[3]), false).await,
        _ => Err(
            "usage: ids_bench serve DIR MANIFEST | single MANIFEST OUT | many MANIFEST OUTDIR"
                .into(),
        ),
    }
}

async fn serve(dir: &Path, manifest: &Path) -> Res<()> {
    let catalog = Arc::new(MemoryCatalog::new("http://127.0.0.1/ICATService/ICAT"));
    let fac = catalog.add_facility("BENCH");
    let inv = catalog.add_investigation(fac, "bench", "v1");
    let ds1 = catalog.add_dataset(inv, "single");
    let ds2 = catalog.add_dataset(inv, "many");
    let state = IdsState::new(catalog.clone(), dir.join("storage"), IdsSettings::default())?;
    let st = state.storage().write_pattern("s/one", 1, GIB)?;
    let one = catalog.add_datafile(
        ds1,
        "one.bin",
        Some("s/one"),
        Some(st.size as i64),
        Some(&st.checksum_hex()),
    );
    let single =
        json!({"id": one, "size": st.size, "checksum": st.checksum_hex(), "name": "one.bin"});
    let mut many = Vec::new();
    for i in 0..100u64 {
        let size = GIB / 100;
        let loc = format!("m/{i}");
        let st = state.storage().write_pattern(&loc, 100 + i, size)?;
        let name = format!("f{i:03}.bin");
        let id = catalog.add_datafile(
            ds2,
            &name,
            Some(&loc),
            Some(st.size as i64),
            Some(&st.checksum_hex()),
        );
        many.push(json!({"id": id, "size": st.size, "checksum": st.checksum_hex(), "name": name}));
    }
    let session = catalog.login("bench/user");
    let server = IdsServer::start(state).await?;
    let m = json!({"url": server.url(), "session": session, "dataset": ds2, "single": single, "many": many});
    std::fs::write(manifest, serde_json::to_vec_pretty(&m)?)?;
    // Serve until the driver closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    server.shutdown().await;
    Ok(())
}

fn load(manifest: &str) -> Res<(Value, IdsClient)> {
    let m: Value = serde_json::from_slice(&std::fs::read(manifest)?)?;
    let url = m["url"].as_str().ok_or("manifest: url")?;
    let session = m["session"].as_str().ok_or("manifest: session")?;
    let client =
        IdsClient::new(url, TransportOptions::default())?.with_session(SessionId::new(session));
    Ok((m, client))
}

fn expected(v: &Value) -> Expected {
    Expected {
        size: v["size"].as_u64(),
        checksum: v["checksum"].as_str().map(str::to_string),
    }
}

fn options(fsync: bool) -> DownloadOptions {
    DownloadOptions {
        fsync,
        ..DownloadOptions::default()
    }
}

async fn single(manifest: &str, out: &Path, fsync: bool) -> Res<()> {
    let (m, client) = load(manifest)?;
    let id = m["single"]["id"].as_i64().ok_or("manifest: id")?;
    client
        .download_datafile(id, out, &expected(&m["single"]), &options(fsync))
        .await?;
    Ok(())
}

async fn many(manifest: &str, out: &Path, fsync: bool) -> Res<()> {
    let (m, client) = load(manifest)?;
    let mut plan = DownloadPlan::new(out);
    for f in m["many"].as_array().ok_or("manifest: many")? {
        let id = f["id"].as_i64().ok_or("manifest: id")?;
        let name = f["name"].as_str().ok_or("manifest: name")?;
        plan.push(DatafileSpec::in_visit_dataset(
            id,
            "v1",
            "many",
            name,
            expected(f),
        )?);
    }
    let s = client.download_plan(&plan, &options(fsync)).await?;
    if !s.is_complete() {
        return Err(format!("{} files failed", s.failed().count()).into());
    }
    Ok(())
}
