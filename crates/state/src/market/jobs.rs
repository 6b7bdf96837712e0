//! Jobs: who runs one, at what price, and where it is in its life (the life is in
//! `settlement.rs`). Plain records, encoded by `ledger::snapshot`.

use plexus_types::job::{AuditClass, Commitment};
use plexus_types::{Address, Amount, ContentHash, Digest};
use std::collections::BTreeMap;

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
    pub module: ContentHash,
    pub blobs: Vec<ContentHash>,
    pub input: ContentHash,
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
