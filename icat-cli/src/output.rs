//! Output formats for listing commands: aligned tables, CSV with proper quoting, and JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// The output format chosen with `--json` / `--csv` (tables by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable aligned columns.
    Table,
    /// One JSON document with stable field names.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Column alignment in tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text columns.
    Left,
    /// Numbers and sizes.
    Right,
}

/// A table: headers, alignments and rows of already formatted cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra cells are dropped).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Aligned columns separated by two spaces; control characters from the server are escaped.
    pub fn render(&self) -> String {
        self.render_with(&self.widths(), true)
    }

    /// The width of each column: its longest cell, header included (as [`Table::render`]
    /// shows them).
    pub fn widths(&self) -> Vec<usize> {
        let mut widths = vec![0usize; self.headers.len()];
        for row in std::iter::once(&self.headers).chain(self.rows.iter()) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(sanitize_cell(cell).chars().count());
            }
        }
        widths
    }

    /// Like [`Table::render`] with given column widths (a cell longer than its column pushes
    /// the rest of its line out), the header line only when `header`: a table printed page by
    /// page keeps the widths of its first page.
    pub fn render_with(&self, widths: &[usize], header: bool) -> String {
        let lines = std::iter::once(&self.headers)
            .filter(|_| header)
            .chain(self.rows.iter());
        let mut out = String::new();
        for row in lines {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let cell = sanitize_cell(cell);
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count());
                match self.aligns[i] {
                    Align::Left => {
                        line.push_str(&cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(&cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// CSV with a header row; fields with commas, quotes or line breaks are quoted.
    pub fn render_csv(&self) -> String {
        self.render_csv_rows(true)
    }

    /// Like [`Table::render_csv`], the header row only when `header` (CSV printed page by
    /// page).
    pub fn render_csv_rows(&self, header: bool) -> String {
        let mut out = String::new();
        let lines = std::iter::once(&self.headers)
            .filter(|_| header)
            .chain(self.rows.iter());
        for row in lines {
            let fields: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// One JSON document `{"<key>": [ ... ], ...}` written item by item, so that a listing printed
/// page by page holds one page only; the text is what [`to_json`] gives for the whole document.
#[derive(Debug)]
pub struct JsonListWriter {
    items: u64,
}

impl JsonListWriter {
    /// Writes the document's start: the fields in `before` (in order), then `"<key>": [`.
    pub fn begin(
        out: &mut dyn std::io::Write,
        before: &[(&str, serde_json::Value)],
        key: &str,
    ) -> anyhow::Result<JsonListWriter> {
        out.write_all(b"{\n")?;
        for (name, value) in before {
            let value = json_escaped(serde_json::to_string_pretty(value)?).replace('\n', "\n  ");
            writeln!(out, "  {}: {value},", serde_json::to_string(name)?)?;
        }
        write!(out, "  {}: [", serde_json::to_string(key)?)?;
        Ok(JsonListWriter { items: 0 })
    }

    /// Writes one item of the list.
    pub fn item<T: Serialize>(
        &mut self,
        out: &mut dyn std::io::Write,
        value: &T,
    ) -> anyhow::Result<()> {
        let text = json_escaped(serde_json::to_string_pretty(value)?).replace('\n', "\n    ");
        let sep = if self.items == 0 { "" } else { "," };
        write!(out, "{sep}\n    {text}")?;
        self.items += 1;
        Ok(())
    }

    /// Items written so far.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Closes the list, writes the fields in `after` and ends the document.
    pub fn end(
        self,
        out: &mut dyn std::io::Write,
        after: &[(&str, serde_json::Value)],
    ) -> anyhow::Result<()> {
        if self.items > 0 {
            out.write_all(b"\n  ]")?;
        } else {
            out.write_all(b"]")?;
        }
        for (name, value) in after {
            let value = json_escaped(serde_json::to_string_pretty(value)?).replace('\n', "\n  ");
            write!(out, ",\n  {}: {value}", serde_json::to_string(name)?)?;
        }
        out.write_all(b"\n}\n")?;
        Ok(())
    }
}

/// One CSV field, quoted when needed (RFC 4180), with spreadsheet formulas neutralised: see
/// [`neutralise_formula`]. Every CSV the CLI prints goes through here. Control, bidirectional
/// and invisible format characters are escaped as in tables ([`sanitize_cell`]), line breaks
/// and tabs too: a carriage return printed to a terminal would let the rest of a cell overwrite
/// its start (session 8 review).
pub fn csv_field(value: &str) -> String {
    let escaped = sanitize_cell(value);
    let neutral = neutralise_formula(&escaped);
    let value: &str = &neutral;
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return: names and titles come from the catalogue, which anyone with write access
/// fills) gets a leading `'`, as OWASP's CSV-injection advice says; spreadsheets then show it as
/// text. Plain numbers (`-1.5`) are left as they are.
pub fn neutralise_formula(value: &str) -> std::borrow::Cow<'_, str> {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && value.trim().parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Replaces control characters (which could move the cursor or fake output), bidirectional
/// formatting characters (which reorder what a terminal shows) and invisible format characters
/// (which hide a difference) with visible escapes: `\t`, `\u{202e}`; a backslash is doubled,
/// so that no name can pass for an escaped one. This is the one rule for server text on a
/// terminal: tables, CSV, `show` and `find` alike (issue 20), so what is shown tells apart
/// names that differ only there.
pub fn sanitize_cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        // Line breaks and tabs as a reader writes them; other controls as escapes.
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_for_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether a terminal should never receive `c` as is from server text.
fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || icat_soap::untrusted::is_bidi_control(c)
        || icat_soap::untrusted::is_invisible_format(c)
}

/// Server text bounded for output: trimmed and cut to at most `max` bytes on a character
/// boundary, every character kept (the output escapes what a terminal must not receive:
/// [`sanitize_cell`] in tables and CSV, [`json_escaped`] in JSON).
pub fn bounded_text(text: &str, max: usize) -> String {
    let text = text.trim();
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// JSON text with every control, bidirectional formatting and invisible format character
/// written as a `\uXXXX` escape (a surrogate pair above U+FFFF): the document still parses to
/// the exact catalogue values, and a terminal it is printed on never receives those characters
/// (serde_json escapes only U+0000 to U+001F; a raw U+202E reversed what followed it). Outside
/// strings JSON holds only ASCII, so the line breaks and indentation of pretty printing, the
/// only control characters left, stay as they are.
pub fn json_escaped(text: String) -> String {
    if !text
        .chars()
        .any(|c| is_unsafe_for_terminal(c) && !matches!(c, '\n' | '\r' | '\t'))
    {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_for_terminal(c) && !matches!(c, '\n' | '\r' | '\t') {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `text` and a line break on stderr, ignoring a failure: stderr closed (`icat ... 2>&1 |
/// head -1`) must not end the command (`eprintln!` panics then: exit 101, a download killed
/// mid-run; session 8 review).
pub fn err_line(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A value as pretty JSON text with a trailing newline, escaped by [`json_escaped`].
pub fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = json_escaped(serde_json::to_string_pretty(value)?);
    text.push('\n');
    Ok(text)
}

/// Bytes in binary units with one decimal (`1.5 MiB`), plain bytes below 1 KiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration as `1.2 s`, `3 min 4 s` or `2 h 5 min`.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {} s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{} h {} min",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&[("ID", Align::Right), ("NAME", Align::Left)]);
        t.push(vec!["7".into(), "alpha".into()]);
        t.push(vec!["1234".into(), "b".into()]);
        assert_eq!(t.render(), "  ID  NAME\n   7  alpha\n1234  b\n");
    }

    #[test]
    fn table_escapes_control_characters() {
        let mut t = Table::new(&[("NAME", Align::Left)]);
        t.push(vec!["evil\x1b[2Jname".into()]);
        assert!(t.render().contains("evil\\u{1b}[2Jname"));
        let mut t = Table::new(&[("TITLE", Align::Left)]);
        t.push(vec!["two\nlines\tand a tab".into()]);
        assert_eq!(t.render(), "TITLE\ntwo\\nlines\\tand a tab\n");
    }

    #[test]
    fn table_escapes_bidirectional_overrides() {
        let mut t = Table::new(&[("NAME", Align::Left)]);
        t.push(vec!["rtl\u{202e}txt.exe".into()]);
        assert!(t.render().contains("rtl\\u{202e}txt.exe"), "{}", t.render());
    }

    /// Session 8 review (issue 20): a backslash in server text was shown as is, so the name
    /// `lit\u{1b}x` (backslash text) looked like `lit<ESC>x` escaped; and CSV kept a raw carriage
    /// return, which lets a terminal overwrite the start of a cell (`evil.exe\rgood.nxs` shows
    /// as `good.nxs`).
    #[test]
    fn a_backslash_is_doubled_and_csv_escapes_line_breaks() {
        assert_ne!(sanitize_cell("lit\\u{1b}x"), sanitize_cell("lit\u{1b}x"));
        assert_eq!(sanitize_cell("a\\nb"), "a\\\\nb");
        assert_ne!(sanitize_cell("a\\nb"), sanitize_cell("a\nb"));
        assert_eq!(csv_field("evil.exe\rgood.nxs"), "evil.exe\\rgood.nxs");
        assert_eq!(csv_field("tab\tname"), "tab\\tname");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Left)]);
        t.push(vec!["x,y".into(), "say \"hi\"".into()]);
        t.push(vec!["line\nbreak".into(), "plain".into()]);
        // A line break is escaped as in tables (a raw one printed to a terminal could hide
        // text), so no quoting is needed for it.
        assert_eq!(
            t.render_csv(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\nline\\nbreak,plain\r\n"
        );
    }

    /// Issue-16 finding: CSV cells were not neutralised against spreadsheet formulas.
    #[test]
    fn csv_neutralises_formulas() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Left)]);
        t.push(vec![
            "=HYPERLINK(\"http://x\",\"y\")".into(),
            "+1+cmd".into(),
        ]);
        t.push(vec!["@SUM(A1)".into(), "-2+3".into()]);
        // A leading tab or carriage return is escaped (`\t`, `\r`), so no spreadsheet reads it.
        t.push(vec!["\tx".into(), "\rx".into()]);
        t.push(vec!["-1.5".into(), "a=b".into()]);
        assert_eq!(
            t.render_csv(),
            "a,b\r\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1+cmd\r\n\
             '@SUM(A1),'-2+3\r\n\\tx,\\rx\r\n-1.5,a=b\r\n"
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(
            human_duration(std::time::Duration::from_millis(1500)),
            "1.5 s"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_secs(125)),
            "2 min 5 s"
        );
    }

    /// A JSON document written item by item is the document [`to_json`] writes whole.
    #[test]
    fn json_written_item_by_item_is_the_whole_document() {
        let rows = [
            serde_json::json!({"id": 1, "name": "a"}),
            serde_json::json!({"id": 2, "tags": ["x", "y"]}),
        ];
        for n in 0..=rows.len() {
            let mut out = Vec::new();
            let q = serde_json::json!("SELECT x\nFROM y");
            let mut w =
                JsonListWriter::begin(&mut out, &[("query", q.clone())], "results").unwrap();
            for r in &rows[..n] {
                w.item(&mut out, r).unwrap();
            }
            w.end(&mut out, &[("count", serde_json::json!(n))]).unwrap();
            #[derive(Serialize)]
            struct Doc<'a> {
                query: &'a serde_json::Value,
                results: &'a [serde_json::Value],
                count: usize,
            }
            let whole = to_json(&Doc {
                query: &q,
                results: &rows[..n],
                count: n,
            })
            .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole);
        }
    }

    #[test]
    fn pages_keep_the_first_pages_widths() {
        let mut first = Table::new(&[("ID", Align::Right), ("NAME", Align::Left)]);
        first.push(vec!["7".into(), "alpha".into()]);
        let widths = first.widths();
        let mut second = Table::new(&[("ID", Align::Right), ("NAME", Align::Left)]);
        second.push(vec!["12345".into(), "b".into()]);
        assert_eq!(
            first.render_with(&widths, true) + &second.render_with(&widths, false),
            "ID  NAME\n 7  alpha\n12345  b\n"
        );
        assert_eq!(second.render_csv_rows(false), "12345,b\r\n");
    }
}
