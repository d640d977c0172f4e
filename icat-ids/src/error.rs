//! Typed errors of the IDS client and the download engine, each saying what the user can do.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong talking to an IDS or moving its bytes to disk.
///
/// Server errors come from the IDS `{"code","message"}` body plus the HTTP status; transport,
/// verification and local file errors are separate variants so callers can react to each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdsError {
    /// 400: the IDS rejected the request's parameters.
    #[error(
        "IDS rejected the request (bad request): {message}. Check the ids, session and options you passed."
    )]
    BadRequest {
        /// The server's message.
        message: String,
    },
    /// 403: the session is invalid or expired, or the user may not read this data.
    #[error(
        "IDS refused access (insufficient privileges): {message}. Log in again if your session expired, or ask the data owner for access."
    )]
    InsufficientPrivileges {
        /// The server's message.
        message: String,
    },
    /// 404: an investigation, dataset, datafile or prepared id is unknown.
    #[error(
        "IDS could not find it (not found): {message}. Check the ids; a prepared id may have been evicted, prepare the data again."
    )]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// 503 `DataNotOnlineException`: the data is on tape or busy; a restore has been requested.
    /// Wait (see [`crate::IdsClient::prepare_and_wait`]) and try again.
    #[error(
        "data is not online yet: {message}. The IDS has queued a restore; wait and retry, or use prepare-and-wait."
    )]
    DataNotOnline {
        /// The server's message.
        message: String,
    },
    /// 500 "Restore failed": the IDS could not restore the data from archive storage.
    #[error(
        "IDS failed to restore the data from archive storage: {message}. Call `reset` for this selection (or prepare it again) and retry; if it fails again contact the facility."
    )]
    RestoreFailed {
        /// The server's message.
        message: String,
    },
    /// 500: the IDS failed internally.
    #[error(
        "IDS internal error: {message}. Retry later; if it persists report it to the facility."
    )]
    Internal {
        /// The server's message.
        message: String,
    },
    /// 501: the IDS does not offer this call (read-only, single-level storage, or unknown endpoint).
    #[error(
        "IDS does not support this operation: {message}. The server is read-only, single-level or older than IDS 2.1."
    )]
    NotImplemented {
        /// The server's message.
        message: String,
    },
    /// 503 or 429 with a `Retry-After` header: the server (or a proxy in front of it) is
    /// overloaded and says when to come back. Retried after at least that pause.
    #[error(
        "IDS is busy (HTTP {status}; it asks to wait {} before trying again): {}. Fewer transfers at once (--parallel) may help.",
        whole_seconds(*retry_after),
        sentence(message)
    )]
    Busy {
        /// HTTP status (503 or 429).
        status: u16,
        /// The pause the server asked for (capped at one hour).
        retry_after: Duration,
        /// The server's message, or the start of the body.
        message: String,
    },
    /// Any other error status or an error code this client does not know.
    #[error("IDS answered HTTP {status} ({code}): {message}")]
    Server {
        /// HTTP status code.
        status: u16,
        /// The `code` field of the body, or `-` if there was none.
        code: String,
        /// The `message` field, or the start of the body.
        message: String,
    },
    /// The server answered with something this client cannot understand.
    #[error(
        "unexpected answer from IDS to {call}: {detail}. Is the URL really an IDS (https://host:port/ids)?"
    )]
    UnexpectedResponse {
        /// Which call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The IDS URL is not usable.
    #[error(
        "invalid IDS URL {url:?}: {reason}. Use e.g. https://host:8181 or https://host:8181/ids"
    )]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Transport options could not be applied (CA file unreadable, bad proxy, ...).
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// No session id was set but the call needs one.
    #[error("no IDS session: log in to ICAT first and pass the session id to the IDS client")]
    NoSession,
    /// Could not connect to the server. What failed is the [`source`](std::error::Error::source),
    /// not repeated in the `Display` text.
    #[error("cannot connect to IDS at {url}. Check the URL, your network and proxy settings.")]
    Connect {
        /// The URL called.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// A timeout expired (connect, read, or the whole operation).
    #[error(
        "IDS call {call} timed out after {after:?}. The server is slow or unreachable; raise the timeout or retry later."
    )]
    Timeout {
        /// Which call.
        call: &'static str,
        /// The limit that expired.
        after: Duration,
    },
    /// Any other HTTP transport failure (TLS, connection reset, body decode, ...). What failed is
    /// the [`source`](std::error::Error::source), not repeated in the `Display` text.
    #[error("HTTP transport error calling IDS {call}")]
    Transport {
        /// Which call.
        call: &'static str,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer to a small call (not a download) was larger than the client accepts: a broken
    /// or hostile server (it would otherwise fill the memory).
    #[error(
        "the IDS answer to {call} is larger than {limit} bytes, far more than such an answer holds; the server is broken or hostile: tell the facility, or check the IDS URL"
    )]
    AnswerTooLarge {
        /// Which call.
        call: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// The IDS redirected to another origin (scheme, host or port), which this client does not
    /// follow: the session id would travel there (or in clear text, from https to http).
    #[error(
        "IDS call {call} was redirected (HTTP {status}) to {location}, another address, which is not followed so the session id stays with the IDS; if that address is the right IDS, use it as the IDS URL"
    )]
    Redirected {
        /// Which call.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// Where the server pointed (cleaned, shortened, the session id masked).
        location: String,
    },
    /// The IDS kept redirecting within itself (same origin) until the client stopped following:
    /// a loop, or a chain longer than the client follows. Not "another address": the target is
    /// the IDS itself.
    #[error(
        "IDS call {call} was still being redirected (HTTP {status}, to {location}) after {followed} redirects within the IDS; its redirects go round in a loop. The IDS is misconfigured: report it to the facility, and check the IDS URL is the one the facility gives"
    )]
    RedirectLoop {
        /// Which call.
        call: &'static str,
        /// The HTTP status of the last redirect.
        status: u16,
        /// Where the last redirect pointed (cleaned, shortened, the session id masked).
        location: String,
        /// Redirects followed before the client stopped.
        followed: usize,
    },
    /// The connection ended before all bytes of a file arrived (retried with a ranged request).
    #[error("transfer of {file} ended early: {received} of {expected} bytes")]
    IncompleteTransfer {
        /// The datafile's name or path.
        file: String,
        /// Bytes received.
        received: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The operation was cancelled by the caller (Ctrl-C). Partial raw downloads are kept and a
    /// later run resumes them; a partial zip is removed (zips are always fetched whole).
    #[error("cancelled; partial raw downloads are kept and a later run resumes them")]
    Cancelled,
    /// The server sent more bytes than expected (the catalogue's `fileSize`, else the announced
    /// length): reading stopped at once and the bytes were thrown away.
    #[error(
        "the IDS sent more than the expected {expected} bytes for {file}; stopped reading and kept nothing. The catalogue or the server is wrong: report it to the facility."
    )]
    BodyTooLong {
        /// The datafile's name or path (or zip entry).
        file: String,
        /// The most bytes that were expected.
        expected: u64,
    },
    /// Two datafiles of one download differ only in letter case, so on a case-insensitive file
    /// system (macOS, Windows) one would overwrite the other; neither is downloaded.
    #[error(
        "{path} and {other} differ only in letter case or in how accented letters are encoded (Unicode normalisation) and would be one file on macOS or Windows; neither was downloaded. Download them separately (e.g. with --match) into different directories."
    )]
    NameCollision {
        /// This datafile's local path.
        path: PathBuf,
        /// The other datafile's local path.
        other: PathBuf,
    },
    /// `prepare_and_wait` gave up at its deadline.
    #[error(
        "data for prepared id {prepared_id} was still not online after {} of waiting. It may still be restoring from tape: wait longer (raise WaitOptions::deadline), or poll the same prepared id again later.",
        crate::error::whole_seconds(*waited)
    )]
    DeadlineExceeded {
        /// The prepared id (safe to show: it is not a session).
        prepared_id: String,
        /// How long was waited.
        waited: Duration,
    },
    /// A downloaded file's size differs from the catalogue's `fileSize`.
    #[error(
        "size mismatch for {file}: catalogue says {expected} bytes, downloaded {actual} bytes. The partial file was kept at {part}; retry the download."
    )]
    SizeMismatch {
        /// The datafile's name or path.
        file: String,
        /// Expected size (from ICAT).
        expected: u64,
        /// Received size.
        actual: u64,
        /// Where the bytes were kept.
        part: PathBuf,
    },
    /// A downloaded file's CRC32 differs from the catalogue's `checksum`.
    #[error(
        "checksum mismatch for {file}: catalogue says CRC32 {expected}, downloaded data has {actual}. The data was kept at {part}; retry, and report it to the facility if it persists."
    )]
    ChecksumMismatch {
        /// The datafile's name or path.
        file: String,
        /// Expected checksum as stored in ICAT.
        expected: String,
        /// Checksum of the received bytes (lower-case hex, no padding).
        actual: String,
        /// Where the bytes were kept.
        part: PathBuf,
    },
    /// After an upload the IDS reported a different checksum or size than what was sent.
    #[error(
        "upload of {file} corrupted: sent {sent_size} bytes with CRC32 {sent_crc:x}, IDS stored {stored_size} bytes with CRC32 {stored_crc:x}. Delete datafile {datafile_id} and upload again."
    )]
    UploadMismatch {
        /// Local file name.
        file: String,
        /// Id of the datafile the IDS created.
        datafile_id: i64,
        /// CRC32 computed while sending.
        sent_crc: u32,
        /// CRC32 the server reported.
        stored_crc: u32,
        /// Bytes sent.
        sent_size: u64,
        /// Bytes the server stored.
        stored_size: u64,
    },
    /// A name from the server (zip entry or datafile name) would escape or corrupt the destination.
    #[error(
        "refusing unsafe name {name:?} from the server: {reason}. Nothing was written outside the destination."
    )]
    UnsafeName {
        /// The name as received (lossy).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Another download run holds the destination's lock: two runs writing into one
    /// destination would write into the same temporary files.
    #[error(
        "another download is writing into {dest} (it holds {lock}); wait for it to finish, or download into another directory"
    )]
    DestinationBusy {
        /// The destination.
        dest: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A folder on the way to a final path is no longer a plain folder inside the destination
    /// (something on this machine replaced it by a symbolic link or a file during the run): the
    /// file was not placed through it.
    #[error(
        "not placing {path}: {reason}; nothing was written through it. Check what changed in the destination and run the same command again."
    )]
    LocalPathChanged {
        /// The final path that was not written.
        path: PathBuf,
        /// What was found.
        reason: &'static str,
    },
    /// A symbolic link on this machine stands where the download writes: a folder or file on
    /// the way to a datafile's path, the work folder or a temporary file. Links are never
    /// followed (one planted in the destination could send the data anywhere); the file fails
    /// alone, nothing is written through the link. A local problem, not the server's.
    #[error(
        "{link} is a symbolic link ({what}); a download never writes through links, so nothing was written there. Remove or rename the link, or download into another folder."
    )]
    LinkInDestination {
        /// The link.
        link: PathBuf,
        /// Where it stands.
        what: &'static str,
    },
    /// The server answered a ranged request with data that does not start where asked (or a
    /// partial answer to a request for the whole file): the bytes cannot be joined to the
    /// partial download.
    #[error(
        "the IDS answered the download of {file} with the wrong part of the file ({detail}); the partial data was thrown away. Retry; report it to the facility if it persists."
    )]
    BadRange {
        /// The datafile's name or path.
        file: String,
        /// What was asked for and what came.
        detail: String,
    },
    /// Two entries would land on the same local path.
    #[error(
        "two datafiles (or zip entries) would be written to the same local path {path}: their visit, dataset and file names coincide; nothing was written there. Download them one at a time into separate directories."
    )]
    DuplicatePath {
        /// The colliding path.
        path: PathBuf,
    },
    /// The final target already exists and differs from what the catalogue says.
    #[error(
        "{path} already exists and does not match the catalogue ({detail}); move it away, or allow replacing it (the new copy is verified before it replaces the old one)"
    )]
    TargetExists {
        /// The existing file.
        path: PathBuf,
        /// How it differs.
        detail: String,
    },
    /// The zip from the server is corrupt or unreadable.
    #[error(
        "zip archive {path} is invalid: {detail}. A zip from the IDS is removed, never reused: retry the download, and report it to the facility if it persists."
    )]
    BadZip {
        /// The downloaded zip.
        path: PathBuf,
        /// What the zip reader said.
        detail: String,
    },
    /// A file whose size the catalogue does not give grew past the room at its destination:
    /// the free space there, minus a 64 MiB margin kept free. Reading stopped and its bytes were
    /// thrown away; nothing is at its final path.
    #[error(
        "not enough free space on {dir} for {file}: it needs more than the {room} bytes left there ({free} bytes free, 64 MiB of them kept free; the catalogue gives no size for this file). Free some space or download to another disk; if the file cannot be that large, the server is wrong: report it to the facility."
    )]
    NotEnoughSpace {
        /// The datafile's name or path (or zip entry).
        file: String,
        /// The folder the file was being written to.
        dir: PathBuf,
        /// The bytes the file may take there (free space minus the margin).
        room: u64,
        /// The free space there when the transfer started.
        free: u64,
    },
    /// A datafile whose catalogue size alone is more than the free space at its destination
    /// (or absurd, like `i64::MAX`): it is not fetched, the other files are.
    #[error(
        "{file} is {size} bytes by the catalogue, more than the {free} bytes free on {dir}: it was not downloaded. Free some space or download it to another disk; if the file cannot be that large, the catalogue is wrong: report it to the facility."
    )]
    LargerThanFreeSpace {
        /// The datafile (its name and id).
        file: String,
        /// Its catalogue size.
        size: u64,
        /// The destination.
        dir: PathBuf,
        /// The free space there.
        free: u64,
    },
    /// A zip from the IDS lists one entry name twice (two copies of one datafile): which copy
    /// is right cannot be told, so neither is extracted and a file already there stays as it is.
    #[error(
        "the zip from the IDS holds {path} more than once; neither copy was extracted and any file already there was left as it is. The IDS built a broken zip: download this datafile without a zip (each file is then fetched on its own and verified), and report it to the facility."
    )]
    ZipEntryRepeated {
        /// The local path the entries map to.
        path: PathBuf,
    },
    /// A zip from the IDS holds a symbolic link or a folder under the name of a selected
    /// datafile, where the file itself was expected: nothing is extracted for it.
    #[error(
        "the zip from the IDS holds {kind} where the datafile {path} was expected; nothing was written there. The IDS built a broken zip: download this datafile without a zip (each file is then fetched on its own and verified), and report it to the facility."
    )]
    ZipEntryNotAFile {
        /// The local path the entry maps to.
        path: PathBuf,
        /// What the entry is instead: "a symbolic link" or "a folder".
        kind: &'static str,
    },
    /// The disk is full while writing.
    #[error(
        "disk full while writing {path}: free some space and run the same command again (raw downloads resume where they stopped; a zip is fetched again)"
    )]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// A file reached the file size limit of this process (`ulimit -f`, `RLIMIT_FSIZE`): the
    /// write failed with `EFBIG` (a program that does not catch `SIGXFSZ` is killed instead).
    #[error(
        "{path} reached the file size limit of this shell (ulimit -f): raise it (ulimit -f unlimited) and run the same command again (raw downloads resume from what was written; a zip is fetched again)"
    )]
    FileTooLarge {
        /// The file being written.
        path: PathBuf,
    },
    /// A local file operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was attempted ("create", "write", "rename", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An ICAT Datafile lacks a field needed to place or check it locally.
    #[error(
        "datafile {datafile} has no {field}: search it with INCLUDE dataset.investigation (e.g. `SELECT df FROM Datafile df INCLUDE df.dataset.investigation`)"
    )]
    MissingMetadata {
        /// The datafile's id or name.
        datafile: String,
        /// The missing field.
        field: &'static str,
    },
    /// The ICAT session behind the IDS calls could not be refreshed or renewed. Why is the
    /// [`source`](std::error::Error::source), not repeated in `Display`.
    #[error(
        "the ICAT session used for the IDS could not be refreshed or renewed (log in again; a session made with re-login enabled renews itself)"
    )]
    SessionRenewal {
        /// The ICAT error.
        #[source]
        source: icat_soap::IcatError,
    },
    /// Retries were exhausted while downloading. The last attempt's error is the
    /// [`source`](std::error::Error::source), not repeated in `Display`.
    #[error("download of {file} failed after {attempts} attempts")]
    RetriesExhausted {
        /// The datafile's name or path.
        file: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        #[source]
        last: Box<IdsError>,
    },
    /// A multi-file download stopped: the IDS failed this many times in a row, across its
    /// files, without any bytes arriving; the files not yet done were not tried again. The last
    /// failure is the [`source`](std::error::Error::source) (an `Arc<IdsError>`, as the run's
    /// stop reason shares it; `last` gives it typed), not repeated in `Display`.
    #[error("{}", unreachable_text(*failures, last))]
    Unreachable {
        /// Failed attempts in a row.
        failures: u32,
        /// The last failure (shared: the run's stop reason and the file's error hold the same).
        #[source]
        last: std::sync::Arc<IdsError>,
    },
}

impl IdsError {
    /// Map a local I/O error on `path`, turning "no space left" into [`IdsError::DiskFull`]
    /// and "file too large" (`EFBIG`, the `ulimit -f` limit) into [`IdsError::FileTooLarge`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if is_disk_full(&source) {
            IdsError::DiskFull { path }
        } else if source.kind() == std::io::ErrorKind::FileTooLarge {
            IdsError::FileTooLarge { path }
        } else {
            IdsError::Io { op, path, source }
        }
    }

    /// Build the error for an IDS error response from its status and body.
    pub fn from_response(status: u16, body: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            code: Option<String>,
            message: Option<String>,
        }
        let parsed: Option<Body> = serde_json::from_str(body.trim()).ok();
        // Everything from the server is cleaned: bounded, and no control characters that
        // could drive the user's terminal when the error is printed.
        let (code, message) = match parsed {
            Some(b) => (
                clean(&b.code.unwrap_or_default(), MAX_CODE_LEN),
                b.message
                    .map_or_else(|| truncate(body), |m| clean(&m, MAX_MESSAGE_LEN)),
            ),
            None => (String::new(), truncate(body)),
        };
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        match (code.as_str(), status) {
            ("BadRequestException", _) | ("", 400) => IdsError::BadRequest { message },
            ("InsufficientPrivilegesException", _) | ("", 403) => {
                IdsError::InsufficientPrivileges { message }
            }
            ("NotFoundException", _) | ("", 404) => IdsError::NotFound { message },
            // A 503 without the IDS's JSON body comes from a proxy in front of a stopped or
            // overloaded IDS: a transient server error, not data waiting for a restore.
            ("DataNotOnlineException", _) => IdsError::DataNotOnline { message },
            ("InternalException", _) if message.starts_with("Restore failed") => {
                IdsError::RestoreFailed { message }
            }
            ("InternalException", _) | ("InsufficientStorageException", _) | ("", 500) => {
                IdsError::Internal { message }
            }
            ("NotImplementedException", _) | ("NOT_IMPLEMENTED", _) | ("", 501) => {
                IdsError::NotImplemented { message }
            }
            _ => IdsError::Server {
                status,
                code: if code.is_empty() { "-".into() } else { code },
                message,
            },
        }
    }

    /// True for errors worth retrying after a pause (dropped connections, timeouts, 5xx busy).
    pub fn is_transient(&self) -> bool {
        match self {
            // A certificate the client does not trust stays untrusted: not worth a retry.
            IdsError::Connect { source, .. } | IdsError::Transport { source, .. } => {
                icat_soap::tls::tls_problem(source).is_none()
            }
            IdsError::Timeout { .. }
            | IdsError::IncompleteTransfer { .. }
            | IdsError::Unreachable { .. } => true,
            IdsError::DataNotOnline { message } => message.contains("busy"),
            IdsError::Internal { .. } | IdsError::Busy { .. } => true,
            IdsError::Server { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Server text ending a clause of ours: without its own closing full stop and blanks, so that
/// "{message}. Our advice" never reads "Retry later.. Our advice".
fn sentence(message: &str) -> &str {
    message.trim_end().trim_end_matches('.').trim_end()
}

/// What [`IdsError::Unreachable`] says: a busy IDS (its answers asked to come back later) is
/// called busy, anything else failing.
fn unreachable_text(failures: u32, last: &IdsError) -> String {
    if let IdsError::Busy { status, .. } = last {
        format!(
            "the IDS stayed busy: it refused {failures} requests in a row (HTTP {status}, come \
             back later) with no data arriving; the download stopped. Try again later, when the \
             IDS has room for your downloads: finished files are kept and partial ones resume."
        )
    } else {
        format!(
            "the IDS failed {failures} times in a row with no data arriving; the download \
             stopped. Try again when the IDS is back: finished files are kept and partial ones \
             resume."
        )
    }
}

/// A duration rounded to what people read: `1 s`, `4 min 5 s`, `2 h 10 min`.
fn whole_seconds(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// True when the OS error means the file system is full or over quota.
fn is_disk_full(e: &std::io::Error) -> bool {
    // ENOSPC = 28, EDQUOT = 122 on Linux; StorageFull covers the portable kind.
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28) | Some(122))
}

/// Longest server message kept in an error (bytes).
const MAX_MESSAGE_LEN: usize = 1000;
/// Longest server error code kept in an error (bytes).
const MAX_CODE_LEN: usize = 100;
/// Longest excerpt of a body that is not an IDS JSON error (bytes).
const MAX_EXCERPT_LEN: usize = 300;

/// The start of a body, for messages (never the whole of a large body).
fn truncate(body: &str) -> String {
    clean(body, MAX_EXCERPT_LEN)
}

/// Server text made safe to show (the one cleaning function, shared with the ICAT client).
fn clean(text: &str, max: usize) -> String {
    icat_soap::untrusted::clean_text(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14's breaker, finding 21: under `ulimit -f` the write fails with EFBIG (once the
    /// CLI catches SIGXFSZ); that is a typed error naming the limit, not "cannot write".
    #[test]
    fn a_write_past_the_file_size_limit_is_file_too_large() {
        let e = IdsError::io(
            "write",
            "out/.icat-download/df-1.part",
            std::io::Error::from_raw_os_error(27), // EFBIG on Linux
        );
        assert!(matches!(e, IdsError::FileTooLarge { .. }), "{e:?}");
        assert!(e.to_string().contains("ulimit -f"), "{e}");
    }

    /// Reviewer finding 5 (issue 19): "... at most 1 per user. Retry later.. Try again later,
    /// or with fewer transfers at once": a double full stop and the advice twice.
    #[test]
    fn a_busy_answer_reads_as_one_sentence_with_one_advice() {
        let e = IdsError::Busy {
            status: 503,
            retry_after: Duration::from_secs(2),
            message: "Too many concurrent downloads: at most 1 per user. Retry later.\n".into(),
        };
        let text = e.to_string();
        assert!(!text.contains(".."), "{text}");
        assert!(!text.contains("Try again later"), "{text}");
        assert!(text.contains("wait 2 s before trying again"), "{text}");
        assert!(
            text.contains("at most 1 per user. Retry later. Fewer transfers"),
            "{text}"
        );
        let stop = IdsError::Unreachable {
            failures: 6,
            last: std::sync::Arc::new(e),
        };
        assert!(stop.to_string().contains("the IDS stayed busy"), "{stop}");
    }

    #[test]
    fn maps_codes_and_statuses() {
        let e =
            IdsError::from_response(400, r#"{"code":"BadRequestException","message":"bad id"}"#);
        assert!(matches!(e, IdsError::BadRequest { ref message } if message == "bad id"));
        let e = IdsError::from_response(
            503,
            r#"{"code":"DataNotOnlineException","message":"restoring"}"#,
        );
        assert!(matches!(e, IdsError::DataNotOnline { .. }));
        let e = IdsError::from_response(
            500,
            r#"{"code":"InternalException","message":"Restore failed"}"#,
        );
        assert!(matches!(e, IdsError::RestoreFailed { .. }));
        let e = IdsError::from_response(
            501,
            r#"{"code":"NOT_IMPLEMENTED","message":"Operation not implemented by this IDS server."}"#,
        );
        assert!(matches!(e, IdsError::NotImplemented { .. }));
        let e = IdsError::from_response(403, "<html>Forbidden</html>");
        assert!(
            matches!(e, IdsError::InsufficientPrivileges { ref message } if message.contains("Forbidden"))
        );
        let e = IdsError::from_response(418, r#"{"code":"Teapot","message":"short"}"#);
        assert!(matches!(e, IdsError::Server { status: 418, .. }));
        let e = IdsError::from_response(503, "<html><h1>503 Service Unavailable</h1></html>");
        assert!(matches!(e, IdsError::Server { status: 503, .. }) && e.is_transient());
        let e = IdsError::from_response(502, "<html>Bad Gateway</html>");
        assert!(matches!(e, IdsError::Server { status: 502, .. }) && e.is_transient());
        let e = IdsError::from_response(404, "");
        assert!(matches!(e, IdsError::NotFound { ref message } if message == "HTTP 404"));
    }

    #[test]
    fn wrapping_errors_say_their_source_once() {
        use std::error::Error as _;
        let last = IdsError::from_response(
            500,
            r#"{"code":"InternalException","message":"disk on fire"}"#,
        );
        let last_text = last.to_string();
        let e = IdsError::RetriesExhausted {
            file: "a.dat".into(),
            attempts: 3,
            last: Box::new(last),
        };
        assert!(!e.to_string().contains("disk on fire"), "{e}");
        assert_eq!(e.source().map(|s| s.to_string()), Some(last_text));
        let renewal = IdsError::SessionRenewal {
            source: icat_soap::IcatError::from_fault("SESSION", "session expired", -1),
        };
        assert!(
            !renewal.to_string().contains("session expired"),
            "{renewal}"
        );
        assert!(
            renewal
                .source()
                .is_some_and(|s| s.to_string().contains("session expired"))
        );
    }

    #[test]
    fn disk_full_is_typed() {
        let e = IdsError::io("write", "/x/y", std::io::Error::from_raw_os_error(28));
        assert!(matches!(e, IdsError::DiskFull { .. }));
        assert!(e.to_string().contains("/x/y"));
    }

    #[test]
    fn hostile_messages_are_bounded_and_cannot_drive_the_terminal() {
        let long = format!(
            r#"{{"code":"Teapot\u001b[2J","message":"{}\u001b]0;pwned\u0007\nrest"}}"#,
            "x".repeat(5000)
        );
        let e = IdsError::from_response(418, &long);
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.len() < 1300, "{}", shown.len());
        let IdsError::Server { code, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(code, "Teapot [2J");
        let e = IdsError::from_response(500, "line one\r\nline two\u{1b}[31m");
        assert!(!e.to_string().chars().any(char::is_control), "{e}");
    }

    #[test]
    fn long_bodies_are_truncated_on_char_boundary() {
        let body = "é".repeat(400);
        let e = IdsError::from_response(500, &body);
        assert!(matches!(e, IdsError::Internal { ref message } if message.len() <= 300));
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever an IDS (or a proxy in front of it) answers, the error is typed, non-empty,
        /// bounded and printable.
        #[test]
        fn any_error_body_gives_a_clean_typed_error(
            status in 100u16..600,
            code in prop_oneof![Just(None), proptest::option::of("\\PC{0,30}"), Just(Some("NotFoundException".to_string()))],
            message in proptest::option::of(any::<String>()),
            raw in any::<String>(),
            json in any::<bool>(),
        ) {
            let body = if json {
                serde_json::json!({"code": code, "message": message}).to_string()
            } else {
                raw
            };
            let e = IdsError::from_response(status, &body);
            let shown = e.to_string();
            prop_assert!(!shown.is_empty());
            prop_assert!(shown.len() <= 2000, "{} bytes", shown.len());
            prop_assert!(!shown.chars().any(char::is_control), "{:?}", shown);
        }
    }
}
