//! The query builder against the generated ICAT 6.2 entity metadata: real paths pass, typos fail
//! offline, and every field of every entity can be used where its kind allows.

use icat_soap::meta::ENTITIES;
use icat_soap::meta::{AttrType, FieldKind};
use icat_soap::query::{Condition, Literal, Query, QueryError};

#[test]
fn documented_examples_render() {
    let cases = [
        (
            Query::new("Dataset")
                .include("datafiles.parameters")
                .include("parameters"),
            "SELECT d FROM Dataset d INCLUDE d.datafiles.parameters, d.parameters",
        ),
        (
            Query::new("Dataset")
                .select("name")
                .where_eq("type.name", "GS")
                .order_by("name")
                .limit(0, 10),
            "SELECT d.name FROM Dataset d JOIN d.type t WHERE t.name = 'GS' ORDER BY d.name LIMIT 0, 10",
        ),
        (
            Query::new("Investigation")
                .where_eq("investigationUsers.user.name", Literal::CurrentUser),
            "SELECT i FROM Investigation i JOIN i.investigationUsers iu JOIN iu.user u WHERE u.name = :user",
        ),
        (
            Query::new("ParameterType").where_eq("valueType", "DATE_AND_TIME"),
            "SELECT pt FROM ParameterType pt WHERE pt.valueType = org.icatproject.ParameterValueType.DATE_AND_TIME",
        ),
        (
            Query::new("Investigation").filter(Condition::gt(
                "createTime",
                icat_soap::DateTime::parse("2011-01-15T00:00:00").expect("date"),
            )),
            "SELECT i FROM Investigation i WHERE i.createTime > {ts 2011-01-15 00:00:00}",
        ),
        (
            Query::new("User")
                .join("userGroups", icat_soap::query::JoinKind::Inner)
                .where_eq("userGroups.grouping.name", "FacilityAdmins"),
            "SELECT u FROM User u JOIN u.userGroups ug JOIN ug.grouping g WHERE g.name = 'FacilityAdmins'",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(q.to_jpql().as_deref(), Ok(want));
    }
}

#[test]
fn typos_are_caught_before_sending() {
    let err = Query::new("Datafile")
        .where_eq("dataset.investigation.visitid", "x")
        .to_jpql()
        .unwrap_err();
    assert!(
        matches!(&err, QueryError::UnknownField { suggestion: Some(s), .. } if s == "visitId"),
        "{err:?}"
    );
    assert!(matches!(
        Query::new("Investigations").to_jpql(),
        Err(QueryError::UnknownEntity { .. })
    ));
    assert!(matches!(
        Query::new("Investigation")
            .where_eq("facility", "ISIS")
            .to_jpql(),
        Err(QueryError::NotAnAttribute { .. })
    ));
}

#[test]
fn every_field_of_every_entity_is_usable() {
    assert!(ENTITIES.len() >= 53);
    for entity in ENTITIES {
        Query::new(entity.name)
            .include_many_to_one()
            .to_jpql()
            .unwrap_or_else(|e| panic!("{}: {e}", entity.name));
        for field in entity.fields {
            let q = match field.kind {
                FieldKind::Attribute(AttrType::Enum(name)) => {
                    let constants = icat_soap::query::enum_constants(name)
                        .unwrap_or_else(|| panic!("{name} has no constants"));
                    Query::new(entity.name).where_eq(field.name, constants[0])
                }
                FieldKind::Attribute(_) => Query::new(entity.name)
                    .filter(Condition::is_not_null(field.name))
                    .order_by(field.name),
                FieldKind::One { .. } | FieldKind::Many { .. } => {
                    Query::new(entity.name).include(field.name)
                }
            };
            q.to_jpql()
                .unwrap_or_else(|e| panic!("{}.{}: {e}", entity.name, field.name));
        }
    }
}
