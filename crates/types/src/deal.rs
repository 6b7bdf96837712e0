//! The storage market's deal values on the wire: the segments a `Payload::DealPost` names, and
//! the bounds that keep a deal inside one transaction.
//!
//! A file becomes at most [`DEAL_SEGMENTS_MAX`] segments of at most 64 MiB
//! (`plexus_storage::segment::SEGMENT_BYTES_MAX`);
//! each segment is erasure-coded into `n` shards of `shard_bytes` bytes, any `k` of which rebuild
//! it, and named by its commitment (the BMT root over the shards' BLAKE3 digests, see
//! `crate::storage`). Prices are per GiB-epoch (2^30 bytes held for one chain epoch), in base
//! units: a byte-epoch is too small a unit for an integer price.

use crate::hash::ContentHash;
use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, ReadExt, Write};

/// The most segments one deal names: 64 segments of 48 bytes keep a `DealPost` near 3.3 KB,
/// inside `TX_SIZE_MAX` (4 KiB); 64 segments of 64 MiB is a 4 GiB file (a larger one is
/// several deals).
pub const DEAL_SEGMENTS_MAX: usize = 64;

/// The bytes a price is quoted for: a price per GiB-epoch pays for 2^30 bytes for one epoch.
pub const PRICE_UNIT_BYTES: u128 = 1 << 30;

/// One segment of a deal: its commitment, its length and the length of each of its shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealSegment {
    /// The BMT root over the `n` shards' BLAKE3 digests, in shard order.
    pub commitment: ContentHash,
    /// The segment's length (1..=`plexus_storage::segment::SEGMENT_BYTES_MAX`).
    pub size_bytes: u64,
    /// The length of each of its shards: what a holder stores and is paid for (the chain
    /// requires the code's own, `plexus_storage::coding::Shape::shard_len`).
    pub shard_bytes: u64,
}

impl Write for DealSegment {
    fn write(&self, buf: &mut impl BufMut) {
        self.commitment.write(buf);
        self.size_bytes.write(buf);
        self.shard_bytes.write(buf);
    }
}

impl FixedSize for DealSegment {
    const SIZE: usize = ContentHash::SIZE + u64::SIZE + u64::SIZE;
}

impl Read for DealSegment {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(DealSegment {
            commitment: ContentHash::read(buf)?,
            size_bytes: u64::read(buf)?,
            shard_bytes: u64::read(buf)?,
        })
    }
}
