//! k-ary dissection of a disputed FuelTrace trace: the pure game the chain stores and advances.
//!
//! A dispute is over the leaves `0..leaves` of one trace (`leaves = segments + 1`, see
//! [`crate::trace`]). The challenger agrees with leaf `lo` and disputes leaf `hi`: at the opening,
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

use crate::trace::{self, Digest32, LeafProof};
use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, ReadRangeExt, Write,
};
use commonware_cryptography::blake3::Blake3;
use commonware_storage::bmt;

/// The arity FUELTRACE.md's numbers assume: 3 rounds for up to 4096 segments.
pub const ARITY_DEFAULT: u32 = 16;
/// The largest arity a game may use: bounds the points (and so the bytes) of one reveal.
pub const ARITY_MAX: u32 = 64;
/// The most points one reveal carries.
pub const REVEAL_POINTS_MAX: usize = (ARITY_MAX - 1) as usize;
/// The most leaves a disputed trace may have: BMT positions and leaf counts are `u32`, and the
/// builder refuses position `u32::MAX`.
pub const LEAVES_MAX: u64 = u32::MAX as u64;
/// The encoded size of a [`Choose`] move's body, in bytes.
pub const CHOOSE_SIZE: usize = u32::SIZE;
/// The most sibling digests a decoded [`Prove`] may carry: two paths through a tree of at most
/// `bmt::MAX_LEVELS` levels (a real proof of two adjacent leaves under `LEAVES_MAX` has at most 62).
pub const PROVE_SIBLINGS_MAX: usize = 2 * bmt::MAX_LEVELS;
/// The encoded size of the largest [`Move`] that decodes: a [`Prove`] with `PROVE_SIBLINGS_MAX`
/// siblings (tag, two leaves, leaf count, one-byte length, digests), which is larger than a
/// reveal of `REVEAL_POINTS_MAX` points (2,018 bytes). Every move fits a transaction.
pub const MOVE_SIZE_MAX: usize =
    1 + 2 * RevealedLeaf::SIZE + u32::SIZE + 1 + PROVE_SIBLINGS_MAX * Digest32::SIZE;

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

/// The preimage of one leaf of the defender's trace: `trace::leaf(index, fuel, state_root)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevealedLeaf {
    /// The leaf's index in the trace.
    pub index: u64,
    /// Cumulative fuel at that checkpoint.
    pub fuel: u64,
    /// The state root at that checkpoint (or the trap root of a trap leaf).
    pub state_root: Digest32,
}

impl RevealedLeaf {
    /// The leaf hash this preimage commits to.
    pub fn leaf(&self) -> Digest32 {
        trace::leaf(self.index, self.fuel, &self.state_root)
    }
}

impl Write for RevealedLeaf {
    fn write(&self, buf: &mut impl BufMut) {
        self.index.write(buf);
        self.fuel.write(buf);
        self.state_root.write(buf);
    }
}

impl FixedSize for RevealedLeaf {
    const SIZE: usize = u64::SIZE + u64::SIZE + Digest32::SIZE;
}

impl Read for RevealedLeaf {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(RevealedLeaf {
            index: u64::read(buf)?,
            fuel: u64::read(buf)?,
            state_root: Digest32::read(buf)?,
        })
    }
}

/// The defender's mid-game move: its leaf hashes at the split points, unproven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The leaf hashes at `split_points(lo, hi, k)`, in order.
    pub points: Vec<Digest32>,
}

impl Write for Reveal {
    fn write(&self, buf: &mut impl BufMut) {
        self.points.write(buf);
    }
}

impl EncodeSize for Reveal {
    fn encode_size(&self) -> usize {
        self.points.encode_size()
    }
}

impl Read for Reveal {
    type Cfg = ();

    /// Between 1 and `REVEAL_POINTS_MAX` points.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Reveal {
            points: Vec::<Digest32>::read_range(buf, 1..=REVEAL_POINTS_MAX)?,
        })
    }
}

/// The challenger's move: sub-interval `j` runs from point `j - 1` (or `lo`) to point `j` (or `hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choose {
    /// The sub-interval whose end the challenger disagrees with (and whose start it agrees with).
    pub sub_interval: u32,
}

impl Choose {
    /// The honest challenger's move over `points` (`(index, leaf hash)` pairs, as
    /// [`Dissection::revealed_points`] gives them): the sub-interval ending at the first point it
    /// does not agree with, or the last one (ending at the disputed `hi`) when it agrees with every
    /// point.
    pub fn first_disagreement(
        points: &[(u64, Digest32)],
        mut agrees: impl FnMut(u64, &Digest32) -> bool,
    ) -> Choose {
        let position = points
            .iter()
            .position(|(index, leaf)| !agrees(*index, leaf))
            .unwrap_or(points.len());
        Choose {
            sub_interval: u32::try_from(position).unwrap_or(u32::MAX),
        }
    }
}

impl Write for Choose {
    fn write(&self, buf: &mut impl BufMut) {
        self.sub_interval.write(buf);
    }
}

impl FixedSize for Choose {
    const SIZE: usize = CHOOSE_SIZE;
}

impl Read for Choose {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Choose {
            sub_interval: u32::read(buf)?,
        })
    }
}

/// The defender's final move: the preimages of the two adjacent leaves that end the game and one
/// multi-proof of both under its trace root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prove {
    /// Leaf `lo`: the pre-state of the disputed segment.
    pub lo: RevealedLeaf,
    /// Leaf `lo + 1`: the defender's claimed post-state.
    pub hi: RevealedLeaf,
    /// A BMT multi-proof of both leaves (positions `lo`, `lo + 1`) under the trace root.
    pub proof: LeafProof,
}

impl Write for Prove {
    fn write(&self, buf: &mut impl BufMut) {
        self.lo.write(buf);
        self.hi.write(buf);
        self.proof.write(buf);
    }
}

impl EncodeSize for Prove {
    fn encode_size(&self) -> usize {
        2 * RevealedLeaf::SIZE + self.proof.encode_size()
    }
}

impl Read for Prove {
    type Cfg = ();

    /// A proof of at most `PROVE_SIBLINGS_MAX` siblings.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Prove {
            lo: RevealedLeaf::read(buf)?,
            hi: RevealedLeaf::read(buf)?,
            // The proof's bound is `items * bmt::MAX_LEVELS` siblings: two items.
            proof: LeafProof::read_cfg(buf, &2)?,
        })
    }
}

/// Any move, tagged (0 reveal, 1 choose, 2 prove): what a dispute transaction carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    /// The defender's reveal of leaf hashes.
    Reveal(Reveal),
    /// The challenger's choice.
    Choose(Choose),
    /// The defender's final proof.
    Prove(Prove),
}

impl Move {
    const TAG_REVEAL: u8 = 0;
    const TAG_CHOOSE: u8 = 1;
    const TAG_PROVE: u8 = 2;

    /// The role that makes this move.
    pub fn mover(&self) -> Role {
        match self {
            Move::Reveal(_) | Move::Prove(_) => Role::Defender,
            Move::Choose(_) => Role::Challenger,
        }
    }
}

impl Write for Move {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Move::Reveal(reveal) => {
                Self::TAG_REVEAL.write(buf);
                reveal.write(buf);
            }
            Move::Choose(choose) => {
                Self::TAG_CHOOSE.write(buf);
                choose.write(buf);
            }
            Move::Prove(prove) => {
                Self::TAG_PROVE.write(buf);
                prove.write(buf);
            }
        }
    }
}

impl EncodeSize for Move {
    fn encode_size(&self) -> usize {
        1 + match self {
            Move::Reveal(reveal) => reveal.encode_size(),
            Move::Choose(_) => Choose::SIZE,
            Move::Prove(prove) => prove.encode_size(),
        }
    }
}

impl Read for Move {
    type Cfg = ();

    /// At most `MOVE_SIZE_MAX` bytes are read, whatever the input.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            Self::TAG_REVEAL => Ok(Move::Reveal(Reveal::read(buf)?)),
            Self::TAG_CHOOSE => Ok(Move::Choose(Choose::read(buf)?)),
            Self::TAG_PROVE => Ok(Move::Prove(Prove::read(buf)?)),
            other => Err(CodecError::InvalidEnum(other)),
        }
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
        points: Vec<Digest32>,
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
    trace_root: Digest32,
    lo_hash: Option<Digest32>,
    hi_hash: Option<Digest32>,
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
        trace_root: Digest32,
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
    pub fn open_whole(k: u32, leaves: u64, trace_root: Digest32) -> Result<Self, DissectionError> {
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
    pub fn trace_root(&self) -> &Digest32 {
        &self.trace_root
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The defender's revealed hash at `lo`: `None` while `lo` is still the opening's agreed leaf.
    pub fn lo_hash(&self) -> Option<&Digest32> {
        self.lo_hash.as_ref()
    }

    /// The defender's revealed hash at `hi`: `None` while `hi` is still the opening's disputed
    /// leaf.
    pub fn hi_hash(&self) -> Option<&Digest32> {
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
    pub fn revealed_points(&self) -> Vec<(u64, Digest32)> {
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
            .verify_multi_inclusion::<Blake3>(&elements, &self.trace_root)
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
            + Digest32::SIZE
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
        let trace_root = Digest32::read(buf)?;
        let lo_hash = Option::<Digest32>::read(buf)?;
        let hi_hash = Option::<Digest32>::read(buf)?;
        let phase = match u8::read(buf)? {
            Phase::TAG_AWAITING_REVEAL => Phase::AwaitingReveal,
            Phase::TAG_AWAITING_CHOICE => Phase::AwaitingChoice {
                points: Vec::<Digest32>::read_range(buf, 1..=REVEAL_POINTS_MAX)?,
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

fn validate(k: u32, leaves: u64, lo: u64, hi: u64) -> Result<(), DissectionError> {
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

/// A defender's whole trace, ready to answer any move (the provider agent keeps one per disputed
/// job).
#[derive(Clone, Debug)]
pub struct DefenderTrace {
    leaves: Vec<RevealedLeaf>,
    tree: bmt::Tree<Digest32>,
}

impl DefenderTrace {
    /// Builds the trace from `(fuel, state_root)` per checkpoint, in index order.
    pub fn new(checkpoints: &[(u64, Digest32)]) -> Result<Self, DissectionError> {
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
        let mut builder = bmt::Builder::<Blake3>::new(leaves.len());
        for leaf in &leaves {
            builder.add(&leaf.leaf());
        }
        Ok(DefenderTrace {
            leaves,
            tree: builder.build(),
        })
    }

    /// The trace root (equal to `trace::trace_root` over the leaf hashes).
    pub fn root(&self) -> Digest32 {
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
    1 + points.encode_size() + points * Digest32::SIZE
}

/// The encoded size of a [`Move::Prove`] of leaves `lo` and `lo + 1` in a tree of `leaves`.
fn prove_move_size(leaves: u64, lo: u64) -> usize {
    let siblings = pair_siblings(leaves, lo);
    1 + 2 * RevealedLeaf::SIZE + u32::SIZE + siblings.encode_size() + siblings * Digest32::SIZE
}

/// The sibling count of the BMT multi-proof of positions `lo` and `lo + 1` in a tree of
/// `leaf_count` leaves. Below their common ancestor each path costs one sibling a level, except
/// for the last node of an odd level (paired with itself); where they are partners, none; above,
/// one path. This is the rule `bmt::Tree::multi_proof` follows; the tests compare the two.
fn pair_siblings(leaf_count: u64, lo: u64) -> usize {
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
fn worst_game(leaves: u64, lo: u64, hi: u64, k: u32) -> (usize, u64) {
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
mod tests {
    use super::*;
    use crate::trace::content_hash;
    use commonware_codec::{DecodeExt as _, Encode as _};
    use rand::{RngExt as _, SeedableRng as _};
    use rand_chacha::ChaCha8Rng;

    /// A trace of `leaves` checkpoints: cumulative fuel and distinct state roots.
    fn checkpoints(seed: u64, leaves: u64) -> Vec<(u64, Digest32)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut fuel = 0u64;
        (0..leaves)
            .map(|index| {
                let root = content_hash(&[seed.to_le_bytes(), index.to_le_bytes()].concat());
                let checkpoint = (fuel, root);
                fuel += rng.random_range(1..1_000u64);
                checkpoint
            })
            .collect()
    }

    /// The same trace from leaf `from` on, changed the way a cheater would: more fuel (a bill
    /// inflator) or another state (wrong work), chosen by `seed`.
    fn diverge(trace: &[(u64, Digest32)], from: u64, seed: u64) -> Vec<(u64, Digest32)> {
        let inflate = seed.is_multiple_of(2);
        (0u64..)
            .zip(trace)
            .map(|(index, &(fuel, root))| match (index >= from, inflate) {
                (false, _) => (fuel, root),
                (true, true) => (fuel + 1, root),
                (true, false) => (fuel, content_hash(root.as_ref())),
            })
            .collect()
    }

    fn leaf_hashes(trace: &[(u64, Digest32)]) -> Vec<Digest32> {
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
        agrees: impl Fn(u64, &Digest32) -> bool,
        mut game: Dissection,
    ) -> (Dissection, Vec<usize>) {
        let mut sizes = Vec::new();
        let moves_max = 2 * rounds_max(game.leaves(), game.k()) + 1;
        for _ in 0..=moves_max {
            let next = match game.to_move() {
                None => return (game, sizes),
                Some(Role::Defender) => defender.respond(&game).unwrap().unwrap(),
                Some(Role::Challenger) => {
                    Move::Choose(Choose::first_disagreement(&game.revealed_points(), &agrees))
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
            let mut game = Dissection::open_whole(k, leaves, content_hash(b"root")).unwrap();
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
                let choice = Choose::first_disagreement(&game.revealed_points(), |index, hash| {
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
            let choice =
                Choose::first_disagreement(&game.revealed_points(), |index, _| index <= segment);
            game.choose(choice.sub_interval).unwrap();
        }
        assert_eq!(game.lo(), segment);
        game
    }

    #[test]
    fn refuses_bad_proofs() {
        let leaves = 300;
        let defender = DefenderTrace::new(&checkpoints(21, leaves)).unwrap();
        // Both ends of segment 150 were revealed (neither is an opening endpoint).
        let game = awaiting_proof(&defender, 16, 150);
        assert!(game.lo_hash().is_some() && game.hi_hash().is_some());
        let good = defender.prove(150).unwrap();
        let check = |game: &Dissection, prove: Prove, expected: DissectionError| {
            let mut attempt = game.clone();
            assert_eq!(attempt.prove(prove), Err(expected));
            assert_eq!(&attempt, game, "a refused move changes nothing");
        };

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
        other_lo.lo.state_root = content_hash(b"forged");
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
        // Forged proofs: a tampered, missing or extra sibling; another trace's proof.
        let mut tampered = good.clone();
        tampered.proof.siblings[0] = content_hash(b"sibling");
        check(&game, tampered, DissectionError::ProofRejected);
        let mut short = good.clone();
        short.proof.siblings.pop();
        check(&game, short, DissectionError::ProofRejected);
        let mut long = good.clone();
        long.proof.siblings.push(content_hash(b"extra"));
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
        rerooted.lo.state_root = content_hash(b"forged");
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

    #[test]
    fn open_validates() {
        let root = content_hash(b"root");
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
        assert_eq!(
            DefenderTrace::new(&[]).unwrap_err(),
            DissectionError::LeavesOutOfRange { leaves: 0 }
        );
    }

    #[test]
    fn codec_round_trips_and_limits() {
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
            assert_eq!(&Move::decode(encoded.clone()).unwrap(), next);
            let mut extra = encoded.to_vec();
            extra.push(0);
            assert!(matches!(
                Move::decode(commonware_codec::Copying(&extra)),
                Err(CodecError::ExtraData(1))
            ));
            assert!(
                Move::decode(commonware_codec::Copying(&encoded[..encoded.len() - 1])).is_err()
            );
        }
        assert!(matches!(
            Move::decode(commonware_codec::Copying(&[7u8, 0, 0, 0, 0])),
            Err(CodecError::InvalidEnum(7))
        ));

        // More points than any arity allows, and no points, are refused before reading them.
        let hash = content_hash(b"point");
        for count in [0, REVEAL_POINTS_MAX + 1] {
            let oversized = Move::Reveal(Reveal {
                points: vec![hash; count],
            });
            assert!(matches!(
                Move::decode(oversized.encode()),
                Err(CodecError::InvalidLength(_))
            ));
        }
        let widest_reveal = Move::Reveal(Reveal {
            points: vec![hash; REVEAL_POINTS_MAX],
        });
        assert_eq!(widest_reveal.encode().len(), 2_018);
        // The largest proof that decodes is MOVE_SIZE_MAX bytes; one more sibling is refused.
        let Some(Move::Prove(prove)) = moves.last() else {
            unreachable!()
        };
        let mut widest = prove.clone();
        widest.proof.siblings = vec![hash; PROVE_SIBLINGS_MAX];
        let encoded = Move::Prove(widest.clone()).encode();
        assert_eq!(encoded.len(), MOVE_SIZE_MAX);
        assert_eq!(Move::decode(encoded).unwrap(), Move::Prove(widest.clone()));
        widest.proof.siblings.push(hash);
        assert!(matches!(
            Move::decode(Move::Prove(widest).encode()),
            Err(CodecError::InvalidLength(_))
        ));

        // States the game cannot reach are refused.
        let root = defender.root();
        let opened = Dissection::open_whole(16, 500, root).unwrap();
        let resolved = states.last().unwrap().clone();
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
}
