//! The agent's moves in FuelTrace disputes: as the defender of its own commitments, or as a
//! verifier that challenges another's (re-running segments, for light audits and settlements,
//! is `crate::rerun`'s).
//!
//! Every move is computed from the game the node shows (`DisputeDto::game`, the canonical
//! encoding of `plexus_types::dissection::Dissection`) and the agent's own leaves, so a restarted
//! agent plays on from wherever the chain is.

use plexus_client::{ClientError, dto::DisputeDto};
use plexus_exec::Digest32;
use plexus_types::dissection::{Choose, DefenderTrace, Dissection, Move, Role};
use plexus_types::trace;
use std::io;

/// Why a dispute move could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("the node's dispute record does not decode: {0}")]
    Game(String),
    #[error("dissection: {0}")]
    Dissection(#[from] plexus_types::dissection::DissectionError),
    #[error("no trace is stored for job {0}")]
    NoTrace(String),
    #[error("checkpoint storage: {0}")]
    Io(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] ClientError),
}

/// The game of a dispute as the node shows it.
pub fn game(dispute: &DisputeDto) -> Result<Dissection, PlayError> {
    use plexus_types::codec::DecodeExt as _;
    let bytes = plexus_types::hash::from_hex(&dispute.game)
        .ok_or_else(|| PlayError::Game("not hex".into()))?;
    Dissection::decode(bytes::Bytes::from(bytes)).map_err(|err| PlayError::Game(err.to_string()))
}

/// The defender's next move from its own leaves (`None` when it is not the defender's turn).
pub fn defend(game: &Dissection, leaves: &[(u64, Digest32)]) -> Result<Option<Move>, PlayError> {
    if game.to_move() != Some(Role::Defender) {
        return Ok(None);
    }
    Ok(DefenderTrace::new(leaves)?.respond(game)?)
}

/// The challenger's next move from its own leaves: the first revealed point it disagrees with
/// (`None` when it is not the challenger's turn).
pub fn challenge(game: &Dissection, leaves: &[(u64, Digest32)]) -> Option<Move> {
    if game.to_move() != Some(Role::Challenger) {
        return None;
    }
    let points = game.revealed_points();
    let choice = Choose::first_disagreement(&points, |index, hash| {
        usize::try_from(index)
            .ok()
            .and_then(|i| leaves.get(i))
            .is_some_and(|(fuel, root)| trace::leaf(index, *fuel, root) == *hash)
    });
    Some(Move::Choose(choice))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(i: u8) -> Digest32 {
        trace::content_hash(&[i])
    }

    #[test]
    fn an_honest_challenger_against_a_forged_last_leaf_ends_on_the_last_segment() {
        // 40 segments; the defender forged only the final leaf.
        let honest: Vec<(u64, Digest32)> =
            (0..41u8).map(|i| (u64::from(i) * 10, root(i))).collect();
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
}
