//! The HTTP API (axum): JSON under `/v1`, server-sent events for finalized blocks, Prometheus
//! metrics and the OpenAPI document. Every error is `{"code", "message"}` with a 4xx/5xx status;
//! nothing a caller sends reaches a panic.

use crate::limits::{ClientIp, ClientLimits};
use crate::submit::Refusal;
use crate::{
    http::{
        ApiError, ApiQuery, ApiResult, PathAddress, PathHash, PathHeight, body_error,
        method_not_allowed, not_found, parse_address,
    },
    metrics::Metrics,
    store::Store,
};
use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Sse, sse::Event},
    routing::{get, post},
};
use commonware_cryptography::Signer;
use futures::{Stream, StreamExt};
use plexus_chain::{AdmitError, App};
use plexus_client::dto::{
    params::{AddressParam, HashParam, HeightParam},
    *,
};
use plexus_state::State as LedgerState;
use plexus_types::{
    Address, Amount, Block, Payload, PrivateKey, Receipt, SignedTransaction, Status, TX_SIZE_MAX,
    Transaction, amount::parse_amount, hash::digest_hex,
};
use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
};
use tokio::sync::broadcast;
use utoipa::OpenApi;

/// The devnet faucet: a funded key that signs transfers on request.
pub struct Faucet {
    pub key: PrivateKey,
    /// Serializes requests so that each takes the next nonce after the previous one's.
    sending: Mutex<()>,
}

impl Faucet {
    pub fn new(key: PrivateKey) -> Self {
        Faucet {
            key,
            sending: Mutex::new(()),
        }
    }
}

/// Largest amount the faucet hands out per request.
pub const FAUCET_AMOUNT_MAX: Amount = 10_000 * plexus_types::PLX;

#[derive(Clone)]
pub struct ApiState {
    pub app: App,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub blocks: broadcast::Sender<BlockEventDto>,
    /// Permits for block-stream subscribers (`STREAMS_MAX`).
    pub streams: Arc<tokio::sync::Semaphore>,
    pub faucet: Option<Arc<Faucet>>,
    /// Per-client budgets (`limits`).
    pub limits: Arc<ClientLimits>,
    /// Permits for the CPU-heavy checking of submitted batches (decode, hashes, signatures):
    /// half the cores, at least one, so a flood queues instead of taking every core.
    pub checks: Arc<tokio::sync::Semaphore>,
}

/// Permits for [`ApiState::checks`] on this machine.
pub fn check_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn receipt_dto(receipt: &Receipt) -> ReceiptDto {
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
        Payload::Evidence { .. }
        | Payload::Participation { .. }
        | Payload::DealerLog { .. }
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

/// Counts a submission's outcome in the metrics (accepted, or rejected by code).
fn count<T>(state: &ApiState, result: &Result<T, ApiError>) {
    match result {
        Ok(_) => {
            state.metrics.txs_accepted.inc();
        }
        Err(err) => state.metrics.reject(&err.body.code),
    }
}

/// Runs `f` on the last finalized state, outside the ledger lock.
fn finalized_state<T>(state: &ApiState, f: impl FnOnce(&LedgerState) -> T) -> T {
    f(&state.app.finalized().state)
}

/// Submit a transaction: the body is its canonical binary encoding.
#[utoipa::path(post, path = "/v1/txs", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = SubmitResponse),
              (status = 400, description = "`malformed`, `bad_signature`, `weak_key`, `wrong_chain`, `fee_too_low`, `nonce_too_high`, `overflow`, ...", body = ErrorBody),
              (status = 409, description = "`duplicate`, `replayed_nonce`, `nonce_in_use`", body = ErrorBody),
              (status = 413, description = "`tx_too_large`", body = ErrorBody),
              (status = 422, description = "`insufficient_balance`", body = ErrorBody),
              (status = 429, description = "`account_mempool_full`, `rate_limited` (with `Retry-After`)", body = ErrorBody),
              (status = 503, description = "`mempool_full`", body = ErrorBody)))]
async fn submit_tx(
    State(state): State<ApiState>,
    client: Option<Extension<ClientIp>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let result = match body {
        Ok(body) => charge(&state, client, body.len()).and_then(|()| submit(&state, &body)),
        Err(rejection) => Err(body_error(rejection, "tx_too_large")),
    };
    count(&state, &result);
    result.map(|hash| (StatusCode::ACCEPTED, Json(SubmitResponse { hash })))
}

/// Charges `bytes` of transactions to the request's client (see `limits`), before any decoding.
fn charge(
    state: &ApiState,
    client: Option<Extension<ClientIp>>,
    bytes: usize,
) -> Result<(), ApiError> {
    let Some(Extension(ClientIp(ip))) = client else {
        return Ok(());
    };
    state
        .limits
        .charge_tx_bytes(ip, bytes, std::time::Instant::now())
        .map_err(ApiError::limited)
}

fn submit(state: &ApiState, body: &[u8]) -> Result<String, ApiError> {
    if body.len() > TX_SIZE_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "tx_too_large",
            format!("{} bytes is over the {TX_SIZE_MAX}-byte limit", body.len()),
        ));
    }
    let tx = SignedTransaction::decode_untrusted(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("not a transaction: {e}"),
        )
    })?;
    admit(state, tx)
}

fn bad_signature() -> ApiError {
    let reason = plexus_types::Reason::BadSignature;
    ApiError::new(StatusCode::BAD_REQUEST, reason.code(), reason.message())
}

fn admit_error(err: AdmitError) -> ApiError {
    let status = match &err {
        AdmitError::Duplicate | AdmitError::Replay { .. } | AdmitError::NonceInUse { .. } => {
            StatusCode::CONFLICT
        }
        AdmitError::Unaffordable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AdmitError::AccountFull(_) => StatusCode::TOO_MANY_REQUESTS,
        AdmitError::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
        AdmitError::Invalid(_) | AdmitError::NonceTooHigh { .. } | AdmitError::Overflow => {
            StatusCode::BAD_REQUEST
        }
    };
    ApiError::new(status, err.code(), err.to_string())
}

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::BadSignature => bad_signature(),
        Refusal::Admit(err) => admit_error(err),
    }
}

/// One transaction through `submit::check_and_admit` (cheap refusals, signature, mempool).
fn admit(state: &ApiState, tx: SignedTransaction) -> Result<String, ApiError> {
    let mut results = crate::submit::check_and_admit(&state.app, vec![tx]);
    let result = results.pop().expect("one result per transaction");
    result.map(|hash| digest_hex(&hash)).map_err(refusal)
}

/// The most transactions in one batch submission.
pub const TX_BATCH_MAX: usize = 1_000;

/// Submit up to 1000 transactions at once: the body is the codec encoding of the list (a varint
/// count, then each signed transaction). What needs no signature to refuse (wrong chain, a used
/// nonce, a pending duplicate, ...) is refused first; the rest's signatures are verified as a
/// batch. Each transaction gets the outcome a single submission would have had.
#[utoipa::path(post, path = "/v1/txs/batch", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "One outcome per transaction, in order", body = Vec<BatchItemDto>),
              (status = 400, description = "`malformed`", body = ErrorBody),
              (status = 413, description = "`batch_too_large`", body = ErrorBody),
              (status = 429, description = "`rate_limited` (with `Retry-After`)", body = ErrorBody),
              (status = 500, body = ErrorBody)))]
async fn submit_batch(
    State(state): State<ApiState>,
    client: Option<Extension<ClientIp>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Vec<BatchItemDto>> {
    let body = body.map_err(|r| body_error(r, "batch_too_large"))?;
    charge(&state, client, body.len())?;
    // Decoding (key decompression), hashing and signatures are the CPU-heavy part: off the
    // async workers, and at most `checks` batches at once, so floods queue instead of taking
    // every core.
    let permit = state
        .checks
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let app = state.app.clone();
    let results = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let range: commonware_codec::RangeCfg<usize> = (1..=TX_BATCH_MAX).into();
        let txs =
            <Vec<SignedTransaction> as commonware_codec::Decode>::decode_cfg(body, &(range, ()))
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "malformed",
                        format!("not a batch of 1 to {TX_BATCH_MAX} transactions: {e}"),
                    )
                })?;
        Ok::<_, ApiError>(crate::submit::check_and_admit(&app, txs))
    })
    .await
    .map_err(ApiError::internal)??;
    let items = results
        .into_iter()
        .map(|result| {
            let result = result.map(|hash| digest_hex(&hash)).map_err(refusal);
            count(&state, &result);
            match result {
                Ok(hash) => BatchItemDto {
                    hash: Some(hash),
                    error: None,
                },
                Err(ApiError { body, .. }) => BatchItemDto {
                    hash: None,
                    error: Some(body),
                },
            }
        })
        .collect();
    Ok(Json(items))
}

/// A transaction's status: pending, or finalized with its height and receipt.
#[utoipa::path(get, path = "/v1/txs/{hash}", params(("hash" = HashParam, Path)),
    responses((status = 200, body = TxStatusDto), (status = 400, description = "`invalid_hash`", body = ErrorBody),
              (status = 404, description = "`unknown_tx`", body = ErrorBody), (status = 500, body = ErrorBody)))]
async fn get_tx(
    State(state): State<ApiState>,
    PathHash(digest): PathHash,
) -> ApiResult<TxStatusDto> {
    let hex = digest_hex(&digest);
    if let Some(location) = state
        .store
        .tx_location(&digest)
        .map_err(ApiError::internal)?
    {
        let receipts = state
            .store
            .receipts(location.height)
            .map_err(ApiError::internal)?;
        return Ok(Json(TxStatusDto {
            hash: hex,
            status: TxState::Finalized,
            height: Some(location.height),
            index: Some(location.index),
            receipt: receipts.get(location.index as usize).map(receipt_dto),
        }));
    }
    if state.app.with_mempool(|m| m.contains(&digest)) {
        return Ok(Json(TxStatusDto {
            hash: hex,
            status: TxState::Pending,
            height: None,
            index: None,
            receipt: None,
        }));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_tx",
        format!("transaction {hex} is neither pending nor finalized"),
    ))
}

/// An account at the last finalized height (an address never seen has zeros).
#[utoipa::path(get, path = "/v1/accounts/{address}", params(("address" = AddressParam, Path)),
    responses((status = 200, body = AccountDto), (status = 400, description = "`invalid_address`", body = ErrorBody)))]
async fn get_account(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<AccountDto> {
    let account = finalized_state(&state, |s| s.account(&address));
    let next_nonce = state.app.next_nonce(&address);
    Ok(Json(AccountDto {
        address: address.to_string(),
        balance: account.balance.to_string(),
        nonce: account.nonce,
        next_nonce,
        bonded: account.bonded.to_string(),
        unbonding: account.unbonding.to_string(),
    }))
}

/// An account with a Merkle proof against the last finalized state root.
#[utoipa::path(get, path = "/v1/accounts/{address}/proof", params(("address" = AddressParam, Path)),
    responses((status = 200, body = ProofDto), (status = 400, description = "`invalid_address`", body = ErrorBody),
              (status = 404, description = "`unknown_account`", body = ErrorBody), (status = 500, body = ErrorBody)))]
async fn get_proof(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<ProofDto> {
    let executed = state.app.finalized();
    let (height, root) = (executed.state.height, executed.block.header.state_root);
    // Building the proof is O(state): it runs on the shared snapshot, outside every lock and off
    // the async workers that consensus shares.
    let target = address.clone();
    let found = tokio::task::spawn_blocking(move || executed.state.prove_account(&target))
        .await
        .map_err(ApiError::internal)?
        .map(|p| (p, height, root));
    let Some((proof, height, root)) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            format!("{address} has no account entry"),
        ));
    };
    Ok(Json(ProofDto {
        address: address.to_string(),
        balance: proof.account.balance.to_string(),
        nonce: proof.account.nonce,
        bonded: proof.account.bonded.to_string(),
        unbonding: proof.account.unbonding.to_string(),
        height,
        state_root: digest_hex(&root),
        position: proof.position,
        proof: plexus_client::hex_encode(&proof.proof),
    }))
}

fn stored_block(state: &ApiState, height: u64) -> ApiResult<BlockDto> {
    let block = state
        .store
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_block",
                format!("no finalized block at height {height}"),
            )
        })?;
    let receipts = state.store.receipts(height).map_err(ApiError::internal)?;
    Ok(Json(block_dto(&block, &receipts)))
}

/// A finalized block by height.
#[utoipa::path(get, path = "/v1/blocks/{height}", params(("height" = HeightParam, Path)),
    responses((status = 200, body = BlockDto), (status = 400, description = "`invalid_height`", body = ErrorBody),
              (status = 404, description = "`unknown_block`", body = ErrorBody), (status = 500, body = ErrorBody)))]
async fn get_block(
    State(state): State<ApiState>,
    PathHeight(height): PathHeight,
) -> ApiResult<BlockDto> {
    stored_block(&state, height)
}

/// The last finalized block.
#[utoipa::path(get, path = "/v1/blocks/latest",
    responses((status = 200, body = BlockDto), (status = 500, body = ErrorBody)))]
async fn get_latest_block(State(state): State<ApiState>) -> ApiResult<BlockDto> {
    let tip = finalized_state(&state, |s| s.height);
    stored_block(&state, tip)
}

/// Registered validators, by stake, with committee membership.
#[utoipa::path(get, path = "/v1/validators", responses((status = 200, body = Vec<ValidatorDto>)))]
async fn get_validators(State(state): State<ApiState>) -> ApiResult<Vec<ValidatorDto>> {
    let mut validators = finalized_state(&state, |s| {
        s.validators
            .iter()
            .map(|(address, v)| ValidatorDto {
                address: address.to_string(),
                self_bond: v.self_bond.to_string(),
                delegated: v.delegated.to_string(),
                stake: v.stake().to_string(),
                in_committee: s.committee.contains(address),
                in_next_committee: s.next_committee.contains(address),
                jailed: v.jailed,
                slashed: s
                    .slashes
                    .iter()
                    .filter(|((who, _, _), _)| who == address)
                    .map(|(_, amount)| *amount)
                    .sum::<u128>()
                    .to_string(),
                epoch_signatures: s
                    .participation
                    .get(&(s.epoch_of(s.height), address.clone()))
                    .copied()
                    .unwrap_or(0),
            })
            .collect::<Vec<_>>()
    });
    validators.sort_by_key(|v| std::cmp::Reverse(v.stake.parse::<u128>().unwrap_or(0)));
    Ok(Json(validators))
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
        state_root: plexus_types::trace::digest32_hex(&leaf.state_root),
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
fn canary_job_dto(
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
    use plexus_types::dissection::{Phase, Role};
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
        blobs: job.blobs.iter().map(HexDigest::from).collect(),
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

/// Registered verifiers, by address.
#[utoipa::path(get, path = "/v1/verifiers", responses((status = 200, body = Vec<VerifierDto>)))]
async fn get_verifiers(State(state): State<ApiState>) -> ApiResult<Vec<VerifierDto>> {
    Ok(Json(finalized_state(&state, |s| {
        s.verifiers
            .iter()
            .map(|(address, verifier)| verifier_dto(address, verifier))
            .collect()
    })))
}

/// Registered compute providers, by address.
#[utoipa::path(get, path = "/v1/providers", responses((status = 200, body = Vec<ProviderDto>)))]
async fn get_providers(State(state): State<ApiState>) -> ApiResult<Vec<ProviderDto>> {
    Ok(Json(finalized_state(&state, |s| {
        s.providers
            .iter()
            .map(|(address, provider)| provider_dto(s, address, provider))
            .collect()
    })))
}

/// One provider.
#[utoipa::path(get, path = "/v1/providers/{address}", params(("address" = AddressParam, Path)),
    responses((status = 200, body = ProviderDto), (status = 400, description = "`invalid_address`", body = ErrorBody),
              (status = 404, description = "`unknown_provider`", body = ErrorBody)))]
async fn get_provider(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<ProviderDto> {
    finalized_state(&state, |s| {
        s.providers
            .get(&address)
            .map(|provider| provider_dto(s, &address, provider))
    })
    .map(Json)
    .ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownProvider;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!("{address} is not a registered provider"),
        )
    })
}

/// One job by id (the hash of the transaction that posted it).
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = HashParam, Path)),
    responses((status = 200, body = JobDto), (status = 400, description = "`invalid_hash`", body = ErrorBody),
              (status = 404, description = "`unknown_job`", body = ErrorBody)))]
async fn get_job(State(state): State<ApiState>, PathHash(digest): PathHash) -> ApiResult<JobDto> {
    finalized_state(&state, |s| {
        s.jobs
            .get(&digest)
            .map(|job| job_dto(s, &digest, job))
            .or_else(|| {
                s.audits
                    .get(&digest)
                    .and_then(|audit| canary_job_dto(s, &digest, audit))
            })
    })
    .map(Json)
    .ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownJob;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!(
                "no job {} on chain (never posted, or pruned)",
                digest_hex(&digest)
            ),
        )
    })
}

/// The most jobs one list request returns.
pub const JOBS_LIST_MAX: usize = 100;

/// The filters of `GET /v1/jobs`, all optional and combined: the jobs of `consumer`, assigned to
/// `provider`, audited or disputed (as challenger) by `verifier`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct JobsQuery {
    pub consumer: Option<String>,
    pub provider: Option<String>,
    pub verifier: Option<String>,
    /// 1 to `JOBS_LIST_MAX`; defaults to it.
    pub limit: Option<usize>,
}

/// The OpenAPI schema of `limit`: its bounds are `JOBS_LIST_MAX`'s.
struct JobsLimitParam;

impl utoipa::PartialSchema for JobsLimitParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Integer)
            .minimum(Some(1u64))
            .maximum(Some(JOBS_LIST_MAX as u64))
            .default(Some(JOBS_LIST_MAX.into()))
            .into()
    }
}

impl utoipa::ToSchema for JobsLimitParam {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("JobsLimit")
    }
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// The jobs `query` selects in `state`, newest first.
pub fn list_jobs(state: &LedgerState, query: &JobsQuery) -> Result<Vec<JobDto>, ApiError> {
    let limit = match query.limit {
        None => JOBS_LIST_MAX,
        Some(limit) if (1..=JOBS_LIST_MAX).contains(&limit) => limit,
        Some(limit) => {
            return Err(invalid_query(format!(
                "limit {limit} is not between 1 and {JOBS_LIST_MAX}"
            )));
        }
    };
    let address = |text: &Option<String>| text.as_deref().map(parse_address).transpose();
    let (consumer, provider) = (address(&query.consumer)?, address(&query.provider)?);
    let selected = |job: &plexus_state::Job| {
        consumer.as_ref().is_none_or(|c| job.consumer == *c)
            && provider
                .as_ref()
                .is_none_or(|p| job.status.assignment().is_some_and(|a| a.provider == *p))
    };
    let Some(verifier) = address(&query.verifier)? else {
        return Ok(
            plexus_state::market::jobs_where(&state.jobs, selected, limit)
                .into_iter()
                .map(|(id, job)| job_dto(state, id, job))
                .collect(),
        );
    };
    let mut ids: std::collections::BTreeSet<&plexus_types::Digest> = state
        .audits
        .iter()
        .filter(|(_, audit)| audit.verifier == verifier)
        .map(|(id, _)| id)
        .collect();
    ids.extend(
        state
            .disputes
            .iter()
            .filter(|(_, dispute)| dispute.challenger == verifier)
            .map(|(id, _)| id),
    );
    // Real jobs and the canaries drawn for this verifier (filtered by the job each copies),
    // newest first.
    let mut found: Vec<(u64, plexus_types::Digest, JobDto)> = ids
        .into_iter()
        .filter_map(|id| match state.jobs.get(id) {
            Some(job) => selected(job).then(|| (job.posted_height, *id, job_dto(state, id, job))),
            None => {
                let audit = state.audits.get(id)?;
                let original = state.jobs.get(&audit.canary.as_ref()?.of)?;
                if !selected(original) {
                    return None;
                }
                canary_job_dto(state, id, audit).map(|dto| (dto.posted_height, *id, dto))
            }
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    found.truncate(limit);
    Ok(found.into_iter().map(|(_, _, dto)| dto).collect())
}

/// Retained jobs, newest first: all of them, or those of a consumer, assigned to a provider, or
/// audited or disputed by a verifier (filters combine).
#[utoipa::path(get, path = "/v1/jobs",
    params(("consumer" = Option<AddressParam>, Query), ("provider" = Option<AddressParam>, Query),
           ("verifier" = Option<AddressParam>, Query), ("limit" = Option<JobsLimitParam>, Query)),
    responses((status = 200, body = Vec<JobDto>), (status = 400, description = "`invalid_query`, `invalid_address`", body = ErrorBody),
              (status = 500, body = ErrorBody)))]
async fn get_jobs(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> ApiResult<Vec<JobDto>> {
    // A scan of every retained job: off the async workers.
    let executed = state.app.finalized();
    let jobs = tokio::task::spawn_blocking(move || list_jobs(&executed.state, &query))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(jobs))
}

/// The latest finalized block and the state after it, as the codec encoding of `(Block, State)`:
/// what a new node state-syncs from. It checks the block against a finalization certificate it
/// fetches from the committee, and the state against the block's state root.
#[utoipa::path(get, path = "/v1/snapshot",
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"), (status = 500, body = ErrorBody)))]
async fn get_snapshot(State(state): State<ApiState>) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let finalized = state.app.finalized();
    let bytes = tokio::task::spawn_blocking(move || {
        use commonware_codec::Encode as _;
        let mut bytes = finalized.block.encode().to_vec();
        bytes.extend_from_slice(&finalized.state.encode());
        bytes
    })
    .await
    .map_err(ApiError::internal)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response())
}

/// Chain status.
#[utoipa::path(get, path = "/v1/status", responses((status = 200, body = StatusDto)))]
async fn get_status(State(state): State<ApiState>) -> ApiResult<StatusDto> {
    let mempool_size = state.app.with_mempool(|m| m.len());
    let faucet = state.faucet.is_some();
    let executed = state.app.finalized();
    let s = &executed.state;
    Ok(Json(StatusDto {
        chain_id: s.chain_id,
        height: s.height,
        block_hash: digest_hex(&s.block_hash),
        state_root: digest_hex(&executed.block.header.state_root),
        timestamp: s.timestamp_ms,
        mempool_size,
        validators: s.validators.len(),
        committee: s.committee.len(),
        epoch: s.epoch_of(s.height + 1),
        epoch_length: s.params.epoch_length_blocks,
        next_committee: s.next_committee.len(),
        reshare_logs: s.dealer_logs.len(),
        fee_min: s.params.fee_min.to_string(),
        supply: SupplyDto {
            total: s.supply.total.to_string(),
            minted: s.supply.minted.to_string(),
            burned: s.supply.burned.to_string(),
        },
        emission_last_epoch: s
            .emissions
            .values()
            .next_back()
            .map(|e| e.total().to_string()),
        emissions: s
            .emissions
            .iter()
            .map(|(epoch, e)| EmissionDto {
                epoch: *epoch,
                validators: e.validators.to_string(),
                providers: e.providers.to_string(),
                verifiers: e.verifiers.to_string(),
            })
            .collect(),
        audit_pool: s.audit_pool.to_string(),
        seg_fuel: s.params.audit.seg_fuel,
        audit_block_ms: s.params.audit.audit_block_ms,
        faucet,
        seed: digest_hex(&s.beacon),
        beacon_key: plexus_client::hex_encode(&commonware_codec::Encode::encode(
            s.beacon_sharing().public(),
        )),
    }))
}

/// Devnet only: transfer PLX from the faucet key to an address.
#[utoipa::path(post, path = "/v1/faucet", request_body = FaucetRequest,
    responses((status = 202, body = SubmitResponse),
              (status = 400, description = "`malformed`, `invalid_address`, `invalid_amount`", body = ErrorBody),
              (status = 404, description = "`no_faucet`: not a devnet", body = ErrorBody),
              (status = 409, description = "`nonce_in_use` and the other admission codes of `POST /v1/txs`", body = ErrorBody),
              (status = 413, description = "`body_too_large`", body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn post_faucet(
    State(state): State<ApiState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let body = body.map_err(|r| body_error(r, "body_too_large"))?;
    let Some(faucet) = state.faucet.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_faucet",
            "this node is not a devnet and has no faucet",
        ));
    };
    let request: FaucetRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("expected {{\"address\", \"amount\"}}: {e}"),
        )
    })?;
    let to = parse_address(&request.address)?;
    let amount = match request.amount.as_deref() {
        None => 100 * plexus_types::PLX,
        Some(text) => parse_amount(text)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_amount", e.to_string()))?,
    };
    if amount == 0 || amount > FAUCET_AMOUNT_MAX {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            "the faucet gives between 1 base unit and 10000 PLX",
        ));
    }
    let sender = Address(faucet.key.public_key());
    let (chain_id, fee) = finalized_state(&state, |s| (s.chain_id, s.params.fee_min));
    let _sending = faucet.sending.lock().unwrap_or_else(|p| p.into_inner());
    let nonce = state.app.next_nonce(&sender);
    let tx = Transaction {
        chain_id,
        sender,
        nonce,
        fee,
        payload: Payload::Transfer { to, amount },
    }
    .sign(&faucet.key);
    let result = admit(&state, tx);
    count(&state, &result);
    Ok((StatusCode::ACCEPTED, Json(SubmitResponse { hash: result? })))
}

/// One server-sent event of `/v1/stream/blocks`, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the stream writes these fields as SSE lines
struct BlockStreamEvent {
    /// Always `block`.
    #[schema(pattern = "^block$")]
    event: String,
    /// A `BlockEventDto` as JSON.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// Server-sent events: one `block` event per finalized block.
#[utoipa::path(get, path = "/v1/stream/blocks",
    responses((status = 200, description = "One `block` event per finalized block, its data a BlockEventDto", content_type = "text/event-stream", body = BlockStreamEvent),
              (status = 503, description = "`too_many_streams`", body = ErrorBody)))]
async fn stream_blocks(
    State(state): State<ApiState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Each subscriber holds a permit for as long as it listens.
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("at most {STREAMS_MAX} block streams at once"),
        )
    })?;
    let stream = tokio_stream::wrappers::BroadcastStream::new(state.blocks.subscribe()).filter_map(
        move |item| {
            let _held = &permit;
            async move {
                // A lagging subscriber skips what it missed rather than stalling the node.
                let event = item.ok()?;
                Some(Ok(Event::default().event("block").json_data(event).ok()?))
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(axum::response::sse::KeepAlive::default()))
}

/// The node's metrics: the Prometheus text format (0.0.4), or OpenMetrics 1.0 when the
/// scraper's `Accept` asks for `application/openmetrics-text`.
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, content((String = "text/plain; version=0.0.4; charset=utf-8"),
                                     (String = "application/openmetrics-text; version=1.0.0; charset=utf-8")))))]
async fn get_metrics(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    state
        .metrics
        .mempool_size
        .set(state.app.with_mempool(|m| m.len()) as i64);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::metrics::Exposition::negotiate(accept);
    (
        [(header::CONTENT_TYPE, format.content_type())],
        state.metrics.render(format),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plexus node API",
        description = "Amounts are decimal strings of base units (1 PLX = 10^9)."
    ),
    paths(
        submit_tx,
        submit_batch,
        get_tx,
        get_account,
        get_proof,
        get_block,
        get_latest_block,
        get_validators,
        get_providers,
        get_provider,
        get_verifiers,
        get_job,
        get_jobs,
        get_status,
        get_snapshot,
        post_faucet,
        stream_blocks,
        crate::blob_api::post_blob,
        crate::blob_api::put_blob,
        crate::blob_api::get_blob,
        get_metrics,
        get_openapi
    ),
    // Hand-written schemas that paths refer to by name.
    components(schemas(AddressParam, HashParam, HeightParam, JobsLimitParam, BlockEventDto, HexDigest, BaseUnits)),
    modifiers(&EveryRouteIsLimited)
)]
struct ApiDoc;

/// The per-client limits (`limits::middleware`) sit in front of every route, so every
/// operation may answer 429 `rate_limited`: the document says so for each one.
struct EveryRouteIsLimited;

impl utoipa::Modify for EveryRouteIsLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, ResponseBuilder, content::ContentBuilder};
        let limited = ResponseBuilder::new()
            .description("`rate_limited`: this client is over its request or transaction budget; retry after `Retry-After` seconds")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.head,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("429".to_string())
                    .or_insert_with(|| limited.clone().into());
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers and DTOs above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
async fn get_openapi() -> impl IntoResponse {
    Json(openapi())
}

/// Requests served at once across all routes (block streams excepted); more wait for a permit.
pub const REQUESTS_CONCURRENT_MAX: usize = 256;
/// Block-stream subscribers at once.
pub const STREAMS_MAX: usize = 64;

/// Every route of the node's API, the blob store's (`blob_api`) included, with the JSON
/// refusals for unknown paths and methods, behind the per-client limits (`limits`).
pub fn router(state: ApiState, blobs: Arc<plexus_blobs::BlobStore>) -> Router {
    let limits = state.limits.clone();
    let streams = Router::new().route("/v1/stream/blocks", get(stream_blocks));
    Router::new()
        .route("/v1/txs", post(submit_tx))
        .route(
            "/v1/txs/batch",
            post(submit_batch).layer(DefaultBodyLimit::max(TX_BATCH_MAX * (TX_SIZE_MAX + 8))),
        )
        .route("/v1/txs/{hash}", get(get_tx))
        .route("/v1/accounts/{address}", get(get_account))
        .route("/v1/accounts/{address}/proof", get(get_proof))
        .route("/v1/blocks/latest", get(get_latest_block))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/validators", get(get_validators))
        .route("/v1/providers", get(get_providers))
        .route("/v1/verifiers", get(get_verifiers))
        .route("/v1/providers/{address}", get(get_provider))
        .route("/v1/jobs", get(get_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/status", get(get_status))
        .route("/v1/snapshot", get(get_snapshot))
        .route("/v1/faucet", post(post_faucet))
        .route("/v1/openapi.json", get(get_openapi))
        .route("/metrics", get(get_metrics))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            REQUESTS_CONCURRENT_MAX,
        ))
        .merge(streams)
        .merge(crate::blob_api::router(blobs))
        // After every route is in: the method fallback applies to the routes present.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies past this are cut off by axum; ours are checked against TX_SIZE_MAX with a JSON error.
        .layer(DefaultBodyLimit::max(64 * 1024))
        // Outermost: a client over its budget is refused before anything else runs.
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::limits::middleware,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_state::{Genesis, GenesisValidator, Params, beacon::DevBeacon, build_block};
    use plexus_types::job::{AuditClass, ResourceProfile};
    use plexus_types::{PLX, hash};

    fn key(i: u64) -> PrivateKey {
        PrivateKey::from_seed(i)
    }

    fn address(i: u64) -> Address {
        Address(key(i).public_key())
    }

    fn tx(from: u64, nonce: u64, payload: Payload) -> SignedTransaction {
        Transaction {
            chain_id: 3,
            sender: address(from),
            nonce,
            fee: 1_000,
            payload,
        }
        .sign(&key(from))
    }

    fn post(nonce: u64, cap: Amount) -> SignedTransaction {
        tx(
            2,
            nonce,
            Payload::JobPost {
                module: hash(&[b"m"]),
                blobs: vec![hash(&[b"b"])],
                input: hash(&[b"i"]),
                max_fuel: 2_000_000,
                price_cap_per_mfuel: cap,
                audit: AuditClass::Full,
                deadline_blocks: 10,
            },
        )
    }

    /// Provider 1 registered (ask 1 PLX); consumer 2 posted a matched job, committed, and an
    /// unmatched one; returns the state and the two job ids.
    fn market() -> (LedgerState, plexus_types::Digest, plexus_types::Digest) {
        let beacon = DevBeacon::deal(0, [key(0).public_key()]);
        let (mut state, _) = Genesis {
            chain_id: 3,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: (0..3).map(|i| (address(i), 100_000 * PLX)).collect(),
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: 10_000 * PLX,
            }],
            beacon: beacon.output.clone(),
        }
        .build()
        .unwrap();
        let register = tx(
            1,
            0,
            Payload::ProviderRegister {
                endpoint: "http://provider:7000".into(),
                profile: ResourceProfile {
                    cores: 2,
                    ..ResourceProfile::default()
                },
                fuel_per_second: 10,
                ask_per_mfuel: PLX,
                bond: 500 * PLX,
            },
        );
        let (matched, unmatched) = (post(0, 2 * PLX), post(1, PLX / 2));
        let ids = (matched.hash(), unmatched.hash());
        let commit = tx(
            1,
            1,
            Payload::JobCommit {
                job: ids.0,
                output_hash: hash(&[b"o"]),
                total_fuel: 1_500_000,
                segments: 4,
                trace_root: hash(&[b"t"]),
                failed: false,
            },
        );
        for txs in [vec![register], vec![matched, unmatched], vec![commit]] {
            let height = state.height + 1;
            let built = build_block(
                &state,
                txs,
                height,
                key(0).public_key(),
                beacon.block_signature(height),
            )
            .unwrap();
            assert!(built.receipts.iter().all(|r| r.status == Status::Success));
            state = built.state;
        }
        (state, ids.0, ids.1)
    }

    #[test]
    fn every_operation_documents_the_limiters_429() {
        let document = openapi();
        let mut operations = 0;
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.put, &item.post].into_iter().flatten() {
                operations += 1;
                assert!(
                    operation.responses.responses.contains_key("429"),
                    "{path} does not document 429"
                );
            }
        }
        assert!(operations >= 20, "{operations} operations");
    }

    /// The protocol states are enums in the document, with their values, and every reference
    /// (states, hashes, amounts) names a schema the document holds.
    #[test]
    fn the_document_lists_every_state_and_resolves_every_reference() {
        let document = serde_json::to_value(openapi()).unwrap();
        let schemas = &document["components"]["schemas"];
        let listed = |name: &str| -> Vec<String> {
            schemas[name]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {}", schemas[name]))
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        let strings = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let names = |all: Vec<&'static str>| strings(&all);
        assert_eq!(
            listed("JobStatus"),
            names(JobStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed("AuditStage"),
            names(AuditStage::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed("DisputePhase"),
            names(DisputePhase::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            listed("Turn"),
            strings(&["defender", "challenger", "settle"])
        );
        for name in [
            "AuditClass",
            "AuditKind",
            "DisputeEnd",
            "ReceiptStatus",
            "TxState",
        ] {
            assert!(!listed(name).is_empty(), "{name}");
        }
        let text = document.to_string();
        let mut rest = text.as_str();
        let mut references = 0;
        while let Some(at) = rest.find("#/components/schemas/") {
            rest = &rest[at + "#/components/schemas/".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(
                schemas.get(name).is_some(),
                "a reference to {name}, which is not defined"
            );
            references += 1;
        }
        assert!(references > 20, "{references} references");
        for field in ["id", "module", "escrow", "status"] {
            assert!(
                schemas["JobDto"]["properties"][field].is_object(),
                "JobDto.{field}"
            );
        }
    }

    #[test]
    fn jobs_and_providers_as_json() {
        let (state, matched, unmatched) = market();
        let job = job_dto(&state, &matched, &state.jobs[&matched]);
        assert_eq!(job.status, JobStatus::Committed);
        assert_eq!(job.provider, Some(address(1).to_string()));
        assert_eq!(job.escrow, BaseUnits(4 * PLX));
        assert_eq!(job.ask_per_mfuel, Some(BaseUnits(PLX)));
        assert_eq!(job.bond_locked, Some(BaseUnits(4 * PLX)));
        assert_eq!(job.total_fuel, Some(1_500_000));
        assert_eq!(job.output_hash, Some(HexDigest(hash(&[b"o"]))));
        assert_eq!(job.audit, plexus_client::dto::AuditClass::Full);
        assert_eq!(job.blobs, vec![HexDigest(hash(&[b"b"]))]);
        // On the wire, the same strings as ever.
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["status"], "committed");
        assert_eq!(json["audit"], "full");
        assert_eq!(json["escrow"], (4 * PLX).to_string());
        assert_eq!(json["output_hash"], digest_hex(&hash(&[b"o"])));
        assert_eq!((job.posted_height, job.deadline_height), (2, 12));
        assert_eq!(
            (job.committed_height, job.settle_height),
            (Some(3), Some(8))
        );
        assert_eq!((job.paid, job.finished_height), (None, None));
        let open = job_dto(&state, &unmatched, &state.jobs[&unmatched]);
        assert_eq!((open.status, open.provider), (JobStatus::Posted, None));

        let provider = provider_dto(&state, &address(1), &state.providers[&address(1)]);
        assert_eq!(provider.endpoint, "http://provider:7000");
        assert_eq!(provider.bond_locked, (4 * PLX).to_string());
        assert_eq!((provider.jobs_in_flight, provider.capacity), (1, 2));
        assert_eq!((provider.reputation, provider.active), (5_000, true));
    }

    #[test]
    fn job_lists_filter_newest_first_and_are_bounded() {
        let (state, matched, unmatched) = market();
        let query = |consumer: Option<u64>, provider: Option<u64>, limit| JobsQuery {
            consumer: consumer.map(|i| address(i).to_string()),
            provider: provider.map(|i| address(i).to_string()),
            verifier: None,
            limit,
        };
        let ids = |jobs: Result<Vec<JobDto>, ApiError>| {
            jobs.unwrap()
                .into_iter()
                .map(|j| j.id.to_string())
                .collect::<Vec<_>>()
        };
        let mine = ids(list_jobs(&state, &query(Some(2), None, None)));
        assert_eq!(mine.len(), 2);
        assert!(mine.contains(&digest_hex(&matched)) && mine.contains(&digest_hex(&unmatched)));
        let assigned = ids(list_jobs(&state, &query(None, Some(1), None)));
        assert_eq!(assigned, vec![digest_hex(&matched)]);
        // Filters combine; no filter lists every retained job.
        let both = ids(list_jobs(&state, &query(Some(2), Some(1), None)));
        assert_eq!(both, vec![digest_hex(&matched)]);
        assert_eq!(ids(list_jobs(&state, &query(None, None, None))).len(), 2);
        assert_eq!(
            ids(list_jobs(&state, &query(Some(2), None, Some(1)))).len(),
            1
        );
        assert!(ids(list_jobs(&state, &query(Some(1), None, None))).is_empty());
        for limit in [0, JOBS_LIST_MAX + 1] {
            let Err(ApiError { status, body, .. }) =
                list_jobs(&state, &query(None, None, Some(limit)))
            else {
                panic!("accepted limit {limit}");
            };
            assert_eq!(
                (status, body.code.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_query")
            );
        }
        let not_an_address = JobsQuery {
            consumer: Some("nope".into()),
            ..JobsQuery::default()
        };
        assert_eq!(
            list_jobs(&state, &not_an_address)
                .map_err(|e| e.code().to_string())
                .err(),
            Some("invalid_address".to_string())
        );
    }
}
