//! Serving content to peers: only what a dispute's re-run may need, and only bytes checked
//! against their name.
//!
//! A key says why it should be served, and the finalized state decides: a job's module, blobs
//! and input while the job has a dispute on chain (open or ruled, until the job is pruned, so a
//! validator catching up can still execute the settlement), the manifest of a resolved dispute's
//! agreed pre-state (it must decode and match the agreed leaf), and the pages that manifest
//! lists. Anything else is refused, so the channel is no file host. Content is read from the
//! node's blob store; a piece is checked against the content's outline before it is sent.

use super::wire::{Head, Item, Key};
use bytes::Bytes;
use commonware_codec::{DecodeExt as _, Encode as _};
use plexus_blobs::BlobStore;
use plexus_blobs::pieces::{Outline, PIECE_BYTES, piece_range};
use plexus_state::State;
use plexus_types::Digest;
use plexus_types::audit::Manifest;
use std::collections::{BTreeMap, BTreeSet};

/// Outlines of large content kept (computing one reads and hashes the whole content).
const OUTLINES_CACHED: usize = 64;

/// Checked manifests kept, with the pages they list.
const MANIFESTS_CACHED: usize = 16;

/// What the server remembers between requests.
#[derive(Default)]
pub struct Server {
    outlines: BTreeMap<Digest, Outline>,
    /// Manifests found to match their job's agreed pre-state: the page names they list.
    manifests: BTreeMap<(Digest, Digest), BTreeSet<Digest>>,
}

impl Server {
    /// The answer to `key` by the finalized `state`; `None` when the content is not to be
    /// served, not held, or unreadable (the requester asks another peer).
    pub fn serve(&mut self, state: &State, store: &BlobStore, key: &Key) -> Option<Bytes> {
        if !self.servable(state, store, &key.item) {
            return None;
        }
        let hash = key.item.hash();
        let size = store.size(&hash).ok()??;
        if key.part == 0 && size <= PIECE_BYTES {
            let bytes = store.get(&hash).ok()??;
            return Some(Head::Whole(Bytes::from(bytes)).encode());
        }
        let outline = self.outline(store, &hash)?;
        if key.part == 0 {
            return Some(Head::Outline(outline).encode());
        }
        let index = u64::from(key.part - 1);
        let bytes = store.read_range(&hash, piece_range(size, index)?).ok()??;
        outline
            .check_piece(index, &bytes)
            .then(|| Bytes::from(bytes))
    }

    /// Whether the finalized state gives a reason to serve `item`.
    fn servable(&mut self, state: &State, store: &BlobStore, item: &Item) -> bool {
        match item {
            Item::Job { job, hash } => {
                state.disputes.contains_key(job)
                    && state.jobs.get(job).is_some_and(|j| {
                        j.module == *hash || j.input == *hash || j.blobs.contains(hash)
                    })
            }
            Item::Manifest { job, hash } => self.pages_of(state, store, job, hash).is_some(),
            Item::Page {
                job,
                manifest,
                hash,
            } => self
                .pages_of(state, store, job, manifest)
                .is_some_and(|pages| pages.contains(hash)),
        }
    }

    /// The pages `manifest` lists, if it is the agreed pre-state of `job`'s resolved dispute.
    fn pages_of(
        &mut self,
        state: &State,
        store: &BlobStore,
        job: &Digest,
        manifest: &Digest,
    ) -> Option<&BTreeSet<Digest>> {
        let (lo, _) = state.disputes.get(job)?.game.resolved()?;
        let key = (*job, *manifest);
        if !self.manifests.contains_key(&key) {
            let bytes = store.get(manifest).ok()??;
            let decoded = Manifest::decode(Bytes::from(bytes)).ok()?;
            if !plexus_state::dispute::manifest_matches(&decoded, &lo) {
                return None;
            }
            if self.manifests.len() >= MANIFESTS_CACHED {
                self.manifests.pop_first();
            }
            let pages = decoded
                .locators
                .iter()
                .map(|locator| plexus_types::hash::digest_from_bytes(locator.0))
                .collect();
            self.manifests.insert(key, pages);
        }
        self.manifests.get(&key)
    }

    /// The outline of large content `hash` (read and checked whole once, then kept).
    fn outline(&mut self, store: &BlobStore, hash: &Digest) -> Option<Outline> {
        if let Some(outline) = self.outlines.get(hash) {
            return Some(outline.clone());
        }
        let outline = Outline::of(&store.get(hash).ok()??)?;
        if self.outlines.len() >= OUTLINES_CACHED {
            self.outlines.pop_first();
        }
        self.outlines.insert(*hash, outline.clone());
        Some(outline)
    }
}
