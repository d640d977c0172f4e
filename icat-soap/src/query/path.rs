//! Offline validation of dotted field paths (`investigation.facility.name`) against entity metadata.

use crate::meta::{EntityMeta, FieldKind, FieldMeta};

use super::QueryError;

/// The entity metadata a query is checked against: a list of entities, looked up by JPQL name.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    entities: &'a [EntityMeta],
}

impl<'a> Schema<'a> {
    /// A schema made of the given entities (for example `icat_soap::meta::ENTITIES`).
    pub fn new(entities: &'a [EntityMeta]) -> Self {
        Schema { entities }
    }

    /// Looks up an entity by its exact JPQL name.
    pub fn entity(&self, name: &str) -> Option<&'a EntityMeta> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// Looks up an entity, or says which names exist.
    pub(crate) fn require(&self, name: &str) -> Result<&'a EntityMeta, QueryError> {
        self.entity(name).ok_or_else(|| QueryError::UnknownEntity {
            name: super::error::clip(name),
            suggestion: closest(name, self.entities.iter().map(|e| e.name)),
        })
    }
}

/// One relation step of a resolved path.
#[derive(Debug, Clone)]
pub(crate) struct Step<'a> {
    /// The relation field name, e.g. `"facility"`.
    pub field: &'a str,
}

/// A path resolved against the schema: the relations walked, then the last field.
#[derive(Debug, Clone)]
pub(crate) struct Resolved<'a> {
    /// The relations walked before the last segment.
    pub steps: Vec<Step<'a>>,
    /// The last field of the path (an attribute or a relation).
    pub last: &'a FieldMeta,
}

/// Splits a dotted path into segments, rejecting empty or non-identifier segments.
pub(crate) fn segments(path: &str) -> Result<Vec<&str>, QueryError> {
    let segs: Vec<&str> = path.split('.').collect();
    let ok = segs.iter().all(|s| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    });
    if ok {
        Ok(segs)
    } else {
        Err(QueryError::InvalidPath {
            path: super::error::clip(path),
        })
    }
}

/// Resolves `path` starting at `root`: every segment but the last must be a relation.
pub(crate) fn resolve<'a>(
    schema: &Schema<'a>,
    root: &'a EntityMeta,
    path: &str,
) -> Result<Resolved<'a>, QueryError> {
    let segs = segments(path)?;
    let mut current = root;
    let mut steps = Vec::new();
    let last_index = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        let field = current.field(seg).ok_or_else(|| QueryError::UnknownField {
            entity: current.name.to_owned(),
            field: super::error::clip(seg),
            path: super::error::clip(path),
            suggestion: closest(seg, current.fields.iter().map(|f| f.name)),
        })?;
        if i == last_index {
            return Ok(Resolved { steps, last: field });
        }
        let target = match field.kind {
            FieldKind::Attribute(_) => {
                return Err(QueryError::NotARelation {
                    entity: current.name.to_owned(),
                    field: field.name.to_owned(),
                    path: super::error::clip(path),
                });
            }
            FieldKind::One { target } | FieldKind::Many { target, .. } => target,
        };
        let target = schema.require(target)?;
        steps.push(Step { field: field.name });
        current = target;
    }
    // `split` always yields at least one segment, so the loop returns.
    Err(QueryError::InvalidPath {
        path: path.to_owned(),
    })
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely typo.
pub(crate) fn closest<'s>(name: &str, candidates: impl Iterator<Item = &'s str>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Levenshtein distance over bytes (names are ASCII identifiers).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("name", "name"), 0);
        assert_eq!(edit_distance("nmae", "name"), 2);
        assert_eq!(edit_distance("visitid", "visitid"), 0);
        assert_eq!(edit_distance("dataset", "datasets"), 1);
    }

    #[test]
    fn closest_ignores_far_candidates() {
        let c = ["name", "visitId", "title"];
        assert_eq!(closest("nmae", c.iter().copied()).as_deref(), Some("name"));
        assert_eq!(
            closest("visitid", c.iter().copied()).as_deref(),
            Some("visitId")
        );
        assert_eq!(closest("zzzzzzzz", c.iter().copied()), None);
    }

    #[test]
    fn segments_reject_injection_and_empty_parts() {
        assert!(segments("investigation.facility.name").is_ok());
        for bad in ["", "a..b", ".a", "a.", "name = 'x' OR 1=1", "a b", "1abc"] {
            assert!(segments(bad).is_err(), "{bad:?} accepted");
        }
    }
}
