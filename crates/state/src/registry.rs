//! The provider registry: compute providers, their bonds and their liveness.
//!
//! A provider's `bond` is value moved out of its account's balance; it returns to the balance only
//! through a deregistration's unbonding release, or leaves the supply through a deadline slash
//! (`market.rs`). Invariants, checked by `State::recount`:
//! - `bond_locked` is the sum of the locks of the jobs assigned to the provider and not yet settled
//!   or expired, `jobs_in_flight` their number, and `bond_locked <= bond`;
//! - a deregistering provider (`unbonding_release` set) has no job in flight and is never matched,
//!   so its whole bond is free when it is released.
//!
//! Every operation checks before it writes: on `Err` nothing changed.

use crate::State;
use plexus_types::job::{GPU_MODEL_SIZE_MAX, ResourceProfile, endpoint_is_valid};
use plexus_types::{Address, Amount, Reason};

/// The highest reputation (basis points of trust).
pub const REPUTATION_MAX: u32 = 10_000;
/// A new provider's reputation: half way, so a first miss hurts and a first success helps.
pub const REPUTATION_START: u32 = 5_000;

/// A registered compute provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The agent's `http(s)://` URL (serves outputs and checkpoint pages).
    pub endpoint: String,
    pub profile: ResourceProfile,
    /// The measured benchmark the agent registered.
    pub fuel_per_second: u64,
    /// Price per million fuel.
    pub ask_per_mfuel: Amount,
    /// Value held against misbehaviour (moved out of the operator's balance).
    pub bond: Amount,
    /// The part of `bond` locked by jobs in flight.
    pub bond_locked: Amount,
    /// Jobs assigned and not yet settled or expired: a committed job still counts, because the
    /// provider must keep serving its checkpoints until it settles.
    pub jobs_in_flight: u32,
    /// The largest value (`fuel_cost_ceil(max_fuel, ask)`) among the jobs in flight, or above it:
    /// raised at each match, reset when nothing is in flight. `G_max` of the bond rule.
    pub largest_in_flight: Amount,
    pub registered_height: u64,
    pub last_heartbeat_height: u64,
    /// 0..=`REPUTATION_MAX`; part of the matching weight.
    pub reputation: u32,
    pub jobs_done: u64,
    /// Deadlines missed.
    pub jobs_missed: u64,
    /// Audits the provider's jobs passed.
    pub audits_passed: u64,
    /// Disputes over its commitments it lost.
    pub disputes_lost: u64,
    /// Total burned from the bond by deadline slashes.
    pub slashed: Amount,
    /// Set by a deregistration: the height at which the bond returns to the balance.
    pub unbonding_release: Option<u64>,
}

impl Provider {
    /// Concurrent jobs the provider takes: one per declared core, at least one.
    pub fn capacity(&self) -> u32 {
        self.profile.cores.max(1)
    }

    /// Forgets the largest job in flight once nothing is in flight (it only ever overestimates
    /// while jobs are).
    pub(crate) fn clear_largest(&mut self) {
        if self.jobs_in_flight == 0 {
            self.largest_in_flight = 0;
        }
    }

    /// The bond not locked by jobs in flight.
    pub fn bond_free(&self) -> Amount {
        self.bond.saturating_sub(self.bond_locked)
    }

    /// Whether the provider may be matched at `height`: not deregistering and heard from within
    /// `heartbeat_interval_blocks * heartbeat_missed_max` blocks.
    pub fn is_active(&self, params: &crate::Params, height: u64) -> bool {
        let silence_max = params
            .heartbeat_interval_blocks
            .saturating_mul(params.heartbeat_missed_max);
        self.unbonding_release.is_none()
            && height.saturating_sub(self.last_heartbeat_height) <= silence_max
    }
}

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
    state.accounts.entry(sender.clone()).or_default().balance -= bond;
    state.providers.insert(
        sender,
        Provider {
            endpoint: offer.endpoint.to_string(),
            profile: offer.profile.clone(),
            fuel_per_second: offer.fuel_per_second,
            ask_per_mfuel: offer.ask_per_mfuel,
            bond,
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
    Ok(())
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
    let mut provider = serving(state, &sender)?;
    check_offer(&offer)?;
    if state.account(&sender).balance < bond_add {
        return Err(Reason::InsufficientBalance);
    }
    provider.bond = provider
        .bond
        .checked_add(bond_add)
        .ok_or(Reason::Overflow)?;
    provider.endpoint = offer.endpoint.to_string();
    provider.profile = offer.profile.clone();
    provider.fuel_per_second = offer.fuel_per_second;
    provider.ask_per_mfuel = offer.ask_per_mfuel;
    provider.last_heartbeat_height = height;
    state.accounts.entry(sender.clone()).or_default().balance -= bond_add;
    state.providers.insert(sender, provider);
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
    if provider.jobs_in_flight > 0 || provider.bond_locked > 0 {
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
        if let Some(provider) = state.providers.remove(&address) {
            // A deregistering provider has no lock (refused while busy, never matched after).
            state.accounts.entry(address).or_default().balance += provider.bond;
        }
    }
}
