//! The list routes' one paging convention (`GET /v1/jobs`, `GET /v1/storage/files`): newest
//! first, at most `limit` records, `limit` in 1..=`LIST_MAX` and `LIST_MAX` when absent; a
//! query that does not fit is 400 `invalid_query`.

use crate::http::ApiError;
use axum::http::StatusCode;

/// The most records one list request returns.
pub const LIST_MAX: usize = 100;

/// The OpenAPI schema of `limit`: its bounds are `LIST_MAX`'s.
pub(super) struct ListLimitParam;

impl utoipa::PartialSchema for ListLimitParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Integer)
            .minimum(Some(1u64))
            .maximum(Some(LIST_MAX as u64))
            .default(Some(LIST_MAX.into()))
            .into()
    }
}

impl utoipa::ToSchema for ListLimitParam {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ListLimit")
    }
}

/// A query the route cannot serve, as 400 `invalid_query`.
pub(super) fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// The records a list returns for the query's `limit`.
pub(super) fn list_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(LIST_MAX),
        Some(limit) if (1..=LIST_MAX).contains(&limit) => Ok(limit),
        Some(limit) => Err(invalid_query(format!(
            "limit {limit} is not between 1 and {LIST_MAX}"
        ))),
    }
}
