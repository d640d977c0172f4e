//! The IDS error body parser (`{"code":..,"message":..}` or anything else): never a panic, always
//! a typed error whose text is non-empty, bounded and free of control characters (a hostile
//! server must not be able to flood or drive the user's terminal through an error message).
#![no_main]

use icat_ids::IdsError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = 100 + u16::from_le_bytes(*status) % 500;
    let body = String::from_utf8_lossy(body);
    let e = IdsError::from_response(status, &body);
    let shown = e.to_string();
    assert!(!shown.is_empty());
    assert!(shown.len() <= 2_000, "{} bytes", shown.len());
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    let _ = (format!("{e:?}"), e.is_transient());
});
