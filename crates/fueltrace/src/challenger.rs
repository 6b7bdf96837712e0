//! The challenger's strategy: a verifier or the consumer disputing a provider's trace.
//!
//! The challenger never proves anything: after each reveal it names the first sub-interval whose
//! end it disagrees with, so the interval always starts at a leaf it agrees with and ends at one
//! it does not, and the game ends at the first segment where the two traces part (see the
//! soundness note in [`crate::dissection`]). [`challenge`] is the whole strategy as one function
//! from the game and the challenger's own leaves to its next move.

use crate::dissection::{Choose, Dissection, Move, Role};
use plexus_types::ContentHash;
use plexus_types::trace;

/// The honest challenger's choice over `points` (`(index, leaf hash)` pairs, as
/// [`Dissection::revealed_points`] gives them): the sub-interval ending at the first point it
/// does not agree with, or the last one (ending at the disputed `hi`) when it agrees with every
/// point.
pub fn first_disagreement(
    points: &[(u64, ContentHash)],
    mut agrees: impl FnMut(u64, &ContentHash) -> bool,
) -> Choose {
    let position = points
        .iter()
        .position(|(index, leaf)| !agrees(*index, leaf))
        .unwrap_or(points.len());
    Choose {
        sub_interval: u32::try_from(position).unwrap_or(u32::MAX),
    }
}

/// The challenger's next move from its own leaves (`(fuel, state_root)` per checkpoint, in index
/// order): the first revealed point it disagrees with (`None` when it is not the challenger's
/// turn). A point beyond its own trace is one it disagrees with.
pub fn challenge(game: &Dissection, leaves: &[(u64, ContentHash)]) -> Option<Move> {
    if game.to_move() != Some(Role::Challenger) {
        return None;
    }
    let points = game.revealed_points();
    let choice = first_disagreement(&points, |index, hash| {
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
    use plexus_types::ContentHash;

    #[test]
    fn chooses_the_first_disagreement() {
        let points: Vec<(u64, ContentHash)> = (1..4u64)
            .map(|index| (index * 10, ContentHash::of(&index.to_le_bytes())))
            .collect();
        let check = |disagree_from: u64, expected: u32| {
            let choice = first_disagreement(&points, |index, _| index < disagree_from);
            assert_eq!(
                choice.sub_interval, expected,
                "disagrees from {disagree_from}"
            );
        };
        check(0, 0);
        check(10, 0);
        check(11, 1);
        check(30, 2);
        // Agrees with every point: the last sub-interval, ending at the disputed leaf.
        check(31, 3);
        assert_eq!(first_disagreement(&[], |_, _| true).sub_interval, 0);
    }

    #[test]
    fn challenges_only_on_its_turn() {
        let game = Dissection::open_whole(16, 41, ContentHash::of(b"root")).unwrap();
        assert_eq!(challenge(&game, &[]), None);
    }
}
