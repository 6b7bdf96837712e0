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
use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::audit::Manifest;
use std::collections::{BTreeMap, BTreeSet};

/// Outlines of large content kept (computing one reads and hashes the whole content).
const OUTLINES_CACHED: usize = 64;

/// Checked manifests kept, with the pages they list.
const MANIFESTS_CACHED: usize = 16;

/// More than any manifest's encoding (at most 2 x 1 024 page hashes and 4 096 globals, a few
/// hundred KiB): content larger than this is not read to see whether it is one.
const MANIFEST_BYTES_MAX: u64 = 1 << 20;

/// What the server remembers between requests.
#[derive(Default)]
pub struct Server {
    outlines: BTreeMap<ContentHash, Outline>,
    /// Manifests found to match their job's agreed pre-state: the page names they list.
    manifests: BTreeMap<(Digest, ContentHash), BTreeSet<ContentHash>>,
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
        manifest: &ContentHash,
    ) -> Option<&BTreeSet<ContentHash>> {
        let (lo, _) = state.disputes.get(job)?.game.resolved()?;
        let key = (*job, *manifest);
        if !self.manifests.contains_key(&key) {
            // A peer may name any large blob as a manifest: do not read (and hash) more than
            // a manifest can be.
            if store.size(manifest).ok()?? > MANIFEST_BYTES_MAX {
                return None;
            }
            let bytes = store.get(manifest).ok()??;
            let decoded = Manifest::decode(Bytes::from(bytes)).ok()?;
            if !plexus_state::dispute::manifest_matches(&decoded, &lo) {
                return None;
            }
            if self.manifests.len() >= MANIFESTS_CACHED {
                self.manifests.pop_first();
            }
            let pages = decoded.locators.iter().copied().collect();
            self.manifests.insert(key, pages);
        }
        self.manifests.get(&key)
    }

    /// The outline of large content `hash` (read and checked whole once, then kept).
    fn outline(&mut self, store: &BlobStore, hash: &ContentHash) -> Option<Outline> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::state::{Delivery, Fetches};
    use commonware_cryptography::Signer as _;
    use plexus_fueltrace::dissection::Dissection;
    use plexus_state::dispute::Dispute;
    use plexus_state::{Genesis, GenesisValidator, Job, JobStatus, Params};
    use plexus_types::{Address, PrivateKey};
    use std::time::SystemTime;

    /// A genesis state with `job` (of `module` and `input`) under dispute.
    fn disputed(job: Digest, module: ContentHash, input: ContentHash) -> State {
        let key = PrivateKey::from_seed(0);
        let address = Address(key.public_key());
        let (mut state, _) = Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: vec![(address.clone(), 20_000 * plexus_types::PLX)],
            validators: vec![GenesisValidator {
                address: address.clone(),
                self_bond: 10_000 * plexus_types::PLX,
            }],
            beacon: plexus_state::beacon::DevBeacon::deal(0, [key.public_key()]).output,
        }
        .build()
        .unwrap();
        state.jobs.insert(
            job,
            Job {
                consumer: address.clone(),
                module,
                blobs: Vec::new(),
                input,
                max_fuel: 1,
                price_cap_per_mfuel: 0,
                audit: Default::default(),
                posted_height: 0,
                deadline_height: 1,
                escrow: 0,
                status: JobStatus::Posted,
            },
        );
        let root = ContentHash::ZERO;
        state.disputes.insert(
            job,
            Dispute {
                challenger: address,
                by_verifier: false,
                deposit: 0,
                game: Dissection::open(16, 16, 0, 15, root).unwrap(),
                opened_height: 0,
                due_height: 1,
                ruling: None,
            },
        );
        state
    }

    /// Serves every key `fetches` asks for from `store` until nothing is asked; returns the
    /// completed items' bytes.
    fn fetch_all(
        server: &mut Server,
        state: &State,
        store: &BlobStore,
        fetches: &mut Fetches,
    ) -> Vec<Vec<u8>> {
        let mut done = Vec::new();
        loop {
            let keys = fetches.next_requests();
            if keys.is_empty() {
                return done;
            }
            for key in keys {
                let answer = server.serve(state, store, &key).expect("served");
                match fetches.deliver(&key, answer) {
                    Delivery::Complete { bytes, .. } => done.push(bytes),
                    Delivery::Accepted => {}
                    other => panic!("{key}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_disputed_jobs_content_is_served_in_pieces_a_fetcher_accepts_and_nothing_else() {
        let store = BlobStore::in_memory(plexus_blobs::Limits::default());
        // A module of three pieces (the last short) and an input that travels whole.
        let module: Vec<u8> = (0..2 * PIECE_BYTES as usize + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let module_hash = store.put(&module).unwrap();
        let input_hash = store.put(b"twenty images").unwrap();
        let job = Digest::from([9; 32]);
        let state = disputed(job, module_hash, input_hash);
        let mut server = Server::default();

        let mut fetches = Fetches::default();
        let now = SystemTime::UNIX_EPOCH;
        for hash in [module_hash, input_hash] {
            assert!(fetches.want(Item::Job { job, hash }, now));
        }
        let mut done = fetch_all(&mut server, &state, &store, &mut fetches);
        done.sort_by_key(Vec::len);
        assert_eq!(done, vec![b"twenty images".to_vec(), module.clone()]);
        assert!(fetches.is_empty());

        // No reason, no content: another job, a job without a dispute, content the job does not
        // name, a manifest of a dispute that is not resolved, a piece past the end.
        let other = Digest::from([8; 32]);
        let mut undisputed = state.clone();
        undisputed.disputes.clear();
        let unrelated = store.put(b"someone's file").unwrap();
        for (state, item) in [
            (
                &state,
                Item::Job {
                    job: other,
                    hash: module_hash,
                },
            ),
            (
                &undisputed,
                Item::Job {
                    job,
                    hash: module_hash,
                },
            ),
            (
                &state,
                Item::Job {
                    job,
                    hash: unrelated,
                },
            ),
            (
                &state,
                Item::Manifest {
                    job,
                    hash: unrelated,
                },
            ),
        ] {
            assert_eq!(
                server.serve(state, &store, &Key::head(item)),
                None,
                "{item:?}"
            );
        }
        let module_item = Item::Job {
            job,
            hash: module_hash,
        };
        assert!(
            server
                .serve(&state, &store, &Key::piece(module_item, 2))
                .is_some()
        );
        assert_eq!(
            server.serve(&state, &store, &Key::piece(module_item, 3)),
            None
        );
    }
}
