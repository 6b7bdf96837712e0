//! FuelTrace's money math: integer base units, basis points and pro-rata shares, every division
//! rounding down (FUELTRACE.md, "The economics").
//!
//! - [`bps_floor`] is the one basis-point cut: `floor(amount * bps / 10^4)` without overflow,
//!   `bps` capped at 10^4 so a cut is never more than the amount. The chain uses it for the
//!   payment's burn and audit fee, the winner's share of a dispute's slash, a missed deadline's
//!   slash and an equivocation's slash.
//! - [`split_payment`] splits a settled job's payment between the provider, the burn and the
//!   audit pool: `burned + audit_fee <= paid`, the provider gets the rest, so nothing is created.
//! - [`emission`] is the per-epoch emission on its halving schedule; [`pro_rata`] splits a share
//!   by weights with [`mul_div_floor`] over the full 256-bit product, the dust unpaid.

use crate::params::{AuditParams, BPS};
use plexus_types::Amount;

/// Halvings after which the emission is zero: a `u128` shifted this far has no bits left.
pub const HALVINGS_MAX: u64 = 128;

/// How a settled job's payment `paid` is split: `provider + burned + audit_fee == paid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaymentSplit {
    /// To the provider's balance: what the burn and the fee leave.
    pub provider: Amount,
    /// Leaves the supply: `floor(paid * payment_burn_bps / 10^4)`.
    pub burned: Amount,
    /// Into the audit pool: `floor(paid * audit_fee_bps / 10^4)`, at most what the burn leaves.
    pub audit_fee: Amount,
}

/// Splits a settled job's payment `paid` into the burn, the audit fee and the provider's pay.
pub fn split_payment(paid: Amount, params: &AuditParams) -> PaymentSplit {
    let burned = bps_floor(paid, params.payment_burn_bps);
    // The `min` keeps the split within `paid` even under parameters `check` would refuse.
    let audit_fee = bps_floor(paid, params.audit_fee_bps).min(paid - burned);
    PaymentSplit {
        provider: paid - burned - audit_fee,
        burned,
        audit_fee,
    }
}

/// `E(e)`: the emission of `epoch`, `emission_per_epoch` halved once per
/// `emission_halving_epochs` epochs (never, when that is zero), zero after `HALVINGS_MAX`.
pub fn emission(params: &AuditParams, epoch: u64) -> Amount {
    let halvings = epoch
        .checked_div(params.emission_halving_epochs)
        .unwrap_or(0);
    if halvings >= HALVINGS_MAX {
        0
    } else {
        params.emission_per_epoch >> halvings
    }
}

/// `floor(amount * bps / 10^4)` without overflow (`bps` capped at 10^4, so the result is at most
/// `amount`).
pub fn bps_floor(amount: Amount, bps: u32) -> Amount {
    let bps = u128::from(bps.min(BPS));
    let denominator = u128::from(BPS);
    // amount = q d + r, so amount * bps / d = q bps + r bps / d with q bps exact.
    (amount / denominator) * bps + (amount % denominator) * bps / denominator
}

/// `floor(a * b / d)` over the full 256-bit product; `None` when `d` is zero or the quotient
/// does not fit 128 bits (never when `b <= d`).
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
    if d == 0 {
        return None;
    }
    let (high, low) = widening_mul(a, b);
    if high >= d {
        return None;
    }
    // Schoolbook long division, one bit of `low` at a time; `high < d` keeps the quotient in
    // 128 bits and the running remainder below `2 d`, which `carry` tracks past bit 127.
    let (mut remainder, mut quotient) = (high, 0u128);
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || remainder >= d {
            remainder = remainder.wrapping_sub(d);
            quotient |= 1;
        }
    }
    Some(quotient)
}

/// The 256-bit product of `a` and `b` as (high, low) 128-bit halves.
pub fn widening_mul(a: u128, b: u128) -> (u128, u128) {
    const LOW: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let (ll, lh, hl, hh) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // Each term is below 2^64, so the sum is below 3 * 2^64.
    let middle = (ll >> 64) + (lh & LOW) + (hl & LOW);
    let low = (ll & LOW) | ((middle & LOW) << 64);
    let high = hh + (lh >> 64) + (hl >> 64) + (middle >> 64);
    (high, low)
}

/// Splits `share` among `weights` pro rata, each part `floor(share * w / W)` with `W` the sum
/// of the weights, in the order given; zero parts are left out. The parts sum to at most
/// `share` (the dust, less than one unit per recipient, is not paid). Nothing is paid when `W`
/// is zero or does not fit 128 bits.
pub fn pro_rata<K: Clone>(share: Amount, weights: &[(K, u128)]) -> Vec<(K, Amount)> {
    let Some(sum) = weights
        .iter()
        .try_fold(0u128, |sum, (_, weight)| sum.checked_add(*weight))
    else {
        return Vec::new();
    };
    weights
        .iter()
        .filter_map(|(key, weight)| {
            // weight <= sum, so the quotient fits and is at most `share`.
            let part = mul_div_floor(share, *weight, sum)?;
            (part > 0).then(|| (key.clone(), part))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emission_halves_on_schedule_and_ends() {
        let params = AuditParams {
            emission_per_epoch: 1_000,
            emission_halving_epochs: 10,
            ..AuditParams::default()
        };
        let at = |epoch| emission(&params, epoch);
        assert_eq!(
            (at(0), at(9), at(10), at(19), at(20)),
            (1_000, 1_000, 500, 500, 250)
        );
        // 1000 >> 9 = 1, >> 10 = 0: the schedule ends in integers.
        assert_eq!((at(90), at(100)), (1, 0));
        let huge = AuditParams {
            emission_per_epoch: u128::MAX,
            emission_halving_epochs: 1,
            ..AuditParams::default()
        };
        assert_eq!(emission(&huge, 127), 1);
        assert_eq!(emission(&huge, HALVINGS_MAX), 0);
        assert_eq!(emission(&huge, u64::MAX), 0);
        let flat = AuditParams {
            emission_halving_epochs: 0,
            ..params
        };
        assert_eq!(emission(&flat, u64::MAX), 1_000);
    }

    #[test]
    fn basis_points_round_down_without_overflow() {
        assert_eq!(bps_floor(999, 1_000), 99);
        assert_eq!(bps_floor(10_000, 200), 200);
        assert_eq!(bps_floor(u128::MAX, BPS), u128::MAX);
        assert_eq!(bps_floor(u128::MAX, 20_000), u128::MAX);
        assert_eq!(bps_floor(u128::MAX, 5_000), u128::MAX / 2);
        for amount in [0u128, 1, 9_999, 10_001, 123_456_789] {
            for bps in [0u32, 1, 200, 1_000, 9_999] {
                assert_eq!(
                    bps_floor(amount, bps),
                    amount * u128::from(bps) / 10_000,
                    "{amount} {bps}"
                );
            }
        }
    }

    #[test]
    fn mul_div_is_exact_over_the_wide_product() {
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(u128::MAX, 3, 4), Some(u128::MAX / 4 * 3 + 2));
        assert_eq!(mul_div_floor(1 << 100, 1 << 100, 1 << 120), Some(1 << 80));
        assert_eq!(mul_div_floor(7, 5, 0), None);
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        for (a, b, d) in [
            (0u128, 5u128, 3u128),
            (10, 10, 3),
            (99, 7, 100),
            (1 << 60, 1 << 60, 7),
        ] {
            assert_eq!(mul_div_floor(a, b, d), Some(a * b / d));
        }
    }

    #[test]
    fn shares_split_pro_rata_and_keep_the_dust() {
        let parts = pro_rata(10, &[(1u8, 1), (2, 1), (3, 1)]);
        assert_eq!(parts, vec![(1, 3), (2, 3), (3, 3)]);
        let parts = pro_rata(100, &[(1u8, 1), (2, 2), (3, 0), (4, 7)]);
        assert_eq!(parts, vec![(1, 10), (2, 20), (4, 70)]);
        // A part that rounds to zero is left out; the dust is not paid.
        assert_eq!(pro_rata(1, &[(1u8, 1), (2, 1)]), Vec::<(u8, u128)>::new());
        let huge = pro_rata(u128::MAX, &[(1u8, u128::MAX / 2), (2, u128::MAX / 2)]);
        assert_eq!(huge, vec![(1, u128::MAX / 2), (2, u128::MAX / 2)]);
    }

    #[test]
    fn empty_shares_pay_nothing() {
        assert!(pro_rata::<u8>(1_000, &[]).is_empty());
        assert!(pro_rata(1_000, &[(1u8, 0), (2, 0)]).is_empty());
        assert!(pro_rata(0, &[(1u8, 5)]).is_empty());
        // A weight sum past 128 bits pays nothing rather than more than the share.
        assert!(pro_rata(1_000, &[(1u8, u128::MAX), (2, 1)]).is_empty());
    }

    #[test]
    fn a_payment_splits_without_creating_value() {
        let params = AuditParams::default();
        // 10% burned, 2% to the pool, the rest to the provider.
        assert_eq!(
            split_payment(1_000, &params),
            PaymentSplit {
                provider: 880,
                burned: 100,
                audit_fee: 20,
            }
        );
        assert_eq!(split_payment(0, &params), PaymentSplit::default());
        // Parameters `check` refuses still never split more than `paid`.
        let greedy = AuditParams {
            payment_burn_bps: 9_000,
            audit_fee_bps: 9_000,
            ..AuditParams::default()
        };
        for paid in [0u128, 1, 9, 10_001, u128::MAX] {
            let split = split_payment(paid, &greedy);
            assert_eq!(split.provider + split.burned + split.audit_fee, paid);
            assert_eq!(split.burned, bps_floor(paid, 9_000));
        }
    }
}
