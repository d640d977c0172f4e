//! Making server-provided text safe to show: bounded, and without control characters.

/// Most bytes of an ICAT fault message kept (the rest is cut off).
pub const MAX_FAULT_MESSAGE_LEN: usize = 2000;

/// `text` trimmed, with control characters (newlines, ESC sequences, BEL ...) turned into spaces,
/// cut to at most `max` bytes on a character boundary.
///
/// Every piece of text a server chose (fault messages, IDS error bodies, user names, session ids,
/// entity names) goes through this before it can reach a terminal: a hostile server could
/// otherwise clear the screen, retitle the window or fake output with escape sequences, or flood
/// it with megabytes of text.
pub fn clean_text(text: &str, max: usize) -> String {
    let text = text.trim();
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .chars()
        .filter(|c| !is_invisible_format(*c))
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// True for the invisible Unicode format characters other than bidirectional controls: soft
/// hyphen, zero-width space, joiners and non-joiner, word joiner and invisible operators, the
/// byte order mark, interlinear annotation and tag characters. They show as nothing, so server
/// text could hide a difference behind them (`ds0001\u{200b}` reads as `ds0001`); cleaned text
/// drops them, in every field alike.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206a}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// True for the Unicode bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A to U+202E, U+2066 to U+2069). They are not control characters, yet a terminal
/// obeys them: `rtl\u{202e}txt.exe` shows as `rtlexe.txt`. Server text is cleaned of them
/// wherever it is cleaned of control characters.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_format_characters_are_dropped() {
        assert_eq!(
            clean_text("ds\u{200b}0001\u{feff}\u{2060}\u{00ad}\u{e0041}", 100),
            "ds0001"
        );
        // Bidirectional controls still become spaces.
        assert_eq!(clean_text("a\u{2066}b", 100), "a b");
    }

    #[test]
    fn control_characters_go_and_length_is_bounded() {
        assert_eq!(
            clean_text(" a\u{1b}[2J\u{1b}]0;pwned\u{7}b\n", 100),
            "a [2J ]0;pwned b"
        );
        assert_eq!(clean_text("ééé", 3), "é");
        assert_eq!(clean_text(&"x".repeat(100_000), 10).len(), 10);
    }

    #[test]
    fn bidirectional_overrides_go_too() {
        assert_eq!(clean_text("rtl\u{202e}txt.exe", 100), "rtl txt.exe");
        assert_eq!(clean_text("a\u{2066}b\u{2069}c\u{200f}", 100), "a b c ");
        assert_eq!(clean_text("ünïcødé 日本", 100), "ünïcødé 日本");
    }
}
