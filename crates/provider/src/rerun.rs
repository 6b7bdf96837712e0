//! The provider's part in re-running single segments: a verifier's light audit re-runs the
//! drawn segments of another provider's job from that provider's own checkpoints, and the side
//! that settles a dispute uploads the agreed pre-state so the validators can re-run the last
//! segment. Both re-runs are `plexus_exec::honest`'s, so a light audit judges a segment exactly
//! as the chain's replayer will.

use crate::checkpoints::CheckpointReader;
use crate::leaves::{decode_leaves, leaves_root};
use crate::runner::{Assignment, RunError, Runner};
use plexus_client::Client;
use plexus_exec::honest;
use plexus_exec::{Job, PageSource, SegmentOutcome};
use plexus_state::dispute::transition_holds;
use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::audit::Manifest;
use plexus_types::dissection::RevealedLeaf;
use plexus_types::job::Commitment;
use plexus_types::trace;
use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Why the agreed pre-state could not be uploaded for the validators' re-run.
#[derive(Debug, thiserror::Error)]
pub enum PreStateError {
    #[error("no trace is stored for job {0}")]
    NoTrace(String),
    #[error("checkpoint storage: {0}")]
    Io(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] plexus_client::ClientError),
}

/// The largest checkpoint record a light audit reads from a provider, in bytes.
const CHECKPOINT_BYTES_MAX: u64 = 1 << 20;
/// Bytes of one leaf as the provider serves them (`fuel u64 LE | state_root [32]`).
const LEAF_BYTES: u64 = 40;

/// Uploads checkpoint `index` of `job` (its manifest and every page) to the node's content
/// store, for the validators' re-run; returns the manifest's content hash. Index 0 needs no
/// upload (validators instantiate the module themselves): the zero digest is returned.
pub fn upload_pre_state(
    node: &Client,
    dir: &Path,
    job: &Digest,
    index: u64,
) -> Result<ContentHash, PreStateError> {
    if index == 0 {
        return Ok(ContentHash::ZERO);
    }
    let reader = CheckpointReader::new(dir);
    let checkpoint = reader.checkpoint(job, index)?.ok_or_else(|| {
        PreStateError::NoTrace(format!(
            "{} checkpoint {index}",
            plexus_types::hash::digest_hex(job)
        ))
    })?;
    let pages = reader.pages(job);
    let mut locators = Vec::with_capacity(checkpoint.pages.len());
    let mut sent = BTreeSet::new();
    for hash in &checkpoint.pages {
        let bytes = pages
            .page(hash)?
            .ok_or_else(|| PreStateError::NoTrace(format!("page {}", hash.to_hex())))?;
        let locator = ContentHash::of(&bytes);
        // Identical pages (zero pages above all) are uploaded once.
        if sent.insert(locator) {
            node.put_blob(&locator, bytes.into_owned())?;
        }
        locators.push(locator);
    }
    let manifest = Manifest {
        index,
        fuel: checkpoint.fuel,
        globals: checkpoint.globals,
        pages: checkpoint.pages,
        locators,
    };
    let encoded = plexus_types::codec::Encode::encode(&manifest).to_vec();
    let name = ContentHash::of(&encoded);
    node.put_blob(&name, encoded)?;
    Ok(name)
}

/// Pages of another provider's checkpoint, fetched from its API (the executor checks each
/// against its hash when it restores them).
struct ProviderPages<'a> {
    provider: &'a Client,
    job: String,
}

impl PageSource for ProviderPages<'_> {
    fn page(&self, hash: &ContentHash) -> io::Result<Option<std::borrow::Cow<'_, [u8]>>> {
        let path = format!("/v1/jobs/{}/pages/{}", self.job, hash.to_hex());
        self.provider
            .get_bytes(&path, trace::PAGE_BYTES as u64)
            .map(|bytes| bytes.map(std::borrow::Cow::Owned))
            .map_err(io::Error::other)
    }
}

/// A light audit of another provider's job: each drawn segment is re-run from the provider's
/// own checkpoint (its leaves checked against the committed trace root, the checkpoint against
/// its leaf, its pages against their hashes) and compared with its next leaf exactly as the
/// chain would. Returns the first segment that fails, or whose pre-state the provider does not
/// serve; `None` if all hold.
pub fn light_audit(
    runner: &Runner,
    job: &Assignment,
    provider: &Client,
    commitment: &Commitment,
    segments: &[u64],
) -> Result<Option<u64>, RunError> {
    let Some(&first) = segments.first() else {
        return Ok(None);
    };
    let id = plexus_types::hash::digest_hex(&job.id);
    let Some(leaves) = served_leaves(provider, &id, commitment) else {
        // Not served, or not the committed trace: withheld.
        return Ok(Some(first));
    };
    let Ok(run) = runner.prepare(job)? else {
        // The job is refused (its module, its limits), so no honest trace of it has segments:
        // the chain's re-run of the first drawn one fails too (content invalid), and the
        // provider, who cannot settle it, loses at the deadline.
        return Ok(Some(first));
    };
    for &segment in segments {
        let Some(&(fuel, state_root)) = leaves.get(segment as usize + 1) else {
            return Ok(Some(segment));
        };
        let hi = RevealedLeaf {
            index: segment + 1,
            fuel,
            state_root,
        };
        // A pre-state the provider does not serve, or that does not fit, fails the segment.
        let holds = replay(runner, &run, provider, &id, &leaves, segment)
            .is_some_and(|outcome| transition_holds(commitment, &hi, &honest::replayed(&outcome)));
        if !holds {
            return Ok(Some(segment));
        }
    }
    Ok(None)
}

/// The provider's leaves of `job`, if it serves exactly the committed trace.
fn served_leaves(
    provider: &Client,
    job: &str,
    commitment: &Commitment,
) -> Option<Vec<(u64, ContentHash)>> {
    let count = u64::from(commitment.segments) + 1;
    let leaves = provider
        .get_bytes(
            &format!("/v1/jobs/{job}/leaves"),
            count.saturating_mul(LEAF_BYTES),
        )
        .ok()
        .flatten()
        .and_then(|bytes| decode_leaves(&bytes))?;
    (leaves.len() as u64 == count && leaves_root(&leaves) == commitment.trace_root)
        .then_some(leaves)
}

/// Re-runs `segment` of `run` from the provider's checkpoint at its leaf (segment 0 from the
/// module itself); `None` when the provider does not serve that checkpoint or its pages, or
/// they do not fit the leaf, or the segment cannot be re-run (`ReplayFailure`).
fn replay(
    runner: &Runner,
    run: &Job,
    provider: &Client,
    job: &str,
    leaves: &[(u64, ContentHash)],
    segment: u64,
) -> Option<SegmentOutcome> {
    if segment == 0 {
        return runner.executor.replay_first(run).ok();
    }
    let (fuel, state_root) = leaves[segment as usize];
    let pre = RevealedLeaf {
        index: segment,
        fuel,
        state_root,
    };
    let mut checkpoint = provider
        .get_bytes(
            &format!("/v1/jobs/{job}/checkpoints/{segment}"),
            CHECKPOINT_BYTES_MAX,
        )
        .ok()
        .flatten()
        .and_then(|bytes| crate::checkpoints::decode(&bytes))?;
    // What the chain would re-run is the manifest the provider uploads for this leaf
    // (`upload_pre_state`): the leaf's index with the record's state. The record's own index
    // field decides nothing, as in the chain's re-run (it once chose `init` over `step` here).
    checkpoint.index = segment;
    let pages = ProviderPages {
        provider,
        job: job.to_string(),
    };
    runner
        .executor
        .replay_from(run, &pre, &checkpoint, &pages)
        .ok()
}
