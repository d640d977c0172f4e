//! Scoped, namespace-aware XML reading over quick-xml's `NsReader`, the base of every generated decoder.
//!
//! The model: a decoder receives the start tag of its element ([`StartEl`]), calls
//! [`XmlReader::next_child`] until it returns `None` (the element's end tag), and for every child either
//! decodes it (a nested decoder, [`XmlReader::read_value`], ...) or [`XmlReader::skip`]s it. Unknown
//! children are skipped, so a newer server that adds elements does not break an older client.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{Namespace, QName, ResolveResult};

use super::error::{XmlError, shorten};
use super::{XSD_NS, XSI_NS, XmlValue};

/// Default limit on element nesting.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Which namespace a name resolved to, relative to the bindings' target namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsKind {
    /// No namespace.
    None,
    /// The target namespace of the bindings (`http://icatproject.org` for ICAT).
    Target,
    /// XML Schema (`http://www.w3.org/2001/XMLSchema`), used by `xsi:type="xs:string"`.
    Xsd,
    /// The SOAP 1.1 envelope namespace.
    Soap,
    /// Any other namespace.
    Other,
    /// A prefix that is not bound.
    Unbound,
}

/// A resolved `xsi:type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XsiType<'a> {
    /// The namespace the prefix resolved to.
    pub ns: NsKind,
    /// The local type name, e.g. `investigation` or `string`.
    pub local: Cow<'a, str>,
    /// The prefix as written, for error messages.
    prefix: Option<Box<str>>,
}

/// The start tag of an element, with the XML-Schema-instance attributes already resolved.
#[derive(Debug, Clone)]
pub struct StartEl<'a> {
    start: BytesStart<'a>,
    empty: bool,
    nil: bool,
    xsi_type: Option<XsiType<'a>>,
    ns: NsKind,
    position: u64,
}

impl<'a> StartEl<'a> {
    /// The local name (without prefix), as bytes for cheap matching.
    pub fn local_name(&self) -> &[u8] {
        self.start.local_name().into_inner()
    }

    /// The local name as text (lossy), for messages.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(self.local_name()).into_owned()
    }

    /// The namespace of the element name.
    pub fn ns(&self) -> NsKind {
        self.ns
    }

    /// True for `<x/>`.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// True when the element has `xsi:nil="true"`.
    pub fn is_nil(&self) -> bool {
        self.nil
    }

    /// The resolved `xsi:type`, when present.
    pub fn xsi_type(&self) -> Option<&XsiType<'a>> {
        self.xsi_type.as_ref()
    }

    /// Byte offset of the start tag in the input.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// True when the element's local name is `local` and its namespace is `ns`.
    pub fn is(&self, ns: NsKind, local: &str) -> bool {
        self.ns == ns && self.local_name() == local.as_bytes()
    }

    /// An error saying this element is not what was expected.
    pub fn unexpected(&self, expected: impl Into<String>) -> XmlError {
        XmlError::UnexpectedElement {
            position: self.position,
            expected: expected.into(),
            found: self.name_lossy(),
        }
    }

    /// An error saying this element's `xsi:type` is unknown.
    pub fn unknown_type(&self) -> XmlError {
        let type_name = match &self.xsi_type {
            Some(t) => match &t.prefix {
                Some(p) => format!("{p}:{}", t.local),
                None => t.local.to_string(),
            },
            None => String::new(),
        };
        XmlError::UnknownType {
            position: self.position,
            element: self.name_lossy(),
            type_name,
        }
    }

    /// An error saying this element needs an `xsi:type`.
    pub fn missing_type(&self) -> XmlError {
        XmlError::MissingType {
            position: self.position,
            element: self.name_lossy(),
        }
    }
}

/// A pull reader over an in-memory document.
pub struct XmlReader<'a> {
    inner: NsReader<&'a [u8]>,
    target_ns: &'a [u8],
    depth: usize,
    max_depth: usize,
}

fn ns_kind(target: &[u8], r: &ResolveResult<'_>) -> NsKind {
    match r {
        ResolveResult::Unbound => NsKind::None,
        ResolveResult::Unknown(_) => NsKind::Unbound,
        ResolveResult::Bound(Namespace(ns)) => {
            if *ns == target {
                NsKind::Target
            } else if *ns == XSD_NS.as_bytes() {
                NsKind::Xsd
            } else if *ns == super::SOAP11_NS.as_bytes() {
                NsKind::Soap
            } else if ns.is_empty() {
                NsKind::None
            } else {
                NsKind::Other
            }
        }
    }
}

impl<'a> XmlReader<'a> {
    /// A reader over `input` for bindings whose target namespace is `target_ns`.
    pub fn new(input: &'a [u8], target_ns: &'a str) -> Self {
        let mut inner = NsReader::from_reader(input);
        let config = inner.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.check_comments = false;
        XmlReader {
            inner,
            target_ns: target_ns.as_bytes(),
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Changes the nesting limit (default [`DEFAULT_MAX_DEPTH`]).
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// The current byte offset.
    pub fn position(&self) -> u64 {
        self.inner.buffer_position()
    }

    fn malformed(&self, e: quick_xml::Error) -> XmlError {
        XmlError::Malformed {
            position: self.inner.error_position(),
            message: e.to_string(),
        }
    }

    fn read(&mut self) -> Result<Event<'a>, XmlError> {
        match self.inner.read_event() {
            Ok(Event::DocType(_)) => Err(XmlError::Doctype {
                position: self.inner.buffer_position(),
            }),
            Ok(ev) => Ok(ev),
            Err(e) => Err(self.malformed(e)),
        }
    }

    /// Builds a [`StartEl`], resolving names while the element's bindings are in scope.
    fn start_el(
        &mut self,
        start: BytesStart<'a>,
        empty: bool,
        position: u64,
    ) -> Result<StartEl<'a>, XmlError> {
        if !empty {
            if self.depth >= self.max_depth {
                return Err(XmlError::TooDeep {
                    position,
                    limit: self.max_depth,
                });
            }
            self.depth += 1;
        }
        let (res, _) = self.inner.resolver().resolve_element(start.name());
        let ns = ns_kind(self.target_ns, &res);
        let mut el = StartEl {
            start,
            empty,
            nil: false,
            xsi_type: None,
            ns,
            position,
        };
        if !el
            .start
            .attributes_raw()
            .iter()
            .all(u8::is_ascii_whitespace)
        {
            self.read_xsi_attributes(&mut el)?;
        }
        Ok(el)
    }

    fn read_xsi_attributes(&self, el: &mut StartEl<'a>) -> Result<(), XmlError> {
        let mut nil = false;
        let mut xsi_type = None;
        for attr in el.start.attributes() {
            let attr = attr.map_err(|e| XmlError::Malformed {
                position: el.position,
                message: e.to_string(),
            })?;
            let key = attr.key;
            if key.as_namespace_binding().is_some() {
                continue;
            }
            let (res, local) = self.inner.resolver().resolve_attribute(key);
            if !matches!(res, ResolveResult::Bound(Namespace(ns)) if ns == XSI_NS.as_bytes()) {
                continue;
            }
            let value = attr
                .decode_and_unescape_value(self.inner.decoder())
                .map_err(|e| XmlError::Malformed {
                    position: el.position,
                    message: e.to_string(),
                })?;
            match local.into_inner() {
                b"nil" => nil = matches!(value.trim(), "true" | "1"),
                b"type" => {
                    let value = value.trim();
                    let (prefix, local) = match value.split_once(':') {
                        Some((p, l)) => (Some(p), l),
                        None => (None, value),
                    };
                    let res = self
                        .inner
                        .resolver()
                        .resolve_prefix(QName(value.as_bytes()).prefix(), true);
                    let ns = ns_kind(self.target_ns, &res);
                    if ns == NsKind::Unbound {
                        return Err(XmlError::UnboundPrefix {
                            position: el.position,
                            element: el.name_lossy(),
                            prefix: prefix.unwrap_or_default().to_owned(),
                        });
                    }
                    xsi_type = Some(XsiType {
                        ns,
                        local: Cow::Owned(local.to_owned()),
                        prefix: prefix.map(Box::from),
                    });
                }
                _ => {}
            }
        }
        el.nil = nil;
        el.xsi_type = xsi_type;
        Ok(())
    }

    /// Reads up to the root element, skipping the XML declaration, comments and processing
    /// instructions. A `<!DOCTYPE>` is refused.
    pub fn root(&mut self) -> Result<StartEl<'a>, XmlError> {
        loop {
            let position = self.inner.buffer_position();
            match self.read()? {
                Event::Start(s) => return self.start_el(s, false, position),
                Event::Empty(s) => return self.start_el(s, true, position),
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        position,
                        context: "the document (it is empty)",
                    });
                }
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                _ => {
                    return Err(XmlError::Malformed {
                        position,
                        message: "text before the root element".into(),
                    });
                }
            }
        }
    }

    /// Checks that only whitespace, comments and processing instructions follow the root element.
    pub fn finish(&mut self) -> Result<(), XmlError> {
        loop {
            let position = self.inner.buffer_position();
            match self.read()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => return Err(XmlError::TrailingContent { position }),
            }
        }
    }

    /// The next child element of `parent`, or `None` once `parent`'s end tag is consumed.
    ///
    /// Text between child elements (whitespace, or stray text) is ignored. The caller must consume
    /// each returned child completely (decode it or [`skip`](Self::skip) it) before asking for the next.
    pub fn next_child(&mut self, parent: &StartEl<'_>) -> Result<Option<StartEl<'a>>, XmlError> {
        if parent.empty {
            return Ok(None);
        }
        loop {
            let position = self.inner.buffer_position();
            match self.read()? {
                Event::Start(s) => return self.start_el(s, false, position).map(Some),
                Event::Empty(s) => return self.start_el(s, true, position).map(Some),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(None);
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        position,
                        context: "child elements",
                    });
                }
                _ => {}
            }
        }
    }

    /// Skips `el` and everything inside it.
    pub fn skip(&mut self, el: &StartEl<'_>) -> Result<(), XmlError> {
        if el.empty {
            return Ok(());
        }
        let mut open = 1usize;
        loop {
            let position = self.inner.buffer_position();
            match self.read()? {
                Event::Start(_) => {
                    open += 1;
                    if self.depth + open > self.max_depth + 1 {
                        return Err(XmlError::TooDeep {
                            position,
                            limit: self.max_depth,
                        });
                    }
                }
                Event::End(_) => {
                    open -= 1;
                    if open == 0 {
                        self.depth = self.depth.saturating_sub(1);
                        return Ok(());
                    }
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        position,
                        context: "an element being skipped",
                    });
                }
                _ => {}
            }
        }
    }

    /// Reads the text content of `el` (entity and character references resolved, CDATA included).
    /// Child elements inside a simple-typed element are an error.
    pub fn read_text(&mut self, el: &StartEl<'_>) -> Result<Cow<'a, str>, XmlError> {
        if el.empty {
            return Ok(Cow::Borrowed(""));
        }
        let mut acc: Option<Cow<'a, str>> = None;
        loop {
            let position = self.inner.buffer_position();
            let piece: Cow<'a, str> = match self.read()? {
                Event::Text(t) => t.xml10_content().map_err(|e| XmlError::Malformed {
                    position,
                    message: e.to_string(),
                })?,
                Event::CData(c) => c.decode().map_err(|e| XmlError::Malformed {
                    position,
                    message: e.to_string(),
                })?,
                Event::GeneralRef(r) => Cow::Owned(resolve_ref(&r, position)?.to_string()),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(acc.unwrap_or(Cow::Borrowed("")));
                }
                Event::Start(_) | Event::Empty(_) => {
                    return Err(XmlError::UnexpectedElement {
                        position,
                        expected: format!("text content in <{}>", el.name_lossy()),
                        found: "a child element".into(),
                    });
                }
                Event::Eof => {
                    return Err(XmlError::UnexpectedEof {
                        position,
                        context: "element text",
                    });
                }
                _ => continue,
            };
            acc = Some(match acc {
                None => piece,
                Some(prev) => {
                    let mut s = prev.into_owned();
                    s.push_str(&piece);
                    Cow::Owned(s)
                }
            });
        }
    }

    /// Reads `el`'s text as a value of type `T`.
    pub fn read_value<T: XmlValue>(&mut self, el: &StartEl<'_>) -> Result<T, XmlError> {
        let text = self.read_text(el)?;
        match T::from_text(&text) {
            Ok(v) => Ok(v),
            Err(reason) => Err(XmlError::InvalidValue {
                position: el.position,
                element: el.name_lossy(),
                value: shorten(&text),
                reason,
            }),
        }
    }

    /// Reads `el`'s text as a `String`, without copying when the input can be borrowed.
    pub fn read_string(&mut self, el: &StartEl<'_>) -> Result<String, XmlError> {
        Ok(self.read_text(el)?.into_owned())
    }

    /// Like [`read_string`](Self::read_string), but `xsi:nil="true"` gives `None`.
    pub fn read_opt_string(&mut self, el: &StartEl<'_>) -> Result<Option<String>, XmlError> {
        if el.nil {
            self.skip(el)?;
            return Ok(None);
        }
        self.read_string(el).map(Some)
    }

    /// Like [`read_value`](Self::read_value), but `xsi:nil="true"` gives `None`.
    pub fn read_opt<T: XmlValue>(&mut self, el: &StartEl<'_>) -> Result<Option<T>, XmlError> {
        if el.nil {
            self.skip(el)?;
            return Ok(None);
        }
        self.read_value(el).map(Some)
    }
}

/// Resolves a character reference or one of the five predefined entities.
fn resolve_ref(r: &BytesRef<'_>, position: u64) -> Result<char, XmlError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => {}
        Err(e) => {
            return Err(XmlError::Malformed {
                position,
                message: e.to_string(),
            });
        }
    }
    match &**r {
        b"amp" => Ok('&'),
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"quot" => Ok('"'),
        b"apos" => Ok('\''),
        other => Err(XmlError::UnknownEntity {
            position,
            name: shorten(&String::from_utf8_lossy(other)),
        }),
    }
}
