//! The agent's pure decision core. What the agent sees this poll ([`View`]: the height, the
//! chain's records of its jobs and of the audits and disputes it verifies, the runs that ended,
//! its load and its offer) and what it has done ([`Journal`]: its job records and what it sent)
//! give everything it does this poll ([`Action`]), in order: [`decide`]. No I/O, no clock, no
//! threads: the host (the parent module, `agent.rs`) fetches the view, calls [`decide`] and
//! carries the actions out (HTTP, submission, threads, files), recording in the journal.
//!
//! One rule, one place: what to do about each of its jobs is `policy::job_actions`'s and the
//! give-up margin `policy::give_up`'s; whether to re-run, wait for or decline a drawn audit is
//! `verifier::step`'s; whether to take a job on is `acceptance::decide`'s; the dispute moves and
//! their resends are the shared `plexus_client::dispute` loop's (this core says whose turn it
//! is; the host plays it through its `Player`).
//!
//! Within one poll the core does not reconcile again a job whose commitment (or refusal) it has
//! just decided to send: the chain's record was read before it was sent.

use super::{
    BLOCK_MS_ASSUMED, HEARTBEAT_EVERY_BLOCKS, RESEND_AFTER_BLOCKS,
    policy::{self, JobAction},
    verifier::{self, DECLINE_RESEND_BLOCKS, Drawn, Load, SWEEP_EVERY_BLOCKS, Step},
};
use crate::{
    acceptance::{self, Decision, Terms},
    journal::{AuditStep, CommitmentRecord, JobRecord, Journal, Phase},
};
use plexus_client::dto::{AuditStage, DisputeDto, HexDigest, JobDto, Turn};
use plexus_fueltrace::dissection::Role;
use std::collections::{BTreeMap, BTreeSet};

/// How a run of one of its jobs ended, as the host's runner reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// It ran (or admission refused it): the commitment to post.
    Ran(CommitmentRecord),
    /// Its content cannot be had here, or does not fit: given up near its deadline, else
    /// run again.
    CannotRunHere(String),
    /// Anything else: run again at the next poll that sees it still assigned.
    Failed,
}

/// What the agent keeps on disk for one audit drawn to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditFiles {
    /// A finished re-run's sealed verdict and salt are kept.
    pub sealed: bool,
    /// The height its decline was last sent at, if one was.
    pub declined_height: Option<u64>,
}

/// What a verifying agent sees of its audits and disputes.
#[derive(Clone, Copy, Debug)]
pub struct VerifierView<'a> {
    /// The chain's records of the jobs it verifies: those the chain lists for it, then those
    /// whose re-run just ended that the list does not hold (each once).
    pub jobs: &'a [JobDto],
    /// Per job (hex id): what it keeps on disk for the audit.
    pub files: &'a BTreeMap<String, AuditFiles>,
    /// Audits re-running now (hex ids).
    pub running: &'a BTreeSet<String>,
    /// Audits re-run at once (at least one).
    pub capacity: u32,
    /// The speed audits re-run at: the measured figure, or the testing aid's throttle.
    pub fuel_per_second: u64,
    /// The cores the agent offers.
    pub cores: u32,
    /// The block time the chain's audit deadlines assume, in milliseconds (0: not shown).
    pub audit_block_ms: u64,
    /// The chain's fuel per segment (a light audit re-runs its drawn segments).
    pub seg_fuel: u64,
}

/// What the agent sees this poll.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub height: u64,
    /// Its address, as the chain writes it.
    pub me: &'a str,
    /// The chain's records of the jobs assigned to it: the newest, then the older ones the
    /// journal still follows.
    pub jobs: &'a [JobDto],
    /// Runs that ended since the last poll: (hex id, outcome).
    pub finished: &'a [(String, RunOutcome)],
    /// Jobs running now (hex ids).
    pub running: &'a BTreeSet<String>,
    /// Jobs run at once.
    pub capacity: usize,
    /// The offer's speed figure, fuel per second (what a job is judged at).
    pub fuel_per_second: u64,
    /// The chain's block time as observed, in milliseconds.
    pub block_ms: u64,
    /// `None`: the agent does not verify.
    pub verifier: Option<VerifierView<'a>>,
}

/// Everything the host does, in the order [`decide`] gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Submit a heartbeat (recorded as sent once submitted).
    Heartbeat,
    /// Record a job first seen, with the decision taken on it once and for all.
    NewJob(JobRecord),
    /// Run an accepted job on a thread of its own.
    Run(Box<JobDto>),
    /// Commit a refusal of the job (hex id) whose output is `reason`: record it executed, then
    /// send its commitment.
    Refuse { job: String, reason: String },
    /// Move the job (hex id) to `phase` in the journal.
    SetPhase { job: String, phase: Phase },
    /// Send the job's (hex id) commitment and record it sent.
    Commit {
        job: String,
        commitment: CommitmentRecord,
    },
    /// Free what a finished job used on disk.
    CleanUp(Box<JobDto>),
    /// Play `role`'s step in the job's open dispute through the shared dispute loop.
    PlayDispute { job: Box<JobDto>, role: Role },
    /// Forget the steps sent as `role` in the job's dispute: it is ruled.
    ForgetDispute { job: HexDigest, role: Role },
    /// Re-run the job's audit on a thread of its own.
    StartAudit(Box<JobDto>),
    /// Send the seal of the job's kept verdict (`AuditCommit`).
    Seal(HexDigest),
    /// Open the seal (`AuditReveal`).
    Reveal(HexDigest),
    /// The audit is sealed on chain but its verdict is not kept here: it cannot be revealed.
    SealLost(HexDigest),
    /// Hand the audit back (`AuditDecline`); `again`: a decline sent before has not taken
    /// effect.
    Decline { job: HexDigest, again: bool },
    /// The audit is over and so is its job: remove its files and the re-run's checkpoints.
    ForgetAudit(HexDigest),
    /// Remove the files of audits that are no longer this agent's.
    Sweep,
}

impl Action {
    /// The job (hex id) a job action is about; `None` for the heartbeat, the sweep and the
    /// audit and dispute steps (those log their failures and never stop the others).
    pub fn job(&self) -> Option<String> {
        match self {
            Action::NewJob(record) => Some(record.id.clone()),
            Action::Run(job) | Action::CleanUp(job) => Some(job.id.to_string()),
            Action::Refuse { job, .. }
            | Action::SetPhase { job, .. }
            | Action::Commit { job, .. } => Some(job.clone()),
            _ => None,
        }
    }
}

/// Carries `actions` out in order with `carry_out`. One that fails skips the rest of its own
/// job's actions (a commitment whose `Executed` phase could not be recorded is not sent), but
/// never another job's: the runs that ended this poll are already taken, so a job skipped here
/// would be run again. Gives the first failure.
pub fn carry_out_all<E>(
    actions: Vec<Action>,
    mut carry_out: impl FnMut(Action) -> Result<(), E>,
) -> Option<E> {
    let mut first = None;
    let mut failed_jobs = BTreeSet::new();
    for action in actions {
        let job = action.job();
        if job.as_ref().is_some_and(|job| failed_jobs.contains(job)) {
            continue;
        }
        if let Err(err) = carry_out(action) {
            failed_jobs.extend(job);
            first.get_or_insert(err);
        }
    }
    first
}

/// Everything the agent does this poll, from what it sees and what it has done.
pub fn decide(view: &View, journal: &Journal) -> Vec<Action> {
    let mut tick = Tick {
        view,
        journal,
        out: Vec::new(),
        decisions: BTreeMap::new(),
        committing: BTreeSet::new(),
        runs_started: 0,
        audits_started: 0,
    };
    if view.height >= journal.sends.heartbeat_height + HEARTBEAT_EVERY_BLOCKS {
        tick.out.push(Action::Heartbeat);
    }
    for (id, outcome) in view.finished {
        tick.finished(id, outcome);
    }
    for job in view.jobs {
        tick.job(job);
    }
    if let Some(verifier) = &view.verifier {
        for job in verifier.jobs {
            tick.verify(job, verifier);
        }
        if view.height >= journal.sends.sweep_height + SWEEP_EVERY_BLOCKS {
            tick.out.push(Action::Sweep);
        }
    }
    tick.out
}

/// Whether `role` owes the next step of an open `dispute`: its move, or the settlement of a
/// resolved game (both of the agent's sides settle).
pub fn owes(dispute: &DisputeDto, role: Role) -> bool {
    match dispute.to_move {
        Some(Turn::Settle) => true,
        Some(Turn::Defender) => role == Role::Defender,
        Some(Turn::Challenger) => role == Role::Challenger,
        None => false,
    }
}

/// One poll's decisions in the making: what was decided so far shapes what follows (a slot
/// taken, a decision recorded).
struct Tick<'a> {
    view: &'a View<'a>,
    journal: &'a Journal,
    out: Vec<Action>,
    /// Decisions taken this poll on jobs first seen.
    decisions: BTreeMap<String, Decision>,
    /// Jobs whose commitment or refusal is sent this poll.
    committing: BTreeSet<String>,
    runs_started: usize,
    audits_started: usize,
}

impl Tick<'_> {
    /// A run that ended: commit what it produced, give up a job that cannot run here once its
    /// deadline is near, or leave it to be run again.
    fn finished(&mut self, id: &str, outcome: &RunOutcome) {
        match outcome {
            RunOutcome::Ran(commitment) => {
                self.out.push(Action::SetPhase {
                    job: id.to_string(),
                    phase: Phase::Executed {
                        commitment: commitment.clone(),
                    },
                });
                self.commit(id, commitment.clone());
            }
            RunOutcome::CannotRunHere(reason) => {
                let deadline = self.journal.get(id).map(|r| r.deadline_height);
                if policy::give_up(deadline, self.view.height) {
                    self.refuse(id, reason.clone());
                }
            }
            RunOutcome::Failed => {}
        }
    }

    fn commit(&mut self, id: &str, commitment: CommitmentRecord) {
        self.committing.insert(id.to_string());
        self.out.push(Action::Commit {
            job: id.to_string(),
            commitment,
        });
    }

    fn refuse(&mut self, id: &str, reason: String) {
        self.committing.insert(id.to_string());
        self.out.push(Action::Refuse {
            job: id.to_string(),
            reason,
        });
    }

    /// One of its jobs as the chain shows it: [`policy::job_actions`], made concrete.
    fn job(&mut self, job: &JobDto) {
        let id = job.id.to_string();
        if self.committing.contains(&id) {
            return;
        }
        let height = self.view.height;
        let phase = match self.decisions.contains_key(&id) {
            true => Some(Phase::Assigned),
            false => self.journal.get(&id).map(|r| r.phase.clone()),
        };
        for action in policy::job_actions(job.status, phase.as_ref(), height) {
            match action {
                JobAction::Decide => {
                    let terms = Terms {
                        max_fuel: job.max_fuel,
                        deadline_height: job.deadline_height,
                    };
                    let view = self.view;
                    let decision =
                        acceptance::decide(terms, height, view.fuel_per_second, view.block_ms);
                    self.decisions.insert(id.clone(), decision.clone());
                    self.out.push(Action::NewJob(JobRecord {
                        id: id.clone(),
                        deadline_height: job.deadline_height,
                        phase: Phase::Assigned,
                        decision: Some(decision),
                    }));
                }
                JobAction::Start => self.start(job, &id),
                JobAction::Commit(commitment) => self.commit(&id, commitment),
                JobAction::RecordCommitted(commitment) => self.out.push(Action::SetPhase {
                    job: id.clone(),
                    phase: Phase::Committed { commitment },
                }),
                JobAction::Defend => self.dispute(job, Role::Defender),
                JobAction::Refuted => {
                    let slashed = job.slashed.unwrap_or_default().to_string();
                    self.finish(job, Some(Phase::Refuted { slashed }));
                }
                JobAction::Settled(commitment) => {
                    let paid = job.paid.unwrap_or_default().to_string();
                    let phase = commitment.map(|commitment| Phase::Settled { commitment, paid });
                    self.finish(job, phase);
                }
                JobAction::Expired => self.finish(job, Some(Phase::Expired)),
            }
        }
    }

    /// Carries out the decision recorded on an assigned job: commit its refusal, or run it
    /// when it is not running and a slot is free. Never decides again.
    fn start(&mut self, job: &JobDto, id: &str) {
        let decision = match self.decisions.get(id) {
            Some(decision) => Some(decision),
            None => self.journal.get(id).and_then(|r| r.decision.as_ref()),
        };
        if let Some(Decision::Refused { reason, .. }) = decision {
            // Refusing costs a fee; running a job that cannot make its deadline costs the lock.
            let reason = reason.clone();
            return self.refuse(id, reason);
        }
        // Accepted (or recorded before decisions were kept, which only accepted jobs were).
        let busy = self.view.running.len() + self.runs_started;
        if self.view.running.contains(id) || busy >= self.view.capacity {
            return;
        }
        self.runs_started += 1;
        self.out.push(Action::Run(Box::new(job.clone())));
    }

    /// Records a job's final phase (when there is one to record) and frees its files.
    fn finish(&mut self, job: &JobDto, phase: Option<Phase>) {
        if let Some(phase) = phase {
            self.out.push(Action::SetPhase {
                job: job.id.to_string(),
                phase,
            });
        }
        self.out.push(Action::CleanUp(Box::new(job.clone())));
    }

    /// Its side of the job's dispute as `role`: play when it owes the step, forget a ruled one.
    fn dispute(&mut self, job: &JobDto, role: Role) {
        match &job.dispute {
            Some(dispute) if dispute.ruling.is_some() => {
                self.out.push(Action::ForgetDispute { job: job.id, role })
            }
            Some(dispute) if owes(dispute, role) => self.out.push(Action::PlayDispute {
                job: Box::new(job.clone()),
                role,
            }),
            _ => {}
        }
    }

    /// Whether audit step `step` of job `id` is due: not sent yet, or sent more than
    /// `RESEND_AFTER_BLOCKS` ago without the chain moving on.
    fn due(&self, id: &str, step: AuditStep) -> bool {
        match self.journal.sends.audit_steps.get(id) {
            Some((sent, at)) => *sent != step || self.view.height > at + RESEND_AFTER_BLOCKS,
            None => true,
        }
    }

    /// The verifier's duties for a job it audits or disputes: play the challenger's turn of its
    /// open dispute; else re-run, seal, reveal or decline its audit, and forget one that is over.
    fn verify(&mut self, job: &JobDto, verifier: &VerifierView) {
        let me = self.view.me;
        if let Some(dispute) = &job.dispute
            && dispute.challenger == me
            && dispute.ruling.is_none()
        {
            return self.dispute(job, Role::Challenger);
        }
        let Some(audit) = job.audit_record.as_ref().filter(|a| a.verifier == me) else {
            return;
        };
        let id = job.id.to_string();
        let files = verifier.files.get(&id).copied().unwrap_or_default();
        let height = self.view.height;
        match audit.stage {
            AuditStage::Drawn => {
                // A decline is final: the verdict of a re-run that finished after it is not
                // sealed.
                if let Some(sent) = files.declined_height {
                    if height > sent + DECLINE_RESEND_BLOCKS {
                        self.out.push(Action::Decline {
                            job: job.id,
                            again: true,
                        });
                    }
                    return;
                }
                if files.sealed {
                    if self.due(&id, AuditStep::Seal) {
                        self.out.push(Action::Seal(job.id));
                    }
                    return;
                }
                let audits_busy = verifier.running.len() + self.audits_started;
                let load = Load {
                    fuel_per_second: verifier.fuel_per_second,
                    cores: verifier.cores,
                    threads_busy: self.view.running.len() + self.runs_started + audits_busy,
                    free_slot: audits_busy < verifier.capacity.max(1) as usize,
                    block_ms: match verifier.audit_block_ms {
                        0 => BLOCK_MS_ASSUMED,
                        ms => ms,
                    },
                };
                let drawn = Drawn {
                    fuel: verifier::audit_fuel(job, audit, verifier.seg_fuel),
                    height,
                    due_height: audit.due_height,
                    running: verifier.running.contains(&id),
                };
                match verifier::step(&drawn, &load) {
                    Step::Wait => {}
                    Step::Start => {
                        self.audits_started += 1;
                        self.out.push(Action::StartAudit(Box::new(job.clone())));
                    }
                    Step::Decline => self.out.push(Action::Decline {
                        job: job.id,
                        again: false,
                    }),
                }
            }
            AuditStage::Sealed => {
                if self.due(&id, AuditStep::Reveal) {
                    self.out.push(match files.sealed {
                        true => Action::Reveal(job.id),
                        false => Action::SealLost(job.id),
                    });
                }
            }
            // The audit is over (passed, disputed, missed, declined, withdrawn): once the job
            // is, its re-run's files go too.
            _ => {
                if job.finished_height.is_some() && !verifier.running.contains(&id) {
                    self.out.push(Action::ForgetAudit(job.id));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
