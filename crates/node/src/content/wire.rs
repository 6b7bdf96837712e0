//! What travels on the content channel: the key a validator asks for, and the first part of
//! the answer.
//!
//! A key names one part of one item. An item is a piece of content together with the reason a
//! peer should serve it (the job whose dispute needs it, and for a page the manifest that lists
//! it): the server checks that reason against its finalized state, so the channel serves
//! nothing but content a re-run may need. Part 0 is the [`Head`]: content that fits a piece whole,
//! or else its [`Outline`]; part `i + 1` is piece `i`, raw bytes.

use bytes::{BufMut, Bytes};
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, RangeCfg, Read, ReadExt, Write,
};
use plexus_blobs::pieces::{Outline, PIECE_BYTES};
use plexus_types::{ContentHash, Digest};
use std::fmt;

/// The most pieces an outline may list: content up to the blob store's limit (64 MiB).
pub const OUTLINE_PIECES_MAX: usize = (plexus_types::limits::BLOB_BYTES_MAX / PIECE_BYTES) as usize;

/// One piece of content a dispute's re-run reads, with the reason to serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// The module, a blob or the input of `job`, which has a dispute.
    Job { job: Digest, hash: ContentHash },
    /// The manifest of the agreed pre-state of `job`'s resolved dispute.
    Manifest { job: Digest, hash: ContentHash },
    /// A page that `manifest` (of `job`'s resolved dispute) lists.
    Page {
        job: Digest,
        manifest: ContentHash,
        hash: ContentHash,
    },
}

impl Item {
    /// The content's name.
    pub fn hash(&self) -> ContentHash {
        match self {
            Item::Job { hash, .. } | Item::Manifest { hash, .. } | Item::Page { hash, .. } => *hash,
        }
    }

    /// The job whose dispute the content serves.
    pub fn job(&self) -> Digest {
        match self {
            Item::Job { job, .. } | Item::Manifest { job, .. } | Item::Page { job, .. } => *job,
        }
    }
}

/// One part of one item: the resolver's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub item: Item,
    /// 0 for the [`Head`], `i + 1` for piece `i`.
    pub part: u32,
}

impl Key {
    /// The head of `item`.
    pub fn head(item: Item) -> Self {
        Key { item, part: 0 }
    }

    /// Piece `index` of `item`.
    pub fn piece(item: Item, index: u32) -> Self {
        Key {
            item,
            part: index + 1,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.item.hash(), self.part)
    }
}

impl commonware_utils::Span for Key {}

const TAG_JOB: u8 = 0;
const TAG_MANIFEST: u8 = 1;
const TAG_PAGE: u8 = 2;

impl Write for Key {
    fn write(&self, buf: &mut impl BufMut) {
        match self.item {
            Item::Job { job, hash } => {
                TAG_JOB.write(buf);
                job.write(buf);
                hash.write(buf);
            }
            Item::Manifest { job, hash } => {
                TAG_MANIFEST.write(buf);
                job.write(buf);
                hash.write(buf);
            }
            Item::Page {
                job,
                manifest,
                hash,
            } => {
                TAG_PAGE.write(buf);
                job.write(buf);
                manifest.write(buf);
                hash.write(buf);
            }
        }
        self.part.write(buf);
    }
}

impl EncodeSize for Key {
    fn encode_size(&self) -> usize {
        let digests = match self.item {
            Item::Job { .. } | Item::Manifest { .. } => 2,
            Item::Page { .. } => 3,
        };
        // A job id and one or two content hashes: 32 bytes each.
        1 + digests * Digest::SIZE + u32::SIZE
    }
}

impl Read for Key {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let item = match u8::read(buf)? {
            TAG_JOB => Item::Job {
                job: Digest::read(buf)?,
                hash: ContentHash::read(buf)?,
            },
            TAG_MANIFEST => Item::Manifest {
                job: Digest::read(buf)?,
                hash: ContentHash::read(buf)?,
            },
            TAG_PAGE => Item::Page {
                job: Digest::read(buf)?,
                manifest: ContentHash::read(buf)?,
                hash: ContentHash::read(buf)?,
            },
            tag => return Err(CodecError::InvalidEnum(tag)),
        };
        let part = u32::read(buf)?;
        if part as usize > OUTLINE_PIECES_MAX {
            return Err(CodecError::Invalid(
                "content key",
                "part past the largest content",
            ));
        }
        Ok(Key { item, part })
    }
}

/// The first part of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    /// Content of at most one piece, whole.
    Whole(Bytes),
    /// The outline of larger content, whose pieces follow as parts 1 and up.
    Outline(Outline),
}

impl Write for Head {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Head::Whole(bytes) => {
                0u8.write(buf);
                bytes.write(buf);
            }
            Head::Outline(outline) => {
                1u8.write(buf);
                outline.pieces.len().write(buf);
                for cv in &outline.pieces {
                    buf.put_slice(cv);
                }
            }
        }
    }
}

impl EncodeSize for Head {
    fn encode_size(&self) -> usize {
        1 + match self {
            Head::Whole(bytes) => bytes.encode_size(),
            Head::Outline(outline) => {
                outline.pieces.len().encode_size() + 32 * outline.pieces.len()
            }
        }
    }
}

impl Read for Head {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => {
                let range: RangeCfg<usize> = (..=PIECE_BYTES as usize).into();
                Ok(Head::Whole(Bytes::read_cfg(buf, &range)?))
            }
            1 => {
                let range: RangeCfg<usize> = (2..=OUTLINE_PIECES_MAX).into();
                let count = usize::read_cfg(buf, &range)?;
                if buf.remaining() < count * 32 {
                    return Err(CodecError::EndOfBuffer);
                }
                let pieces = (0..count)
                    .map(|_| {
                        let mut cv = [0u8; 32];
                        buf.copy_to_slice(&mut cv);
                        cv
                    })
                    .collect();
                Ok(Head::Outline(Outline { pieces }))
            }
            tag => Err(CodecError::InvalidEnum(tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt as _, Encode as _};

    fn digest(i: u8) -> Digest {
        Digest::from([i; 32])
    }

    fn name(i: u8) -> ContentHash {
        ContentHash::from_bytes([i; 32])
    }

    #[test]
    fn keys_and_heads_round_trip_and_refuse_what_exceeds_the_limits() {
        for item in [
            Item::Job {
                job: digest(1),
                hash: name(2),
            },
            Item::Manifest {
                job: digest(1),
                hash: name(3),
            },
            Item::Page {
                job: digest(1),
                manifest: name(3),
                hash: name(4),
            },
        ] {
            for key in [Key::head(item), Key::piece(item, 63)] {
                let bytes = key.encode();
                assert_eq!(bytes.len(), key.encode_size());
                assert_eq!(Key::decode(bytes).unwrap(), key);
            }
        }
        let past = Key::piece(
            Item::Job {
                job: digest(1),
                hash: name(2),
            },
            OUTLINE_PIECES_MAX as u32,
        );
        assert!(Key::decode(past.encode()).is_err());

        let whole = Head::Whole(Bytes::from_static(b"page"));
        assert_eq!(Head::decode(whole.encode()).unwrap(), whole);
        let outline = Head::Outline(Outline {
            pieces: vec![[7; 32]; 3],
        });
        assert_eq!(Head::decode(outline.encode()).unwrap(), outline);
        let too_big = Head::Whole(Bytes::from(vec![0; PIECE_BYTES as usize + 1]));
        assert!(Head::decode(too_big.encode()).is_err());
        let too_many = Head::Outline(Outline {
            pieces: vec![[7; 32]; OUTLINE_PIECES_MAX + 1],
        });
        assert!(Head::decode(too_many.encode()).is_err());
        let one = Head::Outline(Outline {
            pieces: vec![[7; 32]],
        });
        assert!(Head::decode(one.encode()).is_err());
    }
}
