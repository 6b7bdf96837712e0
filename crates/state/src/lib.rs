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
//! provider and verifier bond, unfinished job's escrow, held dispute deposit, the audit pool and
//! the escrow of every open storage deal.
//! It changes only through named events: genesis allocation and epoch emissions (mint), fees,
//! slashes and the burned share of consumer payments (burn); `total == minted - burned`. One
//! module moves value (`ledger/value/`): it is the only writer of balances, stakes, bonds, the
//! audit pool and the supply.
//!
//! Preconditions: transaction signatures are verified by the caller (mempool admission or the
//! chain layer's batch verification) before a block reaches `apply`; `apply` checks everything else.
//!
//! The source is in folders by concern: `ledger/` (the state, its genesis, root, snapshot and
//! recount), `staking/` (stake, evidence, participation, the beacon and its reshare), `market/`
//! (providers, jobs, matching, settlement), `fueltrace/` (verifiers, audits, canaries, disputes,
//! rewards), `storage/` (storage offers, deals, their holders and pay) and `block/` (applying a block, its transactions, and the end-of-block pipeline that
//! lists every step after the transactions in order).

mod block;
pub mod fueltrace;
pub mod governance;
pub mod ledger;
pub mod market;
pub mod staking;
pub mod storage;

pub use block::{ApplyError, Built, apply_block, apply_block_with, build_block, build_block_with};
pub use ledger::{
    Account, AccountProof, Genesis, GenesisError, GenesisValidator, PARTICIPATION_EPOCHS_KEPT,
    PARTICIPATION_WINDOW, Params, ProofError, SNAPSHOT_ENTRIES_MAX, State, Supply, SupplyError,
    Unbonding, Validator, verify_account_proof,
};
pub use market::{
    Assignment, Job, JobStatus, MarketIndex, Provider, REPUTATION_MAX, REPUTATION_START,
};
pub use plexus_storage::params::StorageParams;
pub use staking::{UNBONDING_ENTRIES_MAX, beacon, evidence, reshare};

/// FuelTrace's parameters where the other crates name them (`plexus_fueltrace::params`).
pub mod audit {
    pub use plexus_fueltrace::params::{AUDIT_BLOCK_MS_MAX, AuditParams, BPS, PPM};
}

/// FuelTrace's records, draws and re-execution where the other crates name them (they live in
/// `fueltrace/` and `plexus_fueltrace::draws`).
pub mod dispute {
    pub use crate::fueltrace::disputes::is_party;
    pub use crate::fueltrace::{
        AUDIT_DECLINES_MAX, AUDIT_DRAW_DELAY_BLOCKS, Audit, AuditStage, Canary, Dispute,
        DisputeEnd, NoContent, ReplayEnd, ReplayError, ReplayRequest, Replayed, Replayer, Ruling,
        Verifier, manifest_matches, transition_holds,
    };
    pub use plexus_fueltrace::draws::{
        AuditKind, canary_id, light_segments, rerun_blocks, rerun_fuel, seal_blocks,
    };
}
