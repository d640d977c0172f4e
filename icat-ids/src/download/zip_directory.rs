//! Reading a zip's central directory ourselves to find entry names listed more than once: the
//! `zip` crate keeps one entry per name (the last one listed), so a second copy of an entry is
//! invisible through its API and would be extracted in place of the first.

use std::collections::HashSet;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::IdsError;

/// Signature of a central directory file header (`PK\x01\x02`).
const CENTRAL_HEADER: u32 = 0x0201_4b50;
/// Fixed part of a central directory file header; the name follows it.
const FIXED_LEN: usize = 46;

/// The entry names (raw bytes) that the central directory of `zip_path`, starting at
/// `directory_start` (absolute offset, as [`zip::ZipArchive::central_directory_start`] gives it),
/// lists more than once. Reading stops at the first record that is not a file header, after
/// `max_records` records, or at the end of the file.
pub(crate) fn repeated_names(
    zip_path: &Path,
    directory_start: u64,
    max_records: usize,
) -> Result<HashSet<Vec<u8>>, IdsError> {
    let io = |e| IdsError::io("read", zip_path, e);
    let file = std::fs::File::open(zip_path).map_err(io)?;
    let mut r = BufReader::new(file);
    r.seek(SeekFrom::Start(directory_start)).map_err(io)?;
    let mut seen = HashSet::new();
    let mut repeated = HashSet::new();
    let mut fixed = [0u8; FIXED_LEN];
    for _ in 0..max_records {
        if r.read_exact(&mut fixed).is_err() {
            break;
        }
        let u16_at = |i: usize| u16::from_le_bytes([fixed[i], fixed[i + 1]]);
        if u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]) != CENTRAL_HEADER {
            break;
        }
        let (name_len, extra_len, comment_len) = (u16_at(28), u16_at(30), u16_at(32));
        let mut name = vec![0u8; usize::from(name_len)];
        if r.read_exact(&mut name).is_err() {
            break;
        }
        let skip = i64::from(extra_len) + i64::from(comment_len);
        r.seek_relative(skip).map_err(io)?;
        if !seen.insert(name.clone()) {
            repeated.insert(name);
        }
    }
    Ok(repeated)
}
