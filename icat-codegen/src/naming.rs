//! Rust names for XML names: UpperCamel types and variants, snake_case keyword-safe fields.

/// `dataCollectionDatafile` -> `DataCollectionDatafile`; `DATE_AND_TIME` -> `DateAndTime`.
pub fn type_name(xml: &str) -> String {
    let mut out = String::new();
    let all_caps = xml.chars().all(|c| !c.is_ascii_lowercase());
    for part in xml.split(['_', '-', '.', ' ']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            if all_caps {
                out.extend(chars.flat_map(char::to_lowercase));
            } else {
                out.push_str(chars.as_str());
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// `visitId` -> `visit_id`, `schemeURI` -> `scheme_uri`, `type` -> `type_`, `return` -> `return_`.
pub fn field_name(xml: &str) -> String {
    let chars: Vec<char> = xml.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'f');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            type_name("dataCollectionDatafile"),
            "DataCollectionDatafile"
        );
        assert_eq!(type_name("DATE_AND_TIME"), "DateAndTime");
        assert_eq!(type_name("IcatException"), "IcatException");
        assert_eq!(type_name("READ"), "Read");
        assert_eq!(field_name("visitId"), "visit_id");
        assert_eq!(field_name("schemeURI"), "scheme_uri");
        assert_eq!(field_name("searchJPQL"), "search_jpql");
        assert_eq!(field_name("type"), "type_");
        assert_eq!(field_name("return"), "return_");
        assert_eq!(field_name("arg0"), "arg0");
        assert_eq!(field_name("applicableToDatafile"), "applicable_to_datafile");
        assert_eq!(field_name("valueURI"), "value_uri");
    }
}
