//! The `text` of a search, in the Lucene query syntax icat.lucene parses (`StandardQueryParser`
//! with default operator OR), translated to an FTS5 MATCH expression.
//!
//! Supported: terms, `"quoted phrases"`, `AND`/`&&`, `OR`/`||`, `NOT`/`!`, `+`/`-` prefixes,
//! parentheses, a trailing `*` (prefix query), and `field:` qualifiers for the indexed fields.
//! Clauses combine as Lucene's `BooleanQuery`: with any required clause the optional ones only
//! score; otherwise at least one optional clause must match; prohibited clauses exclude; a query
//! of prohibited clauses only matches nothing. Terms are analysed as `IcatAnalyzer` does where
//! FTS5 can: split at non-alphanumerics, lower-cased, the stop words dropped (stemming is FTS5's
//! `porter` tokenizer). A term that analyses into several tokens matches any of them, as the
//! parser's default OR does. Wildcards other than a trailing `*` are refused.

use crate::icat::error::IcatError;

/// `IcatAnalyzer.SCIENTIFIC_STOP_WORDS_SET`.
const STOP_WORDS: [&str; 27] = [
    "a", "an", "and", "are", "but", "by", "for", "if", "into", "is", "it", "not", "on", "or",
    "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will",
    "with",
];

/// A translated query: an FTS5 expression, or nothing can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// An FTS5 MATCH expression.
    Expr(String),
    /// No document can match (e.g. only prohibited clauses, or an unknown field).
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    Open,
    Close,
    And,
    Or,
    Not,
    Plus,
    Minus,
}

fn lex(text: &str) -> Result<Vec<Tok>, IcatError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            '-' => {
                out.push(Tok::Minus);
                i += 1;
            }
            '!' => {
                out.push(Tok::Not);
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Tok::And);
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push(Tok::Or);
                i += 2;
            }
            '"' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '"')
                    .map(|p| start + p)
                    .ok_or_else(unparsable)?;
                if let Some(&c @ ('~' | '^')) = chars.get(end + 1) {
                    return Err(unsupported_operator(c));
                }
                out.push(Tok::Phrase(chars[start..end].iter().collect()));
                i = end + 1;
            }
            _ => {
                let start = i;
                let mut word = String::new();
                while i < chars.len() {
                    let c = chars[i];
                    if c == '\\' && i + 1 < chars.len() {
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    if matches!(c, '~' | '^') {
                        return Err(unsupported_operator(c));
                    }
                    word.push(c);
                    i += 1;
                }
                // A field qualifier followed by a phrase or group: keep the colon on the word.
                let _ = start;
                out.push(match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                });
            }
        }
    }
    Ok(out)
}

/// Fuzzy (`term~2`), proximity (`"a b"~3`) and boost (`term^10`) queries: icat.lucene's parser
/// takes them, FTS5 has no equivalent, so the simulator refuses them instead of reading the
/// number as another word (which returned unrelated hits and dropped the matching ones).
fn unsupported_operator(c: char) -> IcatError {
    let what = if c == '~' {
        "fuzzy or proximity (~)"
    } else {
        "boost (^)"
    };
    IcatError::bad_parameter(format!(
        "the simulator's search does not support {what} queries; it supports words, \"phrases\", \
         AND/OR/NOT, +/-, parentheses, field: and a trailing *"
    ))
}

fn unparsable() -> IcatError {
    // icat.lucene answers 400 with this text, which icat.server passes on as BAD_PARAMETER.
    IcatError::bad_parameter("Search term could not be parsed due to syntax errors")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

/// A parsed query node.
#[derive(Debug, Clone)]
enum Node {
    /// FTS5 expression for one analysed term or phrase.
    Leaf(Match),
    /// Nothing to search for (the term analysed to no tokens): the clause is dropped.
    Empty,
    Bool(Vec<(Occur, Node)>),
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    /// Maps a Lucene field name to the FTS column, or `None` for a field the target lacks.
    column: &'a dyn Fn(&str) -> Option<&'static str>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn parse_bool(&mut self, nested: bool) -> Result<Node, IcatError> {
        let mut clauses: Vec<(Occur, Node)> = Vec::new();
        let mut conj_and = false;
        loop {
            match self.peek() {
                None => {
                    if nested {
                        return Err(unparsable());
                    }
                    break;
                }
                Some(Tok::Close) => {
                    if !nested {
                        return Err(unparsable());
                    }
                    self.pos += 1;
                    break;
                }
                Some(Tok::And) => {
                    if clauses.is_empty() {
                        return Err(unparsable());
                    }
                    conj_and = true;
                    self.pos += 1;
                    continue;
                }
                Some(Tok::Or) => {
                    if clauses.is_empty() {
                        return Err(unparsable());
                    }
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let mut prohibited = false;
            let mut required = false;
            match self.peek() {
                Some(Tok::Not) | Some(Tok::Minus) => {
                    prohibited = true;
                    self.pos += 1;
                }
                Some(Tok::Plus) => {
                    required = true;
                    self.pos += 1;
                }
                _ => {}
            }
            let node = self.parse_clause()?;
            // QueryParserBase.addClause with the OR default operator.
            if conj_and {
                if let Some(last) = clauses.last_mut()
                    && last.0 != Occur::MustNot
                {
                    last.0 = Occur::Must;
                }
                if !prohibited {
                    required = true;
                }
            }
            conj_and = false;
            let occur = if prohibited {
                Occur::MustNot
            } else if required {
                Occur::Must
            } else {
                Occur::Should
            };
            clauses.push((occur, node));
        }
        Ok(Node::Bool(clauses))
    }

    fn parse_clause(&mut self) -> Result<Node, IcatError> {
        match self.peek().cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                self.parse_bool(true)
            }
            Some(Tok::Phrase(p)) => {
                self.pos += 1;
                Ok(phrase(None, &p))
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                if let Some((field, rest)) = w.split_once(':') {
                    let column = (self.column)(field);
                    let inner = if rest.is_empty() {
                        match self.peek().cloned() {
                            Some(Tok::Phrase(p)) => {
                                self.pos += 1;
                                phrase(column, &p)
                            }
                            Some(Tok::Word(w2)) => {
                                self.pos += 1;
                                term(column, &w2)?
                            }
                            _ => return Err(unparsable()),
                        }
                    } else {
                        term(column, rest)?
                    };
                    if column.is_none() && !matches!(inner, Node::Empty) {
                        return Ok(Node::Leaf(Match::Nothing));
                    }
                    Ok(inner)
                } else {
                    term(None, &w)
                }
            }
            _ => Err(unparsable()),
        }
    }
}

/// The tokens of a text as `IcatAnalyzer` would keep them (before stemming).
pub fn analyse(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
        .collect()
}

fn quoted(token: &str) -> String {
    format!("\"{}\"", token.replace('"', "\"\""))
}

fn with_column(column: Option<&'static str>, expr: String) -> String {
    match column {
        Some(c) => format!("{c} : {expr}"),
        None => expr,
    }
}

fn phrase(column: Option<&'static str>, text: &str) -> Node {
    let tokens = analyse(text);
    if tokens.is_empty() {
        return Node::Empty;
    }
    let inner = tokens
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    Node::Leaf(Match::Expr(with_column(column, quoted(&inner))))
}

fn term(column: Option<&'static str>, word: &str) -> Result<Node, IcatError> {
    let (stem, prefix) = match word.strip_suffix('*') {
        Some(s) => (s, true),
        None => (word, false),
    };
    if stem.contains(['*', '?']) {
        return Err(IcatError::bad_parameter(format!(
            "the simulator's search supports only a trailing * as wildcard, not {word:?}"
        )));
    }
    if prefix {
        // A prefix query is not analysed (only lower-cased, `lowercaseWildcardQueries`).
        let lower = stem.to_lowercase();
        if lower.is_empty() || !lower.chars().all(char::is_alphanumeric) {
            return Err(IcatError::bad_parameter(format!(
                "the simulator's search supports a trailing * only after letters and digits, not {word:?}"
            )));
        }
        return Ok(Node::Leaf(Match::Expr(with_column(
            column,
            format!("{} *", quoted(&lower)),
        ))));
    }
    let tokens = analyse(stem);
    Ok(match tokens.len() {
        0 => Node::Empty,
        1 => Node::Leaf(Match::Expr(with_column(column, quoted(&tokens[0])))),
        _ => Node::Leaf(Match::Expr(with_column(
            column,
            format!(
                "({})",
                tokens
                    .iter()
                    .map(|t| quoted(t))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
        ))),
    })
}

fn compile(node: &Node) -> Option<Match> {
    match node {
        Node::Empty => None,
        Node::Leaf(m) => Some(m.clone()),
        Node::Bool(clauses) => {
            let mut musts = Vec::new();
            let mut shoulds = Vec::new();
            let mut nots = Vec::new();
            for (occur, child) in clauses {
                let Some(m) = compile(child) else { continue };
                match occur {
                    Occur::Must => musts.push(m),
                    Occur::Should => shoulds.push(m),
                    Occur::MustNot => nots.push(m),
                }
            }
            if musts.is_empty() && shoulds.is_empty() && nots.is_empty() {
                return None;
            }
            let positive = if !musts.is_empty() {
                if musts.contains(&Match::Nothing) {
                    return Some(Match::Nothing);
                }
                join(&musts, " AND ")
            } else {
                let live: Vec<Match> = shoulds
                    .into_iter()
                    .filter(|m| *m != Match::Nothing)
                    .collect();
                if live.is_empty() {
                    return Some(Match::Nothing);
                }
                join(&live, " OR ")
            };
            let nots: Vec<Match> = nots.into_iter().filter(|m| *m != Match::Nothing).collect();
            if nots.is_empty() {
                Some(Match::Expr(positive))
            } else {
                Some(Match::Expr(format!(
                    "({positive}) NOT ({})",
                    join(&nots, " OR ")
                )))
            }
        }
    }
}

fn join(parts: &[Match], op: &str) -> String {
    let exprs: Vec<String> = parts
        .iter()
        .filter_map(|m| match m {
            Match::Expr(e) => Some(format!("({e})")),
            Match::Nothing => None,
        })
        .collect();
    exprs.join(op)
}

/// Translates `text` for an index whose columns `column` maps Lucene field names to. A text with
/// nothing to search for (only stop words) matches nothing, as an empty `BooleanQuery` does.
pub fn translate(
    text: &str,
    column: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<Match, IcatError> {
    let toks = lex(text)?;
    let mut parser = Parser {
        toks: &toks,
        pos: 0,
        column,
    };
    let node = parser.parse_bool(false)?;
    Ok(compile(&node).unwrap_or(Match::Nothing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(field: &str) -> Option<&'static str> {
        match field {
            "title" => Some("title"),
            "name" => Some("name"),
            _ => None,
        }
    }

    fn t(text: &str) -> Match {
        translate(text, &cols).unwrap()
    }

    #[test]
    fn default_operator_is_or_and_stop_words_go() {
        assert_eq!(
            t("lysozyme crystal"),
            Match::Expr("(\"lysozyme\") OR (\"crystal\")".into())
        );
        assert_eq!(t("the"), Match::Nothing);
        assert_eq!(t("the lysozyme"), Match::Expr("(\"lysozyme\")".into()));
    }

    #[test]
    fn and_not_plus_minus_follow_the_classic_parser() {
        assert_eq!(t("a1 AND b2"), Match::Expr("(\"a1\") AND (\"b2\")".into()));
        assert_eq!(t("+a1 b2"), Match::Expr("(\"a1\")".into()));
        assert_eq!(t("a1 -b2"), Match::Expr("((\"a1\")) NOT ((\"b2\"))".into()));
        assert_eq!(t("NOT b2"), Match::Nothing);
        assert_eq!(
            t("(a1 OR b2) AND c3"),
            Match::Expr("((\"a1\") OR (\"b2\")) AND (\"c3\")".into())
        );
    }

    #[test]
    fn phrases_prefixes_and_fields() {
        assert_eq!(
            t("\"Lysozyme Crystal\""),
            Match::Expr("(\"lysozyme crystal\")".into())
        );
        assert_eq!(t("lyso*"), Match::Expr("(\"lyso\" *)".into()));
        assert_eq!(
            t("title:lysozyme"),
            Match::Expr("(title : \"lysozyme\")".into())
        );
        assert_eq!(t("nosuch:lysozyme"), Match::Nothing);
        assert_eq!(
            t("SIM000001-1"),
            Match::Expr("((\"sim000001\" OR \"1\"))".into())
        );
        assert!(translate("ly?ozyme", &cols).is_err());
        // Fuzzy, proximity and boost are refused, not read as extra words.
        for text in [
            "lysozym~",
            "lysozyme~2",
            "\"lysozyme crystal\"~3",
            "lysozyme^10",
            "\"a b\"^2",
        ] {
            let e = translate(text, &cols).unwrap_err();
            assert_eq!(
                e.kind,
                crate::icat::error::IcatErrorKind::BadParameter,
                "{text}"
            );
            assert!(
                e.message.contains("does not support"),
                "{text}: {}",
                e.message
            );
        }
        // Escaped, they are plain characters.
        assert!(translate("lysozyme\\~2", &cols).is_ok());
        assert!(translate("(a1", &cols).is_err());
        assert!(translate("\"open", &cols).is_err());
    }
}
