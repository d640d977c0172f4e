//! ICAT REST errors (`icat find`, its facets) as CLI failures with advice, shared by `find` and
//! `find_facets`.

use icat_rest::RestError;
use icat_soap::model::IcatExceptionType;

use crate::failure::{ExitKind, Failure};

/// A REST error as a CLI failure with advice.
pub fn rest_failure(e: RestError) -> Failure {
    let text = e.to_string();
    match &e {
        RestError::Icat { kind, .. } => match kind {
            IcatExceptionType::Session => Failure::auth(text, "log in again with `icat login`"),
            IcatExceptionType::InsufficientPrivileges => {
                Failure::auth(text, "ask the facility for access")
            }
            IcatExceptionType::BadParameter | IcatExceptionType::Validation => Failure::usage(
                text,
                "check the search text (Lucene syntax), dates and --parameter values",
            ),
            _ => Failure::new(
                ExitKind::Server,
                text,
                "try again later, or ask the facility",
            ),
        },
        RestError::NoEndpoint { .. } => Failure::new(
            ExitKind::Server,
            text,
            "browse with `icat visits` or query with `icat search 'JPQL'` instead",
        ),
        RestError::Session(_) => Failure::auth(text, "log in again with `icat login`"),
        RestError::RetriesExhausted { .. } => Failure::new(
            ExitKind::Server,
            text,
            "the server or a gateway in front of it keeps failing; try again later, or raise \
             --retries (retries in icat.cfg)",
        ),
        RestError::Config { .. } => Failure::usage(text, "check -w/--url and --ca-file"),
        _ => Failure::new(
            ExitKind::Server,
            text,
            "check the network and -w/--url, then run the same command again",
        ),
    }
}
