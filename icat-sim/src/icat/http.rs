//! What the ICAT side's HTTP endpoints share: the handlers' state, the endpoint path, and the WSDL
//! and XSD served at `?wsdl` and `?xsd=1` with addresses rewritten to the URL the request came in on.

use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::icat::Icat;

/// The WSDL as checked in under `wsdl/`.
pub const WSDL: &str = include_str!("../../../wsdl/ICAT.wsdl");
/// The schema as checked in under `wsdl/`.
pub const XSD: &str = include_str!("../../../wsdl/ICAT.xsd");

/// The path of the ICAT SOAP endpoint.
pub const ICAT_PATH: &str = "/ICATService/ICAT";

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The catalogue service.
    pub icat: Icat,
}

/// The base URL (`http://host:port`) a request came in on, from its Host header.
pub fn request_base(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let safe = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'));
    safe.then(|| format!("http://{host}"))
}

/// The WSDL with its `soap:address` pointing at `endpoint` and its schema import at `endpoint?xsd=1`.
pub fn rewritten_wsdl(endpoint: &str) -> String {
    let mut out = String::with_capacity(WSDL.len() + 64);
    let mut rest = WSDL;
    // Replace the value of every schemaLocation="..." and soap:address location="...".
    while let Some(pos) = find_attr(rest) {
        let (before, after) = rest.split_at(pos.value_start);
        out.push_str(before);
        out.push_str(&if pos.is_schema {
            format!("{endpoint}?xsd=1")
        } else {
            endpoint.to_string()
        });
        rest = &after[pos.value_len..];
    }
    out.push_str(rest);
    out
}

struct AttrPos {
    value_start: usize,
    value_len: usize,
    is_schema: bool,
}

fn find_attr(text: &str) -> Option<AttrPos> {
    let schema = text
        .find("schemaLocation=\"")
        .map(|p| (p + "schemaLocation=\"".len(), true));
    let address = text
        .find("<soap:address location=\"")
        .map(|p| (p + "<soap:address location=\"".len(), false));
    let (value_start, is_schema) = match (schema, address) {
        (Some(a), Some(b)) => {
            if a.0 < b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    let value_len = text[value_start..].find('"')?;
    Some(AttrPos {
        value_start,
        value_len,
        is_schema,
    })
}

/// `GET /ICATService/ICAT?wsdl` or `?xsd=1`.
pub async fn wsdl_or_xsd(headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let xml =
        |body: String| ([(header::CONTENT_TYPE, "text/xml;charset=utf-8")], body).into_response();
    match query.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("wsdl") => {
            let base = request_base(&headers).unwrap_or_else(|| "http://localhost".into());
            xml(rewritten_wsdl(&format!("{base}{ICAT_PATH}")))
        }
        Some("xsd=1") => xml(XSD.to_string()),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "This is the ICAT SOAP endpoint: POST SOAP requests here, or GET ?wsdl or ?xsd=1.\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsdl_addresses_are_rewritten() {
        let w = rewritten_wsdl("http://127.0.0.1:4711/ICATService/ICAT");
        assert!(w.contains("<soap:address location=\"http://127.0.0.1:4711/ICATService/ICAT\"/>"));
        assert!(w.contains("schemaLocation=\"http://127.0.0.1:4711/ICATService/ICAT?xsd=1\""));
        assert!(!w.contains("localhost:8181"));
        assert_eq!(
            w.len() - WSDL.len(),
            2 * "http://127.0.0.1:4711/ICATService/ICAT".len() + "?xsd=1".len()
                - "ICAT.xsd".len()
                - "https://localhost:8181/ICATService/ICAT".len()
        );
    }

    #[test]
    fn hostile_host_headers_are_ignored() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "example.org:80\"/><x".parse().unwrap());
        assert_eq!(request_base(&h), None);
        h.insert(header::HOST, "[::1]:8080".parse().unwrap());
        assert_eq!(request_base(&h).as_deref(), Some("http://[::1]:8080"));
    }
}
