//! Participation records at the state machine's boundary: real finalization certificates
//! assembled from the committee's ed25519 finalize votes.

use commonware_codec::Encode;
use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_parallel::Sequential;
use commonware_utils::iter::NonEmpty;
use plexus_state::{Params, State, evidence};
use plexus_types::{CONSENSUS_NAMESPACE, Digest, Payload, Reason, Status};

mod common;

use common::{address, key, run};

const CHAIN: u64 = 6;

fn genesis() -> State {
    common::genesis(CHAIN, Params::default(), 4)
}

/// The finalization of `payload` signed by `signers`.
fn certificate(state: &State, payload: Digest, signers: &[u64]) -> Vec<u8> {
    let committee = evidence::consensus_committee(state).unwrap();
    let proposal = Proposal::new(
        Round::new(Epoch::zero(), View::new(3)),
        View::new(2),
        payload,
    );
    let votes: Vec<Finalize<Scheme, Digest>> = signers
        .iter()
        .map(|i| {
            let scheme = Scheme::signer(CONSENSUS_NAMESPACE, committee.clone(), key(*i)).unwrap();
            Finalize::sign(&scheme, proposal.clone()).unwrap()
        })
        .collect();
    let verifier = Scheme::verifier(CONSENSUS_NAMESPACE, committee);
    Finalization::from_finalizes(
        &verifier,
        NonEmpty::try_new(votes.iter()).unwrap(),
        &Sequential,
    )
    .unwrap()
    .encode()
    .to_vec()
}

fn record(state: &mut State, nonce: u64, height: u64, finalization: Vec<u8>) -> Status {
    let tx = common::tx(
        CHAIN,
        9,
        nonce,
        Payload::Participation {
            height,
            finalization,
        },
    );
    run(state, vec![tx])[0]
}

fn count(state: &State, i: u64) -> u64 {
    state
        .participation
        .iter()
        .filter(|((_, who), _)| *who == address(i))
        .map(|(_, c)| *c)
        .sum()
}

#[test]
fn a_quorum_certificate_counts_its_signers_once() {
    let mut state = genesis();
    run(&mut state, Vec::new());
    let (height, hash) = (state.height, state.block_hash);
    let cert = certificate(&state, hash, &[0, 1, 3]);
    assert_eq!(record(&mut state, 0, height, cert.clone()), Status::Success);
    assert_eq!(
        (
            count(&state, 0),
            count(&state, 1),
            count(&state, 2),
            count(&state, 3)
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(state.recent_blocks[&height], (hash, true));
    // The same height again, even with another certificate, is refused.
    let other = certificate(&state, hash, &[0, 1, 2, 3]);
    assert_eq!(
        record(&mut state, 1, height, other),
        Status::Failed(Reason::AlreadyRecorded)
    );
    assert_eq!(count(&state, 2), 0);
    assert_eq!(state.recount().unwrap(), state.supply.total());
}

#[test]
fn certificates_that_prove_nothing_are_refused() {
    let mut state = genesis();
    run(&mut state, Vec::new());
    run(&mut state, Vec::new());
    let height = state.height;
    let hash = state.block_hash;
    // Below the quorum (3 of 4): a valid certificate with one signer taken out.
    let two = {
        use commonware_codec::Decode;
        use commonware_cryptography::certificate::Signers;
        let full = certificate(&state, hash, &[0, 1, 2]);
        let mut finalization = Finalization::<Scheme, Digest>::decode_cfg(
            commonware_codec::Copying(full.as_slice()),
            &4,
        )
        .unwrap();
        let kept: Vec<_> = finalization.certificate.signers.iter().take(2).collect();
        finalization.certificate.signers = Signers::new(4, kept).unwrap();
        finalization.certificate.signatures.truncate(2);
        finalization.encode().to_vec()
    };
    assert_eq!(
        record(&mut state, 0, height, two),
        Status::Failed(Reason::InvalidCertificate)
    );
    // The certificate of another block than the one at that height.
    let wrong = certificate(&state, Digest::from([7; 32]), &[0, 1, 2]);
    assert_eq!(
        record(&mut state, 1, height, wrong),
        Status::Failed(Reason::InvalidCertificate)
    );
    // A height outside the recent window.
    let cert = certificate(&state, hash, &[0, 1, 2]);
    assert_eq!(
        record(&mut state, 2, height + 100, cert.clone()),
        Status::Failed(Reason::InvalidCertificate)
    );
    // A flipped bit in a signature; and bytes that are no certificate.
    let mut forged = cert;
    let at = forged.len() - 10;
    forged[at] ^= 1;
    assert_eq!(
        record(&mut state, 3, height, forged),
        Status::Failed(Reason::InvalidCertificate)
    );
    assert_eq!(
        record(&mut state, 4, height, vec![1, 2, 3]),
        Status::Failed(Reason::InvalidCertificate)
    );
    assert!(state.participation.is_empty());
}

#[test]
fn the_recent_window_forgets_old_blocks() {
    let mut state = genesis();
    for _ in 0..plexus_state::PARTICIPATION_WINDOW + 10 {
        run(&mut state, Vec::new());
    }
    assert_eq!(
        state.recent_blocks.len() as u64,
        plexus_state::PARTICIPATION_WINDOW
    );
    assert!(!state.recent_blocks.contains_key(&1));
}
