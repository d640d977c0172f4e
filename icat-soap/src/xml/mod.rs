//! Runtime for the generated code: a scoped namespace-aware XML reader (over its own byte scanner),
//! a writer, simple-type conversions and the traits every generated type implements. Hand-written
//! code rarely needs it directly; the client and [`crate::envelope`] use it on its behalf.

mod error;
mod reader;
mod scan;
mod value;
mod writer;

pub use error::XmlError;
pub use reader::{DEFAULT_MAX_DEPTH, MAX_NAMESPACE_BINDINGS, NsKind, StartEl, XmlReader, XsiType};
pub use writer::{XmlWriter, escape_into};

/// The XML Schema namespace (`xs:`).
pub const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// The XML Schema instance namespace (`xsi:type`, `xsi:nil`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A value with an XML Schema simple type (`xs:string`, `xs:long`, enums, ...).
pub trait XmlValue: Sized {
    /// Parses the element text; the error says what was expected.
    fn from_text(text: &str) -> Result<Self, &'static str>;
    /// What a JAXB RI server (ICAT) stores for this text when it unmarshals a request
    /// ([`crate::jaxb`]): `None` where JAXB leaves the property unset. The default takes
    /// [`from_text`](Self::from_text) and turns its error into `None`, as JAXB does for an enum
    /// constant it does not know.
    fn from_jaxb_text(text: &str) -> Option<Self> {
        Self::from_text(text).ok()
    }
    /// Writes the value as escaped element text.
    fn write_text(&self, w: &mut XmlWriter);
}

/// A complex type decoded from its element (one generated decoder per type).
pub trait XmlDecode: Sized {
    /// Decodes the content of `el`, whose start tag has just been read, up to and including its end tag.
    fn decode(r: &mut XmlReader<'_>, el: &StartEl<'_>) -> Result<Self, XmlError>;
}

/// A struct decoded field by field into a value that already exists (its default), so a large struct
/// is filled where it ends up (a box, a vector slot) instead of being built and then moved there.
pub trait XmlDecodeFields: Default {
    /// Decodes the children of `el`, whose start tag has just been read, into `self`, up to and
    /// including the end tag. Fields without a child element keep their value.
    fn decode_fields(&mut self, r: &mut XmlReader<'_>, el: &StartEl<'_>) -> Result<(), XmlError>;
}

/// Every struct that decodes field by field decodes whole: a default value, filled in place.
impl<T: XmlDecodeFields> XmlDecode for T {
    fn decode(r: &mut XmlReader<'_>, el: &StartEl<'_>) -> Result<Self, XmlError> {
        let mut out = T::default();
        out.decode_fields(r, el)?;
        Ok(out)
    }
}

/// A complex type encoded as child elements (the caller writes the element itself).
pub trait XmlEncode {
    /// Writes the child elements, in schema order; absent values are omitted.
    fn encode_children(&self, w: &mut XmlWriter);
}

/// A SOAP body payload: an operation's request or response wrapper, a union of them, or a fault detail.
pub trait SoapBody: Sized {
    /// The target namespace the body's wrapper lives in.
    const TARGET_NAMESPACE: &'static str;
    /// Decodes from the body's child element `el` (checking its name and namespace).
    fn decode_body(r: &mut XmlReader<'_>, el: &StartEl<'_>) -> Result<Self, XmlError>;
    /// Writes the wrapper element and its content.
    fn encode_body(&self, w: &mut XmlWriter);
}

/// One request or response wrapper of a WSDL operation.
pub trait SoapMessage: XmlDecode + XmlEncode {
    /// The target namespace of the wrapper element.
    const NAMESPACE: &'static str;
    /// The wrapper element's local name, e.g. `searchResponse`.
    const ELEMENT: &'static str;

    /// Encodes the wrapper element alone (no envelope), declaring the prefixes it uses.
    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.start_wrapper(Self::NAMESPACE, Self::ELEMENT);
        self.encode_children(&mut w);
        w.end_wrapper(Self::ELEMENT);
        w.into_string()
    }

    /// Decodes a document whose root is the wrapper element (no envelope).
    fn from_xml(input: &[u8]) -> Result<Self, XmlError> {
        let mut r = XmlReader::new(input, Self::NAMESPACE);
        let root = r.root()?;
        let v = <Self as SoapBody>::decode_body(&mut r, &root)?;
        r.finish()?;
        Ok(v)
    }
}

impl<M: SoapMessage> SoapBody for M {
    const TARGET_NAMESPACE: &'static str = M::NAMESPACE;
    fn decode_body(r: &mut XmlReader<'_>, el: &StartEl<'_>) -> Result<Self, XmlError> {
        if !el.is(NsKind::Target, M::ELEMENT) {
            return Err(el.unexpected(format!("<{}> in {}", M::ELEMENT, M::NAMESPACE)));
        }
        M::decode(r, el)
    }
    fn encode_body(&self, w: &mut XmlWriter) {
        w.start_wrapper(M::NAMESPACE, M::ELEMENT);
        self.encode_children(w);
        w.end_wrapper(M::ELEMENT);
    }
}

/// A WSDL operation, implemented by its request type: ties the request to its response.
pub trait SoapOperation: SoapMessage {
    /// The response wrapper type.
    type Response: SoapMessage;
    /// The operation name, e.g. `search`.
    const NAME: &'static str;
    /// The `soapAction` from the WSDL binding (ICAT: always empty).
    const SOAP_ACTION: &'static str;
}

/// Decodes an optional complex element: `xsi:nil="true"` gives `None`.
pub fn decode_opt<T: XmlDecode>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
) -> Result<Option<T>, XmlError> {
    if el.is_nil() {
        r.skip(el)?;
        return Ok(None);
    }
    T::decode(r, el).map(Some)
}

/// Decodes an optional struct element into a box: `xsi:nil="true"` gives `None`.
pub fn decode_boxed<T: XmlDecodeFields>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
) -> Result<Option<Box<T>>, XmlError> {
    if el.is_nil() {
        r.skip(el)?;
        return Ok(None);
    }
    decode_box(r, el).map(Some)
}

/// Decodes a struct element into a box, filled in place.
pub fn decode_box<T: XmlDecodeFields>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
) -> Result<Box<T>, XmlError> {
    let mut b = Box::<T>::default();
    b.decode_fields(r, el)?;
    Ok(b)
}

/// Decodes one item of a repeated struct element in place at the end of `out`; nil items are dropped.
pub fn decode_push_in_place<T: XmlDecodeFields>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
    out: &mut Vec<T>,
) -> Result<(), XmlError> {
    if el.is_nil() {
        return r.skip(el);
    }
    push_tight(out, T::default());
    match out.last_mut() {
        Some(item) => item.decode_fields(r, el),
        None => Ok(()),
    }
}

/// Decodes one item of a repeated complex element and appends it; nil items are dropped.
pub fn decode_push<T: XmlDecode>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
    out: &mut Vec<T>,
) -> Result<(), XmlError> {
    if let Some(v) = decode_opt(r, el)? {
        push_tight(out, v);
    }
    Ok(())
}

/// Appends `v`, growing `out` by doubling from one item instead of `Vec`'s minimum of four: most
/// repeated relations hold one or two (large) structs, so this keeps decoded results compact.
#[inline]
fn push_tight<T>(out: &mut Vec<T>, v: T) {
    if out.len() == out.capacity() {
        out.reserve_exact(out.len().max(1));
    }
    out.push(v);
}

/// Reads one item of a repeated simple element and appends it; nil items are dropped.
pub fn read_push<T: XmlValue>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
    out: &mut Vec<T>,
) -> Result<(), XmlError> {
    if let Some(v) = r.read_opt(el)? {
        out.push(v);
    }
    Ok(())
}

/// Reads a required simple element; a nil element leaves `out` unchanged (JAXB's default-on-missing).
pub fn read_required<T: XmlValue>(
    r: &mut XmlReader<'_>,
    el: &StartEl<'_>,
    out: &mut T,
) -> Result<(), XmlError> {
    if let Some(v) = r.read_opt(el)? {
        *out = v;
    }
    Ok(())
}
