//! k-ary dissection of a disputed FuelTrace trace: the pure game the chain stores and advances.
//!
//! A dispute is over the leaves `0..leaves` of one trace (`leaves = segments + 1`, see
//! `plexus_types::trace`). The challenger agrees with leaf `lo` and disputes leaf `hi`: at the opening,
//! leaf 0 (the module's instantiated state, which anyone can recompute) and the final leaf, or
//! two leaves an audit revealed. While `hi > lo + 1`, each round is:
//!
//! 1. the defender (the provider) reveals its leaf hashes (`trace::leaf(i, fuel_i, state_root_i)`)
//!    at the interior split points of `[lo, hi]` ([`split_points`]: `k - 1` evenly spaced indices,
//!    or every interior index when there are fewer), unproven ([`Reveal`]);
//! 2. the challenger names the first sub-interval whose end it disagrees with ([`Choose`]): the
//!    interval shrinks to that sub-interval, whose start the challenger thereby agrees with. The
//!    game records the revealed hashes at the new `lo` and `hi` (`lo_hash`, `hi_hash`; `None` for
//!    an endpoint of the opening, whose value nobody has revealed).
//!
//! When `hi == lo + 1` the defender owes one [`Prove`]: the preimages (index, fuel, state root) of
//! leaves `lo` and `lo + 1` and one BMT multi-proof of both under its committed trace root. It is
//! refused when an index is wrong, fuel decreases, a preimage does not hash to the recorded hash,
//! or the proof does not verify. An accepted proof ends the game [`Phase::Resolved`] with both
//! leaves: the validators re-run segment `lo` from leaf `lo` and compare the result with leaf `hi`.
//! A round shrinks an interval of length `d` to at most `ceil(d / k)`, so a game takes at most
//! [`rounds_max`] `= ceil(log_k(leaves - 1))` reveals; [`dispute_bytes_max`] is its worst cost.
//!
//! Why unproven reveals are sound: the game ends at adjacent leaves whose preimages are proven
//! under the defender's root. An honest challenger agrees with `lo`'s value (it chose only
//! sub-intervals whose start it agreed with, or `lo` is the opening's agreed leaf) and disagrees
//! with `hi`'s (the end of the sub-interval it chose, or the opening's disputed leaf), so the proven
//! pair of a cheating defender starts at the true state and ends somewhere else: it is not a valid
//! transition and re-execution convicts the defender. An honest defender's revealed hashes are its
//! real leaves, so any adjacent pair the challenger steers to is a valid transition that it can
//! prove and that re-execution vindicates. A defender that revealed hashes inconsistent with its
//! root cannot prove the final pair (that would need a BLAKE3 preimage or collision) and loses when
//! its deadline passes. Only the final pair is proven, so a whole game costs `rounds_max` reveals
//! of 32 bytes a point plus one multi-proof of two leaves, instead of a multi-proof every round.
//!
//! Invariants, held by every transition and checked on decode: `2 <= k <= ARITY_MAX`,
//! `2 <= leaves <= LEAVES_MAX`, `lo < hi < leaves`, `round <= rounds_max`; no hash is recorded
//! before the first reveal; [`Phase::AwaitingChoice`] holds exactly one hash per split point of
//! `[lo, hi]`; the phase is [`Phase::AwaitingProof`] iff `hi == lo + 1` and the game is not
//! resolved; [`Phase::Resolved`] holds leaves at `lo` and `lo + 1` with non-decreasing fuel, each
//! hashing to its recorded hash when one is recorded. A refused move leaves the state unchanged.
//! Pure: no I/O, no clock, no floats, no hash maps, so the same moves give the same state on every
//! validator.
//!
//! Not here: response deadlines (the chain records when a move is due; [`Dissection::to_move`]
//! says who loses when it passes), the final re-execution, slashing, and checking a resolved
//! leaf at an opening endpoint (no recorded hash) against the value the chain agreed at the
//! opening (leaf 0 recomputed from the module, or the leaf the audit revealed).
//!
//! The moves themselves ([`Reveal`], [`Choose`], [`Prove`], [`Move`]) are wire types with their
//! codec in `plexus_types::dissection`, re-exported here so that a player imports the game and its
//! moves from one place. [`dispute_bytes_max`] sizes the worst game from the moves' encodings.

use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, ReadRangeExt, Write,
};
use plexus_types::ContentHash;
use plexus_types::hash::ContentHasher;

pub use plexus_types::dissection::{
    ARITY_MAX, CHOOSE_SIZE, Choose, MOVE_SIZE_MAX, Move, PROVE_SIBLINGS_MAX, Prove,
    REVEAL_POINTS_MAX, Reveal, RevealedLeaf,
};

/// The arity FUELTRACE.md's numbers assume: 3 rounds for up to 4096 segments.
pub const ARITY_DEFAULT: u32 = 16;
/// The most leaves a disputed trace may have: BMT positions and leaf counts are `u32`, and the
/// builder refuses position `u32::MAX`.
pub const LEAVES_MAX: u64 = u32::MAX as u64;

/// Who moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The party whose trace is disputed (the provider): reveals leaf hashes, proves the end.
    Defender,
    /// The party that disputes it (a verifier or the consumer): chooses sub-intervals.
    Challenger,
}

/// Why a game could not be opened or a move was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DissectionError {
    /// The arity is below 2 (an interval would never shrink) or above `ARITY_MAX`.
    #[error("arity {k} is outside 2..={ARITY_MAX}")]
    ArityOutOfRange {
        /// The arity asked for.
        k: u32,
    },
    /// A trace needs at least two leaves to be disputed and at most `LEAVES_MAX`.
    #[error("{leaves} leaves is outside 2..={LEAVES_MAX}")]
    LeavesOutOfRange {
        /// The leaf count asked for.
        leaves: u64,
    },
    /// The interval is not `lo < hi < leaves`.
    #[error("interval [{lo}, {hi}] is invalid for {leaves} leaves")]
    IntervalInvalid {
        /// The agreed leaf.
        lo: u64,
        /// The disputed leaf.
        hi: u64,
        /// The trace's leaf count.
        leaves: u64,
    },
    /// The move is not the mover's to make now, or not this kind of move (`to_move` is `None`
    /// once resolved).
    #[error("{mover:?} made a move out of phase (to move: {to_move:?})")]
    OutOfTurn {
        /// The role that moved.
        mover: Role,
        /// The role whose turn it is.
        to_move: Option<Role>,
    },
    /// The reveal has the wrong number of points.
    #[error("reveal has {got} points, expected {expected}")]
    PointCount {
        /// The number of split points of the interval.
        expected: usize,
        /// The number revealed.
        got: usize,
    },
    /// The challenger named a sub-interval that does not exist.
    #[error("sub-interval {choice} does not exist (there are {sub_intervals})")]
    ChoiceOutOfRange {
        /// The sub-interval named.
        choice: u32,
        /// How many there are.
        sub_intervals: u32,
    },
    /// The proven leaves are not the final interval's `lo` and `hi`.
    #[error("proved leaves {got_lo} and {got_hi}, expected {lo} and {hi}")]
    ProveIndex {
        /// The final interval's agreed leaf.
        lo: u64,
        /// The final interval's disputed leaf (`lo + 1`).
        hi: u64,
        /// The index of the proven `lo` leaf.
        got_lo: u64,
        /// The index of the proven `hi` leaf.
        got_hi: u64,
    },
    /// Fuel is cumulative, so a leaf cannot hold less fuel than the one before it.
    #[error("fuel decreases from {lo_fuel} to {hi_fuel} across segment {index}")]
    FuelDecreasing {
        /// The segment (the `lo` leaf's index).
        index: u64,
        /// Fuel at `lo`.
        lo_fuel: u64,
        /// Fuel at `hi`.
        hi_fuel: u64,
    },
    /// A proven leaf does not hash to the value the defender revealed for it earlier.
    #[error("leaf {index} does not hash to the revealed value")]
    LeafMismatch {
        /// The leaf's index.
        index: u64,
    },
    /// The proof is for a trace with another number of leaves.
    #[error("proof is for {got} leaves, the trace has {expected}")]
    ProofLeafCount {
        /// The disputed trace's leaf count.
        expected: u64,
        /// The proof's leaf count.
        got: u32,
    },
    /// The proof does not show the leaves under the defender's trace root.
    #[error("the multi-proof does not verify against the trace root")]
    ProofRejected,
}

/// The interior split points of `[lo, hi]` for arity `k`: every interior index when there are at
/// most `k - 1` of them, otherwise `lo + floor(j * (hi - lo) / k)` for `j = 1..k`. Strictly
/// increasing and strictly inside `(lo, hi)`; each of the sub-intervals they cut has length at
/// most `ceil((hi - lo) / k)`. Empty when `hi <= lo + 1`, and for an arity below 2 (which the
/// game refuses at [`Dissection::open`]).
pub fn split_points(lo: u64, hi: u64, k: u32) -> Vec<u64> {
    let interior = hi.saturating_sub(lo).saturating_sub(1);
    if interior <= u64::from(k.saturating_sub(1)) {
        return (1..=interior).map(|offset| lo + offset).collect();
    }
    // Here hi - lo > k, so consecutive points differ by at least floor((hi - lo) / k) >= 1 and
    // lie strictly between lo and hi. The product is taken in u128 so it cannot overflow.
    let length = u128::from(hi - lo);
    (1..u128::from(k))
        .map(|j| {
            let offset = j * length / u128::from(k);
            // offset < length <= u64::MAX, so the conversion cannot fail.
            lo + u64::try_from(offset).unwrap_or(u64::MAX)
        })
        .collect()
}

/// The number of defender reveals a game over `leaves` leaves at arity `k` takes when the
/// challenger always picks the longest sub-interval: `ceil(log_k(leaves - 1))`, 0 when there is at
/// most one segment. An arity below 2 is counted as 2.
pub fn rounds_max(leaves: u64, k: u32) -> u32 {
    let k = u64::from(k.max(2));
    let mut length = leaves.saturating_sub(1);
    let mut rounds = 0;
    while length > 1 {
        length = length.div_ceil(k);
        rounds += 1;
    }
    rounds
}

/// The role that makes `next`: the defender reveals and proves, the challenger chooses.
pub fn mover(next: &Move) -> Role {
    match next {
        Move::Reveal(_) | Move::Prove(_) => Role::Defender,
        Move::Choose(_) => Role::Challenger,
    }
}

/// Whose turn it is and what it must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The defender must reveal its leaf hashes at the split points of `[lo, hi]`.
    AwaitingReveal,
    /// The challenger must choose among the sub-intervals these revealed hashes cut.
    AwaitingChoice {
        /// The revealed leaf hashes, one per split point of `[lo, hi]`.
        points: Vec<ContentHash>,
    },
    /// `hi == lo + 1`: the defender must prove leaves `lo` and `hi`.
    AwaitingProof,
    /// Over: segment `lo.index` is re-executed from `lo` and the result compared with `hi`.
    Resolved {
        /// The defender's proven leaf `lo`: the segment's pre-state.
        lo: RevealedLeaf,
        /// The defender's proven leaf `lo + 1`: its claimed post-state.
        hi: RevealedLeaf,
    },
}

impl Phase {
    const TAG_AWAITING_REVEAL: u8 = 0;
    const TAG_AWAITING_CHOICE: u8 = 1;
    const TAG_AWAITING_PROOF: u8 = 2;
    const TAG_RESOLVED: u8 = 3;
}

/// The state of one dissection game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dissection {
    k: u32,
    leaves: u64,
    lo: u64,
    hi: u64,
    round: u32,
    trace_root: ContentHash,
    lo_hash: Option<ContentHash>,
    hi_hash: Option<ContentHash>,
    phase: Phase,
}

impl Dissection {
    /// Opens a game at arity `k` over a trace of `leaves` leaves with root `trace_root` (the
    /// defender's commitment), where the challenger agrees with leaf `lo` and disputes leaf `hi`.
    /// Awaits the proof at once when `hi == lo + 1`.
    pub fn open(
        k: u32,
        leaves: u64,
        lo: u64,
        hi: u64,
        trace_root: ContentHash,
    ) -> Result<Self, DissectionError> {
        validate(k, leaves, lo, hi)?;
        Ok(Dissection {
            k,
            leaves,
            lo,
            hi,
            round: 0,
            trace_root,
            lo_hash: None,
            hi_hash: None,
            phase: Self::phase_for(lo, hi),
        })
    }

    /// Opens a game over the whole trace: leaf 0 agreed, the final leaf disputed.
    pub fn open_whole(
        k: u32,
        leaves: u64,
        trace_root: ContentHash,
    ) -> Result<Self, DissectionError> {
        Self::open(k, leaves, 0, leaves.saturating_sub(1), trace_root)
    }

    /// The arity.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// The disputed trace's leaf count.
    pub fn leaves(&self) -> u64 {
        self.leaves
    }

    /// The agreed leaf of the current interval.
    pub fn lo(&self) -> u64 {
        self.lo
    }

    /// The disputed leaf of the current interval.
    pub fn hi(&self) -> u64 {
        self.hi
    }

    /// Reveals accepted so far.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The defender's trace root the final proof is checked against.
    pub fn trace_root(&self) -> &ContentHash {
        &self.trace_root
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The defender's revealed hash at `lo`: `None` while `lo` is still the opening's agreed leaf.
    pub fn lo_hash(&self) -> Option<&ContentHash> {
        self.lo_hash.as_ref()
    }

    /// The defender's revealed hash at `hi`: `None` while `hi` is still the opening's disputed
    /// leaf.
    pub fn hi_hash(&self) -> Option<&ContentHash> {
        self.hi_hash.as_ref()
    }

    /// Whose move it is; `None` once resolved.
    pub fn to_move(&self) -> Option<Role> {
        match self.phase {
            Phase::AwaitingReveal | Phase::AwaitingProof => Some(Role::Defender),
            Phase::AwaitingChoice { .. } => Some(Role::Challenger),
            Phase::Resolved { .. } => None,
        }
    }

    /// The proven leaves `(lo, lo + 1)` of the segment to re-execute, once resolved.
    pub fn resolved(&self) -> Option<(RevealedLeaf, RevealedLeaf)> {
        match self.phase {
            Phase::Resolved { lo, hi } => Some((lo, hi)),
            _ => None,
        }
    }

    /// The split points the defender must reveal now (empty unless a reveal is due).
    pub fn expected_points(&self) -> Vec<u64> {
        match self.phase {
            Phase::AwaitingReveal => split_points(self.lo, self.hi, self.k),
            _ => Vec::new(),
        }
    }

    /// The revealed `(index, leaf hash)` pairs the challenger chooses among (empty unless a
    /// choice is due).
    pub fn revealed_points(&self) -> Vec<(u64, ContentHash)> {
        match &self.phase {
            Phase::AwaitingChoice { points } => split_points(self.lo, self.hi, self.k)
                .into_iter()
                .zip(points.iter().copied())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Plays any move.
    pub fn apply(&mut self, next: Move) -> Result<(), DissectionError> {
        match next {
            Move::Reveal(reveal) => self.reveal(reveal),
            Move::Choose(choose) => self.choose(choose.sub_interval),
            Move::Prove(prove) => self.prove(prove),
        }
    }

    /// The defender reveals its leaf hashes at the split points of `[lo, hi]`, in order.
    pub fn reveal(&mut self, reveal: Reveal) -> Result<(), DissectionError> {
        self.expect_phase(Role::Defender, matches!(self.phase, Phase::AwaitingReveal))?;
        let expected = split_points(self.lo, self.hi, self.k).len();
        if reveal.points.len() != expected {
            return Err(DissectionError::PointCount {
                expected,
                got: reveal.points.len(),
            });
        }
        self.round += 1;
        self.phase = Phase::AwaitingChoice {
            points: reveal.points,
        };
        Ok(())
    }

    /// The challenger names sub-interval `choice` (in `0..=points`); the interval shrinks to it
    /// and the revealed hashes at its ends are recorded.
    pub fn choose(&mut self, choice: u32) -> Result<(), DissectionError> {
        let Phase::AwaitingChoice { points } = &self.phase else {
            return Err(self.out_of_turn(Role::Challenger));
        };
        let sub_intervals = u32::try_from(points.len() + 1).unwrap_or(u32::MAX);
        if choice >= sub_intervals {
            return Err(DissectionError::ChoiceOutOfRange {
                choice,
                sub_intervals,
            });
        }
        let indices = split_points(self.lo, self.hi, self.k);
        let choice = choice as usize;
        // `check` and `reveal` keep one hash per split point, so both lookups are in range.
        let (lo, lo_hash) = match choice.checked_sub(1) {
            Some(start) => (indices[start], Some(points[start])),
            None => (self.lo, self.lo_hash),
        };
        let (hi, hi_hash) = match points.get(choice) {
            Some(end) => (indices[choice], Some(*end)),
            None => (self.hi, self.hi_hash),
        };
        self.lo = lo;
        self.hi = hi;
        self.lo_hash = lo_hash;
        self.hi_hash = hi_hash;
        self.phase = Self::phase_for(lo, hi);
        Ok(())
    }

    /// The defender proves leaves `lo` and `lo + 1` under its trace root; the game resolves.
    pub fn prove(&mut self, prove: Prove) -> Result<(), DissectionError> {
        self.expect_phase(Role::Defender, matches!(self.phase, Phase::AwaitingProof))?;
        let Prove { lo, hi, proof } = prove;
        if lo.index != self.lo || hi.index != self.hi {
            return Err(DissectionError::ProveIndex {
                lo: self.lo,
                hi: self.hi,
                got_lo: lo.index,
                got_hi: hi.index,
            });
        }
        if hi.fuel < lo.fuel {
            return Err(DissectionError::FuelDecreasing {
                index: lo.index,
                lo_fuel: lo.fuel,
                hi_fuel: hi.fuel,
            });
        }
        let (lo_leaf, hi_leaf) = (lo.leaf(), hi.leaf());
        for (leaf, recorded, index) in [
            (&lo_leaf, &self.lo_hash, lo.index),
            (&hi_leaf, &self.hi_hash, hi.index),
        ] {
            if recorded.is_some_and(|recorded| recorded != *leaf) {
                return Err(DissectionError::LeafMismatch { index });
            }
        }
        // Checked apart from the proof so a defender whose commitment claims one segment count
        // and whose root has another is named as such.
        if u64::from(proof.leaf_count) != self.leaves {
            return Err(DissectionError::ProofLeafCount {
                expected: self.leaves,
                got: proof.leaf_count,
            });
        }
        // hi < leaves <= LEAVES_MAX = u32::MAX, so both are valid BMT positions.
        let position =
            |index: u64| u32::try_from(index).map_err(|_| DissectionError::ProofRejected);
        let elements = [
            (lo_leaf, position(lo.index)?),
            (hi_leaf, position(hi.index)?),
        ];
        proof
            .verify_multi_inclusion::<ContentHasher>(&elements, &self.trace_root)
            .map_err(|_| DissectionError::ProofRejected)?;
        self.phase = Phase::Resolved { lo, hi };
        Ok(())
    }

    fn phase_for(lo: u64, hi: u64) -> Phase {
        if hi == lo + 1 {
            Phase::AwaitingProof
        } else {
            Phase::AwaitingReveal
        }
    }

    fn expect_phase(&self, mover: Role, due: bool) -> Result<(), DissectionError> {
        if due {
            Ok(())
        } else {
            Err(self.out_of_turn(mover))
        }
    }

    fn out_of_turn(&self, mover: Role) -> DissectionError {
        DissectionError::OutOfTurn {
            mover,
            to_move: self.to_move(),
        }
    }

    /// Whether a decoded state is one the transitions can reach.
    fn check(&self) -> Result<(), &'static str> {
        validate(self.k, self.leaves, self.lo, self.hi).map_err(|_| "parameters out of range")?;
        if self.round > rounds_max(self.leaves, self.k) {
            return Err("more rounds than the game allows");
        }
        if self.round == 0 && (self.lo_hash.is_some() || self.hi_hash.is_some()) {
            return Err("a hash recorded before any reveal");
        }
        let adjacent = self.hi == self.lo + 1;
        let consistent = match &self.phase {
            Phase::AwaitingReveal => !adjacent,
            Phase::AwaitingChoice { points } => {
                !adjacent
                    && self.round > 0
                    && points.len() == split_points(self.lo, self.hi, self.k).len()
            }
            Phase::AwaitingProof => adjacent,
            Phase::Resolved { lo, hi } => {
                adjacent
                    && lo.index == self.lo
                    && hi.index == self.hi
                    && hi.fuel >= lo.fuel
                    && self.lo_hash.is_none_or(|hash| hash == lo.leaf())
                    && self.hi_hash.is_none_or(|hash| hash == hi.leaf())
            }
        };
        if consistent {
            Ok(())
        } else {
            Err("phase does not match the interval")
        }
    }
}

impl Write for Dissection {
    fn write(&self, buf: &mut impl BufMut) {
        self.k.write(buf);
        self.leaves.write(buf);
        self.lo.write(buf);
        self.hi.write(buf);
        self.round.write(buf);
        self.trace_root.write(buf);
        self.lo_hash.write(buf);
        self.hi_hash.write(buf);
        match &self.phase {
            Phase::AwaitingReveal => Phase::TAG_AWAITING_REVEAL.write(buf),
            Phase::AwaitingChoice { points } => {
                Phase::TAG_AWAITING_CHOICE.write(buf);
                points.write(buf);
            }
            Phase::AwaitingProof => Phase::TAG_AWAITING_PROOF.write(buf),
            Phase::Resolved { lo, hi } => {
                Phase::TAG_RESOLVED.write(buf);
                lo.write(buf);
                hi.write(buf);
            }
        }
    }
}

impl EncodeSize for Dissection {
    fn encode_size(&self) -> usize {
        let phase = 1 + match &self.phase {
            Phase::AwaitingReveal | Phase::AwaitingProof => 0,
            Phase::AwaitingChoice { points } => points.encode_size(),
            Phase::Resolved { .. } => 2 * RevealedLeaf::SIZE,
        };
        u32::SIZE * 2
            + u64::SIZE * 3
            + ContentHash::SIZE
            + self.lo_hash.encode_size()
            + self.hi_hash.encode_size()
            + phase
    }
}

impl Read for Dissection {
    type Cfg = ();

    /// Refuses any state the transitions cannot reach (parameters, interval, phase, hashes).
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let k = u32::read(buf)?;
        let leaves = u64::read(buf)?;
        let lo = u64::read(buf)?;
        let hi = u64::read(buf)?;
        let round = u32::read(buf)?;
        let trace_root = ContentHash::read(buf)?;
        let lo_hash = Option::<ContentHash>::read(buf)?;
        let hi_hash = Option::<ContentHash>::read(buf)?;
        let phase = match u8::read(buf)? {
            Phase::TAG_AWAITING_REVEAL => Phase::AwaitingReveal,
            Phase::TAG_AWAITING_CHOICE => Phase::AwaitingChoice {
                points: Vec::<ContentHash>::read_range(buf, 1..=REVEAL_POINTS_MAX)?,
            },
            Phase::TAG_AWAITING_PROOF => Phase::AwaitingProof,
            Phase::TAG_RESOLVED => Phase::Resolved {
                lo: RevealedLeaf::read(buf)?,
                hi: RevealedLeaf::read(buf)?,
            },
            other => return Err(CodecError::InvalidEnum(other)),
        };
        let dissection = Dissection {
            k,
            leaves,
            lo,
            hi,
            round,
            trace_root,
            lo_hash,
            hi_hash,
            phase,
        };
        dissection
            .check()
            .map_err(|reason| CodecError::Invalid("Dissection", reason))?;
        Ok(dissection)
    }
}

/// Whether a game at arity `k` over `leaves` leaves may be played on `[lo, hi]`.
pub(crate) fn validate(k: u32, leaves: u64, lo: u64, hi: u64) -> Result<(), DissectionError> {
    if !(2..=ARITY_MAX).contains(&k) {
        return Err(DissectionError::ArityOutOfRange { k });
    }
    if !(2..=LEAVES_MAX).contains(&leaves) {
        return Err(DissectionError::LeavesOutOfRange { leaves });
    }
    if lo >= hi || hi >= leaves {
        return Err(DissectionError::IntervalInvalid { lo, hi, leaves });
    }
    Ok(())
}

/// The exact encoded bytes of the worst game over the whole trace (leaf 0 to the final leaf) at
/// arity `k`: the largest sum, over every segment the challenger can steer to, of the encoded
/// [`Move`]s (tag included) that reach it (its reveals and choices) and prove it. Reveal sizes
/// depend only on the interval, proof sizes only on the segment's position and the leaf count,
/// so no trace is needed. Parameters outside what [`Dissection::open_whole`] accepts are clamped
/// into range. Visits every segment (`O(leaves log leaves)`, no hashing): for analysis and the
/// simulation, not for block execution.
pub fn dispute_bytes_max(leaves: u64, k: u32) -> usize {
    let leaves = leaves.clamp(2, LEAVES_MAX);
    worst_game(leaves, 0, leaves - 1, k.clamp(2, ARITY_MAX)).0
}

/// The encoded size of a [`Move::Reveal`] of `points` hashes.
fn reveal_move_size(points: usize) -> usize {
    1 + points.encode_size() + points * ContentHash::SIZE
}

/// The encoded size of a [`Move::Prove`] of leaves `lo` and `lo + 1` in a tree of `leaves`.
pub(crate) fn prove_move_size(leaves: u64, lo: u64) -> usize {
    let siblings = pair_siblings(leaves, lo);
    1 + 2 * RevealedLeaf::SIZE + u32::SIZE + siblings.encode_size() + siblings * ContentHash::SIZE
}

/// The sibling count of the BMT multi-proof of positions `lo` and `lo + 1` in a tree of
/// `leaf_count` leaves. Below their common ancestor each path costs one sibling a level, except
/// for the last node of an odd level (paired with itself); where they are partners, none; above,
/// one path. This is the rule `bmt::Tree::multi_proof` follows; the tests compare the two.
pub(crate) fn pair_siblings(leaf_count: u64, lo: u64) -> usize {
    let (mut left, mut right) = (lo, lo + 1);
    let mut level_size = leaf_count;
    let mut siblings = 0;
    while level_size > 1 {
        let partners = left ^ 1 == right;
        if !partners {
            siblings += usize::from(left ^ 1 < level_size);
            if right != left {
                siblings += usize::from(right ^ 1 < level_size);
            }
        }
        left /= 2;
        right /= 2;
        level_size = level_size.div_ceil(2);
    }
    siblings
}

/// The worst game from `[lo, hi]` on: its bytes and the segment it ends at (the lowest one on a
/// tie).
pub(crate) fn worst_game(leaves: u64, lo: u64, hi: u64, k: u32) -> (usize, u64) {
    if hi <= lo + 1 {
        return (prove_move_size(leaves, lo), lo);
    }
    let points = split_points(lo, hi, k);
    let here = reveal_move_size(points.len()) + 1 + CHOOSE_SIZE;
    let mut bounds = Vec::with_capacity(points.len() + 2);
    bounds.push(lo);
    bounds.extend(points);
    bounds.push(hi);
    let mut worst = (0, lo);
    for pair in bounds.windows(2) {
        let below = worst_game(leaves, pair[0], pair[1], k);
        if below.0 > worst.0 {
            worst = below;
        }
    }
    (here + worst.0, worst.1)
}

#[cfg(test)]
mod tests;
