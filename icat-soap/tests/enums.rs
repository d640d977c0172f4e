//! Generated string enumerations: wire names map to their variants, `Unknown` never holds a known
//! value, `FromStr` accepts known values only and says which ones exist.

use icat_soap::model::{AccessType, IcatExceptionType, ParameterValueType};

#[test]
fn known_wire_values_become_their_variants() {
    for v in AccessType::VALUES {
        let parsed = AccessType::from_wire(v);
        assert!(
            !matches!(parsed, AccessType::Unknown(_)),
            "{v} became {parsed:?}"
        );
        assert_eq!(parsed.as_str(), *v);
    }
    assert_eq!(AccessType::from_wire("READ"), AccessType::Read);
}

#[test]
fn unknown_keeps_a_new_value_as_written() {
    let v = IcatExceptionType::from_wire("RATE_LIMITED");
    let IcatExceptionType::Unknown(raw) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(raw.as_str(), "RATE_LIMITED");
    assert_eq!(v.to_string(), "RATE_LIMITED");
    // Serde reads through the same path, so a known value never lands in Unknown.
    let from_json: AccessType = serde_json::from_str("\"CREATE\"").unwrap();
    assert_eq!(from_json, AccessType::Create);
}

#[test]
fn from_str_accepts_known_values_only() {
    assert_eq!(
        "NUMERIC".parse::<ParameterValueType>(),
        Ok(ParameterValueType::Numeric)
    );
    let err = "read".parse::<AccessType>().unwrap_err();
    assert_eq!(err.enum_name, "AccessType");
    assert_eq!(err.value, "read");
    let message = err.to_string();
    assert!(
        message.contains("READ, UPDATE, DELETE, CREATE"),
        "{message}"
    );
}
