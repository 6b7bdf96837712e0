//! Compute providers as the registry records them: bond, locks, liveness, reputation and record.
//! Invariants, checked by `State::recount`:
//! - `bond_locked` is the sum of the locks of the jobs assigned to the provider and not yet settled
//!   or expired and of the collateral of the storage shards drawn to it, `jobs_in_flight` the
//!   number of those jobs, and `bond_locked <= bond`;
//! - a deregistering provider (`unbonding_release` set) has no job in flight and is never matched,
//!   so its whole bond is free when it is released.

use crate::ledger::params::Params;
use plexus_types::Amount;
use plexus_types::job::ResourceProfile;

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
    /// The part of `bond` locked by jobs in flight and by the collateral of the shards it holds
    /// or was drawn to hold.
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

    /// The provider's weight in the chain's draws of work (a job, a shard): its bond times one
    /// more than its reputation, saturating (a weight that large only happens with a bond above
    /// 10^34 base units, and saturating keeps the draw deterministic).
    pub fn draw_weight(&self) -> u128 {
        self.bond.saturating_mul(u128::from(self.reputation) + 1)
    }

    /// The bond not locked by jobs in flight or shards held.
    pub fn bond_free(&self) -> Amount {
        self.bond.saturating_sub(self.bond_locked)
    }

    /// Whether the provider may be matched at `height`: not deregistering and heard from within
    /// `heartbeat_interval_blocks * heartbeat_missed_max` blocks.
    pub fn is_active(&self, params: &Params, height: u64) -> bool {
        let silence_max = params
            .heartbeat_interval_blocks
            .saturating_mul(params.heartbeat_missed_max);
        self.unbonding_release.is_none()
            && height.saturating_sub(self.last_heartbeat_height) <= silence_max
    }
}
