//! Decoding speed: a `searchResponse` of 10,000 `xsi:type` datasets with nested included relations
//! (investigation + facility, type, datafiles with parameters), decoded by the generated decoder,
//! against quick-xml merely reading the events of the same bytes (the baseline).
//! Run: `cargo bench -p icat-soap --bench decode`.

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use icat_soap::envelope::{read_response_envelope, write_response_envelope};
use icat_soap::*;

fn main() {
    divan::main();
}

const N: i64 = 10_000;

fn dataset(i: i64) -> Dataset {
    let t = DateTime::from_unix_millis(1_709_288_130_123 + i);
    let base = |id: i64| (Some("db/root".to_owned()), Some(t), Some(id));
    let (create_id, create_time, _) = base(i);
    let facility = Facility {
        create_id: create_id.clone(),
        create_time,
        id: Some(1),
        name: Some("ISIS".into()),
        ..Default::default()
    };
    let investigation = Investigation {
        create_id: create_id.clone(),
        id: Some(100 + i % 50),
        name: Some(format!("RB{:06}", i % 50)),
        visit_id: Some("1".into()),
        title: Some("A test & <demo> investigation".into()),
        facility: Some(Box::new(facility)),
        ..Default::default()
    };
    let param_type = ParameterType {
        id: Some(7),
        name: Some("temperature".into()),
        units: Some("K".into()),
        value_type: Some(ParameterValueType::Numeric),
        ..Default::default()
    };
    let datafiles = (0..2)
        .map(|k| Datafile {
            create_id: create_id.clone(),
            create_time,
            id: Some(i * 10 + k),
            mod_id: create_id.clone(),
            mod_time: create_time,
            name: Some(format!("run{i:06}_{k}.nxs")),
            location: Some(format!("RB/{i}/run{i:06}_{k}.nxs")),
            file_size: Some(1_048_576 + i),
            checksum: Some("deadbeef".into()),
            parameters: vec![DatafileParameter {
                id: Some(i * 100 + k),
                numeric_value: Some(273.15 + i as f64 / 7.0),
                type_: Some(Box::new(param_type.clone())),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Dataset {
        create_id: create_id.clone(),
        create_time,
        id: Some(i),
        mod_id: create_id,
        mod_time: create_time,
        complete: i % 2 == 0,
        name: Some(format!("dataset-{i}")),
        description: Some("raw data".into()),
        start_date: create_time,
        investigation: Some(Box::new(investigation)),
        type_: Some(Box::new(DatasetType {
            id: Some(3),
            name: Some("raw".into()),
            ..Default::default()
        })),
        datafiles,
        ..Default::default()
    }
}

static BYTES: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let resp = SearchResponse {
        return_: (0..N)
            .map(|i| Value::Entity(Entity::Dataset(dataset(i))))
            .collect(),
    };
    write_response_envelope(&resp).into_bytes()
});

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
