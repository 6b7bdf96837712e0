//! The agent loop: keep the provider registered and alive on chain, pick up the jobs the chain
//! assigns to it, run them (one thread per job, at most `capacity` at once), post each
//! commitment, and follow each job to settlement.
//!
//! The chain is the authority: every poll reads the jobs assigned to this provider from the node
//! and reconciles the journal with them, so a restarted agent resumes where it was (a job that
//! was executing runs again; a commitment that was never finalized is sent again). Whether to
//! take a job on is decided once, when the agent first sees it (`acceptance`), and kept in the
//! journal, so a restart resumes every job it accepted whatever its speed looks like then. One
//! thread submits every transaction, so nonces never race.

use crate::{
    acceptance::{self, Decision, Terms},
    journal::{CommitmentRecord, JobRecord, Journal, Phase},
    rerun::PreStateError,
    runner::{Assignment, RunError, Runner},
};
use plexus_blobs::BlobError;
use plexus_client::{
    Client, ClientError, TxBuilder,
    dispute::{HostError, Leaves, Player},
    dto::{JobDto, ReceiptStatus},
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

pub mod policy;
mod verifier;
use policy::JobAction;
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
    pub last_heartbeat: u64,
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
    /// The last audit step sent per job: (what it answered, height sent), so a step is sent
    /// once and again only if it has not landed after `RESEND_AFTER_BLOCKS`.
    steps_sent: BTreeMap<String, (String, u64)>,
    /// Its side of disputes over its own commitments, and (as a verifier) over others'.
    defender: Player,
    challenger: Player,
    done_tx: mpsc::Sender<(Assignment, Result<CommitmentRecord, RunError>)>,
    done_rx: mpsc::Receiver<(Assignment, Result<CommitmentRecord, RunError>)>,
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
            last_heartbeat: 0,
            block_ms: BLOCK_MS_ASSUMED,
            first_seen: None,
            verifier: VerifierConfig::default(),
            audits: verifier::Audits::default(),
            speed_figure: None,
            steps_sent: BTreeMap::new(),
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
        self.register_verifier()?;
        let status = self.node.status()?;
        // Checkpoints must fall where verifiers and validators re-run them: the chain's seg_fuel.
        if status.seg_fuel > 0 && status.seg_fuel != self.runner.seg_fuel() {
            info!(seg_fuel = status.seg_fuel, "using the chain's segment size");
            self.runner.set_seg_fuel(status.seg_fuel);
        }
        self.last_heartbeat = status.height;
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

    /// One poll: heartbeat, finished executions, and the chain's view of every job.
    pub fn tick(&mut self) -> Result<(), AgentError> {
        let status = self.node.status()?;
        let height = status.height;
        self.observe_block_time(height, status.timestamp);
        self.follow_speed();
        if height >= self.last_heartbeat + HEARTBEAT_EVERY_BLOCKS {
            // A failed heartbeat must not hold up results and commitments: try again next poll.
            match self.submit(Payload::ProviderHeartbeat) {
                Ok(_) => self.last_heartbeat = height,
                Err(err) => warn!(%err, "heartbeat not sent"),
            }
        }
        while let Ok((job, result)) = self.done_rx.try_recv() {
            self.finished(job, result, height)?;
        }
        let listed = self.node.jobs_of_provider(&self.address, JOBS_POLLED_MAX)?;
        let seen: BTreeSet<String> = listed.iter().map(|job| job.id.to_string()).collect();
        for job in &listed {
            self.reconcile(job, height)?;
        }
        // Unfinished jobs older than the newest `JOBS_POLLED_MAX` are read one by one, so a busy
        // provider never loses one.
        let older: Vec<String> = self
            .journal()
            .records()
            .filter(|r| !r.phase.is_final() && !seen.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        for id in older {
            match self.node.job(&id) {
                Ok(job) => self.reconcile(&job, height)?,
                Err(err) => warn!(job = %id, %err, "cannot read the job"),
            }
        }
        if self.verifier.bond > 0 {
            self.verify_all(&status)?;
        }
        Ok(())
    }

    fn finished(
        &mut self,
        job: Assignment,
        result: Result<CommitmentRecord, RunError>,
        height: u64,
    ) -> Result<(), AgentError> {
        let id = digest_hex(&job.id);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let deadline = self.journal().get(&id).map(|r| r.deadline_height);
        let commitment = match result {
            Ok(commitment) => commitment,
            Err(err @ (RunError::Unavailable { .. } | RunError::Blobs(BlobError::Full { .. })))
                if policy::give_up(deadline, height) =>
            {
                warn!(job = %id, %err, "giving up a job that cannot run here");
                match self.runner.refusal(&err.to_string()) {
                    Ok(commitment) => commitment,
                    Err(err) => {
                        warn!(job = %id, %err, "cannot record the refusal");
                        return Ok(());
                    }
                }
            }
            Err(err) => {
                // Retried at the next poll that sees the job still assigned.
                warn!(job = %id, %err, "job not run yet");
                return Ok(());
            }
        };
        info!(job = %id, fuel = commitment.total_fuel, segments = commitment.segments, failed = commitment.failed, "executed");
        self.journal().set_phase(
            &id,
            Phase::Executed {
                commitment: commitment.clone(),
            },
        )?;
        self.commit(&id, commitment, height)
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

    /// Carries out the journal's decision on `job`: runs an accepted job (when a slot is free)
    /// or commits the refusal of a refused one. Never decides again.
    fn start(&mut self, job: &JobDto, height: u64) -> Result<(), AgentError> {
        let assignment = assignment(job);
        let id = job.id.to_string();
        let decision = self.journal().get(&id).and_then(|r| r.decision.clone());
        if let Some(Decision::Refused { reason, .. }) = decision {
            // Refusing costs a fee; running a job that cannot make its deadline costs the lock.
            let commitment = match self.runner.refusal(&reason) {
                Ok(commitment) => commitment,
                Err(err) => {
                    warn!(job = %job.id, %err, "cannot record the refusal");
                    return Ok(());
                }
            };
            self.journal().set_phase(
                &id,
                Phase::Executed {
                    commitment: commitment.clone(),
                },
            )?;
            return self.commit(&id, commitment, height);
        }
        // Accepted (or recorded before decisions were kept, which only accepted jobs were).
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains(&id) || running.len() >= self.capacity {
            return Ok(());
        }
        info!(job = %id, "running the job");
        running.insert(id);
        let runner = self.runner.clone();
        let done = self.done_tx.clone();
        std::thread::spawn(move || {
            let result = runner
                .execute(&assignment)
                .map(|(commitment, _)| commitment);
            let _ = done.send((assignment, result));
        });
        Ok(())
    }

    /// Decides once whether to take on `job`, first seen at `height`, at the offer's speed
    /// figure and the observed block time; says so in the log.
    fn decide(&self, job: &JobDto, height: u64) -> Decision {
        let terms = Terms {
            max_fuel: job.max_fuel,
            deadline_height: job.deadline_height,
        };
        let decision = acceptance::decide(terms, height, self.offer.fuel_per_second, self.block_ms);
        match &decision {
            Decision::Accepted {
                fuel_per_second, ..
            } => {
                info!(job = %job.id, max_fuel = job.max_fuel, deadline = job.deadline_height, fuel_per_second, "accepted the job");
            }
            Decision::Refused { reason, .. } => {
                warn!(job = %job.id, %reason, "refusing the job: it cannot finish before its deadline");
            }
        }
        decision
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

    /// Brings the journal in line with the chain's view of `job`: carries out what
    /// [`policy::job_actions`] decides.
    fn reconcile(&mut self, job: &JobDto, height: u64) -> Result<(), AgentError> {
        let id = job.id.to_string();
        let phase = self.journal().get(&id).map(|r| r.phase.clone());
        for action in policy::job_actions(job.status, phase.as_ref(), height) {
            match action {
                JobAction::Decide => {
                    let decision = self.decide(job, height);
                    self.journal().put(JobRecord {
                        id: id.clone(),
                        deadline_height: job.deadline_height,
                        phase: Phase::Assigned,
                        decision: Some(decision),
                    })?;
                }
                JobAction::Start => self.start(job, height)?,
                JobAction::Commit(commitment) => self.commit(&id, commitment, height)?,
                JobAction::RecordCommitted(commitment) => {
                    self.journal()
                        .set_phase(&id, Phase::Committed { commitment })?;
                }
                JobAction::Defend => {
                    if let Err(err) = self.play_dispute(job, height, Role::Defender) {
                        warn!(job = %job.id, %err, "dispute step failed");
                    }
                }
                JobAction::Refuted => {
                    let slashed = job.slashed.unwrap_or_default().to_string();
                    warn!(job = %job.id, %slashed, "lost the dispute over this job: refuted and slashed");
                    self.journal().set_phase(&id, Phase::Refuted { slashed })?;
                    self.clean_up(job)?;
                }
                JobAction::Settled(commitment) => {
                    let paid = job.paid.unwrap_or_default().to_string();
                    info!(job = %job.id, %paid, "settled: paid");
                    if let Some(commitment) = commitment {
                        self.journal()
                            .set_phase(&id, Phase::Settled { commitment, paid })?;
                    }
                    self.clean_up(job)?;
                }
                JobAction::Expired => {
                    warn!(job = %job.id, "the job expired before its commitment landed");
                    self.journal().set_phase(&id, Phase::Expired)?;
                    self.clean_up(job)?;
                }
            }
        }
        Ok(())
    }
}

impl Agent {
    /// Whether step `key` of `job` should be sent now: not sent yet, or sent more than
    /// `RESEND_AFTER_BLOCKS` ago without the chain moving on.
    fn due(&self, job: &str, key: &str, height: u64) -> bool {
        match self.steps_sent.get(job) {
            Some((sent, at)) => sent != key || height > at + RESEND_AFTER_BLOCKS,
            None => true,
        }
    }

    fn sent(&mut self, job: &str, key: String, height: u64) {
        self.steps_sent.insert(job.to_string(), (key, height));
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
