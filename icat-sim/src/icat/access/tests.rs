//! The rule forms used in practice, INCLUDE filtering, `get`, `isAccessAllowed`, checked writes
//! and the IDS catalogue, on a small facility built through the ICAT service.

use std::collections::BTreeMap;

use icat_soap::dynamic::{AttrValue, DynEntity};

use crate::glue::sim_catalog::SimCatalog;
use crate::icat::Icat;
use crate::icat::access::Access;
use crate::icat::db::{Clock, Db};
use crate::icat::error::IcatErrorKind;
use crate::icat::search::{Cell, SearchItem};
use crate::ids::{CatalogError, IdsCatalog, Selection};
use crate::process::config::SimConfig;

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.into())
}

fn bean(entity: &str, attrs: &[(&str, AttrValue)], ones: &[(&str, &str, i64)]) -> DynEntity {
    let mut e = DynEntity::new(entity);
    for (k, v) in attrs {
        e.attrs.insert((*k).into(), v.clone());
    }
    for (field, target, id) in ones {
        e.one.insert((*field).into(), reference(target, *id));
    }
    e
}

fn reference(entity: &str, id: i64) -> DynEntity {
    let mut r = DynEntity::new(entity);
    r.attrs.insert("id".into(), AttrValue::Long(id));
    r
}

struct Facility {
    icat: Icat,
    root: String,
    /// Investigations: `a` has jdoe as investigator, `b` nobody, `c` runs on acord's instrument.
    inv: [i64; 3],
    /// One dataset per investigation, in the same order.
    ds: [i64; 3],
    ds_type: i64,
    writers: i64,
}

impl Facility {
    fn login(&self, user: &str) -> String {
        let creds = BTreeMap::from([
            ("username".to_string(), user.to_string()),
            ("password".to_string(), "secret".to_string()),
        ]);
        self.icat.login("db", &creds).unwrap()
    }

    fn create(&self, e: &DynEntity) -> i64 {
        self.icat
            .create(&self.root, e)
            .unwrap_or_else(|err| panic!("{}: {err}", e.entity))
    }

    fn rule(&self, flags: &str, what: &str, grouping: Option<i64>) -> i64 {
        let ones: Vec<(&str, &str, i64)> = grouping
            .map(|g| vec![("grouping", "Grouping", g)])
            .unwrap_or_default();
        self.create(&bean(
            "Rule",
            &[("crudFlags", s(flags)), ("what", s(what))],
            &ones,
        ))
    }

    fn names(&self, sid: &str, query: &str) -> Vec<String> {
        self.icat
            .search(sid, query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .into_iter()
            .map(|item| match item {
                SearchItem::Value(Cell::String(s)) => s,
                SearchItem::Value(Cell::Long(n)) => n.to_string(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn new_dataset(&self, name: &str, inv: i64) -> DynEntity {
        bean(
            "Dataset",
            &[("name", s(name))],
            &[
                ("investigation", "Investigation", inv),
                ("type", "DatasetType", self.ds_type),
            ],
        )
    }
}

fn facility() -> Facility {
    let db = Db::open(None, crate::entities(), Clock::default()).unwrap();
    let icat = Icat::new(db, SimConfig::default());
    let creds = BTreeMap::from([
        ("username".to_string(), "root".to_string()),
        ("password".to_string(), "secret".to_string()),
    ]);
    let root = icat.login("simple", &creds).unwrap();
    let mut f = Facility {
        icat,
        root,
        inv: [0; 3],
        ds: [0; 3],
        ds_type: 0,
        writers: 0,
    };
    let fac = f.create(&bean("Facility", &[("name", s("F"))], &[]));
    let inv_type = f.create(&bean(
        "InvestigationType",
        &[("name", s("exp"))],
        &[("facility", "Facility", fac)],
    ));
    f.ds_type = f.create(&bean(
        "DatasetType",
        &[("name", s("raw"))],
        &[("facility", "Facility", fac)],
    ));
    let instrument = f.create(&bean(
        "Instrument",
        &[("name", s("I1"))],
        &[("facility", "Facility", fac)],
    ));
    let mut users = BTreeMap::new();
    for u in ["jdoe", "acord", "rbeck", "nbour"] {
        let name = format!("db/{u}");
        users.insert(u, f.create(&bean("User", &[("name", s(&name))], &[])));
    }
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        let mut inv = bean(
            "Investigation",
            &[("name", s(name)), ("visitId", s("1")), ("title", s(name))],
            &[
                ("facility", "Facility", fac),
                ("type", "InvestigationType", inv_type),
            ],
        );
        if i == 0 {
            inv.many.insert(
                "investigationUsers".into(),
                vec![bean(
                    "InvestigationUser",
                    &[("role", s("investigator"))],
                    &[("user", "User", users["jdoe"])],
                )],
            );
        }
        if i == 2 {
            inv.many.insert(
                "investigationInstruments".into(),
                vec![bean(
                    "InvestigationInstrument",
                    &[],
                    &[("instrument", "Instrument", instrument)],
                )],
            );
        }
        f.inv[i] = f.create(&inv);
        let mut ds = f.new_dataset(&format!("ds-{name}"), f.inv[i]);
        ds.many.insert(
            "datafiles".into(),
            vec![bean(
                "Datafile",
                &[("name", s("f1")), ("location", s(&format!("{name}/f1")))],
                &[],
            )],
        );
        f.ds[i] = f.create(&ds);
    }
    f.create(&bean(
        "InstrumentScientist",
        &[],
        &[
            ("instrument", "Instrument", instrument),
            ("user", "User", users["acord"]),
        ],
    ));
    f.writers = f.create(&bean("Grouping", &[("name", s("writers"))], &[]));
    f.create(&bean(
        "UserGroup",
        &[],
        &[
            ("grouping", "Grouping", f.writers),
            ("user", "User", users["rbeck"]),
        ],
    ));
    // The rule forms: concise, its JPQL equivalent, instrument scientists, a grouping, public.
    f.rule(
        "R",
        "Investigation <-> InvestigationUser <-> User [name = :user]",
        None,
    );
    f.rule(
        "R",
        "SELECT o FROM Dataset o JOIN o.investigation i JOIN i.investigationUsers iu \
         JOIN iu.user u WHERE u.name = :user",
        None,
    );
    f.rule(
        "R",
        "SELECT o FROM Investigation o JOIN o.investigationInstruments ii JOIN ii.instrument ins \
         JOIN ins.instrumentScientists sc JOIN sc.user u WHERE u.name = :user",
        None,
    );
    f.rule("CRUD", "Dataset", Some(f.writers));
    f.rule("R", "Facility", None);
    f.create(&bean(
        "PublicStep",
        &[
            ("origin", s("Investigation")),
            ("field", s("investigationUsers")),
        ],
        &[],
    ));
    f
}

const INVESTIGATIONS: &str = "SELECT i.name FROM Investigation i ORDER BY i.name";

#[test]
fn each_rule_form_grants_what_it_says() {
    let f = facility();
    let jdoe = f.login("jdoe");
    let acord = f.login("acord");
    let rbeck = f.login("rbeck");
    let nbour = f.login("nbour");
    // Concise `Investigation <-> InvestigationUser <-> User [name = :user]`.
    assert_eq!(f.names(&jdoe, INVESTIGATIONS), ["A"]);
    // The JPQL form of the same rule, on datasets.
    assert_eq!(f.names(&jdoe, "SELECT d.name FROM Dataset d"), ["ds-A"]);
    // Instrument scientists.
    assert_eq!(f.names(&acord, INVESTIGATIONS), ["C"]);
    // A grouping rule applies to members only.
    assert_eq!(
        f.names(&rbeck, "SELECT d.name FROM Dataset d ORDER BY d.name"),
        ["ds-A", "ds-B", "ds-C"]
    );
    assert!(f.names(&rbeck, INVESTIGATIONS).is_empty());
    assert!(f.names(&nbour, "SELECT d.name FROM Dataset d").is_empty());
    // Aggregates count readable rows; no rule at all counts nothing.
    assert_eq!(f.names(&jdoe, "SELECT COUNT(d) FROM Dataset d"), ["1"]);
    assert_eq!(f.names(&jdoe, "SELECT COUNT(df) FROM Datafile df"), ["0"]);
    // A public type.
    assert_eq!(f.names(&nbour, "SELECT x.name FROM Facility x"), ["F"]);
    // Joined variables are not restricted: "my visits" through InvestigationUser (unreadable).
    let mine = "SELECT i.name FROM Investigation i JOIN i.investigationUsers iu \
                WHERE iu.user.name = :user";
    assert_eq!(f.names(&jdoe, mine), ["A"]);
    assert!(
        f.names(&jdoe, "SELECT iu.id FROM InvestigationUser iu")
            .is_empty()
    );
    // Joining a new member to the grouping takes effect at once.
    let nbour_id = f.names(&f.root, "SELECT u.id FROM User u WHERE u.name = 'db/nbour'");
    f.create(&bean(
        "UserGroup",
        &[],
        &[
            ("grouping", "Grouping", f.writers),
            ("user", "User", nbour_id[0].parse().unwrap()),
        ],
    ));
    assert_eq!(f.names(&nbour, "SELECT COUNT(d) FROM Dataset d"), ["3"]);
}

fn entity_of(item: &SearchItem) -> &DynEntity {
    match item {
        SearchItem::Value(Cell::Entity(e)) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn includes_drop_what_the_user_may_not_read_except_across_public_steps() {
    let f = facility();
    let jdoe = f.login("jdoe");
    let found = f
        .icat
        .search(
            &jdoe,
            "SELECT i FROM Investigation i INCLUDE i.investigationUsers iu, iu.user, i.datasets, i.facility",
        )
        .unwrap();
    let inv = entity_of(&found[0]);
    // InvestigationUser is not readable, but Investigation.investigationUsers is a public step.
    let ius = &inv.many["investigationUsers"];
    assert_eq!(ius.len(), 1);
    // InvestigationUser.user is not a public step and users are not readable: dropped.
    assert!(!ius[0].one.contains_key("user"), "{:?}", ius[0]);
    assert_eq!(
        inv.many["datasets"].len(),
        1,
        "readable through the dataset rule"
    );
    assert!(inv.one.contains_key("facility"), "a public type");
    // A grouping member reads datasets but not investigations: the many-to-one is left out.
    let rbeck = f.login("rbeck");
    let found = f
        .icat
        .search(&rbeck, "SELECT d FROM Dataset d INCLUDE 1")
        .unwrap();
    assert_eq!(found.len(), 3);
    for item in &found {
        let ds = entity_of(item);
        assert!(!ds.one.contains_key("investigation"), "{ds:?}");
    }
    // Root sees everything included.
    let found = f
        .icat
        .search(&f.root, "SELECT d FROM Dataset d INCLUDE 1")
        .unwrap();
    assert!(entity_of(&found[0]).one.contains_key("investigation"));
}

#[test]
fn get_and_is_access_allowed_follow_the_rules() {
    let f = facility();
    let jdoe = f.login("jdoe");
    let rbeck = f.login("rbeck");
    let nbour = f.login("nbour");
    let err = f.icat.get(&jdoe, "Investigation", f.inv[1]).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            IcatErrorKind::InsufficientPrivileges,
            "READ access to this Investigation is not allowed."
        )
    );
    let got = f
        .icat
        .get(
            &jdoe,
            "Investigation i INCLUDE i.investigationUsers",
            f.inv[0],
        )
        .unwrap();
    assert_eq!(got.many["investigationUsers"].len(), 1);
    let err = f.icat.get(&jdoe, "Investigation", 9999).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::NoSuchObjectFound);

    let allowed =
        |sid: &str, e: &DynEntity, a: Access| f.icat.is_access_allowed(sid, e, a).unwrap();
    let inv_a = reference("Investigation", f.inv[0]);
    let inv_b = reference("Investigation", f.inv[1]);
    let ds_b = reference("Dataset", f.ds[1]);
    assert!(allowed(&jdoe, &inv_a, Access::Read));
    assert!(!allowed(&jdoe, &inv_b, Access::Read));
    assert!(!allowed(&jdoe, &inv_a, Access::Update));
    assert!(!allowed(&jdoe, &inv_a, Access::Delete));
    assert!(allowed(&rbeck, &ds_b, Access::Update));
    assert!(allowed(&rbeck, &ds_b, Access::Delete));
    assert!(allowed(
        &rbeck,
        &f.new_dataset("new", f.inv[1]),
        Access::Create
    ));
    assert!(!allowed(
        &nbour,
        &f.new_dataset("new", f.inv[1]),
        Access::Create
    ));
    assert!(allowed(&f.root, &inv_b, Access::Delete));
    // Checking CREATE creates nothing.
    assert_eq!(f.names(&f.root, "SELECT COUNT(d) FROM Dataset d"), ["3"]);
}

#[test]
fn writes_are_checked_and_many_calls_are_atomic() {
    let f = facility();
    let rbeck = f.login("rbeck");
    let nbour = f.login("nbour");
    let count = || f.names(&f.root, "SELECT COUNT(d) FROM Dataset d")[0].clone();
    // Create: members of the grouping may, others may not.
    let err = f
        .icat
        .create(&nbour, &f.new_dataset("n1", f.inv[1]))
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str(), err.offset),
        (
            IcatErrorKind::InsufficientPrivileges,
            "CREATE access to this Dataset is not allowed.",
            -1
        )
    );
    let id = f
        .icat
        .create(&rbeck, &f.new_dataset("r1", f.inv[1]))
        .unwrap();
    assert_eq!(count(), "4");
    // A create is checked on the objects it cascades to: no rule lets rbeck create datafiles.
    let mut with_file = f.new_dataset("r2", f.inv[1]);
    with_file.many.insert(
        "datafiles".into(),
        vec![bean("Datafile", &[("name", s("x"))], &[])],
    );
    let err = f.icat.create(&rbeck, &with_file).unwrap_err();
    assert_eq!(
        err.message,
        "CREATE access to this Datafile is not allowed."
    );
    assert_eq!(count(), "4", "nothing of the refused create remains");
    // createMany: the second bean is refused, so the first is undone too.
    let err = f
        .icat
        .create_many(
            &rbeck,
            &[
                f.new_dataset("r3", f.inv[1]),
                bean("Facility", &[("name", s("G"))], &[]),
            ],
        )
        .unwrap_err();
    assert_eq!(
        (err.kind, err.offset),
        (IcatErrorKind::InsufficientPrivileges, 1)
    );
    assert_eq!(count(), "4");
    // Update: checked on the object as it is.
    let mut changed = f.new_dataset("r1-renamed", f.inv[1]);
    changed.attrs.insert("id".into(), AttrValue::Long(id));
    let err = f.icat.update(&nbour, &changed).unwrap_err();
    assert_eq!(err.message, "UPDATE access to this Dataset is not allowed.");
    f.icat.update(&rbeck, &changed).unwrap();
    // Delete: checked on everything it cascades to (datasets A to C hold a datafile each).
    let err = f
        .icat
        .delete(&rbeck, &reference("Dataset", f.ds[0]))
        .unwrap_err();
    assert_eq!(
        err.message,
        "DELETE access to this Datafile is not allowed."
    );
    let err = f
        .icat
        .delete_many(
            &rbeck,
            &[reference("Dataset", id), reference("Dataset", f.ds[1])],
        )
        .unwrap_err();
    assert_eq!(
        (err.kind, err.offset),
        (IcatErrorKind::InsufficientPrivileges, 1)
    );
    assert_eq!(count(), "4", "deleteMany is all or nothing");
    f.icat.delete(&rbeck, &reference("Dataset", id)).unwrap();
    assert_eq!(count(), "3");
    // Rules granting the creator: checked on the new object as it would exist.
    f.rule(
        "CRUD",
        "SELECT o FROM DataCollection o WHERE o.createId = :user",
        None,
    );
    let dc = f
        .icat
        .create(&nbour, &DynEntity::new("DataCollection"))
        .unwrap();
    let err = f.icat.get(&rbeck, "DataCollection", dc).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::InsufficientPrivileges);
    assert!(f.icat.get(&nbour, "DataCollection", dc).is_ok());
}

#[test]
fn open_writes_bypass_the_write_rules_but_not_the_read_rules() {
    let db = Db::open(None, crate::entities(), Clock::default()).unwrap();
    let icat = Icat::new(
        db,
        SimConfig {
            non_root_write: true,
            ..SimConfig::default()
        },
    );
    let creds = BTreeMap::from([
        ("username".to_string(), "jdoe".to_string()),
        ("password".to_string(), "secret".to_string()),
    ]);
    let jdoe = icat.login("db", &creds).unwrap();
    let id = icat
        .create(&jdoe, &bean("Facility", &[("name", s("F"))], &[]))
        .unwrap();
    let err = icat.get(&jdoe, "Facility", id).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::InsufficientPrivileges);
    assert!(
        icat.is_access_allowed(&jdoe, &reference("Facility", id), Access::Delete)
            .unwrap()
    );
    icat.delete(&jdoe, &reference("Facility", id)).unwrap();
}

#[test]
fn the_ids_refuses_data_the_user_may_not_read() {
    let f = facility();
    let catalog = SimCatalog::new(f.icat.clone(), "http://127.0.0.1/ICATService/ICAT");
    let jdoe = f.login("jdoe");
    let rbeck = f.login("rbeck");
    let of = |inv: i64| Selection {
        investigation_ids: vec![inv],
        ..Selection::default()
    };
    let resolved = catalog.resolve(Some(&jdoe), &of(f.inv[0])).unwrap();
    assert_eq!(resolved.datasets.len(), 1);
    // jdoe may read investigation A and its dataset, but no rule grants its datafiles.
    assert!(resolved.datafiles.is_empty());
    let err = catalog.resolve(Some(&jdoe), &of(f.inv[1])).unwrap_err();
    assert!(
        matches!(err, CatalogError::InsufficientPrivileges(_)),
        "{err:?}"
    );
    let err = catalog.dataset(&jdoe, f.ds[1]).unwrap_err();
    assert!(
        matches!(err, CatalogError::InsufficientPrivileges(_)),
        "{err:?}"
    );
    assert!(catalog.dataset(&rbeck, f.ds[1]).is_ok());
    let all = catalog.resolve(Some(&f.root), &of(f.inv[1])).unwrap();
    assert_eq!(all.datafiles.len(), 1);
}

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
fn checking_ids_looks_each_up_instead_of_listing_every_readable_row() {
    // With the synthetic facility's rules a user reads their visits, the visits of their
    // instruments and every released visit: listing those rows for each batch of search hits
    // costs a pass over the whole catalogue (what made a 1M-datafile search as db/nbour time out).
    let mut db = Db::open(None, crate::entities(), Clock::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = crate::ids::Storage::open(dir.path()).unwrap();
    let spec = "visits=4,datasets=2,files=3".parse().unwrap();
    crate::data::synthetic::generate(&mut db, &spec, "simple/root", &storage, false).unwrap();
    let access = super::rules::compile_for(&db, "db/nbour").unwrap();
    let Some(super::Grant::Rows(crate::jpql::Restriction::IdsIn { sql, params, .. })) =
        access.grant(Access::Read, "Datafile")
    else {
        panic!("datafiles should be restricted for db/nbour");
    };
    let ids = [1_i64, 5, 9];
    let marks = (0..ids.len())
        .map(|i| format!("?{}", params.len() + i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let mut all = params.clone();
    all.extend(ids.iter().map(|id| rusqlite::types::Value::Integer(*id)));
    let plan = query_plan(&db, &super::check::check_sql("Datafile", sql, &marks), &all);
    // No full scan, and no list of the readable rows built up front.
    let listing = |l: &&String| l.starts_with("SCAN") || l.starts_with("LIST SUBQUERY");
    assert!(
        !plan.iter().any(|l| listing(&l)),
        "the check lists rows: {plan:#?}"
    );
    // And the check still answers what the rules say.
    let readable = access
        .allowed_ids(
            db.conn(),
            Access::Read,
            "Datafile",
            &(1..=24).collect::<Vec<_>>(),
            0,
        )
        .unwrap();
    let expected: Vec<i64> = {
        let mut stmt = db
            .conn()
            .prepare(
                "SELECT df.\"id\" FROM \"Datafile\" df JOIN \"Dataset\" d ON d.\"id\" = df.\"dataset_id\" \
                 JOIN \"InvestigationUser\" iu ON iu.\"investigation_id\" = d.\"investigation_id\" \
                 JOIN \"User\" u ON u.\"id\" = iu.\"user_id\" WHERE u.\"name\" = 'db/nbour' \
                 AND df.\"id\" <= 24 ORDER BY df.\"id\"",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!expected.is_empty());
    assert_eq!(readable, expected);
}
