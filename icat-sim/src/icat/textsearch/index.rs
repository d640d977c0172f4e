//! The full-text index: SQLite FTS5 tables holding the text fields icat.lucene's query parsers
//! search by default (`DocumentMapping.investigationParser`, `datasetParser`, `datafileParser`,
//! `sampleParser`, and `user.fullName` for `userFullName`), kept in step with the catalogue by
//! triggers on every insert, update and delete, including the changes ICAT propagates to other
//! documents (`DocumentMapping.relationships`: a renamed visit re-indexes its datasets and
//! datafiles, a renamed format its datafiles, ...).
//!
//! The tables are contentless (`content=''`, `contentless_delete=1`): the text lives once, in the
//! catalogue tables; the index holds only terms. Tokenizing is `porter unicode61`, close to
//! icat.lucene's `IcatAnalyzer` (lower case, Porter stemming).

use rusqlite::Connection;

/// One indexed document type: FTS table, the view that produces its rows, and its columns.
pub struct IndexTable {
    /// The FTS5 table.
    pub table: &'static str,
    /// The view giving `id` and the text columns for every catalogue row.
    pub view: &'static str,
    /// The FTS columns, in view order after `id`.
    pub columns: &'static [&'static str],
    /// `SELECT id AS id, <columns> FROM ...` (the view body).
    select: &'static str,
}

/// Investigations: icat.lucene `investigationParser` fields.
pub const INVESTIGATION: IndexTable = IndexTable {
    table: "_search_investigation",
    view: "_search_investigation_doc",
    columns: &[
        "name", "visitId", "title", "summary", "facility", "type", "doi",
    ],
    select: r#"SELECT x."id" AS id, x."name", x."visitId", x."title", x."summary",
  f."name", t."name", x."doi"
FROM "Investigation" x
LEFT JOIN "Facility" f ON f."id" = x."facility_id"
LEFT JOIN "InvestigationType" t ON t."id" = x."type_id""#,
};

/// Samples: `sampleParser` fields (joined to investigations by text searches).
pub const SAMPLE: IndexTable = IndexTable {
    table: "_search_sample",
    view: "_search_sample_doc",
    columns: &["sample", "sampleType"],
    select: r#"SELECT x."id" AS id, x."name", st."name"
FROM "Sample" x
LEFT JOIN "SampleType" st ON st."id" = x."type_id""#,
};

/// Datasets: `datasetParser` fields.
pub const DATASET: IndexTable = IndexTable {
    table: "_search_dataset",
    view: "_search_dataset_doc",
    columns: &[
        "name",
        "description",
        "sample",
        "sampleType",
        "type",
        "visitId",
        "doi",
    ],
    select: r#"SELECT x."id" AS id, x."name", x."description", s."name", st."name", t."name",
  i."visitId", x."doi"
FROM "Dataset" x
LEFT JOIN "Sample" s ON s."id" = x."sample_id"
LEFT JOIN "SampleType" st ON st."id" = s."type_id"
LEFT JOIN "DatasetType" t ON t."id" = x."type_id"
LEFT JOIN "Investigation" i ON i."id" = x."investigation_id""#,
};

/// Datafiles: `datafileParser` fields (`location` also stands for `location.fileName`).
pub const DATAFILE: IndexTable = IndexTable {
    table: "_search_datafile",
    view: "_search_datafile_doc",
    columns: &[
        "name",
        "description",
        "location",
        "format",
        "visitId",
        "sample",
        "sampleType",
        "doi",
    ],
    select: r#"SELECT x."id" AS id, x."name", x."description", x."location", fmt."name",
  i."visitId", s."name", st."name", x."doi"
FROM "Datafile" x
LEFT JOIN "DatafileFormat" fmt ON fmt."id" = x."datafileFormat_id"
LEFT JOIN "Dataset" d ON d."id" = x."dataset_id"
LEFT JOIN "Investigation" i ON i."id" = d."investigation_id"
LEFT JOIN "Sample" s ON s."id" = d."sample_id"
LEFT JOIN "SampleType" st ON st."id" = s."type_id""#,
};

/// Users: `user.fullName` (for `userFullName`, joined through InvestigationUser).
pub const USER: IndexTable = IndexTable {
    table: "_search_user",
    view: "_search_user_doc",
    columns: &["fullName"],
    select: r#"SELECT x."id" AS id, x."fullName" FROM "User" x"#,
};

/// Every index table.
pub const TABLES: [&IndexTable; 5] = [&INVESTIGATION, &SAMPLE, &DATASET, &DATAFILE, &USER];

/// The catalogue tables the index reads; without all of them (a reduced test schema) no index is
/// installed.
const NEEDED: [&str; 11] = [
    "Investigation",
    "Facility",
    "InvestigationType",
    "Sample",
    "SampleType",
    "Dataset",
    "DatasetType",
    "Datafile",
    "DatafileFormat",
    "User",
    "InvestigationUser",
];

impl IndexTable {
    fn ddl(&self) -> String {
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS \"{t}\" USING fts5({cols}, content='', \
             contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2');\n\
             CREATE VIEW IF NOT EXISTS \"{v}\" AS {sel};\n",
            t = self.table,
            cols = self
                .columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            v = self.view,
            sel = self.select,
        )
    }

    /// Statements re-indexing the rows whose ids `ids_sql` (a subquery) selects.
    fn reindex(&self, ids_sql: &str) -> String {
        format!(
            "DELETE FROM \"{t}\" WHERE rowid IN ({ids_sql});\n  \
             INSERT INTO \"{t}\" (rowid, {cols}) SELECT * FROM \"{v}\" WHERE id IN ({ids_sql});\n",
            t = self.table,
            v = self.view,
            cols = self
                .columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// The statement indexing new rows (whose ids `ids_sql` selects).
    fn insert(&self, ids_sql: &str) -> String {
        format!(
            "INSERT INTO \"{t}\" (rowid, {cols}) SELECT * FROM \"{v}\" WHERE id IN ({ids_sql});\n",
            t = self.table,
            v = self.view,
            cols = self
                .columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// The statement filling the table from scratch.
    fn fill(&self) -> String {
        format!(
            "INSERT INTO \"{t}\" (\"{t}\") VALUES ('delete-all');\n\
             INSERT INTO \"{t}\" (rowid, {cols}) SELECT * FROM \"{v}\";\n",
            t = self.table,
            v = self.view,
            cols = self
                .columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// A trigger: name, event clause (`AFTER ... ON ...` with optional WHEN) and body.
fn trigger(name: &str, event: &str, body: &str) -> String {
    format!("CREATE TRIGGER IF NOT EXISTS \"_search_{name}\" {event} BEGIN\n  {body}END;\n")
}

fn delete_row(t: &IndexTable, id: &str) -> String {
    format!("DELETE FROM \"{}\" WHERE rowid = {id};\n", t.table)
}

/// The triggers keeping every index table in step with the catalogue.
fn triggers() -> String {
    let new_id = "SELECT NEW.\"id\"";
    let ds_files = "SELECT \"id\" FROM \"Datafile\" WHERE \"dataset_id\" = NEW.\"id\"";
    let inv_datasets = "SELECT \"id\" FROM \"Dataset\" WHERE \"investigation_id\" = NEW.\"id\"";
    let inv_files = "SELECT df.\"id\" FROM \"Datafile\" df JOIN \"Dataset\" d ON d.\"id\" = df.\"dataset_id\" WHERE d.\"investigation_id\" = NEW.\"id\"";
    let sample_datasets = "SELECT \"id\" FROM \"Dataset\" WHERE \"sample_id\" = NEW.\"id\"";
    let sample_files = "SELECT df.\"id\" FROM \"Datafile\" df JOIN \"Dataset\" d ON d.\"id\" = df.\"dataset_id\" WHERE d.\"sample_id\" = NEW.\"id\"";
    let type_samples = "SELECT \"id\" FROM \"Sample\" WHERE \"type_id\" = NEW.\"id\"";
    let type_datasets = "SELECT d.\"id\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" WHERE s.\"type_id\" = NEW.\"id\"";
    let type_files = "SELECT df.\"id\" FROM \"Datafile\" df JOIN \"Dataset\" d ON d.\"id\" = df.\"dataset_id\" JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" WHERE s.\"type_id\" = NEW.\"id\"";
    let mut out = String::new();
    // The documents themselves.
    for (entity, t, cols) in [
        (
            "Investigation",
            &INVESTIGATION,
            r#""name", "visitId", "title", "summary", "doi", "facility_id", "type_id""#,
        ),
        (
            "Dataset",
            &DATASET,
            r#""name", "description", "doi", "sample_id", "type_id", "investigation_id""#,
        ),
        (
            "Datafile",
            &DATAFILE,
            r#""name", "description", "location", "doi", "datafileFormat_id", "dataset_id""#,
        ),
        ("Sample", &SAMPLE, r#""name", "type_id""#),
        ("User", &USER, r#""fullName""#),
    ] {
        out.push_str(&trigger(
            &format!("{entity}_insert"),
            &format!("AFTER INSERT ON \"{entity}\""),
            &t.insert(new_id),
        ));
        out.push_str(&trigger(
            &format!("{entity}_update"),
            &format!("AFTER UPDATE OF {cols} ON \"{entity}\""),
            &format!("{}{}", delete_row(t, "OLD.\"id\""), t.reindex(new_id)),
        ));
        out.push_str(&trigger(
            &format!("{entity}_delete"),
            &format!("AFTER DELETE ON \"{entity}\""),
            &delete_row(t, "OLD.\"id\""),
        ));
    }
    // What ICAT propagates to other documents.
    out.push_str(&trigger(
        "Investigation_visit",
        "AFTER UPDATE OF \"visitId\" ON \"Investigation\" WHEN OLD.\"visitId\" IS NOT NEW.\"visitId\"",
        &format!("{}{}", DATASET.reindex(inv_datasets), DATAFILE.reindex(inv_files)),
    ));
    out.push_str(&trigger(
        "Dataset_files",
        "AFTER UPDATE OF \"investigation_id\", \"sample_id\" ON \"Dataset\" \
         WHEN OLD.\"investigation_id\" IS NOT NEW.\"investigation_id\" OR OLD.\"sample_id\" IS NOT NEW.\"sample_id\"",
        &DATAFILE.reindex(ds_files),
    ));
    out.push_str(&trigger(
        "Sample_docs",
        "AFTER UPDATE OF \"name\", \"type_id\" ON \"Sample\"",
        &format!(
            "{}{}",
            DATASET.reindex(sample_datasets),
            DATAFILE.reindex(sample_files)
        ),
    ));
    out.push_str(&trigger(
        "SampleType_docs",
        "AFTER UPDATE OF \"name\" ON \"SampleType\" WHEN OLD.\"name\" IS NOT NEW.\"name\"",
        &format!(
            "{}{}{}",
            SAMPLE.reindex(type_samples),
            DATASET.reindex(type_datasets),
            DATAFILE.reindex(type_files)
        ),
    ));
    for (entity, t, fk) in [
        ("Facility", &INVESTIGATION, "facility_id"),
        ("InvestigationType", &INVESTIGATION, "type_id"),
        ("DatasetType", &DATASET, "type_id"),
        ("DatafileFormat", &DATAFILE, "datafileFormat_id"),
    ] {
        let target = match t.table {
            "_search_investigation" => "Investigation",
            "_search_dataset" => "Dataset",
            _ => "Datafile",
        };
        out.push_str(&trigger(
            &format!("{entity}_docs"),
            &format!(
                "AFTER UPDATE OF \"name\" ON \"{entity}\" WHEN OLD.\"name\" IS NOT NEW.\"name\""
            ),
            &t.reindex(&format!(
                "SELECT \"id\" FROM \"{target}\" WHERE \"{fk}\" = NEW.\"id\""
            )),
        ));
    }
    out
}

/// Indexes on the computed document fields that searches sort and filter by (icat.lucene keeps
/// them as sortable doc values, so a sorted search never sorts the whole catalogue): the datafile
/// `date`, with the exact expression of [`super::fields`] (SQLite matches an indexed expression
/// by its form). Without it a date-sorted datafile search sorts every matching row for each
/// block of hits.
const SORT_INDEXES: &str = "CREATE INDEX IF NOT EXISTS \"_search_datafile_date\" ON \"Datafile\" \
     (COALESCE(\"datafileModTime\", \"datafileCreateTime\", \"modTime\"));\n";

/// True when the catalogue has every table the index reads.
pub fn supported(conn: &Connection) -> rusqlite::Result<bool> {
    let mut stmt =
        conn.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    for table in NEEDED {
        if stmt.query_row([table], |r| r.get::<_, i64>(0))? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Creates the index tables, views and triggers when missing. Returns true when the index was
/// created just now (and must be filled with [`rebuild`] if the catalogue already has rows).
pub fn install(conn: &Connection) -> rusqlite::Result<bool> {
    if !supported(conn)? {
        return Ok(false);
    }
    let existed: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
        [DATAFILE.table],
        |r| r.get(0),
    )?;
    let mut sql = String::from("BEGIN;\n");
    for t in TABLES {
        sql.push_str(&t.ddl());
    }
    sql.push_str(&triggers());
    sql.push_str(SORT_INDEXES);
    sql.push_str("COMMIT;\n");
    conn.execute_batch(&sql)?;
    Ok(existed == 0)
}

/// Fills every index table from the catalogue (in one transaction).
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    let mut sql = String::from("BEGIN;\n");
    for t in TABLES {
        sql.push_str(&t.fill());
    }
    sql.push_str("COMMIT;\n");
    conn.execute_batch(&sql)
}
