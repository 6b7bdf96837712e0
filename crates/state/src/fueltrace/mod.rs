//! FuelTrace on chain: the verifier registry, audits drawn by the beacon (canaries among them),
//! dissection disputes ended by a re-execution of one segment inside block execution, and the
//! rewards they earn. The protocol's pure rules (parameters, draws, money math) are in
//! `plexus_fueltrace`; this folder applies them to the `State`.
//!
//! Read `audits.rs` first (the life of an audit), then `disputes.rs`; `records.rs` holds what the
//! chain stores, `replay.rs` what the validators re-run to settle a dispute.

pub(crate) mod assignment;
pub(crate) mod audits;
pub(crate) mod canaries;
pub mod disputes;
pub mod records;
pub mod replay;
pub(crate) mod rewards;
pub(crate) mod verifiers;

pub use records::{
    AUDIT_DECLINES_MAX, AUDIT_DRAW_DELAY_BLOCKS, Audit, AuditStage, Canary, Dispute, DisputeEnd,
    Emission, Ruling, Verifier,
};
pub use replay::{
    NoContent, ReplayEnd, ReplayError, ReplayRequest, Replayed, Replayer, manifest_matches,
    transition_holds,
};
