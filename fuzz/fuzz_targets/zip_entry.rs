//! Zip entry and datafile name mapping: an accepted name is a plain relative path that stays
//! strictly inside the destination, under either layout, and never names the work folder of
//! partial downloads (in any letter case); joining parts obeys the same rules, and an IDS entry
//! maps to exactly the path its visit, dataset and file parts give (how a `--zip` entry is
//! matched to a selected datafile).
#![no_main]

use std::path::{Component, Path};

use icat_ids::download::{SafeRelPath, WORK_DIR, ZipLayout, entry_path, parse_ids_entry};
use libfuzzer_sys::fuzz_target;

fn check(p: &SafeRelPath) {
    let root = Path::new("/dest/root");
    let joined = p.under(root);
    assert!(joined.starts_with(root) && joined != root, "{joined:?}");
    assert!(
        p.as_path()
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{p:?}"
    );
    let s = p.as_path().to_string_lossy();
    assert!(
        !s.contains('\0') && !s.contains('\\') && !s.chars().any(char::is_control),
        "{s:?}"
    );
    assert!(
        p.as_path()
            .components()
            .all(|c| c.as_os_str().len() <= icat_ids::download::names::MAX_COMPONENT_LEN),
        "{s:?}"
    );
    assert!(
        p.as_path()
            .components()
            .all(|c| !c.as_os_str().to_string_lossy().eq_ignore_ascii_case(WORK_DIR)),
        "{s:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for layout in [ZipLayout::VisitDataset, ZipLayout::AsStored] {
        if let Ok(p) = entry_path(&text, layout) {
            check(&p);
        }
    }
    if let (Ok(p), Ok(Some(e))) = (
        entry_path(&text, ZipLayout::VisitDataset),
        parse_ids_entry(&text),
    ) {
        let q = SafeRelPath::join_parts([e.visit.as_str(), e.dataset.as_str(), e.file.as_str()]);
        assert_eq!(Some(&p), q.as_ref().ok(), "{text:?}");
    }
    let parts: Vec<&str> = text.split('\u{1}').collect();
    if let Ok(p) = SafeRelPath::join_parts(parts.iter().copied()) {
        check(&p);
    }
});
