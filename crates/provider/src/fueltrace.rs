//! The agent's moves in FuelTrace disputes: as the defender of its own commitments, or as a
//! verifier that challenges another's (re-running segments, for light audits and settlements,
//! is `crate::rerun`'s).
//!
//! Every move is computed from the game the node shows (`DisputeDto::game`, the canonical
//! encoding of `plexus_fueltrace::dissection::Dissection`) and the agent's own leaves, so a
//! restarted agent plays on from wherever the chain is. The moves themselves are the roles'
//! strategies in `plexus_fueltrace` (`defender::defend`, `challenger::challenge`), re-exported here.

use plexus_client::{ClientError, dto::DisputeDto};
use plexus_fueltrace::dissection::{Dissection, DissectionError};
use std::io;

/// Why a dispute move could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("the node's dispute record does not decode: {0}")]
    Game(String),
    #[error("dissection: {0}")]
    Dissection(#[from] DissectionError),
    #[error("no trace is stored for job {0}")]
    NoTrace(String),
    #[error("checkpoint storage: {0}")]
    Io(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] ClientError),
}

/// The game of a dispute as the node shows it.
pub fn game(dispute: &DisputeDto) -> Result<Dissection, PlayError> {
    use plexus_types::codec::DecodeExt as _;
    let bytes = plexus_types::hash::from_hex(&dispute.game)
        .ok_or_else(|| PlayError::Game("not hex".into()))?;
    Dissection::decode(bytes::Bytes::from(bytes)).map_err(|err| PlayError::Game(err.to_string()))
}

pub use plexus_fueltrace::{challenger::challenge, defender::defend};

