//! The reserved words of ICAT's query language, shared by query builders (which must not use
//! them as variable names) and parsers (which treat them as keywords).

/// Reserved words of ICAT's JPQL tokenizer (`Tokenizer.java` in icat.server), plus `LIKE`, and the
/// JPQL words `EXISTS`, `OF` and `SOME` that ICAT hands on to EclipseLink. Upper case, sorted;
/// compare case-insensitively. None of them is a valid identification variable.
pub const JPQL_KEYWORDS: &[&str] = &[
    "ABS",
    "ALL",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "AVG",
    "BETWEEN",
    "BOTH",
    "BY",
    "CONCAT",
    "COUNT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DESC",
    "DISTINCT",
    "DIV",
    "EMPTY",
    "ESCAPE",
    "EXISTS",
    "FALSE",
    "FETCH",
    "FROM",
    "GROUP",
    "HAVING",
    "IN",
    "INCLUDE",
    "INNER",
    "IS",
    "JOIN",
    "LEADING",
    "LEFT",
    "LENGTH",
    "LIKE",
    "LIMIT",
    "LOCATE",
    "LOWER",
    "MAX",
    "MEMBER",
    "MIN",
    "MINUS",
    "MOD",
    "MULT",
    "NOT",
    "NULL",
    "OBJECT",
    "OF",
    "OR",
    "ORDER",
    "OUTER",
    "PLUS",
    "REAL",
    "SELECT",
    "SIZE",
    "SOME",
    "SQRT",
    "SUBSTRING",
    "SUM",
    "TIMESTAMP",
    "TRAILING",
    "TRIM",
    "TRUE",
    "UPPER",
    "WHERE",
];

#[cfg(test)]
mod tests {
    #[test]
    fn keywords_are_sorted_upper_case_and_unique() {
        let mut sorted = super::JPQL_KEYWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, super::JPQL_KEYWORDS);
        assert!(
            super::JPQL_KEYWORDS
                .iter()
                .all(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        );
    }
}
