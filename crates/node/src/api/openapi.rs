//! The OpenAPI document, generated from the routes' annotations and the DTOs, and the route
//! that serves it.

// Glob imports, not paths: utoipa tags an operation listed by a module path with that path.
use super::{chain::*, gov::*, market::*, paging::ListLimitParam, storage::*, txs::*};
use axum::{Json, response::IntoResponse};
use plexus_client::dto::{
    params::{AddressParam, HashParam, HeightParam},
    *,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plexus node API",
        description = "Amounts are decimal strings of base units (1 PLX = 10^9)."
    ),
    paths(
        submit_tx,
        submit_batch,
        get_tx,
        get_account,
        get_proof,
        get_rewards,
        get_block,
        get_latest_block,
        get_validators,
        get_providers,
        get_provider,
        get_verifiers,
        get_job,
        get_jobs,
        get_storage_file,
        get_storage_files,
        get_storage_providers,
        get_storage_params,
        get_holder_shards,
        get_status,
        get_params,
        get_proposals,
        get_proposal,
        get_snapshot,
        post_faucet,
        stream_blocks,
        crate::blob_api::post_blob,
        crate::blob_api::put_blob,
        crate::blob_api::get_blob,
        get_metrics,
        get_openapi
    ),
    // Hand-written schemas that paths refer to by name.
    components(schemas(AddressParam, HashParam, HeightParam, ListLimitParam, BlockEventDto, HexDigest, BaseUnits)),
    modifiers(&EveryRouteIsLimited)
)]
struct ApiDoc;

/// The per-client limits (`limits::middleware`) sit in front of every route, so every
/// operation may answer 429 `rate_limited`: the document says so for each one.
struct EveryRouteIsLimited;

impl utoipa::Modify for EveryRouteIsLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, ResponseBuilder, content::ContentBuilder};
        let limited = ResponseBuilder::new()
            .description("`rate_limited`: this client is over its request or transaction budget; retry after `Retry-After` seconds")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.head,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("429".to_string())
                    .or_insert_with(|| limited.clone().into());
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers and DTOs above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub(super) async fn get_openapi() -> impl IntoResponse {
    Json(openapi())
}
