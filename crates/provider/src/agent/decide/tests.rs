//! The decision core for every role and deadline: the provider's jobs (matched, run, commit,
//! resend, give up, settle), the verifier's audits (start, wait, decline, seal, reveal, lapse,
//! sweep), both sides of a dispute, and the heartbeat.

use super::*;
use crate::acceptance::GIVE_UP_BEFORE_DEADLINE_BLOCKS;
use crate::agent::AUDIT_SAFETY_BLOCKS;
use plexus_client::dto::{
    AuditDto, AuditKind, BaseUnits, DisputeEnd, DisputePhase, JobStatus, RulingDto,
};

/// This agent's address as the chain writes it (any string: the core only compares).
const ME: &str = "me";
const HEIGHT: u64 = 100;

fn hex(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// Job `n` assigned to this agent at 95, due at 200, 10^6 fuel.
fn job(n: u8, status: JobStatus) -> JobDto {
    serde_json::from_value(serde_json::json!({
        "id": hex(n), "consumer": "consumer", "status": status.to_string(),
        "module": hex(0xa0), "blobs": [hex(0xa1)], "input": hex(0xa2), "max_fuel": 1_000_000,
        "price_cap_per_mfuel": "1", "audit": "standard", "escrow": "10", "posted_height": 90,
        "deadline_height": 200, "provider": ME, "assigned_height": 95,
    }))
    .expect("a job record")
}

fn commitment() -> CommitmentRecord {
    CommitmentRecord {
        output_hash: hex(1),
        total_fuel: 7,
        segments: 1,
        trace_root: hex(2),
        failed: false,
        failure: None,
    }
}

fn accepted() -> Decision {
    Decision::Accepted {
        height: 95,
        fuel_per_second: 1_000_000,
        block_ms: 250,
    }
}

/// The journal holds job `n` at `phase`, accepted.
fn record(journal: &mut Journal, n: u8, phase: Phase) {
    journal
        .put(JobRecord {
            id: hex(n),
            deadline_height: 200,
            phase,
            decision: Some(accepted()),
        })
        .unwrap();
}

/// A journal whose last heartbeat and sweep were just now (so neither is due).
fn journal() -> Journal {
    let mut journal = Journal::in_memory();
    journal.sends.heartbeat_height = HEIGHT;
    journal.sends.sweep_height = HEIGHT;
    journal
}

/// What a provider (not a verifier) with two slots sees.
struct Seen {
    height: u64,
    jobs: Vec<JobDto>,
    finished: Vec<(String, RunOutcome)>,
    running: BTreeSet<String>,
}

impl Seen {
    fn new(jobs: Vec<JobDto>) -> Self {
        Seen {
            height: HEIGHT,
            jobs,
            finished: Vec::new(),
            running: BTreeSet::new(),
        }
    }

    fn view(&self) -> View<'_> {
        View {
            height: self.height,
            me: ME,
            jobs: &self.jobs,
            finished: &self.finished,
            running: &self.running,
            capacity: 2,
            fuel_per_second: 1_000_000,
            block_ms: 250,
            verifier: None,
        }
    }

    fn decide(&self, journal: &Journal) -> Vec<Action> {
        decide(&self.view(), journal)
    }
}

#[test]
fn a_matched_job_is_judged_once_and_run() {
    let assigned = job(1, JobStatus::Assigned);
    let seen = Seen::new(vec![assigned.clone()]);
    let actions = seen.decide(&journal());
    assert_eq!(
        actions,
        vec![
            Action::NewJob(JobRecord {
                id: hex(1),
                deadline_height: 200,
                phase: Phase::Assigned,
                decision: Some(Decision::Accepted {
                    height: HEIGHT,
                    fuel_per_second: 1_000_000,
                    block_ms: 250,
                }),
            }),
            Action::Run(Box::new(assigned)),
        ]
    );
    // Recorded and running: nothing more to do.
    let mut journal = journal();
    record(&mut journal, 1, Phase::Assigned);
    let mut seen = seen;
    seen.running.insert(hex(1));
    assert_eq!(seen.decide(&journal), vec![]);
}

#[test]
fn a_job_that_cannot_make_its_deadline_is_refused_at_once() {
    let mut tight = job(1, JobStatus::Assigned);
    tight.max_fuel = 1_000_000_000;
    let actions = Seen::new(vec![tight]).decide(&journal());
    let Action::NewJob(JobRecord {
        decision: Some(Decision::Refused { reason, .. }),
        ..
    }) = &actions[0]
    else {
        panic!("not refused: {actions:?}");
    };
    assert_eq!(
        actions[1],
        Action::Refuse {
            job: hex(1),
            reason: reason.clone()
        }
    );
    assert_eq!(actions.len(), 2);
}

#[test]
fn jobs_run_only_while_a_slot_is_free() {
    let mut journal = journal();
    for n in 1..=3 {
        record(&mut journal, n, Phase::Assigned);
    }
    let jobs: Vec<JobDto> = (1..=3).map(|n| job(n, JobStatus::Assigned)).collect();
    let mut seen = Seen::new(jobs.clone());
    // Two slots: the first two start, the third waits.
    assert_eq!(
        seen.decide(&journal),
        vec![
            Action::Run(Box::new(jobs[0].clone())),
            Action::Run(Box::new(jobs[1].clone()))
        ]
    );
    // One runs already: one more starts.
    seen.running.insert(hex(1));
    assert_eq!(
        seen.decide(&journal),
        vec![Action::Run(Box::new(jobs[1].clone()))]
    );
}

#[test]
fn a_finished_run_is_committed_and_not_reconciled_again_that_poll() {
    let mut journal = journal();
    record(&mut journal, 1, Phase::Assigned);
    let mut seen = Seen::new(vec![job(1, JobStatus::Assigned)]);
    seen.finished = vec![(hex(1), RunOutcome::Ran(commitment()))];
    assert_eq!(
        seen.decide(&journal),
        vec![
            Action::SetPhase {
                job: hex(1),
                phase: Phase::Executed {
                    commitment: commitment()
                },
            },
            Action::Commit {
                job: hex(1),
                commitment: commitment()
            },
        ]
    );
    // A run that failed otherwise runs again at once.
    seen.finished = vec![(hex(1), RunOutcome::Failed)];
    assert_eq!(
        seen.decide(&journal),
        vec![Action::Run(Box::new(job(1, JobStatus::Assigned)))]
    );
}

#[test]
fn a_failed_action_skips_only_the_rest_of_its_own_job() {
    // Two runs ended in one poll; the host fails to send job 1's commitment, and (separately)
    // to record job 3's phase. Job 2's result must still be recorded and sent: the runs are
    // already taken off the channel, so dropping it would run job 2 again from scratch. Job 3's
    // commitment must not go out when its phase could not be recorded.
    let mut journal = journal();
    for n in 1..=3 {
        record(&mut journal, n, Phase::Assigned);
    }
    let mut seen = Seen::new((1..=3).map(|n| job(n, JobStatus::Assigned)).collect());
    seen.finished = (1..=3)
        .map(|n| (hex(n), RunOutcome::Ran(commitment())))
        .collect();
    let actions = seen.decide(&journal);
    let mut done = Vec::new();
    let failed = carry_out_all(actions, |action| {
        let fails = matches!(&action, Action::Commit { job, .. } if *job == hex(1))
            || matches!(&action, Action::SetPhase { job, .. } if *job == hex(3));
        if fails {
            return Err(action.job());
        }
        done.push(action);
        Ok(())
    });
    assert_eq!(failed, Some(Some(hex(1))), "the first failure is reported");
    let executed = Phase::Executed {
        commitment: commitment(),
    };
    assert_eq!(
        done,
        vec![
            Action::SetPhase {
                job: hex(1),
                phase: executed.clone(),
            },
            Action::SetPhase {
                job: hex(2),
                phase: executed,
            },
            Action::Commit {
                job: hex(2),
                commitment: commitment(),
            },
        ]
    );
}

#[test]
fn a_commitment_not_on_chain_is_sent_again_after_resend_after_blocks() {
    let mut journal = journal();
    let sent = Phase::CommitSent {
        commitment: commitment(),
        tx: "tx".into(),
        sent_height: HEIGHT,
    };
    record(&mut journal, 1, sent);
    let mut seen = Seen::new(vec![job(1, JobStatus::Assigned)]);
    seen.height = HEIGHT + RESEND_AFTER_BLOCKS;
    journal.sends.heartbeat_height = seen.height;
    assert_eq!(seen.decide(&journal), vec![]);
    seen.height += 1;
    assert_eq!(
        seen.decide(&journal),
        vec![Action::Commit {
            job: hex(1),
            commitment: commitment()
        }]
    );
}

#[test]
fn a_job_that_cannot_run_here_is_given_up_only_near_its_deadline() {
    let mut journal = journal();
    record(&mut journal, 1, Phase::Assigned);
    let mut seen = Seen::new(vec![job(1, JobStatus::Assigned)]);
    seen.finished = vec![(hex(1), RunOutcome::CannotRunHere("no source".into()))];
    // Far from the deadline (200): run again.
    seen.height = 200 - GIVE_UP_BEFORE_DEADLINE_BLOCKS - 1;
    journal.sends.heartbeat_height = seen.height;
    assert_eq!(
        seen.decide(&journal),
        vec![Action::Run(Box::new(job(1, JobStatus::Assigned)))]
    );
    // Near it: commit the refusal while it still lands, and nothing else for the job.
    seen.height += 1;
    journal.sends.heartbeat_height = seen.height;
    assert_eq!(
        seen.decide(&journal),
        vec![Action::Refuse {
            job: hex(1),
            reason: "no source".into()
        }]
    );
}

#[test]
fn committed_settled_refuted_and_expired_jobs_are_recorded_and_cleaned_up() {
    let mut journal = journal();
    let sent = Phase::CommitSent {
        commitment: commitment(),
        tx: "tx".into(),
        sent_height: 90,
    };
    record(&mut journal, 1, sent);
    let committed = Phase::Committed {
        commitment: commitment(),
    };
    record(&mut journal, 2, committed.clone());
    record(&mut journal, 3, committed.clone());
    record(&mut journal, 4, Phase::Assigned);
    let mut settled = job(2, JobStatus::Settled);
    settled.paid = Some(BaseUnits::from(5));
    let mut refuted = job(3, JobStatus::Refuted);
    refuted.slashed = Some(BaseUnits::from(9));
    let expired = job(4, JobStatus::Expired);
    let seen = Seen::new(vec![
        job(1, JobStatus::Committed),
        settled.clone(),
        refuted.clone(),
        expired.clone(),
    ]);
    assert_eq!(
        seen.decide(&journal),
        vec![
            Action::SetPhase {
                job: hex(1),
                phase: committed,
            },
            Action::SetPhase {
                job: hex(2),
                phase: Phase::Settled {
                    commitment: commitment(),
                    paid: "5".into()
                },
            },
            Action::CleanUp(Box::new(settled)),
            Action::SetPhase {
                job: hex(3),
                phase: Phase::Refuted {
                    slashed: "9".into()
                },
            },
            Action::CleanUp(Box::new(refuted)),
            Action::SetPhase {
                job: hex(4),
                phase: Phase::Expired,
            },
            Action::CleanUp(Box::new(expired)),
        ]
    );
}

#[test]
fn a_heartbeat_goes_every_heartbeat_every_blocks() {
    let mut journal = journal();
    let mut seen = Seen::new(vec![]);
    seen.height = HEIGHT + HEARTBEAT_EVERY_BLOCKS - 1;
    assert_eq!(seen.decide(&journal), vec![]);
    seen.height += 1;
    assert_eq!(seen.decide(&journal), vec![Action::Heartbeat]);
    // Recorded as sent (the host does so once it is submitted): not due again.
    journal.sends.heartbeat_height = seen.height;
    assert_eq!(seen.decide(&journal), vec![]);
}

/// An open dispute over job `n` by `challenger`, with `to_move` owing the next step by 150.
fn disputed(n: u8, challenger: &str, to_move: Option<Turn>) -> JobDto {
    let mut job = job(n, JobStatus::Committed);
    job.dispute = Some(DisputeDto {
        challenger: challenger.into(),
        by_verifier: true,
        deposit: BaseUnits::from(1),
        opened_height: 90,
        due_height: 150,
        phase: DisputePhase::AwaitingReveal,
        to_move,
        round: 0,
        lo: 0,
        hi: 8,
        game: String::new(),
        resolved: None,
        ruling: None,
    });
    job
}

fn ruled(mut job: JobDto) -> JobDto {
    let dispute = job.dispute.as_mut().unwrap();
    dispute.to_move = None;
    dispute.ruling = Some(RulingDto {
        provider_lost: true,
        end: DisputeEnd::Timeout,
        slashed: BaseUnits::from(3),
        to_winner: BaseUnits::from(1),
        height: 151,
    });
    job
}

#[test]
fn the_defender_plays_only_its_turns_and_forgets_a_ruled_dispute() {
    let committed = Phase::Committed {
        commitment: commitment(),
    };
    let mut journal = journal();
    record(&mut journal, 1, committed);
    let play = |job: &JobDto| Action::PlayDispute {
        job: Box::new(job.clone()),
        role: Role::Defender,
    };
    for (to_move, plays) in [
        (Some(Turn::Defender), true),
        (Some(Turn::Settle), true),
        (Some(Turn::Challenger), false),
    ] {
        let job = disputed(1, "verifier", to_move);
        let expected = if plays { vec![play(&job)] } else { vec![] };
        assert_eq!(
            Seen::new(vec![job]).decide(&journal),
            expected,
            "{to_move:?}"
        );
    }
    // Owed up to its due height, and the chain, not the agent, rules a lapse.
    let mut seen = Seen::new(vec![disputed(1, "verifier", Some(Turn::Defender))]);
    seen.height = 150;
    journal.sends.heartbeat_height = 150;
    assert_eq!(seen.decide(&journal), vec![play(&seen.jobs[0])]);
    let lapsed = ruled(disputed(1, "verifier", Some(Turn::Defender)));
    assert_eq!(
        Seen::new(vec![lapsed]).decide(&journal),
        vec![Action::ForgetDispute {
            job: hex(1).parse().unwrap(),
            role: Role::Defender
        }]
    );
    // A job the journal does not hold is not this agent's to defend.
    assert_eq!(
        Seen::new(vec![disputed(2, "verifier", Some(Turn::Defender))]).decide(&journal),
        vec![]
    );
}

/// What a verifier with one audit slot sees: `jobs` it verifies, its `files`, audits `running`.
struct Verifying {
    seen: Seen,
    jobs: Vec<JobDto>,
    files: BTreeMap<String, AuditFiles>,
    running: BTreeSet<String>,
}

impl Verifying {
    fn new(jobs: Vec<JobDto>) -> Self {
        Verifying {
            seen: Seen::new(vec![]),
            jobs,
            files: BTreeMap::new(),
            running: BTreeSet::new(),
        }
    }

    fn at(mut self, height: u64) -> Self {
        self.seen.height = height;
        self
    }

    fn decide(&self, journal: &Journal) -> Vec<Action> {
        let view = View {
            verifier: Some(VerifierView {
                jobs: &self.jobs,
                files: &self.files,
                running: &self.running,
                capacity: 1,
                fuel_per_second: 1_000_000,
                cores: 2,
                audit_block_ms: 250,
                seg_fuel: 1_000,
            }),
            ..self.seen.view()
        };
        decide(&view, journal)
    }
}

/// Another provider's job `n`, committed with 10^6 fuel, whose full audit is drawn to this
/// agent at `stage`, due at `due_height`.
fn audited(n: u8, stage: AuditStage, due_height: u64) -> JobDto {
    let mut job = job(n, JobStatus::Committed);
    job.provider = Some("other".into());
    job.total_fuel = Some(1_000_000);
    job.audit_record = Some(AuditDto {
        kind: AuditKind::Full,
        segments: Vec::new(),
        verifier: ME.into(),
        drawn_height: 95,
        due_height,
        stage,
        paid: BaseUnits::default(),
        canary_flagged: None,
        declined: Vec::new(),
    });
    job
}

fn id(n: u8) -> HexDigest {
    hex(n).parse().unwrap()
}

#[test]
fn a_drawn_audit_that_fits_starts_and_one_too_late_is_declined() {
    let journal = journal();
    // 10^6 fuel at two thirds of 10^6 fuel/s: 6 blocks of 250 ms, after the safety blocks.
    let fits = audited(1, AuditStage::Drawn, HEIGHT + AUDIT_SAFETY_BLOCKS + 6);
    assert_eq!(
        Verifying::new(vec![fits.clone()]).decide(&journal),
        vec![Action::StartAudit(Box::new(fits.clone()))]
    );
    let late = audited(2, AuditStage::Drawn, HEIGHT + AUDIT_SAFETY_BLOCKS + 5);
    assert_eq!(
        Verifying::new(vec![late]).decide(&journal),
        vec![Action::Decline {
            job: id(2),
            again: false
        }]
    );
    // One slot: the second audit that fits waits for it.
    let also = audited(3, AuditStage::Drawn, 200);
    assert_eq!(
        Verifying::new(vec![fits.clone(), also.clone()]).decide(&journal),
        vec![Action::StartAudit(Box::new(fits.clone()))]
    );
    // Running: it waits, until it is within the safety blocks of its deadline.
    let mut running = Verifying::new(vec![fits.clone()]);
    running.running.insert(hex(1));
    assert_eq!(running.decide(&journal), vec![]);
    let running = running.at(HEIGHT + 6);
    assert_eq!(
        running.decide(&journal),
        vec![Action::Decline {
            job: id(1),
            again: false
        }]
    );
}

#[test]
fn a_sent_decline_is_final_and_sent_again_after_decline_resend_blocks() {
    let journal = journal();
    let mut verifying = Verifying::new(vec![audited(1, AuditStage::Drawn, 200)]);
    verifying.files.insert(
        hex(1),
        AuditFiles {
            // A verdict that finished after the decline is not sealed.
            sealed: true,
            declined_height: Some(HEIGHT - DECLINE_RESEND_BLOCKS),
        },
    );
    assert_eq!(verifying.decide(&journal), vec![]);
    let verifying = verifying.at(HEIGHT + 1);
    assert_eq!(
        verifying.decide(&journal),
        vec![Action::Decline {
            job: id(1),
            again: true
        }]
    );
}

#[test]
fn a_finished_re_run_is_sealed_once_and_again_after_resend_after_blocks() {
    let mut journal = journal();
    let mut verifying = Verifying::new(vec![audited(1, AuditStage::Drawn, 200)]);
    verifying.files.insert(
        hex(1),
        AuditFiles {
            sealed: true,
            declined_height: None,
        },
    );
    assert_eq!(verifying.decide(&journal), vec![Action::Seal(id(1))]);
    journal
        .sends
        .audit_steps
        .insert(hex(1), (AuditStep::Seal, HEIGHT));
    let verifying = verifying.at(HEIGHT + RESEND_AFTER_BLOCKS);
    journal.sends.heartbeat_height = HEIGHT + RESEND_AFTER_BLOCKS;
    assert_eq!(verifying.decide(&journal), vec![]);
    let verifying = verifying.at(HEIGHT + RESEND_AFTER_BLOCKS + 1);
    assert_eq!(verifying.decide(&journal), vec![Action::Seal(id(1))]);
}

#[test]
fn a_landed_seal_is_revealed_at_once_and_resent_like_any_step() {
    let mut journal = journal();
    // The seal was sent at 100 and has landed: the reveal is a new step, due at once.
    journal
        .sends
        .audit_steps
        .insert(hex(1), (AuditStep::Seal, HEIGHT));
    let mut verifying = Verifying::new(vec![audited(1, AuditStage::Sealed, 150)]).at(HEIGHT + 1);
    verifying.files.insert(
        hex(1),
        AuditFiles {
            sealed: true,
            declined_height: None,
        },
    );
    assert_eq!(verifying.decide(&journal), vec![Action::Reveal(id(1))]);
    journal
        .sends
        .audit_steps
        .insert(hex(1), (AuditStep::Reveal, HEIGHT + 1));
    assert_eq!(verifying.decide(&journal), vec![]);
    let mut verifying = verifying.at(HEIGHT + 2 + RESEND_AFTER_BLOCKS);
    journal.sends.heartbeat_height = HEIGHT + 2 + RESEND_AFTER_BLOCKS;
    assert_eq!(verifying.decide(&journal), vec![Action::Reveal(id(1))]);
    // A verdict that is not kept here cannot be revealed: said, never sent.
    verifying.files.clear();
    assert_eq!(verifying.decide(&journal), vec![Action::SealLost(id(1))]);
}

#[test]
fn a_lapsed_audit_is_forgotten_once_its_job_is_over() {
    let journal = journal();
    let mut missed = audited(1, AuditStage::Missed, 150);
    let mut verifying = Verifying::new(vec![missed.clone()]);
    // The job is still open: its files may serve a dispute.
    assert_eq!(verifying.decide(&journal), vec![]);
    missed.finished_height = Some(160);
    verifying.jobs = vec![missed];
    assert_eq!(verifying.decide(&journal), vec![Action::ForgetAudit(id(1))]);
    // Not while a re-run of it still runs.
    verifying.running.insert(hex(1));
    assert_eq!(verifying.decide(&journal), vec![]);
}

#[test]
fn the_challenger_plays_only_its_turns_and_its_open_dispute_comes_before_the_audit() {
    let journal = journal();
    let mut mine = audited(1, AuditStage::Disputed, 150);
    mine.dispute = disputed(1, ME, Some(Turn::Challenger)).dispute;
    mine.finished_height = Some(160);
    assert_eq!(
        Verifying::new(vec![mine.clone()]).decide(&journal),
        vec![Action::PlayDispute {
            job: Box::new(mine.clone()),
            role: Role::Challenger
        }]
    );
    // The defender's turn: nothing, not even the audit's clean-up.
    mine.dispute.as_mut().unwrap().to_move = Some(Turn::Defender);
    assert_eq!(Verifying::new(vec![mine.clone()]).decide(&journal), vec![]);
    // A dispute another party opened is not this agent's to play.
    let theirs = disputed(2, "consumer", Some(Turn::Challenger));
    assert_eq!(Verifying::new(vec![theirs]).decide(&journal), vec![]);
    // Ruled: the audit is over, and so is the job.
    assert_eq!(
        Verifying::new(vec![ruled(mine)]).decide(&journal),
        vec![Action::ForgetAudit(id(1))]
    );
}

#[test]
fn old_audits_are_swept_every_sweep_every_blocks() {
    let mut journal = journal();
    let verifying = Verifying::new(vec![]).at(HEIGHT + SWEEP_EVERY_BLOCKS - 1);
    journal.sends.heartbeat_height = HEIGHT + SWEEP_EVERY_BLOCKS;
    assert_eq!(verifying.decide(&journal), vec![]);
    let verifying = verifying.at(HEIGHT + SWEEP_EVERY_BLOCKS);
    assert_eq!(verifying.decide(&journal), vec![Action::Sweep]);
    // Not a verifier: no sweep.
    assert_eq!(verifying.seen.decide(&journal), vec![]);
}

#[test]
fn job_runs_take_the_cores_an_audit_is_judged_at() {
    // Two jobs start this poll on two cores: the audit's re-run shares them (three threads),
    // 10^6 fuel then takes 9 blocks, more than the 8 left after the safety blocks.
    let mut journal = journal();
    record(&mut journal, 1, Phase::Assigned);
    record(&mut journal, 2, Phase::Assigned);
    let due = HEIGHT + AUDIT_SAFETY_BLOCKS + 8;
    let mut verifying = Verifying::new(vec![audited(3, AuditStage::Drawn, due)]);
    assert_eq!(
        verifying.decide(&journal),
        vec![Action::StartAudit(Box::new(verifying.jobs[0].clone()))]
    );
    verifying.seen.jobs = vec![job(1, JobStatus::Assigned), job(2, JobStatus::Assigned)];
    let actions = verifying.decide(&journal);
    assert_eq!(
        actions.last(),
        Some(&Action::Decline {
            job: id(3),
            again: false
        }),
        "{actions:?}"
    );
}
