//! Generates typed Rust bindings for the ICAT SOAP API from a WSDL and its XSD.
//!
//! Pipeline: [`wsdl`] reads the WSDL (quick-xml), [`model`] resolves the imported XSD with xsd-parser
//! into a small model of types and operations, [`entity_info`] adds optional metadata, and [`emit`]
//! writes the modules with `quote`, formatted by `prettyplease`. Output is deterministic.

pub mod emit;
pub mod entity_info;
pub mod model;
mod naming;
pub mod wsdl;

use std::path::{Path, PathBuf};

/// What to generate from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The WSDL file; its `xsd:import schemaLocation` is resolved relative to it.
    pub wsdl: PathBuf,
    /// Optional `getEntityInfo` metadata (`entity-info.json`); missing file is fine when `None`.
    pub entity_info: Option<PathBuf>,
    /// Optional table of the operations that only read (one name a line, `#` starts a comment),
    /// e.g. `wsdl/read-only-operations.txt`; without it no operation is marked read-only.
    pub read_only_operations: Option<PathBuf>,
    /// How the source is named in the generated files' first line, e.g. `wsdl/`.
    pub source_label: String,
    /// Path of the runtime crate in generated code: `crate` inside icat-soap, `icat_soap` elsewhere.
    pub runtime: String,
}

impl Config {
    /// The configuration for a WSDL directory laid out like the repository's `wsdl/`
    /// (`ICAT.wsdl`, and `entity-info.json` and `read-only-operations.txt` when present).
    pub fn for_wsdl(wsdl: impl Into<PathBuf>) -> Config {
        let wsdl = wsdl.into();
        let info = wsdl.with_file_name("entity-info.json");
        let read_only = wsdl.with_file_name(READ_ONLY_OPERATIONS_FILE);
        let source_label = wsdl
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Config {
            entity_info: info.is_file().then_some(info),
            read_only_operations: read_only.is_file().then_some(read_only),
            wsdl,
            source_label,
            runtime: "icat_soap".into(),
        }
    }
}

/// The name of the read-only operation table looked for beside the WSDL.
pub const READ_ONLY_OPERATIONS_FILE: &str = "read-only-operations.txt";

/// Parses a read-only operation table: one operation name a line; blank lines and everything after
/// `#` are ignored.
pub fn parse_operation_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Marks the operations named in `read_only` (names the WSDL lacks are ignored: an older server
/// simply has fewer operations).
fn mark_read_only(model: &mut model::Model, read_only: &[String]) {
    for op in &mut model.operations {
        op.read_only = read_only.contains(&op.name);
    }
}

/// The generated files: `(path relative to the output directory, contents)`, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFiles {
    /// The files.
    pub files: Vec<(PathBuf, String)>,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The WSDL is malformed or lacks something the generator needs.
    #[error("bad WSDL {path}: {message}")]
    Wsdl {
        /// The WSDL file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The schema could not be parsed or resolved by xsd-parser.
    #[error("bad XML schema {path}: {message}")]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The schema uses something these bindings cannot express.
    #[error("unsupported schema construct: {0}")]
    Unsupported(String),
    /// `entity-info.json` is not valid.
    #[error("bad entity info {path}: {message}")]
    EntityInfo {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

pub(crate) fn read_file(path: &Path) -> Result<String, CodegenError> {
    std::fs::read_to_string(path).map_err(|error| CodegenError::Io {
        path: path.to_owned(),
        error,
    })
}

/// Generates the binding modules for `config`.
pub fn generate(config: &Config) -> Result<GeneratedFiles, CodegenError> {
    let wsdl = wsdl::Wsdl::read(&config.wsdl)?;
    let xsd_path = wsdl.schema_path(&config.wsdl)?;
    let xsd = read_file(&xsd_path)?;
    let info = match &config.entity_info {
        Some(p) => Some(entity_info::EntityInfo::read(p)?),
        None => None,
    };
    let mut model = model::Model::build(&wsdl, &xsd, &xsd_path, info.as_ref())?;
    if let Some(path) = &config.read_only_operations {
        mark_read_only(&mut model, &parse_operation_list(&read_file(path)?));
    }
    Ok(emit::emit(&model, &config.source_label, &config.runtime))
}

/// Generates from in-memory WSDL and XSD text (for tests and fixtures).
pub fn generate_from_str(
    wsdl_text: &str,
    xsd_text: &str,
    entity_info_json: Option<&str>,
    source_label: &str,
    runtime: &str,
) -> Result<GeneratedFiles, CodegenError> {
    let fake = Path::new("<memory>.wsdl");
    let wsdl = wsdl::Wsdl::parse(wsdl_text, fake)?;
    let info = match entity_info_json {
        Some(t) => Some(entity_info::EntityInfo::parse(
            t,
            Path::new("<memory>.json"),
        )?),
        None => None,
    };
    let model = model::Model::build(&wsdl, xsd_text, Path::new("<memory>.xsd"), info.as_ref())?;
    Ok(emit::emit(&model, source_label, runtime))
}
