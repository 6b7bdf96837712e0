//! `plexus bench flood` and `plexus bench soak`: what hostile or sustained load does to a node.
//!
//! `flood` runs a devnet under a light honest load (one transfer every 100 ms) twice: idle, then
//! while several clients re-post, as fast as the node answers, a batch of 1 000 transactions
//! that costs the sender nothing (an already finalized batch, refused as `replayed_nonce`, or an
//! all-zero batch, refused as `wrong_chain`). It compares block production, `GET /v1/status`
//! latency and the honest transfers' latency between the two phases, in the same run.
//!
//! `soak` sends valid transfers in floods until `--txs` have finalized and prints the node's
//! resident memory and store size after each million, so growth without a plateau shows.

use crate::bench_kit::{Pace, percentile, ring_transfers, start_devnet, submit_all};
use crate::devnet::dev_key;
use anyhow::{Context, Result, bail};
use commonware_codec::Encode;
use commonware_cryptography::Signer;
use plexus_client::{Client, ClientError, TxBuilder};
use plexus_types::{Address, Payload, SignedTransaction};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// What a flooding client re-posts.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FloodKind {
    /// A batch of 1 000 transfers the chain has already finalized (`replayed_nonce`).
    Replay,
    /// 1 000 all-zero transactions (`wrong_chain`).
    Zero,
}

/// Transactions in the flood's batch.
const FLOOD_BATCH: usize = 1_000;
/// One honest transfer every this often, in both phases.
const HONEST_EVERY: Duration = Duration::from_millis(100);
/// One status probe every this often.
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// What one phase measured.
#[derive(Default)]
struct Phase {
    blocks: u64,
    seconds: f64,
    status_ms: Vec<f64>,
    status_errors: u64,
    honest_ms: Vec<f64>,
    requests: u64,
    codes: BTreeMap<String, u64>,
}

impl Phase {
    fn summary(&mut self) -> Value {
        self.status_ms.sort_by(f64::total_cmp);
        self.honest_ms.sort_by(f64::total_cmp);
        json!({
            "seconds": self.seconds,
            "blocks_per_s": self.blocks as f64 / self.seconds,
            "status_p50_ms": percentile(&self.status_ms, 50.0),
            "status_p99_ms": percentile(&self.status_ms, 99.0),
            "status_max_ms": self.status_ms.last().copied().unwrap_or(f64::NAN),
            "status_errors": self.status_errors,
            "honest_finalized": self.honest_ms.len(),
            "honest_p50_ms": percentile(&self.honest_ms, 50.0),
            "honest_p99_ms": percentile(&self.honest_ms, 99.0),
            "flood_requests_per_s": self.requests as f64 / self.seconds,
            "flood_answers": self.codes,
        })
    }
}

pub fn bench_flood(
    duration_s: u64,
    kind: FloodKind,
    clients: usize,
    sources: usize,
    json_mode: bool,
) -> Result<()> {
    // With the API's per-client limits on, as a public node runs.
    let (devnet, nodes) = start_devnet(1, 0, true)?;
    let client = nodes[0].clone();
    let chain_id = client.status()?.chain_id;
    let body = match kind {
        FloodKind::Replay => finalized_batch(&client, chain_id)?,
        FloodKind::Zero => zero_batch(),
    };
    let honest = Honest::start(client.clone(), chain_id);
    let mut idle = measure(&client, &honest, Duration::from_secs(duration_s), None)?;
    let flood = Flood {
        base: client.base().to_string(),
        body: Arc::new(body),
        clients: clients.max(1),
        sources: sources.clamp(1, 200),
    };
    let mut flooded = measure(
        &client,
        &honest,
        Duration::from_secs(duration_s),
        Some(&flood),
    )?;
    honest.stop();
    drop(devnet);
    let (idle, flooded) = (idle.summary(), flooded.summary());
    let ratio = flooded["blocks_per_s"].as_f64().unwrap_or(0.0)
        / idle["blocks_per_s"].as_f64().unwrap_or(f64::NAN);
    let result = json!({
        "kind": format!("{kind:?}").to_lowercase(),
        "clients": clients,
        "sources": sources,
        "idle": idle,
        "flood": flooded,
        "blocks_ratio": ratio,
    });
    if json_mode {
        println!("{result}");
    } else {
        for (name, phase) in [("idle ", &result["idle"]), ("flood", &result["flood"])] {
            println!(
                "{name}  {:.2} blocks/s  status p50 {:.1} ms p99 {:.1} ms max {:.1} ms  honest p50 {:.0} ms p99 {:.0} ms  flood {:.1} req/s {}",
                phase["blocks_per_s"].as_f64().unwrap_or(f64::NAN),
                phase["status_p50_ms"].as_f64().unwrap_or(f64::NAN),
                phase["status_p99_ms"].as_f64().unwrap_or(f64::NAN),
                phase["status_max_ms"].as_f64().unwrap_or(f64::NAN),
                phase["honest_p50_ms"].as_f64().unwrap_or(f64::NAN),
                phase["honest_p99_ms"].as_f64().unwrap_or(f64::NAN),
                phase["flood_requests_per_s"].as_f64().unwrap_or(0.0),
                phase["flood_answers"],
            );
        }
        println!("block production under the flood: {ratio:.2} of idle");
    }
    Ok(())
}

/// Submits 1 000 transfers (from dev keys 0 to 7; the honest load uses dev9), waits until all
/// are finalized and returns their batch encoding.
fn finalized_batch(client: &Client, chain_id: u64) -> Result<Vec<u8>> {
    let senders = 8u64;
    let txs: Vec<SignedTransaction> =
        ring_transfers(senders, 0..FLOOD_BATCH as u64 / senders, chain_id)
            .into_iter()
            .flatten()
            .collect();
    let items = client.submit_batch(&txs)?;
    if let Some(error) = items.iter().find_map(|item| item.error.as_ref()) {
        bail!("the node refused the batch to be replayed: {}", error.code);
    }
    for item in &items {
        let hash = item
            .hash
            .as_deref()
            .context("an admitted transaction has a hash")?;
        client.wait_finalized(hash, Duration::from_secs(60))?;
    }
    Ok(txs.encode().to_vec())
}

/// 1 000 transactions of all-zero bytes, as a batch.
fn zero_batch() -> Vec<u8> {
    let one = dev_tx_size();
    // The list's length prefix, then the zeros.
    let mut body = commonware_codec::varint::UInt(FLOOD_BATCH as u64)
        .encode()
        .to_vec();
    body.resize(body.len() + FLOOD_BATCH * one, 0);
    body
}

/// The encoded size of a transfer (what an all-zero transaction decodes as: tag 0).
fn dev_tx_size() -> usize {
    TxBuilder {
        key: &dev_key(0),
        chain_id: 0,
        fee: 0,
    }
    .build(
        0,
        Payload::Transfer {
            to: Address(dev_key(1).public_key()),
            amount: 0,
        },
    )
    .encode()
    .len()
}

/// The honest load: one transfer every `HONEST_EVERY` from a key of its own.
struct Honest {
    stop: Arc<AtomicBool>,
    submitted: Arc<Mutex<HashMap<String, Instant>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Honest {
    fn start(client: Client, chain_id: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let (flag, log) = (stop.clone(), submitted.clone());
        let thread = std::thread::spawn(move || {
            let key = dev_key(9);
            let to = Address(dev_key(8).public_key());
            let mut nonce = client
                .account(&Address(key.public_key()))
                .map_or(0, |account| account.next_nonce);
            while !flag.load(Ordering::Relaxed) {
                let tx = TxBuilder {
                    key: &key,
                    chain_id,
                    fee: 1_000,
                }
                .build(
                    nonce,
                    Payload::Transfer {
                        to: to.clone(),
                        amount: 1,
                    },
                );
                let at = Instant::now();
                if let Ok(hash) = client.submit(&tx) {
                    log.lock().expect("no panics while locked").insert(hash, at);
                    nonce += 1;
                }
                std::thread::sleep(HONEST_EVERY);
            }
        });
        Honest {
            stop,
            submitted,
            thread,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// The flooding clients' shared setup.
struct Flood {
    base: String,
    body: Arc<Vec<u8>>,
    clients: usize,
    /// Distinct source addresses the clients are spread over.
    sources: usize,
}

/// Runs one phase of `duration`: probes status, follows blocks, times the honest transfers
/// and, with `flood`, floods.
fn measure(
    client: &Client,
    honest: &Honest,
    duration: Duration,
    flood: Option<&Flood>,
) -> Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let codes: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let flooders: Vec<_> = flood
        .map(|flood| {
            (0..flood.clients)
                .map(|i| {
                    let (stop, requests, codes) = (stop.clone(), requests.clone(), codes.clone());
                    let (url, body) = (format!("{}/v1/txs/batch", flood.base), flood.body.clone());
                    // Client i posts from 127.0.0.(2 + i mod sources): one node-side client per
                    // source address, none of them the honest load's (127.0.0.1).
                    let source = std::net::IpAddr::from([127, 0, 0, 2 + (i % flood.sources) as u8]);
                    std::thread::spawn(move || {
                        flood_loop(&url, source, &body, &stop, &requests, &codes)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut phase = Phase::default();
    let start_height = client.status()?.height;
    let mut next_height = start_height + 1;
    let started = Instant::now();
    let mut next_probe = started;
    while started.elapsed() < duration {
        let now = Instant::now();
        if now >= next_probe {
            next_probe = now + PROBE_EVERY;
            match client.status() {
                Ok(_) => phase.status_ms.push(now.elapsed().as_secs_f64() * 1_000.0),
                Err(_) => phase.status_errors += 1,
            }
        }
        match client.block(Some(next_height)) {
            Ok(block) => {
                let seen = Instant::now();
                let log = honest.submitted.lock().expect("no panics while locked");
                for tx in &block.txs {
                    if let Some(at) = log.get(&tx.hash) {
                        phase
                            .honest_ms
                            .push(seen.duration_since(*at).as_secs_f64() * 1_000.0);
                    }
                }
                next_height += 1;
            }
            Err(ClientError::Api { status: 404, .. }) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    phase.seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.join();
    }
    phase.blocks = next_height - start_height - 1;
    phase.requests = requests.load(Ordering::Relaxed);
    phase.codes = std::mem::take(&mut *codes.lock().expect("no panics while locked"));
    Ok(phase)
}

/// Posts `body` to `url` until `stop`, counting requests and the answers' codes (the HTTP
/// status, and the first item's code of a batch answer).
fn flood_loop(
    url: &str,
    source: std::net::IpAddr,
    body: &Arc<Vec<u8>>,
    stop: &AtomicBool,
    requests: &AtomicU64,
    codes: &Mutex<BTreeMap<String, u64>>,
) {
    let http = reqwest::blocking::Client::builder()
        .local_address(source)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds");
    while !stop.load(Ordering::Relaxed) {
        let code = match http.post(url).body(body.as_ref().clone()).send() {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let first = response
                    .json::<Value>()
                    .ok()
                    .and_then(|v| {
                        v.get(0)
                            .and_then(|item| item.pointer("/error/code"))
                            .or_else(|| v.get("code"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_default();
                if let Some(seconds) = retry {
                    // A polite client honours Retry-After; a flood does not wait long.
                    std::thread::sleep(Duration::from_millis(seconds.min(1) * 100));
                }
                format!("{status} {first}")
            }
            Err(_) => "transport error".to_string(),
        };
        requests.fetch_add(1, Ordering::Relaxed);
        *codes
            .lock()
            .expect("no panics while locked")
            .entry(code)
            .or_default() += 1;
    }
}

pub fn bench_soak(txs: u64, flood: u64, json_mode: bool) -> Result<()> {
    // The load comes from one client, far over one client's budget.
    let (devnet, nodes) = start_devnet(1, 0, false)?;
    let result = soak(&devnet, &nodes[0], txs, flood, json_mode);
    if result.is_err() {
        eprintln!("the devnet's last log lines:\n{}", devnet.log_tail(30));
    }
    result
}

fn soak(
    devnet: &crate::bench_kit::Devnet,
    client: &Client,
    txs: u64,
    flood: u64,
    json_mode: bool,
) -> Result<()> {
    let chain_id = client.status()?.chain_id;
    let pid = devnet.pid();
    let senders = 10u64;
    let mut sent = 0u64;
    let mut rows = Vec::new();
    let mut next_report = 1_000_000u64.min(txs);
    let started = Instant::now();
    eprintln!("node pid {pid}; {txs} transfers in floods of {flood}");
    while sent < txs {
        let count = flood.min(txs - sent);
        let per_sender = count.div_ceil(senders);
        let first_nonce = sent / senders;
        let batches = ring_transfers(senders, first_nonce..first_nonce + per_sender, chain_id);
        let stop = AtomicBool::new(false);
        let submitted = Mutex::new(HashMap::new());
        let far = Instant::now() + Duration::from_secs(3_600);
        let accepted: u64 = std::thread::scope(|scope| {
            let workers: Vec<_> = batches
                .iter()
                .map(|batch| {
                    let (stop, submitted) = (&stop, &submitted);
                    scope.spawn(move || {
                        let pace = Pace {
                            started: Instant::now(),
                            per_tx: Duration::ZERO,
                        };
                        submit_all(client, batch, 1_000, pace, far, stop, submitted)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("workers do not panic"))
                .sum::<Result<u64>>()
        })?;
        // Wait until the last nonce of every sender is final.
        for batch in &batches {
            if let Some(last) = batch.last() {
                client.wait_finalized(
                    &plexus_types::hash::digest_hex(&last.hash()),
                    Duration::from_secs(600),
                )?;
            }
        }
        sent += accepted;
        while sent >= next_report {
            let row = json!({
                "finalized_txs": sent,
                "rss_mb": rss_kb(pid)? as f64 / 1024.0,
                "store_mb": dir_bytes(&devnet.data_dir()) as f64 / 1e6,
                "elapsed_s": started.elapsed().as_secs_f64(),
            });
            if !json_mode {
                println!(
                    "{:>9} txs  rss {:>7.1} MB  store {:>8.1} MB  {:>6.0} s",
                    sent,
                    row["rss_mb"].as_f64().unwrap_or(0.0),
                    row["store_mb"].as_f64().unwrap_or(0.0),
                    row["elapsed_s"].as_f64().unwrap_or(0.0)
                );
            }
            rows.push(row);
            next_report += 1_000_000;
        }
    }
    if json_mode {
        println!("{}", json!({ "rows": rows }));
    }
    Ok(())
}

/// Resident memory of a process, in KiB (Linux `/proc`).
fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read the node's memory (pid {pid})"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// Bytes under `dir`, recursively.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}
