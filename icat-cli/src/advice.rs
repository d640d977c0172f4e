//! The CLI's wording of library errors: what to do is said with `icat` flags and `icat.cfg`
//! keys (`--ca-file`/`caFile`, `--read-timeout`, `--retries`), never with Rust API names, and a
//! URL with the wrong scheme gets a hint to switch it.

use std::error::Error;

use icat_ids::IdsError;
use icat_soap::IcatError;
use icat_soap::tls::{TlsProblem, tls_problem};

use crate::url_text::redact_url;

/// What to do about a TLS failure of kind `problem` with the server at `url` (`detail` is the
/// library's text, shown only when the kind says nothing more useful).
pub fn tls_advice(url: &str, problem: TlsProblem, detail: &str) -> String {
    match problem {
        TlsProblem::Untrusted => "the server's certificate is not trusted: it is self-signed or \
             signed by a certificate authority this computer does not trust. If you trust the \
             server, give its CA certificate with --ca-file FILE (or caFile = FILE in the icat.cfg \
             section); only as a last resort, on a network you trust, skip the check with \
             --no-check-certificate (insecure)"
            .to_string(),
        TlsProblem::WrongHost => {
            let names = quoted_names(detail.split("only valid for").nth(1).unwrap_or(""));
            let names = if names.is_empty() {
                let place = host_port(url);
                let host = place.rsplit_once(':').map_or(place.as_str(), |(h, _)| h);
                format!(" (not for {host})")
            } else {
                format!(" (it names {})", names.join(", "))
            };
            format!(
                "the server's certificate is for another host name{names}: use the name the \
                 certificate names in the URL (-w/url, --idsurl/idsurl)"
            )
        }
        TlsProblem::NotValidNow => "the server's certificate has expired or is not valid yet: \
             check this computer's clock, or tell the facility"
            .to_string(),
        TlsProblem::NotTls => format!(
            "the server at {} answers plain http, not TLS: use http:// in the URL (-w/url, \
             --idsurl/idsurl)",
            origin(url)
        ),
        _ => format!(
            "{detail}; if the server uses a private certificate authority, pass --ca-file FILE \
             (or caFile = FILE in the icat.cfg section)"
        ),
    }
}

/// The host names a TLS library's text quotes after "only valid for" (`DnsName("a.example")`, `"b.example"`), cleaned:
/// the names without the library's notation.
fn quoted_names(detail: &str) -> Vec<String> {
    detail
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|n| icat_soap::untrusted::clean_text(n, 253))
        .filter(|n| !n.is_empty())
        .take(8)
        .collect()
}

/// The hint when an `http://` URL reached a server that speaks TLS (the answer is not HTTP, or
/// the server hung up at once).
fn http_to_tls_hint(url: &str, detail: &str) -> Option<String> {
    let suspicious = [
        "invalid HTTP version",
        "connection closed before message completed",
        "invalid HTTP status",
        "Connection reset",
        "connection reset",
        "unexpected EOF",
    ];
    if !suspicious.iter().any(|s| detail.contains(s)) {
        return None;
    }
    if url.is_empty() {
        // The IDS client's transport errors do not carry the URL.
        return Some(
            "if the IDS expects TLS, use https:// in the IDS URL (--idsurl/idsurl)".to_string(),
        );
    }
    url.starts_with("http://").then(|| {
        format!(
            "if the server at {} expects TLS, use https:// in the URL (-w/url, --idsurl/idsurl)",
            origin(url)
        )
    })
}

/// The IDS URL this command uses, for messages about IDS answers (the library's errors do not
/// carry it); set once when the IDS client is made.
static IDS_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Remembers the IDS URL this command talks to, for [`ids_message`].
pub fn note_ids_url(url: &str) {
    let _ = IDS_URL.set(redact_url(url));
}

/// `the IDS at URL`, or `the IDS` before any IDS client was made.
fn the_ids() -> String {
    match IDS_URL.get() {
        Some(url) => format!("the IDS at {url}"),
        None => "the IDS".to_string(),
    }
}

/// What to do when the IDS URL may be wrong: the settings that set it.
const CHECK_IDS_URL: &str = "check the IDS URL (--idsurl, ICAT_DATA_SERVICE or idsurl in icat.cfg; usually https://host:8181/ids)";

/// Whether an IDS refusal says the session is unknown there (ICAT's `Unable to find user by
/// sessionid`, passed on by the IDS): after the client already tried a renewed session, the
/// IDS asks another ICAT than the one the session is from.
pub fn ids_does_not_know_the_session(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("sessionid") || m.contains("session id")
}

/// The wording for an IDS that does not know the session of a command's ICAT.
pub fn foreign_ids_text(message: &str) -> String {
    format!(
        "{} does not know this session (it says: {}): it works with another ICAT than this \
         session's, so the IDS URL is probably wrong; {CHECK_IDS_URL}, or run icat login if the \
         session ended",
        the_ids(),
        crate::failure::one_line(message.trim_end_matches('.'))
    )
}

/// Whether a 404's text is not an IDS error (the IDS answers JSON naming `NotFoundException`;
/// the library keeps `HTTP 404` or the page's text otherwise).
pub fn not_an_ids_404(message: &str) -> bool {
    let m = message.trim_start().to_ascii_lowercase();
    m == "http 404" || m.starts_with('<') || m.contains("<html")
}

/// Which server a connection failed to reach, for the flags and keys that set its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Icat,
    Ids,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Icat => "ICAT",
            Server::Ids => "the IDS",
        }
    }

    fn url_settings(self) -> &'static str {
        match self {
            Server::Icat => "-w/--url, ICAT_SERVICE or url in icat.cfg",
            Server::Ids => "--idsurl, ICAT_DATA_SERVICE or idsurl in icat.cfg",
        }
    }
}

/// A failed connection in plain words: what happened (refused, unknown host name, no answer in
/// time, no route) at which URL, and what to check, instead of the HTTP stack's
/// `client error (Connect): tcp connect error: ...`.
fn connect_failure(server: Server, url: &str, detail: &str) -> String {
    let d = detail.to_ascii_lowercase();
    let place = host_port(url);
    let host = place.rsplit_once(':').map_or(place.as_str(), |(h, _)| h);
    let settings = server.url_settings();
    let name = server.name();
    let (what, check) = if d.contains("connection refused") {
        (
            format!("connection refused: nothing accepts connections at {place}"),
            format!(
                "check the host and port in the URL ({settings}) and that the server is running"
            ),
        )
    } else if [
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no such host",
        "nodename nor servname",
    ]
    .iter()
    .any(|s| d.contains(s))
    {
        (
            format!("the host name {host} is not known (DNS lookup failed)"),
            format!(
                "check the spelling of the host in the URL ({settings}), and your network or VPN"
            ),
        )
    } else if d.contains("timed out") || d.contains("timeout") {
        (
            format!("no connection to {place} within the connect timeout"),
            format!(
                "the host may be down or a firewall may drop the traffic: check the URL \
                 ({settings}), your network, VPN and proxy settings (https_proxy/no_proxy), or \
                 raise --connect-timeout (connectTimeout in icat.cfg)"
            ),
        )
    } else if [
        "network is unreachable",
        "no route to host",
        "host is unreachable",
    ]
    .iter()
    .any(|s| d.contains(s))
    {
        (
            format!("{place} cannot be reached from this computer (no route to it)"),
            format!("check your network or VPN, and the URL ({settings})"),
        )
    } else {
        (
            plain_transport_text(detail),
            format!(
                "check the URL ({settings}), your network and proxy settings (https_proxy/no_proxy)"
            ),
        )
    };
    format!("cannot connect to {name} at {url}: {what}; {check}")
}

/// The transport's text without the HTTP stack's layer names (`client error (Connect)`,
/// `error sending request`, `tcp connect error`) and OS error numbers.
fn plain_transport_text(detail: &str) -> String {
    let mut text = detail.to_string();
    for noise in [
        "error sending request: ",
        "error sending request",
        "client error (Connect): ",
        "client error (Connect)",
        "tcp connect error: ",
    ] {
        text = text.replace(noise, "");
    }
    while let Some(start) = text.find(" (os error ") {
        let Some(len) = text[start..].find(')') else {
            break;
        };
        text.replace_range(start..start + len + 1, "");
    }
    let text = text.trim_matches([' ', ':']).to_string();
    if text.is_empty() {
        "the connection failed".to_string()
    } else {
        text
    }
}

/// `host:port` of a URL (the scheme's port when none is written).
fn host_port(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if has_port {
        authority.to_string()
    } else if url.starts_with("https://") {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    }
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The messages of an error's sources, joined.
fn chain_text(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = e.source();
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// How the CLI words an ICAT error; `None` keeps the library's text.
pub fn icat_message(e: &IcatError) -> Option<String> {
    Some(match e {
        IcatError::Tls {
            url,
            problem,
            source,
        } => {
            let url = &redact_url(url);
            format!(
                "TLS error talking to {url}: {}",
                tls_advice(url, *problem, &chain_text(source))
            )
        }
        IcatError::Interrupted { url, source } | IcatError::Connect { url, source } => {
            let url = &redact_url(url);
            // What failed below reqwest (its own text repeats the URL).
            let detail = chain_text(source);
            match http_to_tls_hint(url, &detail) {
                Some(hint) => format!("no HTTP answer from {url}: {detail}; {hint}"),
                None if matches!(e, IcatError::Connect { .. }) => {
                    connect_failure(Server::Icat, url, &detail)
                }
                None => format!(
                    "the connection to {url} broke while the answer was arriving: {detail}; \
                     read-only calls are retried by themselves, for other calls check whether \
                     the change was made before repeating it"
                ),
            }
        }
        IcatError::AnswerTimeout { url, after } => format!(
            "the answer from {} began to arrive but was not complete within {after:?}, the time \
             allowed for one request; the server is sending it very slowly or stalled: retry \
             later or narrow the query (--read-timeout only bounds the pauses between reads)",
            redact_url(url)
        ),
        IcatError::Timeout { url, after } => format!(
            "no answer from {url} within {after:?}; the server may be busy or unreachable: retry, \
             narrow the query, or raise --read-timeout (readTimeout in icat.cfg)"
        ),
        IcatError::RetriesExhausted {
            operation,
            attempts,
            last,
        } => format!(
            "{operation} failed {attempts} times in a row, giving up: {} The server or the network \
             keeps failing; try again later, or raise --retries (retries in icat.cfg)",
            icat_message(last).unwrap_or_else(|| last.to_string())
        ),
        IcatError::ResponseTooLarge { url, limit } => format!(
            "the answer from {} is larger than the {} limit and was not read further; narrow \
             the query, or if the server's answers really are that large raise --max-answer-mib \
             (maxAnswerMiB in icat.cfg)",
            redact_url(url),
            size_text(*limit)
        ),
        // The library's text (server text already cleaned and bounded there) without the pointers
        // to Rust APIs.
        IcatError::Validation { .. } => e
            .to_string()
            .replace(" (see `Session::search_stream`)", "")
            .replace(" (page with LIMIT, see `Session::search_stream`)", "")
            .replace(" or raise the limit (ClientBuilder::max_response_size)", ""),
        _ => return None,
    })
}

/// A byte count in whole MiB when it is one, else in bytes.
fn size_text(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes}-byte")
    }
}

/// How the CLI words an IDS error; `None` keeps the library's text.
pub fn ids_message(e: &IdsError) -> Option<String> {
    Some(match e {
        IdsError::Timeout { call, after } => format!(
            "IDS call {call} timed out after {after:?}; the server is slow or unreachable: retry \
             later, or raise --read-timeout (readTimeout in icat.cfg)"
        ),
        IdsError::Connect { url, .. } => {
            let url = &redact_url(url);
            let detail = chain_text(e);
            if let Some(problem) = tls_problem(e) {
                format!(
                    "TLS error talking to the IDS at {url}: {}",
                    tls_advice(url, problem, &detail)
                )
            } else {
                match http_to_tls_hint(url, &detail) {
                    Some(hint) => {
                        format!("no HTTP answer from the IDS at {url}: {detail}; {hint}")
                    }
                    None => connect_failure(Server::Ids, url, &detail),
                }
            }
        }
        IdsError::Transport { call, .. } => {
            let detail = chain_text(e);
            if let Some(problem) = tls_problem(e) {
                format!(
                    "TLS error calling IDS {call}: {}",
                    tls_advice("the IDS URL", problem, &detail)
                )
            } else {
                let hint = http_to_tls_hint("", &detail)?;
                format!("no HTTP answer to IDS {call}: {detail}; {hint}")
            }
        }
        IdsError::SessionRenewal { source } => icat_message(source)?,
        // Said after the file's path: the path once, and the flag that avoids the zip.
        IdsError::ZipEntryRepeated { .. } => "the zip from the IDS holds this datafile twice \
             (two different copies); neither was extracted and a file already there was left as \
             it is. The IDS built a broken zip: download it without --zip (each file is then \
             fetched on its own and verified), and report it to the facility"
            .to_owned(),
        IdsError::ZipEntryNotAFile { kind, .. } => format!(
            "the zip from the IDS holds {kind} where this datafile was expected; nothing was \
             written there. The IDS built a broken zip: download it without --zip (each file is \
             then fetched on its own and verified), and report it to the facility"
        ),
        IdsError::NotFound { message } if not_an_ids_404(message) => format!(
            "{} does not know this request (404 Not Found, not an IDS answer); {CHECK_IDS_URL}",
            the_ids()
        ),
        IdsError::NotFound { message } => format!(
            "{} could not find it: {}; check the ids asked for, and that the IDS URL is the one \
             of this ICAT (--idsurl, ICAT_DATA_SERVICE or idsurl in icat.cfg)",
            the_ids(),
            crate::failure::one_line(message.trim_end_matches('.'))
        ),
        IdsError::InsufficientPrivileges { message } if ids_does_not_know_the_session(message) => {
            foreign_ids_text(message)
        }
        // Said after the file's path: the path once, and the flag that replaces it.
        IdsError::TargetExists { detail, .. } => format!(
            "already exists and does not match the catalogue ({detail}); move it away, or rerun \
             with --overwrite to replace it (the new copy is verified before it replaces the old one)"
        ),
        IdsError::DeadlineExceeded { waited, .. } => format!(
            "archived and not restored from tape yet (waited {}, the --max-wait limit); the restore \
             goes on at the server: run the same command again later, or raise --max-wait",
            crate::wait_text::seconds(*waited)
        ),
        _ => return None,
    })
}

/// Whether the CLI words this error of a chain itself (then its sources add nothing).
pub fn has_cli_wording(cause: &(dyn Error + 'static)) -> bool {
    cause
        .downcast_ref::<IcatError>()
        .is_some_and(|e| icat_message(e).is_some())
        || cause
            .downcast_ref::<IdsError>()
            .is_some_and(|e| ids_message(e).is_some())
}

/// An error and its causes as one line in the CLI's words: each cause said once, and none after
/// one the CLI words itself (its wording already says what matters).
pub fn chain_cli_text(e: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    let mut current = Some(e);
    while let Some(cause) = current {
        let part = cli_text(cause);
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        if has_cli_wording(cause) {
            break;
        }
        current = cause.source();
    }
    text
}

/// The CLI's text for one error of a chain: its own wording for library errors, else `Display`.
pub fn cli_text(cause: &(dyn Error + 'static)) -> String {
    if let Some(e) = cause.downcast_ref::<IcatError>()
        && let Some(text) = icat_message(e)
    {
        return text;
    }
    if let Some(e) = cause.downcast_ref::<IdsError>()
        && let Some(text) = ids_message(e)
    {
        return text;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real transport error: ICAT's client refused at a port nobody listens on.
    async fn refused() -> (String, reqwest::Error) {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let client = icat_soap::Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
        match client.post_envelope(b"<x/>".to_vec()).await {
            Err(IcatError::Connect { url, source }) => (url, source),
            other => panic!("expected a connect error: {other:?}"),
        }
    }

    #[test]
    fn a_file_error_shows_its_cause_once() {
        let last = IdsError::from_response(
            500,
            r#"{"code":"InternalException","message":"disk on fire"}"#,
        );
        let e = IdsError::RetriesExhausted {
            file: "a.dat".into(),
            attempts: 3,
            last: Box::new(last),
        };
        let text = chain_cli_text(&e);
        assert!(
            text.starts_with("download of a.dat failed after 3 attempts: "),
            "{text}"
        );
        assert_eq!(text.matches("disk on fire").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn connect_errors_say_the_cause_once_with_flags() {
        let (url, source) = refused().await;
        let err = IcatError::Connect { url, source };
        let text = icat_message(&err).unwrap();
        assert!(text.contains("-w/--url") && !text.contains("::"), "{text}");
        assert_eq!(text.matches("connection refused").count(), 1, "{text}");
        assert!(!text.contains("error sending request"), "{text}");
    }

    #[tokio::test]
    async fn hints_name_flags_never_rust_paths() {
        let tls = IcatError::Tls {
            url: "https://h:1/ICATService/ICAT".into(),
            problem: TlsProblem::Untrusted,
            source: refused().await.1,
        };
        let text = icat_message(&tls).unwrap();
        assert!(
            text.contains("--ca-file") && text.contains("caFile"),
            "{text}"
        );
        let retries = IcatError::RetriesExhausted {
            operation: "search".into(),
            attempts: 4,
            last: Box::new(IcatError::Timeout {
                url: "https://h/ICATService/ICAT".into(),
                after: std::time::Duration::from_secs(1),
            }),
        };
        let text = icat_message(&retries).unwrap();
        assert!(
            text.contains("--retries") && text.contains("--read-timeout"),
            "{text}"
        );
        for text in [
            icat_message(&tls).unwrap(),
            text,
            icat_message(&IcatError::ResponseTooLarge {
                url: "u".into(),
                limit: 1,
            })
            .unwrap(),
            icat_message(&IcatError::ResponseTooLarge {
                url: "u".into(),
                limit: 32 << 20,
            })
            .unwrap(),
            icat_message(&IcatError::Validation {
                message: "m".into(),
                offset: -1,
            })
            .unwrap(),
        ] {
            assert!(!text.contains("::"), "{text}");
        }
    }

    #[test]
    fn an_answer_above_the_limit_names_the_flag_and_key_that_raise_it() {
        let text = icat_message(&IcatError::ResponseTooLarge {
            url: "https://h/ICATService/ICAT".into(),
            limit: 32 << 20,
        })
        .unwrap();
        assert!(text.contains("the 32 MiB limit"), "{text}");
        assert!(
            text.contains("--max-answer-mib") && text.contains("maxAnswerMiB"),
            "{text}"
        );
    }

    /// Issue 14 review: a zip entry listed twice was answered "download them one at a time into
    /// separate directories", which cannot help: it is one datafile, and the zip is broken.
    #[test]
    fn a_twice_listed_zip_entry_says_to_download_without_zip() {
        let text = ids_message(&IdsError::ZipEntryRepeated {
            path: "out/v/d/f.dat".into(),
        })
        .unwrap();
        assert!(text.contains("without --zip"), "{text}");
        assert!(text.contains("report it to the facility"), "{text}");
        assert!(!text.contains("separate directories"), "{text}");
    }

    #[test]
    fn connection_failures_in_plain_words() {
        let refused = connect_failure(
            Server::Icat,
            "http://127.0.0.1:1/ICATService/ICAT",
            "client error (Connect): tcp connect error: Connection refused (os error 111)",
        );
        assert!(
            refused.contains("connection refused")
                && refused.contains("127.0.0.1:1")
                && refused.contains("-w/--url"),
            "{refused}"
        );
        let dns = connect_failure(
            Server::Ids,
            "https://nowhere.invalid/ids",
            "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known",
        );
        assert!(
            dns.contains("host name nowhere.invalid is not known") && dns.contains("--idsurl"),
            "{dns}"
        );
        let timeout = connect_failure(
            Server::Icat,
            "https://h/x",
            "client error (Connect): operation timed out",
        );
        assert!(
            timeout.contains("h:443") && timeout.contains("--connect-timeout"),
            "{timeout}"
        );
        let other = connect_failure(
            Server::Icat,
            "https://h:8/x",
            "client error (Connect): something odd (os error 5)",
        );
        assert!(other.contains(": something odd;"), "{other}");
        for text in [refused, dns, timeout, other] {
            assert!(
                !text.contains("client error")
                    && !text.contains("(Connect)")
                    && !text.contains("os error"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_wrong_ids_url_is_named_not_an_evicted_prepared_id() {
        for message in ["HTTP 404", "<html><body>Not Found</body></html>"] {
            let text = ids_message(&IdsError::NotFound {
                message: message.into(),
            })
            .unwrap();
            assert!(
                text.contains("--idsurl") && !text.contains("evicted"),
                "{text}"
            );
        }
        let text = ids_message(&IdsError::InsufficientPrivileges {
            message: "Unable to find user by sessionid: 0f0e0d0c…".into(),
        })
        .unwrap();
        assert!(
            text.contains("--idsurl") && text.contains("another ICAT"),
            "{text}"
        );
        // A real refusal keeps the library's words.
        assert_eq!(
            ids_message(&IdsError::InsufficientPrivileges {
                message: "jdoe may not read datafile 3".into(),
            }),
            None
        );
    }

    #[test]
    fn certificate_names_and_dates_in_plain_words() {
        let host = tls_advice(
            "https://127.0.0.1:1/ids",
            TlsProblem::WrongHost,
            "client error (Connect): invalid peer certificate: certificate not valid for name \
             \"127.0.0.1\"; certificate is only valid for DnsName(\"wrong.example\")",
        );
        assert!(
            host.contains("(it names wrong.example)") && !host.contains("DnsName"),
            "{host}"
        );
        let expired = tls_advice(
            "https://h/ids",
            TlsProblem::NotValidNow,
            "client error (Connect): invalid peer certificate: certificate expired: verification \
             time 1796526581 (UNIX), but certificate is not valid after 1580515200",
        );
        assert!(
            expired.contains("expired")
                && !expired.contains("UNIX")
                && !expired.contains("client error"),
            "{expired}"
        );
    }

    #[test]
    fn wrong_scheme_hints() {
        let text = tls_advice(
            "https://h:8080/ICATService/ICAT",
            TlsProblem::NotTls,
            "received corrupt message of type InvalidContentType",
        );
        assert!(
            text.contains("use http://") && text.contains("https://h:8080"),
            "{text}"
        );
        let hint = http_to_tls_hint("http://h:8181/ids", "invalid HTTP version parsed").unwrap();
        assert!(hint.contains("use https://"), "{hint}");
        assert_eq!(
            http_to_tls_hint("https://h:8181/ids", "invalid HTTP version parsed"),
            None
        );
        let hint = http_to_tls_hint("", "connection closed before message completed").unwrap();
        assert!(hint.contains("--idsurl"), "{hint}");
    }
}
