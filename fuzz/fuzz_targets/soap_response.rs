//! SOAP envelope decoding of untrusted bytes: the client's responses (search, get, login,
//! createMany, getEntityInfo, getProperties) and the simulator's request union. Never a panic;
//! whatever decodes must survive re-encoding and decoding unchanged.
#![no_main]

use icat_soap::envelope::{
    read_request_envelope, read_response_envelope, write_request_envelope, write_response_envelope,
};
use icat_soap::ops::{
    CreateManyResponse, GetEntityInfoResponse, GetPropertiesResponse, GetResponse, LoginResponse,
    Request, SearchResponse,
};
use icat_soap::xml::SoapBody;
use libfuzzer_sys::fuzz_target;

/// The re-encoded form of a decoded value must decode to the same value; for values holding
/// C0 control characters (accepted by the reader, replaced with U+FFFD by the writer) only a
/// fixpoint is required.
fn stable<T: std::fmt::Debug, E: std::fmt::Display>(
    v: &T,
    read: impl Fn(&[u8]) -> Result<T, E>,
    write: impl Fn(&T) -> String,
) {
    let again = write(v);
    match read(again.as_bytes()) {
        Ok(w) => {
            let shown = format!("{v:?}");
            if shown.contains("\\u{") || shown.contains("\\0") {
                assert_eq!(write(&w), again);
            } else {
                assert_eq!(shown, format!("{w:?}"), "{again}");
            }
        }
        Err(e) => panic!("re-encoded value does not decode: {e}\n{again}"),
    }
}

fn response<B: SoapBody + std::fmt::Debug>(input: &[u8]) {
    if let Ok(v) = read_response_envelope::<B>(input) {
        stable(&v, read_response_envelope::<B>, write_response_envelope);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => response::<SearchResponse>(input),
        1 => response::<GetResponse>(input),
        2 => response::<LoginResponse>(input),
        3 => response::<CreateManyResponse>(input),
        4 => response::<GetEntityInfoResponse>(input),
        5 => response::<GetPropertiesResponse>(input),
        _ => {
            if let Ok(v) = read_request_envelope::<Request>(input) {
                stable(&v, read_request_envelope::<Request>, write_request_envelope);
            }
        }
    }
});
