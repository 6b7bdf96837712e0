//! Content in pieces, each checked on its own against the content's plain BLAKE3 name.
//!
//! Content larger than one network message travels in pieces of [`PIECE_BYTES`]. BLAKE3 is a
//! Merkle tree over 1 KiB chunks whose left subtrees always hold a power of two of chunks, and a
//! piece is a power of two of chunks starting at a multiple of its size, so every piece is a
//! whole subtree of the content's tree: its chaining value ([`piece_cv`]) depends on its bytes
//! and its position only. An [`Outline`] (each piece's chaining value) is checked against the
//! name by merging the values up the tree ([`Outline::root`]), and each piece is then checked
//! against its value ([`Outline::check_piece`]). So a fetcher keeps no byte it has not checked,
//! whichever peers the pieces came from.
//!
//! An outline that names the content still does not prove its piece count: BLAKE3's parent nodes
//! do not commit to their depth, so the root's two children, say, pass as a two-piece outline of
//! four-piece content, and then every true piece fails against it. A fetcher whose piece fails
//! cannot tell whether the piece or the outline is false, and must not blame the piece's sender
//! (the node's content fetch drops the outline and asks for it again).
//!
//! An outline carries no length: every length with the same piece count has the same tree shape,
//! so the root could not check a claimed length, and a peer could otherwise claim a last piece
//! longer or shorter than the real one and have the honest pieces refused. The last piece's
//! length is whatever bytes match its chaining value (which commits to them, length included).
//!
//! The tree arithmetic is `plexus_types::content_tree`'s (BLAKE3's `hazmat` functions, shared
//! with the storage market's chunk proofs); the tests compare every root with `ContentHash::of`
//! the same bytes, as that module asks.

use plexus_types::ContentHash;
use plexus_types::content_tree::{ChainingValue, left_subtree_len, parent_cv, root, subtree_cv};
use std::ops::Range;

/// The size of a piece (the last one may be shorter): 1 MiB, a power of two of BLAKE3's 1 KiB
/// chunks, well inside a p2p message.
pub const PIECE_BYTES: u64 = 1 << 20;

/// The pieces content of `len` bytes travels in: one for content that fits a piece.
pub fn piece_count(len: u64) -> u64 {
    len.div_ceil(PIECE_BYTES).max(1)
}

/// The byte range of piece `index` of content of `len` bytes, if it has that piece.
pub fn piece_range(len: u64, index: u64) -> Option<Range<u64>> {
    let start = index.checked_mul(PIECE_BYTES)?;
    (start < len).then(|| start..len.min(start + PIECE_BYTES))
}

/// The chaining value of piece `index`: the BLAKE3 subtree over `bytes` at its offset.
pub fn piece_cv(index: u64, bytes: &[u8]) -> ChainingValue {
    subtree_cv(index * PIECE_BYTES, bytes)
}

/// The piece chaining values of content larger than one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    pub pieces: Vec<ChainingValue>,
}

impl Outline {
    /// The outline of `bytes`; `None` when they fit one piece (such content travels whole).
    pub fn of(bytes: &[u8]) -> Option<Outline> {
        let len = bytes.len() as u64;
        if len <= PIECE_BYTES {
            return None;
        }
        let pieces = (0..piece_count(len))
            .map(|index| {
                let range = piece_range(len, index).expect("every index below the count");
                piece_cv(index, &bytes[range.start as usize..range.end as usize])
            })
            .collect();
        Some(Outline { pieces })
    }

    /// The most bytes the content can have (its pieces all full).
    pub fn len_max(&self) -> u64 {
        self.pieces.len() as u64 * PIECE_BYTES
    }

    /// The BLAKE3 name of the content this outline describes; `None` for fewer than two pieces
    /// (such content travels whole).
    pub fn root(&self) -> Option<ContentHash> {
        if self.pieces.len() < 2 {
            return None;
        }
        // Every length with this piece count has the same tree: compute it for full pieces.
        // Above one piece the left subtree holds a power of two of chunks that is at least a
        // piece, so every split falls on a piece boundary.
        let len = self.len_max();
        let left = left_subtree_len(len);
        Some(root(
            &self.subtree(0, left),
            &self.subtree(left, len - left),
        ))
    }

    /// The chaining value of the subtree over `len` bytes at `offset` (piece-aligned).
    fn subtree(&self, offset: u64, len: u64) -> ChainingValue {
        if len <= PIECE_BYTES {
            return self.pieces[(offset / PIECE_BYTES) as usize];
        }
        let left = left_subtree_len(len);
        parent_cv(
            &self.subtree(offset, left),
            &self.subtree(offset + left, len - left),
        )
    }

    /// Whether `bytes` are piece `index` of this content: a full piece before the last, at
    /// least a byte in the last, and the piece's chaining value.
    pub fn check_piece(&self, index: u64, bytes: &[u8]) -> bool {
        let last = self.pieces.len() as u64 - 1;
        let len = bytes.len() as u64;
        let length_fits = match index.cmp(&last) {
            std::cmp::Ordering::Less => len == PIECE_BYTES,
            std::cmp::Ordering::Equal => (1..=PIECE_BYTES).contains(&len),
            std::cmp::Ordering::Greater => false,
        };
        length_fits && self.pieces.get(index as usize) == Some(&piece_cv(index, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes that differ from piece to piece.
    fn content(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u64).wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect()
    }

    #[test]
    fn outlines_name_the_same_content_as_blake3() {
        let piece = PIECE_BYTES as usize;
        for len in [
            piece + 1,
            piece + 1_024,
            2 * piece,
            2 * piece + 5,
            3 * piece - 1,
            3 * piece,
            4 * piece + 1,
            5 * piece + 7_000,
            8 * piece,
        ] {
            let bytes = content(len);
            let outline = Outline::of(&bytes).unwrap();
            assert_eq!(outline.pieces.len() as u64, piece_count(len as u64));
            assert_eq!(outline.root(), Some(ContentHash::of(&bytes)), "{len} bytes");
            for index in 0..piece_count(len as u64) {
                let range = piece_range(len as u64, index).unwrap();
                let piece = &bytes[range.start as usize..range.end as usize];
                assert!(
                    outline.check_piece(index, piece),
                    "{len} bytes, piece {index}"
                );
            }
        }
        assert_eq!(
            Outline::of(&content(piece)),
            None,
            "one piece travels whole"
        );
    }

    #[test]
    fn an_outline_of_subtrees_names_the_content_yet_refuses_its_true_pieces() {
        let bytes = content(4 * PIECE_BYTES as usize);
        let outline = Outline::of(&bytes).unwrap();
        let half = 2 * PIECE_BYTES;
        let children = Outline {
            pieces: vec![outline.subtree(0, half), outline.subtree(half, half)],
        };
        assert_eq!(children.root(), outline.root());
        assert!(!children.check_piece(0, &bytes[..PIECE_BYTES as usize]));
        assert!(outline.check_piece(0, &bytes[..PIECE_BYTES as usize]));
    }

    #[test]
    fn a_changed_piece_or_a_misshapen_outline_is_refused() {
        let piece = PIECE_BYTES as usize;
        let bytes = content(3 * piece + 10);
        let outline = Outline::of(&bytes).unwrap();
        let mut changed = bytes[piece..2 * piece].to_vec();
        changed[17] ^= 1;
        assert!(!outline.check_piece(1, &changed));
        // The right bytes in the wrong place, cut short or lengthened, or past the end.
        assert!(!outline.check_piece(0, &bytes[piece..2 * piece]));
        assert!(!outline.check_piece(1, &bytes[piece..2 * piece - 1]));
        assert!(!outline.check_piece(3, &bytes[3 * piece..3 * piece + 9]));
        let mut longer = bytes[3 * piece..].to_vec();
        longer.push(0);
        assert!(!outline.check_piece(3, &longer));
        assert!(!outline.check_piece(4, &bytes[..1]));
        // An outline missing a piece, with one more, or with two pieces swapped does not name
        // the content.
        let name = ContentHash::of(&bytes);
        let mut short = outline.clone();
        short.pieces.pop();
        assert_ne!(short.root(), Some(name));
        let mut long = outline.clone();
        long.pieces.push([0; 32]);
        assert_ne!(long.root(), Some(name));
        let mut swapped = outline.clone();
        swapped.pieces.swap(0, 1);
        assert_ne!(swapped.root(), Some(name));
        let one = Outline {
            pieces: vec![outline.pieces[0]],
        };
        assert_eq!(one.root(), None, "one piece travels whole");
    }
}
