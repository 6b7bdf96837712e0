//! The deterministic simulation suite: every fault scenario under fixed seeds, each checked for
//! safety and liveness by `plexus_sim::run`, and a determinism check. `cargo xtask sim --seeds N`
//! runs the longer sweep.

use plexus_sim::{SCENARIOS, Scenario, run};

fn pass(scenario: Scenario, seed: u64) {
    match run(scenario, seed) {
        Ok(outcome) => eprintln!("{outcome:?}"),
        Err(err) => panic!(
            "{err} (replay: cargo run -p plexus-sim -- --scenario {} --from {seed} --seeds 1)",
            scenario.name()
        ),
    }
}

#[test]
fn all_online() {
    pass(Scenario::AllOnline, 1);
}

#[test]
fn one_validator_offline() {
    pass(Scenario::OneOffline, 2);
}

#[test]
fn f_validators_crash_and_restart_from_storage() {
    pass(Scenario::CrashRestart, 3);
}

#[test]
fn all_validators_crash_together_and_resume() {
    pass(Scenario::FullRestart, 1);
}

#[test]
fn a_validator_joins_and_one_leaves_across_an_epoch_with_reshare() {
    pass(Scenario::JoinLeave, 1);
}

#[test]
fn a_dealer_and_a_player_restart_mid_reshare_and_the_new_committee_signs() {
    pass(Scenario::ReshareRestart, 1);
}

#[test]
fn a_vote_shortens_the_epochs_and_consensus_and_reshares_follow_the_new_boundaries() {
    pass(Scenario::EpochChange, 1);
}

#[test]
fn a_fresh_node_state_syncs_while_the_chain_runs() {
    pass(Scenario::StateSync, 1);
}

#[test]
fn random_crashes() {
    pass(Scenario::RandomCrashes, 4);
}

#[test]
fn partition_stalls_finality_until_it_heals() {
    pass(Scenario::Partition, 5);
}

#[test]
fn lossy_and_slow_links() {
    pass(Scenario::LossySlow, 6);
}

#[test]
fn a_validator_proposing_invalid_blocks_gets_none_finalized() {
    pass(Scenario::ByzantineProposer, 7);
}

#[test]
fn a_peer_sending_garbage_is_blocked() {
    pass(Scenario::GarbagePeer, 8);
}

#[test]
fn an_equivocator_is_slashed_through_evidence() {
    pass(Scenario::Equivocator, 9);
}

#[test]
fn a_late_validator_backfills_the_chain_and_joins() {
    pass(Scenario::LateJoiner, 10);
}

#[test]
fn a_full_node_follows_the_chain() {
    pass(Scenario::FullNode, 11);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    for scenario in [Scenario::AllOnline, Scenario::RandomCrashes] {
        let first = run(scenario, 42).unwrap();
        let second = run(scenario, 42).unwrap();
        assert_eq!(first, second, "{}", scenario.name());
        let other = run(scenario, 43).unwrap();
        assert_ne!(
            first.event_hash,
            other.event_hash,
            "{}: seeds must matter",
            scenario.name()
        );
    }
}

#[test]
fn every_scenario_has_a_unique_name() {
    for scenario in SCENARIOS {
        assert_eq!(Scenario::from_name(scenario.name()), Some(scenario));
    }
}
