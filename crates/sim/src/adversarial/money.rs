//! The model's money, by the chain's own rules: the split of a settled payment (burned, to the
//! audit pool, the provider's rest), a lost dispute's slash and the winner's share of it, a missed
//! deadline's burn; all integer, every division rounding down as the chain's does.

use super::config::AdversarialConfig;
use plexus_fueltrace::money::{bps_floor, split_payment};
use plexus_fueltrace::params::PPM;
use plexus_types::Amount;

/// What a provider paid `paid` keeps, and the audit fee that goes to the pool:
/// `(kept, audit_fee)`, by the chain's own split (`plexus_fueltrace::money::split_payment`).
pub(super) fn provider_keeps(cfg: &AdversarialConfig, paid: Amount) -> (Amount, Amount) {
    let split = split_payment(paid, &cfg.params.audit);
    (split.provider, split.audit_fee)
}

/// `floor(amount * ppm / 10^6)`: the model's own shares (costs, bribes), not the chain's.
pub(super) fn share_ppm(amount: Amount, ppm: u32) -> Amount {
    amount * u128::from(ppm) / u128::from(PPM)
}

/// A lost dispute's slash: `slash_multiple * V` (the bond rule lets it be taken whole).
pub(super) fn slash(cfg: &AdversarialConfig, value: Amount) -> Amount {
    value * u128::from(cfg.params.audit.slash_multiple)
}

/// The winner's share of a slash, `winner_share_bps` of it, as the chain's ruling pays it.
pub(super) fn winner_share(cfg: &AdversarialConfig, slashed: Amount) -> Amount {
    bps_floor(slashed, cfg.params.audit.winner_share_bps)
}

/// A missed deadline's burn, as the chain's expiry takes it: the bond lock
/// `bond_lock_multiple * V` times `deadline_slash_bps / 10^4`, rounded down.
pub(super) fn deadline_slash(cfg: &AdversarialConfig, value: Amount) -> Amount {
    let lock = value * u128::from(cfg.params.bond_lock_multiple);
    bps_floor(lock, cfg.params.deadline_slash_bps)
}

/// An amount as a signed profit term (`check` bounds every amount far below `i128::MAX`).
pub(super) fn signed(amount: Amount) -> i128 {
    i128::try_from(amount).unwrap_or(i128::MAX)
}

/// `numerator / denominator`, 0 for an empty denominator (the report's means).
pub(super) fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_fueltrace::params::{AuditParams, BPS};

    fn parts(paid: Amount, params: &AuditParams) -> (Amount, Amount, Amount) {
        let split = split_payment(paid, params);
        (split.provider, split.burned, split.audit_fee)
    }

    /// The model's split is the chain's at its default parameters (10% burned, 2% to the
    /// pool) and stays within the payment whatever the parameters.
    #[test]
    fn the_split_is_the_chains() {
        let params = AuditParams::default();
        assert_eq!(parts(1_000_000, &params), (880_000, 100_000, 20_000));
        // Rounding down on both, the dust to the provider.
        assert_eq!(parts(99, &params), (89, 9, 1));
        let over = AuditParams {
            payment_burn_bps: 9_000,
            audit_fee_bps: 5_000,
            ..params
        };
        assert_eq!(parts(1_000, &over), (0, 900, 100));
        let whole = AuditParams {
            payment_burn_bps: BPS,
            ..AuditParams::default()
        };
        assert_eq!(parts(Amount::MAX, &whole), (0, Amount::MAX, 0));
    }
}
