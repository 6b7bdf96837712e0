//! Genesis: the allocation, the first validators and the parameters, turned into height-0 state.

use crate::ledger::epochs::EpochSchedule;
use crate::ledger::params::{COMMITTEE_SIZE_CAP, Params};
use crate::ledger::state::State;
use crate::ledger::value::Supply;
use crate::staking::bonds;
use plexus_types::{Address, Amount, BeaconOutput, ChainId, Header, block::tx_root, hash};
use std::collections::BTreeMap;

/// A validator present from the first block, bonding `self_bond` out of its allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisValidator {
    pub address: Address,
    pub self_bond: Amount,
}

/// Everything needed to build the first state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    pub chain_id: ChainId,
    pub timestamp_ms: u64,
    pub params: Params,
    /// Minted at genesis (the only mint until emissions land).
    pub allocations: Vec<(Address, Amount)>,
    pub validators: Vec<GenesisValidator>,
    /// The first committee's beacon key (see [`crate::staking::beacon::deal`]): one share per member of
    /// the genesis committee, in canonical key order.
    pub beacon: BeaconOutput,
}

/// A genesis that cannot start a chain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    #[error("address {0} is allocated twice")]
    DuplicateAllocation(Box<Address>),
    #[error("address {0} is a small-order key that anyone can sign for")]
    WeakKey(Box<Address>),
    #[error("the allocations overflow 128 bits")]
    Overflow,
    #[error("validator {0} cannot bond its self-bond from its allocation")]
    Unfunded(Box<Address>),
    #[error("validator {address} self-bond {self_bond} is below the minimum {min}")]
    BondTooSmall {
        address: Box<Address>,
        self_bond: Amount,
        min: Amount,
    },
    #[error("genesis has no validator that meets the minimum self-bond")]
    NoCommittee,
    #[error("epochs must be at least 2 blocks long, not {0}")]
    EpochTooShort(u64),
    #[error("committees may have at most {cap} members (dealer logs must fit a transaction), not {0}", cap = COMMITTEE_SIZE_CAP)]
    CommitteeTooLarge(u32),
    #[error("the beacon key's shares were not dealt to exactly the genesis committee")]
    BeaconHolders,
    #[error("params: {0}")]
    Params(&'static str),
}

impl Genesis {
    /// The genesis committee: who must hold the beacon key's shares (dealt in canonical key
    /// order, which `beacon::deal` sorts into).
    pub fn committee(&self) -> Result<Vec<Address>, GenesisError> {
        Ok(self.ledger()?.committee)
    }

    /// Builds the height-0 state and the genesis header (whose hash is the first block's parent).
    pub fn build(&self) -> Result<(State, Header), GenesisError> {
        let mut state = self.ledger()?;
        let holders: Vec<_> = self
            .beacon
            .players()
            .iter()
            .map(|k| Address(k.clone()))
            .collect();
        let mut committee = state.committee.clone();
        committee.sort();
        if holders != committee {
            return Err(GenesisError::BeaconHolders);
        }
        let header = Header {
            parent: hash(&[]),
            height: 0,
            timestamp_ms: self.timestamp_ms,
            proposer: state.committee[0].0.clone(),
            tx_root: tx_root(&[]),
            state_root: state.root(),
            beacon: None,
        };
        state.block_hash = header.digest();
        state.epoch_boundary = state.block_hash;
        Ok((state, header))
    }

    /// The allocations, bonds and first committee, before the beacon key is checked.
    fn ledger(&self) -> Result<State, GenesisError> {
        self.params.check().map_err(GenesisError::Params)?;
        if self.params.epoch_length_blocks < 2 {
            return Err(GenesisError::EpochTooShort(self.params.epoch_length_blocks));
        }
        if self.params.committee_size_max > COMMITTEE_SIZE_CAP {
            return Err(GenesisError::CommitteeTooLarge(
                self.params.committee_size_max,
            ));
        }
        let mut state = State {
            chain_id: self.chain_id,
            params: self.params.clone(),
            height: 0,
            block_hash: hash(&[]),
            timestamp_ms: self.timestamp_ms,
            beacon: hash(&[b"plexus/genesis-beacon", &self.chain_id.to_be_bytes()]),
            accounts: BTreeMap::new(),
            validators: BTreeMap::new(),
            delegations: BTreeMap::new(),
            unbondings: BTreeMap::new(),
            unbonding_seq: 0,
            unbonding_counts: BTreeMap::new(),
            committee: Vec::new(),
            supply: Supply::default(),
            slashes: BTreeMap::new(),
            recent_blocks: BTreeMap::new(),
            participation: BTreeMap::new(),
            beacon_key: self.beacon.clone(),
            next_committee: Vec::new(),
            dealer_logs: BTreeMap::new(),
            epoch_committees: BTreeMap::new(),
            epoch_boundary: hash(&[]),
            epochs: EpochSchedule::new(self.params.epoch_length_blocks),
            providers: BTreeMap::new(),
            jobs: BTreeMap::new(),
            market_index: Default::default(),
            verifiers: BTreeMap::new(),
            audits: BTreeMap::new(),
            disputes: BTreeMap::new(),
            audit_pool: 0,
            epoch_audited_fuel: BTreeMap::new(),
            epoch_verifier_audits: BTreeMap::new(),
            emissions: BTreeMap::new(),
            storage_offers: BTreeMap::new(),
            deals: BTreeMap::new(),
            storage_index: Default::default(),
            storage_stats: Default::default(),
            rewards: BTreeMap::new(),
            proposals: BTreeMap::new(),
        };
        let named = self.allocations.iter().map(|(address, _)| address);
        if let Some(weak) = named
            .chain(self.validators.iter().map(|v| &v.address))
            .find(|address| address.is_weak())
        {
            return Err(GenesisError::WeakKey(Box::new(weak.clone())));
        }
        for (address, amount) in &self.allocations {
            if state.accounts.contains_key(address) {
                return Err(GenesisError::DuplicateAllocation(Box::new(address.clone())));
            }
            state
                .mint_checked_to(address, *amount)
                .map_err(|_| GenesisError::Overflow)?;
        }
        for validator in &self.validators {
            if validator.self_bond < self.params.self_bond_min {
                return Err(GenesisError::BondTooSmall {
                    address: Box::new(validator.address.clone()),
                    self_bond: validator.self_bond,
                    min: self.params.self_bond_min,
                });
            }
            bonds::bond(&mut state, validator.address.clone(), validator.self_bond)
                .map_err(|_| GenesisError::Unfunded(Box::new(validator.address.clone())))?;
        }
        state.committee = bonds::elect_committee(&state);
        if state.committee.is_empty() {
            return Err(GenesisError::NoCommittee);
        }
        state.next_committee = state.committee.clone();
        state.epoch_committees.insert(0, state.committee.clone());
        Ok(state)
    }
}
