//! The wire moves of FuelTrace's dissection game and their codec: what a `DisputeMove`
//! transaction carries.
//!
//! The defender reveals its leaf hashes at the split points of the disputed interval
//! ([`Reveal`]), the challenger names the sub-interval whose end it disagrees with ([`Choose`]),
//! and at two adjacent leaves the defender proves both under its trace root ([`Prove`]). The game
//! that orders these moves, checks them and stores its state (`Dissection`), its sizing and each
//! role's strategy are pure protocol and live in `plexus_fueltrace`; this module keeps only what
//! must decode from untrusted bytes, with explicit limits: at most [`REVEAL_POINTS_MAX`] points a
//! reveal, [`PROVE_SIBLINGS_MAX`] siblings a proof, so no move is larger than [`MOVE_SIZE_MAX`].

use crate::hash::ContentHash;
use crate::trace::{self, LeafProof};
use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, ReadRangeExt, Write,
};
use commonware_storage::bmt;

/// The largest arity a game may use: bounds the points (and so the bytes) of one reveal, so the
/// decoder of a [`Reveal`] needs it; the game (`plexus_fueltrace::dissection`) re-exports it.
pub const ARITY_MAX: u32 = 64;
/// The most points one reveal carries.
pub const REVEAL_POINTS_MAX: usize = (ARITY_MAX - 1) as usize;
/// The encoded size of a [`Choose`] move's body, in bytes.
pub const CHOOSE_SIZE: usize = u32::SIZE;
/// The most sibling digests a decoded [`Prove`] may carry: two paths through a tree of at most
/// `bmt::MAX_LEVELS` levels (a real proof of two adjacent
/// leaves of a trace of at most `u32::MAX` leaves, the game's limit, has at most 62).
pub const PROVE_SIBLINGS_MAX: usize = 2 * bmt::MAX_LEVELS;
/// The encoded size of the largest [`Move`] that decodes: a [`Prove`] with `PROVE_SIBLINGS_MAX`
/// siblings (tag, two leaves, leaf count, one-byte length, digests), which is larger than a
/// reveal of `REVEAL_POINTS_MAX` points (2,018 bytes). Every move fits a transaction.
pub const MOVE_SIZE_MAX: usize =
    1 + 2 * RevealedLeaf::SIZE + u32::SIZE + 1 + PROVE_SIBLINGS_MAX * ContentHash::SIZE;

/// The preimage of one leaf of the defender's trace: `trace::leaf(index, fuel, state_root)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevealedLeaf {
    /// The leaf's index in the trace.
    pub index: u64,
    /// Cumulative fuel at that checkpoint.
    pub fuel: u64,
    /// The state root at that checkpoint (or the trap root of a trap leaf).
    pub state_root: ContentHash,
}

impl RevealedLeaf {
    /// The leaf hash this preimage commits to.
    pub fn leaf(&self) -> ContentHash {
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
    const SIZE: usize = u64::SIZE + u64::SIZE + ContentHash::SIZE;
}

impl Read for RevealedLeaf {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(RevealedLeaf {
            index: u64::read(buf)?,
            fuel: u64::read(buf)?,
            state_root: ContentHash::read(buf)?,
        })
    }
}

/// The defender's mid-game move: its leaf hashes at the split points, unproven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The leaf hashes at `split_points(lo, hi, k)`, in order.
    pub points: Vec<ContentHash>,
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
            points: Vec::<ContentHash>::read_range(buf, 1..=REVEAL_POINTS_MAX)?,
        })
    }
}

/// The challenger's move: sub-interval `j` runs from point `j - 1` (or `lo`) to point `j` (or `hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choose {
    /// The sub-interval whose end the challenger disagrees with (and whose start it agrees with).
    pub sub_interval: u32,
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Copying, DecodeExt as _, Encode as _};

    /// One move of each kind, the proof a real one over a small trace.
    fn moves() -> Vec<Move> {
        let leaf = |index: u64| RevealedLeaf {
            index,
            fuel: index * 10,
            state_root: ContentHash::of(&index.to_le_bytes()),
        };
        let leaves: Vec<ContentHash> = (0..9).map(|index| leaf(index).leaf()).collect();
        let proof = trace::prove_leaf(&leaves, 4).unwrap();
        vec![
            Move::Reveal(Reveal {
                points: leaves[1..4].to_vec(),
            }),
            Move::Choose(Choose { sub_interval: 2 }),
            Move::Prove(Prove {
                lo: leaf(4),
                hi: leaf(5),
                proof,
            }),
        ]
    }

    #[test]
    fn codec_round_trips_and_limits() {
        for next in moves() {
            let encoded = next.encode();
            assert_eq!(encoded.len(), next.encode_size());
            assert_eq!(Move::decode(encoded.clone()).unwrap(), next);
            let mut extra = encoded.to_vec();
            extra.push(0);
            assert!(matches!(
                Move::decode(Copying(&extra)),
                Err(CodecError::ExtraData(1))
            ));
            assert!(Move::decode(Copying(&encoded[..encoded.len() - 1])).is_err());
        }
        assert!(matches!(
            Move::decode(Copying(&[7u8, 0, 0, 0, 0])),
            Err(CodecError::InvalidEnum(7))
        ));

        // More points than any arity allows, and no points, are refused before reading them.
        let hash = ContentHash::of(b"point");
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
        let Some(Move::Prove(prove)) = moves().pop() else {
            unreachable!()
        };
        let mut widest = prove;
        widest.proof.siblings = vec![hash; PROVE_SIBLINGS_MAX];
        let encoded = Move::Prove(widest.clone()).encode();
        assert_eq!(encoded.len(), MOVE_SIZE_MAX);
        assert_eq!(Move::decode(encoded).unwrap(), Move::Prove(widest.clone()));
        widest.proof.siblings.push(hash);
        assert!(matches!(
            Move::decode(Move::Prove(widest).encode()),
            Err(CodecError::InvalidLength(_))
        ));
    }
}
