//! Blocks: a header that commits to the transactions and to the post-execution state, and the
//! ordered transactions.

use crate::{Digest, PublicKey, SignedTransaction, beacon::BeaconSignature, hash};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{Encode, EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt, Write};
use commonware_cryptography::Sha256;
use commonware_storage::bmt;

/// The most transactions one block may carry (at `TX_SIZE_MAX` this bounds a block to 80 MiB; a
/// block of transfers is about 3.9 MiB).
pub const BLOCK_TXS_MAX: usize = 20_000;

/// Block header. The block's hash is the SHA-256 of this header's encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent block (all zeros for genesis).
    pub parent: Digest,
    /// Genesis is height 0.
    pub height: u64,
    /// Proposer's clock in milliseconds since the Unix epoch; never less than the parent's.
    pub timestamp_ms: u64,
    pub proposer: PublicKey,
    /// Merkle root (commonware BMT, SHA-256) of the transaction hashes, in block order.
    pub tx_root: Digest,
    /// Root of the authenticated state after executing this block.
    pub state_root: Digest,
    /// The committee's threshold signature over height `height - BEACON_LAG` (see
    /// [`crate::beacon`]); absent in the first `BEACON_LAG` blocks and at genesis.
    pub beacon: Option<BeaconSignature>,
}

impl Header {
    /// The block hash.
    pub fn digest(&self) -> Digest {
        hash(&[&self.encode()])
    }

    /// The block's random seed: the hash of its beacon signature.
    pub fn seed(&self) -> Digest {
        crate::beacon::seed(self.height, self.beacon.as_ref())
    }
}

impl Write for Header {
    fn write(&self, buf: &mut impl BufMut) {
        self.parent.write(buf);
        self.height.write(buf);
        self.timestamp_ms.write(buf);
        self.proposer.write(buf);
        self.tx_root.write(buf);
        self.state_root.write(buf);
        self.beacon.write(buf);
    }
}

impl EncodeSize for Header {
    fn encode_size(&self) -> usize {
        self.parent.encode_size()
            + self.height.encode_size()
            + self.timestamp_ms.encode_size()
            + self.proposer.encode_size()
            + self.tx_root.encode_size()
            + self.state_root.encode_size()
            + self.beacon.encode_size()
    }
}

impl Read for Header {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Header {
            parent: Digest::read(buf)?,
            height: u64::read(buf)?,
            timestamp_ms: u64::read(buf)?,
            proposer: PublicKey::read(buf)?,
            tx_root: Digest::read(buf)?,
            state_root: Digest::read(buf)?,
            beacon: Option::<BeaconSignature>::read(buf)?,
        })
    }
}

/// A block: header plus transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: Header,
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// The block hash (of the header).
    pub fn digest(&self) -> Digest {
        self.header.digest()
    }

    /// Whether the header's `tx_root` matches the transactions.
    pub fn tx_root_matches(&self) -> bool {
        tx_root(&self.txs) == self.header.tx_root
    }
}

/// The Merkle root of the transaction hashes, in order (the BMT root commits to the count).
pub fn tx_root(txs: &[SignedTransaction]) -> Digest {
    let mut builder = bmt::Builder::<Sha256>::new(txs.len());
    for tx in txs {
        builder.add(&tx.hash());
    }
    builder.build().root()
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.header.write(buf);
        self.txs.write(buf);
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.header.encode_size() + self.txs.encode_size()
    }
}

impl Read for Block {
    /// The most transactions to accept (normally `BLOCK_TXS_MAX`).
    type Cfg = usize;

    fn read_cfg(buf: &mut impl Buf, txs_max: &usize) -> Result<Self, CodecError> {
        let header = Header::read(buf)?;
        let range: RangeCfg<usize> = (0..=*txs_max).into();
        let txs = Vec::<SignedTransaction>::read_cfg(buf, &(range, ()))?;
        Ok(Block { header, txs })
    }
}
