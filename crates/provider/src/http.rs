//! The provider's HTTP API: what consumers and (later) verifiers fetch from a provider.
//!
//! - `GET /v1/status` — the provider's address and its jobs by phase.
//! - `GET /v1/jobs/{id}` — the provider's record of a job (phase, decision, commitment, running).
//! - `GET /v1/jobs/{id}/output` — the output bytes of a committed job.
//! - `GET /v1/jobs/{id}/checkpoints/{index}` — a checkpoint manifest (binary, see
//!   `checkpoints::encode`).
//! - `GET /v1/jobs/{id}/pages/{hash}` — a checkpoint page's bytes.
//! - `GET /v1/blobs/{hash}` — any blob the provider holds (modules, inputs, outputs).
//! - `PUT`/`GET /v1/shards/{deal}/{segment}/{slot}` — the shards of storage deals drawn to
//!   this provider, as `plexus_storage::access` defines them (`shards`).
//!
//! Errors are `{"code", "message"}` like the node's.

mod shards;
pub use shards::{NODE_RETRY, ShardService, UPLOADS_QUEUED_MAX};

use crate::{checkpoints::CheckpointReader, journal::Journal};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use plexus_blobs::BlobStore;
use plexus_client::dto::ErrorBody;
use plexus_exec::PageSource;
use plexus_types::ContentHash;
use plexus_types::hash::parse_digest;
use serde_json::json;
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

/// Requests served at once.
pub const REQUESTS_CONCURRENT_MAX: usize = 64;

#[derive(Clone)]
pub struct HttpState {
    pub address: String,
    pub journal: Arc<Mutex<Journal>>,
    pub running: Arc<Mutex<BTreeSet<String>>>,
    pub blobs: Arc<BlobStore>,
    pub checkpoints: Arc<CheckpointReader>,
    /// The shard routes' store, node and accept queue.
    pub shards: Arc<ShardService>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            code: code.into(),
            message: message.into(),
        }),
    )
        .into_response()
}

fn bytes(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

fn internal(err: impl std::fmt::Display) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        err.to_string(),
    )
}

async fn status(State(state): State<HttpState>) -> Response {
    let journal = state.journal.lock().unwrap_or_else(|p| p.into_inner());
    let mut phases = std::collections::BTreeMap::<&str, u64>::new();
    for record in journal.records() {
        *phases.entry(record.phase.name()).or_default() += 1;
    }
    let running = state
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len();
    Json(json!({"address": state.address, "jobs": phases, "running": running})).into_response()
}

async fn job(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let id = id.to_ascii_lowercase();
    let journal = state.journal.lock().unwrap_or_else(|p| p.into_inner());
    let Some(record) = journal.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_job",
            format!("no job {id} here"),
        );
    };
    let running = state
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&id);
    Json(json!({
        "id": record.id,
        "phase": record.phase.name(),
        "running": running,
        "deadline_height": record.deadline_height,
        "decision": record.decision,
        "commitment": record.phase.commitment(),
    }))
    .into_response()
}

async fn output(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let id = id.to_ascii_lowercase();
    let commitment = {
        let journal = state.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal.get(&id).and_then(|r| r.phase.commitment().cloned())
    };
    let Some(commitment) = commitment else {
        return error(
            StatusCode::NOT_FOUND,
            "no_output",
            format!("job {id} has no output here (unknown or not executed yet)"),
        );
    };
    let Some(hash) = ContentHash::parse(&commitment.output_hash) else {
        return internal("a stored commitment has a malformed output hash");
    };
    let blobs = state.blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.get(&hash)).await {
        Ok(Ok(Some(body))) => bytes(body),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "no_output",
            format!(
                "job {id} failed ({}) and has no output bytes",
                commitment.failure.unwrap_or_default()
            ),
        ),
        Ok(Err(err)) => internal(err),
        Err(err) => internal(err),
    }
}

/// The 400 for a path's job id that is not 64 hex digits.
fn not_a_job(id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_hash",
        format!("{id:?} is not a job id"),
    )
}

async fn checkpoint(
    State(state): State<HttpState>,
    Path((id, index)): Path<(String, u64)>,
) -> Response {
    let Some(job) = parse_digest(&id) else {
        return not_a_job(&id);
    };
    match state.checkpoints.checkpoint(&job, index) {
        Ok(Some(checkpoint)) => bytes(crate::checkpoints::encode(&checkpoint)),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown_checkpoint",
            format!("no checkpoint {index} of job {id}"),
        ),
        Err(err) => internal(err),
    }
}

/// The job's whole trace: `(fuel u64 LE | state_root [32])` per leaf, in index order. A
/// verifier checks it against the committed trace root before it relies on any leaf.
async fn leaves(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Some(job) = parse_digest(&id) else {
        return not_a_job(&id);
    };
    match crate::leaves::read_leaves(state.checkpoints.dir(), &job) {
        Ok(Some(leaves)) => bytes(crate::leaves::encode_leaves(&leaves)),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown_trace",
            format!("no trace of job {id}"),
        ),
        Err(err) => internal(err),
    }
}

async fn page(
    State(state): State<HttpState>,
    Path((id, hash)): Path<(String, String)>,
) -> Response {
    let Some(job) = parse_digest(&id) else {
        return not_a_job(&id);
    };
    let Some(page_hash) = ContentHash::parse(&hash) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            format!("{hash:?} is not a page hash"),
        );
    };
    match state.checkpoints.pages(&job).page(&page_hash) {
        Ok(Some(body)) => bytes(body.into_owned()),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown_page",
            format!("no page {hash}"),
        ),
        Err(err) => internal(err),
    }
}

async fn blob(State(state): State<HttpState>, Path(hash): Path<String>) -> Response {
    let Some(name) = ContentHash::parse(&hash) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            format!("{hash:?} is not 64 hex digits"),
        );
    };
    let blobs = state.blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.get(&name)).await {
        Ok(Ok(Some(body))) => bytes(body),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "unknown_blob",
            format!("no blob {hash}"),
        ),
        Ok(Err(err)) => internal(err),
        Err(err) => internal(err),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Requests that read whole blobs (up to 64 MiB each) served at once.
pub const BLOB_REQUESTS_MAX: usize = 8;

pub fn router(state: HttpState) -> Router {
    // Bulk reads get their own, smaller limit so they cannot hold gigabytes in memory at once.
    // Shards are as large as blobs, and an upload is held in memory until it is checked.
    let shards = Router::new()
        .route(
            "/v1/shards/{deal}/{segment}/{slot}",
            get(shards::get_shard).put(shards::put_shard),
        )
        .with_state(state.shards.clone());
    let bulk = Router::new()
        .route("/v1/jobs/{id}/output", get(output))
        .route("/v1/blobs/{hash}", get(blob))
        .merge(shards)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            BLOB_REQUESTS_MAX,
        ));
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/jobs/{id}/checkpoints/{index}", get(checkpoint))
        .route("/v1/jobs/{id}/pages/{hash}", get(page))
        .route("/v1/jobs/{id}/leaves", get(leaves))
        .merge(bulk)
        .fallback(not_found)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            REQUESTS_CONCURRENT_MAX,
        ))
        .with_state(state)
}
