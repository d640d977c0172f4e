//! Conversions between entity attribute values ([`AttrValue`]) and SQLite values, per the schema
//! convention (enums as wire names, booleans 0/1, dateTimes as Unix milliseconds).

use icat_soap::DateTime;
use icat_soap::dynamic::AttrValue;
use icat_soap::meta::AttrType;
use rusqlite::types::{Value, ValueRef};

use crate::icat::error::IcatError;

/// Converts an attribute value for storage, checking it fits the declared type.
pub fn to_sql(
    entity: &str,
    field: &str,
    ty: AttrType,
    value: &AttrValue,
) -> Result<Value, IcatError> {
    let mismatch = || {
        IcatError::bad_parameter(format!(
            "{entity}: {field} has a value of the wrong type ({value:?})"
        ))
    };
    Ok(match (ty, value) {
        (AttrType::String | AttrType::Enum(_), AttrValue::String(s)) => Value::Text(s.clone()),
        (AttrType::Long | AttrType::Int, AttrValue::Long(n)) => Value::Integer(*n),
        (AttrType::Double, AttrValue::Double(d)) => Value::Real(*d),
        (AttrType::Double, AttrValue::Long(n)) => Value::Real(*n as f64),
        (AttrType::Boolean, AttrValue::Bool(b)) => Value::Integer(i64::from(*b)),
        (AttrType::DateTime, AttrValue::DateTime(d)) => Value::Integer(d.to_unix_millis()),
        _ => return Err(mismatch()),
    })
}

/// Converts a stored value back; `None` for NULL.
pub fn from_sql(ty: AttrType, value: ValueRef<'_>) -> Option<AttrValue> {
    match (ty, value) {
        (_, ValueRef::Null) => None,
        (AttrType::String | AttrType::Enum(_), ValueRef::Text(t)) => {
            Some(AttrValue::String(String::from_utf8_lossy(t).into_owned()))
        }
        (AttrType::Long | AttrType::Int, ValueRef::Integer(n)) => Some(AttrValue::Long(n)),
        (AttrType::Double, ValueRef::Real(d)) => Some(AttrValue::Double(d)),
        (AttrType::Double, ValueRef::Integer(n)) => Some(AttrValue::Double(n as f64)),
        (AttrType::Boolean, ValueRef::Integer(n)) => Some(AttrValue::Bool(n != 0)),
        (AttrType::DateTime, ValueRef::Integer(n)) => {
            Some(AttrValue::DateTime(DateTime::from_unix_millis(n)))
        }
        (_, other) => {
            tracing::warn!(?ty, value = ?other, "stored value does not match the column type");
            None
        }
    }
}

/// A JSON default (from entity-info `javaDefaults`) as an attribute value of the given type.
pub fn default_value(ty: AttrType, json: &serde_json::Value) -> Option<AttrValue> {
    match (ty, json) {
        (AttrType::Boolean, serde_json::Value::Bool(b)) => Some(AttrValue::Bool(*b)),
        (AttrType::Long | AttrType::Int, serde_json::Value::Number(n)) => {
            n.as_i64().map(AttrValue::Long)
        }
        (AttrType::Double, serde_json::Value::Number(n)) => n.as_f64().map(AttrValue::Double),
        (AttrType::String | AttrType::Enum(_), serde_json::Value::String(s)) => {
            Some(AttrValue::String(s.clone()))
        }
        _ => None,
    }
}
