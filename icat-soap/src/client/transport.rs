//! SOAP 1.1 over HTTP: one POST per call, and the sorting of HTTP outcomes into answers, faults and errors.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::IcatError;
use crate::error::excerpt;
use crate::retry::RetryPolicy;
use crate::untrusted::clean_text;

/// How many characters of a non-SOAP body go into an error message.
const EXCERPT_CHARS: usize = 200;

/// Most bytes of a redirect target shown in an error message.
const MAX_LOCATION_LEN: usize = 300;

/// What came back from one POST of a SOAP envelope.
#[derive(Debug, Clone)]
pub enum Reply {
    /// HTTP 200 with an XML body: a SOAP answer to decode.
    Answer(Bytes),
    /// HTTP 500 with an XML body: a SOAP fault to decode.
    Fault(Bytes),
}

/// The HTTP side of the client: one connection pool, one endpoint.
#[derive(Debug)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub endpoint: Url,
    pub timeout: Duration,
    pub read_timeout: Option<Duration>,
    pub operation_timeout: Option<Duration>,
    pub max_response_size: u64,
    pub retry: RetryPolicy,
    /// Everything the client was built with.
    pub settings: super::options::ClientSettings,
}

impl Transport {
    /// POSTs a SOAP envelope and sorts the outcome.
    pub async fn post(&self, envelope: Vec<u8>) -> Result<Reply, IcatError> {
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            )
            // Every ICAT operation has `soapAction=""` in the WSDL.
            .header("SOAPAction", HeaderValue::from_static("\"\""))
            .body(envelope)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(self.redirected(&response));
        }
        let is_xml = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("xml"));
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| crate::retry::parse_retry_after(v.as_bytes()));
        let body = self.read_body(response, started).await?;
        let soap = is_xml && looks_like_envelope(&body);
        match status.as_u16() {
            200 if soap => Ok(Reply::Answer(body)),
            500 if soap => Ok(Reply::Fault(body)),
            code => Err(IcatError::Http {
                status: code,
                url: self.endpoint.to_string(),
                excerpt: excerpt(&body, EXCERPT_CHARS),
                retry_after,
            }),
        }
    }

    /// The error for a redirect: the target, resolved against the endpoint and cleaned (the
    /// header is the server's text), so the user can fix the URL; a redirect to the endpoint
    /// itself is [`IcatError::RedirectLoop`], no other address to suggest.
    fn redirected(&self, response: &reqwest::Response) -> IcatError {
        let raw = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if raw
            .as_deref()
            .and_then(|r| self.endpoint.join(r.trim()).ok())
            .is_some_and(|to| to == self.endpoint)
        {
            return IcatError::RedirectLoop {
                url: self.endpoint.to_string(),
                status: response.status().as_u16(),
            };
        }
        let location = raw.map_or_else(
            || "(no Location header)".to_owned(),
            |raw| {
                self.endpoint
                    .join(raw.trim())
                    .map_or(raw, |u| u.to_string())
            },
        );
        IcatError::Redirected {
            url: self.endpoint.to_string(),
            status: response.status().as_u16(),
            location: clean_text(&location, MAX_LOCATION_LEN),
        }
    }

    /// Reads a whole answer body, refusing one above `max_response_size` as soon as that is known.
    async fn read_body(
        &self,
        response: reqwest::Response,
        started: std::time::Instant,
    ) -> Result<Bytes, IcatError> {
        let limit = self.max_response_size;
        let too_large = || IcatError::ResponseTooLarge {
            url: self.endpoint.to_string(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.classify_body(e, started))?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Maps an error while the answer body arrives: a timeout, or a broken connection. A
    /// timeout once the whole request's time is used up is the request limit
    /// ([`IcatError::AnswerTimeout`]: the answer was arriving, too slowly), else the read timeout.
    fn classify_body(&self, e: reqwest::Error, started: std::time::Instant) -> IcatError {
        if e.is_timeout() {
            if started.elapsed() >= self.timeout {
                return IcatError::AnswerTimeout {
                    url: self.endpoint.to_string(),
                    after: self.timeout,
                };
            }
            return IcatError::Timeout {
                url: self.endpoint.to_string(),
                after: self.read_timeout.unwrap_or(self.timeout).min(self.timeout),
            };
        }
        IcatError::Interrupted {
            url: self.endpoint.to_string(),
            source: e,
        }
    }

    /// Maps a reqwest error to the matching variant.
    fn classify(&self, e: reqwest::Error) -> IcatError {
        let url = self.endpoint.to_string();
        if e.is_timeout() {
            return IcatError::Timeout {
                url,
                after: self.read_timeout.unwrap_or(self.timeout).min(self.timeout),
            };
        }
        if let Some(problem) = crate::tls::tls_problem(&e) {
            return IcatError::Tls {
                url,
                problem,
                source: e,
            };
        }
        if e.is_connect() {
            return IcatError::Connect { url, source: e };
        }
        // The request went out and the connection broke before the answer was complete.
        IcatError::Interrupted { url, source: e }
    }
}

/// True when the body starts (after an optional XML declaration, comments and whitespace) with an
/// element whose local name is `Envelope`.
fn looks_like_envelope(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            match r.find("?>") {
                Some(end) => rest = r[end + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("<!--") {
            match r.find("-->") {
                Some(end) => rest = r[end + 3..].trim_start(),
                None => return false,
            }
        } else if rest.starts_with("<!DOCTYPE") {
            // Let the XML reader refuse it with its own, specific error.
            return true;
        } else {
            break;
        }
    }
    let Some(tag) = rest.strip_prefix('<') else {
        return false;
    };
    let name: String = tag
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    name.rsplit(':').next() == Some("Envelope")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_detection() {
        assert!(looks_like_envelope(
            b"<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body/></S:Envelope>"
        ));
        assert!(looks_like_envelope(
            b"<?xml version='1.0' encoding='UTF-8'?>\n<!-- hi --><soapenv:Envelope>"
        ));
        assert!(looks_like_envelope(b"<Envelope/>"));
        assert!(!looks_like_envelope(
            b"<html><body>502 Bad Gateway</body></html>"
        ));
        assert!(!looks_like_envelope(b""));
        assert!(!looks_like_envelope(b"<?xml version='1.0'"));
    }
}
