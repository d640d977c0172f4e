//! Names the IDS makes: UUIDs, zip entry names, download file names.

use std::time::{SystemTime, UNIX_EPOCH};

use super::catalog::DatafileRecord;

/// A random version 4 UUID in lower-case hex (the form the IDS accepts).
pub fn random_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `s` matches `^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$`.
pub fn is_lower_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(g, n)| {
            g.len() == n
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Java's `URLEncoder.encode(s, "UTF-8")`: keeps `[A-Za-z0-9.*_-]`, space to `+`, rest `%XX`.
pub fn java_url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The default ZipMapper entry name:
/// `ids/<facility>/<investigation>/<visit>/<dataset>/<datafile name>` (first four URL-encoded).
pub fn zip_entry_name(df: &DatafileRecord) -> String {
    let ds = &df.dataset;
    format!(
        "ids/{}/{}/{}/{}/{}",
        java_url_encode(&ds.facility_name),
        java_url_encode(&ds.investigation_name),
        java_url_encode(&ds.visit_id),
        java_url_encode(&ds.name),
        df.name
    )
}

/// The `Content-Disposition` file name of a getData response.
///
/// Zipped: `outname` with `.zip` appended unless its extension is already `zip`, or a
/// `yyyy-MM-dd_HH-mm-ss.zip` time stamp (UTC) without `outname`. Not zipped: `outname` as
/// given, or the datafile name.
pub fn download_name(zipped: bool, outname: Option<&str>, single_name: Option<&str>) -> String {
    match (zipped, outname) {
        (true, Some(name)) => match name.rsplit_once('.') {
            Some((_, "zip")) => name.to_string(),
            _ => format!("{name}.zip"),
        },
        (true, None) => format!("{}.zip", timestamp_now()),
        (false, Some(name)) => name.to_string(),
        (false, None) => single_name.unwrap_or("data").to_string(),
    }
}

/// A `Content-Disposition` header value; quotes and control characters are dropped from the
/// name so the header stays well formed.
pub fn content_disposition(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    format!("attachment; filename=\"{clean}\"")
}

fn timestamp_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_timestamp(secs)
}

/// `yyyy-MM-dd_HH-mm-ss` for seconds since the Unix epoch (UTC).
pub fn format_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = icat_soap::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}_{:02}-{:02}-{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_valid_v4_and_distinct() {
        let a = random_uuid();
        let b = random_uuid();
        assert!(is_lower_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn uuid_check_rejects_upper_case_and_bad_shapes() {
        assert!(is_lower_uuid("0d9a3706-80d4-4d29-9ff3-4d65d4308a24"));
        assert!(!is_lower_uuid("0D9A3706-80D4-4D29-9FF3-4D65D4308A24"));
        assert!(!is_lower_uuid("0d9a370680d44d299ff34d65d4308a24"));
        assert!(!is_lower_uuid("0d9a3706-80d4-4d29-9ff3-4d65d4308a2"));
        assert!(!is_lower_uuid("0d9a3706-80d4-4d29-9ff3-4d65d4308a24-1"));
        assert!(!is_lower_uuid(""));
    }

    #[test]
    fn java_url_encoding_matches_urlencoder() {
        assert_eq!(java_url_encode("1.1-P"), "1.1-P");
        assert_eq!(java_url_encode("a b/c"), "a+b%2Fc");
        assert_eq!(java_url_encode("x*_~é"), "x*_%7E%C3%A9");
    }

    #[test]
    fn download_names_follow_the_ids_rules() {
        assert_eq!(download_name(true, Some("a.zip"), None), "a.zip");
        assert_eq!(download_name(true, Some("a.ZIP"), None), "a.ZIP.zip");
        assert_eq!(download_name(true, Some("a"), None), "a.zip");
        assert_eq!(download_name(false, Some("x.txt"), Some("f")), "x.txt");
        assert_eq!(download_name(false, None, Some("f.dat")), "f.dat");
        let stamp = download_name(true, None, None);
        assert_eq!(stamp.len(), "2024-01-01_00-00-00.zip".len(), "{stamp}");
    }

    #[test]
    fn timestamps_are_civil_dates() {
        assert_eq!(format_timestamp(0), "1970-01-01_00-00-00");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29_00-00-00");
        assert_eq!(format_timestamp(1_720_742_461), "2024-07-12_00-01-01");
    }
}
