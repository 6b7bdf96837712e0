//! The real state machine, block by block: signed transactions from the scenario's keys built
//! into blocks with `plexus_state::build_block_with` over the node's own `Replayer`
//! (`plexus_node::replay::StoreReplayer`, re-running disputed segments through `plexus-exec`
//! from a blob store that the parties upload content to), with the supply recounted after
//! every block.

use commonware_cryptography::Signer as _;
use plexus_blobs::{BlobStore, Limits};
use plexus_exec::MemoryCheckpoints;
use plexus_node::replay::StoreReplayer;
use plexus_state::beacon::DevBeacon;
use plexus_state::{Genesis, GenesisValidator, Params, State, build_block_with};
use plexus_types::ContentHash;
use plexus_types::audit::Manifest;
use plexus_types::{Amount, Digest, PLX, Payload, Status};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The scenario's chain id.
const CHAIN: u64 = 13;
/// Key 0 is the only validator; every key `0..keys` holds this at genesis.
const VALIDATOR: u64 = 0;
const START: Amount = 1_000_000 * PLX;
const FEE: Amount = 1_000;
/// Blob stores made by this process so far: each run has its own directory.
static STORES: AtomicU64 = AtomicU64::new(0);

pub(super) use crate::signing::{address, key};

/// The chain and the content store its validators re-run disputed segments from.
pub(super) struct Chain {
    pub(super) state: State,
    beacon: DevBeacon,
    blobs: Arc<BlobStore>,
    replayer: StoreReplayer,
    dir: PathBuf,
}

impl Drop for Chain {
    fn drop(&mut self) {
        // A leftover directory costs disk only; nothing reads it again.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Chain {
    /// A chain of one validator whose keys `0..keys` are funded, with a fresh blob store.
    pub(super) fn new(seed: u64, params: Params, keys: u64) -> Result<Self, String> {
        let beacon = DevBeacon::deal(seed, [key(VALIDATOR).public_key()]);
        let state = Genesis {
            chain_id: CHAIN,
            timestamp_ms: 0,
            params,
            allocations: (0..keys).map(|i| (address(i), START)).collect(),
            validators: vec![GenesisValidator {
                address: address(VALIDATOR),
                self_bond: 10_000 * PLX,
            }],
            beacon: beacon.output.clone(),
        }
        .build()
        .map_err(|err| format!("genesis: {err}"))?
        .0;
        let dir = std::env::temp_dir().join(format!(
            "plexus-sim-fueltrace-{}-{}",
            std::process::id(),
            STORES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let blobs = Arc::new(
            BlobStore::open(&dir, Limits::default()).map_err(|err| format!("blob store: {err}"))?,
        );
        Ok(Chain {
            state,
            beacon,
            replayer: StoreReplayer::new(blobs.clone()),
            blobs,
            dir,
        })
    }

    /// Stores content (a module, an input, a page, a manifest) where the validators read it.
    pub(super) fn put(&self, bytes: &[u8]) -> Result<ContentHash, String> {
        self.blobs
            .put(bytes)
            .map_err(|err| format!("blob store: {err}"))
    }

    /// Uploads checkpoint `index` (its pages, then its manifest) as a settling party does;
    /// returns the manifest's name, or `None` when `checkpoints` lacks that checkpoint.
    pub(super) fn upload_pre_state(
        &self,
        checkpoints: &MemoryCheckpoints,
        index: u64,
    ) -> Result<Option<ContentHash>, String> {
        let Some((checkpoint, pages)) = super::roles::pre_state(checkpoints, index) else {
            return Ok(None);
        };
        let mut locators = Vec::with_capacity(pages.len());
        for page in &pages {
            self.put(page)?;
            locators.push(ContentHash::of(page));
        }
        let manifest = Manifest {
            index,
            fuel: checkpoint.fuel,
            globals: checkpoint.globals.clone(),
            pages: checkpoint.pages.clone(),
            locators,
        };
        self.put(&commonware_codec::Encode::encode(&manifest))
            .map(Some)
    }

    /// Builds and applies the next block of `payloads` (sender key, payload), signed with
    /// consecutive nonces; returns each transaction's hash (a posted job's id) and status. Fails
    /// if the block does not build or the ledger no longer sums to the supply.
    pub(super) fn block(
        &mut self,
        payloads: Vec<(u64, Payload)>,
    ) -> Result<Vec<(Digest, Status)>, String> {
        let txs = crate::signing::sign_all(&self.state, CHAIN, FEE, payloads);
        let hashes: Vec<Digest> = txs.iter().map(|tx| tx.hash()).collect();
        let height = self.state.height + 1;
        let built = build_block_with(
            &self.state,
            txs,
            self.state.timestamp_ms + self.state.params.audit.audit_block_ms,
            key(VALIDATOR).public_key(),
            self.beacon.block_signature(height),
            &self.replayer,
        )
        .map_err(|err| format!("block {height} does not build: {err}"))?;
        self.state = built.state;
        match self.state.recount() {
            Ok(total) if total == self.state.supply.total() => {}
            other => {
                return Err(format!(
                    "after block {height} the ledger sums to {other:?}, the supply is {}",
                    self.state.supply.total()
                ));
            }
        }
        Ok(hashes
            .into_iter()
            .zip(built.receipts.into_iter().map(|r| r.status))
            .collect())
    }
}
