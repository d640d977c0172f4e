//! `cargo xtask refresh-wsdl --url URL [--out DIR]`: downloads a live server's WSDL, XSD and
//! `getEntityInfo` answers into `wsdl/`, with addresses normalised so the files only change when the
//! API does. Deliberately independent of `icat-soap`, so it works even when the bindings are stale.

use std::path::Path;

use anyhow::{Context, bail};
use quick_xml::events::Event;
use serde_json::{Map, Value, json};

/// The address written into the checked-in WSDL in place of the server's.
pub const NORMAL_ADDRESS: &str = "https://localhost:8181/ICATService/ICAT";
/// The schema location written into the checked-in WSDL.
pub const NORMAL_SCHEMA_LOCATION: &str = "ICAT.xsd";

/// The three files, as text, ready to write.
#[derive(Debug)]
pub struct Snapshot {
    /// `ICAT.wsdl`, addresses normalised.
    pub wsdl: String,
    /// `ICAT.xsd`.
    pub xsd: String,
    /// `entity-info.json`.
    pub entity_info: String,
}

/// The SOAP endpoint for a pasted address (`icat_soap::client::endpoint_url`: one normaliser).
pub fn endpoint(url: &str) -> anyhow::Result<reqwest::Url> {
    Ok(icat_soap::client::endpoint_url(url)?)
}

/// Replaces every `attr="…"` value in `text` whose value satisfies `pick` with `new`.
fn replace_attr(text: &str, attr: &str, pick: impl Fn(&str) -> bool, new: &str) -> String {
    let needle = format!("{attr}=\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let start = i + needle.len();
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('"') else {
            rest = &rest[start..];
            break;
        };
        let value = &rest[start..start + len];
        out.push_str(if pick(value) { new } else { value });
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Normalises the server-specific addresses in a WSDL.
pub fn normalise_wsdl(wsdl: &str) -> String {
    let w = replace_attr(
        wsdl,
        "schemaLocation",
        |v| v.contains("?xsd="),
        NORMAL_SCHEMA_LOCATION,
    );
    replace_attr(&w, "location", |v| v.starts_with("http"), NORMAL_ADDRESS)
}

fn soap_request(op: &str, inner: &str) -> String {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><i:{op} xmlns:i=\"http://icatproject.org\">{inner}</i:{op}></S:Body></S:Envelope>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A tiny XML tree, enough for `getEntityInfo` and `getEntityNames` answers.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

fn parse_xml(bytes: &[u8]) -> anyhow::Result<Node> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack = vec![Node::default()];
    let local = |q: &[u8]| {
        let s = String::from_utf8_lossy(q).into_owned();
        s.rsplit(':').next().unwrap_or("").to_owned()
    };
    loop {
        match reader
            .read_event()
            .context("malformed XML from the server")?
        {
            Event::Start(e) => stack.push(Node {
                name: local(e.name().as_ref()),
                ..Default::default()
            }),
            Event::Empty(e) => {
                let node = Node {
                    name: local(e.name().as_ref()),
                    ..Default::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().context("unbalanced XML")?;
                stack
                    .last_mut()
                    .context("unbalanced XML")?
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                let text = t.decode().context("bad text")?;
                let text = quick_xml::escape::unescape(&text).context("bad entity")?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().context("bad reference")?;
                let text = quick_xml::escape::unescape(&format!("&{name};"))
                    .context("bad entity")?
                    .into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().context("empty XML")
}

async fn call(
    http: &reqwest::Client,
    url: &reqwest::Url,
    op: &str,
    inner: &str,
) -> anyhow::Result<Node> {
    let response = http
        .post(url.clone())
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(soap_request(op, inner))
        .send()
        .await
        .with_context(|| format!("{op} failed"))?;
    let status = response.status();
    let body = response.bytes().await?;
    let root = parse_xml(&body).with_context(|| format!("{op}: HTTP {status}"))?;
    if let Some(fault) = root.find("Fault") {
        let msg = fault
            .find("faultstring")
            .map(|f| f.text.clone())
            .unwrap_or_default();
        bail!("{op} failed on the server: {msg}");
    }
    root.find(&format!("{op}Response"))
        .map(|n| Node {
            name: n.name.clone(),
            text: n.text.clone(),
            children: n.children.iter().map(clone_node).collect(),
        })
        .with_context(|| format!("{op}: no {op}Response in the answer"))
}

fn clone_node(n: &Node) -> Node {
    Node {
        name: n.name.clone(),
        text: n.text.clone(),
        children: n.children.iter().map(clone_node).collect(),
    }
}

/// Converts one `entityInfo` element into the JSON layout of `entity-info.json`. Facts that
/// `getEntityInfo` does not report (back-references, cascades, table names, ...) are kept from
/// `previous`: the server's answer only overwrites the keys it provides.
fn entity_json(info: &Node, previous: Option<&Value>) -> Value {
    let text = |n: Option<&Node>| n.map(|n| n.text.clone()).filter(|t| !t.is_empty());
    let mut fields: Vec<Value> = info
        .all("fields")
        .map(|f| {
            let name = text(f.child("name")).unwrap_or_default();
            let mut field = previous
                .and_then(|p| p["fields"].as_array())
                .and_then(|fs| fs.iter().find(|o| o["name"] == name))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let reported = json!({
                "name": name,
                "type": text(f.child("type")),
                "relType": text(f.child("relType")),
                "notNullable": text(f.child("notNullable")).as_deref() == Some("true"),
                "stringLength": text(f.child("stringLength")).and_then(|s| s.parse::<u64>().ok()),
                "comment": text(f.child("comment")),
            });
            if let Some(obj) = reported.as_object() {
                for (k, v) in obj {
                    field.insert(k.clone(), v.clone());
                }
            }
            Value::Object(field)
        })
        .collect();
    fields.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let constraints: Vec<Value> = info
        .all("constraints")
        .map(|c| {
            Value::from(
                c.all("fieldNames")
                    .map(|f| f.text.clone())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut out = previous
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    out.insert(
        "classComment".into(),
        json!(text(info.child("classComment"))),
    );
    out.insert("constraints".into(), Value::from(constraints));
    out.insert("fields".into(), Value::from(fields));
    Value::Object(out)
}

/// Downloads everything from the server at `url`, merging with the `previous` entity-info JSON.
pub async fn download(url: &str, previous: Option<&Value>) -> anyhow::Result<Snapshot> {
    let endpoint = endpoint(url)?;
    // reqwest is built without a default crypto provider (the workspace uses ring); xtask must
    // not depend on icat-soap, whose generated code it regenerates. Already installed is fine.
    // rustls 0.23.48 deprecates ring's provider (no post-quantum key exchange); the workspace
    // keeps ring for now, as `icat_soap::tls::crypto_provider` explains.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let get = |query: &'static str| {
        let mut u = endpoint.clone();
        u.set_query(Some(query));
        let http = http.clone();
        async move {
            let r = http
                .get(u.clone())
                .send()
                .await
                .with_context(|| format!("GET {u}"))?;
            if !r.status().is_success() {
                bail!("GET {u}: HTTP {}", r.status());
            }
            Ok::<_, anyhow::Error>(r.text().await?)
        }
    };
    let wsdl = normalise_wsdl(&get("wsdl").await?);
    let xsd = get("xsd=1").await?;
    if !wsdl.contains("definitions") || !xsd.contains("schema") {
        bail!("{endpoint} did not serve a WSDL and an XSD");
    }

    let names_node = call(&http, &endpoint, "getEntityNames", "").await?;
    let names: Vec<String> = names_node.all("return").map(|n| n.text.clone()).collect();
    if names.is_empty() {
        bail!("the server lists no entities");
    }
    let mut out: Map<String, Value> = previous
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut entities = Map::new();
    for name in &names {
        let node = call(
            &http,
            &endpoint,
            "getEntityInfo",
            &format!("<beanName>{}</beanName>", escape(name)),
        )
        .await?;
        let info = node
            .child("return")
            .with_context(|| format!("no entity info for {name}"))?;
        let prev = previous.and_then(|p| p["entities"].get(name));
        entities.insert(name.clone(), entity_json(info, prev));
    }
    // The abstract Parameter type, when the server describes it.
    if let Ok(node) = call(
        &http,
        &endpoint,
        "getEntityInfo",
        "<beanName>Parameter</beanName>",
    )
    .await
        && let Some(info) = node.child("return")
    {
        let prev = previous.and_then(|p| p["abstract"].get("Parameter"));
        let mut abs = out
            .get("abstract")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        abs.insert("Parameter".into(), entity_json(info, prev));
        out.insert("abstract".into(), Value::Object(abs));
    }
    out.insert("entityNames".into(), json!(names));
    out.insert("entities".into(), Value::Object(entities));
    // One-space indentation, like the checked-in file; keys come out sorted, so the output is
    // deterministic and a refresh of an unchanged server changes nothing.
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&Value::Object(out), &mut ser)?;
    let entity_info = String::from_utf8(buf)? + "\n";
    Ok(Snapshot {
        wsdl,
        xsd,
        entity_info,
    })
}

/// Writes a snapshot into `dir` (each file via a temporary file and a rename).
pub fn write(dir: &Path, snap: &Snapshot) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in [
        ("ICAT.wsdl", &snap.wsdl),
        ("ICAT.xsd", &snap.xsd),
        ("entity-info.json", &snap.entity_info),
    ] {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.part"));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(())
}

/// The whole command: download into `dir`, merging with the entity info already there (or, for a
/// new directory, with `fallback`, normally the checked-in `wsdl/entity-info.json`).
pub fn run(url: &str, dir: &Path, fallback: &Path) -> anyhow::Result<()> {
    let read = |p: &Path| -> Option<Value> {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    };
    let previous = read(&dir.join("entity-info.json")).or_else(|| read(fallback));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let snap = rt.block_on(download(url, previous.as_ref()))?;
    write(dir, &snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        let w = "<xsd:import namespace=\"http://icatproject.org\" schemaLocation=\"http://127.0.0.1:4711/ICATService/ICAT?xsd=1\"/>\n<soap:address location=\"http://127.0.0.1:4711/ICATService/ICAT\"/>";
        assert_eq!(
            normalise_wsdl(w),
            "<xsd:import namespace=\"http://icatproject.org\" schemaLocation=\"ICAT.xsd\"/>\n<soap:address location=\"https://localhost:8181/ICATService/ICAT\"/>"
        );
    }

    #[test]
    fn entity_info_keeps_back_references() {
        let xml = b"<return><classComment>A set</classComment><constraints><fieldNames>investigation</fieldNames><fieldNames>name</fieldNames></constraints><fields><name>name</name><notNullable>true</notNullable><relType>ATTRIBUTE</relType><stringLength>255</stringLength><type>String</type></fields><fields><name>datafiles</name><notNullable>false</notNullable><relType>MANY</relType><type>Datafile</type></fields></return>";
        let node = parse_xml(xml).expect("xml");
        let info = node.find("return").expect("return");
        let prev =
            json!({"fields": [{"name": "datafiles", "mappedBy": "dataset", "cascade": true}]});
        let v = entity_json(info, Some(&prev));
        assert_eq!(v["constraints"], json!([["investigation", "name"]]));
        assert_eq!(v["fields"][0]["name"], "datafiles");
        assert_eq!(v["fields"][0]["mappedBy"], "dataset");
        assert_eq!(v["fields"][1]["stringLength"], 255);
        assert_eq!(v["fields"][1]["notNullable"], true);
    }

    /// The simulator serves the checked-in WSDL, XSD and entity metadata: refreshing from it must
    /// give back the same WSDL and XSD bytes and the same entity information.
    #[tokio::test]
    async fn refreshing_from_the_simulator_reproduces_the_checked_in_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsdl");
        let read = |name: &str| std::fs::read_to_string(root.join(name));
        let (Ok(wsdl), Ok(xsd), Ok(info)) = (
            read("ICAT.wsdl"),
            read("ICAT.xsd"),
            read("entity-info.json"),
        ) else {
            panic!("the checked-in wsdl/ files are missing");
        };
        let previous: Value = serde_json::from_str(&info).expect("entity-info.json is JSON");
        let sim = icat_sim::Simulator::builder()
            .start()
            .await
            .expect("simulator");
        let snap = download(&sim.wsdl_url(), Some(&previous))
            .await
            .expect("refresh");
        assert_eq!(snap.wsdl, wsdl, "WSDL differs after normalising addresses");
        assert_eq!(snap.xsd, xsd);
        let fresh: Value = serde_json::from_str(&snap.entity_info).expect("JSON");
        assert_eq!(fresh, previous);
        // Byte for byte: the checked-in file is in the writer's form (sorted keys, one-space
        // indent), so a refresh against an unchanged server leaves `git diff` empty.
        assert!(
            snap.entity_info == info,
            "wsdl/entity-info.json is not in the form refresh-wsdl writes: a refresh would rewrite it"
        );
        // A second refresh gives the same bytes: the files are stable.
        let again = download(&sim.wsdl_url(), Some(&fresh))
            .await
            .expect("refresh");
        assert_eq!(again.entity_info, snap.entity_info);
        sim.shutdown().await;
    }
}
