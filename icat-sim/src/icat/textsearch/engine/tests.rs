//! How the block queries run: a date-sorted datafile search reads its blocks from an index
//! instead of sorting the matching rows again for each block.

use serde_json::json;

use super::{Plan, Sort};
use crate::icat::db::{Clock, Db};
use crate::icat::textsearch::fields::Target;
use crate::icat::textsearch::query::SearchQuery;

/// The SQLite plan of `sql` with `params` bound: one detail line per step.
fn query_plan(db: &Db, sql: &str, params: &[rusqlite::types::Value]) -> Vec<String> {
    let mut stmt = db
        .conn()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn date_sorted_datafile_blocks_are_read_from_an_index() {
    let db = Db::open(None, crate::entities(), Clock::default()).unwrap();
    let ranged = json!({"target": "Datafile", "lower": "202001100000", "upper": "202001202359"});
    let everything = json!({"target": "Datafile"});
    // The first block, and a later one (after the last hit of the one before).
    let later = [json!(1_578_700_800_000_i64), json!(4242)];
    let cases = [
        (&ranged, None),
        (&ranged, Some(&later[..])),
        // Without a date range, a later block starts where the one before stopped instead of
        // reading the index from its start again.
        (&everything, Some(&later[..])),
    ];
    for sort in [r#"{"date": "desc"}"#, r#"{"date": "asc"}"#] {
        for (query, after) in cases {
            let q = SearchQuery::parse(query.as_object().unwrap()).unwrap();
            let plan = Plan::new(&q, Sort::parse(Target::Datafile, Some(sort)).unwrap())
                .unwrap()
                .unwrap();
            let (sql, params) = plan.block_sql(after, 1000).unwrap();
            let steps = query_plan(&db, &sql, &params);
            // SQLite 3.53 reads the same index as a covering one.
            assert!(
                steps.iter().any(|s| {
                    s.starts_with("SEARCH x USING INDEX _search_datafile_date")
                        || s.starts_with("SEARCH x USING COVERING INDEX _search_datafile_date")
                }),
                "{query} {sort} after {after:?}: {steps:#?}"
            );
            // Ties on the date may still be put in id order, but never the whole range sorted.
            assert!(
                !steps.iter().any(|s| s == "USE TEMP B-TREE FOR ORDER BY"),
                "{query} {sort} after {after:?}: {steps:#?}"
            );
        }
    }
}
