//! The query builder's output for a table of cases, against a small fixed schema.

use crate::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};

use super::*;

const fn attr(name: &'static str, ty: AttrType) -> FieldMeta {
    FieldMeta {
        name,
        kind: FieldKind::Attribute(ty),
        not_null: false,
        string_length: None,
        comment: None,
    }
}

const fn one(name: &'static str, target: &'static str) -> FieldMeta {
    FieldMeta {
        name,
        kind: FieldKind::One { target },
        not_null: false,
        string_length: None,
        comment: None,
    }
}

const fn many(name: &'static str, target: &'static str) -> FieldMeta {
    FieldMeta {
        name,
        kind: FieldKind::Many {
            target,
            back_ref: None,
        },
        not_null: false,
        string_length: None,
        comment: None,
    }
}

const fn entity(name: &'static str, fields: &'static [FieldMeta]) -> EntityMeta {
    EntityMeta {
        name,
        xml_type: name,
        comment: None,
        fields,
        constraints: &[],
    }
}

const ID: FieldMeta = attr("id", AttrType::Long);
const NAME: FieldMeta = attr("name", AttrType::String);

static FIXTURE: &[EntityMeta] = &[
    entity(
        "Datafile",
        &[
            ID,
            NAME,
            attr("fileSize", AttrType::Long),
            one("dataset", "Dataset"),
        ],
    ),
    entity(
        "Dataset",
        &[
            ID,
            NAME,
            attr("complete", AttrType::Boolean),
            attr("startDate", AttrType::DateTime),
            many("datafiles", "Datafile"),
            one("investigation", "Investigation"),
            many("parameters", "DatasetParameter"),
            one("type", "DatasetType"),
        ],
    ),
    entity(
        "DatasetParameter",
        &[
            ID,
            attr("numericValue", AttrType::Double),
            attr("stringValue", AttrType::String),
            one("dataset", "Dataset"),
            one("type", "ParameterType"),
        ],
    ),
    entity("DatasetType", &[ID, NAME]),
    entity(
        "Facility",
        &[ID, NAME, many("investigations", "Investigation")],
    ),
    entity(
        "Investigation",
        &[
            ID,
            NAME,
            attr("title", AttrType::String),
            attr("visitId", AttrType::String),
            many("datasets", "Dataset"),
            one("facility", "Facility"),
            many("investigationUsers", "InvestigationUser"),
        ],
    ),
    entity(
        "InvestigationUser",
        &[
            ID,
            attr("role", AttrType::String),
            one("investigation", "Investigation"),
            one("user", "User"),
        ],
    ),
    entity(
        "ParameterType",
        &[
            ID,
            NAME,
            attr("units", AttrType::String),
            attr("valueType", AttrType::Enum("ParameterValueType")),
        ],
    ),
    entity("User", &[ID, NAME]),
];

fn jpql(q: &Query) -> Result<String, QueryError> {
    q.to_jpql_with(Schema::new(FIXTURE))
}

#[test]
fn table_of_expected_jpql() {
    let cases: Vec<(Query, &str)> = vec![
        (Query::new("Investigation"), "SELECT i FROM Investigation i"),
        (
            Query::new("Investigation").where_eq("name", "10100601-ST"),
            "SELECT i FROM Investigation i WHERE i.name = '10100601-ST'",
        ),
        (
            Query::new("Dataset").where_eq("investigation.facility.name", "ISIS"),
            "SELECT d FROM Dataset d JOIN d.investigation i JOIN i.facility f WHERE f.name = 'ISIS'",
        ),
        (
            Query::new("Dataset")
                .where_eq("investigation.name", "10100601-ST")
                .filter(Condition::gt("parameters.numericValue", 5.0))
                .where_eq("parameters.type.name", "Magnetic field")
                .where_eq("parameters.type.units", "T")
                .include("parameters.type"),
            "SELECT d FROM Dataset d JOIN d.investigation i JOIN d.parameters p JOIN p.type t \
             WHERE i.name = '10100601-ST' AND p.numericValue > 5.0 AND t.name = 'Magnetic field' \
             AND t.units = 'T' INCLUDE d.parameters.type",
        ),
        (
            Query::new("Dataset")
                .select("investigation.name")
                .select("name")
                .select("complete")
                .select("type.name"),
            "SELECT i.name, d.name, d.complete, t.name FROM Dataset d JOIN d.investigation i \
             JOIN d.type t",
        ),
        (
            Query::new("DatasetParameter")
                .aggregate(Aggregate::Min, "numericValue")
                .where_eq("dataset.name", "e208945"),
            "SELECT MIN(dp.numericValue) FROM DatasetParameter dp JOIN dp.dataset d \
             WHERE d.name = 'e208945'",
        ),
        (
            Query::new("Dataset").count(),
            "SELECT COUNT(d) FROM Dataset d",
        ),
        (
            Query::new("Datafile").aggregate_entity(Aggregate::CountDistinct),
            "SELECT COUNT(DISTINCT d) FROM Datafile d",
        ),
        (
            Query::new("Datafile").aggregate(Aggregate::Sum, "fileSize"),
            "SELECT SUM(d.fileSize) FROM Datafile d",
        ),
        (
            Query::new("Investigation")
                .select("facility.name")
                .distinct(),
            "SELECT DISTINCT f.name FROM Investigation i JOIN i.facility f",
        ),
        (
            Query::new("Dataset")
                .where_eq("type.name", "GS")
                .select("name")
                .order_by("name")
                .limit(0, 10),
            "SELECT d.name FROM Dataset d JOIN d.type t WHERE t.name = 'GS' ORDER BY d.name \
             LIMIT 0, 10",
        ),
        (
            Query::new("Investigation")
                .order_by("facility.name")
                .order_by_desc("name")
                .include_many_to_one(),
            "SELECT i FROM Investigation i JOIN i.facility f ORDER BY f.name, i.name DESC INCLUDE 1",
        ),
        (
            Query::new("Investigation")
                .where_eq("investigationUsers.user.name", Literal::CurrentUser),
            "SELECT i FROM Investigation i JOIN i.investigationUsers iu JOIN iu.user u \
             WHERE u.name = :user",
        ),
        (
            Query::new("ParameterType").where_eq("valueType", "DATE_AND_TIME"),
            "SELECT pt FROM ParameterType pt \
             WHERE pt.valueType = org.icatproject.ParameterValueType.DATE_AND_TIME",
        ),
        (
            Query::new("Investigation")
                .join("datasets", JoinKind::Left)
                .filter(Condition::any([
                    Condition::is_null("datasets.name"),
                    Condition::like("datasets.name", "e20%"),
                ])),
            "SELECT i FROM Investigation i LEFT JOIN i.datasets d \
             WHERE (d.name IS NULL OR d.name LIKE 'e20%')",
        ),
        (
            Query::new("Datafile")
                .filter(Condition::is_in("id", [1i64, 2, 3]))
                .filter(Condition::between("fileSize", 10i64, 20i64))
                .filter(!Condition::eq("dataset.complete", true)),
            "SELECT d FROM Datafile d JOIN d.dataset d2 WHERE d.id IN (1, 2, 3) \
             AND d.fileSize BETWEEN 10 AND 20 AND NOT (d2.complete = TRUE)",
        ),
        (
            Query::new("Dataset")
                .filter(Condition::is_not_null("investigation"))
                .filter(Condition::ne("complete", false)),
            "SELECT d FROM Dataset d WHERE d.investigation IS NOT NULL AND d.complete <> FALSE",
        ),
        (
            Query::new("Facility")
                .include("investigations.datasets.datafiles")
                .include("investigations"),
            "SELECT f FROM Facility f INCLUDE f.investigations.datasets.datafiles",
        ),
        (
            Query::new("Dataset")
                .include("datafiles")
                .include("type")
                .include("datafiles"),
            "SELECT d FROM Dataset d INCLUDE d.datafiles, d.type",
        ),
        (
            Query::new("Dataset").filter(Condition::gt(
                "startDate",
                crate::DateTime::parse("2011-01-15T09:05:07.250+01:00").expect("valid"),
            )),
            "SELECT d FROM Dataset d WHERE d.startDate > {ts 2011-01-15 09:05:07}",
        ),
        (
            Query::new("Datafile").filter(Condition::ge("fileSize", -5i64)),
            "SELECT d FROM Datafile d WHERE d.fileSize >= -5",
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(jpql(&query).as_deref(), Ok(expected), "for {query:?}");
    }
}

#[test]
fn hostile_values_stay_inside_their_literal() {
    let cases = [
        ("O'Brien", "'O''Brien'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        (
            "'; DELETE FROM Investigation i; --",
            "'''; DELETE FROM Investigation i; --'",
        ),
        ("''", "''''''"),
        ("a\\' OR 1=1", "'a\\'' OR 1=1'"),
        ("ünïcødé ☃", "'ünïcødé ☃'"),
        ("line\nbreak", "'line\nbreak'"),
    ];
    for (value, literal) in cases {
        let q = Query::new("Investigation").where_eq("visitId", value);
        let expected = format!("SELECT i FROM Investigation i WHERE i.visitId = {literal}");
        assert_eq!(jpql(&q).as_deref(), Ok(expected.as_str()));
        // Undoing the quoting gives back exactly the value: the literal ends where it should.
        let body = &literal[1..literal.len() - 1];
        assert!(!body.replace("''", "").contains('\''));
        assert_eq!(body.replace("''", "'"), value);
    }
}

#[test]
fn hostile_enum_values_are_rejected() {
    for bad in ["NUMERIC OR 1=1", "", "A.B", "NUMERIC'", "1ABC"] {
        let q = Query::new("ParameterType").where_eq("valueType", bad);
        assert!(
            matches!(jpql(&q), Err(QueryError::InvalidEnumValue { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn control_characters_are_rejected() {
    let q = Query::new("Investigation").where_eq("name", "a\u{0}b");
    assert_eq!(
        jpql(&q),
        Err(QueryError::InvalidCharacter {
            path: "name".into(),
            code_point: 0
        })
    );
}

#[test]
fn bad_paths_are_rejected_offline_with_a_hint() {
    let err = jpql(&Query::new("Dataset").where_eq("investigation.facilty.name", "x"));
    assert_eq!(
        err,
        Err(QueryError::UnknownField {
            entity: "Investigation".into(),
            field: "facilty".into(),
            path: "investigation.facilty.name".into(),
            suggestion: Some("facility".into()),
        })
    );
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("did you mean `facility`"), "{msg}");

    assert!(matches!(
        jpql(&Query::new("Datasett")),
        Err(QueryError::UnknownEntity { suggestion: Some(s), .. }) if s == "Dataset"
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").where_eq("name.length", "x")),
        Err(QueryError::NotARelation { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").where_eq("investigation", "x")),
        Err(QueryError::NotAnAttribute { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").include("name")),
        Err(QueryError::AttributeNotRelation {
            clause: "INCLUDE",
            ..
        })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").include("datafiles.bogus")),
        Err(QueryError::UnknownField { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").order_by("name DESC, 1")),
        Err(QueryError::InvalidPath { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").join("name", JoinKind::Left)),
        Err(QueryError::AttributeNotRelation { clause: "JOIN", .. })
    ));
}

#[test]
fn values_must_fit_the_attribute_type() {
    let mismatches = [
        Query::new("Datafile").where_eq("fileSize", "12"),
        Query::new("Datafile").where_eq("name", 12i64),
        Query::new("Dataset").where_eq("complete", "true"),
        Query::new("Investigation").where_eq("id", Literal::CurrentUser),
    ];
    for q in mismatches {
        assert!(
            matches!(jpql(&q), Err(QueryError::TypeMismatch { .. })),
            "{q:?} accepted"
        );
    }
    assert!(matches!(
        jpql(&Query::new("DatasetParameter").filter(Condition::gt("numericValue", f64::NAN))),
        Err(QueryError::NonFiniteNumber { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Datafile").filter(Condition::like("fileSize", "1%"))),
        Err(QueryError::OperatorMismatch { .. })
    ));
    assert!(matches!(
        jpql(&Query::new("Dataset").filter(Condition::lt("complete", true))),
        Err(QueryError::OperatorMismatch { .. })
    ));
}

#[test]
fn structural_mistakes_are_rejected() {
    assert_eq!(
        jpql(&Query::new("Dataset").select("name").include("datafiles")),
        Err(QueryError::IncludeNeedsEntity)
    );
    assert_eq!(
        jpql(&Query::new("Dataset").count().include_many_to_one()),
        Err(QueryError::IncludeNeedsEntity)
    );
    assert_eq!(
        jpql(&Query::new("Dataset").aggregate_entity(Aggregate::Max)),
        Err(QueryError::AggregateNeedsAttribute { func: "MAX" })
    );
    assert!(matches!(
        jpql(&Query::new("Dataset").aggregate(Aggregate::Avg, "name")),
        Err(QueryError::OperatorMismatch { .. })
    ));
    assert_eq!(
        jpql(&Query::new("Dataset").filter(Condition::is_in("name", Vec::<String>::new()))),
        Err(QueryError::EmptyIn {
            path: "name".into()
        })
    );
    assert_eq!(
        jpql(&Query::new("Dataset").filter(Condition::any([]))),
        Err(QueryError::EmptyGroup)
    );
    assert_eq!(
        jpql(&Query::new("Dataset").limit(5, 0)),
        Err(QueryError::ZeroLimit)
    );
}

#[test]
fn generated_variables_avoid_keywords() {
    // `investigationSamples`-style initials could spell a keyword such as IS/IN/AS/OR; the builder
    // must add a number instead.
    static KW: &[EntityMeta] = &[entity(
        "Item",
        &[ID, one("orderRef", "Item"), one("inSet", "Item"), NAME],
    )];
    let q = Query::new("Item")
        .where_eq("orderRef.name", "a")
        .where_eq("inSet.name", "b");
    assert_eq!(
        q.to_jpql_with(Schema::new(KW)).as_deref(),
        Ok("SELECT i FROM Item i JOIN i.orderRef or2 JOIN i.inSet is2 \
            WHERE or2.name = 'a' AND is2.name = 'b'")
    );
}

#[test]
fn several_aggregates_group_by_and_having() {
    let q = Query::new("Datafile")
        .select("dataset.investigation.name")
        .count()
        .aggregate(Aggregate::Sum, "fileSize")
        .group_by("dataset.investigation.name")
        .having(Condition::aggregate(
            Aggregate::Sum,
            "fileSize",
            CompareOp::Gt,
            15_000_i64,
        ))
        .having(Condition::count(CompareOp::Ge, 2_u64))
        .order_by("dataset.investigation.name");
    assert_eq!(
        jpql(&q).unwrap(),
        "SELECT i.name, COUNT(d), SUM(d.fileSize) FROM Datafile d JOIN d.dataset d2 \
         JOIN d2.investigation i GROUP BY i.name HAVING SUM(d.fileSize) > 15000 AND COUNT(d) >= 2 \
         ORDER BY i.name"
    );
    // Two aggregates without grouping: one row for everything.
    let q = Query::new("Datafile")
        .count()
        .aggregate(Aggregate::Sum, "fileSize");
    assert_eq!(
        jpql(&q).unwrap(),
        "SELECT COUNT(d), SUM(d.fileSize) FROM Datafile d"
    );
    // COUNT over relations counts the related objects.
    let q = Query::new("Investigation")
        .select("name")
        .aggregate(Aggregate::CountDistinct, "datasets")
        .aggregate(Aggregate::Count, "datasets.datafiles")
        .group_by("name");
    assert_eq!(
        jpql(&q).unwrap(),
        "SELECT i.name, COUNT(DISTINCT d), COUNT(d2) FROM Investigation i JOIN i.datasets d \
         JOIN d.datafiles d2 GROUP BY i.name"
    );
}

#[test]
fn grouping_mistakes_are_refused_offline() {
    let q = Query::new("Datafile")
        .select("name")
        .aggregate(Aggregate::Sum, "fileSize");
    assert_eq!(
        jpql(&q),
        Err(QueryError::NotGrouped {
            path: "name".into()
        })
    );
    let q = Query::new("Datafile").group_by("name");
    assert_eq!(jpql(&q), Err(QueryError::GroupByNeedsItems));
    let q = Query::new("Datafile")
        .count()
        .having(Condition::count(CompareOp::Gt, 1_i64));
    assert_eq!(jpql(&q), Err(QueryError::HavingNeedsGroupBy));
    let q = Query::new("Datafile").filter(Condition::count(CompareOp::Gt, 1_i64));
    assert!(matches!(jpql(&q), Err(QueryError::AggregateInWhere { .. })));
    let q = Query::new("Datafile")
        .select("name")
        .aggregate(Aggregate::Sum, "dataset")
        .group_by("name");
    assert!(matches!(jpql(&q), Err(QueryError::NotAnAttribute { .. })));
}

#[test]
fn like_helpers_escape_wildcards_and_the_escape_character() {
    let cases = [
        (
            Condition::contains("name", "100%_done"),
            "LIKE '%100!%!_done%'",
        ),
        (Condition::starts_with("name", "a!b"), "LIKE 'a!!b%'"),
        (Condition::ends_with("name", "O'_"), "LIKE '%O''!_'"),
        (!Condition::contains("name", "%"), "NOT LIKE '%!%%'"),
    ];
    for (c, expected) in cases {
        let text = jpql(&Query::new("Investigation").filter(c)).unwrap();
        assert_eq!(
            text,
            format!("SELECT i FROM Investigation i WHERE i.name {expected} ESCAPE '!'")
        );
    }
    let q = Query::new("Datafile").filter(Condition::contains("fileSize", "1"));
    assert!(matches!(jpql(&q), Err(QueryError::OperatorMismatch { .. })));
}

#[test]
fn literal_conversions_for_options_unsigned_dates_and_enums() {
    let id: Option<i64> = Some(42);
    assert_eq!(
        jpql(&Query::new("Dataset").where_eq("investigation.id", id)).unwrap(),
        "SELECT d FROM Dataset d JOIN d.investigation i WHERE i.id = 42"
    );
    let none: Option<i64> = None;
    assert_eq!(
        jpql(&Query::new("Dataset").where_eq("id", none)),
        Err(QueryError::MissingValue { path: "id".into() })
    );
    assert_eq!(
        jpql(&Query::new("Dataset").where_eq("id", 7_usize)).unwrap(),
        "SELECT d FROM Dataset d WHERE d.id = 7"
    );
    assert_eq!(
        jpql(&Query::new("Dataset").where_eq("id", u64::MAX)),
        Err(QueryError::IntegerOutOfRange {
            path: "id".into(),
            value: u64::MAX
        })
    );
    assert_eq!(
        jpql(&Query::new("Dataset").filter(Condition::ge("startDate", "2024-01-31"))).unwrap(),
        "SELECT d FROM Dataset d WHERE d.startDate >= {ts 2024-01-31 00:00:00}"
    );
    assert!(matches!(
        jpql(&Query::new("Dataset").filter(Condition::ge("startDate", "31/01/2024"))),
        Err(QueryError::InvalidTimestamp { .. })
    ));
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400 + 3_661);
    assert_eq!(
        jpql(&Query::new("Dataset").filter(Condition::lt("startDate", t))).unwrap(),
        "SELECT d FROM Dataset d WHERE d.startDate < {ts 1970-01-02 01:01:01}"
    );
    assert_eq!(
        jpql(
            &Query::new("ParameterType")
                .where_eq("valueType", crate::model::ParameterValueType::Numeric)
        )
        .unwrap(),
        "SELECT pt FROM ParameterType pt WHERE pt.valueType = org.icatproject.ParameterValueType.NUMERIC"
    );
    // A constant of another enum is a type mismatch.
    assert!(matches!(
        jpql(&Query::new("ParameterType").where_eq("valueType", crate::model::StudyStatus::New)),
        Err(QueryError::TypeMismatch { .. })
    ));
}

#[test]
fn enum_strings_the_server_would_refuse_are_refused_offline() {
    let err = jpql(&Query::new("ParameterType").where_eq("valueType", "numeric")).unwrap_err();
    assert!(
        matches!(err, QueryError::InvalidEnumValue { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("did you mean NUMERIC?"), "{err}");
    let err = jpql(&Query::new("ParameterType").where_eq("valueType", "TEXT")).unwrap_err();
    assert!(
        err.to_string()
            .contains("one of DATE_AND_TIME, NUMERIC, STRING"),
        "{err}"
    );
    assert_eq!(
        jpql(&Query::new("ParameterType").where_eq("valueType", "STRING")).unwrap(),
        "SELECT pt FROM ParameterType pt WHERE pt.valueType = org.icatproject.ParameterValueType.STRING"
    );
}

#[test]
fn in_lists_are_bounded_and_error_text_stays_short() {
    let q = Query::new("Datafile").filter(Condition::is_in("id", 0..50_000_i64));
    let err = jpql(&q).unwrap_err();
    assert!(matches!(
        err,
        QueryError::TooManyInValues {
            count: 50_000,
            max: MAX_IN_VALUES,
            ..
        }
    ));
    let q = Query::new("Datafile").filter(Condition::is_in("id", 0..MAX_IN_VALUES as i64));
    assert!(jpql(&q).is_ok());
    let huge = "x".repeat(100_000);
    for err in [
        jpql(&Query::new(huge.as_str())).unwrap_err(),
        jpql(&Query::new("Datafile").where_eq(huge.as_str(), 1_i64)).unwrap_err(),
        jpql(&Query::new("ParameterType").where_eq("valueType", huge.as_str())).unwrap_err(),
        jpql(&Query::new("Dataset").where_eq("startDate", huge.as_str())).unwrap_err(),
    ] {
        assert!(
            err.to_string().len() < 600,
            "{} bytes",
            err.to_string().len()
        );
    }
}
