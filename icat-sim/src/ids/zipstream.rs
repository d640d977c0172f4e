//! A streaming zip writer: entries are deflated straight into any `Write`, never seeking.
//!
//! Each entry has a local header with bit 3 set (sizes and CRC follow the data in a data
//! descriptor), like `java.util.zip.ZipOutputStream`. Zip64 records are written when sizes,
//! offsets or the entry count need them. Memory use is a fixed buffer, whatever the file sizes.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::write::DeflateEncoder;

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// Flags: bit 3 (data descriptor) and bit 11 (names are UTF-8).
const FLAGS: u16 = 0x0808;
const METHOD_DEFLATED: u16 = 8;
/// DOS date 1980-01-01 00:00:00: entries carry a fixed time so that the same selection always
/// gives the same bytes (which makes `Range` resumption of zips safe).
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
const U32_MAX: u64 = 0xFFFF_FFFF;
/// Largest payload of one deflate stored block.
const MAX_STORED_BLOCK: usize = 0xFFFF;
/// Files at least this large get a zip64 local header (deflate can grow data slightly).
const ZIP64_LOCAL_THRESHOLD: u64 = 0xFFFF_0000;

/// A `Write` that counts the bytes passed through.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct CentralEntry {
    name: String,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
}

/// Writes a zip archive entry by entry to `W`.
pub struct ZipStreamWriter<W: Write> {
    out: Counting<W>,
    entries: Vec<CentralEntry>,
    names: std::collections::HashSet<String>,
    compress: bool,
    buf: Vec<u8>,
}

impl<W: Write> ZipStreamWriter<W> {
    /// A writer deflating at the default level (`compress`) or at level 0 (stored blocks
    /// inside DEFLATED entries, as the real IDS does for `compress=false`).
    pub fn new(out: W, compress: bool) -> Self {
        ZipStreamWriter {
            out: Counting {
                inner: out,
                count: 0,
            },
            entries: Vec::new(),
            names: std::collections::HashSet::new(),
            compress,
            buf: vec![0u8; 256 * 1024],
        }
    }

    /// Whether an entry of this name was already written (the IDS skips duplicates).
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Add an entry named `name` with the bytes of `data`; `size_hint` is the expected
    /// uncompressed size (used only to decide on zip64 headers).
    pub fn add_entry(
        &mut self,
        name: &str,
        data: &mut impl Read,
        size_hint: u64,
    ) -> io::Result<()> {
        let offset = self.out.count;
        let zip64_local = size_hint >= ZIP64_LOCAL_THRESHOLD;
        let mut header = Vec::with_capacity(30 + name.len() + 20);
        put_u32(&mut header, LOCAL_HEADER_SIG);
        put_u16(&mut header, if zip64_local { 45 } else { 20 });
        put_u16(&mut header, FLAGS);
        put_u16(&mut header, METHOD_DEFLATED);
        put_u16(&mut header, DOS_TIME);
        put_u16(&mut header, DOS_DATE);
        put_u32(&mut header, 0);
        let placeholder = if zip64_local { 0xFFFF_FFFF } else { 0 };
        put_u32(&mut header, placeholder);
        put_u32(&mut header, placeholder);
        put_u16(&mut header, name.len() as u16);
        put_u16(&mut header, if zip64_local { 20 } else { 0 });
        header.extend_from_slice(name.as_bytes());
        if zip64_local {
            put_u16(&mut header, 0x0001);
            put_u16(&mut header, 16);
            put_u64(&mut header, 0);
            put_u64(&mut header, 0);
        }
        self.out.write_all(&header)?;

        let data_start = self.out.count;
        let mut crc = crc32fast::Hasher::new();
        let mut uncompressed = 0u64;
        if self.compress {
            let mut encoder = DeflateEncoder::new(&mut self.out, Compression::default());
            loop {
                let n = read_some(data, &mut self.buf)?;
                if n == 0 {
                    break;
                }
                crc.update(&self.buf[..n]);
                uncompressed += n as u64;
                encoder.write_all(&self.buf[..n])?;
            }
            encoder.finish()?;
        } else {
            // Deflate level 0 is a sequence of stored blocks; writing them directly runs at
            // memory speed. Every block is byte-aligned, so a final empty block ends the stream.
            loop {
                let n = read_some(data, &mut self.buf)?;
                if n == 0 {
                    break;
                }
                crc.update(&self.buf[..n]);
                uncompressed += n as u64;
                for block in self.buf[..n].chunks(MAX_STORED_BLOCK) {
                    self.out
                        .write_all(&stored_block_header(block.len() as u16, false))?;
                    self.out.write_all(block)?;
                }
            }
            self.out.write_all(&stored_block_header(0, true))?;
        }
        let compressed = self.out.count - data_start;
        let crc = crc.finalize();

        let mut descriptor = Vec::with_capacity(24);
        put_u32(&mut descriptor, DATA_DESCRIPTOR_SIG);
        put_u32(&mut descriptor, crc);
        if zip64_local || compressed >= U32_MAX || uncompressed >= U32_MAX {
            put_u64(&mut descriptor, compressed);
            put_u64(&mut descriptor, uncompressed);
        } else {
            put_u32(&mut descriptor, compressed as u32);
            put_u32(&mut descriptor, uncompressed as u32);
        }
        self.out.write_all(&descriptor)?;
        self.names.insert(name.to_string());
        self.entries.push(CentralEntry {
            name: name.to_string(),
            crc,
            compressed,
            uncompressed,
            offset,
        });
        Ok(())
    }

    /// Write the central directory and end records; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_start = self.out.count;
        for e in &self.entries {
            let mut extra = Vec::new();
            if e.uncompressed >= U32_MAX {
                put_u64(&mut extra, e.uncompressed);
            }
            if e.compressed >= U32_MAX {
                put_u64(&mut extra, e.compressed);
            }
            if e.offset >= U32_MAX {
                put_u64(&mut extra, e.offset);
            }
            let zip64 = !extra.is_empty();
            let mut h = Vec::with_capacity(46 + e.name.len() + 4 + extra.len());
            put_u32(&mut h, CENTRAL_HEADER_SIG);
            put_u16(&mut h, 0x0300 | if zip64 { 45 } else { 20 });
            put_u16(&mut h, if zip64 { 45 } else { 20 });
            put_u16(&mut h, FLAGS);
            put_u16(&mut h, METHOD_DEFLATED);
            put_u16(&mut h, DOS_TIME);
            put_u16(&mut h, DOS_DATE);
            put_u32(&mut h, e.crc);
            put_u32(&mut h, e.compressed.min(U32_MAX) as u32);
            put_u32(&mut h, e.uncompressed.min(U32_MAX) as u32);
            put_u16(&mut h, e.name.len() as u16);
            put_u16(&mut h, if zip64 { extra.len() as u16 + 4 } else { 0 });
            put_u16(&mut h, 0);
            put_u16(&mut h, 0);
            put_u16(&mut h, 0);
            put_u32(&mut h, 0o100644 << 16);
            put_u32(&mut h, e.offset.min(U32_MAX) as u32);
            h.extend_from_slice(e.name.as_bytes());
            if zip64 {
                put_u16(&mut h, 0x0001);
                put_u16(&mut h, extra.len() as u16);
                h.extend_from_slice(&extra);
            }
            self.out.write_all(&h)?;
        }
        let cd_end = self.out.count;
        let cd_size = cd_end - cd_start;
        let count = self.entries.len() as u64;
        let need64 = count >= 0xFFFF || cd_size >= U32_MAX || cd_start >= U32_MAX;
        let mut end = Vec::with_capacity(98);
        if need64 {
            put_u32(&mut end, ZIP64_END_SIG);
            put_u64(&mut end, 44);
            put_u16(&mut end, 0x0300 | 45);
            put_u16(&mut end, 45);
            put_u32(&mut end, 0);
            put_u32(&mut end, 0);
            put_u64(&mut end, count);
            put_u64(&mut end, count);
            put_u64(&mut end, cd_size);
            put_u64(&mut end, cd_start);
            put_u32(&mut end, ZIP64_LOCATOR_SIG);
            put_u32(&mut end, 0);
            put_u64(&mut end, cd_end);
            put_u32(&mut end, 1);
        }
        put_u32(&mut end, END_SIG);
        put_u16(&mut end, 0);
        put_u16(&mut end, 0);
        put_u16(&mut end, count.min(0xFFFF) as u16);
        put_u16(&mut end, count.min(0xFFFF) as u16);
        put_u32(&mut end, cd_size.min(U32_MAX) as u32);
        put_u32(&mut end, cd_start.min(U32_MAX) as u32);
        put_u16(&mut end, 0);
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

/// The 5-byte header of a deflate stored block (BTYPE 00) of `len` bytes.
fn stored_block_header(len: u16, last: bool) -> [u8; 5] {
    let [lo, hi] = len.to_le_bytes();
    let [nlo, nhi] = (!len).to_le_bytes();
    [u8::from(last), lo, hi, nlo, nhi]
}

/// Read into `buf`, retrying on interruption; 0 means end of data.
fn read_some(data: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match data.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put_u64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn build(entries: &[(&str, &[u8])], compress: bool) -> Vec<u8> {
        let mut w = ZipStreamWriter::new(Vec::new(), compress);
        for (name, data) in entries {
            w.add_entry(name, &mut Cursor::new(data), data.len() as u64)
                .unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn zip_crate_reads_back_entries_and_crcs() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for compress in [false, true] {
            let bytes = build(
                &[("a/x.txt", b"hello"), ("a/empty", b""), ("b/big", &big)],
                compress,
            );
            let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            assert_eq!(archive.len(), 3);
            let mut expect = |name: &str, data: &[u8]| {
                let mut f = archive.by_name(name).unwrap();
                let mut out = Vec::new();
                f.read_to_end(&mut out).unwrap();
                assert_eq!(out, data, "{name}");
                assert_eq!(f.crc32(), crc32fast::hash(data));
                assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
            };
            expect("a/x.txt", b"hello");
            expect("a/empty", b"");
            expect("b/big", &big);
        }
    }

    #[test]
    fn compression_shrinks_repetitive_data_and_level_zero_does_not() {
        let data = vec![b'a'; 100_000];
        let compressed = build(&[("f", &data)], true);
        let stored = build(&[("f", &data)], false);
        assert!(compressed.len() < 10_000, "{}", compressed.len());
        assert!(stored.len() > 100_000, "{}", stored.len());
    }

    #[test]
    fn same_input_gives_same_bytes() {
        let a = build(&[("x", b"1"), ("y", b"22")], true);
        let b = build(&[("x", b"1"), ("y", b"22")], true);
        assert_eq!(a, b);
    }

    #[test]
    fn zip64_local_header_is_readable() {
        // Force the zip64 local header path with a large size hint on small data.
        let mut w = ZipStreamWriter::new(Vec::new(), false);
        w.add_entry("big", &mut Cursor::new(b"abc"), ZIP64_LOCAL_THRESHOLD)
            .unwrap();
        let bytes = w.finish().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = String::new();
        archive
            .by_name("big")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "abc");
    }

    #[test]
    fn empty_archive_is_valid() {
        let bytes = build(&[], true);
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 0);
    }
}
