//! The same blocks give the same states on a second chain, and a snapshot mid-dispute survives
//! mutated bytes.

use super::*;

/// Scenario 9: the same blocks give the same states (and roots) on a second chain, whatever
/// happened in them; every state also survived a snapshot round trip (`Chain::accept`).
#[test]
fn the_same_blocks_give_the_same_states() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (cheated, job, _) = chain.audited(30, Fault::From(4), Fault::Honest);
    chain.play(cheated, &job.trace(Fault::From(4)), VERIFIER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    // Only the two sides may settle.
    assert_eq!(
        chain.settle(OUTSIDER, cheated),
        Status::Failed(Reason::NotYourMove)
    );
    assert_eq!(chain.settle(VERIFIER, cheated), Status::Success);
    // A second dispute, lost by a challenger that stops choosing.
    let (lied, lied_job, _) = chain.audited(31, Fault::Honest, Fault::Output);
    let game = chain.state.disputes[&lied].game.clone();
    let step = lied_job
        .trace(Fault::Honest)
        .respond(&game)
        .unwrap()
        .unwrap();
    chain.ok(PROVIDER, Payload::DisputeMove { job: lied, step });
    chain.empty(RESPONSE_BLOCKS);
    assert_eq!(chain.status(&cheated).name(), "refuted");
    assert_eq!(chain.status(&lied).name(), "settled");
    let ruling = chain.state.disputes[&lied].ruling.clone().expect("ruled");
    assert_eq!(
        (ruling.provider_lost, ruling.end),
        (false, DisputeEnd::Timeout)
    );

    let mut replica = chain.genesis.clone();
    for block in &chain.blocks {
        apply_block_with(&mut replica, block, &chain.replayer).expect("replays");
        assert_eq!(replica.root(), block.header.state_root);
    }
    assert_eq!(replica, chain.state);
    assert_eq!(replica.root(), chain.state.root());
    let decoded = State::decode(replica.encode()).unwrap();
    assert_eq!(decoded.root(), chain.state.root());
}

/// A snapshot mid-dispute (a provider, a job, a verifier, its audit and a dissection game
/// awaiting a choice) meets mutated and truncated bytes: the decoder returns an error or a state
/// that round-trips, never a panic. State sync will feed it bytes from a peer; the fuzz target
/// `decode_snapshot` searches further.
#[test]
fn a_snapshot_mid_dispute_survives_mutated_bytes() {
    use commonware_codec::Copying;
    use rand::{RngExt as _, SeedableRng as _};
    use rand_chacha::ChaCha8Rng;

    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let fault = Fault::From(SEGMENTS / 2);
    let (id, job, _) = chain.audited(7, fault, Fault::Honest);
    let reveal = job
        .trace(fault)
        .respond(&chain.state.disputes[&id].game)
        .unwrap()
        .unwrap();
    chain.ok(
        PROVIDER,
        Payload::DisputeMove {
            job: id,
            step: reveal,
        },
    );
    assert!(matches!(
        chain.state.disputes[&id].game.phase(),
        Phase::AwaitingChoice { .. }
    ));
    let bytes = chain.state.encode().to_vec();
    assert_eq!(State::decode(Copying(&bytes[..])).unwrap(), chain.state);

    let seed = 13;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The market and FuelTrace records are encoded last: half the mutations land among them.
    let tail = bytes.len().saturating_sub(4_096);
    for case in 0..1_000 {
        let start = if case % 2 == 0 { 0 } else { tail };
        let at = rng.random_range(start..bytes.len());
        let mut mutated = bytes.clone();
        mutated[at] = rng.random();
        for candidate in [&mutated[..], &mutated[..at]] {
            if let Ok(state) = State::decode(Copying(candidate)) {
                let again = State::decode(state.encode()).unwrap_or_else(|err| {
                    panic!("seed {seed} case {case} byte {at}: accepted, then refused: {err}")
                });
                assert_eq!(again, state, "seed {seed} case {case} byte {at}");
            }
        }
    }
}
