//! Commonware glue for Plexus.
//!
//! - `block`: the consensus view of a Plexus block (`ChainBlock`), with the traits marshal needs.
//! - `mempool`: pending transactions, checked on entry, ordered by fee then arrival.
//! - `ledger`: the finalized state plus speculative post-states of unfinalized blocks; builds,
//!   verifies and finalizes blocks on top of the pure `plexus_state::apply_block`.
//! - `beacon`: the exchange of beacon signature shares and the recovery of each height's signature.
//! - `application`: the `commonware_consensus::Application` and marshal `Reporter` that connect
//!   the ledger and mempool to simplex through marshal.
//!
//! Nothing here opens a socket or a file: the node crate wires runtime, storage and network.

pub mod application;
pub mod beacon;
pub mod block;
pub mod ledger;
pub mod mempool;

pub use application::{App, AppConfig, FinalizeError, Finalized, SettlementSeen};
pub use beacon::{BeaconError, Beacons};
pub use block::ChainBlock;
pub use ledger::{Executed, Ledger, LedgerError};
pub use mempool::{AdmitError, Mempool, MempoolConfig};
