//! What an adversarial run reports: per provider kind, per verifier kind, the disputes played,
//! the audit pool and the verifier-load case, with the parameters it ran at.

use super::config::{AdversarialConfig, ProviderKind, VerifierKind};
use super::load::LoadReport;
use plexus_state::audit::PPM;
use plexus_types::Amount;
use serde::Serialize;

/// The parameters a report was produced with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportParams {
    pub seg_fuel: u64,
    pub light_audit_ppm: u32,
    pub full_audit_ppm: u32,
    pub light_audit_segments: u32,
    pub dissection_arity: u32,
    pub slash_multiple: u32,
    pub winner_share_bps: u32,
    pub canary_ppm: u32,
    pub verifier_slash_multiple: u32,
    pub audit_fee_bps: u32,
    pub bond_lock_multiple: u32,
    pub deadline_slash_bps: u32,
    pub ask_per_mfuel: Amount,
    pub honest_cost_ppm: u32,
    pub segments_max: u64,
    pub max_fuel_headroom_ppm: u32,
    pub verifier_honest_ppm: u32,
    pub verifier_lazy_ppm: u32,
    pub verifier_colluding_ppm: u32,
    pub providers_per_kind: u32,
    pub colluded_providers: u32,
    pub lazy_fraction_ppm: u32,
    pub inflation_ppm: u32,
    pub bribe_ppm: u32,
    pub disputes_played_max: u64,
}

/// One provider kind's figures. Profits are in base units per job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheaterReport {
    pub kind: ProviderKind,
    /// The exact per-job probability of being caught (missing the deadline, for `offline`),
    /// averaged over the drawn jobs.
    pub analytic_detection: f64,
    /// Caught jobs over jobs.
    pub measured_detection: f64,
    /// `|measured - analytic| / analytic`; `None` when the analytic rate is 0.
    pub relative_error: Option<f64>,
    /// Mean realized profit, external gain included.
    pub mean_profit: f64,
    /// Mean profit an honest provider would have made on the same jobs.
    pub mean_profit_honest: f64,
    /// The mean external gain (the targeted corrupter's bribe) inside `mean_profit`.
    pub mean_external_gain: f64,
    /// `mean_profit` over the mean price `R`.
    pub profit_per_price: f64,
    pub jobs: u64,
    /// Caught jobs (the deadline misses, for `offline`).
    pub caught: u64,
    /// Disputes played through the dissection game (light, full).
    pub disputes_played: [u64; 2],
}

/// One verifier kind's figures, per assignment (canaries included), in base units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifierReport {
    pub kind: VerifierKind,
    pub mean_profit: f64,
    /// The mean audit pay an assignment is worth (what a verifier that does the work is paid).
    pub mean_pay: f64,
    pub assignments: u64,
    pub canaries: u64,
    /// Canaries it passed (and was slashed for).
    pub canaries_passed: u64,
}

/// The audit pool's flows over the whole run, in base units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolReport {
    /// Audit fees taken from payments.
    pub collected: Amount,
    /// Paid to verifiers for audits and flagged canaries.
    pub paid: Amount,
}

/// What a run found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub seed: u64,
    pub jobs_per_kind: u64,
    pub params: ReportParams,
    /// Slashes of honest providers (exact mode: must be 0).
    pub honest_slashes: u64,
    /// Every provider kind but `honest`.
    pub cheaters: Vec<CheaterReport>,
    /// The honest provider kind's own figures.
    pub honest: CheaterReport,
    pub verifiers: Vec<VerifierReport>,
    /// The most defender reveal rounds in a played dispute (the final proof not counted).
    pub dispute_rounds_max: u32,
    /// The most on-chain bytes of a played dispute: every encoded move plus the opening's
    /// fields (job id, verdict).
    pub dispute_bytes_max: usize,
    /// The worst dispute at `segments_max` whatever the challenger's path, counted like
    /// `dispute_bytes_max` (`dissection::dispute_bytes_max` plus a full audit's opening): a
    /// bound that does not depend on which disputes were played.
    pub dispute_bytes_worst: usize,
    /// The most bytes of all the signed transactions of a played dispute (the verdict's reveal,
    /// every move, the settlement): envelopes and signatures included.
    pub dispute_chain_bytes_max: usize,
    /// The largest single dispute transaction (the chain's limit is `TX_SIZE_MAX`).
    pub dispute_tx_bytes_max: usize,
    /// The most moves of a played dispute.
    pub dispute_moves_max: u32,
    /// Disputes played in all.
    pub disputes_played: u64,
    /// Played disputes that resolved at a segment that was not faulty (the honest challenger
    /// would lose): must be 0.
    pub disputes_misresolved: u64,
    /// Re-executed fuel assigned to audits of honest jobs over those jobs' fuel.
    pub verification_overhead: f64,
    /// Re-executed fuel assigned to canaries over the honest jobs' fuel (on top of the above).
    pub canary_overhead: f64,
    pub audit_pool: PoolReport,
    /// The verifier-load case: honest verifiers under load are never slashed.
    pub verifier_load: LoadReport,
}

pub(super) fn report_params(cfg: &AdversarialConfig) -> ReportParams {
    let audit = &cfg.params.audit;
    ReportParams {
        seg_fuel: audit.seg_fuel,
        light_audit_ppm: audit.light_audit_ppm,
        full_audit_ppm: audit.full_audit_ppm,
        light_audit_segments: audit.light_audit_segments,
        dissection_arity: audit.dissection_arity,
        slash_multiple: audit.slash_multiple,
        winner_share_bps: audit.winner_share_bps,
        canary_ppm: audit.canary_ppm,
        verifier_slash_multiple: audit.verifier_slash_multiple,
        audit_fee_bps: audit.audit_fee_bps,
        bond_lock_multiple: cfg.params.bond_lock_multiple,
        deadline_slash_bps: cfg.params.deadline_slash_bps,
        ask_per_mfuel: cfg.ask_per_mfuel,
        honest_cost_ppm: cfg.honest_cost_ppm,
        segments_max: cfg.segments_max,
        max_fuel_headroom_ppm: cfg.max_fuel_headroom_ppm,
        verifier_honest_ppm: cfg.verifier_honest_ppm,
        verifier_lazy_ppm: cfg.verifier_lazy_ppm,
        verifier_colluding_ppm: PPM - cfg.verifier_honest_ppm - cfg.verifier_lazy_ppm,
        providers_per_kind: cfg.providers_per_kind,
        colluded_providers: cfg.colluded_providers,
        lazy_fraction_ppm: cfg.lazy_fraction_ppm,
        inflation_ppm: cfg.inflation_ppm,
        bribe_ppm: cfg.bribe_ppm,
        disputes_played_max: cfg.disputes_played_max,
    }
}
