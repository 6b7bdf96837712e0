//! Governance through whole blocks: proposals refused with their reason, votes by bonded stake
//! (a delegator overriding its validator), the tally's outcomes and deposits, and a passed
//! proposal's changes applied at its effect height. Every block also checks the supply
//! invariant (`apply_block` asserts `State::recount` in debug builds), so a deposit's hold,
//! return and burn are conserved.

mod common;

use common::{address, genesis, run, tx};
use commonware_codec::{DecodeExt, Encode};
use plexus_state::governance::proposals::{ProposalStatus, Tally};
use plexus_state::{Params, State};
use plexus_types::gov::VoteOption;
use plexus_types::{PLX, Payload, Reason, Status};

const CHAIN: u64 = 16;
const PERIOD: u64 = 5;
const DELAY: u64 = 2;
const DEPOSIT: u128 = 100 * PLX;

/// Keys 0 and 1 are validators with 10 000 PLX self-bond each; a proposal is open for
/// `PERIOD` blocks after its own and applies `DELAY` blocks after that.
fn chain() -> State {
    chain_of_epochs(1_000)
}

/// [`chain`] with epochs of `epoch_length_blocks`.
fn chain_of_epochs(epoch_length_blocks: u64) -> State {
    genesis(
        CHAIN,
        Params {
            epoch_length_blocks,
            gov_voting_period_blocks: PERIOD,
            gov_effect_delay_blocks: DELAY,
            ..Params::default()
        },
        2,
    )
}

fn propose(changes: &[(&str, u128)], deposit: u128) -> Payload {
    Payload::GovPropose {
        changes: changes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        title: "a change".into(),
        description: String::new(),
        deposit,
    }
}

fn vote(proposal: u64, option: VoteOption) -> Payload {
    Payload::GovVote { proposal, option }
}

/// Runs empty blocks until the state is at `height`.
fn run_to(state: &mut State, height: u64) {
    while state.height < height {
        run(state, vec![]);
    }
}

#[test]
fn a_delegator_overrides_its_validator_and_a_pass_applies_at_its_effect_height() {
    let mut state = chain();
    let (v0, v1, delegator, proposer, nobody) = (0, 1, 2, 3, 4);
    let delegate = Payload::Delegate {
        validator: address(v0),
        amount: 5_000 * PLX,
    };
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, delegator, 0, delegate)]),
        [Status::Success]
    );
    let before = state.account(&address(proposer)).balance;
    let change = [("audit.light_audit_ppm", 150_000)];
    assert_eq!(
        run(
            &mut state,
            vec![tx(CHAIN, proposer, 0, propose(&change, DEPOSIT))]
        ),
        [Status::Success]
    );
    let submitted = state.height;
    let proposal = &state.proposals[&0];
    assert_eq!(
        (
            proposal.status.clone(),
            proposal.end_height,
            proposal.effect_height
        ),
        (
            ProposalStatus::Voting,
            submitted + PERIOD,
            submitted + PERIOD + DELAY
        )
    );
    assert_eq!(
        state.account(&address(proposer)).balance,
        before - DEPOSIT - 1_000
    );
    // The delegator votes yes, then changes its mind (the second vote replaces the first); the
    // validator it delegates to votes yes, the other abstains; an address without stake and a
    // vote on a proposal that does not exist are refused.
    let statuses = run(
        &mut state,
        vec![
            tx(CHAIN, delegator, 1, vote(0, VoteOption::Yes)),
            tx(CHAIN, v0, 0, vote(0, VoteOption::Yes)),
            tx(CHAIN, v1, 0, vote(0, VoteOption::Abstain)),
            tx(CHAIN, nobody, 0, vote(0, VoteOption::Yes)),
            tx(CHAIN, v1, 1, vote(9, VoteOption::Yes)),
        ],
    );
    assert_eq!(
        statuses,
        [
            Status::Success,
            Status::Success,
            Status::Success,
            Status::Failed(Reason::NoVotingPower),
            Status::Failed(Reason::UnknownProposal),
        ]
    );
    assert_eq!(
        run(
            &mut state,
            vec![tx(CHAIN, delegator, 2, vote(0, VoteOption::No))]
        ),
        [Status::Success]
    );
    run_to(&mut state, submitted + PERIOD - 1);
    assert_eq!(state.proposals[&0].status, ProposalStatus::Voting);
    run_to(&mut state, submitted + PERIOD);
    // The delegator's 5 000 vote no on its own; the validator's yes carries only its self-bond.
    let proposal = &state.proposals[&0];
    assert_eq!(
        proposal.tally,
        Tally {
            yes: 10_000 * PLX,
            no: 5_000 * PLX,
            abstain: 10_000 * PLX,
            veto: 0,
            bonded: 25_000 * PLX,
        }
    );
    assert_eq!(proposal.tally.turnout_bps(), 10_000);
    assert_eq!(proposal.status, ProposalStatus::Passed);
    // The deposit is back; only the fee is gone.
    assert_eq!(state.account(&address(proposer)).balance, before - 1_000);
    // The period is over: a late vote is refused.
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, v1, 2, vote(0, VoteOption::No))]),
        [Status::Failed(Reason::VotingClosed)]
    );
    run_to(&mut state, submitted + PERIOD + DELAY - 1);
    assert_eq!(state.params.audit.light_audit_ppm, 100_000);
    run_to(&mut state, submitted + PERIOD + DELAY);
    assert_eq!(state.params.audit.light_audit_ppm, 150_000);
    assert_eq!(state.proposals[&0].status, ProposalStatus::Applied);
    // The proposal is part of the snapshot and the state root.
    let decoded = State::decode(state.encode()).unwrap();
    assert_eq!(decoded, state);
    assert_eq!(decoded.root(), state.root());
}

#[test]
fn a_proposal_that_would_break_the_chain_is_refused_with_its_reason() {
    let mut state = chain();
    let before = state.account(&address(3)).balance;
    let proposals = [
        propose(&[("audit.light_audit_ppm", 2_000_000)], DEPOSIT),
        propose(&[("audit.nothing", 1)], DEPOSIT),
        // Below the shortest epoch a reshare round fits in.
        propose(&[("chain.epoch_length_blocks", 9)], DEPOSIT),
        // More than halves the 1,000-block epochs in one vote.
        propose(&[("chain.epoch_length_blocks", 499)], DEPOSIT),
        propose(&[("audit.slash_multiple", 12)], DEPOSIT),
        propose(&[("audit.light_audit_ppm", 150_000)], DEPOSIT - 1),
        propose(&[], DEPOSIT),
        propose(&[("chain.fee_min", 5), ("chain.fee_min", 6)], DEPOSIT),
        propose(&[("chain.fee_min", 5)], 1_000_000 * PLX),
    ];
    let txs = proposals
        .into_iter()
        .enumerate()
        .map(|(nonce, payload)| tx(CHAIN, 3, nonce as u64, payload))
        .collect();
    assert_eq!(
        run(&mut state, txs),
        [
            Status::Failed(Reason::ParameterOutOfBounds),
            Status::Failed(Reason::UnknownParameter),
            Status::Failed(Reason::ParameterOutOfBounds),
            Status::Failed(Reason::ParameterBreaksRule),
            Status::Failed(Reason::ParameterBreaksRule),
            Status::Failed(Reason::DepositTooSmall),
            Status::Failed(Reason::InvalidProposal),
            Status::Failed(Reason::UnknownParameter),
            Status::Failed(Reason::InsufficientBalance),
        ]
    );
    assert!(state.proposals.is_empty());
    assert_eq!(state.account(&address(3)).balance, before - 9 * 1_000);
}

#[test]
fn a_veto_and_a_missed_quorum_burn_the_deposit_and_a_rejection_returns_it() {
    let mut state = chain();
    let change = [("chain.fee_min", 2_000)];
    let txs = (0..3)
        .map(|nonce| tx(CHAIN, 3, nonce, propose(&change, DEPOSIT)))
        .collect();
    assert_eq!(run(&mut state, txs), [Status::Success; 3]);
    let submitted = state.height;
    let balance = state.account(&address(3)).balance;
    let burned = state.supply.burned();
    // 0: half the stake vetoes. 1: nobody votes. 2: yes and no tie, which is not a pass.
    let votes = vec![
        tx(CHAIN, 0, 0, vote(0, VoteOption::Yes)),
        tx(CHAIN, 1, 0, vote(0, VoteOption::Veto)),
        tx(CHAIN, 0, 1, vote(2, VoteOption::Yes)),
        tx(CHAIN, 1, 1, vote(2, VoteOption::No)),
    ];
    assert_eq!(run(&mut state, votes), [Status::Success; 4]);
    run_to(&mut state, submitted + PERIOD + DELAY);
    let statuses: Vec<_> = state.proposals.values().map(|p| p.status.clone()).collect();
    assert_eq!(
        statuses,
        [
            ProposalStatus::Vetoed,
            ProposalStatus::NoQuorum,
            ProposalStatus::Rejected
        ]
    );
    assert_eq!(state.account(&address(3)).balance, balance + DEPOSIT);
    assert_eq!(state.supply.burned(), burned + 4 * 1_000 + 2 * DEPOSIT);
    assert_eq!(state.params.fee_min, Params::default().fee_min);
}

#[test]
fn a_pass_that_breaks_a_rule_by_its_effect_height_fails_to_apply_and_changes_nothing() {
    let mut state = chain();
    // The first proposal lowers the audit rate to 1% with the slash FuelTrace then needs; the
    // second, made a block later against the old rate, lowers the slash to 13x, which is enough
    // at 11% but not at 1%.
    let rare = [
        ("audit.light_audit_ppm", 5_000),
        ("audit.full_audit_ppm", 5_000),
        ("audit.slash_multiple", 149),
    ];
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, 3, 0, propose(&rare, DEPOSIT))]),
        [Status::Success]
    );
    let slash = [("audit.slash_multiple", 13)];
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, 3, 1, propose(&slash, DEPOSIT))]),
        [Status::Success]
    );
    let votes = (0..2)
        .flat_map(|id| (0..2).map(move |v| tx(CHAIN, v, id, vote(id, VoteOption::Yes))))
        .collect();
    assert_eq!(run(&mut state, votes), [Status::Success; 4]);
    let effect = state.proposals[&1].effect_height;
    run_to(&mut state, effect);
    assert_eq!(state.proposals[&0].status, ProposalStatus::Applied);
    let failed = &state.proposals[&1].status;
    assert!(
        matches!(failed, ProposalStatus::FailedToApply(why) if why.contains("FuelTrace")),
        "{failed:?}"
    );
    assert_eq!(state.params.audit.slash_multiple, 149);
    assert_eq!(state.params.audit.light_audit_ppm, 5_000);
}

/// Passes a proposal of `changes` by both validators' votes and runs to its effect height.
fn pass(state: &mut State, proposer_nonce: u64, changes: &[(&str, u128)]) -> u64 {
    let proposal = tx(CHAIN, 3, proposer_nonce, propose(changes, DEPOSIT));
    assert_eq!(run(state, vec![proposal]), [Status::Success]);
    let id = *state.proposals.keys().last().unwrap();
    let nonce = |v| state.account(&address(v)).nonce;
    let votes = (0..2)
        .map(|v| tx(CHAIN, v, nonce(v), vote(id, VoteOption::Yes)))
        .collect();
    assert_eq!(run(state, votes), [Status::Success; 2]);
    let effect = state.proposals[&id].effect_height;
    run_to(state, effect);
    assert_eq!(state.proposals[&id].status, ProposalStatus::Applied);
    effect
}

#[test]
fn a_new_epoch_length_takes_effect_two_epochs_after_the_one_it_applies_in() {
    let mut state = chain_of_epochs(20);
    let effect = pass(&mut state, 0, &[("chain.epoch_length_blocks", 12)]);
    assert_eq!(state.epoch_of(effect), 0);
    assert_eq!(state.params.epoch_length_blocks, 12);
    // Epochs 0 and 1 keep their 20 blocks; 12-block epochs start with epoch 2, at height 40.
    let epochs = state.epochs().clone();
    assert_eq!(
        (epochs.first_height(1), epochs.last_height(1)),
        (20, 39),
        "{epochs:?}"
    );
    assert_eq!((epochs.first_height(2), epochs.last_height(2)), (40, 51));
    assert_eq!((epochs.first_height(4), epochs.last_height(4)), (64, 75));
    // The chain runs through the change: each epoch's first block records the boundary its
    // consensus starts from, and the epoch ends pay the emissions at the new boundaries.
    let mut last_of_previous = None;
    while state.height < 80 {
        let before = state.clone();
        run(&mut state, vec![]);
        if epochs.is_first(state.height) {
            last_of_previous = Some(before.block_hash);
        }
        if epochs.is_last(state.height) {
            assert_eq!(state.epoch_start_block(), state.block_hash);
        }
    }
    assert_eq!(state.epoch_boundary(), last_of_previous.unwrap());
    assert_eq!(state.epoch_of(80), 5);
    // Epoch 4 ended at height 75 and paid its emission; the record keeps the recent epochs.
    let ended: Vec<u64> = state.emissions().keys().copied().collect();
    assert_eq!(ended.last(), Some(&4), "{ended:?}");
    assert!(ended.windows(2).all(|w| w[1] == w[0] + 1), "{ended:?}");
    // The schedule is in the snapshot (the root's unit test covers the commitment).
    let decoded = State::decode(state.encode()).unwrap();
    assert_eq!(decoded.epochs(), &epochs);
    assert_eq!(decoded, state);
}

#[test]
fn a_proof_window_is_checked_against_the_epochs_already_scheduled() {
    // Epochs of 12 blocks, lengthened to 24 from epoch 2 (height 24).
    let mut state = chain_of_epochs(12);
    pass(&mut state, 0, &[("chain.epoch_length_blocks", 24)]);
    assert!(state.height < 24);
    // 20 is below the new parameter (24) but not below the 12-block epochs still to come.
    let window = [("storage.proof_window_blocks", 20)];
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, 3, 1, propose(&window, DEPOSIT))]),
        [Status::Failed(Reason::ParameterBreaksRule)]
    );
    // From epoch 2 on every epoch is 24 blocks: the same proposal is made.
    run_to(&mut state, 24);
    assert_eq!(
        run(&mut state, vec![tx(CHAIN, 3, 2, propose(&window, DEPOSIT))]),
        [Status::Success]
    );
}
