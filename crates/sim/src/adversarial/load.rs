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
//!   them on disk). An agent verifier takes `step` for every drawn audit it has not
//!   sealed, at its measured speed (its true one); the `sequential` verifier is the former agent:
//!   one audit at a time, never declining, for comparison only.
//!
//! `honest_verifier_slashes` counts the lapses of the agent verifiers that declared their true
//! speed: it must be 0. The lying verifier's lapses cost its own bond only (the provider is
//! never slashed and every job settles); `sequential_slashes` shows what the former agent loses.
//!
//! Invariants checked every block: `State::recount` equals the supply, and no verifier has more
//! open audits than its capacity.
//!
//! Where things are: `config` (the configuration, its bounds and the report), `agent` (a
//! verifier's machine and agent), `run` (the chain block by block and the tallies).

mod agent;
mod config;
mod run;

pub use config::{
    LOAD_BLOCKS_MAX, LOAD_VERIFIERS_MAX, LoadConfig, LoadKind, LoadReport, LoadVerifier,
    LoadVerifierReport,
};
pub use run::run_load;
