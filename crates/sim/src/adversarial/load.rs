//! The verifier-load case of the adversarial simulation (issue 12, finding 3): several audits
//! drawn to one verifier at once, a slow verifier, verifiers restarting mid-audit, and one that
//! declares itself faster than it is, run through the real chain (`plexus_state`, block by block)
//! with verifiers that decide what to do with each audit by the real agent's rule
//! (`plexus_provider::agent::step`). It answers: is an honest verifier ever slashed for load, and
//! does everything still settle?
//!
//! The model, every draw from one ChaCha8 stream keyed by the seed:
//!
//! - One honest provider (it commits every job the block after it is matched, with the fuel it
//!   used) and four consumers that post bursts of jobs in one block: half buy a full audit, the
//!   rest get the chain's random light or full audit; canaries at the chain's rate. Job fuel is
//!   log-uniform over `[fuel_min, fuel_max]`, `max_fuel` a quarter above it.
//! - Blocks last `[audit_block_ms, block_ms_max]` (the chain assumes the shortest, so real windows
//!   are only ever longer than the chain's arithmetic says).
//! - A verifier re-runs each audit on a thread: it advances by its true speed per block,
//!   shared among its running audits when they outnumber its cores. A finished re-run is sealed
//!   the next block and revealed the block after the seal lands. A crash restarts the machine
//!   (down 1 to `RESTART_BLOCKS_MAX` blocks: a process restart) and loses the re-runs in flight
//!   (and what was not yet sent); sealed verdicts and sent declines survive (the agent keeps
//!   them on disk). An agent verifier takes [`step`] for every drawn audit it has not
//!   sealed, at its measured speed (its true one); the `sequential` verifier is the former agent:
//!   one audit at a time, never declining, for comparison only.
//!
//! `honest_verifier_slashes` counts the lapses of the agent verifiers that declared their true
//! speed: it must be 0. The lying verifier's lapses cost its own bond only (the provider is
//! never slashed and every job settles); `sequential_slashes` shows what the former agent loses.
//!
//! Invariants checked every block: `State::recount` equals the supply, and no verifier has more
//! open audits than its capacity.

use commonware_cryptography::Signer as _;
use plexus_provider::agent::{Drawn, Load, Step, step};
use plexus_state::beacon::DevBeacon;
use plexus_state::dispute::{AuditKind, AuditStage};
use plexus_state::{Genesis, GenesisValidator, JobStatus, Params, State, build_block};
use plexus_types::audit::{Verdict, audit_seal};
use plexus_types::job::{AuditClass, Commitment, ResourceProfile};
use plexus_types::{Address, Amount, Digest, PLX, Payload, PrivateKey, Transaction, hash};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

const CHAIN: u64 = 12;
const VALIDATOR: u64 = 0;
const PROVIDER: u64 = 1;
const CONSUMERS: [u64; 4] = [2, 3, 4, 5];
/// Verifier `i` of the config signs with key `VERIFIER_KEY_FIRST + i`.
const VERIFIER_KEY_FIRST: u64 = 6;
/// The most verifiers a load config may have.
pub const LOAD_VERIFIERS_MAX: usize = 16;
/// The most blocks a load run may take, posting and draining together.
pub const LOAD_BLOCKS_MAX: u64 = 1_000_000;
const FEE: Amount = 1_000;
/// Blocks between the provider's heartbeats.
const HEARTBEAT_EVERY_BLOCKS: u64 = 10;
/// The longest a crashed verifier stays down: a restart of its agent, shorter than the agent's
/// `AUDIT_SAFETY_BLOCKS` (an agent away for longer at the wrong moment is offline, and an
/// offline verifier's lapse is what the lapse rule charges).
pub const RESTART_BLOCKS_MAX: u64 = 6;
/// Finished jobs are pruned this many blocks later in the run (the figures are tallied as
/// they finish), so the state stays small.
const RETENTION_BLOCKS: u64 = 50;

/// How a simulated verifier behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadKind {
    /// The agent, on a fast machine with room for several audits.
    Fast,
    /// The agent on a slow machine (a tenth of the fast one's speed).
    Slow,
    /// The agent on a machine that crashes and restarts.
    Restarting,
    /// The agent, declaring ten times its true speed: its deadlines are too short.
    LyingFast,
    /// The former agent under the former rules, for comparison (the loss of issue 12): one
    /// audit at a time in its poll loop, never declining, no capacity limit (64), and deadlines
    /// that do not follow its speed (the old allowance of 10^8 fuel per block is what declaring
    /// 1.2 x 10^9 fuel/s gives at 3x and 250 ms), on a machine that restarts.
    Sequential,
}

/// One simulated verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadVerifier {
    pub kind: LoadKind,
    /// What it really re-runs per second on one thread.
    pub fuel_per_second: u64,
    /// What it declares to the chain (and, for the agent, believes).
    pub declared_fuel_per_second: u64,
    pub capacity: u32,
    pub cores: u32,
    /// The chance per block that it crashes, in ppm; it restarts 1 to `RESTART_BLOCKS_MAX`
    /// blocks later.
    pub crash_ppm: u32,
}

/// The verifier-load case's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadConfig {
    pub seed: u64,
    /// Blocks during which consumers post; the run then drains until everything settles.
    pub blocks: u64,
    /// Blocks between bursts, and jobs per burst (all posted in one block).
    pub burst_every: u64,
    pub burst_jobs: u32,
    /// Job fuel, log-uniform between these.
    pub fuel_min: u64,
    pub fuel_max: u64,
    /// The longest block, in milliseconds (the shortest is the chain's `audit_block_ms`).
    pub block_ms_max: u64,
    pub verifiers: Vec<LoadVerifier>,
    pub params: Params,
}

impl LoadConfig {
    /// The default population: a fast verifier (capacity 3), a slow one (a tenth of the speed,
    /// capacity 2, so it too is drawn for several audits at once), one that restarts about every 33 blocks, one that declares ten times its
    /// speed, and the former agent under the former rules (restarting as often). Blocks of
    /// 250-400 ms: a busy chain.
    pub fn new(seed: u64) -> Self {
        let verifier = |kind, fuel_per_second, declared, capacity, crash_ppm| LoadVerifier {
            kind,
            fuel_per_second,
            declared_fuel_per_second: declared,
            capacity,
            cores: 2,
            crash_ppm,
        };
        LoadConfig {
            seed,
            blocks: 1_500,
            burst_every: 20,
            burst_jobs: 8,
            fuel_min: 100_000_000,
            fuel_max: 5_000_000_000,
            block_ms_max: 400,
            verifiers: vec![
                verifier(LoadKind::Fast, 1_000_000_000, 1_000_000_000, 3, 0),
                verifier(LoadKind::Slow, 100_000_000, 100_000_000, 2, 0),
                verifier(LoadKind::Restarting, 500_000_000, 500_000_000, 2, 30_000),
                verifier(LoadKind::LyingFast, 100_000_000, 1_000_000_000, 2, 0),
                verifier(LoadKind::Sequential, 500_000_000, 1_200_000_000, 64, 30_000),
            ],
            params: Params {
                job_retention_blocks: RETENTION_BLOCKS,
                ..Params::default()
            },
        }
    }

    /// Whether a run can use it (the chain's parameters, the bounds of every loop).
    pub fn check(&self) -> Result<(), &'static str> {
        self.params.audit.check()?;
        if self.verifiers.is_empty() || self.verifiers.len() > LOAD_VERIFIERS_MAX {
            return Err("1..=16 verifiers");
        }
        if self.blocks == 0 || self.blocks > LOAD_BLOCKS_MAX / 2 || self.burst_every == 0 {
            return Err("blocks and burst_every out of range");
        }
        if self.fuel_min == 0
            || self.fuel_min > self.fuel_max
            || self.fuel_max > plexus_types::job::JOB_FUEL_MAX / 2
        {
            return Err("fuel range out of bounds");
        }
        if self.block_ms_max < self.params.audit.audit_block_ms {
            return Err("block_ms_max below the chain's audit_block_ms");
        }
        let valid = |v: &LoadVerifier| {
            v.fuel_per_second > 0
                && v.declared_fuel_per_second > 0
                && v.cores > 0
                && (1..=plexus_types::audit::VERIFIER_CAPACITY_MAX).contains(&v.capacity)
        };
        if !self.verifiers.iter().all(valid) {
            return Err("a verifier's speed, cores or capacity is out of range");
        }
        Ok(())
    }
}

/// One verifier's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadVerifierReport {
    pub kind: LoadKind,
    pub capacity: u32,
    pub fuel_per_second: u64,
    pub declared_fuel_per_second: u64,
    pub audits_done: u64,
    pub audits_declined: u64,
    pub audits_missed: u64,
    /// Taken from its bond.
    pub slashed: Amount,
    /// The most audits it had open at once, and drawn to it in one block.
    pub open_max: u32,
    pub drawn_at_once_max: u32,
    pub restarts: u64,
    /// Restarts that lost a re-run in flight.
    pub restarts_mid_audit: u64,
}

/// What the verifier-load case found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    pub seed: u64,
    pub blocks: u64,
    pub jobs: u64,
    pub jobs_settled: u64,
    /// Audits drawn (canaries and redraws after a decline included).
    pub audits_drawn: u64,
    pub audits_passed: u64,
    pub declines: u64,
    /// Audits closed after every verifier drawn declined (their jobs settled unaudited).
    pub audits_closed_declined: u64,
    /// Audits a job was drawn for that found no verifier with room (it settled unaudited).
    pub audits_without_verifier: u64,
    /// Lapses of the agent verifiers that declared their true speed: must be 0.
    pub honest_verifier_slashes: u64,
    /// Lapses of the verifier that declared ten times its speed (its own bond).
    pub lying_verifier_slashes: u64,
    /// Lapses of the former, sequential agent.
    pub sequential_slashes: u64,
    /// Taken from the provider (honest: must be 0).
    pub provider_slashed: Amount,
    pub verifiers: Vec<LoadVerifierReport>,
}

/// Runs the verifier-load case.
pub fn run_load(cfg: &LoadConfig) -> Result<LoadReport, &'static str> {
    cfg.check()?;
    let mut sim = Sim::new(cfg);
    let mut height = 0;
    while height < LOAD_BLOCKS_MAX {
        height += 1;
        sim.block(height)?;
        if height >= cfg.blocks && sim.drained() {
            break;
        }
    }
    Ok(sim.report(height))
}

/// What the run knows of one posted job.
#[derive(Clone, Copy, Debug, Default)]
struct Track {
    committed: bool,
    /// `Some(true)` once settled, `Some(false)` once otherwise finished.
    finished: Option<bool>,
}

fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

/// A simulated verifier's machine and agent.
struct Agent {
    spec: LoadVerifier,
    key: u64,
    /// Re-runs in flight: audit id -> fuel left.
    running: BTreeMap<Digest, u64>,
    /// Finished re-runs (kept on disk), not yet revealed.
    sealed: BTreeSet<Digest>,
    /// Declines sent (kept on disk).
    declined: BTreeSet<Digest>,
    /// Steps sent since the last restart (in memory): seals and reveals.
    sent: BTreeSet<(Digest, bool)>,
    down_until: Option<u64>,
    restarts: u64,
    restarts_mid_audit: u64,
    open_max: u32,
    drawn_at_once_max: u32,
}

struct Sim<'a> {
    cfg: &'a LoadConfig,
    state: State,
    beacon: DevBeacon,
    rng: ChaCha8Rng,
    agents: Vec<Agent>,
    /// Every job posted: whether its provider committed, and how it finished (settled or not).
    jobs: BTreeMap<Digest, Track>,
    /// Every draw: (audit, verifier, height).
    audits_seen: BTreeSet<(Digest, Address, u64)>,
    /// Closed audits counted, by (audit, the height of its last draw), and the counts.
    audits_closed: BTreeSet<(Digest, u64)>,
    audits_passed: u64,
    audits_closed_declined: u64,
    audits_without_verifier: u64,
    declines: u64,
}

impl<'a> Sim<'a> {
    fn new(cfg: &'a LoadConfig) -> Self {
        let beacon = DevBeacon::deal(cfg.seed, [key(VALIDATOR).public_key()]);
        let keys = VERIFIER_KEY_FIRST + cfg.verifiers.len() as u64;
        let state = Genesis {
            chain_id: CHAIN,
            timestamp_ms: 0,
            params: cfg.params.clone(),
            allocations: (0..keys).map(|i| (address(i), 1_000_000 * PLX)).collect(),
            validators: vec![GenesisValidator {
                address: address(VALIDATOR),
                self_bond: 10_000 * PLX,
            }],
            beacon: beacon.output.clone(),
        }
        .build()
        .expect("a valid genesis")
        .0;
        let agents = cfg
            .verifiers
            .iter()
            .enumerate()
            .map(|(i, spec)| Agent {
                spec: spec.clone(),
                key: VERIFIER_KEY_FIRST + i as u64,
                running: BTreeMap::new(),
                sealed: BTreeSet::new(),
                declined: BTreeSet::new(),
                sent: BTreeSet::new(),
                down_until: None,
                restarts: 0,
                restarts_mid_audit: 0,
                open_max: 0,
                drawn_at_once_max: 0,
            })
            .collect();
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
        seed[8..].copy_from_slice(b"plexus/sim/verifier-load");
        Sim {
            cfg,
            state,
            beacon,
            rng: ChaCha8Rng::from_seed(seed),
            agents,
            jobs: BTreeMap::new(),
            audits_seen: BTreeSet::new(),
            audits_closed: BTreeSet::new(),
            audits_passed: 0,
            audits_closed_declined: 0,
            audits_without_verifier: 0,
            declines: 0,
        }
    }

    /// One block: everyone's transactions, the block, then the block's time on every machine.
    fn block(&mut self, height: u64) -> Result<(), &'static str> {
        let mut payloads = self.setup_or_market(height);
        for i in 0..self.agents.len() {
            payloads.extend(
                self.agent_steps(i, height)
                    .into_iter()
                    .map(|p| (self.agents[i].key, p)),
            );
        }
        let mut nonces = BTreeMap::<u64, u64>::new();
        let txs: Vec<_> = payloads
            .into_iter()
            .map(|(from, payload)| {
                let nonce = nonces
                    .entry(from)
                    .or_insert_with(|| self.state.account(&address(from)).nonce);
                let tx = Transaction {
                    chain_id: CHAIN,
                    sender: address(from),
                    nonce: *nonce,
                    fee: FEE,
                    payload,
                }
                .sign(&key(from));
                *nonce += 1;
                tx
            })
            .collect();
        let posted: Vec<Digest> = txs
            .iter()
            .filter(|tx| matches!(tx.tx.payload, Payload::JobPost { .. }))
            .map(|tx| tx.hash())
            .collect();
        let built = build_block(
            &self.state,
            txs.clone(),
            self.state.timestamp_ms + self.cfg.params.audit.audit_block_ms,
            key(VALIDATOR).public_key(),
            self.beacon.block_signature(height),
        )
        .map_err(|_| "a block does not build")?;
        for (tx, receipt) in txs.iter().zip(&built.receipts) {
            let ok = receipt.status == plexus_types::Status::Success;
            if matches!(tx.tx.payload, Payload::AuditDecline { .. }) && ok {
                self.declines += 1;
            }
        }
        self.state = built.state;
        for id in posted {
            self.jobs.insert(id, Track::default());
        }
        if self.state.recount() != Ok(self.state.supply.total()) {
            return Err("the ledger does not sum to the supply");
        }
        self.observe(height)?;
        let block_ms = self
            .rng
            .random_range(self.cfg.params.audit.audit_block_ms..=self.cfg.block_ms_max);
        for i in 0..self.agents.len() {
            self.advance(i, height, block_ms);
        }
        Ok(())
    }

    /// Registrations in the first block; then the provider's commitments and heartbeats and
    /// the consumers' bursts.
    fn setup_or_market(&mut self, height: u64) -> Vec<(u64, Payload)> {
        if height == 1 {
            let mut payloads = vec![(
                PROVIDER,
                Payload::ProviderRegister {
                    endpoint: "http://provider.sim".into(),
                    profile: ResourceProfile {
                        cores: 100_000,
                        ..ResourceProfile::default()
                    },
                    fuel_per_second: 1_000_000_000,
                    ask_per_mfuel: 1,
                    bond: 10_000 * PLX,
                },
            )];
            for agent in &self.agents {
                payloads.push((
                    agent.key,
                    Payload::VerifierRegister {
                        bond: 1_000 * PLX,
                        fuel_per_second: agent.spec.declared_fuel_per_second,
                        capacity: agent.spec.capacity,
                    },
                ));
            }
            return payloads;
        }
        let mut payloads = Vec::new();
        if height.is_multiple_of(HEARTBEAT_EVERY_BLOCKS) {
            payloads.push((PROVIDER, Payload::ProviderHeartbeat));
        }
        for (id, job) in &self.state.jobs {
            let uncommitted = self.jobs.get(id).is_some_and(|track| !track.committed);
            if matches!(job.status, JobStatus::Assigned(_)) && uncommitted {
                payloads.push((PROVIDER, commit_payload(*id, job.max_fuel * 4 / 5)));
            }
        }
        if height <= self.cfg.blocks && height.is_multiple_of(self.cfg.burst_every) {
            for n in 0..self.cfg.burst_jobs {
                let fuel = log_uniform(&mut self.rng, self.cfg.fuel_min, self.cfg.fuel_max);
                let consumer = CONSUMERS[n as usize % CONSUMERS.len()];
                let audit = if self.rng.random_range(0..2u8) == 0 {
                    AuditClass::Full
                } else {
                    AuditClass::Standard
                };
                payloads.push((
                    consumer,
                    Payload::JobPost {
                        module: hash(&[b"sim/module"]),
                        blobs: Vec::new(),
                        input: hash(&[b"sim/input", &height.to_le_bytes(), &n.to_le_bytes()]),
                        max_fuel: fuel + fuel / 4,
                        price_cap_per_mfuel: 10,
                        audit,
                        deadline_blocks: 100,
                    },
                ));
            }
        }
        payloads
    }

    /// What agent `i` sends this block, from the chain's view after the last block.
    fn agent_steps(&mut self, i: usize, height: u64) -> Vec<Payload> {
        let agent = &self.agents[i];
        if agent.down_until.is_some() {
            return Vec::new();
        }
        let me = address(agent.key);
        let mine: Vec<(Digest, AuditStage, u64, u64)> = self
            .state
            .audits
            .iter()
            .filter(|(_, audit)| audit.verifier == me && audit.is_open())
            .map(|(id, audit)| {
                let fuel = rerun_fuel(&self.state, id, &audit.kind);
                (*id, audit.stage.clone(), audit.due_height, fuel)
            })
            .collect();
        let mut payloads = Vec::new();
        let agent = &mut self.agents[i];
        for (id, stage, due_height, fuel) in mine {
            match stage {
                AuditStage::Sealed { .. } => {
                    if agent.sent.insert((id, true)) {
                        let (verdict, salt) = verdict(&self.state, &id, &me);
                        payloads.push(Payload::AuditReveal {
                            job: id,
                            verdict,
                            salt,
                        });
                    }
                }
                _ if agent.declined.contains(&id) => {}
                _ if agent.sealed.contains(&id) => {
                    if agent.sent.insert((id, false)) {
                        let (verdict, salt) = verdict(&self.state, &id, &me);
                        let seal = audit_seal(&id, &me, &verdict, &salt);
                        payloads.push(Payload::AuditCommit { job: id, seal });
                    }
                }
                _ => {
                    let running = agent.running.contains_key(&id);
                    let next = match agent.spec.kind {
                        LoadKind::Sequential if running => Step::Wait,
                        LoadKind::Sequential if agent.running.is_empty() => Step::Start,
                        LoadKind::Sequential => Step::Wait,
                        _ => {
                            let drawn = Drawn {
                                fuel,
                                height,
                                due_height,
                                running,
                            };
                            let load = Load {
                                fuel_per_second: agent.spec.declared_fuel_per_second,
                                cores: agent.spec.cores,
                                threads_busy: agent.running.len(),
                                free_slot: agent.running.len() < agent.spec.capacity as usize,
                                block_ms: self.cfg.params.audit.audit_block_ms,
                            };
                            step(&drawn, &load)
                        }
                    };
                    match next {
                        Step::Wait => {}
                        Step::Start => {
                            agent.running.insert(id, fuel);
                        }
                        Step::Decline => {
                            agent.running.remove(&id);
                            agent.declined.insert(id);
                            payloads.push(Payload::AuditDecline { job: id });
                        }
                    }
                }
            }
        }
        payloads
    }

    /// One block's time on agent `i`'s machine: its re-runs advance, and it may crash or come
    /// back.
    fn advance(&mut self, i: usize, height: u64, block_ms: u64) {
        let agent = &mut self.agents[i];
        if let Some(until) = agent.down_until {
            if height >= until {
                agent.down_until = None;
            }
            return;
        }
        if agent.spec.crash_ppm > 0
            && self.rng.random_range(0..plexus_state::audit::PPM) < agent.spec.crash_ppm
        {
            agent.restarts += 1;
            if !agent.running.is_empty() {
                agent.restarts_mid_audit += 1;
            }
            agent.running.clear();
            agent.sent.clear();
            agent.down_until = Some(height + self.rng.random_range(1..=RESTART_BLOCKS_MAX));
            return;
        }
        let cores = u64::from(agent.spec.cores);
        let threads = (agent.running.len() as u64).max(cores);
        let done_per_block =
            u128::from(agent.spec.fuel_per_second) * u128::from(block_ms) * u128::from(cores)
                / (1_000 * u128::from(threads));
        let done_per_block = u64::try_from(done_per_block).unwrap_or(u64::MAX);
        let finished: Vec<Digest> = agent
            .running
            .iter_mut()
            .filter_map(|(id, left)| {
                *left = left.saturating_sub(done_per_block);
                (*left == 0).then_some(*id)
            })
            .collect();
        for id in finished {
            agent.running.remove(&id);
            agent.sealed.insert(id);
        }
    }

    /// Tallies from the state after block `height`, and the capacity invariant.
    fn observe(&mut self, height: u64) -> Result<(), &'static str> {
        let mut drawn_now = BTreeMap::<Address, u32>::new();
        for (id, audit) in &self.state.audits {
            if self
                .audits_seen
                .insert((*id, audit.verifier.clone(), audit.drawn_height))
                && audit.drawn_height == height
            {
                *drawn_now.entry(audit.verifier.clone()).or_default() += 1;
            }
        }
        for agent in &mut self.agents {
            let me = address(agent.key);
            if let Some(record) = self.state.verifiers.get(&me) {
                if record.open > record.capacity {
                    return Err("a verifier has more open audits than its capacity");
                }
                agent.open_max = agent.open_max.max(record.open);
            }
            let now = drawn_now.get(&me).copied().unwrap_or(0);
            agent.drawn_at_once_max = agent.drawn_at_once_max.max(now);
            // Forget what is no longer this agent's.
            let open: BTreeSet<Digest> = self
                .state
                .audits
                .iter()
                .filter(|(_, a)| a.verifier == me && a.is_open())
                .map(|(id, _)| *id)
                .collect();
            agent.sealed.retain(|id| open.contains(id));
            agent.declined.retain(|id| open.contains(id));
            agent.sent.retain(|(id, _)| open.contains(id));
        }
        // Jobs committed this block whose drawn audit found nobody (draws happen at commit + 2).
        for (id, job) in &self.state.jobs {
            if let JobStatus::Committed {
                committed_height, ..
            }
            | JobStatus::Settled {
                committed_height, ..
            } = &job.status
                && committed_height + plexus_state::dispute::AUDIT_DRAW_DELAY_BLOCKS == height
                && job.audit == AuditClass::Full
                && !self.state.audits.contains_key(id)
            {
                self.audits_without_verifier += 1;
            }
        }
        for (id, track) in &mut self.jobs {
            let Some(job) = self.state.jobs.get(id) else {
                continue;
            };
            track.committed |= job.status.commitment().is_some();
            if track.finished.is_none() && job.status.finished_height().is_some() {
                track.finished = Some(job.status.name() == "settled");
            }
        }
        for (id, audit) in &self.state.audits {
            if !audit.is_open() && self.audits_closed.insert((*id, audit.drawn_height)) {
                match audit.stage {
                    AuditStage::Passed => self.audits_passed += 1,
                    AuditStage::Declined => self.audits_closed_declined += 1,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Whether every job is finished and no audit is open.
    fn drained(&self) -> bool {
        self.jobs.values().all(|track| track.finished.is_some())
            && self.state.audits.values().all(|audit| !audit.is_open())
    }

    fn report(&self, blocks: u64) -> LoadReport {
        let verifiers: Vec<LoadVerifierReport> = self
            .agents
            .iter()
            .map(|agent| {
                let record = self
                    .state
                    .verifiers
                    .get(&address(agent.key))
                    .cloned()
                    .unwrap_or_default();
                LoadVerifierReport {
                    kind: agent.spec.kind,
                    capacity: agent.spec.capacity,
                    fuel_per_second: agent.spec.fuel_per_second,
                    declared_fuel_per_second: agent.spec.declared_fuel_per_second,
                    audits_done: record.audits_done,
                    audits_declined: record.audits_declined,
                    audits_missed: record.audits_missed,
                    slashed: record.slashed,
                    open_max: agent.open_max,
                    drawn_at_once_max: agent.drawn_at_once_max,
                    restarts: agent.restarts,
                    restarts_mid_audit: agent.restarts_mid_audit,
                }
            })
            .collect();
        let missed = |kinds: &[LoadKind]| {
            verifiers
                .iter()
                .filter(|v| kinds.contains(&v.kind))
                .map(|v| v.audits_missed)
                .sum()
        };
        LoadReport {
            seed: self.cfg.seed,
            blocks,
            jobs: self.jobs.len() as u64,
            jobs_settled: self
                .jobs
                .values()
                .filter(|track| track.finished == Some(true))
                .count() as u64,
            audits_drawn: self.audits_seen.len() as u64,
            audits_passed: self.audits_passed,
            declines: self.declines,
            audits_closed_declined: self.audits_closed_declined,
            audits_without_verifier: self.audits_without_verifier,
            honest_verifier_slashes: missed(&[
                LoadKind::Fast,
                LoadKind::Slow,
                LoadKind::Restarting,
            ]),
            lying_verifier_slashes: missed(&[LoadKind::LyingFast]),
            sequential_slashes: missed(&[LoadKind::Sequential]),
            provider_slashed: self
                .state
                .providers
                .get(&address(PROVIDER))
                .map_or(0, |p| p.slashed),
            verifiers,
        }
    }
}

/// The provider's honest commitment for job `id` using `fuel`.
fn commit_payload(id: Digest, fuel: u64) -> Payload {
    let commitment = honest_commitment(&id, fuel);
    Payload::JobCommit {
        job: id,
        output_hash: commitment.output_hash,
        total_fuel: commitment.total_fuel,
        segments: commitment.segments,
        trace_root: commitment.trace_root,
        failed: false,
    }
}

/// What an honest run of job `id` commits to (the simulation's stand-in for the execution).
fn honest_commitment(id: &Digest, fuel: u64) -> Commitment {
    let seg_fuel = plexus_state::audit::AuditParams::default().seg_fuel;
    Commitment {
        output_hash: hash(&[b"sim/output", id.as_ref()]),
        total_fuel: fuel,
        segments: u32::try_from(fuel.div_ceil(seg_fuel)).unwrap_or(u32::MAX),
        trace_root: hash(&[b"sim/trace", id.as_ref()]),
        failed: false,
    }
}

/// The fuel a verifier re-runs for audit `id` of `kind`: the job's committed fuel (full) or its
/// drawn segments (light).
fn rerun_fuel(state: &State, id: &Digest, kind: &AuditKind) -> u64 {
    let job = state
        .audits
        .get(id)
        .and_then(|audit| audit.canary.as_ref())
        .map_or(*id, |canary| canary.of);
    let total = state
        .jobs
        .get(&job)
        .and_then(|job| job.status.commitment())
        .map_or(0, |c| c.total_fuel);
    match kind {
        AuditKind::Full => total,
        AuditKind::Light { segments } => state
            .params
            .audit
            .seg_fuel
            .saturating_mul(segments.len() as u64)
            .min(total),
    }
}

/// An honest verifier's verdict on audit `id` (a canary's job re-runs to the real commitment,
/// which differs from the canary's claim) and its salt.
fn verdict(state: &State, id: &Digest, verifier: &Address) -> (Verdict, Digest) {
    let salt = hash(&[b"sim/salt", id.as_ref(), verifier.0.as_ref()]);
    let Some(audit) = state.audits.get(id) else {
        return (Verdict::Light { disputed: None }, salt);
    };
    let job = audit.canary.as_ref().map_or(*id, |canary| canary.of);
    let commitment = state
        .jobs
        .get(&job)
        .and_then(|job| job.status.commitment())
        .cloned();
    let verdict = match (&audit.kind, commitment) {
        (AuditKind::Full, Some(commitment)) => Verdict::Full(commitment),
        _ => Verdict::Light { disputed: None },
    };
    (verdict, salt)
}

/// Log-uniform in `[min, max]` (integer draws: the same on every machine).
fn log_uniform(rng: &mut ChaCha8Rng, min: u64, max: u64) -> u64 {
    let octaves = (max / min).max(1).ilog2();
    let octave = rng.random_range(0..=octaves);
    let low = min.saturating_mul(1 << octave).min(max);
    let high = low.saturating_mul(2).min(max);
    rng.random_range(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_default() -> LoadReport {
        run_load(&LoadConfig::new(1)).expect("the default load config runs")
    }

    #[test]
    fn load_never_slashes_an_honest_verifier_and_everything_settles() {
        let report = run_default();
        eprintln!("{report:#?}");
        assert_eq!(report.honest_verifier_slashes, 0, "seed {}", report.seed);
        assert_eq!(report.provider_slashed, 0);
        assert_eq!(report.jobs_settled, report.jobs, "every job settles");
        let of = |kind| {
            report
                .verifiers
                .iter()
                .find(|v| v.kind == kind)
                .expect("every kind is in the default config")
                .clone()
        };
        // The case is what it says: several audits drawn to one verifier at once, restarts that
        // lose a re-run in flight, a slow verifier doing its share, a liar whose deadlines are
        // too short for it (it hands them back), and the former agent and rules losing bond.
        for kind in [LoadKind::Fast, LoadKind::Slow, LoadKind::Restarting] {
            let v = of(kind);
            assert!(v.drawn_at_once_max >= 2, "{kind:?} seed {}", report.seed);
            assert!(v.open_max >= 2, "{kind:?} seed {}", report.seed);
        }
        assert!(of(LoadKind::Restarting).restarts_mid_audit > 0);
        assert!(of(LoadKind::Restarting).audits_done > 0);
        assert!(of(LoadKind::Slow).audits_done > 0);
        assert!(of(LoadKind::LyingFast).audits_declined > 0);
        assert!(
            report.sequential_slashes > 0,
            "the former agent loses bond here"
        );
    }

    #[test]
    fn load_runs_are_deterministic_in_the_seed() {
        let cfg = LoadConfig {
            blocks: 200,
            ..LoadConfig::new(9)
        };
        let first = run_load(&cfg);
        assert_eq!(first, run_load(&cfg));
        let other = LoadConfig {
            seed: 10,
            ..cfg.clone()
        };
        assert_ne!(first, run_load(&other), "the seed matters");
    }

    #[test]
    fn bad_load_configs_are_refused() {
        let good = LoadConfig::new(1);
        assert_eq!(good.check(), Ok(()));
        let mut bad = good.clone();
        bad.verifiers.clear();
        assert!(run_load(&bad).is_err());
        let mut bad = good.clone();
        bad.verifiers[0].capacity = 0;
        assert!(bad.check().is_err());
        let mut bad = good.clone();
        bad.fuel_min = bad.fuel_max + 1;
        assert!(bad.check().is_err());
        let mut bad = good;
        bad.block_ms_max = 1;
        assert!(bad.check().is_err());
    }
}
