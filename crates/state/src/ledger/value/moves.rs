//! The moves: every write to a balance, to an account's stake, to a bond, to the audit pool and
//! to the supply. Each checks before it writes: on `Err` nothing changed. A move that cannot be
//! refused (a credit, an unlock, a burn) takes only what its caller computed from the record it
//! takes from, so its subtractions cannot underflow while `State::recount` holds (and release
//! builds keep overflow checks: a broken invariant stops the node instead of wrapping).

use crate::ledger::state::State;
use plexus_types::{Address, Amount, Digest, Reason};

/// Why a move was refused; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueError {
    #[error("the balance {balance} is short of {amount}")]
    Short { balance: Amount, amount: Amount },
    #[error("the receiving record would overflow 128 bits")]
    Overflow,
    #[error("no registered provider holds the bond")]
    NoProvider,
    #[error("no registered verifier holds the bond")]
    NoVerifier,
    #[error("no open storage deal holds the escrow")]
    NoDeal,
}

impl From<ValueError> for Reason {
    fn from(error: ValueError) -> Reason {
        match error {
            ValueError::Short { .. } => Reason::InsufficientBalance,
            ValueError::Overflow => Reason::Overflow,
            ValueError::NoProvider => Reason::UnknownProvider,
            ValueError::NoVerifier => Reason::UnknownVerifier,
            ValueError::NoDeal => Reason::UnknownDeal,
        }
    }
}

/// A record that holds value out of a balance (`State::recount` sums each).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Held<'a> {
    /// The bond of the provider at this address (`Provider::bond`).
    ProviderBond(&'a Address),
    /// The bond of the verifier at this address (`Verifier::bond`); a dispute it opened earmarks
    /// part of it (`Verifier::locked`) without moving value.
    VerifierBond(&'a Address),
    /// An unfinished job's escrow: the amount is on the job (`Job::escrow`) and held while the
    /// job is unfinished, so the job's module ends the hold by finishing the job.
    Escrow,
    /// A consumer's deposit on the dispute it opened, held while the dispute is open
    /// (`Dispute::deposit_held`): the ruling ends the hold.
    DisputeDeposit,
    /// The audit fee pool (`State::audit_pool`), which pays verifiers for their re-execution.
    AuditPool,
    /// A governance proposal's deposit, held while the proposal is voting
    /// (`Proposal::deposit_held`): the tally ends the hold.
    ProposalDeposit,
    /// The escrow of the open storage deal with this id (`Deal::escrow`): its holders are paid
    /// out of it, and what is left returns to its owner when the deal ends.
    DealEscrow(&'a Digest),
}

impl State {
    /// Adds `amount` to `to`'s balance (creating the account), value the caller took out of a
    /// record or minted.
    fn add_balance(&mut self, to: &Address, amount: Amount) {
        self.accounts.entry(to.clone()).or_default().balance += amount;
    }

    /// Takes `amount` out of `from`'s balance; refused when the balance is short.
    fn take_balance(&mut self, from: &Address, amount: Amount) -> Result<(), ValueError> {
        let balance = self.accounts.get(from).map_or(0, |account| account.balance);
        if balance < amount {
            return Err(ValueError::Short { balance, amount });
        }
        self.accounts.entry(from.clone()).or_default().balance -= amount;
        Ok(())
    }

    /// The amount a held record carries, if it carries one (escrows and consumers' deposits are
    /// held by their record's status); `Err` when the bond's record does not exist.
    fn held_amount(&mut self, held: Held<'_>) -> Result<Option<&mut Amount>, ValueError> {
        Ok(match held {
            Held::ProviderBond(address) => Some(
                &mut self
                    .providers
                    .get_mut(address)
                    .ok_or(ValueError::NoProvider)?
                    .bond,
            ),
            Held::VerifierBond(address) => Some(
                &mut self
                    .verifiers
                    .get_mut(address)
                    .ok_or(ValueError::NoVerifier)?
                    .bond,
            ),
            Held::AuditPool => Some(&mut self.audit_pool),
            Held::DealEscrow(id) => {
                Some(&mut self.deals.get_mut(id).ok_or(ValueError::NoDeal)?.escrow)
            }
            Held::Escrow | Held::DisputeDeposit | Held::ProposalDeposit => None,
        })
    }

    /// Takes `amount` out of a held record; `false` (nothing taken) when the bond's record does
    /// not exist, which only a zero amount may meet.
    fn take_held(&mut self, from: Held<'_>, amount: Amount) -> bool {
        match self.held_amount(from) {
            Ok(Some(held)) => {
                *held -= amount;
                true
            }
            Ok(None) => true,
            Err(_) => {
                debug_assert_eq!(amount, 0, "{amount} taken out of a missing {from:?}");
                false
            }
        }
    }

    /// Transfers `amount` from `from`'s balance to `to`'s; refused when `from` is short or `to`'s
    /// balance would overflow. A transfer to oneself changes nothing.
    pub(crate) fn transfer(
        &mut self,
        from: &Address,
        to: &Address,
        amount: Amount,
    ) -> Result<(), ValueError> {
        let balance = self.account(from).balance;
        if balance < amount {
            return Err(ValueError::Short { balance, amount });
        }
        if from == to {
            return Ok(());
        }
        // Cannot overflow while the supply invariant holds, but a broken invariant must not wrap.
        self.account(to)
            .balance
            .checked_add(amount)
            .ok_or(ValueError::Overflow)?;
        self.take_balance(from, amount)?;
        self.add_balance(to, amount);
        Ok(())
    }

    /// Charges a transaction's fee: out of the payer's balance, burned. Refused when short.
    pub(crate) fn charge_fee(&mut self, payer: &Address, fee: Amount) -> Result<(), ValueError> {
        self.take_balance(payer, fee)?;
        self.supply.burn(fee);
        Ok(())
    }

    /// Mints `amount` into `to`'s balance: an epoch's emission.
    pub(crate) fn mint_to(&mut self, to: &Address, amount: Amount) {
        self.supply.mint(amount);
        self.add_balance(to, amount);
    }

    /// Mints `amount` into `to`'s accrued staking rewards (`State::rewards`): its part of an
    /// epoch's validator emission, claimable by a withdrawal.
    pub(crate) fn mint_reward(&mut self, to: &Address, amount: Amount) {
        if amount == 0 {
            return;
        }
        self.supply.mint(amount);
        *self.rewards.entry(to.clone()).or_default() += amount;
    }

    /// Moves all of `owner`'s accrued staking rewards to its balance; returns the amount (zero,
    /// nothing changed, when nothing accrued).
    pub(crate) fn withdraw_rewards(&mut self, owner: &Address) -> Amount {
        let amount = self.rewards.remove(owner).unwrap_or(0);
        if amount > 0 {
            self.add_balance(owner, amount);
        }
        amount
    }

    /// [`State::mint_to`], refused (nothing changed) when the supply would overflow 128 bits: the
    /// genesis allocation, which nothing bounds before it is summed.
    pub(crate) fn mint_checked_to(
        &mut self,
        to: &Address,
        amount: Amount,
    ) -> Result<(), ValueError> {
        self.supply
            .mint_checked(amount)
            .ok_or(ValueError::Overflow)?;
        self.add_balance(to, amount);
        Ok(())
    }

    /// Bonds `amount` of `owner`'s balance as stake (`Account::bonded`); refused when the balance
    /// is short or the stake would overflow. The caller records whom it backs.
    pub(crate) fn bond_stake(&mut self, owner: &Address, amount: Amount) -> Result<(), ValueError> {
        let account = self.account(owner);
        if account.balance < amount {
            return Err(ValueError::Short {
                balance: account.balance,
                amount,
            });
        }
        let bonded = account
            .bonded
            .checked_add(amount)
            .ok_or(ValueError::Overflow)?;
        self.take_balance(owner, amount)?;
        self.accounts.entry(owner.clone()).or_default().bonded = bonded;
        Ok(())
    }

    /// Moves `amount` of `owner`'s bonded stake to its unbonding stake (the caller queues its
    /// release).
    pub(crate) fn unbond_stake(&mut self, owner: &Address, amount: Amount) {
        let account = self.accounts.entry(owner.clone()).or_default();
        account.bonded -= amount;
        account.unbonding += amount;
    }

    /// Returns `amount` of `owner`'s unbonding stake to its balance (its release height passed).
    pub(crate) fn release_stake(&mut self, owner: &Address, amount: Amount) {
        let account = self.accounts.entry(owner.clone()).or_default();
        account.unbonding -= amount;
        account.balance += amount;
    }

    /// Burns `amount` of `owner`'s bonded stake: a validator's slash.
    pub(crate) fn burn_stake(&mut self, owner: &Address, amount: Amount) {
        self.accounts.entry(owner.clone()).or_default().bonded -= amount;
        self.supply.burn(amount);
    }

    /// Locks `amount` of `owner`'s balance into a held record: a provider's or a verifier's bond
    /// (whose record must exist), a job's escrow or a consumer's dispute deposit (whose record the
    /// caller writes with the amount). Refused when the balance is short or the record would
    /// overflow.
    pub(crate) fn lock(
        &mut self,
        owner: &Address,
        into: Held<'_>,
        amount: Amount,
    ) -> Result<(), ValueError> {
        let balance = self.account(owner).balance;
        if balance < amount {
            return Err(ValueError::Short { balance, amount });
        }
        if let Some(held) = self.held_amount(into)? {
            *held = held.checked_add(amount).ok_or(ValueError::Overflow)?;
        }
        self.take_balance(owner, amount)
    }

    /// Unlocks `amount` out of a held record into `to`'s balance: back to its owner (a released
    /// bond, a refunded escrow or deposit), or paid to someone else (a provider's payment out of
    /// an escrow, a winner's share of a slashed bond or a lost deposit, a verifier's pay out of
    /// the audit pool).
    pub(crate) fn unlock(&mut self, from: Held<'_>, to: &Address, amount: Amount) {
        if self.take_held(from, amount) {
            self.add_balance(to, amount);
        }
    }

    /// Burns `amount` out of a held record: a slashed bond, a lost deposit, the burned share of
    /// a job's payment.
    pub(crate) fn burn_held(&mut self, from: Held<'_>, amount: Amount) {
        if self.take_held(from, amount) {
            self.supply.burn(amount);
        }
    }

    /// Moves the audit fee of a settling job's payment out of its escrow into the audit pool.
    pub(crate) fn pay_into_audit_pool(&mut self, amount: Amount) {
        self.audit_pool += amount;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::DevBeacon;
    use crate::dispute::Verifier;
    use crate::{Genesis, GenesisValidator, Params};
    use commonware_cryptography::Signer;
    use plexus_types::{PLX, PrivateKey};

    fn address(i: u64) -> Address {
        Address(PrivateKey::from_seed(i).public_key())
    }

    /// Keys 0 and 1 hold 1 000 PLX; key 0 bonds 100 of them as the only validator.
    fn state() -> State {
        Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: vec![(address(0), 1_000 * PLX), (address(1), 1_000 * PLX)],
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: Params::default().self_bond_min,
            }],
            beacon: DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()]).output,
        }
        .build()
        .expect("genesis builds")
        .0
    }

    fn assert_supply_holds(state: &State, step: &str) {
        let supply = &state.supply;
        assert_eq!(state.recount(), Ok(supply.total()), "after {step}");
        assert_eq!(
            supply.minted() - supply.burned(),
            supply.total(),
            "after {step}"
        );
    }

    #[test]
    fn a_refused_move_changes_nothing() {
        let mut state = state();
        let before = state.clone();
        let (rich, nobody) = (address(1), address(9));
        let short = ValueError::Short {
            balance: 1_000 * PLX,
            amount: 1_000 * PLX + 1,
        };
        assert_eq!(state.transfer(&rich, &nobody, 1_000 * PLX + 1), Err(short));
        assert_eq!(state.lock(&rich, Held::Escrow, 1_000 * PLX + 1), Err(short));
        assert_eq!(state.bond_stake(&rich, 1_000 * PLX + 1), Err(short));
        // An account that does not exist is not created by a refused charge.
        assert_eq!(
            state.charge_fee(&nobody, 1),
            Err(ValueError::Short {
                balance: 0,
                amount: 1
            })
        );
        assert_eq!(
            state.lock(&rich, Held::ProviderBond(&rich), 1),
            Err(ValueError::NoProvider)
        );
        assert_eq!(
            state.lock(&rich, Held::VerifierBond(&rich), 1),
            Err(ValueError::NoVerifier)
        );
        assert_eq!(
            state.mint_checked_to(&rich, Amount::MAX),
            Err(ValueError::Overflow)
        );
        assert_eq!(state, before);
        assert_eq!(Reason::from(short), Reason::InsufficientBalance);
    }

    #[test]
    fn every_move_keeps_the_ledger_equal_to_the_supply() {
        let mut state = state();
        let (a, b) = (address(0), address(1));
        state.transfer(&b, &a, 10 * PLX).unwrap();
        assert_supply_holds(&state, "a transfer");
        state.charge_fee(&a, 1_000).unwrap();
        assert_supply_holds(&state, "a fee");
        // A verifier's bond: locked, part paid to another, part burned, the rest released.
        state.verifiers.insert(b.clone(), Verifier::default());
        state.lock(&b, Held::VerifierBond(&b), 100).unwrap();
        state.unlock(Held::VerifierBond(&b), &a, 30);
        state.burn_held(Held::VerifierBond(&b), 20);
        assert_eq!(state.verifiers[&b].bond, 50);
        state.unlock(Held::VerifierBond(&b), &b, 50);
        assert_supply_holds(&state, "a verifier bond's moves");
        // An escrow's payment: the audit fee into the pool, a burn, the rest paid out; the pool
        // pays a verifier.
        state.lock(&a, Held::Escrow, 100).unwrap();
        state.pay_into_audit_pool(10);
        state.burn_held(Held::Escrow, 5);
        state.unlock(Held::Escrow, &b, 85);
        state.unlock(Held::AuditPool, &b, 4);
        assert_eq!(state.audit_pool(), 6);
        assert_supply_holds(&state, "an escrow's settlement");
        // Stake, mirrored in the validator record as the staking module does.
        state.bond_stake(&a, 40).unwrap();
        state.validators.entry(a.clone()).or_default().self_bond += 40;
        assert_supply_holds(&state, "a bond");
        state.burn_stake(&a, 15);
        state.validators.entry(a.clone()).or_default().self_bond -= 15;
        assert_supply_holds(&state, "a stake burn");
        state.mint_to(&b, 7);
        assert_supply_holds(&state, "a mint");
    }
}
