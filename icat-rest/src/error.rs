//! Errors of the REST client: ICAT's JSON errors (`{"code": "SESSION", "message": ...}`, as
//! icat.server's `IcatExceptionMapper` writes them) typed by exception kind, and transport
//! failures. Server text is cleaned and bounded before it is kept.

use icat_soap::model::IcatExceptionType;

/// Longest server text kept in an error.
const MAX_TEXT: usize = 300;

/// What went wrong talking to ICAT's REST API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// ICAT refused the request with one of its exception kinds.
    #[error("ICAT refused the request ({}): {message}", kind.as_str())]
    Icat {
        /// The exception kind (`SESSION`, `BAD_PARAMETER`, `INSUFFICIENT_PRIVILEGES`, ...).
        kind: IcatExceptionType,
        /// ICAT's message (cleaned, bounded).
        message: String,
        /// Where in the query the problem is, when ICAT says.
        offset: Option<i64>,
        /// The HTTP status.
        status: u16,
    },
    /// The server has no such REST endpoint: ICAT before 6.1 has no `search/documents` and
    /// answers `NOT_IMPLEMENTED` (its `NotFoundExceptionMapper`), other servers a bare 404.
    #[error(
        "{url} has no ICAT REST endpoint {endpoint} (HTTP {status}): free-text search needs ICAT 6.1 or later with a search engine configured"
    )]
    NoEndpoint {
        /// The base URL.
        url: String,
        /// The endpoint path.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// Another HTTP error without an ICAT error body.
    #[error("HTTP {status} from {endpoint}: {excerpt}")]
    Http {
        /// The endpoint path.
        endpoint: &'static str,
        /// The status.
        status: u16,
        /// The start of the body (cleaned).
        excerpt: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach ICAT at {url}: {detail}")]
    Connect {
        /// The base URL.
        url: String,
        /// What the network stack said.
        detail: String,
    },
    /// No answer in time.
    #[error("ICAT did not answer {endpoint} in time")]
    Timeout {
        /// The endpoint path.
        endpoint: &'static str,
    },
    /// The answer was larger than the client accepts.
    #[error("the answer from {endpoint} is larger than {limit} bytes; ask for fewer hits")]
    TooLarge {
        /// The endpoint path.
        endpoint: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The answer was not what ICAT writes.
    #[error("unexpected answer from {endpoint}: {detail}")]
    Decode {
        /// The endpoint path.
        endpoint: &'static str,
        /// What did not fit.
        detail: String,
    },
    /// The URL or TLS settings cannot be used.
    #[error("cannot use {what}: {detail}")]
    Config {
        /// What was wrong (the URL, the CA file, ...).
        what: String,
        /// Why.
        detail: String,
    },
    /// A read failed transiently (no connection, 502/503/504) on every attempt allowed.
    #[error("{endpoint} failed {attempts} times; the last time: {last}")]
    RetriesExhausted {
        /// The endpoint path.
        endpoint: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<RestError>,
    },
    /// The shared SOAP session could not give a valid session id.
    #[error("the ICAT session could not be renewed: {0}")]
    Session(#[source] icat_soap::IcatError),
}

impl RestError {
    /// True for an ICAT `SESSION` error (expired or unknown session id).
    pub fn is_session(&self) -> bool {
        matches!(
            self,
            RestError::Icat {
                kind: IcatExceptionType::Session,
                ..
            }
        )
    }

    /// True for failures another attempt may not meet (as `icat_soap::client::is_retryable`
    /// judges SOAP failures): no connection or one broken mid-answer, or a gateway saying the
    /// service is briefly unavailable (HTTP 502, 503, 504 without an ICAT error body).
    pub fn is_transient(&self) -> bool {
        match self {
            RestError::Connect { .. } => true,
            RestError::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// The error for an HTTP answer with status `status` and body `body` from `endpoint`.
    pub(crate) fn from_answer(endpoint: &'static str, url: &str, status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            code: String,
            #[serde(default)]
            message: String,
            #[serde(default)]
            offset: Option<i64>,
        }
        if let Ok(b) = serde_json::from_slice::<Body>(body) {
            if b.code == "NOT_IMPLEMENTED" {
                return RestError::NoEndpoint {
                    url: url.to_string(),
                    endpoint,
                    status,
                };
            }
            return RestError::Icat {
                kind: IcatExceptionType::from_wire(&b.code),
                message: clean(&b.message),
                offset: b.offset,
                status,
            };
        }
        if status == 404 {
            return RestError::NoEndpoint {
                url: url.to_string(),
                endpoint,
                status,
            };
        }
        RestError::Http {
            endpoint,
            status,
            excerpt: clean(&String::from_utf8_lossy(
                &body[..body.len().min(4 * MAX_TEXT)],
            )),
        }
    }
}

/// Server text made safe to show: no control characters, bounded.
pub(crate) fn clean(text: &str) -> String {
    icat_soap::untrusted::clean_text(text, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icat_json_errors_are_typed() {
        let e = RestError::from_answer(
            "search/documents",
            "http://h/icat",
            403,
            br#"{"code":"SESSION","message":"Unable to find user by sessionid: x"}"#,
        );
        assert!(e.is_session(), "{e}");
        let e = RestError::from_answer(
            "search/documents",
            "http://h/icat",
            400,
            br#"{"code":"BAD_PARAMETER","message":"units not set in parameter 'T'","offset":3}"#,
        );
        assert!(matches!(
            e,
            RestError::Icat {
                kind: IcatExceptionType::BadParameter,
                offset: Some(3),
                status: 400,
                ..
            }
        ));
        let e = RestError::from_answer("search/documents", "http://h/icat", 404, b"<html>");
        assert!(matches!(e, RestError::NoEndpoint { .. }), "{e}");
        // What icat.server's NotFoundExceptionMapper writes for a path it does not serve.
        let e = RestError::from_answer(
            "search/documents",
            "http://h/icat",
            501,
            br#"{"code":"NOT_IMPLEMENTED","message":"Operation not implemented by this ICAT server."}"#,
        );
        assert!(
            matches!(e, RestError::NoEndpoint { status: 501, .. }),
            "{e}"
        );
        let e = RestError::from_answer("x", "u", 502, b"bad \x1b[2J gateway");
        assert!(!e.to_string().contains('\x1b'), "{e}");
    }
}
