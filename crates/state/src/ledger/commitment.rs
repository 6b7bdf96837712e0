//! The state root and account proofs.
//!
//! The state is committed as a binary Merkle tree (Commonware's BMT over SHA-256) whose leaves are
//! the hashes of every ledger entry in a fixed order: accounts by address, then validators,
//! delegations, unbonding entries, providers, jobs (each as its snapshot encoding), verifiers,
//! audits, disputes, the epoch's reward weights and recent emissions, storage offers and open
//! deals, accrued staking rewards, governance proposals, and one leaf for the chain-wide values (the audit pool among them). An account's position
//! is its rank among accounts, so a light client holding a finalized state root can check a proof
//! that an address has a given balance, nonce and stake.
//!
//! Why not qmdb (yet): `apply` must be pure and synchronous, and unfinalized blocks need cheap
//! speculative forks of the state; qmdb is an async database over runtime storage. The tree is
//! rebuilt from cached leaf hashes when a root is asked for; ARCHITECTURE.md records the measured
//! cost and the path to an incremental store.

use crate::ledger::state::{Account, State};
use bytes::BufMut;
use commonware_codec::{Encode, Write};
use commonware_cryptography::{Hasher, Sha256};
use commonware_storage::bmt::{self, Proof};
use plexus_types::{Address, Digest};

const TAG_ACCOUNT: u8 = 0;
const TAG_VALIDATOR: u8 = 1;
const TAG_DELEGATION: u8 = 2;
const TAG_UNBONDING: u8 = 3;
const TAG_GLOBAL: u8 = 4;
const TAG_SLASH: u8 = 5;
const TAG_RECENT_BLOCK: u8 = 6;
const TAG_PARTICIPATION: u8 = 7;
const TAG_DEALER_LOG: u8 = 8;
const TAG_EPOCH_COMMITTEE: u8 = 9;
const TAG_PROVIDER: u8 = 10;
const TAG_JOB: u8 = 11;
const TAG_VERIFIER: u8 = 12;
const TAG_AUDIT: u8 = 13;
const TAG_DISPUTE: u8 = 14;
const TAG_AUDITED_FUEL: u8 = 15;
const TAG_VERIFIER_AUDITS: u8 = 16;
const TAG_EMISSION: u8 = 17;
const TAG_STORAGE_OFFER: u8 = 18;
const TAG_DEAL: u8 = 19;
const TAG_REWARD: u8 = 20;
const TAG_PROPOSAL: u8 = 21;

/// The leaf hash that commits to one account.
pub fn account_leaf(address: &Address, account: &Account) -> Digest {
    let mut buf = Vec::with_capacity(1 + 32 + 16 * 3 + 8);
    buf.put_u8(TAG_ACCOUNT);
    address.0.write(&mut buf);
    account.balance.write(&mut buf);
    account.nonce.write(&mut buf);
    account.bonded.write(&mut buf);
    account.unbonding.write(&mut buf);
    Sha256::hash(&[&buf])
}

impl State {
    fn leaves(&self) -> Vec<Digest> {
        let mut leaves = Vec::with_capacity(
            self.accounts.len()
                + self.validators.len()
                + self.delegations.len()
                + self.unbondings.len()
                + self.slashes.len()
                + self.recent_blocks.len()
                + self.participation.len()
                + self.providers.len()
                + self.jobs.len()
                + 1,
        );
        leaves.extend(self.accounts.iter().map(|(a, acc)| account_leaf(a, acc)));
        self.stake_leaves(&mut leaves);
        self.market_leaves(&mut leaves);
        self.fueltrace_leaves(&mut leaves);
        self.storage_leaves(&mut leaves);
        for (owner, accrued) in &self.rewards {
            let mut buf = vec![TAG_REWARD];
            owner.0.write(&mut buf);
            accrued.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (id, proposal) in &self.proposals {
            let mut buf = vec![TAG_PROPOSAL];
            id.write(&mut buf);
            proposal.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        leaves.push(self.global_leaf());
        leaves
    }

    /// Validators, slashes, delegations, recent blocks, participation, dealer logs, epoch
    /// committees and unbonding entries, in that order.
    fn stake_leaves(&self, leaves: &mut Vec<Digest>) {
        for (address, validator) in &self.validators {
            let mut buf = vec![TAG_VALIDATOR];
            address.0.write(&mut buf);
            validator.self_bond.write(&mut buf);
            validator.delegated.write(&mut buf);
            validator.jailed.write(&mut buf);
            validator.commission_bps.write(&mut buf);
            validator.commission_pending.write(&mut buf);
            validator.commission_changed_epoch.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for ((offender, epoch, view), amount) in &self.slashes {
            let mut buf = vec![TAG_SLASH];
            offender.0.write(&mut buf);
            epoch.write(&mut buf);
            view.write(&mut buf);
            amount.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for ((delegator, validator), amount) in &self.delegations {
            let mut buf = vec![TAG_DELEGATION];
            delegator.0.write(&mut buf);
            validator.0.write(&mut buf);
            amount.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (height, (hash, recorded)) in &self.recent_blocks {
            let mut buf = vec![TAG_RECENT_BLOCK];
            height.write(&mut buf);
            hash.write(&mut buf);
            recorded.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for ((epoch, validator), count) in &self.participation {
            let mut buf = vec![TAG_PARTICIPATION];
            epoch.write(&mut buf);
            validator.0.write(&mut buf);
            count.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (dealer, log) in &self.dealer_logs {
            let mut buf = vec![TAG_DEALER_LOG];
            dealer.0.write(&mut buf);
            log.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (epoch, committee) in &self.epoch_committees {
            let mut buf = vec![TAG_EPOCH_COMMITTEE];
            epoch.write(&mut buf);
            for member in committee {
                member.0.write(&mut buf);
            }
            leaves.push(Sha256::hash(&[&buf]));
        }
        for ((release, seq), entry) in &self.unbondings {
            let mut buf = vec![TAG_UNBONDING];
            release.write(&mut buf);
            seq.write(&mut buf);
            entry.owner.0.write(&mut buf);
            entry.amount.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
    }

    /// Providers, then jobs.
    fn market_leaves(&self, leaves: &mut Vec<Digest>) {
        for (address, provider) in &self.providers {
            let mut buf = vec![TAG_PROVIDER];
            address.0.write(&mut buf);
            provider.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (id, job) in &self.jobs {
            let mut buf = vec![TAG_JOB];
            id.write(&mut buf);
            job.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
    }

    /// Verifiers, audits, disputes, the epoch's emission weights and the recent emissions.
    fn fueltrace_leaves(&self, leaves: &mut Vec<Digest>) {
        for (address, verifier) in &self.verifiers {
            let mut buf = vec![TAG_VERIFIER];
            address.0.write(&mut buf);
            verifier.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (id, audit) in &self.audits {
            let mut buf = vec![TAG_AUDIT];
            id.write(&mut buf);
            audit.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (id, dispute) in &self.disputes {
            let mut buf = vec![TAG_DISPUTE];
            id.write(&mut buf);
            dispute.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (provider, fuel) in &self.epoch_audited_fuel {
            let mut buf = vec![TAG_AUDITED_FUEL];
            provider.0.write(&mut buf);
            fuel.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (verifier, count) in &self.epoch_verifier_audits {
            let mut buf = vec![TAG_VERIFIER_AUDITS];
            verifier.0.write(&mut buf);
            count.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (epoch, emission) in &self.emissions {
            let mut buf = vec![TAG_EMISSION];
            epoch.write(&mut buf);
            emission.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
    }

    /// Storage offers, then open deals (each as its snapshot encoding).
    fn storage_leaves(&self, leaves: &mut Vec<Digest>) {
        for (address, offer) in &self.storage_offers {
            let mut buf = vec![TAG_STORAGE_OFFER];
            address.0.write(&mut buf);
            offer.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
        for (id, deal) in &self.deals {
            let mut buf = vec![TAG_DEAL];
            id.write(&mut buf);
            deal.write(&mut buf);
            leaves.push(Sha256::hash(&[&buf]));
        }
    }

    /// Everything chain-wide, except the block hash (the header that carries this root is hashed
    /// into it, so including it would be circular).
    fn global_leaf(&self) -> Digest {
        let mut buf = vec![TAG_GLOBAL];
        self.chain_id.write(&mut buf);
        self.params.fee_min.write(&mut buf);
        self.params.self_bond_min.write(&mut buf);
        self.params.unbonding_period_blocks.write(&mut buf);
        self.params.epoch_length_blocks.write(&mut buf);
        self.params.committee_size_max.write(&mut buf);
        self.params.slash_bps.write(&mut buf);
        self.params.commission_max_bps.write(&mut buf);
        self.params.commission_default_bps.write(&mut buf);
        self.params.commission_change_epochs_min.write(&mut buf);
        self.params.gov_voting_period_blocks.write(&mut buf);
        self.params.gov_quorum_bps.write(&mut buf);
        self.params.gov_threshold_bps.write(&mut buf);
        self.params.gov_veto_bps.write(&mut buf);
        self.params.gov_deposit_min.write(&mut buf);
        self.params.gov_effect_delay_blocks.write(&mut buf);
        self.params.provider_bond_min.write(&mut buf);
        self.params.provider_unbonding_blocks.write(&mut buf);
        self.params.heartbeat_interval_blocks.write(&mut buf);
        self.params.heartbeat_missed_max.write(&mut buf);
        self.params.settlement_window_blocks.write(&mut buf);
        self.params.job_deadline_max_blocks.write(&mut buf);
        self.params.job_deadline_min_blocks.write(&mut buf);
        self.params.job_retention_blocks.write(&mut buf);
        self.params.bond_lock_multiple.write(&mut buf);
        self.params.deadline_slash_bps.write(&mut buf);
        self.params.reputation_done_gain.write(&mut buf);
        self.params.reputation_miss_penalty.write(&mut buf);
        self.params.audit.write(&mut buf);
        self.params.storage.write(&mut buf);
        self.height.write(&mut buf);
        self.timestamp_ms.write(&mut buf);
        self.beacon.write(&mut buf);
        self.beacon_key.write(&mut buf);
        (self.committee.len() as u32).write(&mut buf);
        for member in &self.committee {
            member.0.write(&mut buf);
        }
        self.epoch_boundary.write(&mut buf);
        self.epochs.write(&mut buf);
        (self.next_committee.len() as u32).write(&mut buf);
        for member in &self.next_committee {
            member.0.write(&mut buf);
        }
        self.supply.total().write(&mut buf);
        self.supply.minted().write(&mut buf);
        self.supply.burned().write(&mut buf);
        self.audit_pool.write(&mut buf);
        self.unbonding_seq.write(&mut buf);
        self.storage_stats.write(&mut buf);
        Sha256::hash(&[&buf])
    }

    fn tree(&self) -> bmt::Tree<Digest> {
        let leaves = self.leaves();
        let mut builder = bmt::Builder::<Sha256>::new(leaves.len());
        for leaf in &leaves {
            builder.add(leaf);
        }
        builder.build()
    }

    /// The state root: what the header of the block that produced this state carries.
    pub fn root(&self) -> Digest {
        self.tree().root()
    }

    /// A proof of `address`'s account against `self.root()`, or `None` for an address with no
    /// account entry (absence proofs are not supported yet).
    pub fn prove_account(&self, address: &Address) -> Option<AccountProof> {
        let position = self.accounts.keys().position(|a| a == address)?;
        let account = self.accounts.get(address)?.clone();
        let position = u32::try_from(position).ok()?;
        let proof = self.tree().proof(position).ok()?;
        Some(AccountProof {
            address: address.clone(),
            account,
            position,
            proof: proof.encode().to_vec(),
        })
    }
}

/// An account's value with a Merkle proof against a state root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    pub address: Address,
    pub account: Account,
    /// The account's leaf position in the state tree.
    pub position: u32,
    /// The encoded BMT proof.
    pub proof: Vec<u8>,
}

/// Why an account proof does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("the proof bytes do not decode: {0}")]
    Decode(#[from] commonware_codec::Error),
    #[error("the proof does not lead to the state root: {0}")]
    Mismatch(#[from] bmt::Error),
}

/// Checks that `proof` shows its account value under `state_root`. Needs nothing but the root.
pub fn verify_account_proof(proof: &AccountProof, state_root: &Digest) -> Result<(), ProofError> {
    use commonware_codec::Decode;
    let decoded =
        Proof::<Digest>::decode_cfg(commonware_codec::Copying(proof.proof.as_slice()), &1)?;
    let leaf = account_leaf(&proof.address, &proof.account);
    decoded.verify_element_inclusion::<Sha256>(&leaf, proof.position, state_root)?;
    Ok(())
}
