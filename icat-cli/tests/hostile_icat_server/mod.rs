//! A hostile ICAT for the CLI's tests: a blocking raw-TCP SOAP server on 127.0.0.1 answering
//! each operation as a test's script says, and scripts for the paging scenarios of issue 14
//! (fresh pages for every offset, a COUNT that lies).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{Home, stderr};

/// What the hostile ICAT answers to an operation and request body: (HTTP status, body inside
/// `S:Body`).
pub type Script = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

/// A blocking raw-TCP SOAP server answering by operation name; counts `search` requests.
pub struct HostileIcat {
    /// The ICAT URL.
    pub url: String,
    /// `search` requests answered.
    pub searches: Arc<AtomicUsize>,
}

/// The operation a SOAP request body calls.
pub fn operation(body: &str) -> String {
    let after = body.split("Body>").nth(1).unwrap_or("");
    let start = after.find('<').map_or(0, |i| i + 1);
    let tag: String = after[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    tag.rsplit(':').next().unwrap_or("").to_owned()
}

/// Reads one HTTP request from `conn` (headers and a `Content-Length` body of at most 1 MiB,
/// waiting at most 20 s for each read); `buf` holds bytes already read past earlier requests
/// on the connection, and keeps those past this one. Returns the body as text.
pub fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    conn.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let length = length.min(1 << 20);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    buf.drain(..head_end + length);
    Some(body)
}

fn serve_one(mut conn: TcpStream, script: &Script, searches: &AtomicUsize) -> Option<()> {
    let mut buf = Vec::new();
    loop {
        let body = read_request(&mut conn, &mut buf)?;
        let op = operation(&body);
        if op == "search" {
            searches.fetch_add(1, Ordering::SeqCst);
        }
        let (status, inner) = script(&op, &body);
        let envelope = format!(
            "<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{inner}</S:Body></S:Envelope>"
        );
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{envelope}",
            envelope.len()
        );
        conn.write_all(reply.as_bytes()).ok()?;
    }
}

impl HostileIcat {
    /// A server answering by operation name.
    pub fn start(script: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> HostileIcat {
        HostileIcat::start_reading(move |op, _| script(op))
    }

    /// Like [`HostileIcat::start`], the script also seeing the request body.
    pub fn start_reading(
        script: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static,
    ) -> HostileIcat {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/ICATService/ICAT",
            listener.local_addr().expect("addr")
        );
        let searches = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let s = searches.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (script, s) = (script.clone(), s.clone());
                std::thread::spawn(move || serve_one(conn, &*script, &s));
            }
        });
        HostileIcat { url, searches }
    }
}

/// A `<op>Response` with `inner` as its content.
pub fn answer(op: &str, inner: &str) -> (u16, String) {
    (
        200,
        format!(
            "<ns2:{op}Response xmlns:ns2=\"http://icatproject.org\">{inner}</ns2:{op}Response>"
        ),
    )
}

/// The `LIMIT offset, count` of a search request body.
pub fn limit_of(body: &str) -> Option<(i64, i64)> {
    let rest = &body[body.find("LIMIT ")? + 6..];
    let (offset, rest) = rest.split_once(',')?;
    let count: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((offset.trim().parse().ok()?, count.parse().ok()?))
}

/// The answer to any operation but `search` of a script that answers searches its own way:
/// a logged-in session's calls (`login`, `getUserName`, `getRemainingMinutes`) as ICAT answers
/// them, anything else with an empty `<op>Response`.
pub fn other_answer(op: &str) -> (u16, String) {
    match op {
        "login" => answer("login", "<return>sid-0123456789</return>"),
        "getUserName" => answer("getUserName", "<return>db/root</return>"),
        "getRemainingMinutes" => answer("getRemainingMinutes", "<return>120.0</return>"),
        other => answer(other, ""),
    }
}

/// `icat ... login` against `icat` with the password on stdin.
pub fn run_login(home: &Home, icat: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-w", icat, "-a", "db", "-u", "root", "--password-stdin"];
    args.extend_from_slice(extra);
    args.push("login");
    home.run_with_stdin(&args, "pw\n")
}

/// `icat` logged in at `icat` in a fresh home.
pub fn logged_in(icat: &HostileIcat) -> Home {
    let home = Home::new();
    let o = run_login(&home, &icat.url, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    home
}

/// Datafiles with these ids.
pub fn datafile_page(ids: std::ops::Range<i64>) -> String {
    ids.map(|id| {
        format!(
            "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ns2:datafile\"><id>{id}</id><name>f{id}</name><fileSize>1</fileSize></return>"
        )
    })
    .collect()
}

/// An ICAT answering every COUNT with `total` and every other search with a fresh full page of
/// `page` results (`fresh(first_id, page)`); after 20 pages it answers with a fault, so that
/// unbounded paging ends (and fails the test) instead of running forever.
pub fn fresh_pages_icat(total: u64, page: u64, fresh: fn(i64, u64) -> String) -> HostileIcat {
    fresh_pages_icat_serving(total, page, fresh, 20)
}

/// [`fresh_pages_icat`] giving up after `max_pages` pages.
pub fn fresh_pages_icat_serving(
    total: u64,
    page: u64,
    fresh: fn(i64, u64) -> String,
    max_pages: usize,
) -> HostileIcat {
    let pages = AtomicUsize::new(0);
    HostileIcat::start_reading(move |op, body| match op {
        "search" if body.contains("COUNT(") => answer(
            "search",
            &format!(
                "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xsi:type=\"xs:long\">{total}</return>"
            ),
        ),
        "search" => {
            let n = pages.fetch_add(1, Ordering::SeqCst);
            if n >= max_pages {
                return (
                    500,
                    format!(
                        "<S:Fault><faultcode>S:Server</faultcode><faultstring>enough</faultstring><detail><ns2:IcatException xmlns:ns2=\"http://icatproject.org\"><message>test server: {max_pages} pages served</message><offset>-1</offset><type>INTERNAL</type></ns2:IcatException></detail></S:Fault>"
                    ),
                );
            }
            let n = n as i64;
            answer("search", &fresh(1 + n * page as i64, page))
        }
        other => other_answer(other),
    })
}

pub fn investigation_page(first: i64, n: u64) -> String {
    (first..first + n as i64)
        .map(|id| {
            format!(
                "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ns2:investigation\"><id>{id}</id><name>i{id}</name></return>"
            )
        })
        .collect()
}

pub fn long_page(first: i64, n: u64) -> String {
    (first..first + n as i64)
        .map(|v| {
            format!(
                "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xsi:type=\"xs:long\">{v}</return>"
            )
        })
        .collect()
}

/// Rows of the visit list as ICAT sends them: (id, visitId, name, title, startDate).
pub fn visit_row_page(first: i64, n: u64) -> String {
    (first..first + n as i64)
        .map(|id| {
            format!(
                "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xsi:type=\"ns2:fieldSet\"><fields xsi:type=\"xs:long\">{id}</fields><fields xsi:type=\"xs:string\">{id}</fields><fields xsi:type=\"xs:string\">INV{id:08}</fields><fields xsi:type=\"xs:string\">A visit with a title of some length, number {id}</fields><fields xsi:type=\"xs:dateTime\">2024-01-01T00:00:00Z</fields></return>"
            )
        })
        .collect()
}
