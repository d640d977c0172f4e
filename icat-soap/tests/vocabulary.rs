//! The generated vocabulary covers the checked-in WSDL: every operation is in `ops::OPERATIONS` (with
//! its read-only flag from `wsdl/read-only-operations.txt`), every concrete entity has its metadata,
//! its `EntityType` impl and a by-name reference, and every fault type has an `IcatError` variant of
//! its own. Adding an operation, entity or fault type to `wsdl/` without `cargo xtask codegen` fails
//! here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use icat_soap::client::is_idempotent;
use icat_soap::meta::{self, OPERATIONS};
use icat_soap::model::{Entity, IcatExceptionType};
use icat_soap::{EntityType, IcatError};
use quick_xml::events::Event;

fn wsdl_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wsdl")
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// The operation names of the WSDL's portType.
fn wsdl_operations() -> BTreeSet<String> {
    let text = std::fs::read_to_string(wsdl_dir().join("ICAT.wsdl")).unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut in_port_type, mut out) = (false, BTreeSet::new());
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) if e.local_name().as_ref() == b"portType" => in_port_type = true,
            Event::End(e) if e.local_name().as_ref() == b"portType" => in_port_type = false,
            Event::Start(e) | Event::Empty(e)
                if in_port_type && e.local_name().as_ref() == b"operation" =>
            {
                out.insert(attr(&e, b"name").unwrap());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The schema's complex types: name -> (abstract, base type), and the enumeration values by type.
struct Xsd {
    types: BTreeMap<String, (bool, Option<String>)>,
    enums: BTreeMap<String, Vec<String>>,
}

fn read_xsd() -> Xsd {
    let text = std::fs::read_to_string(wsdl_dir().join("ICAT.xsd")).unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let mut xsd = Xsd {
        types: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    let (mut complex, mut simple) = (None::<String>, None::<String>);
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) if e.local_name().as_ref() == b"complexType" => {
                if let Some(name) = attr(&e, b"name") {
                    let is_abstract = attr(&e, b"abstract").as_deref() == Some("true");
                    xsd.types.insert(name.clone(), (is_abstract, None));
                    complex = Some(name);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"complexType" => complex = None,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"extension" => {
                if let (Some(c), Some(base)) = (&complex, attr(&e, b"base")) {
                    let base = base.rsplit(':').next().unwrap().to_owned();
                    xsd.types.get_mut(c).unwrap().1 = Some(base);
                }
            }
            Event::Start(e) if e.local_name().as_ref() == b"simpleType" => {
                simple = attr(&e, b"name");
            }
            Event::End(e) if e.local_name().as_ref() == b"simpleType" => simple = None,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"enumeration" => {
                if let Some(s) = &simple {
                    let v = attr(&e, b"value").unwrap();
                    xsd.enums.entry(s.clone()).or_default().push(v);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    xsd
}

impl Xsd {
    /// Concrete types whose base chain reaches `entityBaseBean`.
    fn concrete_entities(&self) -> BTreeSet<String> {
        let is_entity = |name: &str| {
            let mut name = name.to_owned();
            for _ in 0..16 {
                match self.types.get(&name).and_then(|t| t.1.clone()) {
                    Some(base) if base == "entityBaseBean" => return true,
                    Some(base) => name = base,
                    None => return false,
                }
            }
            false
        };
        self.types
            .iter()
            .filter(|(name, (is_abstract, _))| !is_abstract && is_entity(name))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[test]
fn every_wsdl_operation_is_in_the_generated_table() {
    let ops = wsdl_operations();
    assert!(ops.len() >= 14, "{ops:?}");
    let generated: BTreeSet<String> = OPERATIONS.iter().map(|o| o.name.to_owned()).collect();
    assert_eq!(generated, ops, "regenerate with `cargo xtask codegen`");
}

#[test]
fn read_only_flags_come_from_the_table_next_to_the_wsdl() {
    let text = std::fs::read_to_string(wsdl_dir().join("read-only-operations.txt")).unwrap();
    let table: BTreeSet<String> = parse_table(&text);
    let ops = wsdl_operations();
    for name in &table {
        assert!(
            ops.contains(name),
            "{name} in the table is no WSDL operation"
        );
    }
    for op in OPERATIONS {
        assert_eq!(op.read_only, table.contains(op.name), "{}", op.name);
        assert_eq!(is_idempotent(op.name), op.read_only, "{}", op.name);
    }
    for write in [
        "create",
        "createMany",
        "update",
        "delete",
        "deleteMany",
        "login",
        "logout",
    ] {
        assert!(!is_idempotent(write), "{write}");
    }
    assert!(is_idempotent("search") && is_idempotent("get"));
}

/// The table's format (one name a line, `#` comments), read here without the generator.
fn parse_table(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_schema_entity_has_metadata_an_entity_type_and_a_reference() {
    let xsd = read_xsd();
    let entities = xsd.concrete_entities();
    assert!(entities.len() >= 40, "{entities:?}");
    assert_eq!(Entity::NAMES.len(), entities.len());
    assert_eq!(meta::ENTITIES.len(), entities.len());
    for xml_type in &entities {
        let m = meta::entity_by_xml_type(xml_type)
            .unwrap_or_else(|| panic!("{xml_type} has no metadata: regenerate"));
        assert!(Entity::NAMES.contains(&m.name), "{}", m.name);
        let e = Entity::reference(m.name, 7).unwrap_or_else(|| panic!("{}", m.name));
        assert_eq!(
            (e.entity_name(), e.xml_type(), e.id()),
            (m.name, xml_type.as_str(), Some(7))
        );
    }
    assert!(Entity::reference("NoSuchEntity", 1).is_none());
    // The trait impls are the generated ones, spot-checked through the trait.
    use icat_soap::model::{Dataset, Investigation};
    assert_eq!(<Dataset as EntityType>::NAME, "Dataset");
    let inv: Entity = Investigation::reference(3).into();
    assert_eq!(
        Investigation::from_entity(inv)
            .unwrap()
            .stored_id()
            .unwrap(),
        3
    );
}

#[test]
fn every_fault_type_of_the_schema_has_its_own_error_variant() {
    let xsd = read_xsd();
    let kinds = &xsd.enums["icatExceptionType"];
    assert_eq!(kinds.as_slice(), IcatExceptionType::VALUES);
    let mut seen = BTreeSet::new();
    for kind in kinds {
        let e = IcatError::from_fault(kind, "m", -1);
        assert!(!matches!(e, IcatError::UnknownFault { .. }), "{kind}");
        assert!(seen.insert(format!("{:?}", std::mem::discriminant(&e))));
        assert_eq!(e.fault_type(), Some(kind.as_str()));
    }
    icat_soap::model::if_type! { accessType {
        let access = &xsd.enums["accessType"];
        assert_eq!(access.as_slice(), icat_soap::model::AccessType::VALUES);
    } else {} }
}

#[test]
fn every_schema_enumeration_is_in_the_generated_table_and_usable_in_queries() {
    let xsd = read_xsd();
    assert!(xsd.enums.len() >= 5, "{:?}", xsd.enums.keys());
    let generated: BTreeMap<String, Vec<String>> = meta::ENUMS
        .iter()
        .map(|e| {
            (
                e.xml_type.to_owned(),
                e.values.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(
        generated, xsd.enums,
        "regenerate with `cargo xtask codegen`"
    );
    for e in meta::ENUMS {
        assert_eq!(
            icat_soap::query::enum_constants(e.name),
            Some(e.values),
            "{}",
            e.name
        );
    }
}

#[test]
fn every_request_with_a_session_id_can_be_sent_through_a_session() {
    // Compile-time: `Session::call` takes any `SessionRequest`; the generator implements it for
    // each request whose wrapper has a `sessionId`. Checked here for the schema's requests.
    fn session_request<R: icat_soap::client::SessionRequest>() -> &'static str {
        R::NAME
    }
    let mut with_session: BTreeSet<&str> = [
        session_request::<icat_soap::ops::CreateRequest>(),
        session_request::<icat_soap::ops::CreateManyRequest>(),
        session_request::<icat_soap::ops::DeleteRequest>(),
        session_request::<icat_soap::ops::DeleteManyRequest>(),
        session_request::<icat_soap::ops::GetRequest>(),
        session_request::<icat_soap::ops::GetRemainingMinutesRequest>(),
        session_request::<icat_soap::ops::GetUserNameRequest>(),
        session_request::<icat_soap::ops::LogoutRequest>(),
        session_request::<icat_soap::ops::SearchRequest>(),
        session_request::<icat_soap::ops::UpdateRequest>(),
    ]
    .into_iter()
    .collect();
    // Operations of ICAT 4.3 on (bindings regenerated for an older server lack them).
    icat_soap::ops::if_operation! { getProperties {
        with_session.insert(session_request::<icat_soap::ops::GetPropertiesRequest>());
    } else {} }
    icat_soap::ops::if_operation! { isAccessAllowed {
        with_session.insert(session_request::<icat_soap::ops::IsAccessAllowedRequest>());
    } else {} }
    icat_soap::ops::if_operation! { refresh {
        with_session.insert(session_request::<icat_soap::ops::RefreshRequest>());
    } else {} }
    // The others have no session id (login and the metadata calls).
    let without: BTreeSet<&str> = OPERATIONS
        .iter()
        .map(|o| o.name)
        .filter(|n| !with_session.contains(n))
        .collect();
    let expected: BTreeSet<&str> = [
        "dummy",
        "getApiVersion",
        "getAuthenticatorInfo",
        "getEntityInfo",
        "getEntityNames",
        "getVersion",
        "login",
    ]
    .into_iter()
    .filter(|n| OPERATIONS.iter().any(|o| o.name == *n))
    .collect();
    assert_eq!(without, expected);
}
