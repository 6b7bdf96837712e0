//! k-ary dissection of a disputed FuelTrace trace: the pure game the chain stores and advances.
//!
//! A dispute is over the leaves `0..leaves` of one trace (`leaves = segments + 1`, see
//! [`crate::trace`]). The challenger agrees with leaf `lo` and disputes leaf `hi`: at the opening,
//! leaf 0 (the module's instantiated state, which anyone can recompute) and the final leaf, or
//! two leaves an audit revealed. Each round:
//!
//! 1. the defender (the provider) reveals its leaves at the interior split points of `[lo, hi]`
//!    ([`split_points`]: `k - 1` evenly spaced indices, or every interior index when there are
//!    fewer), proven against its committed trace root by one BMT multi-proof ([`Reveal`]);
//! 2. the challenger names the first sub-interval whose end it disagrees with ([`Choose`]): the
//!    interval shrinks to that sub-interval, whose start the challenger thereby agrees with.
//!
//! When `hi == lo + 1` the game is [`Phase::Resolved`] at `lo`: the validators re-run segment `lo`
//! from the agreed pre-state (leaf `lo`) and compare what they get with the defender's leaf `hi`.
//! A round shrinks an interval of length `d` to at most `ceil(d / k)`, so a game takes at most
//! [`rounds_max`] `= ceil(log_k(leaves - 1))` defender rounds.
//!
//! Invariants, held by every transition and checked on decode: `2 <= k <= ARITY_MAX`,
//! `2 <= leaves <= LEAVES_MAX`, `lo < hi < leaves`; `AwaitingChallenger` holds exactly the split
//! points of `[lo, hi]`, each proven; the game is `Resolved { index }` iff `hi == lo + 1`, and
//! then `index == lo`; the bound leaves, when known, are the defender's proven leaves at `lo` and
//! `hi`. A refused move leaves the state unchanged. Pure: no I/O, no clock, no floats, no hash
//! maps, so the same moves give the same state on every validator.
//!
//! Not here: response deadlines (the chain records when a move is due; [`Dissection::to_move`]
//! says who loses when it passes), the final re-execution, slashing.

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
/// The encoded size of a [`Choose`] move, in bytes.
pub const CHOOSE_SIZE: usize = u32::SIZE;

/// Who moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The party whose trace is disputed (the provider): reveals leaves.
    Defender,
    /// The party that disputes it (a verifier or the consumer): chooses sub-intervals.
    Challenger,
}

/// Why a game could not be opened, a move was refused, or a size could not be computed.
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
    /// The move is not the mover's to make now (`to_move` is `None` once resolved).
    #[error("{mover:?} moved out of turn (to move: {to_move:?})")]
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
    /// A revealed point is not the split point at its position.
    #[error("point {position} has index {got}, expected {expected}")]
    PointIndex {
        /// Its position in the reveal.
        position: usize,
        /// The split point at that position.
        expected: u64,
        /// The index revealed.
        got: u64,
    },
    /// The proof is for a trace with another number of leaves.
    #[error("proof is for {got} leaves, the trace has {expected}")]
    ProofLeafCount {
        /// The disputed trace's leaf count.
        expected: u64,
        /// The proof's leaf count.
        got: u32,
    },
    /// The proof does not show the revealed leaves under the defender's trace root.
    #[error("the multi-proof does not verify against the trace root")]
    ProofRejected,
    /// The challenger named a sub-interval that does not exist.
    #[error("sub-interval {choice} does not exist (there are {sub_intervals})")]
    ChoiceOutOfRange {
        /// The sub-interval named.
        choice: u32,
        /// How many there are.
        sub_intervals: u32,
    },
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

/// The number of defender rounds a game over `leaves` leaves at arity `k` takes when the
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

/// One leaf of the defender's trace as a reveal shows it: `trace::leaf(index, fuel, state_root)`.
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
    /// The leaf hash this point commits to.
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

/// The defender's move: its leaves at the split points and one multi-proof of all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The split points of the current interval, in order.
    pub points: Vec<RevealedLeaf>,
    /// A BMT multi-proof of the points' leaves under the defender's trace root.
    pub proof: LeafProof,
}

impl Write for Reveal {
    fn write(&self, buf: &mut impl BufMut) {
        self.points.write(buf);
        self.proof.write(buf);
    }
}

impl EncodeSize for Reveal {
    fn encode_size(&self) -> usize {
        self.points.encode_size() + self.proof.encode_size()
    }
}

impl Read for Reveal {
    type Cfg = ();

    /// At most `REVEAL_POINTS_MAX` points, and a proof with at most 32 siblings per point.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let points = Vec::<RevealedLeaf>::read_range(buf, 1..=REVEAL_POINTS_MAX)?;
        let proof = LeafProof::read_cfg(buf, &points.len())?;
        Ok(Reveal { points, proof })
    }
}

/// The challenger's move: sub-interval `j` runs from point `j - 1` (or `lo`) to point `j` (or `hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choose {
    /// The sub-interval whose end the challenger disagrees with (and whose start it agrees with).
    pub sub_interval: u32,
}

impl Choose {
    /// The honest challenger's move: the sub-interval ending at the first point it does not
    /// agree with, or the last one (ending at the disputed `hi`) when it agrees with every point.
    pub fn first_disagreement(
        points: &[RevealedLeaf],
        mut agrees: impl FnMut(&RevealedLeaf) -> bool,
    ) -> Choose {
        let position = points
            .iter()
            .position(|point| !agrees(point))
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

/// Either move, tagged (0 reveal, 1 choose), for a caller that carries both in one payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    /// The defender's reveal.
    Reveal(Reveal),
    /// The challenger's choice.
    Choose(Choose),
}

impl Move {
    const TAG_REVEAL: u8 = 0;
    const TAG_CHOOSE: u8 = 1;

    /// The role that makes this move.
    pub fn mover(&self) -> Role {
        match self {
            Move::Reveal(_) => Role::Defender,
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
        }
    }
}

impl EncodeSize for Move {
    fn encode_size(&self) -> usize {
        1 + match self {
            Move::Reveal(reveal) => reveal.encode_size(),
            Move::Choose(_) => Choose::SIZE,
        }
    }
}

impl Read for Move {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            Self::TAG_REVEAL => Ok(Move::Reveal(Reveal::read(buf)?)),
            Self::TAG_CHOOSE => Ok(Move::Choose(Choose::read(buf)?)),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

/// Whose turn it is, and what the last reveal showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The defender must reveal the split points of `[lo, hi]`.
    AwaitingDefender,
    /// The challenger must choose among the sub-intervals these proven points cut.
    AwaitingChallenger {
        /// The revealed split points.
        points: Vec<RevealedLeaf>,
    },
    /// Over: segment `index` (from leaf `index` to leaf `index + 1`) is re-executed.
    Resolved {
        /// The agreed pre-state leaf; the disputed post-state leaf is `index + 1`.
        index: u64,
    },
}

impl Phase {
    const TAG_AWAITING_DEFENDER: u8 = 0;
    const TAG_AWAITING_CHALLENGER: u8 = 1;
    const TAG_RESOLVED: u8 = 2;
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
    lo_leaf: Option<RevealedLeaf>,
    hi_leaf: Option<RevealedLeaf>,
    phase: Phase,
}

impl Dissection {
    /// Opens a game at arity `k` over a trace of `leaves` leaves with root `trace_root` (the
    /// defender's commitment), where the challenger agrees with leaf `lo` and disputes leaf `hi`.
    /// Already resolved when `hi == lo + 1`.
    pub fn open(
        k: u32,
        leaves: u64,
        lo: u64,
        hi: u64,
        trace_root: Digest32,
    ) -> Result<Self, DissectionError> {
        validate(k, leaves, lo, hi)?;
        let phase = if hi == lo + 1 {
            Phase::Resolved { index: lo }
        } else {
            Phase::AwaitingDefender
        };
        Ok(Dissection {
            k,
            leaves,
            lo,
            hi,
            round: 0,
            trace_root,
            lo_leaf: None,
            hi_leaf: None,
            phase,
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

    /// The defender's trace root the reveals are proven against.
    pub fn trace_root(&self) -> &Digest32 {
        &self.trace_root
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whose move it is; `None` once resolved.
    pub fn to_move(&self) -> Option<Role> {
        match self.phase {
            Phase::AwaitingDefender => Some(Role::Defender),
            Phase::AwaitingChallenger { .. } => Some(Role::Challenger),
            Phase::Resolved { .. } => None,
        }
    }

    /// The segment to re-execute, once resolved.
    pub fn resolved(&self) -> Option<u64> {
        match self.phase {
            Phase::Resolved { index } => Some(index),
            _ => None,
        }
    }

    /// The defender's proven leaf at `lo`: `None` while `lo` is still the opening's agreed leaf
    /// (leaf 0 is recomputed by instantiating the module; another opening leaf comes from the
    /// audit that revealed it).
    pub fn lo_leaf(&self) -> Option<&RevealedLeaf> {
        self.lo_leaf.as_ref()
    }

    /// The defender's proven leaf at `hi`: `None` while `hi` is still the opening's disputed leaf
    /// (the game never reveals it; the chain must hold it from the audit or have it opened).
    pub fn hi_leaf(&self) -> Option<&RevealedLeaf> {
        self.hi_leaf.as_ref()
    }

    /// The split points the defender must reveal now (empty unless it is the defender's turn).
    pub fn expected_points(&self) -> Vec<u64> {
        match self.phase {
            Phase::AwaitingDefender => split_points(self.lo, self.hi, self.k),
            _ => Vec::new(),
        }
    }

    /// Plays either move.
    pub fn apply(&mut self, next: Move) -> Result<(), DissectionError> {
        match next {
            Move::Reveal(reveal) => self.reveal(reveal.points, reveal.proof),
            Move::Choose(choose) => self.choose(choose.sub_interval),
        }
    }

    /// The defender reveals `points` (exactly the split points of `[lo, hi]`, in order) with one
    /// multi-proof of their leaves under the trace root.
    pub fn reveal(
        &mut self,
        points: Vec<RevealedLeaf>,
        proof: LeafProof,
    ) -> Result<(), DissectionError> {
        self.expect_turn(Role::Defender)?;
        let expected = split_points(self.lo, self.hi, self.k);
        if points.len() != expected.len() {
            return Err(DissectionError::PointCount {
                expected: expected.len(),
                got: points.len(),
            });
        }
        for (position, (point, &want)) in points.iter().zip(&expected).enumerate() {
            if point.index != want {
                return Err(DissectionError::PointIndex {
                    position,
                    expected: want,
                    got: point.index,
                });
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
        let mut elements = Vec::with_capacity(points.len());
        for point in &points {
            // Every split point is below `leaves <= LEAVES_MAX`, so it is a valid BMT position.
            let position =
                u32::try_from(point.index).map_err(|_| DissectionError::ProofRejected)?;
            elements.push((point.leaf(), position));
        }
        proof
            .verify_multi_inclusion::<Blake3>(&elements, &self.trace_root)
            .map_err(|_| DissectionError::ProofRejected)?;
        self.round += 1;
        self.phase = Phase::AwaitingChallenger { points };
        Ok(())
    }

    /// The challenger names sub-interval `choice` (in `0..=points`); the interval shrinks to it.
    pub fn choose(&mut self, choice: u32) -> Result<(), DissectionError> {
        self.expect_turn(Role::Challenger)?;
        let Phase::AwaitingChallenger { points } = &self.phase else {
            // expect_turn has just established the phase.
            return Err(self.out_of_turn(Role::Challenger));
        };
        let sub_intervals = u32::try_from(points.len() + 1).unwrap_or(u32::MAX);
        if choice >= sub_intervals {
            return Err(DissectionError::ChoiceOutOfRange {
                choice,
                sub_intervals,
            });
        }
        let choice = choice as usize;
        let (lo, lo_leaf) = match choice.checked_sub(1) {
            Some(start) => (points[start].index, Some(points[start])),
            None => (self.lo, self.lo_leaf),
        };
        let (hi, hi_leaf) = match points.get(choice) {
            Some(end) => (end.index, Some(*end)),
            None => (self.hi, self.hi_leaf),
        };
        self.lo = lo;
        self.hi = hi;
        self.lo_leaf = lo_leaf;
        self.hi_leaf = hi_leaf;
        self.phase = if hi == lo + 1 {
            Phase::Resolved { index: lo }
        } else {
            Phase::AwaitingDefender
        };
        Ok(())
    }

    fn expect_turn(&self, mover: Role) -> Result<(), DissectionError> {
        if self.to_move() == Some(mover) {
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
        let bound_ok = |leaf: &Option<RevealedLeaf>, index| leaf.is_none_or(|l| l.index == index);
        if !bound_ok(&self.lo_leaf, self.lo) || !bound_ok(&self.hi_leaf, self.hi) {
            return Err("bound leaf at the wrong index");
        }
        let split = self.hi == self.lo + 1;
        let consistent = match &self.phase {
            Phase::AwaitingDefender => !split,
            Phase::AwaitingChallenger { points } => {
                !split
                    && points
                        .iter()
                        .map(|point| point.index)
                        .eq(split_points(self.lo, self.hi, self.k))
            }
            Phase::Resolved { index } => split && *index == self.lo,
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
        self.lo_leaf.write(buf);
        self.hi_leaf.write(buf);
        match &self.phase {
            Phase::AwaitingDefender => Phase::TAG_AWAITING_DEFENDER.write(buf),
            Phase::AwaitingChallenger { points } => {
                Phase::TAG_AWAITING_CHALLENGER.write(buf);
                points.write(buf);
            }
            Phase::Resolved { index } => {
                Phase::TAG_RESOLVED.write(buf);
                index.write(buf);
            }
        }
    }
}

impl EncodeSize for Dissection {
    fn encode_size(&self) -> usize {
        let phase = 1 + match &self.phase {
            Phase::AwaitingDefender => 0,
            Phase::AwaitingChallenger { points } => points.encode_size(),
            Phase::Resolved { .. } => u64::SIZE,
        };
        u32::SIZE * 2
            + u64::SIZE * 3
            + Digest32::SIZE
            + self.lo_leaf.encode_size()
            + self.hi_leaf.encode_size()
            + phase
    }
}

impl Read for Dissection {
    type Cfg = ();

    /// Refuses any state the transitions cannot reach (parameters, interval, phase, bounds).
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let k = u32::read(buf)?;
        let leaves = u64::read(buf)?;
        let lo = u64::read(buf)?;
        let hi = u64::read(buf)?;
        let round = u32::read(buf)?;
        let trace_root = Digest32::read(buf)?;
        let lo_leaf = Option::<RevealedLeaf>::read(buf)?;
        let hi_leaf = Option::<RevealedLeaf>::read(buf)?;
        let phase = match u8::read(buf)? {
            Phase::TAG_AWAITING_DEFENDER => Phase::AwaitingDefender,
            Phase::TAG_AWAITING_CHALLENGER => Phase::AwaitingChallenger {
                points: Vec::<RevealedLeaf>::read_range(buf, 1..=REVEAL_POINTS_MAX)?,
            },
            Phase::TAG_RESOLVED => Phase::Resolved {
                index: u64::read(buf)?,
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
            lo_leaf,
            hi_leaf,
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

/// A defender's whole trace, ready to answer any round (the provider agent keeps one per
/// disputed job).
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
        // every round's multi-proof is read from it.
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

    /// The reveal for interval `[lo, hi]` at arity `k` (the answer to a game whose
    /// `lo()`, `hi()` and `k()` these are).
    pub fn reveal(&self, lo: u64, hi: u64, k: u32) -> Result<Reveal, DissectionError> {
        let leaves = self.len();
        validate(k, leaves, lo, hi)?;
        let indices = split_points(lo, hi, k);
        let invalid = || DissectionError::IntervalInvalid { lo, hi, leaves };
        let mut positions = Vec::with_capacity(indices.len());
        let mut points = Vec::with_capacity(indices.len());
        for index in indices {
            positions.push(u32::try_from(index).map_err(|_| invalid())?);
            points.push(*self.leaf(index).ok_or_else(invalid)?);
        }
        let proof = self.tree.multi_proof(&positions).map_err(|_| invalid())?;
        Ok(Reveal { points, proof })
    }
}

/// The exact encoded size of the defender's [`Reveal`] for `[lo, hi]` at arity `k` in a trace of
/// `leaves` leaves (0 when the interval has no interior point), computed without the trace: the
/// multi-proof's sibling count depends only on the positions and the leaf count.
pub fn reveal_size(leaves: u64, lo: u64, hi: u64, k: u32) -> Result<usize, DissectionError> {
    validate(k, leaves, lo, hi)?;
    let points = split_points(lo, hi, k);
    if points.is_empty() {
        return Ok(0);
    }
    let siblings = proof_siblings(leaves, &points);
    Ok(points.len().encode_size()
        + points.len() * RevealedLeaf::SIZE
        + u32::SIZE
        + siblings.encode_size()
        + siblings * Digest32::SIZE)
}

/// The number of sibling digests in the BMT multi-proof of `positions` (sorted, distinct, below
/// `leaf_count`): at each level, every known node whose pair partner is neither known nor absent
/// (the last node of an odd level is paired with itself) costs one sibling. This is the rule
/// `bmt::Tree::multi_proof` follows; the tests compare the two.
fn proof_siblings(leaf_count: u64, positions: &[u64]) -> usize {
    let mut current = positions.to_vec();
    let mut level_size = leaf_count;
    let mut siblings = 0;
    while level_size > 1 {
        let mut parents: Vec<u64> = Vec::with_capacity(current.len());
        for (offset, &index) in current.iter().enumerate() {
            let partner = index ^ 1;
            let known = if index.is_multiple_of(2) {
                current.get(offset + 1) == Some(&partner)
            } else {
                offset > 0 && current[offset - 1] == partner
            };
            if partner < level_size && !known {
                siblings += 1;
            }
            if parents.last() != Some(&(index / 2)) {
                parents.push(index / 2);
            }
        }
        current = parents;
        level_size = level_size.div_ceil(2);
    }
    siblings
}

/// The worst a dispute can cost, each maximum taken over every way the challenger can choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisputeCost {
    /// Defender rounds (equals [`rounds_max`]).
    pub rounds: u32,
    /// Encoded bytes of all moves of a whole game: each round's [`Reveal`] and [`Choose`]
    /// (without the transactions that carry them).
    pub bytes: usize,
}

/// The worst-case cost of a game over the whole trace (leaf 0 to the final leaf). Visits every
/// interval the game can reach, about `leaves / (k - 1)` of them at `O(k log leaves)` each: meant
/// for analysis and the simulation, not for block execution.
pub fn worst_case(leaves: u64, k: u32) -> Result<DisputeCost, DissectionError> {
    validate(k, leaves, 0, leaves.saturating_sub(1))?;
    let worst = worst_path(leaves, 0, leaves - 1, k);
    Ok(DisputeCost {
        rounds: worst.rounds,
        bytes: worst.bytes,
    })
}

/// The maxima over the games from `[lo, hi]` and the choices of a game reaching the byte maximum.
struct Worst {
    rounds: u32,
    bytes: usize,
    choices: Vec<u32>,
}

fn worst_path(leaves: u64, lo: u64, hi: u64, k: u32) -> Worst {
    let points = split_points(lo, hi, k);
    if points.is_empty() {
        return Worst {
            rounds: 0,
            bytes: 0,
            choices: Vec::new(),
        };
    }
    let here = reveal_size(leaves, lo, hi, k).unwrap_or(0) + CHOOSE_SIZE;
    let mut starts = vec![lo];
    starts.extend(&points);
    let mut ends = points.clone();
    ends.push(hi);
    let mut worst = Worst {
        rounds: 0,
        bytes: 0,
        choices: Vec::new(),
    };
    for (choice, (start, end)) in (0u32..).zip(starts.into_iter().zip(ends)) {
        let below = worst_path(leaves, start, end, k);
        worst.rounds = worst.rounds.max(below.rounds);
        if below.bytes > worst.bytes || worst.choices.is_empty() {
            worst.bytes = below.bytes;
            worst.choices = [choice].into_iter().chain(below.choices).collect();
        }
    }
    worst.rounds += 1;
    worst.bytes += here;
    worst
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

    /// Plays an honest defender against an honest challenger whose own leaves are `challenger`;
    /// returns the finished game and the encoded bytes of every move.
    fn play(
        defender: &DefenderTrace,
        challenger: &[Digest32],
        mut game: Dissection,
    ) -> (Dissection, usize) {
        let mut bytes = 0;
        let moves_max = 2 * rounds_max(game.leaves(), game.k()) + 2;
        for _ in 0..moves_max {
            let next = match game.to_move() {
                None => return (game, bytes),
                Some(Role::Defender) => {
                    Move::Reveal(defender.reveal(game.lo(), game.hi(), game.k()).unwrap())
                }
                Some(Role::Challenger) => {
                    let Phase::AwaitingChallenger { points } = game.phase() else {
                        unreachable!("the challenger moves only after a reveal")
                    };
                    Move::Choose(Choose::first_disagreement(points, |point| {
                        challenger[point.index as usize] == point.leaf()
                    }))
                }
            };
            bytes += next.encode_size() - 1;
            game.apply(next).unwrap();
        }
        panic!("the game did not end within {moves_max} moves");
    }

    /// Plays a whole-trace game in which the challenger's trace differs from leaf `from` on, and
    /// checks it resolves at segment `from - 1` within `rounds_max` rounds.
    fn check_resolves(seed: u64, n: u64, k: u32, lo: u64, hi: u64, from: u64) {
        let context = format!("seed {seed}, n {n}, k {k}, [{lo}, {hi}], differs from {from}");
        let honest = checkpoints(seed, n + 1);
        let defender = DefenderTrace::new(&honest).unwrap();
        assert_eq!(defender.root(), trace::trace_root(&leaf_hashes(&honest)));
        let challenger = leaf_hashes(&diverge(&honest, from, seed));
        let game = Dissection::open(k, n + 1, lo, hi, defender.root()).unwrap();
        let (game, _) = play(&defender, &challenger, game);
        assert_eq!(game.resolved(), Some(from - 1), "{context}");
        assert!(game.round() <= rounds_max(n + 1, k), "{context}");
        // The bounds the validators need are the defender's own proven leaves.
        for bound in [game.lo_leaf(), game.hi_leaf()].into_iter().flatten() {
            assert_eq!(Some(bound), defender.leaf(bound.index), "{context}");
        }
        assert_eq!(game.lo_leaf().is_none(), game.lo() == lo, "{context}");
        assert_eq!(game.hi_leaf().is_none(), game.hi() == hi, "{context}");
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
                for from in froms {
                    check_resolves(seed, n, k, 0, n, from);
                }
                // A game opened on an interval an audit revealed: [lo, hi] around the difference.
                if n >= 3 {
                    let from = rng.random_range(2..n);
                    let lo = rng.random_range(0..from);
                    let hi = rng.random_range(from..=n);
                    check_resolves(seed, n, k, lo, hi, from);
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
            while game.resolved().is_none() {
                // Only the lengths matter here, so the points are not proven: walk the
                // sub-intervals directly, always into the longest one.
                let mut bounds = vec![game.lo()];
                bounds.extend(split_points(game.lo(), game.hi(), k));
                bounds.push(game.hi());
                let longest = bounds
                    .windows(2)
                    .max_by_key(|pair| pair[1] - pair[0])
                    .unwrap();
                let (lo, hi) = (longest[0], longest[1]);
                game = Dissection::open(k, leaves, lo, hi, *game.trace_root()).unwrap();
                rounds += 1;
            }
            assert_eq!(rounds, rounds_max(leaves, k), "leaves {leaves} k {k}");
            assert_eq!(
                worst_case(leaves, k).unwrap().rounds,
                rounds,
                "leaves {leaves} k {k}"
            );
        }
    }

    #[test]
    fn sizes_match_the_encoding() {
        let seed = 11;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for case in 0..300 {
            let leaves = rng.random_range(2..3_000u64);
            let trace = DefenderTrace::new(&checkpoints(seed + case, leaves)).unwrap();
            let lo = rng.random_range(0..leaves - 1);
            let hi = rng.random_range(lo + 1..leaves);
            let k = rng.random_range(2..=ARITY_MAX);
            let context = format!("seed {seed} case {case}: leaves {leaves} [{lo}, {hi}] k {k}");
            let expected = reveal_size(leaves, lo, hi, k).unwrap();
            if hi == lo + 1 {
                assert_eq!(expected, 0, "{context}");
                continue;
            }
            let reveal = trace.reveal(lo, hi, k).unwrap();
            assert_eq!(reveal.encode_size(), expected, "{context}");
            assert_eq!(reveal.encode().len(), expected, "{context}");
        }
        assert_eq!(Choose { sub_interval: 3 }.encode().len(), CHOOSE_SIZE);
    }

    #[test]
    fn refuses_bad_reveals() {
        let honest = checkpoints(21, 300);
        let defender = DefenderTrace::new(&honest).unwrap();
        let game = Dissection::open_whole(16, 300, defender.root()).unwrap();
        let good = defender.reveal(0, 299, 16).unwrap();
        let check = |points: Vec<RevealedLeaf>, proof: LeafProof, expected: DissectionError| {
            let mut attempt = game.clone();
            assert_eq!(attempt.reveal(points, proof), Err(expected));
            assert_eq!(attempt, game, "a refused move changes nothing");
        };

        // A forged value under an honest proof: a bill inflator's or a cheater's leaf.
        let mut points = good.points.clone();
        points[3].fuel += 1;
        check(points, good.proof.clone(), DissectionError::ProofRejected);
        let mut points = good.points.clone();
        points[0].state_root = content_hash(b"forged");
        check(points, good.proof.clone(), DissectionError::ProofRejected);
        // A tampered sibling, a missing one, an extra one.
        let mut proof = good.proof.clone();
        proof.siblings[0] = content_hash(b"sibling");
        check(good.points.clone(), proof, DissectionError::ProofRejected);
        let mut proof = good.proof.clone();
        proof.siblings.pop();
        check(good.points.clone(), proof, DissectionError::ProofRejected);
        let mut proof = good.proof.clone();
        proof.siblings.push(content_hash(b"extra"));
        check(good.points.clone(), proof, DissectionError::ProofRejected);
        // A valid proof from another trace of the same length.
        let other = DefenderTrace::new(&checkpoints(22, 300)).unwrap();
        let foreign = other.reveal(0, 299, 16).unwrap();
        check(
            foreign.points,
            foreign.proof,
            DissectionError::ProofRejected,
        );
        // A proof over a different number of leaves.
        let longer = DefenderTrace::new(&checkpoints(21, 301)).unwrap();
        let reveal = longer.reveal(0, 299, 16).unwrap();
        check(
            reveal.points,
            reveal.proof,
            DissectionError::ProofLeafCount {
                expected: 300,
                got: 301,
            },
        );
        // Wrong point sets: missing, extra, shifted (with a proof valid for the shifted set).
        let mut points = good.points.clone();
        points.pop();
        check(
            points,
            good.proof.clone(),
            DissectionError::PointCount {
                expected: 15,
                got: 14,
            },
        );
        let mut points = good.points.clone();
        points.push(*defender.leaf(298).unwrap());
        check(
            points,
            good.proof.clone(),
            DissectionError::PointCount {
                expected: 15,
                got: 16,
            },
        );
        let mut shifted = good.points.clone();
        shifted[5] = *defender.leaf(shifted[5].index + 1).unwrap();
        let positions: Vec<u32> = shifted.iter().map(|p| p.index as u32).collect();
        let shifted_proof = defender.tree.multi_proof(&positions).unwrap();
        check(
            shifted,
            shifted_proof,
            DissectionError::PointIndex {
                position: 5,
                expected: good.points[5].index,
                got: good.points[5].index + 1,
            },
        );
        let mut swapped = good.points.clone();
        swapped.swap(0, 1);
        check(
            swapped,
            good.proof.clone(),
            DissectionError::PointIndex {
                position: 0,
                expected: good.points[0].index,
                got: good.points[1].index,
            },
        );

        // The honest reveal is accepted.
        let mut accepted = game.clone();
        accepted.reveal(good.points, good.proof).unwrap();
        assert_eq!(accepted.round(), 1);
        assert_eq!(accepted.to_move(), Some(Role::Challenger));
    }

    #[test]
    fn refuses_moves_out_of_turn_and_range() {
        let honest = checkpoints(31, 40);
        let defender = DefenderTrace::new(&honest).unwrap();
        let mut game = Dissection::open_whole(4, 40, defender.root()).unwrap();
        let before = game.clone();
        assert_eq!(
            game.choose(0),
            Err(DissectionError::OutOfTurn {
                mover: Role::Challenger,
                to_move: Some(Role::Defender),
            })
        );
        assert_eq!(game, before);

        let reveal = defender.reveal(0, 39, 4).unwrap();
        game.apply(Move::Reveal(reveal.clone())).unwrap();
        let before = game.clone();
        assert_eq!(
            game.apply(Move::Reveal(reveal)),
            Err(DissectionError::OutOfTurn {
                mover: Role::Defender,
                to_move: Some(Role::Challenger),
            })
        );
        for choice in [4, 5, u32::MAX] {
            assert_eq!(
                game.choose(choice),
                Err(DissectionError::ChoiceOutOfRange {
                    choice,
                    sub_intervals: 4,
                })
            );
        }
        assert_eq!(game, before);

        // The last sub-interval keeps the opening's disputed leaf, still unrevealed.
        game.choose(3).unwrap();
        assert_eq!((game.lo(), game.hi()), (29, 39));
        assert_eq!(game.lo_leaf(), defender.leaf(29));
        assert_eq!(game.hi_leaf(), None);
        while game.resolved().is_none() {
            let reveal = defender.reveal(game.lo(), game.hi(), 4).unwrap();
            game.apply(Move::Reveal(reveal)).unwrap();
            game.apply(Move::Choose(Choose { sub_interval: 0 }))
                .unwrap();
        }
        assert_eq!(game.resolved(), Some(29));
        assert_eq!(game.hi_leaf(), defender.leaf(30));
        let resolved = game.clone();
        assert_eq!(
            game.choose(0),
            Err(DissectionError::OutOfTurn {
                mover: Role::Challenger,
                to_move: None,
            })
        );
        let any = defender.reveal(0, 39, 4).unwrap();
        assert_eq!(
            game.reveal(any.points, any.proof),
            Err(DissectionError::OutOfTurn {
                mover: Role::Defender,
                to_move: None,
            })
        );
        assert_eq!(game, resolved);
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
        // One segment: nothing to dissect, already resolved.
        let game = Dissection::open_whole(16, 2, root).unwrap();
        assert_eq!(game.resolved(), Some(0));
        assert_eq!(game.round(), 0);
        assert_eq!(
            DefenderTrace::new(&[]).unwrap_err(),
            DissectionError::LeavesOutOfRange { leaves: 0 }
        );
    }

    #[test]
    fn codec_round_trips_and_limits() {
        let honest = checkpoints(41, 500);
        let defender = DefenderTrace::new(&honest).unwrap();
        let mut game = Dissection::open_whole(16, 500, defender.root()).unwrap();
        let mut states = vec![game.clone()];
        let mut moves = Vec::new();
        while game.resolved().is_none() {
            let reveal = Move::Reveal(defender.reveal(game.lo(), game.hi(), 16).unwrap());
            game.apply(reveal.clone()).unwrap();
            states.push(game.clone());
            let choose = Move::Choose(Choose { sub_interval: 1 });
            game.apply(choose.clone()).unwrap();
            states.push(game.clone());
            moves.extend([reveal, choose]);
        }
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
        let Move::Reveal(reveal) = &moves[0] else {
            unreachable!()
        };
        let point = reveal.points[0];
        for count in [0, REVEAL_POINTS_MAX + 1] {
            let oversized = Reveal {
                points: vec![point; count],
                proof: reveal.proof.clone(),
            };
            assert!(matches!(
                Reveal::decode(oversized.encode()),
                Err(CodecError::InvalidLength(_))
            ));
        }
        // A proof with more siblings than its points can need is refused.
        let bloated = Reveal {
            points: vec![point],
            proof: LeafProof {
                leaf_count: 500,
                siblings: vec![point.state_root; bmt::MAX_LEVELS + 1],
            },
        };
        assert!(Reveal::decode(bloated.encode()).is_err());

        // States the game cannot reach are refused.
        let root = defender.root();
        let unreachable_states = [
            Dissection {
                lo: 499,
                ..Dissection::open_whole(16, 500, root).unwrap()
            },
            Dissection {
                phase: Phase::Resolved { index: 0 },
                ..Dissection::open_whole(16, 500, root).unwrap()
            },
            Dissection {
                round: 4,
                ..Dissection::open_whole(16, 500, root).unwrap()
            },
            Dissection {
                k: 1,
                ..Dissection::open_whole(16, 500, root).unwrap()
            },
            Dissection {
                hi_leaf: Some(point),
                ..Dissection::open_whole(16, 500, root).unwrap()
            },
            Dissection {
                phase: Phase::AwaitingChallenger {
                    points: vec![point],
                },
                ..Dissection::open_whole(16, 500, root).unwrap()
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
    /// <= 5 KB on chain per dispute). Run with `--nocapture` to see them; the asserts pin them.
    #[test]
    fn dispute_bytes_report() {
        let target_bytes = 5 * 1024;
        for (n, k, rounds, bytes) in [(4096u64, 16u32, 3u32, 8_526usize), (65_535, 16, 4, 15_337)] {
            let leaves = n + 1;
            let cost = worst_case(leaves, k).unwrap();
            // Replay the worst path with real proofs: every byte is an encoded move.
            let worst = worst_path(leaves, 0, n, k);
            let defender = DefenderTrace::new(&checkpoints(51, leaves)).unwrap();
            let mut game = Dissection::open_whole(k, leaves, defender.root()).unwrap();
            let mut per_round = Vec::new();
            for &choice in &worst.choices {
                let reveal = defender.reveal(game.lo(), game.hi(), k).unwrap();
                let size = reveal.encode_size();
                let siblings = reveal.proof.siblings.len();
                game.reveal(reveal.points, reveal.proof).unwrap();
                game.choose(choice).unwrap();
                per_round.push((size, siblings));
            }
            assert!(game.resolved().is_some());
            let replayed: usize = per_round.iter().map(|(size, _)| size + CHOOSE_SIZE).sum();
            assert_eq!(replayed, cost.bytes, "n {n} k {k}");
            println!(
                "n = {n} segments ({leaves} leaves), k = {k}: {} rounds, worst case {} bytes of \
                 moves ({}), per round reveal bytes (siblings) {:?} + {CHOOSE_SIZE} per choice; \
                 target {target_bytes}: {}",
                cost.rounds,
                cost.bytes,
                if cost.bytes <= target_bytes {
                    "meets"
                } else {
                    "over"
                },
                per_round,
                cost.bytes as i64 - target_bytes as i64,
            );
            assert_eq!((cost.rounds, cost.bytes), (rounds, bytes), "n {n} k {k}");
        }
        // The trade-off behind the miss: fewer proof bytes need a smaller arity, so more rounds.
        for k in [2, 4, 8, 16, 32, 64] {
            let cost = worst_case(4097, k).unwrap();
            println!(
                "n = 4096, k = {k}: {} rounds, worst case {} bytes",
                cost.rounds, cost.bytes
            );
        }
    }
}
