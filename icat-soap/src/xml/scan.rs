//! The byte-level XML scanner under [`super::XmlReader`]: markup (tags, comments, CDATA, processing
//! instructions), attributes, and text with references resolved. It works on the whole input in
//! memory, borrows everything it can, and reports problems as typed errors with byte positions.

use std::borrow::Cow;
use std::collections::HashSet;

use memchr::{memchr, memchr2, memchr3, memmem};

use super::error::{XmlError, shorten};

/// One piece of markup, starting at a `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup<'a> {
    /// `<name attrs>` or `<name attrs/>` (`empty`).
    Start {
        /// The qualified name as written.
        name: &'a [u8],
        /// Everything after the name, unparsed.
        attrs: &'a [u8],
        /// True for a self-closing tag.
        empty: bool,
    },
    /// `</name>`; the name without trailing whitespace.
    End(&'a [u8]),
    /// The content of `<![CDATA[...]]>`.
    CData(&'a [u8]),
    /// `<!-- ... -->`.
    Comment,
    /// `<?target ...?>`; `decl` for the XML declaration (`<?xml ...?>`).
    Pi {
        /// True when the target is `xml`.
        decl: bool,
    },
}

/// XML whitespace (space, tab, CR, LF).
#[inline]
pub(crate) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits `prefix:local`; no colon means no prefix.
#[inline]
pub(crate) fn split_qname(qname: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match qname.iter().position(|&b| b == b':') {
        Some(i) => (Some(&qname[..i]), &qname[i + 1..]),
        None => (None, qname),
    }
}

fn eof(input: &[u8], context: &'static str) -> XmlError {
    XmlError::UnexpectedEof {
        position: input.len() as u64,
        context,
    }
}

fn malformed(position: usize, message: impl Into<String>) -> XmlError {
    XmlError::Malformed {
        position: position as u64,
        message: message.into(),
    }
}

/// Reads the markup starting at `input[pos] == b'<'`; returns it and the offset just after it.
#[inline]
pub(crate) fn markup(input: &[u8], pos: usize) -> Result<(Markup<'_>, usize), XmlError> {
    let after = pos + 1;
    match input.get(after) {
        Some(b'/') => {
            let from = after + 1;
            let Some(i) = memchr(b'>', &input[from..]) else {
                return Err(eof(input, "an end tag"));
            };
            let mut name = &input[from..from + i];
            while let [rest @ .., last] = name {
                if !is_xml_space(*last) {
                    break;
                }
                name = rest;
            }
            Ok((Markup::End(name), from + i + 1))
        }
        Some(b'!') => bang(input, pos),
        Some(b'?') => {
            let from = after + 1;
            let Some(i) = memmem::find(&input[from..], b"?>") else {
                return Err(eof(input, "a processing instruction"));
            };
            let body = &input[from..from + i];
            let target = body.iter().position(|&b| is_xml_space(b));
            let target = &body[..target.unwrap_or(body.len())];
            if target.is_empty() {
                return Err(malformed(pos, "a processing instruction without a target"));
            }
            let decl = target.eq_ignore_ascii_case(b"xml");
            Ok((Markup::Pi { decl }, from + i + 2))
        }
        Some(_) => start_tag(input, pos),
        None => Err(eof(input, "a tag")),
    }
}

/// The longest text [`short_plain_text`] looks at; longer text takes the general (memchr) path.
const SHORT_TEXT: usize = 64;

/// The text at the start of `rest` when it is short (under [`SHORT_TEXT`] bytes), plain ASCII without
/// references or `\r` (so it is its own value), and ends at a `<`; `None` otherwise.
#[inline]
pub(crate) fn short_plain_text(rest: &[u8]) -> Option<&str> {
    for (i, &b) in rest.iter().take(SHORT_TEXT).enumerate() {
        match b {
            b'<' => {
                let ascii = &rest[..i];
                // SAFETY: every byte before `i` was checked above to be below 0x80 (ASCII), and
                // ASCII is valid UTF-8; this skips a second validation pass on the hottest path.
                return Some(unsafe { std::str::from_utf8_unchecked(ascii) });
            }
            b'&' | b'\r' | 0x80.. => return None,
            _ => {}
        }
    }
    None
}

/// Byte equality for the short names of tags, compared a word at a time without a `memcmp` call.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut diff = 0u64;
    let mut i = 0;
    while i + 8 < n {
        diff |= word(a, i) ^ word(b, i);
        i += 8;
    }
    // The last word overlaps the previous one when `n` is not a multiple of 8.
    diff |= word(a, n - 8) ^ word(b, n - 8);
    diff == 0
}

/// An attribute-less start tag `<name>` or `<name/>` at `input[pos] == b'<'`: its qualified name, the
/// index of the colon in it, whether it is empty, and the offset after it. `None` for anything else
/// (end tags, comments, tags with attributes or whitespace), which [`markup`] then reads.
#[inline]
pub(crate) fn plain_start_tag(
    input: &[u8],
    pos: usize,
) -> Option<(&[u8], Option<usize>, bool, usize)> {
    let from = pos + 1;
    let bytes = input.get(from..)?;
    let mut colon = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'>' if i > 0 => return Some((&bytes[..i], colon, false, from + i + 1)),
            b'/' if i > 0 && bytes.get(i + 1) == Some(&b'>') => {
                return Some((&bytes[..i], colon, true, from + i + 2));
            }
            b':' if colon.is_none() => colon = Some(i),
            b'>' | b'/' | b'"' | b'\'' | b'<' | b'!' | b'?' | b' ' | b'\t' | b'\r' | b'\n' => {
                return None;
            }
            _ => {}
        }
    }
    None
}

/// `<name attrs>` / `<name attrs/>`: finds the closing `>` outside quoted attribute values.
#[inline]
fn start_tag(input: &[u8], pos: usize) -> Result<(Markup<'_>, usize), XmlError> {
    let from = pos + 1;
    let bytes = &input[from..];
    // Fast path: a short tag without attributes, `<name>` or `<name/>`.
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'>' if i > 0 => {
                let m = Markup::Start {
                    name: &bytes[..i],
                    attrs: &[],
                    empty: false,
                };
                return Ok((m, from + i + 1));
            }
            b'/' if i > 0 && bytes.get(i + 1) == Some(&b'>') => {
                let m = Markup::Start {
                    name: &bytes[..i],
                    attrs: &[],
                    empty: true,
                };
                return Ok((m, from + i + 2));
            }
            b'>' | b'/' | b'"' | b'\'' | b'<' | b' ' | b'\t' | b'\r' | b'\n' => break,
            _ => {}
        }
    }
    let mut i = 0;
    let end = loop {
        let Some(j) = memchr3(b'>', b'"', b'\'', &bytes[i..]) else {
            return Err(eof(input, "a start tag"));
        };
        let k = i + j;
        let quote = bytes[k];
        if quote == b'>' {
            break k;
        }
        let Some(l) = memchr(quote, &bytes[k + 1..]) else {
            return Err(eof(input, "an attribute value"));
        };
        i = k + 1 + l + 1;
    };
    let mut content = &bytes[..end];
    let empty = content.last() == Some(&b'/');
    if empty {
        content = &content[..content.len() - 1];
    }
    let name_len = content
        .iter()
        .position(|&b| is_xml_space(b) || b == b'<')
        .unwrap_or(content.len());
    let name = &content[..name_len];
    if name.is_empty() || content.get(name_len) == Some(&b'<') {
        return Err(malformed(pos, "a tag without a valid element name"));
    }
    Ok((
        Markup::Start {
            name,
            attrs: &content[name_len..],
            empty,
        },
        from + end + 1,
    ))
}

/// `<!-- -->`, `<![CDATA[ ]]>`; a `<!DOCTYPE` is refused.
fn bang(input: &[u8], pos: usize) -> Result<(Markup<'_>, usize), XmlError> {
    let rest = &input[pos..];
    if rest.starts_with(b"<!--") {
        let from = pos + 4;
        let Some(i) = memmem::find(&input[from..], b"-->") else {
            return Err(eof(input, "a comment"));
        };
        return Ok((Markup::Comment, from + i + 3));
    }
    if rest.starts_with(b"<![CDATA[") {
        let from = pos + 9;
        let Some(i) = memmem::find(&input[from..], b"]]>") else {
            return Err(eof(input, "a CDATA section"));
        };
        return Ok((Markup::CData(&input[from..from + i]), from + i + 3));
    }
    if rest.len() >= 9 && rest[2..9].eq_ignore_ascii_case(b"DOCTYPE") {
        return Err(XmlError::Doctype {
            position: pos as u64,
        });
    }
    if rest.len() < 9 && memchr(b'>', rest).is_none() {
        return Err(eof(input, "markup"));
    }
    Err(malformed(
        pos,
        "unknown markup after '<!' (expected a comment or CDATA)",
    ))
}

/// One attribute (`key`, raw `value`), or why the attribute syntax is wrong.
pub(crate) type AttrResult<'a> = Result<(&'a [u8], &'a [u8]), String>;

/// Iterates `key="value"` pairs of a start tag (the raw bytes after its name).
pub(crate) struct Attributes<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl<'a> Attributes<'a> {
    /// Attributes of `bytes` (what follows the element name).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Attributes { bytes, i: 0 }
    }

    fn skip_space(&mut self) {
        while self.i < self.bytes.len() && is_xml_space(self.bytes[self.i]) {
            self.i += 1;
        }
    }

    fn fail(&mut self, message: String) -> Option<AttrResult<'a>> {
        self.i = self.bytes.len();
        Some(Err(message))
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = AttrResult<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.bytes;
        self.skip_space();
        if self.i >= b.len() {
            return None;
        }
        let key_start = self.i;
        while self.i < b.len() && !is_xml_space(b[self.i]) && b[self.i] != b'=' {
            self.i += 1;
        }
        let key = &b[key_start..self.i];
        let lossy = || shorten(&String::from_utf8_lossy(key));
        if key.is_empty() {
            return self.fail("an attribute without a name".into());
        }
        self.skip_space();
        if b.get(self.i) != Some(&b'=') {
            return self.fail(format!("attribute {} has no value", lossy()));
        }
        self.i += 1;
        self.skip_space();
        let quote = match b.get(self.i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.fail(format!("the value of attribute {} is not quoted", lossy())),
        };
        let from = self.i + 1;
        let Some(len) = memchr(quote, &b[from..]) else {
            return self.fail(format!("the value of attribute {} is not closed", lossy()));
        };
        let value = &b[from..from + len];
        self.i = from + len + 1;
        if self.i < b.len() && !is_xml_space(b[self.i]) {
            return self.fail(format!(
                "attribute {} is not followed by whitespace",
                lossy()
            ));
        }
        Some(Ok((key, value)))
    }
}

/// Checks the attribute syntax, that no value holds a `<`, and that no attribute is repeated.
pub(crate) fn check_attributes(bytes: &[u8]) -> Result<(), String> {
    const SMALL: usize = 16;
    let mut seen: [&[u8]; SMALL] = [&[]; SMALL];
    let mut n = 0;
    let mut more: HashSet<&[u8]> = HashSet::new();
    for attr in Attributes::new(bytes) {
        let (key, value) = attr?;
        if memchr(b'<', value).is_some() {
            return Err(format!(
                "'<' in the value of attribute {}",
                shorten(&String::from_utf8_lossy(key))
            ));
        }
        let repeated = seen[..n].contains(&key) || (!more.is_empty() && more.contains(key));
        if repeated {
            return Err(format!(
                "attribute {} is repeated",
                shorten(&String::from_utf8_lossy(key))
            ));
        }
        if n < SMALL {
            seen[n] = key;
            n += 1;
        } else {
            more.insert(key);
        }
    }
    Ok(())
}

/// Validates UTF-8, reporting the position of the first bad byte.
#[inline]
fn utf8(raw: &[u8], start: usize) -> Result<&str, XmlError> {
    std::str::from_utf8(raw).map_err(|e| {
        malformed(
            start + e.valid_up_to(),
            "invalid UTF-8 (ICAT sends UTF-8 only)",
        )
    })
}

/// Element text starting at byte `start`: references resolved, line ends normalised (`\r\n` -> `\n`).
#[inline]
pub(crate) fn text(raw: &[u8], start: usize) -> Result<Cow<'_, str>, XmlError> {
    let s = utf8(raw, start)?;
    if memchr2(b'&', b'\r', raw).is_none() {
        return Ok(Cow::Borrowed(s));
    }
    unescape(s, start).map(Cow::Owned)
}

/// A CDATA section's content at byte `start`: no references, line ends normalised.
pub(crate) fn cdata(raw: &[u8], start: usize) -> Result<Cow<'_, str>, XmlError> {
    let s = utf8(raw, start)?;
    if memchr(b'\r', raw).is_none() {
        return Ok(Cow::Borrowed(s));
    }
    Ok(Cow::Owned(normalize_eols(s)))
}

/// An attribute value with references resolved (`position`: the element, for errors).
pub(crate) fn attribute_value(raw: &[u8], position: u64) -> Result<Cow<'_, str>, XmlError> {
    let start = usize::try_from(position).unwrap_or(usize::MAX);
    let s = utf8(raw, start).map_err(|_| malformed(start, "invalid UTF-8 in an attribute"))?;
    if memchr2(b'&', b'\r', raw).is_none() {
        return Ok(Cow::Borrowed(s));
    }
    unescape(s, start).map(Cow::Owned)
}

fn normalize_eols(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// Resolves `&...;` references and normalises line ends; `start` is the byte offset of `s`.
fn unescape(s: &str, start: usize) -> Result<String, XmlError> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(j) = memchr2(b'&', b'\r', &bytes[i..]) {
        let at = i + j;
        out.push_str(&s[i..at]);
        if bytes[at] == b'\r' {
            out.push('\n');
            i = at + 1;
            if bytes.get(i) == Some(&b'\n') {
                i += 1;
            }
            continue;
        }
        let Some(len) = memchr(b';', &bytes[at + 1..]) else {
            return Err(malformed(start + at, "'&' without a closing ';'"));
        };
        let name = &s[at + 1..at + 1 + len];
        out.push(resolve_reference(name, start + at)?);
        i = at + 1 + len + 1;
    }
    out.push_str(&s[i..]);
    Ok(out)
}

/// A character reference (`#65`, `#x41`) or one of the five predefined entities.
fn resolve_reference(name: &str, position: usize) -> Result<char, XmlError> {
    let code = if let Some(hex) = name.strip_prefix("#x") {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(dec) = name.strip_prefix('#') {
        dec.parse::<u32>().ok()
    } else {
        return match name {
            "amp" => Ok('&'),
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "quot" => Ok('"'),
            "apos" => Ok('\''),
            other => Err(XmlError::UnknownEntity {
                position: position as u64,
                name: shorten(other),
            }),
        };
    };
    match code.filter(|&c| c != 0).and_then(char::from_u32) {
        Some(c) => Ok(c),
        None => Err(malformed(
            position,
            format!("invalid character reference &{};", shorten(name)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_kinds() {
        let doc = b"<a x='>' y=\"'\"/></b ><!-- c --><![CDATA[<&>]]><?xml version='1.0'?><?pi x?>";
        let (m, p) = markup(doc, 0).unwrap();
        assert_eq!(
            m,
            Markup::Start {
                name: b"a",
                attrs: b" x='>' y=\"'\"",
                empty: true
            }
        );
        let (m, p) = markup(doc, p).unwrap();
        assert_eq!(m, Markup::End(b"b"));
        let (m, p) = markup(doc, p).unwrap();
        assert_eq!(m, Markup::Comment);
        let (m, p) = markup(doc, p).unwrap();
        assert_eq!(m, Markup::CData(b"<&>"));
        let (m, p) = markup(doc, p).unwrap();
        assert_eq!(m, Markup::Pi { decl: true });
        let (m, p) = markup(doc, p).unwrap();
        assert_eq!(m, Markup::Pi { decl: false });
        assert_eq!(p, doc.len());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let doc = b"<a x='1'><!-- c --><![CDATA[d]]><?p q?></a>";
        for cut in 0..doc.len() {
            let part = &doc[..cut];
            let mut pos = 0;
            while let Some(i) = memchr(b'<', &part[pos..]) {
                match markup(part, pos + i) {
                    Ok((_, next)) => pos = next,
                    Err(e) => {
                        assert!(e.position() <= part.len() as u64);
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn doctype_and_bad_markup_are_refused() {
        assert!(matches!(
            markup(b"<!doctype x>", 0),
            Err(XmlError::Doctype { position: 0 })
        ));
        assert!(matches!(
            markup(b"<!ELEMENT x ANY>", 0),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            markup(b"< a>", 0),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            markup(b"<a<b>", 0),
            Err(XmlError::Malformed { .. })
        ));
    }

    #[test]
    fn same_bytes_compares_every_length() {
        let names: [&[u8]; 8] = [
            b"",
            b"a",
            b"id",
            b"name",
            b"datafile",
            b"datafiles",
            b"createTime",
            b"dataCollectionDatasets",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_bytes(a, b), a == b);
            }
            // One byte changed anywhere is seen.
            for i in 0..a.len() {
                let mut c = a.to_vec();
                c[i] ^= 1;
                assert!(!same_bytes(a, &c));
            }
        }
    }

    #[test]
    fn attributes_are_checked() {
        assert!(check_attributes(b" a='1' b=\"2\"").is_ok());
        assert!(check_attributes(b" a='1' a='2'").is_err());
        assert!(check_attributes(b" a='1'b='2'").is_err());
        assert!(check_attributes(b" a").is_err());
        assert!(check_attributes(b" a=1").is_err());
        assert!(check_attributes(b" a='<'").is_err());
        let many: String = (0..40).map(|i| format!(" a{i}='x'")).collect();
        assert!(check_attributes(many.as_bytes()).is_ok());
        let repeated = format!("{many} a39='y'");
        assert!(check_attributes(repeated.as_bytes()).is_err());
    }

    #[test]
    fn text_references_and_line_ends() {
        assert!(matches!(text(b"plain", 0).unwrap(), Cow::Borrowed("plain")));
        assert_eq!(
            text(b"a&amp;b&#x41;&#66;&lt;&gt;&quot;&apos;\r\nc\rd", 0).unwrap(),
            "a&bAB<>\"'\nc\nd"
        );
        assert!(matches!(
            text(b"x&nope;", 0),
            Err(XmlError::UnknownEntity { position: 1, .. })
        ));
        assert!(matches!(text(b"x&#0;", 0), Err(XmlError::Malformed { .. })));
        assert!(matches!(text(b"x&amp", 0), Err(XmlError::Malformed { .. })));
        assert!(matches!(
            text(b"ab\xFF", 10),
            Err(XmlError::Malformed { position: 12, .. })
        ));
        assert_eq!(cdata(b"a\r\nb&amp;", 0).unwrap(), "a\nb&amp;");
    }
}
