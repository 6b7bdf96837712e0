//! The storage market against the real state machine: many coded segments over tens of epochs,
//! a provider population of honest, lazy and long-offline providers with churn, outsiders trying
//! to read shards, and repairers that rebuild lost shards by a real decode and re-encode.
//!
//! Every block is built by `plexus_state::build_block` from signed transactions; every shard is
//! a real `plexus_storage::coding` shard and every proof a real `plexus_storage::proof::prove`
//! checked by the chain. Parties behave as follows:
//!
//! - honest providers answer every challenge in its window; they go offline for spells shorter
//!   than the proof window, and declare a fault before a planned epoch of downtime;
//! - lazy providers drop a fraction of each shard's chunks and answer only the challenges that
//!   land on what they kept (they never send a proof that would not verify);
//! - offline providers vanish for several epochs without a word and come back;
//! - churn: providers join with new offers during the run, and providers holding nothing leave;
//! - outsiders (and holders of other shards) try to read shards; every read goes through
//!   `plexus_storage::access::ShardRead::authorize` with the chain's owner and repairers.
//!
//! Checked every block (an error naming the seed otherwise): the supply recounts; no honest
//! provider is burned or slashed; every read by an outsider is refused and every owner, grantee
//! and repairer read allowed; no segment falls below `k` correct copies. At the end: lazy
//! providers earn less per shard-epoch than honest ones (their burns exceed what they saved),
//! and every open segment decodes from its holders' bytes. `run` returns the figures and the
//! final state root (the same seed gives the same root).
//!
//! `run` drives the blocks and plays the providers, `parties` the owners and readers, and
//! `report` holds the tallies
//! and prints the table (`cargo test -p plexus-sim --test storage -- --nocapture`).

mod parties;
mod report;
mod run;

pub use report::{Class, ClassRow, StorageOutcome};
pub use run::{StorageConfig, run};

/// The scenario's name on the `plexus-sim` command line.
pub const NAME: &str = "storage";
