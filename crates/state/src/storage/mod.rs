//! The storage market's chain side (issue 15, `../shared/STORAGE.md`): providers' offers, deals
//! with escrow, beacon-drawn distinct holders, accepts and redraws, per-epoch pay, extension and
//! early end. The pure rules (parameters, draws, money math) are `plexus_storage`'s.
//!
//! The life of a deal: `DealPost` escrows `ceil(cap * n * shard bytes * epochs / 2^30)` and the
//! including block draws `n` distinct holders for every segment (a deal no provider set can hold
//! is rejected before anything is charged); each drawn holder reserves the shard's bytes of its
//! offer and locks its collateral, and accepts with `ShardAccept`; a slot not accepted within
//! `accept_window_blocks` is drawn again at the end of the block it fell due in. At the end of
//! every epoch from the one after the post's, each accepted shard's holder is paid one epoch at
//! its price out of the escrow (rounded down); after the last paid epoch, or on the owner's
//! `DealEnd`, what the escrow still holds returns to the owner, every reservation and collateral
//! is released and the deal is removed. `DealExtend` adds epochs and their escrow.
//!
//! Proofs (`challenges`): every epoch each active shard is challenged once and must answer with
//! `StorageProof` inside `proof_window_blocks`; only proven shards are paid, a miss burns
//! `miss_burn_multiple` times the pay from the shard's collateral, a wrong proof slashes all of
//! it, and `misses_before_lost` misses in a row (or no collateral left) declare the shard lost,
//! which draws a repairer in the same block. `FaultDeclare` excuses a bounded stretch.

pub(crate) mod challenges;
pub(crate) mod deals;
pub(crate) mod holders;
pub(crate) mod offers;
pub mod records;

pub use challenges::opening_heights;
pub use records::{
    Challenge, ChallengeOutcome, Deal, Segment, Shard, ShardKey, ShardState, StorageIndex,
    StorageOffer, StorageStats,
};
