//! What an adversarial run is given: the provider and verifier kinds, the population and job
//! mix over the chain's parameters ([`AdversarialConfig`]), the bounds that keep every sum exact,
//! and why a configuration is refused ([`ConfigError`]).

use super::load::LoadConfig;
use plexus_state::Params;
use plexus_state::audit::PPM;
use plexus_types::limits::{JOB_FUEL_MAX, TRACE_SEGMENTS_MAX};
use plexus_types::{Amount, PLX};
use serde::Serialize;

/// The seed `plexus-sim adversarial` uses unless told otherwise.
pub const SEED_DEFAULT: u64 = 1;
/// Jobs per provider kind unless told otherwise: enough that the rarest detection (about 4%)
/// is measured on about 4_000 catches, a relative standard error near 1.6%, and that the
/// fuel-weighted figures (dominated by the 1% of jobs fully audited) settle.
pub const JOBS_PER_KIND_DEFAULT: u64 = 100_000;
/// The most jobs per kind a run may ask for (a run is linear in it).
pub const JOBS_PER_KIND_MAX: u64 = 10_000_000;
/// The highest ask a run may use, in base units per million fuel: with `JOB_FUEL_MAX` it bounds
/// a job's value below 2^50, a slash (a `u32` multiple) below 2^82, so no `i128` sum over
/// `JOBS_PER_KIND_MAX` jobs (below 2^24) can overflow.
pub const ASK_MAX: Amount = PLX;

/// What a provider does with the jobs it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Runs every segment, claims the real fuel, serves its pages.
    Honest,
    /// Fakes every segment: saves the whole cost `C`.
    LazyAll,
    /// Fakes each segment independently with probability `phi`: saves `C` times the faked share.
    LazyFraction,
    /// Runs honestly and claims `1 + inflation` times the fuel. Fuel is cumulative, so the bill
    /// first shows in the last leaf: the last segment is its faulty one. Gains the extra payment.
    BillInflator,
    /// Runs honestly except one segment, uniform among the `n`, whose output it corrupts: saves
    /// nothing, but is paid an external bribe of `bribe_ppm` of `R` (paid up front, caught or not).
    TargetedCorrupter,
    /// Fakes a fraction `phi` like `LazyFraction` and refuses to serve pre-state pages, hoping to
    /// stall light audits: a light audit whose pages it refuses counts as a lost dispute.
    Withholder,
    /// Never commits: misses the deadline and loses its bond lock times `deadline_slash_bps`.
    Offline,
}

impl ProviderKind {
    /// Every kind, in report order.
    pub const ALL: [ProviderKind; 7] = [
        ProviderKind::Honest,
        ProviderKind::LazyAll,
        ProviderKind::LazyFraction,
        ProviderKind::BillInflator,
        ProviderKind::TargetedCorrupter,
        ProviderKind::Withholder,
        ProviderKind::Offline,
    ];

    /// The name the report uses.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Honest => "honest",
            ProviderKind::LazyAll => "lazy_all",
            ProviderKind::LazyFraction => "lazy_fraction",
            ProviderKind::BillInflator => "bill_inflator",
            ProviderKind::TargetedCorrupter => "targeted_corrupter",
            ProviderKind::Withholder => "withholder",
            ProviderKind::Offline => "offline",
        }
    }

    pub(super) fn index(self) -> u64 {
        match self {
            ProviderKind::Honest => 0,
            ProviderKind::LazyAll => 1,
            ProviderKind::LazyFraction => 2,
            ProviderKind::BillInflator => 3,
            ProviderKind::TargetedCorrupter => 4,
            ProviderKind::Withholder => 5,
            ProviderKind::Offline => 6,
        }
    }
}

/// How a drawn verifier behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierKind {
    /// Re-runs what it is assigned and reports what it finds.
    Honest,
    /// Never re-runs anything: always agrees.
    Lazy,
    /// Agrees whenever the provider is one of its partners; honest otherwise.
    Colluding,
}

impl VerifierKind {
    pub(super) const ALL: [VerifierKind; 3] = [
        VerifierKind::Honest,
        VerifierKind::Lazy,
        VerifierKind::Colluding,
    ];

    pub(super) fn index(self) -> usize {
        match self {
            VerifierKind::Honest => 0,
            VerifierKind::Lazy => 1,
            VerifierKind::Colluding => 2,
        }
    }

    /// Whether this verifier really checks a job of a provider that is (or is not) its partner.
    pub(super) fn checks(self, partner: bool) -> bool {
        match self {
            VerifierKind::Honest => true,
            VerifierKind::Lazy => false,
            VerifierKind::Colluding => !partner,
        }
    }
}

/// A run's configuration: the chain's parameters plus the population and the job mix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdversarialConfig {
    /// The seed every draw derives from (printed in the report).
    pub seed: u64,
    /// Jobs simulated for each provider kind.
    pub jobs_per_kind: u64,
    /// The chain's parameters: `audit` for FuelTrace, `bond_lock_multiple` and
    /// `deadline_slash_bps` for the offline provider.
    pub params: Params,
    /// Every provider's ask, base units per million fuel.
    pub ask_per_mfuel: Amount,
    /// An honest run's cost as a share of its price `R`, in ppm.
    pub honest_cost_ppm: u32,
    /// Jobs have `1..=segments_max` segments, log-uniformly.
    pub segments_max: u64,
    /// The consumer's `max_fuel` over the job's real fuel, in ppm (at least `10^6`).
    pub max_fuel_headroom_ppm: u32,
    /// The honest share of verifier stake, in ppm.
    pub verifier_honest_ppm: u32,
    /// The lazy share of verifier stake, in ppm; the colluding share is the rest.
    pub verifier_lazy_ppm: u32,
    /// Provider identities per kind; a job goes to one uniformly.
    pub providers_per_kind: u32,
    /// Providers `0..colluded_providers` of each kind are the colluding verifiers' partners.
    pub colluded_providers: u32,
    /// `phi`: the share of segments a lazy-fraction provider (or a withholder) fakes, in ppm.
    pub lazy_fraction_ppm: u32,
    /// The bill inflator's extra claimed fuel, in ppm of the real fuel.
    pub inflation_ppm: u32,
    /// The targeted corrupter's bribe, in ppm of `R`.
    pub bribe_ppm: u32,
    /// Disputes played through the dissection game per kind and audit class (light, full); the
    /// rest are counted as lost without playing them.
    pub disputes_played_max: u64,
    /// The verifier-load case (issue 12): several audits at once, slow and restarting
    /// verifiers, through the real chain (`load.rs`).
    pub load: LoadConfig,
}

impl AdversarialConfig {
    /// The default population and job mix at `Params::default()`.
    pub fn new(seed: u64, jobs_per_kind: u64) -> Self {
        AdversarialConfig {
            seed,
            jobs_per_kind,
            params: Params::default(),
            ask_per_mfuel: 1_000,
            honest_cost_ppm: 800_000,
            segments_max: 4_096,
            max_fuel_headroom_ppm: 1_250_000,
            verifier_honest_ppm: 900_000,
            verifier_lazy_ppm: 50_000,
            providers_per_kind: 20,
            colluded_providers: 5,
            lazy_fraction_ppm: 100_000,
            inflation_ppm: 250_000,
            bribe_ppm: 1_000_000,
            disputes_played_max: 200,
            load: LoadConfig::new(seed),
        }
    }

    /// Whether the configuration is one a run can use: parameters the chain accepts, shares
    /// within their denominators, jobs within the chain's fuel and segment limits, and amounts
    /// small enough that no sum overflows.
    pub fn check(&self) -> Result<(), ConfigError> {
        let audit = &self.params.audit;
        audit
            .check()
            .map_err(|reason| ConfigError::Params { reason })?;
        if !(1..=JOBS_PER_KIND_MAX).contains(&self.jobs_per_kind) {
            return Err(ConfigError::JobsOutOfRange {
                jobs: self.jobs_per_kind,
            });
        }
        if !(1..=TRACE_SEGMENTS_MAX).contains(&self.segments_max) {
            return Err(ConfigError::SegmentsOutOfRange {
                segments_max: self.segments_max,
            });
        }
        for (name, ppm) in [
            ("honest_cost_ppm", self.honest_cost_ppm),
            ("verifier_honest_ppm", self.verifier_honest_ppm),
            ("verifier_lazy_ppm", self.verifier_lazy_ppm),
            (
                "verifier_honest_ppm + verifier_lazy_ppm",
                self.verifier_honest_ppm
                    .saturating_add(self.verifier_lazy_ppm),
            ),
            ("lazy_fraction_ppm", self.lazy_fraction_ppm),
            ("inflation_ppm", self.inflation_ppm),
            ("bribe_ppm", self.bribe_ppm),
        ] {
            if ppm > PPM {
                return Err(ConfigError::ShareOverOne { name, ppm });
            }
        }
        // The bill inflator's claim must fit under the consumer's max_fuel, or the chain refuses it.
        if u64::from(self.max_fuel_headroom_ppm) < u64::from(PPM) + u64::from(self.inflation_ppm) {
            return Err(ConfigError::HeadroomTooSmall {
                headroom_ppm: self.max_fuel_headroom_ppm,
                inflation_ppm: self.inflation_ppm,
            });
        }
        let max_fuel = max_fuel(self, self.segments_max.saturating_mul(audit.seg_fuel));
        if max_fuel > JOB_FUEL_MAX {
            return Err(ConfigError::FuelOverLimit { max_fuel });
        }
        if !(1..=ASK_MAX).contains(&self.ask_per_mfuel) {
            return Err(ConfigError::AskOutOfRange {
                ask: self.ask_per_mfuel,
            });
        }
        if self.providers_per_kind == 0 || self.colluded_providers > self.providers_per_kind {
            return Err(ConfigError::Providers {
                providers: self.providers_per_kind,
                colluded: self.colluded_providers,
            });
        }
        self.load
            .check()
            .map_err(|reason| ConfigError::Load { reason })
    }
}

/// Why a configuration cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The chain would refuse these audit parameters.
    #[error("audit parameters: {reason}")]
    Params {
        /// What `AuditParams::check` said.
        reason: &'static str,
    },
    /// Jobs per kind outside `1..=JOBS_PER_KIND_MAX`.
    #[error("{jobs} jobs per kind is outside 1..={JOBS_PER_KIND_MAX}")]
    JobsOutOfRange {
        /// The count asked for.
        jobs: u64,
    },
    /// `segments_max` outside `1..=TRACE_SEGMENTS_MAX`.
    #[error("segments_max {segments_max} is outside 1..={TRACE_SEGMENTS_MAX}")]
    SegmentsOutOfRange {
        /// The bound asked for.
        segments_max: u64,
    },
    /// A share is over 10^6 ppm.
    #[error("{name} = {ppm} ppm is over 10^6")]
    ShareOverOne {
        /// The field.
        name: &'static str,
        /// Its value.
        ppm: u32,
    },
    /// `max_fuel` leaves no room for the bill inflator's claim.
    #[error("max_fuel headroom {headroom_ppm} ppm is below 10^6 + inflation {inflation_ppm} ppm")]
    HeadroomTooSmall {
        /// The headroom asked for.
        headroom_ppm: u32,
        /// The inflation asked for.
        inflation_ppm: u32,
    },
    /// The largest job's `max_fuel` is over the chain's `JOB_FUEL_MAX`.
    #[error("the largest job's max_fuel {max_fuel} is over {JOB_FUEL_MAX}")]
    FuelOverLimit {
        /// That `max_fuel`.
        max_fuel: u64,
    },
    /// The ask is zero or over `ASK_MAX`.
    #[error("ask {ask} is outside 1..={ASK_MAX}")]
    AskOutOfRange {
        /// The ask asked for.
        ask: Amount,
    },
    /// The verifier-load case's configuration cannot run.
    #[error("verifier load: {reason}")]
    Load {
        /// What `LoadConfig::check` (or the run) said.
        reason: &'static str,
    },
    /// No providers, or more partners than providers.
    #[error("{colluded} colluded providers of {providers}")]
    Providers {
        /// Providers per kind.
        providers: u32,
        /// Colluded providers per kind.
        colluded: u32,
    },
}

/// `ceil(fuel * headroom / 10^6)`.
pub(super) fn max_fuel(cfg: &AdversarialConfig, fuel: u64) -> u64 {
    let scaled = u128::from(fuel) * u128::from(cfg.max_fuel_headroom_ppm);
    u64::try_from(scaled.div_ceil(u128::from(PPM))).unwrap_or(u64::MAX)
}
