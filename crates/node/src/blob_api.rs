//! The node's blob endpoints: where consumers upload job modules, weights and inputs, and where
//! providers fetch them by hash.
//!
//! `PUT /v1/blobs/{hash}` stores a body that must hash (BLAKE3) to `{hash}`; `POST /v1/blobs`
//! stores a body under its hash and returns it; `GET /v1/blobs/{hash}` serves the bytes (checked
//! against the hash on the way out: corrupt storage is a 500, never wrong bytes). The body limit
//! is the store's blob limit; at most `BLOB_REQUESTS_MAX` blob requests run at once.

use crate::http::{ApiError, PathContentHash, body_error};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use plexus_blobs::{BlobError, BlobStore};
use plexus_client::dto::{BlobDto, ErrorBody, params::HashParam};
use std::sync::Arc;

/// Blob requests served at once (each may carry up to the blob limit in memory).
pub const BLOB_REQUESTS_MAX: usize = 8;

fn blob_error(err: BlobError) -> ApiError {
    let (status, code) = match &err {
        BlobError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large"),
        BlobError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, "store_full"),
        BlobError::HashMismatch { .. } => (StatusCode::BAD_REQUEST, "hash_mismatch"),
        BlobError::Corrupt(_) | BlobError::Io { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    ApiError::new(status, code, err.to_string())
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| body_error(rejection, "blob_too_large"))
}

/// Stores `bytes` (checked against `expected` when given) off the async workers: hashing and the
/// synced write are blocking work.
async fn store_blob(
    store: Arc<BlobStore>,
    bytes: Bytes,
    expected: Option<plexus_types::ContentHash>,
) -> Result<(StatusCode, Json<BlobDto>), ApiError> {
    let size = bytes.len() as u64;
    let hash = tokio::task::spawn_blocking(move || match expected {
        Some(expected) => store.put_expecting(&expected, &bytes).map(|()| expected),
        None => store.put(&bytes),
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(blob_error)?;
    Ok((
        StatusCode::CREATED,
        Json(BlobDto {
            hash: hash.to_hex(),
            size,
        }),
    ))
}

/// Store a blob under its BLAKE3 hash, which the body must hash to.
#[utoipa::path(put, path = "/v1/blobs/{hash}", params(("hash" = HashParam, Path)),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream",
        description = "The blob's bytes (none: the empty blob)"),
    responses((status = 201, body = BlobDto),
              (status = 400, description = "`invalid_hash`, `hash_mismatch`, `malformed`", body = ErrorBody),
              (status = 413, description = "`blob_too_large`", body = ErrorBody),
              (status = 500, body = ErrorBody), (status = 507, description = "`store_full`", body = ErrorBody)))]
pub(crate) async fn put_blob(
    State(store): State<Arc<BlobStore>>,
    PathContentHash(expected): PathContentHash,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<BlobDto>), ApiError> {
    store_blob(store, body(bytes)?, Some(expected)).await
}

/// Store a blob; the answer names its BLAKE3 hash.
#[utoipa::path(post, path = "/v1/blobs",
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream",
        description = "The blob's bytes (none: the empty blob)"),
    responses((status = 201, body = BlobDto), (status = 400, description = "`malformed`", body = ErrorBody),
              (status = 413, description = "`blob_too_large`", body = ErrorBody),
              (status = 500, body = ErrorBody), (status = 507, description = "`store_full`", body = ErrorBody)))]
pub(crate) async fn post_blob(
    State(store): State<Arc<BlobStore>>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<BlobDto>), ApiError> {
    store_blob(store, body(bytes)?, None).await
}

/// A blob's bytes, checked against its hash on the way out.
#[utoipa::path(get, path = "/v1/blobs/{hash}", params(("hash" = HashParam, Path)),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
              (status = 400, description = "`invalid_hash`", body = ErrorBody),
              (status = 404, description = "`unknown_blob`", body = ErrorBody), (status = 500, body = ErrorBody)))]
pub(crate) async fn get_blob(
    State(store): State<Arc<BlobStore>>,
    PathContentHash(wanted): PathContentHash,
) -> Result<Response, ApiError> {
    let found = tokio::task::spawn_blocking(move || store.get(&wanted))
        .await
        .map_err(ApiError::internal)?
        .map_err(blob_error)?;
    let Some(bytes) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_blob",
            format!("no blob {wanted}"),
        ));
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The blob routes over `store`, merged into the node's router by `api::router`.
pub fn router<S>(store: Arc<BlobStore>) -> Router<S> {
    let limit = usize::try_from(store.limits().blob_bytes_max).unwrap_or(usize::MAX);
    Router::new()
        .route("/v1/blobs", post(post_blob))
        .route("/v1/blobs/{hash}", get(get_blob).put(put_blob))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            BLOB_REQUESTS_MAX,
        ))
        .with_state(store)
}
