//! Storage-market routes: stored files (one by id, or an owner's list), providers' storage
//! offers, and the shards drawn to or held by one provider (what its agent polls to accept,
//! prove and repair), all read from the last finalized state.

use super::{
    mapping::{shard_dto, storage_file_dto, storage_file_summary_dto, storage_offer_dto},
    paging::{ListLimitParam, list_limit},
    state::{ApiState, finalized_state},
};
use crate::http::{ApiError, ApiQuery, ApiResult, PathAddress, PathHash, parse_address};
use axum::{Json, extract::State, http::StatusCode};
use plexus_client::dto::{
    params::{AddressParam, HashParam},
    *,
};
use plexus_state::State as LedgerState;
use plexus_types::hash::digest_hex;

/// Stored file `id` in `state`, or 404 `unknown_deal`.
pub fn storage_file(
    state: &LedgerState,
    id: &plexus_types::Digest,
) -> Result<StorageFileDto, ApiError> {
    let deal = state.deals.get(id).ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownDeal;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!(
                "no stored file {} on chain (never posted, or its deal ended)",
                digest_hex(id)
            ),
        )
    })?;
    Ok(storage_file_dto(id, deal))
}

/// One stored file by id (the hash of the transaction that posted its deal), with every
/// segment and shard.
#[utoipa::path(get, path = "/v1/storage/files/{id}", params(("id" = HashParam, Path)),
    responses((status = 200, body = StorageFileDto), (status = 400, description = "`invalid_hash`", body = ErrorBody),
              (status = 404, description = "`unknown_deal`", body = ErrorBody)))]
pub(super) async fn get_storage_file(
    State(state): State<ApiState>,
    PathHash(digest): PathHash,
) -> ApiResult<StorageFileDto> {
    finalized_state(&state, |s| storage_file(s, &digest)).map(Json)
}

/// The filter of `GET /v1/storage/files`: optional, like the jobs list's.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StorageFilesQuery {
    /// Only this owner's files.
    pub owner: Option<String>,
    /// 1 to `LIST_MAX`; defaults to it.
    pub limit: Option<usize>,
}

/// The stored files `query` selects in `state`, newest first (by posted height, then id).
pub fn list_storage_files(
    state: &LedgerState,
    query: &StorageFilesQuery,
) -> Result<Vec<StorageFileSummaryDto>, ApiError> {
    let limit = list_limit(query.limit)?;
    let owner = query.owner.as_deref().map(parse_address).transpose()?;
    let mut found: Vec<(u64, &plexus_types::Digest, &plexus_state::storage::Deal)> = state
        .deals
        .iter()
        .filter(|(_, deal)| owner.as_ref().is_none_or(|owner| deal.owner == *owner))
        .map(|(id, deal)| (deal.posted_height, id, deal))
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    found.truncate(limit);
    Ok(found
        .into_iter()
        .map(|(_, id, deal)| storage_file_summary_dto(id, deal))
        .collect())
}

/// Open stored files, newest first, without their segments: all of them, or one owner's.
#[utoipa::path(get, path = "/v1/storage/files",
    params(("owner" = Option<AddressParam>, Query), ("limit" = Option<ListLimitParam>, Query)),
    responses((status = 200, body = Vec<StorageFileSummaryDto>), (status = 400, description = "`invalid_query`, `invalid_address`", body = ErrorBody),
              (status = 500, body = ErrorBody)))]
pub(super) async fn get_storage_files(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<StorageFilesQuery>,
) -> ApiResult<Vec<StorageFileSummaryDto>> {
    // A scan of every open deal: off the async workers.
    let executed = state.app.finalized();
    let files = tokio::task::spawn_blocking(move || list_storage_files(&executed.state, &query))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(files))
}

/// Every provider's storage offer, by address, with what its draws weigh.
#[utoipa::path(get, path = "/v1/storage/providers", responses((status = 200, body = Vec<StorageOfferDto>)))]
pub(super) async fn get_storage_providers(
    State(state): State<ApiState>,
) -> ApiResult<Vec<StorageOfferDto>> {
    Ok(Json(finalized_state(&state, |s| {
        s.storage_offers
            .iter()
            .filter_map(|(address, offer)| storage_offer_dto(s, address, offer))
            .collect()
    })))
}

/// The storage parameters of `state` in their JSON form.
pub fn storage_params(state: &LedgerState) -> StorageParamsDto {
    let storage = &state.params.storage;
    StorageParamsDto {
        // `StorageParams::check` keeps n <= SHARDS_MAX (256) and k < n.
        k: u16::try_from(storage.k).unwrap_or(u16::MAX),
        n: u16::try_from(storage.n).unwrap_or(u16::MAX),
        deal_epochs_min: storage.deal_epochs_min,
        deal_epochs_max: storage.deal_epochs_max,
        accept_window_blocks: storage.accept_window_blocks,
        proof_window_blocks: storage.proof_window_blocks,
        // The length of the epoch in progress (a vote's new length starts two epochs later).
        epoch_length_blocks: state.epochs().length_of(state.epoch_of(state.height + 1)),
        miss_burn_multiple: storage.miss_burn_multiple,
        misses_before_lost: storage.misses_before_lost,
        fault_excuse_epochs_max: storage.fault_excuse_epochs_max,
        repair_deadline_epochs: storage.repair_deadline_epochs,
        collateral_epochs: storage.collateral_epochs,
        collateral_min_per_shard: BaseUnits(storage.collateral_min_per_shard),
        challenges_per_block_max: storage.challenges_per_block_max,
        segment_bytes_max: plexus_storage::segment::SEGMENT_BYTES_MAX,
        deal_segments_max: plexus_types::deal::DEAL_SEGMENTS_MAX as u32,
        price_unit_bytes: plexus_types::deal::PRICE_UNIT_BYTES as u64,
    }
}

/// The storage market's chain parameters: what a deal must name (k, n, its length in epochs)
/// and how long a client waits (the accept window, the epoch's length in blocks).
#[utoipa::path(get, path = "/v1/storage/params", responses((status = 200, body = StorageParamsDto)))]
pub(super) async fn get_storage_params(
    State(state): State<ApiState>,
) -> ApiResult<StorageParamsDto> {
    Ok(Json(finalized_state(&state, storage_params)))
}

/// Every shard drawn to or held by `holder` in `state` (drawn, active, faulty or repairing; a
/// lost shard's record names its lost holder but is no longer its), by deal id, segment and
/// slot. A scan of every open deal.
pub fn holder_shards(state: &LedgerState, holder: &plexus_types::Address) -> Vec<HolderShardDto> {
    let mut found = Vec::new();
    for (id, deal) in &state.deals {
        let n = deal.segments.first().map_or(0, |segment| {
            u16::try_from(segment.shards.len()).unwrap_or(u16::MAX)
        });
        for (index, segment) in deal.segments.iter().enumerate() {
            for (slot, shard) in segment.shards.iter().enumerate() {
                if shard.holder != *holder || !shard.reserves() {
                    continue;
                }
                found.push(HolderShardDto {
                    deal: id.into(),
                    segment: u32::try_from(index).unwrap_or(u32::MAX),
                    k: deal.k,
                    n,
                    commitment: segment.commitment.into(),
                    size_bytes: segment.size_bytes,
                    shard_bytes: segment.shard_bytes,
                    shard: shard_dto(u16::try_from(slot).unwrap_or(u16::MAX), shard),
                });
            }
        }
    }
    found
}

/// The shards drawn to or held by one provider, with their state, the commitment their proofs
/// reach, their accept due and their latest challenge (the open one is answered with a
/// `storage_proof` of its chunk by its due height). Empty for an address that holds nothing.
#[utoipa::path(get, path = "/v1/storage/holders/{address}/shards", params(("address" = AddressParam, Path)),
    responses((status = 200, body = Vec<HolderShardDto>), (status = 400, description = "`invalid_address`", body = ErrorBody),
              (status = 500, body = ErrorBody)))]
pub(super) async fn get_holder_shards(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<Vec<HolderShardDto>> {
    // A scan of every open deal: off the async workers.
    let executed = state.app.finalized();
    let shards = tokio::task::spawn_blocking(move || holder_shards(&executed.state, &address))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(shards))
}
