//! The client's query builder against the simulator's ICAT JPQL parser and compiler: every query it
//! builds must parse and compile, and hostile values must arrive as exactly one bound value.

use icat_sim::jpql;
use icat_soap::query::{Aggregate, Condition, JoinKind, Literal, Query, Schema};

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
