//! Dispatch of the subcommands: checks and resolves what the command line selects, then runs the
//! command in `commands`.

use std::io::Write;

use crate::cli::{Cli, Command, SelectionArgs};
use crate::commands::{archive, browse, cite, download, dry_run, find, session, upload};
use crate::connect::{self, Reuse};
use crate::context::{Context, ctrl_c_token};
use crate::failure::Failure;
use crate::glob::FileFilter;
use crate::idlist::IdList;
use crate::progress::{Mode, Reporter};
use crate::queries::{Target, VisitFilter};
use crate::resolve::{self, Reference, Resolved};

/// The target of a selection; dataset names need their visit.
fn target(sel: &SelectionArgs) -> Result<Target, Failure> {
    Ok(match (&sel.visit, sel.dataset.is_empty()) {
        (Some(v), true) => Target::Visit(v.clone()),
        (Some(v), false) => Target::VisitDatasets {
            visit: v.clone(),
            datasets: sel.dataset.clone(),
        },
        (None, false) => {
            let ids: Result<Vec<i64>, _> = sel.dataset.iter().map(|d| d.parse::<i64>()).collect();
            Target::Datasets(ids.map_err(|_| {
                Failure::usage(
                    "dataset names are looked up within a visit",
                    "give the visit too (icat download VISIT --dataset NAME) or use dataset ids",
                )
            })?)
        }
        (None, true) if sel.datafile.is_empty() => {
            return Err(Failure::usage(
                "nothing selected",
                "give a VISIT, a DOI, --dataset ID (or VISIT --dataset NAME), --datafile ID, \
                 --collection ID, or - for ids on standard input",
            ));
        }
        (None, true) => Target::Datafiles(sel.datafile.clone()),
    })
}

/// A DOI or collection named by a selection, if any.
fn reference(sel: &SelectionArgs) -> Result<Option<Reference>, Failure> {
    if let Some(id) = sel.collection {
        return Ok(Some(Reference::Collection(id)));
    }
    let Some(text) = sel.visit.as_deref() else {
        return Ok(None);
    };
    let Some(doi) = resolve::parse_doi(text) else {
        if resolve::after_doi_prefix(text).is_some() {
            let shown: String = text.chars().take(80).filter(|c| !c.is_control()).collect();
            return Err(Failure::usage(
                format!("{shown:?} is not a valid DOI"),
                "a DOI is 10.PREFIX/SUFFIX, e.g. doi:10.5286/ISIS.E.12345 or https://doi.org/10.5286/ISIS.E.12345",
            ));
        }
        return Ok(None);
    };
    if !sel.dataset.is_empty() {
        return Err(Failure::usage(
            "--dataset picks datasets within a visit, not within a DOI",
            "give the DOI alone, or the visit with --dataset",
        ));
    }
    Ok(Some(Reference::Doi(doi)))
}

/// True when the selection is an id list on standard input (`-` or `--from-stdin`).
fn from_stdin(sel: &SelectionArgs) -> bool {
    sel.from_stdin || sel.visit.as_deref() == Some("-")
}

/// A selection checked before any request: a DOI or collection (resolved later), an id list
/// read from standard input now, or a plain target.
enum Pending {
    Reference(Reference),
    Ids(IdList),
    Plain(Target),
}

fn pending(ctx: &Context, sel: &SelectionArgs) -> Result<Pending, Failure> {
    if let Some(r) = reference(sel)? {
        return Ok(Pending::Reference(r));
    }
    if from_stdin(sel) {
        if !sel.dataset.is_empty() {
            return Err(Failure::usage(
                "--dataset cannot be combined with an id list on standard input",
                "put dataset lines (`dataset ID`) into the list instead",
            ));
        }
        if ctx.conn.password_stdin {
            return Err(Failure::usage(
                "standard input cannot carry both the password and the id list",
                "log in first with `icat login --password-stdin`, then pipe the ids",
            ));
        }
        return Ok(Pending::Ids(IdList::from_stdin()?));
    }
    Ok(Pending::Plain(target(sel)?))
}

/// A selection resolved against the catalogue: what to act on, how the user named it (for
/// `bag-info.txt`), and the DOI or collection behind it.
struct Selected {
    target: Target,
    described: String,
    /// The ids a search or an id list came to (`investigations 1,2; datasets 7`).
    selection: Option<String>,
    resolved: Option<Resolved>,
    /// For an id list: the ids the catalogue does not show this user, as `KIND ID`, and how
    /// many ids the list held; the command ends with exit 4 naming them after doing the rest.
    missing: Option<(Vec<String>, usize)>,
}

impl Selected {
    /// The not-found failure for ids of the list that were left out, if any.
    fn missing_failure(&self) -> Option<Failure> {
        let (missing, total) = self.missing.as_ref().filter(|(m, _)| !m.is_empty())?;
        const SHOWN: usize = 20;
        let mut named = missing
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > SHOWN {
            named.push_str(&format!(" and {} more", missing.len() - SHOWN));
        }
        Some(Failure::not_found(
            format!(
                "{} of {total} ids not found or not readable: {named}",
                missing.len()
            ),
            if missing.len() == *total {
                "check the ids (`icat show`), or ask the facility for access"
            } else {
                "the other ids were handled; check these ids (`icat show`), or ask the facility for access"
            },
        ))
    }
}

async fn resolve_pending(
    conn: &connect::Connection,
    pending: Pending,
    sel: &SelectionArgs,
    reporter: &Reporter,
) -> anyhow::Result<Selected> {
    Ok(match pending {
        Pending::Reference(r) => {
            let resolved = resolve::resolve(&conn.session, &r).await?;
            if let Some(failure) = resolved.no_data() {
                return Err(failure.into());
            }
            reporter.note(&cite::heading(&resolved));
            Selected {
                target: resolved.target.clone(),
                described: r.describe(),
                selection: None,
                resolved: Some(resolved),
                missing: None,
            }
        }
        Pending::Ids(list) => {
            let described = format!(
                "id list from standard input ({} id{})",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            );
            let (present, missing) = list.split_missing(&conn.session).await?;
            // Nothing left to act on: say so now rather than with an empty selection.
            if present.is_empty() {
                let all = Selected {
                    target: Target::Datafiles(Vec::new()),
                    described,
                    selection: None,
                    resolved: None,
                    missing: Some((missing, list.len())),
                };
                return Err(all.missing_failure().map_or_else(
                    || anyhow::anyhow!("the id list selected nothing"),
                    anyhow::Error::from,
                ));
            }
            Selected {
                target: present.to_target(&conn.session).await?,
                described,
                selection: Some(present.summary()),
                resolved: None,
                missing: Some((missing, list.len())),
            }
        }
        Pending::Plain(t) => Selected {
            target: t,
            described: describe_plain(sel),
            selection: None,
            resolved: None,
            missing: None,
        },
    })
}

/// A plain selection in words, as the user gave it.
fn describe_plain(sel: &SelectionArgs) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &sel.visit {
        parts.push(format!("visit {v}"));
    }
    if !sel.dataset.is_empty() {
        parts.push(format!("datasets {}", sel.dataset.join(",")));
    }
    if !sel.datafile.is_empty() {
        let ids: Vec<String> = sel.datafile.iter().map(i64::to_string).collect();
        parts.push(format!("datafiles {}", ids.join(",")));
    }
    parts.join(" ")
}

/// The bag around a download of `selected` into `output` (`--manifest`).
fn bag_request(
    selected: &Selected,
    output: &std::path::Path,
    algorithm: crate::bagit::BagAlgorithm,
) -> Result<download::BagRequest, Failure> {
    crate::bagit::check_bag_root(output, &selected.described).map_err(|old| {
        Failure::usage(
            format!(
                "{} is already a bag of another selection ({})",
                crate::output::sanitize_cell(&output.display().to_string()),
                crate::output::sanitize_cell(&old)
            ),
            "give a new -o DIR for this selection; the same selection again completes that bag",
        )
    })?;
    Ok(download::BagRequest {
        external_identifier: selected
            .resolved
            .as_ref()
            .filter(|r| r.reference.starts_with("doi:"))
            .map(|r| r.reference.clone()),
        selection: selected.selection.clone(),
        ..download::BagRequest::new(output, algorithm, selected.described.clone())
    })
}

/// Runs (or with `dry_run` plans) a download and prints its summary or JSON report.
async fn execute_download(
    ctx: &Context,
    conn: &connect::Connection,
    req: &download::DownloadRequest,
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if dry_run {
        let plan = dry_run::plan(conn, req, &ctx.reporter).await?;
        dry_run::print(&plan, json, req.overwrite, out)?;
        // The exit code the real run would have for what the plan foresees.
        return match dry_run::foreseen_failure(&plan, req) {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        };
    }
    let mut report = download::run(conn, req, &ctx.reporter, ctrl_c_token()).await?;
    // -q is errors only; --json keeps stdout pure JSON and says the summary on stderr.
    if json {
        download::print_json(&report, out)?;
        ctx.reporter.note(&report.summary_line());
    } else if ctx.reporter.mode() != Mode::Quiet {
        writeln!(out, "{}", report.summary_line())?;
        // Only when there is something to find there.
        if report.downloaded + report.skipped > 0 {
            writeln!(out, "files are in {}", report.dest.display())?;
        }
    }
    match report.failure.take() {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}

/// The `icat find` command that makes a selection, with every option that narrows it, as
/// `bag-info.txt` records it (shell-quoted).
fn find_command_line(args: &crate::cli::FindArgs) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut words = vec!["icat find".to_string(), quote(&args.text)];
    if args.visits {
        words.push("--visits".into());
    } else if args.datafiles {
        words.push("--datafiles".into());
    }
    for (flag, value) in [
        ("--since", &args.since),
        ("--until", &args.until),
        ("--instrument", &args.instrument),
    ] {
        if let Some(v) = value {
            words.push(format!("{flag} {}", quote(v)));
        }
    }
    for p in &args.parameters {
        words.push(format!("--parameter {}", quote(p)));
    }
    words.push(format!("--limit {}", args.limit));
    if let Some(a) = &args.after {
        words.push(format!("--after {}", quote(a)));
    }
    words.join(" ") + &args.transfer.filter_words()
}

/// `icat find`: search, then print the hits, their ids, or download them.
async fn find_command(
    ctx: &Context,
    args: crate::cli::FindArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let filter = file_filter(&args.transfer)?;
    let target = if args.visits {
        icat_rest::Target::Investigation
    } else if args.datafiles {
        icat_rest::Target::Datafile
    } else {
        icat_rest::Target::Dataset
    };
    let after = match &args.after {
        Some(text) => Some(find::after_point(text)?),
        None => None,
    };
    let req = find::FindRequest {
        text: args.text.clone(),
        target,
        since: args
            .since
            .as_deref()
            .map(|d| find::search_date(d, false))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| find::search_date(d, true))
            .transpose()?,
        instrument: args.instrument.clone(),
        parameters: args
            .parameters
            .iter()
            .map(|p| find::parameter(p))
            .collect::<Result<_, _>>()?,
        facets: args.facets,
        limit: args.limit,
        after,
        first_rank: args.first_rank,
    };
    if req.limit == 0 {
        return Err(Failure::usage("--limit 0 finds nothing", "give --limit 1 or more").into());
    }
    if let (Some(since), Some(until)) = (&req.since, &req.until)
        && since > until
    {
        return Err(Failure::usage(
            "--since is after --until: nothing can match",
            "swap the two dates",
        )
        .into());
    }
    let conn = connect::connect(ctx, Reuse::CachedOrLogin).await?;
    let rest = find::rest_client(&conn)?;
    let found = find::find(&rest, &conn.session, &req).await?;
    if let Some(after) = &found.search_after {
        // Server-made JSON: escaped by serde_json, and only shown when it is short.
        let token = after.to_string();
        let more = if token.len() <= 1000 && !token.contains('\'') {
            format!(
                " or continue with --after '{token}' --first-rank {}",
                found.next_rank.unwrap_or(1)
            )
        } else {
            String::new()
        };
        ctx.reporter.note(&format!(
            "more hits: --limit {} for more{more}",
            args.limit.saturating_mul(2)
        ));
    }
    if args.ids {
        return find::print_ids(&found, out);
    }
    if !args.download {
        return find::print(&found, args.format.format(), out);
    }
    if found.hits.is_empty() {
        return Err(Failure::not_found(
            format!("nothing to download: no hits for {:?}", args.text),
            "try other words, or fewer filters",
        )
        .into());
    }
    // More hits than --limit took: the download is of those shown, said next to the plan.
    if found.search_after.is_some() {
        ctx.reporter.note(&format!(
            "downloading the first {} hits only: more match (--limit N takes more; \
             --facets counts them all)",
            found.hits.len()
        ));
    }
    // What is about to be downloaded, as the search printed it (with its facets): a table on
    // stdout before the download's report; with --json (stdout is the report) a line on stderr.
    if args.format.json {
        ctx.reporter.note(&format!(
            "{} hit{}: {}",
            found.hits.len(),
            if found.hits.len() == 1 { "" } else { "s" },
            found.id_list().summary()
        ));
    } else if ctx.reporter.mode() != Mode::Quiet {
        find::print(&found, crate::output::Format::Table, out)?;
        writeln!(out)?;
    }
    conn.announce(&ctx.reporter, "downloading from");
    let selected = Selected {
        target: found.id_list().to_target(&conn.session).await?,
        described: find_command_line(&args),
        selection: Some(found.id_list().summary()),
        resolved: None,
        missing: None,
    };
    let bag = args
        .manifest
        .then(|| bag_request(&selected, &args.output, args.manifest_algorithm))
        .transpose()?;
    let dest = bag
        .as_ref()
        .map_or_else(|| args.output.clone(), download::BagRequest::payload_dir);
    let req = download_request(
        &args.transfer,
        filter,
        download::DownloadRequest {
            bag,
            ..download::DownloadRequest::new(selected.target, dest)
        },
    )?;
    execute_download(ctx, &conn, &req, args.dry_run, args.format.json, out).await
}

/// The file filter of `--match`/`--exclude` (a usage error for a bad glob, before anything is
/// asked of a server).
fn file_filter(transfer: &crate::cli::TransferArgs) -> Result<FileFilter, Failure> {
    FileFilter::new(&transfer.patterns, &transfer.exclude)
        .map_err(|e| Failure::usage(e, "fix the pattern (globs: * ? [a-z] {a,b})"))
}

/// `req` with the transfer options of `icat download` / `icat find --download`.
fn download_request(
    transfer: &crate::cli::TransferArgs,
    filter: FileFilter,
    req: download::DownloadRequest,
) -> anyhow::Result<download::DownloadRequest> {
    Ok(download::DownloadRequest {
        filter,
        parallel: usize::from(transfer.parallel),
        zip: transfer.zip,
        verify: !transfer.no_verify,
        fsync: !transfer.no_fsync,
        overwrite: transfer.overwrite,
        max_wait: transfer.max_wait,
        max_unreachable: transfer.max_unreachable,
        ..req
    })
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context {
        conn: cli.conn.clone(),
        env: std::env::vars().collect(),
        reporter: Reporter::new(Mode::detect(cli.quiet)),
    };
    let mut stdout = std::io::stdout().lock();
    let out: &mut dyn Write = &mut stdout;
    match cli.command {
        Command::Completions(args) => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(args.shell, &mut cmd, "icat", out);
        }
        #[cfg(feature = "sim")]
        Command::Sim {
            command: crate::cli::SimCommand::Serve(args),
        } => crate::commands::sim::serve(&args, out).await?,
        #[cfg(feature = "sim")]
        Command::Demo(args) => {
            crate::commands::demo::run(&ctx, args.output.as_deref(), out).await?;
        }
        #[cfg(not(feature = "sim"))]
        Command::Demo(_) | Command::Sim(_) => {
            return Err(
                Failure::usage(crate::cli::WITHOUT_SIM, crate::cli::WITHOUT_SIM_HINT).into(),
            );
        }
        Command::Login => {
            session::login(&ctx, out).await?;
        }
        Command::Logout(args) => session::logout(&ctx, args.all, out).await?,
        Command::Whoami(args) => session::whoami(&ctx, args.format.format(), out).await?,
        Command::Sessions(args) => session::sessions(&ctx, args.format.format(), out)?,
        Command::Visits(args) => {
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            let filter = VisitFilter {
                instrument: args.instrument,
                since: args.since,
                mine: args.mine,
            };
            browse::visits(
                &conn.session,
                &filter,
                args.limit,
                args.format.format(),
                out,
            )
            .await?;
        }
        Command::Show(args) => {
            let sel = SelectionArgs {
                visit: args.visit.clone(),
                collection: args.collection,
                ..SelectionArgs::default()
            };
            let reference = reference(&sel)?;
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            match (reference, &args.visit) {
                (Some(r), _) => {
                    let resolved = resolve::resolve(&conn.session, &r).await?;
                    let data = cite::cited_data(&conn.session, resolved).await?;
                    cite::print(&data, args.format.format(), out)?;
                }
                (None, Some(visit)) => {
                    let tree = browse::visit_tree(&conn.session, visit).await?;
                    browse::print_tree(&tree, args.format.format(), out)?;
                }
                (None, None) => {
                    return Err(Failure::usage(
                        "nothing to show",
                        "give a VISIT, a DOI or --collection ID",
                    )
                    .into());
                }
            }
        }
        Command::Search(args) => {
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            browse::search(
                &conn.session,
                &args.query,
                args.format.format(),
                args.limit,
                out,
            )
            .await?;
        }
        Command::Download(args) => {
            let filter = file_filter(&args.transfer)?;
            let pending = pending(&ctx, &args.selection)?;
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            conn.announce(&ctx.reporter, "downloading from");
            let mut selected =
                resolve_pending(&conn, pending, &args.selection, &ctx.reporter).await?;
            // The file filters narrow the selection: the bag records them too.
            selected.described.push_str(&args.transfer.filter_words());
            let missing = selected.missing_failure();
            let bag = args
                .manifest
                .then(|| bag_request(&selected, &args.output, args.manifest_algorithm))
                .transpose()?;
            let dest = bag
                .as_ref()
                .map_or_else(|| args.output.clone(), download::BagRequest::payload_dir);
            let req = download_request(
                &args.transfer,
                filter,
                download::DownloadRequest {
                    bag,
                    ..download::DownloadRequest::new(selected.target, dest)
                },
            )?;
            execute_download(&ctx, &conn, &req, args.dry_run, args.json, out).await?;
            if let Some(failure) = missing {
                return Err(failure.into());
            }
        }
        Command::Find(args) => find_command(&ctx, args, out).await?,
        Command::Status(args) => {
            let pending = pending(&ctx, &args.selection)?;
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            let selected = resolve_pending(&conn, pending, &args.selection, &ctx.reporter).await?;
            let rows = archive::status_rows(&conn, &selected.target).await?;
            archive::print_status(&rows, args.format.format(), out)?;
            if let Some(failure) = selected.missing_failure() {
                return Err(failure.into());
            }
        }
        Command::Restore(args) => {
            let pending = pending(&ctx, &args.selection)?;
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            conn.announce_ids(&ctx.reporter, "restoring on");
            let selected = resolve_pending(&conn, pending, &args.selection, &ctx.reporter).await?;
            archive::restore(
                &conn,
                &selected.target,
                args.wait.then_some((args.max_wait, args.max_unreachable)),
                &ctx.reporter,
                ctrl_c_token(),
                out,
            )
            .await?;
            if let Some(failure) = selected.missing_failure() {
                return Err(failure.into());
            }
        }
        Command::Upload(args) => {
            let conn = connect::connect(&ctx, Reuse::CachedOrLogin).await?;
            conn.announce_ids(&ctx.reporter, "uploading to");
            upload::upload(
                &conn,
                &args.files,
                args.dataset,
                &args.format,
                args.description.as_deref(),
                out,
            )
            .await?;
        }
    }
    Ok(())
}
