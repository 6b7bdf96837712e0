//! Equivocation evidence at the state machine's boundary: real simplex votes signed with the
//! committee's ed25519 keys, submitted in transactions, slash and jail the signer.

use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{ConflictingNotarize, Finalize, Notarize, Nullify, NullifyFinalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::Signer;
use commonware_utils::ordered::Set;
use plexus_state::{Params, State, evidence};
use plexus_types::{CONSENSUS_NAMESPACE, Digest, PLX, Payload, Reason, Status};

mod common;

use common::{address, key, run};

const CHAIN: u64 = 5;

fn tx(from: u64, nonce: u64, payload: Payload) -> plexus_types::SignedTransaction {
    common::tx(CHAIN, from, nonce, payload)
}

/// Validators 0..4 (validator 3 also has a delegator, account 7); account 9 reports.
fn genesis() -> State {
    let mut state = common::genesis(
        CHAIN,
        Params {
            epoch_length_blocks: 3,
            ..Params::default()
        },
        4,
    );
    let delegate = tx(
        7,
        0,
        Payload::Delegate {
            validator: address(3),
            amount: 2_000 * PLX,
        },
    );
    assert_eq!(run(&mut state, vec![delegate]), vec![Status::Success]);
    state
}

fn scheme(signer: u64, state: &State) -> Scheme {
    let committee: Set<_> = evidence::consensus_committee(state).unwrap();
    Scheme::signer(CONSENSUS_NAMESPACE, committee, key(signer)).unwrap()
}

fn proposal(view: u64, payload: u8) -> Proposal<Digest> {
    Proposal::new(
        Round::new(Epoch::zero(), View::new(view)),
        View::new(view - 1),
        Digest::from([payload; 32]),
    )
}

fn double_notarize(signer: u64, view: u64, state: &State) -> Vec<u8> {
    let scheme = scheme(signer, state);
    let a = Notarize::sign(&scheme, proposal(view, 1)).unwrap();
    let b = Notarize::sign(&scheme, proposal(view, 2)).unwrap();
    evidence::Evidence::ConflictingNotarize(ConflictingNotarize::new(a, b)).to_bytes()
}

fn submit(state: &mut State, nonce: u64, evidence: Vec<u8>) -> Status {
    run(state, vec![tx(9, nonce, Payload::Evidence { evidence })])[0]
}

#[test]
fn equivocation_slashes_self_bond_and_delegations_burns_and_jails() {
    let mut state = genesis();
    let before = state.supply.clone();
    let offender = address(3);
    let stake = state.validators[&offender].clone();
    let delegation = state.delegations()[&(address(7), offender.clone())];

    let proof = double_notarize(3, 10, &state);
    let status = submit(&mut state, 0, proof);
    assert_eq!(status, Status::Success);

    let bps = u128::from(Params::default().slash_bps);
    let self_cut = stake.self_bond * bps / 10_000;
    let delegation_cut = delegation * bps / 10_000;
    let after = &state.validators[&offender];
    assert!(after.jailed);
    assert_eq!(after.self_bond, stake.self_bond - self_cut);
    assert_eq!(after.delegated, stake.delegated - delegation_cut);
    assert_eq!(
        state.delegations()[&(address(7), offender.clone())],
        delegation - delegation_cut
    );
    let burned = self_cut + delegation_cut;
    assert_eq!(state.slashes[&(offender.clone(), 0, 10)], burned);
    // Supply: the slash and the fee are burned, and everything still recounts.
    assert_eq!(state.supply.total(), before.total() - burned - 1_000);
    assert_eq!(state.supply.burned(), before.burned() + burned + 1_000);
    assert_eq!(state.recount().unwrap(), state.supply.total());

    // The same fault again, even re-signed differently, is a duplicate; another view is not.
    let again = double_notarize(3, 10, &state);
    assert_eq!(
        submit(&mut state, 1, again),
        Status::Failed(Reason::DuplicateEvidence)
    );
    // Jailed: not elected at the next epoch boundary.
    while !state.height.is_multiple_of(3) {
        run(&mut state, Vec::new());
    }
    assert!(!state.next_committee().contains(&offender));
    assert_eq!(state.next_committee().len(), 3);
}

#[test]
fn nullify_and_finalize_in_one_view_is_a_fault_too() {
    let mut state = genesis();
    let scheme = scheme(2, &state);
    let round = Round::new(Epoch::zero(), View::new(4));
    let nullify = Nullify::sign::<Digest>(&scheme, round).unwrap();
    let finalize = Finalize::sign(&scheme, proposal(4, 1)).unwrap();
    let bytes =
        evidence::Evidence::NullifyFinalize(NullifyFinalize::new(nullify, finalize)).to_bytes();
    assert_eq!(submit(&mut state, 0, bytes), Status::Success);
    assert!(state.validators[&address(2)].jailed);
}

#[test]
fn bad_evidence_is_refused_with_a_reason_and_slashes_nobody() {
    let mut state = genesis();
    let stakes = state.validators.clone();
    // Garbage.
    assert_eq!(
        submit(&mut state, 0, vec![0, 1, 2, 3]),
        Status::Failed(Reason::MalformedEvidence)
    );
    // A flipped bit in one signature.
    let mut forged = double_notarize(1, 7, &state);
    let last = forged.len() - 40;
    forged[last] ^= 1;
    assert!(matches!(
        submit(&mut state, 1, forged),
        Status::Failed(Reason::InvalidEvidence | Reason::MalformedEvidence)
    ));
    // Votes signed by someone outside the committee, claiming a member's index.
    let outsider = {
        let committee = evidence::consensus_committee(&state).unwrap();
        // Sign as member 0's index with a key that is not member 0's.
        let impostor = Scheme::signer(
            CONSENSUS_NAMESPACE,
            Set::try_from(
                committee
                    .iter()
                    .map(|k| {
                        if *k == key(0).public_key() {
                            key(8).public_key()
                        } else {
                            k.clone()
                        }
                    })
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
            key(8),
        )
        .unwrap();
        let a = Notarize::sign(&impostor, proposal(9, 1)).unwrap();
        let b = Notarize::sign(&impostor, proposal(9, 2)).unwrap();
        evidence::Evidence::ConflictingNotarize(ConflictingNotarize::new(a, b)).to_bytes()
    };
    assert_eq!(
        submit(&mut state, 2, outsider),
        Status::Failed(Reason::InvalidEvidence)
    );
    // Evidence from an epoch that does not exist yet.
    let scheme = scheme(1, &state);
    let later = |payload| {
        Proposal::new(
            Round::new(Epoch::new(5), View::new(3)),
            View::new(2),
            Digest::from([payload; 32]),
        )
    };
    let a = Notarize::sign(&scheme, later(1)).unwrap();
    let b = Notarize::sign(&scheme, later(2)).unwrap();
    let bytes = evidence::Evidence::ConflictingNotarize(ConflictingNotarize::new(a, b)).to_bytes();
    assert_eq!(
        submit(&mut state, 3, bytes),
        Status::Failed(Reason::InvalidEvidence)
    );
    assert_eq!(state.validators, stakes, "nobody was slashed");
    assert!(state.slashes.is_empty());
}
