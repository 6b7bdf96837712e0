//! Disputes over a provider's commitment (one per job, ever): opened by an audit's disagreement or
//! by the consumer (`DisputeOpen`, with a deposit of the job's value). The sides play
//! `plexus_types::dissection` (`DisputeMove`), each move due within `response_blocks`; the side
//! that lets a move lapse loses. A resolved game waits for `DisputeSettle`: the validators re-run
//! the one segment between the two adjacent proven leaves from the agreed pre-state, whose
//! manifest and pages are content (hash-named, fetched by the node's `Replayer`), and compare the
//! fuel, state root, and at the final leaf the output hash and the failure flag
//! (`replay::transition_holds`). If nobody settles in time the provider loses: it must keep
//! serving its checkpoints until the job settles.
//!
//! The loser pays: a provider is slashed `min(slash_multiple * R, its bond not locked by other
//! jobs)` (`R` = the job's value at its ask), the consumer gets the whole escrow back, the winner
//! `winner_share_bps` of the slash and the rest is burned; a challenger loses its deposit, split
//! the same way with the provider. Supply: verifier bonds and consumer deposits are part of the
//! supply (`State::recount`); slashes move value to the winner or burn it, nothing is minted.
//! A verifier that wins the dispute its audit opened is paid for its re-execution from the audit
//! pool and counted for the epoch emission (`rewards.rs`).

use crate::fueltrace::assignment::job_value;
use crate::fueltrace::records::{AuditStage, Dispute, DisputeEnd, Outcome, Ruling};
use crate::fueltrace::replay::{ReplayError, ReplayRequest, Replayer, transition_holds};
use crate::fueltrace::rewards;
use crate::fueltrace::verifiers::close_verifier_audit;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::JobStatus;
use crate::market::settlement;
use plexus_fueltrace::dissection::{Dissection, Move, Phase, Role};
use plexus_fueltrace::money::bps_floor;
use plexus_types::job::Commitment;
use plexus_types::{Address, Amount, ContentHash, Digest, Reason};

/// The failure of a dispute settlement: a receipt's reason, or content this node lacks.
#[derive(Debug)]
pub(crate) enum SettleError {
    Reason(Reason),
    Unavailable(String),
}

impl From<Reason> for SettleError {
    fn from(reason: Reason) -> Self {
        SettleError::Reason(reason)
    }
}

/// The consumer disputes a committed job with its own result.
pub(crate) fn consumer_open(
    state: &mut State,
    sender: &Address,
    id: Digest,
    claim: &Commitment,
    height: u64,
) -> Result<(), Reason> {
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    if job.consumer != *sender {
        return Err(Reason::NotConsumer);
    }
    let commitment = match &job.status {
        JobStatus::Committed { commitment, .. } => commitment,
        _ => return Err(Reason::NotDisputable),
    };
    if state.disputes.contains_key(&id) || commitment.segments == 0 {
        return Err(Reason::NotDisputable);
    }
    if claim == commitment {
        return Err(Reason::InvalidVerdict);
    }
    let segments = u64::from(commitment.segments);
    open_dispute(state, id, sender.clone(), false, 0, segments, height)
}

/// Opens a dispute over leaves `[lo, hi]` of the provider's trace, taking the deposit.
pub(crate) fn open_dispute(
    state: &mut State,
    id: Digest,
    challenger: Address,
    by_verifier: bool,
    lo: u64,
    hi: u64,
    height: u64,
) -> Result<(), Reason> {
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    let commitment = job.status.commitment().ok_or(Reason::NotDisputable)?;
    let leaves = u64::from(commitment.segments) + 1;
    let game = Dissection::open(
        state.params.audit.dissection_arity,
        leaves,
        lo,
        hi,
        commitment.trace_root,
    )
    .map_err(|_| Reason::InvalidVerdict)?;
    let value = job_value(state, &id).ok_or(Reason::NotDisputable)?;
    if by_verifier {
        // At most its free bond: a verifier is never asked for more than it has.
        let verifier = state
            .verifiers
            .get_mut(&challenger)
            .ok_or(Reason::UnknownVerifier)?;
        let deposit = value.min(verifier.bond_free());
        // An earmark within the bond (no value moves): the deposit a lost dispute takes.
        verifier.locked += deposit;
        // The audit's open count carries over to the dispute.
        insert_dispute(state, id, challenger, true, deposit, game, height);
    } else {
        // Refused (nothing changed) when the consumer is short; the dispute holds the deposit.
        state.lock(&challenger, Held::DisputeDeposit, value)?;
        insert_dispute(state, id, challenger, false, value, game, height);
    }
    Ok(())
}

fn insert_dispute(
    state: &mut State,
    id: Digest,
    challenger: Address,
    by_verifier: bool,
    deposit: Amount,
    game: Dissection,
    height: u64,
) {
    let due_height = height.saturating_add(state.params.audit.response_blocks);
    state.disputes.insert(
        id,
        Dispute {
            challenger,
            by_verifier,
            deposit,
            game,
            opened_height: height,
            due_height,
            ruling: None,
        },
    );
    state.market_index.dispute_dues.insert((due_height, id));
}

fn open_game<'a>(state: &'a State, id: &Digest) -> Result<&'a Dispute, Reason> {
    let dispute = state.disputes.get(id).ok_or(Reason::NoDispute)?;
    if dispute.ruling.is_some() {
        return Err(Reason::NoDispute);
    }
    Ok(dispute)
}

/// Whether `sender` is one of `dispute`'s two parties (its challenger or job `id`'s provider):
/// the only ones who may settle it.
pub fn is_party(state: &State, id: &Digest, dispute: &Dispute, sender: &Address) -> bool {
    *sender == dispute.challenger || provider_of(state, id).as_ref() == Some(sender)
}

fn provider_of(state: &State, id: &Digest) -> Option<Address> {
    state
        .jobs
        .get(id)
        .and_then(|job| job.status.assignment())
        .map(|a| a.provider.clone())
}

/// A move of the side whose turn it is.
pub(crate) fn play(
    state: &mut State,
    sender: &Address,
    id: Digest,
    step: &Move,
    height: u64,
) -> Result<(), Reason> {
    let dispute = open_game(state, &id)?;
    let mover = match dispute.game.to_move() {
        Some(Role::Defender) => provider_of(state, &id),
        Some(Role::Challenger) => Some(dispute.challenger.clone()),
        None => None,
    };
    if mover.as_ref() != Some(sender) {
        return Err(Reason::NotYourMove);
    }
    let mut game = dispute.game.clone();
    game.apply(step.clone()).map_err(|_| Reason::InvalidMove)?;
    let old_due = dispute.due_height;
    let due_height = height.saturating_add(state.params.audit.response_blocks);
    if let Some(dispute) = state.disputes.get_mut(&id) {
        dispute.game = game;
        dispute.due_height = due_height;
    }
    state.market_index.dispute_dues.remove(&(old_due, id));
    state.market_index.dispute_dues.insert((due_height, id));
    Ok(())
}

/// Re-runs the resolved segment and rules.
/// Only the two sides may settle: each settlement costs the validators a re-run, so nobody else
/// gets to make them try.
pub(crate) fn settle(
    state: &mut State,
    sender: &Address,
    id: Digest,
    manifest: ContentHash,
    height: u64,
    replayer: &dyn Replayer,
) -> Result<Outcome, SettleError> {
    let dispute = open_game(state, &id)?;
    if !is_party(state, &id, dispute, sender) {
        return Err(Reason::NotYourMove.into());
    }
    let Phase::Resolved { lo, hi } = dispute.game.phase() else {
        return Err(Reason::InvalidMove.into());
    };
    let (lo, hi) = (*lo, *hi);
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    let commitment = job.status.commitment().ok_or(Reason::NoDispute)?.clone();
    let provider = provider_of(state, &id).ok_or(Reason::NoDispute)?;
    let mut endpoints = Vec::new();
    if let Some(p) = state.providers.get(&provider) {
        endpoints.push(p.endpoint.clone());
    }
    if let Some(p) = state.providers.get(&dispute.challenger) {
        endpoints.push(p.endpoint.clone());
    }
    let request = ReplayRequest {
        job_id: id,
        module: job.module,
        blobs: job.blobs.clone(),
        input: job.input,
        max_fuel: job.max_fuel,
        seg_fuel: state.params.audit.seg_fuel,
        pre: lo,
        manifest,
        endpoints,
    };
    let replayed = match replayer.replay(&request) {
        Ok(replayed) => replayed,
        Err(ReplayError::Unavailable(what)) => return Err(SettleError::Unavailable(what)),
        Err(ReplayError::Invalid(_)) => return Err(Reason::ContentInvalid.into()),
    };
    let provider_right = transition_holds(&commitment, &hi, &replayed);
    Ok(rule(state, id, !provider_right, DisputeEnd::Replay, height))
}

/// Ends a dispute: slashes the loser, pays the winner its share, burns the rest; the job is
/// refuted (full refund) or released to settle.
fn rule(
    state: &mut State,
    id: Digest,
    provider_lost: bool,
    end: DisputeEnd,
    height: u64,
) -> Outcome {
    let Some(dispute) = state.disputes.get(&id).cloned() else {
        return Outcome::Held;
    };
    state
        .market_index
        .dispute_dues
        .remove(&(dispute.due_height, id));
    let share_bps = state.params.audit.winner_share_bps;
    let split = |amount: Amount| bps_floor(amount, share_bps);
    let provider = provider_of(state, &id);
    if provider_lost {
        // An audit still open on the refuted job ends without pay: there is nothing left to
        // check, and agreeing with the refuted commitment must not earn anything.
        if let Some(audit) = state.audits.get(&id).filter(|a| a.is_open()) {
            let (due, verifier) = (audit.due_height, audit.verifier.clone());
            state.market_index.audit_dues.remove(&(due, id));
            if let Some(audit) = state.audits.get_mut(&id) {
                audit.stage = AuditStage::Disputed;
            }
            close_verifier_audit(state, &verifier);
        }
    }
    let (slashed, to_winner);
    if provider_lost {
        let value = job_value(state, &id).unwrap_or(0);
        let multiple = u128::from(state.params.audit.slash_multiple);
        slashed = settlement::refute(state, id, value.saturating_mul(multiple), height);
        to_winner = split(slashed);
        // The challenger's deposit comes back whole.
        if dispute.by_verifier {
            if let Some(v) = state.verifiers.get_mut(&dispute.challenger) {
                v.locked -= dispute.deposit;
                v.disputes_won += 1;
            }
            // The verifier's re-execution found the fault: paid like a passed audit.
            rewards::pay_verifier(state, &id, &dispute.challenger);
        } else {
            state.unlock(Held::DisputeDeposit, &dispute.challenger, dispute.deposit);
        }
        // `refute` left the forfeit in the provider's bond: the winner's share, the rest burned.
        if let Some(provider) = &provider {
            let bond = Held::ProviderBond(provider);
            state.unlock(bond, &dispute.challenger, to_winner);
            state.burn_held(bond, slashed - to_winner);
        }
    } else {
        slashed = dispute.deposit;
        if dispute.by_verifier
            && let Some(v) = state.verifiers.get_mut(&dispute.challenger)
        {
            // deposit <= locked <= bond.
            v.locked -= dispute.deposit;
            v.slashed += dispute.deposit;
            v.disputes_lost += 1;
        }
        // A verifier's deposit is in its bond; a consumer's is held by the dispute. Without a
        // provider to pay (it cannot happen: the job was assigned), the whole deposit is burned.
        let deposit = if dispute.by_verifier {
            Held::VerifierBond(&dispute.challenger)
        } else {
            Held::DisputeDeposit
        };
        to_winner = provider.as_ref().map_or(0, |_| split(slashed));
        if let Some(provider) = &provider {
            state.unlock(deposit, provider, to_winner);
        }
        state.burn_held(deposit, slashed - to_winner);
    }
    if dispute.by_verifier {
        close_verifier_audit(state, &dispute.challenger);
    }
    if let Some(record) = state.disputes.get_mut(&id) {
        record.ruling = Some(Ruling {
            provider_lost,
            end,
            slashed,
            to_winner,
            height,
        });
    }
    if provider_lost {
        Outcome::Held
    } else {
        Outcome::Released(id)
    }
}

/// A dispute whose move (or settlement) lapsed: the side that owed it loses.
pub(crate) fn lapse_dispute(state: &mut State, id: Digest, height: u64) -> Outcome {
    let Some(dispute) = state.disputes.get(&id) else {
        return Outcome::Held;
    };
    if dispute.ruling.is_some() || dispute.due_height > height {
        return Outcome::Held;
    }
    // The defender owes every reveal and proof, and the settlement of a resolved game (it must
    // serve its checkpoints); the challenger owes its choices.
    let provider_lost = dispute.game.to_move() != Some(Role::Challenger);
    rule(state, id, provider_lost, DisputeEnd::Timeout, height)
}
