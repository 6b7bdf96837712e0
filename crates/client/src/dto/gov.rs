//! Governance proposals as `GET /v1/proposals[/{id}]` serves them
//! (`plexus_state::governance::proposals`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One parameter change: `section.name` and its new value (a decimal string, like amounts).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ParamChangeDto {
    pub key: String,
    pub value: String,
}

/// The stake behind each option (base units, decimal strings), counted at the end of the
/// voting period; zero while voting.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TallyDto {
    pub yes: String,
    pub no: String,
    pub abstain: String,
    pub veto: String,
    /// The total bonded stake the turnout is measured against.
    pub bonded: String,
    /// Votes cast over the bonded stake, in basis points (rounded down).
    pub turnout_bps: u64,
}

/// One proposal.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ProposalDto {
    pub id: u64,
    pub proposer: String,
    pub title: String,
    pub description: String,
    pub changes: Vec<ParamChangeDto>,
    /// Base units, held while voting; returned on `passed`/`rejected` (and after), burned on
    /// `vetoed` and `no_quorum`.
    pub deposit: String,
    pub submit_height: u64,
    /// The last height votes are taken; the tally is at the end of this block.
    pub voting_end_height: u64,
    /// A pass applies its changes at the end of this block (in force from the next).
    pub effect_height: u64,
    /// `voting`, `passed`, `rejected`, `vetoed`, `no_quorum`, `applied` or `failed_to_apply`.
    pub status: String,
    /// Why a passed proposal failed to apply (`failed_to_apply` only).
    pub failure: Option<String>,
    /// How many addresses voted (each counts once; a re-vote replaces).
    pub voters: u64,
    /// While `voting`: what the votes so far give by the stake bonded now. After: the final
    /// tally, taken as the voting ended.
    pub tally: TallyDto,
}
