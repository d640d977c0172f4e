//! The one civil calendar of the workspace: leap years, month lengths, date validation and the
//! conversion between proleptic Gregorian dates and days since 1970-01-01.
//!
//! [`DateTime`](crate::DateTime) parses and prints `xs:dateTime` with it; the TLS layer reads
//! certificate validity with it; the simulator's JPQL timestamps and IDS file names use it too, so
//! `2024-02-30` is refused and `2024-02-29` accepted in the same way everywhere. The day-count
//! conversions are Howard Hinnant's era-based algorithms ("chrono-Compatible Low-Level Date
//! Algorithms"), exact for every `i64` year the arithmetic does not overflow.
//!
//! ```
//! use icat_soap::calendar;
//! assert!(calendar::is_valid_date(2024, 2, 29));
//! assert!(!calendar::is_valid_date(2023, 2, 29));
//! assert_eq!(calendar::days_from_civil(1970, 1, 1), 0);
//! assert_eq!(calendar::civil_from_days(19_782), (2024, 2, 29));
//! assert_eq!(calendar::unix_seconds(2000, 3, 1, 0, 0, 0), 951_868_800);
//! ```

/// True for a leap year of the proleptic Gregorian calendar (divisible by 4, except centuries not
/// divisible by 400).
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days of `month` (1-12) in `year`; 0 for a month outside 1-12.
pub fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// True when `year-month-day` exists (month 1-12, day 1 to the month's length).
pub fn is_valid_date(year: i64, month: u8, day: u8) -> bool {
    day >= 1 && day <= days_in_month(year, month)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before 1970). The date is not
/// checked: validate it with [`is_valid_date`] first.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01: the inverse
/// of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in range by construction: day 1-31, month 1-12.
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds since 1970-01-01T00:00:00Z of a UTC date and time (not checked; see
/// [`is_valid_date`]).
pub fn unix_seconds(year: i64, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> i64 {
    days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(-4));
        assert!(!is_leap_year(1900) && !is_leap_year(2023));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2024, 13), 0);
        assert!(!is_valid_date(2024, 2, 31) && !is_valid_date(2024, 4, 31));
        assert!(!is_valid_date(2024, 0, 1) && !is_valid_date(2024, 1, 0));
    }

    #[test]
    fn day_counts_round_trip_across_eras() {
        for days in (-1_000_000..1_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert!(is_valid_date(y, m, d), "{days}: {y}-{m}-{d}");
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
    }
}
