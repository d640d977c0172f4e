//! Decoding speed: a `searchResponse` of 10,000 `xsi:type` datasets with nested included relations
//! (investigation + facility, type, datafiles with parameters), decoded by the generated decoder,
//! against quick-xml merely reading the events of the same bytes (the baseline).
//! Run: `cargo bench -p icat-soap --bench decode`.

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use icat_soap::envelope::read_response_envelope;
use icat_soap::model::TARGET_NAMESPACE;
use icat_soap::ops::SearchResponse;

mod fixture;

fn main() {
    divan::main();
}

const N: i64 = 10_000;

static BYTES: LazyLock<Vec<u8>> = LazyLock::new(|| fixture::search_response(N).into_bytes());

/// The generated decoder: envelope, xsi:type dispatch, every field parsed into typed values.
#[divan::bench]
fn generated_decoder(b: Bencher) {
    let bytes = &*BYTES;
    b.counter(BytesCount::new(bytes.len())).bench(|| {
        let r: SearchResponse = read_response_envelope(divan::black_box(bytes)).unwrap();
        assert_eq!(r.return_.len(), N as usize);
        r
    });
}

/// Baseline: quick-xml's `Reader` reading every event of the same bytes, doing nothing with them.
#[divan::bench]
fn quick_xml_raw_events(b: Bencher) {
    let bytes = &*BYTES;
    b.counter(BytesCount::new(bytes.len())).bench(|| {
        let mut r = quick_xml::Reader::from_reader(divan::black_box(&bytes[..]));
        let mut n = 0usize;
        loop {
            match r.read_event().unwrap() {
                quick_xml::events::Event::Eof => break,
                _ => n += 1,
            }
        }
        n
    });
}

/// Second baseline: quick-xml's namespace-aware `NsReader` (what the decoder is built on).
#[divan::bench]
fn quick_xml_ns_events(b: Bencher) {
    let bytes = &*BYTES;
    b.counter(BytesCount::new(bytes.len())).bench(|| {
        let mut r = quick_xml::NsReader::from_reader(divan::black_box(&bytes[..]));
        let mut n = 0usize;
        loop {
            match r.read_event().unwrap() {
                quick_xml::events::Event::Eof => break,
                _ => n += 1,
            }
        }
        n
    });
}

/// For the profile: icat-soap's own scanner walking the same bytes (root element skipped whole:
/// every tag scanned and end names checked, nothing decoded or allocated).
#[divan::bench]
fn icat_soap_scanner_skip(b: Bencher) {
    let bytes = &*BYTES;
    b.counter(BytesCount::new(bytes.len())).bench(|| {
        let mut r = icat_soap::xml::XmlReader::new(divan::black_box(bytes), TARGET_NAMESPACE);
        let root = r.root().unwrap();
        r.skip(&root).unwrap();
        r.finish().unwrap();
    });
}
