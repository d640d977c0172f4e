//! Zip entry and datafile name mapping: an accepted name is a plain relative path that stays
//! strictly inside the destination, under either layout; joining parts obeys the same rule.
#![no_main]

use std::path::{Component, Path};

use icat_ids::download::{SafeRelPath, ZipLayout, entry_path};
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
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for layout in [ZipLayout::VisitDataset, ZipLayout::AsStored] {
        if let Ok(p) = entry_path(&text, layout) {
            check(&p);
        }
    }
    let parts: Vec<&str> = text.split('\u{1}').collect();
    if let Ok(p) = SafeRelPath::join_parts(parts.iter().copied()) {
        check(&p);
    }
});
