//! Durations as `sim.toml` and the command line write them: `500ms`, `2s`, `1.5m`, `1h`; a bare
//! number is seconds.

use std::time::Duration;

/// Why a duration such as `--read-timeout 2s` or `restoreDelay = "500ms"` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text does not start with a number.
    #[error("'{0}' is not a duration like 500ms, 2s, 1.5m or 1h")]
    NotADuration(String),
    /// The unit after the number is not one of ms, s, m, min or h.
    #[error("unknown duration unit '{unit}' in '{text}' (use ms, s, m or h)")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Negative, not finite, or too large for a duration (more than about 584 billion years).
    #[error("'{0}' is out of range for a duration; use a value such as 30s or 10m")]
    OutOfRange(String),
}

/// Parses a duration such as `1500ms`, `2s`, `1.5s`, `3m` or `1h` (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::NotADuration(text.to_owned()))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.to_owned(),
                text: text.to_owned(),
            });
        }
    };
    // try_from_secs_f64 refuses negative, non-finite and too large values instead of panicking.
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::OutOfRange(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn huge_durations_are_an_error_not_a_panic() {
        for text in ["100000000000000000000000", "1e400", "99999999999999999999h"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_duration("100000000000000000000000"),
            Err(DurationError::OutOfRange("100000000000000000000000".into()))
        );
    }
}
