//! The compute market: jobs, escrow, matching, commitments, settlement and deadline slashes.
//!
//! Life of a job (its id is the hash of the transaction that posted it):
//! `Posted` -> (matched in the posting block) `Assigned` -> (the provider's commitment)
//! `Committed` -> (after `settlement_window_blocks`) `Settled`; or `Posted` -> `Cancelled` (by
//! the consumer) or `Expired` (deadline, no provider); or `Assigned` -> `Expired` (deadline, no
//! commitment: the provider is slashed). Finished jobs are kept `job_retention_blocks`, then pruned.
//!
//! Conservation: a job's `escrow` leaves the consumer's balance when it is posted and, while the
//! job is unfinished, is part of the supply (`State::recount`). It leaves the job exactly once:
//! at settlement as the payment `paid` plus `refunded` to the consumer's balance
//! (`paid = floor(total_fuel * ask / 10^6) <= escrow`, rounding dust to the consumer), or as a
//! full refund on cancellation or expiry. Of `paid`, `burned` leaves the supply and `audit_fee`
//! goes to the audit pool (`rewards::take_from_payment`); the provider's balance gets
//! `paid - burned - audit_fee`. A deadline slash burns part of the provider's bond
//! (`supply.total` and `supply.burned` move together).
//!
//! Matching is a lottery over eligible providers, weighted by bond and reputation and drawn from
//! the block's beacon seed. That seed (the signature over `h - 2`) is public before the block is
//! built, so a consumer that grinds its job id can aim at a provider; ARCHITECTURE.md records the
//! limit and why aiming cannot make an honest provider miss a deadline.
//!
//! Each block only touches due entries: `MarketIndex` orders deadlines, settlements, prunes and
//! provider releases by height. It is derived from the jobs and providers (not committed, rebuilt
//! when a snapshot is decoded).

use crate::State;
use crate::registry::REPUTATION_MAX;
use plexus_fueltrace::money::bps_floor;
use plexus_types::job::{
    AuditClass, Commitment, JOB_BLOBS_MAX, JOB_FUEL_MAX, fuel_cost_ceil, fuel_cost_floor,
};
use plexus_types::{Address, Amount, Digest, Reason, hash};
use std::collections::{BTreeMap, BTreeSet};

/// Who runs a job, at what price and with how much of its bond at stake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub provider: Address,
    /// The provider's ask when it was matched: the price the job is billed at.
    pub ask_per_mfuel: Amount,
    /// `ceil(max_fuel * ask / 10^6) * bond_lock_multiple`, locked in the provider's bond.
    pub bond_locked: Amount,
    /// The height it was matched at.
    pub height: u64,
}

/// Where a job is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// No provider matched; cancellable until the deadline.
    Posted,
    Assigned(Assignment),
    /// The provider committed; it settles at `settle_height`.
    Committed {
        assignment: Assignment,
        commitment: Commitment,
        committed_height: u64,
        settle_height: u64,
    },
    Settled {
        assignment: Assignment,
        commitment: Commitment,
        committed_height: u64,
        /// Taken from the escrow for the work: `floor(total_fuel * ask / 10^6)`. The provider's
        /// balance got `paid - burned - audit_fee`.
        paid: Amount,
        /// Of `paid`, burned (`payment_burn_bps`, rounded down).
        burned: Amount,
        /// Of `paid`, into the audit pool (`audit_fee_bps`, rounded down).
        audit_fee: Amount,
        /// To the consumer's balance (`escrow - paid`).
        refunded: Amount,
        height: u64,
    },
    /// The deadline passed before a commitment: the whole escrow went back; an assigned
    /// provider lost `slashed` of its bond.
    Expired {
        assignment: Option<Assignment>,
        refunded: Amount,
        slashed: Amount,
        height: u64,
    },
    Cancelled {
        refunded: Amount,
        height: u64,
    },
    /// The provider lost a dispute over its commitment: the whole escrow went back to the
    /// consumer and `slashed` left the provider's bond (`dispute.rs` says where it went).
    Refuted {
        assignment: Assignment,
        commitment: Commitment,
        committed_height: u64,
        refunded: Amount,
        slashed: Amount,
        height: u64,
    },
}

impl JobStatus {
    /// The lower-case name the API shows.
    pub fn name(&self) -> &'static str {
        match self {
            JobStatus::Posted => "posted",
            JobStatus::Assigned(_) => "assigned",
            JobStatus::Committed { .. } => "committed",
            JobStatus::Settled { .. } => "settled",
            JobStatus::Expired { .. } => "expired",
            JobStatus::Cancelled { .. } => "cancelled",
            JobStatus::Refuted { .. } => "refuted",
        }
    }

    /// The provider assigned to the job, if one ever was.
    pub fn assignment(&self) -> Option<&Assignment> {
        match self {
            JobStatus::Posted | JobStatus::Cancelled { .. } => None,
            JobStatus::Assigned(assignment)
            | JobStatus::Committed { assignment, .. }
            | JobStatus::Settled { assignment, .. }
            | JobStatus::Refuted { assignment, .. } => Some(assignment),
            JobStatus::Expired { assignment, .. } => assignment.as_ref(),
        }
    }

    /// The provider's commitment, once made.
    pub fn commitment(&self) -> Option<&Commitment> {
        match self {
            JobStatus::Committed { commitment, .. }
            | JobStatus::Settled { commitment, .. }
            | JobStatus::Refuted { commitment, .. } => Some(commitment),
            _ => None,
        }
    }

    /// The height the job finished at (settled, expired or cancelled), or `None` while its
    /// escrow is still held.
    pub fn finished_height(&self) -> Option<u64> {
        match self {
            JobStatus::Posted | JobStatus::Assigned(_) | JobStatus::Committed { .. } => None,
            JobStatus::Settled { height, .. }
            | JobStatus::Expired { height, .. }
            | JobStatus::Cancelled { height, .. }
            | JobStatus::Refuted { height, .. } => Some(*height),
        }
    }
}

/// A posted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub consumer: Address,
    /// BLAKE3 hashes of the module, the blobs and the input.
    pub module: Digest,
    pub blobs: Vec<Digest>,
    pub input: Digest,
    pub max_fuel: u64,
    pub price_cap_per_mfuel: Amount,
    pub audit: AuditClass,
    pub posted_height: u64,
    /// The last height at which a commitment is accepted; the job expires at its end.
    pub deadline_height: u64,
    /// `ceil(max_fuel * price_cap / 10^6)`, held while the job is unfinished.
    pub escrow: Amount,
    pub status: JobStatus,
}

impl Job {
    /// The escrow the job still holds (zero once finished).
    pub fn escrow_held(&self) -> Amount {
        if self.status.finished_height().is_some() {
            0
        } else {
            self.escrow
        }
    }
}

/// The height-ordered work lists of the market, derived from jobs and providers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketIndex {
    /// (deadline height, job) for posted and assigned jobs.
    pub deadlines: BTreeSet<(u64, Digest)>,
    /// (settle height, job) for committed jobs.
    pub settlements: BTreeSet<(u64, Digest)>,
    /// (finished height + retention, job) for finished jobs.
    pub prunes: BTreeSet<(u64, Digest)>,
    /// (release height, provider) for deregistering providers.
    pub releases: BTreeSet<(u64, Address)>,
    /// (draw height, job) for committed jobs whose audit has not been drawn yet.
    pub draws: BTreeSet<(u64, Digest)>,
    /// (due height, job) for open audits.
    pub audit_dues: BTreeSet<(u64, Digest)>,
    /// (due height, job) for open disputes.
    pub dispute_dues: BTreeSet<(u64, Digest)>,
    /// (release height, verifier) for deregistering verifiers.
    pub verifier_releases: BTreeSet<(u64, Address)>,
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
                    let draw =
                        committed_height.saturating_add(crate::dispute::AUDIT_DRAW_DELAY_BLOCKS);
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

/// A job as `Payload::JobPost` describes it.
pub(crate) struct Posting<'a> {
    pub module: Digest,
    pub blobs: &'a [Digest],
    pub input: Digest,
    pub max_fuel: u64,
    pub price_cap_per_mfuel: Amount,
    pub audit: AuditClass,
    pub deadline_blocks: u64,
}

/// Posts job `id` (the posting transaction's hash), takes its escrow and matches it with the
/// block's `seed`.
pub(crate) fn post(
    state: &mut State,
    consumer: Address,
    id: Digest,
    posting: Posting<'_>,
    height: u64,
    seed: &Digest,
) -> Result<(), Reason> {
    if !(1..=JOB_FUEL_MAX).contains(&posting.max_fuel)
        || posting.blobs.len() > JOB_BLOBS_MAX
        || !(state.params.job_deadline_min_blocks.max(1)..=state.params.job_deadline_max_blocks)
            .contains(&posting.deadline_blocks)
    {
        return Err(Reason::InvalidJob);
    }
    let escrow =
        fuel_cost_ceil(posting.max_fuel, posting.price_cap_per_mfuel).ok_or(Reason::Overflow)?;
    if state.account(&consumer).balance < escrow {
        return Err(Reason::InsufficientBalance);
    }
    // Transaction hashes are unique (sender and nonce are signed), so `id` is new.
    let deadline_height = height.saturating_add(posting.deadline_blocks);
    state.accounts.entry(consumer.clone()).or_default().balance -= escrow;
    let mut job = Job {
        consumer,
        module: posting.module,
        blobs: posting.blobs.to_vec(),
        input: posting.input,
        max_fuel: posting.max_fuel,
        price_cap_per_mfuel: posting.price_cap_per_mfuel,
        audit: posting.audit,
        posted_height: height,
        deadline_height,
        escrow,
        status: JobStatus::Posted,
    };
    if let Some(assignment) = draw_provider(state, &id, &job, height, seed) {
        let value = fuel_cost_ceil(job.max_fuel, assignment.ask_per_mfuel).unwrap_or(0);
        if let Some(provider) = state.providers.get_mut(&assignment.provider) {
            provider.bond_locked += assignment.bond_locked;
            provider.jobs_in_flight += 1;
            provider.largest_in_flight = provider.largest_in_flight.max(value);
        }
        job.status = JobStatus::Assigned(assignment);
    }
    state.jobs.insert(id, job);
    state.market_index.deadlines.insert((deadline_height, id));
    Ok(())
}

/// The lock a provider at `ask` puts up for `job`, if it fits in 128 bits.
fn lock_for(state: &State, job: &Job, ask: Amount) -> Option<Amount> {
    fuel_cost_ceil(job.max_fuel, ask)?.checked_mul(u128::from(state.params.bond_lock_multiple))
}

/// FUELTRACE.md's bond rule, `B >= (m + 1/p) * G_max`, for `provider` taking `job`: `m` its jobs
/// in flight with this one, `G_max` the largest value among them (at its ask, for the job's
/// whole `max_fuel`), `p` the audit probability `p_L + p_F`. It caps the value a provider holds
/// in flight so that, at any moment, its bond covers a slash for each job plus the deterrent
/// `G_max / p`. With audits off (`p = 0`) there is nothing to size the bond for.
fn bond_rule_holds(state: &State, job: &Job, provider: &crate::Provider) -> bool {
    let p = u128::from(state.params.audit.audit_ppm());
    if p == 0 {
        return true;
    }
    let Some(value) = fuel_cost_ceil(job.max_fuel, provider.ask_per_mfuel) else {
        return false;
    };
    let largest = provider.largest_in_flight.max(value);
    let m = u128::from(provider.jobs_in_flight) + 1;
    // (m + PPM / p) * G <= B, as m * G + G * PPM / p (rounded up) <= B, overflow refused.
    let deterrent = largest
        .checked_mul(u128::from(plexus_fueltrace::params::PPM))
        .map(|x| x.div_ceil(p));
    m.checked_mul(largest)
        .zip(deterrent)
        .and_then(|(a, b)| a.checked_add(b))
        .is_some_and(|needed| needed <= provider.bond)
}

/// The providers that may take `job` at `height`, in address order, with their lock and weight
/// `bond * (reputation + 1)` (saturating: a weight that large only happens with a bond above
/// 10^34 base units, and saturating keeps the draw deterministic).
fn candidates(state: &State, job: &Job, height: u64) -> Vec<(Address, Amount, Amount, u128)> {
    state
        .providers
        .iter()
        // Never its own job: that would farm reputation for the price of a fee.
        .filter(|(address, provider)| {
            **address != job.consumer
                && provider.is_active(&state.params, height)
                && provider.ask_per_mfuel <= job.price_cap_per_mfuel
                // A provider slashed below the minimum bond takes no new work until topped up.
                && provider.bond >= state.params.provider_bond_min
                && provider.jobs_in_flight < provider.capacity()
        })
        .filter_map(|(address, provider)| {
            let lock = lock_for(state, job, provider.ask_per_mfuel)?;
            if provider.bond_free() < lock || !bond_rule_holds(state, job, provider) {
                return None;
            }
            let weight = provider
                .bond
                .saturating_mul(u128::from(provider.reputation) + 1);
            Some((address.clone(), provider.ask_per_mfuel, lock, weight))
        })
        .collect()
}

/// The lottery: `draw = u128(first 16 bytes of SHA-256("plexus/match" | seed | job id)) mod
/// total weight`, then the first candidate whose cumulative weight exceeds the draw. `None` when
/// nobody is eligible (or every eligible weight is zero).
fn draw_provider(
    state: &State,
    id: &Digest,
    job: &Job,
    height: u64,
    seed: &Digest,
) -> Option<Assignment> {
    let candidates = candidates(state, job, height);
    let total = candidates
        .iter()
        .fold(0u128, |sum, (_, _, _, weight)| sum.saturating_add(*weight));
    if total == 0 {
        return None;
    }
    let digest = hash(&[b"plexus/match", seed.as_ref(), id.as_ref()]);
    let mut head = [0u8; 16];
    head.copy_from_slice(&digest.as_ref()[..16]);
    let draw = u128::from_be_bytes(head) % total;
    let mut cumulative = 0u128;
    for (provider, ask_per_mfuel, bond_locked, weight) in candidates {
        cumulative = cumulative.saturating_add(weight);
        if cumulative > draw {
            return Some(Assignment {
                provider,
                ask_per_mfuel,
                bond_locked,
                height,
            });
        }
    }
    None
}

/// Records the assigned provider's commitment; the job settles after the settlement window.
pub(crate) fn commit(
    state: &mut State,
    sender: &Address,
    id: Digest,
    commitment: Commitment,
    height: u64,
) -> Result<(), Reason> {
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    let assigned_to_sender = job
        .status
        .assignment()
        .is_some_and(|a| a.provider == *sender);
    let assignment = match &job.status {
        _ if !assigned_to_sender => return Err(Reason::NotAssigned),
        JobStatus::Assigned(assignment) => assignment.clone(),
        JobStatus::Committed { .. } | JobStatus::Settled { .. } => {
            return Err(Reason::AlreadyCommitted);
        }
        _ => return Err(Reason::DeadlinePassed),
    };
    if height > job.deadline_height {
        return Err(Reason::DeadlinePassed);
    }
    if commitment.total_fuel > job.max_fuel {
        return Err(Reason::InvalidCommitment);
    }
    // A trace that could not be disputed is no commitment: fuel without segments (only a
    // refusal, which bills nothing, has none) or more leaves than a dissection handles.
    let leaves = u64::from(commitment.segments) + 1;
    if (commitment.segments == 0 && commitment.total_fuel > 0)
        || leaves > plexus_types::dissection::LEAVES_MAX
    {
        return Err(Reason::InvalidCommitment);
    }
    let deadline_height = job.deadline_height;
    // Never before the audit draw.
    let settle_height = height.saturating_add(
        state
            .params
            .settlement_window_blocks
            .max(crate::dispute::AUDIT_DRAW_DELAY_BLOCKS),
    );
    if let Some(job) = state.jobs.get_mut(&id) {
        job.status = JobStatus::Committed {
            assignment,
            commitment,
            committed_height: height,
            settle_height,
        };
    }
    state.market_index.deadlines.remove(&(deadline_height, id));
    state.market_index.settlements.insert((settle_height, id));
    crate::dispute::schedule_draw(state, id, height);
    Ok(())
}

/// Cancels an unmatched job and refunds its whole escrow.
pub(crate) fn cancel(
    state: &mut State,
    sender: &Address,
    id: Digest,
    height: u64,
) -> Result<(), Reason> {
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    if job.consumer != *sender {
        return Err(Reason::NotConsumer);
    }
    if job.status != JobStatus::Posted {
        return Err(Reason::JobNotCancellable);
    }
    let (escrow, deadline_height) = (job.escrow, job.deadline_height);
    state.accounts.entry(sender.clone()).or_default().balance += escrow;
    state.market_index.deadlines.remove(&(deadline_height, id));
    finish(
        state,
        id,
        JobStatus::Cancelled {
            refunded: escrow,
            height,
        },
        height,
    );
    Ok(())
}

/// Sets a finished status and schedules the job's pruning.
fn finish(state: &mut State, id: Digest, status: JobStatus, height: u64) {
    if let Some(job) = state.jobs.get_mut(&id) {
        job.status = status;
    }
    let due = height.saturating_add(state.params.job_retention_blocks);
    state.market_index.prunes.insert((due, id));
}

/// Takes every entry of `set` due at or below `height`, in order.
pub(crate) fn take_due<K: Ord + Clone>(set: &mut BTreeSet<(u64, K)>, height: u64) -> Vec<K> {
    let mut due = Vec::new();
    while set.first().is_some_and(|(at, _)| *at <= height) {
        if let Some((_, key)) = set.pop_first() {
            due.push(key);
        }
    }
    due
}

/// End-of-block processing, after the transactions and in this order: audit draws, lapsed
/// audits and disputes and verifier releases (`dispute::end_block`), then settlements due,
/// deadlines due, provider releases due, prunes due.
pub(crate) fn end_block(state: &mut State, height: u64, seed: &Digest) {
    crate::dispute::end_block(state, height, seed);
    for id in take_due(&mut state.market_index.settlements, height) {
        settle(state, id, height);
    }
    for id in take_due(&mut state.market_index.deadlines, height) {
        expire(state, id, height);
    }
    crate::registry::release_due(state, height);
    for id in take_due(&mut state.market_index.prunes, height) {
        state.jobs.remove(&id);
        state.audits.remove(&id);
        state.disputes.remove(&id);
        crate::dispute::withdraw_canary(state, &id, height);
    }
}

/// Settles a committed job whose settlement height has passed, once no audit or dispute holds
/// it (called when one closes; a job still before its settlement height stays queued).
pub(crate) fn settle_if_due(state: &mut State, id: Digest, height: u64) {
    let due = match state.jobs.get(&id).map(|job| &job.status) {
        Some(JobStatus::Committed { settle_height, .. }) => *settle_height <= height,
        _ => false,
    };
    if due {
        settle(state, id, height);
    }
}

/// The provider lost a dispute: the consumer gets the whole escrow back, the job's lock is
/// released, and up to `slash` leaves the provider's bond (at most what other jobs do not
/// lock). Returns the amount taken; the caller pays or burns it.
pub(crate) fn refute(state: &mut State, id: Digest, slash: Amount, height: u64) -> Amount {
    let Some(job) = state.jobs.get(&id) else {
        return 0;
    };
    let JobStatus::Committed {
        assignment,
        commitment,
        committed_height,
        settle_height,
    } = job.status.clone()
    else {
        return 0;
    };
    let (consumer, escrow) = (job.consumer.clone(), job.escrow);
    state.market_index.settlements.remove(&(settle_height, id));
    state.accounts.entry(consumer).or_default().balance += escrow;
    let mut slashed = 0;
    if let Some(provider) = state.providers.get_mut(&assignment.provider) {
        let others = provider.bond_locked - assignment.bond_locked;
        slashed = slash.min(provider.bond - others);
        provider.bond -= slashed;
        provider.bond_locked -= assignment.bond_locked;
        provider.jobs_in_flight -= 1;
        provider.clear_largest();
        provider.slashed += slashed;
        provider.disputes_lost += 1;
        provider.reputation = 0;
    }
    let status = JobStatus::Refuted {
        assignment,
        commitment,
        committed_height,
        refunded: escrow,
        slashed,
        height,
    };
    finish(state, id, status, height);
    slashed
}

/// Takes the payment for the committed fuel at the provider's ask (less the burn and the audit
/// fee to the provider), refunds the rest, releases the lock.
fn settle(state: &mut State, id: Digest, height: u64) {
    let Some(job) = state.jobs.get(&id) else {
        return;
    };
    let JobStatus::Committed {
        assignment,
        commitment,
        committed_height,
        ..
    } = job.status.clone()
    else {
        return;
    };
    // An open audit or dispute holds the job; whichever closes it settles it then.
    if crate::dispute::holds(state, &id) {
        return;
    }
    // ask <= cap and total_fuel <= max_fuel, so the floor is at most the escrow's ceiling; the
    // `min` only guards that reasoning.
    let paid = fuel_cost_floor(commitment.total_fuel, assignment.ask_per_mfuel)
        .unwrap_or(job.escrow)
        .min(job.escrow);
    let refunded = job.escrow - paid;
    let consumer = job.consumer.clone();
    let split = crate::rewards::take_from_payment(state, paid);
    let (burned, audit_fee) = (split.burned, split.audit_fee);
    state
        .accounts
        .entry(assignment.provider.clone())
        .or_default()
        .balance += split.provider;
    state.accounts.entry(consumer).or_default().balance += refunded;
    let gain = state.params.reputation_done_gain;
    if let Some(provider) = state.providers.get_mut(&assignment.provider) {
        provider.bond_locked -= assignment.bond_locked;
        provider.jobs_in_flight -= 1;
        provider.clear_largest();
        provider.jobs_done += 1;
        // Reputation is for work done: a zero-fuel refusal (a module that failed admission,
        // content nobody served) settles without it, so refusing everything earns nothing.
        if commitment.total_fuel > 0 {
            provider.reputation = provider.reputation.saturating_add(gain).min(REPUTATION_MAX);
        }
    }
    let status = JobStatus::Settled {
        assignment,
        commitment,
        committed_height,
        paid,
        burned,
        audit_fee,
        refunded,
        height,
    };
    finish(state, id, status, height);
}

/// A job whose deadline passed without a commitment: full refund; an assigned provider loses
/// `lock * deadline_slash_bps / 10_000` of its bond (burned), a miss and reputation.
fn expire(state: &mut State, id: Digest, height: u64) {
    let Some(job) = state.jobs.get(&id) else {
        return;
    };
    let assignment = match &job.status {
        JobStatus::Posted => None,
        JobStatus::Assigned(assignment) => Some(assignment.clone()),
        _ => return,
    };
    let (consumer, escrow) = (job.consumer.clone(), job.escrow);
    state.accounts.entry(consumer).or_default().balance += escrow;
    let mut slashed = 0;
    if let Some(assignment) = &assignment {
        let lock = assignment.bond_locked;
        let cut = bps_floor(lock, state.params.deadline_slash_bps);
        let penalty = state.params.reputation_miss_penalty;
        if let Some(provider) = state.providers.get_mut(&assignment.provider) {
            // cut <= lock <= bond_locked <= bond.
            slashed = cut.min(provider.bond);
            provider.bond -= slashed;
            provider.bond_locked -= lock;
            provider.jobs_in_flight -= 1;
            provider.clear_largest();
            provider.slashed += slashed;
            provider.jobs_missed += 1;
            provider.reputation = provider.reputation.saturating_sub(penalty);
        }
        state.supply.total -= slashed;
        state.supply.burned = state.supply.burned.saturating_add(slashed);
    }
    let status = JobStatus::Expired {
        assignment,
        refunded: escrow,
        slashed,
        height,
    };
    finish(state, id, status, height);
}

/// Jobs of one consumer or provider, newest first (by posted height, then id), at most `limit`.
/// A scan of every retained job: the API's reads, not consensus.
pub fn jobs_where(
    jobs: &BTreeMap<Digest, Job>,
    matches: impl Fn(&Job) -> bool,
    limit: usize,
) -> Vec<(&Digest, &Job)> {
    let mut found: Vec<_> = jobs.iter().filter(|(_, job)| matches(job)).collect();
    found.sort_by(|a, b| {
        b.1.posted_height
            .cmp(&a.1.posted_height)
            .then_with(|| b.0.cmp(a.0))
    });
    found.truncate(limit);
    found
}
