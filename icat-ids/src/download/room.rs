//! The byte bound for data whose size the catalogue does not give (absent or negative
//! `fileSize`): the destination's free space minus a margin, or an explicit cap, whichever is
//! less; and the error for data going past a bound, which says which bound it was.

use std::path::Path;

use crate::IdsError;

/// Free space left untouched when a file of unknown size is written: 64 MiB, the same margin
/// the `icat` command keeps beyond the data it needs.
pub const FREE_SPACE_MARGIN: u64 = 64 * 1024 * 1024;

/// The most bytes a file (or a zip) may take, and where that number comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// A size given for the data (catalogue `fileSize`, `Content-Length`, a zip entry's declared
    /// size) or the caller's cap (`unknown_size_limit`): more is [`IdsError::BodyTooLong`].
    Size(u64),
    /// The room at the destination, `free` minus [`FREE_SPACE_MARGIN`]: more is
    /// [`IdsError::NotEnoughSpace`].
    Room {
        /// The bytes the file may take.
        bytes: u64,
        /// The free space read at the destination.
        free: u64,
    },
}

impl Bound {
    /// The number of bytes allowed.
    pub(crate) fn bytes(self) -> u64 {
        match self {
            Bound::Size(n) | Bound::Room { bytes: n, .. } => n,
        }
    }

    /// The error for `file`, written under `dir`, going past this bound.
    pub(crate) fn exceeded(self, file: &str, dir: &Path) -> IdsError {
        match self {
            Bound::Size(expected) => IdsError::BodyTooLong {
                file: file.to_owned(),
                expected,
            },
            Bound::Room { bytes, free } => IdsError::NotEnoughSpace {
                file: file.to_owned(),
                dir: dir.to_path_buf(),
                room: bytes,
                free,
            },
        }
    }
}

/// Most bytes a file of unknown size may take when written under `dir`: the free space there
/// minus [`FREE_SPACE_MARGIN`], lowered to `cap` when one is set. `None` only when there is no
/// cap and the free space cannot be read (non-Unix platforms, or `statvfs` failing).
pub(crate) fn unknown_size_bound(dir: &Path, cap: Option<u64>) -> Option<Bound> {
    bound_from(free_space(dir), cap)
}

/// [`unknown_size_bound`] for a given free space.
fn bound_from(free: Option<u64>, cap: Option<u64>) -> Option<Bound> {
    let room = free.map(|free| Bound::Room {
        bytes: free.saturating_sub(FREE_SPACE_MARGIN),
        free,
    });
    tighter(room, cap.map(Bound::Size))
}

/// The smaller of two optional bounds, `None` only when both are; on a tie a given size wins
/// (the data was longer than it said, whatever the room).
pub(crate) fn tighter(a: Option<Bound>, b: Option<Bound>) -> Option<Bound> {
    match (a, b) {
        (Some(x), Some(y)) if x.bytes() < y.bytes() => Some(x),
        (Some(x), Some(y)) if y.bytes() < x.bytes() => Some(y),
        (Some(x @ Bound::Size(_)), Some(_)) | (Some(_), Some(x)) => Some(x),
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

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_cap_lowers_the_free_space_bound() {
        let dir = std::env::temp_dir();
        assert_eq!(unknown_size_bound(&dir, Some(10)), Some(Bound::Size(10)));
        let size = |n| Some(Bound::Size(n));
        assert_eq!(tighter(size(3), None), size(3));
        assert_eq!(tighter(size(3), size(2)), size(2));
        assert_eq!(tighter(None, None), None);
    }

    /// Issue 14: data of unknown size stopped by the room at the destination was reported as
    /// `BodyTooLong` ("the IDS sent more than the expected N bytes ... the catalogue or the
    /// server is wrong"), a server problem, when the disk was what ran out. It is
    /// `NotEnoughSpace`, naming the folder, what was needed and what was free.
    #[test]
    fn a_free_space_stop_is_not_enough_space_not_a_body_too_long() {
        let room = bound_from(Some(100 * MIB), None).expect("a bound");
        assert_eq!(
            room,
            Bound::Room {
                bytes: 36 * MIB,
                free: 100 * MIB
            }
        );
        let e = room.exceeded("v/d/f.dat", Path::new("/data/out/v/d"));
        assert!(matches!(e, IdsError::NotEnoughSpace { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("not enough free space on /data/out/v/d for v/d/f.dat"),
            "{text}"
        );
        assert!(
            text.contains(&(36 * MIB).to_string()) && text.contains(&(100 * MIB).to_string()),
            "{text}"
        );
        // Less free space than the margin: no room at all.
        assert_eq!(bound_from(Some(MIB), None).map(Bound::bytes), Some(0));
        // The room binds below a cap, the cap below the room; a size given for the data wins
        // a tie.
        assert!(matches!(
            bound_from(Some(100 * MIB), Some(u64::MAX)),
            Some(Bound::Room { .. })
        ));
        assert_eq!(
            bound_from(Some(100 * MIB), Some(MIB)),
            Some(Bound::Size(MIB))
        );
        assert_eq!(
            tighter(Some(room), Some(Bound::Size(36 * MIB))),
            Some(Bound::Size(36 * MIB))
        );
        assert!(matches!(
            Bound::Size(5).exceeded("f", Path::new("d")),
            IdsError::BodyTooLong { expected: 5, .. }
        ));
    }

    /// The room read from this machine's disk is a `Room` bound, so an unknown-size transfer
    /// that outgrows it is reported as `NotEnoughSpace`.
    #[cfg(unix)]
    #[test]
    fn the_room_read_from_the_disk_is_a_room_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            unknown_size_bound(dir.path(), None),
            Some(Bound::Room { .. })
        ));
    }
}
