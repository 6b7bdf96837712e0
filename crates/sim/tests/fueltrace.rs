//! The `fueltrace` scenario on a few seeds: the role strategies against the real state machine.
//! Each run checks its own invariants (`plexus_sim::fueltrace`); this suite also checks that the
//! seeds exercise what the scenario claims (every kind of cheater refuted, unaudited cheaters,
//! the lazy verifier caught by canaries) and that a seed reproduces its final state root.
//! Nothing here depends on how fast the machine is.

use plexus_sim::fueltrace::{FuelTraceOutcome, run};

fn pass(seed: u64) -> FuelTraceOutcome {
    run(seed).unwrap_or_else(|err| {
        panic!("{err} (replay: cargo run -p plexus-sim -- --scenario fueltrace --seed {seed})")
    })
}

#[test]
fn audited_cheaters_are_refuted_and_slashed_and_no_honest_party_is() {
    let outcomes: Vec<FuelTraceOutcome> = (1..=4).map(pass).collect();
    let mut refuted_by_kind = [0u64; 3];
    for outcome in &outcomes {
        let seed = outcome.seed;
        assert_eq!(
            outcome.cheaters_audited, outcome.cheaters_refuted,
            "seed {seed}"
        );
        assert_eq!(outcome.honest_slashed, 0, "seed {seed}");
        assert_eq!(
            outcome.cheaters_audited + outcome.cheaters_unaudited,
            outcome.cheating_jobs,
            "seed {seed}"
        );
        assert!(
            outcome.jobs > 0 && outcome.disputes > 0,
            "seed {seed}: {outcome:?}"
        );
        for (sum, refuted) in refuted_by_kind.iter_mut().zip(outcome.refuted_by_kind) {
            *sum += refuted;
        }
    }
    let seeds: Vec<u64> = outcomes.iter().map(|o| o.seed).collect();
    // Every kind of cheater meets an audit that catches it, and some go unaudited.
    assert!(
        refuted_by_kind.iter().all(|&n| n > 0),
        "seeds {seeds:?}: refuted by kind (lazy, inflator, corrupter) {refuted_by_kind:?}"
    );
    assert!(
        outcomes.iter().any(|o| o.cheaters_unaudited > 0),
        "seeds {seeds:?}"
    );
    // The lazy verifier meets canaries and pays for each.
    let lazy: u64 = outcomes.iter().map(|o| o.lazy_canaries_passed).sum();
    assert!(lazy > 0, "seeds {seeds:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| (o.lazy_canaries_passed > 0) == (o.lazy_verifier_slashed > 0))
    );
}

#[test]
fn the_same_seed_gives_the_same_final_state_root() {
    let first = pass(7);
    assert_eq!(first, pass(7), "seed 7");
    assert_ne!(first.state_root, pass(8).state_root, "seeds 7 and 8");
}
