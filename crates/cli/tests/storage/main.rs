//! `plexus store` through real processes on loopback sockets.
//!
//! - `refusals_need_no_provider`: a devnet without providers; every refusal `store` makes
//!   before anything is posted or fetched: an id that is no hash, an unknown id, flags that do
//!   not go together, a file larger than the escrow covers (with nothing posted), a deal no
//!   provider can hold (rejected, nothing charged).
//! - `end_to_end_private_round_trip` (CI profile): a devnet of four providers selling storage
//!   (k = 2 of n = 4); a few MiB stored sealed come back identical, the providers' shard files
//!   do not hold the plaintext, a read by another key is refused and writes nothing, and the
//!   deal is extended and deleted.
//! - `end_to_end_bench_storage_put_and_get` (CI profile): `plexus bench storage --put-mib 2`
//!   starts its own devnet of four providers, stores and reads back through them, prints
//!   `put_mbps` and `get_mbps` beside their targets and `repair_ms` as null, and leaves nothing
//!   behind in its temporary directory (the devnet, the spool, the files).

use plexus_client::Client;
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output},
    time::{Duration, Instant},
};

const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");

/// How long a devnet may take to start and its providers to offer storage: the machine is
/// shared, so this only catches a hang.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(240);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM first so a devnet stops the providers it started.
        if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "plexus-storage-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Net {
    dir: PathBuf,
    api: u16,
    client: Client,
    _devnet: Process,
}

impl Net {
    /// `plexus devnet` with `providers` providers on a new directory, once it answers.
    fn start(dir: &Path, providers: u32) -> Net {
        let api = free_port();
        let log = std::fs::File::create(dir.join("devnet.log")).unwrap();
        let child = Command::new(PLEXUS)
            .args(["devnet", "--dir"])
            .arg(dir.join("data"))
            .args([
                "--api",
                &format!("127.0.0.1:{api}"),
                "--p2p",
                &format!("127.0.0.1:{}", free_port()),
                "--providers",
                &providers.to_string(),
                "--provider-api",
                &format!("127.0.0.1:{}", free_port()),
                "--provider-fuel-per-second",
                "100000000",
            ])
            .env("PLEXUS_HOME", dir.join("home"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let net = Net {
            dir: dir.to_path_buf(),
            api,
            client: Client::new(&format!("http://127.0.0.1:{api}")),
            _devnet: Process(child),
        };
        wait_for("the devnet to finalize blocks", STARTUP_TIMEOUT, || {
            net.client.status().is_ok_and(|s| s.height >= 2)
        });
        net
    }

    fn plexus(&self, args: &[&str]) -> Output {
        Command::new(PLEXUS)
            .args(args)
            .env("PLEXUS_HOME", self.dir.join("home"))
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", self.api))
            .output()
            .unwrap()
    }

    /// Runs `args`, which must fail; returns its standard error.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.plexus(args);
        assert!(
            !out.status.success(),
            "{args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs `args` with `--json`, which must succeed; returns its output.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.plexus(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    let dir = tempdir("refusals");
    let net = Net::start(&dir, 0);
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
    let _ = std::fs::remove_dir_all(&dir);
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
    let dir = tempdir("round-trip");
    let net = Net::start(&dir, 4);
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
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn end_to_end_bench_storage_put_and_get() {
    let dir = tempdir("bench");
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
    for (key, target) in [("put_mbps", 300.0), ("get_mbps", 1000.0)] {
        assert!(figures[key].as_f64().unwrap() > 0.0, "{figures}");
        assert_eq!(figures[format!("{key}_target")].as_f64(), Some(target));
    }
    assert!(figures["repair_ms"].is_null(), "{figures}");
    assert_eq!(figures["loopback_n"].as_u64(), Some(4));
    assert_eq!(figures["put_mib"].as_u64(), Some(2));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the bench left {left:?} behind");
    let _ = std::fs::remove_dir_all(&dir);
}
