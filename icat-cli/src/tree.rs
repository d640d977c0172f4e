//! The visit → datasets → datafiles tree printed by `icat show` (text) and `icat show --json`.

use icat_soap::DateTime;
use icat_soap::model::{Datafile, Dataset, Investigation};
use serde::Serialize;

use crate::output::{human_bytes, sanitize_cell};

fn date(d: &Option<DateTime>) -> Option<String> {
    d.as_ref().map(ToString::to_string)
}

impl FileNode {
    /// From a `Datafile`.
    pub fn from_datafile(df: &Datafile) -> FileNode {
        FileNode {
            id: df.id.unwrap_or_default(),
            name: df.name.clone(),
            size: df.file_size.and_then(|n| u64::try_from(n).ok()),
            checksum: df.checksum.clone(),
            create_time: date(&df.datafile_create_time).or_else(|| date(&df.create_time)),
        }
    }
}

impl DatasetNode {
    /// From a `Dataset` with its `datafiles` included.
    pub fn from_dataset(ds: &Dataset) -> DatasetNode {
        DatasetNode {
            id: ds.id.unwrap_or_default(),
            name: ds.name.clone(),
            location: ds.location.clone(),
            start_date: date(&ds.start_date),
            file_count: 0,
            total_size: 0,
            files: ds.datafiles.iter().map(FileNode::from_datafile).collect(),
        }
        .finish()
    }
}

impl VisitNode {
    /// From an `Investigation` with `datasets` and their `datafiles` included.
    pub fn from_investigation(inv: &Investigation) -> VisitNode {
        VisitNode {
            id: inv.id.unwrap_or_default(),
            visit_id: inv.visit_id.clone(),
            name: inv.name.clone(),
            title: inv.title.clone(),
            start_date: date(&inv.start_date),
            end_date: date(&inv.end_date),
            file_count: 0,
            total_size: 0,
            datasets: inv.datasets.iter().map(DatasetNode::from_dataset).collect(),
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
            "  started {}  {}, {}, {}\n",
            text(&visit.start_date),
            crate::grammar::count(visit.datasets.len() as u64, "dataset", "datasets"),
            crate::grammar::count(visit.file_count, "file", "files"),
            human_bytes(visit.total_size)
        ));
        let n = visit.datasets.len();
        for (i, ds) in visit.datasets.iter().enumerate() {
            let last = i + 1 == n;
            out.push_str(&format!(
                "{} dataset {}  {}  ({}, {})\n",
                if last { "└──" } else { "├──" },
                ds.id,
                text(&ds.name),
                crate::grammar::count(ds.file_count, "file", "files"),
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
    fn from_typed_entities() {
        let df = Datafile {
            id: Some(9),
            name: Some("f.nxs".into()),
            file_size: Some(100),
            ..Default::default()
        };
        let ds = Dataset {
            id: Some(3),
            name: Some("scan".into()),
            datafiles: vec![df],
            ..Default::default()
        };
        let inv = Investigation {
            id: Some(1),
            visit_id: Some("1.1-N".into()),
            datasets: vec![ds],
            ..Default::default()
        };
        let v = VisitNode::from_investigation(&inv);
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
