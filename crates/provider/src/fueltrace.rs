//! The agent's part in FuelTrace disputes: as the defender of its own commitments, or as a
//! verifier that challenges another's (re-running segments, for light audits and settlements,
//! is `crate::rerun`'s).
//!
//! Every move is computed from the game the node shows and the agent's own leaves; when to play
//! is `plexus_client::dispute`'s one loop, and what to play is the roles' strategies in
//! `plexus_fueltrace` (`defender::defend`, `challenger::challenge`), re-exported here.

use plexus_client::ClientError;
use plexus_fueltrace::dissection::DissectionError;
use std::io;

pub use plexus_fueltrace::{challenger::challenge, defender::defend};

/// Why a dispute move could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("dissection: {0}")]
    Dissection(#[from] DissectionError),
    #[error("no trace is stored for job {0}")]
    NoTrace(String),
    #[error("checkpoint storage: {0}")]
    Io(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] ClientError),
}
