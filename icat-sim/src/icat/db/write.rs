//! Writing entities with ICAT's semantics: create (with one-to-many children in cascade), update
//! (attributes and many-to-one relations only), delete (cascading down one-to-many relations).
//! Every public operation is one transaction: it either happens completely or not at all.

use icat_soap::dynamic::{AttrValue, DynEntity};
use icat_soap::meta::AttrType;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, params_from_iter};

use super::Db;
use super::schema::{SERVER_FIELDS, Schema, Table, quote};
use super::values::{default_value, to_sql};
use crate::icat::entity_info::java_default;
use crate::icat::error::{IcatError, IcatErrorKind};

/// Who writes and when: fills createId/modId and createTime/modTime; records what was created.
struct Stamp<'a> {
    user: &'a str,
    now: i64,
    /// Every row inserted, parents before their children.
    created: std::cell::RefCell<Vec<(&'static str, i64)>>,
}

impl<'a> Stamp<'a> {
    fn new(user: &'a str, now: i64) -> Self {
        Stamp {
            user,
            now,
            created: Default::default(),
        }
    }
}

/// A check run on the rows one bean created (parents first), before the transaction commits:
/// an error undoes the whole call.
pub type CreateCheck<'c> =
    dyn FnMut(&Connection, &[(&'static str, i64)]) -> Result<(), IcatError> + 'c;

/// A check run on rows of one entity type about to be deleted (children are checked after their
/// parents, all before anything is deleted): an error undoes the whole call.
pub type DeleteCheck<'c> =
    dyn FnMut(&Connection, &'static str, &[i64]) -> Result<(), IcatError> + 'c;

/// Many creates in one transaction (loading a dump, making a synthetic facility): all or nothing.
pub struct Bulk<'a> {
    tx: rusqlite::Transaction<'a>,
    schema: std::sync::Arc<Schema>,
    user: String,
    now: i64,
}

impl Bulk<'_> {
    /// Creates one bean (with its one-to-many children) as `create` would; returns the id.
    pub fn create(&self, bean: &DynEntity) -> Result<i64, IcatError> {
        let stamp = Stamp::new(&self.user, self.now);
        insert_tree(&self.tx, &self.schema, &stamp, bean, None)
    }

    /// The connection inside the transaction (for lookups).
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Makes everything created so far permanent.
    pub fn commit(self) -> Result<(), IcatError> {
        Ok(self.tx.commit()?)
    }
}

impl Db {
    /// Starts a [`Bulk`] of creates by `user`; dropping it without `commit` undoes them.
    pub fn bulk(&mut self, user: &str) -> Result<Bulk<'_>, IcatError> {
        Ok(Bulk {
            now: self.clock.now_millis(),
            schema: self.schema.clone(),
            user: user.to_string(),
            tx: self.conn.transaction()?,
        })
    }

    /// ICAT `create`: inserts the bean and its one-to-many children; returns the new id.
    pub fn create(&mut self, user: &str, bean: &DynEntity) -> Result<i64, IcatError> {
        let ids = self.create_many(user, std::slice::from_ref(bean));
        // A single create reports offset -1, as ICAT's `create` does.
        let mut ids = ids.map_err(|e| IcatError { offset: -1, ..e })?;
        ids.pop()
            .ok_or_else(|| IcatError::internal("create returned no id"))
    }

    /// ICAT `createMany`: all or nothing; a failure names the bean's index in `offset`.
    pub fn create_many(&mut self, user: &str, beans: &[DynEntity]) -> Result<Vec<i64>, IcatError> {
        self.create_many_checked(user, beans, &mut |_, _| Ok(()))
    }

    /// [`Db::create_many`] that runs `check` on the rows each bean created, inside the
    /// transaction (so rules see the new rows as they will exist).
    pub fn create_many_checked(
        &mut self,
        user: &str,
        beans: &[DynEntity],
        check: &mut CreateCheck<'_>,
    ) -> Result<Vec<i64>, IcatError> {
        let schema = self.schema.clone();
        let now = self.clock.now_millis();
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(beans.len());
        for (i, bean) in beans.iter().enumerate() {
            let stamp = Stamp::new(user, now);
            let mut step = || -> Result<i64, IcatError> {
                let id = insert_tree(&tx, &schema, &stamp, bean, None)?;
                check(&tx, &stamp.created.borrow())?;
                Ok(id)
            };
            ids.push(step().map_err(|e| e.at_offset(i))?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Creates the bean in a transaction that is then rolled back: fails as `create` would.
    pub fn check_create(&mut self, user: &str, bean: &DynEntity) -> Result<(), IcatError> {
        self.try_create(user, bean, &mut |_, _| Ok(()))
    }

    /// Creates the bean, runs `check` on the created rows, then rolls everything back.
    pub fn try_create(
        &mut self,
        user: &str,
        bean: &DynEntity,
        check: &mut CreateCheck<'_>,
    ) -> Result<(), IcatError> {
        let stamp = Stamp::new(user, self.clock.now_millis());
        let schema = self.schema.clone();
        let tx = self.conn.transaction()?;
        insert_tree(&tx, &schema, &stamp, bean, None)?;
        check(&tx, &stamp.created.borrow())?;
        tx.rollback()?;
        Ok(())
    }

    /// ICAT `update`: writes the bean's attributes and many-to-one relations; omitted ones become
    /// null (or their Java default, such as `fileSize` 0).
    pub fn update(&mut self, user: &str, bean: &DynEntity) -> Result<(), IcatError> {
        let schema = self.schema.clone();
        let table = self.table(&bean.entity)?.clone();
        let id = bean.id().ok_or_else(|| {
            IcatError::bad_parameter(format!("{} to update has no id", bean.entity))
        })?;
        let now = self.clock.now_millis();
        let tx = self.conn.transaction()?;
        let sql = format!(
            "SELECT \"createId\", \"createTime\" FROM {} WHERE \"id\" = ?",
            quote(table.name())
        );
        let created: Option<(Value, Value)> = {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query([id])?;
            match rows.next()? {
                Some(r) => Some((r.get(0)?, r.get(1)?)),
                None => None,
            }
        };
        let (create_id, create_time) =
            created.ok_or_else(|| IcatError::not_found(table.name(), id))?;
        let mut params = Vec::with_capacity(table.attrs.len() + table.ones.len() + 1);
        for a in &table.attrs {
            params.push(match a.name {
                "createId" => create_id.clone(),
                "createTime" => create_time.clone(),
                "modId" => Value::Text(user.to_string()),
                "modTime" => Value::Integer(now),
                _ => attribute_value(
                    &table,
                    a.name,
                    a.ty,
                    a.meta.not_null,
                    bean.attrs.get(a.name),
                )?,
            });
        }
        for o in &table.ones {
            params.push(reference_value(
                &tx,
                &schema,
                &table,
                o.name,
                o.target,
                o.meta.not_null,
                bean,
                None,
            )?);
        }
        params.push(Value::Integer(id));
        let result = tx
            .prepare_cached(&table.update_sql)?
            .execute(params_from_iter(params.iter()));
        map_write_error(result, &table, bean)?;
        tx.commit()?;
        Ok(())
    }

    /// ICAT `delete` of one bean (only its id matters), cascading down one-to-many relations.
    pub fn delete(&mut self, bean: &DynEntity) -> Result<(), IcatError> {
        self.delete_many(std::slice::from_ref(bean))
            .map_err(|e| IcatError { offset: -1, ..e })
    }

    /// ICAT `deleteMany`: all or nothing; a failure names the bean's index in `offset`.
    pub fn delete_many(&mut self, beans: &[DynEntity]) -> Result<(), IcatError> {
        self.delete_many_checked(beans, &mut |_, _, _| Ok(()))
    }

    /// [`Db::delete_many`] that runs `check` on every row about to be deleted, cascaded ones too.
    pub fn delete_many_checked(
        &mut self,
        beans: &[DynEntity],
        check: &mut DeleteCheck<'_>,
    ) -> Result<(), IcatError> {
        let schema = self.schema.clone();
        let tx = self.conn.transaction()?;
        for (i, bean) in beans.iter().enumerate() {
            let mut step = || -> Result<(), IcatError> {
                let table = schema.table(&bean.entity).ok_or_else(|| {
                    IcatError::bad_parameter(format!("{} is not an ICAT entity", bean.entity))
                })?;
                let id = bean.id().ok_or_else(|| {
                    IcatError::bad_parameter(format!("{} to delete has no id", bean.entity))
                })?;
                if !tx.prepare_cached(&table.exists_sql)?.exists([id])? {
                    return Err(IcatError::not_found(table.name(), id));
                }
                delete_cascade(&tx, &schema, table, &[id], check)
            };
            step().map_err(|e| e.at_offset(i))?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Deletes rows and, first, everything below them in one-to-many relations.
fn delete_cascade(
    conn: &Connection,
    schema: &Schema,
    table: &Table,
    ids: &[i64],
    check: &mut DeleteCheck<'_>,
) -> Result<(), IcatError> {
    if ids.is_empty() {
        return Ok(());
    }
    check(conn, table.name(), ids)?;
    for many in &table.manys {
        let Some(target) = schema.table(many.target) else {
            continue;
        };
        let mut child_ids = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT \"id\" FROM {} WHERE {} IN ({marks})",
                quote(target.name()),
                quote(&format!("{}_id", many.back))
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| r.get::<_, i64>(0))?;
            for r in rows {
                child_ids.push(r?);
            }
        }
        delete_cascade(conn, schema, target, &child_ids, check)?;
    }
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "DELETE FROM {} WHERE \"id\" IN ({marks})",
            quote(table.name())
        );
        let result = conn
            .prepare_cached(&sql)?
            .execute(params_from_iter(chunk.iter()));
        match result {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == ErrorCode::ConstraintViolation =>
            {
                return Err(IcatError::validation(format!(
                    "{} cannot be deleted: other objects still refer to it",
                    table.name()
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Inserts one bean (and its children); `parent` is the back-reference set by a cascading parent.
fn insert_tree(
    conn: &Connection,
    schema: &Schema,
    stamp: &Stamp<'_>,
    bean: &DynEntity,
    parent: Option<(&str, i64)>,
) -> Result<i64, IcatError> {
    let table = schema.table(&bean.entity).ok_or_else(|| {
        IcatError::bad_parameter(format!("{} is not an ICAT entity", bean.entity))
    })?;
    let mut params = Vec::with_capacity(table.attrs.len() + table.ones.len());
    for a in &table.attrs {
        params.push(match a.name {
            "createId" | "modId" => Value::Text(stamp.user.to_string()),
            "createTime" | "modTime" => Value::Integer(stamp.now),
            _ => attribute_value(table, a.name, a.ty, a.meta.not_null, bean.attrs.get(a.name))?,
        });
    }
    for o in &table.ones {
        params.push(reference_value(
            conn,
            schema,
            table,
            o.name,
            o.target,
            o.meta.not_null,
            bean,
            parent,
        )?);
    }
    let result = conn
        .prepare_cached(&table.insert_sql)?
        .execute(params_from_iter(params.iter()));
    map_write_error(result, table, bean)?;
    let id = conn.last_insert_rowid();
    stamp.created.borrow_mut().push((table.name(), id));
    for many in &table.manys {
        if let Some(children) = bean.many.get(many.name) {
            for child in children {
                if child.entity != many.target {
                    return Err(IcatError::bad_parameter(format!(
                        "{}.{} holds {} objects, not {}",
                        table.name(),
                        many.name,
                        many.target,
                        child.entity
                    )));
                }
                insert_tree(conn, schema, stamp, child, Some((many.back, id)))?;
            }
        }
    }
    Ok(id)
}

/// The stored value of one attribute, applying Java defaults and the not-null rule.
///
/// ICAT's beans are JAXB objects, so an omitted field holds its Java default on `update` as on
/// `create` (an update without `fileSize` sets it to 0).
fn attribute_value(
    table: &Table,
    field: &str,
    ty: AttrType,
    not_null: bool,
    given: Option<&AttrValue>,
) -> Result<Value, IcatError> {
    let entity = table.name();
    let value = match given {
        Some(v) => Some(v.clone()),
        None => java_default(entity, field).and_then(|j| default_value(ty, j)),
    };
    // Java primitives (required booleans) read as false when absent, as JAXB does.
    let value = match (value, ty, not_null) {
        (None, AttrType::Boolean, true) => Some(AttrValue::Bool(false)),
        (v, _, _) => v,
    };
    match value {
        Some(v) => {
            if let (AttrValue::String(s), Some(max)) =
                (&v, table.meta.field(field).and_then(|f| f.string_length))
                && s.chars().count() > max as usize
            {
                return Err(IcatError::validation(format!(
                    "{entity}: {field} cannot have length > {max}"
                )));
            }
            to_sql(entity, field, ty, &v)
        }
        None if not_null && !SERVER_FIELDS.contains(&field) => Err(IcatError::validation(format!(
            "{entity}: {field} cannot be null."
        ))),
        None => Ok(Value::Null),
    }
}

/// The stored foreign key of one many-to-one relation, checking that the target exists.
#[allow(clippy::too_many_arguments)]
fn reference_value(
    conn: &Connection,
    schema: &Schema,
    table: &Table,
    field: &str,
    target: &str,
    not_null: bool,
    bean: &DynEntity,
    parent: Option<(&str, i64)>,
) -> Result<Value, IcatError> {
    let entity = table.name();
    if let Some((back, parent_id)) = parent
        && back == field
    {
        return Ok(Value::Integer(parent_id));
    }
    match bean.one.get(field) {
        Some(related) => {
            let id = related.id().ok_or_else(|| {
                IcatError::bad_parameter(format!("{entity}: the {field} it refers to has no id"))
            })?;
            let target_table = schema
                .table(target)
                .ok_or_else(|| IcatError::internal(format!("no table for {target}")))?;
            if !conn
                .prepare_cached(&target_table.exists_sql)?
                .exists([id])?
            {
                return Err(IcatError::not_found(target, id));
            }
            Ok(Value::Integer(id))
        }
        None if not_null => Err(IcatError::validation(format!(
            "{entity}: {field} cannot be null."
        ))),
        None => Ok(Value::Null),
    }
}

/// Maps SQLite constraint failures to ICAT's exceptions.
fn map_write_error(
    result: rusqlite::Result<usize>,
    table: &Table,
    bean: &DynEntity,
) -> Result<(), IcatError> {
    match result {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, msg)) if f.code == ErrorCode::ConstraintViolation => {
            let unique = f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || msg.as_deref().is_some_and(|m| m.contains("UNIQUE"));
            if unique {
                Err(IcatError::new(
                    IcatErrorKind::ObjectAlreadyExists,
                    unique_message(table, bean),
                ))
            } else {
                Err(IcatError::validation(format!(
                    "{}: {}",
                    table.name(),
                    msg.unwrap_or_else(|| "constraint violated".into())
                )))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// `Dataset exists with investigation = 'id:42', name = 'raw'`.
fn unique_message(table: &Table, bean: &DynEntity) -> String {
    let parts: Vec<String> = table
        .meta
        .constraints
        .first()
        .map(|c| {
            c.iter()
                .map(|f| {
                    let shown = if let Some(v) = bean.attrs.get(*f) {
                        match v {
                            AttrValue::String(s) => s.clone(),
                            AttrValue::Long(n) => n.to_string(),
                            AttrValue::Double(d) => d.to_string(),
                            AttrValue::Bool(b) => b.to_string(),
                            AttrValue::DateTime(d) => d.to_string(),
                        }
                    } else if let Some(id) = bean.one.get(*f).and_then(DynEntity::id) {
                        format!("id:{id}")
                    } else {
                        "null".to_string()
                    };
                    format!("{f} = '{shown}'")
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{} exists with {}", table.name(), parts.join(", "))
}
