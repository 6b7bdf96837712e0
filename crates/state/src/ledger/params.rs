//! Chain parameters: set at genesis, changed by passed governance proposals
//! (`governance::proposals`) within the registry's bounds.

use plexus_fueltrace::params::AuditParams;
use plexus_storage::params::StorageParams;
use plexus_types::Amount;

/// The largest committee whose dealer logs fit in one transaction (`TX_SIZE_MAX`): a log carries a
/// 96-byte commitment per threshold member and a 64-byte acknowledgement (or a revealed share)
/// per player, about 3.5 KB at 20 (measured in tests/reshare.rs).
pub const COMMITTEE_SIZE_CAP: u32 = 20;

/// Chain parameters: set at genesis, changed by passed governance proposals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// The smallest fee a transaction may carry, in base units.
    pub fee_min: Amount,
    /// The smallest self-bond that registers a validator.
    pub self_bond_min: Amount,
    /// Blocks between an unbond and the release of its funds.
    pub unbonding_period_blocks: u64,
    /// Blocks per epoch; the committee is recomputed at each boundary.
    pub epoch_length_blocks: u64,
    /// The most validators in a committee (at most `COMMITTEE_SIZE_CAP`).
    pub committee_size_max: u32,
    /// The share of an equivocating validator's stake (self-bond and delegations) that is
    /// burned, in basis points.
    pub slash_bps: u32,
    /// The highest commission a validator may set, in basis points of its part of an epoch's
    /// validator emission (at most 10^4).
    pub commission_max_bps: u32,
    /// The commission a newly registered validator starts with, in basis points (at most
    /// `commission_max_bps`).
    pub commission_default_bps: u32,
    /// The fewest epochs between two commission changes of one validator (at least 1). A change
    /// takes effect from the next epoch's payout, so delegators always see a new rate for a
    /// whole epoch before it is applied.
    pub commission_change_epochs_min: u64,
    /// Blocks a governance proposal is open for votes after the block that made it.
    pub gov_voting_period_blocks: u64,
    /// The turnout a proposal needs, in basis points of the total bonded stake.
    pub gov_quorum_bps: u32,
    /// The share of yes in yes + no a proposal must exceed to pass, in basis points.
    pub gov_threshold_bps: u32,
    /// The share of veto in all votes cast (abstain included) that vetoes a proposal and burns
    /// its deposit, in basis points.
    pub gov_veto_bps: u32,
    /// The smallest deposit a proposal locks.
    pub gov_deposit_min: Amount,
    /// Blocks between a passed proposal's tally and the block at whose end its changes apply.
    pub gov_effect_delay_blocks: u64,
    /// The smallest bond that registers a compute provider.
    pub provider_bond_min: Amount,
    /// Blocks between a provider's deregistration and the release of its bond.
    pub provider_unbonding_blocks: u64,
    /// Blocks between the heartbeats a provider is expected to send.
    pub heartbeat_interval_blocks: u64,
    /// Missed heartbeat intervals after which a provider is inactive (not matched).
    pub heartbeat_missed_max: u64,
    /// Blocks between a job's commitment and its settlement (room for audits).
    pub settlement_window_blocks: u64,
    /// The longest deadline a job may ask for, in blocks.
    pub job_deadline_max_blocks: u64,
    /// The shortest deadline a job may ask for, in blocks: room for a provider to see the job,
    /// and at least to refuse it, before it can be slashed for missing it.
    pub job_deadline_min_blocks: u64,
    /// Blocks a finished job stays in the state before it is pruned.
    pub job_retention_blocks: u64,
    /// A provider locks this many times a job's value (at its ask) from its bond per job.
    pub bond_lock_multiple: u32,
    /// The share of a job's lock burned from the bond of a provider that misses the deadline,
    /// in basis points.
    pub deadline_slash_bps: u32,
    /// Reputation gained per settled job (reputation is capped at `REPUTATION_MAX`).
    pub reputation_done_gain: u32,
    /// Reputation lost per missed deadline (saturating at zero).
    pub reputation_miss_penalty: u32,
    /// FuelTrace: audits, disputes, slashes and rewards.
    pub audit: AuditParams,
    /// The storage market: coding, deal lengths, windows, burns, collateral and repairs.
    pub storage: StorageParams,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fee_min: 1_000,
            self_bond_min: 1_000 * plexus_types::PLX,
            unbonding_period_blocks: 100,
            epoch_length_blocks: 100,
            committee_size_max: COMMITTEE_SIZE_CAP,
            slash_bps: 500,
            commission_max_bps: 5_000,
            commission_default_bps: 1_000,
            commission_change_epochs_min: 1,
            gov_voting_period_blocks: 1_000,
            gov_quorum_bps: 3_340,
            gov_threshold_bps: 5_000,
            gov_veto_bps: 3_340,
            gov_deposit_min: 100 * plexus_types::PLX,
            gov_effect_delay_blocks: 10,
            provider_bond_min: 100 * plexus_types::PLX,
            provider_unbonding_blocks: 100,
            heartbeat_interval_blocks: 20,
            heartbeat_missed_max: 3,
            settlement_window_blocks: 5,
            job_deadline_max_blocks: 10_000,
            job_deadline_min_blocks: 10,
            job_retention_blocks: 10_000,
            bond_lock_multiple: 2,
            deadline_slash_bps: 10_000,
            reputation_done_gain: 10,
            reputation_miss_penalty: 1_000,
            audit: AuditParams::default(),
            storage: StorageParams::default(),
        }
    }
}

impl Params {
    /// Whether the staking parameters are usable: the commission bounds within 10^4 and each
    /// other, and a positive interval between commission changes. (The audit and storage
    /// sections have their own `check`.)
    pub fn check(&self) -> Result<(), &'static str> {
        if self.slash_bps > 10_000 {
            return Err("slash_bps must be at most 10^4");
        }
        if self.commission_max_bps > 10_000 {
            return Err("commission_max_bps must be at most 10^4");
        }
        if self.commission_default_bps > self.commission_max_bps {
            return Err("commission_default_bps must be at most commission_max_bps");
        }
        if self.commission_change_epochs_min == 0 {
            return Err("commission_change_epochs_min must be at least 1");
        }
        if self.gov_voting_period_blocks == 0 {
            return Err("gov_voting_period_blocks must be at least 1");
        }
        if self.gov_quorum_bps > 10_000 || self.gov_threshold_bps >= 10_000 {
            return Err("gov_quorum_bps must be at most 10^4 and gov_threshold_bps below it");
        }
        if self.gov_veto_bps == 0 || self.gov_veto_bps > 10_000 {
            return Err("gov_veto_bps must be between 1 and 10^4");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_each_commission_bound_is_checked() {
        assert_eq!(Params::default().check(), Ok(()));
        let with = |f: fn(&mut Params)| {
            let mut params = Params::default();
            f(&mut params);
            params.check()
        };
        assert!(with(|p| p.commission_max_bps = 10_001).is_err());
        assert!(with(|p| p.commission_default_bps = p.commission_max_bps + 1).is_err());
        assert!(with(|p| p.commission_change_epochs_min = 0).is_err());
        assert!(with(|p| p.slash_bps = 10_001).is_err());
        assert!(with(|p| p.gov_voting_period_blocks = 0).is_err());
        assert!(with(|p| p.gov_threshold_bps = 10_000).is_err());
        assert!(with(|p| p.gov_veto_bps = 0).is_err());
        assert_eq!(
            with(|p| {
                p.commission_max_bps = 10_000;
                p.commission_default_bps = 10_000;
            }),
            Ok(())
        );
    }
}
