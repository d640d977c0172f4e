//! The documents ICAT indexes for the three search targets: their fields (`getDoc` of
//! `Investigation`, `Dataset`, `Datafile` and the entities they embed, icat.server 6.2), how the
//! simulator computes each from the catalogue (SQL over the target row `x`), and which
//! relationships must be public for a field to appear in a hit's `source`
//! (`getDocumentFields`, filtered by `SearchManager.buildPublicSearchFields`).

/// A relationship step: origin entity, field, target entity (as `GateKeeper.allowed` checks it).
pub type Step = (&'static str, &'static str, &'static str);

/// The search targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `Investigation`.
    Investigation,
    /// `Dataset`.
    Dataset,
    /// `Datafile`.
    Datafile,
}

impl Target {
    /// The target for a `target` value, if it is one of the three.
    pub fn parse(name: &str) -> Option<Target> {
        match name {
            "Investigation" => Some(Target::Investigation),
            "Dataset" => Some(Target::Dataset),
            "Datafile" => Some(Target::Datafile),
            _ => None,
        }
    }

    /// The entity (and table) name.
    pub fn entity(self) -> &'static str {
        match self {
            Target::Investigation => "Investigation",
            Target::Dataset => "Dataset",
            Target::Datafile => "Datafile",
        }
    }

    /// The document fields of this target.
    pub fn fields(self) -> &'static [DocField] {
        match self {
            Target::Investigation => INVESTIGATION_FIELDS,
            Target::Dataset => DATASET_FIELDS,
            Target::Datafile => DATAFILE_FIELDS,
        }
    }

    /// One document field by name.
    pub fn field(self, name: &str) -> Option<&'static DocField> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// SQL for the id of the investigation a row `x` belongs to.
    pub fn investigation_id_sql(self) -> &'static str {
        match self {
            Target::Investigation => "x.\"id\"",
            Target::Dataset => "x.\"investigation_id\"",
            Target::Datafile => {
                "(SELECT d.\"investigation_id\" FROM \"Dataset\" d WHERE d.\"id\" = x.\"dataset_id\")"
            }
        }
    }

    /// SQL for the id of the sample a row `x` is of (none for investigations).
    pub fn sample_id_sql(self) -> Option<&'static str> {
        match self {
            Target::Investigation => None,
            Target::Dataset => Some("x.\"sample_id\""),
            Target::Datafile => Some(
                "(SELECT d.\"sample_id\" FROM \"Dataset\" d WHERE d.\"id\" = x.\"dataset_id\")",
            ),
        }
    }

    /// The SQL expression of the date the `lower`/`upper` bounds apply to (`date` for datafiles,
    /// `startDate` and `endDate` for the others).
    pub fn date_fields(self) -> &'static [&'static str] {
        match self {
            Target::Datafile => &["date"],
            _ => &["startDate", "endDate"],
        }
    }
}

/// How a field's value is typed in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (a JSON string).
    Text,
    /// One of icat.lucene's `DocumentMapping.longFields` (a JSON integer).
    Long,
}

/// One document field.
#[derive(Debug)]
pub struct DocField {
    /// The field name, e.g. `investigation.name`.
    pub name: &'static str,
    /// SQL computing it from the target row `x`.
    pub sql: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Relationships that must be public for the field to be returned.
    pub needs: &'static [Step],
}

const fn text(name: &'static str, sql: &'static str, needs: &'static [Step]) -> DocField {
    DocField {
        name,
        sql,
        kind: Kind::Text,
        needs,
    }
}

const fn long(name: &'static str, sql: &'static str, needs: &'static [Step]) -> DocField {
    DocField {
        name,
        sql,
        kind: Kind::Long,
        needs,
    }
}

const INV_FACILITY: Step = ("Investigation", "facility", "Facility");
const INV_TYPE: Step = ("Investigation", "type", "InvestigationType");
const DS_INV: Step = ("Dataset", "investigation", "Investigation");
const DS_SAMPLE: Step = ("Dataset", "sample", "Sample");
const DS_TYPE: Step = ("Dataset", "type", "DatasetType");
const SAMPLE_TYPE: Step = ("Sample", "type", "SampleType");
const DF_DS: Step = ("Datafile", "dataset", "Dataset");
const DF_FORMAT: Step = ("Datafile", "datafileFormat", "DatafileFormat");

const INV_START: &str = "COALESCE(x.\"startDate\", x.\"createTime\")";
const INV_END: &str = "COALESCE(x.\"endDate\", x.\"modTime\")";

static INVESTIGATION_FIELDS: &[DocField] = &[
    text("name", "x.\"name\"", &[]),
    text("visitId", "x.\"visitId\"", &[]),
    text("title", "x.\"title\"", &[]),
    text("summary", "x.\"summary\"", &[]),
    text("doi", "x.\"doi\"", &[]),
    long("startDate", INV_START, &[]),
    long("date", INV_START, &[]),
    long("endDate", INV_END, &[]),
    long("fileSize", "COALESCE(x.\"fileSize\", 0)", &[]),
    long("fileCount", "COALESCE(x.\"fileCount\", 0)", &[]),
    long("id", "x.\"id\"", &[]),
    text(
        "facility.name",
        "(SELECT \"name\" FROM \"Facility\" WHERE \"id\" = x.\"facility_id\")",
        &[INV_FACILITY],
    ),
    long("facility.id", "x.\"facility_id\"", &[]),
    text(
        "type.name",
        "(SELECT \"name\" FROM \"InvestigationType\" WHERE \"id\" = x.\"type_id\")",
        &[INV_TYPE],
    ),
    long("type.id", "x.\"type_id\"", &[]),
];

const DS_INV_SQL: &str =
    "(SELECT \"name\" FROM \"Investigation\" WHERE \"id\" = x.\"investigation_id\")";

static DATASET_FIELDS: &[DocField] = &[
    text("name", "x.\"name\"", &[]),
    text("description", "x.\"description\"", &[]),
    text("doi", "x.\"doi\"", &[]),
    long("startDate", INV_START, &[]),
    long("date", INV_START, &[]),
    long("endDate", INV_END, &[]),
    long("fileSize", "COALESCE(x.\"fileSize\", 0)", &[]),
    long("fileCount", "COALESCE(x.\"fileCount\", 0)", &[]),
    long("id", "x.\"id\"", &[]),
    long("investigation.id", "x.\"investigation_id\"", &[]),
    text(
        "investigation.title",
        "(SELECT \"title\" FROM \"Investigation\" WHERE \"id\" = x.\"investigation_id\")",
        &[DS_INV],
    ),
    text("investigation.name", DS_INV_SQL, &[DS_INV]),
    long(
        "investigation.startDate",
        "(SELECT COALESCE(\"startDate\", \"createTime\") FROM \"Investigation\" WHERE \"id\" = x.\"investigation_id\")",
        &[DS_INV],
    ),
    text(
        "visitId",
        "(SELECT \"visitId\" FROM \"Investigation\" WHERE \"id\" = x.\"investigation_id\")",
        &[DS_INV],
    ),
    long("sample.id", "x.\"sample_id\"", &[]),
    text(
        "sample.name",
        "(SELECT \"name\" FROM \"Sample\" WHERE \"id\" = x.\"sample_id\")",
        &[DS_SAMPLE],
    ),
    long(
        "sample.investigation.id",
        "(SELECT \"investigation_id\" FROM \"Sample\" WHERE \"id\" = x.\"sample_id\")",
        &[DS_SAMPLE],
    ),
    long(
        "sample.type.id",
        "(SELECT \"type_id\" FROM \"Sample\" WHERE \"id\" = x.\"sample_id\")",
        &[DS_SAMPLE],
    ),
    text(
        "sample.type.name",
        "(SELECT st.\"name\" FROM \"Sample\" s JOIN \"SampleType\" st ON st.\"id\" = s.\"type_id\" WHERE s.\"id\" = x.\"sample_id\")",
        &[DS_SAMPLE, SAMPLE_TYPE],
    ),
    long("type.id", "x.\"type_id\"", &[]),
    text(
        "type.name",
        "(SELECT \"name\" FROM \"DatasetType\" WHERE \"id\" = x.\"type_id\")",
        &[DS_TYPE],
    ),
];

const DF_DATE: &str = "COALESCE(x.\"datafileModTime\", x.\"datafileCreateTime\", x.\"modTime\")";

static DATAFILE_FIELDS: &[DocField] = &[
    text("name", "x.\"name\"", &[]),
    text("description", "x.\"description\"", &[]),
    text("location", "x.\"location\"", &[]),
    text("doi", "x.\"doi\"", &[]),
    long("date", DF_DATE, &[]),
    long("fileSize", "COALESCE(x.\"fileSize\", 0)", &[]),
    long("fileCount", "1", &[]),
    long("id", "x.\"id\"", &[]),
    long("dataset.id", "x.\"dataset_id\"", &[]),
    text(
        "dataset.name",
        "(SELECT \"name\" FROM \"Dataset\" WHERE \"id\" = x.\"dataset_id\")",
        &[DF_DS],
    ),
    long(
        "sample.id",
        "(SELECT \"sample_id\" FROM \"Dataset\" WHERE \"id\" = x.\"dataset_id\")",
        &[DF_DS],
    ),
    text(
        "sample.name",
        "(SELECT s.\"name\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_SAMPLE, SAMPLE_TYPE],
    ),
    long(
        "sample.investigation.id",
        "(SELECT s.\"investigation_id\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_SAMPLE, SAMPLE_TYPE],
    ),
    long(
        "sample.type.id",
        "(SELECT s.\"type_id\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_SAMPLE, SAMPLE_TYPE],
    ),
    text(
        "sample.type.name",
        "(SELECT st.\"name\" FROM \"Dataset\" d JOIN \"Sample\" s ON s.\"id\" = d.\"sample_id\" JOIN \"SampleType\" st ON st.\"id\" = s.\"type_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_SAMPLE],
    ),
    long(
        "investigation.id",
        "(SELECT \"investigation_id\" FROM \"Dataset\" WHERE \"id\" = x.\"dataset_id\")",
        &[DF_DS],
    ),
    text(
        "investigation.name",
        "(SELECT i.\"name\" FROM \"Dataset\" d JOIN \"Investigation\" i ON i.\"id\" = d.\"investigation_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_INV],
    ),
    long(
        "investigation.startDate",
        "(SELECT COALESCE(i.\"startDate\", i.\"createTime\") FROM \"Dataset\" d JOIN \"Investigation\" i ON i.\"id\" = d.\"investigation_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_INV],
    ),
    text(
        "visitId",
        "(SELECT i.\"visitId\" FROM \"Dataset\" d JOIN \"Investigation\" i ON i.\"id\" = d.\"investigation_id\" WHERE d.\"id\" = x.\"dataset_id\")",
        &[DF_DS, DS_INV],
    ),
    long("datafileFormat.id", "x.\"datafileFormat_id\"", &[]),
    text(
        "datafileFormat.name",
        "(SELECT \"name\" FROM \"DatafileFormat\" WHERE \"id\" = x.\"datafileFormat_id\")",
        &[DF_FORMAT],
    ),
];

/// A joined document list in a hit's source (`"InvestigationInstrument instrument.name"` style
/// fields; icat.lucene `Lucene.encodeResult` writes them as an array under the lower-cased entity
/// name), read by the investigation id of the hit.
#[derive(Debug)]
pub struct Joined {
    /// The key in the source, e.g. `investigationinstrument`.
    pub key: &'static str,
    /// `SELECT <field> AS "<name>", ... WHERE <investigation id> = ?1 ORDER BY id`.
    pub sql: &'static str,
    /// The fields the SELECT names (text or long, by position), in order.
    pub fields: &'static [(&'static str, JoinedKind)],
    /// Relationships from the target's investigation that must be public.
    pub needs: &'static [Step],
}

/// The JSON type of a joined field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinedKind {
    /// String.
    Text,
    /// Integer.
    Long,
    /// Floating point.
    Double,
}

const II: Step = (
    "Investigation",
    "investigationInstruments",
    "InvestigationInstrument",
);
const II_INS: Step = ("InvestigationInstrument", "instrument", "Instrument");
const IFC: Step = (
    "Investigation",
    "investigationFacilityCycles",
    "InvestigationFacilityCycle",
);

/// The instrument ids of the document's investigation, for dataset and datafile documents
/// (`needs`: the steps from the target to them).
const fn instrument_ids(needs: &'static [Step]) -> Joined {
    Joined {
        key: "investigationinstrument",
        sql: "SELECT ii.\"instrument_id\" FROM \"InvestigationInstrument\" ii WHERE ii.\"investigation_id\" = ?1 ORDER BY ii.\"id\"",
        fields: &[("instrument.id", JoinedKind::Long)],
        needs,
    }
}

/// The facility cycle ids of the document's investigation (`needs`: the steps from the target
/// to them).
const fn facility_cycle_ids(needs: &'static [Step]) -> Joined {
    Joined {
        key: "investigationfacilitycycle",
        sql: "SELECT \"facilityCycle_id\" FROM \"InvestigationFacilityCycle\" WHERE \"investigation_id\" = ?1 ORDER BY \"id\"",
        fields: &[("facilityCycle.id", JoinedKind::Long)],
        needs,
    }
}

/// The joined lists of investigation documents.
pub static INVESTIGATION_JOINED: &[Joined] = &[
    Joined {
        key: "investigationinstrument",
        sql: "SELECT ins.\"fullName\", ins.\"id\", ins.\"name\" FROM \"InvestigationInstrument\" ii JOIN \"Instrument\" ins ON ins.\"id\" = ii.\"instrument_id\" WHERE ii.\"investigation_id\" = ?1 ORDER BY ii.\"id\"",
        fields: &[
            ("instrument.fullName", JoinedKind::Text),
            ("instrument.id", JoinedKind::Long),
            ("instrument.name", JoinedKind::Text),
        ],
        needs: &[II, II_INS],
    },
    Joined {
        key: "investigationparameter",
        sql: "SELECT pt.\"name\", p.\"stringValue\", p.\"numericValue\", p.\"dateTimeValue\" FROM \"InvestigationParameter\" p JOIN \"ParameterType\" pt ON pt.\"id\" = p.\"type_id\" WHERE p.\"investigation_id\" = ?1 ORDER BY p.\"id\"",
        fields: &[
            ("type.name", JoinedKind::Text),
            ("stringValue", JoinedKind::Text),
            ("numericValue", JoinedKind::Double),
            ("dateTimeValue", JoinedKind::Long),
        ],
        needs: &[("Investigation", "parameters", "InvestigationParameter")],
    },
    Joined {
        key: "sample",
        sql: "SELECT s.\"id\", s.\"name\" FROM \"Sample\" s WHERE s.\"investigation_id\" = ?1 ORDER BY s.\"id\"",
        fields: &[
            ("sample.id", JoinedKind::Long),
            ("sample.name", JoinedKind::Text),
        ],
        needs: &[("Investigation", "samples", "Sample")],
    },
    facility_cycle_ids(&[IFC]),
];

/// The joined lists of dataset documents (reached through the dataset's investigation).
pub static DATASET_JOINED: &[Joined] = &[
    instrument_ids(&[DS_INV, II, II_INS]),
    facility_cycle_ids(&[DS_INV, IFC]),
];

/// The joined lists of datafile documents (through the datafile's dataset and investigation).
pub static DATAFILE_JOINED: &[Joined] = &[
    instrument_ids(&[DF_DS, DS_INV, II, II_INS]),
    facility_cycle_ids(&[DF_DS, DS_INV, IFC]),
];

impl Target {
    /// The joined lists this target's documents carry.
    pub fn joined(self) -> &'static [Joined] {
        match self {
            Target::Investigation => INVESTIGATION_JOINED,
            Target::Dataset => DATASET_JOINED,
            Target::Datafile => DATAFILE_JOINED,
        }
    }
}
