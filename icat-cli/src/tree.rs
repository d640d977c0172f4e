//! The visit → datasets → datafiles tree printed by `icat show` (text) and `icat show --json`.

use icat_soap::dynamic::{AttrValue, DynEntity};
use serde::Serialize;

use crate::output::{human_bytes, sanitize_cell};

/// A string attribute of a dynamic entity (dates in their lexical form, numbers as text).
pub fn attr_text(e: &DynEntity, name: &str) -> Option<String> {
    e.attrs.get(name).map(|v| match v {
        AttrValue::String(s) => s.clone(),
        AttrValue::Long(n) => n.to_string(),
        AttrValue::Double(x) => x.to_string(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::DateTime(d) => d.to_string(),
    })
}

/// A non-negative integer attribute of a dynamic entity.
pub fn attr_u64(e: &DynEntity, name: &str) -> Option<u64> {
    match e.attrs.get(name) {
        Some(AttrValue::Long(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

impl FileNode {
    /// From a `Datafile` entity.
    pub fn from_dyn(df: &DynEntity) -> FileNode {
        FileNode {
            id: df.id().unwrap_or_default(),
            name: attr_text(df, "name"),
            size: attr_u64(df, "fileSize"),
            checksum: attr_text(df, "checksum"),
            create_time: attr_text(df, "datafileCreateTime")
                .or_else(|| attr_text(df, "createTime")),
        }
    }
}

impl DatasetNode {
    /// From a `Dataset` entity with its `datafiles` included.
    pub fn from_dyn(ds: &DynEntity) -> DatasetNode {
        DatasetNode {
            id: ds.id().unwrap_or_default(),
            name: attr_text(ds, "name"),
            location: attr_text(ds, "location"),
            start_date: attr_text(ds, "startDate"),
            file_count: 0,
            total_size: 0,
            files: ds
                .many
                .get("datafiles")
                .map(|fs| fs.iter().map(FileNode::from_dyn).collect())
                .unwrap_or_default(),
        }
        .finish()
    }
}

impl VisitNode {
    /// From an `Investigation` entity with `datasets` and their `datafiles` included.
    pub fn from_dyn(inv: &DynEntity) -> VisitNode {
        VisitNode {
            id: inv.id().unwrap_or_default(),
            visit_id: attr_text(inv, "visitId"),
            name: attr_text(inv, "name"),
            title: attr_text(inv, "title"),
            start_date: attr_text(inv, "startDate"),
            end_date: attr_text(inv, "endDate"),
            file_count: 0,
            total_size: 0,
            datasets: inv
                .many
                .get("datasets")
                .map(|ds| ds.iter().map(DatasetNode::from_dyn).collect())
                .unwrap_or_default(),
        }
        .finish()
    }
}

/// A visit (investigation) with its datasets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VisitNode {
    /// Investigation id.
    pub id: i64,
    /// Visit id.
    pub visit_id: Option<String>,
    /// Investigation name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Start date as the server sent it.
    pub start_date: Option<String>,
    /// End date as the server sent it.
    pub end_date: Option<String>,
    /// Number of datafiles over all datasets.
    pub file_count: u64,
    /// Total size in bytes over all datafiles with a known size.
    pub total_size: u64,
    /// Datasets ordered by name.
    pub datasets: Vec<DatasetNode>,
}

/// A dataset with its datafiles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetNode {
    /// Dataset id.
    pub id: i64,
    /// Dataset name.
    pub name: Option<String>,
    /// Location (path) on the facility storage, when recorded.
    pub location: Option<String>,
    /// Start date.
    pub start_date: Option<String>,
    /// Number of datafiles.
    pub file_count: u64,
    /// Total size in bytes.
    pub total_size: u64,
    /// Datafiles ordered by name.
    pub files: Vec<FileNode>,
}

/// A datafile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileNode {
    /// Datafile id.
    pub id: i64,
    /// File name.
    pub name: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Checksum as recorded in ICAT (CRC32 in hex for IDS uploads).
    pub checksum: Option<String>,
    /// Creation time.
    pub create_time: Option<String>,
}

impl DatasetNode {
    /// Fills `file_count` and `total_size` from the files and sorts them by name.
    pub fn finish(mut self) -> Self {
        self.files
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        self.file_count = self.files.len() as u64;
        self.total_size = self.files.iter().filter_map(|f| f.size).sum();
        self
    }
}

impl VisitNode {
    /// Fills the totals from the datasets and sorts them by name.
    pub fn finish(mut self) -> Self {
        self.datasets = self.datasets.into_iter().map(DatasetNode::finish).collect();
        self.datasets
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        self.file_count = self.datasets.iter().map(|d| d.file_count).sum();
        self.total_size = self.datasets.iter().map(|d| d.total_size).sum();
        self
    }
}

fn text(value: &Option<String>) -> String {
    sanitize_cell(value.as_deref().unwrap_or("-"))
}

/// Renders visits as an indented tree with sizes.
pub fn render(visits: &[VisitNode]) -> String {
    let mut out = String::new();
    for visit in visits {
        out.push_str(&format!(
            "visit {}  {}  (investigation {})  {}\n",
            text(&visit.visit_id),
            text(&visit.name),
            visit.id,
            text(&visit.title)
        ));
        out.push_str(&format!(
            "  started {}  {} datasets, {} files, {}\n",
            text(&visit.start_date),
            visit.datasets.len(),
            visit.file_count,
            human_bytes(visit.total_size)
        ));
        let n = visit.datasets.len();
        for (i, ds) in visit.datasets.iter().enumerate() {
            let last = i + 1 == n;
            out.push_str(&format!(
                "{} dataset {}  {}  ({} files, {})\n",
                if last { "└──" } else { "├──" },
                ds.id,
                text(&ds.name),
                ds.file_count,
                human_bytes(ds.total_size)
            ));
            let stem = if last { "    " } else { "│   " };
            let m = ds.files.len();
            for (j, f) in ds.files.iter().enumerate() {
                out.push_str(&format!(
                    "{stem}{} {}  {}  [datafile {}]\n",
                    if j + 1 == m { "└──" } else { "├──" },
                    text(&f.name),
                    f.size
                        .map(human_bytes)
                        .unwrap_or_else(|| "size unknown".into()),
                    f.id
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: i64, name: &str, size: u64) -> FileNode {
        FileNode {
            id,
            name: Some(name.into()),
            size: Some(size),
            checksum: None,
            create_time: None,
        }
    }

    fn sample() -> VisitNode {
        VisitNode {
            id: 7,
            visit_id: Some("mx1-1".into()),
            name: Some("mx1".into()),
            title: Some("Crystals".into()),
            start_date: Some("2024-01-02T03:04:05Z".into()),
            end_date: None,
            file_count: 0,
            total_size: 0,
            datasets: vec![
                DatasetNode {
                    id: 2,
                    name: Some("b".into()),
                    location: None,
                    start_date: None,
                    file_count: 0,
                    total_size: 0,
                    files: vec![file(5, "z.h5", 2048), file(4, "a.h5", 1024)],
                },
                DatasetNode {
                    id: 1,
                    name: Some("a".into()),
                    location: None,
                    start_date: None,
                    file_count: 0,
                    total_size: 0,
                    files: vec![],
                },
            ],
        }
        .finish()
    }

    #[test]
    fn totals_and_order() {
        let v = sample();
        assert_eq!(v.file_count, 2);
        assert_eq!(v.total_size, 3072);
        assert_eq!(v.datasets[0].name.as_deref(), Some("a"));
        assert_eq!(v.datasets[1].files[0].name.as_deref(), Some("a.h5"));
    }

    #[test]
    fn renders_a_tree() {
        let text = render(&[sample()]);
        let expected = "\
visit mx1-1  mx1  (investigation 7)  Crystals
  started 2024-01-02T03:04:05Z  2 datasets, 2 files, 3.0 KiB
├── dataset 1  a  (0 files, 0 B)
└── dataset 2  b  (2 files, 3.0 KiB)
    ├── a.h5  1.0 KiB  [datafile 4]
    └── z.h5  2.0 KiB  [datafile 5]
";
        assert_eq!(text, expected);
    }

    #[test]
    fn from_dynamic_entities() {
        let mut df = DynEntity::new("Datafile");
        df.attrs.insert("id".into(), AttrValue::Long(9));
        df.attrs
            .insert("name".into(), AttrValue::String("f.nxs".into()));
        df.attrs.insert("fileSize".into(), AttrValue::Long(100));
        let mut ds = DynEntity::new("Dataset");
        ds.attrs.insert("id".into(), AttrValue::Long(3));
        ds.attrs
            .insert("name".into(), AttrValue::String("scan".into()));
        ds.many.insert("datafiles".into(), vec![df]);
        let mut inv = DynEntity::new("Investigation");
        inv.attrs.insert("id".into(), AttrValue::Long(1));
        inv.attrs
            .insert("visitId".into(), AttrValue::String("1.1-N".into()));
        inv.many.insert("datasets".into(), vec![ds]);
        let v = VisitNode::from_dyn(&inv);
        assert_eq!(v.visit_id.as_deref(), Some("1.1-N"));
        assert_eq!(v.total_size, 100);
        assert_eq!(v.datasets[0].files[0].name.as_deref(), Some("f.nxs"));
    }

    #[test]
    fn json_field_names_are_stable() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["visit_id"], "mx1-1");
        assert_eq!(json["datasets"][1]["files"][0]["size"], 1024);
        assert_eq!(json["datasets"][1]["total_size"], 3072);
    }
}
