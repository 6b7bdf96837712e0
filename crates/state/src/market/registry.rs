//! The provider registry: compute providers, their bonds and their liveness.
//!
//! A provider's `bond` is value moved out of its account's balance; it returns to the balance only
//! through a deregistration's unbonding release, or leaves the supply through a deadline slash
//! (`settlement.rs`). Invariants, checked by `State::recount`:
//! - `bond_locked` is the sum of the locks of the jobs assigned to the provider and not yet settled
//!   or expired, `jobs_in_flight` their number, and `bond_locked <= bond`;
//! - a deregistering provider (`unbonding_release` set) has no job in flight and is never matched,
//!   so its whole bond is free when it is released.
//!
//! Every operation checks before it writes: on `Err` nothing changed.

use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::providers::{Provider, REPUTATION_START};
use plexus_types::job::{GPU_MODEL_SIZE_MAX, ResourceProfile, endpoint_is_valid};
use plexus_types::{Address, Amount, Reason};

/// What a registration or an update advertises.
pub(crate) struct Offer<'a> {
    pub endpoint: &'a str,
    pub profile: &'a ResourceProfile,
    pub fuel_per_second: u64,
    pub ask_per_mfuel: Amount,
}

fn check_offer(offer: &Offer<'_>) -> Result<(), Reason> {
    if !endpoint_is_valid(offer.endpoint) {
        return Err(Reason::InvalidEndpoint);
    }
    if offer.fuel_per_second == 0 || offer.profile.gpu_model.len() > GPU_MODEL_SIZE_MAX {
        return Err(Reason::InvalidProfile);
    }
    Ok(())
}

/// A provider that exists and is not deregistering, or the reason it cannot act.
fn serving(state: &State, sender: &Address) -> Result<Provider, Reason> {
    let provider = state.providers.get(sender).ok_or(Reason::UnknownProvider)?;
    if provider.unbonding_release.is_some() {
        return Err(Reason::ProviderDeregistering);
    }
    Ok(provider.clone())
}

pub(crate) fn register(
    state: &mut State,
    sender: Address,
    offer: Offer<'_>,
    bond: Amount,
    height: u64,
) -> Result<(), Reason> {
    if state.providers.contains_key(&sender) {
        return Err(Reason::ProviderExists);
    }
    check_offer(&offer)?;
    if bond < state.params.provider_bond_min {
        return Err(Reason::BondTooSmall);
    }
    if state.account(&sender).balance < bond {
        return Err(Reason::InsufficientBalance);
    }
    state.providers.insert(
        sender.clone(),
        Provider {
            endpoint: offer.endpoint.to_string(),
            profile: offer.profile.clone(),
            fuel_per_second: offer.fuel_per_second,
            ask_per_mfuel: offer.ask_per_mfuel,
            bond: 0,
            bond_locked: 0,
            jobs_in_flight: 0,
            largest_in_flight: 0,
            registered_height: height,
            last_heartbeat_height: height,
            reputation: REPUTATION_START,
            jobs_done: 0,
            jobs_missed: 0,
            audits_passed: 0,
            disputes_lost: 0,
            slashed: 0,
            unbonding_release: None,
        },
    );
    // Checked above: the balance covers the bond.
    Ok(state.lock(&sender, Held::ProviderBond(&sender), bond)?)
}

/// Replaces the advertised details and adds `bond_add` to the bond. An update is also a sign of
/// life: it records a heartbeat.
pub(crate) fn update(
    state: &mut State,
    sender: Address,
    offer: Offer<'_>,
    bond_add: Amount,
    height: u64,
) -> Result<(), Reason> {
    serving(state, &sender)?;
    check_offer(&offer)?;
    // Refused (nothing changed) when the balance is short or the bond would overflow.
    state.lock(&sender, Held::ProviderBond(&sender), bond_add)?;
    if let Some(provider) = state.providers.get_mut(&sender) {
        provider.endpoint = offer.endpoint.to_string();
        provider.profile = offer.profile.clone();
        provider.fuel_per_second = offer.fuel_per_second;
        provider.ask_per_mfuel = offer.ask_per_mfuel;
        provider.last_heartbeat_height = height;
    }
    Ok(())
}

pub(crate) fn heartbeat(state: &mut State, sender: Address, height: u64) -> Result<(), Reason> {
    serving(state, &sender)?;
    if let Some(provider) = state.providers.get_mut(&sender) {
        provider.last_heartbeat_height = height;
    }
    Ok(())
}

/// Stops matching the provider and schedules its bond's release.
pub(crate) fn deregister(state: &mut State, sender: Address, height: u64) -> Result<(), Reason> {
    let provider = serving(state, &sender)?;
    let holds_shards = state
        .storage_offers
        .get(&sender)
        .is_some_and(|offer| offer.used_bytes > 0);
    if provider.jobs_in_flight > 0 || provider.bond_locked > 0 || holds_shards {
        return Err(Reason::ProviderBusy);
    }
    let release = height.saturating_add(state.params.provider_unbonding_blocks);
    if let Some(provider) = state.providers.get_mut(&sender) {
        provider.unbonding_release = Some(release);
    }
    state.market_index.releases.insert((release, sender));
    Ok(())
}

/// Returns the bond of every deregistered provider whose release height is at or below
/// `height` to its balance and removes the record.
pub(crate) fn release_due(state: &mut State, height: u64) {
    while let Some((release, _)) = state.market_index.releases.first() {
        if *release > height {
            break;
        }
        let Some((_, address)) = state.market_index.releases.pop_first() else {
            break;
        };
        // A deregistering provider has no lock (refused while busy, never matched after).
        if let Some(bond) = state.providers.get(&address).map(|p| p.bond) {
            state.unlock(Held::ProviderBond(&address), &address, bond);
            state.providers.remove(&address);
            // It holds no shard (refused while it did), so its offer only goes.
            state.storage_offers.remove(&address);
        }
    }
}
