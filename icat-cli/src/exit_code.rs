//! The exit code and the one line of text that end a failed command, for any error: the CLI's own
//! [`Failure`]s, ICAT errors and IDS errors.

use icat_ids::IdsError;
use icat_soap::IcatError;

use crate::failure::{ExitKind, Failure, one_line};

/// The exit kind for an ICAT error.
pub fn icat_error_kind(e: &IcatError) -> ExitKind {
    match e {
        IcatError::Session { .. } => ExitKind::Auth,
        IcatError::InsufficientPrivileges { .. } => ExitKind::Denied,
        IcatError::NoSuchObjectFound { .. } => ExitKind::NotFound,
        IcatError::BadParameter { .. } => ExitKind::Usage,
        IcatError::RetriesExhausted { last, .. } => icat_error_kind(last),
        _ => ExitKind::Server,
    }
}

/// The exit kind for an IDS error.
pub fn ids_error_kind(e: &IdsError) -> ExitKind {
    match e {
        // The IDS client has already tried a renewed session when it reports this: what is
        // left is a refusal of the data, not of the login.
        // ... unless the IDS does not know the session at all: another ICAT's IDS (or the
        // session ended).
        IdsError::InsufficientPrivileges { message }
            if crate::advice::ids_does_not_know_the_session(message) =>
        {
            ExitKind::Auth
        }
        IdsError::InsufficientPrivileges { .. } => ExitKind::Denied,
        IdsError::NoSession => ExitKind::Auth,
        // A 404 that is not an IDS answer: the IDS URL is wrong (a configuration error).
        IdsError::NotFound { message } if crate::advice::not_an_ids_404(message) => ExitKind::Usage,
        IdsError::NotFound { .. } => ExitKind::NotFound,
        IdsError::BadRequest { .. } | IdsError::InvalidUrl { .. } | IdsError::Config(_) => {
            ExitKind::Usage
        }
        IdsError::SizeMismatch { .. }
        | IdsError::ChecksumMismatch { .. }
        | IdsError::BodyTooLong { .. }
        | IdsError::UploadMismatch { .. } => ExitKind::Verify,
        IdsError::NameCollision { .. } => ExitKind::Other,
        IdsError::Cancelled => ExitKind::Interrupted,
        // `restore --wait` past --max-wait: not online yet, the restore goes on.
        IdsError::DeadlineExceeded { .. } => ExitKind::NotOnline,
        IdsError::SessionRenewal { source } => icat_error_kind(source),
        IdsError::DiskFull { .. }
        | IdsError::FileTooLarge { .. }
        | IdsError::LargerThanFreeSpace { .. }
        | IdsError::NotEnoughSpace { .. }
        | IdsError::Io { .. }
        | IdsError::TargetExists { .. }
        | IdsError::DestinationBusy { .. }
        | IdsError::DuplicatePath { .. }
        | IdsError::LocalPathChanged { .. }
        | IdsError::LinkInDestination { .. } => ExitKind::Other,
        _ => ExitKind::Server,
    }
}

/// The exit kind and the one-line message for an error.
pub fn describe_error(err: &anyhow::Error) -> (ExitKind, String) {
    let mut kind = ExitKind::Other;
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            kind = f.kind;
            break;
        }
        if let Some(e) = cause.downcast_ref::<IcatError>() {
            kind = icat_error_kind(e);
            break;
        }
        if let Some(e) = cause.downcast_ref::<IdsError>() {
            kind = ids_error_kind(e);
            break;
        }
    }
    // Context layers first, then the cause, on one line. A library error the CLI words itself
    // already says everything its sources would (in plain words): the chain stops there.
    let mut text = String::new();
    for cause in err.chain() {
        let part = crate::advice::cli_text(cause);
        let reworded = crate::advice::has_cli_wording(cause);
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        if reworded {
            break;
        }
    }
    // Server text often ends with a period before our "; hint" or ": cause" (".;").
    let text = one_line(&text).replace(".; ", "; ").replace(".: ", ": ");
    // Server text is in there (fault messages, names): no control characters, bounded.
    (
        kind,
        icat_soap::untrusted::clean_text(&text, MAX_ERROR_LINE),
    )
}

/// Most bytes of the one-line error message printed.
const MAX_ERROR_LINE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_their_exit_codes_on_one_line() {
        let e = anyhow::Error::new(IcatError::Session {
            message: "Session id:x has\nexpired".into(),
            offset: -1,
        });
        let (kind, line) = describe_error(&e);
        assert_eq!(kind, ExitKind::Auth);
        assert!(
            !line.contains('\n') && line.contains("Log in again"),
            "{line}"
        );
        let e = anyhow::Error::new(IcatError::NoSuchObjectFound {
            message: "no".into(),
            offset: -1,
        });
        assert_eq!(describe_error(&e).0, ExitKind::NotFound);
        let e = anyhow::Error::new(IdsError::ChecksumMismatch {
            file: "f".into(),
            expected: "1".into(),
            actual: "2".into(),
            part: "f.part".into(),
        });
        assert_eq!(describe_error(&e).0, ExitKind::Verify);
        let e = anyhow::Error::new(IdsError::NotFound {
            message: "gone".into(),
        });
        assert_eq!(describe_error(&e).0, ExitKind::NotFound);
        let e = anyhow::Error::new(Failure::usage("bad", "fix it")).context("while parsing");
        let (kind, line) = describe_error(&e);
        assert_eq!(kind, ExitKind::Usage);
        assert_eq!(line, "while parsing: bad; fix it");
    }
}
