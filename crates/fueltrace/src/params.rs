//! FuelTrace's audit, dispute and reward parameters (FUELTRACE.md, "Audits" to "The economics"),
//! with their validation and their encoding (a state snapshot and the state root carry them).
//!
//! Every figure here is a governance parameter; the defaults follow FUELTRACE.md's math:
//!
//! - Detection of a provider that fakes a whole job is `p = p_L + p_F` (a light audit always
//!   re-runs the last segment, so it catches any fake final state, output or bill). Cheating has
//!   negative expected value when `S >= R (1/p - 1)`; with the safety factor 1.5 and `p = 11%`
//!   that is `12.1 R`, so the slash multiple is 13.
//! - A provider that fakes a fraction `phi` of the segments is caught by a light audit of `k`
//!   random segments with probability `1 - (1 - phi)^k >= k phi` for small `phi`, while it saves
//!   only `phi` of the cost: `S >= R (1 / (p_L k) - 1) = 1.5 R` at the defaults, inside `13 R`.
//! - Verification costs `p_L (k + 1) / n + p_F` of the job's compute: 1.8% for a job of 64
//!   segments, less for longer jobs (fuel-weighted, the job mix is dominated by long jobs).
//! - Lazy verifiers: canaries at rate `rho` and a verifier slash `S_v` with `rho S_v >= c_v`
//!   (the re-execution a lazy verifier saves); with the factor 1.5, `S_v = 75 c_v` at 2%.
//!
//! - Audit deadlines follow the work: the drawn fuel at the drawn verifier's declared speed,
//!   times `audit_time_margin_bps` (3x), over `audit_block_ms` (250 ms, the shortest block
//!   time), capped at `audit_rerun_blocks_max` (`dispute::seal_blocks`). A release build
//!   re-runs about 1.5-1.9 x 10^9 fuel/s; the cap lets a verifier at 6 x 10^8 fuel/s take the
//!   full audit of the largest job (10^12 fuel).
//!
//! Integer only: probabilities are parts per million, shares basis points.

use bytes::BufMut;
use plexus_types::Amount;
use plexus_types::codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};

/// One million: the denominator of every `_ppm` parameter.
pub const PPM: u32 = 1_000_000;
/// Ten thousand: the denominator of every `_bps` parameter.
pub const BPS: u32 = 10_000;
/// The most random segments a light audit may draw (a snapshot holds at most 2^16 per audit).
pub const LIGHT_AUDIT_SEGMENTS_MAX: u32 = 1_024;
/// The longest block time the audit deadlines may assume (an hour), so their arithmetic stays
/// far inside 128 bits.
pub const AUDIT_BLOCK_MS_MAX: u64 = 3_600_000;

/// The audit, dispute and reward parameters (`plexus_state::Params::audit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditParams {
    /// Fuel per trace segment: a checkpoint at the first step boundary after this much fuel.
    /// Providers, verifiers and the chain's final re-execution all use it.
    pub seg_fuel: u64,
    /// `p_L`: the chance a committed job gets a light audit, in parts per million.
    pub light_audit_ppm: u32,
    /// `p_F`: the chance a committed job gets a full audit, in parts per million (consumers may
    /// also buy one with the job).
    pub full_audit_ppm: u32,
    /// `k`: random segments a light audit re-runs, besides the last one.
    pub light_audit_segments: u32,
    /// The arity of a dispute's dissection (16: three rounds for up to 4096 segments).
    pub dissection_arity: u32,
    /// Blocks a party has to make its next move in a dispute (or a verifier to commit, and then
    /// to reveal); missing it loses.
    pub response_blocks: u64,
    /// `S / R`: a provider that loses a dispute is slashed this many times the job's value at
    /// its ask (`fuel_cost_ceil(max_fuel, ask)`), capped by its bond.
    pub slash_multiple: u32,
    /// `beta`: the share of a slash paid to the party that won the dispute; the rest is burned.
    pub winner_share_bps: u32,
    /// `rho`: the share of audit assignments that are canaries, in parts per million.
    pub canary_ppm: u32,
    /// `S_v / c_v`: a verifier that passes a canary is slashed this many times the value of the
    /// re-execution it was asked for.
    pub verifier_slash_multiple: u32,
    /// The smallest bond that registers a verifier.
    pub verifier_bond_min: Amount,
    /// The audit fee: a share of every job's payment that goes to the audit pool, from which
    /// verifiers are paid for the re-execution they do.
    pub audit_fee_bps: u32,
    /// The governed share of consumer payments burned (burn-and-mint): of every settled job's
    /// payment this share leaves the supply; the provider is paid what the burn and the audit
    /// fee leave (`payment_burn_bps + audit_fee_bps <= 10^4`).
    pub payment_burn_bps: u32,
    /// The emission of the first halving era, per epoch, in base units.
    pub emission_per_epoch: Amount,
    /// Epochs between halvings of the emission (0: the emission never halves).
    pub emission_halving_epochs: u64,
    /// The validators' share of each epoch's emission (by signatures in finalization
    /// certificates).
    pub emission_validators_bps: u32,
    /// The providers' share (by audited fuel); the verifiers get the rest (by audits done).
    pub emission_providers_bps: u32,
    /// The block time the audit deadlines assume, in milliseconds: the shortest the chain runs
    /// at (the nodes' minimum block time), so a deadline in blocks is never shorter in wall time
    /// than the re-run it allows for.
    pub audit_block_ms: u64,
    /// The time an audit's seal deadline grants its re-run, over the time the re-run takes at
    /// the drawn verifier's declared speed, in basis points (at least 10^4): room for the
    /// verifier's other work and a restart.
    pub audit_time_margin_bps: u32,
    /// The most blocks an audit's re-run is granted. A verifier whose declared speed needs
    /// more for an audit is not drawn for it, so a slow (or lying-slow) verifier cannot hold a
    /// settlement longer than this plus the response time.
    pub audit_rerun_blocks_max: u64,
}

impl Default for AuditParams {
    fn default() -> Self {
        AuditParams {
            seg_fuel: 1 << 26,
            light_audit_ppm: 100_000,
            full_audit_ppm: 10_000,
            light_audit_segments: 4,
            dissection_arity: crate::dissection::ARITY_DEFAULT,
            response_blocks: 20,
            slash_multiple: 13,
            winner_share_bps: 5_000,
            canary_ppm: 20_000,
            verifier_slash_multiple: 75,
            verifier_bond_min: 100 * plexus_types::PLX,
            audit_fee_bps: 200,
            payment_burn_bps: 1_000,
            emission_per_epoch: 1_000 * plexus_types::PLX,
            emission_halving_epochs: 2_000,
            emission_validators_bps: 4_000,
            emission_providers_bps: 4_000,
            audit_block_ms: 250,
            audit_time_margin_bps: 30_000,
            audit_rerun_blocks_max: 20_000,
        }
    }
}

impl AuditParams {
    /// The probability (ppm) that a job is audited at all: `p_L + p_F`.
    pub fn audit_ppm(&self) -> u32 {
        self.light_audit_ppm.saturating_add(self.full_audit_ppm)
    }

    /// Whether the parameters are usable: probabilities and shares within their denominators,
    /// a dissection arity the game accepts, a non-zero segment size and response time.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.seg_fuel == 0 {
            return Err("seg_fuel must be positive");
        }
        if self.audit_ppm() > PPM || self.canary_ppm > PPM {
            return Err("audit and canary rates must be at most 10^6 ppm together");
        }
        if !(2..=plexus_types::dissection::ARITY_MAX).contains(&self.dissection_arity) {
            return Err("dissection_arity out of range");
        }
        if self.light_audit_segments > LIGHT_AUDIT_SEGMENTS_MAX {
            return Err("light_audit_segments over its limit");
        }
        if self.audit_block_ms == 0 || self.audit_block_ms > AUDIT_BLOCK_MS_MAX {
            return Err("audit_block_ms must be in 1..=3_600_000");
        }
        if self.audit_time_margin_bps < BPS {
            return Err("audit_time_margin_bps must be at least 10^4 (the re-run's own time)");
        }
        if self.audit_rerun_blocks_max == 0 {
            return Err("audit_rerun_blocks_max must be positive");
        }
        if self.response_blocks == 0 {
            return Err("response_blocks must be positive");
        }
        if self.winner_share_bps > BPS
            || self.audit_fee_bps.saturating_add(self.payment_burn_bps) > BPS
            || self
                .emission_validators_bps
                .saturating_add(self.emission_providers_bps)
                > BPS
        {
            return Err("a basis-point share is over 10^4");
        }
        Ok(())
    }
}

impl Write for AuditParams {
    fn write(&self, buf: &mut impl BufMut) {
        self.seg_fuel.write(buf);
        self.light_audit_ppm.write(buf);
        self.full_audit_ppm.write(buf);
        self.light_audit_segments.write(buf);
        self.dissection_arity.write(buf);
        self.response_blocks.write(buf);
        self.slash_multiple.write(buf);
        self.winner_share_bps.write(buf);
        self.canary_ppm.write(buf);
        self.verifier_slash_multiple.write(buf);
        self.verifier_bond_min.write(buf);
        self.audit_fee_bps.write(buf);
        self.payment_burn_bps.write(buf);
        self.emission_per_epoch.write(buf);
        self.emission_halving_epochs.write(buf);
        self.emission_validators_bps.write(buf);
        self.emission_providers_bps.write(buf);
        self.audit_block_ms.write(buf);
        self.audit_time_margin_bps.write(buf);
        self.audit_rerun_blocks_max.write(buf);
    }
}

impl EncodeSize for AuditParams {
    fn encode_size(&self) -> usize {
        self.seg_fuel.encode_size()
            + self.light_audit_ppm.encode_size()
            + self.full_audit_ppm.encode_size()
            + self.light_audit_segments.encode_size()
            + self.dissection_arity.encode_size()
            + self.response_blocks.encode_size()
            + self.slash_multiple.encode_size()
            + self.winner_share_bps.encode_size()
            + self.canary_ppm.encode_size()
            + self.verifier_slash_multiple.encode_size()
            + self.verifier_bond_min.encode_size()
            + self.audit_fee_bps.encode_size()
            + self.payment_burn_bps.encode_size()
            + self.emission_per_epoch.encode_size()
            + self.emission_halving_epochs.encode_size()
            + self.emission_validators_bps.encode_size()
            + self.emission_providers_bps.encode_size()
            + self.audit_block_ms.encode_size()
            + self.audit_time_margin_bps.encode_size()
            + self.audit_rerun_blocks_max.encode_size()
    }
}

impl Read for AuditParams {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(AuditParams {
            seg_fuel: u64::read(buf)?,
            light_audit_ppm: u32::read(buf)?,
            full_audit_ppm: u32::read(buf)?,
            light_audit_segments: u32::read(buf)?,
            dissection_arity: u32::read(buf)?,
            response_blocks: u64::read(buf)?,
            slash_multiple: u32::read(buf)?,
            winner_share_bps: u32::read(buf)?,
            canary_ppm: u32::read(buf)?,
            verifier_slash_multiple: u32::read(buf)?,
            verifier_bond_min: u128::read(buf)?,
            audit_fee_bps: u32::read(buf)?,
            payment_burn_bps: u32::read(buf)?,
            emission_per_epoch: u128::read(buf)?,
            emission_halving_epochs: u64::read(buf)?,
            emission_validators_bps: u32::read(buf)?,
            emission_providers_bps: u32::read(buf)?,
            audit_block_ms: u64::read(buf)?,
            audit_time_margin_bps: u32::read(buf)?,
            audit_rerun_blocks_max: u64::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::codec::{DecodeExt, Encode};

    #[test]
    fn defaults_are_usable_and_round_trip() {
        let params = AuditParams::default();
        params.check().unwrap();
        let bytes = params.encode();
        assert_eq!(bytes.len(), params.encode_size());
        assert_eq!(AuditParams::decode(bytes).unwrap(), params);
    }

    #[test]
    fn the_default_slash_covers_faking_a_whole_job() {
        // S >= 1.5 R (1/p - 1) with p = p_L + p_F, in integers: 2 S p >= 3 R (PPM - p).
        let params = AuditParams::default();
        let p = u64::from(params.audit_ppm());
        let s = u64::from(params.slash_multiple);
        assert!(2 * s * p >= 3 * (u64::from(PPM) - p));
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        let mut params = AuditParams {
            light_audit_ppm: PPM,
            ..AuditParams::default()
        };
        assert!(params.check().is_err());
        params = AuditParams {
            dissection_arity: 1,
            ..AuditParams::default()
        };
        assert!(params.check().is_err());
        params = AuditParams {
            emission_providers_bps: 7_000,
            ..AuditParams::default()
        };
        assert!(params.check().is_err());
        for params in [
            AuditParams {
                audit_block_ms: 0,
                ..AuditParams::default()
            },
            AuditParams {
                audit_block_ms: AUDIT_BLOCK_MS_MAX + 1,
                ..AuditParams::default()
            },
            AuditParams {
                audit_time_margin_bps: BPS - 1,
                ..AuditParams::default()
            },
            AuditParams {
                audit_rerun_blocks_max: 0,
                ..AuditParams::default()
            },
        ] {
            assert!(params.check().is_err(), "{params:?}");
        }
        params = AuditParams {
            payment_burn_bps: 9_900,
            ..AuditParams::default()
        };
        assert!(params.check().is_err());
    }
}
