//! The adversarial FuelTrace simulation (issue 5; FUELTRACE.md, "The economics"): a deterministic
//! Monte-Carlo of audits, disputes, slashes and payments under the chain's own parameters
//! (`plexus_state::Params::default()`), with planted cheating providers and lazy or colluding
//! verifiers. It answers: is each kind of cheater caught as often as the formulas say, does any
//! honest provider get slashed, does cheating pay, what does a dispute cost on chain, and what
//! does verification cost.
//!
//! The model, per job (every draw from one ChaCha8 stream keyed by `(seed, kind, job)`, so a run
//! is a pure function of its config):
//!
//! - `n` segments, log-uniform over `1..=segments_max` (an octave uniformly, then a size within
//!   it: integer draws only, so every machine gets the same jobs), `fuel = n * seg_fuel`. The
//!   consumer's `max_fuel` is `fuel * max_fuel_headroom` (rounded up): the room a bill inflator
//!   fills. Price `R = fuel_cost_floor(fuel, ask)` (what the chain pays), value
//!   `V = fuel_cost_ceil(max_fuel, ask)` (what the chain slashes and locks: `S = slash_multiple V`,
//!   bond lock `bond_lock_multiple V`), honest cost `C = R * honest_cost_ppm / 10^6` (floor).
//! - The provider's conduct (its kind) fixes the faulty segments (a faulty segment `i` is one whose
//!   committed leaf `i + 1` is not what re-running it from leaf `i` gives), the cost it saves, the
//!   fuel it claims, whether it serves pre-state pages and any external gain.
//! - The audit draw is the chain's: `u` uniform in `[0, 10^6)`; `u < p_F` is a full audit,
//!   `u < p_F + p_L` a light audit of `k` distinct random segments among `0..n-1` plus the last
//!   one (every segment when `n <= k + 1`), otherwise none.
//! - An audit assignment goes to a verifier drawn from the population (honest, lazy: always
//!   agrees, colluding: agrees when the provider is one of its partners, the fixed set of
//!   providers `0..colluded_providers` of each kind, and is honest otherwise). Before each real
//!   assignment the protocol sends canaries (known-wrong commitments, the same size as the audit)
//!   at rate `rho`: each assignment is a canary with probability `rho`.
//! - Detection (exact mode, `q = 1`): a checking verifier catches the job iff it re-runs a faulty
//!   segment; a light audit of a withholder fails for want of pages, which the chain counts as the
//!   provider losing (a full audit re-runs from the public module and input, so it needs no pages
//!   and catches a withholder only by a faulty segment). A caught provider loses its dispute: no
//!   payment (the consumer is refunded), slashed `S`; the verifier earns `beta S`, the rest burns.
//!   The bond is assumed to cover `S` (the bond rule), so the slash is never capped.
//! - Money, integer base units, split as the chain splits it (`money`): a paid job pays `R` (or
//!   the inflated claim) less the burn (`payment_burn_bps`) and the audit fee (`audit_fee_bps`,
//!   into the audit pool), each rounded down; a verifier is paid from
//!   the pool the re-executed fuel at the ask (rounded down) and its cost is that at the honest
//!   cost rate; a verifier that passes a canary is unpaid and slashed `verifier_slash_multiple`
//!   times that cost. An offline provider never commits: the deadline burns `bond_lock_multiple V`
//!   times `deadline_slash_bps`, computed as `market.rs` does.
//! - Disputes of caught jobs are played with the real `plexus_types::dissection` game on synthetic traces
//!   (seeded state roots, cumulative fuel; the cheater's trace diverges at its first faulty
//!   segment): a full audit opens over the whole trace, a light audit straight at the failed
//!   segment's two leaves (as `plexus_types::audit::Verdict::Light` says). A dispute's bytes are
//!   every move's encoding plus the opening's fields (the job id and the verifier's verdict, the
//!   challenger's claim); its transactions are the real signed ones that carry them
//!   (`AuditReveal`, one `DisputeMove` per move, `DisputeSettle`).
//!
//! An honest provider has no faulty segment, so in exact mode no checking verifier can name one
//! and `honest_slashes` is 0 unless the model is broken; the check with teeth is on the other
//! side: every played dispute must end at a segment the provider really got wrong
//! (`disputes_misresolved`), or an honest challenger would lose.
//!
//! The verifier-load case (issue 12, `load`) is a different kind of run: the real chain,
//! block by block, with verifiers that are fast, slow, restarting, lying about their speed, or
//! running the former agent under the former rules, each drawn for several audits at once. It
//! counts honest-verifier slashes (0) and reports what the others lose.
//!
//! Invariants: no floats in money (profits are `i128` sums of `u128` amounts, bounded by
//! [`AdversarialConfig::check`] so no sum can overflow); floats only in the analytic formulas and
//! the report's means. No hash-map iteration. The same config gives the same report.
//!
//! Where things are: `config` (kinds, configuration, bounds), `draws` (the job, the conduct,
//! the audit and verifier draws), `analytic` (the formulas), `money` (the chain's money rules),
//! `game` (disputes on the real dissection game), `monte_carlo` (the run and its tallies),
//! `report` (what it reports), `load` (the verifier-load case).

mod analytic;
mod config;
mod draws;
mod game;
mod load;
mod money;
mod monte_carlo;
mod report;

pub use analytic::analytic_detection_for;
pub use config::{
    ASK_MAX, AdversarialConfig, ConfigError, JOBS_PER_KIND_DEFAULT, JOBS_PER_KIND_MAX,
    ProviderKind, SEED_DEFAULT, VerifierKind,
};
pub use load::{
    LOAD_BLOCKS_MAX, LOAD_VERIFIERS_MAX, LoadConfig, LoadKind, LoadReport, LoadVerifier,
    LoadVerifierReport, run_load,
};
pub use monte_carlo::run;
pub use report::{CheaterReport, PoolReport, Report, ReportParams, VerifierReport};
