//! The Plexus chain state machine.
//!
//! `apply` is a pure, synchronous function of (state, block): no I/O, no clock, no RNG, no HashMap
//! iteration (every collection is a `BTreeMap`), no floats. Time and randomness arrive in the block
//! header. The same blocks in give the same state root out, on every machine.
//!
//! Domain rejections are receipts with a reason code (`plexus_types::Reason`); `ApplyError` is
//! reserved for a block that is structurally invalid (wrong parent, height or timestamp), which a
//! validator refuses to vote for.
//!
//! Supply rule: `Supply::total` equals the sum of every balance, bonded amount, unbonding amount,
//! provider and verifier bond, unfinished job's escrow, held dispute deposit and the audit pool.
//! It changes only through named events: genesis allocation and epoch emissions (mint), fees,
//! slashes and the burned share of consumer payments (burn); `total == minted - burned`.
//!
//! Preconditions: transaction signatures are verified by the caller (mempool admission or the
//! chain layer's batch verification) before a block reaches `apply`; `apply` checks everything else.

mod apply;
/// FuelTrace's parameters where the other crates name them (`plexus_fueltrace::params`).
pub mod audit {
    pub use plexus_fueltrace::params::{AUDIT_BLOCK_MS_MAX, AuditParams, BPS, PPM};
}
pub mod beacon;
mod commitment;
pub mod dispute;
pub mod evidence;
mod genesis;
pub mod market;
mod participation;
pub mod registry;
pub mod reshare;
pub mod rewards;
mod snapshot;
mod staking;
mod state;

pub use apply::{ApplyError, Built, apply_block, apply_block_with, build_block, build_block_with};
pub use commitment::{AccountProof, ProofError, verify_account_proof};
pub use genesis::{Genesis, GenesisError, GenesisValidator};
pub use market::{Assignment, Job, JobStatus, MarketIndex};
pub use registry::{Provider, REPUTATION_MAX, REPUTATION_START};
pub use snapshot::SNAPSHOT_ENTRIES_MAX;
pub use staking::UNBONDING_ENTRIES_MAX;
pub use state::{
    Account, PARTICIPATION_EPOCHS_KEPT, PARTICIPATION_WINDOW, Params, State, Supply, SupplyError,
    Unbonding, Validator,
};
