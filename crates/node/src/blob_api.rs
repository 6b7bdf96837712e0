//! The node's blob endpoints: where consumers upload job modules, weights and inputs, and where
//! providers fetch them by hash.
//!
//! `PUT /v1/blobs/{hash}` stores a body that must hash (BLAKE3) to `{hash}`; `POST /v1/blobs`
//! stores a body under its hash and returns it; `GET /v1/blobs/{hash}` serves the bytes (checked
//! against the hash on the way out: corrupt storage is a 500, never wrong bytes). The body limit
//! is the store's blob limit; at most `BLOB_REQUESTS_MAX` blob requests run at once.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use plexus_blobs::{BlobError, BlobStore};
use plexus_client::dto::{BlobDto, ErrorBody};
use plexus_types::hash::{digest_hex, parse_digest};
use std::sync::Arc;

/// Blob requests served at once (each may carry up to the blob limit in memory).
pub const BLOB_REQUESTS_MAX: usize = 8;

struct BlobApiError(StatusCode, ErrorBody);

impl BlobApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        BlobApiError(
            status,
            ErrorBody {
                code: code.into(),
                message: message.into(),
            },
        )
    }
}

impl IntoResponse for BlobApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<BlobError> for BlobApiError {
    fn from(err: BlobError) -> Self {
        let (status, code) = match &err {
            BlobError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large"),
            BlobError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, "store_full"),
            BlobError::HashMismatch { .. } => (StatusCode::BAD_REQUEST, "hash_mismatch"),
            BlobError::Corrupt(_) | BlobError::Io { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        BlobApiError::new(status, code, err.to_string())
    }
}

fn parse_hash(text: &str) -> Result<plexus_types::Digest, BlobApiError> {
    parse_digest(text).ok_or_else(|| {
        BlobApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            format!("{text:?} is not 64 hex digits"),
        )
    })
}

fn body(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, BlobApiError> {
    body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "blob_too_large"
        } else {
            "malformed"
        };
        BlobApiError::new(rejection.status(), code, rejection.body_text())
    })
}

/// Stores `bytes` (checked against `expected` when given) off the async workers: hashing and the
/// synced write are blocking work.
async fn store_blob(
    store: Arc<BlobStore>,
    bytes: Bytes,
    expected: Option<plexus_types::Digest>,
) -> Result<(StatusCode, Json<BlobDto>), BlobApiError> {
    let size = bytes.len() as u64;
    let hash = tokio::task::spawn_blocking(move || match expected {
        Some(expected) => store.put_expecting(&expected, &bytes).map(|()| expected),
        None => store.put(&bytes),
    })
    .await
    .map_err(|e| {
        BlobApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    })??;
    Ok((
        StatusCode::CREATED,
        Json(BlobDto {
            hash: digest_hex(&hash),
            size,
        }),
    ))
}

async fn put_blob(
    State(store): State<Arc<BlobStore>>,
    Path(hash): Path<String>,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<BlobDto>), BlobApiError> {
    let expected = parse_hash(&hash)?;
    store_blob(store, body(bytes)?, Some(expected)).await
}

async fn post_blob(
    State(store): State<Arc<BlobStore>>,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<BlobDto>), BlobApiError> {
    store_blob(store, body(bytes)?, None).await
}

async fn get_blob(
    State(store): State<Arc<BlobStore>>,
    Path(hash): Path<String>,
) -> Result<Response, BlobApiError> {
    let wanted = parse_hash(&hash)?;
    let found = tokio::task::spawn_blocking(move || store.get(&wanted))
        .await
        .map_err(|e| {
            BlobApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })??;
    let Some(bytes) = found else {
        return Err(BlobApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_blob",
            format!("no blob {}", digest_hex(&wanted)),
        ));
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The blob routes over `store`, to merge into a node's or a provider's router.
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
