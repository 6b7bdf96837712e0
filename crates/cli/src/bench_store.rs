//! `plexus bench storage`'s loopback part: `put_mbps` and `get_mbps` through real providers.
//!
//! A `plexus devnet --providers 4` (this binary, a child process in a temporary directory, its
//! storage coded k = 2 of n = 4) is started and waited for until `n` providers offer storage.
//! Then, `runs` times in turn: a file of `--put-mib` MiB of seeded random bytes is stored with
//! the code `plexus store put` runs (`store::put_with`, in this process: sealed to the dev key,
//! encoded, the deal posted, every shard sent and accepted), read back with `store get`'s
//! (`store::get_with`: shards fetched, checked, concatenated, opened, written to a file), and
//! the bytes compared. Each figure is MB (10^6 bytes) of the user's file per second, the best
//! of the runs:
//!
//! - put: from the first byte read (sealing) to every shard accepted on chain, so it includes
//!   waiting for the deal's post and the providers' accepts to be final (blocks of 250 ms and
//!   `put`'s 300 ms poll), not only moving bytes;
//! - get: from asking the node for the deal to the file renamed into place.
//!
//! Then `repair_ms`: a file whose shards are about 4 MiB (8 MiB less 64 KiB, sealed) is stored,
//! and shard 0 of its segment rebuilt `runs` times with the provider agent's own repair
//! (`repair::rebuild`): `k` of the other shards fetched from their holders on loopback and
//! checked, the strict decode, the re-encoding checked against the commitment, the shard
//! written durably to a fresh shard store. The deal's owner reads the shards here (holders serve
//! it as they serve a repairer the chain drew); the best run is the figure.
//!
//! The devnet (and its providers) is stopped and its directory removed on every way out: the
//! guards drop on an error, and a Ctrl-C reaches the devnet too (same process group).

use crate::bench_kit::{TempDir, start_devnet, wait_until};
use crate::devnet::dev_key;
use crate::store::{self, GetArgs, PutArgs, PutPhases};
use anyhow::{Context, Result, ensure};
use commonware_cryptography::Signer as _;
use plexus_client::Client;
use plexus_provider::agent::storage::repair::{self, RepairContext};
use plexus_provider::shards::ShardStore;
use plexus_types::{Address, ContentHash, PrivateKey};
use rand::{Rng as _, SeedableRng as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Providers of the devnet (enough for its k = 2 of n = 4 code).
const PROVIDERS: u32 = 4;

/// How long the devnet may take to start and its providers to offer storage: the machine is
/// shared, so this only catches a hang.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(240);

/// The dev key that pays for and owns the benchmark's files (funded at genesis).
const OWNER_KEY: u64 = 0;

/// What the loopback runs measured (the best run of each, and that put's steps).
pub(crate) struct Loopback {
    pub(crate) put_ms: f64,
    pub(crate) get_ms: f64,
    pub(crate) phases: PutPhases,
    pub(crate) k: u16,
    pub(crate) n: u16,
    /// The best rebuild of one shard, and that shard's length.
    pub(crate) repair_ms: f64,
    pub(crate) repair_shard_bytes: u64,
}

/// The length of the file whose shard `repair_ms` rebuilds: at k = 2, shards of about 4 MiB.
const REPAIR_FILE_BYTES: usize = (8 << 20) - (64 << 10);

/// Stores and reads back `bytes` of seeded random data `runs` times through a devnet's
/// providers; the seed is `seed`.
pub(crate) fn measure(bytes: usize, runs: u32, seed: u64) -> Result<Loopback> {
    let (devnet, clients) = start_devnet(1, PROVIDERS, true)?;
    let client = clients.into_iter().next().context("the devnet's node")?;
    let result = runs_on(&client, bytes, runs, seed);
    result.with_context(|| format!("devnet log tail:\n{}", devnet.log_tail(20)))
}

fn runs_on(client: &Client, bytes: usize, runs: u32, seed: u64) -> Result<Loopback> {
    let params = client.storage_params()?;
    wait_until(
        "the devnet's providers to offer storage",
        STARTUP_TIMEOUT,
        || {
            client.storage_providers().is_ok_and(|offers| {
                offers.iter().filter(|o| o.active).count() >= usize::from(params.n)
            })
        },
    )?;
    let dir = TempDir::new("bench-store")?;
    let key = dev_key(OWNER_KEY);
    let mut best: Option<Loopback> = None;
    for run in 0..runs.max(1) {
        let input = dir.0.join(format!("in-{run}.bin"));
        let output = dir.0.join(format!("out-{run}.bin"));
        let mut data = vec![0u8; bytes];
        rand_chacha::ChaCha8Rng::seed_from_u64(seed + u64::from(run)).fill_bytes(&mut data);
        std::fs::write(&input, &data)?;
        let expected = ContentHash::of(&data);
        drop(data);

        let started = Instant::now();
        let stored = store::put_with(client, true, &PutArgs::new(input.clone(), "dev0"), &key)?;
        let put_ms = started.elapsed().as_secs_f64() * 1e3;

        let args = GetArgs::new(stored.id, output.clone(), Some("dev0".to_string()));
        let started = Instant::now();
        let got = store::get_with(client, true, &args, |_| Ok(key.clone()))?;
        let get_ms = started.elapsed().as_secs_f64() * 1e3;
        ensure!(
            got.written == bytes as u64 && ContentHash::of(&std::fs::read(&output)?) == expected,
            "run {run}: the file read back is not the one stored (seed {})",
            seed + u64::from(run)
        );
        let _ = std::fs::remove_file(&input);
        let _ = std::fs::remove_file(&output);
        let this = Loopback {
            put_ms,
            get_ms,
            phases: stored.phases,
            k: stored.file.file.k,
            n: stored.file.file.n,
            repair_ms: f64::INFINITY,
            repair_shard_bytes: 0,
        };
        best = Some(match best {
            None => this,
            Some(best) => Loopback {
                put_ms: best.put_ms.min(this.put_ms),
                get_ms: best.get_ms.min(this.get_ms),
                phases: if this.put_ms < best.put_ms {
                    this.phases
                } else {
                    best.phases
                },
                ..this
            },
        });
    }
    let mut best = best.expect("at least one run");
    (best.repair_ms, best.repair_shard_bytes) = best_repair(client, &dir, &key, runs, seed)?;
    Ok(best)
}

/// The best of `runs` rebuilds of shard 0 of a stored file of [`REPAIR_FILE_BYTES`], and the
/// shard's length.
fn best_repair(
    client: &Client,
    dir: &TempDir,
    key: &PrivateKey,
    runs: u32,
    seed: u64,
) -> Result<(f64, u64)> {
    let input = dir.0.join("repair-in.bin");
    let mut data = vec![0u8; REPAIR_FILE_BYTES];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x4e9a).fill_bytes(&mut data);
    std::fs::write(&input, &data)?;
    let stored = store::put_with(client, true, &PutArgs::new(input.clone(), "dev0"), key)?;
    let _ = std::fs::remove_file(&input);
    let file = client.storage_file(&stored.id)?;
    let mut best = f64::INFINITY;
    for run in 0..runs.max(1) {
        let shards = dir.0.join(format!("repair-{run}"));
        let cx = RepairContext {
            node: client.clone(),
            key: key.clone(),
            me: Address(key.public_key()).to_string(),
            store: Arc::new(ShardStore::open(&shards)?),
        };
        let started = Instant::now();
        let rebuilt = repair::rebuild(&cx, &file, 0, &[0]).map_err(anyhow::Error::msg)?;
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
        ensure!(rebuilt.len() == 1, "run {run}: rebuilt {rebuilt:?}");
        let _ = std::fs::remove_dir_all(&shards);
    }
    Ok((best, file.segments[0].shard_bytes))
}
