//! Whether the provider takes on a job the chain assigned to it: decided once, when the agent
//! first sees the job, and kept in the job's journal record.
//!
//! A job is accepted when its whole `max_fuel` runs before its deadline at the provider's speed
//! figure with a safety factor of `SAFETY_FACTOR`, counting the observed block time and leaving
//! `GIVE_UP_BEFORE_DEADLINE_BLOCKS` for the commitment to land. Otherwise it is refused: a
//! failed commitment with no fuel, whose output is the reason, so the consumer is refunded and
//! nobody is slashed (running a job that cannot make its deadline would cost the bond lock).
//!
//! The decision is final. A restarted agent reads it back and resumes an accepted job whatever
//! its speed looks like at that moment: a job's feasibility was judged when the provider took
//! it on, and one measurement under load must never turn into a refusal of work in progress.

use serde::{Deserialize, Serialize};

/// Blocks before its deadline at which a job whose content cannot be fetched is given up (a
/// failed commitment with no fuel: the consumer is refunded and the provider not slashed).
pub const GIVE_UP_BEFORE_DEADLINE_BLOCKS: u64 = 3;

/// How much slower than its figure the provider may run a job and still make the deadline.
pub const SAFETY_FACTOR: u64 = 2;

/// The decision on one assigned job, as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The job fits: run it, and after a restart resume it.
    Accepted {
        /// The height the decision was made at.
        height: u64,
        /// The speed figure it was judged at.
        fuel_per_second: u64,
        /// The block time it was judged at, in milliseconds.
        block_ms: u64,
    },
    /// The job does not fit: commit a refusal whose output is `reason`.
    Refused {
        /// The height the decision was made at.
        height: u64,
        /// Why, in words an operator and the consumer read (the refusal commitment's text).
        reason: String,
    },
}

/// What a job asks of the provider.
#[derive(Clone, Copy, Debug)]
pub struct Terms {
    pub max_fuel: u64,
    pub deadline_height: u64,
}

/// The time a provider at `fuel_per_second` counts for `max_fuel`, safety factor included, in
/// milliseconds (rounded up: a job on the boundary by less than a millisecond is the provider's
/// risk).
fn work_ms(max_fuel: u64, fuel_per_second: u64) -> u128 {
    (u128::from(max_fuel) * u128::from(SAFETY_FACTOR) * 1_000)
        .div_ceil(u128::from(fuel_per_second.max(1)))
}

/// The fewest deadline blocks, counted from the height a provider at `fuel_per_second` first
/// sees the job, with which [`decide`] accepts `max_fuel` at a block time of `block_ms`: what a
/// consumer asks for so that such a provider takes the job.
pub fn blocks_needed(max_fuel: u64, fuel_per_second: u64, block_ms: u64) -> u64 {
    let blocks_for_work = work_ms(max_fuel, fuel_per_second).div_ceil(u128::from(block_ms.max(1)));
    u64::try_from(blocks_for_work)
        .unwrap_or(u64::MAX)
        .saturating_add(GIVE_UP_BEFORE_DEADLINE_BLOCKS)
}

/// Decides on a job with `terms` first seen at `height`, at `fuel_per_second` and a block time
/// of `block_ms`.
pub fn decide(terms: Terms, height: u64, fuel_per_second: u64, block_ms: u64) -> Decision {
    let blocks_left = terms.deadline_height.saturating_sub(height);
    let blocks_for_work = blocks_left.saturating_sub(GIVE_UP_BEFORE_DEADLINE_BLOCKS);
    let work_ms = work_ms(terms.max_fuel, fuel_per_second);
    let available_ms = u128::from(blocks_for_work) * u128::from(block_ms);
    if work_ms <= available_ms {
        return Decision::Accepted {
            height,
            fuel_per_second,
            block_ms,
        };
    }
    Decision::Refused {
        height,
        reason: format!(
            "{} fuel does not run at {fuel_per_second} fuel/s before block {}: with a safety \
             factor of {SAFETY_FACTOR} it needs {work_ms} ms, and at block {height} the \
             {blocks_for_work} blocks left for work (keeping {GIVE_UP_BEFORE_DEADLINE_BLOCKS} \
             for the commitment) last about {available_ms} ms at {block_ms} ms a block",
            terms.max_fuel, terms.deadline_height
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BILLION: u64 = 1_000_000_000;

    fn terms(max_fuel: u64, deadline_height: u64) -> Terms {
        Terms {
            max_fuel,
            deadline_height,
        }
    }

    #[test]
    fn a_job_that_fits_twice_over_is_accepted_with_its_figures() {
        // 10^9 fuel at 10^8 fuel/s is 10 s, 20 s with the margin; 200 blocks of 250 ms are 50 s.
        assert_eq!(
            decide(terms(BILLION, 203), 3, 100_000_000, 250),
            Decision::Accepted {
                height: 3,
                fuel_per_second: 100_000_000,
                block_ms: 250
            }
        );
    }

    #[test]
    fn the_boundary_is_exact_and_keeps_blocks_for_the_commitment() {
        // 80 blocks of work at 250 ms = 20 000 ms = exactly twice 10^9 fuel at 10^8 fuel/s.
        let deadline = 10 + 80 + GIVE_UP_BEFORE_DEADLINE_BLOCKS;
        assert!(matches!(
            decide(terms(BILLION, deadline), 10, 100_000_000, 250),
            Decision::Accepted { .. }
        ));
        assert!(matches!(
            decide(terms(BILLION + 1, deadline), 10, 100_000_000, 250),
            Decision::Refused { .. }
        ));
        assert!(matches!(
            decide(terms(BILLION, deadline), 11, 100_000_000, 250),
            Decision::Refused { .. }
        ));
        // Slower blocks give more time.
        assert!(matches!(
            decide(terms(BILLION, deadline), 11, 100_000_000, 1_000),
            Decision::Accepted { .. }
        ));
    }

    #[test]
    fn blocks_needed_is_the_fewest_blocks_decide_accepts() {
        for (fuel, speed, block_ms) in [
            (BILLION, 100_000_000, 250),
            (BILLION + 1, 100_000_000, 250),
            (7, 3, 1_000),
            (40 * BILLION, 56_500_656, 333),
        ] {
            let blocks = blocks_needed(fuel, speed, block_ms);
            let at = 50;
            assert!(
                matches!(
                    decide(terms(fuel, at + blocks), at, speed, block_ms),
                    Decision::Accepted { .. }
                ),
                "{fuel} fuel at {speed}/s, {block_ms} ms: {blocks} blocks"
            );
            assert!(
                matches!(
                    decide(terms(fuel, at + blocks - 1), at, speed, block_ms),
                    Decision::Refused { .. }
                ),
                "{fuel} fuel at {speed}/s, {block_ms} ms: one block fewer than {blocks}"
            );
        }
    }

    #[test]
    fn a_refusal_says_why_in_numbers() {
        let Decision::Refused { height, reason } = decide(terms(BILLION, 203), 63, 56_500_656, 250)
        else {
            panic!("10^9 fuel at 56.5 M fuel/s needs 35.4 s of 34.25 s: a refusal expected");
        };
        assert_eq!(height, 63);
        for part in [
            "1000000000 fuel does not run at 56500656 fuel/s before block 203",
            "35398 ms",
            "at block 63",
            "137 blocks",
            "34250 ms",
        ] {
            assert!(reason.contains(part), "{part:?} missing from {reason:?}");
        }
    }

    #[test]
    fn past_or_at_the_deadline_nothing_fits_and_nothing_overflows() {
        for height in [200, 201, u64::MAX] {
            assert!(matches!(
                decide(terms(1, 200), height, u64::MAX, u64::MAX),
                Decision::Refused { .. }
            ));
        }
        // A zero figure (never registered, but never a division by zero either).
        assert!(matches!(
            decide(terms(u64::MAX, u64::MAX), 0, 0, 1),
            Decision::Refused { .. }
        ));
        assert!(matches!(
            decide(terms(0, 100), 0, 0, 1),
            Decision::Accepted { .. }
        ));
    }

    #[test]
    fn the_decision_round_trips_through_the_journal_format() {
        for decision in [
            decide(terms(1, 100), 0, 1, 250),
            decide(terms(BILLION, 20), 0, 1, 250),
        ] {
            let json = serde_json::to_string(&decision).unwrap();
            assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
        }
    }
}
