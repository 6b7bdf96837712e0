//! The game's unit tests: its arithmetic, its limits and its codec, with no player. Games
//! played between the roles are in the crate's `tests` module.

use super::*;
use commonware_codec::{DecodeExt as _, Encode as _};
use plexus_types::ContentHash;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

#[test]
fn split_points_table() {
    let check = |lo, hi, k, expected: &[u64]| {
        assert_eq!(split_points(lo, hi, k), expected, "[{lo}, {hi}] k {k}");
    };
    check(0, 1, 16, &[]);
    check(0, 2, 16, &[1]);
    check(3, 6, 16, &[4, 5]);
    check(0, 16, 16, &(1..16).collect::<Vec<_>>());
    check(
        0,
        17,
        16,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    check(
        0,
        18,
        16,
        &[1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16],
    );
    check(0, 10, 4, &[2, 5, 7]);
    check(0, 10, 2, &[5]);
    check(100, 103, 2, &[101]);
    check(0, 4096, 16, &(1..16).map(|j| j * 256).collect::<Vec<_>>());
    check(
        u64::MAX - 9,
        u64::MAX,
        4,
        &[u64::MAX - 7, u64::MAX - 5, u64::MAX - 3],
    );
}

#[test]
fn split_points_cut_evenly() {
    let seed = 7;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for case in 0..2_000 {
        let lo = rng.random_range(0..1u64 << 40);
        let length = rng.random_range(2..[20u64, 5_000, 1 << 33][case % 3]);
        let hi = lo + length;
        let k = rng.random_range(2..=ARITY_MAX);
        let points = split_points(lo, hi, k);
        let context = format!("seed {seed} case {case}: [{lo}, {hi}] k {k}");
        assert_eq!(
            points.len() as u64,
            (length - 1).min(u64::from(k) - 1),
            "{context}"
        );
        let mut bounds = vec![lo];
        bounds.extend(&points);
        bounds.push(hi);
        for pair in bounds.windows(2) {
            assert!(pair[0] < pair[1], "{context}");
            assert!(
                pair[1] - pair[0] <= length.div_ceil(u64::from(k)),
                "{context}"
            );
        }
        assert_eq!(points, split_points(lo, hi, k), "{context}");
    }
}

#[test]
fn rounds_max_table() {
    let check = |leaves, k, expected| {
        assert_eq!(rounds_max(leaves, k), expected, "leaves {leaves} k {k}");
    };
    check(1, 16, 0);
    check(2, 16, 0);
    check(3, 16, 1);
    check(17, 16, 1);
    check(18, 16, 2);
    check(257, 16, 2);
    check(258, 16, 3);
    // n = 4096 segments is 4097 leaves; the interval 0..=4096 has length 4096 = 16^3, so the
    // +1 leaf does not cost a round. The boundary is one segment later.
    check(4097, 16, 3);
    check(4098, 16, 4);
    check(65_536, 16, 4);
    check(65_537, 16, 4);
    check(65_538, 16, 5);
    check(4097, 4, 6);
    check(4097, 2, 12);
    check(10_001, 2, 14);
    check(LEAVES_MAX, 16, 8);
}

#[test]
fn the_longest_path_takes_rounds_max() {
    for (leaves, k) in [
        (2u64, 16u32),
        (3, 2),
        (4097, 16),
        (4098, 16),
        (10_001, 2),
        (65_536, 16),
    ] {
        let mut game = Dissection::open_whole(k, leaves, ContentHash::of(b"root")).unwrap();
        let mut rounds = 0;
        while game.to_move() != Some(Role::Defender) || !game.expected_points().is_empty() {
            // Only the lengths matter here, so nothing is revealed: walk the sub-intervals
            // directly, always into the longest one.
            let mut bounds = vec![game.lo()];
            bounds.extend(game.expected_points());
            bounds.push(game.hi());
            let longest = bounds
                .windows(2)
                .max_by_key(|pair| pair[1] - pair[0])
                .unwrap();
            let (lo, hi) = (longest[0], longest[1]);
            game = Dissection::open(k, leaves, lo, hi, *game.trace_root()).unwrap();
            rounds += 1;
        }
        assert_eq!(game.phase(), &Phase::AwaitingProof);
        assert_eq!(rounds, rounds_max(leaves, k), "leaves {leaves} k {k}");
    }
}

#[test]
fn open_validates() {
    let root = ContentHash::of(b"root");
    let check = |k, leaves, lo, hi, expected| {
        assert_eq!(Dissection::open(k, leaves, lo, hi, root), Err(expected));
    };
    check(1, 10, 0, 9, DissectionError::ArityOutOfRange { k: 1 });
    check(65, 10, 0, 9, DissectionError::ArityOutOfRange { k: 65 });
    check(16, 1, 0, 0, DissectionError::LeavesOutOfRange { leaves: 1 });
    check(
        16,
        LEAVES_MAX + 1,
        0,
        9,
        DissectionError::LeavesOutOfRange {
            leaves: LEAVES_MAX + 1,
        },
    );
    for (lo, hi) in [(5, 5), (6, 5), (0, 10)] {
        check(
            16,
            10,
            lo,
            hi,
            DissectionError::IntervalInvalid { lo, hi, leaves: 10 },
        );
    }
    // One segment: nothing to dissect, the proof is due at once.
    let game = Dissection::open_whole(16, 2, root).unwrap();
    assert_eq!(game.phase(), &Phase::AwaitingProof);
    assert_eq!(game.to_move(), Some(Role::Defender));
    assert_eq!(game.round(), 0);
}

/// A leaf of a made-up trace: fuel grows with the index.
fn leaf(index: u64) -> RevealedLeaf {
    RevealedLeaf {
        index,
        fuel: index * 10,
        state_root: ContentHash::of(&index.to_le_bytes()),
    }
}

/// Every phase round-trips; states the transitions cannot reach are refused on decode. The
/// states are built field by field: the games played by real defenders round-trip in the
/// crate's cross-role tests.
#[test]
fn codec_round_trips_and_refuses_unreachable_states() {
    let root = ContentHash::of(b"root");
    let hash = ContentHash::of(b"point");
    let opened = Dissection::open_whole(16, 500, root).unwrap();
    let choosing = Dissection {
        round: 1,
        phase: Phase::AwaitingChoice {
            points: vec![hash; 15],
        },
        ..opened.clone()
    };
    let (lo, hi) = (leaf(150), leaf(151));
    let proving = Dissection {
        lo: 150,
        hi: 151,
        round: 3,
        lo_hash: Some(lo.leaf()),
        hi_hash: Some(hi.leaf()),
        phase: Phase::AwaitingProof,
        ..opened.clone()
    };
    let resolved = Dissection {
        phase: Phase::Resolved { lo, hi },
        ..proving.clone()
    };
    for state in [&opened, &choosing, &proving, &resolved] {
        let encoded = state.encode();
        assert_eq!(encoded.len(), state.encode_size());
        assert_eq!(&Dissection::decode(encoded).unwrap(), state);
    }
    assert_unreachable(&opened, &resolved, hash);
}

/// Every state one field away from `opened` or `resolved` that the transitions cannot reach is
/// refused on decode.
fn assert_unreachable(opened: &Dissection, resolved: &Dissection, hash: ContentHash) {
    let (lo, hi) = resolved.resolved().unwrap();
    let unreachable_states = [
        Dissection {
            lo: 499,
            ..opened.clone()
        },
        Dissection {
            k: 1,
            ..opened.clone()
        },
        Dissection {
            round: 4,
            ..opened.clone()
        },
        Dissection {
            phase: Phase::AwaitingProof,
            ..opened.clone()
        },
        Dissection {
            hi_hash: Some(hash),
            ..opened.clone()
        },
        Dissection {
            round: 1,
            phase: Phase::AwaitingChoice { points: vec![hash] },
            ..opened.clone()
        },
        Dissection {
            phase: Phase::AwaitingChoice {
                points: vec![hash; 15],
            },
            ..opened.clone()
        },
        Dissection {
            phase: Phase::AwaitingReveal,
            ..resolved.clone()
        },
        Dissection {
            phase: Phase::Resolved { lo: hi, hi: lo },
            ..resolved.clone()
        },
        Dissection {
            phase: Phase::Resolved {
                lo: RevealedLeaf {
                    fuel: hi.fuel + 1,
                    ..lo
                },
                hi,
            },
            ..resolved.clone()
        },
        Dissection {
            phase: Phase::Resolved {
                lo,
                hi: RevealedLeaf {
                    state_root: hash,
                    ..hi
                },
            },
            ..resolved.clone()
        },
    ];
    for state in unreachable_states {
        assert!(
            matches!(
                Dissection::decode(state.encode()),
                Err(CodecError::Invalid("Dissection", _))
            ),
            "{state:?}"
        );
    }
}

#[test]
fn the_mover_of_each_move() {
    let reveal = Move::Reveal(Reveal {
        points: vec![ContentHash::of(b"point")],
    });
    assert_eq!(mover(&reveal), Role::Defender);
    assert_eq!(
        mover(&Move::Choose(Choose { sub_interval: 0 })),
        Role::Challenger
    );
}
