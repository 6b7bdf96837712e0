//! The supply: how much exists, what was ever minted and what was ever burned. Its fields are
//! private to this file; [`Supply::mint`] and [`Supply::burn`] write them, called only by the
//! value moves (`moves.rs`) that credit what they mint or take out of a record what they burn.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use plexus_types::Amount;

/// Supply accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Supply {
    /// Tokens in existence: balances + bonded + unbonding + provider bonds + escrows of
    /// unfinished jobs + verifier bonds + consumers' dispute deposits + the audit pool + storage
    /// deals' escrows + accrued staking rewards + voting proposals' deposits.
    total: Amount,
    /// Everything ever minted (the genesis allocation and the epoch emissions).
    minted: Amount,
    /// Everything ever burned (fees, slashes, the burned share of consumer payments).
    burned: Amount,
}

impl Supply {
    /// Tokens in existence.
    pub fn total(&self) -> Amount {
        self.total
    }

    /// Everything ever minted.
    pub fn minted(&self) -> Amount {
        self.minted
    }

    /// Everything ever burned.
    pub fn burned(&self) -> Amount {
        self.burned
    }

    /// Creates `amount`, which the caller credits to a record `State::recount` sums.
    pub(super) fn mint(&mut self, amount: Amount) {
        self.minted += amount;
        self.total += amount;
    }

    /// [`Supply::mint`], refused (nothing changed) when the supply would overflow 128 bits: the
    /// genesis allocation, which nothing bounds before it is summed.
    pub(super) fn mint_checked(&mut self, amount: Amount) -> Option<()> {
        let total = self.total.checked_add(amount)?;
        let minted = self.minted.checked_add(amount)?;
        (self.total, self.minted) = (total, minted);
        Some(())
    }

    /// Destroys `amount`, which the caller has taken out of a record `State::recount` sums (so it
    /// is part of the total and cannot underflow it).
    pub(super) fn burn(&mut self, amount: Amount) {
        self.total -= amount;
        self.burned = self.burned.saturating_add(amount);
    }
}

impl Write for Supply {
    fn write(&self, buf: &mut impl BufMut) {
        self.total.write(buf);
        self.minted.write(buf);
        self.burned.write(buf);
    }
}

impl EncodeSize for Supply {
    fn encode_size(&self) -> usize {
        self.total.encode_size() + self.minted.encode_size() + self.burned.encode_size()
    }
}

impl Read for Supply {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Supply {
            total: u128::read(buf)?,
            minted: u128::read(buf)?,
            burned: u128::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minting_and_burning_keep_total_equal_to_minted_less_burned() {
        let mut supply = Supply::default();
        supply.mint_checked(1_000).unwrap();
        supply.mint(500);
        supply.burn(300);
        assert_eq!(
            (supply.total(), supply.minted(), supply.burned()),
            (1_200, 1_500, 300)
        );
        assert_eq!(supply.minted() - supply.burned(), supply.total());
        // An overflowing allocation changes nothing.
        let before = supply.clone();
        assert_eq!(supply.mint_checked(Amount::MAX), None);
        assert_eq!(supply, before);
    }
}
