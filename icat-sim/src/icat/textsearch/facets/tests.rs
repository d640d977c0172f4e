//! Range bounds read as icat.lucene reads them (`SearchBucket.parseDimensions`).

use serde_json::json;

use super::{FKind, long_value_exact, range_labels};
use crate::icat::error::IcatErrorKind;

#[test]
fn long_range_bounds_accept_whole_numbers_written_with_a_fraction() {
    // DataGateway and scripts write 0.0 or 1e6 for a size bound: longValueExact reads them.
    let ranges = [
        json!({"key": "small", "from": 0.0, "to": 1e6}),
        json!({"from": 1_000_000, "to": 2.0e9}),
    ];
    let sizes = [0_i64, 10, 999_999, 1_000_000, 3_000_000_000];
    let values: Vec<f64> = sizes.iter().map(|v| *v as f64).collect();
    let labels = range_labels(FKind::Long, &ranges, &values, &sizes).unwrap();
    let counts: Vec<(&str, i64)> = labels.iter().map(|l| (l.label.as_str(), l.count)).collect();
    assert_eq!(counts, [("small", 3), ("1000000-2000000000", 1)]);
    assert_eq!(labels[0].range, Some((json!(0), json!(999_999))));

    assert_eq!(long_value_exact(&json!(0.0)).unwrap(), 0);
    assert_eq!(long_value_exact(&json!(-5)).unwrap(), -5);
    // A fraction cannot be a long: ArithmeticException, INTERNAL from icat.server.
    let e = long_value_exact(&json!(1.5)).unwrap_err();
    assert_eq!(e.kind, IcatErrorKind::Internal);
    assert!(e.message.contains("Rounding necessary"), "{}", e.message);
    let e = long_value_exact(&json!(1e300)).unwrap_err();
    assert!(e.message.contains("Overflow"), "{}", e.message);
    // Double fields keep fractions.
    let d = range_labels(
        FKind::Double,
        &[json!({"from": 0.0, "to": 0.5})],
        &[0.25, 0.5],
        &[],
    )
    .unwrap();
    assert_eq!(d[0].count, 1);
}
