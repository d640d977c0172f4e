//! Which ICAT calls may be retried: the operations that may be repeated and the failures worth
//! another try. How often and how patiently is the workspace's one [`RetryPolicy`].

use crate::IcatError;
pub use crate::retry::RetryPolicy;
use crate::retry::Verdict;

/// True for operations that read only, so that repeating one after a lost answer is harmless: the
/// generated [`OperationInfo::read_only`](crate::meta::OperationInfo::read_only) flag. Operations
/// these bindings do not know are never retried.
pub fn is_idempotent(operation: &str) -> bool {
    crate::meta::operation(operation).is_some_and(|op| op.read_only)
}

/// True for failures that another attempt may not meet: no connection, a connection broken while
/// the answer arrived, or a gateway reporting the service briefly unavailable.
pub fn is_retryable(e: &IcatError) -> bool {
    match e {
        IcatError::Connect { .. } | IcatError::Interrupted { .. } => true,
        IcatError::Http { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

/// The [`Verdict`] on a failed call of `operation`: transient (with the pause the server asked
/// for, if any) when the operation is read-only and the failure [retryable](is_retryable).
pub fn verdict(operation: &str, e: &IcatError) -> Verdict {
    if is_idempotent(operation) && is_retryable(e) {
        Verdict::Transient {
            retry_after: match e {
                IcatError::Http { retry_after, .. } => *retry_after,
                _ => None,
            },
        }
    } else {
        Verdict::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_are_idempotent() {
        for op in ["search", "get", "getUserName", "refresh", "getApiVersion"] {
            assert!(is_idempotent(op), "{op}");
        }
        for op in [
            "login",
            "logout",
            "create",
            "createMany",
            "update",
            "delete",
            "deleteMany",
            "noSuchOperation",
        ] {
            assert!(!is_idempotent(op), "{op}");
        }
    }

    /// A real connection-refused error, as the transport reports it.
    async fn refused() -> IcatError {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let client = crate::Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
        client.post_envelope(b"<x/>".to_vec()).await.unwrap_err()
    }

    #[tokio::test]
    async fn only_transient_failures_are_retried() {
        let http = |status| IcatError::Http {
            status,
            url: "u".into(),
            excerpt: String::new(),
            retry_after: None,
        };
        assert!(is_retryable(&http(503)) && is_retryable(&http(502)) && is_retryable(&http(504)));
        assert!(!is_retryable(&http(500)) && !is_retryable(&http(404)));
        let refused = refused().await;
        assert!(matches!(refused, IcatError::Connect { .. }), "{refused:?}");
        assert!(is_retryable(&refused));
        assert!(!is_retryable(&IcatError::from_fault("INTERNAL", "m", -1)));
        assert!(!is_retryable(&IcatError::from_fault("SESSION", "m", -1)));
        assert!(!is_retryable(&IcatError::Timeout {
            url: "u".into(),
            after: std::time::Duration::from_secs(1)
        }));
    }
}
