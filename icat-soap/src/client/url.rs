//! Turns the server addresses users paste (`https://host:8181`, `…/ICATService/ICAT?wsdl`) into the SOAP endpoint.

use reqwest::Url;

use crate::IcatError;

/// The path of the ICAT SOAP endpoint on a Payara/GlassFish server.
pub const DEFAULT_PATH: &str = "/ICATService/ICAT";

/// True when `url` names this machine (`localhost`, `*.localhost`, 127.0.0.0/8 or `::1`): plain
/// http there does not cross a network.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    }
}

/// Warns, once per process, that `url` is plain http to another machine: what is sent there
/// (`what`: a password, session ids) can be read on the way. Nothing for https or loopback.
pub fn warn_if_plain_http(url: &Url, service: &str, what: &str) {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if url.scheme() != "http" || is_loopback(url) {
        return;
    }
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned.iter().any(|s| s == service) {
        return;
    }
    warned.push(service.to_owned());
    tracing::warn!(
        "the {service} URL uses plain http to {}: {what} travel unencrypted; use https",
        url.host_str().unwrap_or("?")
    );
}

/// Normalises a server address to the SOAP endpoint URL.
///
/// * `https://host:8181` and `https://host:8181/` get `/ICATService/ICAT` appended;
/// * `…/ICATService` gets `/ICAT` appended;
/// * any query (`?wsdl`, `?xsd=1`), fragment and trailing slash are dropped;
/// * any other path is kept as given (for servers behind a path-rewriting proxy).
///
/// Only `http` and `https` are accepted, and user info (`user:pass@`) is refused so that
/// credentials never end up in logs.
///
/// ```
/// use icat_soap::client::endpoint_url;
/// for given in [
///     "https://icat.example.org:8181",
///     "https://icat.example.org:8181/ICATService/ICAT",
///     "https://icat.example.org:8181/ICATService/ICAT?wsdl",
/// ] {
///     assert_eq!(
///         endpoint_url(given).unwrap().as_str(),
///         "https://icat.example.org:8181/ICATService/ICAT"
///     );
/// }
/// ```
pub fn endpoint_url(given: &str) -> Result<Url, IcatError> {
    let mut url = checked_server_url(given)?;
    let path = url.path().trim_end_matches('/').to_owned();
    let new_path = if path.is_empty() {
        DEFAULT_PATH.to_owned()
    } else if path.ends_with("/ICATService") {
        format!("{path}/ICAT")
    } else {
        path
    };
    url.set_path(&new_path);
    Ok(url)
}

/// The path of the IDS service on a facility's server.
pub const IDS_PATH: &str = "/ids";

/// Normalises an IDS address to the service root, with a trailing slash so that relative call
/// names join below it: `https://host:8181`, `…/` and `…/ids` all become `https://host:8181/ids/`;
/// any other path gets `/ids/` appended (`https://h/proxy` is `https://h/proxy/ids/`). The same
/// checks as [`endpoint_url`] (scheme, host, no user info; query and fragment dropped).
///
/// ```
/// use icat_soap::client::ids_url;
/// for given in ["https://h:8181", "https://h:8181/ids", "https://h:8181/ids/?x#y"] {
///     assert_eq!(ids_url(given).unwrap().as_str(), "https://h:8181/ids/");
/// }
/// ```
pub fn ids_url(given: &str) -> Result<Url, IcatError> {
    let mut url = checked_server_url(given)?;
    let path = url.path().trim_end_matches('/').to_owned();
    let path = if path.ends_with(IDS_PATH) {
        format!("{path}/")
    } else {
        format!("{path}{IDS_PATH}/")
    };
    url.set_path(&path);
    Ok(url)
}

/// The IDS root that facilities deploy beside an ICAT: the ICAT address's scheme, host and port
/// with `/ids/` (`https://h:8181/ICATService/ICAT` gives `https://h:8181/ids/`).
pub fn ids_url_beside(icat: &str) -> Result<Url, IcatError> {
    let mut url = checked_server_url(icat)?;
    url.set_path(IDS_PATH);
    ids_url(url.as_str())
}

/// The checks every server address passes (http or https, a host, no user info), with query
/// and fragment dropped; the path is left as given.
fn checked_server_url(given: &str) -> Result<Url, IcatError> {
    let trimmed = given.trim();
    let invalid = |reason: &str| IcatError::InvalidUrl {
        url: redact(trimmed),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            "only http:// and https:// addresses are supported (e.g. https://host:8181)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the address has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "user names and passwords do not belong in the URL: remove them from the address, \
             and give the user name and password as the login credentials instead",
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL with any user info removed, for messages.
fn redact(given: &str) -> String {
    match Url::parse(given) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => match given.find('@') {
            Some(at) => format!("…{}", &given[at..]),
            None => given.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for l in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "http://127.1.2.3:9/x",
            "http://[::1]:80",
            "http://a.localhost",
        ] {
            assert!(is_loopback(&Url::parse(l).unwrap()), "{l}");
        }
        for n in [
            "http://icat.example.org",
            "http://10.0.0.1",
            "http://[::2]",
            "http://localhost.example.org",
        ] {
            assert!(!is_loopback(&Url::parse(n).unwrap()), "{n}");
        }
    }

    #[test]
    fn pasted_forms_all_reach_the_endpoint() {
        let cases = [
            ("https://h:8181", "https://h:8181/ICATService/ICAT"),
            ("https://h:8181/", "https://h:8181/ICATService/ICAT"),
            (
                "  https://h:8181/ICATService/ICAT  ",
                "https://h:8181/ICATService/ICAT",
            ),
            (
                "https://h:8181/ICATService/ICAT/",
                "https://h:8181/ICATService/ICAT",
            ),
            (
                "https://h:8181/ICATService/ICAT?wsdl",
                "https://h:8181/ICATService/ICAT",
            ),
            (
                "https://h:8181/ICATService/ICAT?xsd=1",
                "https://h:8181/ICATService/ICAT",
            ),
            ("https://h/ICATService", "https://h/ICATService/ICAT"),
            (
                "https://h/proxy/ICATService/ICAT#x",
                "https://h/proxy/ICATService/ICAT",
            ),
            (
                "http://127.0.0.1:4000/icat/ICAT?wsdl",
                "http://127.0.0.1:4000/icat/ICAT",
            ),
        ];
        for (given, want) in cases {
            assert_eq!(
                endpoint_url(given).map(|u| u.to_string()).ok().as_deref(),
                Some(want),
                "{given}"
            );
        }
    }

    #[test]
    fn ids_addresses_reach_the_service_root() {
        for given in [
            "https://h:8181",
            "https://h:8181/",
            "https://h:8181/ids",
            "https://h:8181/ids/",
            " https://h:8181/ids?x=1#f ",
        ] {
            assert_eq!(
                ids_url(given).unwrap().as_str(),
                "https://h:8181/ids/",
                "{given}"
            );
        }
        assert_eq!(
            ids_url("https://h/proxy").unwrap().as_str(),
            "https://h/proxy/ids/"
        );
        assert_eq!(
            ids_url_beside("https://h:8181/ICATService/ICAT?wsdl")
                .unwrap()
                .as_str(),
            "https://h:8181/ids/"
        );
        for bad in ["ftp://h/", "not a url", "https://u:p@h"] {
            assert!(
                matches!(ids_url(bad), Err(IcatError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn unusable_addresses_are_refused_without_echoing_passwords() {
        for bad in ["ftp://h/", "not a url", "https://", "h:8181"] {
            assert!(
                matches!(endpoint_url(bad), Err(IcatError::InvalidUrl { .. })),
                "{bad}"
            );
        }
        let err = endpoint_url("https://root:secret@h:8181")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(
            err.contains("remove them from the address") && !err.contains("pass them to login"),
            "{err}"
        );
    }
}
