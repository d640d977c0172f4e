//! Reading `Rule`, group membership and `PublicStep` rows and compiling them for one user.

use std::collections::HashMap;

use crate::icat::access::Access;
use crate::icat::db::Db;
use crate::icat::error::IcatError;
use crate::jpql::{CompileOptions, Restriction, RuleQuery, compile_rule};

use super::{Grant, UserAccess};

/// One row of the `Rule` table.
struct RuleRow {
    id: i64,
    crud_flags: String,
    what: String,
    grouping: Option<i64>,
}

/// The access types a `crudFlags` value grants, or `None` when it has other letters.
pub fn parse_flags(flags: &str) -> Option<Vec<Access>> {
    flags
        .trim()
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            'C' => Some(Access::Create),
            'R' => Some(Access::Read),
            'U' => Some(Access::Update),
            'D' => Some(Access::Delete),
            _ => None,
        })
        .collect()
}

/// Compiles a rule's `what` (for checking a new or changed `Rule`, and for [`compile_for`]).
pub fn compile_what(what: &str, user: &str, now_millis: i64) -> Result<RuleQuery, IcatError> {
    let opts = CompileOptions {
        entities: crate::entities(),
        restrictions: None,
        now_millis,
    };
    compile_rule(what, user, &opts).map_err(|e| IcatError::bad_parameter(e.to_string()))
}

fn rule_rows(db: &Db) -> Result<Vec<RuleRow>, IcatError> {
    let mut stmt = db.conn().prepare_cached(
        "SELECT \"id\", \"crudFlags\", \"what\", \"grouping_id\" FROM \"Rule\" ORDER BY \"id\"",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RuleRow {
            id: r.get(0)?,
            crud_flags: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            what: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            grouping: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn groups_of(db: &Db, user: &str) -> Result<Vec<i64>, IcatError> {
    let mut stmt = db.conn().prepare_cached(
        "SELECT DISTINCT ug.\"grouping_id\" FROM \"UserGroup\" AS ug \
         JOIN \"User\" AS u ON u.\"id\" = ug.\"user_id\" WHERE u.\"name\" = ?1",
    )?;
    let rows = stmt.query_map([user], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn public_steps(db: &Db) -> Result<Vec<(String, String)>, IcatError> {
    let mut stmt = db
        .conn()
        .prepare_cached("SELECT \"origin\", \"field\" FROM \"PublicStep\"")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Compiles every rule that applies to `user` into grants.
pub fn compile_for(db: &Db, user: &str) -> Result<UserAccess, IcatError> {
    let now = db.clock().now_millis();
    let groups = groups_of(db, user)?;
    let mut access = UserAccess::default();
    let mut restricted: HashMap<(Access, &'static str), Vec<Restriction>> = HashMap::new();
    for row in rule_rows(db)? {
        // Rules were checked when they were created; one that no longer compiles (a dump with
        // a rule this simulator cannot express) grants nothing.
        let rule = match compile_what(&row.what, user, now) {
            Ok(rule) => rule,
            Err(e) => {
                tracing::warn!(rule = row.id, what = %row.what, error = %e, "rule ignored");
                continue;
            }
        };
        if row.grouping.is_none() && !rule.restricted {
            access.public_tables.insert(rule.entity);
        }
        let applies = row.grouping.is_none_or(|g| groups.contains(&g));
        if !applies || rule.attribute.is_some() {
            continue;
        }
        for flag in parse_flags(&row.crud_flags).unwrap_or_default() {
            let key = (flag, rule.entity);
            if !rule.restricted {
                access.grants.insert(key, Grant::All);
            } else if access.grants.get(&key) != Some(&Grant::All) {
                restricted.entry(key).or_default().push(rule.grants.clone());
            }
        }
    }
    for (key, parts) in restricted {
        access
            .grants
            .entry(key)
            .or_insert_with(|| Grant::Rows(Restriction::any_of(parts)));
    }
    for entity in crate::entities() {
        let restriction = match access.grant(Access::Read, entity.name) {
            Some(Grant::All) => continue,
            Some(Grant::Rows(r)) => r.clone(),
            None => Restriction::DenyAll,
        };
        access
            .read_restrictions
            .insert(entity.name.to_string(), restriction);
    }
    access.public_steps = public_steps(db)?.into_iter().collect();
    Ok(access)
}
