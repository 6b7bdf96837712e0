//! Plexus wire and storage types.
//!
//! Everything that crosses a process boundary or lands on disk is defined here with one canonical
//! binary encoding (commonware-codec). Decoding untrusted bytes always goes through an explicit limit
//! (`TX_SIZE_MAX`, `BLOCK_TXS_MAX`, ...), so a peer or an API caller can never make us allocate
//! more than the limit allows. The encodings are frozen by golden fixtures in `tests/golden.rs`:
//! changing one is a deliberate, reviewed act (it forks every existing chain).
//!
//! This crate does no I/O, reads no clock and has no async runtime, so the guest side and the pure
//! state machine can both depend on it.

pub mod address;
pub mod amount;
pub mod audit;
pub mod beacon;
pub mod block;
pub mod content_tree;
pub mod deal;
pub mod dissection;
pub mod gov;
pub mod hash;
pub mod job;
pub mod limits;
pub mod receipt;
pub mod storage;
pub mod trace;
pub mod tx;

pub use address::{Address, AddressError};
pub use amount::{Amount, AmountError, PLX};
pub use beacon::{BeaconOutput, BeaconPartial, BeaconSharing, BeaconSignature};
pub use block::{BLOCK_TXS_MAX, Block, Header};
pub use hash::{ContentHash, Digest, hash};
pub use receipt::{Reason, Receipt, Status};
pub use tx::{
    CONSENSUS_NAMESPACE, ChainId, EVIDENCE_SIZE_MAX, Payload, PrivateKey, PublicKey, Signature,
    SignedTransaction, TX_NAMESPACE, TX_SIZE_MAX, Transaction,
};

/// Re-export of the codec so downstream crates use the same traits and version.
pub use commonware_codec as codec;
