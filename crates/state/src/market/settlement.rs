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

use crate::fueltrace::records::{AUDIT_DRAW_DELAY_BLOCKS, Audit, Outcome};
use crate::fueltrace::rewards;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::jobs::JobStatus;
use crate::market::providers::REPUTATION_MAX;
use plexus_fueltrace::money::bps_floor;
use plexus_types::job::{Commitment, fuel_cost_floor};
use plexus_types::{Address, Amount, Digest, Reason};

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
        || leaves > plexus_fueltrace::dissection::LEAVES_MAX
    {
        return Err(Reason::InvalidCommitment);
    }
    let deadline_height = job.deadline_height;
    // Never before the audit draw.
    let settle_height = height.saturating_add(
        state
            .params
            .settlement_window_blocks
            .max(AUDIT_DRAW_DELAY_BLOCKS),
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
    // The audit draw is due `AUDIT_DRAW_DELAY_BLOCKS` later (see `fueltrace::audits`).
    let draw = height.saturating_add(AUDIT_DRAW_DELAY_BLOCKS);
    state.market_index.draws.insert((draw, id));
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
    state.unlock(Held::Escrow, sender, escrow);
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

/// Applies what the end of an audit or a dispute left for its job: a released job settles if its
/// settlement height has passed (see `fueltrace::records::Outcome`).
pub(crate) fn release(state: &mut State, outcome: Outcome, height: u64) {
    if let Outcome::Released(id) = outcome {
        settle_if_due(state, id, height);
    }
}

/// Settles a committed job whose settlement height has passed, once no audit or dispute holds
/// it (called when one closes; a job still before its settlement height stays queued).
fn settle_if_due(state: &mut State, id: Digest, height: u64) {
    let due = match state.jobs.get(&id).map(|job| &job.status) {
        Some(JobStatus::Committed { settle_height, .. }) => *settle_height <= height,
        _ => false,
    };
    if due {
        settle(state, id, height);
    }
}

/// The provider lost a dispute: the consumer gets the whole escrow back, the job's lock is
/// released, and up to `slash` of the provider's bond is forfeit (at most what other jobs do not
/// lock). Returns the amount forfeit, still in the bond: the caller pays it to the winner or
/// burns it.
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
    state.unlock(Held::Escrow, &consumer, escrow);
    let mut slashed = 0;
    if let Some(provider) = state.providers.get_mut(&assignment.provider) {
        let others = provider.bond_locked - assignment.bond_locked;
        slashed = slash.min(provider.bond - others);
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
pub(crate) fn settle(state: &mut State, id: Digest, height: u64) {
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
    if holds(state, &id) {
        return;
    }
    // ask <= cap and total_fuel <= max_fuel, so the floor is at most the escrow's ceiling; the
    // `min` only guards that reasoning.
    let paid = fuel_cost_floor(commitment.total_fuel, assignment.ask_per_mfuel)
        .unwrap_or(job.escrow)
        .min(job.escrow);
    let refunded = job.escrow - paid;
    let consumer = job.consumer.clone();
    let split = rewards::take_from_payment(state, paid);
    let (burned, audit_fee) = (split.burned, split.audit_fee);
    state.unlock(Held::Escrow, &assignment.provider, split.provider);
    state.unlock(Held::Escrow, &consumer, refunded);
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
pub(crate) fn expire(state: &mut State, id: Digest, height: u64) {
    let Some(job) = state.jobs.get(&id) else {
        return;
    };
    let assignment = match &job.status {
        JobStatus::Posted => None,
        JobStatus::Assigned(assignment) => Some(assignment.clone()),
        _ => return,
    };
    let (consumer, escrow) = (job.consumer.clone(), job.escrow);
    state.unlock(Held::Escrow, &consumer, escrow);
    let mut slashed = 0;
    if let Some(assignment) = &assignment {
        let lock = assignment.bond_locked;
        let cut = bps_floor(lock, state.params.deadline_slash_bps);
        let penalty = state.params.reputation_miss_penalty;
        if let Some(provider) = state.providers.get_mut(&assignment.provider) {
            // cut <= lock <= bond_locked <= bond.
            slashed = cut.min(provider.bond);
            provider.bond_locked -= lock;
            provider.jobs_in_flight -= 1;
            provider.clear_largest();
            provider.slashed += slashed;
            provider.jobs_missed += 1;
            provider.reputation = provider.reputation.saturating_sub(penalty);
        }
        state.burn_held(Held::ProviderBond(&assignment.provider), slashed);
    }
    let status = JobStatus::Expired {
        assignment,
        refunded: escrow,
        slashed,
        height,
    };
    finish(state, id, status, height);
}

/// Whether an open audit or dispute holds the job's settlement.
fn holds(state: &State, id: &Digest) -> bool {
    state.audits.get(id).is_some_and(Audit::is_open)
        || state
            .disputes
            .get(id)
            .is_some_and(|dispute| dispute.ruling.is_none())
}
