//! putAsPost: `POST /ids/put` with `multipart/form-data`, against a running simulator.

mod sim_common;

use icat_sim::Simulator;
use icat_sim::process::config::SimConfig;
use reqwest::multipart::{Form, Part};
use sim_common::{Sim, assert_error};

const WRAP_PREFIX: &str = "<html><script type=\"text/javascript\">window.name='";
const WRAP_SUFFIX: &str = "';</script></html>";

/// The usual fields of an upload into the fixture's dataset.
fn fields(s: &Sim) -> Form {
    Form::new()
        .text("sessionId", s.root.clone())
        .text("datasetId", s.dataset.to_string())
        .text("datafileFormatId", s.format.to_string())
}

fn file(bytes: Vec<u8>, file_name: &str) -> Part {
    Part::bytes(bytes).file_name(file_name.to_string())
}

async fn post(s: &Sim, form: Form) -> (u16, String, String) {
    let r = s
        .http
        .post(s.url("put"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, r.text().await.unwrap())
}

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n];
    icat_sim::ids::fill_pattern(seed, 0, &mut v);
    v
}

#[tokio::test]
async fn upload_registers_a_datafile_that_downloads_identically() {
    let s = Sim::start().await;
    let data = bytes(100_000, 3);
    let form = fields(&s)
        .text("description", "from a form")
        .text("doi", "10.5286/x")
        .text("datafileCreateTime", "1000")
        .text("datafileModTime", "2000")
        .part("file", file(data.clone(), "hello.txt"));
    let (status, content_type, body) = post(&s, form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        body.starts_with("{\"id\":"),
        "keys in the real order: {body}"
    );
    let crc = crc32fast::hash(&data);
    assert_eq!(json["checksum"], crc);
    assert_eq!(json["size"], 100_000);
    let id = json["id"].as_i64().unwrap();

    // The name defaults to the file part's file name; every field reached the catalogue.
    let df = s.sim.icat().get(&s.root, "Datafile", id).unwrap();
    let attr = |name: &str| format!("{:?}", df.attrs.get(name));
    assert!(attr("name").contains("hello.txt"), "{df:?}");
    assert!(attr("checksum").contains(&format!("{crc:x}")), "{df:?}");
    assert!(attr("description").contains("from a form"), "{df:?}");
    assert!(attr("doi").contains("10.5286/x"), "{df:?}");
    assert!(attr("location").contains(json["location"].as_str().unwrap()));
    assert!(df.attrs.contains_key("datafileCreateTime"), "{df:?}");
    assert!(df.attrs.contains_key("datafileModTime"), "{df:?}");

    let (status, got, disposition) = s.get_data(&s.root, id).await;
    assert_eq!(status, 200);
    assert_eq!(got, data, "downloads byte-identical");
    assert_eq!(disposition, "attachment; filename=\"hello.txt\"");

    // An explicit name field wins over the file name.
    let form = fields(&s)
        .text("name", "chosen.dat")
        .part("file", file(b"abc".to_vec(), "ignored.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_eq!(status, 201, "{body}");
    let id: i64 = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, got, disposition) = s.get_data(&s.root, id).await;
    assert_eq!(got, b"abc");
    assert_eq!(disposition, "attachment; filename=\"chosen.dat\"");
}

#[tokio::test]
async fn wrap_gives_the_html_wrapper_and_padding_pads_errors() {
    let s = Sim::start().await;
    let form = fields(&s)
        .text("wrap", "TRUE")
        .part("file", file(b"wrapped".to_vec(), "w.txt"));
    let (status, content_type, body) = post(&s, form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(content_type, "application/json");
    let inner = body
        .strip_prefix(WRAP_PREFIX)
        .and_then(|b| b.strip_suffix(WRAP_SUFFIX))
        .unwrap_or_else(|| panic!("not wrapped: {body}"));
    let json: serde_json::Value = serde_json::from_str(inner).unwrap();
    assert_eq!(json["checksum"], crc32fast::hash(b"wrapped"));
    assert_eq!(json["size"], 7);

    // An error of the upload is wrapped too; with padding behind a 24-line comment.
    let form = Form::new()
        .text("sessionId", s.root.clone())
        .text("datasetId", "not-a-number")
        .text("datafileFormatId", s.format.to_string())
        .text("wrap", "true")
        .text("padding", "true")
        .part("file", file(b"x".to_vec(), "x.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_eq!(status, 400, "{body}");
    let padded = format!(
        "<html><script type=\"text/javascript\">/*{}*/window.name='",
        " *        \n".repeat(24)
    );
    let inner = body
        .strip_prefix(&padded)
        .and_then(|b| b.strip_suffix(WRAP_SUFFIX))
        .unwrap_or_else(|| panic!("not padded: {body}"));
    assert_error(
        400,
        inner,
        400,
        "BadRequestException",
        "The datasetId parameter must be numeric",
    );
    // Without padding, errors get the plain wrapper.
    let form = Form::new()
        .text("wrap", "true")
        .part("file", file(b"x".to_vec(), "x.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_eq!(status, 400);
    assert!(body.starts_with(WRAP_PREFIX), "{body}");
    assert!(
        body.contains("The sessionId parameter \\'null\\' is not a valid UUID"),
        "quotes are escaped for the script: {body}"
    );
}

#[tokio::test]
async fn unknown_fields_and_fields_after_the_file_are_refused() {
    let s = Sim::start().await;
    let before = s.datafile_count();
    let form = fields(&s)
        .text("bogus", "1")
        .part("file", file(b"never stored".to_vec(), "n.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "Form field bogusis not recognised",
    );
    assert_eq!(s.datafile_count(), before);

    // The file part is uploaded with the fields seen so far: here none.
    let form = Form::new()
        .part("file", file(b"too early".to_vec(), "early.txt"))
        .text("sessionId", s.root.clone())
        .text("datasetId", s.dataset.to_string())
        .text("datafileFormatId", s.format.to_string());
    let (status, _, body) = post(&s, form).await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The sessionId parameter 'null' is not a valid UUID",
    );
    // Fields missing before the file: the same messages as put.
    let form = Form::new()
        .text("sessionId", s.root.clone())
        .part("file", file(b"x".to_vec(), "x.txt"))
        .text("datasetId", s.dataset.to_string());
    let (status, _, body) = post(&s, form).await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "The datafileFormatId parameter must be set",
    );
    // Form fields are small; an oversized one is refused before anything is stored.
    let form = fields(&s)
        .text("description", "d".repeat(100_000))
        .part("file", file(b"x".to_vec(), "x.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_error(
        status,
        &body,
        400,
        "BadRequestException",
        "Form field description is longer than 65536 bytes",
    );
    assert_eq!(s.datafile_count(), before, "nothing was catalogued");
    let leftovers = walk_files(&s.sim.storage_dir().join("main"));
    assert!(
        leftovers.is_empty(),
        "no stored file is left: {leftovers:?}"
    );

    // Not multipart at all; a form without a file part does nothing.
    let r = s
        .http
        .post(s.url("put"))
        .header("Content-Type", "application/octet-stream")
        .body("raw")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_error(
        status,
        &r.text().await.unwrap(),
        400,
        "BadRequestException",
        "Multipart content expected",
    );
    let (status, _, body) = post(&s, fields(&s)).await;
    assert_eq!((status, body.as_str()), (204, ""));
}

/// Every regular file under `dir` (the synthetic facility writes none).
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk_files(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test]
async fn read_only_ids_refuses_uploads() {
    let mut config = SimConfig::default();
    config.ids.read_only = true;
    let s = Sim::with(Simulator::builder().config(config)).await;
    let form = fields(&s).part("file", file(b"x".to_vec(), "x.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_error(
        status,
        &body,
        501,
        "NotImplementedException",
        "This operation has been configured to be unavailable",
    );
}

#[tokio::test]
async fn users_without_write_access_are_forbidden_and_nothing_stays_stored() {
    let s = Sim::start().await;
    let before = s.datafile_count();
    let jdoe = s.login_db("jdoe");
    let form = Form::new()
        .text("sessionId", jdoe)
        .text("datasetId", s.dataset.to_string())
        .text("datafileFormatId", s.format.to_string())
        .part("file", file(b"denied".to_vec(), "d.txt"));
    let (status, _, body) = post(&s, form).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(s.datafile_count(), before);
    let leftovers = walk_files(&s.sim.storage_dir().join("main"));
    assert!(
        leftovers.is_empty(),
        "the refused upload was removed: {leftovers:?}"
    );
}

#[tokio::test]
async fn a_large_upload_is_streamed_through() {
    let s = Sim::start().await;
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 20;
    // 20 MiB sent as a stream of 1 MiB chunks (ten times the usual 2 MB form limit).
    let mut crc = crc32fast::Hasher::new();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..CHUNKS)
        .map(|i| {
            let chunk = bytes(CHUNK, i as u64);
            crc.update(&chunk);
            Ok(chunk)
        })
        .collect();
    let crc = crc.finalize();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let form = fields(&s).part("file", Part::stream(body).file_name("big.bin"));
    let (status, _, body) = post(&s, form).await;
    assert_eq!(status, 201, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["size"], (CHUNK * CHUNKS) as u64);
    assert_eq!(json["checksum"], crc);
    let (status, got, _) = s.get_data(&s.root, json["id"].as_i64().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(got.len(), CHUNK * CHUNKS);
    assert_eq!(crc32fast::hash(&got), crc);
}
