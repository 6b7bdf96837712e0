//! The beacon draws of an audit and its sizing (FUELTRACE.md, "Audits" and "Lazy verifiers").
//!
//! Every draw is a function of the block's beacon seed (a threshold signature over a height after
//! the commitment's, so unknown when the provider committed) and the job's id:
//! `SHA-256(domain | seed | job | counter)`, its first 16 bytes modulo the bound ([`draw`]). Each
//! purpose has its own domain, so no two draws are correlated: `plexus/audit` (the audit class),
//! `plexus/audit-segment` (a light audit's segments), `plexus/canary` (whether a canary is
//! posted) and `plexus/verifier` (who re-runs, drawn by the chain over its verifier registry).
//!
//! Sizing: an audit re-runs at most [`rerun_fuel`]; the drawn verifier's seal is due
//! [`seal_blocks`] after the draw, its re-run at its declared speed ([`rerun_blocks`]) plus the
//! response time. A verifier too slow for the cap `audit_rerun_blocks_max` is not drawn.

use crate::params::{AuditParams, BPS, PPM};
use bytes::BufMut;
use plexus_types::codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};
use plexus_types::job::{AuditClass, Commitment};
use plexus_types::{ContentHash, Digest, hash};
use std::collections::BTreeSet;

/// What an audit re-runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditKind {
    /// The whole job.
    Full,
    /// These segments (ascending; the last segment always among them).
    Light { segments: Vec<u64> },
}

/// A uniform draw in `0..bound` from `SHA-256(domain | seed | job | counter)` (bound > 0).
pub fn draw(domain: &[u8], seed: &Digest, job: &Digest, counter: u64, bound: u128) -> u128 {
    let digest = hash(&[domain, seed.as_ref(), job.as_ref(), &counter.to_be_bytes()]);
    let mut wide = [0u8; 16];
    wide.copy_from_slice(&digest.as_ref()[..16]);
    // The modulo bias is below 2^-64 for every bound the chain uses (at most 2^64).
    u128::from_be_bytes(wide) % bound
}

/// The chain's lottery walk: the index of the first weight whose running (saturating) sum
/// exceeds `target`, for a `target` drawn below the weights' total; `None` past the end. Every
/// weighted draw of the chain (a job's provider, an audit's verifier, a shard's holder) walks
/// its candidates, in their fixed order, through this one function.
pub fn weighted_pick(weights: impl IntoIterator<Item = u128>, target: u128) -> Option<usize> {
    let mut cumulative = 0u128;
    for (index, weight) in weights.into_iter().enumerate() {
        cumulative = cumulative.saturating_add(weight);
        if cumulative > target {
            return Some(index);
        }
    }
    None
}

/// The light audit's segments: `k` distinct among `0..segments - 1` plus the last, ascending.
pub fn light_segments(seed: &Digest, job: &Digest, segments: u64, k: u32) -> Vec<u64> {
    let last = segments - 1;
    let mut chosen = BTreeSet::from([last]);
    if last <= u64::from(k) {
        chosen.extend(0..last);
    } else {
        let mut counter = 0u64;
        while chosen.len() <= k as usize {
            let index = draw(
                b"plexus/audit-segment",
                seed,
                job,
                counter,
                u128::from(last),
            );
            chosen.insert(index as u64);
            counter += 1;
        }
    }
    chosen.into_iter().collect()
}

/// The audit a job of `segments` segments gets from the block seed: a full audit when the
/// consumer `bought` one, else a full audit with probability `p_F`, a light one with `p_L`, or
/// none.
pub fn audit_kind(
    params: &AuditParams,
    seed: &Digest,
    job: &Digest,
    bought: AuditClass,
    segments: u64,
) -> Option<AuditKind> {
    if bought == AuditClass::Full {
        return Some(AuditKind::Full);
    }
    let roll = draw(b"plexus/audit", seed, job, 0, u128::from(PPM)) as u32;
    if roll < params.full_audit_ppm {
        Some(AuditKind::Full)
    } else if roll < params.audit_ppm() {
        Some(AuditKind::Light {
            segments: light_segments(seed, job, segments, params.light_audit_segments),
        })
    } else {
        None
    }
}

/// The verifier draw number `counter` of audit `id` among verifiers whose draw weights sum to
/// `total` (> 0): the target the chain walks its cumulative weights to.
pub fn verifier_target(seed: &Digest, id: &Digest, counter: u64, total: u128) -> u128 {
    draw(b"plexus/verifier", seed, id, counter, total)
}

/// Whether the block seed posts a canary copying the just-committed job `of` (probability
/// `canary_ppm`, its own draw).
pub fn canary_drawn(params: &AuditParams, seed: &Digest, of: &Digest) -> bool {
    draw(b"plexus/canary", seed, of, 0, u128::from(PPM)) < u128::from(params.canary_ppm)
}

/// The id of the canary copying job `of`: distinct from every transaction hash (its domain).
pub fn canary_id(of: &Digest) -> Digest {
    hash(&[b"plexus/canary".as_slice(), of.as_ref()])
}

/// The known-wrong commitment a canary copying job `of` shows its verifier: the job's own with an
/// output hash no run produces (a preimage of a domain-separated hash).
pub fn canary_claim(of: &Digest, commitment: &Commitment) -> Commitment {
    let mut claim = commitment.clone();
    // Deliberately a SHA-256 value in a BLAKE3 field: finding output bytes whose BLAKE3 is this
    // SHA-256 digest is a preimage attack, so no run can match it.
    let wrong = hash(&[b"plexus/canary-output".as_slice(), of.as_ref()]);
    claim.output_hash = ContentHash::from_bytes(wrong.0);
    claim
}

/// The fuel an audit of `kind` re-runs at most, for a job of `max_fuel`: the whole job for a
/// full audit (`max_fuel`, which the provider cannot shrink by claiming less fuel), the drawn
/// segments for a light one. With the job's `total_fuel` in place of `max_fuel` it is the fuel a
/// verifier is paid for.
pub fn rerun_fuel(params: &AuditParams, kind: &AuditKind, max_fuel: u64) -> u64 {
    match kind {
        AuditKind::Full => max_fuel,
        AuditKind::Light { segments } => params
            .seg_fuel
            .saturating_mul(segments.len() as u64)
            .min(max_fuel),
    }
}

/// The blocks an audit's seal deadline grants for re-running `fuel` at `fuel_per_second`: the
/// re-run's time times `audit_time_margin_bps`, over `audit_block_ms`, each step rounded up.
/// `None` when that is over `audit_rerun_blocks_max`: a verifier that slow is not drawn for it.
pub fn rerun_blocks(params: &AuditParams, fuel: u64, fuel_per_second: u64) -> Option<u64> {
    // At most 2^64 * 10^3 * 2^32 < 2^107: no overflow.
    let granted = u128::from(fuel) * 1_000 * u128::from(params.audit_time_margin_bps);
    let ms = granted.div_ceil(u128::from(fuel_per_second.max(1)) * u128::from(BPS));
    let blocks = ms.div_ceil(u128::from(params.audit_block_ms.max(1)));
    u64::try_from(blocks)
        .ok()
        .filter(|blocks| *blocks <= params.audit_rerun_blocks_max)
}

/// The blocks from its draw to an audit's seal deadline: `response_blocks` plus
/// [`rerun_blocks`]; `None` when the verifier is too slow to be drawn for it.
pub fn seal_blocks(params: &AuditParams, fuel: u64, fuel_per_second: u64) -> Option<u64> {
    rerun_blocks(params, fuel, fuel_per_second)
        .map(|blocks| blocks.saturating_add(params.response_blocks))
}

impl Write for AuditKind {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            AuditKind::Full => 0u8.write(buf),
            AuditKind::Light { segments } => {
                1u8.write(buf);
                segments.write(buf);
            }
        }
    }
}

impl EncodeSize for AuditKind {
    fn encode_size(&self) -> usize {
        1 + match self {
            AuditKind::Full => 0,
            AuditKind::Light { segments } => segments.encode_size(),
        }
    }
}

impl Read for AuditKind {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => Ok(AuditKind::Full),
            // k + 1 segments, k bounded by the parameter; 2^16 covers every trace.
            1 => Ok(AuditKind::Light {
                segments: Read::read_cfg(buf, &((..=1usize << 16).into(), ()))?,
            }),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::codec::{DecodeExt, Encode};

    fn digest(label: &str) -> Digest {
        hash(&[label.as_bytes()])
    }

    #[test]
    fn light_segments_are_distinct_ascending_and_end_with_the_last() {
        let (seed, job) = (digest("seed"), digest("job"));
        for (segments, k) in [(1u64, 4u32), (3, 4), (5, 4), (6, 4), (64, 4), (4_096, 16)] {
            let chosen = light_segments(&seed, &job, segments, k);
            assert_eq!(chosen.last(), Some(&(segments - 1)), "{segments} {k}");
            assert!(chosen.windows(2).all(|w| w[0] < w[1]), "{chosen:?}");
            let expected = (u64::from(k) + 1).min(segments);
            assert_eq!(chosen.len() as u64, expected, "{segments} {k}");
        }
        // The same seed and job give the same segments; another seed others.
        assert_eq!(
            light_segments(&seed, &job, 4_096, 4),
            light_segments(&seed, &job, 4_096, 4)
        );
        assert_ne!(
            light_segments(&seed, &job, 4_096, 4),
            light_segments(&digest("other"), &job, 4_096, 4)
        );
    }

    #[test]
    fn a_bought_full_audit_is_always_drawn_and_rates_are_followed() {
        let never = AuditParams {
            light_audit_ppm: 0,
            full_audit_ppm: 0,
            ..AuditParams::default()
        };
        let job = digest("job");
        for i in 0..50u32 {
            let seed = digest(&i.to_string());
            assert_eq!(
                audit_kind(&never, &seed, &job, AuditClass::Full, 8),
                Some(AuditKind::Full)
            );
            assert_eq!(
                audit_kind(&never, &seed, &job, AuditClass::Standard, 8),
                None
            );
        }
        let always_light = AuditParams {
            light_audit_ppm: PPM,
            full_audit_ppm: 0,
            ..AuditParams::default()
        };
        let kind = audit_kind(&always_light, &digest("s"), &job, AuditClass::Standard, 8);
        assert!(matches!(kind, Some(AuditKind::Light { segments }) if segments.len() == 5));
    }

    #[test]
    fn canaries_have_their_own_ids_and_a_wrong_claim() {
        let job = digest("job");
        assert_ne!(canary_id(&job), job);
        assert_ne!(canary_id(&job), canary_id(&digest("other")));
        let commitment = Commitment {
            output_hash: ContentHash::of(b"output"),
            total_fuel: 7,
            segments: 1,
            trace_root: ContentHash::of(b"trace"),
            failed: false,
        };
        let claim = canary_claim(&job, &commitment);
        assert_ne!(claim.output_hash, commitment.output_hash);
        assert_eq!(claim.total_fuel, commitment.total_fuel);
        let none = AuditParams {
            canary_ppm: 0,
            ..AuditParams::default()
        };
        let all = AuditParams {
            canary_ppm: PPM,
            ..AuditParams::default()
        };
        assert!(!canary_drawn(&none, &digest("s"), &job));
        assert!(canary_drawn(&all, &digest("s"), &job));
    }

    #[test]
    fn rerun_fuel_is_the_job_or_the_drawn_segments() {
        let params = AuditParams::default();
        assert_eq!(rerun_fuel(&params, &AuditKind::Full, 1_000), 1_000);
        let light = AuditKind::Light {
            segments: vec![1, 3],
        };
        assert_eq!(rerun_fuel(&params, &light, u64::MAX), 2 * params.seg_fuel);
        assert_eq!(rerun_fuel(&params, &light, 5), 5);
    }

    #[test]
    fn audit_kinds_round_trip() {
        for kind in [
            AuditKind::Full,
            AuditKind::Light {
                segments: vec![0, 2, 9],
            },
        ] {
            let bytes = kind.encode();
            assert_eq!(bytes.len(), kind.encode_size());
            assert_eq!(AuditKind::decode(bytes).unwrap(), kind);
        }
    }

    #[test]
    fn the_default_deadline_cap_fits_the_largest_job_at_a_modest_speed() {
        let params = AuditParams::default();
        let fuel = plexus_types::limits::JOB_FUEL_MAX;
        // 10^12 fuel at 6 x 10^8 fuel/s: 1_667 s, times 3, in 250 ms blocks.
        assert_eq!(rerun_blocks(&params, fuel, 600_000_000), Some(20_000));
        assert_eq!(rerun_blocks(&params, fuel, 599_000_000), None);
        // Nothing to re-run still gets no blocks; one fuel gets one block.
        assert_eq!(rerun_blocks(&params, 0, 1), Some(0));
        assert_eq!(rerun_blocks(&params, 1, u64::MAX), Some(1));
        // The extremes of every input stay inside the arithmetic.
        assert_eq!(rerun_blocks(&params, u64::MAX, 1), None);
    }
}
