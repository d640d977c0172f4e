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
    /// The JPQL parameter `:user`, which the server replaces with the caller's user name.
    CurrentUser,
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
            Literal::CurrentUser => ":user",
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

fn render_enum(enum_name: &str, value: &str, path: &str) -> Result<String, QueryError> {
    let valid = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(QueryError::InvalidEnumValue {
            path: path.to_owned(),
            enum_name: enum_name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(format!("{ENUM_PREFIX}{enum_name}.{value}"))
}
