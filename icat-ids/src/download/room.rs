//! The byte bound for data whose size the catalogue does not give (absent or negative
//! `fileSize`): the destination's free space minus a margin, or an explicit cap, whichever is less.

use std::path::Path;

/// Free space left untouched when a file of unknown size is written: 64 MiB, the same margin
/// the `icat` command keeps beyond the data it needs.
pub const FREE_SPACE_MARGIN: u64 = 64 * 1024 * 1024;

/// Most bytes a file of unknown size may take when written under `dir`: the free space there
/// minus [`FREE_SPACE_MARGIN`], lowered to `cap` when one is set. `None` only when there is no
/// cap and the free space cannot be read (non-Unix platforms, or `statvfs` failing).
pub(crate) fn unknown_size_bound(dir: &Path, cap: Option<u64>) -> Option<u64> {
    let room = free_space(dir).map(|free| free.saturating_sub(FREE_SPACE_MARGIN));
    match (room, cap) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    }
}

/// The smaller of two optional bounds, `None` only when both are.
pub(crate) fn tighter(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Bytes available to this user on the file system holding `dir` (or, when `dir` does not
/// exist yet, its nearest existing ancestor).
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let st = dir.ancestors().find_map(|d| rustix::fs::statvfs(d).ok())?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Free space is not read on this platform.
#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_lowers_the_free_space_bound() {
        let dir = std::env::temp_dir();
        assert_eq!(unknown_size_bound(&dir, Some(10)), Some(10));
        assert_eq!(tighter(Some(3), None), Some(3));
        assert_eq!(tighter(Some(3), Some(2)), Some(2));
        assert_eq!(tighter(None, None), None);
    }
}
