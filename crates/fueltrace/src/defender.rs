//! The defender's strategy: the provider answering a dispute over its own trace.
//!
//! A [`DefenderTrace`] holds the provider's whole trace (every leaf's preimage and the BMT over the
//! leaf hashes) and answers any state of a [`Dissection`] opened on its root: the leaf hashes at
//! the split points while a reveal is due, the preimages and multi-proof of the final pair once
//! the interval is one segment. An honest defender's answers are always accepted, wherever the
//! challenger steers (see the soundness note in [`crate::dissection`]). [`defend`] is the whole
//! strategy as one function from the game and the provider's leaves to its next move.

use crate::dissection::{
    Dissection, DissectionError, LEAVES_MAX, Move, Phase, Prove, Reveal, RevealedLeaf, Role,
    split_points, validate,
};
use commonware_storage::bmt;
use plexus_types::ContentHash;
use plexus_types::hash::ContentHasher;

/// A defender's whole trace, ready to answer any move (the provider agent keeps one per disputed
/// job).
#[derive(Clone, Debug)]
pub struct DefenderTrace {
    leaves: Vec<RevealedLeaf>,
    tree: bmt::Tree<ContentHash>,
}

impl DefenderTrace {
    /// Builds the trace from `(fuel, state_root)` per checkpoint, in index order.
    pub fn new(checkpoints: &[(u64, ContentHash)]) -> Result<Self, DissectionError> {
        let count = checkpoints.len() as u64;
        if !(1..=LEAVES_MAX).contains(&count) {
            return Err(DissectionError::LeavesOutOfRange { leaves: count });
        }
        let leaves: Vec<RevealedLeaf> = (0u64..)
            .zip(checkpoints)
            .map(|(index, &(fuel, state_root))| RevealedLeaf {
                index,
                fuel,
                state_root,
            })
            .collect();
        // The same tree `trace::trace_root` builds (one BMT over the leaf hashes), kept whole so
        // the final multi-proof is read from it.
        let mut builder = bmt::Builder::<ContentHasher>::new(leaves.len());
        for leaf in &leaves {
            builder.add(&leaf.leaf());
        }
        Ok(DefenderTrace {
            leaves,
            tree: builder.build(),
        })
    }

    /// The trace root (equal to `trace::trace_root` over the leaf hashes).
    pub fn root(&self) -> ContentHash {
        self.tree.root()
    }

    /// The leaf count.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Always false: a trace has at least one leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Leaf `index`, if the trace has it.
    pub fn leaf(&self, index: u64) -> Option<&RevealedLeaf> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.leaves.get(index))
    }

    /// The reveal for interval `[lo, hi]` at arity `k`: the leaf hashes at its split points.
    /// Refused for an interval without interior points (it is proven, not revealed).
    pub fn reveal(&self, lo: u64, hi: u64, k: u32) -> Result<Reveal, DissectionError> {
        let leaves = self.len();
        validate(k, leaves, lo, hi)?;
        let invalid = || DissectionError::IntervalInvalid { lo, hi, leaves };
        if hi == lo + 1 {
            return Err(invalid());
        }
        let points = split_points(lo, hi, k)
            .into_iter()
            .map(|index| self.leaf(index).map(RevealedLeaf::leaf).ok_or_else(invalid))
            .collect::<Result<_, _>>()?;
        Ok(Reveal { points })
    }

    /// The final move for the segment from leaf `lo` to leaf `lo + 1`.
    pub fn prove(&self, lo: u64) -> Result<Prove, DissectionError> {
        let leaves = self.len();
        let hi = lo.saturating_add(1);
        let invalid = || DissectionError::IntervalInvalid { lo, hi, leaves };
        let (Some(lo_leaf), Some(hi_leaf)) = (self.leaf(lo), self.leaf(hi)) else {
            return Err(invalid());
        };
        let start = u32::try_from(lo).map_err(|_| invalid())?;
        let end = u32::try_from(hi).map_err(|_| invalid())?;
        let proof = self.tree.multi_proof([start, end]).map_err(|_| invalid())?;
        Ok(Prove {
            lo: *lo_leaf,
            hi: *hi_leaf,
            proof,
        })
    }

    /// This defender's move in `game` (`None` when it is not the defender's turn). Assumes the
    /// game was opened on this trace's root: otherwise the final proof is refused.
    pub fn respond(&self, game: &Dissection) -> Result<Option<Move>, DissectionError> {
        match game.phase() {
            Phase::AwaitingReveal => Ok(Some(Move::Reveal(self.reveal(
                game.lo(),
                game.hi(),
                game.k(),
            )?))),
            Phase::AwaitingProof => Ok(Some(Move::Prove(self.prove(game.lo())?))),
            Phase::AwaitingChoice { .. } | Phase::Resolved { .. } => Ok(None),
        }
    }
}

/// The defender's next move in `game` from its own leaves (`(fuel, state_root)` per checkpoint,
/// in index order); `None` when it is not the defender's turn.
pub fn defend(
    game: &Dissection,
    leaves: &[(u64, ContentHash)],
) -> Result<Option<Move>, DissectionError> {
    if game.to_move() != Some(Role::Defender) {
        return Ok(None);
    }
    DefenderTrace::new(leaves)?.respond(game)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::ContentHash;
    use plexus_types::trace;

    fn checkpoints(count: u64) -> Vec<(u64, ContentHash)> {
        (0..count)
            .map(|index| (index * 7, ContentHash::of(&index.to_le_bytes())))
            .collect()
    }

    #[test]
    fn the_trace_is_the_committed_one() {
        let leaves = checkpoints(10);
        let defender = DefenderTrace::new(&leaves).unwrap();
        let hashes: Vec<ContentHash> = (0u64..)
            .zip(&leaves)
            .map(|(index, (fuel, root))| trace::leaf(index, *fuel, root))
            .collect();
        assert_eq!(defender.root(), trace::trace_root(&hashes));
        assert_eq!(defender.len(), 10);
        assert_eq!(defender.leaf(9).map(RevealedLeaf::leaf), Some(hashes[9]));
        assert_eq!(defender.leaf(10), None);
        assert_eq!(
            DefenderTrace::new(&[]).unwrap_err(),
            DissectionError::LeavesOutOfRange { leaves: 0 }
        );
    }

    #[test]
    fn defends_only_on_its_turn() {
        let leaves = checkpoints(40);
        let defender = DefenderTrace::new(&leaves).unwrap();
        let mut game = Dissection::open_whole(4, 40, defender.root()).unwrap();
        let reveal = defend(&game, &leaves).unwrap().unwrap();
        assert_eq!(reveal, Move::Reveal(defender.reveal(0, 39, 4).unwrap()));
        game.apply(reveal).unwrap();
        assert_eq!(defend(&game, &leaves), Ok(None));
        // A trace the game cannot be played over is named, not answered.
        let mut opened = Dissection::open_whole(4, 40, defender.root()).unwrap();
        assert_eq!(
            defend(&opened, &[]),
            Err(DissectionError::LeavesOutOfRange { leaves: 0 })
        );
        opened
            .apply(defend(&opened, &leaves).unwrap().unwrap())
            .unwrap();
    }
}
