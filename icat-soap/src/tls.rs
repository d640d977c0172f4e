//! TLS trust shared by the ICAT and IDS clients: the operating system's certificate store, extra CA
//! certificates, exact-match trust for a self-signed server certificate given as the CA, and the
//! explicit insecure mode.
//!
//! Server certificates are checked by [`rustls_platform_verifier`] (on Linux: the system store,
//! which honours `SSL_CERT_FILE` / `SSL_CERT_DIR`; on macOS and Windows: the platform verifier)
//! plus any extra CA certificates. One more rule matches what OpenSSL-based tools (`curl --cacert`,
//! Python's `ssl`) accept: when the server presents exactly (byte for byte) a certificate that the
//! user put in a CA file, such as the self-signed, CA-flagged certificate
//! `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost` makes, it is accepted if it is
//! valid now and names the host. WebPKI alone refuses it (`CaUsedAsEndEntity`). Nothing else is
//! relaxed: the handshake signature is always checked against the certificate's key.

mod problem;

pub use problem::{TlsProblem, classify, tls_problem};

use std::path::Path;
use std::sync::Arc;

use crate::calendar;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// Why a TLS trust setting could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read.
    #[error("cannot read CA certificate file {path}: {source}")]
    Read {
        /// The file named.
        path: String,
        /// The reading error.
        source: std::io::Error,
    },
    /// The text is not PEM.
    #[error("{origin} is not a PEM certificate bundle: {detail}")]
    NotPem {
        /// The file name, or a description of the text.
        origin: String,
        /// What the PEM reader said.
        detail: String,
    },
    /// The TLS library refused the settings.
    #[error("cannot set up TLS: {0}")]
    Setup(String),
    /// The PEM text holds no certificate.
    #[error("{origin} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file name, or a description of the text.
        origin: String,
    },
}

/// Which servers to trust: the system store plus extra CA certificates, or nobody checked at all
/// (insecure mode, off by default).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    extra_roots: Vec<CertificateDer<'static>>,
    insecure: bool,
}

impl Trust {
    /// The operating system's certificate store only.
    pub fn system() -> Self {
        Trust::default()
    }

    /// Also trusts the certificates in this PEM file.
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), TlsSetupError> {
        let pem = std::fs::read(path).map_err(|source| TlsSetupError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.add_ca_pem(&pem, &path.display().to_string())
    }

    /// Also trusts the certificates in this PEM text; `origin` names it in errors.
    pub fn add_ca_pem(&mut self, pem: &[u8], origin: &str) -> Result<(), TlsSetupError> {
        let mut found = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            found.push(cert.map_err(|e| TlsSetupError::NotPem {
                origin: origin.to_owned(),
                detail: e.to_string(),
            })?);
        }
        if found.is_empty() {
            return Err(TlsSetupError::NoCertificate {
                origin: origin.to_owned(),
            });
        }
        self.extra_roots.extend(found);
        Ok(())
    }

    /// Turns certificate verification off (`true`) or on. Anyone on the network path can then
    /// read and change the traffic, passwords included.
    pub fn set_insecure(&mut self, insecure: bool) {
        self.insecure = insecure;
    }

    /// Whether certificate verification is off.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The rustls configuration for these settings (HTTP/1.1, TLS 1.2 and 1.3, ring).
    ///
    /// When the system store cannot be loaded and no CA certificate was given, the failure is
    /// reported by the first TLS handshake, so plain-http use keeps working.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsSetupError> {
        let provider = crypto_provider();
        let verifier: Arc<dyn ServerCertVerifier> = if self.insecure {
            warn_insecure_once();
            Arc::new(SignatureChecked {
                certificates: AcceptAnyCertificate,
                provider: provider.clone(),
            })
        } else {
            let platform = if self.extra_roots.is_empty() {
                rustls_platform_verifier::Verifier::new(provider.clone())
            } else {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    provider.clone(),
                )
            };
            Arc::new(SignatureChecked {
                certificates: TrustVerifier {
                    platform: platform.map_err(|e| {
                        format!("no trusted certificate authorities could be loaded ({e})")
                    }),
                    pinned: self.extra_roots.clone(),
                },
                provider: provider.clone(),
            })
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A `reqwest` client builder that uses these settings.
    pub fn http_client_builder(&self) -> Result<reqwest::ClientBuilder, TlsSetupError> {
        Ok(reqwest::Client::builder().tls_backend_preconfigured(self.client_config()?))
    }
}

/// Warns that verification is off, once per process however many clients are built.
fn warn_insecure_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "TLS certificate verification is off: anyone on the network path can read and change \
             the traffic, passwords and session ids included"
        );
    });
}

/// The cryptography used for TLS (ring), the one place the workspace names it.
///
/// rustls 0.23.48 deprecates `rustls::crypto::ring::default_provider` because ring offers no
/// post-quantum key exchange (rustls' aws-lc-rs provider does), and names no replacement for
/// ring itself. Moving to aws-lc-rs (a C library built with the crate, a larger binary) is a
/// choice of its own; until it is made, the deprecation is acknowledged here, once, so that a
/// program depending on icat-soap builds without a warning whatever rustls 0.23 it resolves.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(ring)
}

/// A `reqwest` client with the default trust (the system store), for tools and tests.
pub fn http_client() -> Result<reqwest::Client, TlsSetupError> {
    Trust::system()
        .http_client_builder()?
        .build()
        .map_err(|e| TlsSetupError::Setup(e.to_string()))
}

/// How a verifier decides whether to trust the server's certificate chain; the handshake
/// signatures are checked the same way for every policy, by [`SignatureChecked`].
trait CertificatePolicy: std::fmt::Debug + Send + Sync {
    /// Accepts or refuses the certificate chain the server presented (see
    /// [`ServerCertVerifier::verify_server_cert`]).
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error>;
}

/// A certificate policy plus the handshake-signature checks every verifier shares: whatever the
/// policy, the server must prove it holds the key of the certificate it presented.
#[derive(Debug)]
struct SignatureChecked<P> {
    certificates: P,
    provider: Arc<CryptoProvider>,
}

impl<P: CertificatePolicy> ServerCertVerifier for SignatureChecked<P> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.certificates.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The platform verifier, plus exact-match trust for a certificate given as a CA.
#[derive(Debug)]
struct TrustVerifier {
    platform: Result<rustls_platform_verifier::Verifier, String>,
    pinned: Vec<CertificateDer<'static>>,
}

impl CertificatePolicy for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.platform {
            Ok(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            Err(why) => Err(rustls::Error::General(why.clone())),
        };
        match verdict {
            Ok(ok) => Ok(ok),
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                check_pinned(end_entity, server_name, now)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }
}

/// The checks left for a certificate the user trusts by exact match: valid now, and for this host.
fn check_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let (not_before, not_after) = validity(cert.as_ref()).ok_or(
        rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
    )?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < not_before {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    parsed
        .verify_is_valid_for_subject_name(server_name)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
}

/// Accepts any certificate (insecure mode); [`SignatureChecked`] still checks the handshake
/// signatures.
#[derive(Debug)]
struct AcceptAnyCertificate;

impl CertificatePolicy for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
}

/// One DER element: its tag, its contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// `notBefore` and `notAfter` of a DER X.509 certificate, in Unix seconds.
fn validity(der: &[u8]) -> Option<(i64, i64)> {
    const SEQUENCE: u8 = 0x30;
    let (tag, cert, _) = der_element(der)?;
    (tag == SEQUENCE).then_some(())?;
    let (tag, tbs, _) = der_element(cert)?;
    (tag == SEQUENCE).then_some(())?;
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest)?.2;
    }
    for _ in 0..3 {
        rest = der_element(rest)?.2;
    }
    let (tag, validity, _) = der_element(rest)?;
    (tag == SEQUENCE).then_some(())?;
    let (tag_before, before, rest) = der_element(validity)?;
    let (tag_after, after, _) = der_element(rest)?;
    Some((der_time(tag_before, before)?, der_time(tag_after, after)?))
}

/// An X.509 `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`) in Unix seconds.
fn der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(&digits[..2]);
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (0x18, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return None,
    };
    // Two digits each: every value fits a u8.
    let two = |i: usize| num(&rest[i..i + 2]) as u8;
    let (month, day, hour, minute, second) = (two(0), two(2), two(4), two(6), two(8));
    if !calendar::is_valid_date(year, month, day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(calendar::unix_seconds(
        year, month, day, hour, minute, second,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_times_convert_to_unix_seconds() {
        assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(der_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(der_time(0x18, b"20000301000000Z"), Some(951_868_800));
        assert_eq!(der_time(0x18, b"99991231235959Z"), Some(253_402_300_799));
        assert_eq!(der_time(0x17, b"7001010000Z"), None);
        assert_eq!(der_time(0x17, b"701301000000Z"), None);
        // A day the month does not have (the calendar is icat_soap::calendar's).
        assert_eq!(der_time(0x18, b"20230229000000Z"), None);
        assert_eq!(der_time(0x18, b"20240229000000Z"), Some(1_709_164_800));
        assert_eq!(der_time(0x04, b"700101000000Z"), None);
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let mut trust = Trust::system();
        let err = trust.add_ca_pem(b"not a certificate", "x.pem").unwrap_err();
        assert!(matches!(err, TlsSetupError::NoCertificate { .. }), "{err}");
        let err = trust
            .add_ca_file(Path::new("/nonexistent/ca.pem"))
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn every_verifier_checks_handshake_signatures_the_same_way() {
        let provider = crypto_provider();
        let insecure = SignatureChecked {
            certificates: AcceptAnyCertificate,
            provider: provider.clone(),
        };
        let exact = SignatureChecked {
            certificates: TrustVerifier {
                platform: Err("none".into()),
                pinned: Vec::new(),
            },
            provider: provider.clone(),
        };
        let schemes = provider
            .signature_verification_algorithms
            .supported_schemes();
        assert!(!schemes.is_empty());
        assert_eq!(insecure.supported_verify_schemes(), schemes);
        assert_eq!(exact.supported_verify_schemes(), schemes);
        // Insecure mode trusts any certificate, never a bad signature.
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        let name = ServerName::try_from("localhost").unwrap();
        assert!(
            insecure
                .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
                .is_ok()
        );
        assert!(
            exact
                .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
                .is_err()
        );
    }

    #[test]
    fn truncated_der_has_no_validity() {
        assert_eq!(validity(&[]), None);
        assert_eq!(validity(&[0x30, 0x82, 0xff]), None);
        assert_eq!(validity(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
    }
}
