//! Regenerating icat-soap *in place* from the schema of each ICAT release from 4.3.3 to 6.1.1
//! gives crates that compile: icat-soap (library and its own tests), icat-ids and icat-rest.
//!
//! No textual WSDL/XSD of ICAT 4.3 or later is published (servers build them at run time), so each
//! version's schema is derived from the 6.2.0 one in `wsdl/` by removing what that version lacks:
//! the operations, types, fields, enumeration values and `nillable` flags listed in
//! `tests/fixtures/icat-versions.txt`, a table derived from the icat.server source at each tag
//! (the file says which source files). Removing a type also removes every element of that type
//! (relations to it, `dummy`'s argument, an operation's return). Every entry must match something
//! in the 6.2.0 schema, so the table cannot silently drift from it.
//!
//! What cannot be derived by removal is left out, and the table names it per version: ICAT 4.3.3
//! and 4.4.0 also had the `log` entity and the Lucene operations (`luceneSearch`, `searchText`,
//! ...; removed in 4.5.0), and 4.3.3 wrote `entityBaseBean`'s elements in another order. The
//! derived schemas are therefore the real ones minus those; the bindings compile with them and
//! with the real 4.2 schema (`regenerate_in_place.rs`), which has its own extra entities.
//!
//! Cost: every version's schema is derived and generated on every run (milliseconds), but
//! compiling a version's copy of the three crates takes a minute or two, so by default only the two
//! that differ most are compiled: 4.3.3 (the fewest operations and types: no
//! `getAuthenticatorInfo`/`getVersion`, no `fieldSet`, no `NOT_IMPLEMENTED` fault type, 16 entities
//! fewer) and 5.0.1 (the 5.0-6.1 line: every operation, every entity but `Subject`, the case the
//! issue reported, and like 6.0.0 a `fieldSet.fields` that is not nillable). Set
//! `ICAT_REGENERATE_ALL_VERSIONS=1` to compile all seven (4.4.0 and 4.7.0 add `InvestigationGroup`
//! to 4.3.3's entities; 4.10.0 adds `getAuthenticatorInfo` without `fieldSet`; 6.0.0 is 5.0.1's
//! schema; 6.1.1 differs from 6.2.0 only by `Subject` and three fields).

mod in_place;

use std::collections::BTreeSet;

use in_place::{WorkspaceCopy, repo_root};

/// What one version lacks compared with the 6.2.0 schema (a section of the table).
#[derive(Debug, Default)]
struct Lacks {
    version: String,
    operations: Vec<String>,
    types: Vec<String>,
    fields: Vec<(String, String)>,
    values: Vec<(String, String)>,
    not_nillable: Vec<(String, String)>,
}

fn pair(item: &str) -> (String, String) {
    let (a, b) = item
        .split_once('.')
        .unwrap_or_else(|| panic!("`{item}` is not `type.name`"));
    (a.to_owned(), b.to_owned())
}

/// Parses `tests/fixtures/icat-versions.txt`.
fn table() -> Vec<Lacks> {
    let path = repo_root().join("icat-codegen/tests/fixtures/icat-versions.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: Vec<Lacks> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Lacks {
                version: v.to_owned(),
                ..Lacks::default()
            });
            continue;
        }
        let (key, value) = line.split_once('=').expect("`key = value` lines");
        let items = value.split_whitespace();
        let lacks = out.last_mut().expect("a [version] section first");
        match key.trim() {
            "operations" => lacks.operations = items.map(str::to_owned).collect(),
            "types" => lacks.types = items.map(str::to_owned).collect(),
            "fields" => lacks.fields = items.map(pair).collect(),
            "values" => lacks.values = items.map(pair).collect(),
            "not-nillable" => lacks.not_nillable = items.map(pair).collect(),
            "tag" | "not-derivable" => {}
            other => panic!("unknown key `{other}` in {}", path.display()),
        }
    }
    out
}

/// The value of `attr="..."` in `line`.
fn attr<'a>(line: &'a str, attr: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// Everything the version lacks, matched against the text; each entry counts how often it matched.
struct Removal<'a> {
    lacks: &'a Lacks,
    /// Type names removed with their elements: the types, the operations and their responses.
    gone: BTreeSet<String>,
    used: BTreeSet<String>,
}

impl Removal<'_> {
    fn hit(&mut self, what: String) {
        self.used.insert(what);
    }

    /// Panics unless every table entry matched something in the 6.2.0 schema.
    fn all_matched(&self) {
        let mut expected: Vec<String> = self.gone.iter().map(|t| format!("type {t}")).collect();
        expected.extend(
            self.lacks
                .operations
                .iter()
                .map(|o| format!("operation {o}")),
        );
        expected.extend(
            self.lacks
                .fields
                .iter()
                .map(|(t, f)| format!("field {t}.{f}")),
        );
        expected.extend(
            self.lacks
                .values
                .iter()
                .map(|(t, v)| format!("value {t}.{v}")),
        );
        expected.extend(
            self.lacks
                .not_nillable
                .iter()
                .map(|(t, f)| format!("nillable {t}.{f}")),
        );
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !self.used.contains(*e))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: table entries that match nothing in the 6.2.0 schema: {missing:?}",
            self.lacks.version
        );
    }
}

/// The 6.2.0 XSD without what `lacks` names. The file has one element a line.
fn derive_xsd(xsd: &str, removal: &mut Removal) -> String {
    let mut out = String::new();
    let mut current: Option<String> = None; // the named type being read
    let mut skip_depth = 0usize; // > 0 while inside a removed named type
    for line in xsd.lines() {
        let t = line.trim();
        let opens = (t.starts_with("<xs:complexType") || t.starts_with("<xs:simpleType"))
            && !t.ends_with("/>");
        let closes = t.starts_with("</xs:complexType>") || t.starts_with("</xs:simpleType>");
        if skip_depth > 0 {
            skip_depth += usize::from(opens);
            skip_depth -= usize::from(closes);
            continue;
        }
        if opens && let Some(name) = attr(t, "name") {
            if removal.gone.contains(name) {
                removal.hit(format!("type {name}"));
                skip_depth = 1;
                continue;
            }
            current = Some(name.to_owned());
        }
        if t.starts_with("<xs:element") {
            if let Some(ty) = attr(t, "type").and_then(|t| t.strip_prefix("tns:"))
                && removal.gone.contains(ty)
            {
                continue;
            }
            if let (Some(ty), Some(name)) = (&current, attr(t, "name")) {
                let field = (ty.clone(), name.to_owned());
                if removal.lacks.fields.contains(&field) {
                    removal.hit(format!("field {ty}.{name}"));
                    continue;
                }
                if removal.lacks.not_nillable.contains(&field) && t.contains(" nillable=\"true\"") {
                    removal.hit(format!("nillable {ty}.{name}"));
                    out.push_str(&line.replace(" nillable=\"true\"", ""));
                    out.push('\n');
                    continue;
                }
            }
        }
        if t.starts_with("<xs:enumeration")
            && let (Some(ty), Some(value)) = (&current, attr(t, "value"))
            && removal
                .lacks
                .values
                .contains(&(ty.clone(), value.to_owned()))
        {
            removal.hit(format!("value {ty}.{value}"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The 6.2.0 WSDL without the messages, port-type operations and binding operations of the
/// operations `lacks` names.
fn derive_wsdl(wsdl: &str, removal: &mut Removal) -> String {
    let mut out = String::new();
    let mut skip_until: Option<&str> = None;
    for line in wsdl.lines() {
        let t = line.trim();
        if let Some(end) = skip_until {
            if t.starts_with(end) {
                skip_until = None;
            }
            continue;
        }
        for (open, close) in [("<message ", "</message>"), ("<operation ", "</operation>")] {
            if t.starts_with(open)
                && let Some(name) = attr(t, "name")
            {
                let op = name.strip_suffix("Response").unwrap_or(name);
                if removal.lacks.operations.iter().any(|o| o == op) {
                    if open == "<operation " {
                        removal.hit(format!("operation {op}"));
                    }
                    skip_until = Some(close);
                }
            }
        }
        if skip_until.is_none() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Derives the version's schema, regenerates icat-soap from it in a workspace copy, checks that the
/// bindings are that version's and, when asked (or for the versions CI compiles), compiles the copy.
fn regenerate(version: &str, compile_by_default: bool) {
    let lacks = table()
        .into_iter()
        .find(|l| l.version == version)
        .unwrap_or_else(|| panic!("{version} is not in the table"));
    let root = repo_root();
    let xsd = std::fs::read_to_string(root.join("wsdl/ICAT.xsd")).unwrap();
    let wsdl = std::fs::read_to_string(root.join("wsdl/ICAT.wsdl")).unwrap();

    let mut gone: BTreeSet<String> = lacks.types.iter().cloned().collect();
    for op in &lacks.operations {
        gone.insert(op.clone());
        gone.insert(format!("{op}Response"));
    }
    let mut removal = Removal {
        lacks: &lacks,
        gone,
        used: BTreeSet::new(),
    };
    let label = format!("derived from the ICAT 6.2.0 schema for ICAT {version}");
    let xsd = derive_xsd(&xsd, &mut removal).replacen("ICAT 6.2.0 schema", &label, 1);
    let wsdl = derive_wsdl(&wsdl, &mut removal).replacen("ICAT 6.2.0 WSDL", &label, 1);
    removal.all_matched();

    let copy = WorkspaceCopy::new(
        &format!("regenerate-icat-{version}"),
        &[("ICAT.wsdl", wsdl.as_bytes()), ("ICAT.xsd", xsd.as_bytes())],
    );
    let files = copy.regenerate();
    let all_code: String = files.iter().map(|(_, code)| code.as_str()).collect();
    for op in &lacks.operations {
        let request = format!("pub struct {}{}Request ", op[..1].to_uppercase(), &op[1..]);
        assert!(
            !all_code.contains(&request),
            "{version}: {request} is generated"
        );
    }
    for ty in &lacks.types {
        let item = format!("pub struct {}{} ", ty[..1].to_uppercase(), &ty[1..]);
        assert!(!all_code.contains(&item), "{version}: {item} is generated");
    }
    assert!(
        all_code.contains("pub struct SearchRequest ")
            && all_code.contains("pub struct Investigation "),
        "{version}: the bindings lack what every version has"
    );

    let all = std::env::var_os("ICAT_REGENERATE_ALL_VERSIONS").is_some_and(|v| v == "1");
    if compile_by_default || all {
        copy.check(&label);
    } else {
        eprintln!(
            "ICAT {version}: schema derived and generated; not compiled \
             (set ICAT_REGENERATE_ALL_VERSIONS=1 to compile every version)"
        );
    }
}

#[test]
fn icat_4_3_3() {
    regenerate("4.3.3", true);
}

#[test]
fn icat_4_4_0() {
    regenerate("4.4.0", false);
}

#[test]
fn icat_4_7_0() {
    regenerate("4.7.0", false);
}

#[test]
fn icat_4_10_0() {
    regenerate("4.10.0", false);
}

#[test]
fn icat_5_0_1() {
    regenerate("5.0.1", true);
}

#[test]
fn icat_6_0_0() {
    regenerate("6.0.0", false);
}

#[test]
fn icat_6_1_1() {
    regenerate("6.1.1", false);
}

/// The table names exactly the versions the issue lists, each once.
#[test]
fn the_table_covers_every_version_from_4_3_to_6_1() {
    let versions: Vec<_> = table().into_iter().map(|l| l.version).collect();
    assert_eq!(
        versions,
        [
            "4.3.3", "4.4.0", "4.7.0", "4.10.0", "5.0.1", "6.0.0", "6.1.1"
        ]
    );
}
