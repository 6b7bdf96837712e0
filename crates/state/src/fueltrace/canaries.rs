//! Canaries (FUELTRACE.md, "Lazy verifiers"): with probability `canary_ppm` the protocol posts a
//! full audit of a copy of a just-committed job, under its own id, whose claimed commitment
//! carries an output hash nobody computed. An honest verifier's re-run disagrees with it and is
//! paid like any audit; a verifier that agrees has not checked, and is slashed
//! `verifier_slash_multiple` times the job's value, all of it burned. A canary whose job is pruned
//! before its verdict is withdrawn: nothing is owed either way.

use crate::fueltrace::assignment::{
    Candidates, Draft, assign, close_unaudited, draw_verifier, job_value,
};
use crate::fueltrace::records::{AuditStage, Canary, Outcome};
use crate::fueltrace::rewards;
use crate::fueltrace::verifiers::close_verifier_audit;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use plexus_fueltrace::draws::{AuditKind, canary_claim, canary_drawn, canary_id, rerun_fuel};
use plexus_types::audit::Verdict;
use plexus_types::{Address, Amount, Digest, Reason};

/// With probability `canary_ppm` (its own draw from the block seed), the protocol posts a canary
/// copying the just-committed job `of` for a verifier drawn as for any audit.
pub(crate) fn draw_canary(state: &mut State, of: Digest, height: u64, seed: &Digest) {
    let params = &state.params.audit;
    if !canary_drawn(params, seed, &of) {
        return;
    }
    let Some(job) = state.jobs.get(&of) else {
        return;
    };
    let (Some(assignment), Some(commitment)) = (job.status.assignment(), job.status.commitment())
    else {
        return;
    };
    let id = canary_id(&of);
    if state.audits.contains_key(&id) {
        return;
    }
    let claim = canary_claim(&of, commitment);
    let who = Candidates {
        provider: &assignment.provider,
        consumer: &job.consumer,
        deposit: job_value(state, &of).unwrap_or(Amount::MAX),
        rerun_fuel: rerun_fuel(params, &AuditKind::Full, job.max_fuel),
        declined: &[],
    };
    let Some((verifier, blocks)) = draw_verifier(state, seed, &id, 0, &who) else {
        return;
    };
    let draft = Draft {
        kind: AuditKind::Full,
        canary: Some(Canary {
            of,
            claim,
            flagged: None,
        }),
        declined: Vec::new(),
    };
    assign(state, id, draft, verifier, blocks, height);
}

/// Withdraws the open canary copying job `of`, which is being pruned (see
/// [`AuditStage::Withdrawn`]): no pay, no charge.
pub(crate) fn withdraw_canary(state: &mut State, of: &Digest, height: u64) -> Outcome {
    let id = canary_id(of);
    let Some(audit) = state.audits.get_mut(&id).filter(|audit| audit.is_open()) else {
        return Outcome::Held;
    };
    audit.stage = AuditStage::Withdrawn;
    let (due, verifier) = (audit.due_height, audit.verifier.clone());
    state.market_index.audit_dues.remove(&(due, id));
    close_verifier_audit(state, &verifier);
    close_unaudited(state, id, height)
}

/// A canary's reveal: an honest disagreement is paid, an agreement slashed (and burned).
pub(crate) fn close_canary(
    state: &mut State,
    id: Digest,
    verifier: &Address,
    verdict: &Verdict,
    height: u64,
) -> Result<(), Reason> {
    let Some(canary) = state.audits.get(&id).and_then(|a| a.canary.clone()) else {
        return Err(Reason::AuditClosed);
    };
    let Verdict::Full(result) = verdict else {
        return Err(Reason::InvalidVerdict);
    };
    let flagged = *result != canary.claim;
    if flagged {
        if let Some(record) = state.verifiers.get_mut(verifier) {
            record.canaries_flagged += 1;
            record.audits_done += 1;
        }
        rewards::pay_verifier(state, &id, verifier);
    } else {
        let value = job_value(state, &canary.of).unwrap_or(0);
        let multiple = u128::from(state.params.audit.verifier_slash_multiple);
        let mut slashed = 0;
        if let Some(record) = state.verifiers.get_mut(verifier) {
            // Never the deposits its open disputes hold.
            slashed = value.saturating_mul(multiple).min(record.bond_free());
            record.slashed += slashed;
            record.canaries_passed += 1;
        }
        state.burn_held(Held::VerifierBond(verifier), slashed);
    }
    close_verifier_audit(state, verifier);
    if let Some(audit) = state.audits.get_mut(&id) {
        audit.stage = if flagged {
            AuditStage::Disputed
        } else {
            AuditStage::Passed
        };
        // Closed canaries are pruned with the retention of a finished job.
        audit.due_height = height;
        if let Some(canary) = audit.canary.as_mut() {
            canary.flagged = Some(flagged);
        }
    }
    let due = height.saturating_add(state.params.job_retention_blocks);
    state.market_index.prunes.insert((due, id));
    Ok(())
}
