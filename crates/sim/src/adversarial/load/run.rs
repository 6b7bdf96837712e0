//! The verifier-load case's run: the real chain (`plexus_state`), block by block, with the
//! provider's commitments, the consumers' bursts of jobs and every verifier's steps in each
//! block, the supply recounted and the capacity invariant checked after each, and the tallies
//! the report is made of.

use super::agent::Agent;
use super::config::{
    CHAIN, CONSUMERS, FEE, HEARTBEAT_EVERY_BLOCKS, LOAD_BLOCKS_MAX, LoadConfig, LoadKind,
    LoadReport, LoadVerifierReport, PROVIDER, VALIDATOR, VERIFIER_KEY_FIRST, address, key,
};
use commonware_cryptography::Signer as _;
use plexus_state::beacon::DevBeacon;
use plexus_state::dispute::AuditStage;
use plexus_state::{Genesis, GenesisValidator, JobStatus, State, build_block};
use plexus_types::ContentHash;
use plexus_types::job::{AuditClass, Commitment, ResourceProfile};
use plexus_types::{Address, Digest, PLX, Payload};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

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
            let audit_block_ms = self.cfg.params.audit.audit_block_ms;
            payloads.extend(
                self.agents[i]
                    .steps(&self.state, height, audit_block_ms)
                    .into_iter()
                    .map(|p| (self.agents[i].key, p)),
            );
        }
        let txs = crate::signing::sign_all(&self.state, CHAIN, FEE, payloads);
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
            self.agents[i].advance(&mut self.rng, height, block_ms);
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
                        module: ContentHash::of_parts(&[b"sim/module"]),
                        blobs: Vec::new(),
                        input: ContentHash::of_parts(&[
                            b"sim/input",
                            &height.to_le_bytes(),
                            &n.to_le_bytes(),
                        ]),
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
        output_hash: ContentHash::of_parts(&[b"sim/output", id.as_ref()]),
        total_fuel: fuel,
        segments: u32::try_from(fuel.div_ceil(seg_fuel)).unwrap_or(u32::MAX),
        trace_root: ContentHash::of_parts(&[b"sim/trace", id.as_ref()]),
        failed: false,
    }
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
