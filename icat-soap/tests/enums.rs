//! Generated string enumerations: wire names map to their variants, `Unknown` never holds a known
//! value, `FromStr` accepts known values only and says which ones exist. (Enumerations every ICAT
//! schema since 4.2 has, so the tests compile with bindings regenerated for an older server.)

use icat_soap::model::{IcatExceptionType, ParameterValueType, StudyStatus};

#[test]
fn known_wire_values_become_their_variants() {
    for v in StudyStatus::VALUES {
        let parsed = StudyStatus::from_wire(v);
        assert!(
            !matches!(parsed, StudyStatus::Unknown(_)),
            "{v} became {parsed:?}"
        );
        assert_eq!(parsed.as_str(), *v);
    }
    assert_eq!(StudyStatus::from_wire("NEW"), StudyStatus::New);
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
    let from_json: StudyStatus = serde_json::from_str("\"COMPLETE\"").unwrap();
    assert_eq!(from_json, StudyStatus::Complete);
}

#[test]
fn from_str_accepts_known_values_only() {
    assert_eq!(
        "NUMERIC".parse::<ParameterValueType>(),
        Ok(ParameterValueType::Numeric)
    );
    let err = "new".parse::<StudyStatus>().unwrap_err();
    assert_eq!(err.enum_name, "StudyStatus");
    assert_eq!(err.value, "new");
    let message = err.to_string();
    assert!(
        message.contains("NEW, IN_PROGRESS, COMPLETE, CANCELLED"),
        "{message}"
    );
}
