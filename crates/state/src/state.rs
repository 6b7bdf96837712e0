//! The ledger: accounts, validators, delegations, unbonding entries, providers, jobs, supply and
//! parameters.

use crate::market::{Job, JobStatus, MarketIndex};
use crate::registry::Provider;
use plexus_types::{Address, Amount, BeaconOutput, BeaconSharing, ChainId, Digest};
use std::collections::BTreeMap;

/// Chain parameters, fixed at genesis (governance will make them mutable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// The smallest fee a transaction may carry, in base units.
    pub fee_min: Amount,
    /// The smallest self-bond that registers a validator.
    pub self_bond_min: Amount,
    /// Blocks between an unbond and the release of its funds.
    pub unbonding_period_blocks: u64,
    /// Blocks per epoch; the committee is recomputed at each boundary.
    pub epoch_length_blocks: u64,
    /// The most validators in a committee (at most `reshare::COMMITTEE_SIZE_CAP`).
    pub committee_size_max: u32,
    /// The share of an equivocating validator's stake (self-bond and delegations) that is
    /// burned, in basis points.
    pub slash_bps: u32,
    /// The smallest bond that registers a compute provider.
    pub provider_bond_min: Amount,
    /// Blocks between a provider's deregistration and the release of its bond.
    pub provider_unbonding_blocks: u64,
    /// Blocks between the heartbeats a provider is expected to send.
    pub heartbeat_interval_blocks: u64,
    /// Missed heartbeat intervals after which a provider is inactive (not matched).
    pub heartbeat_missed_max: u64,
    /// Blocks between a job's commitment and its settlement (room for audits).
    pub settlement_window_blocks: u64,
    /// The longest deadline a job may ask for, in blocks.
    pub job_deadline_max_blocks: u64,
    /// The shortest deadline a job may ask for, in blocks: room for a provider to see the job,
    /// and at least to refuse it, before it can be slashed for missing it.
    pub job_deadline_min_blocks: u64,
    /// Blocks a finished job stays in the state before it is pruned.
    pub job_retention_blocks: u64,
    /// A provider locks this many times a job's value (at its ask) from its bond per job.
    pub bond_lock_multiple: u32,
    /// The share of a job's lock burned from the bond of a provider that misses the deadline,
    /// in basis points.
    pub deadline_slash_bps: u32,
    /// Reputation gained per settled job (reputation is capped at `REPUTATION_MAX`).
    pub reputation_done_gain: u32,
    /// Reputation lost per missed deadline (saturating at zero).
    pub reputation_miss_penalty: u32,
    /// FuelTrace: audits, disputes, slashes and rewards.
    pub audit: plexus_fueltrace::params::AuditParams,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fee_min: 1_000,
            self_bond_min: 1_000 * plexus_types::PLX,
            unbonding_period_blocks: 100,
            epoch_length_blocks: 100,
            committee_size_max: crate::reshare::COMMITTEE_SIZE_CAP,
            slash_bps: 500,
            provider_bond_min: 100 * plexus_types::PLX,
            provider_unbonding_blocks: 100,
            heartbeat_interval_blocks: 20,
            heartbeat_missed_max: 3,
            settlement_window_blocks: 5,
            job_deadline_max_blocks: 10_000,
            job_deadline_min_blocks: 10,
            job_retention_blocks: 10_000,
            bond_lock_multiple: 2,
            deadline_slash_bps: 10_000,
            reputation_done_gain: 10,
            reputation_miss_penalty: 1_000,
            audit: plexus_fueltrace::params::AuditParams::default(),
        }
    }
}

/// One account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Spendable balance.
    pub balance: Amount,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
    /// Stake this account has bonded: its own self-bond plus its delegations.
    pub bonded: Amount,
    /// Stake on its way back to `balance`.
    pub unbonding: Amount,
}

/// A registered validator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validator {
    pub self_bond: Amount,
    /// Sum of delegations from other accounts.
    pub delegated: Amount,
    /// Slashed for equivocation: never elected to a committee again.
    pub jailed: bool,
}

impl Validator {
    /// Total stake: self-bond plus delegations (never overflows: both are parts of the supply).
    pub fn stake(&self) -> Amount {
        self.self_bond.saturating_add(self.delegated)
    }
}

/// Stake waiting for its release height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbonding {
    pub owner: Address,
    pub amount: Amount,
}

/// Supply accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Supply {
    /// Tokens in existence: balances + bonded + unbonding + provider bonds + escrows of
    /// unfinished jobs + verifier bonds + consumers' dispute deposits + the audit pool.
    pub total: Amount,
    /// Everything ever minted (the genesis allocation and the epoch emissions).
    pub minted: Amount,
    /// Everything ever burned (fees, slashes, the burned share of consumer payments).
    pub burned: Amount,
}

/// The whole chain state after some block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub chain_id: ChainId,
    pub params: Params,
    /// Height of the last applied block (genesis is 0).
    pub height: u64,
    /// Hash of the last applied block.
    pub block_hash: Digest,
    /// Timestamp of the last applied block.
    pub timestamp_ms: u64,
    /// Seed of the last applied block (the hash of its beacon signature).
    pub beacon: Digest,
    /// The committee's beacon key: the group key that verifies every beacon signature, each
    /// member's public share (in committee order), and who holds the shares.
    pub beacon_key: BeaconOutput,
    pub accounts: BTreeMap<Address, Account>,
    pub validators: BTreeMap<Address, Validator>,
    /// (delegator, validator) -> delegated amount.
    pub delegations: BTreeMap<(Address, Address), Amount>,
    /// (release height, sequence) -> entry. The sequence keeps entries of one height in order.
    pub unbondings: BTreeMap<(u64, u64), Unbonding>,
    /// Next unbonding sequence number.
    pub unbonding_seq: u64,
    /// Unbonding entries in flight per owner (derived from `unbondings`, so not committed
    /// separately; bounded by `UNBONDING_ENTRIES_MAX`).
    pub unbonding_counts: BTreeMap<Address, u32>,
    /// The committee of the current epoch: the holders of the beacon key, who run consensus.
    pub committee: Vec<Address>,
    /// The committee elected at this epoch's first block (top validators by stake, ties by
    /// address): it takes over at the next epoch if this epoch's reshare succeeds.
    pub next_committee: Vec<Address>,
    /// This epoch's reshare: each dealer's signed log (`Payload::DealerLog`).
    pub dealer_logs: BTreeMap<Address, Vec<u8>>,
    /// The block the current epoch's consensus starts from: the last block of the previous
    /// epoch (the genesis block in epoch 0).
    pub epoch_boundary: Digest,
    /// The committee of each recent epoch (the current and `PARTICIPATION_EPOCHS_KEPT` before it):
    /// what evidence and finalization certificates of those epochs are checked against.
    pub epoch_committees: BTreeMap<u64, Vec<Address>>,
    pub supply: Supply,
    /// Every slash: (offender, epoch, view) of the evidence -> amount burned. Also what makes a
    /// second proof of the same fault a no-op.
    pub slashes: BTreeMap<(Address, u64, u64), Amount>,
    /// The last `PARTICIPATION_WINDOW` blocks before this one: height -> (block hash, whether its
    /// finalization certificate has been recorded).
    pub recent_blocks: BTreeMap<u64, (Digest, bool)>,
    /// Signatures in recorded finalization certificates: (epoch, validator) -> count. Kept for
    /// the current and the `PARTICIPATION_EPOCHS_KEPT` previous epochs.
    pub participation: BTreeMap<(u64, Address), u64>,
    /// Registered compute providers (deregistering ones until their bond is released).
    pub providers: BTreeMap<Address, Provider>,
    /// Jobs by id (the hash of the posting transaction), finished ones until pruned.
    pub jobs: BTreeMap<Digest, Job>,
    /// Deadlines, settlements, prunes and provider releases ordered by height (derived from
    /// `jobs` and `providers`, so not committed separately).
    pub market_index: MarketIndex,
    /// Registered verifiers (deregistering ones until their bond is released).
    pub verifiers: BTreeMap<Address, crate::dispute::Verifier>,
    /// Audits of committed jobs, kept with the job until it is pruned.
    pub audits: BTreeMap<Digest, crate::dispute::Audit>,
    /// Disputes over commitments, kept with the job until it is pruned.
    pub disputes: BTreeMap<Digest, crate::dispute::Dispute>,
    /// The audit fee pool: `audit_fee_bps` of every settled job's payment, from which verifiers
    /// are paid for their re-execution (`rewards.rs`). Part of the supply.
    pub audit_pool: Amount,
    /// Fuel of the jobs whose audit passed in the current epoch, per provider: the providers'
    /// emission weights, cleared when the epoch's emission is paid.
    pub epoch_audited_fuel: BTreeMap<Address, u128>,
    /// Audits passed plus disputes won as challenger in the current epoch, per verifier: the
    /// verifiers' emission weights, cleared when the epoch's emission is paid.
    pub epoch_verifier_audits: BTreeMap<Address, u64>,
    /// What each recent epoch's emission minted (the last `PARTICIPATION_EPOCHS_KEPT` epochs).
    pub emissions: BTreeMap<u64, crate::rewards::Emission>,
}

/// How many recent blocks a finalization certificate may be recorded for.
pub const PARTICIPATION_WINDOW: u64 = 256;
/// How many past epochs of participation counts the state keeps.
pub const PARTICIPATION_EPOCHS_KEPT: u64 = 4;

impl State {
    /// The account at `address`, or the empty account.
    pub fn account(&self, address: &Address) -> Account {
        self.accounts.get(address).cloned().unwrap_or_default()
    }

    /// The public side of the committee's beacon key.
    pub fn beacon_sharing(&self) -> &BeaconSharing {
        self.beacon_key.public()
    }

    /// The block the consensus of the next block's epoch starts from: this block if it is the
    /// last of its epoch, else the current epoch's boundary.
    pub fn epoch_start_block(&self) -> Digest {
        if (self.height + 1).is_multiple_of(self.params.epoch_length_blocks.max(1)) {
            self.block_hash
        } else {
            self.epoch_boundary
        }
    }

    /// The epoch that the block at `height` belongs to.
    pub fn epoch_of(&self, height: u64) -> u64 {
        height / self.params.epoch_length_blocks.max(1)
    }

    /// Recomputes the supply from the ledger (balances + bonded + unbonding + provider bonds +
    /// escrows of unfinished jobs + verifier bonds + consumers' dispute deposits + the audit
    /// pool) and checks that the stake and market records agree with each
    /// other. Used by the property tests and audits.
    pub fn recount(&self) -> Result<Amount, SupplyError> {
        let mut total: Amount = 0;
        let mut bonded: Amount = 0;
        let mut unbonding: Amount = 0;
        for account in self.accounts.values() {
            total = total
                .checked_add(account.balance)
                .and_then(|t| t.checked_add(account.bonded))
                .and_then(|t| t.checked_add(account.unbonding))
                .ok_or(SupplyError::Overflow)?;
            bonded += account.bonded;
            unbonding += account.unbonding;
        }
        let staked: Amount = self.validators.values().map(Validator::stake).sum();
        if staked != bonded {
            return Err(SupplyError::Stake {
                validators: staked,
                accounts: bonded,
            });
        }
        let delegated: Amount = self.delegations.values().sum();
        let recorded: Amount = self.validators.values().map(|v| v.delegated).sum();
        if delegated != recorded {
            return Err(SupplyError::Delegations {
                delegations: delegated,
                validators: recorded,
            });
        }
        let queued: Amount = self.unbondings.values().map(|u| u.amount).sum();
        if queued != unbonding {
            return Err(SupplyError::Unbonding {
                queue: queued,
                accounts: unbonding,
            });
        }
        let mut counts = BTreeMap::<Address, u32>::new();
        for entry in self.unbondings.values() {
            *counts.entry(entry.owner.clone()).or_default() += 1;
        }
        if counts != self.unbonding_counts {
            return Err(SupplyError::UnbondingCounts);
        }
        total = total
            .checked_add(self.recount_market()?)
            .and_then(|t| t.checked_add(self.audit_pool))
            .ok_or(SupplyError::Overflow)?;
        Ok(total)
    }

    /// Provider bonds plus held escrows, after checking each provider's locks and in-flight
    /// count against its jobs and the market index against the records.
    fn recount_market(&self) -> Result<Amount, SupplyError> {
        let mut total: Amount = 0;
        let mut locks = BTreeMap::<&Address, (Amount, u32)>::new();
        for job in self.jobs.values() {
            total = total
                .checked_add(job.escrow_held())
                .ok_or(SupplyError::Overflow)?;
            if let JobStatus::Assigned(a) | JobStatus::Committed { assignment: a, .. } = &job.status
            {
                let entry = locks.entry(&a.provider).or_default();
                entry.0 = entry
                    .0
                    .checked_add(a.bond_locked)
                    .ok_or(SupplyError::Overflow)?;
                entry.1 += 1;
            }
        }
        for verifier in self.verifiers.values() {
            total = total
                .checked_add(verifier.bond)
                .ok_or(SupplyError::Overflow)?;
        }
        self.check_verifier_open()?;
        for dispute in self.disputes.values() {
            total = total
                .checked_add(dispute.deposit_held())
                .ok_or(SupplyError::Overflow)?;
        }
        for (address, provider) in &self.providers {
            total = total
                .checked_add(provider.bond)
                .ok_or(SupplyError::Overflow)?;
            let (locked, in_flight) = locks.remove(address).unwrap_or_default();
            if locked != provider.bond_locked
                || in_flight != provider.jobs_in_flight
                || provider.bond_locked > provider.bond
            {
                return Err(SupplyError::ProviderLocks(Box::new(address.clone())));
            }
        }
        if let Some((address, _)) = locks.pop_first() {
            return Err(SupplyError::ProviderLocks(Box::new(address.clone())));
        }
        if MarketIndex::derive(self) != self.market_index {
            return Err(SupplyError::MarketIndex);
        }
        Ok(total)
    }
}

impl State {
    /// Each verifier's `open` is its open audits plus the open disputes it opened as a verifier
    /// (what its capacity is counted against), and nobody else has any.
    fn check_verifier_open(&self) -> Result<(), SupplyError> {
        let mut open = BTreeMap::<&Address, u32>::new();
        for audit in self.audits.values().filter(|audit| audit.is_open()) {
            *open.entry(&audit.verifier).or_default() += 1;
        }
        for dispute in self.disputes.values() {
            if dispute.by_verifier && dispute.ruling.is_none() {
                *open.entry(&dispute.challenger).or_default() += 1;
            }
        }
        for (address, verifier) in &self.verifiers {
            if open.remove(address).unwrap_or(0) != verifier.open {
                return Err(SupplyError::VerifierOpen(Box::new(address.clone())));
            }
        }
        match open.pop_first() {
            Some((address, _)) => Err(SupplyError::VerifierOpen(Box::new(address.clone()))),
            None => Ok(()),
        }
    }
}

/// A ledger whose stake or supply records disagree: a bug, never a user error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SupplyError {
    #[error("the ledger sum overflows 128 bits")]
    Overflow,
    #[error("validators hold {validators} but accounts bonded {accounts}")]
    Stake {
        validators: Amount,
        accounts: Amount,
    },
    #[error("delegations sum {delegations} but validators record {validators}")]
    Delegations {
        delegations: Amount,
        validators: Amount,
    },
    #[error("the per-account unbonding counts disagree with the queue")]
    UnbondingCounts,
    #[error("the unbonding queue holds {queue} but accounts record {accounts}")]
    Unbonding { queue: Amount, accounts: Amount },
    #[error("provider {0}'s locked bond or jobs in flight disagree with its jobs")]
    ProviderLocks(Box<Address>),
    #[error("the market's height index disagrees with the jobs and providers")]
    MarketIndex,
    #[error("verifier {0}'s open count disagrees with its open audits and disputes")]
    VerifierOpen(Box<Address>),
}
