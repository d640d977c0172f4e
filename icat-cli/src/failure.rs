//! Typed CLI failures, their exit codes, and the one-line error message printed for them.

use std::fmt;

/// What kind of failure ended the command; each kind has its own exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Anything not covered by a more specific kind.
    Other,
    /// Bad command line or configuration (also what clap uses for usage errors).
    Usage,
    /// Login failed, session expired or no credentials available.
    Auth,
    /// The visit, dataset, datafile or file asked for does not exist (or is not visible).
    NotFound,
    /// The ICAT or IDS server failed, refused the request or could not be reached.
    Server,
    /// Downloaded data did not match its recorded size or checksum.
    Verify,
    /// Files were downloaded, but the catalogue gave nothing to verify some of them against.
    Unverified,
    /// Logged in, but the server refuses this user the action (no read or write access).
    Denied,
    /// Archived data is not online yet: not restored from tape within `--max-wait` (with
    /// `--max-wait 0` not waited for). The restore goes on at the server; a rerun continues.
    NotOnline,
    /// Interrupted by Ctrl-C; partial raw downloads are kept for the next run.
    Interrupted,
}

impl ExitKind {
    /// The process exit code for this kind.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Other => 1,
            ExitKind::Usage => 2,
            ExitKind::Auth => 3,
            ExitKind::NotFound => 4,
            ExitKind::Server => 5,
            ExitKind::Verify => 6,
            ExitKind::Unverified => 7,
            ExitKind::Denied => 8,
            ExitKind::NotOnline => 9,
            ExitKind::Interrupted => 130,
        }
    }
}

/// The exit code table as a string literal, for use inside `concat!`.
#[macro_export]
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0    success
  1    other error
  2    usage or configuration error
  3    authentication failed (wrong credentials, expired session, no password)
  4    not found (unknown visit, dataset, datafile or file)
  5    server error (ICAT or IDS failed, refused the request or is unreachable)
  6    verification failed (size or checksum mismatch, or more data than the catalogue size)
  7    downloaded, but some files could not be verified (no size or checksum in the catalogue)
  8    permission denied (logged in, but this user may not read or change that data)
  9    archived data not online yet: not restored from tape within --max-wait, not waited
       for with --max-wait 0 (the restore goes on at the server; rerun later to continue), or
       an upload into an archived dataset (icat restore --dataset ID --wait first)
  130  interrupted by Ctrl-C or SIGTERM (finished files, partial large files and the files
       of a bundle that arrived whole are kept, a bundle's file cut short is fetched again;
       rerun to resume)"
    };
}

/// Text for `icat --help` listing the exit codes.
pub const EXIT_CODES_HELP: &str = exit_codes_help!();

/// A failure the CLI understands: a kind (for the exit code), what happened, and what to do.
#[derive(Debug)]
pub struct Failure {
    /// The kind, which selects the exit code.
    pub kind: ExitKind,
    /// What happened.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with a hint.
    pub fn new(kind: ExitKind, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A failure without a hint.
    pub fn bare(kind: ExitKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage or configuration failure.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(ExitKind::Usage, message, hint)
    }

    /// A not-found failure.
    pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(ExitKind::NotFound, message, hint)
    }

    /// An authentication failure.
    pub fn auth(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(ExitKind::Auth, message, hint)
    }

    /// A permission refusal: the user is known, the action is not allowed.
    pub fn denied(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(ExitKind::Denied, message, hint)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.hint {
            // Server text often ends with a period: "refused.; ask" reads as a typo.
            Some(hint) => write!(f, "{}; {}", without_final_stop(&self.message), hint),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}

/// `text` without trailing periods and spaces (one ellipsis-free clause to go before `; `).
pub fn without_final_stop(text: &str) -> &str {
    text.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// Collapses a message to one line (servers sometimes send multi-line text).
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        let kinds = [
            ExitKind::Other,
            ExitKind::Usage,
            ExitKind::Auth,
            ExitKind::NotFound,
            ExitKind::Server,
            ExitKind::Verify,
            ExitKind::Unverified,
            ExitKind::Denied,
            ExitKind::NotOnline,
            ExitKind::Interrupted,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        for code in codes {
            assert!(
                EXIT_CODES_HELP.contains(&format!("  {code} ")),
                "code {code} missing from help"
            );
        }
    }

    #[test]
    fn failure_prints_message_and_hint_on_one_line() {
        let f = Failure::usage("no ICAT URL configured", "pass -w URL or set ICAT_SERVICE");
        assert_eq!(
            f.to_string(),
            "no ICAT URL configured; pass -w URL or set ICAT_SERVICE"
        );
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }

    /// Issue-16 finding: a message ending with a period was followed by `; hint` (".;").
    #[test]
    fn no_period_before_the_hint() {
        let f = Failure::denied("the server says: not allowed.", "ask the owner");
        assert_eq!(f.to_string(), "the server says: not allowed; ask the owner");
        assert_eq!(f.kind.code(), 8);
    }
}
