//! Conversions between [`DateTime`] and jiff's [`Timestamp`](jiff::Timestamp) (cargo feature `jiff`).

use crate::{DateTime, DateTimeError};

/// The UTC instant, exact to the nanosecond (`2024-03-01T09:15:30.5Z`).
///
/// ```
/// let ts: jiff::Timestamp = "2024-03-01T10:15:30.5+01:00".parse().unwrap();
/// let dt = icat_soap::DateTime::from(ts);
/// assert_eq!(dt.to_string(), "2024-03-01T09:15:30.500Z");
/// assert_eq!(jiff::Timestamp::try_from(dt).unwrap(), ts);
/// ```
impl From<jiff::Timestamp> for DateTime {
    fn from(ts: jiff::Timestamp) -> DateTime {
        let secs = ts.as_second();
        // jiff keeps a negative fraction for instants before the epoch.
        let nanos = ts.subsec_nanosecond();
        let (secs, nanos) = if nanos < 0 {
            (secs - 1, (1_000_000_000 + nanos) as u32)
        } else {
            (secs, nanos as u32)
        };
        DateTime::from_unix_nanos(secs, nanos)
    }
}

/// The same instant (a value without a zone is taken as UTC); an error for a year outside
/// jiff's range (-9999..=9999).
impl TryFrom<DateTime> for jiff::Timestamp {
    type Error = DateTimeError;

    fn try_from(dt: DateTime) -> Result<jiff::Timestamp, DateTimeError> {
        let (secs, nanos) = dt.unix_seconds_nanos();
        jiff::Timestamp::new(secs, nanos as i32)
            .map_err(|_| DateTimeError::out_of_range(&dt, "outside the years jiff can hold"))
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
            let ts: jiff::Timestamp = text.parse().unwrap();
            let dt = DateTime::from(ts);
            assert_eq!(jiff::Timestamp::try_from(dt).unwrap(), ts, "{text} -> {dt}");
            // The ICAT side reads the same instant.
            let parsed = DateTime::parse(text).unwrap();
            assert_eq!(parsed.to_unix_millis(), dt.to_unix_millis(), "{text}");
        }
        assert_eq!(
            DateTime::from(
                "1969-12-31T23:59:59.25Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
            )
            .to_string(),
            "1969-12-31T23:59:59.250Z"
        );
    }

    #[test]
    fn zone_less_values_are_utc_and_huge_years_are_refused() {
        let local = DateTime::parse("2024-01-02T03:04:05").unwrap();
        assert_eq!(
            jiff::Timestamp::try_from(local).unwrap().to_string(),
            "2024-01-02T03:04:05Z"
        );
        let far = DateTime::parse("12024-01-01T00:00:00Z").unwrap();
        let err = jiff::Timestamp::try_from(far).unwrap_err();
        assert!(err.to_string().contains("jiff"), "{err}");
    }
}
