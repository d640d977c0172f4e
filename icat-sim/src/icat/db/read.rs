//! Reading entities: rows to [`DynEntity`], lookup by id, and filling INCLUDEd relations level by level
//! with one query per relation (never one query per object).

use std::collections::{BTreeMap, HashMap};

use icat_soap::dynamic::{AttrValue, DynEntity};
use rusqlite::{Connection, Row, params_from_iter};

use super::Db;
use super::schema::{Schema, Table, quote};
use super::values::from_sql;
use crate::icat::error::IcatError;

/// Which relations to fill, as a tree keyed by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Include {
    /// Relations to fill, with what to fill inside each.
    pub fields: BTreeMap<String, Include>,
}

impl Include {
    /// Nothing included.
    pub fn none() -> Self {
        Include::default()
    }

    /// `INCLUDE 1`: every many-to-one relation of the entity, one level deep.
    pub fn all_ones(table: &Table) -> Self {
        Include {
            fields: table
                .ones
                .iter()
                .map(|o| (o.name.to_string(), Include::none()))
                .collect(),
        }
    }

    /// Adds a dotted path of field names (`datafiles.parameters`), creating intermediate levels.
    pub fn add_path<'a>(&mut self, path: impl IntoIterator<Item = &'a str>) {
        let mut node = self;
        for step in path {
            node = node.fields.entry(step.to_string()).or_default();
        }
    }

    /// True when nothing is included.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Counts returned entities against `maxEntities`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    left: u64,
    max: u64,
}

impl Budget {
    /// A budget of `max` entities.
    pub fn new(max: u64) -> Self {
        Budget { left: max, max }
    }

    /// Takes `n` entities from the budget, or fails with ICAT's VALIDATION message.
    pub fn take(&mut self, n: u64) -> Result<(), IcatError> {
        if n > self.left {
            return Err(IcatError::validation(format!(
                "attempt to return more than {} entities",
                self.max
            )));
        }
        self.left -= n;
        Ok(())
    }
}

/// Decides which related objects an INCLUDE may show (access control plugs in here).
pub trait ReadFilter {
    /// Of the `ids` of `target` rows reached from `origin` objects through `field`, the ones to
    /// include (in the given order).
    fn visible(
        &self,
        conn: &Connection,
        origin: &str,
        field: &str,
        target: &str,
        ids: &[i64],
    ) -> Result<Vec<i64>, IcatError>;
}

/// An entity as read, with its many-to-one foreign keys (parallel to [`Table::ones`]).
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub entity: DynEntity,
    pub fks: Vec<Option<i64>>,
}

/// Converts a row selected with [`Table::select_list`] (starting at column `start`).
pub(crate) fn row_to_loaded(
    table: &Table,
    row: &Row<'_>,
    start: usize,
) -> rusqlite::Result<Loaded> {
    let mut entity = DynEntity::new(table.name());
    let id: i64 = row.get(start)?;
    entity.attrs.insert("id".to_string(), AttrValue::Long(id));
    for (i, a) in table.attrs.iter().enumerate() {
        if let Some(v) = from_sql(a.ty, row.get_ref(start + 1 + i)?) {
            entity.attrs.insert(a.name.to_string(), v);
        }
    }
    let base = start + 1 + table.attrs.len();
    let mut fks = Vec::with_capacity(table.ones.len());
    for i in 0..table.ones.len() {
        fks.push(row.get::<_, Option<i64>>(base + i)?);
    }
    Ok(Loaded { entity, fks })
}

const CHUNK: usize = 500;

/// Loads rows of `table` whose `column` is one of `keys`, ordered by id.
pub(crate) fn load_where_in(
    conn: &Connection,
    table: &Table,
    column: &str,
    keys: &[i64],
) -> Result<Vec<Loaded>, IcatError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT {} FROM {} WHERE {} IN ({marks}) ORDER BY \"id\"",
            table.select_list,
            quote(table.name()),
            quote(column)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| {
            row_to_loaded(table, r, 0)
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

/// Fills the included relations of `items` (all of type `table`).
pub(crate) fn expand(
    conn: &Connection,
    schema: &Schema,
    table: &Table,
    items: &mut [Loaded],
    include: &Include,
    filter: Option<&dyn ReadFilter>,
) -> Result<(), IcatError> {
    for (field, sub) in &include.fields {
        if let Some(idx) = table.one_index(field) {
            let target = schema.table(table.ones[idx].target).ok_or_else(|| {
                IcatError::internal(format!("no table for {}", table.ones[idx].target))
            })?;
            let mut ids: Vec<i64> = items.iter().filter_map(|l| l.fks[idx]).collect();
            ids.sort_unstable();
            ids.dedup();
            if let Some(f) = filter {
                ids = f.visible(conn, table.name(), field, target.name(), &ids)?;
            }
            let mut targets = load_where_in(conn, target, "id", &ids)?;
            expand(conn, schema, target, &mut targets, sub, filter)?;
            let by_id: HashMap<i64, DynEntity> = targets
                .into_iter()
                .filter_map(|l| l.entity.id().map(|id| (id, l.entity)))
                .collect();
            for item in items.iter_mut() {
                if let Some(related) = item.fks[idx].and_then(|fk| by_id.get(&fk)) {
                    item.entity.one.insert(field.clone(), related.clone());
                }
            }
        } else if let Some(many) = table.many(field) {
            let target = schema
                .table(many.target)
                .ok_or_else(|| IcatError::internal(format!("no table for {}", many.target)))?;
            let back_idx = target.one_index(many.back).ok_or_else(|| {
                IcatError::internal(format!("{} has no field {}", many.target, many.back))
            })?;
            let parent_ids: Vec<i64> = items.iter().filter_map(|l| l.entity.id()).collect();
            let mut children =
                load_where_in(conn, target, &format!("{}_id", many.back), &parent_ids)?;
            if let Some(f) = filter {
                let ids: Vec<i64> = children.iter().filter_map(|c| c.entity.id()).collect();
                let keep: std::collections::HashSet<i64> = f
                    .visible(conn, table.name(), field, target.name(), &ids)?
                    .into_iter()
                    .collect();
                children.retain(|c| c.entity.id().is_some_and(|id| keep.contains(&id)));
            }
            expand(conn, schema, target, &mut children, sub, filter)?;
            let mut grouped: HashMap<i64, Vec<DynEntity>> = HashMap::new();
            for child in children {
                if let Some(parent) = child.fks[back_idx] {
                    grouped.entry(parent).or_default().push(child.entity);
                }
            }
            for item in items.iter_mut() {
                let list = item
                    .entity
                    .id()
                    .and_then(|id| grouped.remove(&id))
                    .unwrap_or_default();
                item.entity.many.insert(field.clone(), list);
            }
        } else {
            return Err(IcatError::bad_parameter(format!(
                "{} has no relationship field {field}",
                table.name()
            )));
        }
    }
    Ok(())
}

pub(crate) fn count_nested(e: &DynEntity) -> u64 {
    e.one.values().map(|o| 1 + count_nested(o)).sum::<u64>()
        + e.many
            .values()
            .flatten()
            .map(|m| 1 + count_nested(m))
            .sum::<u64>()
}

impl Db {
    /// True when an entity of this type and id exists.
    pub fn exists(&self, entity: &str, id: i64) -> Result<bool, IcatError> {
        let table = self.table(entity)?;
        let mut stmt = self.conn.prepare_cached(&table.exists_sql)?;
        Ok(stmt.exists([id])?)
    }

    /// ICAT `get`: one entity by id with its included relations.
    pub fn get(
        &self,
        entity: &str,
        id: i64,
        include: &Include,
        max_entities: u64,
    ) -> Result<DynEntity, IcatError> {
        let mut found =
            self.load_entities(entity, &[id], include, &mut Budget::new(max_entities))?;
        found.pop().ok_or_else(|| IcatError::not_found(entity, id))
    }

    /// Loads entities by id, in the order given (unknown ids are skipped), with included relations.
    pub fn load_entities(
        &self,
        entity: &str,
        ids: &[i64],
        include: &Include,
        budget: &mut Budget,
    ) -> Result<Vec<DynEntity>, IcatError> {
        self.load_entities_filtered(entity, ids, include, budget, None)
    }

    /// [`Db::load_entities`] where `filter` decides which INCLUDEd objects are shown.
    pub fn load_entities_filtered(
        &self,
        entity: &str,
        ids: &[i64],
        include: &Include,
        budget: &mut Budget,
        filter: Option<&dyn ReadFilter>,
    ) -> Result<Vec<DynEntity>, IcatError> {
        let table = self.table(entity)?;
        let mut unique: Vec<i64> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut loaded = load_where_in(&self.conn, table, "id", &unique)?;
        budget.take(ids.len() as u64)?;
        expand(
            &self.conn,
            &self.schema,
            table,
            &mut loaded,
            include,
            filter,
        )?;
        let by_id: HashMap<i64, DynEntity> = loaded
            .into_iter()
            .filter_map(|l| l.entity.id().map(|id| (id, l.entity)))
            .collect();
        let out: Vec<DynEntity> = ids.iter().filter_map(|id| by_id.get(id).cloned()).collect();
        // Included objects count once per place they appear, as ICAT's serialized tree does.
        budget.take(out.iter().map(count_nested).sum())?;
        Ok(out)
    }

    /// The many-to-one foreign keys of one row, by field name (`None` when the row does not exist).
    pub fn foreign_keys(
        &self,
        entity: &str,
        id: i64,
    ) -> Result<Option<BTreeMap<String, i64>>, IcatError> {
        let table = self.table(entity)?;
        let found = load_where_in(&self.conn, table, "id", &[id])?;
        Ok(found.into_iter().next().map(|l| {
            table
                .ones
                .iter()
                .zip(l.fks)
                .filter_map(|(o, fk)| fk.map(|fk| (o.name.to_string(), fk)))
                .collect()
        }))
    }
}
