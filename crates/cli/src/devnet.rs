//! `plexus devnet`, `plexus genesis` and `plexus node init|run`.

use crate::keys;
use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer;
use commonware_cryptography::bls12381::primitives::group::Share;
use plexus_node::{
    NodeConfig,
    config::{
        AllocationFile, GenesisFile, ParamsFile, StorageFile, ValidatorFile, beacon_key_hex,
        share_from_hex, share_hex,
    },
};
use plexus_state::beacon::DevBeacon;
use plexus_types::{Address, PLX, PrivateKey, amount::DisplayPlx};
use serde_json::json;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: u64 = 1337;
/// Dev keys are derived from fixed seeds so a devnet directory always matches its keystore.
/// They are public knowledge: never use them outside a devnet.
const DEV_KEY_SEED: u64 = 0x504c_5800;
const DEV_KEYS: u64 = 10;
const DEV_BALANCE: u128 = 1_000_000 * PLX;

#[derive(clap::Args)]
pub struct DevnetArgs {
    /// Data directory (default $PLEXUS_HOME/devnet); an existing one continues its chain.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// API listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    api: SocketAddr,
    /// Peer-to-peer listen address.
    #[arg(long, default_value = "127.0.0.1:9080")]
    p2p: SocketAddr,
    /// Validator processes. With more than one, validator i listens on the API and p2p ports
    /// plus i and keeps its data in DIR/validator-i; the faucet is on validator 0's API.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=32))]
    validators: u32,
    /// Minimum milliseconds between blocks.
    #[arg(long, default_value_t = 250)]
    block_time_ms: u64,
    /// Provider processes (`plexus provider run`) beside the validators: provider i uses the
    /// funded dev key `provideri`, listens on the provider API address plus i and keeps its data
    /// and `provider.log` in DIR/provider-i. Each also sells 1 GiB of storage at 0.001 PLX per
    /// GiB-epoch (`provider run --storage-bytes --storage-price`), and a new devnet's storage
    /// coding fits them: k = 2 of n = 4 from four providers on, n = M and k = M / 2 below (n at
    /// least 2), so a deal needs at least two providers.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=PROVIDER_KEYS as i64))]
    providers: u32,
    /// Provider 0's API address (provider i listens on its port plus i).
    #[arg(long, default_value = "127.0.0.1:7070")]
    provider_api: SocketAddr,
    /// TESTING AID: the last C of the providers forge the output of every job they run
    /// (`provider run --forge`) and do not verify; the others verify with a
    /// `DEVNET_VERIFIER_BOND` bond. Post jobs with `job run --audit full` to watch a cheater's
    /// job get disputed, the cheater slashed and the consumer refunded.
    #[arg(long, default_value_t = 0)]
    cheating_providers: u32,
    /// FuelTrace rates for a new devnet's genesis, in parts per million (default: the chain's,
    /// 100000 light, 10000 full, 20000 canaries). Raise them to watch audits and canaries
    /// happen; an existing --dir keeps its genesis.
    #[arg(long)]
    light_audit_ppm: Option<u32>,
    #[arg(long)]
    full_audit_ppm: Option<u32>,
    #[arg(long)]
    canary_ppm: Option<u32>,
    /// Blocks per epoch for a new devnet's genesis (default: the chain's, 100). Shorter epochs
    /// bring storage challenges, pay, lost shards and their repairs round sooner (each epoch
    /// challenges every shard once, over its first blocks but the proof window's 10).
    #[arg(long, value_parser = clap::value_parser!(u64).range(20..))]
    epoch_blocks: Option<u64>,
    /// Fuel per trace segment for a new devnet's genesis (default: the chain's, 2^26). Smaller
    /// segments give small jobs more of them to audit and dispute.
    #[arg(long)]
    seg_fuel: Option<u64>,
    /// Lift the API's per-client limits (each client IP: 1 000 requests/s, 2 MiB/s of
    /// transactions, 32 requests in flight; over them a 429 with Retry-After). For benchmarks
    /// that drive a node from one client; never on a public node.
    #[arg(long)]
    no_client_limits: bool,
    /// Every provider registers this speed (`provider run --fuel-per-second`) instead of
    /// measuring its own, so which jobs they accept does not depend on how busy this machine is
    /// (tests and reproducible demos). Default: each measures.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    provider_fuel_per_second: Option<u64>,
}

/// The verifier bond of a devnet's honest providers.
pub const DEVNET_VERIFIER_BOND: &str = "500plx";

/// The storage each devnet provider sells (`provider run --storage-bytes`): 1 GiB, room for
/// many test files on a developer's disk (shards are written only when deals are stored).
pub const DEVNET_STORAGE_BYTES: u64 = 1 << 30;

/// The price of a devnet provider's storage per GiB-epoch (`provider run --storage-price`).
pub const DEVNET_STORAGE_PRICE: &str = "0.001plx";

/// Devnet provider keys funded at genesis (`provider0`..): public seeds, devnet only.
pub const PROVIDER_KEYS: u64 = 8;
const PROVIDER_BALANCE: u128 = 100_000 * PLX;

/// Devnet provider `i`'s key.
pub fn provider_key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + 300 + i)
}

pub fn dev_key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + i)
}

/// Devnet validator `i`'s key (validator 0 keeps the seed single-validator devnets always used).
pub fn validator_key(i: u32) -> PrivateKey {
    match i {
        0 => PrivateKey::from_seed(DEV_KEY_SEED + 100),
        i => PrivateKey::from_seed(DEV_KEY_SEED + 200 + u64::from(i)),
    }
}

fn faucet_key() -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + 101)
}

/// The API's per-client budgets: the defaults, or none with `--no-client-limits`.
fn client_limits(off: bool) -> Option<plexus_node::limits::LimitsConfig> {
    (!off).then(plexus_node::limits::LimitsConfig::default)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The genesis of a new devnet of `validators` validators and `providers` providers: the
/// chain's parameters, but storage coded to fit the providers (`StorageParams::devnet`: k = 2 of
/// n = 4 from four providers on, fewer shards with fewer providers).
fn devnet_genesis(validators: u32, providers: u32) -> GenesisFile {
    let mut allocations: Vec<AllocationFile> = (0..DEV_KEYS)
        .map(|i| AllocationFile {
            address: Address(dev_key(i).public_key()).to_string(),
            amount: DEV_BALANCE.to_string(),
        })
        .collect();
    allocations.push(AllocationFile {
        address: Address(faucet_key().public_key()).to_string(),
        amount: (1_000_000_000 * PLX).to_string(),
    });
    for i in 0..PROVIDER_KEYS {
        allocations.push(AllocationFile {
            address: Address(provider_key(i).public_key()).to_string(),
            amount: PROVIDER_BALANCE.to_string(),
        });
    }
    let mut validator_files = Vec::new();
    for i in 0..validators {
        let validator = Address(validator_key(i).public_key()).to_string();
        allocations.push(AllocationFile {
            address: validator.clone(),
            amount: (100_000 * PLX).to_string(),
        });
        validator_files.push(ValidatorFile {
            address: validator,
            self_bond: (10_000 * PLX).to_string(),
        });
    }
    GenesisFile {
        chain_id: DEVNET_CHAIN_ID,
        timestamp_ms: now_ms(),
        params: ParamsFile {
            storage: StorageFile::from_params(&plexus_state::StorageParams::devnet(providers)),
            // Short enough to watch a proposal through (about 10 s of voting at the default
            // 250 ms blocks), applied two blocks after the vote ends.
            gov_voting_period_blocks: DEVNET_GOV_VOTING_PERIOD_BLOCKS,
            gov_effect_delay_blocks: 2,
            ..ParamsFile::default()
        },
        allocations,
        validators: validator_files,
        beacon_key: beacon_key_hex(&dev_beacon(validators).output),
    }
}

/// A devnet proposal's voting period, in blocks (the default chain's is 1,000).
pub const DEVNET_GOV_VOTING_PERIOD_BLOCKS: u64 = 40;

/// The devnet's beacon key, dealt from the public dev seed to its validators (devnet only,
/// like the dev keys: anyone can recompute the shares).
fn dev_beacon(validators: u32) -> DevBeacon {
    DevBeacon::deal(
        DEV_KEY_SEED,
        (0..validators).map(|i| validator_key(i).public_key()),
    )
}

/// The file in a node directory that holds the validator's beacon share.
pub const BEACON_SHARE_FILE: &str = "beacon.share";

/// Writes `share` to `path` unless it already holds that share; refuses a different one.
fn ensure_share_file(path: &Path, share: &Share) -> Result<()> {
    if path.exists() {
        if read_share(path)? != *share {
            bail!(
                "{} holds a beacon share that is not this devnet's",
                path.display()
            );
        }
        return Ok(());
    }
    keys::write_secret(path, &share_hex(share))
}

fn read_share(path: &Path) -> Result<Share> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read beacon share {}", path.display()))?;
    share_from_hex(&text).with_context(|| format!("{} is not a beacon share file", path.display()))
}

pub fn run_devnet(args: DevnetArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(crate::default_devnet_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let genesis = load_or_make_genesis(&dir, &args)?;
    for i in 0..DEV_KEYS {
        keys::store_dev(&format!("dev{i}"), &dev_key(i))?;
    }
    for i in 0..PROVIDER_KEYS {
        keys::store_dev(&format!("provider{i}"), &provider_key(i))?;
    }
    let (nodes, provider_apis) = announce(&dir, &genesis, &args)?;
    let node_url = format!("http://{}", args.api);
    if args.cheating_providers > args.providers {
        anyhow::bail!(
            "--cheating-providers {} is more than --providers {}",
            args.cheating_providers,
            args.providers
        );
    }
    let devnet_providers = DevnetProviders {
        apis: provider_apis,
        node_url,
        honest: args.providers - args.cheating_providers,
        fuel_per_second: args.provider_fuel_per_second,
    };
    if args.validators > 1 {
        return supervise(
            &dir,
            &genesis,
            &nodes,
            args.block_time_ms,
            &devnet_providers,
            args.no_client_limits,
        );
    }
    let mut providers = devnet_providers.spawn(&dir)?;
    let cfg = NodeConfig {
        data_dir: dir,
        genesis: genesis.to_genesis()?,
        key: validator_key(0),
        beacon_share: dev_beacon(1)
            .share_of(&validator_key(0).public_key())
            .cloned(),
        api: args.api,
        p2p: args.p2p,
        dialable: None,
        bootstrappers: Vec::new(),
        full_node: false,
        full_nodes: Vec::new(),
        state_sync: None,
        faucet: Some(faucet_key()),
        block_time_min_ms: args.block_time_ms,
        idle_block_ms: 1_000,
        client_limits: client_limits(args.no_client_limits),
    };
    let result = plexus_node::run(cfg);
    stop_children(&mut providers)?;
    result?;
    Ok(())
}

/// The genesis of the devnet in `dir`: the one it holds, or a new one for `--validators` with
/// the FuelTrace rates given on the command line. Refuses a directory made for another number
/// of validators.
fn load_or_make_genesis(dir: &Path, args: &DevnetArgs) -> Result<GenesisFile> {
    let genesis_path = dir.join("genesis.json");
    let genesis = if genesis_path.exists() {
        GenesisFile::load(&genesis_path)?
    } else {
        let mut genesis = devnet_genesis(args.validators, args.providers);
        let audit = &mut genesis.params.audit;
        audit.light_audit_ppm = args.light_audit_ppm.unwrap_or(audit.light_audit_ppm);
        audit.full_audit_ppm = args.full_audit_ppm.unwrap_or(audit.full_audit_ppm);
        audit.canary_ppm = args.canary_ppm.unwrap_or(audit.canary_ppm);
        audit.seg_fuel = args.seg_fuel.unwrap_or(audit.seg_fuel);
        if let Some(blocks) = args.epoch_blocks {
            genesis.params.epoch_length_blocks = blocks;
        }
        genesis.to_genesis()?;
        genesis.save(&genesis_path)?;
        genesis
    };
    if genesis.validators.len() != args.validators as usize {
        bail!(
            "{} holds a devnet of {} validator(s); run it with --validators {} or use another --dir",
            dir.display(),
            genesis.validators.len(),
            genesis.validators.len()
        );
    }
    Ok(genesis)
}

/// A validator's API and p2p addresses.
type NodeAddrs = (SocketAddr, SocketAddr);

/// Prints what the devnet runs: each validator's API and p2p address, the faucet, the dev
/// keys and each provider's API. Returns the validators' (API, p2p) addresses and the
/// providers' API addresses.
fn announce(
    dir: &Path,
    genesis: &GenesisFile,
    args: &DevnetArgs,
) -> Result<(Vec<NodeAddrs>, Vec<SocketAddr>)> {
    println!(
        "Plexus devnet (chain id {}), data in {}",
        genesis.chain_id,
        dir.display()
    );
    let nodes: Vec<NodeAddrs> = (0..args.validators)
        .map(|i| Ok((offset(args.api, i)?, offset(args.p2p, i)?)))
        .collect::<Result<_>>()?;
    for (i, (api, p2p)) in nodes.iter().enumerate() {
        println!("  validator {i}  API http://{api}  p2p {p2p}");
    }
    println!("  faucet    POST http://{}/v1/faucet", args.api);
    println!("  explorer  http://{}/", args.api);
    println!(
        "Dev keys (in {}; public seeds, devnet only):",
        keys::home().join("keys").display()
    );
    for i in 0..DEV_KEYS {
        println!(
            "  dev{i}  {}  {}",
            Address(dev_key(i).public_key()),
            DisplayPlx(DEV_BALANCE)
        );
    }
    let provider_apis: Vec<SocketAddr> = (0..args.providers)
        .map(|i| offset(args.provider_api, i))
        .collect::<Result<_>>()?;
    for (i, api) in provider_apis.iter().enumerate() {
        println!(
            "  provider {i}  API http://{api}  key provider{i}  {}",
            Address(provider_key(i as u64).public_key())
        );
    }
    println!("Ctrl-C stops; running again with the same --dir continues the chain.");
    Ok((nodes, provider_apis))
}

/// The devnet's providers: where they listen, which forge, what speed they register.
struct DevnetProviders {
    /// Provider i's API address.
    apis: Vec<SocketAddr>,
    /// The node API they follow.
    node_url: String,
    /// Providers below this index are honest (and verify); the rest forge.
    honest: u32,
    /// A fixed speed figure for all of them (`--provider-fuel-per-second`).
    fuel_per_second: Option<u64>,
}

impl DevnetProviders {
    /// Starts every provider as a child process of the devnet.
    fn spawn(&self, dir: &Path) -> Result<Vec<std::process::Child>> {
        (0..self.apis.len() as u32)
            .map(|i| spawn_provider(dir, i, self))
            .collect()
    }
}

/// Starts provider `i` as a `plexus provider run` child process of the devnet.
fn spawn_provider(dir: &Path, i: u32, providers: &DevnetProviders) -> Result<std::process::Child> {
    let (api, forge) = (providers.apis[i as usize], i >= providers.honest);
    let exe = std::env::current_exe().context("cannot find the plexus executable")?;
    let provider_dir = dir.join(format!("provider-{i}"));
    std::fs::create_dir_all(&provider_dir)
        .with_context(|| format!("cannot create {}", provider_dir.display()))?;
    let log_path = provider_dir.join("provider.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut command = std::process::Command::new(&exe);
    if std::env::var_os("PLEXUS_LOG").is_none() {
        // A provider's log is where its operator sees jobs run and get paid.
        command.env("PLEXUS_LOG", "info");
    }
    let child = command
        .args(["provider", "run", "--key", &format!("provider{i}")])
        .arg("--dir")
        .arg(&provider_dir)
        .args([
            "--listen",
            &api.to_string(),
            "--node",
            &providers.node_url,
            "--exit-with-parent",
            "--storage-bytes",
            &DEVNET_STORAGE_BYTES.to_string(),
            "--storage-price",
            DEVNET_STORAGE_PRICE,
        ])
        .args(
            providers
                .fuel_per_second
                .map(|figure| ["--fuel-per-second".to_string(), figure.to_string()])
                .into_iter()
                .flatten(),
        )
        .args(if forge {
            vec!["--forge"]
        } else {
            vec!["--verifier-bond", DEVNET_VERIFIER_BOND]
        })
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start provider {i}"))?;
    println!(
        "  provider {i}  pid {}  log {}{}",
        child.id(),
        log_path.display(),
        if forge {
            "  (TESTING AID: forges every output)"
        } else {
            "  (also verifies)"
        }
    );
    Ok(child)
}

/// Asks every child to stop (SIGTERM), gives them time to finish, then makes sure.
fn stop_children(children: &mut [std::process::Child]) -> Result<()> {
    for child in children.iter() {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for child in children.iter_mut() {
        while child.try_wait()?.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

/// `addr` with its port moved up by `i`.
fn offset(addr: SocketAddr, i: u32) -> Result<SocketAddr> {
    let port = u16::try_from(i)
        .ok()
        .and_then(|i| addr.port().checked_add(i))
        .with_context(|| format!("no port {i} above {addr}"))?;
    Ok(SocketAddr::new(addr.ip(), port))
}

/// Writes `key` to `path` unless it already holds that key; refuses a different one.
fn ensure_key_file(path: &Path, key: &PrivateKey) -> Result<()> {
    if path.exists() {
        if keys::read_file(path)?.public_key() != key.public_key() {
            bail!("{} holds a key that is not this devnet's", path.display());
        }
        return Ok(());
    }
    keys::write_file(path, key)
}

/// Runs a multi-validator devnet: one `plexus node run` process per validator, each with its own
/// directory, API and p2p port, all bootstrapping from each other. Stops them all on Ctrl-C or
/// SIGTERM, and stops the devnet if a validator exits; a provider that exits is reported and
/// the chain goes on without it (as a single-validator devnet's does).
fn supervise(
    dir: &Path,
    genesis: &GenesisFile,
    nodes: &[(SocketAddr, SocketAddr)],
    block_time_ms: u64,
    providers: &DevnetProviders,
    no_client_limits: bool,
) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the plexus executable")?;
    let count = nodes.len() as u32;
    let beacon = dev_beacon(count);
    let peers: Vec<String> = (0..count)
        .zip(nodes)
        .map(|(i, (_, p2p))| format!("{}@{p2p}", Address(validator_key(i).public_key())))
        .collect();
    let mut children = Vec::new();
    for (i, (api, p2p)) in (0..count).zip(nodes) {
        let node_dir = dir.join(format!("validator-{i}"));
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("cannot create {}", node_dir.display()))?;
        genesis.save(&node_dir.join("genesis.json"))?;
        ensure_key_file(&node_dir.join("validator.key"), &validator_key(i))?;
        let share = beacon
            .share_of(&validator_key(i).public_key())
            .context("every devnet validator holds a beacon share")?;
        ensure_share_file(&node_dir.join(BEACON_SHARE_FILE), share)?;
        let log_path = node_dir.join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut command = std::process::Command::new(&exe);
        command
            .arg("node")
            .arg("run")
            .arg("--dir")
            .arg(&node_dir)
            .arg("--api")
            .arg(api.to_string())
            .arg("--p2p")
            .arg(p2p.to_string())
            .arg("--block-time-ms")
            .arg(block_time_ms.to_string());
        if no_client_limits {
            command.arg("--no-client-limits");
        }
        for (j, peer) in peers.iter().enumerate() {
            if j != i as usize {
                command.arg("--bootstrapper").arg(peer);
            }
        }
        if i == 0 {
            let faucet = node_dir.join("faucet.key");
            ensure_key_file(&faucet, &faucet_key())?;
            command.arg("--faucet-key").arg(faucet);
        }
        command.stdout(log.try_clone()?).stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start validator {i}"))?;
        println!(
            "  validator {i}  pid {}  log {}",
            child.id(),
            log_path.display()
        );
        children.push(child);
    }
    children.extend(providers.spawn(dir)?);
    let exited = watch_children(dir, &mut children, nodes.len())?;
    stop_children(&mut children)?;
    if let Some((i, status)) = exited {
        bail!(
            "validator {i} exited ({status}); see {}",
            dir.join(format!("validator-{i}/node.log")).display()
        );
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM (`None`), or for one of the first `validators` children to exit
/// (`Some`, with its index and status). A provider child that exits is reported and left: the
/// market handles it (its shards are lost and repaired elsewhere, its jobs time out), and the
/// chain goes on without it.
fn watch_children(
    dir: &Path,
    children: &mut [std::process::Child],
    validators: usize,
) -> Result<Option<(usize, std::process::ExitStatus)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut gone = vec![false; children.len()];
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(None),
                _ = term.recv() => return Ok(None),
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
            for (i, child) in children.iter_mut().enumerate() {
                if gone[i] {
                    continue;
                }
                let Some(status) = child.try_wait()? else {
                    continue;
                };
                if i < validators {
                    return Ok(Some((i, status)));
                }
                gone[i] = true;
                let log = dir.join(format!("provider-{}/provider.log", i - validators));
                eprintln!(
                    "provider {} exited ({status}); the devnet goes on without it; see {}",
                    i - validators,
                    log.display()
                );
            }
        }
    })
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GenesisArgs {
    /// A real network's genesis: run the dealerless key ceremony among the genesis validators.
    #[command(subcommand)]
    pub ceremony: Option<GenesisCommand>,
    /// Chain id (required unless running the ceremony).
    #[arg(long)]
    chain_id: Option<u64>,
    /// `ADDRESS_OR_KEY=AMOUNT`, repeatable.
    #[arg(long = "alloc")]
    allocations: Vec<String>,
    /// `ADDRESS_OR_KEY=SELF_BOND`, repeatable (the self-bond comes out of its allocation).
    #[arg(long = "validator")]
    validators: Vec<String>,
    /// Output file.
    #[arg(long, default_value = "genesis.json")]
    out: PathBuf,
    /// Where to write each genesis committee member's beacon share, one file per validator
    /// (`ADDRESS.beacon-share`); default: `beacon-shares` beside the output file. Hand each
    /// operator its own file privately, then delete them.
    #[arg(long)]
    shares_dir: Option<PathBuf>,
    /// Write a draft for `plexus genesis ceremony` instead of dealing the beacon key here (a
    /// dealt key's dealer sees the group secret once: fine for a devnet, not for a real
    /// network). The draft has no beacon key and cannot start a chain.
    #[arg(long, conflicts_with = "shares_dir")]
    ceremony_draft: bool,
}

#[derive(clap::Subcommand)]
pub enum GenesisCommand {
    /// The genesis beacon key without a trusted dealer: the validators of a draft genesis
    /// (`plexus genesis --ceremony-draft`) run Commonware's DKG through files they exchange in
    /// one shared directory. Every validator runs each step, in order, once all validators'
    /// files of the step before are in the directory: deal, ack, log, finish.
    Ceremony {
        #[command(subcommand)]
        step: crate::ceremony::CeremonyCommand,
    },
}

fn split_pair(text: &str, flag: &str) -> Result<(String, String)> {
    let (who, amount) = text
        .split_once('=')
        .with_context(|| format!("{flag} {text:?}: expected WHO=AMOUNT"))?;
    let address = keys::resolve_address(who)?.to_string();
    let amount = plexus_types::amount::parse_amount(amount)
        .map_err(|e| anyhow::anyhow!("{flag} {text:?}: {e}"))?;
    Ok((address, amount.to_string()))
}

pub fn run_genesis(args: GenesisArgs, json_mode: bool) -> Result<()> {
    if let Some(GenesisCommand::Ceremony { step }) = args.ceremony {
        return crate::ceremony::run(step, json_mode);
    }
    let allocations = args
        .allocations
        .iter()
        .map(|a| {
            split_pair(a, "--alloc").map(|(address, amount)| AllocationFile { address, amount })
        })
        .collect::<Result<Vec<_>>>()?;
    let validators = args
        .validators
        .iter()
        .map(|v| {
            split_pair(v, "--validator")
                .map(|(address, self_bond)| ValidatorFile { address, self_bond })
        })
        .collect::<Result<Vec<_>>>()?;
    if validators.is_empty() {
        bail!("a genesis needs at least one --validator");
    }
    let chain_id = args
        .chain_id
        .context("a genesis needs --chain-id (or run `plexus genesis ceremony`)")?;
    let mut genesis = GenesisFile {
        chain_id,
        timestamp_ms: now_ms(),
        params: ParamsFile::default(),
        allocations,
        validators,
        beacon_key: crate::ceremony::PENDING_KEY.into(),
    };
    let committee = crate::ceremony::committee_of(&genesis)?;
    if args.ceremony_draft {
        genesis.save(&args.out)?;
        if json_mode {
            println!(
                "{}",
                json!({"path": args.out.display().to_string(), "committee": committee.iter().map(|a| a.to_string()).collect::<Vec<_>>()})
            );
        } else {
            println!("wrote the draft {}", args.out.display());
            println!(
                "give it to the {} genesis validator(s); each runs `plexus genesis ceremony deal`, `ack`, `log` and `finish` with it",
                committee.len()
            );
        }
        return Ok(());
    }
    let (output, shares) =
        plexus_state::beacon::deal(rand::rng(), committee.into_iter().map(|a| a.0))
            .context("dealing the beacon key")?;
    genesis.beacon_key = beacon_key_hex(&output);
    // Refuse a genesis that cannot start a chain before writing it.
    genesis
        .to_genesis()?
        .build()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
    let shares_dir = args.shares_dir.unwrap_or_else(|| {
        args.out
            .parent()
            .unwrap_or(Path::new("."))
            .join("beacon-shares")
    });
    std::fs::create_dir_all(&shares_dir)
        .with_context(|| format!("cannot create {}", shares_dir.display()))?;
    let mut share_files = Vec::new();
    for (key, share) in &shares {
        let path = shares_dir.join(format!("{}.beacon-share", Address(key.clone())));
        keys::write_secret(&path, &share_hex(share))?;
        share_files.push(path.display().to_string());
    }
    genesis.save(&args.out)?;
    if json_mode {
        println!(
            "{}",
            json!({"path": args.out.display().to_string(), "beacon_shares": share_files})
        );
    } else {
        println!("wrote {}", args.out.display());
        println!(
            "wrote {} beacon share(s) in {}: give each validator operator its own file (for `plexus node init --beacon-share`) over a private channel, then delete them",
            share_files.len(),
            shares_dir.display()
        );
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum NodeCommand {
    /// Prepare a data directory from a genesis file and a key from the keystore.
    Init {
        /// The directory to create for the node.
        #[arg(long)]
        dir: PathBuf,
        /// The genesis file every node of the network shares.
        #[arg(long)]
        genesis: PathBuf,
        /// Key name: a genesis validator's, or any key with --full-node.
        #[arg(long)]
        key: String,
        /// A full node: follows the chain and serves the API without validating.
        #[arg(long)]
        full_node: bool,
        /// This validator's beacon share file, from `plexus genesis` (required for a
        /// validator; copied into the directory, readable by its owner only).
        #[arg(long)]
        beacon_share: Option<PathBuf>,
    },
    /// Run the node in an initialized directory until Ctrl-C or SIGTERM.
    Run {
        /// The node's directory (made by `plexus node init`).
        #[arg(long)]
        dir: PathBuf,
        /// API listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: SocketAddr,
        /// Peer-to-peer listen address.
        #[arg(long, default_value = "127.0.0.1:9080")]
        p2p: SocketAddr,
        /// The address other validators dial (default: the --p2p address).
        #[arg(long)]
        dialable: Option<SocketAddr>,
        /// A peer to join the network through, `ADDRESS@HOST:PORT` (its validator address and
        /// p2p address); repeatable. Give every validator at least one.
        #[arg(long = "bootstrapper")]
        bootstrappers: Vec<String>,
        /// Minimum milliseconds between blocks.
        #[arg(long, default_value_t = 250)]
        block_time_ms: u64,
        /// Devnets only: serve POST /v1/faucet, paying from the key in this file.
        #[arg(long)]
        faucet_key: Option<PathBuf>,
        /// Follow the chain without validating (the key is not in the committee). Validators
        /// must list this node's address with --full-node-peer.
        #[arg(long)]
        full_node: bool,
        /// The address of a full node this validator lets connect and serves; repeatable.
        #[arg(long = "full-node-peer")]
        full_node_peers: Vec<String>,
        /// On a fresh directory: start from the latest state of the node whose API is at this
        /// URL (checked against a finalization certificate from the committee) instead of
        /// executing every block since genesis.
        #[arg(long)]
        state_sync: Option<String>,
        /// Lift the API's per-client limits (each client IP: 1 000 requests/s, 2 MiB/s of
        /// transactions, 32 requests in flight; over them a 429 with Retry-After). For benchmarks
        /// that drive a node from one client; never on a public node.
        #[arg(long)]
        no_client_limits: bool,
    },
}

pub fn run_node(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Init {
            dir,
            genesis,
            key,
            full_node,
            beacon_share,
        } => init_node(&dir, &genesis, &key, full_node, beacon_share),
        NodeCommand::Run {
            dir,
            api,
            p2p,
            dialable,
            bootstrappers,
            block_time_ms,
            faucet_key,
            full_node,
            full_node_peers,
            state_sync,
            no_client_limits,
        } => {
            let full_nodes = full_node_peers
                .iter()
                .map(|a| {
                    a.parse::<Address>()
                        .map(|a| a.0)
                        .map_err(|e| anyhow::anyhow!("--full-node-peer {a:?}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let genesis = load_initialized(&dir)?;
            let key = keys::read_file(&dir.join("validator.key"))?;
            let share_path = dir.join(BEACON_SHARE_FILE);
            let beacon_share = share_path
                .exists()
                .then(|| read_share(&share_path))
                .transpose()?;
            let bootstrappers = bootstrappers
                .iter()
                .map(|b| parse_bootstrapper(b))
                .collect::<Result<Vec<_>>>()?;
            let faucet = faucet_key.map(|path| keys::read_file(&path)).transpose()?;
            plexus_node::run(NodeConfig {
                data_dir: dir,
                genesis,
                key,
                beacon_share,
                api,
                p2p,
                dialable,
                bootstrappers,
                full_node,
                full_nodes,
                state_sync,
                faucet,
                block_time_min_ms: block_time_ms,
                idle_block_ms: 1_000,
                client_limits: client_limits(no_client_limits),
            })?;
            Ok(())
        }
    }
}

/// `plexus node init`: checks the genesis file, that the key is one of its validators (unless
/// a full node) and that the beacon share is that validator's, then writes the directory.
fn init_node(
    dir: &Path,
    genesis: &Path,
    key: &str,
    full_node: bool,
    beacon_share: Option<PathBuf>,
) -> Result<()> {
    let file = GenesisFile::load(genesis)?;
    let parsed = file.to_genesis()?;
    parsed
        .build()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
    let validator = Address(keys::load(key)?.public_key());
    if !full_node && !parsed.validators.iter().any(|v| v.address == validator) {
        bail!(
            "key {key:?} ({validator}) is not a validator in {} (use --full-node for a node that follows without validating)",
            genesis.display()
        );
    }
    let share = if full_node {
        None
    } else {
        let path = beacon_share.with_context(|| {
            format!(
                "a validator needs --beacon-share (the file `plexus genesis` wrote for {validator})"
            )
        })?;
        Some(validator_share(&parsed, &validator, &path)?)
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    file.save(&dir.join("genesis.json"))?;
    keys::write_file(&dir.join("validator.key"), &keys::load(key)?)?;
    if let Some(share) = share {
        keys::write_secret(&dir.join(BEACON_SHARE_FILE), &share_hex(&share))?;
    }
    println!("initialized {}", dir.display());
    Ok(())
}

/// Reads the beacon share at `path` and checks that it is `validator`'s share of the genesis's
/// beacon key (its position is its place among the committee's keys, sorted).
fn validator_share(
    parsed: &plexus_state::Genesis,
    validator: &Address,
    path: &Path,
) -> Result<Share> {
    let share = read_share(path)?;
    let committee = parsed
        .committee()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
    let mut keys_sorted: Vec<_> = committee.into_iter().map(|a| a.0).collect();
    keys_sorted.sort();
    let position = keys_sorted
        .iter()
        .position(|k| *k == validator.0)
        .with_context(|| format!("{validator} is not in the genesis committee"))?;
    if !plexus_state::beacon::share_matches(parsed.beacon.public(), &share, position as u32) {
        bail!(
            "{} is not {validator}'s share of this genesis's beacon key",
            path.display()
        );
    }
    Ok(share)
}

/// Parses `ADDRESS@HOST:PORT`.
fn parse_bootstrapper(text: &str) -> Result<(plexus_types::PublicKey, SocketAddr)> {
    let (address, socket) = text
        .split_once('@')
        .with_context(|| format!("--bootstrapper {text:?}: expected ADDRESS@HOST:PORT"))?;
    let address: Address = address
        .parse()
        .map_err(|e| anyhow::anyhow!("--bootstrapper {text:?}: {e}"))?;
    let socket = std::net::ToSocketAddrs::to_socket_addrs(socket)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .with_context(|| format!("--bootstrapper {text:?}: {socket:?} is not HOST:PORT"))?;
    Ok((address.0, socket))
}

fn load_initialized(dir: &Path) -> Result<plexus_state::Genesis> {
    let path = dir.join("genesis.json");
    if !path.exists() {
        bail!(
            "{} is not initialized (run `plexus node init` first)",
            dir.display()
        );
    }
    Ok(GenesisFile::load(&path)?.to_genesis()?)
}

/// Nanoseconds since the epoch, for unique temporary names.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
