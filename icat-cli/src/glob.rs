//! Which datafiles `icat download --match` / `--exclude` select. Patterns are globs (the `globset`
//! crate: `*`, `?`, `[a-z]`, `[!x]`, `{a,b}`, `**`) on the path relative to the visit,
//! `dataset/file`; `*` also crosses `/`, so `ds0002/*` is everything in dataset `ds0002`. A
//! pattern without `/` matches the file name alone (as in `.gitignore`), so `'*.nxs'` works in
//! every dataset. A path as the download plan prints it, with the visit folder in front
//! (`visit/dataset/file`), matches too.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The compiled `--match` and `--exclude` patterns; the default selects every file.
#[derive(Clone, Debug, Default)]
pub struct FileFilter {
    include: Option<Patterns>,
    exclude: Option<Patterns>,
}

/// Patterns split by what they are matched against.
#[derive(Clone, Debug)]
struct Patterns {
    by_name: GlobSet,
    by_path: GlobSet,
    text: Vec<String>,
}

impl Patterns {
    fn new(patterns: &[String], flag: &str) -> Result<Option<Patterns>, String> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        for p in patterns {
            let glob = Glob::new(p).map_err(|e| format!("{flag} {p:?}: {}", e.kind()))?;
            if p.contains('/') {
                by_path.add(glob);
            } else {
                by_name.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("{flag}: {e}"));
        Ok(Some(Patterns {
            by_name: build(by_name)?,
            by_path: build(by_path)?,
            text: patterns.to_vec(),
        }))
    }

    fn matches(&self, visit: &str, dataset: &str, name: &str) -> bool {
        let base = name.rsplit('/').next().unwrap_or(name);
        self.by_name.is_match(base)
            || self.by_path.is_match(format!("{dataset}/{name}"))
            || self.by_path.is_match(format!("{visit}/{dataset}/{name}"))
    }
}

impl FileFilter {
    /// Compiles `--match` (any may match; none given selects all) and `--exclude` patterns. The
    /// error names the flag and the pattern.
    pub fn new(include: &[String], exclude: &[String]) -> Result<FileFilter, String> {
        Ok(FileFilter {
            include: Patterns::new(include, "--match")?,
            exclude: Patterns::new(exclude, "--exclude")?,
        })
    }

    /// Whether file `name` of dataset `dataset` is selected (`visit`: the visit folder the plan
    /// puts it in, for patterns written as the plan prints paths).
    pub fn selects(&self, visit: &str, dataset: &str, name: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|p| p.matches(visit, dataset, name))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|p| p.matches(visit, dataset, name))
    }

    /// Whether only `--exclude` was given.
    pub fn excludes_only(&self) -> bool {
        self.include.is_none() && self.exclude.is_some()
    }

    /// Whether any pattern was given.
    pub fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// The patterns, for messages: `--match '*.nxs' --exclude 'ds1/*'`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (flag, p) in [("--match", &self.include), ("--exclude", &self.exclude)] {
            for t in p.iter().flat_map(|p| &p.text) {
                parts.push(format!("{flag} '{t}'"));
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(include: &[&str], exclude: &[&str]) -> FileFilter {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        FileFilter::new(&s(include), &s(exclude)).unwrap()
    }

    #[test]
    fn names_and_paths() {
        let all = FileFilter::default();
        assert!(all.selects("v", "ds", "x") && !all.is_active());
        let nxs = f(&["*.nxs"], &[]);
        assert!(nxs.selects("v", "ds0001", "scan_1.nxs"));
        assert!(nxs.selects("v", "ds0001", "sub/scan_1.nxs"));
        assert!(!nxs.selects("v", "ds0001", "scan_1.nxs.bak"));
        let ds = f(&["ds0002/*"], &[]);
        assert!(ds.selects("v", "ds0002", "a.h5") && ds.selects("v", "ds0002", "sub/a.h5"));
        assert!(!ds.selects("v", "ds0001", "a.h5"));
        let alt = f(&["ds000{1,3}/*.{nxs,h5}", "log.txt"], &[]);
        assert!(alt.selects("v", "ds0003", "x.h5") && alt.selects("v", "ds0009", "log.txt"));
        assert!(!alt.selects("v", "ds0002", "x.h5"));
        let ex = f(&["*"], &["*.tmp", "ds0002/*"]);
        assert!(ex.selects("v", "ds0001", "a.nxs"));
        assert!(!ex.selects("v", "ds0001", "a.tmp") && !ex.selects("v", "ds0002", "a.nxs"));
        assert_eq!(
            ex.describe(),
            "--match '*' --exclude '*.tmp' --exclude 'ds0002/*'"
        );
        assert!(f(&["scan_[!0-4]*"], &[]).selects("v", "d", "scan_5.h5"));
        // Finding 9 of the issue-16 trial: the path as the plan prints it matches too.
        let plan = f(&["SIM000002-1/ds0001/*"], &[]);
        assert!(plan.selects("SIM000002-1", "ds0001", "df00001.nxs"));
        assert!(!plan.selects("SIM000002-2", "ds0001", "df00001.nxs"));
        let err = FileFilter::new(&["[abc".into()], &[]).unwrap_err();
        assert!(err.contains("--match") && err.contains("[abc"), "{err}");
    }
}
