//! The command line: clap definitions of every `icat` subcommand and the shared flags.

use std::path::PathBuf;

use clap::{Arg, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::ConnFlags;
use crate::failure::EXIT_CODES_HELP;
use crate::output::Format;

/// Find, browse and download facility data from ICAT and IDS.
#[derive(Debug, Parser)]
#[command(
    name = "icat",
    version,
    about,
    after_help = EXIT_CODES_HELP,
    after_long_help = concat!(
        "Configuration is read like python-icat: icat.cfg in /etc/icat, ~/.config/icat, ~/.icat and . \
         (later files override earlier ones), section chosen with -s or ICAT_CFG_SECTION. \
         Flags override ICAT_SERVICE, ICAT_DATA_SERVICE, ICAT_AUTH and ICAT_USER, which override the file. \
         Without any server settings, commands use the session of your last `icat login` \
         (`icat sessions` lists the stored ones).\n\n\
         Sessions for one command: -s SECTION, or -w URL with or without -a and -u (or ICAT_SERVICE), \
         use the stored session for that server and user without changing the default. When there \
         is none, the command logs in for itself if it can get the password (--password-stdin, the \
         section's password, or a prompt on a terminal); otherwise it stops with \
         `not logged in as USER at URL` (exit 3) and the `icat login ...` to run (whoami and \
         logout never log in). -w URL without -u uses the default session if it is on that \
         server, else the only stored session there; with several it asks for -u. -a or -u \
         without -w mean that user on the default session's server.\n\n",
        crate::exit_codes_help!()
    )
)]
pub struct Cli {
    /// Connection and configuration flags.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Less output: errors only, no progress.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as `icat` parses it: [`Cli`], with the connection flags listed in
/// `icat --help` only. Subcommands accept them (they are global) but hide them from their help,
/// which ends with a pointer to `icat --help` instead of ~30 repeated lines.
pub fn command() -> clap::Command {
    let conn: Vec<Arg> = ConnArgs::augment_args(clap::Command::new("conn"))
        .get_arguments()
        .cloned()
        .collect();
    hide_in_subcommands(Cli::command(), &conn)
}

/// Gives every subcommand (recursively) hidden copies of the connection flags, so that clap's
/// propagation of global flags finds them present and does not list them again.
/// Subcommands that talk to ICAT or the IDS also get a pointer to them in their help (not
/// `icat sim` or `icat completions`, which connect to nothing).
fn hide_in_subcommands(cmd: clap::Command, conn: &[Arg]) -> clap::Command {
    cmd.mut_subcommands(|sc| {
        let connects = !matches!(sc.get_name(), "sim" | "completions" | "serve");
        let mut sc = if connects {
            sc.after_help(
                "Connection options (-w/--url, --idsurl, -a/--auth, -u/--user, -s/--section, \
                 -c, --ca-file, --cred, timeouts, ...) apply here too: see `icat --help`.",
            )
        } else {
            sc
        };
        for a in conn {
            sc = sc.arg(a.clone().hide(true));
        }
        hide_in_subcommands(sc, conn)
    })
}

impl Cli {
    /// Parses the process arguments with [`command`]; exits with clap's message on errors.
    pub fn parse_args() -> Cli {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// Connection flags, compatible with python-icat's scripts.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Connection (python-icat compatible)")]
pub struct ConnArgs {
    /// ICAT service URL (env ICAT_SERVICE), e.g. https://icat.example.org:8181.
    #[arg(short = 'w', long = "url", global = true, value_name = "URL")]
    pub url: Option<String>,
    /// IDS URL (env ICAT_DATA_SERVICE), e.g. https://icat.example.org:8181/ids.
    #[arg(long = "idsurl", global = true, value_name = "URL")]
    pub idsurl: Option<String>,
    /// Authentication plugin (env ICAT_AUTH), e.g. db, ldap, simple, anon.
    #[arg(short = 'a', long = "auth", global = true, value_name = "PLUGIN")]
    pub auth: Option<String>,
    /// User name (env ICAT_USER).
    #[arg(short = 'u', long = "user", global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Read only this config file (env ICAT_CFG) instead of the icat.cfg search path.
    #[arg(short = 'c', long = "configfile", global = true, value_name = "FILE")]
    pub configfile: Option<PathBuf>,
    /// Config file section to use (env ICAT_CFG_SECTION).
    #[arg(
        short = 's',
        long = "section",
        visible_alias = "configsection",
        global = true,
        value_name = "NAME"
    )]
    pub section: Option<String>,
    /// Do not verify the server's TLS certificate (insecure; for test servers only).
    #[arg(long, global = true, conflicts_with = "check_certificate")]
    pub no_check_certificate: bool,
    /// Verify the server's TLS certificate (the default; overrides checkCert = No in the file).
    #[arg(long, global = true)]
    pub check_certificate: bool,
    /// Trust the CA certificate(s) in this PEM file as well as the system store (caFile in
    /// icat.cfg); kept with the session for later commands.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Always prompt for the password, even if the config file holds one.
    #[arg(short = 'P', long = "prompt-pass", global = true)]
    pub prompt_pass: bool,
    /// Extra credential for the authenticator, KEY=VALUE (never the password).
    #[arg(long = "cred", global = true, value_name = "KEY=VALUE")]
    pub creds: Vec<String>,
    /// Time allowed to open a connection, e.g. 30s (default 30s).
    #[arg(long, global = true, value_name = "DURATION", value_parser = crate::config::positive_duration, help_heading = "Network")]
    pub connect_timeout: Option<std::time::Duration>,
    /// Longest wait for the next bytes of an answer, e.g. 2m (ICAT default: the 120s request
    /// limit; IDS default 120s).
    #[arg(long, global = true, value_name = "DURATION", value_parser = crate::config::positive_duration, help_heading = "Network")]
    pub read_timeout: Option<std::time::Duration>,
    /// Retries of read-only calls after network errors or 502/503/504 answers (default 3).
    #[arg(long, global = true, value_name = "N", help_heading = "Network")]
    pub retries: Option<u32>,
    /// Largest ICAT answer accepted, in MiB (maxAnswerMiB in icat.cfg; default 32). An answer
    /// is held in memory whole, so this bounds what a broken server can cost.
    #[arg(long, global = true, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Network")]
    pub max_answer_mib: Option<u32>,
    /// Most results a listing reads from ICAT (maxRows in icat.cfg; default 1000000): a
    /// selection counted larger, or a server sending more, is refused.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
}

impl ConnArgs {
    /// The flags in the form the configuration resolver takes.
    pub fn to_flags(&self) -> ConnFlags {
        ConnFlags {
            url: self.url.clone(),
            idsurl: self.idsurl.clone(),
            auth: self.auth.clone(),
            user: self.user.clone(),
            configfile: self.configfile.clone(),
            section: self.section.clone(),
            check_cert: if self.no_check_certificate {
                Some(false)
            } else if self.check_certificate {
                Some(true)
            } else {
                None
            },
            ca_file: self.ca_file.clone(),
            prompt_pass: self.prompt_pass,
            creds: self.creds.clone(),
            network: crate::config::Network {
                connect_timeout: self.connect_timeout,
                read_timeout: self.read_timeout,
                retries: self.retries,
                max_answer_mib: self.max_answer_mib,
                max_rows: self.max_rows,
            },
        }
    }
}

/// `--json` / `--csv` for listing commands.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct FormatArgs {
    /// Print one JSON document with stable field names.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV with a header row.
    #[arg(long)]
    pub csv: bool,
}

impl FormatArgs {
    /// The chosen format.
    pub fn format(self) -> Format {
        if self.json {
            Format::Json
        } else if self.csv {
            Format::Csv
        } else {
            Format::Table
        }
    }
}

/// A data selection: a visit, a DOI, a data collection, datasets, datafiles, or an id list.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// The visit (visit id, investigation name, or numeric investigation id), a DOI
    /// (doi:10.xxxx/yyyy: a data publication, collection, investigation, dataset or datafile),
    /// or - to read an id list from standard input (as `icat find --ids` prints it).
    /// Without VISIT, give --dataset, --datafile or --collection.
    #[arg(value_name = "VISIT|DOI|-")]
    pub visit: Option<String>,
    /// A data collection id: everything it lists (datafiles, datasets, investigations).
    #[arg(long = "collection", value_name = "ID", conflicts_with_all = ["visit", "dataset", "datafile"])]
    pub collection: Option<i64>,
    /// Read the id list from standard input (same as giving - as VISIT).
    #[arg(long = "from-stdin", conflicts_with_all = ["visit", "dataset", "datafile", "collection"])]
    pub from_stdin: bool,
    /// Datasets: ids, or with VISIT also names within the visit (repeat or separate with commas).
    #[arg(long = "dataset", value_name = "ID|NAME", value_delimiter = ',')]
    pub dataset: Vec<String>,
    /// Datafile ids (repeat or separate with commas).
    #[arg(
        long = "datafile",
        value_name = "ID",
        value_delimiter = ',',
        conflicts_with = "visit"
    )]
    pub datafile: Vec<i64>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and keep the session for the next commands (the password is never stored).
    Login,
    /// End the stored session on the server and forget it (--all: every stored session).
    Logout(LogoutArgs),
    /// Show who is logged in and for how many more minutes.
    Whoami(WhoamiArgs),
    /// List the stored sessions: server, user, minutes left, and which one plain commands use.
    Sessions(WhoamiArgs),
    /// List visits with their dataset count and total size (a listing query, then counts for up
    /// to 1000 visits per query).
    Visits(VisitsArgs),
    /// Show a visit's datasets and datafiles as a tree (or what a DOI or collection holds).
    Show(ShowArgs),
    /// Free-text search (ICAT 6.1+ REST search): ranked visits, datasets or datafiles, facet
    /// counts, and the hits as an id list or straight into a download.
    Find(FindArgs),
    /// Run any ICAT JPQL query and print typed results.
    Search(SearchArgs),
    /// Download a visit, datasets or datafiles: prepare, wait for restores, stream, verify, extract.
    Download(DownloadArgs),
    /// Show whether data is online, restoring or archived.
    Status(StatusArgs),
    /// Ask the IDS to restore archived data to disk.
    Restore(RestoreArgs),
    /// Upload files into a dataset (checksum checked against the server's answer).
    Upload(UploadArgs),
    /// Run the simulator demo: log in, browse, download and verify, narrated.
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// The built-in ICAT + IDS simulator.
    #[cfg(feature = "sim")]
    Sim {
        /// What to do with the simulator.
        #[command(subcommand)]
        command: SimCommand,
    },
    /// Not in this icat: it was built without the simulator (cargo feature `sim`); `cargo install
    /// --path icat-cli` includes it.
    #[cfg(not(feature = "sim"))]
    Demo(WithoutSimArgs),
    /// Not in this icat: it was built without the simulator (cargo feature `sim`); `cargo install
    /// --path icat-cli` includes it.
    #[cfg(not(feature = "sim"))]
    Sim(WithoutSimArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// `icat demo ...` and `icat sim ...` in an icat built without the simulator: whatever follows is
/// accepted, and the command says how to get an icat that has them (not clap's "unrecognized
/// subcommand", which reads as a typo).
#[cfg(not(feature = "sim"))]
#[derive(Debug, Args)]
pub struct WithoutSimArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// What `icat demo` and `icat sim` say in an icat built without the simulator.
pub const WITHOUT_SIM: &str = "this icat was built without the simulator (cargo feature `sim`), so it has no `demo` or `sim serve`";

/// How to get an icat with the simulator.
pub const WITHOUT_SIM_HINT: &str = "install one that has it with `cargo install --path icat-cli` \
     (the default features include `sim`), or run `cargo run -p icat-cli -- demo` in the repository";

/// `icat sim ...`.
#[cfg(feature = "sim")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulator until Ctrl-C (same options as the `icat-sim` binary); prints the WSDL and IDS URLs.
    ///
    /// Its catalogue is empty unless --synthetic, --load or --db fills it: for a facility to try
    /// commands or the library on, start it with e.g. --synthetic visits=5,datasets=3,files=4,size=64KiB
    Serve(icat_sim::process::cli::ServeArgs),
}

/// `icat logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Log out of every stored session, not only the default one.
    #[arg(long)]
    pub all: bool,
}

/// `icat whoami` and `icat sessions`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Output format.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat visits`.
#[derive(Debug, Args)]
pub struct VisitsArgs {
    /// Only visits on this instrument (name or full name).
    #[arg(long, value_name = "NAME")]
    pub instrument: Option<String>,
    /// Only visits starting on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only visits I am a member of.
    #[arg(long)]
    pub mine: bool,
    /// Stop after N visits, N at least 1 (the list is fetched page by page, so any size works;
    /// without --limit every visit is listed).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit: Option<u64>,
    /// Output format.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The visit (visit id, investigation name, or numeric investigation id), or a DOI
    /// (doi:10.xxxx/yyyy).
    #[arg(value_name = "VISIT|DOI", required_unless_present = "collection")]
    pub visit: Option<String>,
    /// A data collection id instead of a visit.
    #[arg(long = "collection", value_name = "ID", conflicts_with = "visit")]
    pub collection: Option<i64>,
    /// Output format: a tree by default, the nested structure with --json, one row per file
    /// with --csv.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat find`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").args(["visits", "datasets", "datafiles"])))]
#[command(mut_group("TransferArgs", |g| g.requires("download")))]
pub struct FindArgs {
    /// The words to look for (Lucene syntax: "lysozyme AND 100K", "lyso*", quotes for phrases;
    /// put `--` before words that start with '-': `icat find -- -crystal`). Without words,
    /// everything the filters select. Visits match through their own text or any of their
    /// samples (ICAT joins the two with OR), so `lysozyme NOT crystal` still finds a visit titled
    /// "crystal" whose sample matches.
    #[arg(value_name = "TEXT", default_value = "")]
    pub text: String,
    /// Search visits (investigations).
    #[arg(long)]
    pub visits: bool,
    /// Search datasets (the default).
    #[arg(long)]
    pub datasets: bool,
    /// Search datafiles.
    #[arg(long)]
    pub datafiles: bool,
    /// Only data from this date on (YYYY-MM-DD, YYYY-MM-DDTHH:MM or ...THH:MM:SS, UTC, no
    /// offsets); for visits and datasets both their start and end must lie within
    /// --since/--until, and ICAT takes a missing end date as the last modification time.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only data up to this date (a day alone includes the whole day).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only data from this instrument (its short name).
    #[arg(long, value_name = "NAME")]
    pub instrument: Option<String>,
    /// A parameter the hits must have: NAME=VALUE (text with * and ? wildcards, or a number),
    /// NAME=LOW..HIGH, optionally NAME[UNITS]=...; repeatable, all must match.
    #[arg(long = "parameter", value_name = "NAME=VALUE|NAME=LOW..HIGH")]
    pub parameters: Vec<String>,
    /// Also print counts per facet dimension (type or format, size and date ranges, parameter
    /// names, techniques, instruments) over every hit you may read, not only those printed (up
    /// to 100000 hits); with --csv only the counts are printed.
    #[arg(long)]
    pub facets: bool,
    /// Stop after N hits (pages of up to 100 are fetched with search_after as needed).
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub limit: u64,
    /// Continue after a previous run's last hit (the search_after JSON it printed).
    #[arg(long, value_name = "JSON")]
    pub after: Option<String>,
    /// Number the hits from N (with --after: the rank the previous run's hint gives, so the
    /// numbering continues).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub first_rank: u64,
    /// Print the hits as an id list (`dataset 12` lines) for `icat download -`.
    #[arg(long, conflicts_with_all = ["json", "csv", "download", "facets"])]
    pub ids: bool,
    /// Download the hits' data into -o DIR (as `icat download` does), after printing the hits
    /// (and --facets); with --json the hits are named on stderr.
    #[arg(long)]
    pub download: bool,
    /// With --download: the destination directory.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR",
        default_value = ".",
        requires = "download"
    )]
    pub output: PathBuf,
    /// With --download: print the plan and change nothing.
    #[arg(long, requires = "download")]
    pub dry_run: bool,
    /// With --download: how files are transferred, as for `icat download`.
    #[command(flatten)]
    pub transfer: TransferArgs,
    /// With --download: make DIR a BagIt bag (see `icat download --help`).
    #[arg(long, requires = "download")]
    pub manifest: bool,
    /// With --manifest: the digest of the manifest, sha512 (the default) or sha256.
    #[arg(
        long = "manifest-algorithm",
        value_name = "ALGORITHM",
        default_value = "sha512",
        requires = "manifest"
    )]
    pub manifest_algorithm: crate::bagit::BagAlgorithm,
    /// Output format.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The JPQL query, e.g. "SELECT d FROM Dataset d WHERE d.name LIKE 'scan%'".
    pub query: String,
    /// Stop after N results, N at least 1 (without --limit every result). Queries are fetched
    /// page by page (entity queries ordered by id, others by their own ORDER BY), so results
    /// beyond the server's per-answer limit work.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit: Option<u64>,
    /// Output format.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// What to download.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// How files are transferred (shared with `icat find --download`).
    #[command(flatten)]
    pub transfer: TransferArgs,
    /// Print the plan (files, sizes, what is already here, what needs a restore, what would
    /// fail, what would be transferred) and change nothing; the exit code is the real run's for
    /// what the plan foresees (6 for local files that differ, 5 for names that cannot be paths,
    /// 9 for restores with --max-wait 0).
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON summary on stdout: one entry per file with its path (null when the
    /// catalogue name cannot be a local path), size, checksum and outcome (verified, replaced,
    /// skipped, unverified, not_restored or failed, and why).
    #[arg(long)]
    pub json: bool,
    /// Destination directory. One download at a time per directory: a second `icat download`
    /// into a DIR another one is writing into stops at once with a message.
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Make DIR a BagIt bag (RFC 8493): files under DIR/data, a manifest of digests computed
    /// while the bytes stream, bag-info.txt naming the ICAT source, user, selection and time,
    /// and a tag manifest, so the download can be cited and re-verified (`bagit.py --validate DIR`).
    #[arg(long)]
    pub manifest: bool,
    /// The bag's digest algorithm.
    #[arg(
        long,
        value_name = "ALG",
        default_value = "sha512",
        requires = "manifest"
    )]
    pub manifest_algorithm: crate::bagit::BagAlgorithm,
}

/// How `icat download` and `icat find --download` transfer files: which files, how long to
/// wait for tape and an unreachable IDS, replacing, parallelism, zip, verification (one set of
/// options for both, so `find --download` has every control `download` has).
#[derive(Debug, Clone, Args)]
pub struct TransferArgs {
    /// Only files matching this glob (repeatable; `{a,b}` alternatives): on the path within the
    /// visit, `DATASET/FILE` (e.g. 'ds0002/*'), or on the file name when it has no '/' (e.g. '*.nxs').
    #[arg(long = "match", value_name = "GLOB")]
    pub patterns: Vec<String>,
    /// Leave out files matching this glob (repeatable; same syntax as --match).
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Longest wait for archived data to be restored from tape before giving up (the restore
    /// goes on at the server; run the command again later to continue). 0 does not wait: what
    /// is online is downloaded, a restore of the rest is requested, and the command exits 9.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration_or_zero)]
    pub max_wait: std::time::Duration,
    /// Stop (exit 5) when the IDS has not answered for this long: while waiting for a restore,
    /// and while transfers fail one after another with no data arriving (--retries bounds how
    /// many such failures in a row, this how long). A busy IDS (503 or 429 asking to come back
    /// later, e.g. a cap on downloads per user) counts the same way: refused for this long
    /// with no data arriving, the download stops once; --max-wait is for tape restores only.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::config::positive_duration)]
    pub max_unreachable: std::time::Duration,
    /// Replace local files that differ from the catalogue (the new copy is verified before it
    /// replaces the old one). Without it such files are left alone and the exit code is 6.
    #[arg(long)]
    pub overwrite: bool,
    /// Most transfers at once: the engine starts with 2, doubles while the throughput grows (then
    /// adds one at a time), and backs off when the IDS is busy (503, Retry-After). Small files
    /// (up to 8 MiB) of a dataset travel together in prepared zips. A file of 256 MiB or more is
    /// striped, fetched over several ranges at once (up to N, at most 4: the IDS reads the part
    /// before each range's start, and its reads stay within 3x the file), when fewer than N
    /// files larger than 8 MiB are to be downloaded and it has no partial data from a single
    /// stream; an interrupted striped file resumes within what that 3x has left, or, when a late
    /// stop left nothing, over one stream from the first missing byte (both runs: up to ~3.5x).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Fetch one prepared zip from the IDS and extract it safely (instead of one resumable stream per file).
    #[arg(long)]
    pub zip: bool,
    /// Skip checksum verification. The catalogue size still bounds what is read (a safety
    /// limit, not a check): an answer longer or shorter than it still fails.
    #[arg(long)]
    pub no_verify: bool,
    /// Do not fsync each file before renaming it into place: faster on slow disks (the data
    /// stays in the page cache, as `curl -o` leaves it), but after a crash or power cut a file
    /// at its final path may be truncated.
    #[arg(long)]
    pub no_fsync: bool,
}

impl TransferArgs {
    /// The file filters as words of a command line (` --match 'GLOB' --exclude 'GLOB'`), which
    /// narrow a selection and so belong in a bag's record of it.
    pub fn filter_words(&self) -> String {
        let mut words = String::new();
        for (flag, globs) in [("--match", &self.patterns), ("--exclude", &self.exclude)] {
            for g in globs {
                words.push_str(&format!(" {flag} '{}'", g.replace('\'', "'\\''")));
            }
        }
        words
    }
}

/// A duration, 0 included (`--max-wait 0`: do not wait).
fn duration_or_zero(text: &str) -> Result<std::time::Duration, String> {
    crate::duration_text::parse_duration(text).map_err(|e| e.to_string())
}

/// A count of at least 1: `--limit 0` would list nothing, which is never what is meant.
fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 would list nothing; leave --limit out to list everything".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (give a whole number, at least 1)")),
    }
}

/// `icat status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// What to check.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output format.
    #[command(flatten)]
    pub format: FormatArgs,
}

/// `icat restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// What to restore.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Wait until the data is online.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: the longest wait before giving up (the restore goes on at the server).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::config::positive_duration)]
    pub max_wait: std::time::Duration,
    /// With --wait: stop (exit 5) when the IDS has not answered for this long.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::config::positive_duration)]
    pub max_unreachable: std::time::Duration,
}

/// `icat upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files to upload.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The dataset id to upload into.
    #[arg(long, value_name = "ID")]
    pub dataset: i64,
    /// The datafile format: its name (optionally NAME:VERSION) or its numeric id.
    #[arg(long, value_name = "NAME|ID")]
    pub format: String,
    /// A description stored with each datafile.
    #[arg(long)]
    pub description: Option<String>,
}

/// `icat demo`.
#[cfg(feature = "sim")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to put the downloaded files (default: a new temporary directory, kept afterwards).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// `icat completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn connection_flags_are_in_the_top_help_only_and_still_accepted_after_a_subcommand() {
        let top = command().render_long_help().to_string();
        assert!(
            top.contains("--idsurl") && top.contains("--ca-file"),
            "{top}"
        );
        let mut cmd = command();
        cmd.build();
        let download = cmd
            .find_subcommand_mut("download")
            .unwrap()
            .render_long_help()
            .to_string();
        let download = crate::failure::one_line(&download);
        assert!(!download.contains("--idsurl <URL>"), "{download}");
        assert!(
            download.contains("--dry-run") && download.contains("icat --help"),
            "{download}"
        );
        // Re-review finding 10: the simulator connects to nothing; no pointer there.
        let sim = cmd.find_subcommand_mut("sim").unwrap();
        let serve = sim
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(!serve.contains("Connection options"), "{serve}");
        let sim = sim.render_long_help().to_string();
        assert!(!sim.contains("Connection options"), "{sim}");
        let matches = command()
            .try_get_matches_from([
                "icat",
                "visits",
                "-w",
                "https://h:8181",
                "--idsurl",
                "https://h/ids",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.conn.url.as_deref(), Some("https://h:8181"));
        assert_eq!(cli.conn.idsurl.as_deref(), Some("https://h/ids"));
    }

    /// Review finding (issue 21): in an icat built without the simulator, `icat demo` was clap's
    /// "unrecognized subcommand" (exit 2) and `icat --help` said nothing. Now both commands parse,
    /// fail with a usage error naming the cargo feature and how to get it, and the help lists them.
    /// (CI runs it: `cargo test -p icat-cli --no-default-features --lib without_sim`.)
    #[cfg(not(feature = "sim"))]
    #[test]
    fn without_sim_demo_and_sim_say_how_to_get_them() {
        let help = command().render_long_help().to_string();
        assert!(help.contains("cargo feature `sim`"), "{help}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for args in [
            &["icat", "demo"][..],
            &["icat", "demo", "-o", "/tmp/x"],
            &["icat", "sim", "serve", "--port", "0"],
        ] {
            let matches = command().try_get_matches_from(args).unwrap();
            let cli = Cli::from_arg_matches(&matches).unwrap();
            assert!(
                matches!(cli.command, Command::Demo(_) | Command::Sim(_)),
                "{args:?}"
            );
            let err = runtime.block_on(crate::app::run(cli)).unwrap_err();
            let (kind, line) = crate::exit_code::describe_error(&err);
            assert_eq!(kind, crate::failure::ExitKind::Usage, "{line}");
            assert!(
                line.contains("cargo feature `sim`")
                    && line.contains("cargo install --path icat-cli"),
                "{line}"
            );
        }
    }

    #[test]
    fn no_password_flag_exists() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let long = arg.get_long().unwrap_or_default();
            assert!(
                !(long == "password" || long == "pass" || arg.get_short() == Some('p')),
                "a password flag would leak into shell history: --{long}"
            );
        }
    }

    #[test]
    fn python_icat_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "icat",
            "-s",
            "jdoe",
            "-w",
            "https://h:8181",
            "-a",
            "db",
            "-u",
            "jdoe",
            "--no-check-certificate",
            "visits",
            "--json",
        ])
        .unwrap();
        let flags = cli.conn.to_flags();
        assert_eq!(flags.section.as_deref(), Some("jdoe"));
        assert_eq!(flags.check_cert, Some(false));
        assert!(matches!(cli.command, Command::Visits(ref v) if v.format.format() == Format::Json));
    }

    #[test]
    fn selections() {
        let cli = Cli::try_parse_from(["icat", "download", "--dataset", "1,2", "--dataset", "3"])
            .unwrap();
        let Command::Download(d) = cli.command else {
            panic!("not download")
        };
        assert_eq!(d.selection.dataset, ["1", "2", "3"]);
        assert!(Cli::try_parse_from(["icat", "download", "V1", "--datafile", "1"]).is_err());
        assert!(Cli::try_parse_from(["icat", "download", "V1", "--dataset", "ds1"]).is_ok());
    }
}
