//! The HTTP API (axum): JSON under `/v1`, server-sent events for finalized blocks, Prometheus
//! metrics and the OpenAPI document. Every error is `{"code", "message"}` with a 4xx/5xx status;
//! nothing a caller sends reaches a panic.
//!
//! - `state`: the shared state of every route and the limits on it;
//! - `mapping`: the chain's records in their JSON form (`plexus_client::dto`);
//! - `paging`: the list routes' one `limit` convention;
//! - `txs`, `chain`, `market`, `storage`: the routes, by resource;
//! - `openapi`: the document, from the routes' annotations.
//!
//! Modules import only downward (`mod.rs` wires the routes; no route module imports another).

mod chain;
mod gov;
mod mapping;
mod market;
mod openapi;
mod paging;
mod state;
mod storage;
#[cfg(test)]
mod tests;
mod txs;

pub use mapping::{
    block_dto, job_dto, provider_dto, shard_dto, storage_file_dto, storage_file_summary_dto,
    storage_offer_dto, storage_stats_dto, verifier_dto,
};
pub use market::{JobsQuery, list_jobs};
pub use openapi::openapi;
pub use paging::LIST_MAX;
pub use state::{
    ApiState, FAUCET_AMOUNT_MAX, Faucet, REQUESTS_CONCURRENT_MAX, STREAMS_MAX, check_permits,
};
pub use storage::{
    StorageFilesQuery, holder_shards, list_storage_files, storage_file, storage_params,
};
pub use txs::TX_BATCH_MAX;

use crate::http::{method_not_allowed, not_found};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use plexus_types::TX_SIZE_MAX;
use std::sync::Arc;

/// Every route of the node's API, the blob store's (`blob_api`) included, with the JSON
/// refusals for unknown paths and methods, behind the per-client limits (`limits`).
pub fn router(state: ApiState, blobs: Arc<plexus_blobs::BlobStore>) -> Router {
    let limits = state.limits.clone();
    let streams = Router::new().route("/v1/stream/blocks", get(chain::stream_blocks));
    Router::new()
        .route("/v1/txs", post(txs::submit_tx))
        .route(
            "/v1/txs/batch",
            post(txs::submit_batch).layer(DefaultBodyLimit::max(TX_BATCH_MAX * (TX_SIZE_MAX + 8))),
        )
        .route("/v1/txs/{hash}", get(txs::get_tx))
        .route("/v1/accounts/{address}", get(chain::get_account))
        .route("/v1/accounts/{address}/proof", get(chain::get_proof))
        .route("/v1/accounts/{address}/rewards", get(chain::get_rewards))
        .route("/v1/blocks/latest", get(chain::get_latest_block))
        .route("/v1/blocks/{height}", get(chain::get_block))
        .route("/v1/validators", get(chain::get_validators))
        .route("/v1/providers", get(market::get_providers))
        .route("/v1/verifiers", get(market::get_verifiers))
        .route("/v1/providers/{address}", get(market::get_provider))
        .route("/v1/jobs", get(market::get_jobs))
        .route("/v1/jobs/{id}", get(market::get_job))
        .route("/v1/storage/files", get(storage::get_storage_files))
        .route("/v1/storage/files/{id}", get(storage::get_storage_file))
        .route("/v1/storage/providers", get(storage::get_storage_providers))
        .route("/v1/storage/params", get(storage::get_storage_params))
        .route(
            "/v1/storage/holders/{address}/shards",
            get(storage::get_holder_shards),
        )
        .route("/v1/status", get(chain::get_status))
        .route("/v1/params", get(chain::get_params))
        .route("/v1/proposals", get(gov::get_proposals))
        .route("/v1/proposals/{id}", get(gov::get_proposal))
        .route("/v1/snapshot", get(chain::get_snapshot))
        .route("/v1/faucet", post(txs::post_faucet))
        .route("/v1/openapi.json", get(openapi::get_openapi))
        .route("/metrics", get(chain::get_metrics))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            REQUESTS_CONCURRENT_MAX,
        ))
        .merge(streams)
        // The explorer's page and files (`/`, `/explorer/*`): no path under `/v1` or `/metrics`.
        .merge(crate::explorer::router())
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
