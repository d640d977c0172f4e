//! The generator's model: the XSD resolved by xsd-parser (parser + interpreter, base chains flattened)
//! joined with the WSDL operations, reduced to what the emitter needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use xsd_parser::models::meta::{ElementMetaVariant, MetaTypeVariant};
use xsd_parser::models::schema::xs::{ComplexBaseType, SchemaContent};
use xsd_parser::models::schema::{MaxOccurs, NamespaceId, Schemas};
use xsd_parser::{IdentType, Interpreter, MetaTypes, Parser, TypeIdent};

use crate::CodegenError;
use crate::entity_info::{EntityInfo, EntityInfoEntry};
use crate::naming::{field_name, type_name};
use crate::wsdl::Wsdl;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// A simple XML Schema type the runtime has a Rust type for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `xs:string` and other string-like types.
    String,
    /// `xs:long` and other wide integers.
    Long,
    /// `xs:int`, `xs:short`, `xs:byte`.
    Int,
    /// `xs:double`, `xs:float`, `xs:decimal`.
    Double,
    /// `xs:boolean`.
    Bool,
    /// `xs:dateTime`.
    DateTime,
}

/// The type of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// A simple value.
    Prim(Prim),
    /// A string enumeration (Rust type name).
    Enum(String),
    /// A non-entity complex type (Rust type name).
    Struct(String),
    /// A concrete entity type (Rust type name).
    Entity(String),
    /// The abstract entity base: any entity, named by `xsi:type`.
    Polymorphic,
    /// `xs:anyType`: a `Value` named by `xsi:type`.
    Any,
}

/// How often a field occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurs {
    /// Exactly once (`minOccurs` 1): a plain field, defaulted when absent (as JAXB does).
    Required,
    /// `minOccurs="0"`: an `Option`.
    Optional,
    /// `maxOccurs` > 1: a `Vec`.
    Many,
}

/// One child element of a complex type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Element name on the wire.
    pub xml: String,
    /// Rust field name.
    pub rust: String,
    /// Its type.
    pub ty: FieldType,
    /// Its occurrence.
    pub occurs: Occurs,
    /// `nillable="true"`.
    pub nillable: bool,
}

/// A complex type with its (flattened) child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructDef {
    /// XSD type name (or anonymous type's generated name).
    pub xml: String,
    /// Rust type name.
    pub rust: String,
    /// Fields in XSD order, base type fields first.
    pub fields: Vec<Field>,
    /// True for concrete entity types.
    pub entity: bool,
    /// Doc comment (from entity info).
    pub doc: Option<String>,
}

/// A string enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// XSD type name.
    pub xml: String,
    /// Rust type name.
    pub rust: String,
    /// Values in schema order.
    pub values: Vec<String>,
}

/// A WSDL operation with its wrapper types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Operation name.
    pub name: String,
    /// `soapAction`.
    pub soap_action: String,
    /// Request wrapper (rust name `{Op}Request`, xml = wrapper element name).
    pub request: StructDef,
    /// Response wrapper (rust name `{Op}Response`).
    pub response: StructDef,
    /// Fault element names.
    pub faults: Vec<String>,
    /// True when the operation only reads (repeating it after a lost answer is harmless); from the
    /// read-only table next to the WSDL, as the WSDL cannot say it.
    pub read_only: bool,
}

/// Everything the emitter needs.
#[derive(Debug, Clone)]
pub struct Model {
    /// The target namespace.
    pub target_ns: String,
    /// Enumerations, sorted by Rust name.
    pub enums: Vec<EnumDef>,
    /// Non-wrapper complex types (entities and helpers), sorted by Rust name.
    pub structs: Vec<StructDef>,
    /// Operations in WSDL order.
    pub operations: Vec<Operation>,
    /// Whether the schema has ICAT's `fieldSet` (multi-column search rows).
    pub has_field_set: bool,
    /// Entity metadata from `entity-info.json`, restricted to entities in the schema.
    pub info: BTreeMap<String, EntityInfoEntry>,
}

impl Model {
    /// Concrete entity types, sorted by name.
    pub fn entities(&self) -> impl Iterator<Item = &StructDef> {
        self.structs.iter().filter(|s| s.entity)
    }

    /// Finds a struct by Rust name.
    pub fn struct_named(&self, rust: &str) -> Option<&StructDef> {
        self.structs.iter().find(|s| s.rust == rust)
    }
}

struct Ctx<'a> {
    types: &'a MetaTypes,
    xsd: Option<NamespaceId>,
    /// Rust names for complex types.
    names: BTreeMap<TypeIdent, String>,
    entities: BTreeSet<TypeIdent>,
    abstract_entities: BTreeSet<TypeIdent>,
}

fn xsd_prim(name: &str) -> Option<Prim> {
    Some(match name {
        "long" | "integer" | "unsignedInt" | "unsignedLong" | "nonNegativeInteger"
        | "positiveInteger" | "negativeInteger" | "nonPositiveInteger" => Prim::Long,
        "int" | "short" | "byte" | "unsignedShort" | "unsignedByte" => Prim::Int,
        "double" | "float" | "decimal" => Prim::Double,
        "boolean" => Prim::Bool,
        "dateTime" => Prim::DateTime,
        "anyType" => return None,
        _ => Prim::String,
    })
}

impl Ctx<'_> {
    fn classify(&self, ident: &TypeIdent, depth: usize) -> Result<FieldType, CodegenError> {
        if depth > 32 {
            return Err(CodegenError::Unsupported(format!(
                "type reference loop at {}",
                ident.name
            )));
        }
        if Some(ident.ns) == self.xsd && ident.type_ == IdentType::Type {
            return Ok(match xsd_prim(ident.name.as_str()) {
                Some(p) => FieldType::Prim(p),
                None => FieldType::Any,
            });
        }
        if ident.type_ == IdentType::BuildIn {
            return Ok(FieldType::Prim(match ident.name.as_str() {
                "bool" => Prim::Bool,
                "f32" | "f64" => Prim::Double,
                "i8" | "i16" | "i32" | "u8" | "u16" => Prim::Int,
                "String" | "str" => Prim::String,
                _ => Prim::Long,
            }));
        }
        if self.abstract_entities.contains(ident) {
            return Ok(FieldType::Polymorphic);
        }
        if self.entities.contains(ident) {
            return Ok(FieldType::Entity(self.names[ident].clone()));
        }
        let Some(ty) = self.types.items.get(ident) else {
            return Err(CodegenError::Unsupported(format!(
                "unknown type {}",
                ident.name
            )));
        };
        match &ty.variant {
            MetaTypeVariant::ComplexType(_) => match self.names.get(ident) {
                Some(n) => Ok(FieldType::Struct(n.clone())),
                None => Err(CodegenError::Unsupported(format!(
                    "complex type {} has no name",
                    ident.name
                ))),
            },
            MetaTypeVariant::Enumeration(_) => Ok(FieldType::Enum(type_name(ident.name.as_str()))),
            MetaTypeVariant::Reference(r) => self.classify(&r.type_, depth + 1),
            MetaTypeVariant::SimpleType(s) => self.classify(&s.base, depth + 1),
            MetaTypeVariant::BuildIn(_)
            | MetaTypeVariant::Union(_)
            | MetaTypeVariant::Custom(_) => Ok(FieldType::Prim(Prim::String)),
            other => Err(CodegenError::Unsupported(format!(
                "element type {} is a {}",
                ident.name,
                variant_name(other)
            ))),
        }
    }

    fn fields(&self, ident: &TypeIdent) -> Result<Vec<Field>, CodegenError> {
        let Some(MetaTypeVariant::ComplexType(c)) = self.types.items.get(ident).map(|t| &t.variant)
        else {
            return Ok(Vec::new());
        };
        let Some(content) = &c.content else {
            return Ok(Vec::new());
        };
        let group = match self.types.items.get(content).map(|t| &t.variant) {
            Some(
                MetaTypeVariant::Sequence(g) | MetaTypeVariant::All(g) | MetaTypeVariant::Choice(g),
            ) => g,
            _ => return Ok(Vec::new()),
        };
        let choice = matches!(
            self.types.items.get(content).map(|t| &t.variant),
            Some(MetaTypeVariant::Choice(_))
        );
        let mut out: Vec<Field> = Vec::new();
        for el in group.elements.iter() {
            let ElementMetaVariant::Type { type_, .. } = &el.variant else {
                continue; // xs:any and mixed text carry nothing these bindings model.
            };
            let xml = el.ident.name.as_str().to_owned();
            let ty = self.classify(type_, 0)?;
            let many = !matches!(el.max_occurs, MaxOccurs::Bounded(0 | 1));
            let mut occurs = if many {
                Occurs::Many
            } else if el.min_occurs == 0 || choice || el.nillable {
                Occurs::Optional
            } else {
                Occurs::Required
            };
            // Only simple values and helper structs can be defaulted when absent.
            if occurs == Occurs::Required
                && !matches!(ty, FieldType::Prim(_) | FieldType::Struct(_))
            {
                occurs = Occurs::Optional;
            }
            let mut rust = field_name(&xml);
            while out.iter().any(|f| f.rust == rust) {
                rust.push('_');
            }
            if out.iter().any(|f| f.xml == xml) {
                return Err(CodegenError::Unsupported(format!(
                    "{} has two elements named {xml}",
                    ident.name
                )));
            }
            out.push(Field {
                xml,
                rust,
                ty,
                occurs,
                nillable: el.nillable,
            });
        }
        Ok(out)
    }
}

fn variant_name(v: &MetaTypeVariant) -> &'static str {
    match v {
        MetaTypeVariant::Union(_) => "union",
        MetaTypeVariant::BuildIn(_) => "built-in",
        MetaTypeVariant::Custom(_) => "custom",
        MetaTypeVariant::Reference(_) => "reference",
        MetaTypeVariant::Enumeration(_) => "enumeration",
        MetaTypeVariant::Dynamic(_) => "substitution group",
        MetaTypeVariant::All(_) => "all group",
        MetaTypeVariant::Choice(_) => "choice group",
        MetaTypeVariant::Sequence(_) => "sequence group",
        MetaTypeVariant::ComplexType(_) => "complex type",
        MetaTypeVariant::SimpleType(_) => "simple type",
    }
}

/// The entity hierarchy found in the schema: concrete entity types and their abstract bases.
struct EntityTypes {
    /// Complex types of the target namespace, named and anonymous.
    complex: Vec<TypeIdent>,
    /// Concrete entity types.
    entities: BTreeSet<TypeIdent>,
    /// Abstract entity bases (polymorphic slots).
    abstract_entities: BTreeSet<TypeIdent>,
}

impl Model {
    /// Resolves `xsd_text` with xsd-parser and joins it with the WSDL's operations.
    ///
    /// Phases: parse and interpret the schema, find the namespaces, find the entity hierarchy, name
    /// every complex type, then collect structs, enums and operations, and keep the entity info of
    /// the entities the schema has.
    pub fn build(
        wsdl: &Wsdl,
        xsd_text: &str,
        xsd_path: &Path,
        info: Option<&EntityInfo>,
    ) -> Result<Model, CodegenError> {
        let schema_err = |message: String| CodegenError::Schema {
            path: xsd_path.to_owned(),
            message,
        };
        let (schemas, types) = parse_schema(xsd_text).map_err(schema_err)?;
        let (target, xsd) = namespaces(&schemas, &wsdl.target_namespace).map_err(schema_err)?;
        let hierarchy = entity_types(&schemas, &types, target);
        let wrappers = wrapper_names(wsdl, &types, target).map_err(schema_err)?;
        let names = rust_names(&hierarchy, &wrappers)?;
        let ctx = Ctx {
            types: &types,
            xsd,
            names,
            entities: hierarchy.entities,
            abstract_entities: hierarchy.abstract_entities,
        };
        let structs = collect_structs(&ctx, &wrappers, info)?;
        let enums = collect_enums(&types, target);
        let operations = collect_operations(&ctx, wsdl, target, schema_err)?;
        let has_field_set = structs.iter().any(|s| {
            s.xml == "fieldSet"
                && s.fields.len() == 1
                && s.fields[0].ty == FieldType::Any
                && s.fields[0].occurs == Occurs::Many
        });
        let info = info_of_known_entities(&structs, info);
        Ok(Model {
            target_ns: wsdl.target_namespace.clone(),
            enums,
            structs,
            operations,
            has_field_set,
            info,
        })
    }
}

/// Parses and interprets the schema (xsd-parser). Errors are messages about the schema file.
fn parse_schema(xsd_text: &str) -> Result<(Schemas, MetaTypes), String> {
    if xsd_text.contains("<!DOCTYPE") {
        return Err("DOCTYPE declarations are not accepted".into());
    }
    let schemas = Parser::new()
        .with_default_namespaces()
        .add_schema_from_str(xsd_text)
        .map_err(|e| e.to_string())?
        .finish();
    let (types, _) = Interpreter::new(&schemas)
        .with_buildin_types()
        .and_then(|i| i.with_default_typedefs())
        .and_then(|i| i.with_xs_any_type())
        .and_then(|i| i.finish())
        .map_err(|e| e.to_string())?;
    Ok((schemas, types))
}

/// The ids of the WSDL's target namespace (required) and of XML Schema (when referenced).
fn namespaces(
    schemas: &Schemas,
    target_ns: &str,
) -> Result<(NamespaceId, Option<NamespaceId>), String> {
    let mut target = None;
    let mut xsd = None;
    for (id, ns) in schemas.namespaces() {
        match ns.namespace.as_ref().map(|n| n.to_string()) {
            Some(n) if n == target_ns => target = Some(*id),
            Some(n) if n == XSD_NS => xsd = Some(*id),
            _ => {}
        }
    }
    let target = target.ok_or_else(|| {
        format!("the schema does not define the WSDL's target namespace {target_ns}")
    })?;
    Ok((target, xsd))
}

/// Names of the abstract complex types, from the raw schema (interpreted types lose the flag).
fn abstract_type_names(schemas: &Schemas) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, info) in schemas.schemas() {
        for item in &info.schema.content {
            if let SchemaContent::ComplexType(ComplexBaseType {
                name: Some(name),
                abstract_: true,
                ..
            }) = item
            {
                names.insert(name.clone());
            }
        }
    }
    names
}

/// Finds the entity hierarchy: its root is the abstract base type with the most concrete
/// descendants; every type below it is an entity (concrete) or an abstract entity base.
fn entity_types(schemas: &Schemas, types: &MetaTypes, target: NamespaceId) -> EntityTypes {
    let abstract_names = abstract_type_names(schemas);
    let complex: Vec<TypeIdent> = types
        .items
        .iter()
        .filter(|(id, t)| {
            id.ns == target
                && matches!(id.type_, IdentType::Type | IdentType::ElementType)
                && matches!(t.variant, MetaTypeVariant::ComplexType(_))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let base_of = |id: &TypeIdent| -> Option<TypeIdent> {
        match types.items.get(id).map(|t| &t.variant) {
            Some(MetaTypeVariant::ComplexType(c)) => match &c.base {
                xsd_parser::models::meta::Base::Extension(b) if b.ns == target => Some(b.clone()),
                _ => None,
            },
            _ => None,
        }
    };
    let top_of = |id: &TypeIdent| -> TypeIdent {
        let mut cur = id.clone();
        for _ in 0..64 {
            match base_of(&cur) {
                Some(b) => cur = b,
                None => break,
            }
        }
        cur
    };
    let mut descendants: BTreeMap<TypeIdent, usize> = BTreeMap::new();
    for id in &complex {
        if base_of(id).is_some() {
            *descendants.entry(top_of(id)).or_default() += 1;
        }
    }
    let root = descendants
        .iter()
        .filter(|(id, _)| abstract_names.contains(id.name.as_str()))
        .max_by_key(|(_, n)| **n)
        .map(|(id, _)| id.clone());
    let mut entities = BTreeSet::new();
    let mut abstract_entities = BTreeSet::new();
    if let Some(root) = &root {
        for id in &complex {
            if id.type_ == IdentType::Type && &top_of(id) == root {
                if abstract_names.contains(id.name.as_str()) {
                    abstract_entities.insert(id.clone());
                } else {
                    entities.insert(id.clone());
                }
            }
        }
    }
    EntityTypes {
        complex,
        entities,
        abstract_entities,
    }
}

/// The type of the global element `name` (an operation's wrapper element).
fn element_type(types: &MetaTypes, target: NamespaceId, name: &str) -> Result<TypeIdent, String> {
    types
        .items
        .iter()
        .find(|(id, _)| {
            id.ns == target && id.type_ == IdentType::Element && id.name.as_str() == name
        })
        .and_then(|(_, t)| match &t.variant {
            MetaTypeVariant::Reference(r) => Some(r.type_.clone()),
            _ => None,
        })
        .ok_or_else(|| format!("no global element {name:?} for the WSDL's messages"))
}

/// The Rust names of the operations' wrapper types: `{Op}Request` and `{Op}Response`.
fn wrapper_names(
    wsdl: &Wsdl,
    types: &MetaTypes,
    target: NamespaceId,
) -> Result<BTreeMap<TypeIdent, String>, String> {
    let mut wrappers = BTreeMap::new();
    for op in &wsdl.operations {
        let base = type_name(&op.name);
        wrappers.insert(
            element_type(types, target, &op.input_element)?,
            format!("{base}Request"),
        );
        wrappers.insert(
            element_type(types, target, &op.output_element)?,
            format!("{base}Response"),
        );
    }
    Ok(wrappers)
}

/// A Rust name for every complex type but the abstract entity bases; two types may not share one.
fn rust_names(
    hierarchy: &EntityTypes,
    wrappers: &BTreeMap<TypeIdent, String>,
) -> Result<BTreeMap<TypeIdent, String>, CodegenError> {
    let mut names: BTreeMap<TypeIdent, String> = BTreeMap::new();
    for id in &hierarchy.complex {
        if hierarchy.abstract_entities.contains(id) {
            continue;
        }
        let name = wrappers
            .get(id)
            .cloned()
            .unwrap_or_else(|| type_name(id.name.as_str()));
        names.insert(id.clone(), name);
    }
    let mut seen = BTreeMap::new();
    for (id, n) in &names {
        if let Some(other) = seen.insert(n.clone(), id.name.as_str()) {
            return Err(CodegenError::Unsupported(format!(
                "types {other} and {} both map to the Rust name {n}",
                id.name
            )));
        }
    }
    Ok(names)
}

/// The entity and helper structs (not the wrappers), sorted by Rust name; entities carry their
/// comment from the entity info.
fn collect_structs(
    ctx: &Ctx<'_>,
    wrappers: &BTreeMap<TypeIdent, String>,
    info: Option<&EntityInfo>,
) -> Result<Vec<StructDef>, CodegenError> {
    let info_for = |rust: &str| info.and_then(|i| i.entities.get(rust));
    let mut structs = Vec::new();
    for (id, rust) in &ctx.names {
        if wrappers.contains_key(id) {
            continue;
        }
        let entity = ctx.entities.contains(id);
        structs.push(StructDef {
            xml: id.name.as_str().to_owned(),
            rust: rust.clone(),
            fields: ctx.fields(id)?,
            entity,
            doc: if entity {
                info_for(rust).and_then(|e| e.comment.clone())
            } else {
                None
            },
        });
    }
    structs.sort_by(|a, b| a.rust.cmp(&b.rust));
    Ok(structs)
}

/// The string enumerations of the target namespace, sorted by Rust name.
fn collect_enums(types: &MetaTypes, target: NamespaceId) -> Vec<EnumDef> {
    let mut enums = Vec::new();
    for (id, t) in &types.items {
        if id.ns != target || id.type_ != IdentType::Type {
            continue;
        }
        if let MetaTypeVariant::Enumeration(e) = &t.variant {
            enums.push(EnumDef {
                xml: id.name.as_str().to_owned(),
                rust: type_name(id.name.as_str()),
                values: e
                    .variants
                    .iter()
                    .map(|v| v.ident.name.as_str().to_owned())
                    .collect(),
            });
        }
    }
    enums.sort_by(|a, b| a.rust.cmp(&b.rust));
    enums
}

/// The WSDL's operations with their wrapper structs, in WSDL order.
fn collect_operations(
    ctx: &Ctx<'_>,
    wsdl: &Wsdl,
    target: NamespaceId,
    schema_err: impl Fn(String) -> CodegenError,
) -> Result<Vec<Operation>, CodegenError> {
    let wrapper = |element: &str| -> Result<StructDef, CodegenError> {
        let id = element_type(ctx.types, target, element).map_err(&schema_err)?;
        Ok(StructDef {
            xml: element.to_owned(),
            rust: ctx.names[&id].clone(),
            fields: ctx.fields(&id)?,
            entity: false,
            doc: None,
        })
    };
    let mut operations = Vec::new();
    for op in &wsdl.operations {
        operations.push(Operation {
            name: op.name.clone(),
            soap_action: op.soap_action.clone(),
            request: wrapper(&op.input_element)?,
            response: wrapper(&op.output_element)?,
            faults: op.fault_elements.clone(),
            read_only: false,
        });
    }
    Ok(operations)
}

/// The entity info restricted to the entities the schema has.
fn info_of_known_entities(
    structs: &[StructDef],
    info: Option<&EntityInfo>,
) -> BTreeMap<String, EntityInfoEntry> {
    let entity_names: BTreeSet<&str> = structs
        .iter()
        .filter(|s| s.entity)
        .map(|s| s.rust.as_str())
        .collect();
    info.map(|i| {
        i.entities
            .iter()
            .filter(|(k, _)| entity_names.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
    .unwrap_or_default()
}
