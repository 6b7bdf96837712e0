//! Proposals, votes and tallies: how a vote of the bonded stake changes the governed parameters.
//!
//! - A proposal (`Payload::GovPropose`) names changes (`section.name` = value) that must pass
//!   [`admissible`] (`registry::apply` and the scheduled epochs) against the parameters in force
//!   when it is made (so no vote can set a value that breaks the chain), and locks a deposit of
//!   at least `gov_deposit_min` out of the proposer's balance (a held record:
//!   `Held::ProposalDeposit`, counted by `State::recount` while the proposal is voting). Ids are
//!   sequential from 0. Voting runs from the proposal's block through `end_height = height +
//!   gov_voting_period_blocks` (inclusive).
//! - A vote (`Payload::GovVote`) is open to an address with bonded stake (a self-bond or a
//!   delegation) while `height <= end_height`; a second vote replaces the first.
//! - The tally, at the end of block `end_height`, weighs votes by bonded stake then: a validator
//!   votes its self-bond plus each delegation to it whose delegator did not vote; a delegator
//!   that voted votes all its delegations itself. With `cast = yes + no + abstain + veto` and
//!   `bonded` the total bonded stake (self-bonds plus delegations of every validator):
//!   - no quorum iff `cast * 10^4 < bonded * gov_quorum_bps` (nothing bonded: no quorum);
//!   - else vetoed iff `veto * 10^4 >= cast * gov_veto_bps`;
//!   - else passed iff `yes * 10^4 > (yes + no) * gov_threshold_bps` (strictly more, and at
//!     least one yes), else rejected.
//! - The deposit returns to the proposer when the proposal passed or was rejected, and burns
//!   when it was vetoed or missed quorum.
//! - A passed proposal takes effect at the end of block `effect_height = end_height +
//!   gov_effect_delay_blocks` (the parameters change for block `effect_height + 1` on): its
//!   changes are checked again with [`admissible`] against the parameters then in force
//!   (another proposal may have changed them); if they now break a rule nothing changes and the
//!   proposal is `FailedToApply` with the reason.
//! - A new `chain.epoch_length_blocks` is the parameter from `effect_height` on, but epochs take
//!   it only from the epoch `CHANGE_DELAY_EPOCHS` (2) after the one holding `effect_height`
//!   (`ledger::epochs`): the epochs nodes have entered or are preparing keep their heights.

use crate::governance::records::FAILURE_SIZE_MAX;
pub use crate::governance::records::{Proposal, ProposalStatus, Tally};
use crate::governance::registry::{self, ChangeError};
use crate::ledger::epochs::CHANGE_DELAY_EPOCHS;
use crate::ledger::params::Params;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use plexus_types::gov::{
    GOV_CHANGES_MAX, GOV_DESCRIPTION_SIZE_MAX, GOV_TITLE_SIZE_MAX, ParamChange, VoteOption,
};
use plexus_types::{Address, Amount, Reason};
use std::collections::BTreeMap;

/// A new proposal's content (`Payload::GovPropose`).
pub(crate) struct Draft<'a> {
    pub changes: &'a [ParamChange],
    pub title: &'a str,
    pub description: &'a str,
    pub deposit: Amount,
}

/// The reason a refused change gets in its receipt.
pub fn change_reason(error: &ChangeError) -> Reason {
    match error {
        ChangeError::Unknown(_) | ChangeError::Twice { .. } => Reason::UnknownParameter,
        ChangeError::OutOfBounds { .. } => Reason::ParameterOutOfBounds,
        ChangeError::Breaks(_) => Reason::ParameterBreaksRule,
    }
}

/// Makes a proposal at `height`: checks it, locks the deposit, records it under the next id.
pub(crate) fn propose(
    state: &mut State,
    proposer: &Address,
    draft: Draft<'_>,
    height: u64,
) -> Result<u64, Reason> {
    if draft.changes.is_empty()
        || draft.changes.len() > GOV_CHANGES_MAX
        || draft.title.trim().is_empty()
        || draft.title.len() > GOV_TITLE_SIZE_MAX
        || draft.description.len() > GOV_DESCRIPTION_SIZE_MAX
    {
        return Err(Reason::InvalidProposal);
    }
    admissible(state, draft.changes).map_err(|error| change_reason(&error))?;
    if draft.deposit < state.params.gov_deposit_min {
        return Err(Reason::DepositTooSmall);
    }
    let end_height = height.saturating_add(state.params.gov_voting_period_blocks);
    let effect_height = end_height.saturating_add(state.params.gov_effect_delay_blocks);
    state.lock(proposer, Held::ProposalDeposit, draft.deposit)?;
    let id = state.proposals.last_key_value().map_or(0, |(id, _)| id + 1);
    state.proposals.insert(
        id,
        Proposal {
            proposer: proposer.clone(),
            changes: draft.changes.to_vec(),
            title: draft.title.to_string(),
            description: draft.description.to_string(),
            deposit: draft.deposit,
            submit_height: height,
            end_height,
            effect_height,
            votes: BTreeMap::new(),
            tally: Tally::default(),
            status: ProposalStatus::Voting,
        },
    );
    Ok(id)
}

/// The parameters `changes` make from `state`'s (`registry::apply`), if the proof window also
/// stays shorter than every epoch scheduled from the current one on. The registry sees only the
/// parameters, and a new length a vote set is in them before the epochs in progress have it.
pub fn admissible(state: &State, changes: &[ParamChange]) -> Result<Params, ChangeError> {
    let params = registry::apply(&state.params, changes)?;
    let shortest = state.epochs.shortest_from(state.epoch_of(state.height + 1));
    if params.storage.proof_window_blocks >= shortest {
        return Err(ChangeError::Breaks(format!(
            "storage.proof_window_blocks {} must be below every scheduled epoch length (the \
             shortest is {shortest})",
            params.storage.proof_window_blocks
        )));
    }
    Ok(params)
}

/// Whether `address` has bonded stake: a self-bond or a delegation.
fn has_stake(state: &State, address: &Address) -> bool {
    state
        .validators
        .get(address)
        .is_some_and(|validator| validator.self_bond > 0)
        || state
            .delegations
            .iter()
            .any(|((delegator, _), amount)| delegator == address && *amount > 0)
}

/// Records `voter`'s vote on `id` at `height` (replacing an earlier one).
pub(crate) fn vote(
    state: &mut State,
    voter: &Address,
    id: u64,
    option: VoteOption,
    height: u64,
) -> Result<(), Reason> {
    let proposal = state.proposals.get(&id).ok_or(Reason::UnknownProposal)?;
    if proposal.status != ProposalStatus::Voting || height > proposal.end_height {
        return Err(Reason::VotingClosed);
    }
    if !has_stake(state, voter) {
        return Err(Reason::NoVotingPower);
    }
    if let Some(proposal) = state.proposals.get_mut(&id) {
        proposal.votes.insert(voter.clone(), option);
    }
    Ok(())
}

/// The tally of `votes` by the bonded stake in `state` now (the module's rules).
pub fn tally(state: &State, votes: &BTreeMap<Address, VoteOption>) -> Tally {
    let mut tally = Tally::default();
    let mut add = |option: VoteOption, amount: Amount| match option {
        VoteOption::Yes => tally.yes += amount,
        VoteOption::No => tally.no += amount,
        VoteOption::Abstain => tally.abstain += amount,
        VoteOption::Veto => tally.veto += amount,
    };
    let mut bonded: Amount = 0;
    for (address, validator) in &state.validators {
        bonded += validator.stake();
        if let Some(option) = votes.get(address) {
            add(*option, validator.self_bond);
        }
    }
    for ((delegator, validator), amount) in &state.delegations {
        // The delegator's own vote first, else its validator's.
        if let Some(option) = votes.get(delegator).or_else(|| votes.get(validator)) {
            add(*option, *amount);
        }
    }
    tally.bonded = bonded;
    tally
}

/// The end of block `height`: tallies the proposals whose voting ended with it, then applies
/// the passed proposals whose effect height it is. Scans the proposals still voting or waiting
/// (ids in order, so the same outcome on every node).
pub(crate) fn end_block(state: &mut State, height: u64) {
    let due: Vec<u64> = state
        .proposals
        .iter()
        .filter(|(_, p)| p.status == ProposalStatus::Voting && p.end_height <= height)
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        conclude(state, id);
    }
    let effective: Vec<u64> = state
        .proposals
        .iter()
        .filter(|(_, p)| p.status == ProposalStatus::Passed && p.effect_height <= height)
        .map(|(id, _)| *id)
        .collect();
    for id in effective {
        let changes = state.proposals[&id].changes.clone();
        let status = match admissible(state, &changes) {
            Ok(params) => {
                if params.epoch_length_blocks != state.params.epoch_length_blocks {
                    let from = state.epoch_of(height) + CHANGE_DELAY_EPOCHS;
                    state.epochs.change_from(from, params.epoch_length_blocks);
                }
                state.params = params;
                ProposalStatus::Applied
            }
            Err(error) => {
                let mut why = error.to_string();
                // Within the record's limit, cut at a character boundary.
                let mut end = why.len().min(FAILURE_SIZE_MAX);
                while !why.is_char_boundary(end) {
                    end -= 1;
                }
                why.truncate(end);
                ProposalStatus::FailedToApply(why)
            }
        };
        if let Some(proposal) = state.proposals.get_mut(&id) {
            proposal.status = status;
        }
    }
}

/// Tallies proposal `id`, settles its deposit and records the outcome.
fn conclude(state: &mut State, id: u64) {
    let proposal = &state.proposals[&id];
    let tally = tally(state, &proposal.votes);
    let params = &state.params;
    let status = tally.outcome(
        params.gov_quorum_bps,
        params.gov_veto_bps,
        params.gov_threshold_bps,
    );
    let (proposer, deposit) = (proposal.proposer.clone(), proposal.deposit);
    // The hold ends with the status; the deposit moves with it.
    match status {
        ProposalStatus::Passed | ProposalStatus::Rejected => {
            state.unlock(Held::ProposalDeposit, &proposer, deposit);
        }
        _ => state.burn_held(Held::ProposalDeposit, deposit),
    }
    if let Some(proposal) = state.proposals.get_mut(&id) {
        proposal.tally = tally;
        proposal.status = status;
    }
}
