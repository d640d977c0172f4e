//! What to act on: a typed [`DataSelection`] of investigation, dataset and datafile ids, or a
//! [`PreparedId`]; their wire encoding, and splitting long selections into URL-sized chunks.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::IdsError;

/// A set of investigations, datasets and datafiles, by ICAT id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSelection {
    investigations: BTreeSet<i64>,
    datasets: BTreeSet<i64>,
    datafiles: BTreeSet<i64>,
}

impl DataSelection {
    /// An empty selection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selection of the given datafiles.
    pub fn datafiles(ids: impl IntoIterator<Item = i64>) -> Self {
        Self::new().with_datafiles(ids)
    }

    /// Selection of the given datasets.
    pub fn datasets(ids: impl IntoIterator<Item = i64>) -> Self {
        Self::new().with_datasets(ids)
    }

    /// Selection of the given investigations.
    pub fn investigations(ids: impl IntoIterator<Item = i64>) -> Self {
        Self::new().with_investigations(ids)
    }

    /// Add datafiles.
    pub fn with_datafiles(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.datafiles.extend(ids);
        self
    }

    /// Add datasets.
    pub fn with_datasets(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.datasets.extend(ids);
        self
    }

    /// Add investigations.
    pub fn with_investigations(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.investigations.extend(ids);
        self
    }

    /// Add everything from another selection.
    pub fn merge(&mut self, other: &DataSelection) {
        self.investigations.extend(&other.investigations);
        self.datasets.extend(&other.datasets);
        self.datafiles.extend(&other.datafiles);
    }

    /// Investigation ids, ascending.
    pub fn investigation_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.investigations.iter().copied()
    }

    /// Dataset ids, ascending.
    pub fn dataset_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.datasets.iter().copied()
    }

    /// Datafile ids, ascending.
    pub fn datafile_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.datafiles.iter().copied()
    }

    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.investigations.is_empty() && self.datasets.is_empty() && self.datafiles.is_empty()
    }

    /// Number of ids of all kinds.
    pub fn len(&self) -> usize {
        self.investigations.len() + self.datasets.len() + self.datafiles.len()
    }

    /// True when the IDS returns a zip for this selection even without `zip=true`
    /// (anything but exactly one datafile).
    pub fn must_zip(&self) -> bool {
        !(self.datafiles.len() == 1 && self.datasets.is_empty() && self.investigations.is_empty())
    }

    /// The form/query parameters (`investigationIds`, `datasetIds`, `datafileIds`), empty
    /// lists left out since the IDS rejects an empty list.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        for (name, set) in [
            ("investigationIds", &self.investigations),
            ("datasetIds", &self.datasets),
            ("datafileIds", &self.datafiles),
        ] {
            if !set.is_empty() {
                out.push((name, join(set)));
            }
        }
        out
    }

    /// Length in bytes of the encoded query string part for this selection (ids and commas need
    /// no escaping; a comma is written `%2C`, 3 bytes).
    pub fn encoded_len(&self) -> usize {
        self.params()
            .iter()
            .map(|(k, v)| k.len() + 2 + v.len() + 2 * v.matches(',').count())
            .sum()
    }

    /// Split into selections whose encoded length is at most `max_len` each (every id appears in
    /// exactly one chunk). A selection that already fits is returned as the only chunk.
    pub fn split(&self, max_len: usize) -> Vec<DataSelection> {
        if self.encoded_len() <= max_len {
            return vec![self.clone()];
        }
        // Budget per id: digits + escaped comma; each list name costs its own header once.
        let mut chunks = Vec::new();
        let mut cur = DataSelection::new();
        let mut cur_len = 0usize;
        let items = self
            .investigations
            .iter()
            .map(|&i| (Kind::Investigation, i))
            .chain(self.datasets.iter().map(|&i| (Kind::Dataset, i)))
            .chain(self.datafiles.iter().map(|&i| (Kind::Datafile, i)));
        for (kind, id) in items {
            let set_empty = cur.set(kind).is_empty();
            let cost = if set_empty {
                kind.name().len() + 2 + digits(id)
            } else {
                3 + digits(id)
            };
            if cur_len + cost > max_len && !cur.is_empty() {
                chunks.push(std::mem::take(&mut cur));
                cur_len = kind.name().len() + 2 + digits(id);
            } else {
                cur_len += cost;
            }
            cur.set_mut(kind).insert(id);
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
        chunks
    }

    fn set(&self, kind: Kind) -> &BTreeSet<i64> {
        match kind {
            Kind::Investigation => &self.investigations,
            Kind::Dataset => &self.datasets,
            Kind::Datafile => &self.datafiles,
        }
    }

    fn set_mut(&mut self, kind: Kind) -> &mut BTreeSet<i64> {
        match kind {
            Kind::Investigation => &mut self.investigations,
            Kind::Dataset => &mut self.datasets,
            Kind::Datafile => &mut self.datafiles,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Investigation,
    Dataset,
    Datafile,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Investigation => "investigationIds",
            Kind::Dataset => "datasetIds",
            Kind::Datafile => "datafileIds",
        }
    }
}

fn digits(id: i64) -> usize {
    // Includes a minus sign for negative ids (never valid in ICAT, but never panic on them).
    id.to_string().len()
}

fn join(set: &BTreeSet<i64>) -> String {
    let mut s = String::with_capacity(set.len() * 8);
    for (i, id) in set.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

/// A prepared id returned by `prepareData`: a lower-case UUID that grants access to the prepared
/// data without a session (treat it like a shareable link).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PreparedId(String);

impl PreparedId {
    /// Validate and wrap a prepared id (the IDS only accepts lower-case UUIDs).
    pub fn parse(s: &str) -> Result<Self, IdsError> {
        let s = s.trim();
        if is_uuid(s) {
            Ok(PreparedId(s.to_string()))
        } else {
            Err(IdsError::BadRequest {
                message: format!("prepared id {s:?} is not a lower-case UUID"),
            })
        }
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PreparedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PreparedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Like a session id, never whole in logs or debug output.
        write!(f, "PreparedId({})", icat_soap::client::short_id(&self.0))
    }
}

/// True for `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex, as the IDS requires.
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// The two ways most IDS calls name their data: a selection (with the session) or a prepared id.
#[derive(Debug, Clone, Copy)]
pub enum DataRef<'a> {
    /// Ids resolved with the client's session.
    Selection(&'a DataSelection),
    /// Data prepared earlier with `prepareData`.
    Prepared(&'a PreparedId),
}

impl<'a> From<&'a DataSelection> for DataRef<'a> {
    fn from(s: &'a DataSelection) -> Self {
        DataRef::Selection(s)
    }
}

impl<'a> From<&'a PreparedId> for DataRef<'a> {
    fn from(p: &'a PreparedId) -> Self {
        DataRef::Prepared(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_skip_empty_lists_and_sort() {
        let s = DataSelection::datafiles([3, 1, 2]).with_datasets([9]);
        assert_eq!(
            s.params(),
            vec![
                ("datasetIds", "9".to_string()),
                ("datafileIds", "1,2,3".into())
            ]
        );
        assert!(DataSelection::new().params().is_empty());
    }

    #[test]
    fn must_zip_matches_ids_rules() {
        assert!(!DataSelection::datafiles([1]).must_zip());
        assert!(DataSelection::datafiles([1, 2]).must_zip());
        assert!(DataSelection::datasets([1]).must_zip());
        assert!(DataSelection::new().must_zip());
    }

    #[test]
    fn split_5000_ids_covers_every_id_once_within_limit() {
        let s = DataSelection::datafiles(100_000..105_000)
            .with_datasets(1..50)
            .with_investigations([7]);
        let chunks = s.split(1000);
        assert!(chunks.len() > 1);
        let mut all = DataSelection::new();
        let mut count = 0;
        for c in &chunks {
            assert!(
                c.encoded_len() <= 1000,
                "chunk too long: {}",
                c.encoded_len()
            );
            count += c.len();
            all.merge(c);
        }
        assert_eq!(count, s.len());
        assert_eq!(all, s);
    }

    #[test]
    fn encoded_len_matches_real_encoding() {
        let s = DataSelection::datafiles([1, 22, 333]).with_datasets([4]);
        let mut url = reqwest::Url::parse("http://h/ids/getSize").unwrap();
        url.query_pairs_mut().extend_pairs(s.params());
        let q = url.query().unwrap();
        // encoded_len counts one "&" per list; the real query has one fewer.
        assert_eq!(q.len() + 1, s.encoded_len());
    }

    #[test]
    fn prepared_id_must_be_lower_case_uuid() {
        assert!(PreparedId::parse("0f7f6b2e-58f4-4b5c-9d3e-7b5f0e8a1c2d").is_ok());
        assert!(PreparedId::parse("0F7F6B2E-58F4-4B5C-9D3E-7B5F0E8A1C2D").is_err());
        assert!(PreparedId::parse("../../etc/passwd").is_err());
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Splitting never loses or duplicates an id and respects the limit.
        #[test]
        fn split_partitions_within_limit(
            inv in proptest::collection::btree_set(0i64..1_000_000_000_000, 0..50),
            ds in proptest::collection::btree_set(0i64..1_000_000, 0..300),
            df in proptest::collection::btree_set(0i64..i64::MAX, 0..600),
            max_len in 64usize..3000,
        ) {
            let s = DataSelection::new().with_investigations(inv).with_datasets(ds).with_datafiles(df);
            let chunks = s.split(max_len);
            let mut all = DataSelection::new();
            let mut count = 0;
            for c in &chunks {
                prop_assert!(c.encoded_len() <= max_len);
                prop_assert!(!c.is_empty());
                count += c.len();
                all.merge(c);
            }
            prop_assert_eq!(count, s.len());
            prop_assert_eq!(all, s);
        }
    }
}
