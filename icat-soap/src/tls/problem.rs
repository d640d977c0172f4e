//! What a failed TLS connection says about the server, read from the typed rustls and webpki
//! errors in an error's source chain, so that callers can give advice in plain words.

use std::error::Error;

use rustls::{CertificateError, InvalidMessage};

/// Why a TLS connection failed, as far as advice to a user goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate is not trusted: self-signed, or signed by a certificate
    /// authority that is neither in the system store nor in a given CA file.
    Untrusted,
    /// The certificate is for another host name.
    WrongHost,
    /// The certificate has expired or is not valid yet (or the local clock is wrong).
    NotValidNow,
    /// The server did not answer with TLS at all (plain http on an https URL).
    NotTls,
    /// Any other TLS failure.
    Other,
}

/// The TLS problem behind `err`: the first rustls error in its source chain (also inside
/// `io::Error`s, whose `source` skips the wrapped error), classified; `None` when the chain
/// holds no rustls error (not a TLS failure).
pub fn tls_problem(err: &(dyn Error + 'static)) -> Option<TlsProblem> {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(classify(tls));
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => e.source(),
        };
    }
    None
}

/// The problem a rustls error stands for.
pub fn classify(err: &rustls::Error) -> TlsProblem {
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsProblem::Untrusted
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::WrongHost
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsProblem::NotValidNow,
            // webpki errors rustls has no variant for travel as `Other`: a CA certificate used
            // as the server's own (the openssl-style self-signed one) is one of them.
            CertificateError::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::CaUsedAsEndEntity | webpki::Error::UnknownIssuer) => {
                    TlsProblem::Untrusted
                }
                _ => TlsProblem::Other,
            },
            _ => TlsProblem::Other,
        },
        rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType) => TlsProblem::NotTls,
        _ => TlsProblem::Other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn other(e: webpki::Error) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
    }

    #[test]
    fn certificate_errors_are_classified_by_type() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(classify(&unknown), TlsProblem::Untrusted);
        assert_eq!(
            classify(&other(webpki::Error::CaUsedAsEndEntity)),
            TlsProblem::Untrusted
        );
        assert_eq!(classify(&other(webpki::Error::BadDer)), TlsProblem::Other);
        assert_eq!(
            classify(&rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName
            )),
            TlsProblem::WrongHost
        );
        assert_eq!(
            classify(&rustls::Error::InvalidCertificate(
                CertificateError::Expired
            )),
            TlsProblem::NotValidNow
        );
        assert_eq!(
            classify(&rustls::Error::InvalidMessage(
                InvalidMessage::InvalidContentType
            )),
            TlsProblem::NotTls
        );
    }

    #[test]
    fn the_chain_is_walked_through_io_errors() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(tls_problem(&io), Some(TlsProblem::Untrusted));
        let plain = std::io::Error::other("connection refused");
        assert_eq!(tls_problem(&plain), None);
    }
}
