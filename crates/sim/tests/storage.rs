//! The storage market scenario (`plexus_sim::storage`) on a few seeds against the real state
//! machine: no segment lost, honest providers never burned or slashed, lazy ones lose money,
//! every outsider read refused, and a seed reproduces its final state root. Each run checks its
//! invariants every block; this suite checks that the seeds exercise what the scenario claims
//! (misses, losses, repairs by real decodes, excused faults). The table prints with
//! `cargo test -p plexus-sim --test storage -- --nocapture`.

use plexus_sim::storage::{Class, StorageConfig, StorageOutcome, run};

fn pass(seed: u64, config: &StorageConfig) -> StorageOutcome {
    let outcome = run(seed, config).unwrap_or_else(|err| panic!("{err}"));
    println!("{}", outcome.table());
    outcome
}

fn claims(outcome: &StorageOutcome) {
    let seed = outcome.seed;
    let honest = outcome.row(Class::Honest);
    let lazy = outcome.row(Class::Lazy);
    assert_eq!(outcome.segments_lost, 0, "seed {seed}");
    assert_eq!((honest.burned, honest.slashed), (0, 0), "seed {seed}");
    assert_eq!(outcome.row(Class::Churn).burned, 0, "seed {seed}");
    assert!(
        honest.passed > 0 && honest.missed == 0,
        "seed {seed}: {honest:?}"
    );
    assert!(
        lazy.missed > 0 && lazy.burned > lazy.saved,
        "seed {seed}: {lazy:?}"
    );
    assert!(
        lazy.net_per_shard_epoch() < honest.net_per_shard_epoch(),
        "seed {seed}"
    );
    assert!(
        outcome.reads_refused > 0 && outcome.reads_allowed > 0,
        "seed {seed}"
    );
}

#[test]
fn lazy_and_offline_providers_pay_honest_ones_never_do_and_no_segment_is_lost() {
    let config = StorageConfig::small();
    let outcomes: Vec<StorageOutcome> = (1..=3).map(|seed| pass(seed, &config)).collect();
    for outcome in &outcomes {
        claims(outcome);
    }
    // Across the seeds: shards lost and rebuilt by real decodes, faults excused.
    let seeds: Vec<u64> = outcomes.iter().map(|o| o.seed).collect();
    assert!(
        outcomes.iter().any(|o| o.repairs_done > 0 && o.decodes > 0),
        "seeds {seeds:?}"
    );
    assert!(
        outcomes.iter().any(|o| o.row(Class::Honest).excused > 0),
        "seeds {seeds:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_final_state_root() {
    let config = StorageConfig::small();
    let first = run(7, &config).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        first,
        run(7, &config).unwrap_or_else(|err| panic!("{err}")),
        "seed 7"
    );
    let other = run(8, &config).unwrap_or_else(|err| panic!("{err}"));
    assert_ne!(first.state_root, other.state_root, "seeds 7 and 8");
}

/// The larger population over 60 epochs (CI profile: `--profile ci`; the default profile
/// filters `large_` tests of this crate out).
#[test]
fn large_storage_market() {
    claims(&pass(11, &StorageConfig::large()));
}
