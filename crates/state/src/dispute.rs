//! FuelTrace on chain: verifiers, audits drawn by the beacon, and dissection disputes ended by a
//! re-execution of one segment inside block execution.
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
//! Life of a dispute (one per job, ever): opened by an audit's disagreement or by the consumer
//! (`DisputeOpen`, with a deposit of the job's value). The sides play
//! `plexus_types::dissection` (`DisputeMove`), each move due within `response_blocks`; the side
//! that lets a move lapse loses. A resolved game waits for `DisputeSettle`: the validators re-run
//! the one segment between the two adjacent proven leaves from the agreed pre-state, whose
//! manifest and pages are content (hash-named, fetched by the node's [`Replayer`]), and compare the
//! fuel, state root, and at the final leaf the output hash and the failure flag. If nobody settles
//! in time the provider loses: it must keep serving its checkpoints until the job settles.
//!
//! The loser pays: a provider is slashed `min(slash_multiple * R, its bond not locked by other
//! jobs)` (`R` = the job's value at its ask), the consumer gets the whole escrow back, the winner
//! `winner_share_bps` of the slash and the rest is burned; a challenger loses its deposit, split
//! the same way with the provider. Supply: verifier bonds and consumer deposits are part of the
//! supply (`State::recount`); slashes move value to the winner or burn it, nothing is minted.
//! A verifier whose audit passes, or that wins the dispute its audit opened, is paid for its
//! re-execution from the audit pool and counted for the epoch emission (`rewards.rs`).

use crate::State;
use crate::market::{self, JobStatus};
pub use plexus_fueltrace::draws::{
    AuditKind, canary_id, light_segments, rerun_blocks, rerun_fuel, seal_blocks,
};
use plexus_fueltrace::draws::{audit_kind, canary_claim, canary_drawn, verifier_target};
use plexus_fueltrace::money::bps_floor;
use plexus_types::audit::{Manifest, VERIFIER_CAPACITY_MAX, Verdict, audit_seal};
use plexus_types::dissection::{Dissection, Move, Phase, RevealedLeaf, Role};
use plexus_types::job::{Commitment, fuel_cost_ceil};
use plexus_types::trace::{Digest32, trap_root};
use plexus_types::{Address, Amount, Digest, Reason};

/// Blocks between a commitment and its audit draw: the seed of block `c + 2` is the beacon
/// signature over `c`, which did not exist when the commitment was sent.
pub const AUDIT_DRAW_DELAY_BLOCKS: u64 = 2;

/// The most times one audit may be declined: the decline after the last redraw closes it (the
/// job settles unaudited), so declining verifiers cannot hold a settlement for longer than
/// this many seal windows.
pub const AUDIT_DECLINES_MAX: usize = 4;

/// A registered verifier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verifier {
    /// Value held against misbehaviour (moved out of the operator's balance).
    pub bond: Amount,
    /// The re-execution speed it declared (its measured fuel per second): its audits' seal
    /// deadlines follow it.
    pub fuel_per_second: u64,
    /// Audits it re-runs at once: it is drawn only while `open` is below it.
    pub capacity: u32,
    /// The part of `bond` held as deposits of disputes the verifier opened.
    pub locked: Amount,
    /// Audits assigned and not closed, plus disputes opened and not ended.
    pub open: u32,
    pub registered_height: u64,
    pub audits_done: u64,
    pub audits_missed: u64,
    /// Audits it declined before their seal was due (no slash; the audit was drawn again).
    pub audits_declined: u64,
    pub disputes_won: u64,
    pub disputes_lost: u64,
    /// Canaries it flagged, and canaries it passed (and was slashed for).
    pub canaries_flagged: u64,
    pub canaries_passed: u64,
    /// Total taken from the bond by lost disputes and passed canaries.
    pub slashed: Amount,
    /// Total paid from the audit pool for passed audits and disputes won as challenger (the
    /// epoch emission is not counted here).
    pub earned: Amount,
    /// Set by a deregistration: the height at which the bond returns to the balance.
    pub unbonding_release: Option<u64>,
}

impl Verifier {
    /// The bond not held by open disputes: the draw weight.
    pub fn bond_free(&self) -> Amount {
        self.bond.saturating_sub(self.locked)
    }

    /// Whether it may be drawn for one more audit: fewer open than its capacity.
    pub fn has_room(&self) -> bool {
        self.open < self.capacity
    }
}

/// Where an audit is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditStage {
    /// Waiting for the verifier's seal.
    Drawn,
    /// Waiting for the verifier's reveal.
    Sealed { seal: Digest },
    /// The verifier agreed with the provider.
    Passed,
    /// The verifier disagreed: a dispute is (or already was) open.
    Disputed,
    /// The verifier let a step lapse; the job settles unaudited.
    Missed,
    /// Declined by every verifier it was drawn for (or by the last one nobody else could
    /// replace); the job settles unaudited.
    Declined,
    /// A canary whose job was pruned before its verdict (a slow verifier's window can outlast
    /// the job's retention): the verifier can no longer read what to re-run, so nothing is owed
    /// either way.
    Withdrawn,
}

/// One job's audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub kind: AuditKind,
    pub verifier: Address,
    pub drawn_height: u64,
    /// The height by which the current stage's step is due.
    pub due_height: u64,
    pub stage: AuditStage,
    /// Paid to the verifier from the audit pool when the audit passed or it won the dispute
    /// it opened (`rewards::pay_verifier`); zero otherwise.
    pub paid: Amount,
    /// Set for a canary: the protocol's audit of a commitment it knows to be wrong.
    pub canary: Option<Canary>,
    /// The verifiers that declined it, in order (at most `AUDIT_DECLINES_MAX`): never drawn for
    /// it again.
    pub declined: Vec<Address>,
}

/// A canary (FUELTRACE.md, lazy verifiers): a full audit of a copy of a committed job, under its
/// own id, whose claimed commitment carries an output hash nobody computed. An honest verifier's
/// re-run disagrees with it and is paid like any audit; a verifier that agrees has not checked,
/// and is slashed `verifier_slash_multiple` times the job's value, all of it burned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canary {
    /// The job it copies (module, blobs, input, fuel and provider).
    pub of: Digest,
    /// The known-wrong commitment the verifier is shown.
    pub claim: Commitment,
    /// How it ended: `None` while open, `Some(true)` when the verifier flagged it.
    pub flagged: Option<bool>,
}

impl Audit {
    /// Whether the audit still holds the job's settlement.
    pub fn is_open(&self) -> bool {
        matches!(self.stage, AuditStage::Drawn | AuditStage::Sealed { .. })
    }
}

/// Why a dispute ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DisputeEnd {
    /// The validators re-ran the segment.
    Replay = 0,
    /// A side let its move lapse.
    Timeout = 1,
}

/// How a dispute ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruling {
    /// Whether the provider (the defender) lost.
    pub provider_lost: bool,
    pub end: DisputeEnd,
    /// Taken from the loser.
    pub slashed: Amount,
    /// Of which paid to the winner (the rest was burned).
    pub to_winner: Amount,
    pub height: u64,
}

/// One job's dispute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispute {
    /// The verifier or the consumer that disputes the provider's commitment.
    pub challenger: Address,
    /// Whether the challenger is the job's verifier (its deposit is locked in its verifier bond)
    /// rather than the consumer (its deposit is held here).
    pub by_verifier: bool,
    /// What the challenger stands to lose.
    pub deposit: Amount,
    pub game: Dissection,
    pub opened_height: u64,
    /// The height by which the next move (or the settlement of a resolved game) is due.
    pub due_height: u64,
    pub ruling: Option<Ruling>,
}

impl Dispute {
    /// The deposit held in this record (a consumer's, while the dispute is open).
    pub fn deposit_held(&self) -> Amount {
        if self.ruling.is_none() && !self.by_verifier {
            self.deposit
        } else {
            0
        }
    }
}

/// The result of re-running one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Cumulative fuel at the end of the segment.
    pub fuel: u64,
    /// The post state root (`trap_root(code)` after a trap).
    pub state_root: Digest32,
    pub end: ReplayEnd,
}

/// How a re-run segment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayEnd {
    /// At a checkpoint, with more steps to come.
    Checkpoint,
    /// The job finished: this was its last segment.
    Finished { output_hash: Digest32 },
    /// The job trapped with this code.
    Trapped { code: u8 },
    /// The job finished but its output record was invalid: it failed (the leaf is the final
    /// state's; `output_hash` is the failure's `trap_root(code)`).
    OutputInvalid { output_hash: Digest32 },
}

/// What the validators re-run.
#[derive(Clone, Debug)]
pub struct ReplayRequest {
    pub job_id: Digest,
    pub module: Digest,
    pub blobs: Vec<Digest>,
    pub input: Digest,
    pub max_fuel: u64,
    pub seg_fuel: u64,
    /// The agreed pre-state leaf.
    pub pre: RevealedLeaf,
    /// The pre-state's manifest (unused when `pre.index == 0`).
    pub manifest: Digest,
    /// Where the content may be fetched from besides the node's own store: the provider's and
    /// the challenger's registered endpoints.
    pub endpoints: Vec<String>,
}

/// Why a segment could not be re-run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Some content is not available to this node (not a verdict: the block cannot be applied
    /// here until it is).
    #[error("content unavailable: {0}")]
    Unavailable(String),
    /// The content is there and does not fit: a manifest that does not match the agreed leaf,
    /// a module that fails admission. The same on every node, so the transaction fails.
    #[error("content invalid: {0}")]
    Invalid(String),
}

/// Re-runs disputed segments for block execution. Implementations must be deterministic in
/// everything but availability: the same content gives the same [`Replayed`] on every node.
pub trait Replayer: Send + Sync {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError>;
}

/// A replayer with no content at all: blocks that settle a dispute cannot be applied with it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoContent;

impl Replayer for NoContent {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        Err(ReplayError::Unavailable(format!(
            "no content store for job {}",
            request.job_id
        )))
    }
}

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

/// Whether an open audit or dispute holds the job's settlement.
pub fn holds(state: &State, id: &Digest) -> bool {
    state.audits.get(id).is_some_and(Audit::is_open)
        || state
            .disputes
            .get(id)
            .is_some_and(|dispute| dispute.ruling.is_none())
}

// ---------------------------------------------------------------------------------------------
// Verifier registry.

/// What a verifier declares when it registers or updates.
pub(crate) struct VerifierOffer {
    pub bond: Amount,
    pub fuel_per_second: u64,
    pub capacity: u32,
}

/// Registers the sender as a verifier, or adds `bond` (zero allowed) to a registered verifier's
/// bond; either way its declared speed and capacity replace the record's (open audits keep the
/// deadlines they were drawn with).
pub(crate) fn register(
    state: &mut State,
    sender: Address,
    offer: VerifierOffer,
    height: u64,
) -> Result<(), Reason> {
    let VerifierOffer {
        bond,
        fuel_per_second,
        capacity,
    } = offer;
    if fuel_per_second == 0 || !(1..=VERIFIER_CAPACITY_MAX).contains(&capacity) {
        return Err(Reason::InvalidVerifierOffer);
    }
    let existing = state.verifiers.get(&sender);
    if bond == 0 && existing.is_none() {
        return Err(Reason::ZeroAmount);
    }
    if state.account(&sender).balance < bond {
        return Err(Reason::InsufficientBalance);
    }
    if existing.is_some_and(|v| v.unbonding_release.is_some()) {
        return Err(Reason::ProviderDeregistering);
    }
    let total = existing
        .map_or(0, |v| v.bond)
        .checked_add(bond)
        .ok_or(Reason::Overflow)?;
    if total < state.params.audit.verifier_bond_min {
        return Err(Reason::BondTooSmall);
    }
    state.accounts.entry(sender.clone()).or_default().balance -= bond;
    let verifier = state.verifiers.entry(sender).or_insert_with(|| Verifier {
        registered_height: height,
        ..Verifier::default()
    });
    verifier.bond = total;
    verifier.fuel_per_second = fuel_per_second;
    verifier.capacity = capacity;
    Ok(())
}

/// Stops drawing the sender; its bond returns after `provider_unbonding_blocks`.
pub(crate) fn deregister(state: &mut State, sender: &Address, height: u64) -> Result<(), Reason> {
    let verifier = state.verifiers.get(sender).ok_or(Reason::UnknownVerifier)?;
    if verifier.unbonding_release.is_some() {
        return Err(Reason::ProviderDeregistering);
    }
    if verifier.open > 0 {
        return Err(Reason::VerifierBusy);
    }
    let release = height.saturating_add(state.params.provider_unbonding_blocks.max(1));
    if let Some(verifier) = state.verifiers.get_mut(sender) {
        verifier.unbonding_release = Some(release);
    }
    state
        .market_index
        .verifier_releases
        .insert((release, sender.clone()));
    Ok(())
}

fn release_due(state: &mut State, height: u64) {
    while let Some((at, address)) = state.market_index.verifier_releases.first().cloned() {
        if at > height {
            break;
        }
        state.market_index.verifier_releases.pop_first();
        if let Some(verifier) = state.verifiers.remove(&address) {
            state.accounts.entry(address).or_default().balance += verifier.bond;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Audits.

/// Called when a commitment is recorded: the audit draw is due `AUDIT_DRAW_DELAY_BLOCKS` later.
pub(crate) fn schedule_draw(state: &mut State, id: Digest, committed_height: u64) {
    let due = committed_height.saturating_add(AUDIT_DRAW_DELAY_BLOCKS);
    state.market_index.draws.insert((due, id));
}

/// Who may be drawn for one audit.
struct Candidates<'a> {
    /// The audited job's provider and consumer: never its verifier.
    provider: &'a Address,
    consumer: &'a Address,
    /// The deposit a dispute the verifier opens would hold: its free bond must cover it.
    deposit: Amount,
    /// What the audit re-runs: the verifier's speed must do it within the deadline's cap.
    rerun_fuel: u64,
    /// Verifiers that declined this audit.
    declined: &'a [Address],
}

/// A verifier drawn by free bond among the candidates (draw `counter` of the audit), with the
/// blocks to its seal deadline.
fn draw_verifier(
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
    let mut target = verifier_target(seed, id, counter, total);
    for (address, weight, blocks) in eligible {
        if target < weight {
            return Some((address.clone(), blocks));
        }
        target -= weight;
    }
    None
}

fn draw_audit(state: &mut State, id: Digest, height: u64, seed: &Digest) {
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

/// An audit about to be assigned: what it re-runs, and its history.
struct Draft {
    kind: AuditKind,
    canary: Option<Canary>,
    declined: Vec<Address>,
}

/// Records audit `id` for `verifier`, its seal due `seal_blocks` from `height`.
fn assign(
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

/// With probability `canary_ppm` (its own draw from the block seed), the protocol posts a canary
/// copying the just-committed job `of` for a verifier drawn as for any audit.
fn draw_canary(state: &mut State, of: Digest, height: u64, seed: &Digest) {
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
) -> Result<(), Reason> {
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
        }
        None => {
            if let Some(audit) = state.audits.get_mut(&id) {
                audit.stage = AuditStage::Declined;
                audit.declined = declined;
            }
            close_unaudited(state, id, height);
        }
    }
    Ok(())
}

/// Withdraws the open canary copying job `of`, which is being pruned (see
/// [`AuditStage::Withdrawn`]): no pay, no charge.
pub(crate) fn withdraw_canary(state: &mut State, of: &Digest, height: u64) {
    let id = canary_id(of);
    let Some(audit) = state.audits.get_mut(&id).filter(|audit| audit.is_open()) else {
        return;
    };
    audit.stage = AuditStage::Withdrawn;
    let (due, verifier) = (audit.due_height, audit.verifier.clone());
    state.market_index.audit_dues.remove(&(due, id));
    close_verifier_audit(state, &verifier);
    close_unaudited(state, id, height);
}

/// After an audit closed without a verdict (lapsed or declined): a canary is pruned with the
/// retention of a finished job; a job settles if its settlement is due.
fn close_unaudited(state: &mut State, id: Digest, height: u64) {
    let canary = state.audits.get(&id).is_some_and(|a| a.canary.is_some());
    if canary {
        if let Some(audit) = state.audits.get_mut(&id) {
            // A closed canary's `due_height` is when it closed (`MarketIndex::derive`).
            audit.due_height = height;
        }
        let due = height.saturating_add(state.params.job_retention_blocks);
        state.market_index.prunes.insert((due, id));
    }
    market::settle_if_due(state, id, height);
}

/// A canary's reveal: an honest disagreement is paid, an agreement slashed (and burned).
fn close_canary(
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
        crate::rewards::pay_verifier(state, &id, verifier);
    } else {
        let value = job_value(state, &canary.of).unwrap_or(0);
        let multiple = u128::from(state.params.audit.verifier_slash_multiple);
        let mut slashed = 0;
        if let Some(record) = state.verifiers.get_mut(verifier) {
            // Never the deposits its open disputes hold.
            slashed = value.saturating_mul(multiple).min(record.bond_free());
            record.bond -= slashed;
            record.slashed += slashed;
            record.canaries_passed += 1;
        }
        state.supply.total -= slashed;
        state.supply.burned = state.supply.burned.saturating_add(slashed);
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
) -> Result<(), Reason> {
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
        return Ok(());
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
        let root = commonware_cryptography::blake3::Digest(commitment.trace_root.0);
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
            market::settle_if_due(state, id, height);
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
    Ok(())
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
    crate::rewards::pay_verifier(state, id, verifier);
    crate::rewards::credit_audited_fuel(state, id);
    if let Some(provider) = provider.and_then(|p| state.providers.get_mut(&p)) {
        provider.audits_passed += 1;
    }
}

fn close_verifier_audit(state: &mut State, verifier: &Address) {
    if let Some(record) = state.verifiers.get_mut(verifier) {
        record.open = record.open.saturating_sub(1);
    }
}

/// An audit whose step lapsed: recorded against the verifier; the job settles unaudited.
fn lapse_audit(state: &mut State, id: Digest, height: u64) {
    let Some(audit) = state.audits.get(&id) else {
        return;
    };
    if !audit.is_open() || audit.due_height > height {
        return;
    }
    let verifier = audit.verifier.clone();
    // The verifier forfeits the deposit a dispute would have held (the job's value), burned:
    // a verifier that does not answer must not be a free way to make an audit go away.
    let job = audit.canary.as_ref().map_or(id, |canary| canary.of);
    let value = job_value(state, &job).unwrap_or(0);
    let mut forfeited = 0;
    if let Some(record) = state.verifiers.get_mut(&verifier) {
        forfeited = value.min(record.bond_free());
        record.bond -= forfeited;
        record.slashed += forfeited;
    }
    state.supply.total -= forfeited;
    state.supply.burned = state.supply.burned.saturating_add(forfeited);
    if let Some(audit) = state.audits.get_mut(&id) {
        audit.stage = AuditStage::Missed;
    }
    if let Some(record) = state.verifiers.get_mut(&verifier) {
        record.audits_missed += 1;
    }
    close_verifier_audit(state, &verifier);
    close_unaudited(state, id, height);
}

// ---------------------------------------------------------------------------------------------
// Disputes.

/// The job's value at the provider's ask: what a dispute's slash and deposit are counted in.
fn job_value(state: &State, id: &Digest) -> Option<Amount> {
    let job = state.jobs.get(id)?;
    let assignment = job.status.assignment()?;
    fuel_cost_ceil(job.max_fuel, assignment.ask_per_mfuel)
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
fn open_dispute(
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
    let root = commonware_cryptography::blake3::Digest(commitment.trace_root.0);
    let game = Dissection::open(state.params.audit.dissection_arity, leaves, lo, hi, root)
        .map_err(|_| Reason::InvalidVerdict)?;
    let value = job_value(state, &id).ok_or(Reason::NotDisputable)?;
    if by_verifier {
        // At most its free bond: a verifier is never asked for more than it has.
        let verifier = state
            .verifiers
            .get_mut(&challenger)
            .ok_or(Reason::UnknownVerifier)?;
        let deposit = value.min(verifier.bond_free());
        verifier.locked += deposit;
        // The audit's open count carries over to the dispute.
        insert_dispute(state, id, challenger, true, deposit, game, height);
    } else {
        let account = state.account(&challenger);
        if account.balance < value {
            return Err(Reason::InsufficientBalance);
        }
        state
            .accounts
            .entry(challenger.clone())
            .or_default()
            .balance -= value;
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
    manifest: Digest,
    height: u64,
    replayer: &dyn Replayer,
) -> Result<(), SettleError> {
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
    rule(state, id, !provider_right, DisputeEnd::Replay, height);
    Ok(())
}

/// Whether re-running gave the defender's post leaf, and at the final leaf its output and
/// failure flag.
pub fn transition_holds(commitment: &Commitment, hi: &RevealedLeaf, replayed: &Replayed) -> bool {
    if replayed.fuel != hi.fuel || replayed.state_root != hi.state_root {
        return false;
    }
    let last = hi.index == u64::from(commitment.segments);
    match (last, replayed.end) {
        (false, ReplayEnd::Checkpoint) => true,
        (true, ReplayEnd::Finished { output_hash }) => {
            !commitment.failed
                && output_hash.as_ref() == commitment.output_hash.as_ref()
                && replayed.fuel == commitment.total_fuel
        }
        (true, ReplayEnd::OutputInvalid { output_hash }) => {
            commitment.failed
                && output_hash.as_ref() == commitment.output_hash.as_ref()
                && replayed.fuel == commitment.total_fuel
        }
        (true, ReplayEnd::Trapped { code }) => {
            commitment.failed
                && trap_root(code).as_ref() == commitment.output_hash.as_ref()
                && replayed.fuel == commitment.total_fuel
        }
        _ => false,
    }
}

/// Ends a dispute: slashes the loser, pays the winner its share, burns the rest; the job is
/// refuted (full refund) or goes on to settle.
fn rule(state: &mut State, id: Digest, provider_lost: bool, end: DisputeEnd, height: u64) {
    let Some(dispute) = state.disputes.get(&id).cloned() else {
        return;
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
        slashed = market::refute(state, id, value.saturating_mul(multiple), height);
        to_winner = split(slashed);
        // The challenger's deposit comes back whole.
        if dispute.by_verifier {
            if let Some(v) = state.verifiers.get_mut(&dispute.challenger) {
                v.locked -= dispute.deposit;
                v.disputes_won += 1;
            }
            // The verifier's re-execution found the fault: paid like a passed audit.
            crate::rewards::pay_verifier(state, &id, &dispute.challenger);
        } else {
            state
                .accounts
                .entry(dispute.challenger.clone())
                .or_default()
                .balance += dispute.deposit;
        }
        state
            .accounts
            .entry(dispute.challenger.clone())
            .or_default()
            .balance += to_winner;
    } else {
        slashed = dispute.deposit;
        if dispute.by_verifier
            && let Some(v) = state.verifiers.get_mut(&dispute.challenger)
        {
            // deposit <= locked <= bond.
            v.locked -= dispute.deposit;
            v.bond -= dispute.deposit;
            v.slashed += dispute.deposit;
            v.disputes_lost += 1;
        }
        // A consumer's deposit is already out of its balance (held by the dispute). Without a
        // provider to pay (it cannot happen: the job was assigned), the whole deposit is burned.
        to_winner = match &provider {
            Some(provider) => {
                let share = split(slashed);
                state.accounts.entry(provider.clone()).or_default().balance += share;
                share
            }
            None => 0,
        };
    }
    let burned = slashed - to_winner;
    state.supply.total -= burned;
    state.supply.burned = state.supply.burned.saturating_add(burned);
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
    if !provider_lost {
        market::settle_if_due(state, id, height);
    }
}

/// A dispute whose move (or settlement) lapsed: the side that owed it loses.
fn lapse_dispute(state: &mut State, id: Digest, height: u64) {
    let Some(dispute) = state.disputes.get(&id) else {
        return;
    };
    if dispute.ruling.is_some() || dispute.due_height > height {
        return;
    }
    // The defender owes every reveal and proof, and the settlement of a resolved game (it must
    // serve its checkpoints); the challenger owes its choices.
    let provider_lost = dispute.game.to_move() != Some(Role::Challenger);
    rule(state, id, provider_lost, DisputeEnd::Timeout, height);
}

/// End-of-block work, before the market's settlements: audit draws, lapsed audits and disputes,
/// verifier releases.
pub(crate) fn end_block(state: &mut State, height: u64, seed: &Digest) {
    for id in market::take_due(&mut state.market_index.draws, height) {
        draw_audit(state, id, height, seed);
    }
    for id in market::take_due(&mut state.market_index.audit_dues, height) {
        lapse_audit(state, id, height);
    }
    for id in market::take_due(&mut state.market_index.dispute_dues, height) {
        lapse_dispute(state, id, height);
    }
    release_due(state, height);
}

/// Checks a manifest against the agreed pre-state leaf (for replayers).
pub fn manifest_matches(manifest: &Manifest, pre: &RevealedLeaf) -> bool {
    manifest.index == pre.index
        && manifest.fuel == pre.fuel
        && manifest.state_root() == pre.state_root
}
