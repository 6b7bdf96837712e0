//! Networks that are not a devnet: a node from a genesis file and `node init`, and a genesis
//! beacon key made by four operators with the ceremony.

use crate::common::{check_beacon, genesis_ceremony, genesis_ceremony_with};
use crate::{
    FINALITY_TIMEOUT, Node, PLEXUS, STARTUP_TIMEOUT, assert_succeeded, free_port, key_address,
    plexus, tempdir,
};
use plexus_client::Client;
use plexus_types::{Address, PLX};
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

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
    // The key may equal the first ceremony's: the same draft is the same round, so each dealer
    // re-sends the dealing it saved, and a key needs only a quorum of logs (the first 3 of 4 by
    // dealer order): when dealer 1 was not among them the first time, the same 3 make the same
    // key. What must hold is that dealer 1's log failed (checked above, by its `log` step) and
    // that every player's share still matches the key made without it.
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
}
