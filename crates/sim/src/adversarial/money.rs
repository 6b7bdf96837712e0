//! The model's money, by the chain's own rules: the split of a settled payment (burned, to the
//! audit pool, the provider's rest), a lost dispute's slash and the winner's share of it, a missed
//! deadline's burn; all integer, every division rounding down as the chain's does.

use super::config::AdversarialConfig;
use plexus_state::audit::{AuditParams, PPM};
// The chain's basis-point cut: it moves to `plexus_fueltrace::money` (issue 13); this line is
// where the model names it.
use plexus_state::rewards::bps_floor;
use plexus_types::Amount;

/// A settled payment `paid` split as the chain splits it: `(burned, audit_fee)`, with
/// `burned + audit_fee <= paid`; the provider keeps the rest.
///
/// This is `plexus_state::rewards::take_from_payment` without the writes to the `State` it
/// takes (that function is crate-private). The state slice of issue 13 moves the formula into
/// `plexus_fueltrace::money::split_payment(paid, &AuditParams)`; once it lands, this body is
/// that one call.
pub(super) fn split_payment(paid: Amount, params: &AuditParams) -> (Amount, Amount) {
    let burned = bps_floor(paid, params.payment_burn_bps);
    let audit_fee = bps_floor(paid, params.audit_fee_bps).min(paid - burned);
    (burned, audit_fee)
}

/// What a provider paid `paid` keeps, and the audit fee that goes to the pool:
/// `(kept, audit_fee)`.
pub(super) fn provider_keeps(cfg: &AdversarialConfig, paid: Amount) -> (Amount, Amount) {
    let (burned, audit_fee) = split_payment(paid, &cfg.params.audit);
    (paid - burned - audit_fee, audit_fee)
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
    use plexus_state::audit::BPS;

    /// The split is the chain's at its default parameters (10% burned, 2% to the pool) and stays
    /// within the payment whatever the parameters.
    #[test]
    fn the_split_is_the_chains() {
        let params = AuditParams::default();
        assert_eq!(split_payment(1_000_000, &params), (100_000, 20_000));
        // Rounding down on both, the dust to the provider.
        assert_eq!(split_payment(99, &params), (9, 1));
        let over = AuditParams {
            payment_burn_bps: 9_000,
            audit_fee_bps: 5_000,
            ..params
        };
        let (burned, fee) = split_payment(1_000, &over);
        assert_eq!((burned, fee), (900, 100));
        assert!(burned + fee <= 1_000);
        let whole = AuditParams {
            payment_burn_bps: BPS,
            ..AuditParams::default()
        };
        assert_eq!(split_payment(Amount::MAX, &whole), (Amount::MAX, 0));
    }
}
