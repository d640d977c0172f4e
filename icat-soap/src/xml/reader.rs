//! Scoped, namespace-aware XML reading over an in-memory document, the base of every generated decoder.
//!
//! The model: a decoder receives the start tag of its element ([`StartEl`]), calls
//! [`XmlReader::next_child`] until it returns `None` (the element's end tag), and for every child either
//! decodes it (a nested decoder, [`XmlReader::read_value`], ...) or [`XmlReader::skip`]s it. Unknown
//! children are skipped, so a newer server that adds elements does not break an older client.
//!
//! The reader scans the bytes itself (see [`super::scan`]) and keeps its own stack of namespace
//! bindings: names are resolved only where a decoder asks (wrapper elements and `xsi:type`), children
//! are matched by local name, text is borrowed from the input unless it holds references or `\r`.

use std::borrow::Cow;

use super::error::{XmlError, shorten};
use super::scan::{self, Markup, is_xml_space};
use super::{SOAP11_NS, XSD_NS, XSI_NS, XmlValue};

/// Default limit on element nesting.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Most namespace declarations in scope at once (all open elements together). Real ICAT answers
/// and requests have fewer than ten; the bound keeps every prefix lookup, which scans the
/// bindings in scope, cheap, so decoding stays linear in the input size (a hostile answer with
/// 100,000 declarations and a million prefixed children would otherwise take minutes).
pub const MAX_NAMESPACE_BINDINGS: usize = 64;

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
    prefix: Option<Cow<'a, str>>,
}

/// The start tag of an element, with the XML-Schema-instance attributes already resolved.
#[derive(Debug, Clone)]
pub struct StartEl<'a> {
    /// The qualified name as written (`ns2:searchResponse`), for end-tag matching.
    qname: &'a [u8],
    /// The local part of `qname`.
    local: &'a [u8],
    empty: bool,
    nil: bool,
    /// Boxed: few elements carry one, and a small `StartEl` is cheap to return.
    xsi_type: Option<Box<XsiType<'a>>>,
    ns: NsKind,
    position: u64,
}

impl<'a> StartEl<'a> {
    /// The local name (without prefix), as bytes for cheap matching.
    #[inline]
    pub fn local_name(&self) -> &[u8] {
        self.local
    }

    /// The local name as text (lossy), for messages.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(self.local).into_owned()
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
        self.xsi_type.as_deref()
    }

    /// Byte offset of the start tag in the input.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// True when the element's local name is `local` and its namespace is `ns`.
    pub fn is(&self, ns: NsKind, local: &str) -> bool {
        self.ns == ns && self.local == local.as_bytes()
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
        let type_name = match self.xsi_type.as_deref() {
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

/// One in-scope namespace declaration (`xmlns:prefix="..."` or `xmlns="..."`).
#[derive(Debug, Clone, Copy)]
struct Binding<'a> {
    /// The declared prefix; empty for the default namespace.
    prefix: &'a [u8],
    /// What the namespace is, relative to the target namespace.
    kind: NsKind,
    /// True for the XML Schema instance namespace (`xsi:`).
    xsi: bool,
    /// Nesting level of the declaring element; the binding ends with that element.
    level: usize,
    /// The namespace name as written (before references are resolved), to find attributes that
    /// are repeated through two prefixes bound to the same namespace.
    uri: &'a [u8],
}

/// The namespace-qualified names of one start tag's prefixed attributes, to refuse repeats.
#[derive(Default)]
struct ResolvedNames<'a> {
    /// The first few names, searched linearly (the common case: one or two; no allocation).
    small: [(&'a [u8], &'a [u8]); 8],
    /// How many of `small` are used.
    n: usize,
    /// Beyond `small`, a set (a hostile tag may carry thousands).
    more: std::collections::HashSet<(&'a [u8], &'a [u8])>,
}

impl<'a> ResolvedNames<'a> {
    /// Records `{uri}local`; `false` when it was already there.
    fn insert(&mut self, uri: &'a [u8], local: &'a [u8]) -> bool {
        let name = (uri, local);
        if self.small[..self.n].contains(&name)
            || (!self.more.is_empty() && self.more.contains(&name))
        {
            return false;
        }
        if self.n < self.small.len() {
            self.small[self.n] = name;
            self.n += 1;
        } else {
            self.more.insert(name);
        }
        true
    }
}

/// A pull reader over an in-memory document.
pub struct XmlReader<'a> {
    input: &'a [u8],
    pos: usize,
    target_ns: &'a [u8],
    depth: usize,
    max_depth: usize,
    bindings: Vec<Binding<'a>>,
    /// The kind of the default namespace in scope (cache of the innermost `xmlns=` binding).
    default_kind: NsKind,
    /// Scratch stack of open element names while skipping.
    open: Vec<&'a [u8]>,
    /// Simple values are read as a JAXB RI server reads them ([`XmlValue::from_jaxb_text`]).
    jaxb_values: bool,
}

impl<'a> XmlReader<'a> {
    /// A reader over `input` for bindings whose target namespace is `target_ns`.
    pub fn new(input: &'a [u8], target_ns: &'a str) -> Self {
        let pos = if input.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        XmlReader {
            input,
            pos,
            target_ns: target_ns.as_bytes(),
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            bindings: Vec::with_capacity(8),
            default_kind: NsKind::None,
            open: Vec::new(),
            jaxb_values: false,
        }
    }

    /// Reads optional simple values as ICAT's JAXB RI unmarshaller does (server side): a text it
    /// cannot convert leaves the value unset instead of failing the document ([`crate::jaxb`]).
    pub fn with_jaxb_values(mut self) -> Self {
        self.jaxb_values = true;
        self
    }

    /// Changes the nesting limit (default [`DEFAULT_MAX_DEPTH`]).
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// The current byte offset.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Moves to the next `<`, returning the text skipped over; `None` at the end of the input.
    #[inline]
    fn text_to_markup(&mut self) -> Option<&'a [u8]> {
        let rest = &self.input[self.pos..];
        let i = memchr::memchr(b'<', rest)?;
        self.pos += i;
        Some(&rest[..i])
    }

    /// Reads the markup at the current `<`.
    #[inline]
    fn markup(&mut self) -> Result<Markup<'a>, XmlError> {
        let (m, next) = scan::markup(self.input, self.pos)?;
        self.pos = next;
        Ok(m)
    }

    fn classify(&self, ns: &[u8]) -> NsKind {
        if ns == self.target_ns {
            NsKind::Target
        } else if ns == XSD_NS.as_bytes() {
            NsKind::Xsd
        } else if ns == SOAP11_NS.as_bytes() {
            NsKind::Soap
        } else if ns.is_empty() {
            NsKind::None
        } else {
            NsKind::Other
        }
    }

    /// The binding of `prefix` (empty: the default namespace) in scope.
    #[inline]
    fn lookup(&self, prefix: &[u8]) -> Option<&Binding<'a>> {
        self.bindings.iter().rev().find(|b| b.prefix == prefix)
    }

    /// Resolves an element (or `xsi:type`) prefix; `None` means unprefixed (default namespace).
    fn resolve(&self, prefix: Option<&[u8]>) -> NsKind {
        match prefix {
            None => self.default_kind,
            Some(b"xml") => NsKind::Other,
            Some(p) => self.lookup(p).map_or(NsKind::Unbound, |b| b.kind),
        }
    }

    /// Ends the element at the current depth: its namespace bindings go out of scope.
    #[inline]
    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.bindings.last().is_some_and(|b| b.level > self.depth) {
            let keep = self
                .bindings
                .iter()
                .rposition(|b| b.level <= self.depth)
                .map_or(0, |i| i + 1);
            self.truncate_bindings(keep);
        }
    }

    /// Drops the bindings from index `keep` on, refreshing the default-namespace cache.
    fn truncate_bindings(&mut self, keep: usize) {
        let default_gone = self.bindings[keep..].iter().any(|b| b.prefix.is_empty());
        self.bindings.truncate(keep);
        if default_gone {
            self.default_kind = self.lookup(b"").map_or(NsKind::None, |b| b.kind);
        }
    }

    /// Consumes `</qname>` when it is exactly what follows (the common case); `false` otherwise.
    #[inline]
    fn try_end(&mut self, qname: &[u8]) -> bool {
        let rest = &self.input[self.pos..];
        let n = qname.len();
        if rest.len() > n + 2
            && rest[1] == b'/'
            && rest[n + 2] == b'>'
            && scan::same_bytes(&rest[2..n + 2], qname)
        {
            self.pos += n + 3;
            true
        } else {
            false
        }
    }

    /// Builds a [`StartEl`], resolving names while the element's bindings are in scope.
    #[inline]
    fn start_el(
        &mut self,
        qname: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
        position: usize,
    ) -> Result<StartEl<'a>, XmlError> {
        let position = position as u64;
        if !empty {
            if self.depth >= self.max_depth {
                return Err(XmlError::TooDeep {
                    position,
                    limit: self.max_depth,
                });
            }
            self.depth += 1;
        }
        let (prefix, local) = scan::split_qname(qname);
        if attrs.iter().all(|&b| is_xml_space(b)) {
            // The common case, built in place: no attributes, so no bindings and no xsi.
            return Ok(StartEl {
                qname,
                local,
                empty,
                nil: false,
                xsi_type: None,
                ns: self.resolve(prefix),
                position,
            });
        }
        self.start_el_with_attributes(qname, prefix, local, attrs, empty, position)
    }

    /// [`start_el`](Self::start_el) for a tag with attributes: bindings, `xsi:nil`, `xsi:type`.
    #[inline(never)]
    fn start_el_with_attributes(
        &mut self,
        qname: &'a [u8],
        prefix: Option<&'a [u8]>,
        local: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
        position: u64,
    ) -> Result<StartEl<'a>, XmlError> {
        let mut el = StartEl {
            qname,
            local,
            empty,
            nil: false,
            xsi_type: None,
            ns: NsKind::None,
            position,
        };
        let mark = self.bindings.len();
        let level = if empty { self.depth + 1 } else { self.depth };
        self.read_attributes(&mut el, attrs, level)?;
        el.ns = self.resolve(prefix);
        if empty {
            self.truncate_bindings(mark);
        }
        Ok(el)
    }

    /// Declares the element's namespace bindings, then resolves `xsi:nil` and `xsi:type` with them.
    fn read_attributes(
        &mut self,
        el: &mut StartEl<'a>,
        attrs: &'a [u8],
        level: usize,
    ) -> Result<(), XmlError> {
        let position = el.position;
        let malformed = |message: String| XmlError::Malformed { position, message };
        scan::check_attributes(attrs).map_err(malformed)?;
        let mut other_prefixed = false;
        for attr in scan::Attributes::new(attrs) {
            let (key, raw) = attr.map_err(malformed)?;
            let prefix = if key == b"xmlns" {
                b"".as_slice()
            } else if let Some(p) = key.strip_prefix(b"xmlns:") {
                p
            } else {
                other_prefixed |= key.contains(&b':');
                continue;
            };
            if self.bindings.len() >= MAX_NAMESPACE_BINDINGS {
                return Err(XmlError::TooManyNamespaces {
                    position,
                    limit: MAX_NAMESPACE_BINDINGS,
                });
            }
            let value = scan::attribute_value(raw, position)?;
            let (kind, xsi) = if value.is_empty() && !prefix.is_empty() {
                (NsKind::Unbound, false)
            } else {
                (self.classify(value.as_bytes()), value == XSI_NS)
            };
            if prefix.is_empty() {
                self.default_kind = kind;
            }
            self.bindings.push(Binding {
                prefix,
                kind,
                xsi,
                level,
                uri: raw,
            });
        }
        if !other_prefixed {
            return Ok(());
        }
        let mut seen = ResolvedNames::default();
        for attr in scan::Attributes::new(attrs) {
            let (key, raw) = attr.map_err(malformed)?;
            let (Some(prefix), local) = scan::split_qname(key) else {
                continue;
            };
            if prefix == b"xmlns" {
                continue;
            }
            let Some(binding) = self.lookup(prefix).copied() else {
                continue;
            };
            // The same name through two prefixes bound to one namespace is a repeated
            // attribute (Namespaces in XML 1.0, section 6.3): malformed, never "last one wins".
            let uri: &[u8] = if binding.xsi {
                XSI_NS.as_bytes()
            } else {
                binding.uri
            };
            if !seen.insert(uri, local) {
                return Err(malformed(format!(
                    "attribute {} is repeated (two prefixes bound to the same namespace)",
                    shorten(&String::from_utf8_lossy(key))
                )));
            }
            if !binding.xsi {
                continue;
            }
            match local {
                b"nil" => {
                    let v = scan::attribute_value(raw, position)?;
                    el.nil = matches!(v.trim_matches(is_xml_space_char), "true" | "1");
                }
                b"type" => el.xsi_type = Some(Box::new(self.xsi_type(el, raw)?)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Resolves an `xsi:type` value through the bindings in scope (never by literal prefix).
    fn xsi_type(&self, el: &StartEl<'a>, raw: &'a [u8]) -> Result<XsiType<'a>, XmlError> {
        let value = scan::attribute_value(raw, el.position)?;
        let (prefix, local): (Option<Cow<'a, str>>, Cow<'a, str>) = match value {
            Cow::Borrowed(v) => {
                let v = v.trim_matches(is_xml_space_char);
                match v.split_once(':') {
                    Some((p, l)) => (Some(Cow::Borrowed(p)), Cow::Borrowed(l)),
                    None => (None, Cow::Borrowed(v)),
                }
            }
            Cow::Owned(v) => {
                let v = v.trim_matches(is_xml_space_char);
                match v.split_once(':') {
                    Some((p, l)) => (Some(Cow::Owned(p.to_owned())), Cow::Owned(l.to_owned())),
                    None => (None, Cow::Owned(v.to_owned())),
                }
            }
        };
        let ns = self.resolve(prefix.as_deref().map(str::as_bytes));
        if ns == NsKind::Unbound {
            return Err(XmlError::UnboundPrefix {
                position: el.position,
                element: el.name_lossy(),
                prefix: prefix.map(Cow::into_owned).unwrap_or_default(),
            });
        }
        Ok(XsiType { ns, local, prefix })
    }

    /// Reads up to the root element, skipping the XML declaration, comments and processing
    /// instructions. A `<!DOCTYPE>` is refused.
    pub fn root(&mut self) -> Result<StartEl<'a>, XmlError> {
        loop {
            let position = self.pos;
            let Some(text) = self.text_to_markup() else {
                let rest = &self.input[self.pos..];
                return Err(if rest.iter().all(|&b| is_xml_space(b)) {
                    XmlError::UnexpectedEof {
                        position: self.input.len() as u64,
                        context: "the document (it is empty)",
                    }
                } else {
                    XmlError::Malformed {
                        position: position as u64,
                        message: "text before the root element".into(),
                    }
                });
            };
            if !text.iter().all(|&b| is_xml_space(b)) {
                return Err(XmlError::Malformed {
                    position: position as u64,
                    message: "text before the root element".into(),
                });
            }
            let at = self.pos;
            match self.markup()? {
                Markup::Start { name, attrs, empty } => {
                    return self.start_el(name, attrs, empty, at);
                }
                Markup::Comment | Markup::Pi { .. } => {}
                Markup::End(_) | Markup::CData(_) => {
                    return Err(XmlError::Malformed {
                        position: at as u64,
                        message: "expected the root element".into(),
                    });
                }
            }
        }
    }

    /// Checks that only whitespace, comments and processing instructions follow the root element.
    pub fn finish(&mut self) -> Result<(), XmlError> {
        loop {
            let position = self.pos as u64;
            let Some(text) = self.text_to_markup() else {
                let rest = &self.input[self.pos..];
                if rest.iter().all(|&b| is_xml_space(b)) {
                    self.pos = self.input.len();
                    return Ok(());
                }
                return Err(XmlError::TrailingContent { position });
            };
            if !text.iter().all(|&b| is_xml_space(b)) {
                return Err(XmlError::TrailingContent { position });
            }
            let at = self.pos as u64;
            match self.markup()? {
                Markup::Comment | Markup::Pi { decl: false } => {}
                _ => return Err(XmlError::TrailingContent { position: at }),
            }
        }
    }

    /// The next child element of `parent`, or `None` once `parent`'s end tag is consumed.
    ///
    /// Text between child elements (whitespace, or stray text) is ignored. The caller must consume
    /// each returned child completely (decode it or [`skip`](Self::skip) it) before asking for the next.
    #[inline]
    pub fn next_child(&mut self, parent: &StartEl<'_>) -> Result<Option<StartEl<'a>>, XmlError> {
        if parent.empty {
            return Ok(None);
        }
        // Fast path: the next markup follows at once and is `</parent>` or an attribute-less `<child>`.
        if self.input.get(self.pos) == Some(&b'<') {
            if self.try_end(parent.qname) {
                self.close();
                return Ok(None);
            }
            if let Some((qname, colon, empty, next)) = scan::plain_start_tag(self.input, self.pos)
                && (empty || self.depth < self.max_depth)
            {
                let position = self.pos as u64;
                self.pos = next;
                self.depth += usize::from(!empty);
                let (ns, local) = match colon {
                    None => (self.default_kind, qname),
                    Some(c) => (self.resolve(Some(&qname[..c])), &qname[c + 1..]),
                };
                return Ok(Some(StartEl {
                    qname,
                    local,
                    empty,
                    nil: false,
                    xsi_type: None,
                    ns,
                    position,
                }));
            }
        }
        self.next_child_general(parent)
    }

    /// [`next_child`](Self::next_child) for everything but the fast path: text, comments, tags with
    /// attributes, errors.
    #[inline(never)]
    fn next_child_general(
        &mut self,
        parent: &StartEl<'_>,
    ) -> Result<Option<StartEl<'a>>, XmlError> {
        loop {
            if self.input.get(self.pos) != Some(&b'<') && self.text_to_markup().is_none() {
                return Err(self.eof("child elements"));
            }
            if self.try_end(parent.qname) {
                self.close();
                return Ok(None);
            }
            let at = self.pos;
            match self.markup()? {
                Markup::Start { name, attrs, empty } => {
                    return self.start_el(name, attrs, empty, at).map(Some);
                }
                Markup::End(name) => {
                    check_end(parent.qname, name, at)?;
                    self.close();
                    return Ok(None);
                }
                Markup::Comment | Markup::Pi { .. } | Markup::CData(_) => {}
            }
        }
    }

    fn eof(&mut self, context: &'static str) -> XmlError {
        self.pos = self.input.len();
        XmlError::UnexpectedEof {
            position: self.pos as u64,
            context,
        }
    }

    /// Skips `el` and everything inside it.
    pub fn skip(&mut self, el: &StartEl<'_>) -> Result<(), XmlError> {
        if el.empty {
            return Ok(());
        }
        let mut open = std::mem::take(&mut self.open);
        open.clear();
        let result = self.skip_inner(el, &mut open);
        self.open = open;
        result
    }

    fn skip_inner(&mut self, el: &StartEl<'_>, open: &mut Vec<&'a [u8]>) -> Result<(), XmlError> {
        loop {
            if self.text_to_markup().is_none() {
                return Err(self.eof("an element being skipped"));
            }
            let at = self.pos;
            match self.markup()? {
                Markup::Start {
                    name, empty: false, ..
                } => {
                    if self.depth + open.len() + 1 > self.max_depth {
                        return Err(XmlError::TooDeep {
                            position: at as u64,
                            limit: self.max_depth,
                        });
                    }
                    open.push(name);
                }
                Markup::End(name) => match open.pop() {
                    Some(expected) => check_end(expected, name, at)?,
                    None => {
                        check_end(el.qname, name, at)?;
                        self.close();
                        return Ok(());
                    }
                },
                _ => {}
            }
        }
    }

    /// Reads the text content of `el` (entity and character references resolved, CDATA included).
    /// Child elements inside a simple-typed element are an error.
    #[inline]
    pub fn read_text(&mut self, el: &StartEl<'_>) -> Result<Cow<'a, str>, XmlError> {
        if el.empty {
            return Ok(Cow::Borrowed(""));
        }
        // Fast path: short plain text (ASCII, no references, no `\r`) right before `</el>`.
        let start = self.pos;
        if let Some(text) = scan::short_plain_text(&self.input[start..]) {
            self.pos = start + text.len();
            if self.try_end(el.qname) {
                self.close();
                return Ok(Cow::Borrowed(text));
            }
            self.pos = start;
        }
        self.read_text_general(el)
    }

    /// [`read_text`](Self::read_text) for everything but short plain text.
    #[inline(never)]
    fn read_text_general(&mut self, el: &StartEl<'_>) -> Result<Cow<'a, str>, XmlError> {
        let start = self.pos;
        let Some(raw) = self.text_to_markup() else {
            return Err(self.eof("element text"));
        };
        if self.try_end(el.qname) {
            self.close();
            return scan::text(raw, start);
        }
        let mut acc: Option<Cow<'a, str>> = None;
        let mut first = Some((raw, start));
        loop {
            let (raw, start) = match first.take() {
                Some(f) => f,
                None => {
                    let start = self.pos;
                    let Some(raw) = self.text_to_markup() else {
                        return Err(self.eof("element text"));
                    };
                    (raw, start)
                }
            };
            if !raw.is_empty() {
                let piece = scan::text(raw, start)?;
                acc = Some(append(acc, piece));
            }
            let at = self.pos;
            match self.markup()? {
                Markup::End(name) => {
                    check_end(el.qname, name, at)?;
                    self.close();
                    return Ok(acc.unwrap_or(Cow::Borrowed("")));
                }
                Markup::CData(c) => {
                    let piece = scan::cdata(c, at)?;
                    acc = Some(append(acc, piece));
                }
                Markup::Start { .. } => {
                    return Err(XmlError::UnexpectedElement {
                        position: at as u64,
                        expected: format!("text content in <{}>", el.name_lossy()),
                        found: "a child element".into(),
                    });
                }
                Markup::Comment | Markup::Pi { .. } => {}
            }
        }
    }

    /// Reads `el`'s text as a value of type `T`.
    #[inline]
    pub fn read_value<T: XmlValue>(&mut self, el: &StartEl<'_>) -> Result<T, XmlError> {
        let text = self.read_text(el)?;
        match T::from_text(&text) {
            Ok(v) => Ok(v),
            Err(reason) => Err(invalid_value(el, &text, reason)),
        }
    }

    /// Reads `el`'s text as a `String`.
    #[inline]
    pub fn read_string(&mut self, el: &StartEl<'_>) -> Result<String, XmlError> {
        Ok(self.read_text(el)?.into_owned())
    }

    /// Like [`read_string`](Self::read_string), but `xsi:nil="true"` gives `None`.
    #[inline]
    pub fn read_opt_string(&mut self, el: &StartEl<'_>) -> Result<Option<String>, XmlError> {
        if el.nil {
            self.skip(el)?;
            return Ok(None);
        }
        self.read_string(el).map(Some)
    }

    /// Like [`read_value`](Self::read_value), but `xsi:nil="true"` gives `None`.
    #[inline]
    pub fn read_opt<T: XmlValue>(&mut self, el: &StartEl<'_>) -> Result<Option<T>, XmlError> {
        if el.nil {
            self.skip(el)?;
            return Ok(None);
        }
        if self.jaxb_values {
            let text = self.read_text(el)?;
            return Ok(T::from_jaxb_text(&text));
        }
        self.read_value(el).map(Some)
    }
}

/// The error for element text that does not parse as the element's type.
#[cold]
#[inline(never)]
fn invalid_value(el: &StartEl<'_>, text: &str, reason: &'static str) -> XmlError {
    XmlError::InvalidValue {
        position: el.position,
        element: el.name_lossy(),
        value: shorten(text),
        reason,
    }
}

fn is_xml_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Joins text pieces (text, references and CDATA sections split by comments).
fn append<'a>(acc: Option<Cow<'a, str>>, piece: Cow<'a, str>) -> Cow<'a, str> {
    match acc {
        None => piece,
        Some(prev) => {
            let mut s = prev.into_owned();
            s.push_str(&piece);
            Cow::Owned(s)
        }
    }
}

/// An end tag must close the element that is open.
#[inline]
fn check_end(expected: &[u8], found: &[u8], position: usize) -> Result<(), XmlError> {
    if expected == found {
        return Ok(());
    }
    Err(XmlError::Malformed {
        position: position as u64,
        message: format!(
            "end tag </{}> does not match the open element <{}>",
            shorten(&String::from_utf8_lossy(found)),
            shorten(&String::from_utf8_lossy(expected)),
        ),
    })
}
