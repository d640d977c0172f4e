//! What is kept of a bundle's zip cut short (Ctrl-C, SIGTERM): the zip's central directory, at
//! its end, never arrived, so its entries are walked in order from their local headers; every
//! entry that arrived whole (its data descriptor read and matching the bytes) is extracted like
//! any bundle entry (bounded by its catalogue size, checked against the catalogue and the zip,
//! synced, renamed into place). The first entry cut short ends the walk.
//!
//! The layout read is the one `java.util.zip.ZipOutputStream` writes for ids.server's getData
//! zips (IdsBean.java: `putNextEntry` per datafile, deflated, sizes and CRC in a data descriptor
//! after each entry's data). Stored entries are read too: with their sizes in the local header,
//! or after the data (the zip crate's streaming writer, the simulator's), then delimited by the
//! catalogue size of the datafile they name and checked against their data descriptor.
//! Entries that need zip64 sizes are left alone (bundled files are small).
//!
//! Zips of bundles an earlier run left behind (killed with SIGKILL, or the machine went down,
//! mid-bundle) are walked the same way at the start of the next run, before they are removed.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::finish::finishing_in_parallel;
use super::names::{ZipLayout, check_no_symlinks, entry_path};
use super::part::{datafile_part, work_dir};
use super::raw::RawOutcome;
use super::report::{UnverifiedReason, Verification};
use super::zipfile::{ExtractOptions, Extracted, SelectedExtract, Wanted, extract_reader};
use crate::error::IdsError;

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// Flag bit 3: sizes and CRC follow the data.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
/// Flag bit 0: encrypted.
const FLAG_ENCRYPTED: u16 = 1;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
/// Largest entry read (sizes at or above it need zip64 records).
const MAX_ENTRY: u64 = 0xFFFF_FFFF;

/// One entry that arrived whole.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WholeEntry {
    name: Vec<u8>,
    /// Offset of its (compressed) data in the file.
    data_start: u64,
    compressed: u64,
    method: u16,
    crc: u32,
    size: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// CRC32 and length of what `r` gives, reading at most `MAX_ENTRY` bytes.
fn crc_of(r: &mut impl Read) -> io::Result<(u32, u64)> {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((h.finalize(), len));
        }
        len += n as u64;
        if len >= MAX_ENTRY {
            return Err(io::Error::other("entry needs zip64"));
        }
        h.update(&buf[..n]);
    }
}

/// The next entry of `r` (positioned at a local header) if it arrived whole; `None` at the end
/// of what arrived, at the central directory, or at anything this walk does not read.
fn next_whole(
    r: &mut BufReader<File>,
    size_of: &dyn Fn(&[u8]) -> Option<u64>,
) -> Option<WholeEntry> {
    let mut head = [0u8; 30];
    r.read_exact(&mut head).ok()?;
    if u32_at(&head, 0) != LOCAL_HEADER_SIG {
        return None;
    }
    let flags = u16_at(&head, 6);
    let method = u16_at(&head, 8);
    if flags & FLAG_ENCRYPTED != 0 || !matches!(method, METHOD_STORED | METHOD_DEFLATED) {
        return None;
    }
    let (name_len, extra_len) = (usize::from(u16_at(&head, 26)), u16_at(&head, 28));
    let mut name = vec![0u8; name_len];
    r.read_exact(&mut name).ok()?;
    r.seek_relative(i64::from(extra_len)).ok()?;
    let data_start = r.stream_position().ok()?;
    let descriptor = flags & FLAG_DESCRIPTOR != 0;
    let (crc, compressed, size) = if descriptor && method == METHOD_STORED {
        // Stored with its sizes after the data (the zip crate's streaming writer, which the
        // simulator uses): delimited by the catalogue size of the datafile it names, and whole
        // only when a descriptor matching those bytes follows them.
        let len = size_of(&name)?;
        if len >= MAX_ENTRY {
            return None;
        }
        let (crc, got) = crc_of(&mut (&mut *r).take(len)).ok()?;
        let mut d = [0u8; 16];
        r.read_exact(&mut d).ok()?;
        let ok = u32_at(&d, 0) == DATA_DESCRIPTOR_SIG
            && u32_at(&d, 4) == crc
            && u64::from(u32_at(&d, 8)) == len
            && u64::from(u32_at(&d, 12)) == len;
        if got != len || !ok {
            return None;
        }
        (crc, len, len)
    } else if descriptor {
        if method != METHOD_DEFLATED {
            return None;
        }
        let mut inflate = flate2::bufread::DeflateDecoder::new(&mut *r);
        let (crc, size) = crc_of(&mut inflate).ok()?;
        let compressed = inflate.total_in();
        drop(inflate);
        // The decoder took exactly the deflate stream from the buffer: the descriptor follows.
        let mut d = [0u8; 16];
        r.read_exact(&mut d[..12]).ok()?;
        let d = if u32_at(&d, 0) == DATA_DESCRIPTOR_SIG {
            r.read_exact(&mut d[12..16]).ok()?;
            &d[4..16]
        } else {
            &d[..12]
        };
        let (dcrc, dcomp, dsize) = (u32_at(d, 0), u32_at(d, 4), u32_at(d, 8));
        if dcrc != crc || u64::from(dcomp) != compressed || u64::from(dsize) != size {
            return None;
        }
        (crc, compressed, size)
    } else {
        let (hcrc, hcomp, hsize) = (
            u32_at(&head, 14),
            u64::from(u32_at(&head, 18)),
            u64::from(u32_at(&head, 22)),
        );
        if hcomp >= MAX_ENTRY || hsize >= MAX_ENTRY {
            return None;
        }
        let mut data = (&mut *r).take(hcomp);
        let (crc, size) = if method == METHOD_STORED {
            crc_of(&mut data).ok()?
        } else {
            crc_of(&mut flate2::bufread::DeflateDecoder::new(BufReader::new(
                data,
            )))
            .ok()?
        };
        if r.stream_position().ok()? != data_start + hcomp || crc != hcrc || size != hsize {
            return None;
        }
        (crc, hcomp, size)
    };
    Some(WholeEntry {
        name,
        data_start,
        compressed,
        method,
        crc,
        size,
    })
}

/// Every entry of the zip at `path` that arrived whole, in order; `size_of` gives the size of
/// the datafile an entry name stands for, when known (needed for stored entries whose sizes
/// follow their data).
fn whole_entries(
    path: &Path,
    size_of: &dyn Fn(&[u8]) -> Option<u64>,
) -> io::Result<Vec<WholeEntry>> {
    let mut r = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut out = Vec::new();
    while r.fill_buf().is_ok_and(|b| !b.is_empty()) {
        match next_whole(&mut r, size_of) {
            Some(e) => out.push(e),
            None => break,
        }
    }
    Ok(out)
}

/// Extract the wanted entries that arrived whole from the zip at `zip_path`, cut short; the
/// result has an entry for each of them (placed, or why not). Entries whose name appears twice
/// in what arrived are not trusted (as with a whole zip).
pub(crate) fn salvage_selected(
    zip_path: &Path,
    dest: &Path,
    wanted: &HashMap<PathBuf, Wanted>,
    opts: &ExtractOptions,
) -> SelectedExtract {
    let mut out = SelectedExtract::default();
    let size_of = |name: &[u8]| {
        let name = std::str::from_utf8(name).ok()?;
        let rel = entry_path(name, ZipLayout::VisitDataset).ok()?;
        wanted.get(rel.as_path())?.expected.size
    };
    let entries = match whole_entries(zip_path, &size_of) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(error = %e, "nothing salvaged from the cut zip");
            return out;
        }
    };
    let mut seen = HashSet::new();
    let repeated: HashSet<Vec<u8>> = entries
        .iter()
        .filter(|e| !seen.insert(e.name.clone()))
        .map(|e| e.name.clone())
        .collect();
    let Ok(mut file) = File::open(zip_path) else {
        return out;
    };
    // The walk stops at nothing the user asked for: a fresh token (the run is being stopped).
    let xopts = ExtractOptions {
        layout: ZipLayout::VisitDataset,
        cancel: CancellationToken::new(),
        ..opts.clone()
    };
    let work = work_dir(dest);
    let mut by_index: HashMap<usize, &Wanted> = HashMap::new();
    let ((), finished) = finishing_in_parallel(dest, opts.fsync, |finish| {
        for e in &entries {
            if repeated.contains(&e.name) || e.name.ends_with(b"/") {
                continue;
            }
            let Ok(name) = std::str::from_utf8(&e.name) else {
                continue;
            };
            let Ok(rel) = entry_path(name, ZipLayout::VisitDataset) else {
                continue;
            };
            let Some(w) = wanted.get(rel.as_path()) else {
                continue;
            };
            let label = w.path.as_path().display().to_string();
            let r = check_no_symlinks(dest, &w.path).and_then(|()| {
                file.seek(SeekFrom::Start(e.data_start))
                    .map_err(|err| IdsError::io("seek", zip_path, err))?;
                let data = BufReader::new((&mut file).take(e.compressed));
                let tmp = datafile_part(&work, w.id);
                let mut reader: Box<dyn Read> = if e.method == METHOD_DEFLATED {
                    Box::new(flate2::bufread::DeflateDecoder::new(data))
                } else {
                    Box::new(data)
                };
                extract_reader(
                    &mut reader,
                    (e.size, e.crc),
                    zip_path,
                    &label,
                    (dest, &w.path),
                    &tmp,
                    &w.expected,
                    &xopts,
                )
            });
            let outcome = |bytes: u64, skipped: bool| RawOutcome {
                bytes,
                resumed_from: 0,
                retries: 0,
                skipped,
                verification: Verification::from_catalogue(
                    &w.expected,
                    UnverifiedReason::ZipChecksumOnly,
                ),
                extra_digest: None,
            };
            match r {
                Ok(Extracted::Present(bytes)) => {
                    out.results.insert(w.index, Ok(outcome(bytes, true)));
                }
                Ok(Extracted::Written(f)) => {
                    by_index.insert(w.index, w);
                    finish(w.index, f);
                }
                Err(err) => {
                    out.results.insert(w.index, Err(err));
                }
            }
        }
    });
    for (index, r) in finished {
        if let Some(w) = by_index.get(&index) {
            let r = r.map(|bytes| RawOutcome {
                bytes,
                resumed_from: 0,
                retries: 0,
                skipped: false,
                verification: Verification::from_catalogue(
                    &w.expected,
                    UnverifiedReason::ZipChecksumOnly,
                ),
                extra_digest: None,
            });
            out.results.insert(index, r);
        }
    }
    tracing::info!(
        kept = out.results.values().filter(|r| r.is_ok()).count(),
        "stopped during a bundle: its files that arrived whole are kept"
    );
    out
}

/// The zips of bundles an earlier run left in `dest`'s work folder (it was killed mid-bundle,
/// so it could not keep their whole entries itself): every entry that arrived whole and is one
/// of the `wanted` datafiles is placed as [`salvage_selected`] does (checked against the
/// catalogue and the zip), so this run does not fetch it again. Returns how many files were
/// placed. The caller removes the zips afterwards.
pub(crate) async fn salvage_orphaned_zips(
    dest: &Path,
    wanted: HashMap<PathBuf, Wanted>,
    fsync: bool,
) -> usize {
    if wanted.is_empty() {
        return 0;
    }
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let work = work_dir(&dest);
        let Ok(rd) = std::fs::read_dir(&work) else {
            return 0;
        };
        let zips: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("zip-") && name.ends_with(".part")
            })
            .map(|e| e.path())
            .collect();
        let opts = ExtractOptions {
            layout: ZipLayout::VisitDataset,
            fsync,
            ..ExtractOptions::default()
        };
        let mut placed = 0;
        for zip in zips {
            let x = salvage_selected(&zip, &dest, &wanted, &opts);
            let n = x
                .results
                .values()
                .filter(|r| r.as_ref().is_ok_and(|o| !o.skipped))
                .count();
            if n > 0 {
                tracing::info!(files = n, zip = %zip.display(), "kept the whole entries of a zip an earlier run left");
            }
            placed += n;
        }
        placed
    })
    .await
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A zip as java.util.zip.ZipOutputStream writes it (deflated, data descriptors).
    fn java_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new_stream(Vec::new());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        for (name, data) in entries {
            w.start_file(*name, o).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// The zip crate's streaming writer (the simulator's) stores entries with their sizes after
    /// the data: they are delimited by the catalogue size and checked against the descriptor.
    #[test]
    fn stored_entries_with_sizes_after_the_data_are_found_by_their_catalogue_size() {
        let mut w = zip::ZipWriter::new_stream(Vec::new());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in [("v/ds/a", vec![3u8; 5000]), ("v/ds/b", vec![4u8; 7000])] {
            w.start_file(name, o).unwrap();
            w.write_all(&data).unwrap();
        }
        let zip = w.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z");
        let sizes = |name: &[u8]| match name {
            b"v/ds/a" => Some(5000),
            b"v/ds/b" => Some(7000),
            _ => None,
        };
        std::fs::write(&path, &zip).unwrap();
        assert_eq!(whole_entries(&path, &sizes).unwrap().len(), 2);
        // Cut inside the second entry: the first only. A wrong size finds nothing.
        let second = whole_entries(&path, &sizes).unwrap()[1].data_start as usize;
        std::fs::write(&path, &zip[..second + 100]).unwrap();
        assert_eq!(whole_entries(&path, &sizes).unwrap().len(), 1);
        assert!(whole_entries(&path, &|_| Some(4999)).unwrap().is_empty());
    }

    #[test]
    fn entries_that_arrived_whole_are_found_and_the_cut_one_is_not() {
        // Bytes deflate cannot shrink, so the entries keep their size in the zip.
        let noise = |seed: u64, len: usize| {
            let mut x = seed | 1;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect::<Vec<u8>>()
        };
        let a = noise(1, 70_000);
        let b = noise(2, 50_000);
        let zip = java_zip(&[("v/ds/a", &a), ("v/ds/b", &b)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z");
        std::fs::write(&path, &zip).unwrap();
        let whole = whole_entries(&path, &|_| None).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].name, b"v/ds/a");
        assert_eq!(whole[0].size, 70_000);
        assert_eq!(whole[0].crc, crc32fast::hash(&a));
        // Cut inside the second entry's data: only the first arrived whole.
        let cut = whole[1].data_start as usize + 1000;
        std::fs::write(&path, &zip[..cut]).unwrap();
        let whole = whole_entries(&path, &|_| None).unwrap();
        assert_eq!(whole.len(), 1);
        // Cut inside the first entry's descriptor: nothing.
        let cut = (whole[0].data_start + whole[0].compressed) as usize + 5;
        std::fs::write(&path, &zip[..cut]).unwrap();
        assert!(whole_entries(&path, &|_| None).unwrap().is_empty());
    }
}
