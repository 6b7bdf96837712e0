//! Recomputing what the ledger derives, to check it: the supply (`State::recount`) and the
//! market's height index (`MarketIndex::derive`, also what a decoded snapshot rebuilds).

use crate::fueltrace::records::AUDIT_DRAW_DELAY_BLOCKS;
use crate::ledger::state::{State, Validator};
use crate::market::index::MarketIndex;
use crate::market::jobs::JobStatus;
use crate::storage::records::StorageIndex;
use plexus_types::{Address, Amount};
use std::collections::{BTreeMap, BTreeSet};

impl State {
    /// Recomputes the supply from the ledger (balances + bonded + unbonding + provider bonds +
    /// escrows of unfinished jobs + verifier bonds + consumers' dispute deposits + the audit
    /// pool + the escrows of open storage deals + accrued staking rewards + the deposits of voting proposals) and checks that the stake and market records agree with each
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
        for accrued in self.rewards.values() {
            total = total.checked_add(*accrued).ok_or(SupplyError::Overflow)?;
        }
        for proposal in self.proposals.values() {
            total = total
                .checked_add(proposal.deposit_held())
                .ok_or(SupplyError::Overflow)?;
        }
        Ok(total)
    }

    /// Provider bonds plus held escrows, after checking each provider's locks and in-flight
    /// count against its jobs and the market index against the records.
    fn recount_market(&self) -> Result<Amount, SupplyError> {
        let mut total: Amount = 0;
        let mut locks = BTreeMap::<&Address, (Amount, u32)>::new();
        total = total
            .checked_add(self.recount_storage(&mut locks)?)
            .ok_or(SupplyError::Overflow)?;
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
    /// The escrows of the open deals, after adding each shard's collateral to its holder's
    /// locks and checking each offer's used bytes, the distinct holders of each segment and the
    /// storage index against the deals.
    fn recount_storage<'a>(
        &'a self,
        locks: &mut BTreeMap<&'a Address, (Amount, u32)>,
    ) -> Result<Amount, SupplyError> {
        let mut total: Amount = 0;
        let mut used = BTreeMap::<&Address, u64>::new();
        for deal in self.deals.values() {
            total = total
                .checked_add(deal.escrow)
                .ok_or(SupplyError::Overflow)?;
            for segment in &deal.segments {
                let holders: BTreeSet<&Address> =
                    segment.shards.iter().map(|shard| &shard.holder).collect();
                let lost_locks = segment
                    .shards
                    .iter()
                    .any(|shard| !shard.reserves() && shard.collateral != 0);
                if holders.len() != segment.shards.len() || lost_locks {
                    return Err(SupplyError::Storage);
                }
                for shard in segment.shards.iter().filter(|shard| shard.reserves()) {
                    let lock = locks.entry(&shard.holder).or_default();
                    lock.0 = lock
                        .0
                        .checked_add(shard.collateral)
                        .ok_or(SupplyError::Overflow)?;
                    let bytes = used.entry(&shard.holder).or_default();
                    *bytes = bytes
                        .checked_add(segment.shard_bytes)
                        .ok_or(SupplyError::Overflow)?;
                }
            }
        }
        for (address, offer) in &self.storage_offers {
            if used.remove(address).unwrap_or(0) != offer.used_bytes {
                return Err(SupplyError::Storage);
            }
        }
        let epoch = self.epoch_of(self.height + 1);
        if !used.is_empty() || StorageIndex::derive(&self.deals, epoch) != self.storage_index {
            return Err(SupplyError::Storage);
        }
        Ok(total)
    }

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
    #[error("the storage offers, holders or index disagree with the deals")]
    Storage,
}

impl MarketIndex {
    /// Rebuilds the index from the records it orders.
    pub fn derive(state: &State) -> MarketIndex {
        let mut index = MarketIndex::default();
        for (id, job) in &state.jobs {
            match &job.status {
                JobStatus::Posted | JobStatus::Assigned(_) => {
                    index.deadlines.insert((job.deadline_height, *id));
                }
                JobStatus::Committed {
                    settle_height,
                    committed_height,
                    ..
                } => {
                    // A job still committed after its settlement height is held by an audit or
                    // a dispute: its entry was taken then, and whichever closes the hold
                    // settles it (`settle_if_due`).
                    if *settle_height > state.height {
                        index.settlements.insert((*settle_height, *id));
                    }
                    let draw = committed_height.saturating_add(AUDIT_DRAW_DELAY_BLOCKS);
                    if draw > state.height {
                        index.draws.insert((draw, *id));
                    }
                }
                status => {
                    if let Some(height) = status.finished_height() {
                        let due = height.saturating_add(state.params.job_retention_blocks);
                        index.prunes.insert((due, *id));
                    }
                }
            }
        }
        for (address, provider) in &state.providers {
            if let Some(release) = provider.unbonding_release {
                index.releases.insert((release, address.clone()));
            }
        }
        for (id, audit) in &state.audits {
            if audit.is_open() {
                index.audit_dues.insert((audit.due_height, *id));
            } else if audit.canary.is_some() {
                // A closed canary's `due_height` is when it closed.
                let due = audit
                    .due_height
                    .saturating_add(state.params.job_retention_blocks);
                index.prunes.insert((due, *id));
            }
        }
        for (id, dispute) in &state.disputes {
            if dispute.ruling.is_none() {
                index.dispute_dues.insert((dispute.due_height, *id));
            }
        }
        for (address, verifier) in &state.verifiers {
            if let Some(release) = verifier.unbonding_release {
                index.verifier_releases.insert((release, address.clone()));
            }
        }
        index
    }
}
