//! The storage market's wire values: what a holder answers a challenge with ([`ChunkProof`]).
//!
//! A storage deal names a segment's commitment: the root of a Commonware BMT (BLAKE3) over the
//! `n` shard digests `BLAKE3(shard)` in shard order, as `commonware-coding`'s `ReedSolomon` builds
//! it. The chain challenges one [`CHUNK_BYTES`] chunk of one shard; the holder answers with the
//! chunk, the chunk's path up BLAKE3's own tree to `BLAKE3(shard)`, and the BMT path of that
//! digest up to the commitment. Building and checking proofs is protocol and lives in
//! `plexus_storage::proof`; this module keeps only what must decode from untrusted bytes, each
//! length bounded by a named constant, so no proof that decodes is larger than
//! [`CHUNK_PROOF_SIZE_MAX`].

use crate::content_tree;
use crate::hash::ContentHash;
use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, ReadRangeExt, Write,
};
use commonware_storage::bmt;

/// The challenged unit of a shard, in bytes: one BLAKE3 chunk (the last chunk of a shard may be
/// shorter).
pub const CHUNK_BYTES: usize = content_tree::CHUNK_BYTES as usize;

/// The longest shard, in bytes: `commonware-coding` keeps a shard's width in a `u32`.
pub const SHARD_BYTES_MAX: u64 = u32::MAX as u64;

/// The most chaining values a BLAKE3 path carries: a shard of at most [`SHARD_BYTES_MAX`] bytes
/// has at most 2^22 chunks, and BLAKE3's tree over them is at most 22 levels deep.
pub const BLAKE3_PATH_MAX: usize = 22;

/// The most sibling digests a commitment path carries. `commonware-coding` counts shards in a
/// `u16`, so a commitment has at most 65,535 leaves and a path at most 16 siblings.
pub const COMMITMENT_PATH_MAX: usize = 16;

/// A BLAKE3 chaining value: a subtree's 32-byte value before the root (`[u8; 32]`).
pub use crate::content_tree::ChainingValue;

/// The proof that a shard digest is leaf `shard_index` of a segment commitment (decoded with at
/// most [`COMMITMENT_PATH_MAX`] siblings).
pub type CommitmentProof = bmt::Proof<ContentHash>;

/// The encoded size of the largest [`ChunkProof`] that decodes: a full chunk (two-byte length),
/// a full BLAKE3 path (one-byte count) and a full commitment path (leaf count, one-byte count).
pub const CHUNK_PROOF_SIZE_MAX: usize = 2
    + CHUNK_BYTES
    + 1
    + BLAKE3_PATH_MAX * ChainingValue::SIZE
    + u32::SIZE
    + 1
    + COMMITMENT_PATH_MAX * ContentHash::SIZE;

/// A holder's answer to the challenge of one chunk of one shard.
///
/// Which shard and chunk, the shard's length and the commitment are the verifier's (the deal and
/// the challenge name them), not the prover's: the proof carries only what they cannot know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkProof {
    /// The challenged chunk's bytes: [`CHUNK_BYTES`], or fewer for a shard's last chunk.
    pub chunk: Vec<u8>,
    /// The chaining values of the chunk's siblings in BLAKE3's tree of the shard, from the
    /// chunk's level up to the root's children; empty for a single-chunk shard.
    pub path: Vec<ChainingValue>,
    /// The BMT proof of `BLAKE3(shard)` as leaf `shard_index` of the commitment.
    pub commitment_path: CommitmentProof,
}

impl Write for ChunkProof {
    fn write(&self, buf: &mut impl BufMut) {
        self.chunk.write(buf);
        self.path.write(buf);
        self.commitment_path.write(buf);
    }
}

impl EncodeSize for ChunkProof {
    fn encode_size(&self) -> usize {
        self.chunk.encode_size() + self.path.encode_size() + self.commitment_path.encode_size()
    }
}

impl Read for ChunkProof {
    type Cfg = ();

    /// A chunk of 1 to [`CHUNK_BYTES`] bytes, at most [`BLAKE3_PATH_MAX`] chaining values and at
    /// most [`COMMITMENT_PATH_MAX`] siblings; each count is checked before its items are read.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let chunk = Vec::<u8>::read_range(buf, 1..=CHUNK_BYTES)?;
        let path = Vec::<ChainingValue>::read_range(buf, ..=BLAKE3_PATH_MAX)?;
        // The same bytes `bmt::Proof` reads, with our tighter bound on the siblings.
        let leaf_count = u32::read(buf)?;
        let siblings = Vec::<ContentHash>::read_range(buf, ..=COMMITMENT_PATH_MAX)?;
        Ok(ChunkProof {
            chunk,
            path,
            commitment_path: CommitmentProof {
                leaf_count,
                siblings,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Copying, Decode as _, DecodeExt as _, Encode as _};

    /// A proof with `chunk` bytes, `path` chaining values and `siblings` commitment siblings.
    fn proof(chunk: usize, path: usize, siblings: usize) -> ChunkProof {
        ChunkProof {
            chunk: (0..chunk).map(|i| i as u8).collect(),
            path: (0..path).map(|i| [i as u8; 32]).collect(),
            commitment_path: CommitmentProof {
                leaf_count: 40,
                siblings: (0..siblings).map(|i| ContentHash::of(&[i as u8])).collect(),
            },
        }
    }

    #[test]
    fn codec_round_trips_and_refuses_extra_or_missing_bytes() {
        for sample in [
            proof(1, 0, 0),
            proof(1_000, 3, 2),
            proof(CHUNK_BYTES, 12, 6),
        ] {
            let encoded = sample.encode();
            assert_eq!(encoded.len(), sample.encode_size());
            assert_eq!(ChunkProof::decode(encoded.clone()).unwrap(), sample);
            let mut extra = encoded.to_vec();
            extra.push(0);
            assert!(matches!(
                ChunkProof::decode(Copying(&extra)),
                Err(CodecError::ExtraData(1))
            ));
            for cut in [0, 1, encoded.len() / 2, encoded.len() - 1] {
                assert!(
                    ChunkProof::decode(Copying(&encoded[..cut])).is_err(),
                    "{cut} of {} bytes decoded",
                    encoded.len()
                );
            }
        }
    }

    #[test]
    fn every_length_is_bounded() {
        let widest = proof(CHUNK_BYTES, BLAKE3_PATH_MAX, COMMITMENT_PATH_MAX);
        let encoded = widest.encode();
        assert_eq!(encoded.len(), CHUNK_PROOF_SIZE_MAX);
        assert_eq!(ChunkProof::decode_cfg(encoded, &()).unwrap(), widest);
        for (name, over) in [
            ("empty chunk", proof(0, 1, 1)),
            ("long chunk", proof(CHUNK_BYTES + 1, 1, 1)),
            ("long path", proof(8, BLAKE3_PATH_MAX + 1, 1)),
            ("long commitment path", proof(8, 1, COMMITMENT_PATH_MAX + 1)),
        ] {
            assert!(
                matches!(
                    ChunkProof::decode(over.encode()),
                    Err(CodecError::InvalidLength(_))
                ),
                "{name} decoded"
            );
        }
    }

    /// A 4 MiB shard (4,096 chunks, 12 levels) at n = 40 (6 levels): 1,608 bytes.
    #[test]
    fn a_proof_for_a_four_mebibyte_shard_at_forty_shards_is_about_one_and_a_half_kilobytes() {
        assert_eq!(proof(CHUNK_BYTES, 12, 6).encode_size(), 1_608);
    }
}
