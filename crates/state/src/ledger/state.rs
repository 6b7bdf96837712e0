//! The ledger: accounts, validators, delegations, unbonding entries, providers, jobs, FuelTrace's
//! records, supply and parameters, in one `State`.

use crate::fueltrace::records::{Audit, Dispute, Emission, Verifier};
use crate::ledger::epochs::EpochSchedule;
use crate::ledger::params::Params;
use crate::ledger::value::Supply;
use crate::market::index::MarketIndex;
use crate::market::jobs::Job;
use crate::market::providers::Provider;
use crate::storage::records::{Deal, StorageIndex, StorageOffer, StorageStats};
use plexus_types::{Address, Amount, BeaconOutput, BeaconSharing, ChainId, Digest};
use std::collections::BTreeMap;

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
    /// The commission in effect: the basis points of its part of an epoch's validator emission
    /// the validator keeps before the rest is shared pro rata to stake (`staking::rewards`).
    pub commission_bps: u32,
    /// A commission set in this epoch (`Payload::CommissionSet`), in effect from the next epoch's
    /// payout on.
    pub commission_pending: Option<u32>,
    /// The epoch of the last commission change (none since registration: `None`).
    pub commission_changed_epoch: Option<u64>,
}

impl Validator {
    /// A newly registered validator with no stake yet and `commission_bps` in effect.
    pub fn new(commission_bps: u32) -> Validator {
        Validator {
            commission_bps,
            ..Validator::default()
        }
    }

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
    /// Written only by the value moves (`value/`) and the nonce's consumption.
    pub(in crate::ledger) accounts: BTreeMap<Address, Account>,
    pub validators: BTreeMap<Address, Validator>,
    /// (delegator, validator) -> delegated amount.
    pub(crate) delegations: BTreeMap<(Address, Address), Amount>,
    /// (release height, sequence) -> entry. The sequence keeps entries of one height in order.
    pub(crate) unbondings: BTreeMap<(u64, u64), Unbonding>,
    /// Next unbonding sequence number.
    pub(crate) unbonding_seq: u64,
    /// Unbonding entries in flight per owner (derived from `unbondings`, so not committed
    /// separately; bounded by `UNBONDING_ENTRIES_MAX`).
    pub(crate) unbonding_counts: BTreeMap<Address, u32>,
    /// The committee of the current epoch: the holders of the beacon key, who run consensus.
    pub(crate) committee: Vec<Address>,
    /// The committee elected at this epoch's first block (top validators by stake, ties by
    /// address): it takes over at the next epoch if this epoch's reshare succeeds.
    pub(crate) next_committee: Vec<Address>,
    /// This epoch's reshare: each dealer's signed log (`Payload::DealerLog`).
    pub(crate) dealer_logs: BTreeMap<Address, Vec<u8>>,
    /// The block the current epoch's consensus starts from: the last block of the previous
    /// epoch (the genesis block in epoch 0).
    pub(crate) epoch_boundary: Digest,
    /// Where each epoch starts and how long it is (`epochs.rs`): genesis's length until a vote
    /// changes `epoch_length_blocks`, then the new length from two epochs later.
    pub(crate) epochs: EpochSchedule,
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
    pub(crate) market_index: MarketIndex,
    /// Registered verifiers (deregistering ones until their bond is released).
    pub verifiers: BTreeMap<Address, Verifier>,
    /// Audits of committed jobs, kept with the job until it is pruned.
    pub audits: BTreeMap<Digest, Audit>,
    /// Disputes over commitments, kept with the job until it is pruned.
    pub disputes: BTreeMap<Digest, Dispute>,
    /// The audit fee pool: `audit_fee_bps` of every settled job's payment, from which verifiers
    /// are paid for their re-execution (`rewards.rs`). Part of the supply; written only by the
    /// value moves (`value/`).
    pub(in crate::ledger) audit_pool: Amount,
    /// Fuel of the jobs whose audit passed in the current epoch, per provider: the providers'
    /// emission weights, cleared when the epoch's emission is paid.
    pub(crate) epoch_audited_fuel: BTreeMap<Address, u128>,
    /// Audits passed plus disputes won as challenger in the current epoch, per verifier: the
    /// verifiers' emission weights, cleared when the epoch's emission is paid.
    pub(crate) epoch_verifier_audits: BTreeMap<Address, u64>,
    /// What each recent epoch's emission minted (the last `PARTICIPATION_EPOCHS_KEPT` epochs).
    pub(crate) emissions: BTreeMap<u64, Emission>,
    /// Providers' storage offers (capacity, price, the bytes drawn to them).
    pub storage_offers: BTreeMap<Address, StorageOffer>,
    /// Open storage deals by id (the hash of the posting transaction); removed when they end.
    /// A deal's escrow is written only by the value moves (`value/`).
    pub deals: BTreeMap<Digest, Deal>,
    /// Shards waiting for their holder's accept, by due height (derived from `deals`, so not
    /// committed separately).
    pub(crate) storage_index: StorageIndex,
    /// What the storage challenges have done since genesis (the node's metrics read it).
    pub storage_stats: StorageStats,
    /// Staking rewards accrued and not yet withdrawn, per address (validators' commissions and
    /// everyone's stake share of the validators' emission). Part of the supply; written only by
    /// the value moves (`value/`): minted into by the emission, moved to the balance by a
    /// withdrawal.
    pub(in crate::ledger) rewards: BTreeMap<Address, Amount>,
    /// Governance proposals by id (sequential from 0), kept after they end. A voting proposal's
    /// deposit is held value (`Proposal::deposit_held`).
    pub proposals: BTreeMap<u64, crate::governance::records::Proposal>,
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

    /// The committee of the current epoch: the holders of the beacon key, who run consensus.
    pub fn committee(&self) -> &[Address] {
        &self.committee
    }

    /// The committee that takes over at the next epoch if this epoch's reshare succeeds.
    pub fn next_committee(&self) -> &[Address] {
        &self.next_committee
    }

    /// This epoch's reshare: each dealer's signed log.
    pub fn dealer_logs(&self) -> &BTreeMap<Address, Vec<u8>> {
        &self.dealer_logs
    }

    /// What each recent epoch's emission minted.
    pub fn emissions(&self) -> &BTreeMap<u64, Emission> {
        &self.emissions
    }

    /// Every account, by address.
    pub fn accounts(&self) -> &BTreeMap<Address, Account> {
        &self.accounts
    }

    /// Staking rewards accrued and not yet withdrawn, per address.
    pub fn rewards(&self) -> &BTreeMap<Address, Amount> {
        &self.rewards
    }

    /// The staking rewards `address` has accrued and not yet withdrawn.
    pub fn accrued_rewards(&self, address: &Address) -> Amount {
        self.rewards.get(address).copied().unwrap_or(0)
    }

    /// The audit fee pool: what verifiers are paid from.
    pub fn audit_pool(&self) -> Amount {
        self.audit_pool
    }

    /// Consumes `address`'s nonce: its transaction is in the ledger.
    pub(crate) fn consume_nonce(&mut self, address: &Address) {
        self.accounts.entry(address.clone()).or_default().nonce += 1;
    }

    /// The public side of the committee's beacon key.
    pub fn beacon_sharing(&self) -> &BeaconSharing {
        self.beacon_key.public()
    }

    /// The block the consensus of the next block's epoch starts from: this block if it is the
    /// last of its epoch, else the current epoch's boundary.
    pub fn epoch_start_block(&self) -> Digest {
        if self.epochs.is_last(self.height) {
            self.block_hash
        } else {
            self.epoch_boundary
        }
    }

    /// The epoch that the block at `height` belongs to.
    pub fn epoch_of(&self, height: u64) -> u64 {
        self.epochs.epoch_of(height)
    }

    /// The epoch schedule: each epoch's first height and length, including a change of length
    /// a passed proposal scheduled.
    pub fn epochs(&self) -> &EpochSchedule {
        &self.epochs
    }

    /// (delegator, validator) -> delegated amount.
    pub fn delegations(&self) -> &BTreeMap<(Address, Address), Amount> {
        &self.delegations
    }

    /// Unbonding entries by (release height, sequence).
    pub fn unbondings(&self) -> &BTreeMap<(u64, u64), Unbonding> {
        &self.unbondings
    }

    /// Unbonding entries in flight per owner.
    pub fn unbonding_counts(&self) -> &BTreeMap<Address, u32> {
        &self.unbonding_counts
    }

    /// The block the current epoch's consensus starts from.
    pub fn epoch_boundary(&self) -> Digest {
        self.epoch_boundary
    }

    /// Shards waiting for their holder's accept, by due height.
    pub fn storage_index(&self) -> &StorageIndex {
        &self.storage_index
    }

    /// The market's height-ordered work lists.
    pub fn market_index(&self) -> &MarketIndex {
        &self.market_index
    }

    /// Fuel of the jobs whose audit passed in the current epoch, per provider.
    pub fn epoch_audited_fuel(&self) -> &BTreeMap<Address, u128> {
        &self.epoch_audited_fuel
    }

    /// Audits passed plus disputes won in the current epoch, per verifier.
    pub fn epoch_verifier_audits(&self) -> &BTreeMap<Address, u64> {
        &self.epoch_verifier_audits
    }
}
