//! The node's [`Replayer`]: re-runs a disputed segment for block execution from the content in
//! the node's blob store.
//!
//! Everything a re-run needs is content, named by BLAKE3: the module, blobs and input (uploaded
//! by the consumer when it posted the job), and for a pre-state after leaf 0 the checkpoint
//! [`Manifest`] and its pages (uploaded by the side that settles the dispute: a provider agent,
//! as the defender or as the verifier that challenged). Every byte is checked against its name
//! on the way in and again when read. The re-run is `plexus_exec::honest`'s, the one every
//! provider, verifier and `plexus job verify` use; it is bounded by `seg_fuel` and is
//! deterministic, so every validator that has the content reaches the same [`Replayed`]; one
//! that lacks it reports `Unavailable` and refuses the block rather than guess.
//!
//! The party that settles uploads the content to the node it talks to; every other validator
//! fetches it from peers (`crate::content`). When a re-run finds content missing, the replayer
//! reports the request to the content actor ([`StoreReplayer::with_wants`]), and block execution
//! tries again as it arrives.

use commonware_codec::DecodeExt as _;
use plexus_blobs::BlobStore;
use plexus_exec::honest::{Content, Executor, ReplayFailure};
use plexus_exec::{Checkpoint, Engine, EngineOptions, PageSource};
use plexus_state::dispute::{ReplayError, ReplayRequest, Replayed, Replayer};
use plexus_types::ContentHash;
use plexus_types::audit::Manifest;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// Re-runs segments from the node's blob store.
pub struct StoreReplayer {
    blobs: Arc<BlobStore>,
    /// The honest path's engine and compile cache, built on first use: most nodes never settle
    /// a dispute.
    executor: Mutex<Option<Arc<Executor>>>,
    /// Where content a re-run lacked is reported, to be fetched from peers.
    wants: Option<crate::content::Wants>,
}

impl StoreReplayer {
    pub fn new(blobs: Arc<BlobStore>) -> Self {
        StoreReplayer {
            blobs,
            executor: Mutex::new(None),
            wants: None,
        }
    }

    /// Reports every request whose content is unavailable to `wants`.
    pub fn with_wants(mut self, wants: crate::content::Wants) -> Self {
        self.wants = Some(wants);
        self
    }

    fn content(&self, what: &str, hash: &ContentHash) -> Result<Vec<u8>, ReplayError> {
        match self.blobs.get(hash) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(ReplayError::Unavailable(format!("{what} {hash}"))),
            Err(err) => Err(ReplayError::Unavailable(format!("{what}: {err}"))),
        }
    }

    fn executor(&self) -> Result<Arc<Executor>, ReplayError> {
        let mut slot = self
            .executor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(executor) = slot.as_ref() {
            return Ok(executor.clone());
        }
        let engine = Engine::new(EngineOptions::default())
            .map_err(|err| ReplayError::Unavailable(format!("no executor: {err}")))?;
        let executor = Arc::new(Executor::new(engine));
        *slot = Some(executor.clone());
        Ok(executor)
    }

    /// The agreed pre-state's manifest (`None` for leaf 0, which needs none): the cheap checks,
    /// made before any other content is read or any compilation.
    fn manifest(&self, request: &ReplayRequest) -> Result<Option<Manifest>, ReplayError> {
        if request.pre.index == 0 {
            return Ok(None);
        }
        let bytes = self.content("manifest", &request.manifest)?;
        let manifest = Manifest::decode(bytes::Bytes::from(bytes))
            .map_err(|err| ReplayError::Invalid(format!("manifest does not decode: {err}")))?;
        if !plexus_state::dispute::manifest_matches(&manifest, &request.pre) {
            return Err(ReplayError::Invalid(
                "the manifest is not the agreed pre-state".into(),
            ));
        }
        Ok(Some(manifest))
    }
}

/// Pages from the blob store, found through the manifest's locators (the executor checks each
/// page's bytes against its `page_hash` when it restores them).
struct StorePages<'a> {
    store: &'a BlobStore,
    locators: BTreeMap<ContentHash, ContentHash>,
}

impl PageSource for StorePages<'_> {
    fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>> {
        let Some(locator) = self.locators.get(hash) else {
            return Ok(None);
        };
        self.store
            .get(locator)
            .map(|bytes| bytes.map(Cow::Owned))
            .map_err(io::Error::other)
    }
}

impl Replayer for StoreReplayer {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        let result = self.replay_from_store(request);
        if let (Err(ReplayError::Unavailable(_)), Some(wants)) = (&result, &self.wants) {
            wants.note(crate::content::Wanted::of_request(request));
        }
        result
    }
}

impl StoreReplayer {
    /// Re-runs the request's segment through the honest path. Admission and compilation are
    /// deterministic: a module that fails them fails the same way on every node (content
    /// invalid; a provider could only have refused such a job).
    fn replay_from_store(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        let manifest = self.manifest(request)?;
        let input = self.content("input", &request.input)?;
        let blobs = request
            .blobs
            .iter()
            .map(|hash| self.content("blob", hash).map(Arc::<[u8]>::from))
            .collect::<Result<Vec<_>, _>>()?;
        let executor = self.executor()?;
        let content = Content {
            id: request.job_id,
            module: request.module,
            input: Arc::from(input),
            blobs,
            max_fuel: request.max_fuel,
            seg_fuel: request.seg_fuel,
        };
        let job = executor
            .prepare(content, || self.content("module", &request.module))?
            .map_err(ReplayFailure::Refused)?;
        let outcome = match manifest {
            None => executor.replay_first(&job)?,
            Some(manifest) => {
                let pages = StorePages {
                    store: &self.blobs,
                    locators: manifest
                        .pages
                        .iter()
                        .copied()
                        .zip(manifest.locators.iter().copied())
                        .collect(),
                };
                let pre = Checkpoint {
                    index: manifest.index,
                    fuel: manifest.fuel,
                    globals: manifest.globals,
                    pages: manifest.pages,
                };
                executor.replay_from(&job, &request.pre, &pre, &pages)?
            }
        };
        Ok(plexus_exec::honest::replayed(&outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_exec::MemoryCheckpoints;
    use plexus_state::dispute::ReplayEnd;
    use plexus_types::ContentHash;
    use plexus_types::dissection::RevealedLeaf;

    /// A job run once, its content in the node's store: by default the cnn job over two images
    /// (many segments at a small `seg_fuel`).
    struct Fixture {
        dir: std::path::PathBuf,
        blobs: Arc<BlobStore>,
        request: ReplayRequest,
        run: MemoryCheckpoints,
        leaves: Vec<plexus_exec::Leaf>,
        execution_outcome: plexus_exec::Outcome,
    }

    fn fixture(name: &str) -> Fixture {
        let cnn = plexus_exec::builtin::lookup("cnn").unwrap();
        let mut input = 2u32.to_le_bytes().to_vec();
        input.extend((0..2 * 4096).map(|i| (i * 13 % 251) as u8));
        let f = fixture_of(name, cnn.wasm, cnn.blobs, input, 500_000_000, 1 << 20);
        assert!(f.leaves.len() >= 5, "{} leaves", f.leaves.len());
        f
    }

    /// A job of `wasm` stored in a fresh blob store, run once with checkpoints in memory; the
    /// request re-runs its segment 0.
    fn fixture_of(
        name: &str,
        wasm: &[u8],
        job_blobs: &[&[u8]],
        input: Vec<u8>,
        max_fuel: u64,
        seg_fuel: u64,
    ) -> Fixture {
        let dir = std::env::temp_dir().join(format!("plexus-replay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let blobs = Arc::new(BlobStore::open(&dir, Default::default()).unwrap());
        let module = blobs.put(wasm).unwrap();
        let blob_hashes: Vec<ContentHash> =
            job_blobs.iter().map(|b| blobs.put(b).unwrap()).collect();
        let input_hash = blobs.put(&input).unwrap();
        let engine = Engine::new(EngineOptions::default()).unwrap();
        let job_id = plexus_types::hash(&[b"replay".as_slice()]);
        let job = plexus_exec::Job {
            id: job_id.0,
            module: engine.compile(&plexus_exec::admit(wasm).unwrap()).unwrap(),
            input: Arc::from(input),
            blobs: job_blobs.iter().map(|b| Arc::<[u8]>::from(*b)).collect(),
            max_fuel,
            seg_fuel,
        };
        let mut run = MemoryCheckpoints::default();
        let execution = plexus_exec::run(&engine, &job, &mut run).unwrap();
        let request = ReplayRequest {
            job_id,
            module,
            blobs: blob_hashes,
            input: input_hash,
            max_fuel,
            seg_fuel,
            pre: RevealedLeaf {
                index: 0,
                fuel: 0,
                state_root: execution.leaves[0].state_root,
            },
            manifest: ContentHash::ZERO,
            endpoints: Vec::new(),
        };
        Fixture {
            dir,
            blobs,
            request,
            run,
            leaves: execution.leaves,
            execution_outcome: execution.outcome,
        }
    }

    /// Uploads checkpoint `index`'s pages and manifest as a settling party does; returns the
    /// request for that segment.
    fn upload(f: &Fixture, index: usize) -> ReplayRequest {
        let checkpoint = &f.run.checkpoints[index];
        let mut locators = Vec::new();
        for hash in &checkpoint.pages {
            let bytes = f.run.page(hash).unwrap().unwrap();
            locators.push(ContentHash::of(&bytes));
            f.blobs.put(&bytes).unwrap();
        }
        let manifest = Manifest {
            index: checkpoint.index,
            fuel: checkpoint.fuel,
            globals: checkpoint.globals.clone(),
            pages: checkpoint.pages.clone(),
            locators,
        };
        let name = f
            .blobs
            .put(&commonware_codec::Encode::encode(&manifest))
            .unwrap();
        ReplayRequest {
            pre: RevealedLeaf {
                index: checkpoint.index,
                fuel: checkpoint.fuel,
                state_root: checkpoint.state_root(),
            },
            manifest: name,
            ..f.request.clone()
        }
    }

    #[test]
    fn re_runs_segments_from_the_store_and_refuses_content_that_does_not_fit() {
        let f = fixture("store");
        let replayer = StoreReplayer::new(f.blobs.clone());
        // Segment 0 from the bare module; segment 2 from an uploaded checkpoint.
        let first = replayer.replay(&f.request).unwrap();
        assert_eq!(
            (first.fuel, first.state_root),
            (f.leaves[1].fuel, f.leaves[1].state_root)
        );
        assert_eq!(first.end, ReplayEnd::Checkpoint);
        let request = upload(&f, 2);
        let third = replayer.replay(&request).unwrap();
        assert_eq!(
            (third.fuel, third.state_root),
            (f.leaves[3].fuel, f.leaves[3].state_root)
        );

        // A manifest that is not the agreed pre-state is invalid (the same on every node).
        let wrong_leaf = ReplayRequest {
            pre: RevealedLeaf {
                fuel: request.pre.fuel + 1,
                ..request.pre
            },
            ..request.clone()
        };
        assert!(matches!(
            replayer.replay(&wrong_leaf),
            Err(ReplayError::Invalid(_))
        ));
        // Bytes that are not a manifest are invalid.
        let junk = f.blobs.put(b"not a manifest").unwrap();
        let junk = ReplayRequest {
            manifest: junk,
            ..request.clone()
        };
        assert!(matches!(
            replayer.replay(&junk),
            Err(ReplayError::Invalid(_))
        ));
        // A locator that names other bytes than the page hash commits to: the page does not
        // match its hash, invalid.
        let checkpoint = &f.run.checkpoints[2];
        let mut locators: Vec<_> = checkpoint
            .pages
            .iter()
            .map(|hash| ContentHash::of(&f.run.page(hash).unwrap().unwrap()))
            .collect();
        let other = vec![7u8; plexus_types::trace::PAGE_BYTES];
        f.blobs.put(&other).unwrap();
        // Every locator of one page hash (identical pages, zero pages above all, share one).
        let lied = checkpoint.pages[0];
        for (locator, hash) in locators.iter_mut().zip(&checkpoint.pages) {
            if *hash == lied {
                *locator = ContentHash::of(&other);
            }
        }
        let lying = Manifest {
            index: checkpoint.index,
            fuel: checkpoint.fuel,
            globals: checkpoint.globals.clone(),
            pages: checkpoint.pages.clone(),
            locators,
        };
        let lying = f
            .blobs
            .put(&commonware_codec::Encode::encode(&lying))
            .unwrap();
        let lying = ReplayRequest {
            manifest: lying,
            ..request.clone()
        };
        assert!(matches!(
            replayer.replay(&lying),
            Err(ReplayError::Invalid(_))
        ));
        // A manifest or a page the node does not hold: unavailable, never a verdict.
        let absent = ReplayRequest {
            manifest: plexus_types::ContentHash::of_parts(&[b"absent".as_slice()]),
            ..request.clone()
        };
        assert!(matches!(
            replayer.replay(&absent),
            Err(ReplayError::Unavailable(_))
        ));
        let page = ContentHash::of(&f.run.page(&checkpoint.pages[0]).unwrap().unwrap());
        f.blobs.remove(&page).unwrap();
        assert!(matches!(
            replayer.replay(&request),
            Err(ReplayError::Unavailable(_))
        ));
        let _ = std::fs::remove_dir_all(&f.dir);
    }

    /// Four steps of real work (100 000 loop iterations each); the fourth ends in an
    /// out-of-bounds load, which wasmtime raises without writing its fuel count back.
    const WORK_THEN_TRAP: &str = r#"(module
      (memory (export "memory") 1 1)
      (global $steps (mut i32) (i32.const 0))
      (global (export "plexus_output") i32 (i32.const 0))
      (func (export "init"))
      (func (export "step") (result i32)
        (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))
        (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
        (if (i32.eq (global.get $steps) (i32.const 4))
          (then (drop (i32.load (i32.const 0x7ffffff0)))))
        (i32.sub (i32.const 4) (global.get $steps))))"#;

    #[test]
    fn the_re_run_of_a_trapping_segment_rules_for_the_providers_bill() {
        let max_fuel = 100_000_000;
        let wasm = wat::parse_str(WORK_THEN_TRAP).unwrap();
        let f = fixture_of("trap", &wasm, &[], Vec::new(), max_fuel, 1 << 15);
        let trap = plexus_exec::TrapCode::MemoryOutOfBounds;
        assert_eq!(f.execution_outcome, plexus_exec::Outcome::Trapped(trap));
        // Checkpoints 0-3 and the trap leaf, which bills max_fuel.
        assert_eq!(f.leaves.len(), 5);
        let trap_leaf = f.leaves[4];
        assert_eq!(trap_leaf.fuel, max_fuel);
        let hashes: Vec<ContentHash> = (0u64..)
            .zip(&f.leaves)
            .map(|(index, leaf)| leaf.hash(index))
            .collect();
        let trap_root = plexus_types::trace::trap_root(trap.code());
        let commitment = plexus_types::job::Commitment {
            output_hash: trap_root,
            total_fuel: max_fuel,
            segments: 4,
            trace_root: plexus_types::trace::trace_root(&hashes),
            failed: true,
        };
        // The validators re-run segment 3 from the uploaded checkpoint 3: the provider's trap
        // leaf, so its commitment holds.
        let replayer = StoreReplayer::new(f.blobs.clone());
        let replayed = replayer.replay(&upload(&f, 3)).unwrap();
        assert_eq!(
            replayed,
            Replayed {
                fuel: max_fuel,
                state_root: trap_root,
                end: ReplayEnd::Trapped { code: trap.code() },
            }
        );
        let hi = RevealedLeaf {
            index: 4,
            fuel: trap_leaf.fuel,
            state_root: trap_leaf.state_root,
        };
        assert!(plexus_state::dispute::transition_holds(
            &commitment,
            &hi,
            &replayed
        ));
        // A bill below max_fuel (the store's stale count) does not.
        let understated = plexus_types::job::Commitment {
            total_fuel: f.leaves[3].fuel + 1,
            ..commitment
        };
        let low = RevealedLeaf {
            fuel: f.leaves[3].fuel + 1,
            ..hi
        };
        assert!(!plexus_state::dispute::transition_holds(
            &understated,
            &low,
            &replayed
        ));
        let _ = std::fs::remove_dir_all(&f.dir);
    }
}
