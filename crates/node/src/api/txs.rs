//! Transaction routes: submit one or a batch, a transaction's status, and the devnet faucet
//! (which signs and submits a transfer).

use super::{
    mapping::receipt_dto,
    state::{ApiState, FAUCET_AMOUNT_MAX, count, finalized_state},
};
use crate::{
    http::{ApiError, ApiResult, PathHash, body_error, parse_address},
    limits::ClientIp,
    submit::Refusal,
};
use axum::{Extension, Json, body::Bytes, extract::State, http::StatusCode};
use commonware_cryptography::Signer;
use plexus_chain::AdmitError;
use plexus_client::dto::{params::HashParam, *};
use plexus_types::{
    Address, Payload, SignedTransaction, TX_SIZE_MAX, Transaction, amount::parse_amount,
    hash::digest_hex,
};

/// Submit a transaction: the body is its canonical binary encoding.
#[utoipa::path(post, path = "/v1/txs", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = SubmitResponse),
              (status = 400, description = "`malformed`, `bad_signature`, `weak_key`, `wrong_chain`, `fee_too_low`, `nonce_too_high`, `overflow`, ...", body = ErrorBody),
              (status = 409, description = "`duplicate`, `replayed_nonce`, `nonce_in_use`", body = ErrorBody),
              (status = 413, description = "`tx_too_large`", body = ErrorBody),
              (status = 422, description = "`insufficient_balance`", body = ErrorBody),
              (status = 429, description = "`account_mempool_full`, `rate_limited` (with `Retry-After`)", body = ErrorBody),
              (status = 503, description = "`mempool_full`", body = ErrorBody)))]
pub(super) async fn submit_tx(
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
pub(super) fn admit(state: &ApiState, tx: SignedTransaction) -> Result<String, ApiError> {
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
pub(super) async fn submit_batch(
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
pub(super) async fn get_tx(
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

/// Devnet only: transfer PLX from the faucet key to an address.
#[utoipa::path(post, path = "/v1/faucet", request_body = FaucetRequest,
    responses((status = 202, body = SubmitResponse),
              (status = 400, description = "`malformed`, `invalid_address`, `invalid_amount`", body = ErrorBody),
              (status = 404, description = "`no_faucet`: not a devnet", body = ErrorBody),
              (status = 409, description = "`nonce_in_use` and the other admission codes of `POST /v1/txs`", body = ErrorBody),
              (status = 413, description = "`body_too_large`", body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn post_faucet(
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
