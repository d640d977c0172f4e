//! Durations as the user writes them on the command line and in the config file: `500ms`, `30s`,
//! `1.5m`, `2h`; a bare number is seconds.

use std::time::Duration;

/// Parses a duration such as `1500ms`, `2s`, `1.5s`, `3m` or `1h` (a bare number means seconds).
///
/// The error says what was wrong and what to write instead; values too large for a duration,
/// negative or not finite are refused, never a panic.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(value) = number.parse::<f64>() else {
        return Err(format!(
            "'{text}' is not a duration like 500ms, 2s, 1.5m or 1h"
        ));
    };
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' in '{text}' (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        format!("'{text}' is out of range for a duration; use a value such as 30s or 10m")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 1.5s "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_text_is_an_error_that_says_what_to_write() {
        assert!(parse_duration("soon").unwrap_err().contains("500ms"));
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("use ms, s, m or h")
        );
        assert!(
            parse_duration("-5s")
                .unwrap_err()
                .contains("not a duration")
        );
        let huge = parse_duration("100000000000000000000000").unwrap_err();
        assert!(huge.contains("out of range"), "{huge}");
    }
}
