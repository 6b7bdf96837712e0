//! The verifier-load case's configuration (the verifier population, the job stream, the block
//! times), its bounds, the keys every party signs with, and what it reports.

use plexus_state::Params;
use plexus_types::Amount;
use serde::Serialize;

pub(super) const CHAIN: u64 = 12;
pub(super) const VALIDATOR: u64 = 0;
pub(super) const PROVIDER: u64 = 1;
pub(super) const CONSUMERS: [u64; 4] = [2, 3, 4, 5];
/// Verifier `i` of the config signs with key `VERIFIER_KEY_FIRST + i`.
pub(super) const VERIFIER_KEY_FIRST: u64 = 6;
/// The most verifiers a load config may have.
pub const LOAD_VERIFIERS_MAX: usize = 16;
/// The most blocks a load run may take, posting and draining together.
pub const LOAD_BLOCKS_MAX: u64 = 1_000_000;
pub(super) const FEE: Amount = 1_000;
/// Blocks between the provider's heartbeats.
pub(super) const HEARTBEAT_EVERY_BLOCKS: u64 = 10;
/// The longest a crashed verifier stays down: a restart of its agent, shorter than the agent's
/// `AUDIT_SAFETY_BLOCKS` (an agent away for longer at the wrong moment is offline, and an
/// offline verifier's lapse is what the lapse rule charges).
pub const RESTART_BLOCKS_MAX: u64 = 6;
/// Finished jobs are pruned this many blocks later in the run (the figures are tallied as
/// they finish), so the state stays small.
pub(super) const RETENTION_BLOCKS: u64 = 50;

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
            || self.fuel_max > plexus_types::limits::JOB_FUEL_MAX / 2
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

pub(super) use crate::signing::{address, key};
