//! Request parameters of IDS calls, validated the way the real IDS does.

use super::catalog::Selection;
use super::error::{IdsError, IdsResult};
use super::names::is_lower_uuid;

/// Parameters from a query string or a urlencoded form body (first value of a name wins).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parse `a=1&b=2` (query string or form body).
    pub fn parse(input: &[u8]) -> Self {
        Params {
            pairs: form_urlencoded::parse(input).into_owned().collect(),
        }
    }

    /// Set a parameter, replacing any earlier value (a later form field wins, as in Java).
    pub fn set(&mut self, name: &str, value: String) {
        self.pairs.retain(|(k, _)| k != name);
        self.pairs.push((name.to_string(), value));
    }

    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: `true` (any case) is true, anything else or absence is false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A required UUID parameter (`sessionId`, `preparedId`).
    pub fn uuid(&self, name: &str) -> IdsResult<String> {
        let value = self.get(name);
        match value {
            Some(v) if is_lower_uuid(v) => Ok(v.to_string()),
            _ => Err(IdsError::BadRequest(format!(
                "The {name} parameter '{}' is not a valid UUID",
                value.unwrap_or("null")
            ))),
        }
    }

    /// The `preparedId` if given (validated), else `None`.
    pub fn prepared_id(&self) -> IdsResult<Option<String>> {
        match self.get("preparedId") {
            Some(_) => self.uuid("preparedId").map(Some),
            None => Ok(None),
        }
    }

    /// The three id lists.
    pub fn selection(&self) -> IdsResult<Selection> {
        Ok(Selection {
            investigation_ids: self.ids("investigationIds")?,
            dataset_ids: self.ids("datasetIds")?,
            datafile_ids: self.ids("datafileIds")?,
        })
    }

    /// A comma-separated list of longs (absent means empty; the empty string is invalid).
    pub fn ids(&self, name: &str) -> IdsResult<Vec<i64>> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let invalid = || {
            IdsError::BadRequest(format!(
                "The {name} parameter '{value}' is not a valid string representation of a comma separated list of longs"
            ))
        };
        // Java splits on \s*,\s* and drops trailing empty strings.
        let parts: Vec<&str> = value.split(',').collect();
        let last = parts.len() - 1;
        let mut items: Vec<&str> = parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut item = *part;
                if i > 0 {
                    item = item.trim_start_matches(is_java_space);
                }
                if i < last {
                    item = item.trim_end_matches(is_java_space);
                }
                item
            })
            .collect();
        if parts.len() > 1 {
            while items.last() == Some(&"") {
                items.pop();
            }
        }
        let ids = items
            .iter()
            .map(|item| item.parse::<i64>().map_err(|_| invalid()))
            .collect::<IdsResult<Vec<i64>>>()?;
        Ok(ids)
    }

    /// A required long parameter of `put`.
    pub fn required_long(&self, name: &str) -> IdsResult<i64> {
        let value = self
            .get(name)
            .ok_or_else(|| IdsError::BadRequest(format!("The {name} parameter must be set")))?;
        value
            .parse()
            .map_err(|_| IdsError::BadRequest(format!("The {name} parameter must be numeric")))
    }

    /// An optional long parameter of `put`.
    pub fn optional_long(&self, name: &str) -> IdsResult<Option<i64>> {
        self.get(name)
            .map(|value| {
                value.parse().map_err(|_| {
                    IdsError::BadRequest(format!("The {name} parameter must be numeric"))
                })
            })
            .transpose()
    }
}

/// Java's `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &str) -> IdsResult<Vec<i64>> {
        Params::parse(format!("datafileIds={v}").as_bytes()).ids("datafileIds")
    }

    #[test]
    fn id_lists_split_like_java() {
        assert_eq!(ids("1,2,3").unwrap(), vec![1, 2, 3]);
        assert_eq!(ids("1+,+2").unwrap(), vec![1, 2]);
        assert_eq!(ids("1,2,").unwrap(), vec![1, 2]);
        assert_eq!(ids("-5").unwrap(), vec![-5]);
        for bad in ["", "+1,x", "1,,2", "+1", "1.5", "1+"] {
            let err = ids(bad).unwrap_err();
            assert!(
                matches!(&err, IdsError::BadRequest(m) if m.contains("is not a valid string representation of a comma separated list of longs")),
                "{bad:?}: {err:?}"
            );
        }
        assert_eq!(
            Params::parse(b"").ids("datafileIds").unwrap(),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn uuids_are_validated_with_the_ids_message() {
        let p = Params::parse(b"sessionId=ABC");
        assert_eq!(
            p.uuid("sessionId").unwrap_err(),
            IdsError::BadRequest("The sessionId parameter 'ABC' is not a valid UUID".into())
        );
        assert_eq!(
            Params::parse(b"").uuid("sessionId").unwrap_err(),
            IdsError::BadRequest("The sessionId parameter 'null' is not a valid UUID".into())
        );
    }

    #[test]
    fn set_replaces_earlier_values() {
        let mut p = Params::parse(b"name=a&name=b");
        p.set("name", "c".to_string());
        p.set("doi", "d".to_string());
        assert_eq!(p.get("name"), Some("c"));
        assert_eq!(p.get("doi"), Some("d"));
    }

    #[test]
    fn flags_are_java_booleans() {
        let p = Params::parse(b"zip=TRUE&compress=yes");
        assert!(p.flag("zip"));
        assert!(!p.flag("compress"));
        assert!(!p.flag("other"));
    }
}
