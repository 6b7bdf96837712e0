//! The verifier registry: registration with a bond, a declared re-execution speed and capacity,
//! deregistration and the bond's release. A verifier's `open` count (audits and disputes it holds)
//! is what its capacity is counted against.

use crate::fueltrace::records::Verifier;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use plexus_types::audit::VERIFIER_CAPACITY_MAX;
use plexus_types::{Address, Amount, Reason};

/// What a verifier declares when it registers or updates.
pub(crate) struct VerifierOffer {
    pub bond: Amount,
    pub fuel_per_second: u64,
    pub capacity: u32,
}

/// Registers the sender as a verifier, or adds `bond` (zero allowed) to a registered verifier's
/// bond; either way its declared speed and capacity replace the record's (open audits keep the
/// deadlines they were drawn with).
pub(crate) fn register(
    state: &mut State,
    sender: Address,
    offer: VerifierOffer,
    height: u64,
) -> Result<(), Reason> {
    let VerifierOffer {
        bond,
        fuel_per_second,
        capacity,
    } = offer;
    if fuel_per_second == 0 || !(1..=VERIFIER_CAPACITY_MAX).contains(&capacity) {
        return Err(Reason::InvalidVerifierOffer);
    }
    let existing = state.verifiers.get(&sender);
    if bond == 0 && existing.is_none() {
        return Err(Reason::ZeroAmount);
    }
    if state.account(&sender).balance < bond {
        return Err(Reason::InsufficientBalance);
    }
    if existing.is_some_and(|v| v.unbonding_release.is_some()) {
        return Err(Reason::ProviderDeregistering);
    }
    let total = existing
        .map_or(0, |v| v.bond)
        .checked_add(bond)
        .ok_or(Reason::Overflow)?;
    if total < state.params.audit.verifier_bond_min {
        return Err(Reason::BondTooSmall);
    }
    let verifier = state
        .verifiers
        .entry(sender.clone())
        .or_insert_with(|| Verifier {
            registered_height: height,
            ..Verifier::default()
        });
    verifier.fuel_per_second = fuel_per_second;
    verifier.capacity = capacity;
    // Checked above: the balance covers the bond and the total fits.
    Ok(state.lock(&sender, Held::VerifierBond(&sender), bond)?)
}

/// Stops drawing the sender; its bond returns after `provider_unbonding_blocks`.
pub(crate) fn deregister(state: &mut State, sender: &Address, height: u64) -> Result<(), Reason> {
    let verifier = state.verifiers.get(sender).ok_or(Reason::UnknownVerifier)?;
    if verifier.unbonding_release.is_some() {
        return Err(Reason::ProviderDeregistering);
    }
    if verifier.open > 0 {
        return Err(Reason::VerifierBusy);
    }
    let release = height.saturating_add(state.params.provider_unbonding_blocks.max(1));
    if let Some(verifier) = state.verifiers.get_mut(sender) {
        verifier.unbonding_release = Some(release);
    }
    state
        .market_index
        .verifier_releases
        .insert((release, sender.clone()));
    Ok(())
}

pub(crate) fn release_due(state: &mut State, height: u64) {
    while let Some((at, address)) = state.market_index.verifier_releases.first().cloned() {
        if at > height {
            break;
        }
        state.market_index.verifier_releases.pop_first();
        if let Some(bond) = state.verifiers.get(&address).map(|v| v.bond) {
            state.unlock(Held::VerifierBond(&address), &address, bond);
            state.verifiers.remove(&address);
        }
    }
}

/// Closes one of the verifier's open audits or disputes (its capacity frees up).
pub(crate) fn close_verifier_audit(state: &mut State, verifier: &Address) {
    if let Some(record) = state.verifiers.get_mut(verifier) {
        record.open = record.open.saturating_sub(1);
    }
}
