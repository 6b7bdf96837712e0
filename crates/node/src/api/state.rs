//! The API's shared state (the chain app, the store, the metrics, the block broadcast, the
//! faucet and the limits) and the helpers every route uses on it.

use crate::{http::ApiError, limits::ClientLimits, metrics::Metrics, store::Store};
use plexus_chain::App;
use plexus_client::dto::BlockEventDto;
use plexus_state::State as LedgerState;
use plexus_types::{Amount, PrivateKey};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The devnet faucet: a funded key that signs transfers on request.
pub struct Faucet {
    pub key: PrivateKey,
    /// Serializes requests so that each takes the next nonce after the previous one's.
    pub(super) sending: Mutex<()>,
}

impl Faucet {
    pub fn new(key: PrivateKey) -> Self {
        Faucet {
            key,
            sending: Mutex::new(()),
        }
    }
}

/// Largest amount the faucet hands out per request.
pub const FAUCET_AMOUNT_MAX: Amount = 10_000 * plexus_types::PLX;

#[derive(Clone)]
pub struct ApiState {
    pub app: App,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub blocks: broadcast::Sender<BlockEventDto>,
    /// Permits for block-stream subscribers (`STREAMS_MAX`).
    pub streams: Arc<tokio::sync::Semaphore>,
    pub faucet: Option<Arc<Faucet>>,
    /// Per-client budgets (`limits`).
    pub limits: Arc<ClientLimits>,
    /// Permits for the CPU-heavy checking of submitted batches (decode, hashes, signatures):
    /// half the cores, at least one, so a flood queues instead of taking every core.
    pub checks: Arc<tokio::sync::Semaphore>,
}

/// Permits for [`ApiState::checks`] on this machine.
pub fn check_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Counts a submission's outcome in the metrics (accepted, or rejected by code).
pub(super) fn count<T>(state: &ApiState, result: &Result<T, ApiError>) {
    match result {
        Ok(_) => {
            state.metrics.txs_accepted.inc();
        }
        Err(err) => state.metrics.reject(&err.body.code),
    }
}

/// Runs `f` on the last finalized state, outside the ledger lock.
pub(super) fn finalized_state<T>(state: &ApiState, f: impl FnOnce(&LedgerState) -> T) -> T {
    f(&state.app.finalized().state)
}

/// Requests served at once across all routes (block streams excepted); more wait for a permit.
pub const REQUESTS_CONCURRENT_MAX: usize = 256;

/// Block-stream subscribers at once.
pub const STREAMS_MAX: usize = 64;
