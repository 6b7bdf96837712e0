//! End-to-end: real `plexus` processes on loopback sockets.
//!
//! Starts a devnet, transfers between keys, bonds stake, sends bad input at every endpoint,
//! kills the node with SIGKILL under load, restarts it on the same directory, and checks that
//! every transaction finalized before the kill is still there with the same balances.

mod common;

use common::{check_beacon, genesis_ceremony, genesis_ceremony_with};
use commonware_cryptography::Signer;
use plexus_client::{Client, ClientError, TxBuilder};
use plexus_types::{Address, PLX, Payload, PrivateKey};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");
/// How long a node may take to start answering (or a devnet to produce its first blocks). Tests
/// share two cores with everything else a developer runs: deadlines only catch hangs.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a transaction (or any chain event) may take to finalize before the test gives up.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(120);

struct Node {
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, home: &Path, api: u16, p2p: u16) -> (Node, Client) {
    let log =
        std::fs::File::create(dir.with_extension(format!("log.{}", std::process::id()))).unwrap();
    let child = Command::new(PLEXUS)
        .args(["devnet", "--dir"])
        .arg(dir)
        .args([
            "--api",
            &format!("127.0.0.1:{api}"),
            "--p2p",
            &format!("127.0.0.1:{p2p}"),
        ])
        .env("PLEXUS_HOME", home)
        .env("PLEXUS_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let node = Node { child };
    let client = Client::new(&format!("http://127.0.0.1:{api}"));
    let started = Instant::now();
    while client.status().is_err() {
        assert!(
            started.elapsed() < STARTUP_TIMEOUT,
            "the devnet did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (node, client)
}

fn plexus(home: &Path, api: u16, args: &[&str]) -> std::process::Output {
    Command::new(PLEXUS)
        .args(args)
        .env("PLEXUS_HOME", home)
        .env("PLEXUS_NODE", format!("http://127.0.0.1:{api}"))
        .output()
        .unwrap()
}

/// Fails the test with the command's stderr unless it exited 0.
fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key_address(home: &Path, api: u16, name: &str) -> Address {
    let out = plexus(home, api, &["keys", "show", name, "--json"]);
    assert_succeeded(&out);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["name"], name);
    value["address"].as_str().unwrap().parse().unwrap()
}

fn read_key(home: &Path, name: &str) -> PrivateKey {
    use commonware_codec::DecodeExt;
    let hex = std::fs::read_to_string(home.join("keys").join(format!("{name}.key"))).unwrap();
    let bytes = plexus_client::hex_decode(hex.trim()).unwrap();
    PrivateKey::decode(commonware_codec::Copying(&bytes[..])).unwrap()
}

fn api_code(result: Result<String, ClientError>) -> String {
    match result {
        Err(ClientError::Api { body, .. }) => body.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The status and code of `method path` (with `body`), which must be the JSON error.
fn request_code(client: &Client, method: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", client.base()))
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    let text = response.text().unwrap();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{path}: {status} {text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    (status, body["code"].as_str().unwrap_or("").to_string())
}

fn get_code(client: &Client, path: &str) -> (u16, String) {
    request_code(client, "GET", path, Vec::new())
}

fn tempdir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("plexus-e2e-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn devnet_survives_sigkill_with_every_finalized_transaction() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (node, client) = start(&data, &home, api, p2p);

    // Keys: files are private, names are checked, a new key lists with its address.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("keys/dev0.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = plexus(&home, api, &["keys", "new", "alice", "--json"]);
    assert_succeeded(&out);
    let alice = key_address(&home, api, "alice");
    let out = plexus(&home, api, &["keys", "new", "alice"]);
    assert!(!out.status.success(), "a key is never overwritten");
    let out = plexus(&home, api, &["keys", "new", "../evil"]);
    assert!(
        !out.status.success(),
        "key names cannot escape the keystore"
    );
    let out = plexus(&home, api, &["keys", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|k| k["address"] == alice.to_string())
    );

    // CLI: transfer, bond, query.
    let dev1 = key_address(&home, api, "dev1");
    let before = client
        .account(&dev1)
        .unwrap()
        .balance
        .parse::<u128>()
        .unwrap();
    let out = plexus(
        &home,
        api,
        &[
            "tx", "transfer", "--from", "dev0", "--to", "dev1", "--amount", "1.5plx", "--json",
        ],
    );
    assert_succeeded(&out);
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["status"], "finalized");
    assert_eq!(receipt["receipt"]["status"], "success");
    assert_eq!(
        client
            .account(&dev1)
            .unwrap()
            .balance
            .parse::<u128>()
            .unwrap(),
        before + 1_500_000_000
    );
    let out = plexus(
        &home,
        api,
        &["stake", "bond", "--from", "dev2", "--amount", "2000plx"],
    );
    assert_succeeded(&out);
    let dev2 = key_address(&home, api, "dev2");
    assert_eq!(
        client.account(&dev2).unwrap().bonded,
        (2_000 * PLX).to_string()
    );
    assert!(
        client
            .validators()
            .unwrap()
            .iter()
            .any(|v| v.address == dev2.to_string())
    );
    // A user mistake: one line, non-zero exit, no panic.
    let out = plexus(
        &home,
        api,
        &[
            "tx", "transfer", "--from", "dev0", "--to", "plx1bad", "--amount", "1",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error:") && !stderr.contains("panicked"),
        "{stderr}"
    );

    // Two sends in a row without waiting take consecutive nonces.
    for _ in 0..2 {
        let out = plexus(
            &home,
            api,
            &[
                "tx",
                "transfer",
                "--from",
                "dev1",
                "--to",
                "dev0",
                "--amount",
                "1",
                "--no-wait",
            ],
        );
        assert_succeeded(&out);
    }
    // A second node on a busy port fails with one line, not a panic.
    let busy = Command::new(PLEXUS)
        .args(["devnet", "--dir"])
        .arg(workdir.join("second"))
        .args([
            "--api",
            &format!("127.0.0.1:{}", free_port()),
            "--p2p",
            &format!("127.0.0.1:{p2p}"),
        ])
        .env("PLEXUS_HOME", &home)
        .output()
        .unwrap();
    assert!(!busy.status.success());
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(
        stderr.contains("cannot listen") && !stderr.contains("panicked"),
        "{stderr}"
    );
    // A wrong method is a JSON error too.
    let response = reqwest::blocking::Client::new()
        .delete(format!("{}/v1/status", client.base()))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap()["code"],
        "method_not_allowed"
    );

    // The proof of an account verifies against the finalized state root.
    let proof = client.proof(&dev1).unwrap();
    let root = plexus_types::hash::parse_digest(&proof.state_root).unwrap();
    plexus_client::verify_proof(&proof, &root).unwrap();

    // Bad input at the edge: each gets its documented code and the node keeps running.
    let key = read_key(&home, "dev3");
    let status = client.status().unwrap();
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: 1_000,
    };
    let to = dev1.clone();
    let good = builder.build(
        0,
        Payload::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    assert_eq!(
        api_code(client.submit_raw(b"garbage".to_vec())),
        "malformed"
    );
    assert_eq!(api_code(client.submit_raw(vec![0; 5_000])), "tx_too_large");
    assert_eq!(
        api_code(client.submit_raw(vec![0; 100_000])),
        "tx_too_large"
    );
    let mut forged = good.clone();
    forged.tx.nonce = 1;
    assert_eq!(api_code(client.submit(&forged)), "bad_signature");
    let foreign = TxBuilder {
        key: &key,
        chain_id: 1,
        fee: 1_000,
    }
    .build(
        0,
        Payload::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    assert_eq!(api_code(client.submit(&foreign)), "wrong_chain");
    let overflow = builder.build(
        0,
        Payload::Transfer {
            to: to.clone(),
            amount: u128::MAX,
        },
    );
    assert_eq!(api_code(client.submit(&overflow)), "overflow");
    let broke = builder.build(
        0,
        Payload::Transfer {
            to: to.clone(),
            amount: 10_000_000 * PLX,
        },
    );
    assert_eq!(api_code(client.submit(&broke)), "insufficient_balance");
    let stranger = TxBuilder {
        key: &PrivateKey::from_seed(4242),
        chain_id: status.chain_id,
        fee: 1_000,
    }
    .build(
        0,
        Payload::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    assert_eq!(api_code(client.submit(&stranger)), "insufficient_balance");
    let hash = client.submit(&good).unwrap();
    assert_eq!(api_code(client.submit(&good)), "duplicate");
    client.wait_finalized(&hash, FINALITY_TIMEOUT).unwrap();
    assert_eq!(api_code(client.submit(&good)), "replayed_nonce");
    for (path, status, code) in [
        ("/v1/accounts/garbage", 400, "invalid_address"),
        ("/v1/accounts/garbage/proof", 400, "invalid_address"),
        ("/v1/blocks/-1", 400, "invalid_height"),
        ("/v1/blocks/99999999", 404, "unknown_block"),
        ("/v1/txs/xyz", 400, "invalid_hash"),
        (&format!("/v1/txs/{}", "ab".repeat(32)), 404, "unknown_tx"),
        ("/v1/nothing", 404, "not_found"),
        // Refusals by the router and extractors are the same JSON, with the route's own code.
        ("/v1/jobs/%ff", 400, "invalid_hash"),
        ("/v1/txs/%c3%28", 400, "invalid_hash"),
        ("/v1/blobs/%ff", 400, "invalid_hash"),
        ("/v1/accounts/%ff", 400, "invalid_address"),
        ("/v1/providers/%ff/", 404, "not_found"),
        ("/v1/blocks/%ff", 400, "invalid_height"),
        ("/v1/blocks/+5", 400, "invalid_height"),
        (&format!("/v1/txs/{}", "AB".repeat(32)), 400, "invalid_hash"),
        (
            &format!("/v1/accounts/{}", dev1.to_string().to_uppercase()),
            400,
            "invalid_address",
        ),
        ("/v1/jobs?limit=abc", 400, "invalid_query"),
        ("/v1/jobs?limit=0", 400, "invalid_query"),
        ("/v1/jobs?consumer=nope", 400, "invalid_address"),
    ] {
        assert_eq!(
            get_code(&client, path),
            (status, code.to_string()),
            "{path}"
        );
    }
    for (method, path, body, status, code) in [
        ("DELETE", "/v1/blobs", Vec::new(), 405, "method_not_allowed"),
        (
            "PATCH",
            "/v1/blobs/00",
            Vec::new(),
            405,
            "method_not_allowed",
        ),
        ("GET", "/v1/faucet", Vec::new(), 405, "method_not_allowed"),
        (
            "POST",
            "/v1/faucet",
            vec![b' '; 100_000],
            413,
            "body_too_large",
        ),
    ] {
        assert_eq!(
            request_code(&client, method, path, body),
            (status, code.to_string()),
            "{method} {path}"
        );
    }

    // Load from four senders on another thread; SIGKILL while it is still submitting.
    let senders: Vec<PrivateKey> = (4..8)
        .map(|i| read_key(&home, &format!("dev{i}")))
        .collect();
    let submitted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let load = {
        let (client, submitted, to, chain_id) = (
            client.clone(),
            submitted.clone(),
            to.clone(),
            status.chain_id,
        );
        std::thread::spawn(move || {
            for round in 0..100_000u64 {
                for key in &senders {
                    let tx = TxBuilder {
                        key,
                        chain_id,
                        fee: 1_000,
                    }
                    .build(
                        round,
                        Payload::Transfer {
                            to: to.clone(),
                            amount: 1 + round as u128,
                        },
                    );
                    // The node dies mid-stream: the first failed submission ends the load.
                    let Ok(hash) = client.submit(&tx) else {
                        return round;
                    };
                    submitted.lock().unwrap().push(hash);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            u64::MAX
        })
    };
    // Let the load run until the node has finalized some of it, however slow the machine is
    // today; the load goes on meanwhile, so the kill below still lands in the middle of it.
    let started = Instant::now();
    while !submitted.lock().unwrap().first().is_some_and(|hash| {
        client
            .tx(hash)
            .is_ok_and(|s| s.status == plexus_client::dto::TxState::Finalized)
    }) {
        assert!(
            started.elapsed() < FINALITY_TIMEOUT,
            "none of the load finalized"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // What the node reports finalized before the kill must all be there after it.
    let hashes = submitted.lock().unwrap().clone();
    let mut finalized = BTreeMap::new();
    for hash in &hashes {
        if let Ok(status) = client.tx(hash)
            && status.status == plexus_client::dto::TxState::Finalized
        {
            finalized.insert(hash.clone(), status.height.unwrap());
        }
    }
    let before_kill = client.block(None).unwrap();
    drop(node); // SIGKILL (Child::kill on Unix) while the load thread is still submitting.
    let rounds = load.join().unwrap();
    assert!(rounds < u64::MAX, "the load outlived the node");
    assert!(
        !finalized.is_empty(),
        "nothing was finalized before the kill"
    );
    assert!(
        finalized.len() < submitted.lock().unwrap().len(),
        "the kill came after the load drained"
    );
    let (_node, client) = start(&data, &home, api, p2p);
    // The tip seen before the kill is there with the same hash and state root, so every balance
    // at that height is unchanged (the state root commits to all of them).
    let after = client.block(Some(before_kill.height)).unwrap();
    assert_eq!(
        (after.hash, after.state_root),
        (before_kill.hash, before_kill.state_root)
    );
    for (hash, height) in &finalized {
        let status = client.tx(hash).unwrap();
        assert_eq!(
            (status.status, status.height),
            (plexus_client::dto::TxState::Finalized, Some(*height)),
            "{hash}"
        );
    }
    // The chain continues: a new transfer finalizes after the restart.
    let next = client
        .account(&Address(read_key(&home, "dev0").public_key()))
        .unwrap()
        .nonce;
    let tx = TxBuilder {
        key: &read_key(&home, "dev0"),
        chain_id: status.chain_id,
        fee: 1_000,
    }
    .build(
        next,
        Payload::Transfer {
            to: to.clone(),
            amount: 7,
        },
    );
    let hash = client.submit(&tx).unwrap();
    client.wait_finalized(&hash, FINALITY_TIMEOUT).unwrap();
    // Replay the finalized chain from block 1 and recompute the balance of dev1 from receipts.
    let tip = client.status().unwrap().height;
    let mut seen = 0;
    for height in 1..=tip {
        let block = client.block(Some(height)).unwrap();
        for tx in block.txs {
            if let Some(h) = finalized.get(&tx.hash) {
                assert_eq!(*h, height, "{} moved", tx.hash);
                assert_eq!(
                    tx.receipt.as_ref().unwrap().status,
                    plexus_client::dto::ReceiptStatus::Success
                );
                seen += 1;
            }
        }
    }
    assert_eq!(seen, finalized.len());
    std::fs::remove_dir_all(&workdir).ok();
}

#[test]
fn batch_faucet_stream_metrics_and_openapi() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let status = client.status().unwrap();
    assert!(status.faucet);

    // Batch: garbage and an empty list are malformed; one forged signature among good ones is
    // refused alone, the rest are admitted and finalize.
    let post = |body: Vec<u8>| {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/txs/batch", client.base()))
            .body(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().unwrap())
    };
    let (code, body) = post(b"nonsense".to_vec());
    assert_eq!((code, body["code"].as_str()), (400, Some("malformed")));
    let (code, body) = post(vec![0]);
    assert_eq!((code, body["code"].as_str()), (400, Some("malformed")));
    let key = read_key(&home, "dev5");
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: 1_000,
    };
    let to = Address(read_key(&home, "dev6").public_key());
    let mut txs: Vec<_> = (0..5)
        .map(|n| {
            builder.build(
                n,
                Payload::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            )
        })
        .collect();
    txs[2].tx.fee = 2_000; // the signature no longer matches
    let items = client.submit_batch(&txs).unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[2].error.as_ref().map(|e| e.code.as_str()),
        Some("bad_signature")
    );
    for i in [0, 1] {
        assert!(items[i].hash.is_some(), "{i}: {:?}", items[i].error);
    }
    // Nonce 2 never arrived, so 3 and 4 would leave a gap: the mempool refuses them.
    for i in [3, 4] {
        assert_eq!(
            items[i].error.as_ref().map(|e| e.code.as_str()),
            Some("nonce_too_high")
        );
    }
    client
        .wait_finalized(items[1].hash.as_ref().unwrap(), FINALITY_TIMEOUT)
        .unwrap();

    // Faucet: funds a fresh address; refuses garbage and excess.
    let fresh = Address(PrivateKey::from_seed(777).public_key());
    let hash = client.faucet(&fresh, Some("2.5plx".into())).unwrap();
    client.wait_finalized(&hash, FINALITY_TIMEOUT).unwrap();
    assert_eq!(
        client.account(&fresh).unwrap().balance,
        (2 * PLX + PLX / 2).to_string()
    );
    assert_eq!(
        client
            .faucet(&fresh, Some("1000000plx".into()))
            .unwrap_err()
            .code(),
        Some("invalid_amount")
    );
    assert_eq!(
        client.faucet(&fresh, Some("-1".into())).unwrap_err().code(),
        Some("invalid_amount")
    );
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/v1/faucet", client.base()))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // The block stream delivers finalized blocks as server-sent events.
    let mut stream = reqwest::blocking::Client::new()
        .get(format!("{}/v1/stream/blocks", client.base()))
        .send()
        .unwrap();
    let mut text = String::new();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while !text.contains("event: block") {
        assert!(
            started.elapsed() < FINALITY_TIMEOUT,
            "no block event: {text}"
        );
        use std::io::Read;
        let n = stream.read(&mut buf).unwrap();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.contains("\"state_root\""), "{text}");

    // Metrics and the OpenAPI document describe what the node does.
    let metrics = reqwest::blocking::get(format!("{}/metrics", client.base()))
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "plexus_height",
        "plexus_mempool_size",
        "plexus_finalization_latency_seconds",
        "plexus_txs_accepted_total",
        "plexus_txs_rejected_total{reason=\"bad_signature\"}",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    let openapi: serde_json::Value =
        reqwest::blocking::get(format!("{}/v1/openapi.json", client.base()))
            .unwrap()
            .json()
            .unwrap();
    for path in [
        "/v1/txs",
        "/v1/txs/batch",
        "/v1/txs/{hash}",
        "/v1/accounts/{address}",
        "/v1/accounts/{address}/proof",
        "/v1/blocks/{height}",
        "/v1/blocks/latest",
        "/v1/validators",
        "/v1/status",
        "/v1/faucet",
        "/v1/stream/blocks",
        "/v1/blobs",
        "/v1/blobs/{hash}",
        "/metrics",
        "/v1/openapi.json",
    ] {
        assert!(openapi["paths"][path].is_object(), "openapi lacks {path}");
    }
    // Parameters carry the syntax the node accepts.
    let schemas = &openapi["components"]["schemas"];
    assert_eq!(
        schemas["Address"]["pattern"],
        plexus_client::dto::params::ADDRESS_PATTERN
    );
    assert_eq!(
        schemas["Hash"]["pattern"],
        plexus_client::dto::params::HASH_PATTERN
    );
    assert_eq!(schemas["Height"]["maximum"], u64::MAX);
    std::fs::remove_dir_all(&workdir).ok();
}

#[test]
fn a_node_from_genesis_file_and_init_runs_its_own_chain() {
    let workdir = tempdir();
    let home = workdir.join("home");
    let (api, p2p) = (free_port(), free_port());
    let run = |args: &[&str]| plexus(&home, api, args);
    for name in ["alice", "bob"] {
        assert!(run(&["keys", "new", name]).status.success());
    }
    let genesis = workdir.join("genesis.json");
    let genesis_arg = genesis.to_str().unwrap();
    let out = run(&[
        "genesis",
        "--chain-id",
        "7",
        "--alloc",
        "alice=100000plx",
        "--alloc",
        "bob=5plx",
        "--validator",
        "alice=10000plx",
        "--out",
        genesis_arg,
    ]);
    assert_succeeded(&out);
    // A self-bond below the minimum is refused before any file is written.
    let bad = workdir.join("bad.json");
    let out = run(&[
        "genesis",
        "--chain-id",
        "7",
        "--alloc",
        "bob=5plx",
        "--validator",
        "bob=5plx",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success() && !bad.exists());
    let alice = key_address(&home, api, "alice");
    let share = workdir.join(format!("beacon-shares/{alice}.beacon-share"));
    assert!(share.exists(), "genesis deals alice her beacon share");

    let dir = workdir.join("node");
    let dir_arg = dir.to_str().unwrap();
    let init = |key: &str, share: Option<&Path>| {
        let mut args = vec![
            "node",
            "init",
            "--dir",
            dir_arg,
            "--genesis",
            genesis_arg,
            "--key",
            key,
        ];
        if let Some(share) = share {
            args.extend(["--beacon-share", share.to_str().unwrap()]);
        }
        run(&args)
    };
    let out = init("bob", None);
    assert!(!out.status.success(), "bob is not a validator");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a validator"));
    let out = run(&["node", "run", "--dir", dir_arg]);
    assert!(
        !out.status.success(),
        "an uninitialized directory is refused"
    );
    let out = init("alice", None);
    assert!(!out.status.success(), "a validator needs its beacon share");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--beacon-share"));
    let out = init("alice", Some(&workdir.join("genesis.json")));
    assert!(
        !out.status.success(),
        "a file that is not a share is refused"
    );
    let out = init("alice", Some(&share));
    assert_succeeded(&out);

    let child = Command::new(PLEXUS)
        .args([
            "node",
            "run",
            "--dir",
            dir_arg,
            "--api",
            &format!("127.0.0.1:{api}"),
            "--p2p",
            &format!("127.0.0.1:{p2p}"),
        ])
        .env("PLEXUS_HOME", &home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _node = Node { child };
    let client = Client::new(&format!("http://127.0.0.1:{api}"));
    let started = Instant::now();
    while client.status().map(|s| s.height).unwrap_or(0) < 4 {
        assert!(
            started.elapsed() < STARTUP_TIMEOUT,
            "the node did not produce blocks"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = client.status().unwrap();
    assert_eq!(status.chain_id, 7);
    assert!(!status.faucet, "only devnets have a faucet");
    check_beacon(&client, &status.beacon_key, 4);
    // Epoch 0 of 100 blocks; genesis elected alice for the next committee too, and her own
    // reshare log is recorded once she has dealt (to herself).
    assert_eq!(
        (
            status.epoch,
            status.epoch_length,
            status.committee,
            status.next_committee
        ),
        (0, 100, 1, 1)
    );
    let validators = client.validators().unwrap();
    assert!(validators[0].in_committee && validators[0].in_next_committee);
    let started = Instant::now();
    while client.status().unwrap().reshare_logs < 1 {
        assert!(
            started.elapsed() < FINALITY_TIMEOUT,
            "the validator's dealer log did not reach the chain"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run(&[
        "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1plx", "--json",
    ]);
    assert_succeeded(&out);
    let bob: serde_json::Value =
        serde_json::from_slice(&run(&["query", "account", "bob", "--json"]).stdout).unwrap();
    assert_eq!(bob["balance"], (6 * PLX).to_string());
    std::fs::remove_dir_all(&workdir).ok();
}

/// Four operators, each with only its own keystore, make a real network's genesis beacon key
/// with the ceremony: every one ends with the same genesis file and its own share, the shares
/// are shares of the genesis's key (a threshold of their signatures recovers one that verifies,
/// fewer do not), no exchanged file holds a share, a tampered dealing is skipped and its dealer
/// left out while the others still make one key, the draft
/// cannot start a node and the ceremony's genesis can.
#[test]
fn four_validators_make_the_genesis_beacon_key_without_a_dealer() {
    use plexus_state::beacon;
    let workdir = tempdir();
    let names = ["v0", "v1", "v2", "v3"];
    let homes: Vec<PathBuf> = names
        .iter()
        .map(|n| workdir.join(format!("home-{n}")))
        .collect();
    let mut addresses = Vec::new();
    for (home, name) in homes.iter().zip(names) {
        assert_succeeded(&plexus(home, 0, &["keys", "new", name]));
        addresses.push(key_address(home, 0, name).to_string());
    }
    let draft = workdir.join("draft.json");
    let mut args = vec!["genesis".to_string(), "--chain-id".into(), "9".into()];
    for address in &addresses {
        args.extend(["--alloc".into(), format!("{address}=100000plx")]);
        args.extend(["--validator".into(), format!("{address}=10000plx")]);
    }
    args.extend([
        "--ceremony-draft".into(),
        "--out".into(),
        draft.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_succeeded(&plexus(&homes[0], 0, &args));
    assert!(
        !workdir.join("beacon-shares").exists(),
        "a draft deals nothing"
    );
    let shared = workdir.join("shared");
    let refs: Vec<&Path> = homes.iter().map(PathBuf::as_path).collect();
    let results = genesis_ceremony(PLEXUS, &refs, &names, &draft, &shared, &workdir);

    let genesis = std::fs::read_to_string(&results[0].0).unwrap();
    for (path, _) in &results {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            genesis,
            "one genesis for all"
        );
    }
    let file = plexus_node::config::GenesisFile::load(&results[0].0).unwrap();
    let output = file.to_genesis().unwrap().beacon;
    let shares: Vec<_> = results
        .iter()
        .map(|(_, share)| {
            plexus_node::config::share_from_hex(&std::fs::read_to_string(share).unwrap()).unwrap()
        })
        .collect();
    for (address, share) in addresses.iter().zip(&shares) {
        let key = address.parse::<Address>().unwrap().0;
        let position = output.players().position(&key).unwrap() as u32;
        assert!(beacon::share_matches(output.public(), share, position));
    }
    let partials: Vec<_> = shares.iter().map(|share| beacon::sign(share, 5)).collect();
    let quorum = output.quorum::<commonware_utils::N3f1>() as usize;
    assert_eq!(quorum, 3);
    assert!(beacon::recover(output.public(), 5, &partials[1..]).is_some());
    assert!(beacon::recover(output.public(), 5, &partials[2..]).is_none());
    // Nothing in the exchanged directory is a share.
    for entry in std::fs::read_dir(&shared).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for share in &shares {
            let secret = plexus_client::hex_encode(&commonware_codec::Encode::encode(share))[8..]
                .to_string();
            assert!(
                !text.contains(&secret),
                "a share leaked into the shared directory"
            );
        }
    }
    // A dealing altered in transit is skipped, naming the file: one bad file does not stop the
    // ceremony. Its dealer gets no acknowledgements, cannot log, and is left out; the others
    // still make one key and every share matches it.
    let tamper = |shared: &Path| {
        let dealing = shared.join(format!("{}.dealing", addresses[1]));
        let mut bytes =
            plexus_client::hex_decode(std::fs::read_to_string(&dealing).unwrap().trim()).unwrap();
        let last = bytes.len() - 70;
        bytes[last] ^= 1;
        std::fs::write(&dealing, plexus_client::hex_encode(&bytes)).unwrap();
        dealing
    };
    let shared_2 = workdir.join("shared-2");
    let out_2 = workdir.join("out-2");
    std::fs::create_dir_all(&out_2).unwrap();
    let without_1 = genesis_ceremony_with(
        PLEXUS,
        &refs,
        &names,
        &draft,
        &shared_2,
        &out_2,
        &|| {
            tamper(&shared_2);
        },
        Some(1),
    );
    let genesis_2 = std::fs::read_to_string(&without_1[0].0).unwrap();
    assert_ne!(genesis_2, genesis, "another ceremony, another key");
    let output_2 = plexus_node::config::GenesisFile::load(&without_1[0].0)
        .unwrap()
        .to_genesis()
        .unwrap()
        .beacon;
    for ((path, share), address) in without_1.iter().zip(&addresses) {
        assert_eq!(std::fs::read_to_string(path).unwrap(), genesis_2);
        let share =
            plexus_node::config::share_from_hex(&std::fs::read_to_string(share).unwrap()).unwrap();
        let key = address.parse::<Address>().unwrap().0;
        let position = output_2.players().position(&key).unwrap() as u32;
        assert!(beacon::share_matches(output_2.public(), &share, position));
    }
    let dealing = tamper(&shared);
    let out = plexus(
        &homes[0],
        0,
        &[
            "genesis",
            "ceremony",
            "ack",
            "--genesis",
            draft.to_str().unwrap(),
            "--key",
            "v0",
            "--dir",
            shared.to_str().unwrap(),
        ],
    );
    assert_succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipping") && stderr.contains(&dealing.display().to_string()),
        "{stderr}"
    );
    // The draft starts nothing; the ceremony's genesis and share set up a validator.
    let init = |genesis: &Path, dir: &str| {
        plexus(
            &homes[0],
            0,
            &[
                "node",
                "init",
                "--dir",
                workdir.join(dir).to_str().unwrap(),
                "--genesis",
                genesis.to_str().unwrap(),
                "--key",
                "v0",
                "--beacon-share",
                results[0].1.to_str().unwrap(),
            ],
        )
    };
    assert!(!init(&draft, "from-draft").status.success());
    assert_succeeded(&init(&results[0].0, "node"));
    std::fs::remove_dir_all(&workdir).ok();
}

/// SIGKILL at seeded random moments under load, five times: after each restart every transaction
/// the node reported finalized is still finalized at the same height. Set PLEXUS_E2E_SEED to replay.
/// Each cycle first waits for one transaction to finalize (so every cycle has something to lose,
/// however slow the machine), then loads the node for the random time and kills it.
/// Submits `transfer(next nonce)` from `sender` until one of them finalizes, and returns its hash
/// and height. Right after a restart a block from before the kill may still take the nonce a
/// transfer used; then the next nonce is tried. Fails after `FINALITY_TIMEOUT`.
fn finalize_one(
    client: &Client,
    sender: &Address,
    transfer: impl Fn(u64) -> plexus_types::SignedTransaction,
) -> (String, u64) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < FINALITY_TIMEOUT,
            "no transfer finalized"
        );
        let nonce = client.account(sender).unwrap().next_nonce;
        let Ok(hash) = client.submit(&transfer(nonce)) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        // Wait until the nonce is final, whoever's transaction took it.
        while client.account(sender).unwrap().nonce <= nonce {
            assert!(
                started.elapsed() < FINALITY_TIMEOUT,
                "nonce {nonce} never finalized"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(status) = client.tx(&hash)
            && status.status == plexus_client::dto::TxState::Finalized
        {
            return (hash, status.height.unwrap());
        }
    }
}

#[test]
fn repeated_sigkill_at_random_moments_loses_nothing_finalized() {
    let seed: u64 = std::env::var("PLEXUS_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64);
    eprintln!("PLEXUS_E2E_SEED={seed}");
    // xorshift: enough for picking delays, and reproducible from the seed.
    let mut rng = seed | 1;
    let mut next_delay_ms = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        150 + rng % 900
    };
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut node = start(&data, &home, api, p2p);
    let key = read_key(&home, "dev7");
    let to = Address(read_key(&home, "dev8").public_key());
    for cycle in 0..5 {
        let (_, client) = &node;
        let chain_id = client.status().unwrap().chain_id;
        let sender = Address(key.public_key());
        let transfer = |nonce| {
            TxBuilder {
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
            )
        };
        let (first, height) = finalize_one(client, &sender, transfer);
        seen.insert(first, height);
        let mut nonce = client.account(&sender).unwrap().next_nonce;
        let deadline = Instant::now() + Duration::from_millis(next_delay_ms());
        let mut hashes = Vec::new();
        while Instant::now() < deadline {
            if let Ok(hash) = client.submit(&transfer(nonce)) {
                hashes.push(hash);
                nonce += 1;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        for hash in hashes {
            if let Ok(status) = client.tx(&hash)
                && status.status == plexus_client::dto::TxState::Finalized
            {
                seen.insert(hash, status.height.unwrap());
            }
        }
        drop(node);
        node = start(&data, &home, api, p2p);
        for (hash, height) in &seen {
            let status = node.1.tx(hash).unwrap();
            assert_eq!(
                (status.status, status.height),
                (plexus_client::dto::TxState::Finalized, Some(*height)),
                "cycle {cycle}, seed {seed}: {hash}"
            );
        }
    }
    assert!(!seen.is_empty(), "seed {seed}: nothing was finalized");
    drop(node);
    std::fs::remove_dir_all(&workdir).ok();
}

/// Issue 12, finding 1: a small-order key (the all-zero key is one) "signs" anything under
/// ZIP-215. The node refuses it as a sender (a forged all-zero signature) and as a recipient, at
/// the API (single and batch) and the faucet, with `weak_key`; the CLI refuses it as `--to`.
#[test]
fn small_order_keys_are_refused_at_the_api_and_the_cli() {
    use commonware_codec::DecodeExt;
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let chain_id = client.status().unwrap().chain_id;
    let weak = Address::from_bytes(&[0u8; 32]).unwrap();
    let weak_text = weak.to_string();
    assert!(weak_text.starts_with("plx1qqqq"), "{weak_text}");

    // A transfer out of the weak key, "signed" with zeros: the signature verifies, the key is refused.
    let forged = plexus_types::SignedTransaction {
        tx: plexus_types::Transaction {
            chain_id,
            sender: weak.clone(),
            nonce: 0,
            fee: 1_000,
            payload: Payload::Transfer {
                to: key_address(&home, api, "dev1"),
                amount: 1,
            },
        },
        signature: plexus_types::Signature::decode(commonware_codec::Copying(&[0u8; 64][..]))
            .unwrap(),
    };
    assert!(forged.verify_signature());
    assert_eq!(api_code(client.submit(&forged)), "weak_key");
    let items = client.submit_batch(std::slice::from_ref(&forged)).unwrap();
    assert_eq!(
        items[0].error.as_ref().map(|e| e.code.as_str()),
        Some("weak_key")
    );

    // Sending to it: refused by the node (a client that skips the CLI's check) and the faucet.
    let key = read_key(&home, "dev2");
    let builder = TxBuilder {
        key: &key,
        chain_id,
        fee: 1_000,
    };
    let to_weak = builder.build(
        0,
        Payload::Transfer {
            to: weak.clone(),
            amount: PLX,
        },
    );
    assert_eq!(api_code(client.submit(&to_weak)), "weak_key");
    match client.faucet(&weak, Some("1plx".into())) {
        Err(ClientError::Api { status, body }) => {
            assert_eq!((status, body.code.as_str()), (400, "weak_key"))
        }
        other => panic!("the faucet paid a weak key: {other:?}"),
    }

    // The CLI says why before anything is sent.
    let out = plexus(
        &home,
        api,
        &[
            "tx", "transfer", "--from", "dev2", "--to", &weak_text, "--amount", "1plx",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("small-order") && stderr.contains("weak_key"),
        "{stderr}"
    );
    let weak_balance = client.account(&weak).map(|a| a.balance);
    assert!(
        matches!(
            weak_balance.as_deref(),
            Ok("0") | Err(ClientError::Api { status: 404, .. })
        ),
        "{weak_balance:?}"
    );
    assert_eq!(
        client
            .account(&key_address(&home, api, "dev2"))
            .unwrap()
            .nonce,
        0
    );
}

/// Issue 12, finding 4: a flood that costs its sender nothing must cost the node little, and
/// one client cannot take the node. A finalized batch posted again is refused on its nonces
/// before any signature is checked (so even forged signatures answer `replayed_nonce`); a client
/// over its budget of transaction bytes gets 429 `rate_limited` with `Retry-After`, while
/// another client is served.
#[test]
fn replays_are_refused_before_signatures_and_floods_are_limited_per_client() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let chain_id = client.status().unwrap().chain_id;
    let key = read_key(&home, "dev3");
    let builder = TxBuilder {
        key: &key,
        chain_id,
        fee: 1_000,
    };
    let to = key_address(&home, api, "dev4");
    let txs: Vec<_> = (0..5)
        .map(|n| {
            builder.build(
                n,
                Payload::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            )
        })
        .collect();
    let items = client.submit_batch(&txs).unwrap();
    for item in &items {
        client
            .wait_finalized(item.hash.as_ref().unwrap(), Duration::from_secs(30))
            .unwrap();
    }
    // The same batch with every signature broken: refused for its nonces, not its signatures.
    let mut replayed = txs.clone();
    for tx in &mut replayed {
        tx.tx.fee += 1;
    }
    let items = client.submit_batch(&replayed).unwrap();
    for item in &items {
        assert_eq!(
            item.error.as_ref().map(|e| e.code.as_str()),
            Some("replayed_nonce"),
            "{item:?}"
        );
    }
    assert_eq!(api_code(client.submit(&replayed[0])), "replayed_nonce");

    // A flooding client (another loopback address) sends 4 MB bodies: its 6 MiB burst at
    // 2 MiB/s runs out within three of them, whatever the machine's speed (each request is
    // over in much less than the second it would take to earn one back).
    let flooder = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut body = vec![0xe8, 0x07]; // varint 1000
    body.resize(4_000_000, 0);
    let mut limited = None;
    for _ in 0..3 {
        let response = flooder
            .post(format!("{}/v1/txs/batch", client.base()))
            .body(body.clone())
            .send()
            .unwrap();
        if response.status().as_u16() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let code = response.json::<serde_json::Value>().unwrap()["code"].clone();
            limited = Some((retry, code));
            break;
        }
    }
    let (retry, code) = limited.expect("the flooding client was never limited");
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    assert_eq!(code, "rate_limited");
    // Another client is served meanwhile, and a one-transaction client too.
    assert!(client.status().is_ok());
    let next = builder.build(
        5,
        Payload::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    let hash = client.submit(&next).unwrap();
    client
        .wait_finalized(&hash, Duration::from_secs(30))
        .unwrap();
}
