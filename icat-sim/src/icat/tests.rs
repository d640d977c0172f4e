//! Tests of the ICAT operations (access rules, sessions, faults) without the wire format.

use std::collections::BTreeMap;

use icat_soap::dynamic::{AttrValue, DynEntity};

use super::{Access, Icat};
use crate::icat::db::{Clock, Db};
use crate::icat::error::IcatErrorKind;
use crate::process::config::SimConfig;

fn icat(config: SimConfig) -> Icat {
    Icat::new(
        Db::open(None, crate::entities(), Clock::default()).unwrap(),
        config,
    )
}

fn creds(user: &str, password: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("username".into(), user.into()),
        ("password".into(), password.into()),
    ])
}

fn facility(name: &str) -> DynEntity {
    let mut f = DynEntity::new("Facility");
    f.attrs
        .insert("name".into(), AttrValue::String(name.into()));
    f
}

#[test]
fn login_and_session_operations() {
    let icat = icat(SimConfig::default());
    let sid = icat.login("simple", &creds("root", "secret")).unwrap();
    assert_eq!(icat.get_user_name(&sid).unwrap(), "simple/root");
    let err = icat.login("simple", &creds("root", "nope")).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::Session);
    let err = icat.login("ldap", &creds("root", "secret")).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            IcatErrorKind::Session,
            "Authenticator mnemonic ldap not recognised"
        )
    );
    assert!(icat.get_remaining_minutes(&sid).unwrap() > 119.0);
    icat.logout(&sid).unwrap();
    assert_eq!(
        icat.get_user_name(&sid).unwrap_err().kind,
        IcatErrorKind::Session
    );
    assert_eq!(icat.get_api_version(), "6.2.0");
    assert_eq!(icat.get_entity_names().len(), 53);
    assert_eq!(
        icat.get_entity_info("Nope").unwrap_err().kind,
        IcatErrorKind::BadParameter
    );
    let auth = icat.get_authenticator_info();
    assert_eq!(
        auth.iter().map(|a| a.mnemonic.as_str()).collect::<Vec<_>>(),
        ["simple", "db"]
    );
    assert_eq!(
        auth[0].keys,
        vec![
            ("username".to_string(), false),
            ("password".to_string(), true)
        ]
    );
}

fn rule(flags: &str, what: &str) -> DynEntity {
    let mut r = DynEntity::new("Rule");
    r.attrs
        .insert("crudFlags".into(), AttrValue::String(flags.into()));
    r.attrs
        .insert("what".into(), AttrValue::String(what.into()));
    r
}

#[test]
fn non_root_users_follow_the_rules_unless_writes_are_open() {
    let icat = icat(SimConfig::default());
    let root = icat.login("simple", &creds("root", "secret")).unwrap();
    let user = icat.login("db", &creds("jdoe", "secret")).unwrap();
    let id = icat.create(&root, &facility("F1")).unwrap();
    let mut existing = facility("F1");
    existing.attrs.insert("id".into(), AttrValue::Long(id));
    // No rule yet: nothing is readable.
    let err = icat.get(&user, "Facility", id).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            IcatErrorKind::InsufficientPrivileges,
            "READ access to this Facility is not allowed."
        )
    );
    assert!(
        !icat
            .is_access_allowed(&user, &existing, Access::Read)
            .unwrap()
    );
    // A new rule takes effect at once (the compiled rules are dropped when rules change).
    icat.create(&root, &rule("R", "Facility")).unwrap();
    assert_eq!(
        icat.get(&user, "Facility", id).unwrap().attrs["name"],
        AttrValue::String("F1".into())
    );
    let err = icat.create(&root, &rule("RX", "Facility")).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter, "{err}");
    let err = icat
        .create(&root, &rule("R", "SELECT x FROM Nothing x"))
        .unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter, "{err}");
    let err = icat
        .create(&root, &rule("CRUD", "SELECT o.name FROM Facility o"))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Attribute selection in rules is only allowed for Update"
    );
    let err = icat.create(&user, &facility("F2")).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::InsufficientPrivileges);
    assert_eq!(
        err.message,
        "CREATE access to this Facility is not allowed."
    );
    let err = icat.create_many(&user, &[facility("F3")]).unwrap_err();
    assert_eq!(
        (err.kind, err.offset),
        (IcatErrorKind::InsufficientPrivileges, 0)
    );
    assert_eq!(
        icat.delete(&user, &existing).unwrap_err().kind,
        IcatErrorKind::InsufficientPrivileges
    );
    assert_eq!(
        icat.get_properties(&user).unwrap_err().message,
        "user must be in rootUserNames"
    );
    assert!(
        icat.get_properties(&root)
            .unwrap()
            .contains(&"maxEntities 10000".to_string())
    );

    assert!(
        icat.is_access_allowed(&user, &existing, Access::Read)
            .unwrap()
    );
    assert!(
        !icat
            .is_access_allowed(&user, &existing, Access::Update)
            .unwrap()
    );
    assert!(
        icat.is_access_allowed(&root, &existing, Access::Delete)
            .unwrap()
    );
    let mut missing = existing.clone();
    missing.attrs.insert("id".into(), AttrValue::Long(999));
    assert!(
        !icat
            .is_access_allowed(&root, &missing, Access::Read)
            .unwrap()
    );
    assert!(
        icat.is_access_allowed(&root, &facility("New"), Access::Create)
            .unwrap()
    );
    assert_eq!(
        icat.is_access_allowed(&root, &facility("F1"), Access::Create)
            .unwrap_err()
            .kind,
        IcatErrorKind::ObjectAlreadyExists
    );
    assert_eq!(
        icat.get(&root, "Facility", 999).unwrap_err().kind,
        IcatErrorKind::NoSuchObjectFound
    );

    let open = icat_with_writes();
    let user = open.login("db", &creds("jdoe", "secret")).unwrap();
    assert!(open.create(&user, &facility("F2")).is_ok());
}

fn icat_with_writes() -> Icat {
    icat(SimConfig {
        non_root_write: true,
        ..SimConfig::default()
    })
}
