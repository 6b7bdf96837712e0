//! Chunk proofs: a holder's answer to the challenge of one chunk of one shard, and its check.
//!
//! A [`ChunkProof`] reaches the deal's commitment in two steps, both over BLAKE3:
//!
//! 1. Inside the shard, BLAKE3's own tree over its [`CHUNK_BYTES`] chunks
//!    (`plexus_types::content_tree`): the chunk's chaining value at its offset, merged with the
//!    sibling chaining values of [`ChunkProof::path`] (leaf upwards), gives `BLAKE3(shard)`, the
//!    shard's name. The verifier derives the tree's shape from the deal's shard length, so it
//!    knows how many siblings to expect, on which side each sits, and how long the chunk is (the
//!    last chunk of a shard may be shorter); a shard of one chunk has no path and its digest is
//!    the chunk's BLAKE3 hash.
//! 2. Between shards, the commitment's BMT (`crate::coding`): the BMT proof of that digest at
//!    the shard's index, with the code's `n` leaves.
//!
//! So the chain checks a proof with a BLAKE3 chunk hash and about `log2(chunks) + log2(n) + 2`
//! 64-byte hashes, and knows nothing of the shard but its length. A 4 MiB shard at n = 40 has a
//! proof of 1,608 bytes (1,024 of chunk, 12 chaining values, 6 BMT siblings and the lengths). A
//! real shard of a 64 MiB segment at k = 16 is 2 bytes longer (the code's length prefix), 4,097
//! chunks, so its first 4,096 chunks sit one level deeper: 1,640 bytes.
//! Shards are never empty (the code's shard length is at least 2), and an empty shard length is
//! refused ([`ProofError::EmptyShard`]).

use crate::coding::{Commitment, Shard};
use plexus_types::ContentHash;
use plexus_types::content_tree::{self, left_subtree_len, parent_cv, subtree_cv};
use plexus_types::hash::ContentHasher;
use plexus_types::storage::{CHUNK_BYTES, ChainingValue, ChunkProof, SHARD_BYTES_MAX};
use std::ops::Range;

/// Why a chunk proof could not be made or does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// A shard of no bytes has no chunk to prove.
    #[error("an empty shard has no chunks")]
    EmptyShard,
    /// No shard is that long (a deal's length beyond what the code makes).
    #[error("a shard of {len} bytes is longer than {SHARD_BYTES_MAX}")]
    ShardTooLong {
        /// The length named.
        len: u64,
    },
    /// The shard index is not one of the code's `n`.
    #[error("shard {index} is not one of the {n} shards")]
    ShardOutOfRange {
        /// The index named.
        index: u16,
        /// Shards in the code.
        n: u16,
    },
    /// The chunk index is past the shard's last chunk.
    #[error("chunk {index} is past the shard's {chunks} chunks")]
    ChunkOutOfRange {
        /// The index named.
        index: u64,
        /// Chunks in the shard.
        chunks: u64,
    },
    /// The chunk is not as long as that chunk of a shard of this length.
    #[error("the chunk is {len} bytes, chunk {index} of this shard is {expected}")]
    ChunkLength {
        /// The challenged chunk.
        index: u64,
        /// Bytes in the proof's chunk.
        len: usize,
        /// Bytes in that chunk of the shard.
        expected: usize,
    },
    /// The BLAKE3 path has not as many chaining values as the chunk is deep in the shard's tree.
    #[error("the BLAKE3 path has {len} chaining values, the chunk is {expected} deep")]
    PathLength {
        /// Chaining values in the proof.
        len: usize,
        /// The chunk's depth in the shard's tree.
        expected: usize,
    },
    /// The commitment path is for a tree of another number of leaves than the code's `n`.
    #[error("the commitment path is for {leaves} shards, the code has {n}")]
    LeafCount {
        /// Leaves the proof claims.
        leaves: u32,
        /// Shards in the code.
        n: u16,
    },
    /// The chunk and its paths do not reach the commitment: a wrong byte in the chunk, a wrong
    /// sibling, or a proof of another chunk, shard or commitment.
    #[error("the chunk and its paths do not reach the commitment")]
    Mismatch,
}

/// Chunks in a shard of `shard_len` bytes (none for an empty one).
pub fn chunk_count(shard_len: u64) -> u64 {
    shard_len.div_ceil(CHUNK_BYTES as u64)
}

/// The byte range of chunk `index` in a shard of `shard_len` bytes.
fn chunk_range(shard_len: u64, index: u64) -> Result<Range<u64>, ProofError> {
    if shard_len == 0 {
        return Err(ProofError::EmptyShard);
    }
    // BLAKE3's tree arithmetic (`left_subtree_len`) overflows near `u64::MAX`: refuse lengths
    // no shard has before descending.
    if shard_len > SHARD_BYTES_MAX {
        return Err(ProofError::ShardTooLong { len: shard_len });
    }
    let chunks = chunk_count(shard_len);
    if index >= chunks {
        return Err(ProofError::ChunkOutOfRange { index, chunks });
    }
    let start = index * CHUNK_BYTES as u64;
    Ok(start..shard_len.min(start + CHUNK_BYTES as u64))
}

/// One level of the descent from the shard's root to a chunk: the subtree the chunk is in and
/// the sibling subtree beside it, as byte ranges of the shard.
struct Level {
    sibling: Range<u64>,
    sibling_is_right: bool,
}

/// The levels from the root of a shard of `shard_len` bytes down to the chunk at byte `start`
/// (root first): BLAKE3's tree splits every subtree above one chunk at `left_subtree_len`.
fn descent(shard_len: u64, start: u64) -> Vec<Level> {
    let mut levels = Vec::new();
    let mut subtree = 0..shard_len;
    while subtree.end - subtree.start > CHUNK_BYTES as u64 {
        let middle = subtree.start + left_subtree_len(subtree.end - subtree.start);
        if start < middle {
            levels.push(Level {
                sibling: middle..subtree.end,
                sibling_is_right: true,
            });
            subtree = subtree.start..middle;
        } else {
            levels.push(Level {
                sibling: subtree.start..middle,
                sibling_is_right: false,
            });
            subtree = middle..subtree.end;
        }
    }
    levels
}

/// The proof of chunk `chunk_index` of `shard` (hashes the rest of the shard for the siblings).
pub fn prove(shard: &Shard, chunk_index: u64) -> Result<ChunkProof, ProofError> {
    let bytes = &shard.bytes[..];
    let range = chunk_range(bytes.len() as u64, chunk_index)?;
    let slice = |range: &Range<u64>| &bytes[range.start as usize..range.end as usize];
    let path = descent(bytes.len() as u64, range.start)
        .iter()
        .rev()
        .map(|level| subtree_cv(level.sibling.start, slice(&level.sibling)))
        .collect();
    Ok(ChunkProof {
        chunk: slice(&range).to_vec(),
        path,
        commitment_path: shard.proof.clone(),
    })
}

/// Checks that `proof` holds chunk `chunk_index` of shard `shard_index`, `shard_len` bytes long,
/// of the segment a deal committed to with `commitment` under a code of `n` shards.
pub fn verify(
    commitment: &Commitment,
    n: u16,
    shard_index: u16,
    shard_len: u64,
    chunk_index: u64,
    proof: &ChunkProof,
) -> Result<(), ProofError> {
    if shard_index >= n {
        return Err(ProofError::ShardOutOfRange {
            index: shard_index,
            n,
        });
    }
    let range = chunk_range(shard_len, chunk_index)?;
    let expected = (range.end - range.start) as usize;
    if proof.chunk.len() != expected {
        return Err(ProofError::ChunkLength {
            index: chunk_index,
            len: proof.chunk.len(),
            expected,
        });
    }
    let levels = descent(shard_len, range.start);
    if proof.path.len() != levels.len() {
        return Err(ProofError::PathLength {
            len: proof.path.len(),
            expected: levels.len(),
        });
    }
    let digest = shard_digest(range.start, &proof.chunk, &levels, &proof.path);
    let leaves = proof.commitment_path.leaf_count;
    if leaves != u32::from(n) {
        return Err(ProofError::LeafCount { leaves, n });
    }
    proof
        .commitment_path
        .verify_element_inclusion::<ContentHasher>(&digest, u32::from(shard_index), commitment)
        .map_err(|_| ProofError::Mismatch)
}

/// `BLAKE3(shard)` from the chunk at byte `start` and its siblings (leaf upwards, one a level).
fn shard_digest(start: u64, chunk: &[u8], levels: &[Level], path: &[ChainingValue]) -> ContentHash {
    let Some((top, below)) = levels.split_first() else {
        return ContentHash::of(chunk);
    };
    let (top_sibling, below_siblings) = path.split_last().expect("one sibling a level");
    let mut cv = subtree_cv(start, chunk);
    for (level, sibling) in below.iter().rev().zip(below_siblings) {
        cv = if level.sibling_is_right {
            parent_cv(&cv, sibling)
        } else {
            parent_cv(sibling, &cv)
        };
    }
    if top.sibling_is_right {
        content_tree::root(&cv, top_sibling)
    } else {
        content_tree::root(top_sibling, &cv)
    }
}

#[cfg(test)]
mod tests;
