//! Literal values in ICAT JPQL: how each value type is written so that no value can change the query.

use crate::meta::AttrType;

use super::QueryError;

/// The Java package ICAT prefixes enum literals with (`Constants.ENUMPREFIX` on the server).
pub const ENUM_PREFIX: &str = "org.icatproject.";

/// A value compared against an attribute in a [`Condition`](super::Condition).
///
/// The builder always writes values as escaped literals: strings are single-quoted with embedded
/// quotes doubled, timestamps become `{ts yyyy-mm-dd hh:mm:ss}`, enum values get the
/// `org.icatproject.<Enum>.` prefix. A value can therefore never change the structure of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string; also accepted for enum attributes, where it names the enum constant (`"NUMERIC"`).
    String(String),
    /// An integer (`xs:long` / `xs:int` attributes; also accepted for `xs:double`).
    Long(i64),
    /// A floating point number. NaN and infinities are rejected.
    Double(f64),
    /// A boolean, written `TRUE` / `FALSE`.
    Bool(bool),
    /// A timestamp, written `{ts yyyy-mm-dd hh:mm:ss}`.
    ///
    /// ICAT reads timestamps in the server's time zone and without fractional seconds: the wall-clock
    /// date and time are written as given (fractions are truncated), so pass a value expressed in the
    /// server's zone.
    DateTime(crate::DateTime),
    /// A value of one of ICAT's enums, written `org.icatproject.<enum_name>.<constant>`. Made by
    /// `From` for the generated enums (`ParameterValueType::Numeric.into()`).
    Enum {
        /// The ICAT enum type, e.g. `"ParameterValueType"`.
        enum_name: &'static str,
        /// The constant as written on the wire, e.g. `"NUMERIC"`.
        constant: String,
    },
    /// An unsigned integer (from `u64` / `usize`); rendering fails if it exceeds `i64::MAX`,
    /// the largest value ICAT's `xs:long` attributes hold.
    Unsigned(u64),
    /// An absent value (from an `Option` that is `None`, e.g. the id of an entity that was never
    /// stored). Rendering fails with [`QueryError::MissingValue`]: `= NULL` never matches in JPQL,
    /// so use [`Condition::is_null`](super::Condition::is_null) to ask for a missing value.
    Missing,
    /// The JPQL parameter `:user`, which the server replaces with the caller's user name.
    CurrentUser,
}

impl<T: Into<Literal>> From<Option<T>> for Literal {
    /// `Some(v)` is `v`; `None` is [`Literal::Missing`], which the builder refuses offline.
    fn from(v: Option<T>) -> Self {
        v.map_or(Literal::Missing, Into::into)
    }
}

impl From<u64> for Literal {
    fn from(v: u64) -> Self {
        Literal::Unsigned(v)
    }
}

impl From<usize> for Literal {
    fn from(v: usize) -> Self {
        Literal::Unsigned(u64::try_from(v).unwrap_or(u64::MAX))
    }
}

impl From<&i64> for Literal {
    fn from(v: &i64) -> Self {
        Literal::Long(*v)
    }
}

impl From<std::time::SystemTime> for Literal {
    /// The instant in UTC (millisecond precision; the query keeps whole seconds). ICAT reads
    /// timestamps in the server's time zone, so this matches exactly only on a UTC server.
    fn from(v: std::time::SystemTime) -> Self {
        Literal::DateTime(crate::DateTime::from_system_time(v))
    }
}

// `From<E> for Literal` for each generated enumeration `E` is generated beside the enumeration,
// so `where_eq("valueType", ParameterValueType::Numeric)` works for whatever enums the schema has.

/// The constants of an ICAT enum type as written on the wire, by the enum's name
/// (`enum_constants("ParameterValueType")` gives `DATE_AND_TIME`, `NUMERIC`, `STRING`): the
/// generated [`ENUMS`](crate::meta::ENUMS) table.
pub fn enum_constants(enum_name: &str) -> Option<&'static [&'static str]> {
    crate::meta::enumeration(enum_name).map(|e| e.values)
}

impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::String(v.to_owned())
    }
}

impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::String(v)
    }
}

impl From<&String> for Literal {
    fn from(v: &String) -> Self {
        Literal::String(v.clone())
    }
}

impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Long(v)
    }
}

impl From<i32> for Literal {
    fn from(v: i32) -> Self {
        Literal::Long(i64::from(v))
    }
}

impl From<u32> for Literal {
    fn from(v: u32) -> Self {
        Literal::Long(i64::from(v))
    }
}

impl From<f64> for Literal {
    fn from(v: f64) -> Self {
        Literal::Double(v)
    }
}

impl From<bool> for Literal {
    fn from(v: bool) -> Self {
        Literal::Bool(v)
    }
}

impl From<crate::DateTime> for Literal {
    fn from(v: crate::DateTime) -> Self {
        Literal::DateTime(v)
    }
}

impl Literal {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::String(_) => "string",
            Literal::Long(_) => "integer",
            Literal::Double(_) => "number",
            Literal::Bool(_) => "boolean",
            Literal::DateTime(_) => "timestamp",
            Literal::Enum { .. } => "enum constant",
            Literal::Unsigned(_) => "integer",
            Literal::Missing => "missing value (None)",
            Literal::CurrentUser => ":user",
        }
    }

    /// Writes this value as a JPQL literal without knowing the attribute's type (for bound
    /// parameters of raw JPQL, see [`Jpql`](super::Jpql)); `name` names it in errors.
    pub(crate) fn render_untyped(&self, name: &str) -> Result<String, QueryError> {
        match self {
            Literal::String(s) => quote_string(s, name),
            Literal::Long(n) => Ok(n.to_string()),
            Literal::Unsigned(n) => render_unsigned(*n, name),
            Literal::Double(x) => render_double(*x, name),
            Literal::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.to_owned()),
            Literal::DateTime(dt) => render_timestamp(dt, name),
            Literal::Enum {
                enum_name,
                constant,
            } => render_enum(enum_name, constant, name),
            Literal::Missing => Err(QueryError::MissingValue {
                path: name.to_owned(),
            }),
            Literal::CurrentUser => Ok(":user".to_owned()),
        }
    }

    /// Writes this value as a JPQL literal for an attribute of type `ty` (at `path`, for errors).
    pub(crate) fn render(&self, ty: AttrType, path: &str) -> Result<String, QueryError> {
        let mismatch = || QueryError::TypeMismatch {
            path: path.to_owned(),
            expected: attr_type_name(ty),
            found: self.kind(),
        };
        match (ty, self) {
            (_, Literal::Missing) => Err(QueryError::MissingValue {
                path: path.to_owned(),
            }),
            (AttrType::Long | AttrType::Int | AttrType::Double, Literal::Unsigned(n)) => {
                render_unsigned(*n, path)
            }
            (AttrType::DateTime, Literal::String(s)) => {
                let dt = crate::DateTime::parse_date_or_date_time(s).map_err(|e| {
                    QueryError::InvalidTimestamp {
                        path: path.to_owned(),
                        value: super::error::clip(s),
                        reason: e.reason(),
                    }
                })?;
                render_timestamp(&dt, path)
            }
            (
                AttrType::Enum(name),
                Literal::Enum {
                    enum_name,
                    constant,
                },
            ) if name == *enum_name => render_enum(name, constant, path),
            (AttrType::String, Literal::String(s)) => quote_string(s, path),
            (AttrType::String, Literal::CurrentUser) => Ok(":user".to_owned()),
            (AttrType::Long | AttrType::Int | AttrType::Double, Literal::Long(n)) => {
                Ok(n.to_string())
            }
            (AttrType::Double, Literal::Double(x)) => render_double(*x, path),
            (AttrType::Boolean, Literal::Bool(b)) => {
                Ok(if *b { "TRUE" } else { "FALSE" }.to_owned())
            }
            (AttrType::DateTime, Literal::DateTime(dt)) => render_timestamp(dt, path),
            (AttrType::Enum(name), Literal::String(v)) => render_enum(name, v, path),
            _ => Err(mismatch()),
        }
    }
}

/// The user-facing name of an attribute type.
pub(crate) fn attr_type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Long | AttrType::Int => "integer",
        AttrType::Double => "number",
        AttrType::Boolean => "boolean",
        AttrType::DateTime => "timestamp",
        AttrType::Enum(_) => "enum constant name",
    }
}

/// Quotes a string for JPQL: `'` + value with every `'` doubled + `'`.
///
/// Characters XML 1.0 cannot carry (most control characters) are rejected, because the query travels
/// inside a SOAP envelope and the server would fail to parse it.
pub fn quote_string(value: &str, path: &str) -> Result<String, QueryError> {
    if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
        return Err(QueryError::InvalidCharacter {
            path: path.to_owned(),
            code_point: u32::from(c),
        });
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    Ok(out)
}

/// True for characters allowed in XML 1.0 documents.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn render_double(x: f64, path: &str) -> Result<String, QueryError> {
    if !x.is_finite() {
        return Err(QueryError::NonFiniteNumber {
            path: path.to_owned(),
        });
    }
    // `Debug` always writes a decimal point or an exponent, which ICAT's tokenizer reads as a REAL.
    Ok(format!("{x:?}"))
}

fn render_timestamp(dt: &crate::DateTime, path: &str) -> Result<String, QueryError> {
    if !(0..=9999).contains(&dt.year()) || dt.hour() > 23 {
        return Err(QueryError::UnsupportedTimestamp {
            path: path.to_owned(),
            value: dt.to_string(),
        });
    }
    Ok(format!(
        "{{ts {:04}-{:02}-{:02} {:02}:{:02}:{:02}}}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    ))
}

fn render_unsigned(n: u64, path: &str) -> Result<String, QueryError> {
    if i64::try_from(n).is_err() {
        return Err(QueryError::IntegerOutOfRange {
            path: path.to_owned(),
            value: n,
        });
    }
    Ok(n.to_string())
}

/// Writes an enum constant; the constant must be one the enum has (known enums) or at least an
/// identifier (enums these bindings do not know), as the server refuses anything else.
fn render_enum(enum_name: &str, value: &str, path: &str) -> Result<String, QueryError> {
    let valid = match enum_constants(enum_name) {
        Some(constants) => constants.contains(&value),
        None => {
            !value.is_empty()
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !value.starts_with(|c: char| c.is_ascii_digit())
        }
    };
    if !valid {
        let constants = enum_constants(enum_name).unwrap_or_default();
        return Err(QueryError::InvalidEnumValue {
            path: path.to_owned(),
            enum_name: enum_name.to_owned(),
            value: super::error::clip(value),
            hint: match constants.iter().find(|c| c.eq_ignore_ascii_case(value)) {
                Some(c) => format!("did you mean {c}?"),
                None if constants.is_empty() => "use the constant's name".to_owned(),
                None => format!("one of {}", constants.join(", ")),
            },
        });
    }
    Ok(format!("{ENUM_PREFIX}{enum_name}.{value}"))
}
