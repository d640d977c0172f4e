//! The SQLite schema derived from the entity metadata: one table per entity, columns named after
//! fields, many-to-one relations as `"<field>_id"` columns, uniqueness constraints as UNIQUE indexes.

use std::collections::HashMap;

use icat_soap::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};

/// Base fields the server maintains itself.
pub const SERVER_FIELDS: [&str; 4] = ["createId", "createTime", "modId", "modTime"];

/// One attribute column.
#[derive(Debug, Clone)]
pub struct AttrColumn {
    /// Field name (also the column name).
    pub name: &'static str,
    /// Value type.
    pub ty: AttrType,
    /// The field's metadata.
    pub meta: &'static FieldMeta,
}

/// One many-to-one relation column.
#[derive(Debug, Clone)]
pub struct OneColumn {
    /// Field name; the column is `"<name>_id"`.
    pub name: &'static str,
    /// Target entity.
    pub target: &'static str,
    /// The field's metadata.
    pub meta: &'static FieldMeta,
}

/// One one-to-many relation: rows of `target` whose `back` column points here.
#[derive(Debug, Clone)]
pub struct ManyRel {
    /// Field name.
    pub name: &'static str,
    /// Target entity.
    pub target: &'static str,
    /// The many-to-one field on the target that points back.
    pub back: &'static str,
}

/// Everything the database layer needs about one entity table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Entity metadata.
    pub meta: &'static EntityMeta,
    /// Attribute columns except `id`, in field order.
    pub attrs: Vec<AttrColumn>,
    /// Many-to-one columns, in field order.
    pub ones: Vec<OneColumn>,
    /// One-to-many relations (cascaded on create and delete).
    pub manys: Vec<ManyRel>,
    /// `"id", <attrs>, <ones>` for SELECT.
    pub select_list: String,
    /// `INSERT INTO ... VALUES (?, ...)` over attrs then ones (no id).
    pub insert_sql: String,
    /// `UPDATE ... SET <attrs>, <ones> WHERE "id" = ?`.
    pub update_sql: String,
    /// `SELECT 1 FROM ... WHERE "id" = ?`.
    pub exists_sql: String,
}

impl Table {
    /// The entity name (also the table name).
    pub fn name(&self) -> &'static str {
        self.meta.name
    }

    /// Index of a many-to-one field in [`Table::ones`].
    pub fn one_index(&self, field: &str) -> Option<usize> {
        self.ones.iter().position(|o| o.name == field)
    }

    /// The one-to-many relation with this field name.
    pub fn many(&self, field: &str) -> Option<&ManyRel> {
        self.manys.iter().find(|m| m.name == field)
    }
}

/// The schema: tables by entity name.
#[derive(Debug)]
pub struct Schema {
    entities: &'static [EntityMeta],
    tables: HashMap<&'static str, Table>,
}

/// Quotes an SQL identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Schema {
    /// Builds the schema for these entities.
    pub fn new(entities: &'static [EntityMeta]) -> Self {
        let mut tables = HashMap::new();
        for meta in entities {
            let attrs: Vec<AttrColumn> = meta
                .fields
                .iter()
                .filter_map(|f| match f.kind {
                    FieldKind::Attribute(ty) if f.name != "id" => Some(AttrColumn {
                        name: f.name,
                        ty,
                        meta: f,
                    }),
                    _ => None,
                })
                .collect();
            let ones: Vec<OneColumn> = meta
                .fields
                .iter()
                .filter_map(|f| match f.kind {
                    FieldKind::One { target } => Some(OneColumn {
                        name: f.name,
                        target,
                        meta: f,
                    }),
                    _ => None,
                })
                .collect();
            let manys = meta
                .fields
                .iter()
                .filter_map(|f| match f.kind {
                    FieldKind::Many { target, back_ref } => {
                        let back =
                            back_ref.or_else(|| unique_back_ref(entities, meta.name, target))?;
                        Some(ManyRel {
                            name: f.name,
                            target,
                            back,
                        })
                    }
                    _ => None,
                })
                .collect();
            let columns: Vec<String> = attrs
                .iter()
                .map(|a| quote(a.name))
                .chain(ones.iter().map(|o| quote(&format!("{}_id", o.name))))
                .collect();
            let select_list = std::iter::once(quote("id"))
                .chain(columns.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ");
            let placeholders = vec!["?"; columns.len()].join(", ");
            let insert_sql = format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                quote(meta.name),
                columns.join(", ")
            );
            let sets: Vec<String> = columns.iter().map(|c| format!("{c} = ?")).collect();
            let update_sql = format!(
                "UPDATE {} SET {} WHERE \"id\" = ?",
                quote(meta.name),
                sets.join(", ")
            );
            let exists_sql = format!("SELECT 1 FROM {} WHERE \"id\" = ?", quote(meta.name));
            tables.insert(
                meta.name,
                Table {
                    meta,
                    attrs,
                    ones,
                    manys,
                    select_list,
                    insert_sql,
                    update_sql,
                    exists_sql,
                },
            );
        }
        Schema { entities, tables }
    }

    /// The table of an entity.
    pub fn table(&self, entity: &str) -> Option<&Table> {
        self.tables.get(entity)
    }

    /// All entity metadata, sorted by name.
    pub fn entities(&self) -> &'static [EntityMeta] {
        self.entities
    }

    /// The DDL statements creating every table and unique index (idempotent).
    pub fn ddl(&self) -> Vec<String> {
        let mut out = Vec::new();
        for meta in self.entities {
            let Some(table) = self.tables.get(meta.name) else {
                continue;
            };
            let mut cols = vec!["\"id\" INTEGER PRIMARY KEY".to_string()];
            for a in &table.attrs {
                cols.push(format!("{} {}", quote(a.name), sql_type(a.ty)));
            }
            for o in &table.ones {
                cols.push(format!(
                    "{} INTEGER REFERENCES {}(\"id\")",
                    quote(&format!("{}_id", o.name)),
                    quote(o.target)
                ));
            }
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {} ({})",
                quote(meta.name),
                cols.join(", ")
            ));
            for (i, constraint) in meta.constraints.iter().enumerate() {
                let cols: Vec<String> = constraint
                    .iter()
                    .map(|f| quote(&column_of(table, f)))
                    .collect();
                out.push(format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
                    quote(&format!("{}_unique_{i}", meta.name)),
                    quote(meta.name),
                    cols.join(", ")
                ));
            }
            // Columns that queries commonly select on (names, visit ids) get an index too.
            for a in table
                .attrs
                .iter()
                .filter(|a| matches!(a.name, "name" | "visitId" | "location"))
            {
                out.push(format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                    quote(&format!("{}_{}_idx", meta.name, a.name)),
                    quote(meta.name),
                    quote(a.name)
                ));
            }
            for o in &table.ones {
                out.push(format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                    quote(&format!("{}_{}_id_idx", meta.name, o.name)),
                    quote(meta.name),
                    quote(&format!("{}_id", o.name))
                ));
            }
        }
        let has = |name: &str| self.tables.contains_key(name);
        if has("Datafile") && has("Dataset") && has("Investigation") {
            out.extend(FILE_TOTAL_TRIGGERS.iter().map(|t| t.to_string()));
        }
        out
    }
}

/// Triggers keeping `Dataset.fileSize`/`fileCount` and `Investigation.fileSize`/`fileCount` equal to
/// the totals of their datafiles, as ICAT does with its optional database triggers
/// (`create_triggers_*_5_0.sql`): on datafile insert, delete, and change of size or dataset, and
/// when a dataset moves to another investigation. A dataset is deleted after its datafiles (the
/// cascade), so its totals have already left the investigation by then.
const FILE_TOTAL_TRIGGERS: [&str; 4] = [
    r#"CREATE TRIGGER IF NOT EXISTS "Datafile_totals_insert" AFTER INSERT ON "Datafile" BEGIN
  UPDATE "Dataset" SET "fileSize" = COALESCE("fileSize", 0) + COALESCE(NEW."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) + 1 WHERE "id" = NEW."dataset_id";
  UPDATE "Investigation" SET "fileSize" = COALESCE("fileSize", 0) + COALESCE(NEW."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) + 1
    WHERE "id" = (SELECT "investigation_id" FROM "Dataset" WHERE "id" = NEW."dataset_id");
END"#,
    r#"CREATE TRIGGER IF NOT EXISTS "Datafile_totals_delete" AFTER DELETE ON "Datafile" BEGIN
  UPDATE "Dataset" SET "fileSize" = COALESCE("fileSize", 0) - COALESCE(OLD."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) - 1 WHERE "id" = OLD."dataset_id";
  UPDATE "Investigation" SET "fileSize" = COALESCE("fileSize", 0) - COALESCE(OLD."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) - 1
    WHERE "id" = (SELECT "investigation_id" FROM "Dataset" WHERE "id" = OLD."dataset_id");
END"#,
    r#"CREATE TRIGGER IF NOT EXISTS "Datafile_totals_update" AFTER UPDATE OF "fileSize", "dataset_id" ON "Datafile"
  WHEN OLD."fileSize" IS NOT NEW."fileSize" OR OLD."dataset_id" IS NOT NEW."dataset_id" BEGIN
  UPDATE "Dataset" SET "fileSize" = COALESCE("fileSize", 0) - COALESCE(OLD."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) - 1 WHERE "id" = OLD."dataset_id";
  UPDATE "Investigation" SET "fileSize" = COALESCE("fileSize", 0) - COALESCE(OLD."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) - 1
    WHERE "id" = (SELECT "investigation_id" FROM "Dataset" WHERE "id" = OLD."dataset_id");
  UPDATE "Dataset" SET "fileSize" = COALESCE("fileSize", 0) + COALESCE(NEW."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) + 1 WHERE "id" = NEW."dataset_id";
  UPDATE "Investigation" SET "fileSize" = COALESCE("fileSize", 0) + COALESCE(NEW."fileSize", 0),
    "fileCount" = COALESCE("fileCount", 0) + 1
    WHERE "id" = (SELECT "investigation_id" FROM "Dataset" WHERE "id" = NEW."dataset_id");
END"#,
    r#"CREATE TRIGGER IF NOT EXISTS "Dataset_totals_move" AFTER UPDATE OF "investigation_id" ON "Dataset"
  WHEN OLD."investigation_id" IS NOT NEW."investigation_id" BEGIN
  UPDATE "Investigation" SET
    "fileSize" = COALESCE("fileSize", 0)
      - (SELECT COALESCE(SUM("fileSize"), 0) FROM "Datafile" WHERE "dataset_id" = NEW."id"),
    "fileCount" = COALESCE("fileCount", 0)
      - (SELECT COUNT(*) FROM "Datafile" WHERE "dataset_id" = NEW."id")
    WHERE "id" = OLD."investigation_id";
  UPDATE "Investigation" SET
    "fileSize" = COALESCE("fileSize", 0)
      + (SELECT COALESCE(SUM("fileSize"), 0) FROM "Datafile" WHERE "dataset_id" = NEW."id"),
    "fileCount" = COALESCE("fileCount", 0)
      + (SELECT COUNT(*) FROM "Datafile" WHERE "dataset_id" = NEW."id")
    WHERE "id" = NEW."investigation_id";
END"#,
];

/// Statements setting every dataset's and investigation's `fileSize`/`fileCount` to the totals of
/// its datafiles (after a bulk load that carried stale or doubled totals).
pub const RECOMPUTE_FILE_TOTALS: &str = r#"
UPDATE "Dataset" SET
  "fileSize" = (SELECT COALESCE(SUM(df."fileSize"), 0) FROM "Datafile" df WHERE df."dataset_id" = "Dataset"."id"),
  "fileCount" = (SELECT COUNT(*) FROM "Datafile" df WHERE df."dataset_id" = "Dataset"."id");
UPDATE "Investigation" SET
  "fileSize" = (SELECT COALESCE(SUM(df."fileSize"), 0) FROM "Datafile" df
    JOIN "Dataset" ds ON df."dataset_id" = ds."id" WHERE ds."investigation_id" = "Investigation"."id"),
  "fileCount" = (SELECT COUNT(*) FROM "Datafile" df
    JOIN "Dataset" ds ON df."dataset_id" = ds."id" WHERE ds."investigation_id" = "Investigation"."id");
"#;

/// The column holding a field: the field name for attributes, `<field>_id` for relations.
pub fn column_of(table: &Table, field: &str) -> String {
    if table.one_index(field).is_some() {
        format!("{field}_id")
    } else {
        field.to_string()
    }
}

fn sql_type(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String | AttrType::Enum(_) => "TEXT",
        AttrType::Long | AttrType::Int | AttrType::Boolean | AttrType::DateTime => "INTEGER",
        AttrType::Double => "REAL",
    }
}

fn unique_back_ref(
    entities: &'static [EntityMeta],
    owner: &str,
    target: &str,
) -> Option<&'static str> {
    let target = entities.iter().find(|e| e.name == target)?;
    let mut candidates = target
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::One { target } if target == owner));
    let first = candidates.next()?;
    if candidates.next().is_some() {
        None
    } else {
        Some(first.name)
    }
}
