//! Audits: drawn by the beacon, sealed and revealed by the drawn verifier, declined or lapsed.
//!
//! Life of an audit (one per committed job at most):
//! - At `committed_height + AUDIT_DRAW_DELAY_BLOCKS` the block's beacon seed (a threshold
//!   signature over a height after the commitment's, so unknown when the provider committed)
//!   decides: a full audit with probability `p_F` (always, when the consumer bought one), a light
//!   audit of `k` random segments plus the last with probability `p_L`, or none. A verifier is
//!   drawn by free bond among registered verifiers, never the job's provider or consumer, and
//!   only one with room: fewer open audits than its declared `capacity`, and a declared speed
//!   that re-runs the audit within `audit_rerun_blocks_max` ([`rerun_blocks`]).
//! - The verifier commits a seal (`AuditCommit`) within `response_blocks` plus the blocks its
//!   re-run is granted: the audit's fuel at its own declared `fuel_per_second`, times
//!   `audit_time_margin_bps`, over `audit_block_ms` ([`seal_blocks`]). It then reveals the
//!   verdict and salt (`AuditReveal`) within `response_blocks`. Agreement passes the audit; a
//!   disagreement opens a dispute with the verifier as challenger. A verifier that misses a step
//!   forfeits the job's value from its bond (burned), is recorded (`audits_missed`), and the job
//!   settles as if unaudited. A verifier that declared itself faster than it is gets deadlines
//!   it cannot meet: its own bond is all it risks.
//! - Until its seal is due the verifier may decline (`AuditDecline`): no slash, the decline is
//!   recorded (`audits_declined`) and the audit is drawn again, with a fresh deadline, among the
//!   verifiers that have not declined it. After `AUDIT_DECLINES_MAX` declines, or when nobody
//!   else can be drawn, it closes as declined and the job settles unaudited.
//! - While an audit or a dispute is open the job does not settle.
//!
//! The module of FuelTrace on chain a reader starts from; the dispute an audit's disagreement
//! opens is `disputes.rs`, canaries are `canaries.rs`, the draw of the verifier
//! `assignment.rs`, verifier pay and the emission `rewards.rs`.

use crate::fueltrace::assignment::{
    Candidates, Draft, assign, close_unaudited, draw_verifier, job_value,
};
use crate::fueltrace::canaries::{close_canary, draw_canary};
use crate::fueltrace::disputes::open_dispute;
use crate::fueltrace::records::{AUDIT_DECLINES_MAX, Audit, AuditStage, Outcome};
use crate::fueltrace::rewards;
use crate::fueltrace::verifiers::close_verifier_audit;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::JobStatus;
use plexus_fueltrace::dissection::Dissection;
use plexus_fueltrace::draws::{AuditKind, audit_kind, rerun_fuel};
use plexus_types::audit::{Verdict, audit_seal};
use plexus_types::{Address, Amount, Digest, Reason};

/// The audit draw of committed job `id` (due this block): its audit, if the seed draws one and a
/// verifier can take it, then its canary.
pub(crate) fn draw_audit(state: &mut State, id: Digest, height: u64, seed: &Digest) {
    let Some(job) = state.jobs.get(&id) else {
        return;
    };
    let JobStatus::Committed {
        assignment,
        commitment,
        ..
    } = &job.status
    else {
        return;
    };
    let segments = u64::from(commitment.segments);
    // A zero-fuel refusal has no trace to check.
    if segments == 0 || state.audits.contains_key(&id) {
        return;
    }
    // The job's own audit is drawn before its canary, so a verifier with room for one audit
    // takes the consumer's.
    if let Some(kind) = audit_kind(&state.params.audit, seed, &id, job.audit, segments) {
        let who = Candidates {
            provider: &assignment.provider,
            consumer: &job.consumer,
            deposit: job_value(state, &id).unwrap_or(Amount::MAX),
            rerun_fuel: rerun_fuel(&state.params.audit, &kind, job.max_fuel),
            declined: &[],
        };
        if let Some((verifier, blocks)) = draw_verifier(state, seed, &id, 0, &who) {
            let draft = Draft {
                kind,
                canary: None,
                declined: Vec::new(),
            };
            assign(state, id, draft, verifier, blocks, height);
        }
    }
    draw_canary(state, id, height, seed);
}

/// The drawn verifier declines audit `id` before its seal is due: no slash. The audit is drawn
/// again (draw number = its declines so far, from this block's seed) among the verifiers that
/// have not declined it, with a deadline from now at the new verifier's speed; if nobody can
/// take it, or it has been declined `AUDIT_DECLINES_MAX` times, it closes as declined and the
/// job settles unaudited (as when no verifier exists).
pub(crate) fn decline(
    state: &mut State,
    sender: &Address,
    id: Digest,
    height: u64,
    seed: &Digest,
) -> Result<Outcome, Reason> {
    let audit = open_audit(state, sender, &id)?;
    if audit.stage != AuditStage::Drawn {
        return Err(Reason::AuditClosed);
    }
    // At the due height the audit is sealed or lapses: a decline is an answer given in time.
    if height >= audit.due_height {
        return Err(Reason::DeclineTooLate);
    }
    let (old_due, kind, canary) = (audit.due_height, audit.kind.clone(), audit.canary.clone());
    let mut declined = audit.declined.clone();
    declined.push(sender.clone());
    state.market_index.audit_dues.remove(&(old_due, id));
    close_verifier_audit(state, sender);
    if let Some(record) = state.verifiers.get_mut(sender) {
        record.audits_declined += 1;
    }
    let job_id = canary.as_ref().map_or(id, |canary| canary.of);
    let redrawn = state.jobs.get(&job_id).and_then(|job| {
        let provider = &job.status.assignment()?.provider;
        let who = Candidates {
            provider,
            consumer: &job.consumer,
            deposit: job_value(state, &job_id).unwrap_or(Amount::MAX),
            rerun_fuel: rerun_fuel(&state.params.audit, &kind, job.max_fuel),
            declined: &declined,
        };
        let counter = declined.len() as u64;
        (declined.len() < AUDIT_DECLINES_MAX)
            .then(|| draw_verifier(state, seed, &id, counter, &who))
            .flatten()
    });
    match redrawn {
        Some((verifier, blocks)) => {
            let draft = Draft {
                kind,
                canary,
                declined,
            };
            assign(state, id, draft, verifier, blocks, height);
            Ok(Outcome::Held)
        }
        None => {
            if let Some(audit) = state.audits.get_mut(&id) {
                audit.stage = AuditStage::Declined;
                audit.declined = declined;
            }
            Ok(close_unaudited(state, id, height))
        }
    }
}

fn open_audit<'a>(state: &'a State, sender: &Address, job: &Digest) -> Result<&'a Audit, Reason> {
    let audit = state.audits.get(job).ok_or(Reason::NotAuditor)?;
    if audit.verifier != *sender {
        return Err(Reason::NotAuditor);
    }
    if !audit.is_open() {
        return Err(Reason::AuditClosed);
    }
    Ok(audit)
}

/// The drawn verifier seals its verdict.
pub(crate) fn commit(
    state: &mut State,
    sender: &Address,
    job: Digest,
    seal: Digest,
    height: u64,
) -> Result<(), Reason> {
    let audit = open_audit(state, sender, &job)?;
    if audit.stage != AuditStage::Drawn {
        return Err(Reason::AuditClosed);
    }
    let old_due = audit.due_height;
    let due_height = height.saturating_add(state.params.audit.response_blocks);
    if let Some(audit) = state.audits.get_mut(&job) {
        audit.stage = AuditStage::Sealed { seal };
        audit.due_height = due_height;
    }
    state.market_index.audit_dues.remove(&(old_due, job));
    state.market_index.audit_dues.insert((due_height, job));
    Ok(())
}

/// The verifier opens its seal; a disagreement opens a dispute.
pub(crate) fn reveal(
    state: &mut State,
    sender: &Address,
    id: Digest,
    verdict: &Verdict,
    salt: &Digest,
    height: u64,
) -> Result<Outcome, Reason> {
    let audit = open_audit(state, sender, &id)?;
    let AuditStage::Sealed { seal } = audit.stage else {
        return Err(Reason::AuditClosed);
    };
    if audit_seal(&id, sender, verdict, salt) != seal {
        return Err(Reason::SealMismatch);
    }
    if audit.canary.is_some() {
        let due = audit.due_height;
        close_canary(state, id, sender, verdict, height)?;
        state.market_index.audit_dues.remove(&(due, id));
        return Ok(Outcome::Held);
    }
    let job = state.jobs.get(&id).ok_or(Reason::UnknownJob)?;
    let commitment = job.status.commitment().ok_or(Reason::NotDisputable)?;
    // What the dispute (if any) opens on: the whole trace, or one drawn segment.
    let disputed: Option<(u64, u64)> = match (&audit.kind, verdict) {
        (AuditKind::Full, Verdict::Full(claim)) => {
            (claim != commitment).then_some((0, u64::from(commitment.segments)))
        }
        (AuditKind::Light { segments }, Verdict::Light { disputed }) => match disputed {
            None => None,
            Some(segment) if segments.contains(segment) => Some((*segment, segment + 1)),
            Some(_) => return Err(Reason::InvalidVerdict),
        },
        _ => return Err(Reason::InvalidVerdict),
    };
    let audit_due = audit.due_height;
    // Everything that can refuse the reveal is checked before anything is written.
    let opens = disputed.is_some() && !state.disputes.contains_key(&id);
    if let (true, Some((lo, hi))) = (opens, disputed) {
        let leaves = u64::from(commitment.segments) + 1;
        let root = commitment.trace_root;
        Dissection::open(state.params.audit.dissection_arity, leaves, lo, hi, root)
            .map_err(|_| Reason::InvalidVerdict)?;
        if !state.verifiers.contains_key(sender) || job_value(state, &id).is_none() {
            return Err(Reason::InvalidVerdict);
        }
    }
    state.market_index.audit_dues.remove(&(audit_due, id));
    match disputed {
        None => {
            pass_audit(state, &id, sender);
            return Ok(Outcome::Released(id));
        }
        Some((lo, hi)) => {
            if let Some(audit) = state.audits.get_mut(&id) {
                audit.stage = AuditStage::Disputed;
            }
            // The audit's `open` count passes to the dispute (or ends if one is already open).
            if state.disputes.contains_key(&id) {
                close_verifier_audit(state, sender);
            } else {
                open_dispute(state, id, sender.clone(), true, lo, hi, height)?;
            }
        }
    }
    Ok(Outcome::Held)
}

fn pass_audit(state: &mut State, id: &Digest, verifier: &Address) {
    let provider = state
        .jobs
        .get(id)
        .and_then(|job| job.status.assignment())
        .map(|a| a.provider.clone());
    if let Some(audit) = state.audits.get_mut(id) {
        audit.stage = AuditStage::Passed;
    }
    if let Some(record) = state.verifiers.get_mut(verifier) {
        record.audits_done += 1;
    }
    close_verifier_audit(state, verifier);
    // Agreeing with a commitment a dispute may still refute (or has refuted) earns nothing.
    let contested = state.disputes.get(id).is_some_and(|d| d.ruling.is_none())
        || !matches!(
            state.jobs.get(id).map(|job| &job.status),
            Some(JobStatus::Committed { .. })
        );
    if contested {
        return;
    }
    rewards::pay_verifier(state, id, verifier);
    rewards::credit_audited_fuel(state, id);
    if let Some(provider) = provider.and_then(|p| state.providers.get_mut(&p)) {
        provider.audits_passed += 1;
    }
}

/// An audit whose step lapsed: recorded against the verifier; the job is released to settle
/// unaudited.
pub(crate) fn lapse_audit(state: &mut State, id: Digest, height: u64) -> Outcome {
    let Some(audit) = state.audits.get(&id) else {
        return Outcome::Held;
    };
    if !audit.is_open() || audit.due_height > height {
        return Outcome::Held;
    }
    let verifier = audit.verifier.clone();
    // The verifier forfeits the deposit a dispute would have held (the job's value), burned:
    // a verifier that does not answer must not be a free way to make an audit go away.
    let job = audit.canary.as_ref().map_or(id, |canary| canary.of);
    let value = job_value(state, &job).unwrap_or(0);
    let mut forfeited = 0;
    if let Some(record) = state.verifiers.get_mut(&verifier) {
        forfeited = value.min(record.bond_free());
        record.slashed += forfeited;
    }
    state.burn_held(Held::VerifierBond(&verifier), forfeited);
    if let Some(audit) = state.audits.get_mut(&id) {
        audit.stage = AuditStage::Missed;
    }
    if let Some(record) = state.verifiers.get_mut(&verifier) {
        record.audits_missed += 1;
    }
    close_verifier_audit(state, &verifier);
    close_unaudited(state, id, height)
}
