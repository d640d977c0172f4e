//! Queries from issue 17 on python-icat's reference data, with the answers a real ICAT 6.2 on
//! MySQL/MariaDB gives (each test names its source).

use super::{load_reference_dump, read_restrictions, reference_data, run};

/// python-icat's tutorial (doc/src/tutorial-search.rst) and its test suite
/// (tests/test_06_query.py `test_query_mulitple_attributes_related_obj`, which passes against a
/// real ICAT on this data): string literals compared with dates, converted by the database.
#[test]
fn date_attributes_compare_with_string_literals() {
    let Some(dir) = reference_data() else { return };
    let db = load_reference_dump(&dir);
    let in_2012 = run(
        &db,
        "SELECT o.name FROM Datafile o WHERE o.datafileCreateTime >= '2012-01-01' \
         AND o.datafileCreateTime < '2013-01-01' ORDER BY o.name",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(
        in_2012,
        "A000027.hdf5, e208945-2.nxs, e208945.dat, e208947.nxs"
    );
    let before_2011 = run(
        &db,
        "SELECT i.name, o.name FROM Dataset o JOIN o.investigation AS i JOIN i.facility AS s1 \
         WHERE i.startDate < '2011-01-01' ORDER BY s1.name, i.name, i.visitId, o.name",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(
        before_2011,
        "08100122-EF | e201215; 08100122-EF | e201216; 10100601-ST | e208339; \
         10100601-ST | e208341; 10100601-ST | e208342"
    );
    // The other comparison forms and a time of day (MySQL DATETIME literals, read as UTC).
    let between = run(
        &db,
        "SELECT i.name FROM Investigation i WHERE i.startDate BETWEEN '2010-09-30' AND \
         '2010-09-30 10:27:24' OR i.startDate IN ('2008-03-13T10:39:42') ORDER BY i.name",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(between, "08100122-EF, 10100601-ST");
    let reversed = run(
        &db,
        "SELECT i.name FROM Investigation i WHERE '2010-09-30 10:27:25' > i.startDate \
         AND i.startDate <> 'not a date' ORDER BY i.name",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(reversed, "");
}

/// icat.server's `oldparser/OldSearchQuery.java`: INCLUDE and ORDER BY follow the entity name,
/// the `[condition]` comes after them (TestWS: `Dataset INCLUDE Investigation [name='DS1' ...]`).
#[test]
fn concise_include_comes_before_the_condition() {
    let Some(dir) = reference_data() else { return };
    let db = load_reference_dump(&dir);
    let found = run(
        &db,
        "Investigation INCLUDE Dataset [name = '10100601-ST']",
        "simple/root",
        None,
    )
    .unwrap();
    let id = run(
        &db,
        "Investigation.id [name = '10100601-ST']",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(found, format!("Investigation:{id}"));
    let names = run(
        &db,
        "Dataset.name ORDER BY name DESC <-> Investigation [name = '10100601-ST']",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(names, "e208342, e208341, e208339");
    for refused in [
        "Investigation [name = '10100601-ST'] INCLUDE Dataset",
        "Dataset.name <-> Investigation [name = '10100601-ST'] ORDER BY name",
        "Dataset.name INCLUDE 1",
    ] {
        assert!(
            run(&db, refused, "simple/root", None).is_err(),
            "{refused} should be refused as ICAT refuses it"
        );
    }
}

/// icat.server's `parser/FromClause.java` and `SearchQuery.getJPQL`: every SELECT path is
/// checked on the entity it belongs to (`COUNT(DISTINCT ds.id)` checks `ds`, `SUM(df.fileSize)`
/// checks `df`) with `ds.id IN (rule) AND df.id IN (rule)` added to the WHERE clause. A LEFT JOIN
/// row without a datafile has `df.id` NULL, which no rule admits, so for a user under rules a
/// dataset without files is not counted and a visit without datasets is not listed; root, whose
/// searches carry no restriction, sees them. (The query behind `icat visits`.)
#[test]
fn aggregates_over_outer_joins_are_restricted_in_where_as_icat_does() {
    let Some(dir) = reference_data() else { return };
    let db = load_reference_dump(&dir);
    let visits = "SELECT i.name, COUNT(DISTINCT ds.id), SUM(df.fileSize) FROM Investigation i \
                  LEFT JOIN i.datasets ds LEFT JOIN ds.datafiles df GROUP BY i.name ORDER BY i.name";
    let root = run(&db, visits, "simple/root", None).unwrap();
    let jdoe = run(
        &db,
        visits,
        "db/jdoe",
        Some(&read_restrictions(&db, "db/jdoe")),
    )
    .unwrap();
    // 08100122-EF has two datasets, only e201215 has files.
    assert!(root.starts_with("08100122-EF | 2 | "), "{root}");
    assert!(jdoe.starts_with("08100122-EF | 1 | "), "{jdoe}");
    let datasets_without_files = run(
        &db,
        "SELECT ds.name FROM Dataset ds WHERE ds.investigation.name = '08100122-EF' \
         AND ds.datafiles IS EMPTY",
        "simple/root",
        None,
    )
    .unwrap();
    assert_eq!(datasets_without_files, "e201216");
}
