//! Golden fixtures: the canonical encoding of a dissection game in each phase is frozen.
//!
//! The chain stores every open dispute's game in its state, so this encoding is part of the
//! snapshot a new node syncs from a peer: a change forks every existing chain. If that is
//! intended, regenerate with `PLEXUS_BLESS=1 cargo test -p plexus-fueltrace --test golden` and
//! say why in the commit message (the wire moves are frozen in `plexus-types`' golden test).

use commonware_codec::{DecodeExt, Encode};
use plexus_fueltrace::challenger::challenge;
use plexus_fueltrace::defender::defend;
use plexus_fueltrace::dissection::Dissection;
use plexus_types::ContentHash;
use std::path::PathBuf;

fn check(name: &str, encoded: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.hex"));
    let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
    if std::env::var_os("PLEXUS_BLESS").is_some() {
        std::fs::write(&path, format!("{hex}\n")).unwrap();
    }
    let frozen = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
    assert_eq!(frozen.trim(), hex, "encoding of {name} changed");
}

/// `(fuel, state_root)` per checkpoint of a made-up trace of `count` leaves.
fn checkpoints(count: u64, salt: &[u8]) -> Vec<(u64, ContentHash)> {
    (0..count)
        .map(|index| {
            let root = ContentHash::of(&[salt, &index.to_le_bytes()].concat());
            (index * 1_000, root)
        })
        .collect()
}

/// A game over 300 leaves at arity 16 played to its end by a defender whose trace differs from
/// the challenger's from leaf 200 on: the state after every move is frozen, one fixture a phase
/// and round.
#[test]
fn dissection_states_are_frozen() {
    let honest = checkpoints(300, b"honest");
    let mut cheat = honest.clone();
    for (fuel, _) in &mut cheat[200..] {
        *fuel += 1;
    }
    let root = plexus_fueltrace::defender::DefenderTrace::new(&cheat)
        .unwrap()
        .root();
    let mut game = Dissection::open_whole(16, 300, root).unwrap();
    let mut names = Vec::new();
    let mut moves = 0;
    loop {
        let name = match (game.to_move(), game.resolved()) {
            (_, Some(_)) => "dissection_resolved".to_string(),
            (Some(_), None) => format!("dissection_{moves}"),
            (None, None) => unreachable!("a game without a mover is resolved"),
        };
        check(&name, &game.encode());
        assert_eq!(Dissection::decode(game.encode()).unwrap(), game);
        names.push(name);
        let next = match defend(&game, &cheat).unwrap() {
            Some(next) => Some(next),
            None => challenge(&game, &honest),
        };
        let Some(next) = next else { break };
        game.apply(next).unwrap();
        moves += 1;
    }
    // The opening, then one state after each reveal, choice and the final proof.
    assert_eq!(names.len() as u32, 2 * game.round() + 2, "{names:?}");
    let (lo, hi) = game.resolved().unwrap();
    assert_eq!((lo.index, hi.index), (199, 200));
}
