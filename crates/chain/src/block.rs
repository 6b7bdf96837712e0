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
        let block = Block::read_cfg(buf, txs_max)?;
        // The digest covers the header only; the header covers the body through `tx_root`. A
        // body that does not match is refused here, before marshal can archive it.
        if !block.tx_root_matches() {
            return Err(CodecError::Invalid(
                "ChainBlock",
                "tx_root does not match the transactions",
            ));
        }
        Ok(ChainBlock::new(block))
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};
    use commonware_cryptography::Signer;
    use plexus_types::{Address, Header, Payload, PrivateKey, Transaction, block::tx_root, hash};

    #[test]
    fn a_body_that_does_not_match_its_header_is_refused_on_decode() {
        let key = PrivateKey::from_seed(1);
        let tx = |amount| {
            Transaction {
                chain_id: 1,
                sender: Address(key.public_key()),
                nonce: 0,
                fee: 1,
                payload: Payload::Transfer {
                    to: Address(key.public_key()),
                    amount,
                },
            }
            .sign(&key)
        };
        let txs = vec![tx(1)];
        let mut block = Block {
            header: Header {
                parent: hash(&[b"p"]),
                height: 1,
                timestamp_ms: 1,
                proposer: key.public_key(),
                tx_root: tx_root(&txs),
                state_root: hash(&[b"s"]),
                beacon: None,
            },
            txs,
        };
        let good = ChainBlock::decode_cfg(block.encode(), &10).unwrap();
        assert_eq!(good.digest(), block.digest());
        block.txs = vec![tx(2)];
        assert!(ChainBlock::decode_cfg(block.encode(), &10).is_err());
    }
}
