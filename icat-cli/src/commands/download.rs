//! `icat download`: find the datafiles in ICAT, then prepare (waiting for restores), stream,
//! verify and place them under `DIR/<visit>/<dataset>/<file>` (see [`visit_dir`]); reruns resume and skip.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icat_ids::{
    AutoOptions, CancellationToken, DatafileSpec, DownloadOptions, DownloadPlan, DownloadSummary,
    Expected, FileStatus, IdsError, Outcome, Phase, Progress, RetryCause, Status, Strategy,
    WaitOptions, WaitStatus,
};
use icat_soap::model::Datafile;
use serde::Serialize;

use crate::bagit::{BagAlgorithm, BagInfo, PayloadFile};
use crate::catalog;
use crate::connect::Connection;
use crate::failure::{ExitKind, Failure};
use crate::glob::FileFilter;
use crate::output::{human_bytes, human_duration};
use crate::progress::{ByteCounter, Reporter};
use crate::queries::{self, Target};
use crate::wait_text::WaitView;

/// What to download and how.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    /// A visit, datasets or datafiles.
    pub target: Target,
    /// Which files of the target (`--match`, `--exclude`).
    pub filter: FileFilter,
    /// Destination root.
    pub dest: PathBuf,
    /// Most transfers at once (the cap of the adaptive limit).
    pub parallel: usize,
    /// One prepared zip of everything, extracted safely, instead of the automatic split.
    pub zip: bool,
    /// Check sizes and CRC32 checksums against the catalogue.
    pub verify: bool,
    /// fsync each file before it is renamed into place.
    pub fsync: bool,
    /// Replace local files that differ from the catalogue (after verifying the new copy).
    pub overwrite: bool,
    /// How long to wait for a restore from tape.
    pub max_wait: Duration,
    /// How long the IDS may stay unreachable during a restore wait.
    pub max_unreachable: Duration,
    /// Make the destination a BagIt bag (`--manifest`): `dest` is then the bag's `data/`
    /// folder.
    pub bag: Option<BagRequest>,
}

/// `--manifest`: the bag around a download.
#[derive(Clone, Debug)]
pub struct BagRequest {
    /// The bag's root folder (the download goes to its `data/`).
    pub root: PathBuf,
    /// The manifest algorithm.
    pub algorithm: BagAlgorithm,
    /// The selection as the user gave it, for `bag-info.txt`.
    pub query: String,
    /// The ids the selection came to (a search's hits, an id list), for `bag-info.txt`.
    pub selection: Option<String>,
    /// The DOI the user cited, if any.
    pub external_identifier: Option<String>,
}

impl BagRequest {
    /// A bag rooted at `root` for a selection described by `query`.
    pub fn new(
        root: impl Into<PathBuf>,
        algorithm: BagAlgorithm,
        query: impl Into<String>,
    ) -> Self {
        BagRequest {
            root: root.into(),
            algorithm,
            query: query.into(),
            selection: None,
            external_identifier: None,
        }
    }

    /// Where the payload goes: `<root>/data`.
    pub fn payload_dir(&self) -> PathBuf {
        self.root.join(crate::bagit::PAYLOAD_DIR)
    }
}

impl DownloadRequest {
    /// A request with the defaults of `icat download`: every file, at most 4 transfers at once
    /// (small files bundled, large ones raw or striped), verified and synced, mismatching local
    /// files left alone.
    pub fn new(target: Target, dest: impl Into<PathBuf>) -> Self {
        DownloadRequest {
            target,
            filter: FileFilter::default(),
            dest: dest.into(),
            parallel: 4,
            zip: false,
            verify: true,
            fsync: true,
            overwrite: false,
            max_wait: WaitOptions::default().deadline,
            max_unreachable: WaitOptions::default().unreachable_limit,
            bag: None,
        }
    }
}

/// One datafile found in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatafileRecord {
    /// Datafile id.
    pub id: i64,
    /// Datafile name.
    pub name: String,
    /// Size from the catalogue.
    pub size: Option<u64>,
    /// Checksum from the catalogue.
    pub checksum: Option<String>,
    /// Whether the datafile has a storage location (IDS serves only those).
    pub stored: bool,
    /// Dataset id.
    pub dataset_id: i64,
    /// Dataset name.
    pub dataset: String,
    /// Visit id (or investigation name when missing).
    pub visit: String,
    /// Investigation id.
    pub investigation_id: i64,
    /// Investigation name.
    pub investigation_name: Option<String>,
}

impl DatafileRecord {
    /// From a `Datafile` with `dataset` and `dataset.investigation` included.
    pub fn from_datafile(df: &Datafile) -> Option<DatafileRecord> {
        let ds = df.dataset.as_deref()?;
        let inv = ds.investigation.as_deref();
        let visit = inv
            .and_then(|i| i.visit_id.clone().or_else(|| i.name.clone()))
            .unwrap_or_else(|| "unknown-visit".into());
        let dataset_id = ds.id.unwrap_or_default();
        Some(DatafileRecord {
            id: df.id?,
            name: df.name.clone()?,
            size: df.file_size.and_then(|n| u64::try_from(n).ok()),
            checksum: df.checksum.clone(),
            stored: df.location.is_some(),
            dataset_id,
            dataset: ds
                .name
                .clone()
                .unwrap_or_else(|| format!("dataset-{dataset_id}")),
            visit,
            investigation_id: inv.and_then(|i| i.id).unwrap_or_default(),
            investigation_name: inv.and_then(|i| i.name.clone()),
        })
    }

    /// The last component of the name (what `--match` is applied to).
    pub fn base_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

/// The datafiles of a target (visit, datasets or datafiles), one or two queries.
pub async fn find_datafiles(
    conn: &Connection,
    target: &Target,
) -> anyhow::Result<Vec<DatafileRecord>> {
    let target = catalog::resolve_target(&conn.session, target).await?;
    // Paged (the query is ordered), so visits larger than the server's maxEntities work; long
    // id lists (a collection, ids from standard input) are asked in bounded IN lists.
    let chunks: Vec<Target> = match &target {
        Target::Datafiles(ids) if ids.len() > icat_soap::query::MAX_IN_VALUES => ids
            .chunks(icat_soap::query::MAX_IN_VALUES)
            .map(|c| Target::Datafiles(c.to_vec()))
            .collect(),
        other => vec![other.clone()],
    };
    let mut records: Vec<DatafileRecord> = Vec::new();
    for chunk in &chunks {
        let values = catalog::all_pages(
            &conn.session,
            &queries::datafiles_query(chunk),
            catalog::PAGE,
        )
        .await?;
        records.extend(
            catalog::typed::<Datafile>(values)
                .iter()
                .filter_map(DatafileRecord::from_datafile),
        );
    }
    if chunks.len() > 1 {
        records.sort_by_key(|r| (r.investigation_id, r.dataset_id, r.id));
    }
    match &target {
        Target::Datafiles(ids) => {
            let found: BTreeSet<i64> = records.iter().map(|r| r.id).collect();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !found.contains(id))
                .map(i64::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(Failure::not_found(
                    format!("no datafile with id {}", missing.join(", ")),
                    "check the ids with `icat show VISIT`",
                )
                .into());
            }
        }
        Target::Datasets(ids) if records.is_empty() => {
            return Err(Failure::not_found(
                format!("no datafiles in dataset {}", queries::id_list(ids)),
                "check the dataset ids with `icat show VISIT`",
            )
            .into());
        }
        _ => {}
    }
    Ok(records)
}

/// The outcome of a download run.
#[derive(Debug)]
pub struct DownloadReport {
    /// Files downloaded and verified in this run.
    pub downloaded: usize,
    /// Files already present and matching the catalogue.
    pub skipped: usize,
    /// Downloaded files that replaced a local file that differed (`--overwrite`).
    pub replaced: usize,
    /// Archived files not restored from tape within `--max-wait`.
    pub not_restored: usize,
    /// Files downloaded without anything to verify them against (listed on stderr).
    pub unverified: usize,
    /// Bytes transferred in this run.
    pub bytes: u64,
    /// Total catalogue size of the selection.
    pub total: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Final paths of every file of the selection.
    pub paths: Vec<PathBuf>,
    /// The destination root.
    pub dest: PathBuf,
    /// What happened to each file.
    pub files: Vec<FileResult>,
    /// Why the run as a whole failed (some files failed or it was interrupted), if it did.
    pub failure: Option<Failure>,
}

/// What happened to one file, for `icat download --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileResult {
    /// Datafile id.
    pub id: i64,
    /// Local path (under the destination); `null` for a datafile whose catalogue names cannot
    /// be a safe local path (its `reason` says which name and why).
    pub path: Option<String>,
    /// Catalogue size in bytes.
    pub size: Option<u64>,
    /// Catalogue checksum.
    pub checksum: Option<String>,
    /// `verified`, `replaced` (a local file that differed was replaced by a verified new copy,
    /// `--overwrite`), `unverified`, `skipped`, `not_restored` (archived and not restored from
    /// tape within `--max-wait`) or `failed`.
    pub outcome: &'static str,
    /// Why, for every outcome but `verified`.
    pub reason: Option<String>,
    /// With `--manifest`: the file's digest in the bag's manifest algorithm, computed while it
    /// streamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
}

impl DownloadReport {
    /// The one-line summary.
    pub fn summary_line(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let mut line = format!(
            "downloaded {} ({}) in {}, {}/s",
            crate::grammar::count(self.downloaded as u64, "file", "files"),
            human_bytes(self.bytes),
            human_duration(self.elapsed),
            human_bytes((self.bytes as f64 / secs) as u64),
        );
        if self.skipped > 0 || self.downloaded == 0 {
            line.push_str(&format!("; {} already present and verified", self.skipped));
        }
        if self.replaced > 0 {
            line.push_str(&format!(
                "; {} (--overwrite)",
                crate::grammar::count(
                    self.replaced as u64,
                    "local file replaced",
                    "local files replaced"
                )
            ));
        }
        if self.not_restored > 0 {
            line.push_str(&format!(
                "; {} not restored from tape yet",
                self.not_restored
            ));
        }
        if self.unverified > 0 {
            line.push_str(&format!("; {} NOT verified", self.unverified));
        }
        line
    }
}

/// Prints the report as JSON: totals, the failure if any, and one entry per file.
pub fn print_json(report: &DownloadReport, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let count = |o: &str| report.files.iter().filter(|f| f.outcome == o).count();
    let doc = serde_json::json!({
        "dest": report.dest.display().to_string(),
        "ok": report.failure.is_none(),
        "error": report.failure.as_ref().map(ToString::to_string),
        "files_total": report.files.len(),
        "verified": count("verified") + count("replaced"),
        "unverified": count("unverified"),
        "skipped": count("skipped"),
        "not_restored": count("not_restored"),
        "failed": count("failed"),
        "replaced": count("replaced"),
        "bytes_transferred": report.bytes,
        "total_size": report.total,
        "elapsed_seconds": report.elapsed.as_secs_f64(),
        "files": report.files,
    });
    out.write_all(crate::output::to_json(&doc)?.as_bytes())?;
    Ok(())
}

/// What a request selects: the catalogue records, in plan order, and the engine's plan.
#[derive(Debug)]
pub struct Selected {
    /// The selected, downloadable datafiles.
    pub records: Vec<DatafileRecord>,
    /// Where each goes and what it must match.
    pub plan: DownloadPlan,
}

impl Selected {
    /// Total catalogue size of the selection.
    pub fn total(&self) -> u64 {
        total_size(&self.records)
    }
}

/// Total catalogue size of these records (saturating: a catalogue may give absurd sizes).
fn total_size(records: &[DatafileRecord]) -> u64 {
    records
        .iter()
        .filter_map(|r| r.size)
        .fold(0, u64::saturating_add)
}

/// Finds the datafiles of a request in ICAT, applies `--match`/`--exclude`, and plans where each
/// goes. Nothing is written.
pub async fn select(
    conn: &Connection,
    req: &DownloadRequest,
    reporter: &Reporter,
) -> anyhow::Result<Selected> {
    let all = find_datafiles(conn, &req.target).await?;
    let unstored = all.iter().filter(|r| !r.stored).count();
    if unstored > 0 {
        reporter.note(&format!(
            "{} no storage location in ICAT and cannot be downloaded; skipping {}",
            crate::grammar::count(unstored as u64, "datafile has", "datafiles have"),
            crate::grammar::noun(unstored as u64, "it", "them")
        ));
    }
    // Before the filter: patterns may be written with the visit folder, as the plan prints paths.
    let shared = shared_visit_ids(conn, &all).await?;
    let stored: Vec<&DatafileRecord> = all.iter().filter(|r| r.stored).collect();
    let records: Vec<DatafileRecord> = stored
        .iter()
        .filter(|r| {
            req.filter
                .selects(&visit_dir(r, &shared), &r.dataset, &r.name)
        })
        .map(|r| (*r).clone())
        .collect();
    if records.is_empty() {
        return Err(match stored.first() {
            Some(example) if req.filter.is_active() => {
                let files = crate::grammar::count(stored.len() as u64, "datafile", "datafiles");
                let why = if req.filter.excludes_only() {
                    format!(
                        "{} leaves nothing to download: it excludes all {files} of the selection",
                        req.filter.describe()
                    )
                } else {
                    format!(
                        "no datafile matches {} ({files} in the selection)",
                        req.filter.describe()
                    )
                };
                let dataset_path = format!("{}/{}", example.dataset, example.name);
                Failure::not_found(
                    why,
                    format!(
                        "patterns match a file name ('*.nxs') or a path from the dataset on, as in \
                         '{dataset_path}' (or with the visit folder: '{}/{dataset_path}'); \
                         see the paths with --dry-run",
                        visit_dir(example, &shared)
                    ),
                )
            }
            _ => Failure::not_found(
                "the selection holds no downloadable datafiles",
                "check the selection with `icat show VISIT`",
            ),
        }
        .into());
    }
    if req.zip && records.iter().any(|r| shared.contains(&r.visit)) {
        return Err(Failure::usage(
            "the selection holds several investigations with the same visit id, which the IDS zip \
             layout cannot tell apart",
            "download without --zip (raw files go to <visit id>_<investigation name>)",
        )
        .into());
    }
    let mut plan = DownloadPlan::new(&req.dest);
    // A file the destination's disk cannot hold on its own (or an absurd catalogue size, like
    // i64::MAX) fails alone; the room check then covers the others.
    let free = crate::destination::free_space_for(&req.dest);
    for r in &records {
        if let (Some(size), Some(free)) = (r.size, free)
            && size > free
        {
            plan.push_or_refuse(
                r.id,
                Err(IdsError::LargerThanFreeSpace {
                    file: format!("{:?}", r.name),
                    size,
                    dir: req.dest.clone(),
                    free,
                }),
            );
            continue;
        }
        // The catalogue size bounds what is read even with --no-verify: it is a safety limit
        // (an endless answer must not fill the disk), not a check that can be switched off.
        let expected = Expected {
            size: r.size,
            checksum: r.checksum.clone().filter(|_| req.verify),
        };
        // A name that cannot be a local path fails that file only (reported), not the run.
        let spec = DatafileSpec::in_visit_dataset(
            r.id,
            &visit_dir(r, &shared),
            &r.dataset,
            &r.name,
            expected,
        )
        .map(|spec| {
            let spec = spec.with_dataset(r.dataset_id);
            // The IDS zip names entries `<visit>/<dataset>/<name>`: a file placed elsewhere (a
            // visit id other investigations share) is never fetched inside a zip.
            if shared.contains(&r.visit) {
                spec.without_zip_entry()
            } else {
                spec
            }
        });
        plan.push_or_refuse(r.id, spec);
    }
    Ok(Selected { records, plan })
}

/// Runs a download and fails when any file failed; see [`run`].
pub async fn download(
    conn: &Connection,
    req: &DownloadRequest,
    reporter: &Reporter,
    cancel: CancellationToken,
) -> anyhow::Result<DownloadReport> {
    let mut report = run(conn, req, reporter, cancel).await?;
    match report.failure.take() {
        Some(f) => Err(f.into()),
        None => Ok(report),
    }
}

/// Runs a download; Ctrl-C (through `cancel`) keeps partial raw downloads for the next run. Failed
/// files do not make this an error: the report lists them and says why the run failed, so that
/// the summary is always printed.
pub async fn run(
    conn: &Connection,
    req: &DownloadRequest,
    reporter: &Reporter,
    cancel: CancellationToken,
) -> anyhow::Result<DownloadReport> {
    let ids = conn.ids()?;
    let Selected { records, plan } = select(conn, req, reporter).await?;
    // Files refused before the first byte (names, sizes) do not count towards the total.
    let refused: BTreeSet<i64> = plan.refused.iter().map(|r| r.id).collect();
    let total = records
        .iter()
        .filter(|r| !refused.contains(&r.id))
        .filter_map(|r| r.size)
        .fold(0, u64::saturating_add);
    reporter.note(&format!(
        "{}, {} to {}",
        crate::grammar::count(records.len() as u64, "file", "files"),
        human_bytes(total),
        req.dest.display()
    ));
    // Before the first byte: a writable directory with room for what is still missing.
    let work = icat_ids::download::work_dir(&plan.dest);
    // Datafiles refused for their names are in `records` but not in `plan.files`: by id.
    let sizes: HashMap<i64, Option<u64>> = records.iter().map(|r| (r.id, r.size)).collect();
    let targets: Vec<(PathBuf, PathBuf, Option<u64>)> = plan
        .files
        .iter()
        .map(|f| {
            (
                f.path.under(&plan.dest),
                icat_ids::download::datafile_part(&work, f.id),
                sizes.get(&f.id).copied().flatten(),
            )
        })
        .collect();
    if req.bag.is_some() {
        refuse_foreign_payload(&plan.dest, &work, &targets)?;
    }
    let needed = crate::destination::still_needed(
        targets
            .iter()
            .map(|(p, part, s)| (p.as_path(), part.as_path(), *s)),
    );
    crate::destination::prepare(&req.dest, crate::destination::room_for(needed, req.zip))?;
    // Files already in place: a download over one of them (--overwrite) replaced it.
    let existing: BTreeSet<PathBuf> = targets
        .iter()
        .filter(|(p, _, _)| p.is_file())
        .map(|(p, _, _)| p.clone())
        .collect();

    let bar = reporter.bytes((total > 0).then_some(total), "downloading");
    let options = DownloadOptions {
        concurrency: req.parallel.max(1),
        cancel: cancel.clone(),
        progress: Some(progress_callback(bar.clone(), req.zip, plan.files.len())),
        strategy: if req.zip {
            Strategy::PreparedZip { compress: false }
        } else {
            Strategy::Auto(AutoOptions::default())
        },
        wait_for_restore: Some(WaitOptions {
            deadline: req.max_wait,
            unreachable_limit: req.max_unreachable,
            cancel: cancel.clone(),
            on_status: Some(wait_callback(bar.clone(), req.max_unreachable)),
            ..WaitOptions::default()
        }),
        fsync: req.fsync,
        overwrite: req.overwrite,
        extra_digest: req.bag.as_ref().map(|b| b.algorithm.factory()),
        // --retries (retries in icat.cfg) bounds each file's retries and, times the
        // concurrency, the failures in a row that stop the whole run.
        retry: icat_ids::RetryPolicy {
            max_retries: conn
                .network
                .retries
                .unwrap_or(icat_ids::DEFAULT_DOWNLOAD_RETRY.max_retries),
            ..icat_ids::DEFAULT_DOWNLOAD_RETRY
        },
        ..DownloadOptions::default()
    };
    let keep_alive = conn.keep_alive();
    let result = ids.download_plan(&plan, &options).await;
    keep_alive.abort();
    bar.finish();
    let summary = result?;
    let files = file_results(&summary, &records, req, &existing);
    let report = report(summary, total, req, reporter, files, &existing);
    if let Some(bag) = &req.bag {
        if report.failure.is_none() {
            let written = write_bag(conn, bag, &req.dest, &report.files)?;
            reporter.note(&format!(
                "BagIt bag written: {} ({} manifest)",
                bag.root.display(),
                bag.algorithm.name()
            ));
            tracing::debug!(files = written.len(), "bag tag files written");
        } else {
            reporter.note("no BagIt manifest written: the download is not complete");
        }
    }
    Ok(report)
}

/// `--manifest` into a bag whose `data/` already holds files this download does not write
/// (another selection's bag): the new manifest would leave them out and the bag would fail
/// validation, so refuse before the first byte. A rerun of the same selection is fine.
fn refuse_foreign_payload(
    payload: &std::path::Path,
    work: &std::path::Path,
    targets: &[(PathBuf, PathBuf, Option<u64>)],
) -> Result<(), Failure> {
    const SHOWN: usize = 5;
    let expected: BTreeSet<PathBuf> = targets.iter().map(|(p, _, _)| p.clone()).collect();
    let strays =
        crate::bagit::stray_payload_files(payload, &expected, work, SHOWN + 1).map_err(|e| {
            Failure::new(
                ExitKind::Other,
                format!("cannot read {} to check the bag: {e}", payload.display()),
                "check the -o folder, or give --manifest a new, empty -o folder",
            )
        })?;
    if strays.is_empty() {
        return Ok(());
    }
    let root = payload.parent().unwrap_or(payload);
    let mut named: Vec<String> = strays
        .iter()
        .take(SHOWN)
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap_or(p).display().to_string();
            rel.chars().filter(|c| !c.is_control()).collect()
        })
        .collect();
    if strays.len() > SHOWN {
        named.push("...".to_string());
    }
    Err(Failure::usage(
        format!(
            "{} already holds data this selection does not download ({}): a --manifest bag \
             written there would not cover it",
            root.display(),
            named.join(", ")
        ),
        "give --manifest a new, empty -o folder (one bag per selection), or remove the old bag first",
    ))
}

/// Writes the tag files of a finished download's bag. A file whose digest the engine did not
/// compute while streaming (the prepared-zip strategy) is read once from disk for it.
fn write_bag(
    conn: &Connection,
    bag: &BagRequest,
    payload: &std::path::Path,
    files: &[FileResult],
) -> anyhow::Result<Vec<PathBuf>> {
    let mut payload_files = Vec::with_capacity(files.len());
    for f in files {
        // Only complete downloads get a bag, and every file of one has a path.
        let Some(rel) = &f.path else { continue };
        let path = payload.join(rel);
        let digest = match &f.manifest_digest {
            Some(d) => d.clone(),
            None => bag.algorithm.of_file(&path).map_err(|e| {
                Failure::new(
                    ExitKind::Other,
                    format!("cannot read {} for the bag manifest: {e}", path.display()),
                    "check the destination folder and run the same command again",
                )
            })?,
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).map_err(|e| {
            Failure::new(
                ExitKind::Other,
                format!("cannot read {} for the bag manifest: {e}", path.display()),
                "check the destination folder and run the same command again",
            )
        })?;
        payload_files.push(PayloadFile {
            path: rel.replace(std::path::MAIN_SEPARATOR, "/"),
            digest,
            size,
        });
    }
    let info = BagInfo {
        source: conn.url.clone(),
        user: conn.server_user.clone(),
        query: bag.query.clone(),
        selection: bag.selection.clone(),
        time: icat_soap::DateTime::now_utc().to_string(),
        external_identifier: bag.external_identifier.clone(),
    };
    crate::bagit::write_bag(&bag.root, bag.algorithm, &payload_files, &info).map_err(|e| {
        Failure::new(
            ExitKind::Other,
            format!(
                "cannot write the BagIt files in {}: {e}",
                bag.root.display()
            ),
            "check that the -o folder is writable and run the same command again",
        )
        .into()
    })
}

/// One [`FileResult`] per file of the summary, with the catalogue's size and checksum.
fn file_results(
    summary: &DownloadSummary,
    records: &[DatafileRecord],
    req: &DownloadRequest,
    existing: &BTreeSet<PathBuf>,
) -> Vec<FileResult> {
    let (dest, verify) = (req.dest.as_path(), req.verify);
    let by_id: HashMap<i64, &DatafileRecord> = records.iter().map(|r| (r.id, r)).collect();
    summary
        .files
        .iter()
        .map(|f| {
            let record = by_id.get(&f.id);
            let size = record.and_then(|r| r.size);
            let checksum = record.and_then(|r| r.checksum.clone());
            let (outcome, reason) = match (f.status(), &f.outcome) {
                (_, Outcome::Failed(e)) if is_not_restored(e) => {
                    ("not_restored", Some(not_restored_reason(e, req.max_wait)))
                }
                (_, Outcome::Failed(e)) => (
                    "failed",
                    Some(crate::failure::one_line(&file_error_text(e))),
                ),
                (FileStatus::Unverified(why), _) if !verify => (
                    "unverified",
                    Some(format!(
                        "verification was turned off (--no-verify); {}",
                        why.describe()
                    )),
                ),
                (FileStatus::Unverified(why), _) => ("unverified", Some(why.describe().to_owned())),
                (FileStatus::Skipped, _) => (
                    "skipped",
                    Some("already present and matching the catalogue".to_owned()),
                ),
                (FileStatus::Verified, Outcome::Downloaded { .. })
                    if existing.contains(&f.path) =>
                {
                    (
                        "replaced",
                        Some(
                            "the local file differed from the catalogue and was replaced by a \
                         verified new copy (--overwrite)"
                                .to_owned(),
                        ),
                    )
                }
                (status, _) => (status.as_str(), None),
            };
            // A datafile refused for its names has no path of its own (the engine reports the
            // destination itself): null, and the reason says why.
            let path = f
                .path
                .strip_prefix(dest)
                .ok()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| p.to_string_lossy().into_owned());
            FileResult {
                id: f.id,
                path,
                size,
                checksum,
                outcome,
                reason,
                manifest_digest: f.extra_digest.clone(),
            }
        })
        .collect()
}

/// Prints what went wrong or could not be verified, and maps the run to an exit code: failures
/// first, then unverified files (exit 7 unless `--no-verify` asked for no verification).
fn report(
    summary: DownloadSummary,
    total: u64,
    req: &DownloadRequest,
    reporter: &Reporter,
    files: Vec<FileResult>,
    existing: &BTreeSet<PathBuf>,
) -> DownloadReport {
    let mut downloaded = 0;
    let mut skipped = 0;
    let mut replaced = 0;
    let mut failures: Vec<(PathBuf, Arc<IdsError>)> = Vec::new();
    let mut not_restored: Vec<Arc<IdsError>> = Vec::new();
    let mut unverified = Vec::new();
    for f in &summary.files {
        match &f.outcome {
            Outcome::Downloaded { .. } => {
                downloaded += 1;
                if existing.contains(&f.path) {
                    replaced += 1;
                }
            }
            Outcome::Skipped { .. } => skipped += 1,
            Outcome::Failed(e) if is_not_restored(e) => not_restored.push(e.clone()),
            Outcome::Failed(e) => failures.push((failed_file_name(f, &req.dest), e.clone())),
        }
        if let FileStatus::Unverified(why) = f.status() {
            unverified.push((f.path.clone(), why));
        }
    }
    if !summary.ignored.is_empty() {
        reporter.note(&format!(
            "the zip held {} entries that are not selected datafiles; they were not extracted",
            summary.ignored.len()
        ));
        for e in summary.ignored.iter().take(10) {
            reporter.note(&format!("  not extracted: {:?} ({})", e.name, e.reason));
        }
    }
    if req.verify {
        for (path, why) in unverified.iter().take(10) {
            reporter.note(&format!(
                "not verified: {}: {}",
                path.display(),
                why.describe()
            ));
        }
    }
    let mut report = DownloadReport {
        downloaded,
        skipped,
        replaced,
        not_restored: not_restored.len(),
        unverified: unverified.len(),
        bytes: summary.bytes_transferred,
        total,
        elapsed: summary.elapsed,
        paths: summary.files.iter().map(|f| f.path.clone()).collect(),
        dest: req.dest.clone(),
        files,
        failure: None,
    };
    let interrupted = summary.cancelled
        || failures
            .iter()
            .any(|(_, e)| matches!(e.as_ref(), IdsError::Cancelled));
    if interrupted && !summary.files.is_empty() && downloaded + skipped == summary.files.len() {
        // Ctrl-C after the last file was in place: nothing was cut short.
        reporter.note("interrupted while finishing: every file had already arrived");
    } else if interrupted {
        let (kept, hint) = if req.zip {
            (
                "a zip is never resumed and its partial data was removed",
                "run the same command again to fetch the zip again (extracted files are kept)",
            )
        } else {
            (
                "finished files are kept, partial large files are kept to resume, and of a \
                 bundle (a zip of small files) under way the files that arrived whole are kept \
                 (its file cut short is fetched again)",
                "run the same command again to resume",
            )
        };
        report.failure = Some(Failure::new(
            ExitKind::Interrupted,
            format!(
                "interrupted after {} of {}; {kept}",
                downloaded + skipped,
                crate::grammar::count(summary.files.len() as u64, "file", "files")
            ),
            hint,
        ));
        return report;
    }
    if let Some(why) = &summary.stopped {
        // One reason for every file not done: said once, not once per file.
        for (path, e) in failures
            .iter()
            .filter(|(_, e)| !Arc::ptr_eq(e, why))
            .take(10)
        {
            reporter.note(&format!("failed: {}: {e}", path.display()));
        }
        report.failure = Some(stopped_failure(
            why,
            downloaded + skipped,
            summary.files.len(),
        ));
        return report;
    }
    if !failures.is_empty() {
        let lines = failure_lines(&failures);
        let shared = (lines.len() == 1 && failures.len() > 1).then(|| lines[0].1.clone());
        if shared.is_none() {
            for (paths, text) in lines.iter().take(10) {
                reporter.note(&format!("failed: {paths}: {text}"));
            }
        }
        // A local file that differs from the catalogue and was left in place is a verification
        // failure too.
        let verify = failures.iter().any(|(_, e)| {
            matches!(
                e.as_ref(),
                IdsError::ChecksumMismatch { .. }
                    | IdsError::SizeMismatch { .. }
                    | IdsError::TargetExists { .. }
            )
        });
        let kind = if verify {
            ExitKind::Verify
        } else {
            crate::exit_code::ids_error_kind(&failures[0].1)
        };
        let all = |f: fn(&IdsError) -> bool| failures.iter().all(|(_, e)| f(e.as_ref()));
        let hint = if all(|e| matches!(e, IdsError::TargetExists { .. })) {
            "move those files away, or rerun with --overwrite to replace them"
        } else if all(|e| {
            matches!(
                e,
                IdsError::ZipEntryRepeated { .. } | IdsError::ZipEntryNotAFile { .. }
            )
        }) {
            "download those datafiles without --zip (each is then fetched on its own and \
             verified), and report the broken zip to the facility"
        } else if all(|e| matches!(e, IdsError::UnsafeName { .. })) {
            if downloaded + skipped > 0 {
                "the catalogue names of those datafiles cannot be local file names; ask the \
                 facility to rename them (the other files were downloaded)"
            } else {
                "the catalogue names of those datafiles cannot be local file names; ask the \
                 facility to rename them"
            }
        } else if all(|e| matches!(e, IdsError::LargerThanFreeSpace { .. })) {
            "free some space or download those files to another disk with -o; if they cannot be \
             that large, the catalogue is wrong: report it to the facility"
        } else if all(|e| matches!(e, IdsError::LinkInDestination { .. })) {
            "remove or rename the symbolic links named above (a download never writes through a \
             link), then run the same command again; the other files were downloaded"
        } else if all(|e| matches!(e, IdsError::NameCollision { .. })) {
            "a rerun cannot help: download the colliding datafiles separately (e.g. with --match) \
             into different directories, or ask the facility to rename them"
        } else if all(IdsError::is_transient) {
            "the IDS is unreachable: run the same command again when it is back (finished files \
             are kept, partial ones resume)"
        } else {
            "run the same command again to retry; finished files are kept"
        };
        let mut message = format!(
            "{} of {} failed ({} downloaded, {} already present{})",
            failures.len(),
            crate::grammar::count(summary.files.len() as u64, "file", "files"),
            downloaded,
            skipped,
            if not_restored.is_empty() {
                String::new()
            } else {
                format!(", {} not restored from tape yet", not_restored.len())
            }
        );
        // One cause for every file (a server that went away): said once, here.
        if let Some(text) = shared {
            message.push_str(": ");
            message.push_str(&text);
        }
        report.failure = Some(Failure::new(kind, message, hint));
        return report;
    }
    if let Some(e) = not_restored.first() {
        report.failure = Some(Failure::new(
            ExitKind::NotOnline,
            format!(
                "{} of {} archived and not restored from tape yet ({})",
                not_restored.len(),
                crate::grammar::count(summary.files.len() as u64, "file is", "files are"),
                waited_text(e, req.max_wait)
            ),
            if req.max_wait.is_zero() {
                "the restore goes on at the server: run the same command again later (finished \
                 files are kept), or give --max-wait a duration to wait for it"
            } else {
                "the restore goes on at the server: run the same command again later (finished \
                 files are kept), or raise --max-wait to wait longer"
            },
        ));
        return report;
    }
    if req.verify && !unverified.is_empty() {
        report.failure = Some(Failure::new(
            ExitKind::Unverified,
            format!(
                "{} of {} downloaded but could not be verified",
                unverified.len(),
                crate::grammar::count(summary.files.len() as u64, "file was", "files were")
            ),
            "the catalogue holds no size or checksum for them: check them another way, \
             or pass --no-verify to accept unverified files",
        ));
    }
    report
}

/// How a failed file is named in the failure lines: its path, or, for a datafile refused for
/// its catalogue names (the engine reports the destination itself as its path), `datafile
/// <id>`; the error then quotes the names.
fn failed_file_name(f: &icat_ids::FileReport, dest: &std::path::Path) -> PathBuf {
    if f.path == dest {
        PathBuf::from(format!("datafile {}", f.id))
    } else {
        f.path.clone()
    }
}

/// A file's error as the CLI words it (flags, not library options), with its causes.
fn file_error_text(e: &IdsError) -> String {
    crate::advice::chain_cli_text(e)
}

/// Whether a file failed only because its restore from tape did not finish within `--max-wait`.
fn is_not_restored(e: &IdsError) -> bool {
    matches!(e, IdsError::DeadlineExceeded { .. })
}

/// How long the restore was waited for, human-rounded, naming the flag that sets it
/// (`--max-wait 0`: not waited for, the restore only requested).
fn waited_text(e: &IdsError, max_wait: Duration) -> String {
    match e {
        IdsError::DeadlineExceeded { .. } if max_wait.is_zero() => {
            "not waited for: --max-wait 0; a restore was requested".to_owned()
        }
        IdsError::DeadlineExceeded { waited, .. } => format!(
            "waited {}, the --max-wait limit",
            crate::wait_text::seconds(*waited)
        ),
        _ => "not waited for".to_owned(),
    }
}

/// The reason of a file not restored in time, for `--json`.
fn not_restored_reason(e: &IdsError, max_wait: Duration) -> String {
    format!(
        "archived and not restored from tape yet ({}); raise --max-wait or run the same command \
         again later",
        waited_text(e, max_wait)
    )
}

/// The failures as lines of (paths, cause): files that failed with the same cause share one
/// line (`a, b and 4 more`), so a server that went away is reported once, not per file.
fn failure_lines(failures: &[(PathBuf, Arc<IdsError>)]) -> Vec<(String, String)> {
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for (path, e) in failures {
        let shown = path.display().to_string();
        // The file's own path in the cause (mismatch messages name it) is said once, up front.
        let text = file_error_text(e).replace(&format!("{shown}: "), "");
        match groups.iter_mut().find(|(_, t)| *t == text) {
            Some((paths, _)) => paths.push(shown),
            None => groups.push((vec![shown], text)),
        }
    }
    groups
        .into_iter()
        .map(|(paths, text)| {
            let shown = match paths.len() {
                1 | 2 => paths.join(" and "),
                n => format!("{}, {} and {} more", paths[0], paths[1], n - 2),
            };
            (shown, text)
        })
        .collect()
}

/// The failure of a run that stopped early: the session is gone (exit 3), or the IDS kept
/// failing with no data arriving (exit 5).
fn stopped_failure(why: &IdsError, done: usize, total: usize) -> Failure {
    let kind = crate::exit_code::ids_error_kind(why);
    let busy = matches!(why, IdsError::Unreachable { last, .. } if matches!(**last, IdsError::Busy { .. }));
    let hint = if kind == ExitKind::Auth {
        "log in again (icat login), then run the same command again: finished files are kept, \
         partial ones resume"
    } else if busy {
        "the IDS (or the facility's proxy in front of it) refuses more downloads for now, e.g. \
         while other downloads of yours hold its slots: run the same command again later \
         (finished files are kept, partial ones resume); --max-unreachable sets how long a busy \
         IDS is retried, --retries how many refusals in a row per transfer"
    } else {
        "the IDS is unreachable: run the same command again when it is back (finished files are \
         kept, partial ones resume); --retries sets how many failures in a row are tolerated, \
         --max-unreachable for how long"
    };
    let reason = match why {
        IdsError::Unreachable { failures, last } if busy => format!(
            "the IDS stayed busy, refusing {} with no data arriving ({})",
            crate::grammar::count(u64::from(*failures), "request", "requests in a row"),
            crate::failure::one_line(&crate::advice::cli_text(&**last))
        ),
        IdsError::Unreachable { failures, last } => format!(
            "the IDS failed {} with no data arriving (last: {})",
            crate::grammar::count(u64::from(*failures), "time", "times in a row"),
            crate::failure::one_line(&crate::advice::cli_text(&**last))
        ),
        IdsError::SessionRenewal {
            source: icat_soap::IcatError::Session { message, .. },
        } => format!(
            "the ICAT session has ended (ICAT says: {})",
            crate::failure::one_line(message)
        ),
        other => crate::advice::cli_text(other),
    };
    Failure::new(
        kind,
        format!(
            "download stopped after {done} of {}: {reason}",
            crate::grammar::count(total as u64, "file", "files")
        ),
        hint,
    )
}

/// The files of a run with data on tape: restoring, online (not yet transferred) and
/// transferred, which always add up to the run's files (a file counts once, whatever it went
/// through; bundles' own reports, past the plan's files, are not files).
#[derive(Default)]
struct TapeCounts {
    /// Files in the plan.
    files: usize,
    restoring: std::collections::HashSet<usize>,
    transferred: std::collections::HashSet<usize>,
}

impl TapeCounts {
    fn new(files: usize) -> TapeCounts {
        TapeCounts {
            files,
            ..TapeCounts::default()
        }
    }

    /// Takes in a report about file `index`.
    fn saw(&mut self, index: usize, phase: Phase) {
        if index >= self.files {
            return;
        }
        match phase {
            Phase::WaitingForRestore if !self.transferred.contains(&index) => {
                self.restoring.insert(index);
            }
            Phase::Online => {
                self.restoring.remove(&index);
            }
            Phase::Done | Phase::Extracted | Phase::Skipped => {
                self.restoring.remove(&index);
                self.transferred.insert(index);
            }
            _ => {}
        }
    }

    fn restoring(&self) -> usize {
        self.restoring.len()
    }

    fn online(&self) -> usize {
        self.files - self.restoring.len() - self.transferred.len()
    }

    fn line(&self) -> String {
        format!(
            "{} restoring from tape, {} online, {} of {} transferred",
            self.restoring(),
            self.online(),
            self.transferred.len(),
            self.files
        )
    }
}

/// What the tape status line shows: nothing until the status of every dataset is known (the
/// engine's [`Phase::RestoresRequested`]: before it, files of datasets not yet asked about would
/// count as online), then the counts whenever they change, never the same line twice.
struct TapeLine {
    counts: TapeCounts,
    known: bool,
    shown: String,
    /// The files restoring when a line was last printed for plain output.
    printed: Option<usize>,
}

/// One tape line to show.
#[derive(Debug, PartialEq)]
struct TapeShow {
    /// The line.
    text: String,
    /// Whether plain output (no terminal) prints it: when the files restoring changed since
    /// the last printed line, and the last line, every file transferred (transfers have their
    /// own lines there).
    print: bool,
    /// Nothing can move while the tapes are read (not a stall).
    waiting: bool,
}

impl TapeLine {
    fn new(files: usize) -> TapeLine {
        TapeLine {
            counts: TapeCounts::new(files),
            known: false,
            shown: String::new(),
            printed: None,
        }
    }

    /// Takes in a report; the line to show when it changed.
    fn saw(&mut self, index: usize, phase: Phase) -> Option<TapeShow> {
        self.counts.saw(index, phase);
        self.known |= phase == Phase::RestoresRequested;
        if !self.known {
            return None;
        }
        let text = self.counts.line();
        if text == self.shown {
            return None;
        }
        self.shown = text.clone();
        let restoring = self.counts.restoring();
        let all_done = self.counts.transferred.len() == self.counts.files;
        let print = self.printed != Some(restoring) || all_done;
        self.printed = Some(restoring);
        Some(TapeShow {
            print,
            waiting: restoring > 0 && self.counts.online() == 0,
            text,
        })
    }
}

/// Feeds the byte counter from per-file progress reports (which carry cumulative counts), and
/// the status line from restores (files restoring, online, transferred).
fn progress_callback(bar: ByteCounter, zip: bool, files: usize) -> icat_ids::ProgressFn {
    let seen: Mutex<HashMap<usize, u64>> = Mutex::new(HashMap::new());
    let tape: Mutex<TapeLine> = Mutex::new(TapeLine::new(files));
    Arc::new(move |p: &Progress<'_>| {
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(
            p.phase,
            Phase::WaitingForRestore
                | Phase::RestoresRequested
                | Phase::Online
                | Phase::Done
                | Phase::Extracted
                | Phase::Skipped
        ) {
            let shown = tape
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .saw(p.index, p.phase);
            if let Some(show) = shown {
                bar.status_line(&show.text, show.waiting, show.print);
            }
        }
        let last = seen.entry(p.index).or_insert(0);
        match p.phase {
            Phase::Started | Phase::Transferring | Phase::Done => {
                // A zip is a little larger than its files: follow the server's length.
                if zip && let Some(t) = p.total {
                    bar.set_total(t);
                }
                if p.done > *last {
                    if zip {
                        bar.add(p.done - *last);
                    } else {
                        // Bundles' zip headers are not in the total (the files' sizes).
                        bar.add_within_total(p.done - *last);
                    }
                    *last = p.done;
                } else if p.done < *last {
                    // A restart from zero (zips are re-fetched): count again from there.
                    *last = p.done;
                }
                if p.phase == Phase::Transferring || p.done > 0 {
                    bar.transferring();
                }
                match p.phase {
                    Phase::Started => bar.status("downloading"),
                    Phase::Done if zip => bar.line(&format!(
                        "  zip received ({}) and extracted",
                        human_bytes(p.done)
                    )),
                    Phase::Done => bar.line(&format!("  {}  {}", p.name, human_bytes(p.done))),
                    _ => {}
                }
            }
            Phase::Skipped => {
                let size = p.total.unwrap_or(p.done);
                if size > *last {
                    bar.add(size - *last);
                    *last = size;
                }
                bar.line(&format!("  {}  already present and verified", p.name));
            }
            Phase::Retrying {
                attempt,
                delay,
                cause,
            } => bar.line(&format!(
                "  {}: {}, retry {attempt} in {}",
                p.name,
                match cause {
                    RetryCause::Busy => "the IDS is busy",
                    RetryCause::Interrupted => "transfer interrupted",
                    _ => "request failed",
                },
                human_duration(delay)
            )),
            // Shown above with the counts.
            Phase::WaitingForRestore | Phase::RestoresRequested | Phase::Online => {}
            Phase::Extracted => bar.line(&format!(
                "  {}  {}",
                p.name,
                human_bytes(p.total.unwrap_or(0))
            )),
            Phase::Extracting => bar.status("streaming the zip and extracting it safely"),
            Phase::Failed => bar.line(&format!("  {}: failed", p.name)),
        }
    })
}

/// Shows the restore wait on the status line: what is waited for (the last status the IDS told,
/// kept while it does not answer), the time so far and the next check, or how long the IDS has
/// not answered and when the wait gives up.
fn wait_callback(bar: ByteCounter, unreachable_limit: Duration) -> icat_ids::WaitCallback {
    let known: Mutex<Option<Status>> = Mutex::new(None);
    Arc::new(move |w: &WaitStatus| {
        let status = {
            let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
            if w.status.is_some() {
                *known = w.status;
            }
            *known
        };
        let view = WaitView {
            at: Instant::now(),
            elapsed: w.elapsed,
            next_check_in: w.next_poll_in,
            status,
            unreachable_for: w.unreachable_for,
            unreachable_limit,
        };
        let kind = view.kind();
        bar.waiting_with(kind, Arc::new(move |now, width| view.render(now, width)));
    })
}

/// The top-level directory of a file's investigation: its visit id, or, when other
/// investigations in the catalogue share that visit id (at ISIS every investigation has visit id
/// `1`), `<visit>_<investigation name>` (`<visit>_inv<id>` without a name). It depends on the
/// file's investigation and the catalogue only, never on what else is selected, so a rerun with
/// another selection finds the files where the first run put them.
pub fn visit_dir(record: &DatafileRecord, shared_visit_ids: &BTreeSet<String>) -> String {
    if !shared_visit_ids.contains(&record.visit) {
        return record.visit.clone();
    }
    match &record.investigation_name {
        Some(n) if *n != record.visit && !n.contains('/') => format!("{}_{n}", record.visit),
        _ => format!("{}_inv{}", record.visit, record.investigation_id),
    }
}

/// The visit ids of a selection that more than one investigation in the catalogue carries
/// (one count query per distinct visit id).
async fn shared_visit_ids(
    conn: &Connection,
    records: &[DatafileRecord],
) -> anyhow::Result<BTreeSet<String>> {
    let visits: BTreeSet<&str> = records.iter().map(|r| r.visit.as_str()).collect();
    let mut shared = BTreeSet::new();
    for visit in visits {
        let rows = conn
            .session
            .search(&queries::visit_id_count_query(visit))
            .await?;
        if rows
            .first()
            .and_then(|v| catalog::int(Some(v)))
            .unwrap_or(0)
            > 1
        {
            shared.insert(visit.to_owned());
        }
    }
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reviewer finding 6 (issue 19): with bundles the bar ended at "18.80 MiB/18.75 MiB" (the
    /// zips' headers counted against a total of file sizes). Transferred never passes the total.
    #[test]
    fn bundle_headers_never_take_the_count_past_the_total() {
        let bar = ByteCounter::hidden(300);
        let cb = progress_callback(bar.clone(), false, 3);
        let report = |index: usize, done: u64, phase: Phase| {
            cb(&Progress {
                index,
                name: "bundle 1 (3 files)",
                done,
                total: None,
                phase,
            })
        };
        // One bundle (index past the 3 files) of 3 files of 100 bytes: a zip of 420 bytes.
        report(3, 0, Phase::Started);
        report(3, 250, Phase::Transferring);
        assert_eq!(bar.position(), 250);
        report(3, 420, Phase::Done);
        assert_eq!(bar.position(), 300);
    }

    /// Reviewer findings 6 and 7 (issue 19): without a terminal the tape status printed one
    /// line per file at the start ("1 restoring from tape, 59 online", "2 restoring ...", ...),
    /// claiming files of datasets not yet asked about online. Nothing is shown until the status
    /// of every dataset is known, then one line, and never the same line twice.
    #[test]
    fn the_tape_line_waits_for_every_status_and_never_repeats() {
        let mut t = TapeLine::new(60);
        for i in 0..60 {
            assert_eq!(t.saw(i, Phase::WaitingForRestore), None, "file {i}");
        }
        let first = t.saw(usize::MAX, Phase::RestoresRequested).unwrap();
        assert_eq!(
            first.text,
            "60 restoring from tape, 0 online, 0 of 60 transferred"
        );
        assert!(first.waiting && first.print);
        assert_eq!(t.saw(usize::MAX, Phase::RestoresRequested), None);
        assert_eq!(t.saw(0, Phase::WaitingForRestore), None, "unchanged");
        let online = t.saw(0, Phase::Online).unwrap();
        assert_eq!(
            online.text,
            "59 restoring from tape, 1 online, 0 of 60 transferred"
        );
        assert!(online.print && !online.waiting);
        let done = t.saw(0, Phase::Done).unwrap();
        assert!(
            !done.print,
            "plain output prints no new line for a transfer"
        );
        assert_eq!(t.saw(0, Phase::Done), None);
        let mut last = None;
        for i in 1..60 {
            last = t.saw(i, Phase::Online).or(last);
            last = t.saw(i, Phase::Done).or(last);
        }
        let last = last.unwrap();
        assert_eq!(
            last.text,
            "0 restoring from tape, 0 online, 60 of 60 transferred"
        );
        assert!(last.print, "the last line is printed");
    }

    /// Re-review finding: the tape line said "61 restoring, 0 online" while the online files
    /// downloaded, and "transferred" counted past the run's files (bundles' reports, files
    /// never on tape). The three counts now always add up to the run's files.
    #[test]
    fn tape_counts_add_up_to_the_run_s_files() {
        let mut t = TapeCounts::new(5);
        // Files 0-2 on tape; 3 and 4 online from the start.
        for i in 0..3 {
            t.saw(i, Phase::WaitingForRestore);
        }
        assert_eq!(
            t.line(),
            "3 restoring from tape, 2 online, 0 of 5 transferred"
        );
        t.saw(3, Phase::Done);
        t.saw(4, Phase::Extracted);
        // A bundle's own report (index past the files) is not a file.
        t.saw(7, Phase::Done);
        assert_eq!(
            t.line(),
            "3 restoring from tape, 0 online, 2 of 5 transferred"
        );
        for i in 0..3 {
            t.saw(i, Phase::Online);
        }
        assert_eq!(
            t.line(),
            "0 restoring from tape, 3 online, 2 of 5 transferred"
        );
        for i in 0..3 {
            t.saw(i, Phase::Done);
            t.saw(i, Phase::Done);
        }
        assert_eq!(
            t.line(),
            "0 restoring from tape, 0 online, 5 of 5 transferred"
        );
    }

    /// Finding 9/10 of issue 14: an interrupted `--zip` run does not promise a resume (its
    /// partial zip is removed); an interrupted raw run does (its partial data is kept).
    #[test]
    fn interruption_message_tells_what_was_kept() {
        for (zip, says, never) in [
            (true, "never resumed", "to resume"),
            // A bundle cut short keeps the files that arrived whole; the message says so.
            (false, "arrived whole", "never resumed"),
        ] {
            let req = DownloadRequest {
                zip,
                ..DownloadRequest::new(Target::Datafiles(vec![1]), "out")
            };
            let summary = DownloadSummary {
                cancelled: true,
                ..DownloadSummary::default()
            };
            let reporter = Reporter::new(crate::progress::Mode::Quiet);
            let f = report(summary, 0, &req, &reporter, Vec::new(), &BTreeSet::new())
                .failure
                .unwrap();
            assert_eq!(f.kind, ExitKind::Interrupted);
            let text = f.to_string();
            assert!(
                text.contains(says) && !text.contains(never),
                "{zip}: {text}"
            );
            assert!(!text.contains(".part"), "{text}");
        }
    }

    /// Issue-16 finding: Ctrl-C after every file had arrived made the run "interrupted" (exit
    /// 130); it is a complete download, said so on stderr.
    #[test]
    fn an_interruption_after_the_last_file_is_a_success() {
        let req = DownloadRequest::new(Target::Datafiles(vec![1, 2]), "out");
        let done = |id: i64| icat_ids::FileReport {
            id,
            path: PathBuf::from(format!("out/v/d/f{id}")),
            outcome: Outcome::Downloaded {
                bytes: 1,
                resumed_from: 0,
                retries: 0,
                verification: icat_ids::Verification::Verified {
                    size: true,
                    checksum: true,
                },
            },
            extra_digest: None,
        };
        let summary = DownloadSummary {
            cancelled: true,
            files: vec![done(1), done(2)],
            ..DownloadSummary::default()
        };
        let reporter = Reporter::new(crate::progress::Mode::Quiet);
        let r = report(summary, 2, &req, &reporter, Vec::new(), &BTreeSet::new());
        assert!(r.failure.is_none(), "{:?}", r.failure);
        assert_eq!(r.downloaded, 2);
        // One file cut short: interrupted, as before.
        let summary = DownloadSummary {
            cancelled: true,
            files: vec![
                done(1),
                icat_ids::FileReport {
                    outcome: Outcome::Failed(Arc::new(IdsError::Cancelled)),
                    ..done(2)
                },
            ],
            ..DownloadSummary::default()
        };
        let r = report(summary, 2, &req, &reporter, Vec::new(), &BTreeSet::new());
        assert_eq!(r.failure.unwrap().kind, ExitKind::Interrupted);
    }

    #[test]
    fn records_from_entities() {
        use icat_soap::model::{Dataset, Investigation};
        let inv = Investigation {
            id: Some(1),
            visit_id: Some("1.1-N".into()),
            ..Default::default()
        };
        let ds = Dataset {
            id: Some(2),
            name: Some("scan".into()),
            investigation: Some(Box::new(inv)),
            ..Default::default()
        };
        let df = Datafile {
            id: Some(3),
            name: Some("sub/f.nxs".into()),
            file_size: Some(10),
            location: Some("a/b".into()),
            dataset: Some(Box::new(ds)),
            ..Default::default()
        };
        let r = DatafileRecord::from_datafile(&df).unwrap();
        assert_eq!(r.visit, "1.1-N");
        assert_eq!(r.dataset, "scan");
        assert_eq!(r.base_name(), "f.nxs");
        assert!(r.stored);
        assert_eq!(r.size, Some(10));
        assert_eq!(r.investigation_id, 1);
    }

    fn record(inv: i64, visit: &str, name: Option<&str>) -> DatafileRecord {
        DatafileRecord {
            id: inv * 10,
            name: "f".into(),
            size: None,
            checksum: None,
            stored: true,
            dataset_id: inv * 100,
            dataset: "ds".into(),
            visit: visit.into(),
            investigation_id: inv,
            investigation_name: name.map(str::to_owned),
        }
    }

    #[test]
    fn a_files_directory_depends_on_its_investigation_only() {
        let shared: BTreeSet<String> = ["1".to_owned()].into();
        let a = record(2, "1", Some("RB1910123"));
        let b = record(3, "1", Some("RB1910124"));
        assert_eq!(
            visit_dir(&record(1, "cm1-1", Some("cm1")), &shared),
            "cm1-1"
        );
        assert_eq!(visit_dir(&a, &shared), "1_RB1910123");
        assert_eq!(visit_dir(&b, &shared), "1_RB1910124");
        assert_eq!(visit_dir(&record(5, "1", None), &shared), "1_inv5");
        assert_eq!(visit_dir(&record(6, "1", Some("1")), &shared), "1_inv6");
        assert_eq!(visit_dir(&record(7, "1", Some("a/b")), &shared), "1_inv7");
    }
}
