//! How [`super::Strategy::Auto`] splits a plan into transfers, from the catalogue sizes alone:
//! small files bundled in prepared zips, large ones as raw streams, a very large one striped
//! over several open-ended ranges. The rule is documented on [`AutoOptions`].

use std::collections::BTreeMap;

use super::plan::DatafileSpec;

/// The thresholds of the automatic split.
///
/// - **Bundling.** A file is *small* when its catalogue size is known and at most
///   `bundle_max_file`. Every request by session costs the IDS its ICAT authorisation plus a
///   round trip; for a file smaller than what one stream moves during that overhead (8 MiB is
///   about 0.2 s at 40 MB/s) the overhead dominates. Small files of one dataset that have a zip
///   entry name (the IDS `<visit>/<dataset>/<name>` layout), no partial data from an earlier run
///   and no file at their final path yet go into bundles: prepared zips of at most
///   `max(8 MiB, small bytes / cap)` capped at `bundle_max_bytes` and `bundle_max_files` files,
///   so there are enough bundles to use `cap` streams and a cut bundle (zips are never resumed)
///   costs little. A bundle of one file is fetched raw.
/// - **Striping.** A file of at least `stripe_min_file` bytes (256 MiB by default) without
///   partial data, when fewer large files than `cap` are planned (so parallel files cannot fill
///   the streams), is fetched with `K` open-ended ranges `bytes=o_i-`, each stream closed after
///   its share; the deeper shares are a little smaller, so that they end with the others
///   although the server reads their prefix first ([`stripe_offsets`]). A real IDS reads and
///   discards the prefix of an offset, so the server reads `Σ offsets + S` (about
///   `S·(K+1)/2`); `K` is the most streams whose reads stay within `read_budget_percent` of the
///   file (4 for the default 3x: 2.59x), and also at most `cap` and at most one stream per
///   `stripe_min_share` bytes. A resumed striped file is fetched within what the budget has
///   left after the earlier runs' reads ([`resume_shares`](super::stripe_state)).
/// - Everything else is one raw, resumable stream per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoOptions {
    /// Largest file bundled (default 8 MiB).
    pub bundle_max_file: u64,
    /// Largest bundle (default 256 MiB).
    pub bundle_max_bytes: u64,
    /// Most files per bundle (default 1000).
    pub bundle_max_files: usize,
    /// Smallest file striped (default 256 MiB).
    pub stripe_min_file: u64,
    /// Smallest share of one stripe (default 64 MiB).
    pub stripe_min_share: u64,
    /// Server reads allowed for a striped file, in percent of its size (default 300 = 3x).
    pub read_budget_percent: u32,
}

impl Default for AutoOptions {
    fn default() -> Self {
        AutoOptions {
            bundle_max_file: 8 << 20,
            bundle_max_bytes: 256 << 20,
            bundle_max_files: 1000,
            stripe_min_file: 256 << 20,
            stripe_min_share: 64 << 20,
            read_budget_percent: 300,
        }
    }
}

/// One transfer of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One raw stream for the file at this plan index.
    Raw(usize),
    /// One prepared zip holding these plan indices (all of one dataset).
    Bundle(Vec<usize>),
    /// The file at this plan index over `streams` ranges.
    Striped {
        /// Plan index.
        index: usize,
        /// Number of ranges.
        streams: u32,
    },
}

impl Item {
    /// The plan indices of the item.
    pub fn indices(&self) -> Vec<usize> {
        match self {
            Item::Raw(i) | Item::Striped { index: i, .. } => vec![*i],
            Item::Bundle(v) => v.clone(),
        }
    }
}

/// Share `i` of `k` weighs `SKEW_DEN·k − i` parts against `SKEW_DEN·k` for the first: each share
/// is a quarter of a share smaller per `k` shares deeper into the file (see [`stripe_offsets`]).
const SKEW_DEN: u64 = 4;

/// The offsets of `k` shares of a `size`-byte file, the deeper ones slightly smaller so that the
/// shares end together: a real IDS reads and discards the prefix of an offset before the first
/// byte is sent (`RangeOutputStream`), so the share at offset `o` starts `o / disk rate` later
/// than the first (about 1.5 s for 768 MiB at 500 MB/s, while a share of 256 MiB takes 6 s at 350
/// Mbit/s). Share `i` weighs `1 − i / (4k)`: for 4 shares 27.6%, 25.9%, 24.1% and 22.4% of the
/// file. Equal shares ended one after the other (the last one ~1.6 s after the first, with
/// fewer streams than needed to fill the link meanwhile); a fluid model of the `wan` preset
/// gives 9.4 s instead of 9.8 s for 1 GiB over 4 streams, at 2.59x server reads instead of 2.5x.
pub fn stripe_offsets(size: u64, k: u32) -> Vec<u64> {
    let k = u64::from(k.max(1));
    let weight = |i: u64| u128::from(SKEW_DEN * k - i);
    let total: u128 = (0..k).map(weight).sum();
    let mut before = 0u128;
    (0..k)
        .map(|i| {
            let o = u128::from(size) * before / total;
            before += weight(i);
            // o ≤ size, so it fits.
            u64::try_from(o).unwrap_or(size)
        })
        .collect()
}

/// What the server reads for stripes at `offsets` of a `size`-byte file: each offset is read and
/// discarded before the share is sent.
pub fn server_reads(size: u64, offsets: &[u64]) -> u64 {
    offsets.iter().sum::<u64>() + size
}

/// Streams for a file of `size` bytes: at most `cap`, within the read budget, one per
/// `stripe_min_share`; 1 means "not striped".
pub fn stripe_count(size: u64, cap: usize, o: &AutoOptions) -> u32 {
    if size < o.stripe_min_file || cap < 2 {
        return 1;
    }
    // Equal shares read S·(K+1)/2 ≤ b·S  ⇔  K ≤ 2b − 1, with b = percent/100; the skewed
    // shares read a little more, which the check below steps down for.
    let by_budget = (2 * u64::from(o.read_budget_percent) / 100).saturating_sub(1);
    let by_share = size / o.stripe_min_share.max(1);
    let k = by_budget.min(by_share).min(cap as u64).max(1);
    let k = k as u32;
    // Integer shares could push the reads past the budget by rounding; step down until they fit.
    (1..=k)
        .rev()
        .find(|&k| {
            let reads = u128::from(server_reads(size, &stripe_offsets(size, k)));
            reads * 100 <= u128::from(size) * u128::from(o.read_budget_percent)
        })
        .unwrap_or(1)
}

/// Split the plan indices `which` into transfers. `fresh(i)` tells whether file `i` has no
/// partial data and nothing at its final path yet (only such files are bundled or striped).
pub fn split(
    files: &[DatafileSpec],
    which: &[usize],
    cap: usize,
    o: &AutoOptions,
    fresh: impl Fn(usize) -> bool,
) -> Vec<Item> {
    let cap = cap.max(1);
    let small = |i: usize| {
        let f = &files[i];
        f.zip_entry.is_some() && f.expected.size.is_some_and(|s| s <= o.bundle_max_file)
    };
    let mut by_dataset: BTreeMap<Option<i64>, Vec<usize>> = BTreeMap::new();
    let mut rest = Vec::new();
    for &i in which {
        if small(i) && fresh(i) {
            by_dataset.entry(files[i].dataset).or_default().push(i);
        } else {
            rest.push(i);
        }
    }
    let small_bytes: u64 = by_dataset
        .values()
        .flatten()
        .filter_map(|&i| files[i].expected.size)
        .sum();
    let target = (small_bytes / cap as u64)
        .max(8 << 20)
        .min(o.bundle_max_bytes.max(1));
    let mut items = Vec::new();
    for (_, group) in by_dataset {
        let mut bundle: Vec<usize> = Vec::new();
        let mut bytes = 0u64;
        for i in group {
            let s = files[i].expected.size.unwrap_or(0);
            if !bundle.is_empty() && (bytes + s > target || bundle.len() >= o.bundle_max_files) {
                items.push(bundle_or_raw(std::mem::take(&mut bundle)));
                bytes = 0;
            }
            bundle.push(i);
            bytes += s;
        }
        if !bundle.is_empty() {
            items.push(bundle_or_raw(bundle));
        }
    }
    let large = rest.len();
    for i in rest {
        let size = files[i].expected.size.unwrap_or(0);
        let streams = if large < cap && fresh(i) {
            stripe_count(size, cap, o)
        } else {
            1
        };
        items.push(if streams > 1 {
            Item::Striped { index: i, streams }
        } else {
            Item::Raw(i)
        });
    }
    items
}

fn bundle_or_raw(v: Vec<usize>) -> Item {
    match v.as_slice() {
        [one] => Item::Raw(*one),
        _ => Item::Bundle(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::{Expected, SafeRelPath};

    fn file(id: i64, dataset: i64, size: u64) -> DatafileSpec {
        DatafileSpec::in_visit_dataset(
            id,
            "v",
            &format!("ds{dataset}"),
            &format!("f{id}"),
            Expected {
                size: Some(size),
                checksum: None,
            },
        )
        .unwrap()
        .with_dataset(dataset)
    }

    #[test]
    fn small_files_are_bundled_per_dataset_large_ones_streamed() {
        let mut files = Vec::new();
        for id in 0..10 {
            files.push(file(id, 1 + id % 2, 64 << 10));
        }
        files.push(file(10, 1, 64 << 20));
        files.push(file(11, 2, 64 << 20));
        let which: Vec<usize> = (0..files.len()).collect();
        let items = split(&files, &which, 4, &AutoOptions::default(), |_| true);
        assert_eq!(
            items,
            [
                Item::Bundle(vec![0, 2, 4, 6, 8]),
                Item::Bundle(vec![1, 3, 5, 7, 9]),
                Item::Raw(10),
                Item::Raw(11),
            ]
        );
    }

    #[test]
    fn files_with_partial_data_unknown_size_or_no_zip_name_are_not_bundled() {
        let mut files: Vec<DatafileSpec> = (0..4).map(|id| file(id, 1, 1000)).collect();
        files[1].expected.size = None;
        files[2] = files[2].clone().without_zip_entry();
        files.push(DatafileSpec::new(
            4,
            SafeRelPath::parse("x/y").unwrap(),
            Expected::default(),
        ));
        let which: Vec<usize> = (0..files.len()).collect();
        let items = split(&files, &which, 4, &AutoOptions::default(), |i| i != 3);
        // 0 alone is small and fresh: a bundle of one is a raw stream.
        assert_eq!(
            items,
            [
                Item::Raw(0),
                Item::Raw(1),
                Item::Raw(2),
                Item::Raw(3),
                Item::Raw(4)
            ]
        );
    }

    #[test]
    fn bundles_are_sized_to_use_the_streams() {
        // 2000 × 64 KiB = 125 MiB in one dataset, cap 4: bundles of about 31 MiB.
        let files: Vec<DatafileSpec> = (0..2000).map(|id| file(id, 1, 64 << 10)).collect();
        let which: Vec<usize> = (0..files.len()).collect();
        let items = split(&files, &which, 4, &AutoOptions::default(), |_| true);
        assert_eq!(items.len(), 4, "{:?}", items.len());
        assert!(
            items
                .iter()
                .all(|i| matches!(i, Item::Bundle(v) if v.len() == 500))
        );
        // A file limit splits further.
        let o = AutoOptions {
            bundle_max_files: 300,
            ..AutoOptions::default()
        };
        let items = split(&files, &which, 4, &o, |_| true);
        assert_eq!(items.len(), 7);
    }

    #[test]
    fn one_very_large_file_is_striped_within_the_read_budget() {
        let o = AutoOptions::default();
        let gib = 1u64 << 30;
        assert_eq!(stripe_count(gib, 4, &o), 4);
        assert_eq!(
            stripe_count(gib, 16, &o),
            4,
            "3x budget: 5 skewed shares read 3.11x"
        );
        assert_eq!(stripe_count(gib, 1, &o), 1);
        assert_eq!(stripe_count(100 << 20, 8, &o), 1, "below stripe_min_file");
        // 2x budget: 3 skewed shares read 2.06x.
        let two = AutoOptions {
            read_budget_percent: 200,
            ..o
        };
        assert_eq!(stripe_count(gib, 16, &two), 2);
        for (size, cap, opts) in [(gib, 16, o), (gib + 7, 16, o), (gib, 16, two), (gib, 4, o)] {
            let k = stripe_count(size, cap, &opts);
            let offsets = stripe_offsets(size, k);
            assert_eq!(offsets.len(), k as usize);
            assert_eq!(offsets[0], 0);
            assert!(offsets.windows(2).all(|w| w[0] < w[1]));
            let reads = server_reads(size, &offsets);
            assert!(
                u128::from(reads) * 100 <= u128::from(size) * u128::from(opts.read_budget_percent),
                "{reads} server reads for {size} bytes"
            );
        }
        // Deeper shares are smaller: 16, 15, 14 and 13 parts of 58.
        assert_eq!(stripe_offsets(5800, 4), [0, 1600, 3100, 4500]);
        assert_eq!(server_reads(5800, &[0, 1600, 3100, 4500]), 15000);
        assert_eq!(stripe_offsets(1000, 1), [0]);
    }

    #[test]
    fn striping_only_when_few_large_files_and_no_partial_data() {
        let o = AutoOptions::default();
        let big = 1u64 << 30;
        let files: Vec<DatafileSpec> = (0..2).map(|id| file(id, 1, big)).collect();
        let which = [0, 1];
        let items = split(&files, &which, 4, &o, |_| true);
        assert_eq!(
            items,
            [
                Item::Striped {
                    index: 0,
                    streams: 4
                },
                Item::Striped {
                    index: 1,
                    streams: 4
                }
            ]
        );
        // Enough large files to fill the streams: one stream each.
        let items = split(&files, &which, 2, &o, |_| true);
        assert_eq!(items, [Item::Raw(0), Item::Raw(1)]);
        // Partial data from an earlier run is resumed, not striped.
        let items = split(&files, &[0], 4, &o, |_| false);
        assert_eq!(items, [Item::Raw(0)]);
    }
}
