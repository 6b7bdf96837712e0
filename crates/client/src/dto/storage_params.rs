//! The storage market's chain parameters as `GET /v1/storage/params` serves them: what a client
//! needs to build a deal (the code's `k` and `n`, the deal lengths the chain takes, the segment
//! and price units) and to know how long to wait (the accept window, the epoch's length).

use super::BaseUnits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The storage parameters at the last finalized height (`plexus_storage::params::StorageParams`
/// plus the chain's epoch length and the protocol's fixed units).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StorageParamsDto {
    /// Data shards per segment: any `k` of the `n` rebuild it (a deal must name this `k`).
    pub k: u16,
    /// Shards per segment, each held by a different provider (a deal must name this `n`).
    pub n: u16,
    /// The shortest deal, in epochs.
    pub deal_epochs_min: u64,
    /// The longest deal, in epochs (also the furthest an extension may reach past now).
    pub deal_epochs_max: u64,
    /// Blocks a drawn holder has to accept its shard before the slot is drawn again.
    pub accept_window_blocks: u64,
    /// Blocks a holder has to answer a challenge.
    pub proof_window_blocks: u64,
    /// Blocks in the current chain epoch: the unit of a deal's length and of its pay (a vote may
    /// change it from a later epoch: `GET /v1/status` shows a scheduled change).
    pub epoch_length_blocks: u64,
    /// A missed challenge burns this many times the interval's pay from the holder.
    pub miss_burn_multiple: u32,
    /// Misses in a row after which a shard is declared lost and repaired.
    pub misses_before_lost: u32,
    /// The longest a declared fault excuses a shard's challenges, in epochs.
    pub fault_excuse_epochs_max: u64,
    /// Epochs a drawn repairer has to rebuild a lost shard.
    pub repair_deadline_epochs: u64,
    /// The collateral a shard locks from its holder's bond, in epochs of its pay.
    pub collateral_epochs: u32,
    /// The least collateral a shard locks.
    pub collateral_min_per_shard: BaseUnits,
    /// The most challenges opened in one block.
    pub challenges_per_block_max: u32,
    /// The most bytes in one segment (a larger file is several segments).
    pub segment_bytes_max: u64,
    /// The most segments one deal names.
    pub deal_segments_max: u32,
    /// The bytes a price is quoted for: prices are per this many bytes held for one epoch.
    pub price_unit_bytes: u64,
}
