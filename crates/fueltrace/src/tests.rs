//! The roles played against each other through the game: an honest or cheating defender
//! ([`DefenderTrace`]) against an honest challenger ([`first_disagreement`]), over real traces,
//! real multi-proofs and the moves' real encodings. Kept apart from the modules they exercise so
//! that no module's tests import a module that imports it.

use crate::challenger::{challenge, first_disagreement};
use crate::defender::{DefenderTrace, defend};
use crate::dissection::{
    ARITY_MAX, Choose, Dissection, DissectionError, MOVE_SIZE_MAX, Move, Phase, Prove, Reveal,
    Role, dispute_bytes_max, pair_siblings, prove_move_size, rounds_max, split_points, worst_game,
};
use commonware_codec::{DecodeExt as _, Encode as _, EncodeSize as _};
use plexus_types::ContentHash;
use plexus_types::trace;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// A trace of `leaves` checkpoints: cumulative fuel and distinct state roots.
fn checkpoints(seed: u64, leaves: u64) -> Vec<(u64, ContentHash)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fuel = 0u64;
    (0..leaves)
        .map(|index| {
            let root = ContentHash::of(&[seed.to_le_bytes(), index.to_le_bytes()].concat());
            let checkpoint = (fuel, root);
            fuel += rng.random_range(1..1_000u64);
            checkpoint
        })
        .collect()
}

/// The same trace from leaf `from` on, changed the way a cheater would: more fuel (a bill
/// inflator) or another state (wrong work), chosen by `seed`.
fn diverge(trace: &[(u64, ContentHash)], from: u64, seed: u64) -> Vec<(u64, ContentHash)> {
    let inflate = seed.is_multiple_of(2);
    (0u64..)
        .zip(trace)
        .map(|(index, &(fuel, root))| match (index >= from, inflate) {
            (false, _) => (fuel, root),
            (true, true) => (fuel + 1, root),
            (true, false) => (fuel, ContentHash::of(root.as_ref())),
        })
        .collect()
}

fn leaf_hashes(trace: &[(u64, ContentHash)]) -> Vec<ContentHash> {
    (0u64..)
        .zip(trace)
        .map(|(index, (fuel, root))| trace::leaf(index, *fuel, root))
        .collect()
}

/// Plays `defender` against an honest challenger that agrees with a revealed point when
/// `agrees(index, hash)`; returns the game once nobody can move (resolved, or a defender
/// whose move is refused) and the encoded size of every accepted move.
fn play(
    defender: &DefenderTrace,
    agrees: impl Fn(u64, &ContentHash) -> bool,
    mut game: Dissection,
) -> (Dissection, Vec<usize>) {
    let mut sizes = Vec::new();
    let moves_max = 2 * rounds_max(game.leaves(), game.k()) + 1;
    for _ in 0..=moves_max {
        let next = match game.to_move() {
            None => return (game, sizes),
            Some(Role::Defender) => defender.respond(&game).unwrap().unwrap(),
            Some(Role::Challenger) => {
                Move::Choose(first_disagreement(&game.revealed_points(), &agrees))
            }
        };
        let size = next.encode_size();
        game.apply(next).unwrap();
        sizes.push(size);
    }
    panic!("the game did not end within {moves_max} moves");
}

/// Plays a game on `[lo, hi]` between two traces that differ from leaf `from` on (the
/// defender honest or the cheater, per `cheater_defends`) and checks it resolves at segment
/// `from - 1` within `rounds_max` reveals, with the defender's own leaves.
fn check_resolves(
    seed: u64,
    n: u64,
    k: u32,
    (lo, hi): (u64, u64),
    from: u64,
    cheater_defends: bool,
) {
    let context = format!(
        "seed {seed}, n {n}, k {k}, [{lo}, {hi}], differs from {from}, cheater defends \
         {cheater_defends}"
    );
    let honest = checkpoints(seed, n + 1);
    let cheat = diverge(&honest, from, seed);
    let (defends, challenges) = if cheater_defends {
        (&cheat, &honest)
    } else {
        (&honest, &cheat)
    };
    let defender = DefenderTrace::new(defends).unwrap();
    assert_eq!(
        defender.root(),
        trace::trace_root(&leaf_hashes(defends)),
        "{context}"
    );
    let challenger = leaf_hashes(challenges);
    let game = Dissection::open(k, n + 1, lo, hi, defender.root()).unwrap();
    let (game, sizes) = play(
        &defender,
        |index, hash| challenger[index as usize] == *hash,
        game,
    );
    let (resolved_lo, resolved_hi) = game.resolved().expect(&context);
    assert_eq!(resolved_lo.index, from - 1, "{context}");
    assert_eq!(Some(&resolved_lo), defender.leaf(from - 1), "{context}");
    assert_eq!(Some(&resolved_hi), defender.leaf(from), "{context}");
    // The challenger agrees with the proven pre-state and not with the post-state.
    assert_eq!(
        resolved_lo.leaf(),
        challenger[(from - 1) as usize],
        "{context}"
    );
    assert_ne!(resolved_hi.leaf(), challenger[from as usize], "{context}");
    assert!(game.round() <= rounds_max(n + 1, k), "{context}");
    assert_eq!(sizes.len() as u32, 2 * game.round() + 1, "{context}");
    assert!(sizes.iter().all(|&size| size <= MOVE_SIZE_MAX), "{context}");
}

#[test]
fn resolves_to_the_first_difference() {
    for (case, n) in [1u64, 2, 15, 16, 17, 255, 4096, 4097, 10_000]
        .into_iter()
        .enumerate()
    {
        for k in [2, 4, 16] {
            let seed = 1_000 + case as u64 * 10 + u64::from(k);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut froms = vec![1, n, n.div_ceil(2)];
            froms.extend((0..5).map(|_| rng.random_range(1..=n)));
            for (turn, from) in froms.into_iter().enumerate() {
                check_resolves(seed, n, k, (0, n), from, turn % 2 == 1);
            }
            // A game opened on an interval an audit revealed: [lo, hi] around the difference.
            if n >= 3 {
                let from = rng.random_range(2..n);
                let lo = rng.random_range(0..from);
                let hi = rng.random_range(from..=n);
                check_resolves(seed, n, k, (lo, hi), from, false);
                check_resolves(seed, n, k, (lo, hi), from, true);
            }
        }
    }
}

/// `pair_siblings` (and so `prove_move_size`) against real multi-proofs.
#[test]
fn proof_sizes_match_the_tree() {
    let check = |leaves: u64, lo: u64, defender: &DefenderTrace| {
        let prove = defender.prove(lo).unwrap();
        let tree_siblings = prove.proof.siblings.len();
        assert_eq!(
            pair_siblings(leaves, lo),
            tree_siblings,
            "leaves {leaves} lo {lo}"
        );
        let encoded = Move::Prove(prove).encode().len();
        assert_eq!(
            prove_move_size(leaves, lo),
            encoded,
            "leaves {leaves} lo {lo}"
        );
    };
    for leaves in 2..=130u64 {
        let defender = DefenderTrace::new(&checkpoints(leaves, leaves)).unwrap();
        for lo in 0..leaves - 1 {
            check(leaves, lo, &defender);
        }
    }
    let seed = 3;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for leaves in [4097u64, 5_000, 8_192, 8_193] {
        let defender = DefenderTrace::new(&checkpoints(seed, leaves)).unwrap();
        for lo in [0, 1, leaves / 2 - 1, leaves / 2, leaves - 2]
            .into_iter()
            .chain((0..50).map(|_| rng.random_range(0..leaves - 1)))
        {
            check(leaves, lo, &defender);
        }
    }
    assert_eq!(
        DefenderTrace::new(&checkpoints(1, 4)).unwrap().prove(3),
        Err(DissectionError::IntervalInvalid {
            lo: 3,
            hi: 4,
            leaves: 4
        })
    );
}

/// `dispute_bytes_max` is the most bytes any real game takes: every segment the challenger
/// can steer to is played with real moves and the maximum compared.
#[test]
fn dispute_bytes_max_is_the_worst_played_game() {
    for leaves in [2u64, 3, 4, 5, 9, 17, 18, 33, 100, 257, 300] {
        let defender = DefenderTrace::new(&checkpoints(leaves, leaves)).unwrap();
        for k in [2, 3, 4, 16, 64] {
            let mut worst = 0;
            for segment in 0..leaves - 1 {
                let game = Dissection::open_whole(k, leaves, defender.root()).unwrap();
                // A challenger whose trace differs from leaf `segment + 1` on.
                let (game, sizes) = play(&defender, |index, _| index <= segment, game);
                assert_eq!(
                    game.resolved().map(|(lo, _)| lo.index),
                    Some(segment),
                    "leaves {leaves} k {k}"
                );
                worst = worst.max(sizes.iter().sum::<usize>());
            }
            assert_eq!(dispute_bytes_max(leaves, k), worst, "leaves {leaves} k {k}");
        }
    }
    // Out-of-range parameters are clamped, not refused.
    assert_eq!(dispute_bytes_max(0, 16), dispute_bytes_max(2, 16));
    assert_eq!(dispute_bytes_max(100, 1), dispute_bytes_max(100, 2));
    assert_eq!(
        dispute_bytes_max(100, 1_000),
        dispute_bytes_max(100, ARITY_MAX)
    );
}

/// A defender that reveals a hash its committed root does not hold is stuck at the end: no
/// preimage matches it, and a preimage that does is not under the root.
#[test]
fn a_lying_defender_cannot_prove() {
    let seed = 61;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for case in 0..40 {
        let leaves = rng.random_range(3..2_000u64);
        let k = rng.random_range(2..=ARITY_MAX);
        // One lied point must be revealed to matter: a point of the first round. A lie
        // from some leaf on is revealed wherever the game goes next to it.
        let only_one = rng.random_bool(0.5);
        let lie = if only_one {
            let first = split_points(0, leaves - 1, k);
            first[rng.random_range(0..first.len())]
        } else {
            rng.random_range(1..leaves - 1)
        };
        let context =
            format!("seed {seed} case {case}: leaves {leaves} k {k} lie {lie} only {only_one}");
        let honest = checkpoints(seed + case, leaves);
        let defender = DefenderTrace::new(&honest).unwrap();
        // The lie inflates the bill: a real preimage with more fuel, not under the root.
        let inflated = DefenderTrace::new(&diverge(&honest, lie, 0)).unwrap();
        let lied_at = |index: u64| index == lie || (!only_one && index > lie);
        let truth = leaf_hashes(&honest);
        let mut game = Dissection::open_whole(k, leaves, defender.root()).unwrap();
        while game.phase() == &Phase::AwaitingReveal {
            let points = game
                .expected_points()
                .into_iter()
                .map(|index| {
                    let source = if lied_at(index) { &inflated } else { &defender };
                    source.leaf(index).unwrap().leaf()
                })
                .collect();
            game.reveal(Reveal { points }).unwrap();
            let choice = first_disagreement(&game.revealed_points(), |index, hash| {
                truth[index as usize] == *hash
            });
            game.choose(choice.sub_interval).unwrap();
        }
        assert_eq!((game.lo(), game.hi()), (lie - 1, lie), "{context}");
        assert_eq!(
            game.hi_hash(),
            Some(&inflated.leaf(lie).unwrap().leaf()),
            "{context}"
        );
        let stuck = game.clone();
        // Its real leaves do not match what it revealed.
        assert_eq!(
            game.prove(defender.prove(lie - 1).unwrap()),
            Err(DissectionError::LeafMismatch { index: lie }),
            "{context}"
        );
        // The lied preimage matches, but neither the honest tree's proof nor the inflated
        // tree's proves it under the committed root.
        let mut forged = defender.prove(lie - 1).unwrap();
        forged.hi = *inflated.leaf(lie).unwrap();
        assert_eq!(
            game.prove(forged),
            Err(DissectionError::ProofRejected),
            "{context}"
        );
        assert_eq!(
            game.prove(inflated.prove(lie - 1).unwrap()),
            Err(DissectionError::ProofRejected),
            "{context}"
        );
        assert_eq!(game, stuck, "{context}");
        assert_eq!(game.to_move(), Some(Role::Defender), "{context}");
    }
}

/// Plays an honest game on `[lo, hi]` until the proof is due at `segment`.
fn awaiting_proof(defender: &DefenderTrace, k: u32, segment: u64) -> Dissection {
    let mut game = Dissection::open_whole(k, defender.len(), defender.root()).unwrap();
    while game.phase() != &Phase::AwaitingProof {
        game.apply(defender.respond(&game).unwrap().unwrap())
            .unwrap();
        let choice = first_disagreement(&game.revealed_points(), |index, _| index <= segment);
        game.choose(choice.sub_interval).unwrap();
    }
    assert_eq!(game.lo(), segment);
    game
}

/// The leaves of the refused-proof tests: 300 of them; the proof is due at segment 150.
const PROOF_LEAVES: u64 = 300;

/// A defender over `PROOF_LEAVES` leaves, a game awaiting its proof of segment 150 with both
/// ends revealed (neither is an opening endpoint), and that honest proof.
fn proof_due() -> (DefenderTrace, Dissection, Prove) {
    let defender = DefenderTrace::new(&checkpoints(21, PROOF_LEAVES)).unwrap();
    let game = awaiting_proof(&defender, 16, 150);
    assert!(game.lo_hash().is_some() && game.hi_hash().is_some());
    let good = defender.prove(150).unwrap();
    (defender, game, good)
}

/// `prove` is refused with `expected` and leaves the game unchanged.
fn check_refused(game: &Dissection, prove: Prove, expected: DissectionError) {
    let mut attempt = game.clone();
    assert_eq!(attempt.prove(prove), Err(expected));
    assert_eq!(&attempt, game, "a refused move changes nothing");
}

#[test]
fn refuses_proofs_of_other_leaves() {
    let (defender, game, good) = proof_due();
    let check = check_refused;
    // Wrong indices: a neighbouring segment, a non-adjacent pair.
    let wrong = |got_lo, got_hi| DissectionError::ProveIndex {
        lo: 150,
        hi: 151,
        got_lo,
        got_hi,
    };
    check(&game, defender.prove(149).unwrap(), wrong(149, 150));
    check(&game, defender.prove(151).unwrap(), wrong(151, 152));
    let mut far = good.clone();
    far.hi = *defender.leaf(152).unwrap();
    check(&game, far, wrong(150, 152));
    // Fuel that runs backwards.
    let mut backwards = good.clone();
    backwards.lo.fuel = backwards.hi.fuel + 1;
    check(
        &game,
        backwards.clone(),
        DissectionError::FuelDecreasing {
            index: 150,
            lo_fuel: backwards.hi.fuel + 1,
            hi_fuel: backwards.hi.fuel,
        },
    );
    // Preimages that do not hash to the revealed values.
    let mut other_lo = good.clone();
    other_lo.lo.state_root = ContentHash::of(b"forged");
    check(
        &game,
        other_lo,
        DissectionError::LeafMismatch { index: 150 },
    );
    let mut other_hi = good.clone();
    other_hi.hi.fuel += 1;
    check(
        &game,
        other_hi,
        DissectionError::LeafMismatch { index: 151 },
    );
}

#[test]
fn refuses_forged_proofs() {
    let leaves = PROOF_LEAVES;
    let (defender, game, good) = proof_due();
    let check = check_refused;
    // Forged proofs: a tampered, missing or extra sibling; another trace's proof.
    let mut tampered = good.clone();
    tampered.proof.siblings[0] = ContentHash::of(b"sibling");
    check(&game, tampered, DissectionError::ProofRejected);
    let mut short = good.clone();
    short.proof.siblings.pop();
    check(&game, short, DissectionError::ProofRejected);
    let mut long = good.clone();
    long.proof.siblings.push(ContentHash::of(b"extra"));
    check(&game, long, DissectionError::ProofRejected);
    let foreign = DefenderTrace::new(&checkpoints(22, leaves)).unwrap();
    let mut borrowed = good.clone();
    borrowed.proof = foreign.prove(150).unwrap().proof;
    check(&game, borrowed, DissectionError::ProofRejected);
    // A proof over another number of leaves.
    let longer = DefenderTrace::new(&checkpoints(21, leaves + 1)).unwrap();
    let mut recounted = good.clone();
    recounted.proof = longer.prove(150).unwrap().proof;
    check(
        &game,
        recounted,
        DissectionError::ProofLeafCount {
            expected: 300,
            got: 301,
        },
    );

    // With no revealed hashes (a game opened on one segment) the proof alone guards the
    // leaves: forged preimages under the honest proof are refused.
    let opened = Dissection::open(16, leaves, 150, 151, defender.root()).unwrap();
    assert_eq!(opened.phase(), &Phase::AwaitingProof);
    let mut inflated = good.clone();
    inflated.hi.fuel += 1;
    check(&opened, inflated, DissectionError::ProofRejected);
    let mut rerooted = good.clone();
    rerooted.lo.state_root = ContentHash::of(b"forged");
    check(&opened, rerooted, DissectionError::ProofRejected);

    // The honest proof is accepted and resolves with the defender's leaves.
    for mut accepted in [game, opened] {
        accepted.prove(good.clone()).unwrap();
        assert_eq!(accepted.resolved(), Some((good.lo, good.hi)));
        assert_eq!(accepted.to_move(), None);
    }

    // A committed trace whose fuel decreases cannot prove that segment, even with a valid
    // proof.
    let mut decreasing = checkpoints(23, 10);
    decreasing[5].0 = decreasing[4].0 - 1;
    let cheater = DefenderTrace::new(&decreasing).unwrap();
    let mut game = Dissection::open(4, 10, 4, 5, cheater.root()).unwrap();
    assert_eq!(
        game.prove(cheater.prove(4).unwrap()),
        Err(DissectionError::FuelDecreasing {
            index: 4,
            lo_fuel: decreasing[4].0,
            hi_fuel: decreasing[4].0 - 1,
        })
    );
}

#[test]
fn refuses_moves_out_of_phase_and_range() {
    let defender = DefenderTrace::new(&checkpoints(31, 40)).unwrap();
    let mut game = Dissection::open_whole(4, 40, defender.root()).unwrap();
    let any_prove = defender.prove(0).unwrap();
    let refused = |game: &mut Dissection, next: Move, expected: DissectionError| {
        let before = game.clone();
        assert_eq!(game.apply(next), Err(expected));
        assert_eq!(*game, before, "a refused move changes nothing");
    };
    let out_of_turn = |mover, to_move| DissectionError::OutOfTurn { mover, to_move };
    let choose = |sub_interval| Move::Choose(Choose { sub_interval });

    // Awaiting a reveal: no choice, no proof, no reveal of the wrong size.
    refused(
        &mut game,
        choose(0),
        out_of_turn(Role::Challenger, Some(Role::Defender)),
    );
    refused(
        &mut game,
        Move::Prove(any_prove.clone()),
        out_of_turn(Role::Defender, Some(Role::Defender)),
    );
    let reveal = defender.reveal(0, 39, 4).unwrap();
    for count in [2, 4] {
        let points = vec![reveal.points[0]; count];
        refused(
            &mut game,
            Move::Reveal(Reveal { points }),
            DissectionError::PointCount {
                expected: 3,
                got: count,
            },
        );
    }

    // Awaiting a choice: no defender move, no sub-interval that does not exist.
    game.apply(Move::Reveal(reveal.clone())).unwrap();
    assert_eq!(game.round(), 1);
    refused(
        &mut game,
        Move::Reveal(reveal.clone()),
        out_of_turn(Role::Defender, Some(Role::Challenger)),
    );
    refused(
        &mut game,
        Move::Prove(any_prove.clone()),
        out_of_turn(Role::Defender, Some(Role::Challenger)),
    );
    for choice in [4, 5, u32::MAX] {
        refused(
            &mut game,
            choose(choice),
            DissectionError::ChoiceOutOfRange {
                choice,
                sub_intervals: 4,
            },
        );
    }

    // The last sub-interval keeps the opening's disputed leaf, still unrevealed.
    game.choose(3).unwrap();
    assert_eq!((game.lo(), game.hi()), (29, 39));
    assert_eq!(game.lo_hash(), Some(&defender.leaf(29).unwrap().leaf()));
    assert_eq!(game.hi_hash(), None);
    while game.phase() != &Phase::AwaitingProof {
        game.apply(defender.respond(&game).unwrap().unwrap())
            .unwrap();
        game.choose(0).unwrap();
    }
    assert_eq!((game.lo(), game.hi()), (29, 30));
    assert_eq!(game.hi_hash(), Some(&defender.leaf(30).unwrap().leaf()));

    // Awaiting the proof: no reveal, no choice.
    refused(
        &mut game,
        Move::Reveal(reveal.clone()),
        out_of_turn(Role::Defender, Some(Role::Defender)),
    );
    refused(
        &mut game,
        choose(0),
        out_of_turn(Role::Challenger, Some(Role::Defender)),
    );
    assert_eq!(
        defender.reveal(29, 30, 4),
        Err(DissectionError::IntervalInvalid {
            lo: 29,
            hi: 30,
            leaves: 40
        })
    );
    game.apply(defender.respond(&game).unwrap().unwrap())
        .unwrap();
    assert_eq!(defender.respond(&game), Ok(None));

    // Resolved: nothing moves.
    refused(&mut game, choose(0), out_of_turn(Role::Challenger, None));
    refused(
        &mut game,
        Move::Reveal(reveal),
        out_of_turn(Role::Defender, None),
    );
    refused(
        &mut game,
        Move::Prove(defender.prove(29).unwrap()),
        out_of_turn(Role::Defender, None),
    );
}

/// Every state and move of a game played by a real defender round-trips through the codec.
#[test]
fn played_games_round_trip() {
    let defender = DefenderTrace::new(&checkpoints(41, 500)).unwrap();
    let mut game = Dissection::open_whole(16, 500, defender.root()).unwrap();
    let mut states = vec![game.clone()];
    let mut moves = Vec::new();
    while game.to_move().is_some() {
        let next = match game.to_move() {
            Some(Role::Challenger) => Move::Choose(Choose { sub_interval: 1 }),
            _ => defender.respond(&game).unwrap().unwrap(),
        };
        game.apply(next.clone()).unwrap();
        states.push(game.clone());
        moves.push(next);
    }
    assert!(matches!(moves.last(), Some(Move::Prove(_))));
    for state in &states {
        let encoded = state.encode();
        assert_eq!(encoded.len(), state.encode_size());
        assert_eq!(&Dissection::decode(encoded).unwrap(), state);
    }
    for next in &moves {
        let encoded = next.encode();
        assert_eq!(encoded.len(), next.encode_size());
        assert_eq!(&Move::decode(encoded).unwrap(), next);
    }
}

/// The figures for FUELTRACE.md's dispute target (<= 3 rounds for n <= 4096 segments and
/// <= 5 KB on chain per dispute) and the transaction limit (every move < 3,900 bytes). Run
/// with `--nocapture` to see them; the asserts pin them.
#[test]
fn dispute_bytes_report() {
    let dispute_bytes_target = 5_000;
    let move_bytes_target = 3_900;
    for (n, k, rounds, bytes) in [(4096u64, 16u32, 3u32, 2_299usize), (65_535, 16, 4, 3_010)] {
        let leaves = n + 1;
        let worst = dispute_bytes_max(leaves, k);
        let (_, segment) = worst_game(leaves, 0, n, k);
        // Replay the worst game with real moves: every byte is an encoded move.
        let defender = DefenderTrace::new(&checkpoints(51, leaves)).unwrap();
        let game = Dissection::open_whole(k, leaves, defender.root()).unwrap();
        let (game, sizes) = play(&defender, |index, _| index <= segment, game);
        assert_eq!(sizes.iter().sum::<usize>(), worst, "n {n} k {k}");
        let largest = sizes.iter().copied().max().unwrap_or(0);
        println!(
            "n = {n} segments ({leaves} leaves), k = {k}: {} rounds, worst case {worst} \
             bytes of moves (segment {segment}; moves {sizes:?}), largest move {largest} \
             bytes; targets {dispute_bytes_target} per dispute, {move_bytes_target} per move",
            game.round(),
        );
        assert_eq!((game.round(), worst), (rounds, bytes), "n {n} k {k}");
        assert_eq!(game.round(), rounds_max(leaves, k));
        assert!(worst <= dispute_bytes_target && largest < move_bytes_target);
    }
    assert!(MOVE_SIZE_MAX < move_bytes_target);
    // The trade-off: a larger arity means fewer rounds but more bytes a reveal.
    for k in [2, 4, 8, 16, 32, 64] {
        println!(
            "n = 4096, k = {k}: {} rounds, worst case {} bytes",
            rounds_max(4097, k),
            dispute_bytes_max(4097, k)
        );
    }
}

#[test]
fn an_honest_challenger_against_a_forged_last_leaf_ends_on_the_last_segment() {
    let root = |i: u8| ContentHash::of(&[i]);
    // 40 segments; the defender forged only the final leaf.
    let honest: Vec<(u64, ContentHash)> = (0..41u8).map(|i| (u64::from(i) * 10, root(i))).collect();
    let mut forged = honest.clone();
    forged[40].1 = root(200);
    let defender = DefenderTrace::new(&forged).unwrap();
    let mut game = Dissection::open_whole(16, 41, defender.root()).unwrap();
    let mut moves = 0;
    while game.resolved().is_none() {
        let step = match game.to_move() {
            Some(Role::Defender) => defend(&game, &forged).unwrap().unwrap(),
            Some(Role::Challenger) => challenge(&game, &honest).unwrap(),
            None => break,
        };
        game.apply(step).unwrap();
        moves += 1;
        assert!(moves < 20, "the game does not end");
    }
    let (lo, hi) = game.resolved().unwrap();
    assert_eq!((lo.index, hi.index), (39, 40));
    assert_eq!(hi.state_root, root(200));
    assert_eq!(defend(&game, &forged).unwrap(), None);
    assert_eq!(challenge(&game, &honest), None);
}
