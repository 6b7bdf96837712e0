//! The model's draws, every one from the job's own ChaCha8 stream: the job (segments, price,
//! value, cost), the provider's conduct (its faulty segments and its claim), the chain's audit
//! draw and the verifier drawn for it, and which segment a checking verifier names.

use super::config::{AdversarialConfig, ProviderKind, VerifierKind, max_fuel};
use super::money::share_ppm;
use plexus_state::audit::PPM;
use plexus_types::Amount;
use plexus_types::job::{fuel_cost_ceil, fuel_cost_floor};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// One drawn job, before the provider's conduct.
pub(super) struct Job {
    pub(super) segments: u64,
    pub(super) fuel: u64,
    /// `R`: the price of the real fuel at the ask.
    pub(super) price: Amount,
    /// `V`: the value of `max_fuel` at the ask (the slash and bond-lock base).
    pub(super) value: Amount,
    /// `C`: an honest run's cost.
    pub(super) cost: Amount,
    /// Whether the provider is a colluding verifier's partner.
    pub(super) partnered: bool,
}

/// The audit the chain draws for a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Audit {
    None,
    /// The re-run segments, sorted.
    Light(Vec<u64>),
    Full,
}

/// Which segments a provider's trace gets wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Faults {
    All,
    /// Sorted, distinct.
    Listed(Vec<u64>),
}

impl Faults {
    pub(super) fn none() -> Self {
        Faults::Listed(Vec::new())
    }

    pub(super) fn contains(&self, segment: u64) -> bool {
        match self {
            Faults::All => true,
            Faults::Listed(list) => list.binary_search(&segment).is_ok(),
        }
    }

    pub(super) fn first(&self) -> Option<u64> {
        match self {
            Faults::All => Some(0),
            Faults::Listed(list) => list.first().copied(),
        }
    }
}

/// What the provider does with one job.
pub(super) struct Conduct {
    pub(super) faults: Faults,
    /// The share of `C` it does not spend.
    pub(super) saved: Amount,
    /// The fuel it commits to (and bills).
    pub(super) claimed_fuel: u64,
    /// Refuses to serve pre-state pages.
    pub(super) withholds: bool,
    /// Paid from outside the protocol, caught or not.
    pub(super) external_gain: Amount,
}

/// The job's own stream: ChaCha8 keyed by `(seed, kind, job)` and a domain tag.
pub(super) fn stream(seed: u64, kind: ProviderKind, job: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&kind.index().to_le_bytes());
    key[16..24].copy_from_slice(&job.to_le_bytes());
    key[24..].copy_from_slice(b"plx/adv\0");
    ChaCha8Rng::from_seed(key)
}

/// Uniform in `[0, 10^6)`: compared with a `_ppm` rate, `draw < rate` has probability `rate / 10^6`.
pub(super) fn draw_ppm(rng: &mut ChaCha8Rng) -> u32 {
    rng.random_range(0..PPM)
}

/// A segment count in `1..=max`, log-uniform by octaves: the octave `b` uniformly among
/// `0..=ceil(log2 max)`, then uniformly in `{1}` for `b = 0`, else `2^(b-1)+1 ..= min(2^b, max)`.
pub(super) fn draw_segments(rng: &mut ChaCha8Rng, max: u64) -> u64 {
    let octaves = 1 + u64::from(u64::BITS - max.saturating_sub(1).leading_zeros());
    let octave = rng.random_range(0..octaves);
    if octave == 0 {
        return 1;
    }
    let lo = (1u64 << (octave - 1)) + 1;
    let hi = (1u64 << octave).min(max);
    rng.random_range(lo..=hi)
}

pub(super) fn draw_job(cfg: &AdversarialConfig, rng: &mut ChaCha8Rng) -> Job {
    let segments = draw_segments(rng, cfg.segments_max);
    // `check` bounds segments * seg_fuel * headroom by JOB_FUEL_MAX and the ask by ASK_MAX, so
    // none of these products overflows and the conversions cannot fail.
    let fuel = segments * cfg.params.audit.seg_fuel;
    let price = fuel_cost_floor(fuel, cfg.ask_per_mfuel).unwrap_or(0);
    let value = fuel_cost_ceil(max_fuel(cfg, fuel), cfg.ask_per_mfuel).unwrap_or(0);
    let partnered = rng.random_range(0..cfg.providers_per_kind) < cfg.colluded_providers;
    Job {
        segments,
        fuel,
        price,
        value,
        cost: share_ppm(price, cfg.honest_cost_ppm),
        partnered,
    }
}

pub(super) fn draw_conduct(
    cfg: &AdversarialConfig,
    kind: ProviderKind,
    job: &Job,
    rng: &mut ChaCha8Rng,
) -> Conduct {
    let n = job.segments;
    let mut conduct = Conduct {
        faults: Faults::none(),
        saved: 0,
        claimed_fuel: job.fuel,
        withholds: kind == ProviderKind::Withholder,
        external_gain: 0,
    };
    match kind {
        ProviderKind::Honest | ProviderKind::Offline => {}
        ProviderKind::LazyAll => {
            conduct.faults = Faults::All;
            conduct.saved = job.cost;
        }
        ProviderKind::LazyFraction | ProviderKind::Withholder => {
            let faked: Vec<u64> = (0..n)
                .filter(|_| draw_ppm(rng) < cfg.lazy_fraction_ppm)
                .collect();
            // Saves the faked share of the cost, rounded down.
            conduct.saved = job.cost * u128::from(faked.len() as u64) / u128::from(n);
            conduct.faults = Faults::Listed(faked);
        }
        ProviderKind::BillInflator => {
            conduct.faults = Faults::Listed(vec![n - 1]);
            let extra = u128::from(job.fuel) * u128::from(cfg.inflation_ppm) / u128::from(PPM);
            conduct.claimed_fuel = job.fuel + u64::try_from(extra).unwrap_or(0);
        }
        ProviderKind::TargetedCorrupter => {
            conduct.faults = Faults::Listed(vec![rng.random_range(0..n)]);
            conduct.external_gain = share_ppm(job.price, cfg.bribe_ppm);
        }
    }
    conduct
}

/// The chain's audit draw for a job of `n` segments.
pub(super) fn draw_audit(cfg: &AdversarialConfig, n: u64, rng: &mut ChaCha8Rng) -> Audit {
    let audit = &cfg.params.audit;
    let u = draw_ppm(rng);
    if u < audit.full_audit_ppm {
        Audit::Full
    } else if u < audit.full_audit_ppm + audit.light_audit_ppm {
        Audit::Light(draw_light(rng, n, u64::from(audit.light_audit_segments)))
    } else {
        Audit::None
    }
}

/// `k` distinct segments uniformly among `0..n-1` (Floyd's algorithm) plus the last, sorted;
/// every segment when `n <= k + 1`.
pub(super) fn draw_light(rng: &mut ChaCha8Rng, n: u64, k: u64) -> Vec<u64> {
    if n <= k + 1 {
        return (0..n).collect();
    }
    let pool = n - 1;
    let mut chosen = Vec::with_capacity(k as usize + 1);
    for j in pool - k..pool {
        let pick = rng.random_range(0..=j);
        chosen.push(if chosen.contains(&pick) { j } else { pick });
    }
    chosen.push(n - 1);
    chosen.sort_unstable();
    chosen
}

pub(super) fn draw_verifier(cfg: &AdversarialConfig, rng: &mut ChaCha8Rng) -> VerifierKind {
    let u = draw_ppm(rng);
    if u < cfg.verifier_honest_ppm {
        VerifierKind::Honest
    } else if u < cfg.verifier_honest_ppm + cfg.verifier_lazy_ppm {
        VerifierKind::Lazy
    } else {
        VerifierKind::Colluding
    }
}

/// The segment a checking verifier's verdict names, if the audit catches the job: a light
/// audit names the first re-run segment that fails (or, for a withholder, the first it cannot
/// fetch); a full audit's dissection converges on the first faulty segment.
pub(super) fn named_segment(audit: &Audit, conduct: &Conduct) -> Option<u64> {
    match audit {
        Audit::None => None,
        Audit::Light(segments) if conduct.withholds => segments.first().copied(),
        Audit::Light(segments) => segments
            .iter()
            .copied()
            .find(|&s| conduct.faults.contains(s)),
        Audit::Full => conduct.faults.first(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_counts_are_log_uniform_over_octaves() {
        let seed = 5;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let draws = 26_000;
        let mut octaves = [0u32; 13];
        for _ in 0..draws {
            let n = draw_segments(&mut rng, 4_096);
            assert!((1..=4_096).contains(&n), "seed {seed}: {n}");
            octaves[(u64::BITS - (n - 1).leading_zeros()) as usize] += 1;
        }
        // 2_000 expected per octave; 5 standard deviations is about 220.
        for (octave, count) in octaves.iter().enumerate() {
            assert!(
                count.abs_diff(2_000) < 250,
                "seed {seed}: octave {octave} has {count}"
            );
        }
        assert_eq!(draw_segments(&mut rng, 1), 1);
        for _ in 0..100 {
            assert!((1..=2).contains(&draw_segments(&mut rng, 2)));
            assert!((1..=5_000).contains(&draw_segments(&mut rng, 5_000)));
        }
    }

    #[test]
    fn light_audits_draw_k_distinct_segments_and_the_last() {
        let seed = 6;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for n in [1u64, 2, 5, 6, 7, 10, 4_096] {
            for _ in 0..200 {
                let drawn = draw_light(&mut rng, n, 4);
                assert_eq!(drawn.len() as u64, n.min(5), "seed {seed} n {n}");
                assert!(drawn.windows(2).all(|pair| pair[0] < pair[1]), "{drawn:?}");
                assert_eq!(drawn.last(), Some(&(n - 1)), "seed {seed} n {n}");
            }
        }
        // Each of the 9 segments before the last of a 10-segment job is drawn with
        // probability 4/9: 8_889 of 20_000, with a standard deviation near 70.
        let mut hits = [0u32; 10];
        for _ in 0..20_000 {
            for segment in draw_light(&mut rng, 10, 4) {
                hits[segment as usize] += 1;
            }
        }
        assert_eq!(hits[9], 20_000);
        for (segment, count) in hits[..9].iter().enumerate() {
            assert!(
                count.abs_diff(8_889) < 400,
                "seed {seed}: {segment} drawn {count}"
            );
        }
    }
}
