//! The end of a block: everything that happens after its transactions, in one place and in this
//! order. Each step touches only the entries due at this height (the market's height index, the
//! unbonding queue), so a block's cost follows its work, not the size of the state.
//!
//! The order is part of consensus: changing it changes state roots.

use crate::fueltrace::{audits, canaries, disputes, rewards, verifiers};
use crate::governance::proposals;
use crate::ledger::state::State;
use crate::market::index::take_due;
use crate::market::{registry, settlement};
use crate::staking::{bonds, reshare, rewards as staking_rewards};
use crate::storage::{challenges, deals, holders};
use plexus_types::Digest;

/// Runs the end of block `height` (whose beacon seed is `seed`), step by step.
pub(crate) fn end_block(state: &mut State, height: u64, seed: &Digest) {
    release_unbondings(state, height);
    draw_audits(state, height, seed);
    lapse_audits(state, height);
    lapse_disputes(state, height);
    release_verifiers(state, height);
    settle_jobs(state, height);
    expire_jobs(state, height);
    release_providers(state, height);
    prune_jobs(state, height);
    redraw_shards(state, height, seed);
    judge_proofs(state, height, seed);
    open_challenges(state, height, seed);
    governance(state, height);
    if state.epochs().is_last(height) {
        end_epoch(state, height);
    }
}

/// 1. Unbonded stake whose unbonding period ended returns to its owners' balances.
fn release_unbondings(state: &mut State, height: u64) {
    bonds::release_unbondings(state, height);
}

/// 2. Jobs committed `AUDIT_DRAW_DELAY_BLOCKS` ago get their audit draw from this block's seed
///    (and, with its own draw, a canary).
fn draw_audits(state: &mut State, height: u64, seed: &Digest) {
    for id in take_due(&mut state.market_index.draws, height) {
        audits::draw_audit(state, id, height, seed);
    }
}

/// 3. Audits whose verifier let its seal or its reveal lapse: the verifier forfeits the job's
///    value, and the job settles unaudited if it is due (the audit's `Outcome`, applied here).
fn lapse_audits(state: &mut State, height: u64) {
    for id in take_due(&mut state.market_index.audit_dues, height) {
        let outcome = audits::lapse_audit(state, id, height);
        settlement::release(state, outcome, height);
    }
}

/// 4. Disputes whose next move (or settlement) lapsed: the side that owed it loses; a job whose
///    provider won settles if it is due.
fn lapse_disputes(state: &mut State, height: u64) {
    for id in take_due(&mut state.market_index.dispute_dues, height) {
        let outcome = disputes::lapse_dispute(state, id, height);
        settlement::release(state, outcome, height);
    }
}

/// 5. Deregistered verifiers whose release height came get their bond back.
fn release_verifiers(state: &mut State, height: u64) {
    verifiers::release_due(state, height);
}

/// 6. Committed jobs whose settlement window ended are paid, unless an audit or a dispute holds
///    them (whichever closes the hold settles the job then).
fn settle_jobs(state: &mut State, height: u64) {
    for id in take_due(&mut state.market_index.settlements, height) {
        settlement::settle(state, id, height);
    }
}

/// 7. Jobs whose deadline passed without a commitment: full refund, an assigned provider slashed.
fn expire_jobs(state: &mut State, height: u64) {
    for id in take_due(&mut state.market_index.deadlines, height) {
        settlement::expire(state, id, height);
    }
}

/// 8. Deregistered providers whose release height came get their bond back.
fn release_providers(state: &mut State, height: u64) {
    registry::release_due(state, height);
}

/// 9. Finished jobs (and closed canaries) past their retention are forgotten with their audit
///    and dispute; an open canary copying a pruned job is withdrawn.
fn prune_jobs(state: &mut State, height: u64) {
    for id in take_due(&mut state.market_index.prunes, height) {
        state.jobs.remove(&id);
        state.audits.remove(&id);
        state.disputes.remove(&id);
        let outcome = canaries::withdraw_canary(state, &id, height);
        settlement::release(state, outcome, height);
    }
}

/// 10. Storage shards whose holder did not accept them in time are drawn again from this
///     block's seed.
fn redraw_shards(state: &mut State, height: u64, seed: &Digest) {
    holders::redraw_due(state, height, seed);
}

/// 11. Storage challenges whose window closes at this block without a proof are judged: excused
///     by a declared fault, or missed (burn; a shard lost draws its repairer from this block's
///     seed).
fn judge_proofs(state: &mut State, height: u64, seed: &Digest) {
    challenges::judge_due(state, height, seed);
}

/// 12. This block's share of the epoch's storage challenges opens, with this block's seed.
fn open_challenges(state: &mut State, height: u64, seed: &Digest) {
    challenges::open_due(state, height, seed);
}

/// 13. Governance: proposals whose voting ended with this block are tallied (their deposits
///     returned or burned), then passed proposals whose effect height it is change the
///     parameters (in force from the next block).
fn governance(state: &mut State, height: u64) {
    proposals::end_block(state, height);
}

/// 14. At an epoch's last block: storage deals pay their holders for the epoch's proven shards
///     (and the deals whose last epoch it was end), every active shard is queued for the next
///     epoch's challenges, the epoch's emission is paid (its storage share by the byte-epochs
///     proven; the validators' share accrues to them and their delegators at the commissions in
///     effect), the commissions set in the epoch take effect, then the reshare concludes (the
///     next committee takes over if a quorum dealt).
fn end_epoch(state: &mut State, height: u64) {
    let epoch = state.epoch_of(height);
    let proven = deals::pay_epoch(state, epoch);
    challenges::queue_next_epoch(state);
    rewards::emit(state, epoch, proven);
    staking_rewards::apply_pending_commissions(state);
    reshare::conclude(state);
}
