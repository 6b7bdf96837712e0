//! JSON shapes of the node API. Amounts are decimal strings of base units; hashes are hex.
//! Protocol states are enums (`states`) and a job's hashes and amounts typed values (`values`)
//! that serialize to those same strings; the storage market's shapes are `storage`'s (its chain
//! parameters `storage_params`'s; every governed parameter `chain_params`'s), and a provider's answer to a shard upload `shards`'s.

pub mod chain_params;
pub mod gov;
pub mod params;
pub mod shards;
pub mod states;
pub mod storage;
pub mod storage_params;
pub mod values;

pub use chain_params::{ParamDto, ParamsDto};
pub use gov::{ParamChangeDto, ProposalDto, TallyDto};
pub use shards::ShardStoredDto;
pub use states::{
    AuditClass, AuditKind, AuditStage, ChallengeOutcome, DisputeEnd, DisputePhase, JobStatus,
    ReceiptStatus, ShardState, Turn, TxState, UnknownState,
};
pub use storage::{
    ChallengeDto, HolderShardDto, SegmentDto, ShardDto, StorageFileDto, StorageFileSummaryDto,
    StorageOfferDto, StorageStatsDto,
};
pub use storage_params::StorageParamsDto;
pub use values::{BaseUnits, HexContentHash, HexDigest, ValueError};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every 4xx/5xx body.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `bad_signature`.
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponse {
    pub hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReceiptDto {
    pub tx_hash: String,
    /// `success`, `failed` (fee charged, no effect) or `rejected` (nothing charged).
    pub status: ReceiptStatus,
    pub reason: Option<String>,
    pub fee_burned: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TxStatusDto {
    pub hash: String,
    /// `pending` or `finalized` (unknown transactions are a 404).
    pub status: TxState,
    pub height: Option<u64>,
    pub index: Option<u32>,
    pub receipt: Option<ReceiptDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountDto {
    pub address: String,
    pub balance: String,
    /// The nonce of the next transaction the chain will execute from this account.
    pub nonce: u64,
    /// The nonce a new transaction must carry: `nonce` plus the account's pending transactions.
    pub next_nonce: u64,
    pub bonded: String,
    pub unbonding: String,
    /// Staking rewards accrued and not yet withdrawn, in base units ("0" from nodes that
    /// predate them); `plexus stake withdraw` claims them.
    #[serde(default)]
    pub rewards: String,
}

/// An account's staking rewards: what has accrued (claimable by a `rewards_withdraw`
/// transaction) and the stake that earns more at each epoch's payout.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RewardsDto {
    pub address: String,
    /// Accrued and not yet withdrawn, in base units: commissions and stake shares of the
    /// validators' emission since the last withdrawal.
    pub accrued: String,
    /// The account's own self-bond as a validator ("0" if it is none).
    pub self_bond: String,
    /// Its commission in effect, in basis points, if it is a validator.
    pub commission_bps: Option<u32>,
    /// Its delegations, by validator.
    pub delegations: Vec<DelegationDto>,
}

/// One delegation and the terms of its validator.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DelegationDto {
    pub validator: String,
    /// Delegated stake, in base units.
    pub amount: String,
    /// The validator's commission in effect, in basis points (0 if it is no longer registered).
    pub commission_bps: u32,
    /// A commission the validator set this epoch, in effect from the next epoch's payout.
    pub commission_pending_bps: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProofDto {
    pub address: String,
    pub balance: String,
    pub nonce: u64,
    pub bonded: String,
    pub unbonding: String,
    /// The finalized height whose state root the proof is against.
    pub height: u64,
    pub state_root: String,
    pub position: u32,
    /// Hex of the encoded Merkle proof.
    pub proof: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TxDto {
    pub hash: String,
    pub sender: String,
    pub nonce: u64,
    pub fee: String,
    /// `Payload::kind`: `transfer`, `bond`, `unbond`, `delegate`, `undelegate`, `evidence`,
    /// `participation`, `dealer_log`, `provider_register`, `provider_update`,
    /// `provider_heartbeat`, `provider_deregister`, `job_post`, `job_commit`, `job_cancel`,
    /// `verifier_register`, `verifier_deregister`, `audit_commit`, `audit_reveal`,
    /// `audit_decline`, `dispute_open`, `dispute_move`, `dispute_settle`, `storage_offer`,
    /// `deal_post`, `shard_accept`, `deal_extend`, `deal_end`, `storage_proof` or
    /// `fault_declare`.
    pub kind: String,
    /// Recipient (transfer), validator (delegate, undelegate), job id (the job, audit and
    /// dispute kinds) or deal id (shard_accept, deal_extend, deal_end, storage_proof,
    /// fault_declare).
    pub target: Option<String>,
    /// What it moves: a transfer's or bond's amount, a job's or deal's escrow.
    pub amount: String,
    pub receipt: Option<ReceiptDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockDto {
    pub height: u64,
    pub hash: String,
    pub parent: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub proposer: String,
    pub tx_root: String,
    pub state_root: String,
    /// The block's random seed: SHA-256 of its beacon signature (hex).
    pub seed: String,
    /// The committee's threshold BLS signature (BLS12-381 G1, hex) over `beacon_height`,
    /// verifiable with the status's `beacon_key`; absent in the first blocks.
    pub beacon_signature: Option<String>,
    /// The height the beacon signature signs (`height - 2`).
    pub beacon_height: Option<u64>,
    pub txs: Vec<TxDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockEventDto {
    pub height: u64,
    pub hash: String,
    pub timestamp: u64,
    pub state_root: String,
    pub txs: usize,
    /// The storage market's totals after this block (zeros from nodes that predate them).
    #[serde(default)]
    pub storage: StorageStatsDto,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidatorDto {
    pub address: String,
    pub self_bond: String,
    pub delegated: String,
    pub stake: String,
    pub in_committee: bool,
    /// Elected at this epoch's first block: in the committee from the next epoch if this
    /// epoch's beacon reshare succeeds.
    #[serde(default)]
    pub in_next_committee: bool,
    /// Slashed for equivocation and never elected again.
    #[serde(default)]
    pub jailed: bool,
    /// Total burned from this validator's stake by slashing, in base units.
    #[serde(default)]
    pub slashed: String,
    /// Signatures of this validator in the finalization certificates recorded so far in the
    /// current epoch.
    #[serde(default)]
    pub epoch_signatures: u64,
    /// The commission in effect: the basis points of its part of each epoch's validator
    /// emission it keeps before the rest is shared with its delegators pro rata to stake.
    #[serde(default)]
    pub commission_bps: u32,
    /// A commission set this epoch, in effect from the next epoch's payout.
    #[serde(default)]
    pub commission_pending_bps: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SupplyDto {
    pub total: String,
    pub minted: String,
    pub burned: String,
}

/// What one epoch's emission minted, per share (base units). Only what was paid is minted: a
/// share without recipients, and the rounding dust of the pro-rata split, are not.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EmissionDto {
    pub epoch: u64,
    /// To validators, by signatures in the epoch's recorded finalization certificates.
    pub validators: String,
    /// To providers, by the fuel of their jobs whose audit passed in the epoch.
    pub providers: String,
    /// To verifiers, by audits passed and disputes won in the epoch.
    pub verifiers: String,
    /// To storage holders, by the byte-epochs they proved in the epoch ("0" from nodes that
    /// predate it).
    #[serde(default)]
    pub storage: String,
}

/// Epochs `first_epoch` on of `length` blocks each, the first starting at `first_height`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EpochSegmentDto {
    pub first_epoch: u64,
    pub first_height: u64,
    pub length: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusDto {
    pub chain_id: u64,
    pub height: u64,
    pub block_hash: String,
    pub state_root: String,
    pub timestamp: u64,
    pub mempool_size: usize,
    pub validators: usize,
    pub committee: usize,
    /// The epoch of the next block (`height + 1`), its length in blocks, and its first and last
    /// heights.
    #[serde(default)]
    pub epoch: u64,
    #[serde(default)]
    pub epoch_length: u64,
    #[serde(default)]
    pub epoch_first_height: u64,
    #[serde(default)]
    pub epoch_last_height: u64,
    /// A change of epoch length a passed proposal scheduled and that has not begun: from which
    /// epoch and height, and the new length.
    #[serde(default)]
    pub epoch_change: Option<EpochSegmentDto>,
    /// Members of the committee elected for the next epoch.
    #[serde(default)]
    pub next_committee: usize,
    /// Dealer logs recorded so far in this epoch's beacon reshare.
    #[serde(default)]
    pub reshare_logs: usize,
    pub fee_min: String,
    pub supply: SupplyDto,
    /// What the last concluded epoch's emission minted (base units), if any epoch has ended.
    #[serde(default)]
    pub emission_last_epoch: Option<String>,
    /// What the recent epochs' emissions minted, per share, oldest first.
    #[serde(default)]
    pub emissions: Vec<EmissionDto>,
    /// The audit fee pool that pays verifiers (base units).
    #[serde(default)]
    pub audit_pool: String,
    /// Fuel per trace segment (the chain's `seg_fuel`): providers checkpoint, and verifiers and
    /// consumers re-run, with it. Zero from nodes that predate it.
    #[serde(default)]
    pub seg_fuel: u64,
    /// The block time audit deadlines assume (the chain's `audit_block_ms`): a verifier counts
    /// the time its seal deadline leaves in blocks of this length. Zero from older nodes.
    #[serde(default)]
    pub audit_block_ms: u64,
    pub faucet: bool,
    /// The latest block's random seed (hex).
    pub seed: String,
    /// The committee's beacon group key (BLS12-381 G2, hex): every beacon signature verifies
    /// against it under the namespace `_PLEXUS_BEACON` over the signed height as 8 big-endian bytes.
    pub beacon_key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FaucetRequest {
    #[schema(value_type = params::AddressParam)]
    pub address: String,
    /// Base units or `1.5plx`; defaults to 100 PLX.
    pub amount: Option<String>,
}

/// One transaction's outcome in a batch submission: a hash, or the error a single submission
/// would have returned.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItemDto {
    pub hash: Option<String>,
    pub error: Option<ErrorBody>,
}

/// A stored blob: its BLAKE3 hash (hex) and size in bytes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BlobDto {
    pub hash: String,
    pub size: u64,
}

/// A provider's declared machine.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ResourceProfileDto {
    pub cores: u32,
    pub memory_mb: u64,
    pub gpus: u32,
    pub gpu_model: String,
    pub storage_gb: u64,
}

/// A registered compute provider at the last finalized height.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProviderDto {
    pub address: String,
    /// The agent's URL (serves outputs and checkpoint pages).
    pub endpoint: String,
    pub profile: ResourceProfileDto,
    /// The benchmark the agent measured and registered.
    pub fuel_per_second: u64,
    /// Price per million fuel, in base units.
    pub ask_per_mfuel: String,
    pub bond: String,
    /// The part of the bond locked by jobs in flight.
    pub bond_locked: String,
    /// Total burned from the bond by missed deadlines.
    pub slashed: String,
    /// 0..=10000.
    pub reputation: u32,
    pub jobs_done: u64,
    /// Deadlines missed.
    pub jobs_missed: u64,
    /// Audits its jobs passed.
    #[serde(default)]
    pub audits_passed: u64,
    /// Disputes over its commitments it lost.
    #[serde(default)]
    pub disputes_lost: u64,
    /// Jobs assigned and not yet settled or expired.
    pub jobs_in_flight: u32,
    /// Concurrent jobs it takes.
    pub capacity: u32,
    /// Heartbeating recently and not deregistering: eligible for matching.
    pub active: bool,
    pub registered_height: u64,
    pub last_heartbeat_height: u64,
    /// Set while deregistering: the height its bond returns to its balance.
    pub unbonding_release: Option<u64>,
}

/// A job at the last finalized height. Hashes are hex; the module, blob, input and output
/// hashes and the trace root are BLAKE3 content hashes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct JobDto {
    /// The hash of the transaction that posted it.
    pub id: HexDigest,
    pub consumer: String,
    /// `posted`, `assigned`, `committed`, `settled`, `expired` or `cancelled`.
    pub status: JobStatus,
    pub module: HexContentHash,
    pub blobs: Vec<HexContentHash>,
    pub input: HexContentHash,
    pub max_fuel: u64,
    pub price_cap_per_mfuel: BaseUnits,
    /// `standard` or `full`.
    pub audit: AuditClass,
    pub escrow: BaseUnits,
    pub posted_height: u64,
    /// The last height a commitment is accepted at.
    pub deadline_height: u64,
    /// The matched provider, its ask (the job's price), its bond lock and the match height.
    pub provider: Option<String>,
    pub ask_per_mfuel: Option<BaseUnits>,
    pub bond_locked: Option<BaseUnits>,
    pub assigned_height: Option<u64>,
    /// The commitment, once made.
    pub output_hash: Option<HexContentHash>,
    pub total_fuel: Option<u64>,
    pub segments: Option<u32>,
    pub trace_root: Option<HexContentHash>,
    pub failed: Option<bool>,
    pub committed_height: Option<u64>,
    /// When a committed job settles.
    pub settle_height: Option<u64>,
    /// Taken from the escrow for the work (settled jobs): fuel x ask, rounded down. The
    /// provider's balance got `paid - burned - audit_fee`.
    pub paid: Option<BaseUnits>,
    /// Of `paid`, burned (the governed `payment_burn_bps` share; settled jobs).
    #[serde(default)]
    pub burned: Option<BaseUnits>,
    /// Of `paid`, into the audit fee pool that pays verifiers (settled jobs).
    #[serde(default)]
    pub audit_fee: Option<BaseUnits>,
    /// Returned to the consumer (settled, expired or cancelled jobs).
    pub refunded: Option<BaseUnits>,
    /// Taken from the provider's bond (expired assigned jobs, refuted jobs).
    pub slashed: Option<BaseUnits>,
    /// The height the job settled, expired, was cancelled or refuted at.
    pub finished_height: Option<u64>,
    /// The job's audit, once drawn.
    #[serde(default)]
    pub audit_record: Option<AuditDto>,
    /// The dispute over its commitment, once opened.
    #[serde(default)]
    pub dispute: Option<DisputeDto>,
}

/// A job's audit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditDto {
    /// `full` or `light`.
    pub kind: AuditKind,
    /// The segments a light audit re-runs (empty for a full audit).
    pub segments: Vec<u64>,
    pub verifier: String,
    pub drawn_height: u64,
    /// When the verifier's current step (seal, then reveal) is due.
    pub due_height: u64,
    /// `drawn`, `sealed`, `passed`, `disputed`, `missed`, `declined` or `withdrawn` (a canary
    /// whose job was pruned first).
    pub stage: AuditStage,
    /// Paid to the verifier from the audit pool (when the audit passed or the verifier won the
    /// dispute it opened).
    #[serde(default)]
    pub paid: BaseUnits,
    /// Shown once a canary (the protocol's audit of a known-wrong commitment) is closed:
    /// `true` if the verifier flagged it, `false` if it agreed and was slashed. Open canaries
    /// look like any full audit.
    #[serde(default)]
    pub canary_flagged: Option<bool>,
    /// The verifiers that declined it before its seal was due, in order (none is drawn for it
    /// again).
    #[serde(default)]
    pub declined: Vec<String>,
}

/// A leaf of a trace, as a dispute shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LeafDto {
    pub index: u64,
    pub fuel: u64,
    pub state_root: String,
}

/// A dispute over a job's commitment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DisputeDto {
    pub challenger: String,
    /// The challenger is the job's verifier (else its consumer).
    pub by_verifier: bool,
    pub deposit: BaseUnits,
    pub opened_height: u64,
    /// When the next move (or the settlement) is due; the side that owes it loses after.
    pub due_height: u64,
    /// `awaiting_reveal`, `awaiting_choice`, `awaiting_proof`, `resolved` or `ruled`.
    pub phase: DisputePhase,
    /// `defender` (the provider), `challenger`, `settle` (anyone) or none once ruled.
    pub to_move: Option<Turn>,
    pub round: u32,
    /// The disputed interval of leaves.
    pub lo: u64,
    pub hi: u64,
    /// The game's canonical encoding (`plexus_fueltrace::dissection::Dissection`), hex: what the
    /// agents decode to compute their moves.
    pub game: String,
    /// The two proven adjacent leaves of a resolved game.
    pub resolved: Option<(LeafDto, LeafDto)>,
    pub ruling: Option<RulingDto>,
}

/// How a dispute ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RulingDto {
    pub provider_lost: bool,
    /// `replay` or `timeout`.
    pub end: DisputeEnd,
    pub slashed: BaseUnits,
    pub to_winner: BaseUnits,
    pub height: u64,
}

/// A registered verifier.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VerifierDto {
    pub address: String,
    pub bond: String,
    /// The re-execution speed it declared: its audits' seal deadlines follow it.
    #[serde(default)]
    pub fuel_per_second: u64,
    /// Audits it re-runs at once: it is drawn only while fewer are open.
    #[serde(default)]
    pub capacity: u32,
    /// Held as deposits of disputes it opened.
    pub locked: String,
    pub open: u32,
    pub registered_height: u64,
    pub audits_done: u64,
    pub audits_missed: u64,
    /// Audits it declined before their seal was due (no slash).
    #[serde(default)]
    pub audits_declined: u64,
    pub disputes_won: u64,
    pub disputes_lost: u64,
    /// Canaries it flagged, and canaries it passed (slashed for each).
    #[serde(default)]
    pub canaries_flagged: u64,
    #[serde(default)]
    pub canaries_passed: u64,
    pub slashed: String,
    /// Paid from the audit pool for passed audits and won disputes (not counting emission).
    #[serde(default)]
    pub earned: String,
    pub unbonding_release: Option<u64>,
}
