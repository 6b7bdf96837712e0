//! What every route of the node's HTTP API shares at its edge: the error (`{code, message}`
//! with a stable code and a 4xx/5xx status) and the extractors that turn what a caller sent
//! into typed values or into that error. Handlers take `PathHash`, `PathContentHash`, `PathAddress`,
//! `PathHeight` and `ApiQuery` instead of axum's `Path` and `Query`, whose refusals are plain
//! text; the router's own refusals (no such route, wrong method) are `not_found` and
//! `method_not_allowed`. So nothing the node refuses answers anything but that JSON.
//!
//! The parsers here accept exactly what `plexus_client::dto::params` documents: canonical
//! lower-case addresses and hashes, heights as decimal digits.

use axum::{
    Json,
    extract::{FromRequestParts, Path, Query, rejection::BytesRejection},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use plexus_client::dto::ErrorBody;
use plexus_types::{Address, ContentHash, Digest};
use serde::de::DeserializeOwned;

/// An API error: status plus the JSON body, and for a "come back later" (429, 503) the seconds
/// to wait, sent as `Retry-After`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let retry_after_s = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then_some(1);
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
            },
            retry_after_s,
        }
    }

    /// A per-client limit's refusal (429, or 503 when the client table is full).
    pub fn limited(limited: crate::limits::Limited) -> Self {
        let (status, body, retry_after_s) = limited.parts();
        ApiError {
            status,
            body,
            retry_after_s: Some(retry_after_s),
        }
    }

    /// A fault of the node itself (storage, a lost worker): 500 `internal`.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )
    }

    fn bad_request(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.body.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// The route's one path parameter, percent-decoded; `None` when it does not decode to UTF-8
/// (then it cannot be a valid value of any parameter, and the route answers its own code).
async fn path_text<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Option<String>, ApiError> {
    use axum::extract::{path::ErrorKind, rejection::PathRejection};
    match Path::<String>::from_request_parts(parts, state).await {
        Ok(Path(text)) => Ok(Some(text)),
        Err(PathRejection::FailedToDeserializePathParams(err))
            if matches!(err.kind(), ErrorKind::InvalidUtf8InPathParam { .. }) =>
        {
            Ok(None)
        }
        // Only a route declared without its parameter gets here: the node's fault.
        Err(other) => Err(ApiError::internal(other.body_text())),
    }
}

/// A path parameter as an error message quotes it.
fn quoted(text: Option<&str>) -> String {
    match text {
        Some(text) => format!("{text:?}"),
        None => "the path parameter (not UTF-8 once percent-decoded)".to_string(),
    }
}

/// Whether `text` is a hash as the API takes it: exactly 64 lower-case hex digits.
fn is_canonical_hash(text: &str) -> bool {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    text.len() == 64 && text.bytes().all(lower_hex)
}

/// A chain hash as the API takes it: exactly 64 lower-case hex digits.
pub fn parse_hash(text: &str) -> Option<Digest> {
    is_canonical_hash(text)
        .then(|| plexus_types::hash::parse_digest(text))
        .flatten()
}

/// A content hash as the API takes it: the same 64 lower-case hex digits.
pub fn parse_content_hash(text: &str) -> Option<ContentHash> {
    is_canonical_hash(text)
        .then(|| ContentHash::parse(text))
        .flatten()
}

fn invalid_hash(text: Option<&str>) -> ApiError {
    ApiError::bad_request(
        "invalid_hash",
        format!("{} is not 64 lower-case hex digits", quoted(text)),
    )
}

/// An address as the API takes it: its canonical (lower-case) bech32m form.
pub fn parse_address(text: &str) -> Result<Address, ApiError> {
    let refuse = |why: String| invalid_address(Some(text), &why);
    let address = text
        .parse::<Address>()
        .map_err(|err| refuse(err.to_string()))?;
    if address.to_string() != text {
        return Err(refuse("not in lower case".into()));
    }
    Ok(address)
}

fn invalid_address(text: Option<&str>, why: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_address",
        format!("{} is not an address: {why}", quoted(text)),
    )
}

/// A height as the API takes it: decimal digits of a u64, nothing else (no sign, no spaces).
pub fn parse_height(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The hash of a route like `/v1/txs/{hash}`; `invalid_hash` otherwise.
pub struct PathHash(pub Digest);

impl<S: Send + Sync> FromRequestParts<S> for PathHash {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_text(parts, state).await?;
        text.as_deref()
            .and_then(parse_hash)
            .map(PathHash)
            .ok_or_else(|| invalid_hash(text.as_deref()))
    }
}

/// The content hash of a route like `/v1/blobs/{hash}`; `invalid_hash` otherwise.
pub struct PathContentHash(pub ContentHash);

impl<S: Send + Sync> FromRequestParts<S> for PathContentHash {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_text(parts, state).await?;
        text.as_deref()
            .and_then(parse_content_hash)
            .map(PathContentHash)
            .ok_or_else(|| invalid_hash(text.as_deref()))
    }
}

/// The address of a route like `/v1/accounts/{address}`; `invalid_address` otherwise.
pub struct PathAddress(pub Address);

impl<S: Send + Sync> FromRequestParts<S> for PathAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match path_text(parts, state).await? {
            Some(text) => parse_address(&text).map(PathAddress),
            None => Err(invalid_address(None, "not UTF-8")),
        }
    }
}

/// The height of `/v1/blocks/{height}`; `invalid_height` otherwise.
pub struct PathHeight(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for PathHeight {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_u64(parts, state, "invalid_height", "a height")
            .await
            .map(PathHeight)
    }
}

/// The id of `/v1/proposals/{id}`; `invalid_proposal_id` otherwise.
pub struct PathProposalId(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for PathProposalId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_u64(parts, state, "invalid_proposal_id", "a proposal id")
            .await
            .map(PathProposalId)
    }
}

/// A route's number (decimal digits of a u64, as [`parse_height`] takes them); a 400 with
/// `code` saying it is not `what` otherwise.
async fn path_u64<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    code: &'static str,
    what: &str,
) -> Result<u64, ApiError> {
    let text = path_text(parts, state).await?;
    text.as_deref().and_then(parse_height).ok_or_else(|| {
        ApiError::bad_request(
            code,
            format!(
                "{} is not {what} (decimal digits of a u64)",
                quoted(text.as_deref())
            ),
        )
    })
}

/// A query string deserialized into `T`; `invalid_query` when it does not fit.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// A body axum could not read (over the route's limit, or a broken stream) as a JSON error;
/// `too_large` is the code for the over-limit case.
pub fn body_error(rejection: BytesRejection, too_large: &str) -> ApiError {
    let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large
    } else {
        "malformed"
    };
    ApiError::new(rejection.status(), code, rejection.body_text())
}

/// The router's answer for a path no route serves.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The router's answer for a method a route does not take (axum adds the `Allow` header).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;

    #[test]
    fn parsers_take_only_the_canonical_forms() {
        let hash = "ab".repeat(32);
        assert!(parse_hash(&hash).is_some());
        for bad in [
            hash.to_uppercase(),
            format!("0x{}", &hash[2..]),
            format!("+a{}", &hash[2..]),
            hash[1..].to_string(),
            String::new(),
        ] {
            assert_eq!(parse_hash(&bad), None, "{bad}");
        }
        let address =
            plexus_types::Address(plexus_types::PrivateKey::from_seed(1).public_key()).to_string();
        assert!(parse_address(&address).is_ok());
        for bad in [address.to_uppercase(), "0".into(), format!(" {address}")] {
            assert_eq!(
                parse_address(&bad).map_err(|e| e.code().to_string()),
                Err("invalid_address".to_string()),
                "{bad}"
            );
        }
        assert_eq!(parse_height("0"), Some(0));
        assert_eq!(parse_height("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+5",
            "-1",
            " 5",
            "18446744073709551616",
            "latest",
            "1.0",
        ] {
            assert_eq!(parse_height(bad), None, "{bad}");
        }
    }
}
