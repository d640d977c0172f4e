//! Reads a WSDL 1.1 document (quick-xml): target namespace, messages, portType operations with their
//! faults, the SOAP binding's `soapAction`s, and the location of the imported schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use crate::CodegenError;

const WSDL_NS: &[u8] = b"http://schemas.xmlsoap.org/wsdl/";
const SOAP_BINDING_NS: &[u8] = b"http://schemas.xmlsoap.org/wsdl/soap/";
const XSD_NS: &[u8] = b"http://www.w3.org/2001/XMLSchema";

/// One operation of the portType, joined with its binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsdlOperation {
    /// Operation name.
    pub name: String,
    /// Global element of the input message (local name).
    pub input_element: String,
    /// Global element of the output message (local name).
    pub output_element: String,
    /// Global elements of the fault messages (local names), in WSDL order.
    pub fault_elements: Vec<String>,
    /// `soapAction` from the binding (empty when absent).
    pub soap_action: String,
}

/// What the generator needs from a WSDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wsdl {
    /// `definitions/@targetNamespace`.
    pub target_namespace: String,
    /// `schemaLocation` of the `xsd:import` in `types` (when the schema is external).
    pub schema_location: Option<String>,
    /// Operations in portType order.
    pub operations: Vec<WsdlOperation>,
}

fn local_attr(dec: quick_xml::Decoder, e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.decode_and_unescape_value(dec)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// The local part of a QName value (`tns:search` -> `search`).
fn qname_local(v: &str) -> String {
    v.rsplit(':').next().unwrap_or(v).to_owned()
}

impl Wsdl {
    /// Reads and parses a WSDL file.
    pub fn read(path: &Path) -> Result<Wsdl, CodegenError> {
        let text = crate::read_file(path)?;
        Wsdl::parse(&text, path)
    }

    /// Parses WSDL text (`path` is only used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Wsdl, CodegenError> {
        let err = |message: String| CodegenError::Wsdl {
            path: path.to_owned(),
            message,
        };
        let mut reader = NsReader::from_str(text);
        let dec = reader.decoder();
        let mut target_namespace = None;
        let mut schema_location = None;
        let mut messages: BTreeMap<String, String> = BTreeMap::new();
        // portType operations: (name, input msg, output msg, fault msgs)
        let mut port_ops: Vec<(String, String, String, Vec<String>)> = Vec::new();
        let mut actions: BTreeMap<String, String> = BTreeMap::new();
        let mut stack: Vec<Vec<u8>> = Vec::new();
        let mut current_message: Option<String> = None;
        let mut current_op: Option<(String, String, String, Vec<String>)> = None;
        let mut binding_op: Option<String> = None;
        loop {
            let (res, ev) = match reader.read_resolved_event() {
                Ok(x) => x,
                Err(e) => {
                    return Err(err(format!("at byte {}: {e}", reader.error_position())));
                }
            };
            let ns: Option<Vec<u8>> = match res {
                ResolveResult::Bound(Namespace(n)) => Some(n.to_vec()),
                _ => None,
            };
            let (e, empty) = match ev {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(_) => {
                    if let Some(name) = stack.pop() {
                        match name.as_slice() {
                            b"message" => current_message = None,
                            b"operation" => {
                                if let Some(op) = current_op.take() {
                                    port_ops.push(op);
                                }
                                binding_op = None;
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                Event::DocType(_) => {
                    return Err(err("DOCTYPE declarations are not accepted".into()));
                }
                Event::Eof => break,
                _ => continue,
            };
            let local = e.local_name().as_ref().to_vec();
            let parent = stack.last().cloned();
            let in_port_type = stack.iter().any(|n| n == b"portType");
            let in_binding = stack.iter().any(|n| n == b"binding");
            match (ns.as_deref(), local.as_slice()) {
                (Some(WSDL_NS), b"definitions") => {
                    target_namespace = local_attr(dec, &e, b"targetNamespace");
                }
                (Some(XSD_NS), b"import") if schema_location.is_none() => {
                    schema_location = local_attr(dec, &e, b"schemaLocation");
                }
                (Some(WSDL_NS), b"message") => current_message = local_attr(dec, &e, b"name"),
                (Some(WSDL_NS), b"part") => {
                    if let (Some(m), Some(el)) = (&current_message, local_attr(dec, &e, b"element"))
                    {
                        messages.insert(m.clone(), qname_local(&el));
                    }
                }
                (Some(WSDL_NS), b"operation") if in_port_type => {
                    let name = local_attr(dec, &e, b"name")
                        .ok_or_else(|| err("operation without a name".into()))?;
                    current_op = Some((name, String::new(), String::new(), Vec::new()));
                }
                (Some(WSDL_NS), b"operation") if in_binding => {
                    binding_op = local_attr(dec, &e, b"name");
                }
                (Some(WSDL_NS), b"input" | b"output" | b"fault")
                    if in_port_type && parent.as_deref() == Some(b"operation") =>
                {
                    if let (Some(op), Some(msg)) =
                        (current_op.as_mut(), local_attr(dec, &e, b"message"))
                    {
                        let msg = qname_local(&msg);
                        match local.as_slice() {
                            b"input" => op.1 = msg,
                            b"output" => op.2 = msg,
                            _ => op.3.push(msg),
                        }
                    }
                }
                (Some(SOAP_BINDING_NS), b"operation") => {
                    if let Some(op) = &binding_op {
                        actions.insert(
                            op.clone(),
                            local_attr(dec, &e, b"soapAction").unwrap_or_default(),
                        );
                    }
                }
                _ => {}
            }
            if !empty {
                stack.push(local);
            } else if local.as_slice() == b"operation"
                && in_port_type
                && let Some(op) = current_op.take()
            {
                port_ops.push(op);
            }
        }
        let target_namespace =
            target_namespace.ok_or_else(|| err("no definitions/@targetNamespace".into()))?;
        let element_of = |msg: &str| -> Result<String, CodegenError> {
            messages
                .get(msg)
                .cloned()
                .ok_or_else(|| err(format!("message {msg:?} has no element part")))
        };
        let mut operations = Vec::new();
        for (name, input, output, faults) in port_ops {
            if input.is_empty() || output.is_empty() {
                return Err(err(format!("operation {name:?} lacks an input or output")));
            }
            operations.push(WsdlOperation {
                input_element: element_of(&input)?,
                output_element: element_of(&output)?,
                fault_elements: faults
                    .iter()
                    .map(|f| element_of(f))
                    .collect::<Result<_, _>>()?,
                soap_action: actions.get(&name).cloned().unwrap_or_default(),
                name,
            });
        }
        if operations.is_empty() {
            return Err(err("no portType operations found".into()));
        }
        Ok(Wsdl {
            target_namespace,
            schema_location,
            operations,
        })
    }

    /// The schema file: `schemaLocation` resolved against the WSDL's directory. Remote locations
    /// (`http...?xsd=1`) fall back to `ICAT.xsd` / `<wsdl stem>.xsd` beside the WSDL.
    pub fn schema_path(&self, wsdl_path: &Path) -> Result<PathBuf, CodegenError> {
        let dir = wsdl_path.parent().unwrap_or(Path::new("."));
        if let Some(loc) = &self.schema_location
            && !loc.contains("://")
        {
            return Ok(dir.join(loc));
        }
        let stem = wsdl_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        let candidate = dir.join(format!("{}.xsd", stem.unwrap_or_else(|| "ICAT".into())));
        if candidate.is_file() {
            return Ok(candidate);
        }
        Err(CodegenError::Wsdl {
            path: wsdl_path.to_owned(),
            message: format!(
                "cannot find the schema: schemaLocation {:?} is remote or missing; save it beside the WSDL as {}",
                self.schema_location,
                candidate.display()
            ),
        })
    }
}
