//! `plexus devnet`, `plexus genesis` and `plexus node init|run`.

use crate::keys;
use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer;
use plexus_node::{
    NodeConfig,
    config::{AllocationFile, GenesisFile, ParamsFile, ValidatorFile},
};
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
    /// Validator processes (only 1 until the validator network lands).
    #[arg(long, default_value_t = 1)]
    validators: u32,
    /// Minimum milliseconds between blocks.
    #[arg(long, default_value_t = 250)]
    block_time_ms: u64,
}

pub fn dev_key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + i)
}

fn validator_key() -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + 100)
}

fn faucet_key() -> PrivateKey {
    PrivateKey::from_seed(DEV_KEY_SEED + 101)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn devnet_genesis() -> GenesisFile {
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
    let validator = Address(validator_key().public_key()).to_string();
    allocations.push(AllocationFile {
        address: validator.clone(),
        amount: (100_000 * PLX).to_string(),
    });
    GenesisFile {
        chain_id: DEVNET_CHAIN_ID,
        timestamp_ms: now_ms(),
        params: ParamsFile::default(),
        allocations,
        validators: vec![ValidatorFile {
            address: validator,
            self_bond: (10_000 * PLX).to_string(),
        }],
    }
}

pub fn run_devnet(args: DevnetArgs) -> Result<()> {
    if args.validators != 1 {
        bail!(
            "--validators {}: only single-validator devnets run today; multi-validator networks arrive with the validator-network work",
            args.validators
        );
    }
    let dir = args.dir.unwrap_or_else(crate::default_devnet_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let genesis_path = dir.join("genesis.json");
    let genesis = if genesis_path.exists() {
        GenesisFile::load(&genesis_path)?
    } else {
        let genesis = devnet_genesis();
        genesis.save(&genesis_path)?;
        genesis
    };
    for i in 0..DEV_KEYS {
        keys::store_dev(&format!("dev{i}"), &dev_key(i))?;
    }
    println!(
        "Plexus devnet (chain id {}), data in {}",
        genesis.chain_id,
        dir.display()
    );
    println!("  API       http://{}", args.api);
    println!("  p2p       {}", args.p2p);
    println!("  faucet    POST http://{}/v1/faucet", args.api);
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
    println!("Ctrl-C stops; running again with the same --dir continues the chain.");
    let cfg = NodeConfig {
        data_dir: dir,
        genesis: genesis.to_genesis()?,
        key: validator_key(),
        api: args.api,
        p2p: args.p2p,
        faucet: Some(faucet_key()),
        block_time_min_ms: args.block_time_ms,
        idle_block_ms: 1_000,
    };
    plexus_node::run(cfg)?;
    Ok(())
}

#[derive(clap::Args)]
pub struct GenesisArgs {
    /// Chain id.
    #[arg(long)]
    chain_id: u64,
    /// `ADDRESS_OR_KEY=AMOUNT`, repeatable.
    #[arg(long = "alloc")]
    allocations: Vec<String>,
    /// `ADDRESS_OR_KEY=SELF_BOND`, repeatable (the self-bond comes out of its allocation).
    #[arg(long = "validator")]
    validators: Vec<String>,
    /// Output file.
    #[arg(long, default_value = "genesis.json")]
    out: PathBuf,
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
    let genesis = GenesisFile {
        chain_id: args.chain_id,
        timestamp_ms: now_ms(),
        params: ParamsFile::default(),
        allocations,
        validators,
    };
    // Refuse a genesis that cannot start a chain before writing it.
    genesis
        .to_genesis()?
        .build()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
    genesis.save(&args.out)?;
    if json_mode {
        println!("{}", json!({"path": args.out.display().to_string()}));
    } else {
        println!("wrote {}", args.out.display());
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum NodeCommand {
    /// Prepare a data directory from a genesis file and a validator key from the keystore.
    Init {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        genesis: PathBuf,
        /// Validator key name.
        #[arg(long)]
        key: String,
    },
    /// Run the node in an initialized directory until Ctrl-C.
    Run {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9080")]
        p2p: SocketAddr,
    },
}

pub fn run_node(command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Init { dir, genesis, key } => {
            let file = GenesisFile::load(&genesis)?;
            let parsed = file.to_genesis()?;
            parsed
                .build()
                .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
            let validator = Address(keys::load(&key)?.public_key());
            if !parsed.validators.iter().any(|v| v.address == validator) {
                bail!(
                    "key {key:?} ({validator}) is not a validator in {}",
                    genesis.display()
                );
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            file.save(&dir.join("genesis.json"))?;
            keys::write_file(&dir.join("validator.key"), &keys::load(&key)?)?;
            println!("initialized {}", dir.display());
            Ok(())
        }
        NodeCommand::Run { dir, api, p2p } => {
            let genesis = load_initialized(&dir)?;
            let key = keys::read_file(&dir.join("validator.key"))?;
            plexus_node::run(NodeConfig {
                data_dir: dir,
                genesis,
                key,
                api,
                p2p,
                faucet: None,
                block_time_min_ms: 250,
                idle_block_ms: 1_000,
            })?;
            Ok(())
        }
    }
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
