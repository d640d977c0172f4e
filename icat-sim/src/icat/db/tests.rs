//! Tests of the database layer against the real ICAT 6.2 model.

use std::time::Duration;

use icat_soap::dynamic::{AttrValue, DynEntity};

use super::{Clock, Db, Include};
use crate::icat::error::IcatErrorKind;

fn db() -> Db {
    Db::open(None, crate::entities(), Clock::default()).unwrap()
}

fn ent(name: &str, attrs: &[(&str, AttrValue)]) -> DynEntity {
    let mut e = DynEntity::new(name);
    for (k, v) in attrs {
        e.attrs.insert(k.to_string(), v.clone());
    }
    e
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.to_string())
}

fn reference(name: &str, id: i64) -> DynEntity {
    ent(name, &[("id", AttrValue::Long(id))])
}

fn with_one(mut e: DynEntity, field: &str, target: DynEntity) -> DynEntity {
    e.one.insert(field.to_string(), target);
    e
}

/// Facility, investigation type, investigation, dataset type: returns (facility, inv, dstype).
fn base(db: &mut Db) -> (i64, i64, i64) {
    let fac = db
        .create("simple/root", &ent("Facility", &[("name", s("ESNF"))]))
        .unwrap();
    let it = db
        .create(
            "simple/root",
            &with_one(
                ent("InvestigationType", &[("name", s("E"))]),
                "facility",
                reference("Facility", fac),
            ),
        )
        .unwrap();
    let inv = ent(
        "Investigation",
        &[("name", s("inv1")), ("visitId", s("1")), ("title", s("T"))],
    );
    let inv = with_one(
        with_one(inv, "facility", reference("Facility", fac)),
        "type",
        reference("InvestigationType", it),
    );
    let inv = db.create("simple/root", &inv).unwrap();
    let dst = db
        .create(
            "simple/root",
            &with_one(
                ent("DatasetType", &[("name", s("raw"))]),
                "facility",
                reference("Facility", fac),
            ),
        )
        .unwrap();
    (fac, inv, dst)
}

fn dataset(name: &str, inv: i64, dst: i64) -> DynEntity {
    with_one(
        with_one(
            ent("Dataset", &[("name", s(name))]),
            "investigation",
            reference("Investigation", inv),
        ),
        "type",
        reference("DatasetType", dst),
    )
}

#[test]
fn create_sets_server_fields_and_defaults() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    let id = db.create("db/jdoe", &dataset("ds1", inv, dst)).unwrap();
    let got = db.get("Dataset", id, &Include::none(), 100).unwrap();
    assert_eq!(got.attrs["createId"], s("db/jdoe"));
    assert_eq!(got.attrs["modId"], s("db/jdoe"));
    assert!(matches!(got.attrs["createTime"], AttrValue::DateTime(_)));
    assert_eq!(got.attrs["complete"], AttrValue::Bool(false));
    assert_eq!(got.attrs["fileCount"], AttrValue::Long(0));
    assert!(
        got.one.is_empty(),
        "relations are not returned without INCLUDE"
    );
}

#[test]
fn create_cascades_children_and_get_includes_them() {
    let mut db = db();
    let (fac, inv, dst) = base(&mut db);
    let fmt = db
        .create(
            "simple/root",
            &with_one(
                ent(
                    "DatafileFormat",
                    &[("name", s("nexus")), ("version", s("1"))],
                ),
                "facility",
                reference("Facility", fac),
            ),
        )
        .unwrap();
    let mut ds = dataset("ds1", inv, dst);
    ds.many.insert(
        "datafiles".into(),
        (0..3)
            .map(|i| {
                with_one(
                    ent("Datafile", &[("name", s(&format!("f{i}")))]),
                    "datafileFormat",
                    reference("DatafileFormat", fmt),
                )
            })
            .collect(),
    );
    let id = db.create("simple/root", &ds).unwrap();
    let mut inc = Include::none();
    inc.add_path(["datafiles", "datafileFormat"]);
    inc.add_path(["investigation"]);
    let got = db.get("Dataset", id, &inc, 100).unwrap();
    let files = &got.many["datafiles"];
    assert_eq!(files.len(), 3);
    assert_eq!(files[1].attrs["name"], s("f1"));
    assert_eq!(files[0].one["datafileFormat"].attrs["name"], s("nexus"));
    assert_eq!(got.one["investigation"].attrs["name"], s("inv1"));
    // maxEntities counts included objects: 1 + 3 files + 3 formats + 1 investigation = 8.
    let err = db.get("Dataset", id, &inc, 7).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::Validation);
    assert_eq!(err.message, "attempt to return more than 7 entities");
    assert!(db.get("Dataset", id, &inc, 8).is_ok());
    let all_ones = Include::all_ones(db.table("Dataset").unwrap());
    let got = db.get("Dataset", id, &all_ones, 100).unwrap();
    assert!(got.one.contains_key("type") && got.one.contains_key("investigation"));
    assert!(got.many.is_empty());
}

#[test]
fn uniqueness_and_not_null_faults() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    db.create("simple/root", &dataset("ds1", inv, dst)).unwrap();
    let err = db
        .create("simple/root", &dataset("ds1", inv, dst))
        .unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::ObjectAlreadyExists);
    assert_eq!(err.offset, -1);
    assert!(
        err.message.starts_with("Dataset exists with"),
        "{}",
        err.message
    );

    let no_name = with_one(
        with_one(
            ent("Dataset", &[]),
            "investigation",
            reference("Investigation", inv),
        ),
        "type",
        reference("DatasetType", dst),
    );
    let err = db.create("simple/root", &no_name).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::Validation);
    assert_eq!(err.message, "Dataset: name cannot be null.");

    let no_inv = with_one(
        ent("Dataset", &[("name", s("x"))]),
        "type",
        reference("DatasetType", dst),
    );
    let err = db.create("simple/root", &no_inv).unwrap_err();
    assert_eq!(err.message, "Dataset: investigation cannot be null.");

    let err = db
        .create("simple/root", &dataset("x", 999, dst))
        .unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::NoSuchObjectFound);
    assert_eq!(err.message, "Investigation[id:999] not found.");

    let err = db.create("simple/root", &ent("Nonsense", &[])).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::BadParameter);
}

#[test]
fn create_many_is_atomic_and_names_the_failing_bean() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    let beans = vec![
        dataset("a", inv, dst),
        dataset("b", inv, dst),
        dataset("a", inv, dst),
    ];
    let err = db.create_many("simple/root", &beans).unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::ObjectAlreadyExists);
    assert_eq!(err.offset, 2);
    let count: i64 = db
        .conn()
        .query_row("SELECT COUNT(*) FROM \"Dataset\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0, "nothing of a failed createMany remains");
    let ids = db.create_many("simple/root", &beans[..2]).unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
}

#[test]
fn update_writes_attributes_and_references_only() {
    let mut db = db();
    let (fac, inv, dst) = base(&mut db);
    let mut ds = dataset("ds1", inv, dst);
    ds.attrs.insert("description".into(), s("old"));
    ds.many.insert(
        "datafiles".into(),
        vec![ent("Datafile", &[("name", s("f"))])],
    );
    let id = db.create("simple/root", &ds).unwrap();
    let before = db.get("Dataset", id, &Include::none(), 10).unwrap();

    let dst2 = db
        .create(
            "simple/root",
            &with_one(
                ent("DatasetType", &[("name", s("calib"))]),
                "facility",
                reference("Facility", fac),
            ),
        )
        .unwrap();
    let mut upd = dataset("renamed", inv, dst2);
    upd.attrs.insert("id".into(), AttrValue::Long(id));
    upd.many.insert("datafiles".into(), vec![]);
    db.update("db/acord", &upd).unwrap();
    let mut inc = Include::all_ones(db.table("Dataset").unwrap());
    inc.add_path(["datafiles"]);
    let after = db.get("Dataset", id, &inc, 100).unwrap();
    assert_eq!(after.attrs["name"], s("renamed"));
    assert!(
        !after.attrs.contains_key("description"),
        "omitted attributes become null"
    );
    assert_eq!(after.one["type"].id(), Some(dst2));
    assert_eq!(
        after.many["datafiles"].len(),
        1,
        "one-to-many lists are ignored by update"
    );
    assert_eq!(after.attrs["createId"], before.attrs["createId"]);
    assert_eq!(after.attrs["createTime"], before.attrs["createTime"]);
    assert_eq!(after.attrs["modId"], s("db/acord"));

    let mut missing = upd.clone();
    missing.attrs.insert("id".into(), AttrValue::Long(12345));
    assert_eq!(
        db.update("simple/root", &missing).unwrap_err().message,
        "Dataset[id:12345] not found."
    );
    let mut no_type = upd.clone();
    no_type.one.remove("type");
    assert_eq!(
        db.update("simple/root", &no_type).unwrap_err().kind,
        IcatErrorKind::Validation
    );
}

#[test]
fn delete_cascades_down_one_to_many() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    let mut ds = dataset("ds1", inv, dst);
    ds.many.insert(
        "datafiles".into(),
        vec![
            ent("Datafile", &[("name", s("f1"))]),
            ent("Datafile", &[("name", s("f2"))]),
        ],
    );
    let ds_id = db.create("simple/root", &ds).unwrap();
    let keep = db.create("simple/root", &dataset("ds2", inv, dst)).unwrap();

    let err = db
        .delete_many(&[reference("Dataset", keep), reference("Dataset", 777)])
        .unwrap_err();
    assert_eq!(
        (err.kind, err.offset),
        (IcatErrorKind::NoSuchObjectFound, 1)
    );
    assert!(
        db.exists("Dataset", keep).unwrap(),
        "a failed deleteMany deletes nothing"
    );

    db.delete(&reference("Investigation", inv)).unwrap();
    for (table, id) in [
        ("Dataset", ds_id),
        ("Dataset", keep),
        ("Investigation", inv),
    ] {
        assert!(!db.exists(table, id).unwrap());
    }
    let files: i64 = db
        .conn()
        .query_row("SELECT COUNT(*) FROM \"Datafile\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 0);
    assert!(
        db.exists("DatasetType", dst).unwrap(),
        "many-to-one targets are not deleted"
    );
}

#[test]
fn sessions_expire_refresh_and_log_out() {
    let db = db();
    let id = db.session_create("db/jdoe", 120).unwrap();
    assert_eq!(id.len(), 36);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    assert_eq!(id.as_bytes()[14], b'4', "UUID version 4");
    assert_eq!(db.session_get(&id).unwrap().user, "db/jdoe");
    let left = db.session_remaining_minutes(&id).unwrap();
    assert!(left > 119.9 && left <= 120.0, "{left}");

    db.clock().advance(Duration::from_secs(121 * 60));
    let err = db.session_get(&id).unwrap_err();
    assert_eq!(
        (err.kind, err.message.clone()),
        (
            IcatErrorKind::Session,
            format!("Session id:{id} has expired")
        )
    );
    db.session_refresh(&id).unwrap();
    assert!(
        db.session_get(&id).is_ok(),
        "refresh revives an expired session that was not purged"
    );

    db.clock().advance(Duration::from_secs(121 * 60));
    assert_eq!(db.session_purge().unwrap(), 1);
    let err = db.session_refresh(&id).unwrap_err();
    assert_eq!(
        err.message,
        format!("Unable to find user by sessionid: {id}")
    );
    assert_eq!(
        db.session_get("").unwrap_err().message,
        "Session Id cannot be null or empty."
    );

    let other = db.session_create("db/jdoe", 120).unwrap();
    db.session_logout(&other).unwrap();
    assert_eq!(
        db.session_get(&other).unwrap_err().message,
        format!("Unable to find user by sessionid: {other}")
    );
}

#[test]
fn file_database_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("icat.db");
    let (inv, session) = {
        let mut db = Db::open(Some(&path), crate::entities(), Clock::default()).unwrap();
        let (_, inv, _) = base(&mut db);
        (inv, db.session_create("simple/root", 120).unwrap())
    };
    let db = Db::open(Some(&path), crate::entities(), Clock::default()).unwrap();
    assert_eq!(
        db.get("Investigation", inv, &Include::none(), 10)
            .unwrap()
            .attrs["name"],
        s("inv1")
    );
    assert_eq!(db.session_get(&session).unwrap().user, "simple/root");
}

/// (fileSize, fileCount) of a dataset or investigation.
fn totals(db: &Db, entity: &str, id: i64) -> (i64, i64) {
    let got = db.get(entity, id, &Include::none(), 100).unwrap();
    let long = |f: &str| match &got.attrs[f] {
        AttrValue::Long(n) => *n,
        other => panic!("{entity}.{f} is {other:?}"),
    };
    (long("fileSize"), long("fileCount"))
}

fn datafile(name: &str, dataset: i64, size: Option<i64>) -> DynEntity {
    let mut attrs = vec![("name", s(name))];
    if let Some(size) = size {
        attrs.push(("fileSize", AttrValue::Long(size)));
    }
    with_one(
        ent("Datafile", &attrs),
        "dataset",
        reference("Dataset", dataset),
    )
}

#[test]
fn dataset_and_investigation_file_totals_follow_their_datafiles() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    let u = "simple/root";
    let ds1 = db.create(u, &dataset("ds1", inv, dst)).unwrap();
    assert_eq!(totals(&db, "Dataset", ds1), (0, 0));

    // create, createMany, and datafiles nested in a dataset create.
    let a = db.create(u, &datafile("a", ds1, Some(100))).unwrap();
    db.create_many(u, &[datafile("b", ds1, Some(20)), datafile("c", ds1, None)])
        .unwrap();
    let mut ds2 = dataset("ds2", inv, dst);
    ds2.many.insert(
        "datafiles".into(),
        vec![
            ent(
                "Datafile",
                &[("name", s("d")), ("fileSize", AttrValue::Long(7))],
            ),
            ent(
                "Datafile",
                &[("name", s("e")), ("fileSize", AttrValue::Long(3))],
            ),
        ],
    );
    let ds2 = db.create(u, &ds2).unwrap();
    assert_eq!(totals(&db, "Dataset", ds1), (120, 3));
    assert_eq!(totals(&db, "Dataset", ds2), (10, 2));
    assert_eq!(totals(&db, "Investigation", inv), (130, 5));

    // A failed createMany changes nothing.
    let err = db
        .create_many(
            u,
            &[datafile("f", ds1, Some(5)), datafile("a", ds1, Some(1))],
        )
        .unwrap_err();
    assert_eq!(err.kind, IcatErrorKind::ObjectAlreadyExists);
    assert_eq!(totals(&db, "Investigation", inv), (130, 5));

    // update of the size, and of the dataset (moves the file between datasets).
    let mut changed = datafile("a", ds1, Some(150));
    changed.attrs.insert("id".into(), AttrValue::Long(a));
    db.update(u, &changed).unwrap();
    assert_eq!(totals(&db, "Dataset", ds1), (170, 3));
    let mut moved = datafile("a", ds2, Some(150));
    moved.attrs.insert("id".into(), AttrValue::Long(a));
    db.update(u, &moved).unwrap();
    assert_eq!(totals(&db, "Dataset", ds1), (20, 2));
    assert_eq!(totals(&db, "Dataset", ds2), (160, 3));
    assert_eq!(totals(&db, "Investigation", inv), (180, 5));

    // A dataset moving to another investigation takes its totals along.
    let (fac, it) = {
        let got = db
            .get(
                "Investigation",
                inv,
                &Include::all_ones(db.table("Investigation").unwrap()),
                100,
            )
            .unwrap();
        (
            got.one["facility"].id().unwrap(),
            got.one["type"].id().unwrap(),
        )
    };
    let inv2 = ent(
        "Investigation",
        &[("name", s("inv2")), ("visitId", s("1")), ("title", s("T2"))],
    );
    let inv2 = with_one(
        with_one(inv2, "facility", reference("Facility", fac)),
        "type",
        reference("InvestigationType", it),
    );
    let inv2 = db.create(u, &inv2).unwrap();
    let mut ds2_moved = dataset("ds2", inv2, dst);
    ds2_moved.attrs.insert("id".into(), AttrValue::Long(ds2));
    ds2_moved
        .attrs
        .insert("fileSize".into(), AttrValue::Long(160));
    ds2_moved
        .attrs
        .insert("fileCount".into(), AttrValue::Long(3));
    db.update(u, &ds2_moved).unwrap();
    assert_eq!(totals(&db, "Investigation", inv), (20, 2));
    assert_eq!(totals(&db, "Investigation", inv2), (160, 3));

    // delete of a datafile, and of a dataset (cascading to its datafiles).
    db.delete(&reference("Datafile", a)).unwrap();
    assert_eq!(totals(&db, "Dataset", ds2), (10, 2));
    assert_eq!(totals(&db, "Investigation", inv2), (10, 2));
    db.delete(&reference("Dataset", ds1)).unwrap();
    assert_eq!(totals(&db, "Investigation", inv), (0, 0));
    assert_eq!(totals(&db, "Investigation", inv2), (10, 2));
}

#[test]
fn update_without_file_size_sets_it_to_the_java_default() {
    let mut db = db();
    let (_, inv, dst) = base(&mut db);
    let ds = db.create("simple/root", &dataset("ds", inv, dst)).unwrap();
    let df = db
        .create("simple/root", &datafile("a", ds, Some(42)))
        .unwrap();
    let mut bean = datafile("a", ds, None);
    bean.attrs.insert("id".into(), AttrValue::Long(df));
    db.update("simple/root", &bean).unwrap();
    let got = db.get("Datafile", df, &Include::none(), 100).unwrap();
    assert_eq!(got.attrs["fileSize"], AttrValue::Long(0));
    assert_eq!(totals(&db, "Dataset", ds), (0, 1));
}

/// The database file holds live session ids (root's too): it and its WAL and shared-memory
/// files are readable by the owner only, also when the file existed with looser modes.
#[cfg(unix)]
#[test]
fn database_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let mut db = Db::open(Some(&path), crate::entities(), Clock::default()).unwrap();
    base(&mut db);
    let wal = dir.path().join("sim.db-wal");
    let shm = dir.path().join("sim.db-shm");
    for p in [&path, &wal, &shm] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    drop(db);
    // A file made elsewhere with 0644 is tightened when opened.
    let other = dir.path().join("other.db");
    std::fs::write(&other, b"").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut db = Db::open(Some(&other), crate::entities(), Clock::default()).unwrap();
    base(&mut db);
    for p in [other.clone(), dir.path().join("other.db-wal")] {
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}
