//! Measures getData throughput of the simulated IDS against `cat` on the same stored file.
//!
//! `cargo run --release -p icat-bench --bin ids_throughput [SIZE_MIB]` (default 1024). It
//! writes a synthetic file, serves it with the IDS alone (the simulator's router and
//! connections), and times `cat FILE > /dev/null` and `curl -o /dev/null getData?...` in the
//! same run: five alternating rounds of cat and the raw file, then the uncompressed zip. It
//! prints the best rates, their ratio to `cat`, the ratio of each round, and the process's peak
//! resident memory.
//!
//! Each round also fetches the same file with curl from a bare HTTP server (one thread, one
//! `sendfile(2)` of the whole file, no routing, no session or catalogue lookups): the most any
//! server can give curl over this machine's loopback. The simulator's rate divided by the bare
//! server's says how much of that ceiling the simulator reaches, that is, whether it is the
//! bottleneck.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use icat_sim::ids::{IdsServer, IdsSettings, IdsState, MemoryCatalog};

/// Best seconds of cat, raw curl, zip curl and curl from the bare server, and the cat/raw ratio
/// of each round.
type Timings = (f64, f64, f64, f64, Vec<f64>);

/// Rounds of `cat` then `curl` (raw file).
const ROUNDS: usize = 5;

fn time_command(program: &str, args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("{program} failed: {status}").into());
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Serves `path` to every connection on `listener` as a bare HTTP/1.1 response: read the request
/// head, write a status line and `Content-Length`, send the file, close.
fn bare_server(listener: std::net::TcpListener, path: String) {
    use std::io::{Read, Write};
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut serve = || -> std::io::Result<()> {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                head.extend_from_slice(&buf[..n]);
            }
            let mut file = std::fs::File::open(&path)?;
            let len = file.metadata()?.len();
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            send_file(&mut conn, &mut file, len)
        };
        if let Err(e) = serve() {
            eprintln!("bare server: {e}");
        }
    }
}

#[cfg(target_os = "linux")]
fn send_file(
    conn: &mut std::net::TcpStream,
    file: &mut std::fs::File,
    len: u64,
) -> std::io::Result<()> {
    let mut offset = 0u64;
    while offset < len {
        let count = (len - offset).min(1 << 30) as usize;
        let sent = rustix::fs::sendfile(&*conn, &*file, Some(&mut offset), count)?;
        if sent == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send_file(
    conn: &mut std::net::TcpStream,
    file: &mut std::fs::File,
    _len: u64,
) -> std::io::Result<()> {
    std::io::copy(file, conn).map(|_| ())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn best_of(
    runs: usize,
    f: impl Fn() -> Result<f64, Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut best = f64::MAX;
    for _ in 0..runs {
        best = best.min(f()?);
    }
    Ok(best)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1024);
    let size = mib << 20;
    let dir = tempfile::tempdir()?;
    let catalog = Arc::new(MemoryCatalog::new("http://localhost/ICATService/ICAT"));
    let facility = catalog.add_facility("Bench");
    let inv = catalog.add_investigation(facility, "inv", "1");
    let ds = catalog.add_dataset(inv, "ds");
    let state = IdsState::new(catalog.clone(), dir.path(), IdsSettings::default())?;
    let stored = state.storage().write_pattern("bench/big", 1, size)?;
    let df = catalog.add_datafile(
        ds,
        "big.bin",
        Some("bench/big"),
        Some(stored.size as i64),
        None,
    );
    let file = state.storage().path_of("bench/big")?;
    let file = file.to_str().ok_or("non-UTF-8 temp path")?.to_string();
    let session = catalog.login("bench");
    let server = IdsServer::start(state).await?;
    let raw_url = format!(
        "{}/getData?sessionId={session}&datafileIds={df}",
        server.url()
    );
    let zip_url = format!("{raw_url}&zip=true");
    let bare = std::net::TcpListener::bind("127.0.0.1:0")?;
    let bare_url = format!("http://{}/big.bin", bare.local_addr()?);
    let bare_file = file.clone();
    std::thread::spawn(move || bare_server(bare, bare_file));
    let rss_before = peak_rss_kib();

    // cat and curl alternate, so both see the same background load; the best of each counts.
    let (cat, raw, zip, bare, ratios) =
        tokio::task::spawn_blocking(move || -> Result<_, String> {
            let run = || -> Result<Timings, Box<dyn std::error::Error>> {
                time_command("cat", &[&file])?; // warm the page cache
                let (mut cat, mut raw, mut bare) = (f64::MAX, f64::MAX, f64::MAX);
                let mut ratios = Vec::new();
                for _ in 0..ROUNDS {
                    let c = time_command("cat", &[&file])?;
                    let r = time_command("curl", &["-sf", "-o", "/dev/null", &raw_url])?;
                    let b = time_command("curl", &["-sf", "-o", "/dev/null", &bare_url])?;
                    ratios.push(c / r);
                    cat = cat.min(c);
                    raw = raw.min(r);
                    bare = bare.min(b);
                }
                let zip = best_of(2, || {
                    time_command("curl", &["-sf", "-o", "/dev/null", &zip_url])
                })?;
                Ok((cat, raw, zip, bare, ratios))
            };
            run().map_err(|e| e.to_string())
        })
        .await??;

    let rate = |secs: f64| size as f64 / secs / 1e6;
    println!("file size: {mib} MiB");
    println!("cat  > /dev/null:            {:8.0} MB/s", rate(cat));
    println!(
        "curl getData raw:            {:8.0} MB/s  ratio to cat {:.2}",
        rate(raw),
        cat / raw
    );
    println!(
        "curl bare sendfile server:   {:8.0} MB/s  ratio to cat {:.2}",
        rate(bare),
        cat / bare
    );
    println!(
        "simulator / bare server:     {:8.2}  (1.00 = the simulator gives curl all the loopback can)",
        bare / raw
    );
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!("raw/cat ratio of each round:  {}", shown.join(" "));
    println!(
        "curl getData zip (level 0):  {:8.0} MB/s  ratio to cat {:.2}",
        rate(zip),
        cat / zip
    );
    if let (Some(before), Some(after)) = (rss_before, peak_rss_kib()) {
        println!(
            "peak RSS before downloads: {} MiB, after: {} MiB",
            before / 1024,
            after / 1024
        );
    }
    server.shutdown().await;
    Ok(())
}
