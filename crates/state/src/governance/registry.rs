//! Every chain parameter a vote may change, by section and name (`audit.light_audit_ppm`), with
//! the bounds a proposal's value must be within, and the checks across parameters that no
//! change may break. Pure: the chain's proposals (and `GET /v1/params`) read this table.
//!
//! Each parameter is a non-negative integer (a count, a length in blocks or epochs, a share in
//! basis points or parts per million, or an amount in base units), read and written here as a
//! `u128` within its bounds, which are never wider than its field's type.
//!
//! A change is accepted only when the whole parameter set it makes passes [`check`]:
//! - each section's own check (`Params::check`, `AuditParams::check`, `StorageParams::check`);
//! - FuelTrace's deterrence (`../shared/FUELTRACE.md`, "The economics"): a provider that fakes
//!   work is caught with probability at least `p = p_L + p_F` (q = 1 in exact mode), so cheating
//!   loses money iff `p (R + S) >= C`; with `C <= R` that holds when
//!   `S / R >= 1 / p - 1`, and the chain keeps the document's safety factor of 1.5:
//!   `2 * slash_multiple * p_ppm >= 3 * (10^6 - p_ppm)`. With the defaults (p = 11%, S = 13 R):
//!   2,860,000 >= 2,670,000. No audit at all (`p = 0`) can never deter, and is refused;
//! - lazy verifiers: the canary rate times the verifier slash must cover the re-run a lazy
//!   verifier saves (`rho * S_v >= c_v`): `canary_ppm * verifier_slash_multiple >= 10^6`
//!   (defaults: 1,500,000);
//! - the epoch length at most doubles or halves in one proposal ([`check_step`]): the emission
//!   per epoch, a storage deal's epochs and every other count of epochs scale with it in time;
//! - storage: the proof window is shorter than an epoch (every shard is challenged and answered
//!   once an epoch; against the epochs already scheduled too, which only the chain's proposals
//!   know: `governance::proposals::admissible`), and a job's shortest deadline is not above its
//!   longest.
//!
//! Genesis files are checked by the sections' own checks only (a devnet may turn audits off to
//! watch something else); a vote may not.

use crate::Params;
use plexus_fueltrace::params::{AUDIT_BLOCK_MS_MAX, BPS, LIGHT_AUDIT_SEGMENTS_MAX, PPM};
use plexus_storage::params::SHARDS_MAX;
use plexus_types::{PLX, dissection::ARITY_MAX};
use std::collections::BTreeMap;

/// One governed parameter.
pub struct Governed {
    /// `chain`, `audit` or `storage`: the part of [`Params`] it is in.
    pub section: &'static str,
    /// Its field's name.
    pub name: &'static str,
    /// The least and the most a proposal may set it to.
    pub min: u128,
    pub max: u128,
    get: fn(&Params) -> u128,
    set: fn(&mut Params, u128),
}

impl Governed {
    /// `section.name`, as a proposal names it.
    pub fn key(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// Its value in `params`.
    pub fn get(&self, params: &Params) -> u128 {
        (self.get)(params)
    }

    /// Sets it in `params` with no check of bounds or rules: for a copy of the chain's
    /// parameters rebuilt from their served values, never for the chain's own ([`apply`] checks).
    pub fn set_unchecked(&self, params: &mut Params, value: u128) {
        (self.set)(params, value)
    }
}

/// A governed field: its section, name, place in [`Params`], type and bounds (`$ty` holds
/// `$max`; the table's test checks it).
macro_rules! governed {
    ($section:literal, $name:literal, $($field:ident).+ : $ty:ty, $min:expr, $max:expr) => {
        Governed {
            section: $section,
            name: $name,
            min: $min as u128,
            max: $max as u128,
            get: |p: &Params| p.$($field).+ as u128,
            set: |p: &mut Params, v: u128| p.$($field).+ = v as $ty,
        }
    };
}

const MILLION: u128 = 1_000_000;

/// The shortest epoch a vote may set, in blocks.
pub const EPOCH_LENGTH_MIN: u64 = 10;

/// Every governed parameter. Bounds are wide enough for any sane network and narrow enough that
/// no value breaks the arithmetic built on it (the cross-parameter rules are [`check`]'s).
pub static GOVERNED: &[Governed] = &[
    governed!("chain", "fee_min", fee_min: u128, 0, PLX),
    governed!("chain", "self_bond_min", self_bond_min: u128, PLX, 10 * MILLION * PLX),
    governed!("chain", "unbonding_period_blocks", unbonding_period_blocks: u64, 1, MILLION),
    // A new length takes effect two epochs after the one it is applied in (`ledger::epochs`):
    // past epochs keep their heights. At least 10 blocks, so a reshare round (deal, ack, log)
    // fits in an epoch.
    governed!("chain", "epoch_length_blocks", epoch_length_blocks: u64, EPOCH_LENGTH_MIN, MILLION),
    governed!("chain", "committee_size_max", committee_size_max: u32, 1, crate::ledger::params::COMMITTEE_SIZE_CAP),
    governed!("chain", "slash_bps", slash_bps: u32, 1, BPS),
    governed!("chain", "provider_bond_min", provider_bond_min: u128, PLX, 10 * MILLION * PLX),
    governed!("chain", "provider_unbonding_blocks", provider_unbonding_blocks: u64, 1, MILLION),
    governed!("chain", "heartbeat_interval_blocks", heartbeat_interval_blocks: u64, 1, 10_000),
    governed!("chain", "heartbeat_missed_max", heartbeat_missed_max: u64, 1, 1_000),
    // An audit is drawn two blocks after the commitment: the window leaves room for it.
    governed!("chain", "settlement_window_blocks", settlement_window_blocks: u64, 3, 10_000),
    governed!("chain", "job_deadline_max_blocks", job_deadline_max_blocks: u64, 1, MILLION),
    governed!("chain", "job_deadline_min_blocks", job_deadline_min_blocks: u64, 1, MILLION),
    governed!("chain", "job_retention_blocks", job_retention_blocks: u64, 1, 10 * MILLION),
    governed!("chain", "bond_lock_multiple", bond_lock_multiple: u32, 1, 1_000),
    governed!("chain", "deadline_slash_bps", deadline_slash_bps: u32, 0, BPS),
    governed!("chain", "reputation_done_gain", reputation_done_gain: u32, 0, 10_000),
    governed!("chain", "reputation_miss_penalty", reputation_miss_penalty: u32, 0, MILLION),
    governed!("chain", "commission_max_bps", commission_max_bps: u32, 0, BPS),
    governed!("chain", "commission_default_bps", commission_default_bps: u32, 0, BPS),
    governed!("chain", "commission_change_epochs_min", commission_change_epochs_min: u64, 1, 10_000),
    // Governance governs itself: a vote stays possible at every bound (a period of at least a
    // block, a quorum and a veto of at least one basis point, a threshold below all).
    governed!("chain", "gov_voting_period_blocks", gov_voting_period_blocks: u64, 1, MILLION),
    governed!("chain", "gov_quorum_bps", gov_quorum_bps: u32, 1, BPS),
    governed!("chain", "gov_threshold_bps", gov_threshold_bps: u32, 0, BPS - 1),
    governed!("chain", "gov_veto_bps", gov_veto_bps: u32, 1, BPS),
    governed!("chain", "gov_deposit_min", gov_deposit_min: u128, 0, MILLION * PLX),
    governed!("chain", "gov_effect_delay_blocks", gov_effect_delay_blocks: u64, 0, MILLION),
    governed!("audit", "seg_fuel", audit.seg_fuel: u64, 1 << 20, 1u64 << 32),
    governed!("audit", "light_audit_ppm", audit.light_audit_ppm: u32, 0, PPM),
    governed!("audit", "full_audit_ppm", audit.full_audit_ppm: u32, 0, PPM),
    governed!("audit", "light_audit_segments", audit.light_audit_segments: u32, 1, LIGHT_AUDIT_SEGMENTS_MAX),
    governed!("audit", "dissection_arity", audit.dissection_arity: u32, 2, ARITY_MAX),
    governed!("audit", "response_blocks", audit.response_blocks: u64, 1, 10_000),
    governed!("audit", "slash_multiple", audit.slash_multiple: u32, 1, 10_000),
    governed!("audit", "winner_share_bps", audit.winner_share_bps: u32, 0, BPS),
    governed!("audit", "canary_ppm", audit.canary_ppm: u32, 0, PPM),
    governed!("audit", "verifier_slash_multiple", audit.verifier_slash_multiple: u32, 1, 10_000),
    governed!("audit", "verifier_bond_min", audit.verifier_bond_min: u128, PLX, 10 * MILLION * PLX),
    governed!("audit", "audit_fee_bps", audit.audit_fee_bps: u32, 0, BPS),
    governed!("audit", "payment_burn_bps", audit.payment_burn_bps: u32, 0, BPS),
    governed!("audit", "emission_per_epoch", audit.emission_per_epoch: u128, 0, MILLION * PLX),
    governed!("audit", "emission_halving_epochs", audit.emission_halving_epochs: u64, 0, 10 * MILLION),
    governed!("audit", "emission_validators_bps", audit.emission_validators_bps: u32, 0, BPS),
    governed!("audit", "emission_providers_bps", audit.emission_providers_bps: u32, 0, BPS),
    governed!("audit", "audit_block_ms", audit.audit_block_ms: u64, 1, AUDIT_BLOCK_MS_MAX),
    governed!("audit", "audit_time_margin_bps", audit.audit_time_margin_bps: u32, BPS, 10 * BPS),
    governed!("audit", "audit_rerun_blocks_max", audit.audit_rerun_blocks_max: u64, 1, 100_000),
    governed!("storage", "k", storage.k: u32, 1, SHARDS_MAX - 1),
    governed!("storage", "n", storage.n: u32, 2, SHARDS_MAX),
    governed!("storage", "deal_epochs_min", storage.deal_epochs_min: u64, 1, 100_000),
    governed!("storage", "deal_epochs_max", storage.deal_epochs_max: u64, 1, MILLION),
    governed!("storage", "accept_window_blocks", storage.accept_window_blocks: u64, 1, 10_000),
    governed!("storage", "proof_window_blocks", storage.proof_window_blocks: u64, 1, 1_000),
    governed!("storage", "miss_burn_multiple", storage.miss_burn_multiple: u32, 1, 100),
    governed!("storage", "misses_before_lost", storage.misses_before_lost: u32, 1, 100),
    governed!("storage", "fault_excuse_epochs_max", storage.fault_excuse_epochs_max: u64, 1, 100),
    governed!("storage", "repair_deadline_epochs", storage.repair_deadline_epochs: u64, 1, 100),
    governed!("storage", "collateral_epochs", storage.collateral_epochs: u32, 1, 10_000),
    governed!("storage", "collateral_min_per_shard", storage.collateral_min_per_shard: u128, 0, 1_000 * PLX),
    governed!("storage", "challenges_per_block_max", storage.challenges_per_block_max: u32, 1, 1_024),
    governed!("storage", "emission_bps", storage.emission_bps: u32, 0, BPS),
];

/// The governed parameter `key` (`section.name`).
pub fn lookup(key: &str) -> Option<&'static Governed> {
    let (section, name) = key.split_once('.')?;
    GOVERNED
        .iter()
        .find(|governed| governed.section == section && governed.name == name)
}

/// Why a proposed change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("no governed parameter {0:?} (`GET /v1/params` lists them)")]
    Unknown(String),
    #[error("{key} is named twice")]
    Twice { key: String },
    #[error("{key} = {value} is outside its bounds {min}..={max}")]
    OutOfBounds {
        key: String,
        value: u128,
        min: u128,
        max: u128,
    },
    #[error("the parameters would break a rule: {0}")]
    Breaks(String),
}

/// `params` with `changes` (`section.name`, value) applied, each within its bounds and the
/// whole set passing [`check`]; or why not. Nothing is applied unless everything is.
pub fn apply(params: &Params, changes: &[(String, u128)]) -> Result<Params, ChangeError> {
    let mut next = params.clone();
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in changes {
        let governed = lookup(key).ok_or_else(|| ChangeError::Unknown(key.clone()))?;
        if !seen.insert(key.as_str()) {
            return Err(ChangeError::Twice { key: key.clone() });
        }
        if !(governed.min..=governed.max).contains(value) {
            return Err(ChangeError::OutOfBounds {
                key: key.clone(),
                value: *value,
                min: governed.min,
                max: governed.max,
            });
        }
        (governed.set)(&mut next, *value);
    }
    check(&next).map_err(ChangeError::Breaks)?;
    check_step(params, &next).map_err(ChangeError::Breaks)?;
    Ok(next)
}

/// The rules on how far one proposal may move a parameter from its value in force: the epoch
/// length at most doubles or halves. Everything counted in epochs (the emission per epoch, its
/// halving, a storage deal's length and pay, commission and fault windows) scales with it in
/// time, so one vote may not, say, make the emission ten times faster or a stored file's
/// paid-for time ten times shorter.
pub fn check_step(old: &Params, new: &Params) -> Result<(), String> {
    let (from, to) = (old.epoch_length_blocks, new.epoch_length_blocks);
    if to.saturating_mul(2) < from || to > from.saturating_mul(2) {
        return Err(format!(
            "chain.epoch_length_blocks may at most double or halve in one proposal: from {from}, \
             {}..={} (everything counted in epochs scales with it)",
            from.div_ceil(2),
            from.saturating_mul(2)
        ));
    }
    Ok(())
}

/// The rules across parameters no vote may break (the module's documentation gives each).
pub fn check(params: &Params) -> Result<(), String> {
    params.check().map_err(str::to_string)?;
    params.audit.check().map_err(str::to_string)?;
    params.storage.check().map_err(str::to_string)?;
    let audit = &params.audit;
    let p_ppm = u128::from(audit.audit_ppm());
    if p_ppm == 0 {
        return Err("light_audit_ppm + full_audit_ppm must be positive: without audits no slash deters a cheating provider".into());
    }
    if 2 * u128::from(audit.slash_multiple) * p_ppm < 3 * u128::from(PPM).saturating_sub(p_ppm) {
        return Err(format!(
            "slash_multiple {} is below FuelTrace's bound for an audit rate of {p_ppm} ppm: \
             at least 1.5 * (10^6 / {p_ppm} - 1)",
            audit.slash_multiple
        ));
    }
    if u128::from(audit.canary_ppm) * u128::from(audit.verifier_slash_multiple) < u128::from(PPM) {
        return Err(format!(
            "canary_ppm * verifier_slash_multiple = {} is below 10^6: a lazy verifier would gain",
            u128::from(audit.canary_ppm) * u128::from(audit.verifier_slash_multiple)
        ));
    }
    if params.storage.proof_window_blocks >= params.epoch_length_blocks {
        return Err(format!(
            "storage.proof_window_blocks {} must be below epoch_length_blocks {}",
            params.storage.proof_window_blocks, params.epoch_length_blocks
        ));
    }
    if params.job_deadline_min_blocks > params.job_deadline_max_blocks {
        return Err("job_deadline_min_blocks is above job_deadline_max_blocks".into());
    }
    Ok(())
}

/// Every governed parameter's value in `params`, by section and name.
pub fn by_section(params: &Params) -> BTreeMap<&'static str, BTreeMap<&'static str, u128>> {
    let mut sections: BTreeMap<_, BTreeMap<_, _>> = BTreeMap::new();
    for governed in GOVERNED {
        sections
            .entry(governed.section)
            .or_default()
            .insert(governed.name, governed.get(params));
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_fits_its_field_and_every_default_is_within_its_bounds() {
        let defaults = Params::default();
        for governed in GOVERNED {
            let key = governed.key();
            assert!(governed.min <= governed.max, "{key}");
            // Writing the maximum and reading it back gives it: the field's type holds it.
            let mut params = defaults.clone();
            (governed.set)(&mut params, governed.max);
            assert_eq!(governed.get(&params), governed.max, "{key}'s type");
            let value = governed.get(&defaults);
            assert!(
                (governed.min..=governed.max).contains(&value),
                "{key} default {value} outside {}..={}",
                governed.min,
                governed.max
            );
            assert_eq!(lookup(&key).map(Governed::key), Some(key.clone()));
        }
        check(&defaults).unwrap();
        let keys: std::collections::BTreeSet<String> = GOVERNED.iter().map(Governed::key).collect();
        assert_eq!(keys.len(), GOVERNED.len(), "a parameter is listed twice");
    }

    #[test]
    fn a_change_is_applied_whole_or_refused_with_its_reason() {
        let params = Params::default();
        let change = |key: &str, value: u128| (key.to_string(), value);
        let next = apply(&params, &[change("audit.light_audit_ppm", 200_000)]).unwrap();
        assert_eq!(next.audit.light_audit_ppm, 200_000);
        assert_eq!(
            apply(&params, &[change("audit.nothing", 1)]),
            Err(ChangeError::Unknown("audit.nothing".into()))
        );
        assert!(matches!(
            apply(&params, &[change("audit.light_audit_ppm", 2_000_000)]),
            Err(ChangeError::OutOfBounds { max: 1_000_000, .. })
        ));
        assert!(matches!(
            apply(
                &params,
                &[change("chain.fee_min", 5), change("chain.fee_min", 6)]
            ),
            Err(ChangeError::Twice { .. })
        ));
        // FuelTrace's bound: at 11% audits a slash of 12x the job is too little, 13x enough;
        // at 1% it takes 149x.
        let breaks = apply(&params, &[change("audit.slash_multiple", 12)]);
        assert!(
            matches!(&breaks, Err(ChangeError::Breaks(why)) if why.contains("FuelTrace")),
            "{breaks:?}"
        );
        let rare = [
            change("audit.light_audit_ppm", 5_000),
            change("audit.full_audit_ppm", 5_000),
        ];
        assert!(apply(&params, &rare).is_err());
        let deterred = [rare.to_vec(), vec![change("audit.slash_multiple", 149)]].concat();
        apply(&params, &deterred).unwrap();
        let none = [
            change("audit.light_audit_ppm", 0),
            change("audit.full_audit_ppm", 0),
        ];
        assert!(apply(&params, &none).is_err());
        // Lazy verifiers, the proof window, the deadlines, a section's own rule.
        assert!(apply(&params, &[change("audit.verifier_slash_multiple", 49)]).is_err());
        assert!(apply(&params, &[change("storage.proof_window_blocks", 100)]).is_err());
        assert!(apply(&params, &[change("chain.job_deadline_min_blocks", 20_000)]).is_err());
        assert!(apply(&params, &[change("storage.k", 40)]).is_err());
        assert!(apply(&params, &[change("chain.commission_max_bps", 500)]).is_err());
        // A refused change leaves nothing applied (the caller's params are untouched).
        assert_eq!(params, Params::default());
    }

    #[test]
    fn every_parameter_is_listed_by_section() {
        let sections = by_section(&Params::default());
        assert_eq!(
            sections.keys().copied().collect::<Vec<_>>(),
            ["audit", "chain", "storage"]
        );
        assert_eq!(sections["audit"]["light_audit_ppm"], 100_000);
        assert_eq!(sections["storage"]["n"], 40);
        let listed: usize = sections.values().map(BTreeMap::len).sum();
        assert_eq!(listed, GOVERNED.len());
    }
}
