//! The game's decoder meets mutated and truncated bytes: a node decodes every open dispute's
//! game from a snapshot, which state sync will take from a peer. It returns an error or a game
//! the transitions can reach (and that re-encodes to the same bytes), never a panic. The fuzz
//! target `decode_wire` searches further.

use commonware_codec::{Copying, DecodeExt, Encode};
use plexus_fueltrace::challenger::challenge;
use plexus_fueltrace::defender::defend;
use plexus_fueltrace::dissection::Dissection;
use plexus_types::ContentHash;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// The encoding of every state of one game over 300 leaves, played to its end.
fn played_states() -> Vec<Vec<u8>> {
    let honest: Vec<(u64, ContentHash)> = (0..300u64)
        .map(|index| (index * 3, ContentHash::of(&index.to_le_bytes())))
        .collect();
    let mut cheat = honest.clone();
    cheat[150].1 = ContentHash::of(b"forged");
    let root = plexus_fueltrace::defender::DefenderTrace::new(&cheat)
        .unwrap()
        .root();
    let mut game = Dissection::open_whole(8, 300, root).unwrap();
    let mut states = vec![game.encode().to_vec()];
    while let Some(next) = defend(&game, &cheat)
        .unwrap()
        .or_else(|| challenge(&game, &honest))
    {
        game.apply(next).unwrap();
        states.push(game.encode().to_vec());
    }
    assert!(game.resolved().is_some());
    states
}

fn check(bytes: &[u8], context: &str) {
    if let Ok(game) = Dissection::decode(Copying(bytes)) {
        assert_eq!(
            game.encode().as_ref(),
            bytes,
            "{context}: non-canonical game"
        );
    }
}

#[test]
fn mutated_games_never_panic() {
    let states = played_states();
    let seed = 29;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for case in 0..5_000 {
        let mut bytes = states[rng.random_range(0..states.len())].clone();
        let at = rng.random_range(0..bytes.len());
        bytes[at] = rng.random();
        let context = format!("seed {seed} case {case} byte {at}");
        check(&bytes, &context);
        check(&bytes[..at], &context);
    }
}

#[test]
fn random_bytes_never_panic() {
    let seed = 31;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for case in 0..2_000 {
        let length = rng.random_range(0..700);
        let bytes: Vec<u8> = (0..length).map(|_| rng.random()).collect();
        check(&bytes, &format!("seed {seed} case {case}"));
    }
}
