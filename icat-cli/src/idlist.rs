//! The stable id list that `icat find --ids` prints and `icat download -` (or `--from-stdin`)
//! reads: one `KIND ID` per line (`investigation 12`, `dataset 345`, `datafile 6789`), a bare
//! number meaning a datafile; blank lines and `#` comments (whole lines, or after an id) are
//! ignored.

use std::collections::BTreeSet;
use std::io::Read;

use icat_soap::client::Session;
use icat_soap::query::{Condition, MAX_IN_VALUES, Query};

use crate::catalog;
use crate::failure::Failure;
use crate::queries::Target;

/// The most bytes read from standard input for an id list (about 3 million lines).
pub const MAX_INPUT: u64 = 64 << 20;

/// Ids by kind, each sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdList {
    /// Investigation ids.
    pub investigations: BTreeSet<i64>,
    /// Dataset ids.
    pub datasets: BTreeSet<i64>,
    /// Datafile ids.
    pub datafiles: BTreeSet<i64>,
}

/// One line of the list.
pub fn line(kind: &str, id: i64) -> String {
    format!("{kind} {id}")
}

impl IdList {
    /// The ids on one line, by kind (`investigations 1,2; datasets 7`), for `bag-info.txt`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (kind, ids) in [
            ("investigations", &self.investigations),
            ("datasets", &self.datasets),
            ("datafiles", &self.datafiles),
        ] {
            if !ids.is_empty() {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                parts.push(format!("{kind} {}", ids.join(",")));
            }
        }
        parts.join("; ")
    }

    /// Parses the text; the error names the first bad line.
    pub fn parse(text: &str) -> Result<IdList, String> {
        let mut list = IdList::default();
        for (n, raw) in text.lines().enumerate() {
            let l = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
            if l.is_empty() {
                continue;
            }
            let bad = || {
                let shown: String = l.chars().take(60).filter(|c| !c.is_control()).collect();
                format!(
                    "line {}: {shown:?} is not `KIND ID` (investigation, dataset or datafile) or a datafile id",
                    n + 1
                )
            };
            let (kind, id) = match l.split_once(char::is_whitespace) {
                Some((k, rest)) => (k, rest.trim()),
                None => ("datafile", l),
            };
            let id: i64 = id.parse().map_err(|_| bad())?;
            let set = match kind.to_ascii_lowercase().as_str() {
                "investigation" | "visit" => &mut list.investigations,
                "dataset" => &mut list.datasets,
                "datafile" => &mut list.datafiles,
                _ => return Err(bad()),
            };
            set.insert(id);
        }
        Ok(list)
    }

    /// True when no id was given.
    pub fn is_empty(&self) -> bool {
        self.investigations.is_empty() && self.datasets.is_empty() && self.datafiles.is_empty()
    }

    /// Reads and parses standard input (at most [`MAX_INPUT`] bytes).
    pub fn from_stdin() -> Result<IdList, Failure> {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                Failure::usage(
                    format!("cannot read the id list from standard input: {e}"),
                    "pipe `icat find ... --ids` into `icat download -`",
                )
            })?;
        if text.len() as u64 > MAX_INPUT {
            return Err(Failure::usage(
                format!("the id list on standard input is longer than {MAX_INPUT} bytes"),
                "split the list and download it in parts",
            ));
        }
        let list = IdList::parse(&text).map_err(|e| {
            Failure::usage(
                format!("standard input: {e}"),
                "give one `KIND ID` per line, as `icat find ... --ids` prints them",
            )
        })?;
        // The documented pipeline's empty case (`icat find nothing --ids | icat download -`):
        // nothing was found, as `find --download` says with exit 4, not a usage error.
        if list.is_empty() {
            return Err(Failure::not_found(
                "no ids on standard input: the search found nothing?",
                "check what `icat find ... --ids` prints; it lists one `KIND ID` per hit",
            ));
        }
        Ok(list)
    }

    /// The list split into the ids this user can see in the catalogue and those it cannot (no
    /// such entity, or not readable), the latter as `KIND ID` lines in list order; found with id
    /// searches in bounded IN lists.
    pub async fn split_missing(&self, session: &Session) -> anyhow::Result<(IdList, Vec<String>)> {
        let mut present = IdList::default();
        let mut missing = Vec::new();
        for (entity, kind, set, kept) in [
            (
                "Investigation",
                "investigation",
                &self.investigations,
                &mut present.investigations,
            ),
            ("Dataset", "dataset", &self.datasets, &mut present.datasets),
            (
                "Datafile",
                "datafile",
                &self.datafiles,
                &mut present.datafiles,
            ),
        ] {
            let all: Vec<i64> = set.iter().copied().collect();
            for chunk in all.chunks(MAX_IN_VALUES) {
                let q = Query::new(entity)
                    .select("id")
                    .filter(Condition::is_in("id", chunk.iter().copied()))
                    .order_by("id");
                let found: BTreeSet<i64> = catalog::all_pages(session, &q, catalog::PAGE)
                    .await?
                    .iter()
                    .filter_map(|v| catalog::int(Some(v)))
                    .collect();
                for &id in chunk {
                    if found.contains(&id) {
                        kept.insert(id);
                    } else {
                        missing.push(line(kind, id));
                    }
                }
            }
        }
        Ok((present, missing))
    }

    /// How many ids the list holds.
    pub fn len(&self) -> usize {
        self.investigations.len() + self.datasets.len() + self.datafiles.len()
    }

    /// The selection the ids make: one kind stays as it is; a mix becomes the datafiles of all
    /// of them (found with id searches in bounded IN lists).
    pub async fn to_target(&self, session: &Session) -> anyhow::Result<Target> {
        let kinds = [
            !self.investigations.is_empty(),
            !self.datasets.is_empty(),
            !self.datafiles.is_empty(),
        ];
        match kinds {
            [false, false, true] => {
                return Ok(Target::Datafiles(self.datafiles.iter().copied().collect()));
            }
            [false, true, false] => {
                return Ok(Target::Datasets(self.datasets.iter().copied().collect()));
            }
            [true, false, false] if self.investigations.len() == 1 => {
                if let Some(&id) = self.investigations.first() {
                    return Ok(Target::Investigation(id));
                }
            }
            _ => {}
        }
        let mut ids = self.datafiles.clone();
        for (path, set) in [
            ("dataset.id", &self.datasets),
            ("dataset.investigation.id", &self.investigations),
        ] {
            let all: Vec<i64> = set.iter().copied().collect();
            for chunk in all.chunks(MAX_IN_VALUES) {
                let q = Query::new("Datafile")
                    .select("id")
                    .filter(Condition::is_in(path, chunk.iter().copied()))
                    .order_by("id");
                for v in catalog::all_pages(session, &q, catalog::PAGE).await? {
                    if let Some(id) = catalog::int(Some(&v)) {
                        ids.insert(id);
                    }
                }
            }
        }
        Ok(Target::Datafiles(ids.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_bare_ids_comments_and_repeats() {
        let l = IdList::parse(
            "# from icat find\ndatafile 7\n\n8\ndataset 3\nInvestigation 1\ndatafile 7\n",
        )
        .unwrap();
        assert_eq!(l.datafiles.iter().copied().collect::<Vec<_>>(), [7, 8]);
        assert_eq!(l.datasets.iter().copied().collect::<Vec<_>>(), [3]);
        assert_eq!(l.investigations.iter().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(
            IdList::parse(&line("dataset", 9)).unwrap().datasets.len(),
            1
        );
    }

    #[test]
    fn a_comment_after_an_id_is_ignored() {
        let l = IdList::parse("dataset 84 # c\n85# from find\n  # indented comment\n").unwrap();
        assert_eq!(l.datasets.iter().copied().collect::<Vec<_>>(), [84]);
        assert_eq!(l.datafiles.iter().copied().collect::<Vec<_>>(), [85]);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = IdList::parse("datafile 1\nsample 2\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(IdList::parse("datafile x").is_err());
        assert!(IdList::parse("").unwrap().is_empty());
    }
}
