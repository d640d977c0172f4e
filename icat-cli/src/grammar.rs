//! Counts in words for people: "1 file", "2 files", "no files".

/// `n` and the noun in the right number: `count(1, "file", "files")` is `"1 file"`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Just the noun in the right number for `n`.
pub fn noun<'a>(n: u64, singular: &'a str, plural: &'a str) -> &'a str {
    if n == 1 { singular } else { plural }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_only_for_one() {
        assert_eq!(count(0, "file", "files"), "0 files");
        assert_eq!(count(1, "file", "files"), "1 file");
        assert_eq!(count(2, "dataset", "datasets"), "2 datasets");
        assert_eq!(noun(1, "result", "results"), "result");
        assert_eq!(noun(3, "result", "results"), "results");
    }
}
