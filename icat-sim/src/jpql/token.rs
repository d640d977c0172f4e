//! Tokenizer for ICAT's query languages (JPQL and the old concise syntax).

// The reserved words are shared with the query builder of `icat-soap`.
use icat_soap::calendar;
use icat_soap::query::JPQL_KEYWORDS as KEYWORDS;

use super::error::JpqlError;

/// The prefix that marks an enum literal, e.g. `org.icatproject.ParameterValueType.NUMERIC`.
pub const ENUM_PREFIX: &str = "org.icatproject.";

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A reserved word, upper-cased.
    Keyword(&'static str),
    /// An identifier (entity, field or variable name), case preserved.
    Ident(String),
    /// An integer literal.
    Integer(i64),
    /// A floating point literal.
    Real(f64),
    /// A string literal with `''` already unescaped.
    Str(String),
    /// A `{ts yyyy-mm-dd hh:mm:ss}` literal as milliseconds since the Unix epoch (UTC).
    Timestamp(i64),
    /// A named parameter such as `:user` (name without the colon).
    Param(String),
    /// An enum literal: the enum type and the value, e.g. `("ParameterValueType", "NUMERIC")`.
    Enum(String, String),
    /// Punctuation or an operator: `( ) , . = <> != < <= > >= + - * / [ ] <->`.
    Punct(&'static str),
    /// End of input.
    Eof,
}

/// A token and the character position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Zero-based character offset in the query.
    pub pos: usize,
    /// The text of the token as written (for error messages).
    pub text: String,
}

impl Token {
    /// True when this token is the keyword `kw` (given upper-case).
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self.tok, Tok::Keyword(k) if k == kw)
    }

    /// True when this token is the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        matches!(self.tok, Tok::Punct(q) if q == p)
    }
}

const PUNCTS: &[&str] = &[
    "<->", "<>", "!=", "<=", ">=", "(", ")", ",", ".", "=", "<", ">", "+", "-", "*", "/", "[", "]",
];

/// Splits a query into tokens; the last token is always [`Tok::Eof`].
pub fn tokenize(query: &str) -> Result<Vec<Token>, JpqlError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == '\'' {
            let (s, next) = read_string(&chars, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                pos: start,
                text: chars[start..next].iter().collect(),
            });
            i = next;
        } else if c == '{' {
            let (ms, next) = read_timestamp(&chars, i)?;
            out.push(Token {
                tok: Tok::Timestamp(ms),
                pos: start,
                text: chars[start..next].iter().collect(),
            });
            i = next;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let (tok, next) = read_number(&chars, i)?;
            out.push(Token {
                tok,
                pos: start,
                text: chars[start..next].iter().collect(),
            });
            i = next;
        } else if c == ':' {
            let mut j = i + 1;
            while j < chars.len() && is_ident_part(chars[j]) {
                j += 1;
            }
            if j == i + 1 {
                return Err(JpqlError::syntax("Named parameter has no name", ":", start));
            }
            out.push(Token {
                tok: Tok::Param(chars[i + 1..j].iter().collect()),
                pos: start,
                text: chars[start..j].iter().collect(),
            });
            i = j;
        } else if is_ident_start(c) {
            if chars[i..]
                .iter()
                .copied()
                .take(ENUM_PREFIX.len())
                .eq(ENUM_PREFIX.chars())
            {
                let mut j = i + ENUM_PREFIX.len();
                while j < chars.len() && (is_ident_part(chars[j]) || chars[j] == '.') {
                    j += 1;
                }
                let text: String = chars[start..j].iter().collect();
                let body = &text[ENUM_PREFIX.len()..];
                let Some((ty, value)) = body.split_once('.') else {
                    return Err(JpqlError::syntax("Malformed enum literal", &text, start));
                };
                if ty.is_empty() || value.is_empty() || value.contains('.') {
                    return Err(JpqlError::syntax("Malformed enum literal", &text, start));
                }
                out.push(Token {
                    tok: Tok::Enum(ty.to_string(), value.to_string()),
                    pos: start,
                    text: text.clone(),
                });
                i = j;
                continue;
            }
            let mut j = i;
            while j < chars.len() && is_ident_part(chars[j]) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let after_dot = out.last().is_some_and(|t: &Token| t.is_punct("."));
            let tok = match KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(&word)) {
                Some(k) if !after_dot => Tok::Keyword(k),
                _ => Tok::Ident(word.clone()),
            };
            out.push(Token {
                tok,
                pos: start,
                text: word,
            });
            i = j;
        } else {
            let Some(p) = PUNCTS.iter().find(|p| {
                p.chars().count() <= chars.len() - i
                    && p.chars().zip(&chars[i..]).all(|(a, b)| a == *b)
            }) else {
                return Err(JpqlError::syntax(
                    "Unexpected character",
                    &c.to_string(),
                    start,
                ));
            };
            out.push(Token {
                tok: Tok::Punct(p),
                pos: start,
                text: p.to_string(),
            });
            i += p.chars().count();
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
        text: "end of query".to_string(),
    });
    Ok(out)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Reads `'...'` with `''` as an escaped quote.
fn read_string(chars: &[char], start: usize) -> Result<(String, usize), JpqlError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                let text: String = chars[start..].iter().take(20).collect();
                return Err(JpqlError::syntax("Unterminated string", &text, start));
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                s.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((s, i + 1)),
            Some(c) => {
                s.push(*c);
                i += 1;
            }
        }
    }
}

fn read_number(chars: &[char], start: usize) -> Result<(Tok, usize), JpqlError> {
    let mut i = start;
    let mut real = false;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i < chars.len() && chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
        real = true;
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            real = true;
            i = j;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    // Java-style suffixes: 10L, 1.5D, 1.5F.
    let mut end = i;
    if i < chars.len() && matches!(chars[i], 'l' | 'L') && !real {
        end = i + 1;
    } else if i < chars.len() && matches!(chars[i], 'd' | 'D' | 'f' | 'F') {
        real = true;
        end = i + 1;
    }
    if end < chars.len() && is_ident_part(chars[end]) {
        let text: String = chars[start..=end].iter().collect();
        return Err(JpqlError::syntax("Malformed number", &text, start));
    }
    let text: String = chars[start..i].iter().collect();
    let tok = if real {
        text.parse::<f64>().map(Tok::Real).ok()
    } else {
        text.parse::<i64>().map(Tok::Integer).ok()
    };
    match tok {
        Some(t) => Ok((t, end)),
        None => Err(JpqlError::syntax("Malformed number", &text, start)),
    }
}

/// Reads `{ts yyyy-mm-dd hh:mm:ss[.fff]}`.
fn read_timestamp(chars: &[char], start: usize) -> Result<(i64, usize), JpqlError> {
    let Some(close) = chars[start..].iter().position(|c| *c == '}') else {
        let text: String = chars[start..].iter().take(30).collect();
        return Err(JpqlError::syntax("Unterminated timestamp", &text, start));
    };
    let end = start + close + 1;
    let text: String = chars[start..end].iter().collect();
    let inner = text[1..text.len() - 1].trim();
    let bad = || {
        JpqlError::syntax(
            "Timestamp must be written {ts yyyy-mm-dd hh:mm:ss}",
            &text,
            start,
        )
    };
    let body = inner
        .strip_prefix("ts")
        .or_else(|| inner.strip_prefix("TS"))
        .ok_or_else(bad)?
        .trim();
    let ms = parse_timestamp(body).ok_or_else(bad)?;
    Ok((ms, end))
}

/// Parses `yyyy-mm-dd hh:mm:ss[.fff]` as UTC milliseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() {
        return None;
    }
    let time = time.trim();
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut t = hms.split(':');
    let hour: i64 = t.next()?.parse().ok()?;
    let min: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    if t.next().is_some() {
        return None;
    }
    let (Ok(month), Ok(day)) = (u8::try_from(month), u8::try_from(day)) else {
        return None;
    };
    if !calendar::is_valid_date(year, month, day)
        || hour > 23
        || min > 59
        || sec > 60
        || hour < 0
        || min < 0
        || sec < 0
    {
        return None;
    }
    let millis = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.chars().all(|c| c.is_ascii_digit()) => {
            let padded = format!("{f:0<3}");
            padded[..3].parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    let days = calendar::days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + min) * 60_000 + sec * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(q: &str) -> Vec<Tok> {
        tokenize(q).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn keywords_are_case_insensitive_but_identifiers_keep_case() {
        assert_eq!(
            toks("select Ds from Dataset"),
            vec![
                Tok::Keyword("SELECT"),
                Tok::Ident("Ds".into()),
                Tok::Keyword("FROM"),
                Tok::Ident("Dataset".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn field_after_dot_is_never_a_keyword() {
        assert_eq!(
            toks("x.size"),
            vec![
                Tok::Ident("x".into()),
                Tok::Punct("."),
                Tok::Ident("size".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_unescape_doubled_quotes() {
        assert_eq!(toks("'it''s'"), vec![Tok::Str("it's".into()), Tok::Eof]);
    }

    #[test]
    fn numbers_timestamps_enums_and_params() {
        assert_eq!(
            toks(
                "12 1.5 2e3 {ts 1970-01-02 00:00:01} org.icatproject.ParameterValueType.NUMERIC :user"
            ),
            vec![
                Tok::Integer(12),
                Tok::Real(1.5),
                Tok::Real(2000.0),
                Tok::Timestamp(86_401_000),
                Tok::Enum("ParameterValueType".into(), "NUMERIC".into()),
                Tok::Param("user".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn timestamp_matches_known_epoch_value() {
        assert_eq!(
            parse_timestamp("2011-01-15 00:00:00"),
            Some(1_295_049_600_000)
        );
        assert_eq!(parse_timestamp("2000-02-30 00:00:00"), None);
    }

    #[test]
    fn operators_take_longest_match() {
        assert_eq!(
            toks("a<->b<>c<=d"),
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("<->"),
                Tok::Ident("b".into()),
                Tok::Punct("<>"),
                Tok::Ident("c".into()),
                Tok::Punct("<="),
                Tok::Ident("d".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn bad_input_names_the_token_and_position() {
        let e = tokenize("SELECT x FROM X x WHERE x.a = 'abc").unwrap_err();
        assert!(e.to_string().contains("'abc"), "{e}");
        assert!(e.to_string().contains("position 30"), "{e}");
        let e = tokenize("SELECT # FROM").unwrap_err();
        assert!(e.to_string().contains("'#'"), "{e}");
    }
}
