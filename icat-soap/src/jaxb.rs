//! What a JAXB RI server (ICAT's Metro/JAXB on Payara) stores when it unmarshals the text of a
//! simple-typed element: the lexical rules of `com.sun.xml.bind.DatatypeConverterImpl` and, for
//! `xs:dateTime`, of `XMLGregorianCalendarImpl(String)` followed by `toGregorianCalendar()`.
//!
//! JAXB reports a value it cannot convert as a recoverable `ParseConversionEvent`, and the default
//! event handler of its unmarshaller (`UnmarshallerImpl.handleEvent`) continues on anything but a
//! fatal error, so the property is simply left unset: `null` for an object, the Java default
//! (`false`, `0`) for a primitive. Each function here returns `None` in exactly those cases.
//! No schema validation is done by ICAT's endpoint, so these are the only rules a value meets.

use crate::DateTime;

/// XML whitespace as JAXB's `WhiteSpaceProcessor.isWhiteSpace` sees it.
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `WhiteSpaceProcessor.trim`.
fn trim(s: &str) -> &str {
    s.trim_matches(is_ws)
}

/// `DatatypeConverterImpl._parseBoolean`: optional leading whitespace, then `1`, `0`, `true` or
/// `false`, then optional whitespace. An empty text is `null`. Quirk kept from the source: a text
/// whose first non-blank character is none of `1 0 t f` is `false` when nothing follows that
/// character (`" "`, `"x"`), else `null`.
pub fn parse_boolean(text: &str) -> Option<bool> {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    if len == 0 {
        return None;
    }
    let mut i = 0;
    let mut ch;
    loop {
        ch = chars[i];
        i += 1;
        if !(is_ws(ch) && i < len) {
            break;
        }
    }
    let value = match ch {
        '1' => true,
        '0' => false,
        't' | 'f' => {
            let rest: &[char] = if ch == 't' {
                &['r', 'u', 'e']
            } else {
                &['a', 'l', 's', 'e']
            };
            // The source compares the following characters one by one and fails on the first
            // difference or when the text ends early.
            if chars.len() < i + rest.len() || chars[i..i + rest.len()] != *rest {
                return None;
            }
            i += rest.len();
            ch == 't'
        }
        _ => false,
    };
    while i < len && is_ws(chars[i]) {
        i += 1;
    }
    (i == len).then_some(value)
}

/// `DatatypeConverterImpl._parseLong`: trimmed, one optional `+` removed, then `Long.parseLong`
/// (which takes one more sign). Empty or not a number: `None`.
pub fn parse_long(text: &str) -> Option<i64> {
    let t = trim(text);
    let t = t.strip_prefix('+').unwrap_or(t);
    // Rust's i64 parser takes the same optional sign and ASCII digits as Long.parseLong.
    t.parse().ok()
}

/// `DatatypeConverterImpl._parseInt`, the "faster but less robust" one: whitespace anywhere is
/// skipped, `-` anywhere makes the number negative, `+` is ignored, any other non-digit is an
/// error; an empty (or all-blank) text is 0. Overflow wraps as Java `int` arithmetic does.
pub fn parse_int(text: &str) -> Option<i32> {
    let mut sign = 1i32;
    let mut r = 0i32;
    for ch in text.chars() {
        match ch {
            c if is_ws(c) => {}
            '0'..='9' => r = r.wrapping_mul(10).wrapping_add(ch as i32 - '0' as i32),
            '-' => sign = -1,
            '+' => {}
            _ => return None,
        }
    }
    Some(r.wrapping_mul(sign))
}

/// `DatatypeConverterImpl._parseDouble`: trimmed; `NaN`, `INF`, `-INF`; otherwise the first and
/// last characters must be a digit, `.`, `+` or `-`, and the rest is `Double.parseDouble`.
/// Empty: `None`. (Java's hexadecimal floating literals, which pass the screening, are not taken.)
pub fn parse_double(text: &str) -> Option<f64> {
    let t = trim(text);
    match t {
        "NaN" => return Some(f64::NAN),
        "INF" => return Some(f64::INFINITY),
        "-INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let screen = |c: Option<char>| matches!(c, Some('0'..='9' | '.' | '+' | '-'));
    if !screen(t.chars().next()) || !screen(t.chars().last()) {
        return None;
    }
    t.parse().ok()
}

/// `DatatypeConverterImpl._parseDateTime`: the trimmed text may be any of the eight XML Schema
/// date/time forms `XMLGregorianCalendarImpl` recognises (dateTime, date, time, gYearMonth, gYear,
/// gMonthDay, gMonth, gDay, each with an optional zone). Fields not given take
/// `GregorianCalendar`'s cleared values (1970-01-01T00:00:00.000) and a value without a zone is in
/// the server's default time zone, which for this project is UTC: `2019-12-31` is
/// `2019-12-31T00:00:00` and `10:15:00` is `1970-01-01T10:15:00`.
pub fn parse_date_time(text: &str) -> Option<DateTime> {
    let s = trim(text);
    let fields = CalendarText::parse(s)?;
    let full = format!(
        "{}-{}-{}T{}:{}:{}{}{}",
        fields.year.unwrap_or("1970"),
        fields.month.unwrap_or("01"),
        fields.day.unwrap_or("01"),
        fields.hour.unwrap_or("00"),
        fields.minute.unwrap_or("00"),
        fields.second.unwrap_or("00"),
        fields.fraction.unwrap_or(""),
        fields.zone
    );
    DateTime::parse(&full).ok()
}

/// The parts of a date/time literal, as written.
#[derive(Default)]
struct CalendarText<'a> {
    year: Option<&'a str>,
    month: Option<&'a str>,
    day: Option<&'a str>,
    hour: Option<&'a str>,
    minute: Option<&'a str>,
    second: Option<&'a str>,
    /// `.ddd`, with its dot.
    fraction: Option<&'a str>,
    /// `Z`, `+hh:mm`, `-hh:mm` or empty.
    zone: &'a str,
}

impl<'a> CalendarText<'a> {
    /// Picks the format as `XMLGregorianCalendarImpl(String)` does, then reads it.
    fn parse(s: &'a str) -> Option<Self> {
        let b = s.as_bytes();
        let format: &[u8] = if s.contains('T') {
            b"Y-M-DTh:m:sz"
        } else if b.len() >= 3 && b[2] == b':' {
            b"h:m:sz"
        } else if s.starts_with("--") {
            if b.len() >= 3 && b[2] == b'-' {
                b"---Dz"
            } else if matches!(b.len(), 4 | 5 | 10) {
                b"--Mz"
            } else {
                b"--M-Dz"
            }
        } else {
            // Count the '-' after the first character, leaving out a "+hh:mm"/"-hh:mm" zone.
            let end = if s.contains(':') {
                b.len().saturating_sub(6)
            } else {
                b.len()
            };
            let separators = b.get(1..end).unwrap_or(&[]).iter().filter(|&&c| c == b'-');
            match separators.count() {
                0 => b"Yz",
                1 => b"Y-Mz",
                _ => b"Y-M-Dz",
            }
        };
        let mut out = CalendarText::default();
        let mut pos = 0;
        let digits = |pos: &mut usize, n: usize| -> Option<&'a str> {
            let d = s.get(*pos..*pos + n)?;
            d.bytes().all(|c| c.is_ascii_digit()).then(|| {
                *pos += n;
                d
            })
        };
        for &f in format {
            match f {
                b'Y' => {
                    let start = pos;
                    if b.get(pos) == Some(&b'-') {
                        pos += 1;
                    }
                    let n = b[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if n < 4 {
                        return None;
                    }
                    pos += n;
                    out.year = Some(&s[start..pos]);
                }
                b'M' => out.month = Some(digits(&mut pos, 2)?),
                b'D' => out.day = Some(digits(&mut pos, 2)?),
                b'h' => out.hour = Some(digits(&mut pos, 2)?),
                b'm' => out.minute = Some(digits(&mut pos, 2)?),
                b's' => {
                    out.second = Some(digits(&mut pos, 2)?);
                    if b.get(pos) == Some(&b'.') {
                        let n = b[pos + 1..]
                            .iter()
                            .take_while(|c| c.is_ascii_digit())
                            .count();
                        out.fraction = Some(&s[pos..pos + 1 + n]);
                        pos += 1 + n;
                    }
                }
                b'z' => {
                    let start = pos;
                    match b.get(pos) {
                        Some(b'Z') => pos += 1,
                        Some(b'+' | b'-') => {
                            pos += 1;
                            digits(&mut pos, 2)?;
                            if b.get(pos) != Some(&b':') {
                                return None;
                            }
                            pos += 1;
                            digits(&mut pos, 2)?;
                        }
                        _ => {}
                    }
                    out.zone = &s[start..pos];
                }
                literal => {
                    if b.get(pos) != Some(&literal) {
                        return None;
                    }
                    pos += 1;
                }
            }
        }
        (pos == b.len()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_jaxb_reads_them() {
        for (text, want) in [
            ("true", Some(true)),
            ("1", Some(true)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("  true \n", Some(true)),
            ("", None),
            (" ", Some(false)),
            ("x", Some(false)),
            ("yes", None),
            ("tru", None),
            ("truex", None),
            ("TRUE", None),
            ("1 1", None),
        ] {
            assert_eq!(parse_boolean(text), want, "{text:?}");
        }
    }

    #[test]
    fn numbers_as_jaxb_reads_them() {
        assert_eq!(parse_long(" 42 "), Some(42));
        assert_eq!(parse_long("+42"), Some(42));
        assert_eq!(parse_long("++42"), Some(42));
        assert_eq!(parse_long(""), None);
        assert_eq!(parse_long("   "), None);
        assert_eq!(parse_long("4 2"), None);
        assert_eq!(parse_int(""), Some(0));
        assert_eq!(parse_int(" 4 2 "), Some(42));
        assert_eq!(parse_int("4-2"), Some(-42));
        assert_eq!(parse_int("4x"), None);
        assert_eq!(parse_double(" 2.5 "), Some(2.5));
        assert_eq!(parse_double("1e3"), Some(1000.0));
        assert_eq!(parse_double(".5"), Some(0.5));
        assert_eq!(parse_double("INF"), Some(f64::INFINITY));
        assert_eq!(parse_double("+INF"), None);
        assert_eq!(parse_double("inf"), None);
        assert_eq!(parse_double(""), None);
        assert_eq!(parse_double("1.5f"), None);
    }

    #[test]
    fn every_xml_calendar_form_becomes_an_instant() {
        for (text, want) in [
            ("2019-12-31", "2019-12-31T00:00:00"),
            (" 2019-12-31\n", "2019-12-31T00:00:00"),
            ("2019-12-31Z", "2019-12-31T00:00:00Z"),
            ("2019-12-31+02:00", "2019-12-31T00:00:00+02:00"),
            ("2019-12-31-05:00", "2019-12-31T00:00:00-05:00"),
            ("2019-12", "2019-12-01T00:00:00"),
            ("2019", "2019-01-01T00:00:00"),
            ("10:15:30", "1970-01-01T10:15:30"),
            ("10:15:30.5Z", "1970-01-01T10:15:30.5Z"),
            ("--12-31", "1970-12-31T00:00:00"),
            ("--12", "1970-12-01T00:00:00"),
            ("---31", "1970-01-31T00:00:00"),
            (
                "2019-12-31T10:15:30.123+01:00",
                "2019-12-31T10:15:30.123+01:00",
            ),
        ] {
            let got = parse_date_time(text).unwrap_or_else(|| panic!("{text:?} refused"));
            assert_eq!(got.to_string(), want, "{text:?}");
        }
        for text in [
            "",
            "   ",
            "yesterday",
            "2019-13-01",
            "2019-02-30",
            "2019-12-31 10:00:00",
            "19-12-31",
            "2019-12-31T10:15",
            "2019-12-31+2:00",
        ] {
            assert_eq!(parse_date_time(text), None, "{text:?}");
        }
    }
}
