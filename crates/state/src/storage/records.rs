//! The storage market's records, as the state holds them, with their canonical encoding (the
//! snapshot and the state root carry them). Invariants, checked by `State::recount`:
//! - a deal's `escrow` is held value (part of the supply) until the deal ends;
//! - every shard of every open deal but a lost one ([`ShardState::Lost`], which waits for a
//!   repairer and reserves nothing) reserves `shard_bytes` of its holder's offer
//!   (`StorageOffer::used_bytes` is their sum) and locks `collateral` of its provider bond (part
//!   of `Provider::bond_locked`; a lost shard's collateral is zero);
//! - the holders of one segment's shards are distinct providers (a lost shard keeps its lost
//!   holder's address, so its repairer is drawn among the others);
//! - `StorageIndex` is what [`StorageIndex::derive`] computes from the deals: `accept_dues`
//!   lists exactly the shards drawn, being repaired or lost, by their accept due (or retry)
//!   height; `proof_dues` exactly the open challenges, by due height; `unchallenged` exactly the
//!   active shards not challenged yet in the next block's epoch; `shards` the shards of every
//!   open deal.

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
    /// Accepted at `since_height`: the holder stores it, is challenged once an epoch and paid
    /// for each epoch whose challenge it proved.
    Active { since_height: u64 },
    /// The shard was declared lost and `holder` drawn at `drawn_height` to rebuild it: it
    /// accepts (`ShardAccept`) by `accept_due`, else the slot is drawn again. On its accept it
    /// is paid `fee` out of the deal's escrow (one epoch of the lost holder's pay, which the
    /// escrow kept when the lost holder was not paid).
    Repairing {
        drawn_height: u64,
        accept_due: u64,
        fee: Amount,
    },
    /// Declared lost at `since_height` with no provider to rebuild it: `holder` is the lost
    /// holder (kept so that it is not drawn again), nothing is reserved or locked, and a
    /// repairer is drawn at `retry_height`. `fee` as for [`ShardState::Repairing`].
    Lost {
        since_height: u64,
        retry_height: u64,
        fee: Amount,
    },
}

impl ShardState {
    /// The height the shard's accept is due at (or its repairer's draw retried at), while it
    /// waits for one.
    pub fn accept_due(&self) -> Option<u64> {
        match *self {
            ShardState::Drawn { accept_due, .. } | ShardState::Repairing { accept_due, .. } => {
                Some(accept_due)
            }
            ShardState::Lost { retry_height, .. } => Some(retry_height),
            ShardState::Active { .. } => None,
        }
    }
}

/// How a challenge ended (or that it has not yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// Waiting for the holder's proof until `Challenge::due_height`.
    Open,
    /// Proven at this height: the epoch is paid.
    Proven { height: u64 },
    /// No valid proof in the window: not paid, and `miss_burn_multiple` times the pay burned.
    Missed,
    /// No proof, but a declared fault excused it: not paid, nothing burned.
    Excused,
}

/// A shard's challenge of one epoch: the chunk asked for (`plexus_storage::draws::challenge_chunk`
/// with the opening block's seed) and its window, `opened_height + 1 ..= due_height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub epoch: u64,
    pub chunk: u64,
    pub opened_height: u64,
    pub due_height: u64,
    pub outcome: ChallengeOutcome,
}

/// One shard of a segment: who holds it, at what price, with what collateral, and how its
/// challenges went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub holder: Address,
    /// The holder's offer price when it was drawn: what it is paid per GiB-epoch.
    pub price_per_gib_epoch: Amount,
    /// The part of the holder's bond this shard locks; burned misses and a slash shrink it.
    pub collateral: Amount,
    pub state: ShardState,
    /// The latest challenge (of the current epoch, or an earlier one); none before the first.
    pub challenge: Option<Challenge>,
    /// The height of the holder's last valid proof (0: none yet).
    pub last_proof_height: u64,
    /// Challenges missed in a row (an excused one does not count, a proof resets it).
    pub misses: u32,
    /// The first epoch a declared fault excuses (`Payload::FaultDeclare`); it excuses the
    /// challenges of the `fault_excuse_epochs_max` epochs from it and lasts until a proof.
    pub fault_epoch: Option<u64>,
}

impl Shard {
    /// A shard newly drawn to `holder`, with no challenge history.
    pub fn new(
        holder: Address,
        price_per_gib_epoch: Amount,
        collateral: Amount,
        state: ShardState,
    ) -> Shard {
        Shard {
            holder,
            price_per_gib_epoch,
            collateral,
            state,
            challenge: None,
            last_proof_height: 0,
            misses: 0,
            fault_epoch: None,
        }
    }

    /// Whether the shard reserves bytes of its holder's offer and collateral of its bond (every
    /// state but lost).
    pub fn reserves(&self) -> bool {
        !matches!(self.state, ShardState::Lost { .. })
    }

    /// The open challenge, if one waits for a proof.
    pub fn open_challenge(&self) -> Option<&Challenge> {
        self.challenge
            .as_ref()
            .filter(|challenge| challenge.outcome == ChallengeOutcome::Open)
    }
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

/// The storage market's work lists. Derived from the deals (rebuilt when a snapshot is
/// decoded), so not committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageIndex {
    /// (accept due or retry height, shard) for every shard drawn, being repaired or lost.
    pub accept_dues: BTreeSet<(u64, ShardKey)>,
    /// (due height, shard) for every open challenge.
    pub proof_dues: BTreeSet<(u64, ShardKey)>,
    /// The active shards whose challenge of the current epoch has not opened yet, in the order
    /// they are opened.
    pub unchallenged: BTreeSet<ShardKey>,
    /// The shards of every open deal: what the challenge schedule must fit.
    pub shards: u64,
}

impl StorageIndex {
    /// Rebuilds the index from the deals, the current epoch being `epoch` (the next block's).
    pub fn derive<'a>(
        deals: impl IntoIterator<Item = (&'a Digest, &'a Deal)>,
        epoch: u64,
    ) -> StorageIndex {
        let mut index = StorageIndex::default();
        for (id, deal) in deals {
            for (segment_index, segment) in deal.segments.iter().enumerate() {
                for (slot, shard) in segment.shards.iter().enumerate() {
                    let key = (*id, segment_index as u32, slot as u16);
                    index.shards += 1;
                    if let Some(due) = shard.state.accept_due() {
                        index.accept_dues.insert((due, key));
                    }
                    if let Some(challenge) = shard.open_challenge() {
                        index.proof_dues.insert((challenge.due_height, key));
                    }
                    let challenged = shard.challenge.is_some_and(|c| c.epoch >= epoch);
                    if matches!(shard.state, ShardState::Active { .. }) && !challenged {
                        index.unchallenged.insert(key);
                    }
                }
            }
        }
        index
    }
}

/// Counts of what the storage challenges did since genesis, chain-wide (committed with the
/// chain-wide values; the node's Prometheus counters follow them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Deals posted.
    pub deals_posted: u64,
    /// Challenges opened.
    pub challenges_opened: u64,
    /// Challenges proven.
    pub proofs_passed: u64,
    /// Challenges missed (not the excused ones).
    pub proofs_missed: u64,
    /// Proofs that did not reach the commitment (each slashed a shard's collateral).
    pub proofs_wrong: u64,
    /// Shards declared lost.
    pub shards_lost: u64,
    /// Repairs accepted by their repairer.
    pub repairs_done: u64,
}

fixed_record!(StorageStats {
    deals_posted: u64,
    challenges_opened: u64,
    proofs_passed: u64,
    proofs_missed: u64,
    proofs_wrong: u64,
    shards_lost: u64,
    repairs_done: u64,
});
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
    challenge: Option<Challenge>,
    last_proof_height: u64,
    misses: u32,
    fault_epoch: Option<u64>,
});
fixed_record!(Challenge {
    epoch: u64,
    chunk: u64,
    opened_height: u64,
    due_height: u64,
    outcome: ChallengeOutcome,
});

impl Write for ChallengeOutcome {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            ChallengeOutcome::Open => 0u8.write(buf),
            ChallengeOutcome::Proven { height } => {
                1u8.write(buf);
                height.write(buf);
            }
            ChallengeOutcome::Missed => 2u8.write(buf),
            ChallengeOutcome::Excused => 3u8.write(buf),
        }
    }
}

impl EncodeSize for ChallengeOutcome {
    fn encode_size(&self) -> usize {
        1 + match self {
            ChallengeOutcome::Proven { .. } => 8,
            _ => 0,
        }
    }
}

impl Read for ChallengeOutcome {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(ChallengeOutcome::Open),
            1 => Ok(ChallengeOutcome::Proven {
                height: u64::read(buf)?,
            }),
            2 => Ok(ChallengeOutcome::Missed),
            3 => Ok(ChallengeOutcome::Excused),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

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
            ShardState::Repairing {
                drawn_height,
                accept_due,
                fee,
            } => {
                2u8.write(buf);
                drawn_height.write(buf);
                accept_due.write(buf);
                fee.write(buf);
            }
            ShardState::Lost {
                since_height,
                retry_height,
                fee,
            } => {
                3u8.write(buf);
                since_height.write(buf);
                retry_height.write(buf);
                fee.write(buf);
            }
        }
    }
}

impl EncodeSize for ShardState {
    fn encode_size(&self) -> usize {
        1 + match self {
            ShardState::Drawn { .. } => 16,
            ShardState::Active { .. } => 8,
            ShardState::Repairing { .. } | ShardState::Lost { .. } => 32,
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
            2 => Ok(ShardState::Repairing {
                drawn_height: u64::read(buf)?,
                accept_due: u64::read(buf)?,
                fee: u128::read(buf)?,
            }),
            3 => Ok(ShardState::Lost {
                since_height: u64::read(buf)?,
                retry_height: u64::read(buf)?,
                fee: u128::read(buf)?,
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
