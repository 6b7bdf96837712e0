//! BLAKE3's own tree over a content's 1 KiB chunks: the one place Plexus computes its subtree
//! chaining values and merges them.
//!
//! BLAKE3 hashes content as a binary tree of [`CHUNK_BYTES`]-byte chunks in which every left
//! subtree holds the largest power of two of chunks that leaves the right one non-empty
//! ([`left_subtree_len`]). A subtree's chaining value depends only on its bytes and its offset,
//! so a part of the content can be checked against the content's plain BLAKE3 name
//! ([`ContentHash::of`]) from the chaining values of the rest. The blob store's pieces
//! (`plexus_blobs::pieces`, power-of-two runs of chunks) and the storage market's chunk proofs
//! (`plexus_storage::proof`, one chunk and its siblings) both do that through these functions,
//! with the `blake3` crate's `hazmat` module; their tests compare every root with
//! [`ContentHash::of`] the same bytes.

use crate::hash::ContentHash;
pub use blake3::hazmat::{ChainingValue, left_subtree_len};
use blake3::hazmat::{HasherExt as _, Mode, merge_subtrees_non_root, merge_subtrees_root};

/// Bytes in one BLAKE3 chunk, the tree's leaf.
pub const CHUNK_BYTES: u64 = 1_024;

/// The chaining value of the subtree over `bytes` starting at byte `offset` of the content.
/// `offset` must be a multiple of the subtree's span (a power of two of chunks at least as large
/// as `bytes`), and the subtree must not be the whole content (whose value is its root).
pub fn subtree_cv(offset: u64, bytes: &[u8]) -> ChainingValue {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(offset);
    hasher.update(bytes);
    hasher.finalize_non_root()
}

/// The chaining value of a parent that is not the root, from its two children's.
pub fn parent_cv(left: &ChainingValue, right: &ChainingValue) -> ChainingValue {
    merge_subtrees_non_root(left, right, Mode::Hash)
}

/// The content's BLAKE3 name from the root's two children's chaining values (content of more
/// than one chunk).
pub fn root(left: &ChainingValue, right: &ChainingValue) -> ContentHash {
    ContentHash::from_bytes(*merge_subtrees_root(left, right, Mode::Hash).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_children_name_the_content() {
        for len in [1_025usize, 2_048, 3_000, 4_096, 9_999] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let left = left_subtree_len(len as u64) as usize;
            let name = root(
                &subtree_cv(0, &bytes[..left]),
                &subtree_cv(left as u64, &bytes[left..]),
            );
            assert_eq!(name, ContentHash::of(&bytes), "{len} bytes");
        }
    }
}
