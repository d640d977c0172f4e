//! The facility profile's network model (`[network]` in sim.toml, `--network PRESET`): latency,
//! per-connection and shared-link rates, IDS per-call costs and a per-user download cap, applied
//! to every ICAT and IDS answer. Without a profile nothing is shaped.

mod bucket;
mod listener;
mod profile;
mod shaper;

pub use bucket::TokenBucket;
pub use listener::{ShapedListener, ShapedStream};
pub use profile::{NetworkConfig, NetworkProfile, PRESETS, ProfileError, Rate};
pub use shaper::{
    CATCH_UP, DownloadCapReached, DownloadSlot, MIN_SLICE, Network, NetworkStats, RestoreRecord,
    SLICE, burst_for, layer, slice_for, stats_handler,
};

/// The path of the counters endpoint.
pub const STATS_PATH: &str = "/sim/network";
