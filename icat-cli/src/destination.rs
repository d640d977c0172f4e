//! Checks a download's destination before the first byte: it must be (or become) a directory,
//! be writable, and have room for what is still to be fetched, with a margin.

use std::path::Path;

use crate::failure::Failure;
use crate::output::human_bytes;

/// Free space kept beyond the data itself: 1% of it plus 64 MiB, for file system overhead,
/// `.part` files and whatever else writes to the disk meanwhile.
pub fn with_margin(bytes: u64) -> u64 {
    bytes
        .saturating_add(bytes / 100)
        .saturating_add(64 * 1024 * 1024)
}

/// Bytes still to fetch for files of these catalogue sizes, given as (final path, partial
/// download path, size): files already at their final path count as nothing, partial downloads
/// count for what they still miss.
pub fn still_needed<'a>(files: impl IntoIterator<Item = (&'a Path, &'a Path, Option<u64>)>) -> u64 {
    files
        .into_iter()
        .map(|(path, part, size)| {
            let size = size.unwrap_or(0);
            if path.is_file() {
                return 0;
            }
            let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
            size.saturating_sub(have)
        })
        .sum()
}

/// Creates `dest` if needed and checks that it is a writable directory with room for `needed`
/// bytes plus the margin. Every failure is a usage error (exit 2) naming `-o`.
pub fn prepare(dest: &Path, needed: u64) -> Result<(), Failure> {
    let shown = dest.display();
    let not_a_dir = || {
        Failure::usage(
            format!("{shown} is not a directory"),
            "give -o a directory (it is created if missing)",
        )
    };
    if dest.exists() && !dest.is_dir() {
        return Err(not_a_dir());
    }
    if let Err(e) = std::fs::create_dir_all(dest) {
        // A path through an existing file.
        if dest.ancestors().skip(1).any(Path::is_file) {
            return Err(not_a_dir());
        }
        return Err(Failure::usage(
            format!("cannot create {shown}: {e}"),
            "choose another directory with -o",
        ));
    }
    if let Err(e) = tempfile::Builder::new()
        .prefix(".icat-write-check")
        .tempfile_in(dest)
    {
        return Err(Failure::usage(
            format!("cannot write to {shown}: {e}"),
            "choose a directory you can write to with -o",
        ));
    }
    if let Some(free) = free_space(dest)
        && free < with_margin(needed)
    {
        return Err(Failure::usage(
            format!(
                "not enough room in {shown}: the download needs {} (plus a margin of {}), {} is free",
                human_bytes(needed),
                human_bytes(with_margin(needed) - needed),
                human_bytes(free)
            ),
            "free some space, narrow the selection (--match, --exclude, --dataset) or choose another disk with -o",
        ));
    }
    Ok(())
}

/// Bytes available to this user on the file system holding `dir`.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Free space is not checked on this platform.
#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_room() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare(&file, 0).unwrap_err();
        assert!(e.message.ends_with("is not a directory"), "{e}");
        let e = prepare(&file.join("sub"), 0).unwrap_err();
        assert!(e.message.ends_with("is not a directory"), "{e}");
        let e = prepare(dir.path(), u64::MAX / 2).unwrap_err();
        assert!(e.message.contains("not enough room"), "{e}");
        prepare(&dir.path().join("new/deeper"), 1).unwrap();
        assert!(dir.path().join("new/deeper").is_dir());
        assert_eq!(
            std::fs::read_dir(dir.path().join("new/deeper"))
                .unwrap()
                .count(),
            0,
            "the write check leaves nothing behind"
        );
        let part = dir.path().join("f.part");
        std::fs::write(&part, [0u8; 10]).unwrap();
        let target = dir.path().join("f");
        assert_eq!(
            still_needed([(target.as_path(), part.as_path(), Some(25))]),
            15
        );
        assert_eq!(
            still_needed([(file.as_path(), part.as_path(), Some(25))]),
            0
        );
        assert_eq!(with_margin(0), 64 * 1024 * 1024);
    }
}
