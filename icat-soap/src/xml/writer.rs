//! A small XML writer for SOAP messages: elements, escaped text, `xsi:type` and `xsi:nil`.

use super::{XSD_NS, XSI_NS, XmlEncode, XmlValue};

/// Builds an XML document as a string. Prefixes used: `tns` for the target namespace, `xsi` and `xs`,
/// all declared by [`XmlWriter::start_wrapper`].
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    out: String,
}

/// Appends `s` escaped for element text or a double-quoted attribute. Characters XML 1.0 cannot carry
/// (most C0 controls) are written as U+FFFD, since no XML parser would accept them.
pub fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\r' => "&#13;",
            b'\t' | b'\n' => continue,
            0..=0x1f => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        XmlWriter::default()
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        XmlWriter {
            out: String::with_capacity(n),
        }
    }

    /// The document written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// Takes the document.
    pub fn into_string(self) -> String {
        self.out
    }

    /// Appends raw, already well-formed markup.
    pub fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// Writes `<tns:{local} xmlns:tns=".." xmlns:xsi=".." xmlns:xs="..">`: the qualified wrapper of a
    /// message body or fault detail, declaring every prefix the content may use.
    pub fn start_wrapper(&mut self, target_ns: &str, local: &str) {
        self.out.push_str("<tns:");
        self.out.push_str(local);
        self.out.push_str(" xmlns:tns=\"");
        escape_into(&mut self.out, target_ns);
        self.out.push_str("\" xmlns:xsi=\"");
        self.out.push_str(XSI_NS);
        self.out.push_str("\" xmlns:xs=\"");
        self.out.push_str(XSD_NS);
        self.out.push_str("\">");
    }

    /// Writes `</tns:{local}>`.
    pub fn end_wrapper(&mut self, local: &str) {
        self.out.push_str("</tns:");
        self.out.push_str(local);
        self.out.push('>');
    }

    /// Writes `<{name}>`.
    pub fn start(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes `<{name} xsi:type="{xsi_type}">` (`xsi_type` is a prefixed name such as `tns:dataset`).
    pub fn start_typed(&mut self, name: &str, xsi_type: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xsi:type=\"");
        self.out.push_str(xsi_type);
        self.out.push_str("\">");
    }

    /// Writes `</{name}>`.
    pub fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes escaped text.
    pub fn text(&mut self, s: &str) {
        escape_into(&mut self.out, s);
    }

    /// Writes `<{name} xsi:nil="true"/>`.
    pub fn nil(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xsi:nil=\"true\"/>");
    }

    /// Writes `<{name}>value</{name}>`.
    pub fn value<T: XmlValue>(&mut self, name: &str, v: &T) {
        self.start(name);
        v.write_text(self);
        self.end(name);
    }

    /// Writes the element when the value is present; nothing otherwise.
    pub fn opt_value<T: XmlValue>(&mut self, name: &str, v: &Option<T>) {
        if let Some(v) = v {
            self.value(name, v);
        }
    }

    /// Writes one element per value.
    pub fn values<T: XmlValue>(&mut self, name: &str, vs: &[T]) {
        for v in vs {
            self.value(name, v);
        }
    }

    /// Writes `<{name}>children</{name}>`.
    pub fn child<T: XmlEncode + ?Sized>(&mut self, name: &str, v: &T) {
        self.start(name);
        v.encode_children(self);
        self.end(name);
    }

    /// Writes a text value with an `xsi:type` (for `xs:anyType` slots).
    pub fn typed_value<T: XmlValue>(&mut self, name: &str, xsi_type: &str, v: &T) {
        self.start_typed(name, xsi_type);
        v.write_text(self);
        self.end(name);
    }
}
