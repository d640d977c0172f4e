//! Streaming response bodies of getData: raw files and zips made on the fly.
//!
//! Neither path holds more than a few fixed-size buffers per response. Fault injection (cut
//! connections, corrupted bytes) is applied here.

use std::io::{self, Read, Write};

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::mpsc;

use super::storage::{ReadSeek, StoredContent};
use super::zipstream::ZipStreamWriter;

/// Read buffer size of raw file streams.
const FILE_CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the connection for raw files.
const FILE_CHANNEL_DEPTH: usize = 4;
/// Chunk size sent from the zip thread.
const ZIP_CHUNK: usize = 256 * 1024;
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
        if let Err(e) = write_zip(writer, items, compress)
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            tracing::warn!(error = %e, "zip stream failed");
            let _ = tx.blocking_send(Err(e));
        }
    });
    body_with_cut(receiver_stream(rx), cut_at)
}

fn write_zip(writer: ChannelWriter, items: Vec<ZipItem>, compress: bool) -> io::Result<()> {
    let mut zip = ZipStreamWriter::new(writer, compress);
    for item in items {
        if zip.contains(&item.name) {
            tracing::debug!(entry = %item.name, "skipped duplicate zip entry");
            continue;
        }
        let file = item.content.open()?;
        let mut reader = CorruptingReader {
            inner: file,
            pos: 0,
            corrupt: item.corrupt,
        };
        zip.add_entry(&item.name, &mut reader, item.size)?;
    }
    let mut writer = zip.finish()?;
    writer.send_buffer()
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
    use super::*;

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
}
