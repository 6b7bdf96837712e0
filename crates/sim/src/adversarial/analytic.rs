//! The detection rates FuelTrace's formulas give, to hold the measured ones against.

use super::config::{AdversarialConfig, ProviderKind};
use super::draws::Job;
use plexus_state::audit::PPM;

/// The exact probability that this job is caught, from the formulas (not from the draws):
/// with `h` the chance the drawn verifier checks this provider (the honest share, plus the
/// colluding share when the provider is not a partner), `m = min(k + 1, n)`:
///
/// - whole-job fakes (`lazy_all`) and the bill (`bill_inflator`, last segment): `h (p_L + p_F)`;
/// - `lazy_fraction`: `h (p_F (1 - (1-phi)^n) + p_L (1 - (1-phi)^m))`;
/// - `targeted_corrupter`: `h (p_F + p_L m / n)`;
/// - `withholder`: `h (p_L + p_F (1 - (1-phi)^n))` (every light audit needs its pages);
/// - `offline`: 1 (the deadline); `honest`: 0.
pub fn analytic_detection_for(
    cfg: &AdversarialConfig,
    kind: ProviderKind,
    n: u64,
    partnered: bool,
) -> f64 {
    let audit = &cfg.params.audit;
    let ppm = f64::from(PPM);
    let colluding = PPM
        .saturating_sub(cfg.verifier_honest_ppm)
        .saturating_sub(cfg.verifier_lazy_ppm);
    let checking = cfg.verifier_honest_ppm + if partnered { 0 } else { colluding };
    let h = f64::from(checking) / ppm;
    let (light, full) = (
        f64::from(audit.light_audit_ppm) / ppm,
        f64::from(audit.full_audit_ppm) / ppm,
    );
    let m = n.min(u64::from(audit.light_audit_segments) + 1);
    let clean = 1.0 - f64::from(cfg.lazy_fraction_ppm) / ppm;
    // n <= TRACE_SEGMENTS_MAX < 2^31, so the exponents fit.
    let any_faked = |segments: u64| 1.0 - clean.powi(segments as i32);
    match kind {
        ProviderKind::Honest => 0.0,
        ProviderKind::Offline => 1.0,
        ProviderKind::LazyAll | ProviderKind::BillInflator => h * (light + full),
        ProviderKind::LazyFraction => h * (full * any_faked(n) + light * any_faked(m)),
        ProviderKind::TargetedCorrupter => h * (full + light * m as f64 / n as f64),
        ProviderKind::Withholder => h * (light + full * any_faked(n)),
    }
}

pub(super) fn analytic_detection(cfg: &AdversarialConfig, kind: ProviderKind, job: &Job) -> f64 {
    analytic_detection_for(cfg, kind, job.segments, job.partnered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_detection_table() {
        let cfg = AdversarialConfig::new(0, 1);
        // h = 0.95 for a provider without colluding partners, 0.90 with them.
        let check = |kind, n, partnered, expected: f64| {
            let got = analytic_detection_for(&cfg, kind, n, partnered);
            assert!(
                (got - expected).abs() < 1e-12,
                "{kind:?} n {n} partnered {partnered}: {got} != {expected}"
            );
        };
        check(ProviderKind::Honest, 100, false, 0.0);
        check(ProviderKind::Offline, 100, true, 1.0);
        check(ProviderKind::LazyAll, 100, false, 0.95 * 0.11);
        check(ProviderKind::LazyAll, 1, true, 0.90 * 0.11);
        check(ProviderKind::BillInflator, 4_096, false, 0.95 * 0.11);
        check(
            ProviderKind::TargetedCorrupter,
            100,
            false,
            0.95 * (0.01 + 0.1 * 0.05),
        );
        check(ProviderKind::TargetedCorrupter, 5, false, 0.95 * 0.11);
        check(
            ProviderKind::TargetedCorrupter,
            6,
            true,
            0.90 * (0.01 + 0.1 * 5.0 / 6.0),
        );
        check(ProviderKind::LazyFraction, 1, false, 0.95 * 0.11 * 0.1);
        let miss5 = 0.9f64.powi(5);
        let miss100 = 0.9f64.powi(100);
        check(
            ProviderKind::LazyFraction,
            100,
            false,
            0.95 * (0.01 * (1.0 - miss100) + 0.1 * (1.0 - miss5)),
        );
        check(
            ProviderKind::Withholder,
            100,
            true,
            0.90 * (0.1 + 0.01 * (1.0 - miss100)),
        );
    }
}
