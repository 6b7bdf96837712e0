//! What the benchmarks share: a `plexus devnet` process on free loopback ports, paced
//! submission of signed transfers, the ring of transfers they sign, percentiles.

use crate::devnet::dev_key;
use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer;
use plexus_client::{Client, ClientError, RetryPolicy, TxBuilder};
use plexus_types::{Address, Payload, SignedTransaction};
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

pub(crate) struct Devnet {
    child: Child,
    dir: TempDir,
}

impl Devnet {
    /// The `plexus devnet` process (with one validator, the node runs in it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the devnet keeps its chain.
    pub(crate) fn data_dir(&self) -> std::path::PathBuf {
        self.dir.0.join("data")
    }

    /// The last lines the devnet logged (its stderr), for a benchmark that failed.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.0.join("devnet.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops a child process: SIGTERM first, so a `plexus devnet` stops the validator processes it
/// supervises (a SIGKILL would orphan them, still running) and a node shuts down cleanly; SIGKILL
/// if it has not exited in 10 s.
pub(crate) fn stop(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "plexus-{tag}-{}-{}",
            std::process::id(),
            crate::devnet::now_nanos()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first of `count` consecutive free loopback ports (the devnet gives validator i port +i).
pub(crate) fn free_ports(count: u16) -> Result<u16> {
    for _ in 0..100 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let Some(last) = base.checked_add(count) else {
            continue;
        };
        if (base..last).all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no {count} consecutive free ports on 127.0.0.1")
}

/// Starts a devnet of `validators` and `providers` for a benchmark; `client_limits: false` lifts
/// the API's per-client limits (`bench tx` drives the node from one client at rates no public
/// node would give one client). Providers register a fixed speed rather than measuring their own
/// (that would load the machine the benchmark measures on).
pub(crate) fn start_devnet(
    validators: u32,
    providers: u32,
    client_limits: bool,
) -> Result<(Devnet, Vec<Client>)> {
    let dir = TempDir::new("bench")?;
    let count = validators as u16;
    let (api, p2p) = (free_ports(count)?, free_ports(count)?);
    let provider_args = match providers {
        0 => Vec::new(),
        _ => vec![
            "--providers".to_string(),
            providers.to_string(),
            "--provider-api".to_string(),
            format!("127.0.0.1:{}", free_ports(providers as u16)?),
            "--provider-fuel-per-second".to_string(),
            "100000000".to_string(),
        ],
    };
    let child = Command::new(std::env::current_exe()?)
        .args(["devnet", "--dir"])
        .arg(dir.0.join("data"))
        .args([
            "--validators",
            &validators.to_string(),
            "--api",
            &format!("127.0.0.1:{api}"),
            "--p2p",
            &format!("127.0.0.1:{p2p}"),
        ])
        .args(provider_args)
        .args((!client_limits).then_some("--no-client-limits"))
        .env("PLEXUS_HOME", dir.0.join("home"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.0.join("devnet.log"))?)
        .spawn()
        .context("cannot start the devnet process")?;
    let devnet = Devnet { child, dir };
    let clients: Vec<Client> = (0..count)
        // Measurements: one attempt per request, nothing retried behind the figures.
        .map(|i| {
            Client::new(&format!("http://127.0.0.1:{}", api + i)).with_retry(RetryPolicy::NONE)
        })
        .collect();
    // Up, and finalizing (with several validators, once they have found each other).
    wait_until(
        "the devnet to finalize a block",
        Duration::from_secs(60),
        || {
            clients
                .iter()
                .all(|c| c.status().is_ok_and(|s| s.height >= 1))
        },
    )?;
    Ok((devnet, clients))
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// True for the refusals that mean "slow down": the sender's share or the pool is full. (Within a
/// batch, the transactions after a refused one then fail with `nonce_too_high`; the worker
/// resubmits from the first refusal, so only a first refusal is judged.)
pub(crate) fn is_backpressure(code: &str) -> bool {
    matches!(code, "account_mempool_full" | "mempool_full")
}

/// When a worker's `n`-th transaction is due: `started + n * per_tx`.
pub(crate) struct Pace {
    pub(crate) started: Instant,
    pub(crate) per_tx: Duration,
}

/// Submits `txs` in order, `batch` per request, until done or the deadline; returns how many the
/// node accepted. Back-pressure is retried; any other refusal ends the run with an error.
pub(crate) fn submit_all(
    client: &Client,
    txs: &[SignedTransaction],
    batch: usize,
    pace: Pace,
    deadline: Instant,
    stop: &AtomicBool,
    submitted: &Mutex<HashMap<String, Instant>>,
) -> Result<u64> {
    let mut next = 0;
    while next < txs.len() {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            break;
        }
        let due = pace.started + pace.per_tx.mul_f64(next as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let chunk = &txs[next..(next + batch).min(txs.len())];
        let at = Instant::now();
        let accepted: Vec<Result<String, String>> = if batch == 1 {
            match client.submit(&chunk[0]) {
                Ok(hash) => vec![Ok(hash)],
                Err(ClientError::Api { body, .. }) => vec![Err(body.code)],
                Err(err) => return Err(err.into()),
            }
        } else {
            client
                .submit_batch(chunk)?
                .into_iter()
                .map(|item| match (item.hash, item.error) {
                    (Some(hash), _) => Ok(hash),
                    (None, Some(error)) => Err(error.code),
                    (None, None) => Err("empty".to_string()),
                })
                .collect()
        };
        let mut log = submitted.lock().expect("no panics while locked");
        for outcome in accepted {
            match outcome {
                Ok(hash) => {
                    log.insert(hash, at);
                    next += 1;
                }
                Err(code) if is_backpressure(&code) => {
                    drop(log);
                    std::thread::sleep(Duration::from_millis(5));
                    break;
                }
                Err(code) => bail!("the node refused a benchmark transaction: {code}"),
            }
        }
    }
    Ok(next as u64)
}

/// A child process killed on drop.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

pub(crate) fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<()> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
/// The benches' transfers, signed on one thread per sender: dev key `s` (of `senders`) sends one
/// base unit to dev key `s + 1` (the last to the first) at each nonce of `nonces`; one list per
/// sender, in nonce order.
pub(crate) fn ring_transfers(
    senders: u64,
    nonces: std::ops::Range<u64>,
    chain_id: u64,
) -> Vec<Vec<SignedTransaction>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..senders)
            .map(|s| {
                let nonces = nonces.clone();
                scope.spawn(move || {
                    let key = dev_key(s);
                    let builder = TxBuilder {
                        key: &key,
                        chain_id,
                        fee: 1_000,
                    };
                    let to = Address(dev_key((s + 1) % senders).public_key());
                    nonces
                        .map(|nonce| {
                            builder.build(
                                nonce,
                                Payload::Transfer {
                                    to: to.clone(),
                                    amount: 1,
                                },
                            )
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("signing threads do not panic"))
            .collect()
    })
}
