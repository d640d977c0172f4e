//! Turning untrusted names from the server (zip entries, datafile, dataset and visit names)
//! into safe relative paths, and mapping IDS zip entry names to `<visit>/<dataset>/<file>`.

use std::path::{Component, Path, PathBuf};

use crate::error::IdsError;

/// Longest single path component accepted (bytes); common file systems allow 255.
pub const MAX_COMPONENT_LEN: usize = 255;
/// Longest relative path accepted (bytes).
pub const MAX_PATH_LEN: usize = 4000;

/// A relative path that was checked component by component: no absolute prefix, no `..`,
/// no drive letter, no NUL or control characters, no backslash, no overlong component.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeRelPath(PathBuf);

impl SafeRelPath {
    /// Check a `/`-separated name as a whole (e.g. a zip entry name).
    pub fn parse(name: &str) -> Result<Self, IdsError> {
        if name.starts_with('/') || name.starts_with('\\') {
            return Err(unsafe_name(name, "absolute path"));
        }
        Self::from_components(name, name.split('/'))
    }

    /// Join several untrusted parts (each may itself hold `/`, e.g. a datafile name with
    /// subdirectories); every part is checked.
    pub fn join_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> Result<Self, IdsError> {
        let parts: Vec<&str> = parts.into_iter().collect();
        let whole = parts.join("/");
        for p in &parts {
            if p.starts_with('/') || p.starts_with('\\') {
                return Err(unsafe_name(&whole, "absolute path"));
            }
        }
        Self::from_components(&whole, parts.iter().flat_map(|p| p.split('/')))
    }

    fn from_components<'a>(
        whole: &str,
        comps: impl Iterator<Item = &'a str>,
    ) -> Result<Self, IdsError> {
        if whole.len() > MAX_PATH_LEN {
            return Err(unsafe_name(whole, "path too long"));
        }
        let mut out = PathBuf::new();
        for c in comps {
            if c.is_empty() || c == "." {
                continue;
            }
            check_component(whole, c)?;
            out.push(c);
        }
        if out.as_os_str().is_empty() {
            return Err(unsafe_name(whole, "empty name"));
        }
        // Belt and braces: the result must consist of normal components only.
        if !out.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(unsafe_name(whole, "not a plain relative path"));
        }
        Ok(SafeRelPath(out))
    }

    /// The checked relative path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// `root` joined with this path (always inside `root`).
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(&self.0)
    }
}

fn unsafe_name(name: &str, reason: &'static str) -> IdsError {
    IdsError::UnsafeName {
        name: name.chars().take(200).collect(),
        reason,
    }
}

fn check_component(whole: &str, c: &str) -> Result<(), IdsError> {
    if c == ".." {
        return Err(unsafe_name(whole, "parent directory (..) component"));
    }
    if c.contains('\0') {
        return Err(unsafe_name(whole, "NUL character"));
    }
    if c.chars().any(|ch| ch.is_control()) {
        return Err(unsafe_name(whole, "control character"));
    }
    // A right-to-left override and its kin make a file manager show `<RLO>txt.exe` as
    // `exe.txt`: a name that lies about itself (issue 14 review).
    if c.chars().any(icat_soap::untrusted::is_bidi_control) {
        return Err(unsafe_name(
            whole,
            "bidirectional formatting character (it changes how the name is shown)",
        ));
    }
    if c.contains('\\') {
        return Err(unsafe_name(whole, "backslash (Windows path separator)"));
    }
    // A drive letter means something only on Windows; on Unix `a:b` is an ordinary name
    // (issue 14 review: `a:b` was refused while `CON` was written, Windows rules half applied).
    let b = c.as_bytes();
    if cfg!(windows) && b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(unsafe_name(whole, "drive letter"));
    }
    if c.eq_ignore_ascii_case(super::part::WORK_DIR) {
        return Err(unsafe_name(
            whole,
            "the name is reserved for the folder of partial downloads",
        ));
    }
    if c.len() > MAX_COMPONENT_LEN {
        return Err(unsafe_name(whole, "path component longer than 255 bytes"));
    }
    Ok(())
}

/// How entries of an IDS zip are laid out on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ZipLayout {
    /// `<visit>/<dataset>/<file>` from the IDS entry `ids/<facility>/<investigation>/<visit>/<dataset>/<file>`
    /// (URL-decoded); entries in any other form keep their full name.
    #[default]
    VisitDataset,
    /// The entry name as stored in the zip (still checked).
    AsStored,
}

/// Parts of an IDS zip entry name made by the default ZipMapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdsEntry {
    /// Investigation visit id (decoded).
    pub visit: String,
    /// Dataset name (decoded).
    pub dataset: String,
    /// Datafile name (not encoded by the IDS; may contain `/`).
    pub file: String,
}

/// Split `ids/<fac>/<inv>/<visit>/<dataset>/<file...>` into its parts, or `None` when the entry
/// has another form. Undecodable escapes are an error.
pub fn parse_ids_entry(name: &str) -> Result<Option<IdsEntry>, IdsError> {
    let parts: Vec<&str> = name.splitn(6, '/').collect();
    if parts.len() < 6 || parts[0] != "ids" || parts[5].is_empty() {
        return Ok(None);
    }
    Ok(Some(IdsEntry {
        visit: url_decode(name, parts[3])?,
        dataset: url_decode(name, parts[4])?,
        file: parts[5].to_string(),
    }))
}

/// Local relative path for a zip entry under `layout`. Every part of the name (used or not) is
/// checked, so a hostile facility or investigation segment is rejected too.
pub fn entry_path(name: &str, layout: ZipLayout) -> Result<SafeRelPath, IdsError> {
    let stored = SafeRelPath::parse(name)?;
    match layout {
        ZipLayout::AsStored => Ok(stored),
        ZipLayout::VisitDataset => match parse_ids_entry(name)? {
            Some(e) => {
                // Decoded segments must not introduce separators.
                for seg in [&e.visit, &e.dataset] {
                    if seg.contains('/') {
                        return Err(unsafe_name(name, "encoded '/' in a visit or dataset name"));
                    }
                }
                SafeRelPath::join_parts([e.visit.as_str(), e.dataset.as_str(), e.file.as_str()])
            }
            None => Ok(stored),
        },
    }
}

/// A zip entry name as the catalogue shows the datafile's name: ICAT's names reach the client
/// through XML, which cannot carry the C0 control characters other than tab, line feed and
/// carriage return, so they arrive as U+FFFD; the IDS names its zip entries with the characters
/// themselves. Looking an entry up under this form matches it to the datafile the catalogue
/// listed, which is then written under the name the catalogue gave, as when it is fetched alone
/// (issue 16).
pub(crate) fn as_the_catalogue_shows_it(name: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c < ' ' && !matches!(c, '\t' | '\n' | '\r');
    if name.contains(hidden) {
        std::borrow::Cow::Owned(
            name.chars()
                .map(|c| if hidden(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Decode Java `URLEncoder` output: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn url_decode(whole: &str, s: &str) -> Result<String, IdsError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| unsafe_name(whole, "malformed %-escape"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| unsafe_name(whole, "escape decodes to invalid UTF-8"))
}

/// Refuse to write through a symbolic link between `root` and `rel`'s final file (a link planted
/// in the destination could otherwise redirect writes outside it):
/// [`IdsError::LinkInDestination`] naming the link.
pub fn check_no_symlinks(root: &Path, rel: &SafeRelPath) -> Result<(), IdsError> {
    let mut p = root.to_path_buf();
    let mut left = rel.as_path().components().count();
    for c in rel.as_path().components() {
        p.push(c);
        left -= 1;
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(IdsError::LinkInDestination {
                    link: p,
                    what: if left == 0 {
                        "in place of a datafile to download"
                    } else {
                        "in place of a folder of a datafile to download"
                    },
                });
            }
            Ok(_) => {}
            Err(_) => break, // does not exist yet: nothing below it exists either
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive letters are refused where they mean one, and ordinary names elsewhere.
    #[test]
    fn a_colon_after_a_letter_is_a_drive_on_windows_only() {
        for n in ["C:/Windows/x", "a/c:x", "a:b"] {
            let r = SafeRelPath::parse(n);
            if cfg!(windows) {
                assert!(r.is_err(), "{n}");
            } else {
                assert!(r.is_ok(), "{n}: {r:?}");
            }
        }
    }

    #[test]
    fn hostile_names_are_rejected() {
        for (n, why) in [
            ("/etc/passwd", "absolute"),
            ("../x", ".."),
            ("a/../../x", ".."),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            ("d/\u{202e}txt.exe", "bidirectional override"),
            ("\u{2067}x/y", "bidirectional isolate"),
            ("a\\..\\b", "backslash"),
            ("\\\\server\\share", "absolute"),
            ("", "empty"),
            ("./.", "empty"),
            ("v/.icat-download/df-1.part", "reserved"),
            (".ICAT-Download/x", "reserved"),
        ] {
            let e = SafeRelPath::parse(n).unwrap_err();
            assert!(matches!(e, IdsError::UnsafeName { .. }), "{n:?}: {why}");
        }
        let long = "x".repeat(300);
        assert!(SafeRelPath::parse(&long).is_err());
        assert!(SafeRelPath::parse(&format!("a/{}", "b/".repeat(2100))).is_err());
    }

    #[test]
    fn plain_names_pass() {
        let p = SafeRelPath::parse("a/./b//c.txt").unwrap();
        assert_eq!(p.as_path(), Path::new("a/b/c.txt"));
        assert_eq!(
            SafeRelPath::parse("scan:01 (v2).nxs").unwrap().as_path(),
            Path::new("scan:01 (v2).nxs")
        );
    }

    #[test]
    fn ids_entries_map_to_visit_dataset_file() {
        let p = entry_path(
            "ids/ESNF/12100409-ST/1.1-P/greetings/greet-jdoe.txt",
            ZipLayout::VisitDataset,
        )
        .unwrap();
        assert_eq!(p.as_path(), Path::new("1.1-P/greetings/greet-jdoe.txt"));
        let p = entry_path(
            "ids/F/I/visit+one/d%C3%A9j%C3%A0/sub/f.dat",
            ZipLayout::VisitDataset,
        )
        .unwrap();
        assert_eq!(p.as_path(), Path::new("visit one/déjà/sub/f.dat"));
        let p = entry_path("other/name.txt", ZipLayout::VisitDataset).unwrap();
        assert_eq!(p.as_path(), Path::new("other/name.txt"));
        let p = entry_path("ids/F/I/v/d/f", ZipLayout::AsStored).unwrap();
        assert_eq!(p.as_path(), Path::new("ids/F/I/v/d/f"));
    }

    #[test]
    fn encoded_traversal_is_rejected() {
        for n in [
            "ids/F/I/%2E%2E/d/f",
            "ids/F/I/v/..%2F..%2Fetc/f",
            "ids/F/I/v/d/../../../x",
            "ids/F/I/v/%ZZ/f",
            "ids/F/I/v/%FF/f",
            "ids/F/I/C%3A/d/f",
        ]
        .into_iter()
        // An encoded drive letter is refused where a drive letter is (Windows).
        .filter(|n| cfg!(windows) || !n.contains("C%3A"))
        {
            assert!(entry_path(n, ZipLayout::VisitDataset).is_err(), "{n}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_in_destination_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("v")).unwrap();
        let rel = SafeRelPath::parse("v/d/f").unwrap();
        assert!(check_no_symlinks(dir.path(), &rel).is_err());
        let rel = SafeRelPath::parse("w/d/f").unwrap();
        assert!(check_no_symlinks(dir.path(), &rel).is_ok());
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the server sends, an accepted name stays strictly inside the destination.
        #[test]
        fn accepted_names_stay_inside(name in "[a-zA-Z0-9./\\\\:%+ \\x00-\\x1f-]{0,40}") {
            let root = Path::new("/dest");
            for layout in [ZipLayout::VisitDataset, ZipLayout::AsStored] {
                if let Ok(p) = entry_path(&name, layout) {
                    prop_assert!(p.as_path().components().all(|c| matches!(c, Component::Normal(_))));
                    prop_assert!(p.under(root).starts_with(root));
                    prop_assert!(p.under(root) != root);
                    let s = p.as_path().to_string_lossy().into_owned();
                    prop_assert!(!s.contains('\0') && !s.contains('\\'));
                }
            }
        }

        /// Bounded twin of the `zip_entry` fuzz target: any Unicode, whole names and joined
        /// parts, give plain relative paths without control characters or overlong components.
        #[test]
        fn any_text_maps_inside_or_is_refused(
            name in "\\PC{0,60}|(\\.\\.|/|%2[eEfF]|[a-z]|\\x00|\\x1b|\\\\|C:|\\+|\\.icat-DOWNLOAD){0,20}",
            parts in proptest::collection::vec(any::<String>(), 1..4),
        ) {
            let root = Path::new("/dest");
            let mut accepted = Vec::new();
            for layout in [ZipLayout::VisitDataset, ZipLayout::AsStored] {
                accepted.extend(entry_path(&name, layout).ok());
            }
            accepted.extend(SafeRelPath::join_parts(parts.iter().map(String::as_str)).ok());
            for p in accepted {
                prop_assert!(p.under(root).starts_with(root) && p.under(root) != root);
                for c in p.as_path().components() {
                    prop_assert!(matches!(c, Component::Normal(_)), "{:?}", p);
                    let c = c.as_os_str().to_string_lossy();
                    prop_assert!(c.len() <= MAX_COMPONENT_LEN);
                    prop_assert!(!c.chars().any(|ch| ch.is_control() || ch == '\\'), "{:?}", c);
                    prop_assert!(!c.eq_ignore_ascii_case(super::super::part::WORK_DIR), "{:?}", c);
                }
            }
        }
    }

    #[test]
    fn entry_names_look_as_the_catalogue_shows_them() {
        assert_eq!(
            as_the_catalogue_shows_it("a\u{1}b\0c"),
            "a\u{FFFD}b\u{FFFD}c"
        );
        // Tab, line feed and carriage return travel through XML: they stay (and are refused).
        assert_eq!(as_the_catalogue_shows_it("a\tb\nc\rd"), "a\tb\nc\rd");
        assert!(matches!(
            as_the_catalogue_shows_it("plain.dat"),
            std::borrow::Cow::Borrowed("plain.dat")
        ));
    }
}
