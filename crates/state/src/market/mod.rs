//! The compute market: the provider registry, jobs and their matching, commitments, settlement
//! and deadline slashes. Read `settlement.rs` first (the life of a job and where its escrow goes).

pub mod index;
pub mod jobs;
pub(crate) mod matching;
pub mod providers;
pub(crate) mod registry;
pub(crate) mod settlement;

pub use index::MarketIndex;
pub use jobs::{Assignment, Job, JobStatus, jobs_where};
pub use providers::{Provider, REPUTATION_MAX, REPUTATION_START};
