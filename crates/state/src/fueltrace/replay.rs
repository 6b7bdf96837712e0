//! The re-execution a dispute's settlement asks of the validators: the request, its result, and
//! the checks that compare the result with the provider's claim. Block execution reaches the
//! content (manifest and pages, hash-named) through a [`Replayer`] the node supplies.

use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::audit::Manifest;
use plexus_types::dissection::RevealedLeaf;
use plexus_types::job::Commitment;
use plexus_types::trace::trap_root;

/// The result of re-running one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Cumulative fuel at the end of the segment.
    pub fuel: u64,
    /// The post state root (`trap_root(code)` after a trap).
    pub state_root: ContentHash,
    pub end: ReplayEnd,
}

/// How a re-run segment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayEnd {
    /// At a checkpoint, with more steps to come.
    Checkpoint,
    /// The job finished: this was its last segment.
    Finished { output_hash: ContentHash },
    /// The job trapped with this code.
    Trapped { code: u8 },
    /// The job finished but its output record was invalid: it failed (the leaf is the final
    /// state's; `output_hash` is the failure's `trap_root(code)`).
    OutputInvalid { output_hash: ContentHash },
}

/// What the validators re-run.
#[derive(Clone, Debug)]
pub struct ReplayRequest {
    pub job_id: Digest,
    pub module: ContentHash,
    pub blobs: Vec<ContentHash>,
    pub input: ContentHash,
    pub max_fuel: u64,
    pub seg_fuel: u64,
    /// The agreed pre-state leaf.
    pub pre: RevealedLeaf,
    /// The pre-state's manifest (unused when `pre.index == 0`).
    pub manifest: ContentHash,
    /// Where the content may be fetched from besides the node's own store: the provider's and
    /// the challenger's registered endpoints.
    pub endpoints: Vec<String>,
}

/// Why a segment could not be re-run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Some content is not available to this node (not a verdict: the block cannot be applied
    /// here until it is).
    #[error("content unavailable: {0}")]
    Unavailable(String),
    /// The content is there and does not fit: a manifest that does not match the agreed leaf,
    /// a module that fails admission. The same on every node, so the transaction fails.
    #[error("content invalid: {0}")]
    Invalid(String),
}

/// Re-runs disputed segments for block execution. Implementations must be deterministic in
/// everything but availability: the same content gives the same [`Replayed`] on every node.
pub trait Replayer: Send + Sync {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError>;
}

/// A replayer with no content at all: blocks that settle a dispute cannot be applied with it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoContent;

impl Replayer for NoContent {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        Err(ReplayError::Unavailable(format!(
            "no content store for job {}",
            request.job_id
        )))
    }
}

/// Whether re-running gave the defender's post leaf, and at the final leaf its output and
/// failure flag.
pub fn transition_holds(commitment: &Commitment, hi: &RevealedLeaf, replayed: &Replayed) -> bool {
    if replayed.fuel != hi.fuel || replayed.state_root != hi.state_root {
        return false;
    }
    let last = hi.index == u64::from(commitment.segments);
    match (last, replayed.end) {
        (false, ReplayEnd::Checkpoint) => true,
        (true, ReplayEnd::Finished { output_hash }) => {
            !commitment.failed
                && output_hash == commitment.output_hash
                && replayed.fuel == commitment.total_fuel
        }
        (true, ReplayEnd::OutputInvalid { output_hash }) => {
            commitment.failed
                && output_hash == commitment.output_hash
                && replayed.fuel == commitment.total_fuel
        }
        (true, ReplayEnd::Trapped { code }) => {
            commitment.failed
                && trap_root(code) == commitment.output_hash
                && replayed.fuel == commitment.total_fuel
        }
        _ => false,
    }
}

/// Checks a manifest against the agreed pre-state leaf (for replayers).
pub fn manifest_matches(manifest: &Manifest, pre: &RevealedLeaf) -> bool {
    manifest.index == pre.index
        && manifest.fuel == pre.fuel
        && manifest.state_root() == pre.state_root
}
