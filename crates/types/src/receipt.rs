//! Receipts: the recorded verdict of executing one transaction.
//!
//! A domain rejection is a receipt, never an error: the reason is stored and shown. Three outcomes:
//! `Success`; `Failed` (the fee was burned and the nonce consumed, but the payload had no effect);
//! `Rejected` (the transaction could not be charged at all: nothing changed, not even the nonce).

use crate::{Amount, Digest};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{Error as CodecError, FixedSize, Read, ReadExt, Write};

/// Why a transaction was refused or failed. Codes are stable: the API, CLI and metrics show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    BadSignature = 1,
    WrongChain = 2,
    BadNonce = 3,
    InsufficientFee = 4,
    InsufficientBalance = 5,
    ZeroAmount = 6,
    Overflow = 7,
    BondTooSmall = 8,
    UnknownValidator = 9,
    InsufficientStake = 10,
    UnbondingQueueFull = 11,
    FeeTooLow = 12,
    MalformedEvidence = 13,
    InvalidEvidence = 14,
    DuplicateEvidence = 15,
    InvalidCertificate = 16,
    AlreadyRecorded = 17,
    InvalidDealerLog = 18,
    DuplicateDealerLog = 19,
    ProviderExists = 20,
    UnknownProvider = 21,
    ProviderBusy = 22,
    ProviderDeregistering = 23,
    InvalidEndpoint = 24,
    InvalidProfile = 25,
    InvalidJob = 26,
    UnknownJob = 27,
    NotAssigned = 28,
    NotConsumer = 29,
    JobNotCancellable = 30,
    InvalidCommitment = 31,
    AlreadyCommitted = 32,
    DeadlinePassed = 33,
    UnknownVerifier = 34,
    VerifierBusy = 35,
    NotAuditor = 36,
    AuditClosed = 37,
    SealMismatch = 38,
    InvalidVerdict = 39,
    NotDisputable = 40,
    NoDispute = 41,
    NotYourMove = 42,
    InvalidMove = 43,
    ContentInvalid = 44,
    WeakKey = 45,
    InvalidVerifierOffer = 46,
    DeclineTooLate = 47,
    InvalidStorageOffer = 48,
    InvalidDeal = 49,
    NoStorageHolders = 50,
    UnknownDeal = 51,
    NotDealOwner = 52,
    NotShardHolder = 53,
    ShardAlreadyAccepted = 54,
    NoOpenChallenge = 55,
    ProofWindowOver = 56,
    AlreadyProven = 57,
    MalformedStorageProof = 58,
    ShardNotActive = 59,
    ShardFaulty = 60,
    ChallengeOpen = 61,
    StorageFull = 62,
    CommissionTooHigh = 63,
    CommissionChangeTooSoon = 64,
    NothingToWithdraw = 65,
    NotValidator = 66,
    UnknownParameter = 67,
    ParameterOutOfBounds = 68,
    ParameterBreaksRule = 69,
    DepositTooSmall = 70,
    InvalidProposal = 71,
    UnknownProposal = 72,
    VotingClosed = 73,
    NoVotingPower = 74,
}

impl Reason {
    /// Every reason, for metrics and documentation.
    pub const ALL: [Reason; 74] = [
        Reason::BadSignature,
        Reason::WrongChain,
        Reason::BadNonce,
        Reason::InsufficientFee,
        Reason::InsufficientBalance,
        Reason::ZeroAmount,
        Reason::Overflow,
        Reason::BondTooSmall,
        Reason::UnknownValidator,
        Reason::InsufficientStake,
        Reason::UnbondingQueueFull,
        Reason::FeeTooLow,
        Reason::MalformedEvidence,
        Reason::InvalidEvidence,
        Reason::DuplicateEvidence,
        Reason::InvalidCertificate,
        Reason::AlreadyRecorded,
        Reason::InvalidDealerLog,
        Reason::DuplicateDealerLog,
        Reason::ProviderExists,
        Reason::UnknownProvider,
        Reason::ProviderBusy,
        Reason::ProviderDeregistering,
        Reason::InvalidEndpoint,
        Reason::InvalidProfile,
        Reason::InvalidJob,
        Reason::UnknownJob,
        Reason::NotAssigned,
        Reason::NotConsumer,
        Reason::JobNotCancellable,
        Reason::InvalidCommitment,
        Reason::AlreadyCommitted,
        Reason::DeadlinePassed,
        Reason::UnknownVerifier,
        Reason::VerifierBusy,
        Reason::NotAuditor,
        Reason::AuditClosed,
        Reason::SealMismatch,
        Reason::InvalidVerdict,
        Reason::NotDisputable,
        Reason::NoDispute,
        Reason::NotYourMove,
        Reason::InvalidMove,
        Reason::ContentInvalid,
        Reason::WeakKey,
        Reason::InvalidVerifierOffer,
        Reason::DeclineTooLate,
        Reason::InvalidStorageOffer,
        Reason::InvalidDeal,
        Reason::NoStorageHolders,
        Reason::UnknownDeal,
        Reason::NotDealOwner,
        Reason::NotShardHolder,
        Reason::ShardAlreadyAccepted,
        Reason::NoOpenChallenge,
        Reason::ProofWindowOver,
        Reason::AlreadyProven,
        Reason::MalformedStorageProof,
        Reason::ShardNotActive,
        Reason::ShardFaulty,
        Reason::ChallengeOpen,
        Reason::StorageFull,
        Reason::CommissionTooHigh,
        Reason::CommissionChangeTooSoon,
        Reason::NothingToWithdraw,
        Reason::NotValidator,
        Reason::UnknownParameter,
        Reason::ParameterOutOfBounds,
        Reason::ParameterBreaksRule,
        Reason::DepositTooSmall,
        Reason::InvalidProposal,
        Reason::UnknownProposal,
        Reason::VotingClosed,
        Reason::NoVotingPower,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::BadSignature => "bad_signature",
            Reason::WrongChain => "wrong_chain",
            Reason::BadNonce => "bad_nonce",
            Reason::InsufficientFee => "insufficient_fee",
            Reason::InsufficientBalance => "insufficient_balance",
            Reason::ZeroAmount => "zero_amount",
            Reason::Overflow => "overflow",
            Reason::BondTooSmall => "bond_too_small",
            Reason::UnknownValidator => "unknown_validator",
            Reason::InsufficientStake => "insufficient_stake",
            Reason::UnbondingQueueFull => "unbonding_queue_full",
            Reason::FeeTooLow => "fee_too_low",
            Reason::MalformedEvidence => "malformed_evidence",
            Reason::InvalidEvidence => "invalid_evidence",
            Reason::DuplicateEvidence => "duplicate_evidence",
            Reason::InvalidCertificate => "invalid_certificate",
            Reason::AlreadyRecorded => "already_recorded",
            Reason::InvalidDealerLog => "invalid_dealer_log",
            Reason::DuplicateDealerLog => "duplicate_dealer_log",
            Reason::ProviderExists => "provider_exists",
            Reason::UnknownProvider => "unknown_provider",
            Reason::ProviderBusy => "provider_busy",
            Reason::ProviderDeregistering => "provider_deregistering",
            Reason::InvalidEndpoint => "invalid_endpoint",
            Reason::InvalidProfile => "invalid_profile",
            Reason::InvalidJob => "invalid_job",
            Reason::UnknownJob => "unknown_job",
            Reason::NotAssigned => "not_assigned",
            Reason::NotConsumer => "not_consumer",
            Reason::JobNotCancellable => "job_not_cancellable",
            Reason::InvalidCommitment => "invalid_commitment",
            Reason::AlreadyCommitted => "already_committed",
            Reason::DeadlinePassed => "deadline_passed",
            Reason::UnknownVerifier => "unknown_verifier",
            Reason::VerifierBusy => "verifier_busy",
            Reason::NotAuditor => "not_auditor",
            Reason::AuditClosed => "audit_closed",
            Reason::SealMismatch => "seal_mismatch",
            Reason::InvalidVerdict => "invalid_verdict",
            Reason::NotDisputable => "not_disputable",
            Reason::NoDispute => "no_dispute",
            Reason::NotYourMove => "not_your_move",
            Reason::InvalidMove => "invalid_move",
            Reason::ContentInvalid => "content_invalid",
            Reason::WeakKey => "weak_key",
            Reason::InvalidVerifierOffer => "invalid_verifier_offer",
            Reason::DeclineTooLate => "decline_too_late",
            Reason::InvalidStorageOffer => "invalid_storage_offer",
            Reason::InvalidDeal => "invalid_deal",
            Reason::NoStorageHolders => "no_storage_holders",
            Reason::UnknownDeal => "unknown_deal",
            Reason::NotDealOwner => "not_deal_owner",
            Reason::NotShardHolder => "not_shard_holder",
            Reason::ShardAlreadyAccepted => "shard_already_accepted",
            Reason::NoOpenChallenge => "no_open_challenge",
            Reason::ProofWindowOver => "proof_window_over",
            Reason::AlreadyProven => "already_proven",
            Reason::MalformedStorageProof => "malformed_storage_proof",
            Reason::ShardNotActive => "shard_not_active",
            Reason::ShardFaulty => "shard_faulty",
            Reason::ChallengeOpen => "challenge_open",
            Reason::StorageFull => "storage_full",
            Reason::CommissionTooHigh => "commission_too_high",
            Reason::CommissionChangeTooSoon => "commission_change_too_soon",
            Reason::NothingToWithdraw => "nothing_to_withdraw",
            Reason::NotValidator => "not_validator",
            Reason::UnknownParameter => "unknown_parameter",
            Reason::ParameterOutOfBounds => "parameter_out_of_bounds",
            Reason::ParameterBreaksRule => "parameter_breaks_rule",
            Reason::DepositTooSmall => "deposit_too_small",
            Reason::InvalidProposal => "invalid_proposal",
            Reason::UnknownProposal => "unknown_proposal",
            Reason::VotingClosed => "voting_closed",
            Reason::NoVotingPower => "no_voting_power",
        }
    }

    /// A one-line human explanation.
    pub fn message(self) -> &'static str {
        match self {
            Reason::BadSignature => "the signature does not verify against the sender's key",
            Reason::WrongChain => "the transaction is signed for another chain id",
            Reason::BadNonce => "the nonce is not the sender's next nonce",
            Reason::InsufficientFee => "the sender's balance cannot pay the fee",
            Reason::InsufficientBalance => "the sender's balance cannot cover the amount",
            Reason::ZeroAmount => "the amount must be greater than zero",
            Reason::Overflow => "the amount would overflow a balance or a stake",
            Reason::BondTooSmall => "the self-bond or provider bond is below the minimum",
            Reason::UnknownValidator => "no validator is registered at that address",
            Reason::InsufficientStake => "the bonded or delegated stake is smaller than the amount",
            Reason::UnbondingQueueFull => "the account has too many unbonding entries in flight",
            Reason::FeeTooLow => "the fee is below the chain's minimum fee",
            Reason::MalformedEvidence => "the evidence does not decode as two conflicting votes",
            Reason::InvalidEvidence => {
                "the evidence's signatures do not verify against the committee it names"
            }
            Reason::DuplicateEvidence => "the offender was already slashed for that view",
            Reason::InvalidCertificate => {
                "the certificate is not a quorum's valid finalization of that recent block"
            }
            Reason::AlreadyRecorded => "that height's participation is already recorded",
            Reason::InvalidDealerLog => {
                "not a signed dealer log of this epoch's beacon reshare from a committee member"
            }
            Reason::DuplicateDealerLog => "that dealer's log for this epoch is already recorded",
            Reason::ProviderExists => "the sender is already a registered provider",
            Reason::UnknownProvider => "the sender is not a registered provider",
            Reason::ProviderBusy => "the provider still has jobs in flight or storage shards",
            Reason::ProviderDeregistering => "the provider is deregistering; its bond is unbonding",
            Reason::InvalidEndpoint => {
                "the endpoint is not an http:// or https:// URL of at most 256 bytes"
            }
            Reason::InvalidProfile => {
                "the resource profile or the measured fuel per second is out of range"
            }
            Reason::InvalidJob => "the job's fuel, blob count or deadline is out of range",
            Reason::UnknownJob => "no job with that id is on chain",
            Reason::NotAssigned => "the job is not assigned to the sender",
            Reason::NotConsumer => "only the job's consumer may do that",
            Reason::JobNotCancellable => "only a job no provider was matched to can be cancelled",
            Reason::InvalidCommitment => "the commitment bills more fuel than the job's maximum",
            Reason::AlreadyCommitted => "the job's commitment is already recorded",
            Reason::DeadlinePassed => "the job's deadline has passed",
            Reason::UnknownVerifier => "the sender is not a registered verifier",
            Reason::VerifierBusy => "the verifier has an audit or dispute open",
            Reason::NotAuditor => "the job has no open audit assigned to the sender",
            Reason::AuditClosed => {
                "the audit is not waiting for that step (already committed, revealed or closed)"
            }
            Reason::SealMismatch => "the revealed verdict and salt do not open the committed seal",
            Reason::InvalidVerdict => {
                "the verdict does not fit the audit (wrong kind, or a segment the audit did not draw)"
            }
            Reason::NotDisputable => {
                "the job is not committed and unsettled, or a dispute over it was already opened"
            }
            Reason::NoDispute => "no open dispute over that job",
            Reason::NotYourMove => "the sender is not the side the dispute is waiting for",
            Reason::InvalidMove => {
                "the dissection move is out of range, out of phase or its proof does not verify"
            }
            Reason::ContentInvalid => {
                "the pre-state manifest or content does not match the agreed leaf's hashes"
            }
            Reason::WeakKey => {
                "a small-order key (anyone can sign for it) cannot send, receive or be delegated to"
            }
            Reason::InvalidVerifierOffer => {
                "the verifier's fuel per second is zero or its capacity is outside 1..=64"
            }
            Reason::DeclineTooLate => {
                "the audit's seal is due at this height: it can be sealed, no longer declined"
            }
            Reason::InvalidStorageOffer
            | Reason::InvalidDeal
            | Reason::NoStorageHolders
            | Reason::UnknownDeal
            | Reason::NotDealOwner
            | Reason::NotShardHolder
            | Reason::ShardAlreadyAccepted
            | Reason::NoOpenChallenge
            | Reason::ProofWindowOver
            | Reason::AlreadyProven
            | Reason::MalformedStorageProof
            | Reason::ShardNotActive
            | Reason::ShardFaulty
            | Reason::ChallengeOpen
            | Reason::StorageFull
            | Reason::CommissionTooHigh
            | Reason::CommissionChangeTooSoon
            | Reason::NothingToWithdraw
            | Reason::NotValidator
            | Reason::UnknownParameter
            | Reason::ParameterOutOfBounds
            | Reason::ParameterBreaksRule
            | Reason::DepositTooSmall
            | Reason::InvalidProposal
            | Reason::UnknownProposal
            | Reason::VotingClosed
            | Reason::NoVotingPower => self.later_message(),
        }
    }

    /// [`Reason::message`] of the storage and staking-rewards reasons (kept apart so that one
    /// function does not grow past the layout limit).
    fn later_message(self) -> &'static str {
        match self {
            Reason::InvalidStorageOffer => {
                "the storage offer's capacity is below the bytes the provider already holds"
            }
            Reason::InvalidDeal => {
                "the deal's segments, coding (k, n), length in epochs or escrow are out of range"
            }
            Reason::NoStorageHolders => {
                "no n distinct providers can hold a segment of the deal (capacity, bond, price cap)"
            }
            Reason::UnknownDeal => "no open storage deal with that id is on chain",
            Reason::NotDealOwner => "only the deal's owner may do that",
            Reason::NotShardHolder => "that shard of the deal is not drawn to the sender",
            Reason::ShardAlreadyAccepted => "that shard of the deal is already accepted",
            Reason::NoOpenChallenge => {
                "the shard has no challenge opened in that epoch (not active, or not challenged yet)"
            }
            Reason::ProofWindowOver => "the challenge's window is over (missed or excused)",
            Reason::AlreadyProven => "that challenge of the shard is already proven",
            Reason::MalformedStorageProof => {
                "the proof is not shaped for the challenged chunk of that shard (chunk length, path length or leaf count)"
            }
            Reason::ShardNotActive => "the shard is drawn, being repaired or lost, not active",
            Reason::ShardFaulty => "a fault is already declared for that shard; a proof ends it",
            Reason::ChallengeOpen => {
                "the shard's challenge is open: a fault must be declared before its challenge opens"
            }
            Reason::StorageFull => {
                "the chain cannot challenge that many more shards each epoch (challenges_per_block_max)"
            }
            Reason::CommissionTooHigh => "the commission is above the chain's commission_max_bps",
            Reason::CommissionChangeTooSoon => {
                "the validator changed its commission less than commission_change_epochs_min epochs ago"
            }
            Reason::NothingToWithdraw => "the sender has no accrued staking rewards to withdraw",
            Reason::NotValidator => "the sender is not a registered validator",
            Reason::UnknownParameter => {
                "the proposal names a parameter governance does not know (GET /v1/params lists them), or names one twice"
            }
            Reason::ParameterOutOfBounds => {
                "a proposed value is outside its parameter's bounds (GET /v1/params lists them)"
            }
            Reason::ParameterBreaksRule => {
                "the proposed values together break a rule across parameters (e.g. FuelTrace's deterrence bound)"
            }
            Reason::DepositTooSmall => "the proposal's deposit is below gov_deposit_min",
            Reason::InvalidProposal => "the proposal changes no parameter or has an empty title",
            Reason::UnknownProposal => "no proposal with that id is on chain",
            Reason::VotingClosed => "the proposal's voting period is over",
            Reason::NoVotingPower => {
                "only an address with bonded stake (a self-bond or a delegation) may vote"
            }
            _ => unreachable!("{} has its message in Reason::message", self.code()),
        }
    }

    fn from_u8(value: u8) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|reason| *reason as u8 == value)
    }
}

/// Outcome of one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed(Reason),
    Rejected(Reason),
}

/// The verdict on one transaction of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: Digest,
    pub status: Status,
    /// Fee burned (zero for `Rejected`).
    pub fee_burned: Amount,
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx_hash.write(buf);
        let (tag, reason) = match self.status {
            Status::Success => (0u8, 0u8),
            Status::Failed(reason) => (1, reason as u8),
            Status::Rejected(reason) => (2, reason as u8),
        };
        tag.write(buf);
        reason.write(buf);
        self.fee_burned.write(buf);
    }
}

impl FixedSize for Receipt {
    const SIZE: usize = Digest::SIZE + 1 + 1 + Amount::SIZE;
}

impl Read for Receipt {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tx_hash = Digest::read(buf)?;
        let tag = u8::read(buf)?;
        let reason = u8::read(buf)?;
        let status = match (tag, reason) {
            (0, 0) => Status::Success,
            (1, r) => Status::Failed(Reason::from_u8(r).ok_or(CodecError::InvalidEnum(r))?),
            (2, r) => Status::Rejected(Reason::from_u8(r).ok_or(CodecError::InvalidEnum(r))?),
            (t, _) => return Err(CodecError::InvalidEnum(t)),
        };
        Ok(Receipt {
            tx_hash,
            status,
            fee_burned: Amount::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
        for reason in Reason::ALL {
            assert_eq!(Reason::from_u8(reason as u8), Some(reason));
        }
        assert_eq!(Reason::from_u8(0), None);
    }

    #[test]
    fn the_verifier_offer_message_names_the_capacity_limit() {
        let limit = format!("1..={}", crate::audit::VERIFIER_CAPACITY_MAX);
        assert!(Reason::InvalidVerifierOffer.message().contains(&limit));
    }
}
