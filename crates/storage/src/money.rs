//! The storage market's money math: escrow, pay and collateral, integer only.
//!
//! Prices are per GiB-epoch (`plexus_types::deal::PRICE_UNIT_BYTES` bytes held for one epoch).
//! Rounding always favours the party that did not choose the number: an escrow rounds up (the
//! owner puts up at least what the holders can be paid), a payment rounds down (a holder is never
//! paid more than the escrow covers), and a collateral rounds up; the dust an escrow keeps after
//! its last payment returns to the deal's owner when the deal ends.

use crate::params::StorageParams;
use plexus_types::Amount;
use plexus_types::deal::{DealSegment, PRICE_UNIT_BYTES};

/// The bytes a deal's holders store in all: `n` shards of every segment.
pub fn stored_bytes(segments: &[DealSegment], n: u16) -> Option<u128> {
    segments.iter().try_fold(0u128, |sum, segment| {
        sum.checked_add(u128::from(segment.shard_bytes).checked_mul(u128::from(n))?)
    })
}

/// `ceil(price * bytes * epochs / 2^30)`: what `bytes` cost for `epochs` at `price` per
/// GiB-epoch, rounded up; `None` when it does not fit 128 bits.
pub fn cost_ceil(price_per_gib_epoch: Amount, bytes: u128, epochs: u64) -> Option<Amount> {
    let byte_epochs = bytes.checked_mul(u128::from(epochs))?;
    mul_div_ceil(price_per_gib_epoch, byte_epochs, PRICE_UNIT_BYTES)
}

/// The escrow a deal of `segments` coded into `n` shards takes for `epochs` at its price cap:
/// `ceil(cap * n * sum of shard bytes * epochs / 2^30)`.
pub fn deal_escrow_ceil(
    price_cap_per_gib_epoch: Amount,
    segments: &[DealSegment],
    n: u16,
    epochs: u64,
) -> Option<Amount> {
    cost_ceil(price_cap_per_gib_epoch, stored_bytes(segments, n)?, epochs)
}

/// One epoch's pay for holding a shard of `shard_bytes` at `price` per GiB-epoch:
/// `floor(price * shard_bytes / 2^30)`.
pub fn epoch_pay_floor(price_per_gib_epoch: Amount, shard_bytes: u64) -> Option<Amount> {
    price_per_gib_epoch
        .checked_mul(u128::from(shard_bytes))
        .map(|product| product / PRICE_UNIT_BYTES)
}

/// The collateral a shard locks from its holder's bond: `collateral_epochs` of its pay at the
/// holder's price (rounded up), at least `collateral_min_per_shard`.
pub fn shard_collateral(
    params: &StorageParams,
    price_per_gib_epoch: Amount,
    shard_bytes: u64,
) -> Option<Amount> {
    let epochs = u64::from(params.collateral_epochs);
    let at_price = cost_ceil(price_per_gib_epoch, u128::from(shard_bytes), epochs)?;
    Some(at_price.max(params.collateral_min_per_shard))
}

/// `ceil(a * b / d)` in 128 bits (d > 0), `None` on overflow.
fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
    Some(a.checked_mul(b)?.div_ceil(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::ContentHash;

    fn segment(shard_bytes: u64) -> DealSegment {
        DealSegment {
            commitment: ContentHash::of(b"segment"),
            size_bytes: shard_bytes * 2,
            shard_bytes,
        }
    }

    #[test]
    fn escrow_rounds_up_and_pay_rounds_down() {
        // One byte for one epoch at 1 base unit per GiB-epoch: the escrow is 1, the pay 0.
        assert_eq!(cost_ceil(1, 1, 1), Some(1));
        assert_eq!(epoch_pay_floor(1, 1), Some(0));
        // Exactly a GiB: both are the price.
        assert_eq!(cost_ceil(7, PRICE_UNIT_BYTES, 1), Some(7));
        assert_eq!(epoch_pay_floor(7, 1 << 30), Some(7));
        // n shards of every segment, for every epoch.
        let segments = [segment(1 << 29), segment(1 << 29)];
        assert_eq!(deal_escrow_ceil(10, &segments, 4, 3), Some(10 * 4 * 3));
        assert_eq!(deal_escrow_ceil(u128::MAX, &segments, 4, 3), None);
    }

    #[test]
    fn the_escrow_covers_every_payment_at_or_below_the_cap() {
        // Sum of the floors of every shard's pay for every epoch never exceeds the escrow's ceil.
        for (cap, shard_bytes, n, epochs) in [
            (3u128, 1_000u64, 4u16, 5u64),
            (1, 12_345, 40, 7),
            (999_999, 4 << 20, 40, 100),
        ] {
            let segments = [segment(shard_bytes), segment(shard_bytes / 3 + 1)];
            let escrow = deal_escrow_ceil(cap, &segments, n, epochs).unwrap();
            for ask in [0, 1, cap / 2, cap] {
                let paid: u128 = segments
                    .iter()
                    .map(|s| epoch_pay_floor(ask, s.shard_bytes).unwrap())
                    .sum::<u128>()
                    * u128::from(n)
                    * u128::from(epochs);
                assert!(paid <= escrow, "cap {cap} ask {ask}: {paid} > {escrow}");
            }
        }
    }

    #[test]
    fn collateral_has_a_floor_and_covers_the_burns() {
        let params = StorageParams::default();
        assert_eq!(
            shard_collateral(&params, 0, 1 << 20),
            Some(params.collateral_min_per_shard)
        );
        let price = 1_000_000_000_000;
        let collateral = shard_collateral(&params, price, 1 << 30).unwrap();
        let pay = epoch_pay_floor(price, 1 << 30).unwrap();
        let burns =
            pay * u128::from(params.miss_burn_multiple) * u128::from(params.misses_before_lost);
        assert!(collateral >= burns);
    }
}
