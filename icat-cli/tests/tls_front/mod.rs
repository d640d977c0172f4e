//! Test helpers for TLS: certificates made with rcgen (a private CA, a server certificate it
//! signs, an openssl-style self-signed CA-flagged certificate) and an https front on 127.0.0.1
//! that terminates TLS and forwards the bytes to a plain-http simulator.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate and its private key, PEM.
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// The private key.
    pub key: String,
}

/// A private CA and a certificate it signed for `localhost` and 127.0.0.1.
pub struct PrivateCa {
    /// The CA certificate (what `--ca-file` names).
    pub ca: Pem,
    /// The server certificate.
    pub server: Pem,
}

fn params(names: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    for name in names {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().expect("dns name")),
        };
        p.subject_alt_names.push(san);
    }
    p
}

/// A private CA and a server certificate signed by it, for `localhost` and 127.0.0.1.
pub fn private_ca() -> PrivateCa {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = params(&[]);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "icat-rs test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, &ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let mut server_params = params(&["localhost", "127.0.0.1"]);
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server cert");
    PrivateCa {
        ca: Pem {
            cert: ca_cert.pem(),
            key: ca_key.serialize_pem(),
        },
        server: Pem {
            cert: server_cert.pem(),
            key: server_key.serialize_pem(),
        },
    }
}

/// A self-signed certificate marked as a CA, for `localhost` only: what
/// `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost`
/// makes (with an ECDSA key; rcgen's ring backend cannot make RSA keys).
pub fn openssl_style_self_signed() -> Pem {
    let key = KeyPair::generate().expect("key");
    let mut p = params(&["localhost"]);
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).expect("cert");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// The same kind of certificate made by the real `openssl` command (RSA 2048), when `openssl`
/// is installed; `None` otherwise.
pub fn openssl_made_self_signed(dir: &Path) -> Option<Pem> {
    let key = dir.join("openssl-key.pem");
    let cert = dir.join("openssl-cert.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost", "-days", "2"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    Some(Pem {
        cert: std::fs::read_to_string(&cert).ok()?,
        key: std::fs::read_to_string(&key).ok()?,
    })
}

/// Writes PEM text to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write pem");
    path
}

/// An https front on 127.0.0.1 forwarding to a plain-http backend; stopped when dropped.
pub struct TlsFront {
    /// The port it listens on.
    pub port: u16,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The `host:port` of an `http://host:port/...` URL.
pub fn backend_of(url: &str) -> SocketAddr {
    let rest = url.strip_prefix("http://").expect("http URL");
    let hostport = rest.split('/').next().expect("host");
    hostport.parse().expect("socket address")
}

/// Starts an https front with this certificate (chain) and key, forwarding to `backend`.
pub fn tls_front(backend: SocketAddr, cert_pem: &str, key_pem: &str) -> TlsFront {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
    let provider = icat_soap::tls::crypto_provider();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront { port, rt: Some(rt) }
}
