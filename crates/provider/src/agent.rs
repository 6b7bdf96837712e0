//! The agent loop: keep the provider registered and alive on chain, pick up the jobs the chain
//! assigns to it, run them (one thread per job, at most `capacity` at once), post each
//! commitment, and follow each job to settlement.
//!
//! The chain is the authority: every poll reads the jobs assigned to this provider from the node
//! and reconciles the journal with them, so a restarted agent resumes where it was (a job that
//! was executing runs again; a commitment that was never finalized is sent again). One thread
//! submits every transaction, so nonces never race.

use crate::{
    journal::{CommitmentRecord, JobRecord, Journal, Phase},
    runner::{Assignment, RunError, Runner},
};
use plexus_client::{Client, ClientError, TxBuilder, dto::JobDto};
use plexus_types::{
    Address, Digest, Payload, PrivateKey, hash::digest_hex, hash::parse_digest,
    job::ResourceProfile,
};
use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};
use tracing::{info, warn};

/// Jobs read from the node per poll (newest first): more than a provider ever has in flight.
pub const JOBS_POLLED_MAX: usize = 100;
/// Blocks between heartbeats (the chain's default tolerance is 3 missed intervals of 20).
pub const HEARTBEAT_EVERY_BLOCKS: u64 = 10;
/// Blocks after which a commitment that is still not on chain is sent again.
pub const RESEND_AFTER_BLOCKS: u64 = 10;
/// Blocks before its deadline at which a job whose content cannot be fetched is given up (a
/// failed commitment with no fuel: the consumer is refunded and the provider not slashed).
pub const GIVE_UP_BEFORE_DEADLINE_BLOCKS: u64 = 3;

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
            done_tx,
            done_rx,
        }
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs and submits `payload`; returns the transaction hash.
    fn submit(&self, payload: Payload) -> Result<String, ClientError> {
        let status = self.node.status()?;
        let builder = TxBuilder {
            key: &self.key,
            chain_id: status.chain_id,
            fee: status.fee_min.parse().unwrap_or(plexus_client::FEE_DEFAULT),
        };
        let nonce = self.node.account(&self.address)?.next_nonce;
        self.node.submit(&builder.build(nonce, payload))
    }

    /// Submits and waits for finality; a non-success receipt is an error.
    fn send(&self, payload: Payload) -> Result<(), AgentError> {
        let hash = self.submit(payload)?;
        let done = self.node.wait_finalized(&hash, Duration::from_secs(60))?;
        match done.receipt {
            Some(receipt) if receipt.status == "success" => Ok(()),
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
        self.last_heartbeat = self.node.status()?.height;
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
        let height = self.node.status()?.height;
        if height >= self.last_heartbeat + HEARTBEAT_EVERY_BLOCKS {
            self.submit(Payload::ProviderHeartbeat)?;
            self.last_heartbeat = height;
        }
        while let Ok((job, result)) = self.done_rx.try_recv() {
            self.finished(job, result, height)?;
        }
        for job in self.node.jobs_of_provider(&self.address, JOBS_POLLED_MAX)? {
            self.reconcile(&job, height)?;
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
            Err(RunError::Unavailable { hash, detail })
                if deadline.is_some_and(|d| height + GIVE_UP_BEFORE_DEADLINE_BLOCKS >= d) =>
            {
                warn!(job = %id, %hash, %detail, "giving up a job whose content cannot be fetched");
                match self.runner.refusal(&format!("blob {hash} unavailable")) {
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
        let payload = Payload::JobCommit {
            job: digest(id),
            output_hash: digest(&commitment.output_hash),
            total_fuel: commitment.total_fuel,
            segments: commitment.segments,
            trace_root: digest(&commitment.trace_root),
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

    fn start(&mut self, job: &JobDto) {
        let Some(assignment) = assignment(job) else {
            warn!(job = %job.id, "the node's job record does not parse");
            return;
        };
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains(&job.id) || running.len() >= self.capacity {
            return;
        }
        running.insert(job.id.clone());
        let runner = self.runner.clone();
        let done = self.done_tx.clone();
        std::thread::spawn(move || {
            let result = runner
                .execute(&assignment)
                .map(|(commitment, _)| commitment);
            let _ = done.send((assignment, result));
        });
    }

    /// Brings the journal in line with the chain's view of `job`.
    fn reconcile(&mut self, job: &JobDto, height: u64) -> Result<(), AgentError> {
        let record = self.journal().get(&job.id).cloned();
        match (job.status.as_str(), record.map(|r| r.phase)) {
            ("assigned", None) => {
                self.journal().put(JobRecord {
                    id: job.id.clone(),
                    deadline_height: job.deadline_height,
                    phase: Phase::Assigned,
                })?;
                self.start(job);
            }
            ("assigned", Some(Phase::Assigned)) => self.start(job),
            ("assigned", Some(Phase::Executed { commitment })) => {
                self.commit(&job.id, commitment, height)?
            }
            (
                "assigned",
                Some(Phase::CommitSent {
                    commitment,
                    sent_height,
                    ..
                }),
            ) if height > sent_height + RESEND_AFTER_BLOCKS => {
                self.commit(&job.id, commitment, height)?
            }
            ("committed", Some(phase)) if !matches!(phase, Phase::Committed { .. }) => {
                if let Some(commitment) = phase.commitment().cloned() {
                    self.journal()
                        .set_phase(&job.id, Phase::Committed { commitment })?;
                }
            }
            ("settled", Some(phase)) if !phase.is_final() => {
                let paid = job.paid.clone().unwrap_or_default();
                info!(job = %job.id, %paid, "settled: paid");
                if let Some(commitment) = phase.commitment().cloned() {
                    self.journal()
                        .set_phase(&job.id, Phase::Settled { commitment, paid })?;
                }
                if let Some(id) = parse_digest(&job.id) {
                    // Past the audit window nobody asks for its checkpoints any more.
                    crate::checkpoints::CheckpointReader::new(&self.runner.dir).remove_job(&id)?;
                }
            }
            ("expired", Some(phase)) if !phase.is_final() => {
                warn!(job = %job.id, "the job expired before its commitment landed");
                self.journal().set_phase(&job.id, Phase::Expired)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The executor's view of a chain job record.
fn assignment(job: &JobDto) -> Option<Assignment> {
    let digest = |text: &str| parse_digest(text);
    Some(Assignment {
        id: digest(&job.id)?,
        module: digest(&job.module)?,
        blobs: job
            .blobs
            .iter()
            .map(|b| digest(b))
            .collect::<Option<Vec<Digest>>>()?,
        input: digest(&job.input)?,
        max_fuel: job.max_fuel,
    })
}
