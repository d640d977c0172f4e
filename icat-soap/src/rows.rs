//! Typed search rows: [`FromValue`] for one column, [`FromRow`] for a whole result row (a value or
//! a tuple of columns), with a [`RowError`] naming what did not fit.

use crate::DateTime;
use crate::client::EntityType;
use crate::model::Value;

// Defined beside `IcatError` (which holds it), so that the error module imports nothing of this one.
pub use crate::error::RowError;

/// One column of a search result as a Rust value. `None` stands for a null column; only
/// `Option<T>` accepts it.
pub trait FromValue: Sized {
    /// The Rust type's name, for errors.
    const EXPECTED: &'static str;
    /// Converts one column.
    fn from_value(value: Option<Value>) -> Result<Self, String>;
}

fn found(value: &Option<Value>) -> String {
    value.as_ref().map_or("null".to_owned(), Value::describe)
}

macro_rules! from_value {
    ($ty:ty, $name:literal, $($pat:pat => $out:expr),+ $(,)?) => {
        impl FromValue for $ty {
            const EXPECTED: &'static str = $name;
            fn from_value(value: Option<Value>) -> Result<Self, String> {
                match value {
                    $(Some($pat) => Ok($out),)+
                    other => Err(found(&other)),
                }
            }
        }
    };
}

from_value!(i64, "an integer (i64)", Value::Long(n) => n, Value::Int(n) => i64::from(n));
from_value!(f64, "a number (f64)", Value::Double(x) => x, Value::Long(n) => n as f64, Value::Int(n) => f64::from(n));
from_value!(bool, "a boolean", Value::Bool(b) => b);
from_value!(String, "a string", Value::String(s) => s);
from_value!(DateTime, "a timestamp", Value::DateTime(d) => d);
from_value!(Value, "any value", v => v);

impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(value: Option<Value>) -> Result<Self, String> {
        match value {
            None => Ok(None),
            some => T::from_value(some).map(Some),
        }
    }
}

impl<T: EntityType> FromValue for T {
    const EXPECTED: &'static str = T::NAME;
    fn from_value(value: Option<Value>) -> Result<Self, String> {
        match value {
            Some(Value::Entity(e)) => T::from_entity(e).map_err(|other| format!("a {other}")),
            other => Err(found(&other)),
        }
    }
}

/// A whole search result row: a single value (`i64`, `String`, an entity...) for queries that
/// select one item, or a tuple (`(String, i64, i64)`) for queries that select several.
///
/// ```
/// use icat_soap::rows::FromRow;
/// use icat_soap::model::Value;
/// let row = Value::FieldSet(vec![Some(Value::String("inv".into())), Some(Value::Long(3)), None]);
/// let (name, count, sum): (String, i64, Option<i64>) = FromRow::from_row(row.clone())?;
/// assert_eq!((name.as_str(), count, sum), ("inv", 3, None));
/// assert!(<(String, i64)>::from_row(row).is_err()); // three columns, not two
/// # Ok::<(), icat_soap::rows::RowError>(())
/// ```
pub trait FromRow: Sized {
    /// Converts one search result.
    fn from_row(value: Value) -> Result<Self, RowError>;
}

impl<T: FromValue> FromRow for T {
    fn from_row(value: Value) -> Result<Self, RowError> {
        if let Value::FieldSet(cols) = &value
            && cols.len() != 1
        {
            return Err(RowError {
                column: 0,
                expected: T::EXPECTED,
                found: format!("a row of {} columns", cols.len()),
            });
        }
        let value = match value {
            Value::FieldSet(mut cols) => cols.pop().flatten(),
            v => Some(v),
        };
        T::from_value(value).map_err(|found| RowError {
            column: 0,
            expected: T::EXPECTED,
            found,
        })
    }
}

macro_rules! tuple_rows {
    ($n:literal; $($t:ident $i:tt),+) => {
        impl<$($t: FromValue),+> FromRow for ($($t,)+) {
            fn from_row(value: Value) -> Result<Self, RowError> {
                let cols = match value {
                    Value::FieldSet(cols) if cols.len() == $n => cols,
                    other => {
                        return Err(RowError {
                            column: 0,
                            expected: concat!("a row of ", $n, " columns"),
                            found: other.describe(),
                        });
                    }
                };
                let mut cols = cols.into_iter();
                Ok(($(
                    $t::from_value(cols.next().flatten()).map_err(|found| RowError {
                        column: $i,
                        expected: $t::EXPECTED,
                        found,
                    })?,
                )+))
            }
        }
    };
}

tuple_rows!(2; A 0, B 1);
tuple_rows!(3; A 0, B 1, C 2);
tuple_rows!(4; A 0, B 1, C 2, D 3);
tuple_rows!(5; A 0, B 1, C 2, D 3, E 4);
tuple_rows!(6; A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dataset, Investigation};

    #[test]
    fn single_values_and_entities() {
        assert_eq!(i64::from_row(Value::Long(4)), Ok(4));
        assert_eq!(f64::from_row(Value::Long(4)), Ok(4.0));
        let err = i64::from_row(Value::String("4".into())).unwrap_err();
        assert_eq!(err.found, "a string");
        let inv = Investigation::from_row(Value::Entity(Investigation::reference(2).into()))
            .expect("investigation");
        assert_eq!(inv.id, Some(2));
        let err = Dataset::from_row(Value::Entity(Investigation::reference(2).into())).unwrap_err();
        assert_eq!(err.found, "a Investigation");
        // A null single column only fits an Option.
        assert_eq!(
            Option::<i64>::from_row(Value::FieldSet(vec![None])),
            Ok(None)
        );
        assert!(i64::from_row(Value::FieldSet(vec![None])).is_err());
    }

    #[test]
    fn tuples_check_width_and_each_column() {
        let row = Value::FieldSet(vec![Some(Value::Long(1)), Some(Value::Double(2.5))]);
        assert_eq!(<(i64, f64)>::from_row(row.clone()), Ok((1, 2.5)));
        let err = <(i64, i64)>::from_row(row.clone()).unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (1, "a number"));
        let err = <(i64, f64, i64)>::from_row(row).unwrap_err();
        assert_eq!(err.found, "a row of 2 columns");
        assert!(<(i64, i64)>::from_row(Value::Long(1)).is_err());
    }
}
