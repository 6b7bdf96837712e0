//! Stake and the committee: bonds, delegations, unbonding and slashes (`bonds.rs`), commissions
//! and delegators' rewards (`rewards.rs`), equivocation
//! evidence, participation in finalization certificates, the random beacon's key and its reshare
//! to each new committee.

pub mod beacon;
pub(crate) mod bonds;
pub mod evidence;
pub(crate) mod participation;
pub mod reshare;
pub mod rewards;

pub use bonds::UNBONDING_ENTRIES_MAX;
