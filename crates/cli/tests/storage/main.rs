//! `plexus store` through real processes on loopback sockets.
//!
//! - `refusals_need_no_provider`: a devnet without providers; every refusal `store` makes
//!   before anything is posted or fetched: an id that is no hash, an unknown id, flags that do
//!   not go together, a file larger than the escrow covers (with nothing posted), a deal no
//!   provider can hold (rejected, nothing charged).
//! - `end_to_end_private_round_trip` (CI profile): a devnet of four providers selling storage
//!   (k = 2 of n = 4); a few MiB stored sealed come back identical, the providers' shard files
//!   do not hold the plaintext, a read by another key is refused and writes nothing, a holder
//!   declares its shard faulty (`provider fault`; a stranger's or an unknown slot's refused),
//!   and the deal is extended and deleted.
//! - `end_to_end_bench_storage_put_and_get` (CI profile): `plexus bench storage --put-mib 2`
//!   starts its own devnet of four providers, stores and reads back through them, prints
//!   `put_mbps`, `get_mbps` and `repair_ms` (one ~4 MiB shard rebuilt) beside their targets, and leaves nothing
//!   behind in its temporary directory (the devnet, the spool, the files).
//! - `end_to_end_killed_holders_are_punished_and_repaired` (CI profile): a devnet of six
//!   providers stores 24 MiB sealed, two holders are killed (`kill -9`), the file still reads;
//!   the chain declares their shards lost and burns their collateral, live providers rebuild
//!   and accept them within two epochs and are paid, and no live provider misses or loses bond.

#[path = "../common/mod.rs"]
mod common;

use common::{PLEXUS, tempdir, wait_for};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

/// How long a devnet may take to start and its providers to offer storage: the machine is
/// shared, so this only catches a hang.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(240);

/// The devnet and the CLI pointed at it.
type Net = common::Devnet;

/// `plexus devnet` with `providers` providers (registering a fixed speed, as in the compute
/// tests) and `extra` arguments on a new directory, once it finalizes blocks.
fn start_with(dir: &Path, providers: u32, extra: &[&str]) -> Net {
    let extra = [&["--provider-fuel-per-second", "100000000"][..], extra].concat();
    let net = Net::spawn(dir, providers, &extra);
    wait_for("the devnet to finalize blocks", STARTUP_TIMEOUT, || {
        net.client.status().is_ok_and(|s| s.height >= 2)
    });
    net
}

/// [`start_with`] without extra arguments.
fn start(dir: &Path, providers: u32) -> Net {
    start_with(dir, providers, &[])
}

/// `len` bytes from a seeded generator, with `marker` written every 64 KiB.
fn content(len: usize, seed: u64, marker: &[u8]) -> Vec<u8> {
    use rand::{Rng as _, SeedableRng as _};
    let mut bytes = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    for at in (0..len.saturating_sub(marker.len())).step_by(64 << 10) {
        bytes[at..at + marker.len()].copy_from_slice(marker);
    }
    bytes
}

#[test]
fn refusals_need_no_provider() {
    let dir = tempdir("storage-refusals");
    let net = start(&dir, 0);
    let file = dir.join("file.bin");
    std::fs::write(&file, content(1 << 20, 7, b"marker")).unwrap();
    let file = file.to_str().unwrap();
    let out = dir.join("out.bin");
    let out = out.to_str().unwrap();

    let unknown = "ab".repeat(32);
    let error = net.refused(&["store", "get", &unknown, "--out", out, "--from", "dev0"]);
    assert!(
        error.contains(&format!("no stored file {unknown}")),
        "{error}"
    );
    let error = net.refused(&["store", "status", &unknown]);
    assert!(error.contains("no stored file"), "{error}");
    let error = net.refused(&["store", "delete", &unknown, "--from", "dev0"]);
    assert!(error.contains("no stored file"), "{error}");
    let error = net.refused(&["store", "get", "not-a-hash", "--out", out]);
    assert!(error.contains("is not a file id"), "{error}");
    assert!(!Path::new(out).exists(), "a refused get writes nothing");

    // Flags: the payer is always needed, even for a public file; ls takes one owner.
    let error = net.refused(&["store", "put", file, "--public"]);
    assert!(error.contains("--from"), "{error}");
    let error = net.refused(&["store", "ls", "--from", "dev0", "--owner", "dev1"]);
    assert!(error.contains("cannot be used with"), "{error}");
    let error = net.refused(&["store", "ls"]);
    assert!(
        error.contains("--owner") || error.contains("--from"),
        "{error}"
    );
    let error = net.refused(&["store", "put", file, "--from", "dev0", "--epochs", "0"]);
    assert!(error.contains("--epochs 0"), "{error}");

    // A file larger than the escrow covers: a new key with nothing, and a rich key at a cap
    // that no balance covers. Nothing is posted.
    assert!(net.plexus(&["keys", "new", "poor"]).status.success());
    let args = ["store", "put", file, "--price-cap", "1plx"];
    let error = net.refused(&[&args[..], &["--from", "poor"]].concat());
    assert!(
        error.contains("a file larger than the escrow covers"),
        "{error}"
    );
    let error = net.refused(&[
        "store",
        "put",
        file,
        "--public",
        "--from",
        "dev0",
        "--price-cap",
        "1000000000plx",
    ]);
    assert!(
        error.contains("a file larger than the escrow covers"),
        "{error}"
    );
    for owner in ["poor", "dev0"] {
        let files = net.json(&["store", "ls", "--from", owner]);
        assert_eq!(files, Value::Array(vec![]), "{owner} posted nothing");
    }
    // A cap nobody can hold at: the chain rejects the post, charging nothing, and says why.
    let error = net.refused(&[
        "store",
        "put",
        file,
        "--from",
        "dev0",
        "--price-cap",
        "1plx",
    ]);
    assert!(
        error.contains("distinct providers at or below the price cap"),
        "{error}"
    );
    // With no storage offer, the default cap finds no n providers: said before posting.
    let error = net.refused(&["store", "put", file, "--from", "dev0"]);
    assert!(error.contains("active providers offer storage"), "{error}");
}

/// A key's balance and the height it was read at.
fn balance_of(net: &Net, key: &str) -> (u128, u64) {
    let shown = net.json(&["keys", "show", key]);
    let address: plexus_types::Address = shown["address"].as_str().unwrap().parse().unwrap();
    let proof = net.client.proof(&address).unwrap();
    (proof.balance.parse().unwrap(), proof.height)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn end_to_end_private_round_trip() {
    const MARKER: &[u8] = b"PLEXUS-PLAINTEXT-MARKER-5b1e";
    let dir = tempdir("storage-round-trip");
    let net = start(&dir, 4);
    wait_for("four storage offers", STARTUP_TIMEOUT, || {
        net.client
            .storage_providers()
            .is_ok_and(|offers| offers.iter().filter(|o| o.active).count() >= 4)
    });
    // Three segments would need 192 MiB; a few MiB in one segment, of odd length.
    let plain = content((3 << 20) + 12_345, 15, MARKER);
    let file = dir.join("weights.bin");
    std::fs::write(&file, &plain).unwrap();
    let file = file.to_str().unwrap();

    let put = net.json(&["store", "put", file, "--from", "dev0", "--epochs", "5"]);
    let id = put["id"].as_str().unwrap().to_string();
    assert_eq!(put["size"], plain.len() as u64);
    assert_eq!((put["k"].as_u64(), put["n"].as_u64()), (Some(2), Some(4)));
    assert_eq!(put["segments"], 1);
    let status = net.json(&["store", "status", &id]);
    let shards = status["segments"][0]["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    assert!(shards.iter().all(|s| s["state"] == "active"), "{status}");

    let out = dir.join("back.bin");
    let got = net.json(&[
        "store",
        "get",
        &id,
        "--out",
        out.to_str().unwrap(),
        "--from",
        "dev0",
    ]);
    assert_eq!(got["size"], plain.len() as u64);
    assert!(std::fs::read(&out).unwrap() == plain, "the bytes differ");

    // The providers hold ciphertext only: no file of theirs contains the marker.
    let provider_files: Vec<PathBuf> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("provider"))
        .flat_map(|e| files_under(&e.path()))
        .collect();
    let mut shard_bytes = 0u64;
    for path in &provider_files {
        let bytes = std::fs::read(path).unwrap();
        shard_bytes += bytes.len() as u64;
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER),
            "{} holds the plaintext",
            path.display()
        );
    }
    assert!(
        shard_bytes >= 2 * plain.len() as u64,
        "the providers hold n/k times the file: {shard_bytes} bytes in {provider_files:?}"
    );

    // Another key is refused (by the holders, and it could not open the seal anyway), and
    // nothing is written.
    let stolen = dir.join("stolen.bin");
    let error = net.refused(&[
        "store",
        "get",
        &id,
        "--out",
        stolen.to_str().unwrap(),
        "--from",
        "dev1",
    ]);
    assert!(
        error.contains("cannot be read") || error.contains("cannot open"),
        "{error}"
    );
    assert!(!stolen.exists());
    let error = net.refused(&["store", "get", &id, "--out", stolen.to_str().unwrap()]);
    assert!(error.contains("is private"), "{error}");

    // Only the owner extends or deletes, refused before anything is sent (no fee).
    let (before, _) = balance_of(&net, "dev1");
    for args in [
        &["store", "delete", &id, "--from", "dev1"][..],
        &["store", "extend", &id, "--epochs", "1", "--from", "dev1"][..],
    ] {
        let error = net.refused(args);
        assert!(error.contains("does not own stored file"), "{error}");
    }
    assert_eq!(balance_of(&net, "dev1").0, before, "no fee was charged");

    // `provider fault`: refused before any fee for a shard another provider holds or one that
    // does not exist; the holder's declaration (once no challenge of the shard is open) makes
    // the shard faulty, and a second one is refused.
    let holder = shards[0]["holder"].as_str().unwrap().to_string();
    let key = format!("provider{}", provider_index(&net, &holder));
    let fault = |from: &str, slot: &str| {
        net.plexus(&[
            "provider",
            "fault",
            "--from",
            from,
            "--deal",
            &id,
            "--segment",
            "0",
            "--slot",
            slot,
        ])
    };
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let error = stderr(&fault("dev1", "0"));
    assert!(error.contains(&format!("is held by {holder}")), "{error}");
    let error = stderr(&fault(&key, "9"));
    assert!(error.contains("has no shard 9 of segment 0"), "{error}");
    wait_for("the fault declared", STARTUP_TIMEOUT, || {
        let out = fault(&key, "0");
        if out.status.success() {
            return true;
        }
        // A challenge of the shard is open for a few blocks each epoch: the agent answers it.
        assert!(
            stderr(&out).contains("has a challenge open"),
            "{}",
            stderr(&out)
        );
        false
    });
    let status = net.json(&["store", "status", &id]);
    assert_eq!(
        status["segments"][0]["shards"][0]["state"], "faulty",
        "{status}"
    );
    let error = stderr(&fault(&key, "0"));
    assert!(error.contains("only an active shard"), "{error}");

    // Listed, extended, deleted; then unknown.
    let listed = net.json(&["store", "ls", "--from", "dev0"]);
    assert_eq!(listed[0]["id"], id.as_str());
    let extended = net.json(&["store", "extend", &id, "--epochs", "2", "--from", "dev0"]);
    assert_eq!(
        extended["end_epoch"].as_u64(),
        Some(status["end_epoch"].as_u64().unwrap() + 2)
    );
    let deleted = net.json(&["store", "delete", &id, "--from", "dev0"]);
    assert!(
        deleted["returned"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
            > 0
    );
    let error = net.refused(&["store", "status", &id]);
    assert!(error.contains("no stored file"), "{error}");
}

#[test]
fn end_to_end_bench_storage_put_and_get() {
    let dir = tempdir("storage-bench");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(PLEXUS)
        .args([
            "bench",
            "storage",
            "--json",
            "--runs",
            "1",
            "--put-mib",
            "2",
        ])
        .env("PLEXUS_HOME", dir.join("home"))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (key, target) in [
        ("put_mbps", 300.0),
        ("get_mbps", 1000.0),
        ("repair_ms", 200.0),
    ] {
        assert!(figures[key].as_f64().unwrap() > 0.0, "{figures}");
        assert_eq!(figures[format!("{key}_target")].as_f64(), Some(target));
    }
    // About 4 MiB: half of an 8 MiB file less 64 KiB, sealed.
    let shard = figures["repair_shard_bytes"].as_u64().unwrap();
    assert!((4_000_000..4_300_000).contains(&shard), "{figures}");
    assert_eq!(figures["loopback_n"].as_u64(), Some(4));
    assert_eq!(figures["put_mib"].as_u64(), Some(2));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the bench left {left:?} behind");
}

/// The pid `plexus devnet` printed for each of its providers, by index.
fn provider_pids(dir: &Path) -> BTreeMap<usize, i32> {
    let log = std::fs::read_to_string(dir.join("devnet.log")).unwrap();
    log.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "provider").then_some(())?;
            let index = words.next()?.parse().ok()?;
            (words.next()? == "pid").then_some(())?;
            Some((index, words.next()?.parse().ok()?))
        })
        .collect()
}

/// The value of counter `name` on the node's `/metrics`.
fn metric(net: &Net, name: &str) -> u64 {
    let text = reqwest::blocking::get(format!("http://127.0.0.1:{}/metrics", net.api))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// `store get ID` as dev0 into `dir/name`, which must hold exactly `plain`.
fn get_identical(net: &Net, id: &str, out: &Path, plain: &[u8]) -> Value {
    let got = net.json(&[
        "store",
        "get",
        id,
        "--out",
        out.to_str().unwrap(),
        "--from",
        "dev0",
    ]);
    assert!(std::fs::read(out).unwrap() == plain, "the bytes differ");
    std::fs::remove_file(out).unwrap();
    got
}

/// The proof of repair, with real processes: a devnet of six providers (k = 2 of
/// n = 4, epochs of 40 blocks) stores 24 MiB sealed; `kill -9` of the holders of the two data
/// shards; `store get` still returns the file (decoding); each dead holder misses three
/// challenges, its shard is declared lost and its collateral burned, a live provider is drawn
/// to repair it, rebuilds it from the two live holders and accepts it (paid its repair fee)
/// within two epochs of the loss; `store status` shows four active shards again, the file
/// still reads, and no live provider missed a challenge or lost bond.
#[test]
fn end_to_end_killed_holders_are_punished_and_repaired() {
    const MARKER: &[u8] = b"PLEXUS-REPAIR-MARKER-77c0";
    const EPOCH_BLOCKS: u64 = 40;
    let dir = tempdir("storage-repair");
    let net = start_with(&dir, 6, &["--epoch-blocks", &EPOCH_BLOCKS.to_string()]);
    wait_for("six storage offers", STARTUP_TIMEOUT, || {
        net.client
            .storage_providers()
            .is_ok_and(|offers| offers.iter().filter(|o| o.active).count() >= 6)
    });
    let plain = content((24 << 20) + 4_321, 24, MARKER);
    let file = dir.join("dataset.bin");
    std::fs::write(&file, &plain).unwrap();
    let put = net.json(&[
        "store",
        "put",
        file.to_str().unwrap(),
        "--from",
        "dev0",
        "--epochs",
        "40",
    ]);
    let id = put["id"].as_str().unwrap().to_string();
    let out = dir.join("back.bin");
    get_identical(&net, &id, &out, &plain);
    let stored = net.client.storage_file(&id).unwrap();
    let escrowed = stored.file.escrow.0 + stored.file.paid.0;
    let segment = &stored.segments[0];
    let holders: Vec<String> = segment.shards.iter().map(|s| s.holder.clone()).collect();
    for holder in &holders {
        let index = provider_index(&net, holder);
        for path in files_under(&dir.join(format!("data/provider-{index}/shards"))) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(MARKER.len()).any(|w| w == MARKER),
                "{} holds the plaintext",
                path.display()
            );
        }
    }

    // Kill the holders of both data shards: every read now decodes.
    let victims = &holders[..2];
    let bond = |address: &str| -> u128 {
        net.client
            .provider(&address.parse().unwrap())
            .unwrap()
            .bond
            .parse()
            .unwrap()
    };
    let offers = net.client.storage_providers().unwrap();
    let bonds: BTreeMap<String, u128> = offers
        .iter()
        .map(|o| (o.provider.clone(), bond(&o.provider)))
        .collect();
    let pids = provider_pids(&dir);
    for victim in victims {
        let pid = pids[&provider_index(&net, victim)];
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
    }
    eprintln!(
        "killed the holders of slots 0 and 1 at height {}",
        net.client.status().unwrap().height
    );
    let got = get_identical(&net, &id, &out, &plain);
    let dropped: Vec<&str> = got["dropped_holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    // The read decoded: it dropped a dead holder (the other's failure may come after the
    // read had its k shards), and no live one.
    assert!(!dropped.is_empty(), "{got}");
    assert!(
        dropped.iter().all(|d| victims.iter().any(|v| v == d)),
        "{got}"
    );

    // Follow slots 0 and 1 until both are active again under new holders: note each repair's
    // draw (height, fee) as it is seen.
    let mut repairs: BTreeMap<usize, (u64, u128)> = BTreeMap::new();
    let mut paid_before_repairs = None;
    wait_for(
        "the lost shards to be repaired",
        Duration::from_secs(900),
        || {
            let file = net.client.storage_file(&id).unwrap();
            for slot in 0..2 {
                let shard = &file.segments[0].shards[slot];
                if shard.state == plexus_client::dto::ShardState::Repairing {
                    paid_before_repairs.get_or_insert(file.file.paid.0);
                    repairs.entry(slot).or_insert((
                        shard.drawn_height.unwrap(),
                        shard.repair_fee.as_ref().unwrap().0,
                    ));
                }
            }
            (0..2).all(|slot| {
                let shard = &file.segments[0].shards[slot];
                shard.state == plexus_client::dto::ShardState::Active
                    && !victims.contains(&shard.holder)
            })
        },
    );
    let status = net.json(&["store", "status", &id]);
    let shards = status["segments"][0]["shards"].as_array().unwrap();
    assert!(shards.iter().all(|s| s["state"] == "active"), "{status}");
    let repaired = net.client.storage_file(&id).unwrap();
    let mut fees = 0;
    for slot in 0..2 {
        let shard = &repaired.segments[0].shards[slot];
        let (drawn, fee) = *repairs
            .get(&slot)
            .unwrap_or_else(|| panic!("slot {slot} was never seen repairing: {status}"));
        let active = shard.active_since_height.unwrap();
        eprintln!(
            "slot {slot}: lost and its repairer drawn at height {drawn}, repaired (accepted) at \
             {active}; repair fee {fee}"
        );
        assert!(
            active - drawn <= 2 * EPOCH_BLOCKS,
            "slot {slot}: drawn at {drawn}, active at {active}"
        );
        assert!(!holders.contains(&shard.holder), "{status}");
        fees += fee;
    }
    assert!(fees > 0);
    let paid = repaired.file.paid.0 - paid_before_repairs.unwrap();
    assert!(
        paid >= fees,
        "the repairers' fees {fees} came out of the escrow: {paid} paid"
    );
    assert_eq!(repaired.file.escrow.0 + repaired.file.paid.0, escrowed);
    get_identical(&net, &id, &out, &plain);

    // The dead holders missed three challenges each and lost bond; nobody alive missed one or
    // lost anything.
    assert_eq!(metric(&net, "plexus_storage_shards_lost_total"), 2);
    assert_eq!(metric(&net, "plexus_storage_proofs_missed_total"), 6);
    assert_eq!(metric(&net, "plexus_storage_proofs_wrong_total"), 0);
    assert_eq!(metric(&net, "plexus_storage_repairs_done_total"), 2);
    for (provider, before) in &bonds {
        let after = bond(provider);
        if victims.contains(provider) {
            assert!(
                after < *before,
                "{provider} was not punished: {before} -> {after}"
            );
        } else {
            assert_eq!(after, *before, "{provider} is alive and lost bond");
        }
    }
}

/// The devnet index of the provider at `address` (its key is `provider{index}`).
fn provider_index(net: &Net, address: &str) -> usize {
    (0..8)
        .find(|i| net.json(&["keys", "show", &format!("provider{i}")])["address"] == address)
        .unwrap_or_else(|| panic!("{address} is no devnet provider"))
}
