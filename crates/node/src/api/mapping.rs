//! The JSON form (`plexus_client::dto`) of the chain's records: blocks, transactions and
//! receipts, providers, verifiers, jobs with their audits and disputes, stored files and storage
//! offers. Pure functions of the state; every protocol state becomes its DTO enum here and
//! nowhere else.

use plexus_client::dto::*;
use plexus_state::State as LedgerState;
use plexus_types::{Address, Block, Payload, Receipt, SignedTransaction, Status, hash::digest_hex};

pub(super) fn receipt_dto(receipt: &Receipt) -> ReceiptDto {
    let (status, reason) = match receipt.status {
        Status::Success => (ReceiptStatus::Success, None),
        Status::Failed(r) => (ReceiptStatus::Failed, Some(r.code().to_string())),
        Status::Rejected(r) => (ReceiptStatus::Rejected, Some(r.code().to_string())),
    };
    ReceiptDto {
        tx_hash: digest_hex(&receipt.tx_hash),
        status,
        reason,
        fee_burned: receipt.fee_burned.to_string(),
    }
}

fn tx_dto(tx: &SignedTransaction, receipt: Option<&Receipt>) -> TxDto {
    let (target, amount) = match &tx.tx.payload {
        Payload::Transfer { to, amount } => (Some(to.to_string()), *amount),
        Payload::Bond { amount } | Payload::Unbond { amount } => (None, *amount),
        Payload::Delegate { validator, amount } | Payload::Undelegate { validator, amount } => {
            (Some(validator.to_string()), *amount)
        }
        Payload::ProviderRegister { bond: amount, .. }
        | Payload::ProviderUpdate {
            bond_add: amount, ..
        }
        | Payload::VerifierRegister { bond: amount, .. } => (None, *amount),
        // The escrow it takes (zero if it would overflow: such a post fails).
        Payload::JobPost {
            max_fuel,
            price_cap_per_mfuel,
            ..
        } => (
            None,
            plexus_types::job::fuel_cost_ceil(*max_fuel, *price_cap_per_mfuel).unwrap_or(0),
        ),
        Payload::JobCommit { job, .. }
        | Payload::JobCancel { job }
        | Payload::AuditCommit { job, .. }
        | Payload::AuditReveal { job, .. }
        | Payload::DisputeOpen { job, .. }
        | Payload::DisputeMove { job, .. }
        | Payload::DisputeSettle { job, .. }
        | Payload::AuditDecline { job } => (Some(digest_hex(job)), 0),
        // The escrow it takes (zero if it would overflow: such a post fails).
        Payload::DealPost {
            segments,
            n,
            price_cap_per_gib_epoch,
            epochs,
            ..
        } => (
            None,
            plexus_storage::money::deal_escrow_ceil(
                *price_cap_per_gib_epoch,
                segments,
                *n,
                *epochs,
            )
            .unwrap_or(0),
        ),
        Payload::ShardAccept { deal, .. }
        | Payload::DealExtend { deal, .. }
        | Payload::DealEnd { deal }
        | Payload::StorageProof { deal, .. }
        | Payload::FaultDeclare { deal, .. } => (Some(digest_hex(deal)), 0),
        Payload::StorageOffer { .. } | Payload::GovVote { .. } => (None, 0),
        // The deposit it holds until the vote ends.
        Payload::GovPropose { deposit, .. } => (None, *deposit),
        Payload::Evidence { .. }
        | Payload::Participation { .. }
        | Payload::DealerLog { .. }
        | Payload::CommissionSet { .. }
        | Payload::RewardsWithdraw
        | Payload::ProviderHeartbeat
        | Payload::ProviderDeregister
        | Payload::VerifierDeregister => (None, 0),
    };
    TxDto {
        hash: digest_hex(&tx.hash()),
        sender: tx.tx.sender.to_string(),
        nonce: tx.tx.nonce,
        fee: tx.tx.fee.to_string(),
        kind: tx.tx.payload.kind().to_string(),
        target,
        amount: amount.to_string(),
        receipt: receipt.map(receipt_dto),
    }
}

/// The JSON form of a stored block.
pub fn block_dto(block: &Block, receipts: &[Receipt]) -> BlockDto {
    let h = &block.header;
    BlockDto {
        height: h.height,
        hash: digest_hex(&block.digest()),
        parent: digest_hex(&h.parent),
        timestamp: h.timestamp_ms,
        proposer: Address(h.proposer.clone()).to_string(),
        tx_root: digest_hex(&h.tx_root),
        state_root: digest_hex(&h.state_root),
        seed: digest_hex(&h.seed()),
        beacon_signature: h
            .beacon
            .as_ref()
            .map(|s| plexus_client::hex_encode(&commonware_codec::Encode::encode(s))),
        beacon_height: h
            .beacon
            .as_ref()
            .and_then(|_| plexus_types::beacon::signed_height(h.height)),
        txs: block
            .txs
            .iter()
            .enumerate()
            .map(|(i, tx)| tx_dto(tx, receipts.get(i)))
            .collect(),
    }
}

/// The JSON form of a provider at `height`.
pub fn provider_dto(
    state: &LedgerState,
    address: &Address,
    provider: &plexus_state::Provider,
) -> ProviderDto {
    let profile = &provider.profile;
    ProviderDto {
        address: address.to_string(),
        endpoint: provider.endpoint.clone(),
        profile: ResourceProfileDto {
            cores: profile.cores,
            memory_mb: profile.memory_mb,
            gpus: profile.gpus,
            gpu_model: profile.gpu_model.clone(),
            storage_gb: profile.storage_gb,
        },
        fuel_per_second: provider.fuel_per_second,
        ask_per_mfuel: provider.ask_per_mfuel.to_string(),
        bond: provider.bond.to_string(),
        bond_locked: provider.bond_locked.to_string(),
        slashed: provider.slashed.to_string(),
        reputation: provider.reputation,
        jobs_done: provider.jobs_done,
        jobs_missed: provider.jobs_missed,
        audits_passed: provider.audits_passed,
        disputes_lost: provider.disputes_lost,
        jobs_in_flight: provider.jobs_in_flight,
        capacity: provider.capacity(),
        // Whether a job posted in the next block could be matched to it.
        active: provider.is_active(&state.params, state.height + 1),
        registered_height: provider.registered_height,
        last_heartbeat_height: provider.last_heartbeat_height,
        unbonding_release: provider.unbonding_release,
    }
}

fn leaf_dto(leaf: &plexus_types::dissection::RevealedLeaf) -> LeafDto {
    LeafDto {
        index: leaf.index,
        fuel: leaf.fuel,
        state_root: leaf.state_root.to_hex(),
    }
}

fn audit_dto(audit: &plexus_state::dispute::Audit) -> AuditDto {
    use plexus_state::dispute::{AuditKind as Kind, AuditStage as Stage};
    let (kind, segments) = match &audit.kind {
        Kind::Full => (AuditKind::Full, Vec::new()),
        Kind::Light { segments } => (AuditKind::Light, segments.clone()),
    };
    let stage = match audit.stage {
        Stage::Drawn => AuditStage::Drawn,
        Stage::Sealed { .. } => AuditStage::Sealed,
        Stage::Passed => AuditStage::Passed,
        Stage::Disputed => AuditStage::Disputed,
        Stage::Missed => AuditStage::Missed,
        Stage::Declined => AuditStage::Declined,
        Stage::Withdrawn => AuditStage::Withdrawn,
    };
    AuditDto {
        kind,
        segments,
        verifier: audit.verifier.to_string(),
        drawn_height: audit.drawn_height,
        due_height: audit.due_height,
        stage,
        paid: audit.paid.into(),
        canary_flagged: audit.canary.as_ref().and_then(|canary| canary.flagged),
        declined: audit.declined.iter().map(ToString::to_string).collect(),
    }
}

/// A canary's job as its verifier sees it: the job it copies, under the canary's id, showing
/// the known-wrong claim as the commitment (settled once the canary is closed).
pub(super) fn canary_job_dto(
    state: &LedgerState,
    id: &plexus_types::Digest,
    audit: &plexus_state::dispute::Audit,
) -> Option<JobDto> {
    let canary = audit.canary.as_ref()?;
    let original = state.jobs.get(&canary.of)?;
    let mut dto = job_dto(state, &canary.of, original);
    let claim = &canary.claim;
    dto.id = id.into();
    dto.status = if audit.is_open() {
        JobStatus::Committed
    } else {
        JobStatus::Settled
    };
    dto.output_hash = Some(claim.output_hash.into());
    dto.total_fuel = Some(claim.total_fuel);
    dto.segments = Some(claim.segments);
    dto.trace_root = Some(claim.trace_root.into());
    dto.failed = Some(claim.failed);
    dto.paid = None;
    dto.refunded = None;
    dto.slashed = None;
    dto.burned = None;
    dto.audit_fee = None;
    dto.finished_height = (!audit.is_open()).then_some(audit.due_height);
    dto.audit_record = Some(audit_dto(audit));
    dto.dispute = None;
    Some(dto)
}

fn dispute_dto(dispute: &plexus_state::dispute::Dispute) -> DisputeDto {
    use plexus_fueltrace::dissection::{Phase, Role};
    let game = &dispute.game;
    let phase = match game.phase() {
        _ if dispute.ruling.is_some() => DisputePhase::Ruled,
        Phase::AwaitingReveal => DisputePhase::AwaitingReveal,
        Phase::AwaitingChoice { .. } => DisputePhase::AwaitingChoice,
        Phase::AwaitingProof => DisputePhase::AwaitingProof,
        Phase::Resolved { .. } => DisputePhase::Resolved,
    };
    let to_move = match (&dispute.ruling, game.to_move()) {
        (Some(_), _) => None,
        (None, Some(Role::Defender)) => Some(Turn::Defender),
        (None, Some(Role::Challenger)) => Some(Turn::Challenger),
        (None, None) => Some(Turn::Settle),
    };
    DisputeDto {
        challenger: dispute.challenger.to_string(),
        by_verifier: dispute.by_verifier,
        deposit: dispute.deposit.into(),
        opened_height: dispute.opened_height,
        due_height: dispute.due_height,
        phase,
        to_move,
        round: game.round(),
        lo: game.lo(),
        hi: game.hi(),
        game: plexus_types::hash::to_hex(&commonware_codec::Encode::encode(game)),
        resolved: game
            .resolved()
            .map(|(lo, hi)| (leaf_dto(&lo), leaf_dto(&hi))),
        ruling: dispute.ruling.as_ref().map(|ruling| RulingDto {
            provider_lost: ruling.provider_lost,
            end: match ruling.end {
                plexus_state::dispute::DisputeEnd::Replay => DisputeEnd::Replay,
                plexus_state::dispute::DisputeEnd::Timeout => DisputeEnd::Timeout,
            },
            slashed: ruling.slashed.into(),
            to_winner: ruling.to_winner.into(),
            height: ruling.height,
        }),
    }
}

/// The JSON form of a verifier.
pub fn verifier_dto(address: &Address, verifier: &plexus_state::dispute::Verifier) -> VerifierDto {
    VerifierDto {
        address: address.to_string(),
        bond: verifier.bond.to_string(),
        fuel_per_second: verifier.fuel_per_second,
        capacity: verifier.capacity,
        locked: verifier.locked.to_string(),
        open: verifier.open,
        registered_height: verifier.registered_height,
        audits_done: verifier.audits_done,
        audits_missed: verifier.audits_missed,
        audits_declined: verifier.audits_declined,
        disputes_won: verifier.disputes_won,
        disputes_lost: verifier.disputes_lost,
        canaries_flagged: verifier.canaries_flagged,
        canaries_passed: verifier.canaries_passed,
        slashed: verifier.slashed.to_string(),
        earned: verifier.earned.to_string(),
        unbonding_release: verifier.unbonding_release,
    }
}

/// A job's status as the API names it.
fn job_status(status: &plexus_state::JobStatus) -> JobStatus {
    use plexus_state::JobStatus as Status;
    match status {
        Status::Posted => JobStatus::Posted,
        Status::Assigned(_) => JobStatus::Assigned,
        Status::Committed { .. } => JobStatus::Committed,
        Status::Settled { .. } => JobStatus::Settled,
        Status::Expired { .. } => JobStatus::Expired,
        Status::Cancelled { .. } => JobStatus::Cancelled,
        Status::Refuted { .. } => JobStatus::Refuted,
    }
}

/// The JSON form of a job, with its audit and dispute from `state`.
pub fn job_dto(state: &LedgerState, id: &plexus_types::Digest, job: &plexus_state::Job) -> JobDto {
    use plexus_state::JobStatus;
    let assignment = job.status.assignment();
    let commitment = job.status.commitment();
    let (committed_height, settle_height) = match &job.status {
        JobStatus::Committed {
            committed_height,
            settle_height,
            ..
        } => (Some(*committed_height), Some(*settle_height)),
        JobStatus::Settled {
            committed_height,
            height,
            ..
        } => (Some(*committed_height), Some(*height)),
        JobStatus::Refuted {
            committed_height, ..
        } => (Some(*committed_height), None),
        _ => (None, None),
    };
    let (burned, audit_fee) = match &job.status {
        JobStatus::Settled {
            burned, audit_fee, ..
        } => (Some(*burned), Some(*audit_fee)),
        _ => (None, None),
    };
    let (paid, refunded, slashed) = match &job.status {
        JobStatus::Settled { paid, refunded, .. } => (Some(*paid), Some(*refunded), None),
        JobStatus::Expired {
            refunded, slashed, ..
        } => (None, Some(*refunded), Some(*slashed)),
        JobStatus::Cancelled { refunded, .. } => (None, Some(*refunded), None),
        JobStatus::Refuted {
            refunded, slashed, ..
        } => (None, Some(*refunded), Some(*slashed)),
        _ => (None, None, None),
    };
    JobDto {
        id: id.into(),
        consumer: job.consumer.to_string(),
        status: job_status(&job.status),
        module: job.module.into(),
        blobs: job.blobs.iter().copied().map(HexContentHash).collect(),
        input: job.input.into(),
        max_fuel: job.max_fuel,
        price_cap_per_mfuel: job.price_cap_per_mfuel.into(),
        audit: match job.audit {
            plexus_types::job::AuditClass::Standard => AuditClass::Standard,
            plexus_types::job::AuditClass::Full => AuditClass::Full,
        },
        escrow: job.escrow.into(),
        posted_height: job.posted_height,
        deadline_height: job.deadline_height,
        provider: assignment.map(|a| a.provider.to_string()),
        ask_per_mfuel: assignment.map(|a| a.ask_per_mfuel.into()),
        bond_locked: assignment.map(|a| a.bond_locked.into()),
        assigned_height: assignment.map(|a| a.height),
        output_hash: commitment.map(|c| c.output_hash.into()),
        total_fuel: commitment.map(|c| c.total_fuel),
        segments: commitment.map(|c| c.segments),
        trace_root: commitment.map(|c| c.trace_root.into()),
        failed: commitment.map(|c| c.failed),
        committed_height,
        settle_height,
        paid: paid.map(BaseUnits),
        burned: burned.map(BaseUnits),
        audit_fee: audit_fee.map(BaseUnits),
        refunded: refunded.map(BaseUnits),
        slashed: slashed.map(BaseUnits),
        finished_height: job.status.finished_height(),
        audit_record: state.audits.get(id).map(audit_dto),
        dispute: state.disputes.get(id).map(dispute_dto),
    }
}

/// The JSON form of one shard in slot `index`.
pub fn shard_dto(index: u16, shard: &plexus_state::storage::Shard) -> ShardDto {
    use plexus_state::storage::ShardState as State;
    let (mut state, drawn_height, accept_due_height, active_since_height, repair_fee) =
        match shard.state {
            State::Drawn {
                drawn_height,
                accept_due,
            } => (
                ShardState::Drawn,
                Some(drawn_height),
                Some(accept_due),
                None,
                None,
            ),
            State::Active { since_height } => {
                (ShardState::Active, None, None, Some(since_height), None)
            }
            State::Repairing {
                drawn_height,
                accept_due,
                fee,
            } => (
                ShardState::Repairing,
                Some(drawn_height),
                Some(accept_due),
                None,
                Some(fee.into()),
            ),
            State::Lost {
                retry_height, fee, ..
            } => (
                ShardState::Lost,
                None,
                Some(retry_height),
                None,
                Some(fee.into()),
            ),
        };
    if state == ShardState::Active && shard.fault_epoch.is_some() {
        state = ShardState::Faulty;
    }
    ShardDto {
        index,
        holder: shard.holder.to_string(),
        state,
        price_per_gib_epoch: shard.price_per_gib_epoch.into(),
        collateral: shard.collateral.into(),
        drawn_height,
        accept_due_height,
        active_since_height,
        last_proof_height: (shard.last_proof_height > 0).then_some(shard.last_proof_height),
        misses: shard.misses,
        challenge: shard.challenge.as_ref().map(challenge_dto),
        fault_epoch: shard.fault_epoch,
        repair_fee,
    }
}

/// The JSON form of the storage market's totals.
pub fn storage_stats_dto(stats: &plexus_state::storage::StorageStats) -> StorageStatsDto {
    StorageStatsDto {
        deals_posted: stats.deals_posted,
        challenges_opened: stats.challenges_opened,
        proofs_passed: stats.proofs_passed,
        proofs_missed: stats.proofs_missed,
        proofs_wrong: stats.proofs_wrong,
        shards_lost: stats.shards_lost,
        repairs_done: stats.repairs_done,
    }
}

/// The JSON form of a shard's challenge.
fn challenge_dto(challenge: &plexus_state::storage::Challenge) -> ChallengeDto {
    use plexus_state::storage::ChallengeOutcome as Outcome;
    let (outcome, proven_height) = match challenge.outcome {
        Outcome::Open => (ChallengeOutcome::Open, None),
        Outcome::Proven { height } => (ChallengeOutcome::Proven, Some(height)),
        Outcome::Missed => (ChallengeOutcome::Missed, None),
        Outcome::Excused => (ChallengeOutcome::Excused, None),
    };
    ChallengeDto {
        epoch: challenge.epoch,
        chunk_index: challenge.chunk,
        opened_height: challenge.opened_height,
        due_height: challenge.due_height,
        outcome,
        proven_height,
    }
}

/// The JSON form of deal `id` without its segments: what a list shows of it.
pub fn storage_file_summary_dto(
    id: &plexus_types::Digest,
    deal: &plexus_state::storage::Deal,
) -> StorageFileSummaryDto {
    use plexus_state::storage::ShardState as State;
    let shards = deal.segments.iter().flat_map(|segment| &segment.shards);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    StorageFileSummaryDto {
        id: id.into(),
        owner: deal.owner.to_string(),
        public: deal.public,
        k: deal.k,
        // Every segment has the chain's `n` shards (at most `SHARDS_MAX`, a u16).
        n: deal.segments.first().map_or(0, |segment| {
            u16::try_from(segment.shards.len()).unwrap_or(u16::MAX)
        }),
        size_bytes: deal
            .segments
            .iter()
            .fold(0u64, |sum, segment| sum.saturating_add(segment.size_bytes)),
        segment_count: count(deal.segments.len()),
        shard_count: count(shards.clone().count()),
        shards_active: count(
            shards
                .filter(|shard| matches!(shard.state, State::Active { .. }))
                .count(),
        ),
        price_cap_per_gib_epoch: deal.price_cap_per_gib_epoch.into(),
        escrow: deal.escrow.into(),
        paid: deal.paid.into(),
        start_epoch: deal.start_epoch,
        end_epoch: deal.end_epoch,
        posted_height: deal.posted_height,
    }
}

/// The JSON form of deal `id`: the stored file, its segments and every shard.
pub fn storage_file_dto(
    id: &plexus_types::Digest,
    deal: &plexus_state::storage::Deal,
) -> StorageFileDto {
    StorageFileDto {
        file: storage_file_summary_dto(id, deal),
        segments: deal
            .segments
            .iter()
            .zip(0u32..)
            .map(|(segment, index)| SegmentDto {
                index,
                commitment: segment.commitment.into(),
                size_bytes: segment.size_bytes,
                shard_bytes: segment.shard_bytes,
                shards: segment
                    .shards
                    .iter()
                    .zip(0u16..)
                    .map(|(shard, slot)| shard_dto(slot, shard))
                    .collect(),
            })
            .collect(),
    }
}

/// The JSON form of `address`'s storage offer, with what its draws weigh at the next height;
/// `None` if it is no longer a provider.
pub fn storage_offer_dto(
    state: &LedgerState,
    address: &Address,
    offer: &plexus_state::storage::StorageOffer,
) -> Option<StorageOfferDto> {
    let provider = state.providers.get(address)?;
    Some(StorageOfferDto {
        provider: address.to_string(),
        capacity_bytes: offer.capacity_bytes,
        used_bytes: offer.used_bytes,
        free_bytes: offer.free_bytes(),
        price_per_gib_epoch: offer.price_per_gib_epoch.into(),
        bond: provider.bond.into(),
        bond_free: provider.bond_free().into(),
        reputation: provider.reputation,
        active: provider.is_active(&state.params, state.height + 1),
    })
}
