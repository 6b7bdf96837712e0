//! The storage market's records, as the state holds them, with their canonical encoding (the
//! snapshot and the state root carry them). Invariants, checked by `State::recount`:
//! - a deal's `escrow` is held value (part of the supply) until the deal ends;
//! - every shard of every open deal reserves `shard_bytes` of its holder's offer
//!   (`StorageOffer::used_bytes` is their sum) and locks `collateral` of its provider bond (part
//!   of `Provider::bond_locked`);
//! - the holders of one segment's shards are distinct providers;
//! - `StorageIndex::accept_dues` lists exactly the shards drawn and not accepted yet.

use crate::ledger::record_codec::fixed_record;
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, Write};
use plexus_storage::params::SHARDS_MAX;
use plexus_types::deal::DEAL_SEGMENTS_MAX;
use plexus_types::{Address, Amount, ContentHash, Digest};
use std::collections::BTreeSet;

/// A provider's storage offer (`Payload::StorageOffer`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageOffer {
    /// The bytes it offers to hold in all.
    pub capacity_bytes: u64,
    /// The bytes of the shards drawn to it (held or waiting for its accept).
    pub used_bytes: u64,
    /// Its price per GiB-epoch: what a shard drawn to it is paid.
    pub price_per_gib_epoch: Amount,
}

impl StorageOffer {
    /// The bytes it can still be drawn for.
    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes)
    }
}

/// Where a shard is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardState {
    /// Drawn at `drawn_height`; the holder must accept by `accept_due`, else the slot is drawn
    /// again.
    Drawn { drawn_height: u64, accept_due: u64 },
    /// Accepted at `since_height`: the holder stores it and is paid for it each epoch.
    Active { since_height: u64 },
}

/// One shard of a segment: who holds it, at what price, with what collateral.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub holder: Address,
    /// The holder's offer price when it was drawn: what it is paid per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// The part of the holder's bond this shard locks.
    pub collateral: Amount,
    pub state: ShardState,
}

/// One segment of a deal and its `n` shards (shard `i` is slot `i`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub commitment: ContentHash,
    pub size_bytes: u64,
    pub shard_bytes: u64,
    pub shards: Vec<Shard>,
}

/// A storage deal: one file, its escrow and its segments' holders. Its id is the hash of the
/// transaction that posted it; it is removed when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    pub owner: Address,
    /// Plaintext anyone may read (else client-side encrypted, read by grant).
    pub public: bool,
    /// Data shards per segment (any `k` of the `n` rebuild it).
    pub k: u16,
    pub price_cap_per_gib_epoch: Amount,
    pub posted_height: u64,
    /// The first epoch paid (the one after the post's).
    pub start_epoch: u64,
    /// The epoch after the last one paid: the deal ends at the end of `end_epoch - 1`.
    pub end_epoch: u64,
    /// What the escrow still holds: the owner's, less the pay already made.
    pub escrow: Amount,
    /// What the holders have been paid from it so far.
    pub paid: Amount,
    pub segments: Vec<Segment>,
}

impl Deal {
    /// Whether every shard of every segment is accepted.
    pub fn is_active(&self) -> bool {
        self.segments.iter().all(|segment| {
            segment
                .shards
                .iter()
                .all(|shard| matches!(shard.state, ShardState::Active { .. }))
        })
    }
}

/// A shard's place: (deal, segment, slot).
pub type ShardKey = (Digest, u32, u16);

/// The storage market's height-ordered work list. Derived from the deals (rebuilt when a
/// snapshot is decoded), so not committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageIndex {
    /// (accept due height, shard) for every shard drawn and not accepted yet.
    pub accept_dues: BTreeSet<(u64, ShardKey)>,
}

impl StorageIndex {
    /// Rebuilds the index from the deals.
    pub fn derive<'a>(deals: impl IntoIterator<Item = (&'a Digest, &'a Deal)>) -> StorageIndex {
        let mut index = StorageIndex::default();
        for (id, deal) in deals {
            for (segment_index, segment) in deal.segments.iter().enumerate() {
                for (slot, shard) in segment.shards.iter().enumerate() {
                    if let ShardState::Drawn { accept_due, .. } = shard.state {
                        index
                            .accept_dues
                            .insert((accept_due, (*id, segment_index as u32, slot as u16)));
                    }
                }
            }
        }
        index
    }
}

fixed_record!(StorageOffer {
    capacity_bytes: u64,
    used_bytes: u64,
    price_per_gib_epoch: u128,
});
fixed_record!(Shard {
    holder: Address,
    price_per_gib_epoch: u128,
    collateral: u128,
    state: ShardState,
});

impl Write for ShardState {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ShardState::Drawn {
                drawn_height,
                accept_due,
            } => {
                0u8.write(buf);
                drawn_height.write(buf);
                accept_due.write(buf);
            }
            ShardState::Active { since_height } => {
                1u8.write(buf);
                since_height.write(buf);
            }
        }
    }
}

impl EncodeSize for ShardState {
    fn encode_size(&self) -> usize {
        1 + match self {
            ShardState::Drawn { .. } => 16,
            ShardState::Active { .. } => 8,
        }
    }
}

impl Read for ShardState {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(ShardState::Drawn {
                drawn_height: u64::read(buf)?,
                accept_due: u64::read(buf)?,
            }),
            1 => Ok(ShardState::Active {
                since_height: u64::read(buf)?,
            }),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

impl Write for Segment {
    fn write(&self, buf: &mut impl BufMut) {
        self.commitment.write(buf);
        self.size_bytes.write(buf);
        self.shard_bytes.write(buf);
        self.shards.write(buf);
    }
}

impl EncodeSize for Segment {
    fn encode_size(&self) -> usize {
        self.commitment.encode_size()
            + self.size_bytes.encode_size()
            + self.shard_bytes.encode_size()
            + self.shards.encode_size()
    }
}

impl Read for Segment {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let shards: RangeCfg<usize> = (1..=SHARDS_MAX as usize).into();
        Ok(Segment {
            commitment: ContentHash::read(buf)?,
            size_bytes: u64::read(buf)?,
            shard_bytes: u64::read(buf)?,
            shards: Read::read_cfg(buf, &(shards, ()))?,
        })
    }
}

impl Write for Deal {
    fn write(&self, buf: &mut impl BufMut) {
        self.owner.write(buf);
        self.public.write(buf);
        self.k.write(buf);
        self.price_cap_per_gib_epoch.write(buf);
        self.posted_height.write(buf);
        self.start_epoch.write(buf);
        self.end_epoch.write(buf);
        self.escrow.write(buf);
        self.paid.write(buf);
        self.segments.write(buf);
    }
}

impl EncodeSize for Deal {
    fn encode_size(&self) -> usize {
        self.owner.encode_size()
            + self.public.encode_size()
            + self.k.encode_size()
            + self.price_cap_per_gib_epoch.encode_size()
            + self.posted_height.encode_size()
            + self.start_epoch.encode_size()
            + self.end_epoch.encode_size()
            + self.escrow.encode_size()
            + self.paid.encode_size()
            + self.segments.encode_size()
    }
}

impl Read for Deal {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let segments: RangeCfg<usize> = (1..=DEAL_SEGMENTS_MAX).into();
        Ok(Deal {
            owner: Address::read(buf)?,
            public: bool::read(buf)?,
            k: u16::read(buf)?,
            price_cap_per_gib_epoch: u128::read(buf)?,
            posted_height: u64::read(buf)?,
            start_epoch: u64::read(buf)?,
            end_epoch: u64::read(buf)?,
            escrow: u128::read(buf)?,
            paid: u128::read(buf)?,
            segments: Read::read_cfg(buf, &(segments, ()))?,
        })
    }
}
