//! `plexus bench`: throughput and latency figures measured on this machine.
//!
//! `bench tx` starts a real devnet process, drives signed transfers through its HTTP API from
//! one thread per sender key and reads finalized blocks back to time each transaction from
//! submission to finality. `bench apply` measures the pure state machine alone.

use crate::bench_kit::{
    Pace, Process, TempDir, free_ports, percentile, ring_transfers, start_devnet, submit_all,
    wait_until,
};
use crate::devnet::dev_key;
use anyhow::{Result, bail};
use commonware_cryptography::Signer;
use plexus_client::{Client, ClientError, TxBuilder};
use plexus_types::{Address, Payload, PrivateKey, SignedTransaction};
use serde_json::json;
use std::{
    collections::HashMap,
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Finalized transfers per second and submission-to-finality latency through a devnet
    /// (started with `--no-client-limits`: the load comes from one client).
    Tx {
        /// Validator processes (a `plexus devnet --validators N`); load is spread over their
        /// APIs, one sender key per thread, and finality is read from validator 0.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
        validators: u32,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Offered load in transactions per second: the generator paces its requests to it (and
        /// sends as fast as the node admits when the node is slower). Set it low to measure
        /// latency, high to measure saturation.
        #[arg(long, default_value_t = 80_000)]
        rate: u64,
        /// Transactions per request: 1 uses `POST /v1/txs`, more uses `POST /v1/txs/batch`.
        #[arg(long, default_value_t = 100)]
        batch: usize,
    },
    /// How long a fresh full node takes to state-sync a chain holding many accounts: starts a
    /// validator process on a genesis with `--accounts` funded accounts, then a full node with
    /// `--state-sync` from it, and times the full node from launch to serving the validator's height.
    Sync {
        #[arg(long, default_value_t = 100_000)]
        accounts: u64,
    },
    /// What fuel metering and checkpoints cost (the built-in cnn job natively, in wasmtime
    /// without metering, and with metering and checkpoints), and whether runs are bit-identical
    /// across host-tuned and baseline x86-64 codegen over random digits inputs.
    Exec {
        /// Images in the cnn job (each is 5 steps of about 3.3 million fuel).
        #[arg(long, default_value_t = 32)]
        images: usize,
        /// Runs of each variant; the best is reported.
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Random digits inputs to run on both codegens.
        #[arg(long, default_value_t = 1000)]
        determinism: u32,
        /// Fuel per segment of the metered run (default: the executor's).
        #[arg(long)]
        seg_fuel: Option<u64>,
    },
    /// Multiply-adds per second of each exact int8 `gemm_i8` kernel this CPU runs (scalar
    /// baseline, AVX2, AVX-512, AVX-512 VNNI) on MiniLM-like shapes, the detected kernel's ratio
    /// to the scalar one, and a check that every kernel gives the same bits.
    Gemm {
        /// Timed runs of each shape; the best is reported.
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
    /// The MiniLM embedding job over the texts of a file: sentences per second metered (one
    /// core, with checkpoints, as a provider runs it), natively and in precise mode, the
    /// metered-over-native ratio, the gemm kernel's figures, and whether the baseline x86-64
    /// codegen gives the same output hash, fuel and trace root. Needs `cargo xtask models`.
    Models {
        /// One text per line (`cargo xtask bench models` passes the dev set's 500 texts).
        #[arg(long)]
        texts: std::path::PathBuf,
        /// Runs of each variant; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// The SmolLM2 text generation job: tokens per second metered (one core, with checkpoints,
    /// as a provider runs it) and natively, for one sequence and for eight decoded together,
    /// the metered-over-native ratios, the precise mode's rate, and whether the baseline x86-64
    /// codegen gives the same output hash, fuel and trace root. Needs `cargo xtask models`.
    Smollm2 {
        /// One prompt per line, at least 8 (`jobs/smollm2/data/prompts.txt` has 16).
        #[arg(long)]
        prompts: std::path::PathBuf,
        /// The most tokens generated per prompt.
        #[arg(long, default_value_t = 64)]
        max_new_tokens: usize,
        /// Runs of each variant; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// What verifying a long SmolLM2 generation costs, from one metered run: segments, a light
    /// audit's re-run fuel share and page bytes, a dispute's rounds, move bytes and settlement
    /// upload, and the provider's stored checkpoint pages.
    Smollm2Verify {
        /// The prompt.
        #[arg(long, default_value = crate::bench_verify::DEFAULT_PROMPT)]
        prompt: String,
        /// The most tokens generated.
        #[arg(long, default_value_t = 256)]
        max_new_tokens: usize,
    },
    /// What a flood that costs its sender nothing does to a node: block production, status
    /// latency and honest transfers' latency, idle and then while several clients re-post a
    /// batch of 1 000 transactions the node refuses, as fast as it answers.
    Flood {
        /// Seconds of each phase.
        #[arg(long, default_value_t = 15)]
        duration: u64,
        /// The batch re-posted: an already finalized one, or all zeros.
        #[arg(long, value_enum, default_value = "replay")]
        kind: crate::bench_flood::FloodKind,
        /// Flooding clients, each posting as fast as the node answers.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Distinct loopback source addresses (127.0.0.2 and up) the clients post from: the
        /// node sees that many clients, each with its own per-client budget (1: one client
        /// floods; as many as `--clients`: a distributed flood).
        #[arg(long, default_value_t = 8)]
        sources: usize,
    },
    /// Sustained load: valid transfers in floods until `--txs` have finalized; prints the
    /// node's resident memory and store size after each million.
    Soak {
        #[arg(long, default_value_t = 4_000_000)]
        txs: u64,
        /// Transfers per flood (signed ahead, then sent as fast as the node admits them).
        #[arg(long, default_value_t = 500_000)]
        flood: u64,
    },
    /// The storage market's pure core beside its targets: erasure encode of a 64 MiB segment at
    /// k = 16 of n = 40 (with hashing and the commitment), strict decode with no systematic
    /// shard, the systematic read, chunk proof verification (one, and 32 as in a block), and
    /// client-side seal/open; then `put_mbps` and `get_mbps`: a file stored and read back with
    /// `store put`'s and `store get`'s code through a `plexus devnet --providers 4` started for
    /// the run (put timed from the first byte read to every shard accepted on chain, so it
    /// includes waiting for finality), and `repair_ms`: one ~4 MiB shard rebuilt from its
    /// holders by the provider agent's repair.
    Storage {
        /// Timed runs of each measurement; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Threads of the encode and decode pool (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// MiB of the file stored and read back through the devnet (0: skip put and get, and
        /// start no devnet).
        #[arg(long, default_value_t = 256)]
        put_mib: u64,
    },
    /// Raw rate of the pure `apply` on in-memory state.
    Apply {
        #[arg(long, default_value_t = 100_000)]
        txs: usize,
        #[arg(long, default_value_t = 5_000)]
        block_txs: usize,
        /// Extra funded accounts in the genesis state (they make the state root bigger).
        #[arg(long, default_value_t = 0)]
        accounts: u64,
    },
}

pub fn run(command: BenchCommand, json_mode: bool) -> Result<()> {
    match command {
        BenchCommand::Tx {
            validators,
            duration,
            rate,
            batch,
        } => bench_tx(validators, duration, rate, batch.clamp(1, 1_000), json_mode),
        BenchCommand::Sync { accounts } => bench_sync(accounts, json_mode),
        BenchCommand::Flood {
            duration,
            kind,
            clients,
            sources,
        } => crate::bench_flood::bench_flood(duration, kind, clients, sources, json_mode),
        BenchCommand::Soak { txs, flood } => crate::bench_flood::bench_soak(txs, flood, json_mode),
        BenchCommand::Exec {
            images,
            runs,
            determinism,
            seg_fuel,
        } => crate::bench_exec::bench_exec(
            images,
            runs,
            determinism,
            seg_fuel.unwrap_or(plexus_exec::SEG_FUEL_DEFAULT),
            json_mode,
        ),
        BenchCommand::Gemm { runs } => crate::bench_gemm::bench_gemm(runs, json_mode),
        BenchCommand::Models { texts, runs } => {
            crate::bench_models::bench_models(&texts, runs, json_mode)
        }
        BenchCommand::Smollm2 {
            prompts,
            max_new_tokens,
            runs,
        } => crate::bench_smollm2::bench_smollm2(&prompts, max_new_tokens, runs, json_mode),
        BenchCommand::Smollm2Verify {
            prompt,
            max_new_tokens,
        } => crate::bench_verify::bench_smollm2_verify(&prompt, max_new_tokens, json_mode),
        BenchCommand::Storage {
            runs,
            threads,
            put_mib,
        } => crate::bench_storage::bench_storage(runs, threads, put_mib, json_mode),
        BenchCommand::Apply {
            txs,
            block_txs,
            accounts,
        } => bench_apply(txs, block_txs, accounts, json_mode),
    }
}

fn bench_tx(
    validators: u32,
    duration_s: u64,
    rate: u64,
    batch: usize,
    json_mode: bool,
) -> Result<()> {
    let (devnet, clients) = start_devnet(validators, 0, false)?;
    let client = clients[0].clone();
    let status = client.status()?;
    let senders = 10u64;
    let per_sender = (rate.saturating_mul(duration_s) / senders).clamp(1, 10_000_000) as usize;
    eprintln!(
        "pre-signing {} transfers from {senders} senders...",
        per_sender * senders as usize
    );
    let batches = ring_transfers(senders, 0..per_sender as u64, status.chain_id);
    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let start_height = client.status()?.height;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(duration_s);
    let workers: Vec<_> = batches
        .into_iter()
        .enumerate()
        .map(|(i, txs)| {
            let client = clients[i % clients.len()].clone();
            let (submitted, stop) = (submitted.clone(), stop.clone());
            std::thread::spawn(move || {
                let pace = Pace {
                    started,
                    per_tx: Duration::from_secs_f64(senders as f64 / rate.max(1) as f64),
                };
                submit_all(&client, &txs, batch, pace, deadline, &stop, &submitted)
            })
        })
        .collect();
    // Read finalized blocks as they come and time each transaction.
    let mut latencies_ms = Vec::new();
    let mut finalized_in_window = 0u64;
    let mut height = start_height + 1;
    let settle = deadline + Duration::from_secs(5);
    while Instant::now() < settle {
        match client.block(Some(height)) {
            Ok(block) => {
                let seen = Instant::now();
                let submitted = submitted.lock().expect("no panics while locked");
                for tx in &block.txs {
                    if let Some(at) = submitted.get(&tx.hash) {
                        latencies_ms.push(seen.duration_since(*at).as_secs_f64() * 1_000.0);
                        if seen <= deadline {
                            finalized_in_window += 1;
                        }
                    }
                }
                height += 1;
            }
            Err(ClientError::Api { status: 404, .. }) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(err) => return Err(err.into()),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for worker in workers {
        sent += worker.join().expect("workers do not panic")?;
    }
    drop(devnet);
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    let elapsed = duration_s as f64;
    let result = json!({
        "validators": validators,
        "batch": batch,
        "duration_s": duration_s,
        "submitted": sent,
        "submitted_tps": sent as f64 / elapsed,
        "finalized": latencies_ms.len(),
        "finalized_tps": finalized_in_window as f64 / elapsed,
        "latency_p50_ms": percentile(&latencies_ms, 50.0),
        "latency_p99_ms": percentile(&latencies_ms, 99.0),
        "blocks": height - start_height - 1,
    });
    if json_mode {
        println!("{result}");
    } else {
        println!(
            "finalized {:.0} tx/s (submitted {:.0} tx/s) over {duration_s} s; latency p50 {:.0} ms, p99 {:.0} ms; {} blocks",
            result["finalized_tps"].as_f64().unwrap_or(0.0),
            result["submitted_tps"].as_f64().unwrap_or(0.0),
            result["latency_p50_ms"].as_f64().unwrap_or(f64::NAN),
            result["latency_p99_ms"].as_f64().unwrap_or(f64::NAN),
            result["blocks"],
        );
    }
    Ok(())
}

fn bench_sync(accounts: u64, json_mode: bool) -> Result<()> {
    let dir = TempDir::new("bench-sync")?;
    let exe = std::env::current_exe()?;
    let validator = PrivateKey::from_seed(7_000_000);
    let follower = PrivateKey::from_seed(7_000_001);
    let (vdir, fdir) = (dir.0.join("validator"), dir.0.join("full"));
    init_sync_dirs(accounts, (&vdir, &validator), (&fdir, &follower))?;
    let (api, p2p) = (free_ports(1)?, free_ports(1)?);
    let _validator = spawn_node(
        &exe,
        vec![
            "node".into(),
            "run".into(),
            "--dir".into(),
            vdir.display().to_string(),
            "--api".into(),
            format!("127.0.0.1:{api}"),
            "--p2p".into(),
            format!("127.0.0.1:{p2p}"),
            "--full-node-peer".into(),
            Address(follower.public_key()).to_string(),
        ],
        &dir.0.join("validator.log"),
    )?;
    let source = Client::new(&format!("http://127.0.0.1:{api}"));
    wait_until(
        "the validator to finalize",
        Duration::from_secs(300),
        || source.status().is_ok_and(|s| s.height >= 3),
    )?;
    let (fapi, fp2p) = (free_ports(1)?, free_ports(1)?);
    let target = source.status()?.height;
    let started = Instant::now();
    let _full = spawn_node(
        &exe,
        vec![
            "node".into(),
            "run".into(),
            "--dir".into(),
            fdir.display().to_string(),
            "--full-node".into(),
            "--state-sync".into(),
            format!("http://127.0.0.1:{api}"),
            "--api".into(),
            format!("127.0.0.1:{fapi}"),
            "--p2p".into(),
            format!("127.0.0.1:{fp2p}"),
            "--bootstrapper".into(),
            format!("{}@127.0.0.1:{p2p}", Address(validator.public_key())),
        ],
        &dir.0.join("full.log"),
    )?;
    let synced = Client::new(&format!("http://127.0.0.1:{fapi}"));
    wait_until(
        "the full node to state-sync",
        Duration::from_secs(600),
        || synced.status().is_ok_and(|s| s.height >= target),
    )?;
    let elapsed = started.elapsed().as_secs_f64();
    report_sync(accounts, &source, &synced, elapsed, json_mode)
}

/// Writes the state-sync benchmark's genesis (`accounts` funded accounts and the one validator,
/// whose beacon share it deals) into the validator's and the full node's directories, with
/// each one's key.
fn init_sync_dirs(
    accounts: u64,
    (vdir, validator): (&std::path::Path, &PrivateKey),
    (fdir, follower): (&std::path::Path, &PrivateKey),
) -> Result<()> {
    use plexus_node::config::{AllocationFile, GenesisFile, ParamsFile, ValidatorFile};
    eprintln!("making a genesis with {accounts} accounts...");
    let beacon = plexus_state::beacon::DevBeacon::deal(7, [validator.public_key()]);
    let mut allocations: Vec<AllocationFile> = (0..accounts)
        .map(|i| AllocationFile {
            address: Address(PrivateKey::from_seed(8_000_000 + i).public_key()).to_string(),
            amount: "1000000000".into(),
        })
        .collect();
    allocations.push(AllocationFile {
        address: Address(validator.public_key()).to_string(),
        amount: (100_000 * plexus_types::PLX).to_string(),
    });
    let genesis = GenesisFile {
        chain_id: 99,
        timestamp_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        params: ParamsFile::default(),
        allocations,
        validators: vec![ValidatorFile {
            address: Address(validator.public_key()).to_string(),
            self_bond: (10_000 * plexus_types::PLX).to_string(),
        }],
        beacon_key: plexus_node::config::beacon_key_hex(&beacon.output),
    };
    for (path, key) in [(vdir, validator), (fdir, follower)] {
        std::fs::create_dir_all(path)?;
        genesis.save(&path.join("genesis.json"))?;
        crate::keys::write_file(&path.join("validator.key"), key)?;
    }
    crate::keys::write_secret(
        &vdir.join(crate::devnet::BEACON_SHARE_FILE),
        &plexus_node::config::share_hex(&beacon.shares[0].1),
    )
}

/// Starts `exe args` (a `plexus node run`) with its log on stderr into `log`.
fn spawn_node(exe: &std::path::Path, args: Vec<String>, log: &std::path::Path) -> Result<Process> {
    let log = std::fs::File::create(log)?;
    Ok(Process(
        Command::new(exe)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .env("PLEXUS_LOG", "info")
            .spawn()?,
    ))
}

/// Checks that the synced node serves the validator's state root at its height, and prints
/// the figures.
fn report_sync(
    accounts: u64,
    source: &Client,
    synced: &Client,
    elapsed: f64,
    json_mode: bool,
) -> Result<()> {
    let status = synced.status()?;
    let theirs = source.block(Some(status.height))?;
    if theirs.state_root != status.state_root {
        bail!("the synced node's state root differs from the validator's");
    }
    let snapshot_bytes = source.snapshot()?.len();
    let result = json!({
        "accounts": accounts,
        "snapshot_bytes": snapshot_bytes,
        "sync_s": elapsed,
        "height": status.height,
    });
    if json_mode {
        println!("{result}");
    } else {
        println!(
            "state sync of {accounts} accounts ({:.1} MB snapshot): {elapsed:.2} s from launch to serving height {}",
            snapshot_bytes as f64 / 1e6,
            status.height
        );
    }
    Ok(())
}

fn bench_apply(txs: usize, block_txs: usize, extra_accounts: u64, json_mode: bool) -> Result<()> {
    use plexus_state::{Genesis, GenesisValidator, Params, apply_block};
    use plexus_types::{Block, Header, PLX, block::tx_root};
    let beacon = plexus_state::beacon::DevBeacon::deal(1, [dev_key(0).public_key()]);
    let senders = 100u64;
    let genesis = Genesis {
        chain_id: 1,
        timestamp_ms: 0,
        params: Params::default(),
        allocations: (0..senders + extra_accounts)
            .map(|i| (Address(dev_key(i).public_key()), 1_000_000 * PLX))
            .collect(),
        validators: vec![GenesisValidator {
            address: Address(dev_key(0).public_key()),
            self_bond: 10_000 * PLX,
        }],
        beacon: beacon.output.clone(),
    };
    let (mut state, _) = genesis.build().map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys: Vec<_> = (0..senders).map(dev_key).collect();
    let all: Vec<SignedTransaction> = (0..txs)
        .map(|i| {
            let s = i as u64 % senders;
            TxBuilder {
                key: &keys[s as usize],
                chain_id: 1,
                fee: 1_000,
            }
            .build(
                i as u64 / senders,
                Payload::Transfer {
                    to: Address(dev_key((s + 1) % senders).public_key()),
                    amount: 1,
                },
            )
        })
        .collect();
    let mut apply_time = Duration::ZERO;
    let mut root_time = Duration::ZERO;
    for chunk in all.chunks(block_txs.max(1)) {
        let height = state.height + 1;
        let block = Block {
            header: Header {
                parent: state.block_hash,
                height,
                timestamp_ms: state.timestamp_ms + 1,
                proposer: dev_key(0).public_key(),
                tx_root: tx_root(chunk),
                state_root: state.root(),
                beacon: beacon.block_signature(height),
            },
            txs: chunk.to_vec(),
        };
        let t = Instant::now();
        apply_block(&mut state, &block).map_err(|e| anyhow::anyhow!("{e}"))?;
        apply_time += t.elapsed();
        let t = Instant::now();
        let _root = state.root();
        root_time += t.elapsed();
    }
    let tps = txs as f64 / apply_time.as_secs_f64();
    let blocks = txs.div_ceil(block_txs.max(1));
    let result = json!({
        "txs": txs,
        "apply_tps": tps,
        "state_root_ms_per_block": root_time.as_secs_f64() * 1_000.0 / blocks as f64,
        "accounts": state.accounts().len(),
    });
    if json_mode {
        println!("{result}");
    } else {
        println!(
            "apply: {tps:.0} tx/s over {txs} transfers; state root {:.2} ms per block ({} accounts)",
            result["state_root_ms_per_block"].as_f64().unwrap_or(0.0),
            state.accounts().len()
        );
    }
    Ok(())
}
