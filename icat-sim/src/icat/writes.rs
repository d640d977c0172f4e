//! The writing operations (`create`, `createMany`, `update`, `delete`, `deleteMany`) and
//! `isAccessAllowed`, checked against the access rules.
//!
//! Precedence: root users may do everything; with `nonRootWrite = true` every user may also
//! create, update and delete anything (reads stay governed by the rules); otherwise the rules'
//! C, U and D flags decide. As in ICAT, a create is checked on every object it makes (children
//! included) as it exists inside the transaction, an update on the object before the change, and
//! a delete on the object and everything its deletion cascades to.

use std::sync::Arc;

use icat_soap::dynamic::{AttrValue, DynEntity};

use super::{Access, Icat, denied};
use crate::icat::access::{UserAccess, parse_flags};
use crate::icat::db::Db;
use crate::icat::error::{IcatError, IcatErrorKind};

impl Icat {
    /// The rules that govern `user`'s writes, or `None` when they may write anything.
    fn write_access(&self, db: &Db, user: &str) -> Result<Option<Arc<UserAccess>>, IcatError> {
        if self.config().non_root_write {
            return Ok(None);
        }
        self.user_access(db, user)
    }

    /// `create`.
    pub fn create(&self, session: &str, bean: &DynEntity) -> Result<i64, IcatError> {
        let mut ids = self
            .create_checked(session, std::slice::from_ref(bean))
            .map_err(|e| IcatError { offset: -1, ..e })?;
        ids.pop()
            .ok_or_else(|| IcatError::internal("create returned no id"))
    }

    /// `createMany`: all or nothing, under the same checks as `create`.
    pub fn create_many(&self, session: &str, beans: &[DynEntity]) -> Result<Vec<i64>, IcatError> {
        self.create_checked(session, beans)
    }

    fn create_checked(&self, session: &str, beans: &[DynEntity]) -> Result<Vec<i64>, IcatError> {
        let user = self.user_of(session)?;
        for (i, bean) in beans.iter().enumerate() {
            validate_rules(bean, &user).map_err(|e| e.at_offset(i))?;
        }
        let mut db = self.db();
        let Some(access) = self.write_access(&db, &user)? else {
            return db.create_many(&user, beans);
        };
        let now = db.clock().now_millis();
        db.create_many_checked(&user, beans, &mut |conn, rows| {
            for (entity, id) in rows {
                if !access.allows(conn, Access::Create, entity, *id, now)? {
                    return Err(denied(Access::Create, entity));
                }
            }
            Ok(())
        })
    }

    /// `update`: the user needs UPDATE access to the object as it is before the change.
    pub fn update(&self, session: &str, bean: &DynEntity) -> Result<(), IcatError> {
        let user = self.user_of(session)?;
        validate_rules(bean, &user)?;
        let mut db = self.db();
        if let Some(access) = self.write_access(&db, &user)? {
            let id = bean.id().ok_or_else(|| {
                IcatError::bad_parameter(format!("{} to update has no id", bean.entity))
            })?;
            if !db.exists(&bean.entity, id)? {
                return Err(IcatError::not_found(&bean.entity, id));
            }
            let now = db.clock().now_millis();
            if !access.allows(db.conn(), Access::Update, &bean.entity, id, now)? {
                return Err(denied(Access::Update, &bean.entity));
            }
        }
        db.update(&user, bean)
    }

    /// `delete`.
    pub fn delete(&self, session: &str, bean: &DynEntity) -> Result<(), IcatError> {
        self.delete_many(session, std::slice::from_ref(bean))
            .map_err(|e| IcatError { offset: -1, ..e })
    }

    /// `deleteMany`: all or nothing; every object deleted, cascaded ones too, needs DELETE access.
    pub fn delete_many(&self, session: &str, beans: &[DynEntity]) -> Result<(), IcatError> {
        let user = self.user_of(session)?;
        let mut db = self.db();
        let Some(access) = self.write_access(&db, &user)? else {
            return db.delete_many(beans);
        };
        let now = db.clock().now_millis();
        db.delete_many_checked(beans, &mut |conn, entity, ids| {
            let allowed = access.allowed_ids(conn, Access::Delete, entity, ids, now)?;
            if allowed.len() == ids.len() {
                Ok(())
            } else {
                Err(denied(Access::Delete, entity))
            }
        })
    }

    /// `isAccessAllowed(bean, accessType)`.
    pub fn is_access_allowed(
        &self,
        session: &str,
        bean: &DynEntity,
        access: Access,
    ) -> Result<bool, IcatError> {
        let user = self.user_of(session)?;
        let mut db = self.db();
        db.table(&bean.entity)?;
        let rules = match access {
            Access::Read => self.user_access(&db, &user)?,
            _ => self.write_access(&db, &user)?,
        };
        let now = db.clock().now_millis();
        match access {
            Access::Create => {
                // As ICAT: create the bean in a transaction that is rolled back (a duplicate or
                // invalid bean is an error, not `false`), checking the rules on what it made.
                let Some(rules) = rules else {
                    db.check_create(&user, bean)?;
                    return Ok(true);
                };
                let outcome = db.try_create(&user, bean, &mut |conn, rows| {
                    for (entity, id) in rows {
                        if !rules.allows(conn, Access::Create, entity, *id, now)? {
                            return Err(denied(Access::Create, entity));
                        }
                    }
                    Ok(())
                });
                match outcome {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind == IcatErrorKind::InsufficientPrivileges => Ok(false),
                    Err(e) => Err(e),
                }
            }
            // READ, UPDATE and DELETE (the SOAP layer refuses types the schema lacks).
            _ => {
                let Some(id) = bean.id() else {
                    return Ok(false);
                };
                if !db.exists(&bean.entity, id)? {
                    return Ok(false);
                }
                match rules {
                    None => Ok(true),
                    Some(rules) => rules.allows(db.conn(), access, &bean.entity, id, now),
                }
            }
        }
    }
}

/// Checks every `Rule` in a bean tree as ICAT does when one is stored: known CRUD letters, a
/// `what` that compiles, and attribute selection only for update rules.
fn validate_rules(bean: &DynEntity, user: &str) -> Result<(), IcatError> {
    if bean.entity == "Rule" {
        let text = |field: &str| match bean.attrs.get(field) {
            Some(AttrValue::String(s)) => Some(s.as_str()),
            _ => None,
        };
        let flags = text("crudFlags").unwrap_or_default();
        let Some(parsed) = parse_flags(flags) else {
            return Err(IcatError::bad_parameter(format!(
                "CRUD value {flags} contains a letter other than C, R, U and D"
            )));
        };
        let what =
            text("what").ok_or_else(|| IcatError::bad_parameter("'what' must not be null"))?;
        let rule = crate::icat::access::compile_what(what, user, 0)?;
        if rule.attribute.is_some() && parsed.iter().any(|a| *a != Access::Update) {
            return Err(IcatError::bad_parameter(
                "Attribute selection in rules is only allowed for Update",
            ));
        }
    }
    for child in bean.many.values().flatten() {
        validate_rules(child, user)?;
    }
    Ok(())
}
