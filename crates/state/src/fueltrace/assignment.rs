//! Who re-runs an audit: the verifier draw (by free bond, among the verifiers with room and the
//! speed to meet the deadline cap, never the job's provider or consumer), the audit record it
//! creates, and what closing an audit without a verdict leaves behind.

use crate::fueltrace::records::{Audit, AuditStage, Canary, Outcome};
use crate::ledger::state::State;
use plexus_fueltrace::draws::{AuditKind, seal_blocks, verifier_target, weighted_pick};
use plexus_types::job::fuel_cost_ceil;
use plexus_types::{Address, Amount, Digest};

/// The job's value at the provider's ask: what a dispute's slash and deposit are counted in.
pub(crate) fn job_value(state: &State, id: &Digest) -> Option<Amount> {
    let job = state.jobs.get(id)?;
    let assignment = job.status.assignment()?;
    fuel_cost_ceil(job.max_fuel, assignment.ask_per_mfuel)
}

/// Who may be drawn for one audit.
pub(crate) struct Candidates<'a> {
    /// The audited job's provider and consumer: never its verifier.
    pub provider: &'a Address,
    pub consumer: &'a Address,
    /// The deposit a dispute the verifier opens would hold: its free bond must cover it.
    pub deposit: Amount,
    /// What the audit re-runs: the verifier's speed must do it within the deadline's cap.
    pub rerun_fuel: u64,
    /// Verifiers that declined this audit.
    pub declined: &'a [Address],
}

/// A verifier drawn by free bond among the candidates (draw `counter` of the audit), with the
/// blocks to its seal deadline.
pub(crate) fn draw_verifier(
    state: &State,
    seed: &Digest,
    id: &Digest,
    counter: u64,
    who: &Candidates<'_>,
) -> Option<(Address, u64)> {
    let params = &state.params.audit;
    let eligible: Vec<(&Address, Amount, u64)> = state
        .verifiers
        .iter()
        .filter(|(address, verifier)| {
            *address != who.provider
                && *address != who.consumer
                && !who.declined.contains(address)
                && verifier.unbonding_release.is_none()
                && verifier.bond >= params.verifier_bond_min
                && verifier.has_room()
                // It can put up the deposit a dispute it opens would hold.
                && verifier.bond_free() >= who.deposit.max(1)
        })
        .filter_map(|(address, verifier)| {
            let blocks = seal_blocks(params, who.rerun_fuel, verifier.fuel_per_second)?;
            Some((address, verifier.bond_free(), blocks))
        })
        .collect();
    let total = eligible
        .iter()
        .try_fold(0u128, |sum, (_, weight, _)| sum.checked_add(*weight))?;
    if total == 0 {
        return None;
    }
    let target = verifier_target(seed, id, counter, total);
    let index = weighted_pick(eligible.iter().map(|(_, weight, _)| *weight), target)?;
    let (address, _, blocks) = eligible.into_iter().nth(index)?;
    Some((address.clone(), blocks))
}

/// An audit about to be assigned: what it re-runs, and its history.
pub(crate) struct Draft {
    pub kind: AuditKind,
    pub canary: Option<Canary>,
    pub declined: Vec<Address>,
}

/// Records audit `id` for `verifier`, its seal due `seal_blocks` from `height`.
pub(crate) fn assign(
    state: &mut State,
    id: Digest,
    draft: Draft,
    verifier: Address,
    seal_blocks: u64,
    height: u64,
) {
    let due_height = height.saturating_add(seal_blocks);
    if let Some(record) = state.verifiers.get_mut(&verifier) {
        record.open += 1;
    }
    state.audits.insert(
        id,
        Audit {
            kind: draft.kind,
            verifier,
            drawn_height: height,
            due_height,
            stage: AuditStage::Drawn,
            paid: 0,
            canary: draft.canary,
            declined: draft.declined,
        },
    );
    state.market_index.audit_dues.insert((due_height, id));
}

/// After an audit closed without a verdict (lapsed or declined): a canary is pruned with the
/// retention of a finished job; a job is released to settle if its settlement is due.
pub(crate) fn close_unaudited(state: &mut State, id: Digest, height: u64) -> Outcome {
    let canary = state.audits.get(&id).is_some_and(|a| a.canary.is_some());
    if canary {
        if let Some(audit) = state.audits.get_mut(&id) {
            // A closed canary's `due_height` is when it closed (`MarketIndex::derive`).
            audit.due_height = height;
        }
        let due = height.saturating_add(state.params.job_retention_blocks);
        state.market_index.prunes.insert((due, id));
    }
    Outcome::Released(id)
}
