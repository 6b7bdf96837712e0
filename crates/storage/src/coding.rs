//! A segment as `n` shards of which any `k` rebuild it: `commonware-coding`'s systematic
//! `ReedSolomon` over BLAKE3, and the commitment a deal names.
//!
//! What Commonware's `ReedSolomon<Blake3>` (version 2026.10.0, read in its source) builds, and so
//! what this module defines as the protocol:
//!
//! - The segment is prefixed with its length as a big-endian `u32` and zero-padded to `k` shards
//!   of [`Shape::shard_len`] bytes each: `ceil((len + 4) / k)`, rounded up to an even number (its
//!   field works on 16-bit symbols). Shards `0..k` are those bytes (systematic: reading them
//!   needs no decoding); shards `k..n` are the Reed-Solomon recovery shards.
//! - The [`Commitment`] is a Commonware BMT (BLAKE3) over the `n` shard digests `BLAKE3(shard)`
//!   in shard order: each leaf is hashed with its position, and the root is finalized with the
//!   leaf count, so it binds `n`, every shard's bytes and position, and so the segment's length
//!   (in shard 0's prefix) and the shard length. It does not name `k`: the deal does, and a strict
//!   [`decode`] under another `k` re-encodes to another root and is refused.
//! - A shard's proof ([`Shard::proof`]) is the BMT path of its digest. The challenge proof of
//!   the `proof` module extends it downwards with BLAKE3's own tree inside the shard, so a chunk
//!   reaches the commitment as `../shared/STORAGE.md` describes, with no layout of our own.
//!
//! Commonware's shard container (`Chunk`) keeps its fields private and is built only by
//! `encode` or by decoding its wire form, so shards cross into and out of it through that wire
//! form (`varint len | bytes | index u16 | proof`); the known-answer test pins the result.
//!
//! Nothing upstream promises these bytes stay the same across versions, and repair depends on
//! a repairer re-encoding exactly the shard that was lost: a Commonware upgrade that changes a
//! shard digest or a commitment in `known_answers_pin_the_shard_bytes` is a protocol change.
//!
//! Every function takes a Commonware [`Strategy`]: `Sequential` in the chain and in tests, a
//! thread pool where a client encodes a large file. Pure: no I/O, no clock.

use crate::segment::SEGMENT_BYTES_MAX;
use bytes::{Bytes, BytesMut};
use commonware_codec::{
    Encode as _, Error as CodecError, FixedSize as _, RangeCfg, Read, ReadExt as _,
    ReadRangeExt as _, Write as _,
};
use commonware_coding::{Config, ReedSolomon, ReedSolomonError, Scheme};
use commonware_cryptography::{Hasher as _, reed_solomon::Encoder};
use commonware_parallel::Strategy;
use plexus_types::ContentHash;
use plexus_types::hash::ContentHasher;
use plexus_types::storage::{COMMITMENT_PATH_MAX, CommitmentProof};
use std::num::NonZeroU16;

/// The erasure code: Commonware's Reed-Solomon with BLAKE3 digests typed as [`ContentHash`]
/// (`ContentHasher` is Commonware's `Blake3`, the same bytes).
type Code = ReedSolomon<ContentHasher>;

/// The root a deal names for a segment: a BMT over `BLAKE3(shard)` for the `n` shards.
pub type Commitment = ContentHash;

/// Bytes of the big-endian length prefix the code puts before the segment in shard 0.
pub const LENGTH_PREFIX_BYTES: u64 = 4;

/// Why shards could not be made, checked or read back.
#[derive(Debug, thiserror::Error)]
pub enum CodingError {
    /// `k` and `n` do not make a code Commonware supports.
    #[error("k = {k} of n = {n} is not a supported code (1 <= k < n <= 65,535)")]
    Shape {
        /// Shards that rebuild the segment.
        k: u16,
        /// Shards in all.
        n: u16,
    },
    /// The segment is longer than a segment may be.
    #[error("a segment of {len} bytes is longer than {SEGMENT_BYTES_MAX}")]
    TooLong {
        /// Its length.
        len: u64,
    },
    /// A shard names an index the code does not have.
    #[error("shard {index} is not one of the {n} shards")]
    Index {
        /// The index named.
        index: u16,
        /// Shards in all.
        n: u16,
    },
    /// A shard is not as long as the deal's shards.
    #[error("shard {index} is {len} bytes, the deal's shards are {expected}")]
    Length {
        /// The shard.
        index: u16,
        /// Its length.
        len: u64,
        /// The deal's shard length.
        expected: u64,
    },
    /// A shard's bytes or proof do not match the commitment at its index.
    #[error("shard {index} does not match the commitment")]
    Mismatch {
        /// The shard.
        index: u16,
    },
    /// The same shard was given twice.
    #[error("shard {index} was given twice")]
    Duplicate {
        /// The shard.
        index: u16,
    },
    /// Fewer shards than rebuild the segment.
    #[error("{got} distinct shards given, {k} needed")]
    NotEnough {
        /// Shards given.
        got: usize,
        /// Shards needed.
        k: u16,
    },
    /// The systematic read was not given exactly shards `0..k` in order.
    #[error("the systematic read needs shards 0..{k} in order")]
    NotSystematic {
        /// Shards needed.
        k: u16,
    },
    /// The shards match the commitment one by one but are not one encoding of one segment
    /// (a dishonest upload): their decoding re-encodes to another commitment, or its length
    /// prefix or padding is not the code's.
    #[error("the shards are not one consistent encoding of the commitment")]
    Inconsistent,
    /// Commonware's shard container no longer has the wire form this module reads (a version
    /// change the known-answer test also catches).
    #[error("commonware-coding's shard layout changed")]
    Layout,
    /// The Reed-Solomon backend refused (it should not, for a valid shape and shards).
    #[error("reed-solomon: {0}")]
    Backend(ReedSolomonError),
}

/// A code's shape: any `k` of `n` shards rebuild a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shape {
    k: u16,
    n: u16,
}

impl Shape {
    /// The shape `k` of `n`, if Commonware's Reed-Solomon supports it (`1 <= k < n`).
    pub fn new(k: u16, n: u16) -> Result<Shape, CodingError> {
        if k == 0 || n <= k || !Encoder::supports(usize::from(k), usize::from(n - k)) {
            return Err(CodingError::Shape { k, n });
        }
        Ok(Shape { k, n })
    }

    /// Shards that rebuild a segment.
    pub const fn k(&self) -> u16 {
        self.k
    }

    /// Shards in all.
    pub const fn n(&self) -> u16 {
        self.n
    }

    /// The length of every shard of a segment of `segment_len` bytes (`None` above
    /// [`SEGMENT_BYTES_MAX`]): `ceil((len + 4) / k)` rounded up to even, as Commonware lays it
    /// out (a test checks this against real encodings).
    pub fn shard_len(&self, segment_len: u64) -> Option<u64> {
        if segment_len > SEGMENT_BYTES_MAX {
            return None;
        }
        let len = (segment_len + LENGTH_PREFIX_BYTES).div_ceil(u64::from(self.k));
        Some(len + len % 2)
    }

    fn config(&self) -> Config {
        Config {
            minimum_shards: NonZeroU16::new(self.k).expect("k >= 1 by construction"),
            extra_shards: NonZeroU16::new(self.n - self.k).expect("n > k by construction"),
        }
    }
}

/// One shard as a holder stores and serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Its position in the code, `0..n` (`0..k` hold the segment's bytes).
    pub index: u16,
    /// Its bytes; their BLAKE3 hash is its name in the blob store.
    pub bytes: Bytes,
    /// The BMT path of `BLAKE3(bytes)` to the commitment, at `index`.
    pub proof: CommitmentProof,
}

impl Shard {
    /// The shard's BLAKE3 digest, its leaf in the commitment and its name in the blob store.
    pub fn digest(&self) -> ContentHash {
        ContentHash::of(&self.bytes)
    }
}

/// A shard's wire form, as the provider's shard routes carry it (`access`): its index (`u16`),
/// its commitment path (leaf count `u32`, then at most `COMMITMENT_PATH_MAX` siblings), then
/// its bytes (varint length). Read with the byte lengths the reader accepts (a holder: exactly
/// the deal's shard length), so no length a sender names is allocated before it is checked.
/// The most bytes a shard's wire form adds to its bytes: the index, the commitment path (leaf
/// count, sibling count, at most `COMMITMENT_PATH_MAX` siblings) and the bytes' varint length.
pub const SHARD_WIRE_OVERHEAD_MAX: u64 =
    2 + 4 + 1 + (COMMITMENT_PATH_MAX * ContentHash::SIZE) as u64 + 5;

impl commonware_codec::Write for Shard {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.index.write(buf);
        self.proof.write(buf);
        self.bytes.write(buf);
    }
}

impl commonware_codec::EncodeSize for Shard {
    fn encode_size(&self) -> usize {
        self.index.encode_size() + self.proof.encode_size() + self.bytes.encode_size()
    }
}

impl Read for Shard {
    type Cfg = RangeCfg<usize>;

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        lengths: &RangeCfg<usize>,
    ) -> Result<Self, CodecError> {
        let index = u16::read(buf)?;
        let leaf_count = u32::read(buf)?;
        let siblings = Vec::<ContentHash>::read_range(buf, ..=COMMITMENT_PATH_MAX)?;
        let bytes = Bytes::read_cfg(buf, lengths)?;
        Ok(Shard {
            index,
            bytes,
            proof: CommitmentProof {
                leaf_count,
                siblings,
            },
        })
    }
}

/// A segment encoded for upload: its commitment and its `n` shards in index order.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The root the deal names.
    pub commitment: Commitment,
    /// Shards `0..n`, each with its proof.
    pub shards: Vec<Shard>,
}

/// Encodes a segment of at most [`SEGMENT_BYTES_MAX`] bytes into the shape's `n` shards.
pub fn encode(
    shape: Shape,
    segment: &[u8],
    strategy: &impl Strategy,
) -> Result<Encoded, CodingError> {
    let len = segment.len() as u64;
    if len > SEGMENT_BYTES_MAX {
        return Err(CodingError::TooLong { len });
    }
    let (commitment, chunks) =
        Code::encode(&shape.config(), segment, strategy).map_err(CodingError::Backend)?;
    let shards = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| from_chunk(index, chunk))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Encoded { commitment, shards })
}

/// Checks one shard of a segment of `segment_len` bytes against the deal's commitment: what a
/// provider does before it accepts (index in range, the deal's shard length, the BMT path).
pub fn check(
    shape: Shape,
    segment_len: u64,
    commitment: &Commitment,
    shard: &Shard,
) -> Result<(), CodingError> {
    let index = shard.index;
    if index >= shape.n {
        return Err(CodingError::Index { index, n: shape.n });
    }
    let expected = shape
        .shard_len(segment_len)
        .ok_or(CodingError::TooLong { len: segment_len })?;
    let len = shard.bytes.len() as u64;
    if len != expected {
        return Err(CodingError::Length {
            index,
            len,
            expected,
        });
    }
    check_digest(shape, commitment, shard, &shard.digest())
}

/// Whether `digest` at the shard's index, with the shard's proof, reaches the commitment of an
/// `n`-shard code.
fn check_digest(
    shape: Shape,
    commitment: &Commitment,
    shard: &Shard,
    digest: &ContentHash,
) -> Result<(), CodingError> {
    let mismatch = CodingError::Mismatch { index: shard.index };
    if shard.proof.leaf_count != u32::from(shape.n) {
        return Err(mismatch);
    }
    shard
        .proof
        .verify_element_inclusion::<ContentHasher>(digest, u32::from(shard.index), commitment)
        .map_err(|_| mismatch)
}

/// Rebuilds a segment from any `k` distinct shards (more are checked, the surplus unused), in
/// any order. Strict: every shard is checked against the commitment, and the decoded segment is
/// re-encoded and its root compared, so shards that match one by one but are not one encoding
/// are refused ([`CodingError::Inconsistent`]).
pub fn decode(
    shape: Shape,
    commitment: &Commitment,
    shards: &[Shard],
    strategy: &impl Strategy,
) -> Result<Vec<u8>, CodingError> {
    let config = shape.config();
    let mut seen = vec![false; usize::from(shape.n)];
    let mut checked = Vec::with_capacity(shards.len());
    for shard in shards {
        let index = shard.index;
        let slot = seen
            .get_mut(usize::from(index))
            .ok_or(CodingError::Index { index, n: shape.n })?;
        if std::mem::replace(slot, true) {
            return Err(CodingError::Duplicate { index });
        }
        let chunk = to_chunk(config, shard)?;
        let mismatch = |_| CodingError::Mismatch { index };
        checked.push(Code::check(&config, commitment, index, &chunk, strategy).map_err(mismatch)?);
    }
    if checked.len() < usize::from(shape.k) {
        return Err(CodingError::NotEnough {
            got: checked.len(),
            k: shape.k,
        });
    }
    Code::decode(&config, commitment, checked.iter(), strategy).map_err(|error| match error {
        ReedSolomonError::Inconsistent | ReedSolomonError::CommitmentMismatch => {
            CodingError::Inconsistent
        }
        other => CodingError::Backend(other),
    })
}

/// What a repairer does: shards `wanted` of a segment, rebuilt from any `k` of its other
/// shards. The segment is [`decode`]d strictly, re-encoded, and the re-encoding's root must be
/// the commitment, so each shard returned is byte for byte the one the deal committed, with its
/// proof (what its holder checked, stores and proves).
///
/// The strict decode re-encodes once inside Commonware and this once more: two encodings per
/// repaired segment, for any number of its shards.
pub fn rebuild(
    shape: Shape,
    commitment: &Commitment,
    shards: &[Shard],
    wanted: &[u16],
    strategy: &impl Strategy,
) -> Result<Vec<Shard>, CodingError> {
    if let Some(&index) = wanted.iter().find(|&&index| index >= shape.n) {
        return Err(CodingError::Index { index, n: shape.n });
    }
    let segment = decode(shape, commitment, shards, strategy)?;
    let encoded = encode(shape, &segment, strategy)?;
    if encoded.commitment != *commitment {
        return Err(CodingError::Inconsistent);
    }
    Ok(wanted
        .iter()
        .map(|&index| encoded.shards[usize::from(index)].clone())
        .collect())
}

/// The usual read: shards `0..k` in order, each checked against the commitment, and the
/// segment's bytes in them, in order, without decoding: the length prefix and padding removed
/// (and checked), no byte copied (the parts share the shards' buffers; a reader writes them to
/// its output in turn, or concatenates them).
///
/// Each shard is exactly the one committed, so this returns what the committed systematic
/// shards hold; unlike [`decode`] it does not check the recovery shards agree (a dishonest
/// uploader can only have made its own file unrepairable, and repair decodes strictly).
pub fn read_systematic(
    shape: Shape,
    commitment: &Commitment,
    shards: &[Shard],
    strategy: &impl Strategy,
) -> Result<Vec<Bytes>, CodingError> {
    let in_order = shards.len() == usize::from(shape.k)
        && shards.iter().zip(0u16..).all(|(shard, i)| shard.index == i);
    if !in_order {
        return Err(CodingError::NotSystematic { k: shape.k });
    }
    let shard_len = shards[0].bytes.len();
    if let Some(other) = shards.iter().find(|shard| shard.bytes.len() != shard_len) {
        return Err(CodingError::Length {
            index: other.index,
            len: other.bytes.len() as u64,
            expected: shard_len as u64,
        });
    }
    let slices: Vec<&[u8]> = shards.iter().map(|shard| &shard.bytes[..]).collect();
    let digests = ContentHasher::hash_many(&slices, strategy);
    for (shard, digest) in shards.iter().zip(&digests) {
        check_digest(shape, commitment, shard, digest)?;
    }
    unpad(shape, shards, shard_len)
}

/// The segment inside systematic shards: the length prefix read, the shard length checked
/// against it, the bytes after the prefix sliced out and the padding checked to be zeros.
fn unpad(shape: Shape, shards: &[Shard], shard_len: usize) -> Result<Vec<Bytes>, CodingError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES as usize];
    let mut filled = 0;
    for shard in shards {
        let take = (prefix.len() - filled).min(shard.bytes.len());
        prefix[filled..filled + take].copy_from_slice(&shard.bytes[..take]);
        filled += take;
    }
    let len = u64::from(u32::from_be_bytes(prefix));
    if shape.shard_len(len) != Some(shard_len as u64) {
        return Err(CodingError::Inconsistent);
    }
    let mut parts = Vec::with_capacity(shards.len());
    let mut skip = prefix.len();
    let mut left = len as usize;
    for shard in shards {
        let start = skip.min(shard.bytes.len());
        skip -= start;
        let take = left.min(shard.bytes.len() - start);
        if take > 0 {
            parts.push(shard.bytes.slice(start..start + take));
        }
        left -= take;
        if shard.bytes[start + take..].iter().any(|byte| *byte != 0) {
            return Err(CodingError::Inconsistent);
        }
    }
    Ok(parts)
}

/// A shard out of Commonware's container, through its wire form.
fn from_chunk(index: usize, chunk: &<Code as Scheme>::Shard) -> Result<Shard, CodingError> {
    let mut wire = chunk.encode();
    let bytes = Bytes::read_cfg(&mut wire, &RangeCfg::new(..)).map_err(|_| CodingError::Layout)?;
    let read_index = u16::read(&mut wire).map_err(|_| CodingError::Layout)?;
    let proof = CommitmentProof::read_cfg(&mut wire, &1).map_err(|_| CodingError::Layout)?;
    if usize::from(read_index) != index || !wire.is_empty() {
        return Err(CodingError::Layout);
    }
    Ok(Shard {
        index: read_index,
        bytes,
        proof,
    })
}

/// A shard into Commonware's container, through its wire form.
fn to_chunk(config: Config, shard: &Shard) -> Result<<Code as Scheme>::Shard, CodingError> {
    let mut wire = BytesMut::new();
    shard.bytes.write(&mut wire);
    shard.index.write(&mut wire);
    shard.proof.write(&mut wire);
    let mut wire = wire.freeze();
    // The container bounds a shard's width by the widest shard of a maximal segment.
    let cfg = (config, SEGMENT_BYTES_MAX as usize);
    // A shard wider than any segment's shard, or a proof longer than any tree's, cannot match.
    <Code as Scheme>::Shard::read_cfg(&mut wire, &cfg)
        .map_err(|_| CodingError::Mismatch { index: shard.index })
}

#[cfg(test)]
mod tests;
