//! The storage market's chain parameters (`plexus_state::Params::storage`), with their
//! validation and their encoding (a state snapshot and the state root carry them).
//!
//! Every figure is a governance parameter; the defaults follow `../shared/STORAGE.md`:
//!
//! - `k = 16` of `n = 40`: 2.5x overhead, 24 losses tolerated; an adversary with a third of the
//!   selection weight holds more than `n - k` shards of a segment with probability about 1.5e-4.
//! - Time is counted in the chain's epochs (`Params::epoch_length_blocks`) where the brief speaks
//!   of epochs (deal length, pay, challenges, the fault excuse, the repair deadline) and in blocks
//!   where a party must act (accepting a drawn shard, answering a challenge).
//! - A missed proof withholds the interval's pay and burns `miss_burn_multiple` (3) times it from
//!   the holder's collateral, so dropping any fraction of a shard loses money in expectation;
//!   `misses_before_lost` (3) misses in a row declare the shard lost. The collateral a shard locks
//!   is `collateral_epochs` of its pay (at least `collateral_min_per_shard`), and
//!   `collateral_epochs >= miss_burn_multiple * misses_before_lost` so that the burns of every
//!   miss before a shard is declared lost are always covered by what it locked.
//!
//! - Challenges: each epoch every active shard is challenged once, at most
//!   `challenges_per_block_max` opening in a block, each answered within `proof_window_blocks`;
//!   the holders share `emission_bps` (20%) of each epoch's emission by the byte-epochs they
//!   proved.
//!
//! Integer only: amounts in base units, prices per byte-epoch.

use crate::coding::Shape;
use bytes::BufMut;
use plexus_types::Amount;
use plexus_types::codec::{Buf, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write};

/// The most shards a segment may be coded into: bounds a deal's draws and records, and keeps
/// shard indices in a `u16`.
pub const SHARDS_MAX: u32 = 256;

/// The storage market's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageParams {
    /// Data shards per segment: any `k` of the `n` rebuild it (the first `k` are the data).
    pub k: u32,
    /// Shards per segment, each held by a different provider (at most [`SHARDS_MAX`]).
    pub n: u32,
    /// The shortest deal, in epochs: a deal shorter than the time to place it is not worth the
    /// draws it costs.
    pub deal_epochs_min: u64,
    /// The longest deal, in epochs: bounds the escrow's arithmetic and how long a record lives
    /// before its owner must extend it.
    pub deal_epochs_max: u64,
    /// Blocks a drawn holder has to accept its shard (the client uploads it, the provider checks
    /// it against the commitment); a slot not accepted by then is drawn again.
    pub accept_window_blocks: u64,
    /// Blocks a holder has to answer a challenge: room for a proof to reach a block under load,
    /// far below an epoch so every shard is challenged and answered once an epoch.
    pub proof_window_blocks: u64,
    /// A missed challenge withholds that interval's pay and burns this many times it from the
    /// holder's collateral.
    pub miss_burn_multiple: u32,
    /// Misses in a row after which a shard is declared lost and a repairer drawn.
    pub misses_before_lost: u32,
    /// The longest a declared fault excuses a shard's challenges (pay stops, no burn), in
    /// epochs: room for a disk swap or a restart, not a way to hold a shard without storing it.
    pub fault_excuse_epochs_max: u64,
    /// Epochs a drawn repairer has to rebuild and accept a lost shard before it is drawn again.
    pub repair_deadline_epochs: u64,
    /// The collateral a shard locks from its holder's provider bond, in epochs of the shard's
    /// pay at the holder's price (at least `miss_burn_multiple * misses_before_lost`).
    pub collateral_epochs: u32,
    /// The least collateral a shard locks, in base units, so that a shard stored for free still
    /// puts something behind its proofs.
    pub collateral_min_per_shard: Amount,
    /// The most challenges the chain opens in one block (and so the most proofs a block must
    /// verify for them, 32 in about 0.3 ms); the rest wait for the next block of the epoch.
    /// With the proof window it bounds the shards the chain holds: every shard is challenged
    /// once an epoch, in the epoch's first `epoch_length_blocks - proof_window_blocks` blocks,
    /// so at most `challenges_per_block_max * (epoch_length_blocks - proof_window_blocks)`
    /// shards; a deal past that is refused (`storage_full`).
    pub challenges_per_block_max: u32,
    /// The storage share of each epoch's emission, in basis points (at most 10^4), paid to the
    /// holders pro rata to the byte-epochs they proved in the epoch and taken before the
    /// validators', providers' and verifiers' shares, which split the rest as before. Not
    /// minted in an epoch nobody proved anything (the other shares then split the whole).
    pub emission_bps: u32,
}

impl Default for StorageParams {
    fn default() -> Self {
        StorageParams {
            k: 16,
            n: 40,
            deal_epochs_min: 1,
            deal_epochs_max: 100_000,
            accept_window_blocks: 20,
            proof_window_blocks: 10,
            miss_burn_multiple: 3,
            misses_before_lost: 3,
            fault_excuse_epochs_max: 2,
            repair_deadline_epochs: 2,
            collateral_epochs: 10,
            collateral_min_per_shard: plexus_types::PLX / 1_000,
            challenges_per_block_max: 32,
            emission_bps: 2_000,
        }
    }
}

impl StorageParams {
    /// The parameters of a devnet with `providers` providers: `k = 2` of `n = 4` from four
    /// providers on (the example), `n = providers` and `k = n / 2` below. The code
    /// needs `n > k >= 1`, so `n` is at least 2 and a devnet of fewer than two providers can
    /// hold no deal. A repair needs a provider that holds no shard of the segment, so a devnet
    /// that exercises repairs runs more providers than `n`.
    pub fn devnet(providers: u32) -> StorageParams {
        let n = providers.clamp(2, 4);
        StorageParams {
            k: n / 2,
            n,
            ..StorageParams::default()
        }
    }

    /// The erasure code's shape, if `k` of `n` is one the code supports and `n <= SHARDS_MAX`.
    pub fn shape(&self) -> Option<Shape> {
        if self.n > SHARDS_MAX {
            return None;
        }
        Shape::new(u16::try_from(self.k).ok()?, u16::try_from(self.n).ok()?).ok()
    }

    /// Whether the parameters are usable: a shape the code supports (`1 <= k < n <= SHARDS_MAX`),
    /// a non-empty range of deal lengths, non-zero windows, and collateral that covers the burns
    /// before a shard is lost.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.shape().is_none() {
            return Err("storage k and n must satisfy 1 <= k < n <= 256");
        }
        if self.deal_epochs_min == 0 || self.deal_epochs_min > self.deal_epochs_max {
            return Err("storage deal epochs must satisfy 1 <= min <= max");
        }
        if self.accept_window_blocks == 0
            || self.proof_window_blocks == 0
            || self.fault_excuse_epochs_max == 0
            || self.repair_deadline_epochs == 0
        {
            return Err("storage windows and deadlines must be positive");
        }
        if self.misses_before_lost == 0 || self.challenges_per_block_max == 0 {
            return Err("storage misses_before_lost and challenges_per_block_max must be positive");
        }
        if self.emission_bps > 10_000 {
            return Err("storage emission_bps must be at most 10^4");
        }
        let burns = u64::from(self.miss_burn_multiple) * u64::from(self.misses_before_lost);
        if u64::from(self.collateral_epochs) < burns {
            return Err(
                "storage collateral_epochs must cover miss_burn_multiple * misses_before_lost",
            );
        }
        Ok(())
    }
}

impl Write for StorageParams {
    fn write(&self, buf: &mut impl BufMut) {
        self.k.write(buf);
        self.n.write(buf);
        self.deal_epochs_min.write(buf);
        self.deal_epochs_max.write(buf);
        self.accept_window_blocks.write(buf);
        self.proof_window_blocks.write(buf);
        self.miss_burn_multiple.write(buf);
        self.misses_before_lost.write(buf);
        self.fault_excuse_epochs_max.write(buf);
        self.repair_deadline_epochs.write(buf);
        self.collateral_epochs.write(buf);
        self.collateral_min_per_shard.write(buf);
        self.challenges_per_block_max.write(buf);
        self.emission_bps.write(buf);
    }
}

impl EncodeSize for StorageParams {
    fn encode_size(&self) -> usize {
        // Seven u32 fields, six u64 fields and one amount, each of fixed width.
        7 * u32::SIZE + 6 * u64::SIZE + u128::SIZE
    }
}

impl Read for StorageParams {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(StorageParams {
            k: u32::read(buf)?,
            n: u32::read(buf)?,
            deal_epochs_min: u64::read(buf)?,
            deal_epochs_max: u64::read(buf)?,
            accept_window_blocks: u64::read(buf)?,
            proof_window_blocks: u64::read(buf)?,
            miss_burn_multiple: u32::read(buf)?,
            misses_before_lost: u32::read(buf)?,
            fault_excuse_epochs_max: u64::read(buf)?,
            repair_deadline_epochs: u64::read(buf)?,
            collateral_epochs: u32::read(buf)?,
            collateral_min_per_shard: u128::read(buf)?,
            challenges_per_block_max: u32::read(buf)?,
            emission_bps: u32::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::codec::{DecodeExt, Encode};

    #[test]
    fn defaults_are_usable_and_round_trip() {
        let params = StorageParams::default();
        params.check().unwrap();
        let bytes = params.encode();
        assert_eq!(bytes.len(), params.encode_size());
        assert_eq!(StorageParams::decode(bytes).unwrap(), params);
    }

    #[test]
    fn devnet_parameters_fit_the_providers() {
        for providers in 0..10 {
            let params = StorageParams::devnet(providers);
            params.check().unwrap();
            assert!(params.n <= providers.max(2), "{providers}: {params:?}");
        }
        let four = StorageParams::devnet(4);
        assert_eq!((four.k, four.n), (2, 4));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let base = StorageParams::default();
        for params in [
            StorageParams {
                k: 0,
                ..base.clone()
            },
            StorageParams {
                k: 41,
                ..base.clone()
            },
            // The code needs a parity shard.
            StorageParams {
                k: 40,
                ..base.clone()
            },
            StorageParams {
                n: SHARDS_MAX + 1,
                ..base.clone()
            },
            StorageParams {
                deal_epochs_min: 0,
                ..base.clone()
            },
            StorageParams {
                deal_epochs_min: 10,
                deal_epochs_max: 9,
                ..base.clone()
            },
            StorageParams {
                accept_window_blocks: 0,
                ..base.clone()
            },
            StorageParams {
                proof_window_blocks: 0,
                ..base.clone()
            },
            StorageParams {
                fault_excuse_epochs_max: 0,
                ..base.clone()
            },
            StorageParams {
                repair_deadline_epochs: 0,
                ..base.clone()
            },
            StorageParams {
                misses_before_lost: 0,
                ..base.clone()
            },
            StorageParams {
                challenges_per_block_max: 0,
                ..base.clone()
            },
            StorageParams {
                collateral_epochs: 8,
                ..base.clone()
            },
            StorageParams {
                emission_bps: 10_001,
                ..base.clone()
            },
        ] {
            assert!(params.check().is_err(), "{params:?}");
        }
    }
}
