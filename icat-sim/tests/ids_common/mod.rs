//! Shared fixture of the IDS integration tests: a small facility in a `MemoryCatalog`.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use icat_sim::ids::{IdsServer, IdsSettings, IdsState, MemoryCatalog};

/// The ICAT URL the fixture's catalogue reports.
pub const ICAT_URL: &str = "https://icat.example.org/ICATService/ICAT";

/// Ids and sessions of the fixture facility.
pub struct Fixture {
    pub server: IdsServer,
    pub catalog: Arc<MemoryCatalog>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// Session of `db/jdoe` (not root).
    pub session: String,
    /// Session of `simple/root` (root).
    pub root_session: String,
    pub investigation: i64,
    /// Dataset "greetings" with files `greet-jdoe.txt`, `greet-nbour.txt` and one without location.
    pub dataset: i64,
    /// Dataset "raw data" (a space in the name) with one 300 kB file.
    pub dataset2: i64,
    /// A dataset without files.
    pub empty_dataset: i64,
    pub df_jdoe: i64,
    pub df_nbour: i64,
    pub df_no_location: i64,
    pub df_big: i64,
    pub format: i64,
}

/// Bytes of `greet-jdoe.txt`.
pub const JDOE: &[u8] = b"Hello John Doe!\n";
/// Bytes of `greet-nbour.txt`.
pub const NBOUR: &[u8] = b"Hello Nicolas Bourbaki!\n";

/// Bytes of the 300 kB file.
pub fn big_bytes() -> Vec<u8> {
    let mut v = vec![0u8; 300_000];
    icat_sim::ids::fill_pattern(5, 0, &mut v);
    v
}

impl Fixture {
    /// A single-level IDS.
    pub async fn new() -> Fixture {
        Self::with_settings(IdsSettings::default()).await
    }

    /// A two-level IDS with a short restore delay.
    pub async fn two_level(restore_delay: Duration) -> Fixture {
        Self::with_settings(IdsSettings {
            two_level: true,
            restore_delay,
            ..IdsSettings::default()
        })
        .await
    }

    pub async fn with_settings(settings: IdsSettings) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(MemoryCatalog::new(ICAT_URL));
        let facility = catalog.add_facility("ESNF");
        let investigation = catalog.add_investigation(facility, "12100409-ST", "1.1-P");
        let dataset = catalog.add_dataset(investigation, "greetings");
        let dataset2 = catalog.add_dataset(investigation, "raw data");
        let empty_dataset = catalog.add_dataset(investigation, "empty");
        let format = catalog.add_datafile_format("Text");
        let state = IdsState::new(catalog.clone(), dir.path(), settings).unwrap();
        let storage = state.storage();
        let put = |loc: &str, bytes: &[u8]| {
            let stored = storage.write_bytes(loc, bytes).unwrap();
            (Some(stored.size as i64), Some(stored.checksum_hex()))
        };
        let (size, crc) = put("a/greet-jdoe", JDOE);
        let df_jdoe = catalog.add_datafile(
            dataset,
            "greet-jdoe.txt",
            Some("a/greet-jdoe"),
            size,
            crc.as_deref(),
        );
        let (size, crc) = put("a/greet-nbour", NBOUR);
        let df_nbour = catalog.add_datafile(
            dataset,
            "greet-nbour.txt",
            Some("a/greet-nbour"),
            size,
            crc.as_deref(),
        );
        let df_no_location = catalog.add_datafile(dataset, "nowhere.txt", None, Some(99), None);
        let (size, crc) = put("b/big.bin", &big_bytes());
        let df_big = catalog.add_datafile(
            dataset2,
            "big file.bin",
            Some("b/big.bin"),
            size,
            crc.as_deref(),
        );
        let session = catalog.login("db/jdoe");
        let root_session = catalog.login("simple/root");
        catalog.add_root_user("simple/root");
        let server = IdsServer::start(state).await.unwrap();
        Fixture {
            server,
            catalog,
            dir,
            http: icat_soap::tls::http_client().unwrap(),
            session,
            root_session,
            investigation,
            dataset,
            dataset2,
            empty_dataset,
            df_jdoe,
            df_nbour,
            df_no_location,
            df_big,
            format,
        }
    }

    /// The URL of `call` with a query string.
    pub fn url(&self, call: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}/{call}", self.server.url())
        } else {
            format!("{}/{call}?{query}", self.server.url())
        }
    }

    /// GET `call?query`.
    pub async fn get(&self, call: &str, query: &str) -> reqwest::Response {
        self.http.get(self.url(call, query)).send().await.unwrap()
    }

    /// POST a form body to `call`.
    pub async fn post(&self, call: &str, form: &str) -> reqwest::Response {
        self.http
            .post(self.url(call, ""))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
    }

    /// GET and return (status, body text).
    pub async fn get_text(&self, call: &str, query: &str) -> (u16, String) {
        let r = self.get(call, query).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POST and return (status, body text).
    pub async fn post_text(&self, call: &str, form: &str) -> (u16, String) {
        let r = self.post(call, form).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// Assert an IDS error answer: status and `{"code","message"}` body.
pub fn assert_error(
    status: u16,
    body: &str,
    want_status: u16,
    want_code: &str,
    message_part: &str,
) {
    assert_eq!(status, want_status, "body: {body}");
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["code"], want_code, "body: {body}");
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

/// Read a zip body into (name, bytes) entries in archive order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap();
            (f.name().to_string(), out)
        })
        .collect()
}
