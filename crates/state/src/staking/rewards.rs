//! Delegators' rewards: each validator's commission, the split of its part of an epoch's
//! validator emission between itself and its delegators, and the withdrawal of what accrued.
//!
//! The emission (`fueltrace::rewards::emit`) gives each validator a part `P` of the validators'
//! share by its signatures. [`split`] divides `P`, in integer base units:
//! - the commission `C = floor(P * commission_bps / 10^4)` is the validator's;
//! - the rest `R = P - C` is shared pro rata to the stake backing the validator at the payout
//!   (its self-bond `s` and each delegation `d_i`, total `S = s + sum(d_i)`): delegator `i` gets
//!   `floor(R * d_i / S)` (exact over the 256-bit product);
//! - the validator gets everything else: `P - sum(floor(R * d_i / S))`, which is `C`, its own
//!   `floor(R * s / S)` and every remainder unit of the floors (fewer than one unit per
//!   delegation). A validator with no stake left (it unbonded after signing) keeps all of `P`.
//!
//! So the split hands out exactly `P`, nobody gets more than their exact share (except the
//! validator, by the remainders), and the emission mints exactly what it credits. Credits are
//! not put in balances: they accrue in `State::rewards` (part of the supply, counted by
//! `State::recount`) until the owner withdraws them (`Payload::RewardsWithdraw`).
//!
//! Slashes reach delegators in proportion: `bonds::slash` burns `slash_bps` of the self-bond and
//! of every delegation alike, so the stake weights of later payouts keep their proportions (up
//! to each floor). Rewards already accrued are not slashed: they were earned before the fault
//! was proven.
//!
//! A commission change (`Payload::CommissionSet`) is pending until the end of the epoch it was
//! sent in: that epoch's payout still uses the old rate, and the new one applies from the next
//! epoch's payout on (`apply_pending_commissions`), so delegators see a new rate for a whole
//! epoch before it is paid out. A validator may change it at most once per
//! `commission_change_epochs_min` epochs, and never above `commission_max_bps`.

use crate::State;
use plexus_fueltrace::money::{bps_floor, mul_div_floor};
use plexus_types::{Address, Amount, Reason};
use std::collections::BTreeMap;

/// How one validator's part of an epoch's emission is divided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The validator's: its commission, its own stake share and every remainder unit.
    pub validator: Amount,
    /// Each delegator's stake share (zero shares left out), in the order given.
    pub delegators: Vec<(Address, Amount)>,
}

/// Divides `part` between a validator (commission `commission_bps`, self-bond `self_bond`) and
/// its `delegations`, as the module doc states. `validator + sum(delegators) == part`.
pub fn split(
    part: Amount,
    commission_bps: u32,
    self_bond: Amount,
    delegations: &[(Address, Amount)],
) -> Split {
    let commission = bps_floor(part, commission_bps.min(10_000)).min(part);
    let rest = part - commission;
    let stake = delegations
        .iter()
        .try_fold(self_bond, |sum, (_, amount)| sum.checked_add(*amount));
    let mut delegators = Vec::new();
    let mut shared: Amount = 0;
    if let Some(stake) = stake.filter(|stake| *stake > 0) {
        for (delegator, amount) in delegations {
            // amount <= stake, so the quotient fits and is at most `rest`.
            let share = mul_div_floor(rest, *amount, stake).unwrap_or(0);
            if share > 0 {
                shared += share;
                delegators.push((delegator.clone(), share));
            }
        }
    }
    Split {
        validator: part - shared,
        delegators,
    }
}

/// Credits each validator's part of an epoch's validator emission (`parts`, by validator) to it
/// and its delegators' accrued rewards, split at the commissions in effect; returns the amount
/// minted (the sum of `parts`).
pub(crate) fn credit_parts(state: &mut State, parts: Vec<(Address, Amount)>) -> Amount {
    let mut delegations: BTreeMap<&Address, Vec<(Address, Amount)>> = parts
        .iter()
        .map(|(validator, _)| (validator, Vec::new()))
        .collect();
    for ((delegator, validator), amount) in &state.delegations {
        if let Some(list) = delegations.get_mut(validator) {
            list.push((delegator.clone(), *amount));
        }
    }
    let splits: Vec<(Address, Split)> = parts
        .iter()
        .map(|(validator, part)| {
            let (commission, self_bond) = state
                .validators
                .get(validator)
                .map_or((0, 0), |v| (v.commission_bps, v.self_bond));
            let list = delegations.get(validator).map_or(&[][..], Vec::as_slice);
            (validator.clone(), split(*part, commission, self_bond, list))
        })
        .collect();
    let mut minted: Amount = 0;
    for (validator, split) in splits {
        state.mint_reward(&validator, split.validator);
        minted += split.validator;
        for (delegator, share) in split.delegators {
            state.mint_reward(&delegator, share);
            minted += share;
        }
    }
    minted
}

/// Puts every pending commission in effect: called at an epoch's last block, after its payout.
pub(crate) fn apply_pending_commissions(state: &mut State) {
    for validator in state.validators.values_mut() {
        if let Some(bps) = validator.commission_pending.take() {
            validator.commission_bps = bps;
        }
    }
}

/// `Payload::CommissionSet`: the sender validator's commission from the next epoch's payout on.
pub(crate) fn set_commission(
    state: &mut State,
    sender: &Address,
    bps: u32,
    height: u64,
) -> Result<(), Reason> {
    let epoch = state.epoch_of(height);
    let (max, interval) = (
        state.params.commission_max_bps,
        state.params.commission_change_epochs_min,
    );
    let Some(validator) = state.validators.get_mut(sender) else {
        return Err(Reason::NotValidator);
    };
    if bps > max {
        return Err(Reason::CommissionTooHigh);
    }
    if let Some(last) = validator.commission_changed_epoch
        && epoch < last.saturating_add(interval)
    {
        return Err(Reason::CommissionChangeTooSoon);
    }
    validator.commission_pending = Some(bps);
    validator.commission_changed_epoch = Some(epoch);
    Ok(())
}

/// `Payload::RewardsWithdraw`: all of the sender's accrued rewards to its balance.
pub(crate) fn withdraw(state: &mut State, sender: &Address) -> Result<(), Reason> {
    if state.withdraw_rewards(sender) == 0 {
        return Err(Reason::NothingToWithdraw);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_types::PrivateKey;

    fn address(i: u64) -> Address {
        Address(PrivateKey::from_seed(i).public_key())
    }

    #[test]
    fn the_split_takes_the_commission_then_shares_pro_rata_with_the_remainder_to_the_validator() {
        // P = 1_000, 10% commission = 100, R = 900 over stake 100 + 200 + 400 = 700:
        // delegators floor(900*200/700) = 257 and floor(900*400/700) = 514; the validator gets
        // 100 + floor(900*100/700) = 128 + the two remainder units = 229.
        let delegations = [(address(1), 200), (address(2), 400)];
        let got = split(1_000, 1_000, 100, &delegations);
        assert_eq!(got.delegators, vec![(address(1), 257), (address(2), 514)]);
        assert_eq!(got.validator, 229);
        assert_eq!(got.validator + 257 + 514, 1_000);
    }

    #[test]
    fn the_floors_round_down_for_delegators_and_the_dust_goes_to_the_validator() {
        // R = 10 over three equal stakes: each delegator floor(10/3) = 3, validator 3 + 1 dust.
        let delegations = [(address(1), 1), (address(2), 1)];
        let got = split(10, 0, 1, &delegations);
        assert_eq!(got.delegators, vec![(address(1), 3), (address(2), 3)]);
        assert_eq!(got.validator, 4);
        // A share that floors to zero is left out, its unit the validator's.
        let got = split(1, 0, 1, &[(address(1), 1)]);
        assert_eq!((got.validator, got.delegators.len()), (1, 0));
    }

    #[test]
    fn edge_commissions_and_stakes() {
        let delegations = [(address(1), 500)];
        // 100% commission: all to the validator.
        assert_eq!(split(777, 10_000, 500, &delegations).validator, 777);
        // No stake left: the validator keeps its part.
        assert_eq!(split(777, 0, 0, &[]).validator, 777);
        // No self-bond: the delegators share all but the commission.
        let got = split(1_000, 500, 0, &delegations);
        assert_eq!((got.validator, got.delegators[0].1), (50, 950));
        // Amounts near the top of u128 do not overflow: the product is taken wide.
        let big = u128::MAX / 2;
        let got = split(big, 0, big, &[(address(1), big)]);
        assert_eq!(got.validator + got.delegators[0].1, big);
        assert_eq!(got.delegators[0].1, big / 2);
    }

    /// Key 0 is the validator (self-bond 1 000 PLX, 10% commission by default), keys 1 and 2
    /// hold 10 000 PLX each; `E` is the whole emission per epoch (40% of it to validators).
    fn chain(emission: Amount) -> State {
        let mut params = crate::Params::default();
        params.audit.emission_per_epoch = emission;
        crate::Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params,
            allocations: (0..3).map(|i| (address(i), 10_000 * PLX)).collect(),
            validators: vec![crate::GenesisValidator {
                address: address(0),
                self_bond: 1_000 * PLX,
            }],
            beacon: crate::beacon::DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()])
                .output,
        }
        .build()
        .expect("genesis builds")
        .0
    }

    use plexus_types::PLX;

    /// Pays `epoch`'s emission with validator 0 its only signer.
    fn pay(state: &mut State, epoch: u64) {
        state.participation.insert((epoch, address(0)), 1);
        crate::fueltrace::rewards::emit(state, epoch, Vec::new());
        apply_pending_commissions(state);
    }

    fn assert_conserved(state: &State) {
        assert_eq!(state.recount(), Ok(state.supply.total()));
        assert_eq!(
            state.supply.minted() - state.supply.burned(),
            state.supply.total()
        );
    }

    #[test]
    fn an_epoch_pays_the_commission_then_the_stake_shares_into_accrued_rewards() {
        // Validators' share 40% of 1_000_003 = 400_001.
        let mut state = chain(1_000_003);
        assert_eq!(state.validators[&address(0)].commission_bps, 1_000);
        crate::staking::bonds::delegate(&mut state, address(1), address(0), 1_000 * PLX).unwrap();
        crate::staking::bonds::delegate(&mut state, address(2), address(0), 2_000 * PLX).unwrap();
        let (balances, minted) = (
            (0..3)
                .map(|i| state.account(&address(i)).balance)
                .collect::<Vec<_>>(),
            state.supply.minted(),
        );
        pay(&mut state, 0);
        // C = floor(400_001 / 10) = 40_000; R = 360_001 over stake 1 000 + 1 000 + 2 000 PLX:
        // key 1 floor(360_001 / 4) = 90_000, key 2 floor(360_001 / 2) = 180_000, the
        // validator 40_000 + 90_000 + the remainder unit = 130_001.
        let accrued = |i| state.accrued_rewards(&address(i));
        assert_eq!(
            (accrued(0), accrued(1), accrued(2)),
            (130_001, 90_000, 180_000)
        );
        assert_eq!(state.emissions()[&0].validators, 400_001);
        assert_eq!(state.supply.minted(), minted + 400_001);
        // Nothing landed in a balance.
        for i in 0..3 {
            assert_eq!(state.account(&address(i)).balance, balances[i as usize]);
        }
        assert_conserved(&state);
        // A withdrawal moves exactly what accrued, once.
        withdraw(&mut state, &address(1)).unwrap();
        assert_eq!(state.account(&address(1)).balance, balances[1] + 90_000);
        assert_eq!(state.accrued_rewards(&address(1)), 0);
        assert_eq!(
            withdraw(&mut state, &address(1)),
            Err(Reason::NothingToWithdraw)
        );
        assert_eq!(
            withdraw(&mut state, &address(7)),
            Err(Reason::NothingToWithdraw)
        );
        assert_conserved(&state);
    }

    #[test]
    fn a_commission_change_is_bounded_rate_limited_and_applies_from_the_next_payout() {
        let mut state = chain(1_000_000);
        let epoch_blocks = state.params.epoch_length_blocks;
        crate::staking::bonds::delegate(&mut state, address(1), address(0), 1_000 * PLX).unwrap();
        assert_eq!(
            set_commission(&mut state, &address(1), 100, 1),
            Err(Reason::NotValidator)
        );
        assert_eq!(
            set_commission(&mut state, &address(0), 5_001, 1),
            Err(Reason::CommissionTooHigh)
        );
        set_commission(&mut state, &address(0), 5_000, 1).unwrap();
        // Once per epoch (`commission_change_epochs_min` = 1).
        assert_eq!(
            set_commission(&mut state, &address(0), 0, epoch_blocks - 1),
            Err(Reason::CommissionChangeTooSoon)
        );
        // Epoch 0's payout still uses 10%: 400_000 -> C 40_000, R 360_000 halved.
        pay(&mut state, 0);
        assert_eq!(state.accrued_rewards(&address(1)), 180_000);
        assert_eq!(state.validators[&address(0)].commission_bps, 5_000);
        // Epoch 1's uses 50%: C 200_000, R 200_000 halved.
        pay(&mut state, 1);
        assert_eq!(state.accrued_rewards(&address(1)), 180_000 + 100_000);
        assert_eq!(state.accrued_rewards(&address(0)), 220_000 + 300_000);
        // The next epoch may change it again.
        set_commission(&mut state, &address(0), 0, epoch_blocks).unwrap();
        assert_conserved(&state);
    }

    #[test]
    fn a_slash_cuts_delegators_in_proportion_and_later_rewards_follow_the_stake() {
        let mut state = chain(1_000_000);
        state.params.slash_bps = 2_000;
        state
            .validators
            .get_mut(&address(0))
            .unwrap()
            .commission_bps = 0;
        crate::staking::bonds::delegate(&mut state, address(1), address(0), 1_000 * PLX).unwrap();
        crate::staking::bonds::delegate(&mut state, address(2), address(0), 2_000 * PLX).unwrap();
        crate::staking::bonds::slash(&mut state, address(0), 0, 3).unwrap();
        // 20% of every stake burned alike: 800, 800 and 1 600 PLX remain.
        let delegation = |i| state.delegations()[&(address(i), address(0))];
        assert_eq!((delegation(1), delegation(2)), (800 * PLX, 1_600 * PLX));
        assert_eq!(state.validators[&address(0)].self_bond, 800 * PLX);
        assert_eq!(state.account(&address(1)).bonded, 800 * PLX);
        // The payout follows the slashed stake: 1/4, 1/4, 1/2 of 400_000.
        pay(&mut state, 0);
        let accrued = |i| state.accrued_rewards(&address(i));
        assert_eq!(
            (accrued(0), accrued(1), accrued(2)),
            (100_000, 100_000, 200_000)
        );
        assert_conserved(&state);
    }
}
