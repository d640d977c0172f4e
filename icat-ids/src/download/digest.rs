//! An extra per-file digest computed over a datafile's bytes while they stream to disk (for
//! example SHA-512 for a BagIt manifest), next to the CRC32 the engine always checks.

use std::path::Path;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use crate::error::IdsError;

/// A digest fed with a file's bytes in order; one value per file.
pub trait StreamDigest: Send {
    /// Adds the next bytes of the file.
    fn update(&mut self, data: &[u8]);
    /// The digest of all bytes added, as the caller wants it written (e.g. lower-case hex).
    fn finish(self: Box<Self>) -> String;
}

/// Makes a fresh [`StreamDigest`] for each file (and again whenever a file restarts from zero).
pub type DigestFactory = Arc<dyn Fn() -> Box<dyn StreamDigest> + Send + Sync>;

/// The CRC32 the engine verifies with, plus the caller's extra digest when asked for.
pub(crate) struct FileHasher {
    crc: crc32fast::Hasher,
    extra: Option<Box<dyn StreamDigest>>,
    factory: Option<DigestFactory>,
}

impl FileHasher {
    /// Empty hashers (the extra one only when `factory` is set).
    pub(crate) fn new(factory: Option<&DigestFactory>) -> Self {
        FileHasher {
            crc: crc32fast::Hasher::new(),
            extra: factory.map(|f| f()),
            factory: factory.cloned(),
        }
    }

    /// Hashers fed with the first `limit` bytes of `path` (the part an earlier run left).
    pub(crate) async fn with_prefix(
        factory: Option<&DigestFactory>,
        path: &Path,
        limit: u64,
    ) -> Result<Self, IdsError> {
        let mut h = FileHasher::new(factory);
        h.feed_file(path, Some(limit)).await?;
        Ok(h)
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.crc.update(data);
        if let Some(x) = &mut self.extra {
            x.update(data);
        }
    }

    /// Starts again from zero bytes.
    pub(crate) fn reset(&mut self) {
        *self = FileHasher::new(self.factory.as_ref());
    }

    /// The CRC32 of the bytes so far.
    pub(crate) fn crc(&self) -> u32 {
        self.crc.clone().finalize()
    }

    /// The extra digest of the bytes so far, when one was asked for.
    pub(crate) fn finish_extra(self) -> Option<String> {
        self.extra.map(StreamDigest::finish)
    }

    /// Feeds the first `limit` bytes of `path` (all of it when `None`), in fixed-size blocks.
    pub(crate) async fn feed_file(
        &mut self,
        path: &Path,
        limit: Option<u64>,
    ) -> Result<u64, IdsError> {
        let f = tokio::fs::File::open(path)
            .await
            .map_err(|e| IdsError::io("open", path, e))?;
        let mut r = f.take(limit.unwrap_or(u64::MAX));
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = r
                .read(&mut buf)
                .await
                .map_err(|e| IdsError::io("read", path, e))?;
            if n == 0 {
                return Ok(total);
            }
            self.update(&buf[..n]);
            total += n as u64;
        }
    }
}

/// The extra digest of a whole file already on disk (a file skipped because it matched).
pub(crate) async fn digest_existing(
    factory: Option<&DigestFactory>,
    path: &Path,
) -> Result<Option<String>, IdsError> {
    if factory.is_none() {
        return Ok(None);
    }
    let mut h = FileHasher::new(factory);
    h.feed_file(path, None).await?;
    Ok(h.finish_extra())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest that records the bytes it saw.
    struct Recorder(Vec<u8>);

    impl StreamDigest for Recorder {
        fn update(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }
        fn finish(self: Box<Self>) -> String {
            String::from_utf8_lossy(&self.0).into_owned()
        }
    }

    fn factory() -> DigestFactory {
        Arc::new(|| Box::new(Recorder(Vec::new())))
    }

    #[tokio::test]
    async fn prefix_update_and_reset_reach_the_extra_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let f = factory();
        let mut h = FileHasher::with_prefix(Some(&f), &p, 6).await.unwrap();
        h.update(b"there");
        assert_eq!(h.crc(), crc32fast::hash(b"hello there"));
        assert_eq!(h.finish_extra().as_deref(), Some("hello there"));

        let mut h = FileHasher::new(Some(&f));
        h.update(b"old");
        h.reset();
        h.update(b"new");
        assert_eq!(h.finish_extra().as_deref(), Some("new"));

        assert_eq!(
            digest_existing(Some(&f), &p).await.unwrap().as_deref(),
            Some("hello world")
        );
        assert_eq!(digest_existing(None, &p).await.unwrap(), None);
        assert_eq!(FileHasher::new(None).finish_extra(), None);
    }
}
