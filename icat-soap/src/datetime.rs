//! Lossless `xs:dateTime`: keeps the time-zone offset and the fractional-second digits exactly as the
//! server wrote them, so a value read from the wire prints back byte for byte.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::calendar::{civil_from_days, days_from_civil, days_in_month};

/// Most fractional-second digits kept (a `u64` holds 18 decimal digits without loss).
const MAX_FRACTION_DIGITS: u8 = 18;

/// The time-zone part of an `xs:dateTime`, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Offset {
    /// No zone given (a "local" time). Treated as UTC when an instant is needed.
    None,
    /// `Z`.
    Utc,
    /// `+hh:mm` or `-hh:mm`, as signed minutes east of UTC (`+00:00` is kept apart from `Z`).
    Minutes(i16),
}

/// An `xs:dateTime` value that round-trips its lexical form.
///
/// Equality and hashing compare the lexical form (`...Z` and `...+00:00` differ), while ordering
/// compares the instant first and the lexical form only to break ties, so `Ord` agrees with `Eq`.
/// Values without a zone are taken as UTC when compared or converted to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// The fractional digits as an integer (`.0120` is 120 with 4 digits).
    fraction: u64,
    /// How many fractional digits were written (0 = no fraction part).
    fraction_digits: u8,
    offset: Offset,
}

/// Why a string is not a valid `xs:dateTime`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid xs:dateTime {input:?}: {reason} (expected e.g. 2024-03-01T10:15:30.123+01:00)")]
pub struct DateTimeError {
    input: String,
    reason: &'static str,
}

impl DateTimeError {
    fn new(input: &str, reason: &'static str) -> Self {
        // Keep error messages bounded even for hostile input.
        let input: String = input.chars().take(64).collect();
        DateTimeError { input, reason }
    }

    /// A valid value that another library cannot hold (`why` says which).
    #[cfg_attr(not(any(feature = "jiff", feature = "chrono")), allow(dead_code))]
    pub(crate) fn out_of_range(value: &DateTime, why: &'static str) -> Self {
        DateTimeError::new(&value.to_string(), why)
    }

    /// What is wrong with the input.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// A cursor over the ASCII bytes of a dateTime literal.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.pos += n;
        Some(v)
    }

    /// Counts the ASCII digits starting at the cursor.
    fn run_of_digits(&self) -> usize {
        self.bytes[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }
}

impl DateTime {
    /// Parses an `xs:dateTime` literal such as `2024-03-01T10:15:30.123+01:00`, `2024-03-01T10:15:30Z`
    /// or `2024-03-01T10:15:30` (no zone). Surrounding XML whitespace is ignored.
    ///
    /// A date alone (`2024-01-01`, or with a zone as `xs:date` allows: `2024-01-01Z`,
    /// `2024-01-01+02:00`) is the start of that day: `2024-01-01T00:00:00` with the same zone.
    /// Dates that do not exist are refused.
    ///
    /// ```
    /// use icat_soap::DateTime;
    /// assert_eq!(DateTime::parse("2024-01-01")?, DateTime::parse("2024-01-01T00:00:00")?);
    /// assert_eq!(DateTime::parse("2024-01-01Z")?.to_string(), "2024-01-01T00:00:00Z");
    /// assert!(DateTime::parse("2024-02-30").is_err());
    /// # Ok::<(), icat_soap::DateTimeError>(())
    /// ```
    pub fn parse(input: &str) -> Result<DateTime, DateTimeError> {
        let s = input.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        let err = |reason| DateTimeError::new(input, reason);
        let mut c = Cursor {
            bytes: s.as_bytes(),
            pos: 0,
        };

        let negative = c.expect(b'-');
        let year_len = c.run_of_digits();
        if year_len < 4 {
            return Err(err("the year needs at least four digits"));
        }
        if year_len > 4 && c.bytes[c.pos] == b'0' {
            return Err(err("a year of more than four digits cannot start with 0"));
        }
        if year_len > 6 {
            return Err(err("the year is out of range"));
        }
        let year = c.digits(year_len).ok_or_else(|| err("bad year"))? as i32;
        let year = if negative { -year } else { year };
        if year == 0 && negative {
            return Err(err("the year -0000 is not allowed"));
        }
        if !c.expect(b'-') {
            return Err(err("expected '-' after the year"));
        }
        let month = c.digits(2).ok_or_else(|| err("bad month"))? as u8;
        if !(1..=12).contains(&month) {
            return Err(err("the month must be 01-12"));
        }
        if !c.expect(b'-') {
            return Err(err("expected '-' after the month"));
        }
        let day = c.digits(2).ok_or_else(|| err("bad day"))? as u8;
        if day == 0 || day > days_in_month(i64::from(year), month) {
            return Err(err("the day does not exist in that month"));
        }
        // A date alone (nothing, or a zone, after the day) is the start of that day.
        let date_only = matches!(c.peek(), None | Some(b'Z' | b'+' | b'-'));
        if !date_only && !c.expect(b'T') {
            return Err(err("expected 'T' between date and time"));
        }
        let (hour, minute, second) = if date_only {
            (0, 0, 0)
        } else {
            let hour = c.digits(2).ok_or_else(|| err("bad hour"))? as u8;
            if !c.expect(b':') {
                return Err(err("expected ':' after the hour"));
            }
            let minute = c.digits(2).ok_or_else(|| err("bad minute"))? as u8;
            if !c.expect(b':') {
                return Err(err("expected ':' after the minute"));
            }
            let second = c.digits(2).ok_or_else(|| err("bad second"))? as u8;
            (hour, minute, second)
        };
        let (mut fraction, mut fraction_digits) = (0u64, 0u8);
        if !date_only && c.expect(b'.') {
            let n = c.run_of_digits();
            if n == 0 {
                return Err(err("expected digits after '.'"));
            }
            if n > usize::from(MAX_FRACTION_DIGITS) {
                return Err(err("more than 18 fractional-second digits"));
            }
            for &b in &c.bytes[c.pos..c.pos + n] {
                fraction = fraction * 10 + u64::from(b - b'0');
            }
            c.pos += n;
            fraction_digits = n as u8;
        }
        if minute > 59 || second > 59 {
            return Err(err("minutes and seconds must be 00-59"));
        }
        if hour > 24 || (hour == 24 && (minute != 0 || second != 0 || fraction != 0)) {
            return Err(err("the hour must be 00-23 (or 24:00:00 exactly)"));
        }
        let offset = match c.peek() {
            None => Offset::None,
            Some(b'Z') => {
                c.pos += 1;
                Offset::Utc
            }
            Some(sign @ (b'+' | b'-')) => {
                c.pos += 1;
                let oh = c.digits(2).ok_or_else(|| err("bad offset hours"))?;
                if !c.expect(b':') {
                    return Err(err("expected ':' in the zone offset"));
                }
                let om = c.digits(2).ok_or_else(|| err("bad offset minutes"))?;
                if om > 59 || oh > 14 || (oh == 14 && om != 0) {
                    return Err(err("the zone offset must be within -14:00..+14:00"));
                }
                let minutes = (oh * 60 + om) as i16;
                Offset::Minutes(if sign == b'-' { -minutes } else { minutes })
            }
            Some(_) => return Err(err("unexpected character after the time")),
        };
        if c.pos != c.bytes.len() {
            return Err(err("unexpected characters after the zone"));
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            fraction,
            fraction_digits,
            offset,
        })
    }

    /// Parses a date (`2024-01-31`, read as midnight with no zone) or anything [`DateTime::parse`]
    /// accepts. For query values and user input; the wire format always has a time.
    ///
    /// ```
    /// let d = icat_soap::DateTime::parse_date_or_date_time("2024-01-31")?;
    /// assert_eq!(d.to_string(), "2024-01-31T00:00:00");
    /// # Ok::<(), icat_soap::DateTimeError>(())
    /// ```
    pub fn parse_date_or_date_time(input: &str) -> Result<DateTime, DateTimeError> {
        let trimmed = input.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if trimmed.len() <= 11 && !trimmed.contains('T') {
            let mut dt = DateTime::parse(&format!("{trimmed}T00:00:00"))
                .map_err(|e| DateTimeError::new(input, e.reason()))?;
            dt.offset = Offset::None;
            return Ok(dt);
        }
        DateTime::parse(input)
    }

    /// The instant `t` in UTC, with millisecond precision.
    pub fn from_system_time(t: std::time::SystemTime) -> DateTime {
        let millis = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        DateTime::from_unix_millis(millis)
    }

    /// The UTC instant `millis` milliseconds after 1970-01-01T00:00:00Z, written with `Z` and with
    /// three fractional digits only when the milliseconds are non-zero (as ICAT's server does).
    pub fn from_unix_millis(millis: i64) -> DateTime {
        let secs = millis.div_euclid(1000);
        let ms = millis.rem_euclid(1000) as u64;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            // i64 millis span about ±292 million years; clamp keeps the type total.
            year: year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            month,
            day,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            fraction: ms,
            fraction_digits: if ms == 0 { 0 } else { 3 },
            offset: Offset::Utc,
        }
    }

    /// The UTC instant `secs` seconds and `nanos` (below 1e9) nanoseconds after the Unix epoch,
    /// written with `Z` and as many fractional digits as the nanoseconds need (0, 3, 6 or 9).
    #[cfg_attr(not(any(feature = "jiff", feature = "chrono")), allow(dead_code))]
    pub(crate) fn from_unix_nanos(secs: i64, nanos: u32) -> DateTime {
        let mut dt = DateTime::from_unix_millis(secs.saturating_mul(1000));
        let nanos = u64::from(nanos.min(999_999_999));
        (dt.fraction, dt.fraction_digits) = match nanos {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
            n if n % 1_000 == 0 => (n / 1_000, 6),
            n => (n, 9),
        };
        dt
    }

    /// The instant as (seconds since the Unix epoch, nanoseconds 0..1e9); a value without a zone
    /// is taken as UTC.
    #[cfg_attr(not(any(feature = "jiff", feature = "chrono")), allow(dead_code))]
    pub(crate) fn unix_seconds_nanos(&self) -> (i64, u32) {
        self.instant()
    }

    /// The current time, in UTC with millisecond precision.
    pub fn now_utc() -> DateTime {
        DateTime::from_system_time(std::time::SystemTime::now())
    }

    /// The instant as milliseconds since the Unix epoch (rounded down; a value without a zone is
    /// taken as UTC).
    pub fn to_unix_millis(&self) -> i64 {
        let (secs, nanos) = self.instant();
        secs.saturating_mul(1000)
            .saturating_add(i64::from(nanos / 1_000_000))
    }

    /// The instant as (seconds since the epoch, nanoseconds 0..1e9).
    fn instant(&self) -> (i64, u32) {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let offset_secs = match self.offset {
            Offset::Minutes(m) => i64::from(m) * 60,
            Offset::None | Offset::Utc => 0,
        };
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - offset_secs;
        (secs, self.nanos())
    }

    /// The fractional second in nanoseconds (digits beyond the ninth are dropped).
    fn nanos(&self) -> u32 {
        let d = u32::from(self.fraction_digits);
        if d <= 9 {
            (self.fraction * 10u64.pow(9 - d)) as u32
        } else {
            (self.fraction / 10u64.pow(d - 9)) as u32
        }
    }

    /// The zone as written.
    pub fn offset(&self) -> Offset {
        self.offset
    }

    /// The year (negative for BCE, as in XSD 1.0 without a year zero).
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0-24 (24 only as `24:00:00`).
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The whole second, 0-59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The fractional second in nanoseconds.
    pub fn nanosecond(&self) -> u32 {
        self.nanos()
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}", self.year.unsigned_abs())?;
        } else {
            write!(f, "{:04}", self.year)?;
        }
        write!(
            f,
            "-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.fraction_digits > 0 {
            write!(
                f,
                ".{:0width$}",
                self.fraction,
                width = usize::from(self.fraction_digits)
            )?;
        }
        match self.offset {
            Offset::None => Ok(()),
            Offset::Utc => f.write_str("Z"),
            Offset::Minutes(m) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
        }
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse(s)
    }
}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    /// By instant; equal instants written differently are ordered by their lexical parts.
    fn cmp(&self, other: &Self) -> Ordering {
        self.instant()
            .cmp(&other.instant())
            .then_with(|| self.offset.cmp(&other.offset))
            .then_with(|| self.fraction_digits.cmp(&other.fraction_digits))
            .then_with(|| self.fraction.cmp(&other.fraction))
            .then_with(|| {
                (self.year, self.month, self.day, self.hour, self.minute).cmp(&(
                    other.year,
                    other.month,
                    other.day,
                    other.hour,
                    other.minute,
                ))
            })
            .then_with(|| self.second.cmp(&other.second))
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an xs:dateTime string such as 2024-03-01T10:15:30.123Z")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DateTime, E> {
                DateTime::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18: `DateTime::parse("2024-01-01")` failed; a date alone is the start of the day.
    #[test]
    fn a_date_alone_is_the_start_of_that_day() {
        for (date, full) in [
            ("2024-01-01", "2024-01-01T00:00:00"),
            ("2024-01-01Z", "2024-01-01T00:00:00Z"),
            ("2024-02-29+02:00", "2024-02-29T00:00:00+02:00"),
            (" 2024-12-31\n", "2024-12-31T00:00:00"),
        ] {
            let parsed = DateTime::parse(date).expect(date);
            assert_eq!(parsed, DateTime::parse(full).expect(full), "{date}");
            assert_eq!(parsed.to_string(), full);
        }
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "2024-01-01T",
            "2024-01-01x",
            "2024-01-01.5",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_lexical_forms() {
        for s in [
            "2024-03-01T10:15:30.123+01:00",
            "2024-03-01T10:15:30Z",
            "2024-03-01T10:15:30+00:00",
            "2024-03-01T10:15:30",
            "2024-03-01T10:15:30.120Z",
            "2024-03-01T10:15:30.000000001-05:30",
            "1969-12-31T23:59:59.999Z",
            "-0044-03-15T12:00:00Z",
            "12024-01-01T00:00:00Z",
            "2024-02-29T24:00:00Z",
        ] {
            let dt = DateTime::parse(s).unwrap();
            assert_eq!(dt.to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_input() {
        for s in [
            "",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-03-01T25:00:00Z",
            "2024-03-01T24:00:01Z",
            "2024-03-01T10:15:60Z",
            "2024-03-01T10:15:30.Z",
            "2024-03-01T10:15:30+1:00",
            "2024-03-01T10:15:30+15:00",
            "2024-03-01T10:15:30Zjunk",
            "24-03-01T10:15:30Z",
            "2024-03-01 10:15:30Z",
            "2024-03-01T10:15:30.1234567890123456789Z",
            "２０２４-03-01T10:15:30Z",
        ] {
            assert!(DateTime::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn unix_millis_round_trip_and_format() {
        let dt = DateTime::from_unix_millis(1_709_288_130_123);
        assert_eq!(dt.to_string(), "2024-03-01T10:15:30.123Z");
        assert_eq!(dt.to_unix_millis(), 1_709_288_130_123);
        let dt = DateTime::from_unix_millis(1_709_288_130_000);
        assert_eq!(dt.to_string(), "2024-03-01T10:15:30Z");
        let dt = DateTime::from_unix_millis(-1);
        assert_eq!(dt.to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(dt.to_unix_millis(), -1);
        for ms in [
            0i64,
            1,
            999,
            86_399_999,
            951_782_400_000,
            -62_135_596_800_000,
        ] {
            assert_eq!(DateTime::from_unix_millis(ms).to_unix_millis(), ms);
        }
    }

    #[test]
    fn offsets_shift_the_instant() {
        let a = DateTime::parse("2024-03-01T10:15:30.123+01:00").unwrap();
        let b = DateTime::parse("2024-03-01T09:15:30.123Z").unwrap();
        assert_eq!(a.to_unix_millis(), b.to_unix_millis());
        assert_ne!(a, b);
        assert_ne!(a.cmp(&b), Ordering::Equal);
        let later = DateTime::parse("2024-03-01T09:15:30.124Z").unwrap();
        assert!(a < later && b < later);
        let c = DateTime::parse("2024-03-01T10:15:30-00:30").unwrap();
        assert_eq!(c.to_unix_millis(), 1_709_289_930_000);
    }

    #[test]
    fn serde_is_the_string() {
        let dt = DateTime::parse("2024-03-01T10:15:30.5+02:00").unwrap();
        let json = serde_json::to_string(&dt).unwrap();
        assert_eq!(json, "\"2024-03-01T10:15:30.5+02:00\"");
        let back: DateTime = serde_json::from_str(&json).unwrap();
        assert_eq!(back, dt);
        assert!(serde_json::from_str::<DateTime>("\"yesterday\"").is_err());
    }

    #[test]
    fn now_is_recent_and_utc() {
        let now = DateTime::now_utc();
        assert_eq!(now.offset(), Offset::Utc);
        assert!(now.to_unix_millis() > 1_700_000_000_000);
    }
}
