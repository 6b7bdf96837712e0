//! The storage market's JSON shapes: a stored file (a deal) with its segments and their shards,
//! and a provider's storage offer. Prices are per GiB-epoch (2^30 bytes held for one chain
//! epoch), in base units; sizes are bytes.

use super::{BaseUnits, ChallengeOutcome, HexContentHash, HexDigest, ShardState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stored file (one storage deal) at the last finalized height, without its segments: what
/// `GET /v1/storage/files` lists. A file is listed from its post until its deal ends (its last
/// paid epoch, or its owner's `deal_end`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StorageFileSummaryDto {
    /// The deal's id: the hash of the `deal_post` transaction.
    pub id: HexDigest,
    #[schema(value_type = super::params::AddressParam)]
    pub owner: String,
    /// Plaintext anyone may read (else encrypted on the client, read by grant).
    pub public: bool,
    /// Data shards per segment: any `k` of the `n` rebuild it.
    pub k: u16,
    /// Shards per segment.
    pub n: u16,
    /// The file's length: the sum of its segments'.
    pub size_bytes: u64,
    pub segment_count: u32,
    /// Its shards in all (`segment_count * n`), and those accepted by their holders.
    pub shard_count: u32,
    pub shards_active: u32,
    /// The most the owner pays a holder per GiB-epoch.
    pub price_cap_per_gib_epoch: BaseUnits,
    /// What the escrow still holds.
    pub escrow: BaseUnits,
    /// What the holders have been paid from the escrow so far.
    pub paid: BaseUnits,
    /// The first epoch paid (the one after the post's).
    pub start_epoch: u64,
    /// The epoch after the last one paid: the deal ends at the end of `end_epoch - 1`.
    pub end_epoch: u64,
    pub posted_height: u64,
}

/// A stored file with every segment and shard: what `GET /v1/storage/files/{id}` answers (a
/// list carries only the summary: a hundred files of 64 segments of 40 shards would be 256 000
/// shards).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StorageFileDto {
    #[serde(flatten)]
    pub file: StorageFileSummaryDto,
    pub segments: Vec<SegmentDto>,
}

/// One segment of a stored file and its `n` shards.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SegmentDto {
    /// Its place in the file, from 0.
    pub index: u32,
    /// The BMT root over its shards' BLAKE3 digests, in shard order.
    pub commitment: HexContentHash,
    pub size_bytes: u64,
    /// The length of each of its shards: what a holder stores and is paid for.
    pub shard_bytes: u64,
    pub shards: Vec<ShardDto>,
}

/// One shard of a segment and its holder. Fields that only some states have are absent in the
/// others (and default when read), so later fields (the last proof's height) add without
/// breaking readers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ShardDto {
    /// Its slot in the segment, from 0 (slots below `k` hold the data itself).
    pub index: u16,
    #[schema(value_type = super::params::AddressParam)]
    pub holder: String,
    /// `drawn`, `active`, `faulty`, `repairing` or `lost`.
    pub state: ShardState,
    /// The holder's price when it was drawn: what it is paid per GiB-epoch.
    pub price_per_gib_epoch: BaseUnits,
    /// The part of the holder's bond this shard locks (missed challenges burn part of it, a
    /// wrong proof all of it; zero when lost).
    pub collateral: BaseUnits,
    /// When it was drawn to its holder (drawn and repairing shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn_height: Option<u64>,
    /// The last height its holder may accept it at (drawn and repairing shards), or when a
    /// repairer is drawn again (lost shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_due_height: Option<u64>,
    /// When its holder accepted it (active and faulty shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since_height: Option<u64>,
    /// The height of its holder's last valid proof (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_proof_height: Option<u64>,
    /// Challenges missed in a row (`misses_before_lost` of them declare it lost).
    #[serde(default)]
    pub misses: u32,
    /// Its latest challenge (this epoch's, or an earlier one), if it was ever challenged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeDto>,
    /// The first epoch its declared fault excuses (faulty shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_epoch: Option<u64>,
    /// What its repairer is paid out of the escrow on its accept (repairing and lost shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_fee: Option<BaseUnits>,
}

/// A shard's challenge of one epoch: the holder answers an open one with a `storage_proof` of
/// chunk `chunk_index` (1 KiB chunks from 0) in blocks `opened_height + 1 ..= due_height`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ChallengeDto {
    pub epoch: u64,
    pub chunk_index: u64,
    pub opened_height: u64,
    /// The last height a proof may be included at.
    pub due_height: u64,
    pub outcome: ChallengeOutcome,
    /// When it was proven (proven challenges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_height: Option<u64>,
}

/// A shard drawn to or held by a provider, with what its agent needs to store, prove or
/// rebuild it: what `GET /v1/storage/holders/{address}/shards` lists (`index` is the shard's
/// slot in its segment).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct HolderShardDto {
    /// The deal's id.
    pub deal: HexDigest,
    /// The segment's place in the file, from 0.
    pub segment: u32,
    /// Data shards per segment (a repairer fetches any `k` shards to rebuild this one).
    pub k: u16,
    /// Shards per segment.
    pub n: u16,
    /// The segment's commitment: the BMT root over its shards' BLAKE3 digests.
    pub commitment: HexContentHash,
    /// The segment's length.
    pub size_bytes: u64,
    /// The shard's length.
    pub shard_bytes: u64,
    #[serde(flatten)]
    pub shard: ShardDto,
}

/// A provider's storage offer at the last finalized height, with what its draws weigh.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StorageOfferDto {
    #[schema(value_type = super::params::AddressParam)]
    pub provider: String,
    /// The bytes it offers to hold in all.
    pub capacity_bytes: u64,
    /// The bytes of the shards drawn to it (held or waiting for its accept).
    pub used_bytes: u64,
    /// The bytes it can still be drawn for.
    pub free_bytes: u64,
    /// What a shard drawn to it is paid per GiB-epoch.
    pub price_per_gib_epoch: BaseUnits,
    /// Its provider bond: its weight in the draws is `bond * (reputation + 1)`.
    pub bond: BaseUnits,
    /// The part of the bond not locked by jobs or shards: a shard is drawn to it only if this
    /// covers the shard's collateral.
    pub bond_free: BaseUnits,
    /// 0..=10000, as `/v1/providers` shows it.
    pub reputation: u32,
    /// Heard from recently and not deregistering: it may be drawn.
    pub active: bool,
}

/// The storage market's totals since genesis at a finalized block (`State::storage_stats`), as
/// each block event carries them: a subscriber diffs two events for what one block did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(default)]
pub struct StorageStatsDto {
    pub deals_posted: u64,
    pub challenges_opened: u64,
    pub proofs_passed: u64,
    /// Challenges whose window closed unproven (not the excused ones).
    pub proofs_missed: u64,
    /// Proofs that did not reach the commitment (each slashed a shard's collateral).
    pub proofs_wrong: u64,
    pub shards_lost: u64,
    /// Repairs accepted by their repairer.
    pub repairs_done: u64,
}
