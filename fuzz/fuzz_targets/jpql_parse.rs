//! The simulator's JPQL (and concise get-query) parser and SQL compiler on arbitrary text: never
//! a panic or a stack overflow, and bounded work (libFuzzer's `-timeout` flags slow inputs).
#![no_main]

use icat_sim::jpql;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = jpql::parse(text) {
        let _ = jpql::compile(&q, "db/jdoe", icat_sim::entities());
    }
    let _ = jpql::parse_get(text);
});
