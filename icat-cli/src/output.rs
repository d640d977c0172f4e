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
        let cells: Vec<Vec<String>> = std::iter::once(&self.headers)
            .chain(self.rows.iter())
            .map(|r| r.iter().map(|c| sanitize_cell(c)).collect())
            .collect();
        let mut widths = vec![0usize; self.headers.len()];
        for row in &cells {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &cells {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i] - cell.chars().count();
                match self.aligns[i] {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
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
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(self.rows.iter()) {
            let fields: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// One CSV field, quoted when needed (RFC 4180), with spreadsheet formulas neutralised: see
/// [`neutralise_formula`]. Every CSV the CLI prints goes through here.
pub fn csv_field(value: &str) -> String {
    let neutral = neutralise_formula(value);
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

/// Replaces control characters (which could move the cursor or fake output) with escapes.
pub fn sanitize_cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        // Line breaks and tabs as a reader writes them; other controls as escapes.
        let short = match c {
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        if let Some(text) = short {
            out.push_str(text);
        } else if c.is_control()
            || icat_soap::untrusted::is_bidi_control(c)
            || icat_soap::untrusted::is_invisible_format(c)
        {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// A value as pretty JSON text with a trailing newline.
pub fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
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

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Left)]);
        t.push(vec!["x,y".into(), "say \"hi\"".into()]);
        t.push(vec!["line\nbreak".into(), "plain".into()]);
        assert_eq!(
            t.render_csv(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n\"line\nbreak\",plain\r\n"
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
        t.push(vec!["\tx".into(), "\rx".into()]);
        t.push(vec!["-1.5".into(), "a=b".into()]);
        assert_eq!(
            t.render_csv(),
            "a,b\r\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1+cmd\r\n\
             '@SUM(A1),'-2+3\r\n'\tx,\"'\rx\"\r\n-1.5,a=b\r\n"
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
}
