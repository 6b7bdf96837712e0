//! The agent's host loop: keep the provider registered and alive on chain, pick up the jobs the
//! chain assigns to it, run them (one thread per job, at most `capacity` at once), post each
//! commitment, follow each job to settlement, and (with a verifier bond) verify.
//!
//! Every poll the host reads what the agent sees (the chain's records of its jobs and audits,
//! the runs and re-runs that ended, the files its audits keep), asks the pure decision core
//! ([`decide`]) what to do with it and the [`Journal`], and carries the actions out: HTTP,
//! submission, threads, files, each recorded in the journal. The chain is the authority: the
//! journal is reconciled with it on every poll, so a restarted agent resumes where it was (a job
//! that was executing runs again; a commitment that was never finalized is sent again). Whether
//! to take a job on is decided once, when the agent first sees it (`acceptance`), and kept in the
//! journal, so a restart resumes every job it accepted whatever its speed looks like then. One
//! thread submits every transaction, so nonces never race.

use crate::{
    acceptance::Decision,
    journal::{AuditStep, CommitmentRecord, JobRecord, Journal, Phase},
    rerun::PreStateError,
    runner::{Assignment, RunError, Runner},
};
use plexus_blobs::BlobError;
use plexus_client::{
    Client, ClientError, TxBuilder,
    dispute::{HostError, Leaves, Player},
    dto::{HexDigest, JobDto, ReceiptStatus},
};
use plexus_fueltrace::dissection::Role;
use plexus_types::{
    Address, ContentHash, Digest, Payload, PrivateKey, hash::digest_hex, hash::parse_digest,
    job::ResourceProfile,
};
use std::path::Path;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    time::Duration,
};
use tracing::{info, warn};

pub mod decide;
pub mod policy;
pub mod storage;
mod verifier;
use decide::{Action, AuditFiles, RunOutcome, VerifierView, View, carry_out_all, decide};
pub use verifier::{AUDIT_SAFETY_BLOCKS, Drawn, Load, Step, VerifierConfig, step};

/// Jobs read from the node per poll (newest first): more than a provider ever has in flight.
pub const JOBS_POLLED_MAX: usize = 100;
/// The block time assumed until the agent has observed the chain's (a devnet's minimum).
pub const BLOCK_MS_ASSUMED: u64 = 250;
/// Blocks between heartbeats (the chain's default tolerance is 3 missed intervals of 20).
pub const HEARTBEAT_EVERY_BLOCKS: u64 = 10;
/// Blocks after which a commitment, an audit step or a dispute step that is still not on chain
/// is sent again (the dispute loop's).
pub const RESEND_AFTER_BLOCKS: u64 = plexus_client::dispute::RESEND_AFTER_BLOCKS;

/// What the agent advertises and how it pays for it.
#[derive(Clone, Debug)]
pub struct Offer {
    pub endpoint: String,
    pub profile: ResourceProfile,
    pub fuel_per_second: u64,
    pub ask_per_mfuel: u128,
    pub bond: u128,
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("node: {0}")]
    Node(#[from] ClientError),
    #[error("registering as a provider: {0}")]
    Register(String),
    #[error("journal: {0}")]
    Journal(#[from] std::io::Error),
}

/// The agent's state between polls.
pub struct Agent {
    pub key: PrivateKey,
    pub address: Address,
    pub node: Client,
    pub offer: Offer,
    pub journal: Arc<Mutex<Journal>>,
    pub runner: Arc<Runner>,
    /// Jobs executing now (shared with the HTTP API).
    pub running: Arc<Mutex<BTreeSet<String>>>,
    pub capacity: usize,
    /// The chain's block time as observed, in milliseconds (for deadline feasibility).
    pub block_ms: u64,
    first_seen: Option<(u64, u64)>,
    /// Whether and how the agent verifies (a zero bond: it does not).
    pub verifier: VerifierConfig,
    /// The audits it re-runs now.
    audits: verifier::Audits,
    /// The speed figure the background re-measurement publishes (`speed::Remeasure`); when it
    /// differs from the offer's, the offer is updated on chain. `None`: the figure is fixed.
    pub speed_figure: Option<Arc<AtomicU64>>,
    /// Its side of disputes over its own commitments, and (as a verifier) over others'.
    defender: Player,
    challenger: Player,
    done_tx: mpsc::Sender<(Assignment, Result<CommitmentRecord, RunError>)>,
    done_rx: mpsc::Receiver<(Assignment, Result<CommitmentRecord, RunError>)>,
    /// Its storage offer and shards (`None`: an agent without a shard store, in tests).
    pub storage: Option<storage::StorageStep>,
}

impl Agent {
    pub fn new(
        key: PrivateKey,
        node: Client,
        offer: Offer,
        journal: Arc<Mutex<Journal>>,
        runner: Arc<Runner>,
        running: Arc<Mutex<BTreeSet<String>>>,
    ) -> Self {
        use commonware_cryptography::Signer;
        let (done_tx, done_rx) = mpsc::channel();
        let capacity = offer.profile.cores.max(1) as usize;
        Agent {
            address: Address(key.public_key()),
            key,
            node,
            offer,
            journal,
            runner,
            running,
            capacity,
            block_ms: BLOCK_MS_ASSUMED,
            first_seen: None,
            verifier: VerifierConfig::default(),
            audits: verifier::Audits::default(),
            speed_figure: None,
            defender: Player::new(
                Role::Defender,
                plexus_client::dispute::next_move,
                true,
                RESEND_AFTER_BLOCKS,
            ),
            challenger: Player::new(
                Role::Challenger,
                plexus_client::dispute::next_move,
                true,
                RESEND_AFTER_BLOCKS,
            ),
            done_tx,
            done_rx,
            storage: None,
        }
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs and submits `payload`; returns the transaction hash.
    fn submit(&self, payload: Payload) -> Result<String, ClientError> {
        submit_signed(&self.node, &self.key, &self.address, payload)
    }

    /// Submits and waits for finality; a non-success receipt is an error.
    fn send(&self, payload: Payload) -> Result<(), AgentError> {
        let hash = self.submit(payload)?;
        let done = self.node.wait_finalized(&hash, Duration::from_secs(60))?;
        match done.receipt {
            Some(receipt) if receipt.status == ReceiptStatus::Success => Ok(()),
            Some(receipt) => Err(AgentError::Register(format!(
                "transaction {hash} {}: {}",
                receipt.status,
                receipt.reason.unwrap_or_default()
            ))),
            None => Err(AgentError::Register(format!(
                "transaction {hash} has no receipt"
            ))),
        }
    }

    /// Registers the provider, or updates its record when the offer changed.
    pub fn register(&mut self) -> Result<(), AgentError> {
        let offer = self.offer.clone();
        match self.node.provider(&self.address) {
            Ok(current) => {
                let bond: u128 = current.bond.parse().unwrap_or(0);
                let ask: u128 = current.ask_per_mfuel.parse().unwrap_or(0);
                let same = current.endpoint == offer.endpoint
                    && ask == offer.ask_per_mfuel
                    && current.fuel_per_second == offer.fuel_per_second
                    && current.capacity as usize == self.capacity
                    && bond >= offer.bond;
                if !same {
                    info!(endpoint = %offer.endpoint, "updating the provider record");
                    self.send(Payload::ProviderUpdate {
                        endpoint: offer.endpoint,
                        profile: offer.profile,
                        fuel_per_second: offer.fuel_per_second,
                        ask_per_mfuel: offer.ask_per_mfuel,
                        bond_add: offer.bond.saturating_sub(bond),
                    })?;
                }
            }
            Err(err) if err.code() == Some("unknown_provider") => {
                info!(endpoint = %offer.endpoint, bond = %offer.bond, "registering as a provider");
                self.send(Payload::ProviderRegister {
                    endpoint: offer.endpoint,
                    profile: offer.profile,
                    fuel_per_second: offer.fuel_per_second,
                    ask_per_mfuel: offer.ask_per_mfuel,
                    bond: offer.bond,
                })?;
            }
            Err(err) => return Err(err.into()),
        }
        // Before the verifier's registration, so that once a provider verifies (what a devnet
        // waits for) its storage offer is on chain too, and nothing else this key sends races it.
        match self.post_storage_offer() {
            // Refused (a provider deregistering): it still sells compute.
            Err(AgentError::Register(reason)) => {
                warn!(%reason, "the storage offer was refused: no storage sold until a restart");
            }
            other => other?,
        }
        self.register_verifier()?;
        let status = self.node.status()?;
        // Checkpoints must fall where verifiers and validators re-run them: the chain's seg_fuel.
        if status.seg_fuel > 0 && status.seg_fuel != self.runner.seg_fuel() {
            info!(seg_fuel = status.seg_fuel, "using the chain's segment size");
            self.runner.set_seg_fuel(status.seg_fuel);
        }
        self.journal().sends.heartbeat_height = status.height;
        Ok(())
    }

    /// Runs until `stop` is set, polling every `poll`.
    pub fn run(&mut self, stop: &AtomicBool, poll: Duration) -> Result<(), AgentError> {
        // The node may still be starting (a devnet starts both at once): wait for it.
        loop {
            match self.register() {
                Ok(()) => break,
                Err(AgentError::Node(ClientError::Connect { url, .. }))
                    if !stop.load(Ordering::Relaxed) =>
                {
                    info!(%url, "waiting for the node");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(err) => return Err(err),
            }
        }
        while !stop.load(Ordering::Relaxed) {
            if let Err(err) = self.tick() {
                // A node that is down or restarting: try again next poll.
                warn!(%err, "provider poll failed");
            }
            std::thread::sleep(poll);
        }
        Ok(())
    }

    /// One poll: fetch what the agent sees, [`decide`], carry the actions out. A view that
    /// could be read only in part (the node failed to list the jobs) is still acted on
    /// (heartbeat, finished runs), and the failure reported after.
    pub fn tick(&mut self) -> Result<(), AgentError> {
        let status = self.node.status()?;
        let height = status.height;
        self.observe_block_time(height, status.timestamp);
        self.follow_speed();
        let (seen, failed) = self.look();
        let actions = {
            let running = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let audits_running = self.audits.running();
            let view = View {
                height,
                me: &seen.me,
                jobs: &seen.jobs,
                finished: &seen.finished,
                running: &running,
                capacity: self.capacity,
                fuel_per_second: self.offer.fuel_per_second,
                block_ms: self.block_ms,
                verifier: seen.audited.as_ref().map(|audited| VerifierView {
                    jobs: &audited.jobs,
                    files: &audited.files,
                    running: &audits_running,
                    capacity: self.verifier.capacity,
                    fuel_per_second: self.audit_speed(),
                    cores: self.offer.profile.cores,
                    audit_block_ms: status.audit_block_ms,
                    seg_fuel: self.runner.seg_fuel(),
                }),
            };
            decide(&view, &self.journal())
        };
        let failed_action = carry_out_all(actions, |action| {
            let job = action.job();
            self.carry_out(action, &seen, height).inspect_err(|err| {
                warn!(job = job.as_deref().unwrap_or("-"), %err, "not done this poll; the other jobs go on");
            })
        });
        self.storage_step(height);
        failed.or(failed_action).map_or(Ok(()), Err)
    }

    /// Sends the storage offer when the chain's differs from the operator's.
    fn post_storage_offer(&mut self) -> Result<(), AgentError> {
        let Some(step) = &self.storage else {
            return Ok(());
        };
        if let Some(payload) = step.offer_payload(&self.node, &self.address)? {
            if let Payload::StorageOffer {
                capacity_bytes,
                price_per_gib_epoch,
            } = &payload
            {
                info!(capacity_bytes, %price_per_gib_epoch, "posting the storage offer");
            }
            self.send(payload)?;
        }
        Ok(())
    }

    /// The storage step of this poll (`storage`), from one holders list: its challenge answers
    /// first (their windows are the shortest), then its repairs, then its accepts and
    /// collection. A node that cannot list them leaves the shards as they are until the next
    /// poll.
    fn storage_step(&mut self, height: u64) {
        let Some(step) = self.storage.as_mut() else {
            return;
        };
        let me = self.address.to_string();
        let (node, key, address) = (&self.node, &self.key, &self.address);
        match node.holder_shards(&me) {
            Ok(held) => {
                step.answer_challenges(&held, height, |payload| {
                    submit_signed(node, key, address, payload)
                });
                let store = step.store.clone();
                step.repair(&held, height, || storage::repair::RepairContext {
                    node: node.clone(),
                    key: key.clone(),
                    me: me.clone(),
                    store: store.clone(),
                });
                let seen = step.look(&held, height);
                for action in step.decide(height, &seen) {
                    step.carry_out(action, height, |payload| {
                        submit_signed(node, key, address, payload)
                    });
                }
            }
            Err(err) => {
                warn!(%err, "cannot list this provider's shards; its storage duties wait a poll")
            }
        }
    }

    /// What the agent sees this poll, read from the node, its runs and its disk; and the
    /// failure that cut it short, if one did.
    fn look(&mut self) -> (Seen, Option<AgentError>) {
        let mut seen = Seen {
            me: self.address.to_string(),
            jobs: Vec::new(),
            finished: self.ended_runs(),
            audited: None,
        };
        if let Err(err) = self.look_at_jobs(&mut seen.jobs) {
            return (seen, Some(err));
        }
        if self.verifier.bond > 0 {
            match self.look_at_audits() {
                Ok(audited) => seen.audited = Some(audited),
                Err(err) => return (seen, Some(err)),
            }
        }
        (seen, None)
    }

    /// The runs that ended since the last poll, no longer running.
    fn ended_runs(&mut self) -> Vec<(String, RunOutcome)> {
        let mut ended = Vec::new();
        while let Ok((job, result)) = self.done_rx.try_recv() {
            let id = digest_hex(&job.id);
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            let outcome = match result {
                Ok(commitment) => {
                    info!(job = %id, fuel = commitment.total_fuel, segments = commitment.segments, failed = commitment.failed, "executed");
                    RunOutcome::Ran(commitment)
                }
                Err(
                    err @ (RunError::Unavailable { .. } | RunError::Blobs(BlobError::Full { .. })),
                ) => {
                    warn!(job = %id, %err, "job cannot run here yet");
                    RunOutcome::CannotRunHere(err.to_string())
                }
                Err(err) => {
                    // Retried at the next poll that sees the job still assigned.
                    warn!(job = %id, %err, "job not run yet");
                    RunOutcome::Failed
                }
            };
            ended.push((id, outcome));
        }
        ended
    }

    /// The chain's records of the jobs assigned to this provider: the newest
    /// `JOBS_POLLED_MAX`, then the unfinished ones older than those, read one by one so a busy
    /// provider never loses one.
    fn look_at_jobs(&self, jobs: &mut Vec<JobDto>) -> Result<(), AgentError> {
        *jobs = self.node.jobs_of_provider(&self.address, JOBS_POLLED_MAX)?;
        let seen: BTreeSet<String> = jobs.iter().map(|job| job.id.to_string()).collect();
        let older: Vec<String> = self
            .journal()
            .records()
            .filter(|r| !r.phase.is_final() && !seen.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        for id in older {
            match self.node.job(&id) {
                Ok(job) => jobs.push(job),
                Err(err) => warn!(job = %id, %err, "cannot read the job"),
            }
        }
        Ok(())
    }

    /// The chain's records of the jobs this verifier audits or disputes (those the chain lists,
    /// then those whose re-run just ended that the list lacks, read one by one, so a seal goes at
    /// once, not at the next poll) and its files.
    fn look_at_audits(&mut self) -> Result<Audited, AgentError> {
        let mut jobs = Vec::new();
        for (job, result) in self.audits.ended() {
            match result {
                Ok(()) => match self.node.job(&job) {
                    Ok(dto) => jobs.push(dto),
                    Err(err) => warn!(%job, %err, "cannot read the audited job"),
                },
                // Tried again at the next poll if there is still time.
                Err(err) => warn!(%job, %err, "audit re-run failed"),
            }
        }
        let listed = self.node.jobs_of_verifier(&self.address, JOBS_POLLED_MAX)?;
        let listed_ids: Vec<String> = listed.iter().map(|job| job.id.to_string()).collect();
        jobs.retain(|job| !listed.iter().any(|l| l.id == job.id));
        jobs.extend(listed);
        let me = self.address.to_string();
        let dir = &self.runner.dir;
        let files = jobs
            .iter()
            .filter(|job| job.audit_record.as_ref().is_some_and(|a| a.verifier == me))
            .map(|job| {
                let id = job.id.to_string();
                let files = AuditFiles {
                    sealed: verifier::read_sealed(dir, &id).is_some(),
                    declined_height: verifier::read_declined(dir, &id),
                };
                (id, files)
            })
            .collect();
        Ok(Audited {
            jobs,
            listed: listed_ids,
            files,
        })
    }

    /// Carries out one action of [`decide`]'s, recording in the journal what it did.
    fn carry_out(&mut self, action: Action, seen: &Seen, height: u64) -> Result<(), AgentError> {
        match action {
            Action::Heartbeat => match self.submit(Payload::ProviderHeartbeat) {
                Ok(_) => self.journal().sends.heartbeat_height = height,
                // A failed heartbeat must not hold up results and commitments: next poll.
                Err(err) => warn!(%err, "heartbeat not sent"),
            },
            Action::NewJob(record) => {
                log_decision(&record);
                self.journal().put(record)?;
            }
            Action::Run(job) => self.run_job(&job),
            Action::Refuse { job, reason } => self.refuse(&job, &reason, height)?,
            Action::SetPhase { job, phase } => {
                log_phase(&job, &phase);
                self.journal().set_phase(&job, phase)?;
            }
            Action::Commit { job, commitment } => self.commit(&job, commitment, height)?,
            Action::CleanUp(job) => self.clean_up(&job)?,
            Action::PlayDispute { job, role } => {
                if let Err(err) = self.play_dispute(&job, height, role) {
                    warn!(job = %job.id, %err, "dispute step failed");
                }
            }
            Action::ForgetDispute { job, role } => self.player(role).forget(&job),
            Action::StartAudit(job) => {
                if let Some(audit) = &job.audit_record {
                    self.start_audit(&job, audit, height);
                }
            }
            Action::Seal(job) => match self.seal(&job) {
                Ok(()) => self.audit_step_sent(&job, AuditStep::Seal, height),
                Err(err) => warn!(%job, %err, "verifier step failed"),
            },
            Action::Reveal(job) => match self.reveal(&job) {
                Ok(()) => self.audit_step_sent(&job, AuditStep::Reveal, height),
                Err(err) => warn!(%job, %err, "verifier step failed"),
            },
            Action::SealLost(job) => {
                warn!(%job, "the audit is sealed but its verdict is not kept here: it cannot be revealed");
            }
            Action::Decline { job, again } => {
                if !again {
                    warn!(%job, "declining an audit that cannot be sealed in time here");
                }
                if let Err(err) = self.decline(&job, height) {
                    warn!(%job, %err, "verifier step failed");
                }
            }
            Action::ForgetAudit(job) => {
                if let Err(err) = verifier::forget(&self.runner.dir, &job.to_string(), true) {
                    warn!(%job, %err, "verifier step failed");
                }
            }
            Action::Sweep => {
                self.journal().sends.sweep_height = height;
                let mine = seen.audited.as_ref().map_or(&[][..], |a| &a.listed[..]);
                self.sweep(mine);
            }
        }
        Ok(())
    }

    fn audit_step_sent(&self, job: &HexDigest, step: AuditStep, height: u64) {
        self.journal()
            .sends
            .audit_steps
            .insert(job.to_string(), (step, height));
    }

    /// Records a refusal of `id` whose output is `reason` and commits it.
    fn refuse(&mut self, id: &str, reason: &str, height: u64) -> Result<(), AgentError> {
        warn!(job = %id, %reason, "committing a refusal of the job");
        let commitment = match self.runner.refusal(reason) {
            Ok(commitment) => commitment,
            Err(err) => {
                warn!(job = %id, %err, "cannot record the refusal");
                return Ok(());
            }
        };
        self.journal().set_phase(
            id,
            Phase::Executed {
                commitment: commitment.clone(),
            },
        )?;
        self.commit(id, commitment, height)
    }

    fn commit(
        &mut self,
        id: &str,
        commitment: CommitmentRecord,
        height: u64,
    ) -> Result<(), AgentError> {
        let digest = |text: &str| {
            parse_digest(text)
                .unwrap_or_else(|| parse_digest(&"0".repeat(64)).expect("zero digest"))
        };
        let content = |text: &str| ContentHash::parse(text).unwrap_or(ContentHash::ZERO);
        let payload = Payload::JobCommit {
            job: digest(id),
            output_hash: content(&commitment.output_hash),
            total_fuel: commitment.total_fuel,
            segments: commitment.segments,
            trace_root: content(&commitment.trace_root),
            failed: commitment.failed,
        };
        let tx = self.submit(payload)?;
        info!(job = %id, %tx, "commitment sent");
        self.journal().set_phase(
            id,
            Phase::CommitSent {
                commitment,
                tx,
                sent_height: height,
            },
        )?;
        Ok(())
    }

    /// Runs an accepted job on a thread of its own; the thread reports on `done_tx`.
    fn run_job(&mut self, job: &JobDto) {
        let assignment = assignment(job);
        let id = job.id.to_string();
        info!(job = %id, "running the job");
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        let runner = self.runner.clone();
        let done = self.done_tx.clone();
        std::thread::spawn(move || {
            let result = runner
                .execute(&assignment)
                .map(|(commitment, _)| commitment);
            let _ = done.send((assignment, result));
        });
    }

    /// Updates the offer on chain when the background re-measurement has changed the speed
    /// figure for good; tried again next poll if the update does not land.
    fn follow_speed(&mut self) {
        let Some(figure) = self
            .speed_figure
            .as_ref()
            .map(|f| f.load(Ordering::Relaxed))
        else {
            return;
        };
        let registered = self.offer.fuel_per_second;
        if figure == registered {
            return;
        }
        self.offer.fuel_per_second = figure;
        match self.register() {
            Ok(()) => info!(
                from = registered,
                to = figure,
                "offer updated to the new speed"
            ),
            Err(err) => {
                self.offer.fuel_per_second = registered;
                warn!(%err, "the offer's new speed did not land; trying again");
            }
        }
    }

    /// Updates the block time estimate from the chain's timestamps (never below the devnet
    /// minimum, so a burst of fast blocks does not make deadlines look longer than they are).
    fn observe_block_time(&mut self, height: u64, timestamp_ms: u64) {
        match self.first_seen {
            None => self.first_seen = Some((height, timestamp_ms)),
            Some((h0, t0)) if height > h0 + 10 => {
                let per_block = timestamp_ms.saturating_sub(t0) / (height - h0);
                self.block_ms = per_block.max(BLOCK_MS_ASSUMED);
            }
            Some(_) => {}
        }
    }
}

impl Agent {
    fn player(&mut self, role: Role) -> &mut Player {
        match role {
            Role::Defender => &mut self.defender,
            Role::Challenger => &mut self.challenger,
        }
    }

    /// This agent's step as `role` in the open dispute over `job`, if one is due: the one
    /// dispute loop, with the agent's leaves, checkpoints and key.
    fn play_dispute(
        &mut self,
        job: &JobDto,
        height: u64,
        role: Role,
    ) -> Result<(), FuelTraceError> {
        let mut host = AgentHost {
            node: &self.node,
            key: &self.key,
            address: &self.address,
            dir: &self.runner.dir,
        };
        let player = match role {
            Role::Defender => &mut self.defender,
            Role::Challenger => &mut self.challenger,
        };
        if let Some(sent) = player.play(job, height, &mut host)? {
            info!(job = %job.id, phase = %sent.state.phase, round = sent.state.round, side = ?role, tx = %sent.tx, "dispute step sent");
        }
        Ok(())
    }
}

/// What the host read for one poll, beside the [`View`] it lends to [`decide`].
struct Seen {
    me: String,
    jobs: Vec<JobDto>,
    finished: Vec<(String, RunOutcome)>,
    /// `None`: the agent does not verify (or the node did not list its audits).
    audited: Option<Audited>,
}

/// The verifier's part of [`Seen`].
struct Audited {
    jobs: Vec<JobDto>,
    /// The jobs the chain lists for this verifier now (hex ids): their files are not swept.
    listed: Vec<String>,
    files: BTreeMap<String, AuditFiles>,
}

/// Says in the log what was decided on a job first seen.
fn log_decision(record: &JobRecord) {
    let job = &record.id;
    match &record.decision {
        Some(Decision::Accepted {
            fuel_per_second, ..
        }) => {
            info!(%job, deadline = record.deadline_height, fuel_per_second, "accepted the job");
        }
        Some(Decision::Refused { reason, .. }) => {
            warn!(%job, %reason, "refusing the job: it cannot finish before its deadline");
        }
        None => {}
    }
}

/// Says in the log how a job ended, when `phase` is an end.
fn log_phase(job: &str, phase: &Phase) {
    match phase {
        Phase::Refuted { slashed } => {
            warn!(%job, %slashed, "lost the dispute over this job: refuted and slashed");
        }
        Phase::Settled { paid, .. } => info!(%job, %paid, "settled: paid"),
        Phase::Expired => warn!(%job, "the job expired before its commitment landed"),
        _ => {}
    }
}

/// Signs `payload` with `key` at the account's next nonce and the chain's minimum fee, and
/// submits it; the transaction hash.
fn submit_signed(
    node: &Client,
    key: &PrivateKey,
    address: &Address,
    payload: Payload,
) -> Result<String, ClientError> {
    let status = node.status()?;
    let builder = TxBuilder {
        key,
        chain_id: status.chain_id,
        fee: status.fee_min.parse().unwrap_or(plexus_client::FEE_DEFAULT),
    };
    let nonce = node.account(address)?.next_nonce;
    node.submit(&builder.build(nonce, payload))
}

/// The agent's side of a dispute step: its trace leaves and checkpoints on disk, its key.
struct AgentHost<'a> {
    node: &'a Client,
    key: &'a PrivateKey,
    address: &'a Address,
    dir: &'a Path,
}

impl plexus_client::dispute::Host for AgentHost<'_> {
    fn leaves(&self, job: &Digest) -> Result<Option<Leaves>, HostError> {
        Ok(crate::leaves::read_leaves(self.dir, job)?)
    }

    fn upload_pre_state(&self, job: &Digest, index: u64) -> Result<ContentHash, HostError> {
        Ok(crate::rerun::upload_pre_state(
            self.node, self.dir, job, index,
        )?)
    }

    fn submit(&mut self, payload: Payload) -> Result<String, HostError> {
        Ok(submit_signed(self.node, self.key, self.address, payload)?)
    }
}

/// Why a FuelTrace step could not be taken this poll (it is tried again at the next).
#[derive(Debug, thiserror::Error)]
pub enum FuelTraceError {
    #[error("the node's {0} record does not parse")]
    Record(&'static str),
    #[error("{0}")]
    PreState(#[from] PreStateError),
    #[error("dispute: {0}")]
    Dispute(#[from] plexus_client::dispute::PlayError),
    #[error("node: {0}")]
    Node(#[from] ClientError),
    #[error("running the job: {0}")]
    Run(#[from] RunError),
    #[error("disk: {0}")]
    Io(#[from] std::io::Error),
}

/// The provider's commitment as the chain holds it, from the node's job record.
fn chain_commitment(job: &JobDto) -> Option<plexus_types::job::Commitment> {
    Some(plexus_types::job::Commitment {
        output_hash: job.output_hash?.hash(),
        total_fuel: job.total_fuel?,
        segments: job.segments?,
        trace_root: job.trace_root?.hash(),
        failed: job.failed?,
    })
}

impl Agent {
    /// Frees what a finished job used: its checkpoints and pages (past the audit window nobody
    /// asks for them) and its input and blobs (modules stay: jobs reuse them). The output stays
    /// for consumers who fetch it later.
    fn clean_up(&self, job: &JobDto) -> Result<(), AgentError> {
        crate::checkpoints::CheckpointReader::new(&self.runner.dir).remove_job(&job.id.0)?;
        for hash in job.blobs.iter().chain(std::iter::once(&job.input)) {
            if let Err(err) = self.runner.blobs.remove(&hash.0) {
                warn!(job = %job.id, %err, "cannot remove a finished job's blob");
            }
        }
        Ok(())
    }
}

/// The executor's view of a chain job record.
fn assignment(job: &JobDto) -> Assignment {
    Assignment {
        id: job.id.0,
        module: job.module.0,
        blobs: job.blobs.iter().map(|b| b.0).collect(),
        input: job.input.0,
        max_fuel: job.max_fuel,
    }
}
