//! The node's [`Replayer`]: re-runs a disputed segment for block execution from the content in
//! the node's blob store.
//!
//! Everything a re-run needs is content, named by BLAKE3: the module, blobs and input (uploaded
//! by the consumer when it posted the job), and for a pre-state after leaf 0 the checkpoint
//! [`Manifest`] and its pages (uploaded by the side that settles the dispute, `plexus dispute
//! settle` or the provider agent). Every byte is checked against its name on the way in and
//! again when read. The re-run is bounded by `seg_fuel` and is deterministic, so every validator
//! that has the content reaches the same [`Replayed`]; one that lacks it reports `Unavailable`
//! and refuses the block rather than guess.
//!
//! Content is not replicated between validators yet: the party that settles uploads it to the
//! node it talks to, and a block is built by that node's validator. ARCHITECTURE.md records the
//! limit.

use commonware_codec::DecodeExt as _;
use plexus_blobs::BlobStore;
use plexus_exec::{Checkpoint, Engine, EngineOptions, ExecError, PageSource, SegmentEnd};
use plexus_state::dispute::{ReplayEnd, ReplayError, ReplayRequest, Replayed, Replayer};
use plexus_types::Digest;
use plexus_types::audit::Manifest;
use plexus_types::trace::Digest32;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// Compiled modules kept, by module hash: a dispute's failed settlements do not each pay for a
/// compilation.
const COMPILED_CACHE_MAX: usize = 8;

/// Re-runs segments from the node's blob store.
pub struct StoreReplayer {
    blobs: Arc<BlobStore>,
    /// Built on first use: most nodes never settle a dispute.
    engine: Mutex<Option<Arc<Engine>>>,
    compiled: Mutex<BTreeMap<Digest, plexus_exec::Compiled>>,
}

impl StoreReplayer {
    pub fn new(blobs: Arc<BlobStore>) -> Self {
        StoreReplayer {
            blobs,
            engine: Mutex::new(None),
            compiled: Mutex::new(BTreeMap::new()),
        }
    }

    fn content(&self, what: &str, hash: &Digest) -> Result<Vec<u8>, ReplayError> {
        match self.blobs.get(hash) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(ReplayError::Unavailable(format!(
                "{what} {}",
                plexus_types::hash::digest_hex(hash)
            ))),
            Err(err) => Err(ReplayError::Unavailable(format!("{what}: {err}"))),
        }
    }

    fn engine(&self) -> Result<Arc<Engine>, ReplayError> {
        let mut slot = self
            .engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(engine) = slot.as_ref() {
            return Ok(engine.clone());
        }
        let engine = Arc::new(
            Engine::new(EngineOptions::default())
                .map_err(|err| ReplayError::Unavailable(format!("no executor: {err}")))?,
        );
        *slot = Some(engine.clone());
        Ok(engine)
    }
}

/// Pages from the blob store, found through the manifest's locators (the executor checks each
/// page's bytes against its `page_hash` when it restores them).
struct StorePages<'a> {
    store: &'a BlobStore,
    locators: BTreeMap<Digest32, Digest32>,
}

impl PageSource for StorePages<'_> {
    fn page(&self, hash: &Digest32) -> io::Result<Option<Cow<'_, [u8]>>> {
        let Some(locator) = self.locators.get(hash) else {
            return Ok(None);
        };
        let name = plexus_types::hash::digest_from_bytes(locator.0);
        self.store
            .get(&name)
            .map(|bytes| bytes.map(Cow::Owned))
            .map_err(io::Error::other)
    }
}

fn end_of(end: SegmentEnd) -> ReplayEnd {
    match end {
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
    }
}

impl StoreReplayer {
    /// The module compiled, from the cache or the store. Admission and compilation are
    /// deterministic: a module that fails them fails the same way on every node (a provider could
    /// only have refused such a job).
    fn compiled(
        &self,
        engine: &Engine,
        module: &Digest,
    ) -> Result<plexus_exec::Compiled, ReplayError> {
        let mut cache = self
            .compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(compiled) = cache.get(module) {
            return Ok(compiled.clone());
        }
        let bytes = self.content("module", module)?;
        let admitted = plexus_exec::admit(&bytes)
            .map_err(|err| ReplayError::Invalid(format!("module refused: {err}")))?;
        let compiled = engine
            .compile(&admitted)
            .map_err(|err| ReplayError::Invalid(format!("module does not compile: {err}")))?;
        if cache.len() >= COMPILED_CACHE_MAX {
            cache.pop_first();
        }
        cache.insert(*module, compiled.clone());
        Ok(compiled)
    }
}

impl Replayer for StoreReplayer {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        // The cheap checks first: a wrong manifest fails before any compilation.
        let manifest = if request.pre.index == 0 {
            None
        } else {
            let bytes = self.content("manifest", &request.manifest)?;
            let manifest = Manifest::decode(bytes::Bytes::from(bytes))
                .map_err(|err| ReplayError::Invalid(format!("manifest does not decode: {err}")))?;
            if !plexus_state::dispute::manifest_matches(&manifest, &request.pre) {
                return Err(ReplayError::Invalid(
                    "the manifest is not the agreed pre-state".into(),
                ));
            }
            Some(manifest)
        };
        let input = self.content("input", &request.input)?;
        let blobs = request
            .blobs
            .iter()
            .map(|hash| self.content("blob", hash).map(Arc::<[u8]>::from))
            .collect::<Result<Vec<_>, _>>()?;
        let engine = self.engine()?;
        let compiled = self.compiled(&engine, &request.module)?;
        let job = plexus_exec::Job {
            id: request.job_id.0,
            module: compiled,
            input: Arc::from(input),
            blobs,
            max_fuel: request.max_fuel,
            seg_fuel: request.seg_fuel,
        };
        let outcome = match manifest {
            None => plexus_exec::replay_first_segment(&engine, &job)
                .map_err(invalid)?
                .ok_or_else(|| ReplayError::Invalid("the module traps at instantiation".into()))?,
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
                plexus_exec::replay_segment(&engine, &job, &pre, &pages).map_err(
                    |err| match err {
                        ExecError::MissingPage { .. } | ExecError::PageSource(_) => {
                            ReplayError::Unavailable(err.to_string())
                        }
                        other => invalid(other),
                    },
                )?
            }
        };
        Ok(Replayed {
            fuel: outcome.leaf.fuel,
            state_root: outcome.leaf.state_root,
            end: end_of(outcome.end),
        })
    }
}

fn invalid(err: ExecError) -> ReplayError {
    ReplayError::Invalid(err.to_string())
}
