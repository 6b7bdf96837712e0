//! Deterministic simulation of Plexus validator networks.
//!
//! Each validator runs the node's real consensus wiring (`plexus_node::engine::start`: marshal,
//! block broadcast, backfill, simplex) and the real application (`plexus_chain::App`) on
//! Commonware's deterministic runtime, connected by its simulated p2p network, all in one
//! process and in simulated time. Commonware glue's simulation harness starts, crashes and
//! restarts validators and changes links on a schedule; a workload of signed transfers and
//! delegations runs against every validator's mempool.
//!
//! What survives a crash is what survives one in a node: the runtime's storage (marshal's
//! archives, simplex's journal) and each validator's finalized ledger, which the finalizer
//! records before it acknowledges marshal (the node keeps it in redb; here it lives in
//! [`Durable`], outside the crashed tasks).
//!
//! A run reproduces from its seed: the same seed gives the same finalized chain, the same final
//! state root and the same runtime event hash.
//!
//! Where things are: `network` (the engine per validator, genesis, durable records, workload),
//! `scenario` (the fault scenarios and their checks), `byzantine` (faulty validators),
//! [`fueltrace`] (FuelTrace's roles against the real state machine), [`adversarial`]
//! (FuelTrace's economics).

pub mod adversarial;
mod byzantine;
pub mod fueltrace;
mod network;
mod scenario;
mod signing;
pub mod storage;

pub use byzantine::Behavior;
pub use network::{
    AllActiveReach, CHAIN_ID, Durable, FinalizedEntry, Node, PlexusEngine, Prepared, Timing,
    dev_beacon, genesis, validator_key,
};
pub use scenario::{Outcome, SCENARIOS, Scenario, run};
