//! The guard that stops paged searches which would never end: a server that ignores the LIMIT
//! offset and answers every page with the same full page would otherwise be asked forever.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::IcatError;
use crate::model::Value;

/// Watches the pages of one paged search (`LIMIT offset, n` with a growing offset) and refuses a
/// page that only repeats results already received, or one beyond a known total.
///
/// Entities are recognised by their ids: a page of entities that equals an earlier page, or
/// whose every id was on the page before, means the server ignored the offset (with an ORDER BY,
/// consecutive pages share no entity). Pages of attribute values or aggregates carry no identity
/// (legitimately equal values can fill several pages), so for them only the bound given by
/// [`PageGuard::with_expected_total`] applies; `Session::search_pages` searches a `COUNT` of the
/// same selection first to set it.
///
/// ```
/// use icat_soap::client::PageGuard;
/// let mut guard = PageGuard::new();
/// assert!(guard.check(0, &[]).is_ok());
/// ```
#[derive(Debug, Default)]
pub struct PageGuard {
    pages: u64,
    max_pages: Option<u64>,
    /// Fingerprints of the id lists of earlier entity pages.
    seen: HashSet<u64>,
    /// The ids of the previous entity page.
    previous: HashSet<(&'static str, i64)>,
}

impl PageGuard {
    /// A guard for a new paged search.
    pub fn new() -> Self {
        PageGuard::default()
    }

    /// Also refuses more pages than `total` results (a COUNT made before paging) of `page_size`
    /// need, with one page to spare for rows added meanwhile.
    pub fn with_expected_total(mut self, total: u64, page_size: u64) -> Self {
        self.max_pages = Some(total / page_size.max(1) + 2);
        self
    }

    /// Pages checked so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Checks the page that `LIMIT offset, n` returned: [`IcatError::EndlessPaging`] when it
    /// repeats earlier results or goes beyond the expected total.
    pub fn check(&mut self, offset: u64, page: &[Value]) -> Result<(), IcatError> {
        self.pages += 1;
        let stop = |pages, reason: String| IcatError::EndlessPaging {
            offset,
            pages,
            reason,
        };
        if let Some(max) = self.max_pages
            && self.pages > max
        {
            return Err(stop(
                self.pages,
                format!("more pages than the results counted before paging fill ({max})"),
            ));
        }
        let ids: Option<Vec<(&'static str, i64)>> = page
            .iter()
            .map(|v| match v {
                Value::Entity(e) => e.id().map(|id| (e.entity_name(), id)),
                _ => None,
            })
            .collect();
        let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
            return Ok(());
        };
        let mut hasher = DefaultHasher::new();
        ids.hash(&mut hasher);
        if !self.seen.insert(hasher.finish()) {
            return Err(stop(
                self.pages,
                format!("the {} results of an earlier page came back", ids.len()),
            ));
        }
        if !self.previous.is_empty() && ids.iter().all(|id| self.previous.contains(id)) {
            return Err(stop(
                self.pages,
                "every result repeats the previous page".to_owned(),
            ));
        }
        self.previous = ids.into_iter().collect();
        Ok(())
    }
}

/// The `count` of a JPQL text ending in `LIMIT offset, count` (ICAT renders LIMIT last): the
/// most results its answer may hold. `None` without such a LIMIT.
pub(crate) fn limit_count(jpql: &str) -> Option<u64> {
    let text = jpql.trim_end();
    // The last "LIMIT" word: the clause holds only digits, a comma and spaces after it.
    let start = text
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == ',' || c.is_whitespace()))
        .map(|(i, c)| i + c.len_utf8())?;
    let word = text[..start].get(start.checked_sub(5)?..)?;
    if !word.eq_ignore_ascii_case("LIMIT")
        || !text[..start - 5]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace)
    {
        return None;
    }
    let (offset, count) = text[start..].split_once(',')?;
    offset.trim().parse::<u64>().ok()?;
    count.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dataset, Entity};

    fn datasets(ids: impl IntoIterator<Item = i64>) -> Vec<Value> {
        ids.into_iter()
            .map(|id| {
                Value::Entity(Entity::Dataset(Box::new(Dataset {
                    id: Some(id),
                    ..Dataset::default()
                })))
            })
            .collect()
    }

    #[test]
    fn the_limit_count_is_read_from_the_end_of_the_query() {
        assert_eq!(
            limit_count("SELECT d FROM Dataset d ORDER BY d.id LIMIT 3000, 1000"),
            Some(1000)
        );
        assert_eq!(limit_count("SELECT d FROM Dataset d limit 0,2 "), Some(2));
        assert_eq!(limit_count("SELECT d FROM Dataset d"), None);
        assert_eq!(
            limit_count("SELECT d FROM Dataset d WHERE d.name = 'LIMIT 1, 2'"),
            None
        );
        assert_eq!(limit_count("SELECT d FROM Dataset dLIMIT 0, 2"), None);
        assert_eq!(limit_count("LIMIT 0, 2"), None);
        assert_eq!(limit_count("SELECT d FROM Dataset d LIMIT 5"), None);
    }

    #[test]
    fn a_repeated_entity_page_is_refused() {
        let mut g = PageGuard::new();
        g.check(0, &datasets(1..4)).unwrap();
        let err = g.check(3, &datasets(1..4)).unwrap_err();
        assert!(
            matches!(
                err,
                IcatError::EndlessPaging {
                    offset: 3,
                    pages: 2,
                    ..
                }
            ),
            "{err}"
        );
        // Alternating pages repeat an earlier one too.
        let mut g = PageGuard::new();
        g.check(0, &datasets(1..4)).unwrap();
        g.check(3, &datasets(4..7)).unwrap();
        assert!(g.check(6, &datasets(1..4)).is_err());
        // The same ids shuffled: all on the previous page.
        let mut g = PageGuard::new();
        g.check(0, &datasets(1..4)).unwrap();
        assert!(g.check(3, &datasets([3, 1, 2])).is_err());
    }

    #[test]
    fn honest_pages_and_value_pages_pass() {
        let mut g = PageGuard::new();
        for p in 0..100 {
            g.check(p * 3, &datasets(p as i64 * 3..p as i64 * 3 + 3))
                .unwrap();
        }
        // A row deleted meanwhile shifts one result onto the next page: not a loop.
        g.check(300, &datasets([299, 300, 301])).unwrap();
        let same = vec![Value::Long(7); 3];
        let mut g = PageGuard::new();
        for p in 0..10 {
            g.check(p * 3, &same).unwrap();
        }
    }

    #[test]
    fn the_expected_total_bounds_the_pages() {
        let mut g = PageGuard::new().with_expected_total(10, 3);
        let same = vec![Value::Long(7); 3];
        for p in 0..5 {
            g.check(p * 3, &same).unwrap();
        }
        assert!(g.check(15, &same).is_err());
    }
}
