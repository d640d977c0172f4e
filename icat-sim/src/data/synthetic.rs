//! A deterministic synthetic facility (`--synthetic visits=100,datasets=10,files=100,size=1MiB,archived=0.3`):
//! facility, instruments, types, users with investigation roles, investigations, datasets and datafiles
//! with real contents and matching CRC32 checksum and size. The contents are generated on read from
//! each datafile's `synthetic/<seed>/<size>/…` location ([`SyntheticFile`]), so nothing is written to
//! disk and 100 000 datafiles take seconds. The catalogue part is one transaction, and the chosen
//! fraction of datasets is marked archived for two-level mode.

use std::str::FromStr;

use icat_soap::DateTime;
use icat_soap::dynamic::{AttrValue, DynEntity};

use crate::icat::db::Db;
use crate::icat::error::IcatError;
use crate::ids::{SplitMix64, Storage, StorageError, SyntheticFile, SyntheticTail};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Investigations ("visits").
    pub visits: u32,
    /// Datasets per investigation.
    pub datasets: u32,
    /// Datafiles per dataset.
    pub files: u32,
    /// Bytes per datafile.
    pub size: u64,
    /// Extra large datafiles per visit (`large=16x64MiB`), spread over its datasets in turn.
    pub large: u32,
    /// Bytes per large datafile.
    pub large_size: u64,
    /// Fraction of datasets that start archived on two-level storage (0 to 1).
    pub archived: f64,
    /// Seed of the pseudo-random choices and contents.
    pub seed: u64,
    /// Users given roles in the investigations (default: the `db/` users of the default config).
    pub users: Vec<String>,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            visits: 10,
            datasets: 3,
            files: 5,
            size: 1024,
            large: 0,
            large_size: 0,
            archived: 0.0,
            seed: 42,
            users: ["acord", "ahau", "jbotu", "jdoe", "nbour", "rbeck"]
                .iter()
                .map(|u| format!("db/{u}"))
                .collect(),
        }
    }
}

/// The user (when among [`SyntheticSpec::users`]) made instrument scientist of every instrument.
pub const INSTRUMENT_SCIENTIST: &str = "db/jdoe";

/// Parses a byte size such as `1MiB`, `512KiB`, `10kB`, `1GB` or `4096`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size like 1MiB or 4096"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{text}' (use B, KiB, MiB, GiB, kB, MB, GB)"
            ));
        }
    };
    let bytes = value * factor;
    if !(0.0..=1e15).contains(&bytes) {
        return Err(format!("size '{text}' is out of range"));
    }
    Ok(bytes.round() as u64)
}

impl FromStr for SyntheticSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = SyntheticSpec::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not key=value (e.g. visits=100)"))?;
            let count = |v: &str| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{key}={v}: expected a whole number"))
            };
            match key.trim() {
                "visits" | "investigations" => spec.visits = count(value)?,
                "datasets" => spec.datasets = count(value)?,
                "files" | "datafiles" => spec.files = count(value)?,
                "size" => spec.size = parse_size(value)?,
                "large" => {
                    let (n, size) = value.split_once(['x', 'X']).ok_or_else(|| {
                        format!("large={value}: expected COUNTxSIZE, e.g. 16x64MiB")
                    })?;
                    spec.large = count(n)?;
                    spec.large_size = parse_size(size)?;
                }
                "seed" => {
                    spec.seed = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("seed={value}: expected a number"))?
                }
                "archived" => {
                    let f: f64 = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("archived={value}: expected 0 to 1"))?;
                    if !(0.0..=1.0).contains(&f) {
                        return Err(format!("archived={value}: expected a fraction from 0 to 1"));
                    }
                    spec.archived = f;
                }
                other => {
                    return Err(format!(
                        "unknown synthetic key '{other}' (known: visits, datasets, files, size, large, archived, seed)"
                    ));
                }
            }
        }
        Ok(spec)
    }
}

impl SyntheticSpec {
    /// The spec as one canonical `key=value,...` text (every key, sizes in bytes): two specs that
    /// make the same facility have the same text.
    pub fn canonical(&self) -> String {
        // Specs without large files keep the text they had before `large=` existed.
        let large = if self.large > 0 {
            format!(",large={}x{}", self.large, self.large_size)
        } else {
            String::new()
        };
        format!(
            "visits={},datasets={},files={},size={}{large},archived={},seed={},users={}",
            self.visits,
            self.datasets,
            self.files,
            self.size,
            self.archived,
            self.seed,
            self.users.join(";")
        )
    }
}

/// Errors making a synthetic facility.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// The catalogue refused an object.
    #[error("catalogue error: {0}")]
    Catalogue(#[from] IcatError),
    /// File contents could not be stored.
    #[error("cannot store synthetic file contents: {0}")]
    Storage(#[from] StorageError),
}

/// What was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyntheticSummary {
    /// Number of investigations.
    pub investigations: u64,
    /// Number of datasets.
    pub datasets: u64,
    /// Number of datafiles.
    pub datafiles: u64,
    /// Total bytes of file contents.
    pub bytes: u64,
    /// Dataset ids chosen to start archived (two-level storage).
    pub archived_datasets: Vec<i64>,
}

impl SyntheticSummary {
    /// The archived datasets for a log line: how many, and the first few ids.
    pub fn archived_text(&self) -> String {
        const SHOWN: usize = 5;
        let ids = &self.archived_datasets;
        let first: Vec<String> = ids.iter().take(SHOWN).map(i64::to_string).collect();
        match ids.len() {
            0 => "none".to_owned(),
            n if n <= SHOWN => format!("{n} datasets (ids {})", first.join(", ")),
            n => format!("{n} datasets (ids {}, ...)", first.join(", ")),
        }
    }
}

fn s(v: impl Into<String>) -> AttrValue {
    AttrValue::String(v.into())
}

/// Sample materials (and formulas) the synthetic visits study, in turn.
const SAMPLES: [(&str, &str); 8] = [
    ("lysozyme", "C613H959N193O185S10"),
    ("graphene", "C"),
    ("insulin", "C257H383N65O77S6"),
    ("quartz", "SiO2"),
    ("haemoglobin", "C2952H4664N812O832S8Fe4"),
    ("zeolite", "Na2Al2Si3O10"),
    ("cellulose", "C6H10O5"),
    ("magnetite", "Fe3O4"),
];

/// Words of visit titles, in turn.
const TOPICS: [&str; 6] = [
    "Crystal structure of",
    "Thermal transport in",
    "Magnetic order in",
    "Small-angle scattering from",
    "Strain mapping of",
    "Dynamics of",
];

/// Dataset descriptions, in turn.
const TECHNIQUES: [&str; 5] = [
    "powder diffraction scan",
    "single crystal diffraction",
    "small angle scattering",
    "inelastic spectroscopy run",
    "tomography series",
];

/// The title of visit `v` (0-based): a topic and the visit's sample material.
fn title_of(v: u32) -> String {
    let topic = TOPICS[(v as usize / SAMPLES.len()) % TOPICS.len()];
    let (material, _) = SAMPLES[v as usize % SAMPLES.len()];
    format!("{topic} {material} (synthetic investigation {})", v + 1)
}

/// The DOI of visit `v` (0-based); its datasets' are this with `.D1`, `.D2`, ...
pub fn investigation_doi(v: u32) -> String {
    format!("10.5286/SIM.E.{}", v + 1)
}

/// The DOI of the synthetic data collection (the first dataset of every third visit, at most
/// [`COLLECTED_DATASETS`]).
pub const COLLECTION_DOI: &str = "10.5286/SIM.C.1";

/// The DOI (`pid`) of the synthetic data publication (the first visit).
pub const PUBLICATION_DOI: &str = "10.5286/SIM.P.1";

/// Datasets in the synthetic data collection at most.
const COLLECTED_DATASETS: usize = 10;

fn ent(name: &str, attrs: Vec<(&str, AttrValue)>, ones: Vec<(&str, &str, i64)>) -> DynEntity {
    let mut e = DynEntity::new(name);
    for (k, v) in attrs {
        e.attrs.insert(k.to_string(), v);
    }
    for (field, target, id) in ones {
        let mut r = DynEntity::new(target);
        r.attrs.insert("id".into(), AttrValue::Long(id));
        e.one.insert(field.to_string(), r);
    }
    e
}

/// Creates the facility described by `spec` as `user`. File contents need no writing (they are
/// generated from the locations when read); datasets chosen as archived are marked so in
/// `storage` when `two_level` is set.
pub fn generate(
    db: &mut Db,
    spec: &SyntheticSpec,
    user: &str,
    storage: &Storage,
    two_level: bool,
) -> Result<SyntheticSummary, SyntheticError> {
    let bulk = db.bulk(user)?;
    let mut rng = SplitMix64::new(spec.seed);
    // One pass over the bytes all files share gives every checksum.
    let tail = SyntheticTail::new(spec.seed, spec.size);
    let large_tail = (spec.large > 0).then(|| SyntheticTail::new(spec.seed, spec.large_size));
    let mut summary = SyntheticSummary::default();
    let fac = bulk.create(&ent(
        "Facility",
        vec![
            ("name", s("SIM")),
            ("fullName", s("Simulated Facility")),
            ("daysUntilRelease", AttrValue::Long(1095)),
        ],
        vec![],
    ))?;
    let instruments: Vec<i64> = (1..=3)
        .map(|i| {
            bulk.create(&ent(
                "Instrument",
                vec![
                    ("name", s(format!("I{i:02}"))),
                    ("fullName", s(format!("Instrument {i}"))),
                ],
                vec![("facility", "Facility", fac)],
            ))
        })
        .collect::<Result<_, _>>()?;
    let inv_type = bulk.create(&ent(
        "InvestigationType",
        vec![("name", s("experiment"))],
        vec![("facility", "Facility", fac)],
    ))?;
    let ds_types: Vec<i64> = ["raw", "processed"]
        .iter()
        .map(|n| {
            bulk.create(&ent(
                "DatasetType",
                vec![("name", s(*n))],
                vec![("facility", "Facility", fac)],
            ))
        })
        .collect::<Result<_, _>>()?;
    let format = bulk.create(&ent(
        "DatafileFormat",
        vec![
            ("name", s("NeXus")),
            ("version", s("3")),
            ("type", s("HDF5")),
        ],
        vec![("facility", "Facility", fac)],
    ))?;
    // What free-text search finds: a sample type per sample material, and parameter types.
    let sample_types: Vec<i64> = SAMPLES
        .iter()
        .map(|(material, formula)| {
            bulk.create(&ent(
                "SampleType",
                vec![("name", s(*material)), ("molecularFormula", s(*formula))],
                vec![("facility", "Facility", fac)],
            ))
        })
        .collect::<Result<_, _>>()?;
    let param_type = |name: &str, units: &str| {
        bulk.create(&ent(
            "ParameterType",
            vec![
                ("name", s(name)),
                ("units", s(units)),
                ("valueType", s("NUMERIC")),
                ("applicableToInvestigation", AttrValue::Bool(true)),
                ("applicableToDataset", AttrValue::Bool(true)),
            ],
            vec![("facility", "Facility", fac)],
        ))
    };
    let temperature = param_type("temperature", "K")?;
    let wavelength = param_type("wavelength", "Angstrom")?;
    let mut users = Vec::new();
    for name in &spec.users {
        let short = name.rsplit('/').next().unwrap_or(name);
        users.push(bulk.create(&ent(
            "User",
            vec![
                ("name", s(name.clone())),
                ("fullName", s(format!("User {short}"))),
            ],
            vec![],
        ))?);
    }
    for bean in crate::icat::access::standard::beans() {
        bulk.create(&bean)?;
    }
    // Facility staff: the instrument scientist of every instrument sees all visits through the
    // instrument-scientist rules (and only their own with "my visits" queries).
    if let Some(i) = spec.users.iter().position(|u| u == INSTRUMENT_SCIENTIST) {
        for instrument in &instruments {
            bulk.create(&ent(
                "InstrumentScientist",
                vec![],
                vec![
                    ("instrument", "Instrument", *instrument),
                    ("user", "User", users[i]),
                ],
            ))?;
        }
    }
    // What DOIs and collections can be tried on: the first dataset of every third visit.
    let mut collected: Vec<i64> = Vec::new();
    let mut first_visit: Option<i64> = None;
    let base_ms = 1_577_836_800_000_i64; // 2020-01-01T00:00:00Z
    let day = 86_400_000_i64;
    for v in 0..spec.visits {
        let start = base_ms + i64::from(v) * day;
        let mut inv = ent(
            "Investigation",
            vec![
                ("name", s(format!("SIM{:06}", v + 1))),
                ("visitId", s(format!("SIM{:06}-1", v + 1))),
                ("title", s(title_of(v))),
                ("summary", s("Generated by icat-sim")),
                ("doi", s(investigation_doi(v))),
                (
                    "startDate",
                    AttrValue::DateTime(DateTime::from_unix_millis(start)),
                ),
                (
                    "endDate",
                    AttrValue::DateTime(DateTime::from_unix_millis(start + day)),
                ),
            ],
            vec![
                ("facility", "Facility", fac),
                ("type", "InvestigationType", inv_type),
            ],
        );
        let instrument = instruments[v as usize % instruments.len()];
        inv.many.insert(
            "investigationInstruments".into(),
            vec![ent(
                "InvestigationInstrument",
                vec![],
                vec![("instrument", "Instrument", instrument)],
            )],
        );
        if !users.is_empty() {
            let pi = users[v as usize % users.len()];
            let mut roles = vec![ent(
                "InvestigationUser",
                vec![("role", s("principal_investigator"))],
                vec![("user", "User", pi)],
            )];
            let other = users[(v as usize + 1) % users.len()];
            if other != pi {
                roles.push(ent(
                    "InvestigationUser",
                    vec![("role", s("investigator"))],
                    vec![("user", "User", other)],
                ));
            }
            inv.many.insert("investigationUsers".into(), roles);
        }
        let (material, _) = SAMPLES[v as usize % SAMPLES.len()];
        inv.many.insert(
            "parameters".into(),
            vec![ent(
                "InvestigationParameter",
                vec![("numericValue", AttrValue::Double(f64::from(v % 300) + 4.0))],
                vec![("type", "ParameterType", temperature)],
            )],
        );
        let inv_id = bulk.create(&inv)?;
        summary.investigations += 1;
        if v == 0 {
            first_visit = Some(inv_id);
        }
        let sample = bulk.create(&ent(
            "Sample",
            vec![("name", s(format!("{material} {}", v + 1)))],
            vec![
                ("investigation", "Investigation", inv_id),
                (
                    "type",
                    "SampleType",
                    sample_types[v as usize % SAMPLES.len()],
                ),
            ],
        ))?;
        for d in 0..spec.datasets {
            let mut ds = ent(
                "Dataset",
                vec![
                    ("name", s(format!("ds{:04}", d + 1))),
                    ("doi", s(format!("{}.D{}", investigation_doi(v), d + 1))),
                    (
                        "description",
                        s(TECHNIQUES[(v + d) as usize % TECHNIQUES.len()]),
                    ),
                    ("complete", AttrValue::Bool(true)),
                    (
                        "startDate",
                        AttrValue::DateTime(DateTime::from_unix_millis(
                            start + i64::from(d) * 60_000,
                        )),
                    ),
                ],
                vec![
                    ("investigation", "Investigation", inv_id),
                    ("type", "DatasetType", ds_types[d as usize % 2]),
                    ("sample", "Sample", sample),
                ],
            );
            ds.many.insert(
                "parameters".into(),
                vec![ent(
                    "DatasetParameter",
                    vec![(
                        "numericValue",
                        AttrValue::Double(0.5 + f64::from(d % 20) * 0.25),
                    )],
                    vec![("type", "ParameterType", wavelength)],
                )],
            );
            let ds_id = bulk.create(&ds)?;
            summary.datasets += 1;
            if d == 0 && v % 3 == 0 && collected.len() < COLLECTED_DATASETS {
                collected.push(ds_id);
            }
            if rng.next_f64() < spec.archived {
                summary.archived_datasets.push(ds_id);
            }
            // The visit's large files go to its datasets in turn: dataset d gets numbers
            // d, d + datasets, ...
            let large_here = match &large_tail {
                Some(t) if spec.datasets > 0 => (d..spec.large)
                    .step_by(spec.datasets as usize)
                    .map(|n| (format!("big{:03}.nxs", n + 1), spec.large_size, t))
                    .collect(),
                _ => Vec::new(),
            };
            let small = (0..spec.files).map(|f| (format!("df{:05}.nxs", f + 1), spec.size, &tail));
            for (name, size, tail) in small.chain(large_here) {
                let location =
                    SyntheticFile::location(spec.seed, size, &format!("{inv_id}/{ds_id}/{name}"));
                let stored = SyntheticFile::parse(&location)
                    .map(|file| file.stored(tail))
                    .ok_or_else(|| StorageError::IllegalLocation(location.clone()))?;
                bulk.create(&ent(
                    "Datafile",
                    vec![
                        ("name", s(name)),
                        ("location", s(location)),
                        ("fileSize", AttrValue::Long(size as i64)),
                        ("checksum", s(stored.checksum_hex())),
                        (
                            "datafileCreateTime",
                            AttrValue::DateTime(DateTime::from_unix_millis(start)),
                        ),
                    ],
                    vec![
                        ("dataset", "Dataset", ds_id),
                        ("datafileFormat", "DatafileFormat", format),
                    ],
                ))?;
                summary.datafiles += 1;
                summary.bytes = summary.bytes.saturating_add(size);
            }
        }
    }
    // A data collection of those datasets, and a data publication whose content is the first
    // visit: `icat download doi:10.5286/SIM.C.1`, `--collection 1`, `doi:10.5286/SIM.P.1`.
    if !collected.is_empty() {
        let mut coll = ent("DataCollection", vec![("doi", s(COLLECTION_DOI))], vec![]);
        coll.many.insert(
            "dataCollectionDatasets".into(),
            collected
                .iter()
                .map(|id| {
                    ent(
                        "DataCollectionDataset",
                        vec![],
                        vec![("dataset", "Dataset", *id)],
                    )
                })
                .collect(),
        );
        bulk.create(&coll)?;
    }
    if let Some(inv_id) = first_visit {
        let mut content = ent("DataCollection", vec![], vec![]);
        content.many.insert(
            "dataCollectionInvestigations".into(),
            vec![ent(
                "DataCollectionInvestigation",
                vec![],
                vec![("investigation", "Investigation", inv_id)],
            )],
        );
        let content = bulk.create(&content)?;
        bulk.create(&ent(
            "DataPublication",
            vec![
                ("pid", s(PUBLICATION_DOI)),
                ("title", s(format!("Synthetic data: {}", title_of(0)))),
            ],
            vec![
                ("facility", "Facility", fac),
                ("content", "DataCollection", content),
            ],
        ))?;
    }
    bulk.commit()?;
    if two_level && !summary.archived_datasets.is_empty() {
        storage.set_archived(summary.archived_datasets.iter().copied(), true)?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icat::db::Clock;

    #[test]
    fn spec_parsing() {
        let spec: SyntheticSpec = "visits=100,datasets=10,files=100,size=1MiB,archived=0.3"
            .parse()
            .unwrap();
        assert_eq!(
            (spec.visits, spec.datasets, spec.files, spec.size),
            (100, 10, 100, 1 << 20)
        );
        assert_eq!(spec.archived, 0.3);
        assert_eq!(parse_size("10kB").unwrap(), 10_000);
        assert!("visits=x".parse::<SyntheticSpec>().is_err());
        assert!("archived=2".parse::<SyntheticSpec>().is_err());
        assert!("colour=blue".parse::<SyntheticSpec>().is_err());
        assert!("size=3parsecs".parse::<SyntheticSpec>().is_err());
    }

    #[test]
    fn large_files_are_spread_over_each_visits_datasets() {
        let spec: SyntheticSpec = "visits=2,datasets=3,files=2,size=100,large=4x5000"
            .parse()
            .unwrap();
        assert_eq!((spec.large, spec.large_size), (4, 5000));
        assert!(spec.canonical().contains(",large=4x5000,"));
        let plain: SyntheticSpec = "visits=2".parse().unwrap();
        assert!(!plain.canonical().contains("large"));
        assert!("large=4".parse::<SyntheticSpec>().is_err());
        let dir = tempfile::tempdir().unwrap();
        let (db, summary, storage) = run(dir.path(), &spec);
        assert_eq!(summary.datafiles, 2 * (3 * 2 + 4));
        assert_eq!(summary.bytes, 2 * (3 * 2 * 100 + 4 * 5000));
        // Per dataset of a visit: 2, 1 and 1 large files (numbers 1 and 4, 2, 3).
        let mut st = db
            .conn()
            .prepare(
                "SELECT \"dataset_id\", COUNT(*), SUM(\"fileSize\") FROM \"Datafile\" \
                 WHERE \"name\" LIKE 'big%' GROUP BY \"dataset_id\" ORDER BY \"dataset_id\"",
            )
            .unwrap();
        let per: Vec<(i64, i64)> = st
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(per, [(2, 10_000), (1, 5000), (1, 5000)].repeat(2));
        let (location, checksum): (String, String) = db
            .conn()
            .query_row(
                "SELECT \"location\", \"checksum\" FROM \"Datafile\" WHERE \"name\" = 'big004.nxs' LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut bytes = Vec::new();
        let mut reader = storage.content(&location).unwrap().open().unwrap();
        std::io::Read::read_to_end(&mut reader, &mut bytes).unwrap();
        assert_eq!(bytes.len(), 5000);
        assert_eq!(format!("{:x}", crc32fast::hash(&bytes)), checksum);
    }

    fn run(dir: &std::path::Path, spec: &SyntheticSpec) -> (Db, SyntheticSummary, Storage) {
        let mut db = Db::open(None, crate::entities(), Clock::default()).unwrap();
        let storage = Storage::open(dir).unwrap();
        let summary = generate(&mut db, spec, "simple/root", &storage, true).unwrap();
        (db, summary, storage)
    }

    #[test]
    fn facility_is_deterministic_with_real_contents() {
        let spec: SyntheticSpec = "visits=3,datasets=2,files=4,size=3000,archived=0.5"
            .parse()
            .unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (db1, s1, st1) = run(a.path(), &spec);
        let (db2, s2, st2) = run(b.path(), &spec);
        assert_eq!(s1, s2);
        assert_eq!(
            (s1.investigations, s1.datasets, s1.datafiles, s1.bytes),
            (3, 6, 24, 72_000)
        );
        let q = "SELECT \"location\", \"checksum\", \"fileSize\" FROM \"Datafile\" ORDER BY \"id\"";
        let rows = |db: &Db| -> Vec<(String, String, i64)> {
            let mut st = db.conn().prepare(q).unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let (r1, r2) = (rows(&db1), rows(&db2));
        assert_eq!(r1, r2);
        let read = |storage: &Storage, location: &str| {
            let mut bytes = Vec::new();
            let mut reader = storage.content(location).unwrap().open().unwrap();
            std::io::Read::read_to_end(&mut reader, &mut bytes).unwrap();
            bytes
        };
        let mut contents = std::collections::BTreeSet::new();
        for (location, checksum, size) in &r1 {
            let bytes = read(&st1, location);
            assert_eq!(bytes.len() as i64, *size);
            assert_eq!(format!("{:x}", crc32fast::hash(&bytes)), *checksum);
            assert_eq!(bytes, read(&st2, location));
            contents.insert(bytes);
        }
        assert_eq!(contents.len(), r1.len(), "every datafile has its own bytes");
        assert!(
            std::fs::read_dir(a.path().join("main"))
                .unwrap()
                .next()
                .is_none(),
            "no file contents were written"
        );
        let pis: i64 = db1
            .conn()
            .query_row("SELECT COUNT(*) FROM \"InvestigationUser\" iu JOIN \"User\" u ON iu.\"user_id\" = u.\"id\" WHERE u.\"name\" = 'db/acord'", [], |r| r.get(0))
            .unwrap();
        assert!(pis >= 1, "db/acord has visits");
        let other: SyntheticSpec = "visits=3,datasets=2,files=4,size=3000,archived=0.5,seed=7"
            .parse()
            .unwrap();
        let c = tempfile::tempdir().unwrap();
        let (db3, _, _) = run(c.path(), &other);
        assert_ne!(rows(&db3), r1, "another seed gives other contents");
        // The catalogue's triggers made the dataset and investigation totals.
        crate::data::icatdump::tests::assert_totals_match_datafiles(&db1);
        let size: i64 = db1
            .conn()
            .query_row(
                "SELECT \"fileSize\" FROM \"Investigation\" LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(size, 2 * 4 * 3000);
    }
}
