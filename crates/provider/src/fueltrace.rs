//! The agent's part in FuelTrace: the trace it keeps per job, its moves in disputes (as the
//! defender of its own commitments, or as a verifier that challenges another's), and the
//! pre-state it uploads for the validators' re-run.
//!
//! Every move is computed from the game the node shows and the agent's own leaves; when to play
//! is `plexus_client::dispute`'s one loop, which calls the strategies through [`next_move`].

use crate::checkpoints::CheckpointReader;
use crate::leaves::{decode_leaves, leaves_root};
use crate::runner::{Assignment, RunError, Runner};
use plexus_client::{Client, ClientError};
use plexus_exec::SegmentEnd;
use plexus_exec::{Digest32, PageSource};
use plexus_state::dispute::{ReplayEnd, Replayed, transition_holds};
use plexus_types::audit::Manifest;
use plexus_types::dissection::{Choose, DefenderTrace, Dissection, Move, Role};
use plexus_types::job::Commitment;
use plexus_types::trace;
use plexus_types::{Digest, hash::digest_from_bytes};
use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Why a dispute move could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("dissection: {0}")]
    Dissection(#[from] plexus_types::dissection::DissectionError),
    #[error("no trace is stored for job {0}")]
    NoTrace(String),
    #[error("checkpoint storage: {0}")]
    Io(#[from] io::Error),
    #[error("node: {0}")]
    Node(#[from] ClientError),
}

/// The role strategies behind the one signature the dispute loop calls
/// (`plexus_client::dispute::NextMove`): the defender's [`defend`], the challenger's
/// [`challenge`]. The one place that names them, so that moving them is one import.
pub fn next_move(
    role: Role,
    game: &Dissection,
    leaves: &[(u64, Digest32)],
) -> Result<Option<Move>, plexus_client::dispute::HostError> {
    match role {
        Role::Defender => Ok(defend(game, leaves)?),
        Role::Challenger => Ok(challenge(game, leaves)),
    }
}

/// The defender's next move from its own leaves (`None` when it is not the defender's turn).
pub fn defend(game: &Dissection, leaves: &[(u64, Digest32)]) -> Result<Option<Move>, PlayError> {
    if game.to_move() != Some(Role::Defender) {
        return Ok(None);
    }
    Ok(DefenderTrace::new(leaves)?.respond(game)?)
}

/// The challenger's next move from its own leaves: the first revealed point it disagrees with
/// (`None` when it is not the challenger's turn).
pub fn challenge(game: &Dissection, leaves: &[(u64, Digest32)]) -> Option<Move> {
    if game.to_move() != Some(Role::Challenger) {
        return None;
    }
    let points = game.revealed_points();
    let choice = Choose::first_disagreement(&points, |index, hash| {
        usize::try_from(index)
            .ok()
            .and_then(|i| leaves.get(i))
            .is_some_and(|(fuel, root)| trace::leaf(index, *fuel, root) == *hash)
    });
    Some(Move::Choose(choice))
}

/// Uploads checkpoint `index` of `job` (its manifest and every page) to the node's content
/// store, for the validators' re-run; returns the manifest's content hash. Index 0 needs no
/// upload (validators instantiate the module themselves): the zero digest is returned.
pub fn upload_pre_state(
    node: &Client,
    dir: &Path,
    job: &Digest,
    index: u64,
) -> Result<Digest, PlayError> {
    if index == 0 {
        return Ok(digest_from_bytes([0; 32]));
    }
    let reader = CheckpointReader::new(dir);
    let checkpoint = reader.checkpoint(job, index)?.ok_or_else(|| {
        PlayError::NoTrace(format!(
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
            .ok_or_else(|| PlayError::NoTrace(format!("page {}", trace::digest32_hex(hash))))?;
        let locator = trace::content_hash(&bytes);
        // Identical pages (zero pages above all) are uploaded once.
        if sent.insert(locator) {
            node.put_blob(&digest_from_bytes(locator.0), bytes.into_owned())?;
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
    let name = digest_from_bytes(trace::content_hash(&encoded).0);
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
    fn page(&self, hash: &Digest32) -> io::Result<Option<std::borrow::Cow<'_, [u8]>>> {
        let path = format!("/v1/jobs/{}/pages/{}", self.job, trace::digest32_hex(hash));
        self.provider
            .get_bytes(&path, trace::PAGE_BYTES as u64)
            .map(|bytes| bytes.map(std::borrow::Cow::Owned))
            .map_err(io::Error::other)
    }
}

/// The post leaf and ending of a re-run segment as the chain compares them.
pub fn replayed(outcome: &plexus_exec::SegmentOutcome) -> Replayed {
    let end = match outcome.end {
        SegmentEnd::Checkpoint => ReplayEnd::Checkpoint,
        SegmentEnd::Finished {
            output_hash,
            failed: false,
        } => ReplayEnd::Finished { output_hash },
        SegmentEnd::Finished {
            output_hash,
            failed: true,
        } => ReplayEnd::OutputInvalid { output_hash },
        SegmentEnd::Trapped(trap) => ReplayEnd::Trapped { code: trap.code() },
    };
    Replayed {
        fuel: outcome.leaf.fuel,
        state_root: outcome.leaf.state_root,
        end,
    }
}

/// A light audit of another provider's job: each drawn segment is re-run from the provider's
/// own checkpoint (its leaves checked against the committed trace root, its pages against their
/// hashes) and compared with its next leaf exactly as the chain would. Returns the first
/// segment that fails, or whose pre-state the provider does not serve; `None` if all hold.
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
    let count = u64::from(commitment.segments) + 1;
    let served = provider
        .get_bytes(&format!("/v1/jobs/{id}/leaves"), count.saturating_mul(40))
        .ok()
        .flatten()
        .and_then(|bytes| decode_leaves(&bytes));
    let leaves = match served {
        Some(leaves)
            if leaves.len() as u64 == count
                && leaves_root(&leaves).0 == commitment.trace_root.0 =>
        {
            leaves
        }
        // Not served, or not the committed trace: withheld.
        _ => return Ok(Some(first)),
    };
    let Some(run) = runner.job(job)? else {
        // The module fails admission, compilation or the limits, so no honest trace of it has
        // segments: the chain's re-run of the first drawn one fails too, and the provider, who
        // cannot settle it, loses at the deadline.
        return Ok(Some(first));
    };
    let engine = &runner.engine;
    for &segment in segments {
        let Some(&(post_fuel, post_root)) = leaves.get(segment as usize + 1) else {
            return Ok(Some(segment));
        };
        let outcome = if segment == 0 {
            plexus_exec::replay_first_segment(engine, &run)?
        } else {
            let path = format!("/v1/jobs/{id}/checkpoints/{segment}");
            let pre = provider
                .get_bytes(&path, 1 << 20)
                .ok()
                .flatten()
                .and_then(|bytes| crate::checkpoints::decode(&bytes));
            let (pre_fuel, pre_root) = leaves[segment as usize];
            match pre {
                Some(pre) if pre.fuel == pre_fuel && pre.state_root() == pre_root => {
                    let pages = ProviderPages {
                        provider,
                        job: id.clone(),
                    };
                    plexus_exec::replay_segment(engine, &run, &pre, &pages).ok()
                }
                _ => None,
            }
        };
        let Some(outcome) = outcome else {
            return Ok(Some(segment));
        };
        let hi = plexus_types::dissection::RevealedLeaf {
            index: segment + 1,
            fuel: post_fuel,
            state_root: post_root,
        };
        if !transition_holds(commitment, &hi, &replayed(&outcome)) {
            return Ok(Some(segment));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(i: u8) -> Digest32 {
        trace::content_hash(&[i])
    }

    #[test]
    fn an_honest_challenger_against_a_forged_last_leaf_ends_on_the_last_segment() {
        // 40 segments; the defender forged only the final leaf.
        let honest: Vec<(u64, Digest32)> =
            (0..41u8).map(|i| (u64::from(i) * 10, root(i))).collect();
        let mut forged = honest.clone();
        forged[40].1 = root(200);
        let defender = DefenderTrace::new(&forged).unwrap();
        let mut game = Dissection::open_whole(16, 41, defender.root()).unwrap();
        let mut moves = 0;
        while game.resolved().is_none() {
            let step = match game.to_move() {
                Some(Role::Defender) => defend(&game, &forged).unwrap().unwrap(),
                Some(Role::Challenger) => challenge(&game, &honest).unwrap(),
                None => break,
            };
            game.apply(step).unwrap();
            moves += 1;
            assert!(moves < 20, "the game does not end");
        }
        let (lo, hi) = game.resolved().unwrap();
        assert_eq!((lo.index, hi.index), (39, 40));
        assert_eq!(hi.state_root, root(200));
        assert_eq!(defend(&game, &forged).unwrap(), None);
        assert_eq!(challenge(&game, &honest), None);
    }
}
