//! Staking: validator self-bonds, delegations, unbonding, and the committee election.
//!
//! Every operation moves value between an account's `balance`, its `bonded` amount and its
//! `unbonding` amount through the ledger's value moves (`State::bond_stake`, `unbond_stake`,
//! `release_stake`, `burn_stake`), and mirrors it in the validator's `self_bond`/`delegated` or
//! in the delegation entry, so `State::recount` holds after every call. Checks precede writes.

use crate::{State, Unbonding, Validator};
use plexus_fueltrace::money::bps_floor;
use plexus_types::{Address, Amount, Reason};

/// The most unbonding entries one account may have in flight: each is a ledger entry that every
/// block's state root covers, so their number is bounded per account.
pub const UNBONDING_ENTRIES_MAX: u32 = 32;

fn check_unbonding_room(state: &State, owner: &Address) -> Result<(), Reason> {
    let in_flight = state.unbonding_counts.get(owner).copied().unwrap_or(0);
    if in_flight >= UNBONDING_ENTRIES_MAX {
        return Err(Reason::UnbondingQueueFull);
    }
    Ok(())
}

pub(crate) fn bond(state: &mut State, sender: Address, amount: Amount) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    let account = state.account(&sender);
    if account.balance < amount {
        return Err(Reason::InsufficientBalance);
    }
    let commission = state.params.commission_default_bps;
    let validator = state
        .validators
        .get(&sender)
        .cloned()
        .unwrap_or_else(|| Validator::new(commission));
    let self_bond = validator
        .self_bond
        .checked_add(amount)
        .ok_or(Reason::Overflow)?;
    if self_bond < state.params.self_bond_min {
        return Err(Reason::BondTooSmall);
    }
    state.bond_stake(&sender, amount)?;
    state
        .validators
        .entry(sender)
        .or_insert_with(|| Validator::new(commission))
        .self_bond = self_bond;
    Ok(())
}

pub(crate) fn unbond(
    state: &mut State,
    sender: Address,
    amount: Amount,
    height: u64,
) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    let Some(validator) = state.validators.get(&sender) else {
        return Err(Reason::UnknownValidator);
    };
    if validator.self_bond < amount {
        return Err(Reason::InsufficientStake);
    }
    check_unbonding_room(state, &sender)?;
    let remaining = validator.self_bond - amount;
    let delegated = validator.delegated;
    if remaining == 0 && delegated == 0 {
        state.validators.remove(&sender);
    } else if let Some(validator) = state.validators.get_mut(&sender) {
        // A validator below the minimum self-bond stays registered (delegators keep their
        // stake where it is) but is not elected: see `elect_committee`.
        validator.self_bond = remaining;
    }
    queue_unbonding(state, sender, amount, height);
    Ok(())
}

pub(crate) fn delegate(
    state: &mut State,
    sender: Address,
    validator: Address,
    amount: Amount,
) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    let Some(record) = state.validators.get(&validator) else {
        return Err(Reason::UnknownValidator);
    };
    let account = state.account(&sender);
    if account.balance < amount {
        return Err(Reason::InsufficientBalance);
    }
    let delegated = record
        .delegated
        .checked_add(amount)
        .ok_or(Reason::Overflow)?;
    let key = (sender.clone(), validator.clone());
    let existing = state.delegations.get(&key).copied().unwrap_or(0);
    let delegation = existing.checked_add(amount).ok_or(Reason::Overflow)?;
    state.bond_stake(&sender, amount)?;
    state.delegations.insert(key, delegation);
    if let Some(record) = state.validators.get_mut(&validator) {
        record.delegated = delegated;
    }
    Ok(())
}

pub(crate) fn undelegate(
    state: &mut State,
    sender: Address,
    validator: Address,
    amount: Amount,
    height: u64,
) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    let key = (sender.clone(), validator.clone());
    let Some(existing) = state.delegations.get(&key).copied() else {
        return Err(if state.validators.contains_key(&validator) {
            Reason::InsufficientStake
        } else {
            Reason::UnknownValidator
        });
    };
    if existing < amount {
        return Err(Reason::InsufficientStake);
    }
    check_unbonding_room(state, &sender)?;
    if existing == amount {
        state.delegations.remove(&key);
    } else {
        state.delegations.insert(key, existing - amount);
    }
    // A delegation implies a registered validator whose `delegated` includes it.
    let remove = match state.validators.get_mut(&validator) {
        Some(record) => {
            record.delegated -= amount;
            record.self_bond == 0 && record.delegated == 0
        }
        None => false,
    };
    if remove {
        state.validators.remove(&validator);
    }
    queue_unbonding(state, sender, amount, height);
    Ok(())
}

/// Moves `amount` from the owner's `bonded` to `unbonding`, released after the unbonding period.
fn queue_unbonding(state: &mut State, owner: Address, amount: Amount, height: u64) {
    let release = height.saturating_add(state.params.unbonding_period_blocks);
    let seq = state.unbonding_seq;
    state.unbonding_seq += 1;
    state.unbond_stake(&owner, amount);
    *state.unbonding_counts.entry(owner.clone()).or_default() += 1;
    state
        .unbondings
        .insert((release, seq), Unbonding { owner, amount });
}

/// Returns every unbonding entry whose release height is at or below `height` to its owner.
pub(crate) fn release_unbondings(state: &mut State, height: u64) {
    while let Some(entry) = state.unbondings.first_entry() {
        if entry.key().0 > height {
            break;
        }
        let Unbonding { owner, amount } = entry.remove();
        if let Some(count) = state.unbonding_counts.get_mut(&owner) {
            *count -= 1;
            if *count == 0 {
                state.unbonding_counts.remove(&owner);
            }
        }
        state.release_stake(&owner, amount);
    }
}

/// Elects the committee: validators with at least the minimum self-bond, by total stake
/// descending, ties broken by address ascending, at most `committee_size_max`. If nobody
/// qualifies, the current committee stays: a chain never elects an empty committee.
/// The top `committee_size_max` eligible validators by stake (ties by address); empty if none.
pub(crate) fn elect_committee(state: &State) -> Vec<Address> {
    let mut candidates: Vec<(&Address, u128)> = state
        .validators
        .iter()
        .filter(|(_, v)| v.self_bond >= state.params.self_bond_min && !v.jailed)
        .map(|(address, v)| (address, v.stake()))
        .collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    candidates.truncate(state.params.committee_size_max as usize);
    candidates.into_iter().map(|(a, _)| a.clone()).collect()
}

/// Slashes `offender` for a fault at `(epoch, view)`: burns `slash_bps` of its self-bond and of
/// every delegation to it, jails it (it is not elected again; the committee changes at the next
/// epoch boundary) and records the slash. Returns the amount burned. Unbonding stake is not
/// touched: it left the validator before the fault was proven.
pub(crate) fn slash(
    state: &mut State,
    offender: Address,
    epoch: u64,
    view: u64,
) -> Result<Amount, Reason> {
    let key = (offender.clone(), epoch, view);
    if state.slashes.contains_key(&key) {
        return Err(Reason::DuplicateEvidence);
    }
    let Some(validator) = state.validators.get(&offender).cloned() else {
        return Err(Reason::UnknownValidator);
    };
    let bps = state.params.slash_bps;
    let cut = |amount: Amount| bps_floor(amount, bps);
    let self_cut = cut(validator.self_bond);
    let mut burned = self_cut;
    if self_cut > 0 {
        state.burn_stake(&offender, self_cut);
    }
    let delegations: Vec<(Address, Amount)> = state
        .delegations
        .iter()
        .filter(|((_, v), _)| *v == offender)
        .map(|((d, _), amount)| (d.clone(), *amount))
        .collect();
    let mut delegated_cut = 0;
    for (delegator, amount) in delegations {
        let part = cut(amount);
        if part == 0 {
            continue;
        }
        delegated_cut += part;
        state.burn_stake(&delegator, part);
        let key = (delegator, offender.clone());
        if amount == part {
            state.delegations.remove(&key);
        } else {
            state.delegations.insert(key, amount - part);
        }
    }
    burned += delegated_cut;
    if let Some(record) = state.validators.get_mut(&offender) {
        record.self_bond -= self_cut;
        record.delegated -= delegated_cut;
        record.jailed = true;
    }
    state.slashes.insert(key, burned);
    Ok(burned)
}
