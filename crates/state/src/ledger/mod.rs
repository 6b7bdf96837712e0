//! The ledger: the `State` and its parameters, the value moves (`value/`, the only writer of
//! balances, stakes, bonds, the audit pool and the supply), its genesis, the commitment (state
//! root and account proofs), the snapshot encoding, and the recount that checks the supply.

pub mod commitment;
pub mod epochs;
pub mod genesis;
pub mod params;
pub(crate) mod record_codec;
pub mod recount;
pub mod snapshot;
pub mod state;
pub mod value;

pub use commitment::{AccountProof, ProofError, verify_account_proof};
pub use epochs::{EpochSchedule, EpochSegment};
pub use genesis::{Genesis, GenesisError, GenesisValidator};
pub use params::Params;
pub use recount::SupplyError;
pub use snapshot::SNAPSHOT_ENTRIES_MAX;
pub use state::{
    Account, PARTICIPATION_EPOCHS_KEPT, PARTICIPATION_WINDOW, State, Unbonding, Validator,
};
pub use value::Supply;
