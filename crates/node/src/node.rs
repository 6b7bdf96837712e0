//! Running a node: recover from disk, start consensus, the finalizer and the API, stop on signal.

use crate::limits::ClientLimits;
use crate::{
    api::{self, ApiState, Faucet},
    engine::{self, EngineConfig},
    metrics::Metrics,
    store::{Store, StoreError},
};
use commonware_cryptography::Signer;
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _, tokio as cw_tokio};
use commonware_utils::ordered::Set;
use futures::{StreamExt, channel::mpsc};
use plexus_chain::{App, AppConfig, ChainBlock, Finalized, Ledger, LedgerError, MempoolConfig};
use plexus_client::dto::BlockEventDto;
use plexus_state::{Genesis, GenesisError};
use plexus_types::{BLOCK_TXS_MAX, Block, PrivateKey, PublicKey, hash::digest_hex};
use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::broadcast;
use tracing::{error, info};

/// Everything a node needs to run.
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub genesis: Genesis,
    /// The node's key: its p2p identity, and for a committee member its consensus key.
    pub key: PrivateKey,
    /// A committee member's share of the beacon key (dealt by `plexus genesis`); none on a
    /// full node.
    pub beacon_share: Option<Share>,
    pub api: SocketAddr,
    /// Where this node listens for peers.
    pub p2p: SocketAddr,
    /// The address peers dial to reach this node (defaults to `p2p`).
    pub dialable: Option<SocketAddr>,
    /// Peers to discover the network through: `(public key, address)`.
    pub bootstrappers: Vec<(PublicKey, SocketAddr)>,
    /// Follow the chain without voting (the key is not in the committee).
    pub full_node: bool,
    /// Full nodes this node lets connect (validators list the full nodes they serve).
    pub full_nodes: Vec<PublicKey>,
    /// On an empty store: start from the latest state of the node at this API URL instead of
    /// executing every block, once a finalization from the committee confirms it.
    pub state_sync: Option<String>,
    /// Devnet only: the key the faucet endpoint pays from.
    pub faucet: Option<PrivateKey>,
    pub block_time_min_ms: u64,
    pub idle_block_ms: u64,
    /// Per-client API budgets; `None` for none (benchmarks driving the node from one client).
    pub client_limits: Option<crate::limits::LimitsConfig>,
}

/// Why a node stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("finalizing: {0}")]
    Finalize(#[from] plexus_chain::FinalizeError<StoreError>),
    #[error("replaying stored block {height}: {source}")]
    Replay { height: u64, source: LedgerError },
    #[error(
        "the stored chain does not match this genesis (stored genesis hash {stored}, expected {expected})"
    )]
    GenesisMismatch { stored: String, expected: String },
    #[error("the stored snapshot at height {height} does not match the stored block")]
    SnapshotMismatch { height: u64 },
    #[error("cannot listen for the {what} on {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("blob store: {0}")]
    Blobs(#[from] plexus_blobs::BlobError),
    #[error("consensus storage: {0}")]
    Archive(#[from] commonware_storage::archive::Error),
    #[error(
        "the key {0} is not in this genesis's committee (run with --full-node to follow the chain without validating)"
    )]
    NotAValidator(String),
    #[error("state sync: {0}")]
    StateSync(String),
    #[error("{0}")]
    ReshareRound(#[from] crate::reshare::RoundFileError),
    #[error("beacon share: {0}")]
    BeaconShare(String),
    #[error("runtime: {0}")]
    Runtime(String),
}

/// The beacon share this node signs with: among the configured one (from `plexus genesis`) and
/// those later reshares gave it (`DIR/beacon/EPOCH.share`), the one that is this member's share
/// of the state's current key. A genesis validator without a valid share is a configuration
/// error; a later member that missed a reshare runs without one (it still votes; the others
/// sign the beacon) and says so.
fn select_share(
    cfg: &NodeConfig,
    state: &plexus_state::State,
    me: &PublicKey,
) -> Result<Option<Share>, NodeError> {
    let Some(position) = state.beacon_key.players().position(me) else {
        return Ok(None);
    };
    let candidates = cfg
        .beacon_share
        .iter()
        .cloned()
        .chain(crate::reshare::stored_shares(&cfg.data_dir));
    if let Some(share) = plexus_state::beacon::current_share(state, me, candidates) {
        return Ok(Some(share));
    }
    if state.epoch_of(state.height + 1) == 0 {
        return Err(NodeError::BeaconShare(match cfg.beacon_share {
            None => "a validator needs its share of the beacon key (`plexus node init --beacon-share FILE`)".into(),
            Some(_) => format!(
                "the share is not committee member {position}'s share of this genesis's beacon key"
            ),
        }));
    }
    tracing::warn!(
        position,
        "no share of the current beacon key: this validator votes but does not sign the beacon"
    );
    Ok(None)
}

/// How long a proposer waits for its block's beacon signature (below the leader timeout).
const BEACON_WAIT_MS: u64 = 1_500;

/// How long verifying a proposal waits for dispute content fetched from peers (below the
/// certification timeout, which is the idle block interval plus 3 s).
const CONTENT_WAIT_MS: u64 = 2_000;

/// A snapshot of the state is stored every this many finalized blocks, bounding restart replay.
pub const SNAPSHOT_INTERVAL_BLOCKS: u64 = 1_000;

/// Rebuilds the ledger from the store: the latest snapshot (or genesis), then every stored block
/// after it. Creates the genesis block on first start.
fn recover(
    store: &Store,
    genesis: &Genesis,
    replayer: Arc<dyn plexus_state::dispute::Replayer>,
) -> Result<(Ledger, Block), NodeError> {
    let (state, header) = genesis.build()?;
    let genesis_block = Block {
        header,
        txs: Vec::new(),
    };
    match store.block(0)? {
        None => store.put(&genesis_block, &[])?,
        Some(stored) if stored.digest() != genesis_block.digest() => {
            return Err(NodeError::GenesisMismatch {
                stored: digest_hex(&stored.digest()),
                expected: digest_hex(&genesis_block.digest()),
            });
        }
        Some(_) => {}
    }
    let started = std::time::Instant::now();
    let tip = store.tip()?.unwrap_or(0);
    let mut ledger = match store.snapshot()? {
        Some(snapshot) if snapshot.height <= tip => {
            let height = snapshot.height;
            let block = store
                .block(height)?
                .ok_or(StoreError::Gap { tip, found: height })?;
            // One root computation checks the whole snapshot against the finalized header.
            if block.digest() != snapshot.block_hash || snapshot.root() != block.header.state_root {
                return Err(NodeError::SnapshotMismatch { height });
            }
            Ledger::new(block, snapshot, store.receipts(height)?)
        }
        _ => Ledger::new(genesis_block.clone(), state, Vec::new()),
    };
    ledger.set_replayer(replayer);
    let from = ledger.finalized().state.height;
    for height in from + 1..=tip {
        let Some(block) = store.block(height)? else {
            return Err(NodeError::Store(StoreError::Gap {
                tip: height - 1,
                found: height,
            }));
        };
        ledger
            .replay(block, height == tip)
            .map_err(|source| NodeError::Replay { height, source })?;
    }
    // A crash between a block's commit and its snapshot skips that snapshot: catch up here.
    if tip - from >= SNAPSHOT_INTERVAL_BLOCKS {
        store.put_snapshot(&ledger.finalized().state)?;
    }
    info!(
        height = tip,
        snapshot = from,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered the finalized chain from disk"
    );
    Ok((ledger, genesis_block))
}

/// The consensus committee a chain starts with: the genesis state's committee, in the canonical
/// order every validator derives alike.
pub fn committee(genesis: &Genesis) -> Result<Set<PublicKey>, NodeError> {
    let (state, _) = genesis.build()?;
    let keys: Vec<PublicKey> = state.committee().iter().map(|a| a.0.clone()).collect();
    Set::try_from(keys)
        .map_err(|_| NodeError::Runtime("the genesis committee repeats a key".into()))
}

/// Fetches a peer's latest finalized block and state and checks that they belong together (the
/// state hashes to the block's state root). The block itself is not trusted yet.
async fn fetch_snapshot(
    url: &str,
    genesis: &Genesis,
) -> Result<(Block, plexus_state::State), NodeError> {
    use commonware_codec::Decode;
    let started = std::time::Instant::now();
    // The blocking client owns a runtime of its own: create and drop it off the async workers.
    let peer = url.to_string();
    let bytes = tokio::task::spawn_blocking(move || plexus_client::Client::new(&peer).snapshot())
        .await
        .map_err(|e| NodeError::StateSync(e.to_string()))?
        .map_err(|e| NodeError::StateSync(format!("fetching from {url}: {e}")))?;
    let size = bytes.len();
    let (block, state) = tokio::task::spawn_blocking(move || {
        let decoded = <(Block, plexus_state::State)>::decode_cfg(
            commonware_codec::Copying(bytes.as_slice()),
            &(BLOCK_TXS_MAX, ()),
        )
        .map_err(|e| NodeError::StateSync(format!("the snapshot does not decode: {e}")))?;
        let (block, state) = &decoded;
        if state.height != block.header.height
            || state.block_hash != block.digest()
            || state.root() != block.header.state_root
        {
            return Err(NodeError::StateSync(
                "the snapshot's state does not match its block's state root".into(),
            ));
        }
        Ok(decoded)
    })
    .await
    .map_err(|e| NodeError::StateSync(e.to_string()))??;
    if state.chain_id != genesis.chain_id {
        return Err(NodeError::StateSync(format!(
            "the snapshot is of chain {}, not {}",
            state.chain_id, genesis.chain_id
        )));
    }
    info!(
        height = state.height,
        accounts = state.accounts().len(),
        bytes = size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "fetched and checked a state snapshot"
    );
    Ok((block, state))
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(cfg: NodeConfig) -> Result<(), NodeError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| NodeError::Runtime(e.to_string()))?;
    let runtime_cfg = cw_tokio::Config::new()
        .with_storage_directory(cfg.data_dir.join("consensus"))
        .with_worker_threads(2)
        .with_catch_panics(false);
    cw_tokio::Runner::new(runtime_cfg).start(|context| async move { run_in(context, cfg).await })
}

async fn run_in(context: cw_tokio::Context, cfg: NodeConfig) -> Result<(), NodeError> {
    let OnDisk {
        store,
        blobs,
        wanted,
        ledger,
        genesis_block,
    } = open_disk(&cfg)?;
    let member = Membership::check(&cfg, &ledger.finalized().state)?;
    // A round record that cannot be read stops the node here, before it joins the network.
    let durability = crate::reshare::Durability::in_dir(&cfg.data_dir)?;
    let app_cfg = app_config(&cfg, member.beacon_share.clone());
    let (ledger, synced) = sync_state(&cfg, ledger).await?;
    // Whom to ask for the synced block's finalization: its epoch's committee.
    let committee_keys = {
        let state = &ledger.finalized().state;
        state
            .epoch_committees
            .get(&state.epoch_of(state.height))
            .map(|c| Set::from_iter_dedup(c.iter().map(|a| a.0.clone())))
            .unwrap_or_else(|| member.participants.clone())
    };
    let (app, finalized) = App::new(app_cfg, ledger);
    let metrics = Arc::new(Metrics::default());
    metrics.height.set(app.finalized().state.height as i64);
    let (blocks, _) = broadcast::channel(256);

    let listener = bind_listeners(&cfg)?;
    let api_state = ApiState {
        app: app.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        blocks: blocks.clone(),
        streams: Arc::new(tokio::sync::Semaphore::new(api::STREAMS_MAX)),
        faucet: cfg.faucet.clone().map(|key| Arc::new(Faucet::new(key))),
        limits: Arc::new(match cfg.client_limits {
            Some(limits) => ClientLimits::new(limits),
            None => ClientLimits::unlimited(),
        }),
        checks: Arc::new(tokio::sync::Semaphore::new(api::check_permits())),
    };
    let content = crate::content::Content {
        store: blobs.clone(),
        wanted,
    };
    let started = start_consensus(
        &context,
        &cfg,
        &member,
        &app,
        genesis_block,
        durability,
        content,
    )
    .await?;
    if let Some(block) = synced {
        engine::confirm_synced(
            &context,
            &started.marshal,
            &committee_keys,
            &block,
            Duration::from_secs(60),
        )
        .await
        .map_err(NodeError::StateSync)?;
        store.put_synced(&block, &app.finalized().state)?;
        info!(
            height = block.header.height,
            "state sync confirmed by a finalization"
        );
    }
    // The API serves only confirmed state: it starts once any state sync is confirmed.
    let router = api::router(api_state, blobs);
    let _api = ApiServer::start(listener, router)?;
    info!(api = %cfg.api, p2p = %cfg.p2p, "node started");

    let finalizer = finalize_loop(
        context.child("finalize"),
        app,
        store,
        metrics,
        blocks,
        finalized,
    );
    tokio::select! {
        result = finalizer => result,
        _ = shutdown_signal() => {
            info!("shutting down");
            let _ = context.stop(0, Some(Duration::from_secs(5))).await;
            Ok(())
        }
    }
}

/// What a node keeps on disk, opened, with the ledger recovered from it.
struct OnDisk {
    store: Arc<Store>,
    /// Content (modules, inputs, checkpoint pages) for the API and for re-running disputed
    /// segments inside block execution.
    blobs: Arc<plexus_blobs::BlobStore>,
    /// What block execution's re-runs lack, for the content actor to fetch from peers.
    wanted: crate::content::WantsReceiver,
    ledger: Ledger,
    genesis_block: Block,
}

/// Opens the block store and the blob store under the data directory and recovers the
/// finalized chain from them.
fn open_disk(cfg: &NodeConfig) -> Result<OnDisk, NodeError> {
    let store = Arc::new(Store::open(&cfg.data_dir.join("index.redb"))?);
    let blobs = Arc::new(plexus_blobs::BlobStore::open(
        &cfg.data_dir.join("blobs"),
        plexus_blobs::Limits::default(),
    )?);
    let (wants, wanted) = crate::content::wants();
    let replayer = Arc::new(crate::replay::StoreReplayer::new(blobs.clone()).with_wants(wants));
    let (ledger, genesis_block) = recover(&store, &cfg.genesis, replayer)?;
    Ok(OnDisk {
        store,
        blobs,
        wanted,
        ledger,
        genesis_block,
    })
}

/// Who this node is on the chain it recovered: the genesis committee, its key, whether it is
/// in the committee of the epoch it starts in, and the beacon share it signs with.
struct Membership {
    /// The genesis committee.
    participants: Set<PublicKey>,
    me: PublicKey,
    /// The committee of the epoch the node starts in (the genesis one until a reshare hands
    /// over).
    current: Set<PublicKey>,
    in_committee: bool,
    beacon_share: Option<Share>,
}

impl Membership {
    /// Refuses a key that is neither in the committee nor a validator, unless the node is a
    /// full node; picks the beacon share (see [`select_share`]).
    fn check(cfg: &NodeConfig, tip_state: &plexus_state::State) -> Result<Self, NodeError> {
        let participants = committee(&cfg.genesis)?;
        let me = cfg.key.public_key();
        let address = plexus_types::Address(me.clone());
        let current = Set::from_iter_dedup(tip_state.committee().iter().map(|a| a.0.clone()));
        let in_committee = current.position(&me).is_some();
        if !in_committee && !cfg.full_node && !tip_state.validators.contains_key(&address) {
            return Err(NodeError::NotAValidator(address.to_string()));
        }
        let beacon_share = select_share(cfg, tip_state, &me)?;
        Ok(Membership {
            participants,
            me,
            current,
            in_committee,
            beacon_share,
        })
    }
}

/// The application's settings: the node's block timing, the genesis's mempool rules and the
/// beacon share it signs with.
fn app_config(cfg: &NodeConfig, beacon_share: Option<Share>) -> AppConfig {
    AppConfig {
        proposer: cfg.key.public_key(),
        block_time_min_ms: cfg.block_time_min_ms,
        idle_block_ms: cfg.idle_block_ms,
        block_txs_max: BLOCK_TXS_MAX,
        clock_skew_max_ms: 5_000,
        mempool: MempoolConfig {
            chain_id: cfg.genesis.chain_id,
            fee_min: cfg.genesis.params.fee_min,
            txs_max: 200_000,
            per_account_max: 1_024,
        },
        beacon_share,
        beacon_wait_ms: BEACON_WAIT_MS,
        content_wait_ms: CONTENT_WAIT_MS,
    }
}

/// With `--state-sync` on an empty store: the peer's latest block and state replace the
/// recovered genesis ledger; the block is returned to be confirmed by a finalization once
/// consensus runs.
async fn sync_state(
    cfg: &NodeConfig,
    ledger: Ledger,
) -> Result<(Ledger, Option<Block>), NodeError> {
    if let Some(url) = &cfg.state_sync
        && ledger.finalized().state.height == 0
    {
        let (block, state) = fetch_snapshot(url, &cfg.genesis).await?;
        return Ok((Ledger::new(block.clone(), state, Vec::new()), Some(block)));
    }
    Ok((ledger, None))
}

/// Checks that the p2p port is free and binds the API listener.
fn bind_listeners(cfg: &NodeConfig) -> Result<std::net::TcpListener, NodeError> {
    // The p2p listener binds inside Commonware, which panics on failure: probe the port first so
    // a busy port is a clear error.
    std::net::TcpListener::bind(cfg.p2p).map_err(|source| NodeError::Listen {
        what: "peer-to-peer",
        addr: cfg.p2p,
        source,
    })?;
    std::net::TcpListener::bind(cfg.api)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|source| NodeError::Listen {
            what: "API",
            addr: cfg.api,
            source,
        })
}

/// Starts the p2p network (tracking the committee, the next one's new members and the full
/// nodes this node serves, itself included when it is one) and the engine over it.
async fn start_consensus(
    context: &cw_tokio::Context,
    cfg: &NodeConfig,
    member: &Membership,
    app: &App,
    genesis_block: Block,
    durability: crate::reshare::Durability,
    content: crate::content::Content,
) -> Result<engine::Started, NodeError> {
    let full_nodes: Vec<PublicKey> = cfg
        .full_nodes
        .iter()
        .cloned()
        .chain((!member.in_committee).then_some(member.me.clone()))
        .collect();
    let set_bound = engine::peer_set_max(member.participants.len().max(member.current.len()));
    let (channels, oracle) = engine::start_p2p(
        context,
        &cfg.key,
        set_bound,
        engine::P2p {
            listen: cfg.p2p,
            dialable: cfg.dialable.unwrap_or(cfg.p2p),
            bootstrappers: cfg.bootstrappers.clone(),
        },
    );
    let tracker = engine::peer_tracker(oracle.clone(), full_nodes, set_bound);
    let engine_cfg = EngineConfig {
        key: cfg.key.clone(),
        partition_prefix: String::new(),
        leader_timeout: Duration::from_millis(cfg.idle_block_ms + 2_000),
        certification_timeout: Duration::from_millis(cfg.idle_block_ms + 3_000),
    };
    Ok(engine::start(
        context.child("engine"),
        engine_cfg,
        app.clone(),
        app.clone(),
        app.clone(),
        ChainBlock::new(genesis_block),
        channels,
        oracle.clone(),
        oracle,
        tracker,
        durability,
        Some(content),
    )
    .await?)
}

/// Threads of the API's own runtime.
const API_WORKER_THREADS: usize = 2;

/// The HTTP API on a tokio runtime of its own: a flood of requests keeps these threads (and
/// the blocking pool they hand checks to) busy, never the consensus runtime's workers, so blocks
/// keep coming and the OS shares the cores between the two. Stops when dropped.
struct ApiServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    fn start(listener: std::net::TcpListener, router: axum::Router) -> Result<Self, NodeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(API_WORKER_THREADS)
            .thread_name("plexus-api")
            .enable_all()
            .build()
            .map_err(|e| NodeError::Runtime(format!("the API runtime: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("plexus-api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            error!(%err, "the API listener");
                            return;
                        }
                    };
                    // The peer address feeds the per-client limits (`limits`).
                    let service =
                        router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                    // On stop, open connections (block streams never end) are dropped.
                    tokio::select! {
                        result = axum::serve(listener, service).into_future() => {
                            if let Err(err) = result {
                                error!(%err, "the API server stopped");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| NodeError::Runtime(format!("the API thread: {e}")))?;
        Ok(ApiServer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Applies finalized blocks in order, persists them, and only then acknowledges marshal.
async fn finalize_loop(
    clock: cw_tokio::Context,
    app: App,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    blocks: broadcast::Sender<BlockEventDto>,
    mut finalized: mpsc::UnboundedReceiver<Finalized>,
) -> Result<(), NodeError> {
    while let Some(delivered) = finalized.next().await {
        // Store, then advance what the API serves, then acknowledge: a reader never sees a height
        // whose block is not stored, and marshal never forgets a block we have not stored.
        let Some(executed) = app
            .finalize(&clock, delivered, |executed| {
                store.put(&executed.block, &executed.receipts)
            })
            .await?
        else {
            continue;
        };
        let height = executed.state.height;
        if height.is_multiple_of(SNAPSHOT_INTERVAL_BLOCKS) {
            store.put_snapshot(&executed.state)?;
        }
        let header = &executed.block.header;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        metrics
            .finalization_latency
            .observe(now_ms.saturating_sub(header.timestamp_ms) as f64 / 1_000.0);
        metrics.height.set(height as i64);
        metrics
            .txs_finalized
            .inc_by(executed.block.txs.len() as u64);
        metrics.storage.follow(&executed.state.storage_stats);
        metrics
            .mempool_size
            .set(app.with_mempool(|m| m.len()) as i64);
        let _ = blocks.send(BlockEventDto {
            height,
            hash: digest_hex(&executed.state.block_hash),
            timestamp: header.timestamp_ms,
            state_root: digest_hex(&header.state_root),
            txs: executed.block.txs.len(),
            storage: crate::api::storage_stats_dto(&executed.state.storage_stats),
        });
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_state::{GenesisValidator, Params};
    use plexus_types::{Address, PLX, Payload, Transaction};

    fn genesis() -> Genesis {
        Genesis {
            chain_id: 9,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: (0..2)
                .map(|i| {
                    (
                        Address(PrivateKey::from_seed(i).public_key()),
                        100_000 * PLX,
                    )
                })
                .collect(),
            validators: vec![GenesisValidator {
                address: Address(PrivateKey::from_seed(0).public_key()),
                self_bond: 10_000 * PLX,
            }],
            beacon: dev_beacon().output,
        }
    }

    fn dev_beacon() -> plexus_state::beacon::DevBeacon {
        plexus_state::beacon::DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()])
    }

    /// Finalizes `blocks` transfers into a fresh store; returns the store and the final state root.
    fn chain(
        path: &std::path::Path,
        blocks: u64,
        snapshot_at: Option<u64>,
    ) -> (Store, plexus_types::Digest) {
        let _ = std::fs::remove_file(path);
        let store = Store::open(path).unwrap();
        let (mut ledger, _) = recover(
            &store,
            &genesis(),
            Arc::new(plexus_state::dispute::NoContent),
        )
        .unwrap();
        let key = PrivateKey::from_seed(1);
        for nonce in 0..blocks {
            let tx = Transaction {
                chain_id: 9,
                sender: Address(key.public_key()),
                nonce,
                fee: 1_000,
                payload: Payload::Transfer {
                    to: Address(PrivateKey::from_seed(7).public_key()),
                    amount: PLX,
                },
            }
            .sign(&key);
            let parent = ledger.finalized().state.block_hash;
            let built = ledger
                .build(
                    &parent,
                    vec![tx],
                    nonce + 1,
                    key.public_key(),
                    dev_beacon().block_signature(nonce + 1),
                )
                .unwrap();
            let executed = ledger.finalize(built.block.clone()).unwrap();
            store.put(&executed.block, &executed.receipts).unwrap();
            if snapshot_at == Some(executed.state.height) {
                store.put_snapshot(&executed.state).unwrap();
            }
        }
        let root = ledger.finalized().block.header.state_root;
        (store, root)
    }

    #[test]
    fn recovers_from_genesis_or_from_a_snapshot_to_the_same_state() {
        let dir = std::env::temp_dir();
        for snapshot_at in [None, Some(3), Some(6)] {
            let path = dir.join(format!(
                "plexus-recover-{}-{snapshot_at:?}.redb",
                std::process::id()
            ));
            let (store, root) = chain(&path, 6, snapshot_at);
            let (ledger, _) = recover(
                &store,
                &genesis(),
                Arc::new(plexus_state::dispute::NoContent),
            )
            .unwrap();
            assert_eq!(ledger.finalized().state.height, 6);
            assert_eq!(
                ledger.finalized().state.root(),
                root,
                "snapshot {snapshot_at:?}"
            );
            drop(store);
            let _ = std::fs::remove_file(&path);
        }
    }

    #[test]
    fn recovery_takes_a_snapshot_when_the_stored_one_is_too_old() {
        let path =
            std::env::temp_dir().join(format!("plexus-recover-old-{}.redb", std::process::id()));
        let blocks = SNAPSHOT_INTERVAL_BLOCKS + 2;
        let (store, _) = chain(&path, blocks, None);
        assert!(store.snapshot().unwrap().is_none());
        recover(
            &store,
            &genesis(),
            Arc::new(plexus_state::dispute::NoContent),
        )
        .unwrap();
        assert_eq!(store.snapshot().unwrap().map(|s| s.height), Some(blocks));
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_snapshot_that_disagrees_with_the_chain_stops_recovery() {
        let path =
            std::env::temp_dir().join(format!("plexus-recover-bad-{}.redb", std::process::id()));
        let (store, _) = chain(&path, 4, Some(2));
        let mut snapshot = store.snapshot().unwrap().unwrap();
        snapshot.validators.values_mut().next().unwrap().self_bond += 1;
        store.put_snapshot(&snapshot).unwrap();
        assert!(matches!(
            recover(
                &store,
                &genesis(),
                Arc::new(plexus_state::dispute::NoContent)
            ),
            Err(NodeError::SnapshotMismatch { height: 2 })
        ));
        let mut other = genesis();
        other.chain_id = 10;
        assert!(matches!(
            recover(&store, &other, Arc::new(plexus_state::dispute::NoContent)),
            Err(NodeError::GenesisMismatch { .. })
        ));
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
}
