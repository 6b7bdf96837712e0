//! The consensus view of a block: a `plexus_types::Block` with its digest cached at construction.
//!
//! The digest is recomputed from the header whenever a block is decoded, never read from the wire.

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::{Heightable, types::Height};
use commonware_cryptography::Digestible;
use plexus_types::{Block, Digest};
use std::sync::Arc;

/// A Plexus block as simplex and marshal see it. Cloning shares the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    block: Arc<Block>,
    digest: Digest,
}

impl ChainBlock {
    pub fn new(block: Block) -> Self {
        let digest = block.digest();
        ChainBlock {
            block: Arc::new(block),
            digest,
        }
    }

    /// Wraps a shared block whose digest the caller already computed.
    pub(crate) fn with_digest(block: Arc<Block>, digest: Digest) -> Self {
        debug_assert_eq!(block.digest(), digest);
        ChainBlock { block, digest }
    }

    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn shared(&self) -> Arc<Block> {
        self.block.clone()
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        self.block.write(buf);
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        self.block.encode_size()
    }
}

impl Read for ChainBlock {
    /// The most transactions to accept.
    type Cfg = usize;

    fn read_cfg(buf: &mut impl Buf, txs_max: &usize) -> Result<Self, CodecError> {
        Ok(ChainBlock::new(Block::read_cfg(buf, txs_max)?))
    }
}

impl Digestible for ChainBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        self.digest
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.header.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> Digest {
        self.block.header.parent
    }
}
