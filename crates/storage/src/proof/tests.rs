//! Tests of chunk proofs: every chunk of shards of edge lengths proves, every forgery is refused.

use super::*;
use crate::coding::{Shape, encode};
use commonware_codec::{Copying, DecodeExt as _, Encode as _};
use commonware_parallel::Sequential;
use commonware_storage::bmt;
use plexus_types::storage::{CommitmentProof, SHARD_BYTES_MAX};

/// Deterministic bytes that differ from position to position.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

/// A shard of `bytes` at `index` of a commitment over `n` leaves, the others' digests arbitrary
/// (what the proof checks does not depend on how the other shards came about).
fn committed(bytes: Vec<u8>, index: u16, n: u16) -> (Commitment, Shard) {
    let mut builder = bmt::Builder::<ContentHasher>::new(usize::from(n));
    for leaf in 0..n {
        if leaf == index {
            builder.add(&ContentHash::of(&bytes));
        } else {
            builder.add(&ContentHash::of(&leaf.to_le_bytes()));
        }
    }
    let tree = builder.build();
    let shard = Shard {
        index,
        bytes: bytes.into(),
        proof: tree.proof(u32::from(index)).unwrap(),
    };
    (tree.root(), shard)
}

#[test]
fn every_chunk_of_every_shard_length_proves() {
    for len in [
        2usize, 1_023, 1_024, 1_025, 2_048, 3_000, 4_096, 5_121, 70_000,
    ] {
        let (commitment, shard) = committed(pattern(len), 3, 7);
        let chunks = chunk_count(len as u64);
        for chunk in 0..chunks {
            let proof = prove(&shard, chunk).unwrap();
            assert_eq!(
                verify(&commitment, 7, 3, len as u64, chunk, &proof),
                Ok(()),
                "{len} bytes, chunk {chunk}"
            );
            let decoded = ChunkProof::decode(proof.encode()).unwrap();
            assert_eq!(decoded, proof);
        }
        assert_eq!(
            prove(&shard, chunks),
            Err(ProofError::ChunkOutOfRange {
                index: chunks,
                chunks
            })
        );
    }
}

#[test]
fn proofs_of_real_shards_reach_the_real_commitment() {
    let shape = Shape::new(2, 4).unwrap();
    let encoded = encode(shape, &pattern(9_000), &Sequential).unwrap();
    let shard_len = encoded.shards[0].bytes.len() as u64;
    for shard in &encoded.shards {
        for chunk in 0..chunk_count(shard_len) {
            let proof = prove(shard, chunk).unwrap();
            verify(
                &encoded.commitment,
                4,
                shard.index,
                shard_len,
                chunk,
                &proof,
            )
            .unwrap();
        }
    }
}

/// The figure in the module's doc: a 4 MiB shard at n = 40.
#[test]
fn a_four_mebibyte_shard_at_forty_shards_has_a_proof_of_1608_bytes() {
    let (commitment, shard) = committed(pattern(4 << 20), 0, 40);
    let proof = prove(&shard, 17).unwrap();
    assert_eq!(proof.path.len(), 12);
    assert_eq!(proof.commitment_path.siblings.len(), 6);
    assert_eq!(proof.encode().len(), 1_608);
    verify(&commitment, 40, 0, 4 << 20, 17, &proof).unwrap();
}

#[test]
fn forgeries_are_refused() {
    let len = 5_000u64;
    let (commitment, shard) = committed(pattern(len as usize), 2, 5);
    let good = prove(&shard, 1).unwrap();
    let check = |proof: &ChunkProof| verify(&commitment, 5, 2, len, 1, proof);
    assert_eq!(check(&good), Ok(()));

    let mut wrong_byte = good.clone();
    wrong_byte.chunk[500] ^= 1;
    assert_eq!(check(&wrong_byte), Err(ProofError::Mismatch));
    for level in 0..good.path.len() {
        let mut wrong_sibling = good.clone();
        wrong_sibling.path[level][0] ^= 1;
        assert_eq!(check(&wrong_sibling), Err(ProofError::Mismatch), "{level}");
    }
    let mut swapped = good.clone();
    swapped.path.swap(0, 1);
    assert_eq!(check(&swapped), Err(ProofError::Mismatch));
    let mut wrong_bmt = good.clone();
    wrong_bmt.commitment_path.siblings[0].0[0] ^= 1;
    assert_eq!(check(&wrong_bmt), Err(ProofError::Mismatch));

    // A true proof of another chunk, or of this chunk for another index, shard or code.
    let other_chunk = prove(&shard, 2).unwrap();
    assert_eq!(check(&other_chunk), Err(ProofError::Mismatch));
    assert_eq!(
        verify(&commitment, 5, 2, len, 2, &good),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        verify(&commitment, 5, 3, len, 1, &good),
        Err(ProofError::Mismatch)
    );
    assert_eq!(
        verify(&commitment, 6, 2, len, 1, &good),
        Err(ProofError::LeafCount {
            leaves: 5,
            n: 5 + 1
        })
    );
    assert_eq!(
        verify(&commitment, 5, 5, len, 1, &good),
        Err(ProofError::ShardOutOfRange { index: 5, n: 5 })
    );
    // The last chunk (904 bytes) with a full chunk's bytes, and a full chunk cut short.
    let last = prove(&shard, 4).unwrap();
    assert_eq!(last.chunk.len(), 904);
    assert_eq!(verify(&commitment, 5, 2, len, 4, &last), Ok(()));
    let mut long_last = last.clone();
    long_last.chunk.push(0);
    assert!(matches!(
        verify(&commitment, 5, 2, len, 4, &long_last),
        Err(ProofError::ChunkLength { .. })
    ));
    let mut short = good.clone();
    short.chunk.pop();
    assert!(matches!(check(&short), Err(ProofError::ChunkLength { .. })));

    // A proof from a shard of another length: the same bytes and position, one byte longer.
    let (longer_commitment, longer) = committed(pattern(len as usize + 1), 2, 5);
    let from_longer = prove(&longer, 1).unwrap();
    verify(&longer_commitment, 5, 2, len + 1, 1, &from_longer).unwrap();
    assert_eq!(check(&from_longer), Err(ProofError::Mismatch));
    // Under the wrong length its last chunk is too long. (Its middle chunks still hold under
    // the longer shard's own commitment: the length only names the tree's shape, and they sit
    // in the same place in both; the commitment binds the bytes, and the chain takes both from
    // the deal.)
    let longer_last = prove(&longer, 4).unwrap();
    assert!(matches!(
        verify(&longer_commitment, 5, 2, len, 4, &longer_last),
        Err(ProofError::ChunkLength { .. })
    ));
    // ... and one whose tree has another depth.
    let (deep_commitment, deep) = committed(pattern(9_000), 2, 5);
    let from_deep = prove(&deep, 1).unwrap();
    assert_eq!(
        verify(&deep_commitment, 5, 2, len, 1, &from_deep),
        Err(ProofError::PathLength {
            len: 4,
            expected: 3
        })
    );
    let mut cut = good.clone();
    cut.path.pop();
    assert!(matches!(check(&cut), Err(ProofError::PathLength { .. })));
    let mut other_tree = good.clone();
    other_tree.commitment_path = CommitmentProof::default();
    assert!(matches!(
        check(&other_tree),
        Err(ProofError::LeafCount { .. })
    ));

    // A truncated encoding does not decode.
    let encoded = good.encode();
    for end in [0, 1, 3, 1_000, encoded.len() - 33, encoded.len() - 1] {
        assert!(
            ChunkProof::decode(Copying(&encoded[..end])).is_err(),
            "{end} bytes"
        );
    }
}

#[test]
fn single_chunk_and_empty_shards() {
    for len in [2usize, 100, 1_024] {
        let (commitment, shard) = committed(pattern(len), 0, 2);
        let proof = prove(&shard, 0).unwrap();
        assert!(proof.path.is_empty(), "{len} bytes");
        verify(&commitment, 2, 0, len as u64, 0, &proof).unwrap();
        let mut wrong = proof.clone();
        wrong.chunk[0] ^= 1;
        assert_eq!(
            verify(&commitment, 2, 0, len as u64, 0, &wrong),
            Err(ProofError::Mismatch)
        );
    }
    let (commitment, empty) = committed(Vec::new(), 0, 2);
    assert_eq!(prove(&empty, 0), Err(ProofError::EmptyShard));
    let (_, some) = committed(pattern(10), 0, 2);
    let proof = prove(&some, 0).unwrap();
    assert_eq!(
        verify(&commitment, 2, 0, 0, 0, &proof),
        Err(ProofError::EmptyShard)
    );
}

/// The chain verifies with the length a deal names: any length, however absurd, is an answer,
/// never a panic (BLAKE3's `left_subtree_len` once overflowed on lengths near `u64::MAX`).
#[test]
fn absurd_shard_lengths_are_refused_without_panicking() {
    let (commitment, shard) = committed(pattern(3_000), 1, 4);
    let proof = prove(&shard, 0).unwrap();
    for len in [
        u64::MAX,
        u64::MAX - 1,
        u64::MAX - 1_023,
        1 << 63,
        SHARD_BYTES_MAX + 1,
    ] {
        let last = chunk_count(len) - 1;
        for chunk in [0, last] {
            assert_eq!(
                verify(&commitment, 4, 1, len, chunk, &proof),
                Err(ProofError::ShardTooLong { len }),
                "{len} bytes, chunk {chunk}"
            );
        }
    }
    // The longest shard is still an answer: the proof of a short one has too few levels.
    assert!(matches!(
        verify(&commitment, 4, 1, SHARD_BYTES_MAX, 0, &proof),
        Err(ProofError::PathLength { .. })
    ));
}
