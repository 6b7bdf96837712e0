//! The provider's decisions about one of its jobs, pure: what the chain shows (the job's
//! status), what the journal holds (the job's phase) and the height give the actions the agent's
//! decision core makes concrete for the host, in order. No I/O, no clock: the table-driven tests
//! below pin every status and phase, and the deadlines (a commitment sent again, a job given up).

use super::RESEND_AFTER_BLOCKS;
use crate::{
    acceptance::GIVE_UP_BEFORE_DEADLINE_BLOCKS,
    journal::{CommitmentRecord, Phase},
};
use plexus_client::dto::JobStatus;

/// What the agent does about one of its jobs this poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobAction {
    /// First seen assigned: decide once whether to take it on, and record the decision.
    Decide,
    /// Carry out the recorded decision: run it (when a slot is free) or commit its refusal.
    Start,
    /// Send its commitment (again, when the last one has not landed in time).
    Commit(CommitmentRecord),
    /// Record that its commitment landed.
    RecordCommitted(CommitmentRecord),
    /// Play the defender's side of its dispute, if one is open.
    Defend,
    /// Record it refuted (lost its dispute) and free its files.
    Refuted,
    /// Record it settled (with its commitment, if the journal holds one) and free its files.
    Settled(Option<CommitmentRecord>),
    /// Record it expired and free its files.
    Expired,
}

/// The actions for a job the chain shows as `status` and the journal as `phase` at `height`.
pub fn job_actions(status: JobStatus, phase: Option<&Phase>, height: u64) -> Vec<JobAction> {
    use JobAction::*;
    let open = phase.filter(|phase| !phase.is_final());
    match (status, phase) {
        (JobStatus::Assigned, None) => vec![Decide, Start],
        (JobStatus::Assigned, Some(Phase::Assigned)) => vec![Start],
        (JobStatus::Assigned, Some(Phase::Executed { commitment })) => {
            vec![Commit(commitment.clone())]
        }
        (
            JobStatus::Assigned,
            Some(Phase::CommitSent {
                commitment,
                sent_height,
                ..
            }),
        ) if height > sent_height + RESEND_AFTER_BLOCKS => vec![Commit(commitment.clone())],
        (JobStatus::Committed, Some(phase)) => match phase {
            Phase::Committed { .. } => vec![Defend],
            _ => match phase.commitment() {
                Some(commitment) => vec![RecordCommitted(commitment.clone()), Defend],
                None => vec![Defend],
            },
        },
        (JobStatus::Refuted, _) if open.is_some() => vec![Refuted],
        (JobStatus::Settled, _) => match open {
            Some(phase) => vec![Settled(phase.commitment().cloned())],
            None => Vec::new(),
        },
        (JobStatus::Expired, _) if open.is_some() => vec![Expired],
        _ => Vec::new(),
    }
}

/// Whether a job whose content cannot be had here (or whose blobs do not fit) is given up at
/// `height`: its refusal committed while it still lands before the deadline.
pub fn give_up(deadline_height: Option<u64>, height: u64) -> bool {
    deadline_height.is_some_and(|deadline| height + GIVE_UP_BEFORE_DEADLINE_BLOCKS >= deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobAction::*;

    fn commitment() -> CommitmentRecord {
        CommitmentRecord {
            output_hash: "o".into(),
            total_fuel: 7,
            segments: 1,
            trace_root: "t".into(),
            failed: false,
            failure: None,
        }
    }

    fn sent(at: u64) -> Phase {
        Phase::CommitSent {
            commitment: commitment(),
            tx: "tx".into(),
            sent_height: at,
        }
    }

    #[test]
    fn every_status_and_phase_has_its_actions() {
        let c = commitment();
        let committed = Phase::Committed {
            commitment: c.clone(),
        };
        let settled = Phase::Settled {
            commitment: c.clone(),
            paid: "1".into(),
        };
        let refuted = Phase::Refuted {
            slashed: "1".into(),
        };
        let executed = Phase::Executed {
            commitment: c.clone(),
        };
        let cases: Vec<(JobStatus, Option<Phase>, u64, Vec<JobAction>)> = vec![
            (JobStatus::Assigned, None, 100, vec![Decide, Start]),
            (JobStatus::Assigned, Some(Phase::Assigned), 100, vec![Start]),
            (
                JobStatus::Assigned,
                Some(executed.clone()),
                100,
                vec![Commit(c.clone())],
            ),
            // A commitment sent is waited for, then sent again.
            (
                JobStatus::Assigned,
                Some(sent(100)),
                100 + RESEND_AFTER_BLOCKS,
                vec![],
            ),
            (
                JobStatus::Assigned,
                Some(sent(100)),
                101 + RESEND_AFTER_BLOCKS,
                vec![Commit(c.clone())],
            ),
            (
                JobStatus::Committed,
                Some(sent(100)),
                101,
                vec![RecordCommitted(c.clone()), Defend],
            ),
            (
                JobStatus::Committed,
                Some(committed.clone()),
                101,
                vec![Defend],
            ),
            // Not in the journal: not this agent's to defend.
            (JobStatus::Committed, None, 101, vec![]),
            (
                JobStatus::Refuted,
                Some(committed.clone()),
                150,
                vec![Refuted],
            ),
            (JobStatus::Refuted, Some(refuted), 150, vec![]),
            (
                JobStatus::Settled,
                Some(committed.clone()),
                150,
                vec![Settled(Some(c.clone()))],
            ),
            (
                JobStatus::Settled,
                Some(Phase::Assigned),
                150,
                vec![Settled(None)],
            ),
            (JobStatus::Settled, Some(settled), 150, vec![]),
            (
                JobStatus::Expired,
                Some(Phase::Assigned),
                150,
                vec![Expired],
            ),
            (JobStatus::Expired, Some(Phase::Expired), 150, vec![]),
            (JobStatus::Expired, None, 150, vec![]),
            (JobStatus::Posted, None, 150, vec![]),
            (JobStatus::Cancelled, None, 150, vec![]),
        ];
        for (status, phase, height, expected) in cases {
            assert_eq!(
                job_actions(status, phase.as_ref(), height),
                expected,
                "{status} {phase:?} at {height}"
            );
        }
    }

    #[test]
    fn a_job_that_cannot_run_here_is_given_up_just_in_time() {
        let margin = GIVE_UP_BEFORE_DEADLINE_BLOCKS;
        let cases = [
            (Some(100), 100 - margin - 1, false),
            (Some(100), 100 - margin, true),
            (Some(100), 100, true),
            (Some(100), 150, true),
            (None, 150, false),
        ];
        for (deadline, height, expected) in cases {
            assert_eq!(
                give_up(deadline, height),
                expected,
                "{deadline:?} at {height}"
            );
        }
    }
}
