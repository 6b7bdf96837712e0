//! The canonical encoding of a whole `State`: what a node snapshots to disk so that a restart
//! replays only the blocks after the snapshot (and, later, what state sync ships).
//!
//! Snapshots are read back from the node's own storage. Collection lengths are bounded only by
//! `SNAPSHOT_ENTRIES_MAX`; bytes from a peer must be checked against a state root before use.

use crate::fueltrace::records::{
    AUDIT_DECLINES_MAX, Audit, AuditStage, Canary, Dispute, DisputeEnd, Emission, Ruling, Verifier,
};
use crate::ledger::epochs::EpochSchedule;
use crate::ledger::params::Params;
use crate::ledger::record_codec::fixed_record;
use crate::ledger::state::{Account, State, Unbonding, Validator};
use crate::ledger::value::Supply;
use crate::market::index::MarketIndex;
use crate::market::jobs::{Assignment, Job, JobStatus};
use crate::market::providers::Provider;
use crate::storage::records::{StorageIndex, StorageStats};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, ReadExt, Write};
use plexus_fueltrace::dissection::Dissection;
use plexus_fueltrace::draws::AuditKind;
use plexus_types::job::{
    AuditClass, Commitment, ENDPOINT_SIZE_MAX, ResourceProfile, read_str, str_encode_size,
    write_str,
};
use plexus_types::limits::JOB_BLOBS_MAX;
use plexus_types::{Address, ContentHash, Digest};

/// The most entries of one kind a snapshot may hold.
pub const SNAPSHOT_ENTRIES_MAX: usize = 1 << 32;

/// Format version, bumped whenever the encoding changes.
const SNAPSHOT_VERSION: u8 = 18;

fixed_record!(Account {
    balance: u128,
    nonce: u64,
    bonded: u128,
    unbonding: u128
});
fixed_record!(Validator {
    self_bond: u128,
    delegated: u128,
    jailed: bool,
    commission_bps: u32,
    commission_pending: Option<u32>,
    commission_changed_epoch: Option<u64>,
});
fixed_record!(Unbonding {
    owner: Address,
    amount: u128
});
fixed_record!(Params {
    fee_min: u128,
    self_bond_min: u128,
    unbonding_period_blocks: u64,
    epoch_length_blocks: u64,
    committee_size_max: u32,
    slash_bps: u32,
    commission_max_bps: u32,
    commission_default_bps: u32,
    commission_change_epochs_min: u64,
    gov_voting_period_blocks: u64,
    gov_quorum_bps: u32,
    gov_threshold_bps: u32,
    gov_veto_bps: u32,
    gov_deposit_min: u128,
    gov_effect_delay_blocks: u64,
    provider_bond_min: u128,
    provider_unbonding_blocks: u64,
    heartbeat_interval_blocks: u64,
    heartbeat_missed_max: u64,
    settlement_window_blocks: u64,
    job_deadline_max_blocks: u64,
    job_deadline_min_blocks: u64,
    job_retention_blocks: u64,
    bond_lock_multiple: u32,
    deadline_slash_bps: u32,
    reputation_done_gain: u32,
    reputation_miss_penalty: u32,
    audit: plexus_fueltrace::params::AuditParams,
    storage: plexus_storage::params::StorageParams,
});
fixed_record!(Assignment {
    provider: Address,
    ask_per_mfuel: u128,
    bond_locked: u128,
    height: u64,
});

impl Write for Provider {
    fn write(&self, buf: &mut impl BufMut) {
        write_str(&self.endpoint, buf);
        self.profile.write(buf);
        self.fuel_per_second.write(buf);
        self.ask_per_mfuel.write(buf);
        self.bond.write(buf);
        self.bond_locked.write(buf);
        self.jobs_in_flight.write(buf);
        self.largest_in_flight.write(buf);
        self.registered_height.write(buf);
        self.last_heartbeat_height.write(buf);
        self.reputation.write(buf);
        self.jobs_done.write(buf);
        self.jobs_missed.write(buf);
        self.audits_passed.write(buf);
        self.disputes_lost.write(buf);
        self.slashed.write(buf);
        self.unbonding_release.write(buf);
    }
}

impl EncodeSize for Provider {
    fn encode_size(&self) -> usize {
        str_encode_size(&self.endpoint)
            + self.profile.encode_size()
            + self.fuel_per_second.encode_size()
            + self.ask_per_mfuel.encode_size()
            + self.bond.encode_size()
            + self.bond_locked.encode_size()
            + self.jobs_in_flight.encode_size()
            + self.largest_in_flight.encode_size()
            + self.registered_height.encode_size()
            + self.last_heartbeat_height.encode_size()
            + self.reputation.encode_size()
            + self.jobs_done.encode_size()
            + self.jobs_missed.encode_size()
            + self.audits_passed.encode_size()
            + self.disputes_lost.encode_size()
            + self.slashed.encode_size()
            + self.unbonding_release.encode_size()
    }
}

impl Read for Provider {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Provider {
            endpoint: read_str(buf, ENDPOINT_SIZE_MAX, "Provider")?,
            profile: ResourceProfile::read(buf)?,
            fuel_per_second: u64::read(buf)?,
            ask_per_mfuel: u128::read(buf)?,
            bond: u128::read(buf)?,
            bond_locked: u128::read(buf)?,
            jobs_in_flight: u32::read(buf)?,
            largest_in_flight: u128::read(buf)?,
            registered_height: u64::read(buf)?,
            last_heartbeat_height: u64::read(buf)?,
            reputation: u32::read(buf)?,
            jobs_done: u64::read(buf)?,
            jobs_missed: u64::read(buf)?,
            audits_passed: u64::read(buf)?,
            disputes_lost: u64::read(buf)?,
            slashed: u128::read(buf)?,
            unbonding_release: Option::<u64>::read(buf)?,
        })
    }
}

fixed_record!(Verifier {
    bond: u128,
    fuel_per_second: u64,
    capacity: u32,
    locked: u128,
    open: u32,
    registered_height: u64,
    audits_done: u64,
    audits_missed: u64,
    audits_declined: u64,
    disputes_won: u64,
    disputes_lost: u64,
    canaries_flagged: u64,
    canaries_passed: u64,
    slashed: u128,
    earned: u128,
    unbonding_release: Option<u64>,
});
fixed_record!(Emission {
    validators: u128,
    providers: u128,
    verifiers: u128,
    storage: u128,
});

impl Write for AuditStage {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            AuditStage::Drawn => 0u8.write(buf),
            AuditStage::Sealed { seal } => {
                1u8.write(buf);
                seal.write(buf);
            }
            AuditStage::Passed => 2u8.write(buf),
            AuditStage::Disputed => 3u8.write(buf),
            AuditStage::Missed => 4u8.write(buf),
            AuditStage::Declined => 5u8.write(buf),
            AuditStage::Withdrawn => 6u8.write(buf),
        }
    }
}

impl EncodeSize for AuditStage {
    fn encode_size(&self) -> usize {
        1 + match self {
            AuditStage::Sealed { seal } => seal.encode_size(),
            _ => 0,
        }
    }
}

impl Read for AuditStage {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => AuditStage::Drawn,
            1 => AuditStage::Sealed {
                seal: Digest::read(buf)?,
            },
            2 => AuditStage::Passed,
            3 => AuditStage::Disputed,
            4 => AuditStage::Missed,
            5 => AuditStage::Declined,
            6 => AuditStage::Withdrawn,
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

fixed_record!(Canary {
    of: Digest,
    claim: Commitment,
    flagged: Option<bool>,
});
impl Write for Audit {
    fn write(&self, buf: &mut impl BufMut) {
        self.kind.write(buf);
        self.verifier.write(buf);
        self.drawn_height.write(buf);
        self.due_height.write(buf);
        self.stage.write(buf);
        self.paid.write(buf);
        self.canary.write(buf);
        self.declined.write(buf);
    }
}

impl EncodeSize for Audit {
    fn encode_size(&self) -> usize {
        self.kind.encode_size()
            + self.verifier.encode_size()
            + self.drawn_height.encode_size()
            + self.due_height.encode_size()
            + self.stage.encode_size()
            + self.paid.encode_size()
            + self.canary.encode_size()
            + self.declined.encode_size()
    }
}

impl Read for Audit {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Audit {
            kind: AuditKind::read(buf)?,
            verifier: Address::read(buf)?,
            drawn_height: u64::read(buf)?,
            due_height: u64::read(buf)?,
            stage: AuditStage::read(buf)?,
            paid: u128::read(buf)?,
            canary: Option::<Canary>::read(buf)?,
            declined: Vec::<Address>::read_cfg(buf, &(RangeCfg::from(..=AUDIT_DECLINES_MAX), ()))?,
        })
    }
}

impl Write for DisputeEnd {
    fn write(&self, buf: &mut impl BufMut) {
        (*self as u8).write(buf);
    }
}

impl EncodeSize for DisputeEnd {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for DisputeEnd {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(DisputeEnd::Replay),
            1 => Ok(DisputeEnd::Timeout),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

fixed_record!(Ruling {
    provider_lost: bool,
    end: DisputeEnd,
    slashed: u128,
    to_winner: u128,
    height: u64,
});
fixed_record!(Dispute {
    challenger: Address,
    by_verifier: bool,
    deposit: u128,
    game: Dissection,
    opened_height: u64,
    due_height: u64,
    ruling: Option<Ruling>,
});

const STATUS_POSTED: u8 = 0;
const STATUS_ASSIGNED: u8 = 1;
const STATUS_COMMITTED: u8 = 2;
const STATUS_SETTLED: u8 = 3;
const STATUS_EXPIRED: u8 = 4;
const STATUS_CANCELLED: u8 = 5;
const STATUS_REFUTED: u8 = 6;

impl Write for JobStatus {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            JobStatus::Posted => STATUS_POSTED.write(buf),
            JobStatus::Assigned(assignment) => {
                STATUS_ASSIGNED.write(buf);
                assignment.write(buf);
            }
            JobStatus::Committed {
                assignment,
                commitment,
                committed_height,
                settle_height,
            } => {
                STATUS_COMMITTED.write(buf);
                assignment.write(buf);
                commitment.write(buf);
                committed_height.write(buf);
                settle_height.write(buf);
            }
            JobStatus::Settled {
                assignment,
                commitment,
                committed_height,
                paid,
                burned,
                audit_fee,
                refunded,
                height,
            } => {
                STATUS_SETTLED.write(buf);
                assignment.write(buf);
                commitment.write(buf);
                committed_height.write(buf);
                paid.write(buf);
                burned.write(buf);
                audit_fee.write(buf);
                refunded.write(buf);
                height.write(buf);
            }
            JobStatus::Expired {
                assignment,
                refunded,
                slashed,
                height,
            } => {
                STATUS_EXPIRED.write(buf);
                assignment.write(buf);
                refunded.write(buf);
                slashed.write(buf);
                height.write(buf);
            }
            JobStatus::Cancelled { refunded, height } => {
                STATUS_CANCELLED.write(buf);
                refunded.write(buf);
                height.write(buf);
            }
            JobStatus::Refuted {
                assignment,
                commitment,
                committed_height,
                refunded,
                slashed,
                height,
            } => {
                STATUS_REFUTED.write(buf);
                assignment.write(buf);
                commitment.write(buf);
                committed_height.write(buf);
                refunded.write(buf);
                slashed.write(buf);
                height.write(buf);
            }
        }
    }
}

impl EncodeSize for JobStatus {
    fn encode_size(&self) -> usize {
        1 + match self {
            JobStatus::Posted => 0,
            JobStatus::Assigned(assignment) => assignment.encode_size(),
            JobStatus::Committed {
                assignment,
                commitment,
                ..
            } => assignment.encode_size() + commitment.encode_size() + 16,
            JobStatus::Settled {
                assignment,
                commitment,
                ..
            } => assignment.encode_size() + commitment.encode_size() + 8 + 16 * 4 + 8,
            JobStatus::Expired { assignment, .. } => assignment.encode_size() + 16 + 16 + 8,
            JobStatus::Cancelled { .. } => 16 + 8,
            JobStatus::Refuted {
                assignment,
                commitment,
                ..
            } => assignment.encode_size() + commitment.encode_size() + 8 + 16 + 16 + 8,
        }
    }
}

impl Read for JobStatus {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            STATUS_POSTED => JobStatus::Posted,
            STATUS_ASSIGNED => JobStatus::Assigned(Assignment::read(buf)?),
            STATUS_COMMITTED => JobStatus::Committed {
                assignment: Assignment::read(buf)?,
                commitment: Commitment::read(buf)?,
                committed_height: u64::read(buf)?,
                settle_height: u64::read(buf)?,
            },
            STATUS_SETTLED => JobStatus::Settled {
                assignment: Assignment::read(buf)?,
                commitment: Commitment::read(buf)?,
                committed_height: u64::read(buf)?,
                paid: u128::read(buf)?,
                burned: u128::read(buf)?,
                audit_fee: u128::read(buf)?,
                refunded: u128::read(buf)?,
                height: u64::read(buf)?,
            },
            STATUS_EXPIRED => JobStatus::Expired {
                assignment: Option::<Assignment>::read(buf)?,
                refunded: u128::read(buf)?,
                slashed: u128::read(buf)?,
                height: u64::read(buf)?,
            },
            STATUS_CANCELLED => JobStatus::Cancelled {
                refunded: u128::read(buf)?,
                height: u64::read(buf)?,
            },
            STATUS_REFUTED => JobStatus::Refuted {
                assignment: Assignment::read(buf)?,
                commitment: Commitment::read(buf)?,
                committed_height: u64::read(buf)?,
                refunded: u128::read(buf)?,
                slashed: u128::read(buf)?,
                height: u64::read(buf)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

impl Write for Job {
    fn write(&self, buf: &mut impl BufMut) {
        self.consumer.write(buf);
        self.module.write(buf);
        self.blobs.write(buf);
        self.input.write(buf);
        self.max_fuel.write(buf);
        self.price_cap_per_mfuel.write(buf);
        self.audit.write(buf);
        self.posted_height.write(buf);
        self.deadline_height.write(buf);
        self.escrow.write(buf);
        self.status.write(buf);
    }
}

impl EncodeSize for Job {
    fn encode_size(&self) -> usize {
        self.consumer.encode_size()
            + self.module.encode_size()
            + self.blobs.encode_size()
            + self.input.encode_size()
            + self.max_fuel.encode_size()
            + self.price_cap_per_mfuel.encode_size()
            + self.audit.encode_size()
            + self.posted_height.encode_size()
            + self.deadline_height.encode_size()
            + self.escrow.encode_size()
            + self.status.encode_size()
    }
}

impl Read for Job {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Job {
            consumer: Address::read(buf)?,
            module: ContentHash::read(buf)?,
            blobs: Read::read_cfg(buf, &((..=JOB_BLOBS_MAX).into(), ()))?,
            input: ContentHash::read(buf)?,
            max_fuel: u64::read(buf)?,
            price_cap_per_mfuel: u128::read(buf)?,
            audit: AuditClass::read(buf)?,
            posted_height: u64::read(buf)?,
            deadline_height: u64::read(buf)?,
            escrow: u128::read(buf)?,
            status: JobStatus::read(buf)?,
        })
    }
}

impl Write for State {
    fn write(&self, buf: &mut impl BufMut) {
        SNAPSHOT_VERSION.write(buf);
        self.chain_id.write(buf);
        self.params.write(buf);
        self.height.write(buf);
        self.block_hash.write(buf);
        self.timestamp_ms.write(buf);
        self.beacon.write(buf);
        self.beacon_key.write(buf);
        self.accounts.write(buf);
        self.validators.write(buf);
        self.delegations.write(buf);
        self.unbondings.write(buf);
        self.unbonding_seq.write(buf);
        self.committee.write(buf);
        self.next_committee.write(buf);
        self.dealer_logs.write(buf);
        self.epoch_committees.write(buf);
        self.epoch_boundary.write(buf);
        self.epochs.write(buf);
        self.supply.write(buf);
        self.slashes.write(buf);
        self.recent_blocks.write(buf);
        self.participation.write(buf);
        self.providers.write(buf);
        self.jobs.write(buf);
        self.verifiers.write(buf);
        self.audits.write(buf);
        self.disputes.write(buf);
        self.audit_pool.write(buf);
        self.epoch_audited_fuel.write(buf);
        self.epoch_verifier_audits.write(buf);
        self.emissions.write(buf);
        self.storage_offers.write(buf);
        self.deals.write(buf);
        self.storage_stats.write(buf);
        self.rewards.write(buf);
        self.proposals.write(buf);
    }
}

impl EncodeSize for State {
    fn encode_size(&self) -> usize {
        SNAPSHOT_VERSION.encode_size()
            + self.chain_id.encode_size()
            + self.params.encode_size()
            + self.height.encode_size()
            + self.block_hash.encode_size()
            + self.timestamp_ms.encode_size()
            + self.beacon.encode_size()
            + self.beacon_key.encode_size()
            + self.accounts.encode_size()
            + self.validators.encode_size()
            + self.delegations.encode_size()
            + self.unbondings.encode_size()
            + self.unbonding_seq.encode_size()
            + self.committee.encode_size()
            + self.next_committee.encode_size()
            + self.dealer_logs.encode_size()
            + self.epoch_committees.encode_size()
            + self.epoch_boundary.encode_size()
            + self.epochs.encode_size()
            + self.supply.encode_size()
            + self.slashes.encode_size()
            + self.recent_blocks.encode_size()
            + self.participation.encode_size()
            + self.providers.encode_size()
            + self.jobs.encode_size()
            + self.verifiers.encode_size()
            + self.audits.encode_size()
            + self.disputes.encode_size()
            + self.audit_pool.encode_size()
            + self.epoch_audited_fuel.encode_size()
            + self.epoch_verifier_audits.encode_size()
            + self.emissions.encode_size()
            + self.storage_offers.encode_size()
            + self.deals.encode_size()
            + self.storage_stats.encode_size()
            + self.rewards.encode_size()
            + self.proposals.encode_size()
    }
}

impl Read for State {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let version = u8::read(buf)?;
        if version != SNAPSHOT_VERSION {
            return Err(Error::Invalid("State", "unknown snapshot version"));
        }
        let entries = || -> RangeCfg<usize> { (..=SNAPSHOT_ENTRIES_MAX).into() };
        let mut state = State {
            chain_id: u64::read(buf)?,
            params: Params::read(buf)?,
            height: u64::read(buf)?,
            block_hash: Digest::read(buf)?,
            timestamp_ms: u64::read(buf)?,
            beacon: Digest::read(buf)?,
            beacon_key: Read::read_cfg(buf, &plexus_types::beacon::sharing_cfg())?,
            accounts: Read::read_cfg(buf, &(entries(), ((), ())))?,
            validators: Read::read_cfg(buf, &(entries(), ((), ())))?,
            delegations: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            unbondings: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            unbonding_seq: u64::read(buf)?,
            committee: Read::read_cfg(buf, &(entries(), ()))?,
            next_committee: Read::read_cfg(buf, &(entries(), ()))?,
            dealer_logs: Read::read_cfg(buf, &(entries(), ((), (entries(), ()))))?,
            epoch_committees: Read::read_cfg(buf, &(entries(), ((), (entries(), ()))))?,
            epoch_boundary: Digest::read(buf)?,
            epochs: EpochSchedule::read(buf)?,
            supply: Supply::read(buf)?,
            slashes: Read::read_cfg(buf, &(entries(), (((), (), ()), ())))?,
            recent_blocks: Read::read_cfg(buf, &(entries(), ((), ((), ()))))?,
            participation: Read::read_cfg(buf, &(entries(), (((), ()), ())))?,
            providers: Read::read_cfg(buf, &(entries(), ((), ())))?,
            jobs: Read::read_cfg(buf, &(entries(), ((), ())))?,
            verifiers: Read::read_cfg(buf, &(entries(), ((), ())))?,
            audits: Read::read_cfg(buf, &(entries(), ((), ())))?,
            disputes: Read::read_cfg(buf, &(entries(), ((), ())))?,
            audit_pool: u128::read(buf)?,
            epoch_audited_fuel: Read::read_cfg(buf, &(entries(), ((), ())))?,
            epoch_verifier_audits: Read::read_cfg(buf, &(entries(), ((), ())))?,
            emissions: Read::read_cfg(buf, &(entries(), ((), ())))?,
            storage_offers: Read::read_cfg(buf, &(entries(), ((), ())))?,
            deals: Read::read_cfg(buf, &(entries(), ((), ())))?,
            storage_stats: StorageStats::read(buf)?,
            rewards: Read::read_cfg(buf, &(entries(), ((), ())))?,
            proposals: Read::read_cfg(buf, &(entries(), ((), ())))?,
            unbonding_counts: Default::default(),
            market_index: MarketIndex::default(),
            storage_index: StorageIndex::default(),
        };
        // Derived data is rebuilt, not stored.
        for entry in state.unbondings.values() {
            *state
                .unbonding_counts
                .entry(entry.owner.clone())
                .or_default() += 1;
        }
        state.market_index = MarketIndex::derive(&state);
        let epoch = state.epoch_of(state.height + 1);
        state.storage_index = StorageIndex::derive(&state.deals, epoch);
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Genesis, GenesisValidator, Params, State, build_block};
    use commonware_codec::{DecodeExt, Encode};
    use commonware_cryptography::Signer;
    use plexus_types::{Address, PLX, Payload, PrivateKey, Transaction};

    #[test]
    fn round_trips_every_collection() {
        let key = |i: u64| PrivateKey::from_seed(i);
        let address = |i: u64| Address(key(i).public_key());
        let (state, _) = Genesis {
            chain_id: 5,
            timestamp_ms: 1,
            params: Params::default(),
            allocations: (0..3).map(|i| (address(i), 100_000 * PLX)).collect(),
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: 10_000 * PLX,
            }],
            beacon: crate::beacon::DevBeacon::deal(0, [key(0).public_key()]).output,
        }
        .build()
        .unwrap();
        let tx = |from: u64, nonce: u64, payload| {
            Transaction {
                chain_id: 5,
                sender: address(from),
                nonce,
                fee: 1_000,
                payload,
            }
            .sign(&key(from))
        };
        let txs = vec![
            tx(
                1,
                0,
                Payload::Delegate {
                    validator: address(0),
                    amount: 5 * PLX,
                },
            ),
            tx(
                1,
                1,
                Payload::Undelegate {
                    validator: address(0),
                    amount: PLX,
                },
            ),
            tx(
                2,
                0,
                Payload::Transfer {
                    to: address(9),
                    amount: 7,
                },
            ),
        ];
        let built = build_block(&state, txs, 2, key(0).public_key(), None).unwrap();
        let state = built.state;
        assert!(!state.delegations.is_empty() && !state.unbondings.is_empty());
        let bytes = state.encode();
        let decoded = State::decode(bytes.clone()).unwrap();
        assert_eq!(decoded, state);
        assert_eq!(decoded.root(), state.root());
        let mut wrong_version = bytes.to_vec();
        wrong_version[0] = 99;
        assert!(State::decode(commonware_codec::Copying(&wrong_version[..])).is_err());
        assert!(State::decode(commonware_codec::Copying(&bytes[..bytes.len() - 1])).is_err());

        // A scheduled change of epoch length is in the snapshot and in the root.
        let mut changed = state.clone();
        changed.epochs.change_from(2, 7);
        assert_ne!(changed.root(), state.root());
        let decoded = State::decode(changed.encode()).unwrap();
        assert_eq!(decoded.epochs, changed.epochs);
        assert_eq!(decoded.root(), changed.root());
    }
}
