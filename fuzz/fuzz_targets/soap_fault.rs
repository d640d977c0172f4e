//! SOAP fault parsing: arbitrary content inside `<S:Fault>` (faultcode, faultstring, detail with an
//! `IcatException`). Never a panic; a parsed fault written back with `write_fault` parses the same,
//! and its `IcatError` mapping works for any type and message.
#![no_main]

use icat_soap::IcatError;
use icat_soap::envelope::SoapError;
use icat_soap::envelope::{read_response_envelope, write_fault};
use icat_soap::ops::LoginResponse;
use libfuzzer_sys::fuzz_target;

const HEAD: &str = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault xmlns:ns4="http://www.w3.org/2003/05/soap-envelope">"#;
const TAIL: &str = "</S:Fault></S:Body></S:Envelope>";

fuzz_target!(|data: &[u8]| {
    let mut input = Vec::with_capacity(HEAD.len() + data.len() + TAIL.len());
    input.extend_from_slice(HEAD.as_bytes());
    input.extend_from_slice(data);
    input.extend_from_slice(TAIL.as_bytes());
    let Err(SoapError::Fault(fault)) = read_response_envelope::<LoginResponse>(&input) else {
        return;
    };
    if let Some(ex) = &fault.icat {
        let kind = ex.type_.as_ref().map_or("UNKNOWN", |t| t.as_str());
        let e = IcatError::from_fault(kind, ex.message.clone().unwrap_or_default(), ex.offset);
        let _ = (e.to_string(), e.is_session(), e.fault_offset());
    }
    let again = write_fault(&fault);
    match read_response_envelope::<LoginResponse>(again.as_bytes()) {
        // C0 control characters (accepted by the reader) come back as U+FFFD: a fixpoint then.
        Err(SoapError::Fault(back))
            if format!("{fault:?}").contains("\\u{") || format!("{fault:?}").contains("\\0") =>
        {
            assert_eq!(write_fault(&back), again)
        }
        Err(SoapError::Fault(back)) => assert_eq!(fault, back, "{again}"),
        other => panic!("re-encoded fault reads as {other:?}\n{again}"),
    }
});
