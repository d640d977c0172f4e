//! Conversions between XML Schema simple-type lexical forms and Rust values.

use std::fmt::Write as _;

use super::{XmlValue, XmlWriter};
use crate::{DateTime, jaxb};

/// XML Schema's whitespace collapse for non-string types (leading/trailing only; inner space is invalid).
fn collapse(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

impl XmlValue for String {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        Ok(text.to_owned())
    }
    fn write_text(&self, w: &mut XmlWriter) {
        w.text(self);
    }
}

impl XmlValue for i64 {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        collapse(text)
            .parse()
            .map_err(|_| "expected an xs:long (a 64-bit integer)")
    }
    fn from_jaxb_text(text: &str) -> Option<Self> {
        jaxb::parse_long(text)
    }
    fn write_text(&self, w: &mut XmlWriter) {
        w.raw(itoa_like(*self).as_str());
    }
}

impl XmlValue for i32 {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        collapse(text)
            .parse()
            .map_err(|_| "expected an xs:int (a 32-bit integer)")
    }
    fn from_jaxb_text(text: &str) -> Option<Self> {
        jaxb::parse_int(text)
    }
    fn write_text(&self, w: &mut XmlWriter) {
        w.raw(itoa_like(i64::from(*self)).as_str());
    }
}

impl XmlValue for f64 {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        let t = collapse(text);
        match t {
            "INF" | "+INF" => Ok(f64::INFINITY),
            "-INF" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ if t
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
            {
                Err("expected an xs:double")
            }
            _ => t.parse().map_err(|_| "expected an xs:double"),
        }
    }
    fn from_jaxb_text(text: &str) -> Option<Self> {
        jaxb::parse_double(text)
    }
    fn write_text(&self, w: &mut XmlWriter) {
        let mut s = String::new();
        if self.is_nan() {
            s.push_str("NaN");
        } else if self.is_infinite() {
            s.push_str(if *self > 0.0 { "INF" } else { "-INF" });
        } else {
            // `Debug` is the shortest text that parses back to the same value.
            let _ = write!(s, "{self:?}");
        }
        w.raw(&s);
    }
}

impl XmlValue for bool {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        match collapse(text) {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("expected an xs:boolean (true, false, 1 or 0)"),
        }
    }
    fn from_jaxb_text(text: &str) -> Option<Self> {
        jaxb::parse_boolean(text)
    }
    fn write_text(&self, w: &mut XmlWriter) {
        w.raw(if *self { "true" } else { "false" });
    }
}

impl XmlValue for DateTime {
    fn from_text(text: &str) -> Result<Self, &'static str> {
        DateTime::parse(text).map_err(|e| e.reason())
    }
    fn from_jaxb_text(text: &str) -> Option<Self> {
        jaxb::parse_date_time(text)
    }
    fn write_text(&self, w: &mut XmlWriter) {
        w.raw(&self.to_string());
    }
}

fn itoa_like(v: i64) -> String {
    v.to_string()
}
