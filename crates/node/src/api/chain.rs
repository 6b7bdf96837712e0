//! Chain routes: accounts and their proofs, blocks, validators, the status, the snapshot, the
//! block stream and the metrics.

use super::{
    mapping::block_dto,
    state::{ApiState, STREAMS_MAX, finalized_state},
};
use crate::http::{ApiError, ApiResult, PathAddress, PathHeight};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Sse, sse::Event},
};
use futures::{Stream, StreamExt};
use plexus_client::dto::{
    params::{AddressParam, HeightParam},
    *,
};
use plexus_state::State as LedgerState;
use plexus_types::hash::digest_hex;
use std::convert::Infallible;

/// An account at the last finalized height (an address never seen has zeros).
#[utoipa::path(get, path = "/v1/accounts/{address}", params(("address" = AddressParam, Path)),
    responses((status = 200, body = AccountDto), (status = 400, description = "`invalid_address`", body = ErrorBody)))]
pub(super) async fn get_account(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<AccountDto> {
    let (account, rewards) = finalized_state(&state, |s| {
        (s.account(&address), s.accrued_rewards(&address))
    });
    let next_nonce = state.app.next_nonce(&address);
    Ok(Json(AccountDto {
        address: address.to_string(),
        balance: account.balance.to_string(),
        nonce: account.nonce,
        next_nonce,
        bonded: account.bonded.to_string(),
        unbonding: account.unbonding.to_string(),
        rewards: rewards.to_string(),
    }))
}

/// An account's staking rewards at the last finalized height: what accrued (claimable by a
/// `rewards_withdraw` transaction) and its self-bond and delegations with their commissions.
#[utoipa::path(get, path = "/v1/accounts/{address}/rewards", params(("address" = AddressParam, Path)),
    responses((status = 200, body = RewardsDto), (status = 400, description = "`invalid_address`", body = ErrorBody)))]
pub(super) async fn get_rewards(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<RewardsDto> {
    Ok(Json(finalized_state(&state, |s| {
        let own = s.validators.get(&address);
        let delegations = s
            .delegations()
            .iter()
            .filter(|((delegator, _), _)| *delegator == address)
            .map(|((_, validator), amount)| {
                let record = s.validators.get(validator);
                DelegationDto {
                    validator: validator.to_string(),
                    amount: amount.to_string(),
                    commission_bps: record.map_or(0, |v| v.commission_bps),
                    commission_pending_bps: record.and_then(|v| v.commission_pending),
                }
            })
            .collect();
        RewardsDto {
            address: address.to_string(),
            accrued: s.accrued_rewards(&address).to_string(),
            self_bond: own.map_or(0, |v| v.self_bond).to_string(),
            commission_bps: own.map(|v| v.commission_bps),
            delegations,
        }
    })))
}

/// An account with a Merkle proof against the last finalized state root.
#[utoipa::path(get, path = "/v1/accounts/{address}/proof", params(("address" = AddressParam, Path)),
    responses((status = 200, body = ProofDto), (status = 400, description = "`invalid_address`", body = ErrorBody),
              (status = 404, description = "`unknown_account`", body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(super) async fn get_proof(
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
pub(super) async fn get_block(
    State(state): State<ApiState>,
    PathHeight(height): PathHeight,
) -> ApiResult<BlockDto> {
    stored_block(&state, height)
}

/// The last finalized block.
#[utoipa::path(get, path = "/v1/blocks/latest",
    responses((status = 200, body = BlockDto), (status = 500, body = ErrorBody)))]
pub(super) async fn get_latest_block(State(state): State<ApiState>) -> ApiResult<BlockDto> {
    let tip = finalized_state(&state, |s| s.height);
    stored_block(&state, tip)
}

/// Registered validators, by stake, with committee membership.
#[utoipa::path(get, path = "/v1/validators", responses((status = 200, body = Vec<ValidatorDto>)))]
pub(super) async fn get_validators(State(state): State<ApiState>) -> ApiResult<Vec<ValidatorDto>> {
    let mut validators = finalized_state(&state, |s| {
        s.validators
            .iter()
            .map(|(address, v)| ValidatorDto {
                address: address.to_string(),
                self_bond: v.self_bond.to_string(),
                delegated: v.delegated.to_string(),
                stake: v.stake().to_string(),
                in_committee: s.committee().contains(address),
                in_next_committee: s.next_committee().contains(address),
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
                commission_bps: v.commission_bps,
                commission_pending_bps: v.commission_pending,
            })
            .collect::<Vec<_>>()
    });
    validators.sort_by_key(|v| std::cmp::Reverse(v.stake.parse::<u128>().unwrap_or(0)));
    Ok(Json(validators))
}

/// The latest finalized block and the state after it, as the codec encoding of `(Block, State)`:
/// what a new node state-syncs from. It checks the block against a finalization certificate it
/// fetches from the committee, and the state against the block's state root.
#[utoipa::path(get, path = "/v1/snapshot",
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"), (status = 500, body = ErrorBody)))]
pub(super) async fn get_snapshot(
    State(state): State<ApiState>,
) -> Result<axum::response::Response, ApiError> {
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
/// The epoch of the block after `s`'s: its number, length and heights, and a change of length
/// scheduled after it.
pub(super) struct EpochStatus {
    pub epoch: u64,
    pub length: u64,
    pub first_height: u64,
    pub last_height: u64,
    pub change: Option<EpochSegmentDto>,
}

pub(super) fn epoch_status(s: &LedgerState) -> EpochStatus {
    let epoch = s.epoch_of(s.height + 1);
    let epochs = s.epochs();
    EpochStatus {
        epoch,
        length: epochs.length_of(epoch),
        first_height: epochs.first_height(epoch),
        last_height: epochs.last_height(epoch),
        change: epochs
            .segments()
            .iter()
            .find(|segment| segment.first_epoch > epoch)
            .map(|segment| EpochSegmentDto {
                first_epoch: segment.first_epoch,
                first_height: segment.first_height,
                length: segment.length,
            }),
    }
}

#[utoipa::path(get, path = "/v1/status", responses((status = 200, body = StatusDto)))]
pub(super) async fn get_status(State(state): State<ApiState>) -> ApiResult<StatusDto> {
    let mempool_size = state.app.with_mempool(|m| m.len());
    let faucet = state.faucet.is_some();
    let executed = state.app.finalized();
    let s = &executed.state;
    let epoch = epoch_status(s);
    Ok(Json(StatusDto {
        chain_id: s.chain_id,
        height: s.height,
        block_hash: digest_hex(&s.block_hash),
        state_root: digest_hex(&executed.block.header.state_root),
        timestamp: s.timestamp_ms,
        mempool_size,
        validators: s.validators.len(),
        committee: s.committee().len(),
        epoch: epoch.epoch,
        epoch_length: epoch.length,
        epoch_first_height: epoch.first_height,
        epoch_last_height: epoch.last_height,
        epoch_change: epoch.change,
        next_committee: s.next_committee().len(),
        reshare_logs: s.dealer_logs().len(),
        fee_min: s.params.fee_min.to_string(),
        supply: SupplyDto {
            total: s.supply.total().to_string(),
            minted: s.supply.minted().to_string(),
            burned: s.supply.burned().to_string(),
        },
        emission_last_epoch: s
            .emissions()
            .values()
            .next_back()
            .map(|e| e.total().to_string()),
        emissions: s
            .emissions()
            .iter()
            .map(|(epoch, e)| EmissionDto {
                epoch: *epoch,
                validators: e.validators.to_string(),
                providers: e.providers.to_string(),
                verifiers: e.verifiers.to_string(),
                storage: e.storage.to_string(),
            })
            .collect(),
        audit_pool: s.audit_pool().to_string(),
        seg_fuel: s.params.audit.seg_fuel,
        audit_block_ms: s.params.audit.audit_block_ms,
        faucet,
        seed: digest_hex(&s.beacon),
        beacon_key: plexus_client::hex_encode(&commonware_codec::Encode::encode(
            s.beacon_sharing().public(),
        )),
    }))
}

/// One server-sent event of `/v1/stream/blocks`, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the stream writes these fields as SSE lines
pub(super) struct BlockStreamEvent {
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
pub(super) async fn stream_blocks(
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
pub(super) async fn get_metrics(
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

/// Every governed chain parameter of `state` (`plexus_state::governance::registry`) with its
/// bounds.
pub fn params(state: &plexus_state::State) -> plexus_client::dto::ParamsDto {
    use plexus_client::dto::{ParamDto, ParamsDto};
    use plexus_state::governance::registry::GOVERNED;
    let mut sections: std::collections::BTreeMap<String, std::collections::BTreeMap<_, _>> =
        Default::default();
    for governed in GOVERNED {
        sections
            .entry(governed.section.to_string())
            .or_default()
            .insert(
                governed.name.to_string(),
                ParamDto {
                    value: governed.get(&state.params).to_string(),
                    min: governed.min.to_string(),
                    max: governed.max.to_string(),
                },
            );
    }
    ParamsDto {
        height: state.height,
        sections,
    }
}

/// Every chain parameter a governance proposal may change, by section (`chain`, `audit`,
/// `storage`) and name, with its value at the last finalized height and its bounds.
#[utoipa::path(get, path = "/v1/params", responses((status = 200, body = plexus_client::dto::ParamsDto)))]
pub(super) async fn get_params(
    State(state): State<ApiState>,
) -> ApiResult<plexus_client::dto::ParamsDto> {
    Ok(Json(finalized_state(&state, params)))
}
