//! `plexus bench storage`: the storage market's pure core, timed, beside `../shared/STORAGE.md`'s
//! targets.
//!
//! One seeded random 64 MiB segment (`SEGMENT_BYTES_MAX`) at k = 16 of n = 40, the chain's
//! defaults, on a Commonware `Rayon` pool of `--threads` threads (default: every core; a client
//! encodes with all of them):
//!
//! - `encode_gbps`: `coding::encode` (Reed-Solomon, every shard's BLAKE3 digest, the commitment
//!   and the shards' proofs), GB (10^9 bytes) of segment per second;
//! - `decode_gbps`: the strict `coding::decode` from shards 16..32 (no systematic shard: a full
//!   reconstruction, re-encoding and root check);
//! - `systematic_gbps`: `coding::read_systematic` of shards 0..16 (hash, check, slice out the
//!   segment) and the parts written in turn into one output buffer (reused across runs, as a
//!   file's page cache is);
//! - `proof_verify_us`: one `proof::verify` of a chunk of a 4 MiB shard at n = 40, and
//!   `proof_verify_32_us` for 32 (a block's worth, on one core as the chain runs them);
//! - `seal_gbps` / `open_gbps`: `seal::seal` and `seal::open` of the segment, on the pool.
//!
//! Each figure is the best of `--runs`; `blake3_gbps` (plain BLAKE3 of the segment, one core)
//! is printed beside them as the machine's reference for the hash-bound ones.
//!
//! Then, unless `--put-mib 0`, `put_mbps` and `get_mbps`: a file of `--put-mib` MiB stored and
//! read back through a devnet's providers on loopback (`bench_store.rs`), with put's steps
//! (`put_seal_ms`, `put_encode_ms`, `put_post_ms`, `put_upload_ms`) beside it, and `repair_ms`:
//! one shard of about 4 MiB rebuilt by the provider agent's repair from its holders on
//! loopback (`repair_shard_bytes` is its length).

use crate::bench_exec::{best, round};
use anyhow::{Context, Result};
use commonware_parallel::Rayon;
use plexus_storage::coding::{self, Shape};
use plexus_storage::proof;
use plexus_storage::seal::{self, PublicKey, StaticSecret};
use plexus_storage::segment::SEGMENT_BYTES_MAX;
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde_json::json;
use std::num::NonZeroUsize;

/// The chain's default code (`../shared/STORAGE.md`).
const K: u16 = 16;
/// Shards in all at the default code.
const N: u16 = 40;
/// Proofs a block verifies in the target.
const BLOCK_PROOFS: usize = 32;
/// Rounds of the 32 proofs timed together, so a microsecond figure is not timer noise.
const PROOF_ROUNDS: usize = 200;

/// A measured figure, its target and whether it is met (higher is better unless `lower`).
#[derive(Clone)]
struct Figure {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    value: f64,
    target: f64,
    lower: bool,
}

impl Figure {
    fn met(&self) -> bool {
        if self.lower {
            self.value <= self.target
        } else {
            self.value >= self.target
        }
    }
}

fn gbps(bytes: usize, ms: f64) -> f64 {
    bytes as f64 / (ms * 1e6)
}

pub fn bench_storage(
    runs: u32,
    threads: Option<usize>,
    put_mib: u64,
    json_mode: bool,
) -> Result<()> {
    let threads = threads
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(NonZeroUsize::get)
        })
        .unwrap_or(1)
        .max(1);
    let pool = Rayon::new(NonZeroUsize::new(threads).expect("at least one"))
        .context("starting the thread pool")?;
    let seed = 0x5707_u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut segment = vec![0u8; SEGMENT_BYTES_MAX as usize];
    rng.fill_bytes(&mut segment);
    let shape = Shape::new(K, N)?;
    let (k, len) = (usize::from(K), segment.len());

    // What this machine hashes right now, one core: the reference for the hash-bound figures.
    let (blake3_ms, _) = best(runs, || Ok(plexus_types::ContentHash::of(&segment)))?;
    let (encode_ms, encoded) = best(runs, || Ok(coding::encode(shape, &segment, &pool)?))?;
    let commitment = encoded.commitment;
    let (decode_ms, decoded) = best(runs, || {
        Ok(coding::decode(
            shape,
            &commitment,
            &encoded.shards[k..2 * k],
            &pool,
        )?)
    })?;
    anyhow::ensure!(decoded == segment, "the strict decode changed the segment");
    // The parts are written in turn to one output, as `store get` writes them to its file: a
    // buffer reused across runs, as a file's page cache is.
    let mut read = Vec::with_capacity(segment.len());
    let (systematic_ms, ()) = best(runs, || {
        read.clear();
        let parts = coding::read_systematic(shape, &commitment, &encoded.shards[..k], &pool)?;
        for part in parts {
            read.extend_from_slice(&part);
        }
        Ok(())
    })?;
    anyhow::ensure!(read == segment, "the systematic read changed the segment");

    // 32 proofs of seeded chunks of seeded shards, each 4 MiB and a bit.
    let shard_len = encoded.shards[0].bytes.len() as u64;
    let chunks = proof::chunk_count(shard_len);
    let challenges: Vec<(u16, u64)> = (0..BLOCK_PROOFS)
        .map(|_| (rng.random_range(0..N), rng.random_range(0..chunks)))
        .collect();
    let proofs = challenges
        .iter()
        .map(|&(shard, chunk)| proof::prove(&encoded.shards[usize::from(shard)], chunk))
        .collect::<Result<Vec<_>, _>>()?;
    let proof_bytes = commonware_codec::EncodeSize::encode_size(&proofs[0]);
    let (proofs_ms, ()) = best(runs, || {
        for _ in 0..PROOF_ROUNDS {
            for (&(shard, chunk), proof) in challenges.iter().zip(&proofs) {
                proof::verify(&commitment, N, shard, shard_len, chunk, proof)?;
            }
        }
        Ok(())
    })?;
    let proof_us = proofs_ms * 1e3 / (PROOF_ROUNDS * BLOCK_PROOFS) as f64;

    let secret = StaticSecret::random_from_rng(&mut rng);
    let recipient = PublicKey::from(&secret);
    let (seal_ms, sealed) = best(runs, || {
        Ok(seal::seal_bytes(&recipient, &mut rng, &segment, &pool)?)
    })?;
    let (open_ms, opened) = best(runs, || Ok(seal::open_bytes(&secret, &sealed, &pool)?))?;
    anyhow::ensure!(opened == segment, "sealing changed the segment");

    let timings = Timings {
        encode_ms,
        decode_ms,
        systematic_ms,
        proof_us,
        seal_ms,
        open_ms,
    };
    let mut figures = figures(len, &timings).to_vec();
    let blake3_gbps = gbps(len, blake3_ms);
    let loopback = match put_mib {
        0 => None,
        mib => {
            let bytes = usize::try_from(mib << 20).context("--put-mib too large")?;
            let loopback = crate::bench_store::measure(bytes, runs, seed)?;
            figures.extend(loopback_figures(bytes, &loopback));
            Some(loopback)
        }
    };
    let (mut value, mut text) = report(&figures, runs, threads, seed, proof_bytes, blake3_gbps);
    loopback_report(&mut value, &mut text, put_mib, loopback.as_ref());
    crate::print(json_mode, value, text);
    Ok(())
}

/// The loopback part of the report: put's steps and the repaired shard's length, or why put,
/// get and repair were skipped.
fn loopback_report(
    value: &mut serde_json::Value,
    text: &mut String,
    put_mib: u64,
    loopback: Option<&crate::bench_store::Loopback>,
) {
    value["put_mib"] = json!(put_mib);
    match loopback {
        Some(loopback) => {
            let phases = loopback.phases;
            for (key, ms) in [
                ("put_seal_ms", phases.seal_ms),
                ("put_encode_ms", phases.encode_ms),
                ("put_post_ms", phases.post_ms),
                ("put_upload_ms", phases.upload_ms),
            ] {
                value[key] = json!(round(ms));
            }
            value["loopback_k"] = json!(loopback.k);
            value["loopback_n"] = json!(loopback.n);
            value["repair_shard_bytes"] = json!(loopback.repair_shard_bytes);
            text.push_str(&format!(
                "\n  put/get: {put_mib} MiB stored sealed and read back through a devnet's {n} \
                 providers on loopback (k = {k} of n = {n}); put runs from the first byte read to \
                 every shard accepted on chain, finality waits included: seal {:.0} ms, encode \
                 {:.0} ms, post the deal {:.0} ms, send + accepts {:.0} ms",
                phases.seal_ms,
                phases.encode_ms,
                phases.post_ms,
                phases.upload_ms,
                k = loopback.k,
                n = loopback.n,
            ));
        }
        None => {
            for key in ["put_mbps", "get_mbps", "repair_ms"] {
                value[key] = serde_json::Value::Null;
            }
            value["repair_ms_target"] = json!(REPAIR_MS_TARGET);
            text.push_str("\n  put/get/repair: skipped (--put-mib 0)");
        }
    }
}

/// `../shared/STORAGE.md`'s target for rebuilding one 4 MiB shard on loopback.
const REPAIR_MS_TARGET: f64 = 200.0;

/// `put_mbps` and `get_mbps`: MB (10^6 bytes) of the user's file per second; `repair_ms`.
fn loopback_figures(bytes: usize, loopback: &crate::bench_store::Loopback) -> [Figure; 3] {
    [
        Figure {
            key: "put_mbps",
            label: "put over loopback (to accepted)",
            unit: "MB/s",
            value: bytes as f64 / (loopback.put_ms * 1e3),
            target: 300.0,
            lower: false,
        },
        Figure {
            key: "get_mbps",
            label: "get over loopback",
            unit: "MB/s",
            value: bytes as f64 / (loopback.get_ms * 1e3),
            target: 1000.0,
            lower: false,
        },
        Figure {
            key: "repair_ms",
            label: "repair of one shard over loopback",
            unit: "ms",
            value: loopback.repair_ms,
            target: REPAIR_MS_TARGET,
            lower: true,
        },
    ]
}

/// The measured times of one benchmark run, in milliseconds (proofs: microseconds each).
struct Timings {
    encode_ms: f64,
    decode_ms: f64,
    systematic_ms: f64,
    proof_us: f64,
    seal_ms: f64,
    open_ms: f64,
}

/// Each figure beside its `../shared/STORAGE.md` target (`open_gbps` is held to the get target).
fn figures(len: usize, timings: &Timings) -> [Figure; 7] {
    [
        Figure {
            key: "encode_gbps",
            label: "encode 64 MiB at 16/40",
            unit: "GB/s",
            value: gbps(len, timings.encode_ms),
            target: 1.0,
            lower: false,
        },
        Figure {
            key: "decode_gbps",
            label: "strict decode, no systematic shard",
            unit: "GB/s",
            value: gbps(len, timings.decode_ms),
            target: 0.4,
            lower: false,
        },
        Figure {
            key: "systematic_gbps",
            label: "systematic read (verify + concatenate)",
            unit: "GB/s",
            value: gbps(len, timings.systematic_ms),
            target: 3.0,
            lower: false,
        },
        Figure {
            key: "proof_verify_us",
            label: "proof verify, one",
            unit: "us",
            value: timings.proof_us,
            target: 5.0,
            lower: true,
        },
        Figure {
            key: "proof_verify_32_us",
            label: "proof verify, 32 (a block)",
            unit: "us",
            value: timings.proof_us * BLOCK_PROOFS as f64,
            target: 300.0,
            lower: true,
        },
        Figure {
            key: "seal_gbps",
            label: "seal (encrypt)",
            unit: "GB/s",
            value: gbps(len, timings.seal_ms),
            target: 0.3,
            lower: false,
        },
        Figure {
            key: "open_gbps",
            label: "open (decrypt)",
            unit: "GB/s",
            value: gbps(len, timings.open_ms),
            target: 1.0,
            lower: false,
        },
    ]
}

fn report(
    figures: &[Figure],
    runs: u32,
    threads: usize,
    seed: u64,
    proof_bytes: usize,
    blake3_gbps: f64,
) -> (serde_json::Value, String) {
    let mut value = json!({
        "runs": runs,
        "threads": threads,
        "seed": seed,
        "segment_bytes": SEGMENT_BYTES_MAX,
        "k": K,
        "n": N,
        "proof_bytes": proof_bytes,
        "blake3_gbps": round(blake3_gbps),
    });
    let mut text = format!(
        "storage core: 64 MiB segment at k = {K} of n = {N}, {threads} threads, best of {runs}\n  {:<40}{:>12}{:>12}  met",
        "metric", "measured", "target"
    );
    for figure in figures {
        value[figure.key] = json!(round(figure.value));
        value[format!("{}_target", figure.key)] = json!(figure.target);
        let bound = if figure.lower { "<=" } else { ">=" };
        text.push_str(&format!(
            "\n  {:<40}{:>7.3} {:<4}{:>5} {:<6}  {}",
            figure.label,
            figure.value,
            figure.unit,
            bound,
            figure.target,
            if figure.met() { "yes" } else { "NO" },
        ));
    }
    text.push_str(&format!(
        "\n  reference: BLAKE3 of the segment on one core {blake3_gbps:.3} GB/s\n  a chunk proof of a 4 MiB shard at n = {N}: {proof_bytes} bytes"
    ));
    (value, text)
}
