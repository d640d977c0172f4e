//! Streaming response bodies of getData: raw files and zips made on the fly.
//!
//! Neither path holds more than a few fixed-size buffers per response: zips are written with the
//! zip crate's streaming writer (sizes and CRC in a data descriptor after each entry, as
//! `java.util.zip.ZipOutputStream` writes them). Fault injection (cut connections, corrupted
//! bytes) is applied here.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::mpsc;

use zip::write::{SimpleFileOptions, ZipWriter};
use zip::{CompressionMethod, DateTime};

use super::storage::{ReadSeek, StoredContent};

/// Read buffer size of raw file streams.
const FILE_CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the connection for raw files.
const FILE_CHANNEL_DEPTH: usize = 4;
/// Chunk size sent from the zip thread, and the read buffer of each zip entry's file.
const ZIP_CHUNK: usize = 256 * 1024;
/// Entries of at least this many bytes get zip64 headers: deflate may grow incompressible data a
/// little, so the decision leaves room below the 4 GiB limit of plain headers.
const LARGE_ENTRY: u64 = 0xF000_0000;
/// Chunks in flight between the zip thread and the connection.
const ZIP_CHANNEL_DEPTH: usize = 8;
/// Corruption flips the first byte of every block of this size.
const CORRUPT_BLOCK: u64 = 64 * 1024;

/// Flip the bits of every byte of `chunk` whose stream position is a multiple of
/// [`CORRUPT_BLOCK`]; `pos` is the position of the chunk's first byte.
fn corrupt_in_place(chunk: &mut [u8], pos: u64) {
    let mut first = pos.div_ceil(CORRUPT_BLOCK) * CORRUPT_BLOCK;
    while first < pos + chunk.len() as u64 {
        chunk[(first - pos) as usize] ^= 0xFF;
        first += CORRUPT_BLOCK;
    }
}

/// The body of a single raw file, from byte `offset`; `corrupt` flips bytes as a fault.
///
/// A blocking thread reads ahead into a small bounded channel, so disk reads overlap with
/// network writes.
pub async fn file_body(
    content: StoredContent,
    offset: u64,
    corrupt: bool,
    cut_at: Option<u64>,
) -> io::Result<Body> {
    let mut file = tokio::task::spawn_blocking(move || content.open())
        .await
        .map_err(io::Error::other)??;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(FILE_CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = read_file_into(&mut file, offset, corrupt, &tx)
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            tracing::warn!(error = %e, "reading a datafile failed mid-stream");
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(body_with_cut(receiver_stream(rx), cut_at))
}

fn read_file_into(
    file: &mut dyn ReadSeek,
    offset: u64,
    corrupt: bool,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset))?;
    }
    let mut pos = offset;
    let mut buf = vec![0u8; FILE_CHUNK];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        let chunk = &mut buf[..filled];
        if corrupt {
            corrupt_in_place(chunk, pos);
        }
        pos += filled as u64;
        tx.blocking_send(Ok(Bytes::copy_from_slice(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
    }
}

fn receiver_stream(
    rx: mpsc::Receiver<io::Result<Bytes>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// One file to put into a zip.
#[derive(Debug, Clone)]
pub struct ZipItem {
    /// The entry name.
    pub name: String,
    /// Where the bytes are.
    pub content: StoredContent,
    /// The stored size (for zip64 decisions).
    pub size: u64,
    /// Whether to corrupt its bytes (fault injection).
    pub corrupt: bool,
}

/// The body of a zip of `items` made on a blocking thread, skipping the first `offset` bytes.
pub fn zip_body(items: Vec<ZipItem>, compress: bool, offset: u64, cut_at: Option<u64>) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(ZIP_CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(ZIP_CHUNK),
            skip: offset,
        };
        let written =
            write_zip(writer, &items, compress, open_item).and_then(|mut w| w.send_buffer());
        if let Err(e) = written
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            tracing::warn!(error = %e, "zip stream failed");
            let _ = tx.blocking_send(Err(e));
        }
    });
    body_with_cut(receiver_stream(rx), cut_at)
}

/// The bytes of `item` for its zip entry, corrupted when its fault says so.
fn open_item(item: &ZipItem) -> io::Result<Box<dyn Read>> {
    Ok(Box::new(CorruptingReader {
        inner: item.content.open()?,
        pos: 0,
        corrupt: item.corrupt,
    }))
}

/// How an entry is written. ids.server's `ZipOutputStream` deflates at the default level for
/// `compress=true` and at level 0 for `compress=false` (`IdsBean.getData`); the zip crate has no
/// level 0, so uncompressed entries are STORED: the same bytes to every zip reader, without the
/// 5-byte stored-block headers. Entries carry a fixed time (1980-01-01 00:00) so that the same
/// selection always gives the same bytes, which keeps `Range` resumption of zips safe.
fn entry_options(compress: bool, size: u64) -> SimpleFileOptions {
    let method = if compress {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= LARGE_ENTRY)
}

/// Writes the zip of `items` to `out` entry by entry and returns `out`; `open` gives an item's
/// bytes. A second entry with a name already written is left out, as ids.server does (it
/// catches the `ZipException` and logs "Skipped duplicate"). Memory is one read buffer and the
/// list of entry names, whatever the sizes.
fn write_zip<W: Write>(
    out: W,
    items: &[ZipItem],
    compress: bool,
    open: impl Fn(&ZipItem) -> io::Result<Box<dyn Read>>,
) -> io::Result<W> {
    let mut zip = ZipWriter::new_stream(out).set_auto_large_file();
    let mut names = HashSet::new();
    let mut buf = vec![0u8; ZIP_CHUNK];
    for item in items {
        if !names.insert(item.name.as_str()) {
            tracing::debug!(entry = %item.name, "skipped duplicate zip entry");
            continue;
        }
        zip.start_file(item.name.as_str(), entry_options(compress, item.size))?;
        let mut data = open(item)?;
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            zip.write_all(&buf[..n])?;
        }
    }
    Ok(zip.finish()?.into_inner())
}

struct CorruptingReader<R> {
    inner: R,
    pos: u64,
    corrupt: bool,
}

impl<R: Read> Read for CorruptingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.corrupt {
            corrupt_in_place(&mut buf[..n], self.pos);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A `Write` that sends its bytes in chunks to the response body, dropping the first `skip`.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    skip: u64,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(ZIP_CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        if self.skip > 0 {
            let skipped = self.skip.min(data.len() as u64) as usize;
            self.skip -= skipped as u64;
            data = &data[skipped..];
        }
        while !data.is_empty() {
            let room = ZIP_CHUNK - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == ZIP_CHUNK {
                self.send_buffer()?;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Wrap a chunk stream so that, when `cut_at` is set, it ends with an error after that many
/// bytes: the server then drops the connection mid-body.
fn body_with_cut<S>(chunks: S, cut_at: Option<u64>) -> Body
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    let Some(limit) = cut_at else {
        return Body::from_stream(chunks);
    };
    let mut sent = 0u64;
    let mut done = false;
    let cut = chunks
        .map(move |chunk| -> Vec<io::Result<Bytes>> {
            if done {
                return Vec::new();
            }
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return vec![Err(e)],
            };
            let room = limit - sent;
            if (chunk.len() as u64) < room {
                sent += chunk.len() as u64;
                return vec![Ok(chunk)];
            }
            done = true;
            tracing::info!(
                after_bytes = limit,
                "dropping getData connection (injected fault)"
            );
            let aborted = io::Error::new(io::ErrorKind::ConnectionAborted, "injected fault");
            if room == 0 {
                vec![Err(aborted)]
            } else {
                vec![Ok(chunk.slice(..room as usize)), Err(aborted)]
            }
        })
        .flat_map(stream::iter)
        .then(|item| async move {
            // Let the connection flush the bytes before the cut, as a real network drop would.
            if matches!(&item, Err(e) if e.kind() == io::ErrorKind::ConnectionAborted) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            item
        });
    Body::from_stream(cut)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::ids::storage::SyntheticFile;

    #[test]
    fn corruption_hits_block_starts_only() {
        let mut data = vec![0u8; 200_000];
        corrupt_in_place(&mut data, 0);
        let flipped: Vec<usize> = (0..data.len()).filter(|&i| data[i] != 0).collect();
        assert_eq!(flipped, vec![0, 65_536, 131_072, 196_608]);
        let mut tail = vec![0u8; 10];
        corrupt_in_place(&mut tail, 65_530);
        assert_eq!(tail.iter().position(|&b| b != 0), Some(6));
    }

    /// An item whose bytes the test's `open` supplies (the content is not read).
    fn item(name: &str, size: u64) -> ZipItem {
        ZipItem {
            name: name.to_string(),
            content: StoredContent::Synthetic(SyntheticFile {
                seed: 1,
                size,
                head: 0,
            }),
            size,
            corrupt: false,
        }
    }

    /// A zip of named byte strings, each entry's size hint `hint` (or its length).
    fn build(entries: &[(&str, &[u8])], compress: bool, hint: Option<u64>) -> Vec<u8> {
        let items: Vec<ZipItem> = entries
            .iter()
            .map(|(name, data)| item(name, hint.unwrap_or(data.len() as u64)))
            .collect();
        let open = |it: &ZipItem| -> io::Result<Box<dyn Read>> {
            let (_, data) = entries
                .iter()
                .find(|(name, _)| *name == it.name)
                .expect("the test names its entries");
            Ok(Box::new(Cursor::new(data.to_vec())))
        };
        write_zip(Vec::new(), &items, compress, open).unwrap()
    }

    #[test]
    fn zip_crate_reads_back_entries_crcs_and_the_fixed_time() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for compress in [false, true] {
            let bytes = build(
                &[("a/x.txt", b"hello"), ("a/empty", b""), ("b/big", &big)],
                compress,
                None,
            );
            let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            assert_eq!(archive.len(), 3);
            assert_eq!(archive.name_for_index(0), Some("a/x.txt"), "entry order");
            let mut expect = |name: &str, data: &[u8]| {
                let mut f = archive.by_name(name).unwrap();
                let mut out = Vec::new();
                f.read_to_end(&mut out).unwrap();
                assert_eq!(out, data, "{name}");
                assert_eq!(f.crc32(), crc32fast::hash(data));
                let method = if compress {
                    CompressionMethod::Deflated
                } else {
                    CompressionMethod::Stored
                };
                assert_eq!(f.compression(), method);
                assert_eq!(f.last_modified(), Some(DateTime::default()));
            };
            expect("a/x.txt", b"hello");
            expect("a/empty", b"");
            expect("b/big", &big);
        }
    }

    #[test]
    fn compress_shrinks_repetitive_data_and_uncompressed_does_not() {
        let data = vec![b'a'; 100_000];
        let compressed = build(&[("f", &data)], true, None);
        let stored = build(&[("f", &data)], false, None);
        assert!(compressed.len() < 10_000, "{}", compressed.len());
        assert!(stored.len() > 100_000, "{}", stored.len());
    }

    #[test]
    fn same_selection_gives_the_same_bytes() {
        let a = build(&[("x", b"1"), ("y", b"22")], true, None);
        let b = build(&[("x", b"1"), ("y", b"22")], true, None);
        assert_eq!(a, b);
    }

    #[test]
    fn a_second_entry_of_the_same_name_is_left_out() {
        let items = vec![item("d/f", 5), item("d/f", 6), item("d/g", 1)];
        let opened = AtomicU64::new(0);
        let open = |it: &ZipItem| -> io::Result<Box<dyn Read>> {
            let n = opened.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Cursor::new(vec![
                b'0' + n as u8;
                it.size as usize
            ])))
        };
        let bytes = write_zip(Vec::new(), &items, false, open).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut first = String::new();
        archive
            .by_name("d/f")
            .unwrap()
            .read_to_string(&mut first)
            .unwrap();
        assert_eq!(first, "00000", "the first of the two is kept");
        assert_eq!(
            opened.load(Ordering::SeqCst),
            2,
            "the duplicate is not read"
        );
    }

    #[test]
    fn large_entries_get_readable_zip64_headers() {
        let bytes = build(&[("big", b"abc")], false, Some(LARGE_ENTRY));
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
        let bytes = build(&[], true, None);
        let archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 0);
    }

    /// Counts the bytes read from the entries' sources.
    struct CountingReader {
        inner: Box<dyn ReadSeek>,
        read: Arc<AtomicU64>,
    }

    impl Read for CountingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.fetch_add(n as u64, Ordering::SeqCst);
            Ok(n)
        }
    }

    /// Keeps what the zip writer gives it and, at every write, how far reading ran ahead.
    struct WatchingSink {
        bytes: Vec<u8>,
        read: Arc<AtomicU64>,
        most_ahead: u64,
    }

    impl Write for WatchingSink {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.bytes.extend_from_slice(data);
            let ahead = self
                .read
                .load(Ordering::SeqCst)
                .saturating_sub(self.bytes.len() as u64);
            self.most_ahead = self.most_ahead.max(ahead);
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A zip of entries much larger than its buffers is written as it is read: the bytes read
    /// from the files never run more than a couple of buffers ahead of the bytes written, so
    /// memory does not grow with the size of the zip. (The files' bytes do not compress, so
    /// written bytes keep pace with read bytes in both modes.)
    #[test]
    fn large_zips_are_written_as_they_are_read() {
        const ENTRY: u64 = 16 << 20;
        let items: Vec<ZipItem> = (0..2u64)
            .map(|i| ZipItem {
                name: format!("ids/f/{i}"),
                content: StoredContent::Synthetic(SyntheticFile {
                    seed: 7 + i,
                    size: ENTRY,
                    head: i,
                }),
                size: ENTRY,
                corrupt: false,
            })
            .collect();
        for compress in [false, true] {
            let read = Arc::new(AtomicU64::new(0));
            let sink = WatchingSink {
                bytes: Vec::new(),
                read: read.clone(),
                most_ahead: 0,
            };
            let open = |it: &ZipItem| -> io::Result<Box<dyn Read>> {
                Ok(Box::new(CountingReader {
                    inner: it.content.open()?,
                    read: read.clone(),
                }))
            };
            let sink = write_zip(sink, &items, compress, open).unwrap();
            assert_eq!(read.load(Ordering::SeqCst), 2 * ENTRY);
            assert!(
                sink.most_ahead <= 4 * ZIP_CHUNK as u64,
                "compress={compress}: reading ran {} bytes ahead of writing",
                sink.most_ahead
            );
            let mut archive = zip::ZipArchive::new(Cursor::new(sink.bytes)).unwrap();
            for it in &items {
                let mut expected = it.content.open().unwrap();
                let mut want = Vec::new();
                expected.read_to_end(&mut want).unwrap();
                let f = archive.by_name(&it.name).unwrap();
                assert_eq!(f.size(), ENTRY);
                assert_eq!(f.crc32(), crc32fast::hash(&want), "{}", it.name);
            }
        }
    }
}
