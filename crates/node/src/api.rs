//! The HTTP API (axum): JSON under `/v1`, server-sent events for finalized blocks, Prometheus
//! metrics and the OpenAPI document. Every error is `{"code", "message"}` with a 4xx/5xx status;
//! nothing a caller sends reaches a panic.

use crate::{metrics::Metrics, store::Store};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response, Sse, sse::Event},
    routing::{get, post},
};
use commonware_cryptography::Signer;
use futures::{Stream, StreamExt};
use plexus_chain::{AdmitError, App};
use plexus_client::dto::*;
use plexus_state::State as LedgerState;
use plexus_types::{
    Address, Amount, Block, Payload, PrivateKey, Receipt, SignedTransaction, Status, TX_SIZE_MAX,
    Transaction, amount::parse_amount, hash::digest_hex, hash::parse_digest,
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
}

/// An API error: status plus the JSON body.
pub struct ApiError(StatusCode, ErrorBody);

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError(
            status,
            ErrorBody {
                code: code.to_string(),
                message: message.into(),
            },
        )
    }

    fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn receipt_dto(receipt: &Receipt) -> ReceiptDto {
    let (status, reason) = match receipt.status {
        Status::Success => ("success", None),
        Status::Failed(r) => ("failed", Some(r.code().to_string())),
        Status::Rejected(r) => ("rejected", Some(r.code().to_string())),
    };
    ReceiptDto {
        tx_hash: digest_hex(&receipt.tx_hash),
        status: status.to_string(),
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
        Payload::Evidence { .. } | Payload::Participation { .. } | Payload::DealerLog { .. } => {
            (None, 0)
        }
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

/// A body axum could not read (over the route's limit, or a broken stream) as a JSON error;
/// `too_large` is the code for the over-limit case.
fn body_error(rejection: axum::extract::rejection::BytesRejection, too_large: &str) -> ApiError {
    let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large
    } else {
        "malformed"
    };
    ApiError::new(rejection.status(), code, rejection.body_text())
}

/// Counts a submission's outcome in the metrics (accepted, or rejected by code).
fn count<T>(state: &ApiState, result: &Result<T, ApiError>) {
    match result {
        Ok(_) => {
            state.metrics.txs_accepted.inc();
        }
        Err(err) => state.metrics.reject(&err.1.code),
    }
}

fn parse_address(text: &str) -> Result<Address, ApiError> {
    text.parse::<Address>().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_address",
            format!("{text:?} is not an address: {e}"),
        )
    })
}

/// Runs `f` on the last finalized state, outside the ledger lock.
fn finalized_state<T>(state: &ApiState, f: impl FnOnce(&LedgerState) -> T) -> T {
    f(&state.app.finalized().state)
}

/// Submit a transaction: the body is its canonical binary encoding.
#[utoipa::path(post, path = "/v1/txs", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = SubmitResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn submit_tx(
    State(state): State<ApiState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let result = match body {
        Ok(body) => submit(&state, &body),
        Err(rejection) => Err(body_error(rejection, "tx_too_large")),
    };
    count(&state, &result);
    result.map(|hash| (StatusCode::ACCEPTED, Json(SubmitResponse { hash })))
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

fn admit(state: &ApiState, tx: SignedTransaction) -> Result<String, ApiError> {
    if !tx.verify_signature() {
        return Err(bad_signature());
    }
    let hash = tx.hash();
    state.app.submit(tx, hash).map_err(admit_error)?;
    Ok(digest_hex(&hash))
}

/// Verifies a batch's signatures (together, then one by one only if the batch fails): returns
/// each transaction's early verdict and the transactions that may enter the mempool.
#[allow(clippy::type_complexity)]
fn check_batch(
    txs: Vec<SignedTransaction>,
) -> (
    Vec<Option<ApiError>>,
    Vec<(SignedTransaction, plexus_types::Digest)>,
) {
    let all_valid = plexus_chain::ledger::verify_signatures(&txs);
    let mut outcomes = Vec::with_capacity(txs.len());
    let mut admissible = Vec::with_capacity(txs.len());
    for tx in txs {
        if all_valid || tx.verify_signature() {
            let hash = tx.hash();
            admissible.push((tx, hash));
            outcomes.push(None);
        } else {
            outcomes.push(Some(bad_signature()));
        }
    }
    (outcomes, admissible)
}

/// The most transactions in one batch submission.
pub const TX_BATCH_MAX: usize = 1_000;

/// Submit up to 1000 transactions at once: the body is the codec encoding of the list (a varint
/// count, then each signed transaction). Signatures are verified as a batch. Each transaction gets
/// the outcome a single submission would have had.
#[utoipa::path(post, path = "/v1/txs/batch", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Vec<BatchItemDto>), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn submit_batch(
    State(state): State<ApiState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Vec<BatchItemDto>> {
    let body = body.map_err(|r| body_error(r, "batch_too_large"))?;
    let range: commonware_codec::RangeCfg<usize> = (1..=TX_BATCH_MAX).into();
    let txs = <Vec<SignedTransaction> as commonware_codec::Decode>::decode_cfg(body, &(range, ()))
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("not a batch of 1 to {TX_BATCH_MAX} transactions: {e}"),
            )
        })?;
    // Signature checks are the CPU-heavy part: off the async workers.
    let (outcomes, admissible) = tokio::task::spawn_blocking(move || check_batch(txs))
        .await
        .map_err(ApiError::internal)?;
    let hashes: Vec<_> = admissible.iter().map(|(_, h)| *h).collect();
    let mut results = state.app.submit_batch(admissible).into_iter().zip(hashes);
    let items = outcomes
        .into_iter()
        .map(|outcome| {
            let result = match outcome {
                Some(err) => Err(err),
                None => {
                    let (result, hash) = results
                        .next()
                        .expect("one result per admissible transaction");
                    result.map(|_| digest_hex(&hash)).map_err(admit_error)
                }
            };
            count(&state, &result);
            match result {
                Ok(hash) => BatchItemDto {
                    hash: Some(hash),
                    error: None,
                },
                Err(ApiError(_, body)) => BatchItemDto {
                    hash: None,
                    error: Some(body),
                },
            }
        })
        .collect();
    Ok(Json(items))
}

/// A transaction's status: pending, or finalized with its height and receipt.
#[utoipa::path(get, path = "/v1/txs/{hash}", params(("hash" = String, Path)),
    responses((status = 200, body = TxStatusDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_tx(State(state): State<ApiState>, Path(hash): Path<String>) -> ApiResult<TxStatusDto> {
    let digest = parse_digest(&hash).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            format!("{hash:?} is not 64 hex digits"),
        )
    })?;
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
            status: "finalized".into(),
            height: Some(location.height),
            index: Some(location.index),
            receipt: receipts.get(location.index as usize).map(receipt_dto),
        }));
    }
    if state.app.with_mempool(|m| m.contains(&digest)) {
        return Ok(Json(TxStatusDto {
            hash: hex,
            status: "pending".into(),
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
#[utoipa::path(get, path = "/v1/accounts/{address}", params(("address" = String, Path)),
    responses((status = 200, body = AccountDto), (status = 400, body = ErrorBody)))]
async fn get_account(
    State(state): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<AccountDto> {
    let address = parse_address(&address)?;
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
#[utoipa::path(get, path = "/v1/accounts/{address}/proof", params(("address" = String, Path)),
    responses((status = 200, body = ProofDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_proof(
    State(state): State<ApiState>,
    Path(address): Path<String>,
) -> ApiResult<ProofDto> {
    let address = parse_address(&address)?;
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
#[utoipa::path(get, path = "/v1/blocks/{height}", params(("height" = String, Path)),
    responses((status = 200, body = BlockDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_block(
    State(state): State<ApiState>,
    Path(height): Path<String>,
) -> ApiResult<BlockDto> {
    if height == "latest" {
        let tip = finalized_state(&state, |s| s.height);
        return stored_block(&state, tip);
    }
    let height: u64 = height.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_height",
            format!("{height:?} is not a height or \"latest\""),
        )
    })?;
    stored_block(&state, height)
}

/// The last finalized block.
#[utoipa::path(get, path = "/v1/blocks/latest", responses((status = 200, body = BlockDto)))]
async fn get_latest_block(state: State<ApiState>) -> ApiResult<BlockDto> {
    get_block(state, Path("latest".to_string())).await
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

/// The latest finalized block and the state after it, as the codec encoding of `(Block, State)`:
/// what a new node state-syncs from. It checks the block against a finalization certificate it
/// fetches from the committee, and the state against the block's state root.
#[utoipa::path(get, path = "/v1/snapshot", responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream")))]
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
        faucet,
        seed: digest_hex(&s.beacon),
        beacon_key: plexus_client::hex_encode(&commonware_codec::Encode::encode(
            s.beacon_sharing().public(),
        )),
    }))
}

/// Devnet only: transfer PLX from the faucet key to an address.
#[utoipa::path(post, path = "/v1/faucet", request_body = FaucetRequest,
    responses((status = 202, body = SubmitResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_faucet(
    State(state): State<ApiState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let body = body.map_err(|r| body_error(r, "malformed"))?;
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

/// Server-sent events: one `block` event per finalized block.
#[utoipa::path(get, path = "/v1/stream/blocks", responses((status = 200, description = "text/event-stream of BlockEventDto")))]
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

async fn get_metrics(State(state): State<ApiState>) -> impl IntoResponse {
    state
        .metrics
        .mempool_size
        .set(state.app.with_mempool(|m| m.len()) as i64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
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
        get_status,
        get_snapshot,
        post_faucet,
        stream_blocks
    )
)]
struct ApiDoc;

/// The OpenAPI document, generated from the handlers and DTOs above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn get_openapi() -> impl IntoResponse {
    Json(openapi())
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Requests served at once across all routes (block streams excepted); more wait for a permit.
pub const REQUESTS_CONCURRENT_MAX: usize = 256;
/// Block-stream subscribers at once.
pub const STREAMS_MAX: usize = 64;

pub fn router(state: ApiState) -> Router {
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
        .route("/v1/status", get(get_status))
        .route("/v1/snapshot", get(get_snapshot))
        .route("/v1/faucet", post(post_faucet))
        .route("/v1/openapi.json", get(get_openapi))
        .route("/metrics", get(get_metrics))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            REQUESTS_CONCURRENT_MAX,
        ))
        .merge(streams)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies past this are cut off by axum; ours are checked against TX_SIZE_MAX with a JSON error.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}
