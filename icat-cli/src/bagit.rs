//! `icat download --manifest`: the download as a BagIt bag (RFC 8493): the files under `data/`,
//! a payload manifest whose digests were computed while the bytes streamed, `bagit.txt`,
//! `bag-info.txt` (ICAT source, user, selection, time, Payload-Oxum) and a tag manifest.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use icat_ids::download::{DigestFactory, StreamDigest};
use sha2::Digest;

/// The payload folder of a bag.
pub const PAYLOAD_DIR: &str = "data";

/// A BagIt manifest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BagAlgorithm {
    /// SHA-512 (what RFC 8493 recommends).
    #[default]
    Sha512,
    /// SHA-256.
    Sha256,
}

impl BagAlgorithm {
    /// The name BagIt uses in `manifest-<name>.txt`.
    pub fn name(self) -> &'static str {
        match self {
            BagAlgorithm::Sha512 => "sha512",
            BagAlgorithm::Sha256 => "sha256",
        }
    }

    fn hasher(self) -> Box<dyn StreamDigest> {
        match self {
            BagAlgorithm::Sha512 => Box::new(Hex(sha2::Sha512::new())),
            BagAlgorithm::Sha256 => Box::new(Hex(sha2::Sha256::new())),
        }
    }

    /// A digest per file for the download engine (computed while the bytes stream).
    pub fn factory(self) -> DigestFactory {
        Arc::new(move || self.hasher())
    }

    /// The lower-case hex digest of `bytes`.
    pub fn of_bytes(self, bytes: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(bytes);
        h.finish()
    }

    /// The lower-case hex digest of a file on disk, read in blocks.
    pub fn of_file(self, path: &Path) -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let mut h = self.hasher();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(h.finish());
            }
            h.update(&buf[..n]);
        }
    }
}

/// A RustCrypto hasher giving lower-case hex.
struct Hex<D>(D);

impl<D: Digest + Send> StreamDigest for Hex<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.0, data);
    }
    fn finish(self: Box<Self>) -> String {
        let out = self.0.finalize();
        let mut s = String::with_capacity(out.len() * 2);
        for b in out.iter() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// What `bag-info.txt` records about where the bag came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BagInfo {
    /// The ICAT URL.
    pub source: String,
    /// The ICAT user name as the server reports it.
    pub user: String,
    /// The selection as the user gave it (command line words, a DOI, a search).
    pub query: String,
    /// The ids the selection came to, when it was a search or an id list
    /// (`investigations 1,2; datasets 7`).
    pub selection: Option<String>,
    /// When the bag was made, `xs:dateTime` in UTC.
    pub time: String,
    /// The identifier the user cited (a DOI), if any.
    pub external_identifier: Option<String>,
}

/// One payload file: its path relative to the payload folder, digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadFile {
    /// Relative path below `data/`, `/`-separated.
    pub path: String,
    /// Lower-case hex digest.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// A value on one line, as `bag-info.txt` needs it (control characters become spaces).
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A path as a manifest line writes it: RFC 8493 §2.1.3 percent-encodes CR, LF and `%`.
/// bagit-python (1.9) decodes only `%0D`/`%0A`, not `%25` (its issue #157, shared by most
/// BagIt tools), so it misreads a bag holding a file name with `%`; the RFC is followed here.
pub fn manifest_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The selection a bag already at `root` was made for (the `ICAT-Query` of its `bag-info.txt`),
/// or `None` when `root` holds no such bag.
pub fn bagged_selection(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("bag-info.txt")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("ICAT-Query:"))
        .map(|v| v.trim().to_string())
}

/// Refuses a bag for `query` at `root` when a bag of another selection is there: its payload
/// would mix both and its manifest, Payload-Oxum and bag-info would describe only the new one
/// (an invalid bag). The same selection again completes or refreshes the bag. The error names the
/// selection already bagged.
pub fn check_bag_root(root: &Path, query: &str) -> Result<(), String> {
    match bagged_selection(root) {
        Some(old) if old != one_line(query) => Err(old),
        _ => Ok(()),
    }
}

/// The text of `bag-info.txt`.
pub fn bag_info_text(info: &BagInfo, files: &[PayloadFile]) -> String {
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let date = info.time.get(..10).unwrap_or(&info.time);
    let mut lines = vec![
        (
            "Bag-Software-Agent",
            format!("icat-rs {}", env!("CARGO_PKG_VERSION")),
        ),
        ("Bagging-Date", date.to_string()),
        ("ICAT-Source", info.source.clone()),
        ("ICAT-User", info.user.clone()),
        ("ICAT-Query", info.query.clone()),
    ];
    if let Some(ids) = &info.selection {
        lines.push(("ICAT-Selection", ids.clone()));
    }
    lines.push(("ICAT-Download-Time", info.time.clone()));
    if let Some(id) = &info.external_identifier {
        lines.push(("External-Identifier", id.clone()));
    }
    lines.push(("Payload-Oxum", format!("{bytes}.{}", files.len())));
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}: {}\n", one_line(&v)))
        .collect()
}

/// Writes the bag's tag files into `root` (whose `data/` holds `files`): `bagit.txt`,
/// `manifest-<alg>.txt`, `bag-info.txt`, then `tagmanifest-<alg>.txt` over those three.
/// Returns the paths written.
pub fn write_bag(
    root: &Path,
    algorithm: BagAlgorithm,
    files: &[PayloadFile],
    info: &BagInfo,
) -> std::io::Result<Vec<PathBuf>> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest: String = files
        .iter()
        .map(|f| format!("{}  {PAYLOAD_DIR}/{}\n", f.digest, manifest_path(&f.path)))
        .collect();
    let alg = algorithm.name();
    let tags = [
        (
            "bagit.txt".to_string(),
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_string(),
        ),
        (format!("manifest-{alg}.txt"), manifest),
        ("bag-info.txt".to_string(), bag_info_text(info, &files)),
    ];
    let mut written = Vec::new();
    let mut tagmanifest = String::new();
    for (name, text) in &tags {
        let path = root.join(name);
        write_atomically(&path, text.as_bytes())?;
        tagmanifest.push_str(&format!(
            "{}  {name}\n",
            algorithm.of_bytes(text.as_bytes())
        ));
        written.push(path);
    }
    let path = root.join(format!("tagmanifest-{alg}.txt"));
    write_atomically(&path, tagmanifest.as_bytes())?;
    written.push(path);
    Ok(written)
}

/// Up to `limit` entries under `payload` (a bag's `data/`) that are not in `expected`, skipping
/// the folder `skip` (the download's work folder): a bag written now would leave them out of
/// its manifest and fail validation. A missing `payload` has none.
pub fn stray_payload_files(
    payload: &Path,
    expected: &std::collections::BTreeSet<PathBuf>,
    skip: &Path,
    limit: usize,
) -> std::io::Result<Vec<PathBuf>> {
    let mut strays = Vec::new();
    let mut folders = vec![payload.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path == skip {
                continue;
            }
            if std::fs::symlink_metadata(&path)?.is_dir() {
                folders.push(path);
            } else if !expected.contains(&path) {
                strays.push(path);
                if strays.len() >= limit {
                    return Ok(strays);
                }
            }
        }
    }
    Ok(strays)
}

/// Writes through a temporary file and a rename, so a bag never holds half a tag file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            BagAlgorithm::Sha256.of_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            BagAlgorithm::Sha512
                .of_bytes(b"abc")
                .starts_with("ddaf35a193617aba")
        );
        let mut h = (BagAlgorithm::Sha512.factory())();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), BagAlgorithm::Sha512.of_bytes(b"abc"));
    }

    #[test]
    fn manifest_paths_escape_what_rfc_8493_says() {
        assert_eq!(manifest_path("a b/100%\n.txt"), "a b/100%25%0A.txt");
    }

    #[test]
    fn bag_files_are_written_with_oxum_and_tag_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/v")).unwrap();
        std::fs::write(dir.path().join("data/v/f.txt"), b"abc").unwrap();
        let files = [PayloadFile {
            path: "v/f.txt".into(),
            digest: BagAlgorithm::Sha256.of_bytes(b"abc"),
            size: 3,
        }];
        let info = BagInfo {
            source: "https://icat.example.org".into(),
            user: "db/jdoe".into(),
            query: "visit 'V1'\nsecond line".into(),
            selection: Some("datasets 4,7".into()),
            time: "2026-12-05T23:30:00Z".into(),
            external_identifier: Some("doi:10.5286/x".into()),
        };
        write_bag(dir.path(), BagAlgorithm::Sha256, &files, &info).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(
            read("manifest-sha256.txt"),
            format!("{}  data/v/f.txt\n", files[0].digest)
        );
        let bag_info = read("bag-info.txt");
        assert!(bag_info.contains("Payload-Oxum: 3.1\n"), "{bag_info}");
        assert!(
            bag_info.contains("Bagging-Date: 2026-12-05\n"),
            "{bag_info}"
        );
        assert!(
            bag_info.contains("ICAT-Query: visit 'V1' second line\nICAT-Selection: datasets 4,7\n"),
            "{bag_info}"
        );
        let tags = read("tagmanifest-sha256.txt");
        assert!(tags.contains("  bagit.txt\n") && tags.contains("  bag-info.txt\n"));
        assert!(tags.contains(&format!(
            "{}  manifest-sha256.txt\n",
            BagAlgorithm::Sha256.of_file(&dir.path().join("manifest-sha256.txt")).unwrap()
        )));
    }
}
