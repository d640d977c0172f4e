//! Hostile SOAP input, the bounded property-based twins of the `soap_response` and `soap_fault`
//! fuzz targets: arbitrary and mutated bytes never panic, whatever decodes re-encodes to the same
//! value, faults with any text survive `write_fault` -> read, external entities and deeply
//! nested known elements are refused.

use icat_soap::envelope::{SoapError, SoapFault};
use icat_soap::envelope::{
    read_request_envelope, read_response_envelope, write_fault, write_request_envelope,
    write_response_envelope,
};
use icat_soap::model::{IcatException, IcatExceptionType};
use icat_soap::ops::{GetResponse, LoginResponse, Request, SearchResponse};
use icat_soap::xml::{SoapBody, XmlError};
use proptest::prelude::*;

const SEARCH: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:searchResponse xmlns:ns2="http://icatproject.org" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"><return xsi:type="ns2:dataset"><id>3</id><name>d&amp;1</name><complete>false</complete><investigation><id>1</id><facility><id>2</id><name>ISIS</name></facility></investigation><datafiles><id>4</id><name>f</name><fileSize>10</fileSize><datafileCreateTime>2024-03-01T10:15:30.123+01:00</datafileCreateTime></datafiles></return><return xsi:type="xs:long">12</return><return xsi:type="xs:double">1.5E3</return><return xsi:type="xs:string">a b</return></ns2:searchResponse></S:Body></S:Envelope>"#;

const LOGIN_REQUEST: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:icat="http://icatproject.org"><soapenv:Body><icat:login><plugin>db</plugin><credentials><entry><key>username</key><value>root</value></entry><entry><key>password</key><value>x</value></entry></credentials></icat:login></soapenv:Body></soapenv:Envelope>"#;

/// The re-encoded form of a decoded value must decode again, to the same value. The one known
/// exception: the reader accepts C0 control characters XML 1.0 forbids and the writer replaces
/// them with U+FFFD, so for such values only a fixpoint is required (encoding the re-decoded
/// value gives the same document).
fn check_stable<T: std::fmt::Debug, E: std::fmt::Display>(
    v: &T,
    again: &str,
    read: impl Fn(&[u8]) -> Result<T, E>,
    write: impl Fn(&T) -> String,
) -> Result<(), TestCaseError> {
    match read(again.as_bytes()) {
        Ok(w) => {
            let shown = format!("{v:?}");
            if shown.contains("\\u{") || shown.contains("\\0") {
                prop_assert_eq!(write(&w), again);
            } else {
                prop_assert_eq!(shown, format!("{w:?}"), "{}", again);
            }
        }
        Err(e) => prop_assert!(false, "re-encoded does not decode: {}\n{}", e, again),
    }
    Ok(())
}

/// Decodes; when that succeeds the re-encoded value must decode to the same thing.
fn response_is_stable<B: SoapBody + std::fmt::Debug>(input: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = read_response_envelope::<B>(input) {
        let again = write_response_envelope(&v);
        check_stable(
            &v,
            &again,
            read_response_envelope::<B>,
            write_response_envelope,
        )?;
    }
    Ok(())
}

fn request_is_stable(input: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = read_request_envelope::<Request>(input) {
        let again = write_request_envelope(&v);
        check_stable(
            &v,
            &again,
            read_request_envelope::<Request>,
            write_request_envelope,
        )?;
    }
    Ok(())
}

/// A valid document with a few bytes overwritten, inserted or removed.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6).prop_map(
        move |edits| {
            let mut b = base.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let i = at.index(b.len());
                match kind {
                    0 => b[i] = byte,
                    1 => b.insert(i, byte),
                    _ => {
                        b.remove(i);
                    }
                }
            }
            b
        },
    )
}

fn fault_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        proptest::collection::vec(
            prop_oneof![
                Just("<"),
                Just("&"),
                Just("]]>"),
                Just("\""),
                Just("'"),
                Just(" "),
                Just("\r\n"),
                Just("\t"),
                Just("é"),
                Just("&amp;"),
                Just("Session id:5c3d0b8e has expired"),
            ],
            0..8
        )
        .prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        response_is_stable::<SearchResponse>(&input)?;
        response_is_stable::<GetResponse>(&input)?;
        request_is_stable(&input)?;
    }

    #[test]
    fn mutated_responses_decode_or_fail_cleanly(input in mutated(SEARCH)) {
        response_is_stable::<SearchResponse>(&input)?;
    }

    #[test]
    fn mutated_requests_decode_or_fail_cleanly(input in mutated(LOGIN_REQUEST)) {
        request_is_stable(&input)?;
    }

    #[test]
    fn faults_with_any_text_round_trip(
        code in fault_text(),
        message in fault_text(),
        icat in proptest::option::of((fault_text(), any::<i32>(), prop_oneof![
            Just(IcatExceptionType::Session),
            Just(IcatExceptionType::BadParameter),
            "X[A-Z_]{1,20}".prop_map(|s| IcatExceptionType::from_wire(&s)),
        ])),
    ) {
        let fault = SoapFault {
            // faultcode is a QName: surrounding whitespace is not part of it.
            code: code.trim().to_owned(),
            message,
            icat: icat.map(|(m, offset, t)| IcatException {
                message: Some(m),
                offset,
                type_: Some(t),
            }),
        };
        let text = write_fault(&fault);
        match read_response_envelope::<LoginResponse>(text.as_bytes()) {
            Err(SoapError::Fault(back)) => prop_assert_eq!(&fault, back.as_ref(), "{}", text),
            other => prop_assert!(false, "{:?}\n{}", other, text),
        }
    }
}

#[test]
fn external_entities_are_refused() {
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        SEARCH.replace("ISIS", "&xxe;")
    );
    let err = read_response_envelope::<SearchResponse>(xxe.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::Doctype { .. })),
        "{err}"
    );
    let late = SEARCH.replace("<S:Body>", "<S:Body><!DOCTYPE x>");
    assert!(read_response_envelope::<SearchResponse>(late.as_bytes()).is_err());
}

/// Nesting through elements the decoder knows (dataset -> investigation -> datasets -> ...)
/// recurses in the generated decoders: the depth bound must stop it before the stack does.
#[test]
fn deeply_nested_known_elements_are_bounded() {
    let levels = 5_000;
    let open = "<investigation><datasets>".repeat(levels);
    let close = "</datasets></investigation>".repeat(levels);
    let body = SEARCH.replace(
        "<investigation><id>1</id>",
        &format!("{open}<investigation><id>1</id>"),
    );
    let body = body.replace(
        "</investigation><datafiles>",
        &format!("</investigation>{close}<datafiles>"),
    );
    let err = read_response_envelope::<SearchResponse>(body.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::TooDeep { .. })),
        "{err}"
    );
    // The same on the server side, through a request that carries an entity.
    let create = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:create xmlns:ns2="http://icatproject.org" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><sessionId>s</sessionId><bean xsi:type="ns2:dataset">{}<id>1</id>{}</bean></ns2:create></S:Body></S:Envelope>"#,
        "<investigation><datasets>".repeat(levels),
        "</datasets></investigation>".repeat(levels)
    );
    let err = read_request_envelope::<Request>(create.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SoapError::Xml(XmlError::TooDeep { .. })),
        "{err}"
    );
}
