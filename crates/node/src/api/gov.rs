//! Governance routes: the proposals, newest first, and one by id, read from the last finalized
//! state.

use super::{
    paging::{ListLimitParam, list_limit},
    state::{ApiState, finalized_state},
};
use crate::http::{ApiError, ApiQuery, ApiResult, PathProposalId};
use axum::{Json, extract::State, http::StatusCode};
use plexus_client::dto::{ErrorBody, ParamChangeDto, ProposalDto, TallyDto, params::HeightParam};
use plexus_state::State as LedgerState;
use plexus_state::governance::proposals::{Proposal, ProposalStatus, tally};

/// The JSON form of proposal `id` in `state`: while it is voting, its tally is the one its votes
/// would give by the stake bonded now (the final tally is taken as its voting ends).
pub fn proposal_dto(state: &LedgerState, id: u64, proposal: &Proposal) -> ProposalDto {
    let live;
    let tally = if proposal.status == ProposalStatus::Voting {
        live = tally(state, &proposal.votes);
        &live
    } else {
        &proposal.tally
    };
    ProposalDto {
        id,
        proposer: proposal.proposer.to_string(),
        title: proposal.title.clone(),
        description: proposal.description.clone(),
        changes: proposal
            .changes
            .iter()
            .map(|(key, value)| ParamChangeDto {
                key: key.clone(),
                value: value.to_string(),
            })
            .collect(),
        deposit: proposal.deposit.to_string(),
        submit_height: proposal.submit_height,
        voting_end_height: proposal.end_height,
        effect_height: proposal.effect_height,
        status: proposal.status.name().to_string(),
        failure: match &proposal.status {
            ProposalStatus::FailedToApply(why) => Some(why.clone()),
            _ => None,
        },
        voters: proposal.votes.len() as u64,
        tally: TallyDto {
            yes: tally.yes.to_string(),
            no: tally.no.to_string(),
            abstain: tally.abstain.to_string(),
            veto: tally.veto.to_string(),
            bonded: tally.bonded.to_string(),
            turnout_bps: u64::try_from(tally.turnout_bps()).unwrap_or(u64::MAX),
        },
    }
}

/// The query of `GET /v1/proposals`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ProposalsQuery {
    /// 1 to `LIST_MAX`; defaults to it.
    pub limit: Option<usize>,
}

/// The newest proposals of `state` (by id, which is their order), at most the query's limit.
pub fn proposals(
    state: &LedgerState,
    query: &ProposalsQuery,
) -> Result<Vec<ProposalDto>, ApiError> {
    let limit = list_limit(query.limit)?;
    Ok(state
        .proposals
        .iter()
        .rev()
        .take(limit)
        .map(|(id, proposal)| proposal_dto(state, *id, proposal))
        .collect())
}

/// Proposal `id` of `state`, or 404 `unknown_proposal`.
pub fn proposal(state: &LedgerState, id: u64) -> Result<ProposalDto, ApiError> {
    let found = state.proposals.get(&id).ok_or_else(|| {
        let reason = plexus_types::Reason::UnknownProposal;
        ApiError::new(
            StatusCode::NOT_FOUND,
            reason.code(),
            format!("no proposal {id} on chain"),
        )
    })?;
    Ok(proposal_dto(state, id, found))
}

/// Governance proposals, newest first: changes, deposit, heights, tally and status.
#[utoipa::path(get, path = "/v1/proposals", params(("limit" = Option<ListLimitParam>, Query)),
    responses((status = 200, body = Vec<ProposalDto>), (status = 400, description = "`invalid_query`", body = ErrorBody)))]
pub(super) async fn get_proposals(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ProposalsQuery>,
) -> ApiResult<Vec<ProposalDto>> {
    finalized_state(&state, |s| proposals(s, &query)).map(Json)
}

/// One governance proposal by id (a decimal u64).
#[utoipa::path(get, path = "/v1/proposals/{id}", params(("id" = HeightParam, Path)),
    responses((status = 200, body = ProposalDto), (status = 400, description = "`invalid_proposal_id`", body = ErrorBody),
              (status = 404, description = "`unknown_proposal`", body = ErrorBody)))]
pub(super) async fn get_proposal(
    State(state): State<ApiState>,
    PathProposalId(id): PathProposalId,
) -> ApiResult<ProposalDto> {
    finalized_state(&state, |s| proposal(s, id)).map(Json)
}
