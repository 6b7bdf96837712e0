//! Transactions: chain id, sender, nonce, fee and payload, signed with ed25519 over the canonical
//! encoding under the `TX_NAMESPACE` domain.
//!
//! Payload tags are spaced so that later kinds slot in without renumbering: 0-15 bank and staking,
//! 16-31 compute market, 32-47 audits, 48-63 storage deals, 64-79 governance. A tag is never reused.

use crate::deal::{DEAL_SEGMENTS_MAX, DealSegment};
use crate::job::{AuditClass, ENDPOINT_SIZE_MAX, ResourceProfile};
use crate::limits::JOB_BLOBS_MAX;
use crate::storage::ChunkProof;
use crate::{Address, Amount, ContentHash, Digest, hash};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{Encode, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write};
use commonware_cryptography::{Signer as _, Verifier as _};

/// ed25519 signing key of an account.
pub type PrivateKey = commonware_cryptography::ed25519::PrivateKey;
/// ed25519 public key of an account (its address, in bech32m form).
pub type PublicKey = commonware_cryptography::ed25519::PublicKey;
/// ed25519 signature.
pub type Signature = commonware_cryptography::ed25519::Signature;

/// Identifies one chain: a transaction signed for one chain id is invalid on every other.
pub type ChainId = u64;

/// Domain separation for transaction signatures.
pub const TX_NAMESPACE: &[u8] = b"_PLEXUS_TX";

/// The namespace every consensus vote and p2p handshake is signed under.
pub const CONSENSUS_NAMESPACE: &[u8] = b"_PLEXUS";

/// The largest encoded signed transaction any node accepts, in bytes.
pub const TX_SIZE_MAX: usize = 4096;

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Move `amount` from the sender to `to`.
    Transfer { to: Address, amount: Amount },
    /// Bond `amount` of the sender's balance as validator self-stake; the first bond registers
    /// the sender as a validator.
    Bond { amount: Amount },
    /// Start unbonding `amount` of the sender's self-stake.
    Unbond { amount: Amount },
    /// Delegate `amount` of the sender's balance to `validator`.
    Delegate { validator: Address, amount: Amount },
    /// Start unbonding `amount` of the sender's delegation to `validator`.
    Undelegate { validator: Address, amount: Amount },
    /// Proof that a committee member signed two conflicting consensus votes (the encoding of
    /// `plexus_state::evidence::Evidence`, at most `EVIDENCE_SIZE_MAX` bytes): the offender is
    /// slashed and jailed. Anyone may submit it.
    Evidence { evidence: Vec<u8> },
    /// The finalization certificate of the block at `height` (a simplex `Finalization`): the
    /// chain records, per epoch, which committee members signed it. Submitted by the block's
    /// proposer; each height is recorded once, within `PARTICIPATION_WINDOW` blocks.
    Participation { height: u64, finalization: Vec<u8> },
    /// A committee member's signed log of its part in this epoch's beacon reshare (a
    /// `feldman_desmedt::SignedDealerLog`: its public dealing and each next-committee member's
    /// acknowledgement or revealed share). At the epoch's last block the chain combines the
    /// logs into the next committee's beacon key. Submitted by the dealer itself.
    DealerLog { epoch: u64, log: Vec<u8> },
    /// The sender validator's commission: the share of its part of each epoch's validator
    /// emission it keeps before the rest is shared with its delegators pro rata to stake, in
    /// basis points (at most `commission_max_bps`). Takes effect from the next epoch's payout;
    /// refused within `commission_change_epochs_min` epochs of the last change.
    CommissionSet { bps: u32 },
    /// Move all of the sender's accrued staking rewards to its balance.
    RewardsWithdraw,
    /// Register the sender as a compute provider: `bond` moves from its balance into the
    /// provider record (at least `provider_bond_min`). `endpoint` is the agent's `http(s)://`
    /// URL (at most `ENDPOINT_SIZE_MAX` bytes), `fuel_per_second` its measured benchmark and
    /// `ask_per_mfuel` its price per million fuel.
    ProviderRegister {
        endpoint: String,
        profile: ResourceProfile,
        fuel_per_second: u64,
        ask_per_mfuel: Amount,
        bond: Amount,
    },
    /// Replace a provider's advertised details and add `bond_add` (zero allowed) to its bond.
    ProviderUpdate {
        endpoint: String,
        profile: ResourceProfile,
        fuel_per_second: u64,
        ask_per_mfuel: Amount,
        bond_add: Amount,
    },
    /// The provider is alive: records the height (and so reactivates an inactive provider).
    ProviderHeartbeat,
    /// Stop being matched; the bond returns to the balance after `provider_unbonding_blocks`.
    /// Refused while jobs are in flight.
    ProviderDeregister,
    /// Post a job (its id is this transaction's hash). `module`, `blobs` (at most
    /// `JOB_BLOBS_MAX`) and `input` are BLAKE3 content hashes; escrow =
    /// `ceil(max_fuel * price_cap_per_mfuel / 10^6)` leaves the sender's balance. Matched to a
    /// provider in the same block, or left posted until `deadline_blocks` pass.
    JobPost {
        module: ContentHash,
        blobs: Vec<ContentHash>,
        input: ContentHash,
        max_fuel: u64,
        price_cap_per_mfuel: Amount,
        audit: AuditClass,
        deadline_blocks: u64,
    },
    /// The assigned provider's commitment to a job's output and bill (hashes are BLAKE3);
    /// settles after `settlement_window_blocks`.
    JobCommit {
        job: Digest,
        output_hash: ContentHash,
        total_fuel: u64,
        segments: u32,
        trace_root: ContentHash,
        failed: bool,
    },
    /// Cancel a job that no provider was matched to: the whole escrow returns to the consumer.
    JobCancel { job: Digest },
    /// Register the sender as a verifier, or update a registered one: `bond` moves from its
    /// balance into the verifier record (the total must reach `verifier_bond_min`; zero is
    /// allowed for an update). `fuel_per_second` is the verifier's measured re-execution speed
    /// (its audits' seal deadlines follow it) and `capacity` the audits it re-runs at once (it
    /// is drawn only while fewer are open); both replace the record's.
    VerifierRegister {
        bond: Amount,
        fuel_per_second: u64,
        capacity: u32,
    },
    /// Stop being drawn for audits; the bond returns after `provider_unbonding_blocks`.
    /// Refused while an audit or dispute of the verifier is open.
    VerifierDeregister,
    /// The drawn verifier's sealed verdict on an audit: `seal = audit_seal(job, verifier,
    /// verdict, salt)`, due within `response_blocks` of the draw.
    AuditCommit { job: Digest, seal: Digest },
    /// Opens the seal: the verdict and the salt. A verdict that disagrees with the provider opens
    /// a dispute with the verifier as challenger.
    AuditReveal {
        job: Digest,
        verdict: crate::audit::Verdict,
        salt: Digest,
    },
    /// The job's consumer disputes a committed, unsettled job: `claim` is its own result (from
    /// re-running the job). Opens a dissection over the provider's whole trace.
    DisputeOpen {
        job: Digest,
        claim: crate::job::Commitment,
    },
    /// The next move of the dispute over `job`, by whichever side is to move.
    DisputeMove {
        job: Digest,
        step: crate::dissection::Move,
    },
    /// Ends a resolved dispute: the validators re-run the disputed segment from the agreed
    /// pre-state. `manifest` names the pre-state's checkpoint manifest in the node's content
    /// store (`crate::audit::Manifest`; ignored when the pre-state is leaf 0, which anyone
    /// recomputes). Only the two sides may send it.
    DisputeSettle { job: Digest, manifest: ContentHash },
    /// The drawn verifier declines its audit of `job` before the seal is due (it cannot re-run
    /// it in time): no slash; the audit is drawn again for another verifier, or, if nobody else
    /// can take it, the job settles unaudited.
    AuditDecline { job: Digest },
    /// A registered provider sells disk: `capacity_bytes` it offers to hold in all (zero stops
    /// new shards; never below what it holds) at `price_per_gib_epoch`. Replaces its offer.
    StorageOffer {
        capacity_bytes: u64,
        price_per_gib_epoch: Amount,
    },
    /// Store one file (the deal's id is this transaction's hash): its segments (at most
    /// `DEAL_SEGMENTS_MAX`), coded `k` of `n` (the chain's parameters), for `epochs` epochs at
    /// most `price_cap_per_gib_epoch`; escrow = `ceil(cap * n * shard bytes * epochs / 2^30)`
    /// leaves the sender's balance. The including block draws `n` distinct holders per segment;
    /// a deal nobody can hold is rejected, nothing charged. `public`: plaintext anyone may read.
    DealPost {
        segments: Vec<DealSegment>,
        k: u16,
        n: u16,
        price_cap_per_gib_epoch: Amount,
        epochs: u64,
        public: bool,
    },
    /// The drawn holder of shard `shard` of segment `segment` of `deal` has it, checked against
    /// the commitment, and holds it from now on.
    ShardAccept {
        deal: Digest,
        segment: u32,
        shard: u16,
    },
    /// The deal's owner lengthens it by `epochs`, escrowing their price.
    DealExtend { deal: Digest, epochs: u64 },
    /// The deal's owner ends it now: the escrow of the epochs not yet paid returns.
    DealEnd { deal: Digest },
    /// The holder's answer to the open challenge of shard `shard` of segment `segment` of `deal`
    /// in `epoch`: the challenged chunk with its paths to the segment's commitment (the chunk's
    /// index is the challenge's, on chain). Verified in block execution; a proof that decodes and
    /// is shaped for the shard but does not reach the commitment slashes the shard's collateral.
    StorageProof {
        deal: Digest,
        segment: u32,
        shard: u16,
        epoch: u64,
        proof: ChunkProof,
    },
    /// The holder declares shard `shard` of segment `segment` of `deal` faulty before its next
    /// challenge opens: pay stops and missed challenges are excused (no burn) for at most
    /// `fault_excuse_epochs_max` epochs; proving a later challenge ends the fault.
    FaultDeclare {
        deal: Digest,
        segment: u32,
        shard: u16,
    },
    /// Propose parameter changes (`section.name` = value, at most `GOV_CHANGES_MAX`, each key at
    /// most `GOV_KEY_SIZE_MAX` bytes), with a title (at most `GOV_TITLE_SIZE_MAX` bytes) and a
    /// description (at most `GOV_DESCRIPTION_SIZE_MAX`). `deposit` (at least `gov_deposit_min`)
    /// leaves the sender's balance until the vote ends. Refused unless the changes pass the
    /// governance registry's bounds and rules against the current parameters.
    GovPropose {
        changes: Vec<crate::gov::ParamChange>,
        title: String,
        description: String,
        deposit: Amount,
    },
    /// The sender's vote on an open proposal (replaces its earlier vote). Only an address with
    /// bonded stake (a self-bond or a delegation) may vote.
    GovVote {
        proposal: u64,
        option: crate::gov::VoteOption,
    },
}

/// The largest evidence a transaction may carry (two signed votes need about 300 bytes).
pub const EVIDENCE_SIZE_MAX: usize = 1_024;

impl Payload {
    const TAG_TRANSFER: u8 = 0;
    const TAG_BOND: u8 = 1;
    const TAG_UNBOND: u8 = 2;
    const TAG_DELEGATE: u8 = 3;
    const TAG_UNDELEGATE: u8 = 4;
    const TAG_EVIDENCE: u8 = 5;
    const TAG_PARTICIPATION: u8 = 6;
    const TAG_DEALER_LOG: u8 = 7;
    const TAG_COMMISSION_SET: u8 = 8;
    const TAG_REWARDS_WITHDRAW: u8 = 9;
    const TAG_PROVIDER_REGISTER: u8 = 16;
    const TAG_PROVIDER_UPDATE: u8 = 17;
    const TAG_PROVIDER_HEARTBEAT: u8 = 18;
    const TAG_PROVIDER_DEREGISTER: u8 = 19;
    const TAG_JOB_POST: u8 = 20;
    const TAG_JOB_COMMIT: u8 = 21;
    const TAG_JOB_CANCEL: u8 = 22;
    const TAG_VERIFIER_REGISTER: u8 = 32;
    const TAG_VERIFIER_DEREGISTER: u8 = 33;
    const TAG_AUDIT_COMMIT: u8 = 34;
    const TAG_AUDIT_REVEAL: u8 = 35;
    const TAG_DISPUTE_OPEN: u8 = 36;
    const TAG_DISPUTE_MOVE: u8 = 37;
    const TAG_DISPUTE_SETTLE: u8 = 38;
    const TAG_AUDIT_DECLINE: u8 = 39;
    const TAG_STORAGE_OFFER: u8 = 48;
    const TAG_DEAL_POST: u8 = 49;
    const TAG_SHARD_ACCEPT: u8 = 50;
    const TAG_DEAL_EXTEND: u8 = 51;
    const TAG_DEAL_END: u8 = 52;
    const TAG_STORAGE_PROOF: u8 = 53;
    const TAG_FAULT_DECLARE: u8 = 54;
    const TAG_GOV_PROPOSE: u8 = 64;
    const TAG_GOV_VOTE: u8 = 65;

    /// A short lower-case name of the kind, as the API and metrics show it.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer { .. } => "transfer",
            Payload::Bond { .. } => "bond",
            Payload::Unbond { .. } => "unbond",
            Payload::Delegate { .. } => "delegate",
            Payload::Undelegate { .. } => "undelegate",
            Payload::Evidence { .. } => "evidence",
            Payload::Participation { .. } => "participation",
            Payload::DealerLog { .. } => "dealer_log",
            Payload::CommissionSet { .. } => "commission_set",
            Payload::RewardsWithdraw => "rewards_withdraw",
            Payload::ProviderRegister { .. } => "provider_register",
            Payload::ProviderUpdate { .. } => "provider_update",
            Payload::ProviderHeartbeat => "provider_heartbeat",
            Payload::ProviderDeregister => "provider_deregister",
            Payload::JobPost { .. } => "job_post",
            Payload::JobCommit { .. } => "job_commit",
            Payload::JobCancel { .. } => "job_cancel",
            Payload::VerifierRegister { .. } => "verifier_register",
            Payload::VerifierDeregister => "verifier_deregister",
            Payload::AuditCommit { .. } => "audit_commit",
            Payload::AuditReveal { .. } => "audit_reveal",
            Payload::DisputeOpen { .. } => "dispute_open",
            Payload::DisputeMove { .. } => "dispute_move",
            Payload::DisputeSettle { .. } => "dispute_settle",
            Payload::AuditDecline { .. } => "audit_decline",
            Payload::StorageOffer { .. } => "storage_offer",
            Payload::DealPost { .. } => "deal_post",
            Payload::ShardAccept { .. } => "shard_accept",
            Payload::DealExtend { .. } => "deal_extend",
            Payload::DealEnd { .. } => "deal_end",
            Payload::StorageProof { .. } => "storage_proof",
            Payload::FaultDeclare { .. } => "fault_declare",
            Payload::GovPropose { .. } => "gov_propose",
            Payload::GovVote { .. } => "gov_vote",
        }
    }
}

impl Payload {
    /// The payload's tag, the first byte of its encoding.
    fn tag(&self) -> u8 {
        match self {
            Payload::Transfer { .. } => Self::TAG_TRANSFER,
            Payload::Bond { .. } => Self::TAG_BOND,
            Payload::Unbond { .. } => Self::TAG_UNBOND,
            Payload::Delegate { .. } => Self::TAG_DELEGATE,
            Payload::Undelegate { .. } => Self::TAG_UNDELEGATE,
            Payload::Evidence { .. } => Self::TAG_EVIDENCE,
            Payload::Participation { .. } => Self::TAG_PARTICIPATION,
            Payload::DealerLog { .. } => Self::TAG_DEALER_LOG,
            Payload::CommissionSet { .. } => Self::TAG_COMMISSION_SET,
            Payload::RewardsWithdraw => Self::TAG_REWARDS_WITHDRAW,
            Payload::ProviderRegister { .. } => Self::TAG_PROVIDER_REGISTER,
            Payload::ProviderUpdate { .. } => Self::TAG_PROVIDER_UPDATE,
            Payload::ProviderHeartbeat => Self::TAG_PROVIDER_HEARTBEAT,
            Payload::ProviderDeregister => Self::TAG_PROVIDER_DEREGISTER,
            Payload::JobPost { .. } => Self::TAG_JOB_POST,
            Payload::JobCommit { .. } => Self::TAG_JOB_COMMIT,
            Payload::JobCancel { .. } => Self::TAG_JOB_CANCEL,
            Payload::VerifierRegister { .. } => Self::TAG_VERIFIER_REGISTER,
            Payload::VerifierDeregister => Self::TAG_VERIFIER_DEREGISTER,
            Payload::AuditCommit { .. } => Self::TAG_AUDIT_COMMIT,
            Payload::AuditReveal { .. } => Self::TAG_AUDIT_REVEAL,
            Payload::DisputeOpen { .. } => Self::TAG_DISPUTE_OPEN,
            Payload::DisputeMove { .. } => Self::TAG_DISPUTE_MOVE,
            Payload::DisputeSettle { .. } => Self::TAG_DISPUTE_SETTLE,
            Payload::AuditDecline { .. } => Self::TAG_AUDIT_DECLINE,
            Payload::StorageOffer { .. } => Self::TAG_STORAGE_OFFER,
            Payload::DealPost { .. } => Self::TAG_DEAL_POST,
            Payload::ShardAccept { .. } => Self::TAG_SHARD_ACCEPT,
            Payload::DealExtend { .. } => Self::TAG_DEAL_EXTEND,
            Payload::DealEnd { .. } => Self::TAG_DEAL_END,
            Payload::StorageProof { .. } => Self::TAG_STORAGE_PROOF,
            Payload::FaultDeclare { .. } => Self::TAG_FAULT_DECLARE,
            Payload::GovPropose { .. } => Self::TAG_GOV_PROPOSE,
            Payload::GovVote { .. } => Self::TAG_GOV_VOTE,
        }
    }

    /// The fields of a bank, staking or consensus payload (tags 0-15), in declaration order.
    fn write_chain_fields(&self, buf: &mut impl BufMut) {
        match self {
            Payload::Transfer { to, amount } => {
                to.0.write(buf);
                amount.write(buf);
            }
            Payload::Bond { amount } | Payload::Unbond { amount } => amount.write(buf),
            Payload::Delegate { validator, amount } | Payload::Undelegate { validator, amount } => {
                validator.0.write(buf);
                amount.write(buf);
            }
            Payload::Evidence { evidence } => evidence.write(buf),
            Payload::Participation {
                height,
                finalization,
            } => {
                height.write(buf);
                finalization.write(buf);
            }
            Payload::DealerLog { epoch, log } => {
                epoch.write(buf);
                log.write(buf);
            }
            Payload::CommissionSet { bps } => bps.write(buf),
            Payload::RewardsWithdraw => {}
            _ => unreachable!(
                "{} is not a bank, staking or consensus payload",
                self.kind()
            ),
        }
    }

    /// The fields of a compute-market payload (tags 16-31), in declaration order.
    fn write_market_fields(&self, buf: &mut impl BufMut) {
        match self {
            Payload::ProviderRegister {
                endpoint,
                profile,
                fuel_per_second,
                ask_per_mfuel,
                bond: amount,
            }
            | Payload::ProviderUpdate {
                endpoint,
                profile,
                fuel_per_second,
                ask_per_mfuel,
                bond_add: amount,
            } => {
                crate::job::write_str(endpoint, buf);
                profile.write(buf);
                fuel_per_second.write(buf);
                ask_per_mfuel.write(buf);
                amount.write(buf);
            }
            Payload::JobPost {
                module,
                blobs,
                input,
                max_fuel,
                price_cap_per_mfuel,
                audit,
                deadline_blocks,
            } => {
                module.write(buf);
                blobs.write(buf);
                input.write(buf);
                max_fuel.write(buf);
                price_cap_per_mfuel.write(buf);
                audit.write(buf);
                deadline_blocks.write(buf);
            }
            Payload::JobCommit {
                job,
                output_hash,
                total_fuel,
                segments,
                trace_root,
                failed,
            } => {
                job.write(buf);
                output_hash.write(buf);
                total_fuel.write(buf);
                segments.write(buf);
                trace_root.write(buf);
                failed.write(buf);
            }
            Payload::JobCancel { job } => job.write(buf),
            _ => unreachable!("{} is not a compute-market payload", self.kind()),
        }
    }

    /// The fields of an audit or dispute payload (tags 32-47), in declaration order.
    fn write_audit_fields(&self, buf: &mut impl BufMut) {
        match self {
            Payload::VerifierRegister {
                bond,
                fuel_per_second,
                capacity,
            } => {
                bond.write(buf);
                fuel_per_second.write(buf);
                capacity.write(buf);
            }
            Payload::AuditCommit { job, seal } => {
                job.write(buf);
                seal.write(buf);
            }
            Payload::AuditReveal { job, verdict, salt } => {
                job.write(buf);
                verdict.write(buf);
                salt.write(buf);
            }
            Payload::DisputeOpen { job, claim } => {
                job.write(buf);
                claim.write(buf);
            }
            Payload::DisputeMove { job, step } => {
                job.write(buf);
                step.write(buf);
            }
            Payload::DisputeSettle { job, manifest } => {
                job.write(buf);
                manifest.write(buf);
            }
            Payload::AuditDecline { job } => job.write(buf),
            _ => unreachable!("{} is not an audit or dispute payload", self.kind()),
        }
    }

    /// The fields of a storage payload (tags 48-63), in declaration order.
    fn write_storage_fields(&self, buf: &mut impl BufMut) {
        match self {
            Payload::StorageOffer {
                capacity_bytes,
                price_per_gib_epoch,
            } => {
                capacity_bytes.write(buf);
                price_per_gib_epoch.write(buf);
            }
            Payload::DealPost {
                segments,
                k,
                n,
                price_cap_per_gib_epoch,
                epochs,
                public,
            } => {
                segments.write(buf);
                k.write(buf);
                n.write(buf);
                price_cap_per_gib_epoch.write(buf);
                epochs.write(buf);
                public.write(buf);
            }
            Payload::ShardAccept {
                deal,
                segment,
                shard,
            } => {
                deal.write(buf);
                segment.write(buf);
                shard.write(buf);
            }
            Payload::DealExtend { deal, epochs } => {
                deal.write(buf);
                epochs.write(buf);
            }
            Payload::DealEnd { deal } => deal.write(buf),
            Payload::StorageProof {
                deal,
                segment,
                shard,
                epoch,
                proof,
            } => {
                deal.write(buf);
                segment.write(buf);
                shard.write(buf);
                epoch.write(buf);
                proof.write(buf);
            }
            Payload::FaultDeclare {
                deal,
                segment,
                shard,
            } => {
                deal.write(buf);
                segment.write(buf);
                shard.write(buf);
            }
            _ => unreachable!("{} is not a storage payload", self.kind()),
        }
    }
}

/// The tag, then the variant's fields in declaration order; each family of tags (see the
/// module doc) writes its fields in a function of its own. This match is exhaustive, so a new
/// variant must be placed in a family here.
impl Write for Payload {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
        match self {
            Payload::Transfer { .. }
            | Payload::Bond { .. }
            | Payload::Unbond { .. }
            | Payload::Delegate { .. }
            | Payload::Undelegate { .. }
            | Payload::Evidence { .. }
            | Payload::Participation { .. }
            | Payload::DealerLog { .. }
            | Payload::CommissionSet { .. }
            | Payload::RewardsWithdraw => self.write_chain_fields(buf),
            Payload::ProviderRegister { .. }
            | Payload::ProviderUpdate { .. }
            | Payload::JobPost { .. }
            | Payload::JobCommit { .. }
            | Payload::JobCancel { .. } => self.write_market_fields(buf),
            Payload::VerifierRegister { .. }
            | Payload::AuditCommit { .. }
            | Payload::AuditReveal { .. }
            | Payload::DisputeOpen { .. }
            | Payload::DisputeMove { .. }
            | Payload::DisputeSettle { .. }
            | Payload::AuditDecline { .. } => self.write_audit_fields(buf),
            Payload::StorageOffer { .. }
            | Payload::DealPost { .. }
            | Payload::ShardAccept { .. }
            | Payload::DealExtend { .. }
            | Payload::DealEnd { .. }
            | Payload::StorageProof { .. }
            | Payload::FaultDeclare { .. } => self.write_storage_fields(buf),
            Payload::GovPropose {
                changes,
                title,
                description,
                deposit,
            } => {
                crate::gov::write_changes(changes, buf);
                crate::gov::write_text(title, description, buf);
                deposit.write(buf);
            }
            Payload::GovVote { proposal, option } => {
                proposal.write(buf);
                option.write(buf);
            }
            // The tag is the whole payload.
            Payload::ProviderHeartbeat
            | Payload::ProviderDeregister
            | Payload::VerifierDeregister => {}
        }
    }
}

impl EncodeSize for Payload {
    fn encode_size(&self) -> usize {
        1 + match self {
            Payload::Transfer { .. } | Payload::Delegate { .. } | Payload::Undelegate { .. } => {
                PublicKey::SIZE + Amount::SIZE
            }
            Payload::Bond { .. } | Payload::Unbond { .. } => Amount::SIZE,
            Payload::Evidence { evidence } => evidence.encode_size(),
            Payload::Participation {
                height,
                finalization,
            } => height.encode_size() + finalization.encode_size(),
            Payload::DealerLog { epoch, log } => epoch.encode_size() + log.encode_size(),
            Payload::CommissionSet { .. } => u32::SIZE,
            Payload::RewardsWithdraw => 0,
            Payload::ProviderRegister {
                endpoint, profile, ..
            }
            | Payload::ProviderUpdate {
                endpoint, profile, ..
            } => {
                crate::job::str_encode_size(endpoint)
                    + profile.encode_size()
                    + u64::SIZE
                    + Amount::SIZE
                    + Amount::SIZE
            }
            Payload::ProviderHeartbeat | Payload::ProviderDeregister => 0,
            Payload::JobPost { blobs, .. } => {
                Digest::SIZE
                    + blobs.encode_size()
                    + Digest::SIZE
                    + u64::SIZE
                    + Amount::SIZE
                    + 1
                    + u64::SIZE
            }
            Payload::JobCommit { .. } => {
                Digest::SIZE + Digest::SIZE + u64::SIZE + u32::SIZE + Digest::SIZE + bool::SIZE
            }
            Payload::JobCancel { .. } => Digest::SIZE,
            Payload::VerifierRegister { .. } => Amount::SIZE + u64::SIZE + u32::SIZE,
            Payload::VerifierDeregister => 0,
            Payload::AuditCommit { .. } => 2 * Digest::SIZE,
            Payload::AuditReveal { verdict, .. } => 2 * Digest::SIZE + verdict.encode_size(),
            Payload::DisputeOpen { claim, .. } => Digest::SIZE + claim.encode_size(),
            Payload::DisputeMove { step, .. } => Digest::SIZE + step.encode_size(),
            Payload::DisputeSettle { .. } => 2 * Digest::SIZE,
            Payload::AuditDecline { .. } => Digest::SIZE,
            Payload::StorageOffer { .. } => u64::SIZE + Amount::SIZE,
            Payload::DealPost { segments, .. } => {
                segments.encode_size() + 2 * u16::SIZE + Amount::SIZE + u64::SIZE + bool::SIZE
            }
            Payload::ShardAccept { .. } | Payload::FaultDeclare { .. } => {
                Digest::SIZE + u32::SIZE + u16::SIZE
            }
            Payload::StorageProof { proof, .. } => {
                Digest::SIZE + u32::SIZE + u16::SIZE + u64::SIZE + proof.encode_size()
            }
            Payload::DealExtend { .. } => Digest::SIZE + u64::SIZE,
            Payload::DealEnd { .. } => Digest::SIZE,
            Payload::GovPropose {
                changes,
                title,
                description,
                ..
            } => {
                crate::gov::changes_encode_size(changes)
                    + crate::gov::text_encode_size(title, description)
                    + Amount::SIZE
            }
            Payload::GovVote { .. } => u64::SIZE + 1,
        }
    }
}

impl Read for Payload {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tag = u8::read(buf)?;
        Ok(match tag {
            Self::TAG_TRANSFER => Payload::Transfer {
                to: Address(PublicKey::read(buf)?),
                amount: Amount::read(buf)?,
            },
            Self::TAG_BOND => Payload::Bond {
                amount: Amount::read(buf)?,
            },
            Self::TAG_UNBOND => Payload::Unbond {
                amount: Amount::read(buf)?,
            },
            Self::TAG_DELEGATE => Payload::Delegate {
                validator: Address(PublicKey::read(buf)?),
                amount: Amount::read(buf)?,
            },
            Self::TAG_UNDELEGATE => Payload::Undelegate {
                validator: Address(PublicKey::read(buf)?),
                amount: Amount::read(buf)?,
            },
            Self::TAG_EVIDENCE => Payload::Evidence {
                evidence: Vec::<u8>::read_cfg(buf, &((1..=EVIDENCE_SIZE_MAX).into(), ()))?,
            },
            Self::TAG_PARTICIPATION => Payload::Participation {
                height: u64::read(buf)?,
                finalization: Vec::<u8>::read_cfg(buf, &((1..=TX_SIZE_MAX).into(), ()))?,
            },
            Self::TAG_DEALER_LOG => Payload::DealerLog {
                epoch: u64::read(buf)?,
                log: Vec::<u8>::read_cfg(buf, &((1..=TX_SIZE_MAX).into(), ()))?,
            },
            Self::TAG_COMMISSION_SET => Payload::CommissionSet {
                bps: u32::read(buf)?,
            },
            Self::TAG_REWARDS_WITHDRAW => Payload::RewardsWithdraw,
            Self::TAG_PROVIDER_REGISTER => Payload::ProviderRegister {
                endpoint: crate::job::read_str(buf, ENDPOINT_SIZE_MAX, "ProviderRegister")?,
                profile: ResourceProfile::read(buf)?,
                fuel_per_second: u64::read(buf)?,
                ask_per_mfuel: Amount::read(buf)?,
                bond: Amount::read(buf)?,
            },
            Self::TAG_PROVIDER_UPDATE => Payload::ProviderUpdate {
                endpoint: crate::job::read_str(buf, ENDPOINT_SIZE_MAX, "ProviderUpdate")?,
                profile: ResourceProfile::read(buf)?,
                fuel_per_second: u64::read(buf)?,
                ask_per_mfuel: Amount::read(buf)?,
                bond_add: Amount::read(buf)?,
            },
            Self::TAG_PROVIDER_HEARTBEAT => Payload::ProviderHeartbeat,
            Self::TAG_PROVIDER_DEREGISTER => Payload::ProviderDeregister,
            Self::TAG_JOB_POST => Payload::JobPost {
                module: ContentHash::read(buf)?,
                blobs: Vec::<ContentHash>::read_cfg(buf, &((..=JOB_BLOBS_MAX).into(), ()))?,
                input: ContentHash::read(buf)?,
                max_fuel: u64::read(buf)?,
                price_cap_per_mfuel: Amount::read(buf)?,
                audit: AuditClass::read(buf)?,
                deadline_blocks: u64::read(buf)?,
            },
            Self::TAG_JOB_COMMIT => Payload::JobCommit {
                job: Digest::read(buf)?,
                output_hash: ContentHash::read(buf)?,
                total_fuel: u64::read(buf)?,
                segments: u32::read(buf)?,
                trace_root: ContentHash::read(buf)?,
                failed: bool::read(buf)?,
            },
            Self::TAG_JOB_CANCEL => Payload::JobCancel {
                job: Digest::read(buf)?,
            },
            Self::TAG_VERIFIER_REGISTER => Payload::VerifierRegister {
                bond: Amount::read(buf)?,
                fuel_per_second: u64::read(buf)?,
                capacity: u32::read(buf)?,
            },
            Self::TAG_VERIFIER_DEREGISTER => Payload::VerifierDeregister,
            Self::TAG_AUDIT_COMMIT => Payload::AuditCommit {
                job: Digest::read(buf)?,
                seal: Digest::read(buf)?,
            },
            Self::TAG_AUDIT_REVEAL => Payload::AuditReveal {
                job: Digest::read(buf)?,
                verdict: crate::audit::Verdict::read(buf)?,
                salt: Digest::read(buf)?,
            },
            Self::TAG_DISPUTE_OPEN => Payload::DisputeOpen {
                job: Digest::read(buf)?,
                claim: crate::job::Commitment::read(buf)?,
            },
            Self::TAG_DISPUTE_MOVE => Payload::DisputeMove {
                job: Digest::read(buf)?,
                step: crate::dissection::Move::read(buf)?,
            },
            Self::TAG_DISPUTE_SETTLE => Payload::DisputeSettle {
                job: Digest::read(buf)?,
                manifest: ContentHash::read(buf)?,
            },
            Self::TAG_AUDIT_DECLINE => Payload::AuditDecline {
                job: Digest::read(buf)?,
            },
            Self::TAG_STORAGE_OFFER..=Self::TAG_FAULT_DECLARE => Self::read_storage(tag, buf)?,
            Self::TAG_GOV_PROPOSE | Self::TAG_GOV_VOTE => Self::read_gov(tag, buf)?,
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

impl Payload {
    /// A governance payload (tags 64-79) after its tag.
    fn read_gov(tag: u8, buf: &mut impl Buf) -> Result<Payload, CodecError> {
        Ok(match tag {
            Self::TAG_GOV_PROPOSE => {
                let changes = crate::gov::read_changes(buf)?;
                let (title, description) = crate::gov::read_text(buf)?;
                Payload::GovPropose {
                    changes,
                    title,
                    description,
                    deposit: Amount::read(buf)?,
                }
            }
            Self::TAG_GOV_VOTE => Payload::GovVote {
                proposal: u64::read(buf)?,
                option: crate::gov::VoteOption::read(buf)?,
            },
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }

    /// A storage payload (tags 48-63) after its tag.
    fn read_storage(tag: u8, buf: &mut impl Buf) -> Result<Payload, CodecError> {
        Ok(match tag {
            Self::TAG_STORAGE_OFFER => Payload::StorageOffer {
                capacity_bytes: u64::read(buf)?,
                price_per_gib_epoch: Amount::read(buf)?,
            },
            Self::TAG_DEAL_POST => Payload::DealPost {
                segments: Vec::<DealSegment>::read_cfg(buf, &((1..=DEAL_SEGMENTS_MAX).into(), ()))?,
                k: u16::read(buf)?,
                n: u16::read(buf)?,
                price_cap_per_gib_epoch: Amount::read(buf)?,
                epochs: u64::read(buf)?,
                public: bool::read(buf)?,
            },
            Self::TAG_SHARD_ACCEPT => Payload::ShardAccept {
                deal: Digest::read(buf)?,
                segment: u32::read(buf)?,
                shard: u16::read(buf)?,
            },
            Self::TAG_DEAL_EXTEND => Payload::DealExtend {
                deal: Digest::read(buf)?,
                epochs: u64::read(buf)?,
            },
            Self::TAG_DEAL_END => Payload::DealEnd {
                deal: Digest::read(buf)?,
            },
            Self::TAG_STORAGE_PROOF => Payload::StorageProof {
                deal: Digest::read(buf)?,
                segment: u32::read(buf)?,
                shard: u16::read(buf)?,
                epoch: u64::read(buf)?,
                proof: ChunkProof::read(buf)?,
            },
            Self::TAG_FAULT_DECLARE => Payload::FaultDeclare {
                deal: Digest::read(buf)?,
                segment: u32::read(buf)?,
                shard: u16::read(buf)?,
            },
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub sender: Address,
    /// Must equal the sender's account nonce; it increases by one per executed transaction.
    pub nonce: u64,
    /// Burned when the transaction executes, whether its payload succeeds or fails.
    pub fee: Amount,
    pub payload: Payload,
}

impl Transaction {
    /// Signs the canonical encoding with `key` (which must be the sender's key to be valid).
    pub fn sign(self, key: &PrivateKey) -> SignedTransaction {
        let signature = key.sign(TX_NAMESPACE, &self.encode());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

impl Transaction {
    /// Whether the transaction names a small-order key ([`Address::is_weak`]) as its sender or
    /// as an account it pays or delegates to. The mempool and block execution both refuse it
    /// (`Reason::WeakKey`): a weak sender's "signature" can be forged by anyone, and value sent
    /// to a weak key is open to anyone.
    pub fn names_weak_key(&self) -> bool {
        self.sender.is_weak()
            || match &self.payload {
                Payload::Transfer { to, .. } => to.is_weak(),
                Payload::Delegate { validator, .. } => validator.is_weak(),
                _ => false,
            }
    }
}

impl Write for Transaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.sender.0.write(buf);
        self.nonce.write(buf);
        self.fee.write(buf);
        self.payload.write(buf);
    }
}

impl EncodeSize for Transaction {
    fn encode_size(&self) -> usize {
        ChainId::SIZE + PublicKey::SIZE + u64::SIZE + Amount::SIZE + self.payload.encode_size()
    }
}

impl Read for Transaction {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Transaction {
            chain_id: ChainId::read(buf)?,
            sender: Address(PublicKey::read(buf)?),
            nonce: u64::read(buf)?,
            fee: Amount::read(buf)?,
            payload: Payload::read(buf)?,
        })
    }
}

/// A transaction with the sender's signature over its canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: Signature,
}

impl SignedTransaction {
    /// The transaction hash: SHA-256 of the whole signed encoding.
    pub fn hash(&self) -> Digest {
        hash(&[&self.encode()])
    }

    /// Checks the signature against the sender's key, one by one (the chain layer batches).
    pub fn verify_signature(&self) -> bool {
        self.tx
            .sender
            .0
            .verify(TX_NAMESPACE, &self.tx.encode(), &self.signature)
    }

    /// Decodes untrusted bytes, refusing anything over `TX_SIZE_MAX` before reading it.
    pub fn decode_untrusted(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > TX_SIZE_MAX {
            return Err(CodecError::InvalidLength(bytes.len()));
        }
        <Self as commonware_codec::DecodeExt<()>>::decode(commonware_codec::Copying(bytes))
    }
}

impl Write for SignedTransaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx.write(buf);
        self.signature.write(buf);
    }
}

impl EncodeSize for SignedTransaction {
    fn encode_size(&self) -> usize {
        self.tx.encode_size() + Signature::SIZE
    }
}

impl Read for SignedTransaction {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(SignedTransaction {
            tx: Transaction::read(buf)?,
            signature: Signature::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::DecodeExt;

    fn transfer(seed: u64, nonce: u64) -> SignedTransaction {
        let key = PrivateKey::from_seed(seed);
        Transaction {
            chain_id: 7,
            sender: Address(key.public_key()),
            nonce,
            fee: 10,
            payload: Payload::Transfer {
                to: Address(PrivateKey::from_seed(seed + 1).public_key()),
                amount: 5,
            },
        }
        .sign(&key)
    }

    #[test]
    fn signature_covers_every_field() {
        let signed = transfer(1, 0);
        assert!(signed.verify_signature());
        let mut tampered = signed.clone();
        tampered.tx.nonce += 1;
        assert!(!tampered.verify_signature());
        let mut tampered = signed.clone();
        tampered.tx.chain_id += 1;
        assert!(!tampered.verify_signature());
        let mut tampered = signed;
        tampered.tx.sender = Address(PrivateKey::from_seed(9).public_key());
        assert!(!tampered.verify_signature());
    }

    #[test]
    fn decode_limits() {
        let encoded = transfer(1, 0).encode();
        assert_eq!(
            SignedTransaction::decode_untrusted(&encoded).unwrap(),
            transfer(1, 0)
        );
        // Truncated, trailing bytes, unknown tag, oversized: all refused without panicking.
        assert!(SignedTransaction::decode_untrusted(&encoded[..encoded.len() - 1]).is_err());
        let mut extra = encoded.to_vec();
        extra.push(0);
        assert!(matches!(
            SignedTransaction::decode_untrusted(&extra),
            Err(CodecError::ExtraData(1))
        ));
        let mut bad_tag = encoded.to_vec();
        bad_tag[8 + 32 + 8 + 16] = 200;
        assert!(matches!(
            SignedTransaction::decode_untrusted(&bad_tag),
            Err(CodecError::InvalidEnum(200))
        ));
        let oversized = vec![0u8; TX_SIZE_MAX + 1];
        assert!(matches!(
            SignedTransaction::decode_untrusted(&oversized),
            Err(CodecError::InvalidLength(_))
        ));
        assert!(Payload::decode(commonware_codec::Copying(&[][..])).is_err());
    }
}
