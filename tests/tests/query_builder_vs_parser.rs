//! The client's query builder against the simulator's ICAT JPQL parser and compiler: every query it
//! builds must parse and compile, and hostile values must arrive as exactly one bound value.

use icat_sim::jpql;
use icat_soap::query::{Aggregate, CompareOp, Condition, JoinKind, Jpql, Literal, Query, Schema};

fn schema() -> Schema<'static> {
    Schema::new(icat_sim::entities())
}

fn compile(q: &Query) -> jpql::CompiledQuery {
    let text = q.to_jpql_with(schema()).expect("builder accepts the query");
    let parsed = jpql::parse(&text).unwrap_or_else(|e| panic!("{text}\n  does not parse: {e}"));
    jpql::compile(&parsed, "simple/root", icat_sim::entities())
        .unwrap_or_else(|e| panic!("{text}\n  does not compile: {e}"))
}

#[test]
fn every_builder_shape_parses_and_compiles() {
    let ts = icat_soap::DateTime::parse("2011-01-15T00:00:00Z").expect("date");
    let queries = [
        Query::new("Investigation"),
        Query::new("Dataset").where_eq("investigation.facility.name", "ISIS"),
        Query::new("Dataset")
            .where_eq("investigation.name", "10100601-ST")
            .filter(Condition::gt("parameters.numericValue", 5.0))
            .where_eq("parameters.type.name", "Magnetic field")
            .include("parameters.type"),
        Query::new("Dataset")
            .select("investigation.name")
            .select("name")
            .select("type.name"),
        Query::new("DatasetParameter").aggregate(Aggregate::Min, "numericValue"),
        Query::new("Dataset").count(),
        Query::new("Datafile").aggregate_entity(Aggregate::CountDistinct),
        Query::new("Datafile").aggregate(Aggregate::Sum, "fileSize"),
        Query::new("Investigation")
            .select("facility.name")
            .distinct(),
        Query::new("Dataset")
            .select("name")
            .order_by("name")
            .limit(0, 10),
        Query::new("Investigation")
            .order_by("facility.name")
            .order_by_desc("name")
            .include_many_to_one(),
        Query::new("Investigation").where_eq("investigationUsers.user.name", Literal::CurrentUser),
        Query::new("ParameterType").where_eq("valueType", "DATE_AND_TIME"),
        Query::new("Investigation")
            .join("datasets", JoinKind::Left)
            .filter(Condition::any([
                Condition::is_null("datasets.name"),
                Condition::like("datasets.name", "e20%"),
            ])),
        Query::new("Datafile")
            .filter(Condition::is_in("id", [1i64, 2, 3]))
            .filter(Condition::between("fileSize", 10i64, 20i64))
            .filter(!Condition::eq("dataset.complete", true)),
        Query::new("Dataset").filter(Condition::is_not_null("investigation")),
        Query::new("Investigation").filter(Condition::gt("startDate", ts)),
        Query::new("Facility")
            .include("investigations.datasets.datafiles")
            .include("instruments"),
        // Several items, aggregates, GROUP BY and HAVING.
        Query::new("Datafile")
            .count()
            .aggregate(Aggregate::Sum, "fileSize"),
        Query::new("Datafile")
            .select("dataset.investigation.name")
            .count()
            .aggregate(Aggregate::Sum, "fileSize")
            .aggregate(Aggregate::Max, "datafileModTime")
            .group_by("dataset.investigation.name")
            .having(Condition::aggregate(
                Aggregate::Sum,
                "fileSize",
                CompareOp::Gt,
                10_i64,
            ))
            .having(Condition::count(CompareOp::Ge, 1_u64))
            .order_by("dataset.investigation.name"),
        Query::new("Investigation")
            .select("name")
            .aggregate(Aggregate::CountDistinct, "datasets")
            .aggregate(Aggregate::Count, "datasets.datafiles")
            .aggregate(Aggregate::Avg, "datasets.datafiles.fileSize")
            .group_by("name"),
        // LIKE with ESCAPE, and typed literals.
        Query::new("Datafile").filter(Condition::contains("name", "100%_done!")),
        Query::new("Datafile").filter(Condition::starts_with("name", "e2")),
        Query::new("Datafile").filter(!Condition::ends_with("name", ".nxs")),
        Query::new("ParameterType")
            .where_eq("valueType", icat_soap::model::ParameterValueType::Numeric),
        Query::new("Investigation").filter(Condition::ge("startDate", "2024-01-31")),
        Query::new("Dataset").where_eq("investigation.id", Some(7_i64)),
    ];
    for q in &queries {
        compile(q);
    }
}

#[test]
fn hostile_values_arrive_as_one_bound_value() {
    for hostile in [
        "O'Brien",
        "x' OR '1'='1",
        "'; DELETE FROM Investigation i; --",
        "''",
        "a\\' OR 1=1",
        ") OR (1=1",
        "{ts 2011-01-01 00:00:00}",
        ":user",
    ] {
        let compiled = compile(&Query::new("Investigation").where_eq("visitId", hostile));
        let debug = format!("{:?}", compiled.params);
        assert_eq!(
            debug.matches(&format!("Text({hostile:?})")).count(),
            1,
            "{hostile:?} not bound as exactly one value: {debug}"
        );
        assert!(
            !compiled.sql.contains(hostile),
            "{hostile:?} leaked into SQL: {}",
            compiled.sql
        );
    }
}

#[test]
fn raw_jpql_with_bound_parameters_parses_and_compiles() {
    let text = Jpql::new(
        "SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df JOIN df.dataset ds \
         WHERE ds.name = :name AND df.id IN (:ids) AND df.name LIKE :pattern ESCAPE '!'",
    )
    .bind("name", "x' OR '1'='1")
    .bind_list("ids", [1_i64, 2, 3])
    .bind("pattern", "%a!%%")
    .render()
    .expect("renders");
    let parsed = jpql::parse(&text).unwrap_or_else(|e| panic!("{text}\n  does not parse: {e}"));
    let compiled = jpql::compile(&parsed, "simple/root", icat_sim::entities())
        .unwrap_or_else(|e| panic!("{text}\n  does not compile: {e}"));
    let debug = format!("{:?}", compiled.params);
    assert_eq!(
        debug.matches("Text(\"x' OR '1'='1\")").count(),
        1,
        "{debug}"
    );
}

/// Wildcards in a `contains` value match only themselves: the compiled LIKE pattern escapes them.
#[test]
fn like_helpers_bind_an_escaped_pattern() {
    let compiled =
        compile(&Query::new("Datafile").filter(Condition::contains("name", "100%_done")));
    let debug = format!("{:?}", compiled.params);
    assert!(debug.contains("Text(\"%100!%!_done%\")"), "{debug}");
    assert!(compiled.sql.contains("ESCAPE"), "{}", compiled.sql);
}

/// The builder with arbitrary strings in `=`, `LIKE` and `IN`.
fn with_values(values: &[String; 3]) -> Query {
    Query::new("Investigation")
        .where_eq("visitId", values[0].as_str())
        .filter(Condition::any([
            Condition::like("name", values[1].as_str()),
            Condition::is_in("title", [values[2].as_str(), values[0].as_str()]),
        ]))
        .order_by("id")
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            proptest::collection::vec(
                prop_oneof![
                    Just("'"),
                    Just("''"),
                    Just("\\"),
                    Just("\""),
                    Just("%"),
                    Just("_"),
                    Just(")"),
                    Just(" OR "),
                    Just("1=1"),
                    Just(":user"),
                    Just("{ts "),
                    Just("}"),
                    Just("--"),
                    Just(";"),
                    Just("\n"),
                    Just("é"),
                ],
                0..10,
            )
            .prop_map(|v| v.concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Bounded twin of the `query_escape` fuzz target: any values arrive as exactly those
        /// bound values, and the SQL is the one harmless values give (same query structure).
        #[test]
        fn any_values_round_trip_without_changing_the_query(a in value(), b in value(), c in value()) {
            let values = [a, b, c];
            let hostile = compile(&with_values(&values));
            let plain = compile(&with_values(&["a".into(), "b".into(), "c".into()]));
            prop_assert_eq!(&hostile.sql, &plain.sql);
            let expected: Vec<String> = [&values[0], &values[1], &values[2], &values[0]]
                .iter()
                .map(|v| format!("Text({v:?})"))
                .collect();
            prop_assert_eq!(format!("{:?}", hostile.params), format!("[{}]", expected.join(", ")));
        }
    }
}
