//! The Plexus provider agent (`plexus provider run`): a machine that sells compute.
//!
//! - `agent`: the host loop that registers the provider and, every poll, fetches what it sees,
//!   asks the pure core `agent::decide` what to do (heartbeat, run, commit, give up, play a
//!   dispute turn, re-run, seal, reveal or decline an audit, clean up) and carries it out (the
//!   chain is the authority; the journal is reconciled with it on every poll); the core uses
//!   `agent::policy` for each job and `agent::verifier`'s rule for each drawn audit, whose
//!   re-runs the host runs on threads of their own.
//! - `runner`: fetches a job's module, blobs and input by hash (hash-checked), runs it through
//!   `plexus_exec::honest` (admission, the compile cache, the limits) with checkpoints on disk,
//!   and produces the commitment.
//! - `rerun`: light audits of another provider's segments and the pre-state upload for the
//!   validators' re-run (the dissection moves are `plexus_fueltrace`'s, played through
//!   `plexus_client::dispute`).
//! - `acceptance`: whether to take on an assigned job, decided once and kept in the journal.
//! - `journal`: the per-job records that let a restarted agent resume.
//! - `speed`: the fuel-per-second figure (median of several timings, kept across restarts,
//!   re-measured while idle).
//! - `checkpoints`: checkpoint manifests and pages on disk, served for audits; `leaves`: a
//!   job's trace leaves on disk.
//! - `http`: the provider's HTTP API (outputs, checkpoints, pages, blobs, and the shard routes
//!   of storage deals).
//! - `shards`: the shards it holds for storage deals, on disk; `agent::storage` is the agent's
//!   storage step (its offer, the accepts of stored shards, collection of the shards the chain
//!   no longer draws to it).
//!
//! Data layout under the provider's directory: `blobs/` (content-addressed store), `jobs/`
//! (journal), `checkpoints/JOB/INDEX`, `pages/`, `speed.json` (the speed estimate),
//! `verifier/` (sealed verdicts and sent declines of audits) and `shards/DEAL/SEGMENT/SLOT`
//! (stored shards in their wire form).

pub mod acceptance;
pub mod agent;
pub mod checkpoints;
pub mod http;
pub mod journal;
pub mod leaves;
pub mod rerun;
pub mod runner;
pub mod shards;
pub mod speed;

use plexus_blobs::{BlobStore, Limits};
use plexus_client::Client;
use plexus_exec::{Engine, EngineOptions};
use plexus_types::{PrivateKey, job::ResourceProfile};
use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64},
    },
    time::Duration,
};
use tracing::info;

/// Everything `plexus provider run` needs.
pub struct ProviderConfig {
    /// The provider's data directory.
    pub dir: PathBuf,
    /// The operator key: pays the bond and fees, signs commitments, receives payments.
    pub key: PrivateKey,
    /// The node API the agent follows and submits to (also the first blob source).
    pub node: String,
    /// More places to fetch blobs from, after the node.
    pub blob_sources: Vec<String>,
    /// Where the provider API listens.
    pub listen: SocketAddr,
    /// The URL consumers reach the provider API at (default `http://LISTEN`).
    pub endpoint: Option<String>,
    pub ask_per_mfuel: u128,
    pub bond: u128,
    pub profile: ResourceProfile,
    /// Fuel per checkpoint segment until the chain's is read from the node (the agent then uses
    /// the chain's).
    pub seg_fuel: u64,
    /// A fixed speed figure to register (no benchmark at start, none in the background); when
    /// absent, the estimate kept in `dir` is used, or measured at the first start
    /// (`speed::estimate_at_start`), and re-measured while idle.
    pub fuel_per_second: Option<u64>,
    pub poll: Duration,
    /// Stop when the process that started this one exits (a devnet's providers).
    pub exit_with_parent: bool,
    /// Also verify other providers' jobs: the bond, the audits re-run at once and the testing
    /// aid's throttle (a zero bond: not a verifier).
    pub verifier: agent::VerifierConfig,
    /// TESTING AID: commit a forged output and final state for every job (see
    /// `runner::Runner::forge`), so anyone can watch a cheater get caught.
    pub forge: bool,
    /// The storage it sells: bytes of shards and the price per GiB-epoch (zero bytes: none).
    pub storage: agent::storage::rules::OfferWanted,
}

/// Why the provider stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("blob store: {0}")]
    Blobs(#[from] plexus_blobs::BlobError),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("executor: {0}")]
    Engine(#[from] plexus_exec::EngineError),
    #[error("speed: {0}")]
    Speed(#[from] speed::SpeedError),
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Runs the provider until SIGINT or SIGTERM: its stores, its speed figure, the agent, the
/// background re-measurement, the provider API and the stop signals.
pub fn run(cfg: ProviderConfig) -> Result<(), ProviderError> {
    std::fs::create_dir_all(&cfg.dir)?;
    let blobs = Arc::new(BlobStore::open(&cfg.dir.join("blobs"), Limits::default())?);
    let journal = Arc::new(Mutex::new(journal::Journal::open(&cfg.dir)?));
    let engine = Engine::new(EngineOptions::default())?;
    let (fuel_per_second, estimate) = speed_figure(&cfg, &engine)?;
    let running = Arc::new(Mutex::new(BTreeSet::new()));
    let runner = Arc::new(runner(&cfg, engine, blobs.clone()));
    let offer = agent::Offer {
        endpoint: cfg
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("http://{}", cfg.listen)),
        profile: cfg.profile.clone(),
        fuel_per_second,
        ask_per_mfuel: cfg.ask_per_mfuel,
        bond: cfg.bond,
    };
    let node = Client::new(&cfg.node);
    let store = Arc::new(shards::ShardStore::open(&cfg.dir)?);
    let (uploads_tx, uploads_rx) = std::sync::mpsc::sync_channel(http::UPLOADS_QUEUED_MAX);
    let mut agent = agent::Agent::new(
        cfg.key,
        node,
        offer,
        journal.clone(),
        runner,
        running.clone(),
    );
    if let Some(rate) = cfg.verifier.throttle_fuel_per_second {
        tracing::warn!(
            fuel_per_second = rate,
            "TESTING AID: this verifier re-runs audits no faster than this"
        );
    }
    agent.verifier = cfg.verifier;
    agent.storage = Some(agent::storage::StorageStep::new(
        cfg.storage,
        store.clone(),
        uploads_rx,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(estimate) = estimate {
        remeasure_in_background(&mut agent, estimate, &cfg.dir, &running, &stop);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let api = http::HttpState {
        address: agent.address.to_string(),
        journal,
        running,
        blobs,
        checkpoints: Arc::new(checkpoints::CheckpointReader::new(&cfg.dir)),
        shards: Arc::new(http::ShardService {
            store,
            node: Client::new(&cfg.node).with_retry(http::NODE_RETRY),
            me: agent.address.to_string(),
            uploads: uploads_tx,
        }),
    };
    serve(&runtime, cfg.listen, api)?;
    stop_on_signal(&runtime, &stop);
    if cfg.exit_with_parent {
        stop_with_parent(&stop);
    }
    info!(address = %agent.address, listen = %cfg.listen, "provider started");
    agent.run(&stop, cfg.poll)?;
    info!("provider stopped");
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// The speed figure to register: the given one (no benchmark), or the estimate kept in the
/// directory or measured now, which is then re-measured in the background.
fn speed_figure(
    cfg: &ProviderConfig,
    engine: &Engine,
) -> Result<(u64, Option<speed::SpeedEstimate>), ProviderError> {
    match cfg.fuel_per_second {
        Some(figure) => {
            info!(
                fuel_per_second = figure,
                "using the given speed figure (no benchmark)"
            );
            Ok((figure, None))
        }
        None => {
            let estimate = speed::estimate_at_start(engine, &cfg.dir)?;
            Ok((estimate.fuel_per_second, Some(estimate)))
        }
    }
}

/// The runner: content from the node, then each `--blob-source`.
fn runner(cfg: &ProviderConfig, engine: Engine, blobs: Arc<BlobStore>) -> runner::Runner {
    let sources = std::iter::once(cfg.node.clone())
        .chain(cfg.blob_sources.iter().cloned())
        .map(|url| Client::new(&url))
        .collect();
    let mut runner = runner::Runner::new(engine, blobs, sources, cfg.dir.clone(), cfg.seg_fuel);
    if cfg.forge {
        tracing::warn!("TESTING AID: this provider forges the output of every job it runs");
        runner.forge = true;
    }
    runner
}

/// Re-measures the speed while idle on a thread of its own; the agent follows the figure.
fn remeasure_in_background(
    agent: &mut agent::Agent,
    estimate: speed::SpeedEstimate,
    dir: &std::path::Path,
    running: &Arc<Mutex<BTreeSet<String>>>,
    stop: &Arc<AtomicBool>,
) {
    let figure = Arc::new(AtomicU64::new(estimate.fuel_per_second));
    agent.speed_figure = Some(figure.clone());
    let remeasure = speed::Remeasure {
        estimate,
        dir: dir.to_path_buf(),
        running: running.clone(),
        figure,
        every: speed::REMEASURE_EVERY,
    };
    let (runner, stop) = (agent.runner.clone(), stop.clone());
    std::thread::spawn(move || remeasure.run(runner.engine(), &stop));
}

/// Serves the provider API on `listen`.
fn serve(
    runtime: &tokio::runtime::Runtime,
    listen: SocketAddr,
    state: http::HttpState,
) -> Result<(), ProviderError> {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|source| ProviderError::Listen {
            addr: listen,
            source,
        })?;
    let router = http::router(state);
    runtime.spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(%err, "the provider API stopped");
        }
    });
    Ok(())
}

/// Sets `stop` on SIGINT or SIGTERM.
fn stop_on_signal(runtime: &tokio::runtime::Runtime, stop: &Arc<AtomicBool>) {
    let flag = stop.clone();
    runtime.spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// Sets `stop` when the process that started this one exits (a devnet's providers).
fn stop_with_parent(stop: &Arc<AtomicBool>) {
    // Reparenting (the parent died, even by SIGKILL) changes the parent id.
    let parent = std::os::unix::process::parent_id();
    let flag = stop.clone();
    std::thread::spawn(move || {
        while std::os::unix::process::parent_id() == parent {
            std::thread::sleep(Duration::from_millis(500));
        }
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
