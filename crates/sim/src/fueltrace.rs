//! The `fueltrace` scenario (issue 13): the role strategies against the real state machine
//! over many blocks and seeds.
//!
//! Every block is built and applied by `plexus_state` from signed transactions; disputes are
//! settled by the node's own `Replayer`, which re-runs the disputed segment through
//! `plexus-exec` from content the settling party uploaded. The jobs are a small WebAssembly
//! module run through `plexus-exec`, so every trace, light audit and settlement is real
//! execution.
//!
//! The parties: two honest providers, a lazy provider (commits a fabricated trace without
//! running), a bill inflator (claims a quarter more fuel than it used), a targeted corrupter
//! (runs some jobs on another input: a real trace of a wrong computation); an honest verifier
//! (re-runs what it is drawn for: the whole job for a full audit or a canary, the drawn segments
//! from the provider's checkpoints for a light one) and a lazy verifier (seals agreement without
//! re-running); two consumers posting two jobs a block for 30 blocks, one in ten with a bought
//! full audit. The chain draws audits and canaries from the beacon; disputes are played move by
//! move by the defender's and the challenger's strategies (`defend`, `challenge`).
//!
//! Each seed asserts: every cheating job that an honest verifier's audit covered (a full audit,
//! or a light one that drew a wrong segment) is refuted and its provider slashed; no honest
//! provider's job is refuted and no honest party (provider, verifier, consumer) is slashed or
//! has a transaction fail; the ledger sums to the supply after every block; every job ends.
//! The same seed gives the same final state root (`plexus-sim` runs its first seed twice).
//!
//! Where things are: `job` (the module and its runs), `roles` (each party's conduct and the
//! strategies), `chain` (blocks, content, the replayer), `run` (one seed and its checks).

mod chain;
mod job;
mod roles;
mod run;

pub use roles::{ProviderKind, VerifierKind};
pub use run::{FuelTraceOutcome, run};

/// The scenario's name on `plexus-sim`'s command line.
pub const NAME: &str = "fueltrace";
