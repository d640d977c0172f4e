//! Hand-written JPQL with named parameters (`:name`) bound as escaped literals.

use std::collections::BTreeMap;

use super::error::clip;
use super::{Literal, MAX_IN_VALUES, QueryError};

/// A bound value: one literal, or a comma-separated list for `IN (:name)`.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    One(Literal),
    List(Vec<Literal>),
}

/// JPQL text with named parameters, for queries the [`Query`](super::Query) builder cannot
/// express. Each `:name` outside a string literal is replaced by its bound value, written as an
/// escaped literal (strings quoted with `'` doubled, timestamps as `{ts …}`, enums with their
/// `org.icatproject.` prefix), so a value can never change the query's structure. `:user` is
/// left for the server, which fills in the caller's user name.
///
/// Paths are not checked offline (the server checks them); every parameter must be bound and
/// every bound value used.
///
/// ```
/// use icat_soap::query::Jpql;
/// let q = Jpql::new(
///     "SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df \
///      WHERE df.dataset.name = :name AND df.id IN (:ids)",
/// )
/// .bind("name", "O'Brien")
/// .bind_list("ids", [1_i64, 2, 3]);
/// assert_eq!(
///     q.render()?,
///     "SELECT COUNT(df), SUM(df.fileSize) FROM Datafile df \
///      WHERE df.dataset.name = 'O''Brien' AND df.id IN (1, 2, 3)"
/// );
/// # Ok::<(), icat_soap::query::QueryError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Jpql {
    text: String,
    params: BTreeMap<String, Bound>,
}

impl Jpql {
    /// JPQL text with `:name` placeholders.
    pub fn new(text: impl Into<String>) -> Self {
        Jpql {
            text: text.into(),
            params: BTreeMap::new(),
        }
    }

    /// Binds `:name` to one value (replacing an earlier binding of the same name).
    pub fn bind(mut self, name: impl Into<String>, value: impl Into<Literal>) -> Self {
        self.params.insert(name.into(), Bound::One(value.into()));
        self
    }

    /// Binds `:name` to a list written `a, b, c`, for `IN (:name)`. The list must hold 1 to
    /// [`MAX_IN_VALUES`] values.
    pub fn bind_list<V: Into<Literal>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.params.insert(name.into(), Bound::List(values));
        self
    }

    /// The JPQL with every parameter replaced by its escaped value.
    pub fn render(&self) -> Result<String, QueryError> {
        for name in self.params.keys() {
            if !is_param_name(name) || name == "user" {
                return Err(QueryError::InvalidParameterName { name: clip(name) });
            }
        }
        let mut used = std::collections::BTreeSet::new();
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        while let Some(i) = rest.find(['\'', ':']) {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if rest.starts_with('\'') {
                // Copy the string literal as is ('' is an escaped quote inside it).
                let end = literal_end(rest).ok_or(QueryError::UnterminatedString)?;
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
            let name_len = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1);
            let name = &rest[1..1 + name_len];
            if !is_param_name(name) || name == "user" {
                out.push_str(&rest[..1 + name_len]);
                rest = &rest[1 + name_len..];
                continue;
            }
            let value = self
                .params
                .get(name)
                .ok_or_else(|| QueryError::UnboundParameter {
                    name: name.to_owned(),
                })?;
            out.push_str(&render_bound(value, name)?);
            used.insert(name);
            rest = &rest[1 + name_len..];
        }
        out.push_str(rest);
        if let Some(unused) = self.params.keys().find(|k| !used.contains(k.as_str())) {
            return Err(QueryError::UnusedParameter {
                name: unused.clone(),
            });
        }
        Ok(out)
    }
}

fn is_param_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The length of the string literal at the start of `s` (which starts with `'`), quotes included.
fn literal_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn render_bound(value: &Bound, name: &str) -> Result<String, QueryError> {
    match value {
        Bound::One(v) => v.render_untyped(name),
        Bound::List(values) => {
            if values.is_empty() {
                return Err(QueryError::EmptyIn {
                    path: format!(":{name}"),
                });
            }
            if values.len() > MAX_IN_VALUES {
                return Err(QueryError::TooManyInValues {
                    path: format!(":{name}"),
                    count: values.len(),
                    max: MAX_IN_VALUES,
                });
            }
            let parts = values
                .iter()
                .map(|v| v.render_untyped(name))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_inside_string_literals_are_left_alone() {
        let q = Jpql::new("SELECT i FROM Investigation i WHERE i.name = ':x' AND i.title = :x")
            .bind("x", "a ':x' b");
        assert_eq!(
            q.render().unwrap(),
            "SELECT i FROM Investigation i WHERE i.name = ':x' AND i.title = 'a '':x'' b'"
        );
    }

    #[test]
    fn user_is_left_for_the_server_and_cannot_be_bound() {
        let q = Jpql::new(
            "SELECT i FROM Investigation i JOIN i.investigationUsers u WHERE u.user.name = :user",
        );
        assert!(q.render().unwrap().ends_with("= :user"));
        let bad = q.clone().bind("user", "root");
        assert!(matches!(
            bad.render(),
            Err(QueryError::InvalidParameterName { .. })
        ));
    }

    #[test]
    fn unbound_and_unused_parameters_are_errors() {
        let q = Jpql::new("SELECT d FROM Dataset d WHERE d.id = :id");
        assert_eq!(
            q.render(),
            Err(QueryError::UnboundParameter { name: "id".into() })
        );
        let q = q.bind("id", 1_i64).bind("idd", 2_i64);
        assert_eq!(
            q.render(),
            Err(QueryError::UnusedParameter { name: "idd".into() })
        );
    }

    #[test]
    fn timestamps_and_typed_values_are_escaped() {
        let ts = crate::DateTime::parse("2024-01-31T10:00:00").unwrap();
        let q = Jpql::new(
            "SELECT d FROM Dataset d WHERE d.startDate > :t AND d.complete = :c {ts 2011-01-01 00:00:00}",
        )
        .bind("t", ts)
        .bind("c", true);
        assert_eq!(
            q.render().unwrap(),
            "SELECT d FROM Dataset d WHERE d.startDate > {ts 2024-01-31 10:00:00} AND d.complete = TRUE {ts 2011-01-01 00:00:00}"
        );
    }

    #[test]
    fn unterminated_strings_and_huge_lists_are_refused() {
        assert_eq!(
            Jpql::new("SELECT d FROM Dataset d WHERE d.name = 'x").render(),
            Err(QueryError::UnterminatedString)
        );
        let q = Jpql::new("SELECT d FROM Dataset d WHERE d.id IN (:ids)")
            .bind_list("ids", 0..=(MAX_IN_VALUES as i64));
        assert!(matches!(
            q.render(),
            Err(QueryError::TooManyInValues { .. })
        ));
    }
}
