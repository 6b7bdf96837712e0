//! Compute-market routes: providers, verifiers and jobs (one, or a filtered list).

use super::{
    mapping::{canary_job_dto, job_dto, provider_dto, verifier_dto},
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

/// Registered verifiers, by address.
#[utoipa::path(get, path = "/v1/verifiers", responses((status = 200, body = Vec<VerifierDto>)))]
pub(super) async fn get_verifiers(State(state): State<ApiState>) -> ApiResult<Vec<VerifierDto>> {
    Ok(Json(finalized_state(&state, |s| {
        s.verifiers
            .iter()
            .map(|(address, verifier)| verifier_dto(address, verifier))
            .collect()
    })))
}

/// Registered compute providers, by address.
#[utoipa::path(get, path = "/v1/providers", responses((status = 200, body = Vec<ProviderDto>)))]
pub(super) async fn get_providers(State(state): State<ApiState>) -> ApiResult<Vec<ProviderDto>> {
    Ok(Json(finalized_state(&state, |s| {
        s.providers
            .iter()
            .map(|(address, provider)| provider_dto(s, address, provider))
            .collect()
    })))
}

/// One provider.
#[utoipa::path(get, path = "/v1/providers/{address}", params(("address" = AddressParam, Path)),
    responses((status = 200, body = ProviderDto), (status = 400, description = "`invalid_address`", body = ErrorBody),
              (status = 404, description = "`unknown_provider`", body = ErrorBody)))]
pub(super) async fn get_provider(
    State(state): State<ApiState>,
    PathAddress(address): PathAddress,
) -> ApiResult<ProviderDto> {
    finalized_state(&state, |s| {
        s.providers
            .get(&address)
            .map(|provider| provider_dto(s, &address, provider))
    })
    .map(Json)
    .ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownProvider;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!("{address} is not a registered provider"),
        )
    })
}

/// One job by id (the hash of the transaction that posted it).
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = HashParam, Path)),
    responses((status = 200, body = JobDto), (status = 400, description = "`invalid_hash`", body = ErrorBody),
              (status = 404, description = "`unknown_job`", body = ErrorBody)))]
pub(super) async fn get_job(
    State(state): State<ApiState>,
    PathHash(digest): PathHash,
) -> ApiResult<JobDto> {
    finalized_state(&state, |s| {
        s.jobs
            .get(&digest)
            .map(|job| job_dto(s, &digest, job))
            .or_else(|| {
                s.audits
                    .get(&digest)
                    .and_then(|audit| canary_job_dto(s, &digest, audit))
            })
    })
    .map(Json)
    .ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownJob;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!(
                "no job {} on chain (never posted, or pruned)",
                digest_hex(&digest)
            ),
        )
    })
}

/// The filters of `GET /v1/jobs`, all optional and combined: the jobs of `consumer`, assigned to
/// `provider`, audited or disputed (as challenger) by `verifier`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct JobsQuery {
    pub consumer: Option<String>,
    pub provider: Option<String>,
    pub verifier: Option<String>,
    /// 1 to `LIST_MAX`; defaults to it.
    pub limit: Option<usize>,
}

/// The jobs `query` selects in `state`, newest first.
pub fn list_jobs(state: &LedgerState, query: &JobsQuery) -> Result<Vec<JobDto>, ApiError> {
    let limit = list_limit(query.limit)?;
    let address = |text: &Option<String>| text.as_deref().map(parse_address).transpose();
    let (consumer, provider) = (address(&query.consumer)?, address(&query.provider)?);
    let selected = |job: &plexus_state::Job| {
        consumer.as_ref().is_none_or(|c| job.consumer == *c)
            && provider
                .as_ref()
                .is_none_or(|p| job.status.assignment().is_some_and(|a| a.provider == *p))
    };
    let Some(verifier) = address(&query.verifier)? else {
        return Ok(
            plexus_state::market::jobs_where(&state.jobs, selected, limit)
                .into_iter()
                .map(|(id, job)| job_dto(state, id, job))
                .collect(),
        );
    };
    let mut ids: std::collections::BTreeSet<&plexus_types::Digest> = state
        .audits
        .iter()
        .filter(|(_, audit)| audit.verifier == verifier)
        .map(|(id, _)| id)
        .collect();
    ids.extend(
        state
            .disputes
            .iter()
            .filter(|(_, dispute)| dispute.challenger == verifier)
            .map(|(id, _)| id),
    );
    // Real jobs and the canaries drawn for this verifier (filtered by the job each copies),
    // newest first.
    let mut found: Vec<(u64, plexus_types::Digest, JobDto)> = ids
        .into_iter()
        .filter_map(|id| match state.jobs.get(id) {
            Some(job) => selected(job).then(|| (job.posted_height, *id, job_dto(state, id, job))),
            None => {
                let audit = state.audits.get(id)?;
                let original = state.jobs.get(&audit.canary.as_ref()?.of)?;
                if !selected(original) {
                    return None;
                }
                canary_job_dto(state, id, audit).map(|dto| (dto.posted_height, *id, dto))
            }
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    found.truncate(limit);
    Ok(found.into_iter().map(|(_, _, dto)| dto).collect())
}

/// Retained jobs, newest first: all of them, or those of a consumer, assigned to a provider, or
/// audited or disputed by a verifier (filters combine).
#[utoipa::path(get, path = "/v1/jobs",
    params(("consumer" = Option<AddressParam>, Query), ("provider" = Option<AddressParam>, Query),
           ("verifier" = Option<AddressParam>, Query), ("limit" = Option<ListLimitParam>, Query)),
    responses((status = 200, body = Vec<JobDto>), (status = 400, description = "`invalid_query`, `invalid_address`", body = ErrorBody),
              (status = 500, body = ErrorBody)))]
pub(super) async fn get_jobs(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> ApiResult<Vec<JobDto>> {
    // A scan of every retained job: off the async workers.
    let executed = state.app.finalized();
    let jobs = tokio::task::spawn_blocking(move || list_jobs(&executed.state, &query))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(jobs))
}
