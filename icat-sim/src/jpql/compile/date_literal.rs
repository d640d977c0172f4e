//! A string literal compared with a date attribute (`o.startDate < '2011-01-01'`).
//!
//! icat.server does not look at such a comparison: `SearchQuery.getJPQL` hands the JPQL to
//! EclipseLink, which passes the literal to the database next to the TIMESTAMP column. The
//! database ICAT is deployed on and python-icat's test servers run (MySQL/MariaDB) then converts
//! the constant to a DATETIME before comparing ("If one of the arguments is a TIMESTAMP or
//! DATETIME column and the other argument is a constant, the constant is converted to a timestamp
//! before the comparison is performed", MySQL manual, "Type Conversion in Expression
//! Evaluation"). The column holds the server's local time, which for the simulator is UTC, so the
//! literal is read as UTC.
//!
//! MySQL's DATETIME literal forms taken here: `YYYY-MM-DD`, `YYYY-MM-DD hh:mm:ss[.fraction]`
//! with `T` or a space before the time, any punctuation as the delimiter inside the date or the
//! time, one-digit month, day, hour, minute and second, and the unbroken `YYYYMMDD` and
//! `YYYYMMDDhhmmss`. A string that is no date in these forms gives `None`.

use icat_soap::calendar;

/// Milliseconds since the epoch (UTC) of a MySQL DATETIME literal.
pub fn mysql_datetime_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_start())),
        None => (s, None),
    };
    let (y, mo, d, time) = if date.len() >= 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| date[r].parse::<u32>().ok();
        match date.len() {
            8 => (n(0..4)?, n(4..6)?, n(6..8)?, time.map(TimeText::Delimited)),
            14 if time.is_none() => (
                n(0..4)?,
                n(4..6)?,
                n(6..8)?,
                Some(TimeText::Unbroken(&date[8..])),
            ),
            _ => return None,
        }
    } else {
        let parts = split_delimited(date)?;
        let [y, mo, d] = parts[..] else { return None };
        if date.split(|c: char| c.is_ascii_punctuation()).next()?.len() != 4 {
            return None;
        }
        (y, mo, d, time.map(TimeText::Delimited))
    };
    let (h, mi, sec, millis) = match time {
        None => (0, 0, 0, 0),
        Some(TimeText::Unbroken(t)) => {
            let n = |r: std::ops::Range<usize>| t[r].parse::<u32>().ok();
            (n(0..2)?, n(2..4)?, n(4..6)?, 0)
        }
        Some(TimeText::Delimited(t)) => {
            let (hms, frac) = match t.split_once('.') {
                Some((hms, frac)) => (hms, Some(frac)),
                None => (t, None),
            };
            let parts = split_delimited(hms)?;
            let (h, mi, sec) = match parts[..] {
                [h] => (h, 0, 0),
                [h, mi] => (h, mi, 0),
                [h, mi, sec] => (h, mi, sec),
                _ => return None,
            };
            let millis = match frac {
                None => 0,
                Some(f)
                    if !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("{f:0<3}")[..3].parse::<u32>().ok()?
                }
                Some(_) => return None,
            };
            (h, mi, sec, millis)
        }
    };
    let (Ok(mo), Ok(d)) = (u8::try_from(mo), u8::try_from(d)) else {
        return None;
    };
    if !calendar::is_valid_date(i64::from(y), mo, d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = calendar::days_from_civil(i64::from(y), mo, d);
    Some(
        ((days * 24 + i64::from(h)) * 60 + i64::from(mi)) * 60_000
            + i64::from(sec) * 1000
            + i64::from(millis),
    )
}

enum TimeText<'a> {
    Delimited(&'a str),
    Unbroken(&'a str),
}

/// Numbers of one or two digits (four for a year) separated by single punctuation characters.
fn split_delimited(s: &str) -> Option<Vec<u32>> {
    s.split(|c: char| c.is_ascii_punctuation())
        .map(|p| {
            (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mysql_datetime_millis as m;

    #[test]
    fn mysql_datetime_literal_forms() {
        let day = 1_325_376_000_000; // 2012-01-01T00:00:00Z
        assert_eq!(m("2012-01-01"), Some(day));
        assert_eq!(m("2012-1-1"), Some(day));
        assert_eq!(m("2012/01/01"), Some(day));
        assert_eq!(m("20120101"), Some(day));
        assert_eq!(m("2012-01-01 00:00:01"), Some(day + 1000));
        assert_eq!(m("2012-01-01T00:00:01.5"), Some(day + 1500));
        assert_eq!(m("2012-01-01 1:2:3"), Some(day + 3_723_000));
        assert_eq!(m("20120101000001"), Some(day + 1000));
        assert_eq!(m("1969-12-31 23:59:59"), Some(-1000));
        for bad in [
            "",
            "yesterday",
            "2012-13-01",
            "2011-02-29",
            "2012-01",
            "12-01-01",
            "2012-01-01 25:00",
            "2012-01-01x",
        ] {
            assert_eq!(m(bad), None, "{bad:?}");
        }
    }
}
