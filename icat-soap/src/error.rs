//! The one error type of the client: server faults by ICAT exception type, HTTP, network and decode errors.

use std::time::Duration;

use crate::model::IcatExceptionType;
use crate::query::QueryError;

/// The wire name of the `NOT_IMPLEMENTED` fault type (absent from ICAT 4.2's schema).
const NOT_IMPLEMENTED: &str = "NOT_IMPLEMENTED";

/// Everything that can go wrong when talking to ICAT.
///
/// Server faults (`IcatException`) get one variant per ICAT 6.2 exception type, each carrying the
/// server's message and `offset` (the index of the failing item in `create_many`/`delete_many`,
/// otherwise `-1`). Match on the variant to react, e.g. on [`IcatError::Session`] to log in again.
/// The `Display` text says what the user can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IcatError {
    /// `BAD_PARAMETER`: bad arguments or a query the server cannot parse.
    #[error("ICAT rejected a parameter: {}{}. Check the query or arguments.", clip_message(message), offset_text(*offset))]
    BadParameter {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `INTERNAL`: a server-side failure (database, container or bug).
    #[error("ICAT had an internal error: {}{}. This is a server problem; try again later or tell the facility's ICAT administrators.", clip_message(message), offset_text(*offset))]
    Internal {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `INSUFFICIENT_PRIVILEGES`: the authorization rules do not allow the operation.
    #[error("ICAT refused the operation: {}{}. Your account lacks the rights; log in as a user who has them or ask the facility for access.", clip_message(message), offset_text(*offset))]
    InsufficientPrivileges {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `NO_SUCH_OBJECT_FOUND`: the object does not exist (or is not visible to you).
    #[error("ICAT found no such object: {}{}. Check the id or search for the object first.", clip_message(message), offset_text(*offset))]
    NoSuchObjectFound {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `OBJECT_ALREADY_EXISTS`: a uniqueness constraint would be violated.
    #[error("ICAT already has this object: {}{}. Update or reuse the existing object instead of creating it.", clip_message(message), offset_text(*offset))]
    ObjectAlreadyExists {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `SESSION`: the session is invalid, expired or unknown, or authentication failed.
    #[error("ICAT session problem: {}{}. Log in again (check the authenticator and credentials if this was a login).", clip_message(message), offset_text(*offset))]
    Session {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `VALIDATION`: the change would leave the catalogue invalid, or a search returned more than
    /// the server's `maxEntities`.
    #[error("ICAT validation failed: {}{}. Fix the object, or for too-large searches page with LIMIT (see `Session::search_stream`).", clip_message(message), offset_text(*offset))]
    Validation {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// `NOT_IMPLEMENTED`: the server does not implement this.
    #[error("ICAT does not implement this: {}{}.", clip_message(message), offset_text(*offset))]
    NotImplemented {
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// An `IcatException` with a type this client does not know (a newer server).
    #[error("ICAT fault of unknown type {kind}: {}{}.", clip_message(message), offset_text(*offset))]
    UnknownFault {
        /// The exception type as sent.
        kind: String,
        /// The server's message.
        message: String,
        /// Index of the failing item in a list operation, else -1.
        offset: i32,
    },
    /// A SOAP fault without an `IcatException` detail (e.g. the SOAP stack rejected the request).
    #[error(
        "the server returned a SOAP fault {}: {}. The request did not reach ICAT's logic; check the URL points at an ICAT 6.x service.",
        clip_message(code),
        clip_message(message)
    )]
    SoapFault {
        /// The `faultcode`.
        code: String,
        /// The `faultstring`.
        message: String,
    },
    /// The server does not have this operation: it runs an older ICAT (e.g. `refresh`,
    /// `getEntityNames` and `isAccessAllowed` came with 4.3, `getAuthenticatorInfo` with 4.9), or
    /// these bindings were generated from a schema without it. Sessions cope by themselves (with
    /// no `refresh` they log in again when they must); other uses have no substitute.
    #[error(
        "this ICAT server does not offer the {operation} operation (it runs an older ICAT version), so what needs it cannot be done with this server"
    )]
    NotSupported {
        /// The operation, e.g. `"refresh"`.
        operation: String,
    },
    /// An HTTP error that is not a SOAP answer (a proxy page, a 404, a 502 ...).
    #[error("HTTP {status} from {url} without a SOAP answer{}. {}", excerpt_text(excerpt), http_advice(*status))]
    Http {
        /// HTTP status code.
        status: u16,
        /// The endpoint called.
        url: String,
        /// The start of the body, with whitespace collapsed.
        excerpt: String,
        /// The pause the server asked for before another try (`Retry-After` in seconds, at
        /// most an hour), which retries honour.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    #[error(
        "no answer from {url} within {after:?}. The server may be busy or unreachable: retry, narrow the query, or raise the client timeout."
    )]
    Timeout {
        /// The endpoint called.
        url: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The answer began to arrive but was not complete when the time allowed for one request ran
    /// out: the server sends it very slowly (or stalled after starting). Not a pause longer than
    /// the read timeout, which would be [`IcatError::Timeout`].
    #[error(
        "the answer from {url} began to arrive but was not complete within {after:?}, the time allowed for one request; the server is sending it very slowly or stalled. Retry later or narrow the query; if the server is known to be this slow, raise the request timeout."
    )]
    AnswerTimeout {
        /// The endpoint called.
        url: String,
        /// The request time limit.
        after: Duration,
    },
    /// The TLS handshake or certificate check failed. What failed is the
    /// [`source`](std::error::Error::source) (the `reqwest::Error`, whose own chain reaches the
    /// rustls/webpki error), not repeated in the `Display` text.
    #[error("TLS error talking to {url}. {}", tls_advice(*problem))]
    Tls {
        /// The endpoint called.
        url: String,
        /// What the failure says about the server, for advice.
        problem: crate::tls::TlsProblem,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The connection could not be made. What failed is the
    /// [`source`](std::error::Error::source), not repeated in the `Display` text.
    #[error(
        "cannot reach {url}. Check the URL, the network and any proxy settings (https_proxy/no_proxy)."
    )]
    Connect {
        /// The endpoint called.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke while the answer was arriving (reset, closed early). What failed is
    /// the [`source`](std::error::Error::source), not repeated in the `Display` text.
    #[error(
        "the connection to {url} broke while the answer was arriving. Read-only calls are retried by themselves; for other calls check whether the change was made before repeating it."
    )]
    Interrupted {
        /// The endpoint called.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was larger than the client accepts.
    #[error(
        "the answer from {url} is larger than the {limit}-byte limit. Narrow the query (page with LIMIT, see `Session::search_stream`) or raise the limit (ClientBuilder::max_response_size)."
    )]
    ResponseTooLarge {
        /// The endpoint called.
        url: String,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The server answered with an HTTP redirect. SOAP calls never follow one: it would re-send
    /// the request (a login's password included) to wherever the server pointed.
    #[error(
        "{url} answered HTTP {status} redirecting to {location}; SOAP calls do not follow redirects (the request, a password included, would be sent there). If that address is the right ICAT, use it as the ICAT URL; otherwise check the URL and any proxy."
    )]
    Redirected {
        /// The endpoint called.
        url: String,
        /// The HTTP status (301, 302, 303, 307 or 308).
        status: u16,
        /// Where the server pointed (resolved against the endpoint, cleaned and shortened).
        location: String,
    },
    /// The server answered with an HTTP redirect to the very address that was called: it can
    /// never answer there (a misconfigured server or proxy), and no other URL would help.
    #[error(
        "{url} answered HTTP {status} redirecting to itself, so it never answers: the server, or a proxy in front of it, is misconfigured. Tell the facility's ICAT administrators, and check that the ICAT URL is the one the facility gives."
    )]
    RedirectLoop {
        /// The endpoint called (and the redirect's target).
        url: String,
        /// The HTTP status (301, 302, 303, 307 or 308).
        status: u16,
    },
    /// A paged search got back results it had already received: the server ignores the LIMIT
    /// offset (or answers the same page forever), so paging stopped instead of looping.
    #[error(
        "paged search stopped at offset {offset} after {pages} pages: {reason}. The server seems to ignore the LIMIT offset; tell the facility's ICAT administrators, or search without paging."
    )]
    EndlessPaging {
        /// The offset of the page that repeated earlier results.
        offset: u64,
        /// Pages received, the repeated one included.
        pages: u64,
        /// What was repeated.
        reason: String,
    },
    /// A search asked for at most `asked` results (its LIMIT) and the answer held more: the
    /// server ignores the LIMIT. The answer was refused before its results were decoded.
    #[error(
        "the answer to {operation} holds more results than the {asked} its LIMIT asked for, so it was not read further. The server seems to ignore the LIMIT; tell the facility's ICAT administrators."
    )]
    MoreResultsThanAsked {
        /// The operation called.
        operation: String,
        /// The most results the request's LIMIT allows.
        asked: u64,
    },
    /// A read-only call kept failing with transient errors until the retry bound was reached. The
    /// last attempt's error is the [`source`](std::error::Error::source), not repeated in `Display`.
    #[error(
        "{operation} failed {attempts} times in a row, giving up. The server or the network keeps failing; try again later, or raise the retry limit (ClientBuilder::retry)."
    )]
    RetriesExhausted {
        /// The operation called.
        operation: String,
        /// Attempts made.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<IcatError>,
    },
    /// The answer could not be decoded.
    #[error(
        "cannot decode the answer to {operation}: {detail}. The server may not be ICAT 6.x or the reply was cut off."
    )]
    Decode {
        /// The operation called.
        operation: String,
        /// What was wrong.
        detail: String,
    },
    /// A search returned something other than what the caller asked for.
    #[error(
        "expected {expected} from the search but the server returned {found}. Select the entity itself (`SELECT x FROM {expected} x`)."
    )]
    UnexpectedResult {
        /// What was expected.
        expected: String,
        /// What came back.
        found: String,
    },
    /// A search result row does not fit the Rust type asked for (`search_rows::<(String, i64)>`).
    #[error(
        "search result {row} does not fit the requested type: {error}. Change the Rust type or the query's select items."
    )]
    RowShape {
        /// The 0-based index of the result.
        row: usize,
        /// What did not fit.
        error: RowError,
    },
    /// A search that must give exactly one result gave another number.
    #[error(
        "expected exactly one search result, got {count}. {}", one_result_advice(*count)
    )]
    NotOneResult {
        /// Results returned.
        count: usize,
    },
    /// An entity has no id where one is needed (it was never stored, or the id was not fetched).
    #[error(
        "the {entity} has no id: fetch it from ICAT or create it first, or set the id of the object it refers to"
    )]
    MissingId {
        /// The entity type.
        entity: &'static str,
    },
    /// The server URL cannot be used.
    #[error("invalid ICAT URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL given (without any user info).
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A client option is unusable (e.g. an unreadable CA certificate).
    #[error("client configuration error: {0}")]
    Config(String),
    /// The query could not be built.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// An argument is unusable (checked before anything is sent).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// The most characters of a server-given message an error's `Display` repeats: faults can quote
/// the whole query, which may be hundreds of kilobytes.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters, saying how much was left out. The whole
/// message stays available (e.g. [`IcatError::fault_message`]).
fn clip_message(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}… ({} more bytes)", &message[..i], message.len() - i),
        None => message.to_owned(),
    }
}

fn offset_text(offset: i32) -> String {
    if offset >= 0 {
        format!(" (item {offset} of the list)")
    } else {
        String::new()
    }
}

fn excerpt_text(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": \"{excerpt}\"")
    }
}

fn http_advice(status: u16) -> &'static str {
    match status {
        404 | 405 => {
            "Check the URL: the ICAT SOAP endpoint is usually https://host:8181/ICATService/ICAT."
        }
        401 | 403 => "A proxy or firewall refused the request; check access to the server.",
        502..=504 => {
            "A proxy in front of ICAT could not reach it; the service may be down, try again later."
        }
        500..=599 => "The server failed; try again later or tell its administrators.",
        _ => "The server did not answer as an ICAT SOAP service; check the URL.",
    }
}

/// What to do about a TLS failure, by what it says about the server.
fn tls_advice(problem: crate::tls::TlsProblem) -> &'static str {
    use crate::tls::TlsProblem;
    match problem {
        TlsProblem::Untrusted => {
            "The server's certificate is not trusted: if the server uses a private certificate authority, trust its CA certificate file."
        }
        TlsProblem::WrongHost => {
            "The server's certificate is for another host name: use the name the certificate names in the URL."
        }
        TlsProblem::NotValidNow => {
            "The server's certificate has expired or is not valid yet: check this computer's clock, or tell the server's administrators."
        }
        TlsProblem::NotTls => {
            "The server does not speak TLS there: use http:// in the URL, or check the port."
        }
        _ => "If the server uses a private certificate authority, trust its CA certificate file.",
    }
}

/// What to do when a search that must give one result gave `count`.
fn one_result_advice(count: usize) -> &'static str {
    if count == 0 {
        "Nothing matched: check the query's values (search_one gives this error, not NoSuchObjectFound, for no match)."
    } else {
        "Narrow the query, or use search_rows for several."
    }
}

impl IcatError {
    /// Builds the variant for an `IcatException` of type `kind` (wire name, e.g. `"SESSION"`).
    pub fn from_fault(kind: &str, message: impl Into<String>, offset: i32) -> IcatError {
        IcatError::from_fault_kind(&IcatExceptionType::from_wire(kind), message, offset)
    }

    /// Builds the variant for an `IcatException` of the generated type `kind`; kinds these
    /// bindings do not know become [`IcatError::UnknownFault`].
    ///
    /// ```
    /// use icat_soap::IcatError;
    /// use icat_soap::model::IcatExceptionType;
    /// let e = IcatError::from_fault_kind(&IcatExceptionType::Session, "expired", -1);
    /// assert!(e.is_session());
    /// assert_eq!(e.fault_kind(), Some(IcatExceptionType::Session));
    /// ```
    pub fn from_fault_kind(
        kind: &IcatExceptionType,
        message: impl Into<String>,
        offset: i32,
    ) -> IcatError {
        use IcatExceptionType as K;
        let message = message.into();
        match kind {
            K::BadParameter => IcatError::BadParameter { message, offset },
            K::Internal => IcatError::Internal { message, offset },
            K::InsufficientPrivileges => IcatError::InsufficientPrivileges { message, offset },
            K::NoSuchObjectFound => IcatError::NoSuchObjectFound { message, offset },
            K::ObjectAlreadyExists => IcatError::ObjectAlreadyExists { message, offset },
            K::Session => IcatError::Session { message, offset },
            K::Validation => IcatError::Validation { message, offset },
            // ICAT 4.2's schema has no NOT_IMPLEMENTED: matched by its wire name so that this
            // runtime also compiles with bindings regenerated from an older WSDL.
            other if other.as_str() == NOT_IMPLEMENTED => {
                IcatError::NotImplemented { message, offset }
            }
            other => IcatError::UnknownFault {
                kind: other.as_str().to_owned(),
                message,
                offset,
            },
        }
    }

    /// The server's `IcatException` type, for faults (the generated enumeration).
    pub fn fault_kind(&self) -> Option<IcatExceptionType> {
        self.fault_type().map(IcatExceptionType::from_wire)
    }

    /// True for a `SESSION` fault (invalid, expired or unknown session, or failed login).
    pub fn is_session(&self) -> bool {
        matches!(self, IcatError::Session { .. })
    }

    /// True when the server lacks the operation called ([`IcatError::NotSupported`]).
    pub fn is_not_supported(&self) -> bool {
        matches!(self, IcatError::NotSupported { .. })
    }

    /// The server's `IcatException` type name, for faults.
    pub fn fault_type(&self) -> Option<&str> {
        Some(match self {
            IcatError::BadParameter { .. } => "BAD_PARAMETER",
            IcatError::Internal { .. } => "INTERNAL",
            IcatError::InsufficientPrivileges { .. } => "INSUFFICIENT_PRIVILEGES",
            IcatError::NoSuchObjectFound { .. } => "NO_SUCH_OBJECT_FOUND",
            IcatError::ObjectAlreadyExists { .. } => "OBJECT_ALREADY_EXISTS",
            IcatError::Session { .. } => "SESSION",
            IcatError::Validation { .. } => "VALIDATION",
            IcatError::NotImplemented { .. } => NOT_IMPLEMENTED,
            IcatError::UnknownFault { kind, .. } => kind,
            _ => return None,
        })
    }

    /// The fault's `offset`: the index of the failing item in `create_many`/`delete_many`.
    pub fn fault_offset(&self) -> Option<i32> {
        match self {
            IcatError::BadParameter { offset, .. }
            | IcatError::Internal { offset, .. }
            | IcatError::InsufficientPrivileges { offset, .. }
            | IcatError::NoSuchObjectFound { offset, .. }
            | IcatError::ObjectAlreadyExists { offset, .. }
            | IcatError::Session { offset, .. }
            | IcatError::Validation { offset, .. }
            | IcatError::NotImplemented { offset, .. }
            | IcatError::UnknownFault { offset, .. } => Some(*offset).filter(|o| *o >= 0),
            _ => None,
        }
    }

    /// The server's fault message, for faults.
    pub fn fault_message(&self) -> Option<&str> {
        match self {
            IcatError::BadParameter { message, .. }
            | IcatError::Internal { message, .. }
            | IcatError::InsufficientPrivileges { message, .. }
            | IcatError::NoSuchObjectFound { message, .. }
            | IcatError::ObjectAlreadyExists { message, .. }
            | IcatError::Session { message, .. }
            | IcatError::Validation { message, .. }
            | IcatError::NotImplemented { message, .. }
            | IcatError::UnknownFault { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// The first `max` characters of a body with whitespace collapsed, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if count == max {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

/// Why a search result does not fit the requested Rust type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct RowError {
    /// The 0-based column (0 for a single value).
    pub column: usize,
    /// The Rust type asked for.
    pub expected: &'static str,
    /// What the server sent.
    pub found: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_exhausted_says_the_last_error_once_through_source() {
        use std::error::Error as _;
        let last = IcatError::Timeout {
            url: "https://h/ICATService/ICAT".into(),
            after: Duration::from_secs(3),
        };
        let last_text = last.to_string();
        let e = IcatError::RetriesExhausted {
            operation: "search".into(),
            attempts: 4,
            last: Box::new(last),
        };
        let shown = e.to_string();
        assert!(!shown.contains(&last_text), "{shown}");
        assert!(shown.contains("search failed 4 times"), "{shown}");
        assert_eq!(e.source().map(|s| s.to_string()), Some(last_text));
    }

    #[test]
    fn no_match_for_search_one_is_not_told_to_narrow_the_query() {
        let none = IcatError::NotOneResult { count: 0 }.to_string();
        assert!(!none.contains("Narrow"), "{none}");
        assert!(none.contains("Nothing matched"), "{none}");
        let many = IcatError::NotOneResult { count: 3 }.to_string();
        assert!(many.contains("Narrow the query"), "{many}");
    }

    #[test]
    fn every_fault_type_maps_to_its_own_variant() {
        let types = [
            "BAD_PARAMETER",
            "INTERNAL",
            "INSUFFICIENT_PRIVILEGES",
            "NO_SUCH_OBJECT_FOUND",
            "OBJECT_ALREADY_EXISTS",
            "SESSION",
            "VALIDATION",
            "NOT_IMPLEMENTED",
        ];
        let mut seen = std::collections::HashSet::new();
        for t in types {
            let e = IcatError::from_fault(t, "msg", -1);
            assert_eq!(e.fault_type(), Some(t));
            assert!(
                seen.insert(std::mem::discriminant(&e)),
                "{t} shares a variant"
            );
            assert_eq!(e.fault_offset(), None);
        }
        let e = IcatError::from_fault("BRAND_NEW", "m", 3);
        assert!(matches!(e, IcatError::UnknownFault { ref kind, .. } if kind == "BRAND_NEW"));
        assert_eq!(e.fault_offset(), Some(3));
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = IcatError::from_fault("SESSION", "Session id:abc has expired", -1);
        assert!(e.to_string().contains("Log in again"));
        let e = IcatError::from_fault("OBJECT_ALREADY_EXISTS", "dup", 2);
        assert!(e.to_string().contains("item 2 of the list"));
        let e = IcatError::Http {
            status: 502,
            url: "https://x/ICATService/ICAT".into(),
            excerpt: excerpt(b"<html>\n  <h1>502   Bad Gateway</h1></html>", 200),
            retry_after: None,
        };
        let s = e.to_string();
        assert!(
            s.contains("HTTP 502") && s.contains("<h1>502 Bad Gateway</h1>"),
            "{s}"
        );
        assert!(s.contains("try again later"), "{s}");
    }

    #[test]
    fn fault_display_is_bounded_but_the_message_is_kept() {
        let query = format!(
            "SELECT d FROM Datafile d WHERE d.id IN ({})",
            "12345, ".repeat(50_000)
        );
        let e = IcatError::from_fault("BAD_PARAMETER", query.clone(), -1);
        let shown = e.to_string();
        assert!(
            shown.len() < MAX_MESSAGE_CHARS + 300,
            "{} bytes",
            shown.len()
        );
        assert!(
            shown.contains("more bytes)") && shown.contains("Check the query"),
            "{shown}"
        );
        assert_eq!(e.fault_message(), Some(query.as_str()));
        let e = IcatError::SoapFault {
            code: "S:Server".into(),
            message: query,
        };
        assert!(e.to_string().len() < MAX_MESSAGE_CHARS + 300);
    }

    #[test]
    fn excerpt_is_bounded() {
        let long = "a".repeat(1000);
        let e = excerpt(long.as_bytes(), 10);
        assert_eq!(e, "aaaaaaaaaa…");
    }
}
