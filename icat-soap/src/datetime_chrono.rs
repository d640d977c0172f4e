//! Conversions between [`DateTime`] and chrono's [`DateTime`](chrono::DateTime) (cargo feature
//! `chrono`).

use crate::{DateTime, DateTimeError};

/// The UTC instant, exact to the nanosecond, from a chrono date-time in any zone.
///
/// ```
/// use chrono::TimeZone;
/// let t = chrono::FixedOffset::east_opt(3600).unwrap()
///     .with_ymd_and_hms(2024, 3, 1, 10, 15, 30).unwrap();
/// let dt = icat_soap::DateTime::from(t);
/// assert_eq!(dt.to_string(), "2024-03-01T09:15:30Z");
/// assert_eq!(chrono::DateTime::<chrono::Utc>::try_from(dt).unwrap(), t);
/// ```
impl<Tz: chrono::TimeZone> From<chrono::DateTime<Tz>> for DateTime {
    fn from(t: chrono::DateTime<Tz>) -> DateTime {
        // A leap second (nanoseconds >= 1e9) is read as the last nanosecond of its second.
        DateTime::from_unix_nanos(t.timestamp(), t.timestamp_subsec_nanos().min(999_999_999))
    }
}

/// The same instant in UTC (a value without a zone is taken as UTC); an error for a year outside
/// chrono's range.
impl TryFrom<DateTime> for chrono::DateTime<chrono::Utc> {
    type Error = DateTimeError;

    fn try_from(dt: DateTime) -> Result<chrono::DateTime<chrono::Utc>, DateTimeError> {
        let (secs, nanos) = dt.unix_seconds_nanos();
        chrono::DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| DateTimeError::out_of_range(&dt, "outside the years chrono can hold"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_exactly() {
        for text in [
            "2024-03-01T10:15:30+01:00",
            "2024-03-01T09:15:30.123456789Z",
            "1969-12-31T23:59:59.25Z",
            "0001-01-01T00:00:00Z",
            "2024-02-29T23:59:59.000001-05:30",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
            let dt = DateTime::from(t);
            let back = chrono::DateTime::<chrono::Utc>::try_from(dt).unwrap();
            assert_eq!(back, t, "{text} -> {dt}");
            assert_eq!(
                DateTime::parse(text).unwrap().to_unix_millis(),
                dt.to_unix_millis(),
                "{text}"
            );
        }
    }

    #[test]
    fn zone_less_values_are_utc_and_huge_years_are_refused() {
        let local = DateTime::parse("2024-01-02T03:04:05").unwrap();
        assert_eq!(
            chrono::DateTime::<chrono::Utc>::try_from(local)
                .unwrap()
                .to_rfc3339(),
            "2024-01-02T03:04:05+00:00"
        );
        let far = DateTime::parse("999999-01-01T00:00:00Z").unwrap();
        let err = chrono::DateTime::<chrono::Utc>::try_from(far).unwrap_err();
        assert!(err.to_string().contains("chrono"), "{err}");
    }
}
