//! What the chain records about FuelTrace: verifiers, audits (canaries among them), disputes and
//! their rulings, and each epoch's emission. Plain records, encoded by `ledger::snapshot` and
//! committed by the state root; the operations on them live beside this module.

use plexus_fueltrace::dissection::Dissection;
use plexus_fueltrace::draws::AuditKind;
use plexus_types::job::Commitment;
use plexus_types::{Address, Amount, Digest};

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

/// What one epoch's emission minted, per share (each at most its share of `E(e)`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Emission {
    pub validators: Amount,
    pub providers: Amount,
    pub verifiers: Amount,
    /// The storage holders' share, by the byte-epochs they proved.
    pub storage: Amount,
}

impl Emission {
    /// Everything the epoch minted (at most `E(e)`: the four shares partition it).
    pub fn total(&self) -> Amount {
        self.validators + self.providers + self.verifiers + self.storage
    }
}

/// What the end of an audit or a dispute leaves for the job it held. The operation returns it
/// and its caller (the end-of-block pipeline, or the dispatch of the transaction) applies it with
/// `market::settlement::release`: FuelTrace never calls back into the settlement that waits on it.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The job is still held (or was refuted): nothing to settle.
    Held,
    /// The hold on this job (or canary) ended: it settles now if its settlement height passed.
    Released(Digest),
}
