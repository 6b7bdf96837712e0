//! End-to-end: a four-validator network of real `plexus node run` processes on loopback, set up
//! the way operators on separate machines would (`keys new`, `genesis`, `node init`, `node run`
//! with bootstrappers). Under a transfer load: kill -9 one validator and the chain keeps
//! finalizing; restart it and it catches up; kill two and finality stops; restart one and it
//! resumes. Every transaction reported finalized stays finalized, at the same height, on every
//! validator, and all validators agree on the blocks.

mod common;

use common::{check_beacon, free_port, genesis_ceremony, wait_for};
use commonware_cryptography::Signer;
use plexus_client::{Client, TxBuilder};
use plexus_types::{Address, Payload, PrivateKey};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");
const VALIDATORS: usize = 4;
/// How long a node may take to start answering. Tests share two cores with everything else a
/// developer runs: deadlines only catch hangs, and a passing run never waits for one.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the network may take to make the progress a step waits for.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the tip must hold still to count as stopped.
const STALL_STILL: Duration = Duration::from_secs(3);

fn plexus(home: &Path, args: &[&str]) -> String {
    let out = Command::new(PLEXUS)
        .args(args)
        .env("PLEXUS_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plexus {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn address_of(home: &Path, name: &str) -> String {
    let out = plexus(home, &["keys", "show", name, "--json"]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    value["address"].as_str().unwrap().to_string()
}

fn read_key(home: &Path, name: &str) -> PrivateKey {
    use commonware_codec::DecodeExt;
    let hex = std::fs::read_to_string(home.join("keys").join(format!("{name}.key"))).unwrap();
    let bytes = plexus_client::hex_decode(hex.trim()).unwrap();
    PrivateKey::decode(commonware_codec::Copying(&bytes[..])).unwrap()
}

/// One validator: its directory, ports and (while running) its process.
struct Validator {
    dir: PathBuf,
    api: u16,
    p2p: u16,
    bootstrappers: Vec<String>,
    extra: Vec<String>,
    child: Option<Child>,
    client: Client,
}

impl Validator {
    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .unwrap();
        let mut command = Command::new(PLEXUS);
        command
            .args(["node", "run", "--dir"])
            .arg(&self.dir)
            .args(["--api", &format!("127.0.0.1:{}", self.api)])
            .args(["--p2p", &format!("127.0.0.1:{}", self.p2p)])
            .env("PLEXUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for bootstrapper in &self.bootstrappers {
            command.args(["--bootstrapper", bootstrapper]);
        }
        command.args(&self.extra);
        self.child = Some(command.spawn().unwrap());
        let started = Instant::now();
        while self.client.status().is_err() {
            assert!(
                started.elapsed() < STARTUP_TIMEOUT,
                "validator in {} did not start",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no chance to flush anything.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn height(&self) -> Option<u64> {
        self.client.status().ok().map(|s| s.height)
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn bob_address(home: &Path) -> Address {
    Address(read_key(home, "bob").public_key())
}

/// Waits until `height` has not moved for `STALL_STILL` (at most `PROGRESS_TIMEOUT`), and
/// returns where it stopped.
fn held_still(what: &str, height: impl Fn() -> u64) -> u64 {
    let started = Instant::now();
    let (mut last, mut since) = (height(), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = height();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= STALL_STILL {
            return last;
        }
        assert!(
            started.elapsed() < PROGRESS_TIMEOUT,
            "timed out waiting for {what}"
        );
    }
}

/// Sends transfers from `key` through `api` until `stop`, recording each accepted hash.
fn load(
    client: Client,
    key: PrivateKey,
    to: Address,
    chain_id: u64,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let sender = Address(key.public_key());
        while !stop.load(Ordering::Relaxed) {
            let Ok(account) = client.account(&sender) else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            };
            let mut nonce = account.next_nonce;
            for _ in 0..20 {
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
                match client.submit(&tx) {
                    Ok(hash) => {
                        accepted.lock().unwrap().push(hash);
                        nonce += 1;
                    }
                    Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

#[test]
fn four_validators_survive_crashes_and_stop_without_a_quorum() {
    let work =
        std::env::temp_dir().join(format!("plexus-net-{}-{}", std::process::id(), free_port()));
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for name in [
        "v0", "v1", "v2", "v3", "full", "synced", "alice", "bob", "carol",
    ] {
        plexus(&home, &["keys", "new", name]);
    }
    let genesis = work.join("genesis.json");
    let mut args: Vec<String> = vec!["genesis".into(), "--chain-id".into(), "77".into()];
    for i in 0..VALIDATORS {
        args.extend(["--alloc".into(), format!("v{i}=100000plx")]);
        args.extend(["--validator".into(), format!("v{i}=10000plx")]);
    }
    for name in ["alice", "bob", "carol"] {
        args.extend(["--alloc".into(), format!("{name}=1000000plx")]);
    }
    args.extend(["--out".into(), genesis.display().to_string()]);
    plexus(&home, &args.iter().map(String::as_str).collect::<Vec<_>>());

    let ports: Vec<(u16, u16)> = (0..VALIDATORS)
        .map(|_| (free_port(), free_port()))
        .collect();
    let peers: Vec<String> = (0..VALIDATORS)
        .map(|i| {
            format!(
                "{}@127.0.0.1:{}",
                address_of(&home, &format!("v{i}")),
                ports[i].1
            )
        })
        .collect();
    let mut validators: Vec<Validator> = (0..VALIDATORS)
        .map(|i| {
            let dir = work.join(format!("v{i}"));
            plexus(
                &home,
                &[
                    "node",
                    "init",
                    "--dir",
                    dir.to_str().unwrap(),
                    "--genesis",
                    genesis.to_str().unwrap(),
                    "--key",
                    &format!("v{i}"),
                    "--beacon-share",
                    work.join(format!(
                        "beacon-shares/{}.beacon-share",
                        address_of(&home, &format!("v{i}"))
                    ))
                    .to_str()
                    .unwrap(),
                ],
            );
            Validator {
                dir,
                api: ports[i].0,
                p2p: ports[i].1,
                bootstrappers: (0..VALIDATORS)
                    .filter(|j| *j != i)
                    .map(|j| peers[j].clone())
                    .collect(),
                extra: vec![
                    "--full-node-peer".into(),
                    address_of(&home, "full"),
                    "--full-node-peer".into(),
                    address_of(&home, "synced"),
                ],
                child: None,
                client: Client::new(&format!("http://127.0.0.1:{}", ports[i].0)),
            }
        })
        .collect();
    for validator in &mut validators {
        validator.start();
    }
    wait_for("the network to finalize", PROGRESS_TIMEOUT, || {
        validators.iter().all(|v| v.height().unwrap_or(0) >= 3)
    });

    // Load through validators 0 and 1 (they stay up throughout).
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let bob = Address(read_key(&home, "bob").public_key());
    let loaders = vec![
        load(
            validators[0].client.clone(),
            read_key(&home, "alice"),
            bob.clone(),
            77,
            stop.clone(),
            accepted.clone(),
        ),
        load(
            validators[1].client.clone(),
            read_key(&home, "carol"),
            bob,
            77,
            stop.clone(),
            accepted.clone(),
        ),
    ];
    let progress = |validators: &[Validator], by: u64, what: &str| {
        let from = validators[0].height().unwrap();
        wait_for(what, PROGRESS_TIMEOUT, || {
            validators[0].height().unwrap_or(0) >= from + by
        });
    };
    progress(&validators, 5, "finality under load");

    // Strangers at the p2p port: garbage instead of a handshake, a frame claiming 4 GiB, a
    // connection that says nothing. The validator drops them and keeps finalizing.
    let p2p = format!("127.0.0.1:{}", validators[0].p2p);
    let mut junk: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    junk[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    let strangers: Vec<_> = (0..3)
        .map(|i| {
            let mut stream = std::net::TcpStream::connect(&p2p).unwrap();
            if i < 2 {
                use std::io::Write;
                let _ = stream.write_all(if i == 0 { &junk[4..] } else { &junk });
            }
            stream
        })
        .collect();
    progress(&validators, 5, "finality with strangers sending garbage");
    drop(strangers);

    // A full node joins late: it backfills the chain from the validators, follows it, and its
    // API takes transactions that the validators then finalize.
    let full_dir = work.join("full");
    plexus(
        &home,
        &[
            "node",
            "init",
            "--dir",
            full_dir.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
            "--key",
            "full",
            "--full-node",
        ],
    );
    let full_api = free_port();
    let mut full = Validator {
        dir: full_dir,
        api: full_api,
        p2p: free_port(),
        bootstrappers: peers.clone(),
        extra: vec!["--full-node".into()],
        child: None,
        client: Client::new(&format!("http://127.0.0.1:{full_api}")),
    };
    full.start();
    let target = validators[0].height().unwrap();
    wait_for("the full node to catch up", PROGRESS_TIMEOUT, || {
        full.height().unwrap_or(0) >= target
    });
    let dave = Address(read_key(&home, "v0").public_key());
    let from_full = TxBuilder {
        key: &read_key(&home, "bob"),
        chain_id: 77,
        fee: 1_000,
    }
    .build(
        full.client.account(&bob_address(&home)).unwrap().next_nonce,
        Payload::Transfer {
            to: dave,
            amount: 5,
        },
    );
    let through_full = full.client.submit(&from_full).unwrap();
    wait_for(
        "a transaction sent to the full node to finalize",
        PROGRESS_TIMEOUT,
        || {
            validators[0]
                .client
                .tx(&through_full)
                .is_ok_and(|s| s.status == plexus_client::dto::TxState::Finalized)
        },
    );

    // One of four down: a quorum of three remains.
    validators[3].kill();
    progress(&validators, 10, "finality with validator 3 killed");

    // Back: it catches up from its peers.
    validators[3].start();
    let target = validators[0].height().unwrap();
    wait_for("validator 3 to catch up", PROGRESS_TIMEOUT, || {
        validators[3].height().unwrap_or(0) >= target
    });
    progress(&validators, 5, "finality with all four back");

    // Two of four down: no quorum, finality stops. Blocks certified before the kills may still
    // be stored (later on a loaded machine), so first wait for the tip to hold still, then
    // watch that it stays there.
    validators[2].kill();
    validators[3].kill();
    let stalled = held_still("finality to stop without a quorum", || {
        validators[0].height().unwrap()
    });
    std::thread::sleep(Duration::from_secs(5));
    let after = validators[0].height().unwrap();
    assert!(
        after <= stalled + 1,
        "finality went on without a quorum: {stalled} -> {after}"
    );

    // One returns: three of four, finality resumes.
    validators[2].start();
    progress(&validators, 5, "finality after validator 2 returned");
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.join().unwrap();
    }
    validators[3].start();
    let target = validators[0].height().unwrap();
    wait_for("every validator to reach the tip", PROGRESS_TIMEOUT, || {
        validators.iter().all(|v| v.height().unwrap_or(0) >= target)
    });

    // The full node followed all of it.
    wait_for("the full node to reach the tip", PROGRESS_TIMEOUT, || {
        full.height().unwrap_or(0) >= target
    });

    // Another full node state-syncs from validator 0's latest state instead of executing the
    // chain: it has no block below its starting height, agrees with everyone above it, and
    // follows on.
    let synced_dir = work.join("synced");
    plexus(
        &home,
        &[
            "node",
            "init",
            "--dir",
            synced_dir.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
            "--key",
            "synced",
            "--full-node",
        ],
    );
    let synced_api = free_port();
    let mut synced = Validator {
        dir: synced_dir,
        api: synced_api,
        p2p: free_port(),
        bootstrappers: peers.clone(),
        extra: vec![
            "--full-node".into(),
            "--state-sync".into(),
            format!("http://127.0.0.1:{}", validators[0].api),
        ],
        child: None,
        client: Client::new(&format!("http://127.0.0.1:{synced_api}")),
    };
    synced.start();
    let start = synced.height().unwrap();
    assert!(
        start >= target,
        "state sync started at {start}, below {target}"
    );
    let early = reqwest::blocking::get(format!("http://127.0.0.1:{synced_api}/v1/blocks/1"))
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(early, 404, "a state-synced node has no early blocks");
    let goal = validators[0].height().unwrap() + 3;
    wait_for("the state-synced node to follow", PROGRESS_TIMEOUT, || {
        synced.height().unwrap_or(0) >= goal
    });
    for height in [start, goal] {
        let ours = synced.client.block(Some(height)).unwrap();
        let theirs = validators[0].client.block(Some(height)).unwrap();
        assert_eq!(
            (&ours.hash, &ours.state_root),
            (&theirs.hash, &theirs.state_root),
            "state-synced node differs at {height}"
        );
    }
    let bob = bob_address(&home);
    assert_eq!(
        synced.client.account(&bob).unwrap().balance,
        validators[0].client.account(&bob).unwrap().balance
    );
    validators.push(full);

    // Three of the four validators' beacon shares made every signature, including across the
    // kills and restarts, and outsiders can check them against the group key.
    let status = validators[0].client.status().unwrap();
    check_beacon(&validators[0].client, &status.beacon_key, target);

    // Every node has the same blocks.
    for height in (1..=target).step_by(7).chain([target]) {
        let reference = validators[0].client.block(Some(height)).unwrap();
        for (i, validator) in validators.iter().enumerate().skip(1) {
            let block = validator.client.block(Some(height)).unwrap();
            assert_eq!(
                (&block.hash, &block.state_root),
                (&reference.hash, &reference.state_root),
                "validator {i} differs at height {height}"
            );
        }
    }
    // No finalized transaction was lost: each one is finalized at the same height everywhere.
    let accepted = accepted.lock().unwrap().clone();
    let mut finalized: BTreeMap<String, u64> = BTreeMap::new();
    for hash in &accepted {
        if let Ok(status) = validators[0].client.tx(hash)
            && status.status == plexus_client::dto::TxState::Finalized
        {
            finalized.insert(hash.clone(), status.height.unwrap());
        }
    }
    assert!(
        finalized.len() * 2 >= accepted.len(),
        "only {} of {} accepted transactions finalized",
        finalized.len(),
        accepted.len()
    );
    for (hash, height) in finalized.iter().step_by(5) {
        for (i, validator) in validators.iter().enumerate() {
            let status = validator.client.tx(hash).unwrap();
            assert_eq!(
                (status.status, status.height),
                (plexus_client::dto::TxState::Finalized, Some(*height)),
                "validator {i}: {hash}"
            );
        }
    }
    eprintln!(
        "{} accepted, {} finalized, tip {target}",
        accepted.len(),
        finalized.len()
    );
    drop(validators);
    std::fs::remove_dir_all(&work).ok();
}

/// A real network's genesis: the four validators make the beacon key with the dealerless
/// ceremony (no dealer, each ends with its own share), and the network it starts finalizes
/// blocks whose beacon signatures verify against the ceremony's key.
#[test]
fn four_validators_run_a_chain_from_a_ceremony_genesis() {
    let work =
        std::env::temp_dir().join(format!("plexus-dkg-{}-{}", std::process::id(), free_port()));
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let names: Vec<String> = (0..VALIDATORS).map(|i| format!("v{i}")).collect();
    let mut args: Vec<String> = vec!["genesis".into(), "--chain-id".into(), "78".into()];
    for name in &names {
        plexus(&home, &["keys", "new", name]);
        args.extend(["--alloc".into(), format!("{name}=100000plx")]);
        args.extend(["--validator".into(), format!("{name}=10000plx")]);
    }
    let draft = work.join("draft.json");
    args.extend([
        "--ceremony-draft".into(),
        "--out".into(),
        draft.display().to_string(),
    ]);
    plexus(&home, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = genesis_ceremony(
        PLEXUS,
        &[home.as_path(); VALIDATORS],
        &names,
        &draft,
        &work.join("shared"),
        &work,
    );
    let ports: Vec<(u16, u16)> = (0..VALIDATORS)
        .map(|_| (free_port(), free_port()))
        .collect();
    let peers: Vec<String> = (0..VALIDATORS)
        .map(|i| format!("{}@127.0.0.1:{}", address_of(&home, names[i]), ports[i].1))
        .collect();
    let mut validators: Vec<Validator> = (0..VALIDATORS)
        .map(|i| {
            let dir = work.join(names[i]);
            plexus(
                &home,
                &[
                    "node",
                    "init",
                    "--dir",
                    dir.to_str().unwrap(),
                    "--genesis",
                    results[i].0.to_str().unwrap(),
                    "--key",
                    names[i],
                    "--beacon-share",
                    results[i].1.to_str().unwrap(),
                ],
            );
            Validator {
                dir,
                api: ports[i].0,
                p2p: ports[i].1,
                bootstrappers: (0..VALIDATORS)
                    .filter(|j| *j != i)
                    .map(|j| peers[j].clone())
                    .collect(),
                extra: Vec::new(),
                child: None,
                client: Client::new(&format!("http://127.0.0.1:{}", ports[i].0)),
            }
        })
        .collect();
    for validator in &mut validators {
        validator.start();
    }
    wait_for(
        "the ceremony's network to finalize",
        PROGRESS_TIMEOUT,
        || validators.iter().all(|v| v.height().unwrap_or(0) >= 5),
    );
    let status = validators[0].client.status().unwrap();
    let genesis = plexus_node::config::GenesisFile::load(&results[0].0).unwrap();
    let output = genesis.to_genesis().unwrap().beacon;
    assert_eq!(
        status.beacon_key,
        plexus_client::hex_encode(&commonware_codec::Encode::encode(output.public().public()))
    );
    check_beacon(&validators[0].client, &status.beacon_key, 5);
    drop(validators);
    std::fs::remove_dir_all(&work).ok();
}
