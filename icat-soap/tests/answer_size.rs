//! The largest realistic ICAT answers fit the client's default answer limit
//! (`DEFAULT_MAX_RESPONSE_SIZE`), and decode: the limit is sized from these pages (issue 14).
//!
//! ICAT refuses a search whose answer would hold more than `maxEntities` objects, included ones
//! counted (10,000 by default; `EntityBeanManager`). So the largest answer of a default server is
//! 10,000 entities; the pages here fill every text field with realistic worst-case lengths (a
//! 4,000-character investigation summary, ICAT's column limit for it). Run with `--nocapture`
//! to see their sizes (the figures in RELIABILITY.md).

use icat_soap::DateTime;
use icat_soap::client::DEFAULT_MAX_RESPONSE_SIZE;
use icat_soap::envelope::{read_response_envelope, write_response_envelope};
use icat_soap::model::{
    Datafile, DatafileFormat, DatafileParameter, Dataset, Entity, Investigation, ParameterType,
    Value,
};
use icat_soap::ops::SearchResponse;

fn text(prefix: &str, i: usize, len: usize) -> String {
    let mut s = format!("{prefix}-{i}-");
    while s.len() < len {
        s.push_str("abcdefghij");
    }
    s.truncate(len);
    s
}

fn when() -> Option<DateTime> {
    DateTime::parse("2024-03-01T12:34:56.789+01:00").ok()
}

/// A datafile with every attribute set: a 120-character name, a 250-character location and
/// description, a DOI, a checksum and the four dates.
fn datafile(i: usize) -> Datafile {
    Datafile {
        id: Some(1_000_000_000 + i as i64),
        create_id: Some(text("uows/create", i, 30)),
        mod_id: Some(text("uows/modify", i, 30)),
        create_time: when(),
        mod_time: when(),
        checksum: Some("1a2b3c4d".into()),
        datafile_create_time: when(),
        datafile_mod_time: when(),
        description: Some(text("description", i, 250)),
        doi: Some(text("10.5286/ISIS.E", i, 40)),
        file_size: Some(123_456_789_012),
        location: Some(text(
            "/archive/ndxinstrument/Instrument/data/cycle_24_1",
            i,
            250,
        )),
        name: Some(text("INSTRUMENT_run", i, 120)),
        ..Datafile::default()
    }
}

fn parameter_type(i: usize) -> ParameterType {
    ParameterType {
        id: Some(5_000 + i as i64),
        name: Some(text("sample temperature", i, 60)),
        units: Some("K".into()),
        units_full_name: Some("kelvin".into()),
        description: Some(text("parameter", i, 120)),
        applicable_to_datafile: true,
        ..ParameterType::default()
    }
}

fn investigation(i: usize) -> Investigation {
    Investigation {
        id: Some(7_000_000 + i as i64),
        name: Some(text("RB", i, 30)),
        visit_id: Some(text("CYCLE", i, 30)),
        title: Some(text("title", i, 255)),
        summary: Some(text("summary", i, 4000)),
        doi: Some(text("10.5286/ISIS.E.RB", i, 40)),
        start_date: when(),
        end_date: when(),
        release_date: when(),
        create_id: Some(text("uows/create", i, 30)),
        mod_id: Some(text("uows/modify", i, 30)),
        create_time: when(),
        mod_time: when(),
        ..Investigation::default()
    }
}

fn dataset(i: usize) -> Dataset {
    Dataset {
        id: Some(3_000_000 + i as i64),
        name: Some(text("dataset", i, 120)),
        description: Some(text("description", i, 250)),
        location: Some(text("/archive/dataset", i, 250)),
        doi: Some(text("10.5286/ISIS.E.DS", i, 40)),
        start_date: when(),
        end_date: when(),
        create_id: Some(text("uows/create", i, 30)),
        mod_id: Some(text("uows/modify", i, 30)),
        create_time: when(),
        mod_time: when(),
        complete: true,
        investigation: Some(Box::new(investigation(i))),
        ..Dataset::default()
    }
}

/// Encodes `values` as a search answer, checks that it decodes back, and returns its size.
fn answer_size(label: &str, values: Vec<Value>) -> usize {
    let count = values.len();
    let answer = write_response_envelope(&SearchResponse { return_: values });
    let decoded: SearchResponse =
        read_response_envelope(answer.as_bytes()).expect("the page decodes");
    assert_eq!(decoded.return_.len(), count);
    eprintln!(
        "{label}: {:.1} MiB ({} bytes)",
        answer.len() as f64 / (1024.0 * 1024.0),
        answer.len()
    );
    answer.len()
}

/// The largest pages a default ICAT (maxEntities 10,000) sends for datafiles, with or without
/// parameters, and the CLI's largest page (3,000 datafiles with their dataset and investigation,
/// a 4,000-character summary each) fit the default limit, and so does the CLI's page of
/// 1,000 investigations. 10,000 investigations all with maximal summaries do not (46 MiB):
/// printed, not asserted; such a search is paged, or the limit raised.
#[test]
fn the_largest_realistic_pages_fit_the_default_answer_limit() {
    let datafiles = |n: usize| (0..n).map(|i| Value::Entity(Entity::from(datafile(i))));
    let investigations = |n: usize| (0..n).map(|i| Value::Entity(Entity::from(investigation(i))));
    let fitting = [
        answer_size(
            "10,000 datafiles, every attribute set",
            datafiles(10_000).collect(),
        ),
        // 2,000 datafiles, each with its format and 3 parameters with their types: 10,000 objects.
        answer_size(
            "2,000 datafiles with format and 3 parameters each (10,000 objects)",
            (0..2_000)
                .map(|i| Value::Entity(Entity::from(with_parameters(i))))
                .collect(),
        ),
        answer_size(
            "the CLI's datafile page: 3,000 datafiles with dataset and investigation",
            (0..3_000)
                .map(|i| {
                    let mut df = datafile(i);
                    df.dataset = Some(Box::new(dataset(i)));
                    Value::Entity(Entity::from(df))
                })
                .collect(),
        ),
        answer_size(
            "the CLI's search page: 1,000 investigations, 4,000-character summaries",
            investigations(1_000).collect(),
        ),
    ];
    answer_size(
        "10,000 investigations, 4,000-character summaries (not asserted)",
        investigations(10_000).collect(),
    );
    for size in fitting {
        assert!(
            size as u64 <= DEFAULT_MAX_RESPONSE_SIZE,
            "a realistic page of {size} bytes is above the default limit ({DEFAULT_MAX_RESPONSE_SIZE})"
        );
    }
}

/// A datafile with its format and three parameters, each with its type.
fn with_parameters(i: usize) -> Datafile {
    let mut df = datafile(i);
    df.datafile_format = Some(Box::new(DatafileFormat {
        id: Some(42),
        name: Some("NeXus".into()),
        version: Some("4.3.0".into()),
        description: Some(text("format", i, 120)),
        ..DatafileFormat::default()
    }));
    df.parameters = (0..3)
        .map(|p| DatafileParameter {
            id: Some((i * 3 + p) as i64),
            numeric_value: Some(273.15 + p as f64),
            string_value: Some(text("value", p, 60)),
            error: Some(0.01),
            type_: Some(Box::new(parameter_type(p))),
            ..DatafileParameter::default()
        })
        .collect();
    df
}
