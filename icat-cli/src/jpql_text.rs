//! The shape of a JPQL query a user typed for `icat search`: its SELECT items (for column
//! headings), whether it selects entities, and how to page it with `ORDER BY` + `LIMIT`.
//!
//! Only the top level of the query is looked at (clauses inside parentheses and string literals
//! are skipped). ICAT's grammar puts the clauses in a fixed order, `SELECT .. FROM .. WHERE ..
//! GROUP BY .. HAVING .. ORDER BY .. INCLUDE .. LIMIT ..` (icat.server `EntityBeanManager` /
//! `SearchQuery`), so `LIMIT` is always appended last and `ORDER BY` goes before `INCLUDE`.

/// What a query looks like at its top level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryShape {
    text: String,
    /// The SELECT items as written (`DISTINCT` removed), e.g. `["i.name", "COUNT(df)"]`.
    pub select_items: Vec<String>,
    /// The identification variable when the query selects whole entities (`SELECT ds FROM ..`).
    pub entity_var: Option<String>,
    order_at: Option<usize>,
    include_at: Option<usize>,
    limit_at: Option<usize>,
    group_at: Option<usize>,
}

/// How `icat search` can fetch a query's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Paging {
    /// The query has its own LIMIT: run it as written.
    OwnLimit,
    /// Page with `LIMIT offset, count` appended to this ordered query.
    Ordered(String),
    /// No ORDER BY and not an entity query: run as written; pages would overlap.
    Unpageable,
}

/// Top-level keywords and where they start (byte offsets), outside strings and parentheses.
fn top_level_words(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\'' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' => in_string = true,
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                if depth == 0 {
                    words.push((start, text[start..i].to_ascii_uppercase()));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    words
}

/// Splits `text` at top-level commas.
fn split_commas(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}

impl QueryShape {
    /// Reads the top level of `query`. Queries in ICAT's concise syntax (not starting with
    /// SELECT) have no SELECT items and are never paged.
    pub fn parse(query: &str) -> QueryShape {
        let text = query.trim().to_owned();
        let words = top_level_words(&text);
        let find = |kw: &str| words.iter().find(|(_, w)| w == kw).map(|(at, _)| *at);
        let select_at = words
            .first()
            .filter(|(_, w)| w == "SELECT")
            .map(|(at, _)| *at);
        let from_at = find("FROM");
        let mut shape = QueryShape {
            select_items: Vec::new(),
            entity_var: None,
            order_at: find("ORDER"),
            include_at: find("INCLUDE"),
            limit_at: find("LIMIT"),
            group_at: find("GROUP"),
            text,
        };
        let (Some(select_at), Some(from_at)) = (select_at, from_at) else {
            return shape;
        };
        let list = shape.text[select_at + "SELECT".len()..from_at].trim();
        let list = match list.split_once(char::is_whitespace) {
            Some((first, rest)) if first.eq_ignore_ascii_case("DISTINCT") => rest.trim(),
            _ => list,
        };
        shape.select_items = split_commas(list);
        if let [only] = shape.select_items.as_slice()
            && !only.is_empty()
            && only.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            shape.entity_var = Some(only.clone());
        }
        shape
    }

    /// Whether the query is in ICAT's concise syntax (`Investigation [name = 'x']`, `0, 10
    /// Dataset`), which has no LIMIT clause (its paging is an `offset, count` prefix) and which
    /// icat does not page.
    pub fn is_concise(&self) -> bool {
        top_level_words(&self.text)
            .first()
            .is_none_or(|(_, w)| w != "SELECT")
    }

    /// The entity a concise query is about (`Investigation` in `0, 5 DISTINCT Investigation
    /// [...]`), for advice.
    pub fn concise_entity(&self) -> Option<String> {
        if !self.is_concise() {
            return None;
        }
        top_level_words(&self.text)
            .into_iter()
            .map(|(at, _)| {
                self.text[at..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .find(|w| !w.eq_ignore_ascii_case("DISTINCT") && !w.is_empty())
    }

    /// The query asking for its first `count` results only: `LIMIT 0, count` appended, or for
    /// the concise syntax the `0, count` prefix.
    pub fn first(&self, count: u64) -> String {
        if self.is_concise() {
            format!("0, {count} {}", self.text)
        } else {
            with_limit(&self.text, 0, count)
        }
    }

    /// The identification variable of the first FROM item (`i` in `FROM Investigation i`).
    pub fn from_var(&self) -> Option<String> {
        let words = top_level_words(&self.text);
        let from_at = words.iter().find(|(_, w)| w == "FROM")?.0;
        let mut rest = self.text[from_at..].split_whitespace().skip(2);
        let mut var = rest.next()?;
        if var.eq_ignore_ascii_case("AS") {
            var = rest.next()?;
        }
        let var = var.trim_end_matches(',');
        let keyword = [
            "WHERE", "JOIN", "LEFT", "INNER", "OUTER", "ORDER", "GROUP", "INCLUDE",
        ]
        .iter()
        .any(|k| var.eq_ignore_ascii_case(k));
        (!var.is_empty() && !keyword && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| var.to_owned())
    }

    /// How to fetch the results page by page. Entity queries without ORDER BY are ordered by
    /// id; ordered entity queries get the id as a last sort key, so pages never overlap.
    /// Concise queries are run as written (their own `offset, count` prefix, or none).
    pub fn paging(&self) -> Paging {
        if self.is_concise() {
            let own_prefix = self
                .text
                .starts_with(|c: char| c.is_ascii_digit() || c == ',');
            return if own_prefix {
                Paging::OwnLimit
            } else {
                Paging::Unpageable
            };
        }
        if self.limit_at.is_some() {
            return Paging::OwnLimit;
        }
        let tail_at = self.include_at.unwrap_or(self.text.len());
        let (head, tail) = self.text.split_at(tail_at);
        let head = head.trim_end();
        match (&self.entity_var, self.order_at, self.group_at) {
            (Some(var), None, None) => Paging::Ordered(
                format!("{head} ORDER BY {var}.id {tail}")
                    .trim_end()
                    .to_owned(),
            ),
            (Some(var), Some(_), None) => {
                let key = format!("{var}.id");
                let order = &head[self.order_at.unwrap_or(0)..];
                if order.split([' ', ',']).any(|w| w == key) {
                    Paging::Ordered(self.text.clone())
                } else {
                    Paging::Ordered(format!("{head}, {key} {tail}").trim_end().to_owned())
                }
            }
            (_, Some(_), _) => Paging::Ordered(self.text.clone()),
            _ => Paging::Unpageable,
        }
    }

    /// A `COUNT` of the rows this query returns at most, searched before paging it so that a
    /// server handing out fresh pages forever is stopped (issue 14): `SELECT COUNT(v)` of the
    /// first FROM variable over the same FROM .. WHERE, without DISTINCT, GROUP BY, HAVING,
    /// ORDER BY or INCLUDE (those only ever return fewer rows). `None` for queries in the concise
    /// syntax, with their own LIMIT, or whose FROM clause names no variable.
    pub fn row_count_query(&self) -> Option<String> {
        if self.limit_at.is_some() {
            return None;
        }
        let words = top_level_words(&self.text);
        if words.first().is_none_or(|(_, w)| w != "SELECT") {
            return None;
        }
        let from_at = words.iter().find(|(_, w)| w == "FROM")?.0;
        let end = [self.group_at, self.order_at, self.include_at]
            .into_iter()
            .flatten()
            .filter(|&at| at > from_at)
            .min()
            .unwrap_or(self.text.len());
        let body = self.text[from_at..end].trim_end();
        let mut rest = body.split_whitespace().skip(2);
        let mut var = rest.next()?;
        if var.eq_ignore_ascii_case("AS") {
            var = rest.next()?;
        }
        let var = var.trim_end_matches(',');
        let keyword = ["WHERE", "JOIN", "LEFT", "INNER", "OUTER"]
            .iter()
            .any(|k| var.eq_ignore_ascii_case(k));
        if var.is_empty() || keyword || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        Some(format!("SELECT COUNT({var}) {body}"))
    }

    /// The query as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `query` with `LIMIT offset, count` appended.
pub fn with_limit(query: &str, offset: u64, count: u64) -> String {
    format!("{} LIMIT {offset}, {count}", query.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue-16 finding: `icat search Investigation` (concise syntax) was treated like JPQL
    /// (ORDER BY advice, `LIMIT` appended); it is run as written, `--limit` becomes the
    /// `0, N` prefix.
    #[test]
    fn concise_queries_are_not_jpql() {
        let s = QueryShape::parse("Investigation");
        assert!(s.is_concise());
        assert_eq!(s.paging(), Paging::Unpageable);
        assert_eq!(s.first(5), "0, 5 Investigation");
        assert_eq!(s.concise_entity().as_deref(), Some("Investigation"));
        let s = QueryShape::parse("Investigation ORDER BY id [name = 'x']");
        assert_eq!(s.paging(), Paging::Unpageable);
        let s = QueryShape::parse("10, 20 DISTINCT Dataset.name");
        assert_eq!(s.paging(), Paging::OwnLimit);
        assert_eq!(s.concise_entity().as_deref(), Some("Dataset"));
        let s = QueryShape::parse("SELECT COUNT(i) FROM Investigation AS i GROUP BY i.name");
        assert!(!s.is_concise());
        assert_eq!(s.from_var().as_deref(), Some("i"));
        assert_eq!(
            s.first(3),
            "SELECT COUNT(i) FROM Investigation AS i GROUP BY i.name LIMIT 0, 3"
        );
    }

    #[test]
    fn row_count_query_counts_the_same_selection() {
        let count = |q: &str| QueryShape::parse(q).row_count_query();
        assert_eq!(
            count("SELECT i FROM Investigation i").as_deref(),
            Some("SELECT COUNT(i) FROM Investigation i")
        );
        assert_eq!(
            count("select distinct ds.name from Dataset AS ds JOIN ds.investigation i WHERE i.id = 1 GROUP BY ds.name ORDER BY ds.name INCLUDE 1").as_deref(),
            Some("SELECT COUNT(ds) from Dataset AS ds JOIN ds.investigation i WHERE i.id = 1")
        );
        assert_eq!(count("SELECT i FROM Investigation i LIMIT 0, 5"), None);
        assert_eq!(count("Investigation [id > 3]"), None);
        assert_eq!(count("SELECT i FROM Investigation WHERE 1 = 1"), None);
    }

    #[test]
    fn select_items_head_the_columns() {
        let s = QueryShape::parse(
            "SELECT i.name, COUNT(ds), 'a,b' FROM Investigation i JOIN i.datasets ds GROUP BY i.name",
        );
        assert_eq!(s.select_items, ["i.name", "COUNT(ds)", "'a,b'"]);
        assert_eq!(s.entity_var, None);
        assert_eq!(s.paging(), Paging::Unpageable);
        let s = QueryShape::parse("select distinct ds from Dataset ds");
        assert_eq!(s.entity_var.as_deref(), Some("ds"));
    }

    #[test]
    fn entity_queries_are_ordered_by_id_before_include() {
        let s = QueryShape::parse(
            "SELECT ds FROM Dataset ds WHERE ds.name <> 'ORDER BY' INCLUDE ds.datafiles",
        );
        assert_eq!(
            s.paging(),
            Paging::Ordered(
                "SELECT ds FROM Dataset ds WHERE ds.name <> 'ORDER BY' ORDER BY ds.id INCLUDE ds.datafiles".into()
            )
        );
        let s = QueryShape::parse("SELECT ds FROM Dataset ds ORDER BY ds.name");
        assert_eq!(
            s.paging(),
            Paging::Ordered("SELECT ds FROM Dataset ds ORDER BY ds.name, ds.id".into())
        );
        let s = QueryShape::parse("SELECT ds FROM Dataset ds ORDER BY ds.id");
        assert_eq!(
            s.paging(),
            Paging::Ordered("SELECT ds FROM Dataset ds ORDER BY ds.id".into())
        );
        assert_eq!(
            with_limit("SELECT ds FROM Dataset ds ORDER BY ds.name, ds.id ", 10, 5),
            "SELECT ds FROM Dataset ds ORDER BY ds.name, ds.id LIMIT 10, 5"
        );
    }

    #[test]
    fn own_limits_and_subqueries() {
        let s = QueryShape::parse("SELECT d FROM Dataset d LIMIT 0, 5");
        assert_eq!(s.paging(), Paging::OwnLimit);
        let s = QueryShape::parse(
            "SELECT d.name FROM Dataset d WHERE d.id IN (SELECT x.id FROM Dataset x ORDER BY x.id)",
        );
        assert_eq!(s.paging(), Paging::Unpageable);
        let s = QueryShape::parse("SELECT d.name FROM Dataset d ORDER BY d.name");
        assert!(matches!(s.paging(), Paging::Ordered(_)));
        let s = QueryShape::parse("Dataset [name = 'x']");
        assert!(s.select_items.is_empty());
        assert_eq!(s.paging(), Paging::Unpageable);
    }
}
