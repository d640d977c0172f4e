//! Reading search results: accessors on [`Value`] (`as_i64`, `as_str`, `as_entity`...) and typed
//! rows ([`FromRow`]) for `Session::search_rows::<(String, i64)>` and friends.

use crate::DateTime;
use crate::client::EntityType;
use crate::model::{Entity, Value};

impl Value {
    /// The integer, for `xs:long` and `xs:int` values (ids, COUNT, file sizes).
    ///
    /// ```
    /// use icat_soap::model::Value;
    /// assert_eq!(Value::Long(3).as_i64(), Some(3));
    /// assert_eq!(Value::String("3".into()).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Long(n) => Some(*n),
            Value::Int(n) => Some(i64::from(*n)),
            _ => None,
        }
    }

    /// The number, for `xs:double` values and (converted) integers (AVG, numeric parameters).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(x) => Some(*x),
            Value::Long(n) => Some(*n as f64),
            Value::Int(n) => Some(f64::from(*n)),
            _ => None,
        }
    }

    /// The text, for `xs:string` values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, for `xs:boolean` values.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The timestamp, for `xs:dateTime` values.
    pub fn as_datetime(&self) -> Option<&DateTime> {
        match self {
            Value::DateTime(d) => Some(d),
            _ => None,
        }
    }

    /// The entity, whatever its type.
    pub fn as_any_entity(&self) -> Option<&Entity> {
        match self {
            Value::Entity(e) => Some(e),
            _ => None,
        }
    }

    /// The entity if it is a `T`, e.g. `value.as_entity::<Investigation>()`.
    ///
    /// ```
    /// use icat_soap::model::{Dataset, Investigation, Value};
    /// let v = Value::Entity(Investigation::reference(7).into());
    /// assert_eq!(v.as_entity::<Investigation>().and_then(|i| i.id), Some(7));
    /// assert!(v.as_entity::<Dataset>().is_none());
    /// ```
    pub fn as_entity<T: EntityType>(&self) -> Option<&T> {
        match self {
            Value::Entity(e) => T::ref_from_entity(e),
            _ => None,
        }
    }

    /// Takes the entity out if it is a `T`.
    pub fn into_entity<T: EntityType>(self) -> Option<T> {
        match self {
            Value::Entity(e) => T::from_entity(e).ok(),
            _ => None,
        }
    }

    /// The columns of a row of several select items (`fieldSet`); `None` columns are nulls.
    pub fn as_row(&self) -> Option<&[Option<Value>]> {
        match self {
            Value::FieldSet(cols) => Some(cols),
            _ => None,
        }
    }

    /// A short description of the value's kind, for error messages (`"a Long"`, `"a Dataset"`).
    pub fn describe(&self) -> String {
        match self {
            Value::Entity(e) => format!("a {}", e.entity_name()),
            Value::FieldSet(cols) => format!("a row of {} columns", cols.len()),
            Value::String(_) => "a string".to_owned(),
            Value::Long(_) | Value::Int(_) => "an integer".to_owned(),
            Value::Double(_) => "a number".to_owned(),
            Value::Bool(_) => "a boolean".to_owned(),
            Value::DateTime(_) => "a timestamp".to_owned(),
            _ => "an enum value".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dataset, Investigation};

    #[test]
    fn accessors_answer_only_for_their_kind() {
        assert_eq!(Value::Int(3).as_i64(), Some(3));
        assert_eq!(Value::Long(3).as_f64(), Some(3.0));
        assert_eq!(Value::Double(0.5).as_i64(), None);
        assert_eq!(Value::String("a".into()).as_str(), Some("a"));
        assert_eq!(Value::Long(1).as_str(), None);
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        let ts = DateTime::parse("2024-01-31T10:00:00Z").unwrap();
        assert_eq!(Value::DateTime(ts).as_datetime(), Some(&ts));
        let row = Value::FieldSet(vec![None, Some(Value::Long(1))]);
        assert_eq!(row.as_row().map(<[_]>::len), Some(2));
        let inv = Value::Entity(Investigation::reference(4).into());
        assert!(inv.as_any_entity().is_some());
        assert_eq!(inv.as_entity::<Investigation>().and_then(|i| i.id), Some(4));
        assert!(inv.as_entity::<Dataset>().is_none());
        assert!(inv.clone().into_entity::<Dataset>().is_none());
        assert_eq!(
            inv.into_entity::<Investigation>().and_then(|i| i.id),
            Some(4)
        );
    }
}
