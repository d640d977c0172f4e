//! The HTTP side of the client against a local replay server: headers, gzip, cookies, non-SOAP errors,
//! timeouts and refused connections.

mod common;

use std::io::Write;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use common::{Replay, answer, xml};

use icat_soap::IcatError;
use icat_soap::client::{Client, Reply};

const VERSION_REQUEST: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:icat=\"http://icatproject.org\"><soapenv:Body><icat:getApiVersion/></soapenv:Body></soapenv:Envelope>";

#[tokio::test]
async fn posts_soap_with_the_right_headers_to_the_endpoint() {
    let server = Replay::start(|_, _| answer("getApiVersion", "<return>6.2.0</return>")).await;
    let client = Client::new(&format!("{}/ICATService/ICAT?wsdl", server.url)).expect("client");
    let reply = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .expect("reply");
    let Reply::Answer(body) = reply else {
        panic!("expected an answer, got {reply:?}")
    };
    assert!(String::from_utf8_lossy(&body).contains("<return>6.2.0</return>"));

    let rec = &server.recorded()[0];
    assert_eq!(rec.path, "/ICATService/ICAT");
    assert_eq!(rec.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(rec.header("soapaction"), Some("\"\""));
    assert!(
        rec.header("user-agent")
            .is_some_and(|ua| ua.starts_with("icat-rs/"))
    );
    assert!(
        rec.header("accept-encoding")
            .is_some_and(|ae| ae.contains("gzip"))
    );
    assert_eq!(rec.operation(), "getApiVersion");
}

#[tokio::test]
async fn gzip_answers_are_decompressed() {
    let server = Replay::start(|_, _| {
        let body = common::envelope(
            "<ns2:getApiVersionResponse xmlns:ns2=\"http://icatproject.org\"><return>6.2.0</return></ns2:getApiVersionResponse>",
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes()).expect("gzip");
        Response::builder()
            .status(200)
            .header("content-type", "text/xml; charset=utf-8")
            .header("content-encoding", "gzip")
            .body(Body::from(gz.finish().expect("gzip")))
            .expect("response")
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    match client.post_envelope(VERSION_REQUEST.into()).await {
        Ok(Reply::Answer(body)) => {
            assert!(String::from_utf8_lossy(&body).contains("6.2.0"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn cookies_set_by_the_server_are_sent_back() {
    // Load-balanced ICATs pin a session to a node with a cookie.
    let server = Replay::start(|_, i| {
        let mut r = answer("getApiVersion", "<return>6.2.0</return>");
        if i == 0 {
            r.headers_mut().insert(
                "set-cookie",
                "JSESSIONID=node7; Path=/".parse().expect("header"),
            );
        }
        r
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let clone = client.clone();
    client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .expect("first");
    clone
        .post_envelope(VERSION_REQUEST.into())
        .await
        .expect("second");
    let recs = server.recorded();
    assert_eq!(recs[0].header("cookie"), None);
    assert_eq!(recs[1].header("cookie"), Some("JSESSIONID=node7"));
}

#[tokio::test]
async fn a_proxy_502_page_gives_a_readable_error() {
    let server = Replay::start(|_, _| {
        Response::builder()
            .status(502)
            .header("content-type", "text/html")
            .body(Body::from(
                "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n",
            ))
            .expect("response")
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let err = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .unwrap_err();
    let IcatError::Http {
        status,
        ref excerpt,
        ..
    } = err
    else {
        panic!("expected an HTTP error, got {err:?}")
    };
    assert_eq!(status, 502);
    assert!(excerpt.contains("502 Bad Gateway"), "{excerpt}");
    let text = err.to_string();
    assert!(text.contains("HTTP 502"), "{text}");
    assert!(text.contains("try again later"), "{text}");
    assert!(!text.contains('\n'), "message should be one line: {text}");
}

#[tokio::test]
async fn soap_faults_come_back_as_faults_and_html_500_as_http_errors() {
    let server = Replay::start(|_, i| {
        if i == 0 {
            common::fault("SESSION", "Session id:abc has expired", -1)
        } else {
            Response::builder()
                .status(500)
                .header("content-type", "text/html")
                .body(Body::from(
                    "<html><body>Internal Server Error</body></html>",
                ))
                .expect("response")
        }
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    assert!(matches!(
        client.post_envelope(VERSION_REQUEST.into()).await,
        Ok(Reply::Fault(_))
    ));
    assert!(matches!(
        client.post_envelope(VERSION_REQUEST.into()).await,
        Err(IcatError::Http { status: 500, .. })
    ));
}

#[tokio::test]
async fn a_200_that_is_not_soap_is_an_error() {
    // A captive portal or a web server answering on the wrong path.
    let server = Replay::start(|_, _| {
        Response::builder()
            .status(200)
            .header("content-type", "text/html")
            .body(Body::from("<html>Welcome to the wifi</html>"))
            .expect("response")
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let err = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 200, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_servers_time_out_with_a_timeout_error() {
    // A server that accepts the connection and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let client = Client::builder(&format!("http://{addr}"))
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .unwrap_err();
    hold.abort();
    assert!(matches!(err, IcatError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("raise the client timeout"));
}

#[tokio::test]
async fn a_client_brought_by_the_caller_sends_the_requests() {
    let server = Replay::start(|_, _| answer("getApiVersion", "<return>6.2.0</return>")).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-facility", "test-facility".parse().unwrap());
    let http = icat_soap::tls::Trust::system()
        .http_client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent("own-client/1.0")
        .build()
        .unwrap();
    let client = Client::builder(&server.url)
        .http_client(http)
        .build()
        .expect("client");
    let reply = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .expect("reply");
    assert!(matches!(reply, Reply::Answer(_)), "{reply:?}");
    let rec = &server.recorded()[0];
    assert_eq!(rec.header("x-facility"), Some("test-facility"));
    assert_eq!(rec.header("user-agent"), Some("own-client/1.0"));
    assert_eq!(rec.path, "/ICATService/ICAT");
}

#[tokio::test]
async fn refused_connections_are_connect_errors() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let client = Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
    let err = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::Connect { .. }), "{err:?}");
    assert_source_is_the_transport_error(&err);
}

/// The transport error is kept as `source()` (a `reqwest::Error` with its own chain down to the
/// OS or TLS error) and its text is not repeated in `Display`.
fn assert_source_is_the_transport_error(err: &IcatError) {
    use std::error::Error as _;
    let source = err.source().expect("the transport error is the source");
    let reqwest = source
        .downcast_ref::<reqwest::Error>()
        .expect("the source is the reqwest::Error itself");
    let display = err.to_string();
    let mut cause: Option<&dyn std::error::Error> = Some(reqwest);
    let mut depth = 0;
    while let Some(c) = cause {
        let text = c.to_string();
        assert!(
            !display.contains(&text),
            "Display repeats the source `{text}`: {display}"
        );
        cause = c.source();
        depth += 1;
    }
    assert!(depth >= 2, "the chain reaches below reqwest: {err:?}");
}

#[tokio::test]
async fn tls_failures_are_tls_errors() {
    // A plain-HTTP server spoken to over https: the handshake fails.
    let server = Replay::start(|_, _| xml(200, "x")).await;
    let https = server.url.replace("http://", "https://");
    let client = Client::new(&https).expect("client");
    let err = client
        .post_envelope(VERSION_REQUEST.into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IcatError::Tls {
                problem: icat_soap::tls::TlsProblem::NotTls,
                ..
            }
        ),
        "{err:?}"
    );
    assert_source_is_the_transport_error(&err);
    // The advice fits the problem: plain http there, not a certificate authority to trust.
    let shown = err.to_string();
    assert!(
        shown.contains("http://") && !shown.contains("certificate authority"),
        "{shown}"
    );
}
