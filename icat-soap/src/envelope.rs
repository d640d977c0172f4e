//! SOAP 1.1 envelopes for both sides: the client writes requests and reads responses or faults, the
//! simulator reads requests and writes responses or faults carrying ICAT's `IcatException`.

use crate::model::{IcatException, TARGET_NAMESPACE};
use crate::xml::{
    NsKind, SOAP11_NS, SoapBody, StartEl, XmlDecode, XmlEncode, XmlError, XmlReader, XmlWriter,
};

/// A SOAP fault as received or to be sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SoapFault {
    /// `faultcode` as written, e.g. `S:Server` or `S:Client`.
    pub code: String,
    /// `faultstring`: the human-readable message.
    pub message: String,
    /// The ICAT exception in the `detail`, when present.
    pub icat: Option<IcatException>,
}

impl std::fmt::Display for SoapFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.icat {
            Some(e) => write!(
                f,
                "{} ({})",
                e.message.as_deref().unwrap_or(&self.message),
                e.type_.as_ref().map_or("unknown type", |t| t.as_str())
            ),
            None => write!(f, "{} ({})", self.message, self.code),
        }
    }
}

/// Why a SOAP message could not be turned into the expected value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SoapError {
    /// The XML is malformed or does not match the bindings.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The document is XML but not a SOAP 1.1 envelope.
    #[error(
        "not a SOAP 1.1 envelope: the root element is <{found}> (expected <Envelope> in {SOAP11_NS})"
    )]
    NotEnvelope {
        /// The root element's local name.
        found: String,
    },
    /// The envelope has no `Body` or the body is empty.
    #[error("the SOAP envelope has no body content")]
    EmptyBody,
    /// The server answered with a SOAP fault.
    #[error("SOAP fault: {0}")]
    Fault(Box<SoapFault>),
}

const ENVELOPE_START: &str =
    "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>";
const ENVELOPE_END: &str = "</S:Body></S:Envelope>";

/// Writes a complete envelope around `body`.
pub fn write_envelope<B: SoapBody>(body: &B) -> String {
    let mut w = XmlWriter::with_capacity(512);
    w.raw(ENVELOPE_START);
    body.encode_body(&mut w);
    w.raw(ENVELOPE_END);
    w.into_string()
}

/// Client side: the envelope for a request (`SearchRequest`, ...).
pub fn write_request_envelope<B: SoapBody>(request: &B) -> String {
    write_envelope(request)
}

/// Server side: the envelope for a response (`SearchResponse`, ...).
pub fn write_response_envelope<B: SoapBody>(response: &B) -> String {
    write_envelope(response)
}

/// Server side: a fault envelope (`faultcode`, `faultstring`, and the `IcatException` detail when set),
/// to be sent with HTTP status 500.
pub fn write_fault(fault: &SoapFault) -> String {
    let mut w = XmlWriter::with_capacity(512);
    w.raw(ENVELOPE_START);
    w.raw("<S:Fault>");
    w.start("faultcode");
    w.text(&fault.code);
    w.end("faultcode");
    w.start("faultstring");
    w.text(&fault.message);
    w.end("faultstring");
    if let Some(e) = &fault.icat {
        w.start("detail");
        w.start_wrapper(TARGET_NAMESPACE, "IcatException");
        e.encode_children(&mut w);
        w.end_wrapper("IcatException");
        w.end("detail");
    }
    w.raw("</S:Fault>");
    w.raw(ENVELOPE_END);
    w.into_string()
}

/// Server side: the fault for an `IcatException` (`faultcode` `S:Server`, `faultstring` its message).
pub fn write_icat_fault(e: &IcatException) -> String {
    write_fault(&SoapFault {
        code: "S:Server".into(),
        message: e.message.clone().unwrap_or_default(),
        icat: Some(e.clone()),
    })
}

/// Reads an envelope and decodes the first body element as `B`; a `Fault` body gives
/// [`SoapError::Fault`]. Headers are ignored.
pub fn read_envelope<B: SoapBody>(input: &[u8]) -> Result<B, SoapError> {
    read_envelope_from(XmlReader::new(input, B::TARGET_NAMESPACE))
}

fn read_envelope_from<B: SoapBody>(mut r: XmlReader<'_>) -> Result<B, SoapError> {
    let root = r.root()?;
    if !root.is(NsKind::Soap, "Envelope") {
        return Err(SoapError::NotEnvelope {
            found: root.name_lossy(),
        });
    }
    let mut result = None;
    while let Some(child) = r.next_child(&root)? {
        if result.is_none() && child.is(NsKind::Soap, "Body") {
            result = read_body::<B>(&mut r, &child)?;
        } else {
            r.skip(&child)?;
        }
    }
    r.finish()?;
    match result {
        Some(Ok(v)) => Ok(v),
        Some(Err(fault)) => Err(SoapError::Fault(Box::new(fault))),
        None => Err(SoapError::EmptyBody),
    }
}

/// Client side: whether the answer element of a response envelope holds more than `most`
/// children (a search's results), counted without decoding them and stopping at the first one
/// past `most`. A fault, or anything the decoder will refuse anyway, gives `false`: the decoder
/// then reports it.
pub(crate) fn answer_holds_more_than(input: &[u8], target_ns: &str, most: u64) -> bool {
    count_past(&mut XmlReader::new(input, target_ns), most).unwrap_or(false)
}

fn count_past(r: &mut XmlReader<'_>, most: u64) -> Result<bool, XmlError> {
    let root = r.root()?;
    if !root.is(NsKind::Soap, "Envelope") {
        return Ok(false);
    }
    while let Some(child) = r.next_child(&root)? {
        if !child.is(NsKind::Soap, "Body") {
            r.skip(&child)?;
            continue;
        }
        let Some(answer) = r.next_child(&child)? else {
            return Ok(false);
        };
        if answer.is(NsKind::Soap, "Fault") {
            return Ok(false);
        }
        let mut held = 0u64;
        while let Some(item) = r.next_child(&answer)? {
            held += 1;
            if held > most {
                return Ok(true);
            }
            r.skip(&item)?;
        }
        return Ok(false);
    }
    Ok(false)
}

/// Client side: reads a response envelope (or fault).
pub fn read_response_envelope<B: SoapBody>(input: &[u8]) -> Result<B, SoapError> {
    read_envelope(input)
}

/// Server side: reads a request envelope, e.g. as the generated `Request` union of all operations.
/// Simple values are unmarshalled as ICAT's JAXB RI does ([`crate::jaxb`]): `<complete/>` or
/// `<endDate>yesterday</endDate>` leave the value unset and `<endDate>2019-12-31</endDate>` is
/// midnight, where the client's own reading ([`read_response_envelope`]) refuses them.
pub fn read_request_envelope<B: SoapBody>(input: &[u8]) -> Result<B, SoapError> {
    read_envelope_from(XmlReader::new(input, B::TARGET_NAMESPACE).with_jaxb_values())
}

fn read_body<B: SoapBody>(
    r: &mut XmlReader<'_>,
    body: &StartEl<'_>,
) -> Result<Option<Result<B, SoapFault>>, XmlError> {
    let mut result = None;
    while let Some(child) = r.next_child(body)? {
        if result.is_some() {
            r.skip(&child)?;
        } else if child.is(NsKind::Soap, "Fault") {
            result = Some(Err(read_fault(r, &child)?));
        } else {
            result = Some(Ok(B::decode_body(r, &child)?));
        }
    }
    Ok(result)
}

fn read_fault(r: &mut XmlReader<'_>, fault: &StartEl<'_>) -> Result<SoapFault, XmlError> {
    let mut out = SoapFault {
        code: String::new(),
        message: String::new(),
        icat: None,
    };
    while let Some(child) = r.next_child(fault)? {
        match child.local_name() {
            b"faultcode" => out.code = r.read_string(&child)?.trim().to_owned(),
            b"faultstring" => out.message = r.read_string(&child)?,
            b"detail" => {
                while let Some(d) = r.next_child(&child)? {
                    if out.icat.is_none() && d.local_name() == b"IcatException" {
                        out.icat = Some(IcatException::decode(r, &d)?);
                    } else {
                        r.skip(&d)?;
                    }
                }
            }
            _ => r.skip(&child)?,
        }
    }
    Ok(out)
}
