//! What the end-to-end test binaries share: child processes stopped on drop, free ports,
//! temporary directories removed when a test passes, polling with a deadline, and checks.
//! Each binary uses a part of it.
#![allow(dead_code)]

use plexus_client::Client;
use std::{
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

/// A child process stopped when dropped: SIGTERM first (so a devnet stops the providers it
/// started), then SIGKILL if it is still running 10 s later.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
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

/// A port nobody listens on right now, below the ephemeral range ([`free_port_run`]).
pub fn free_port() -> u16 {
    free_port_run(1)
}

/// A test's directory, `plexus-TAG-PID-PORT` in the system's temporary directory: removed when
/// the test passes, kept (with its logs) when it fails.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for the failure's logs", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A new [`TempDir`] named for `tag`.
pub fn tempdir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "plexus-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Polls `done` every 100 ms until it holds; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks, as any outsider could, that blocks `1..=upto` carry the committee's beacon: none in
/// the first two, then a threshold BLS signature over `height - 2` that verifies against the
/// status's `beacon_key`, and a seed that is its hash.
pub fn check_beacon(client: &Client, beacon_key: &str, upto: u64) {
    use commonware_codec::DecodeExt;
    use commonware_cryptography::bls12381::primitives::{
        ops,
        variant::{MinSig, Variant},
    };
    let decode_hex = |text: &str| plexus_client::hex_decode(text).expect("hex");
    let key =
        <MinSig as Variant>::Public::decode(commonware_codec::Copying(&decode_hex(beacon_key)[..]))
            .unwrap();
    let mut seeds = std::collections::BTreeSet::new();
    for height in 1..=upto {
        let block = client.block(Some(height)).unwrap();
        assert!(seeds.insert(block.seed.clone()), "seeds differ");
        if height <= 2 {
            assert_eq!(block.beacon_signature, None);
            continue;
        }
        assert_eq!(block.beacon_height, Some(height - 2));
        let bytes = decode_hex(block.beacon_signature.as_deref().unwrap());
        let signature =
            <MinSig as Variant>::Signature::decode(commonware_codec::Copying(&bytes[..])).unwrap();
        let message = (height - 2).to_be_bytes();
        ops::verify_message::<MinSig>(&key, b"_PLEXUS_BEACON", &message, &signature).unwrap();
        assert!(
            ops::verify_message::<MinSig>(
                &key,
                b"_PLEXUS_BEACON",
                &height.to_be_bytes(),
                &signature
            )
            .is_err()
        );
        let seed = plexus_types::hash(&[b"plexus/seed", &bytes]);
        assert_eq!(block.seed, plexus_types::hash::digest_hex(&seed));
    }
}

/// Runs the dealerless genesis key ceremony as separate operators would: validator `i` (key
/// `names[i]` in keystore `homes[i]`) runs each step with the draft genesis and the shared
/// directory once every validator has run the step before. Returns each validator's genesis
/// file and beacon share file (`out/genesis-I.json`, `out/share-I`).
pub fn genesis_ceremony(
    plexus: &str,
    homes: &[&std::path::Path],
    names: &[&str],
    draft: &std::path::Path,
    shared: &std::path::Path,
    out: &std::path::Path,
) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    genesis_ceremony_with(plexus, homes, names, draft, shared, out, &|| {}, None)
}

/// [`genesis_ceremony`], calling `after_deal` once every dealing is in the directory; the
/// `log` step of validator `failing_log`, if any, must fail (and the ceremony go on without it).
#[allow(clippy::too_many_arguments)]
pub fn genesis_ceremony_with(
    plexus: &str,
    homes: &[&std::path::Path],
    names: &[&str],
    draft: &std::path::Path,
    shared: &std::path::Path,
    out: &std::path::Path,
    after_deal: &dyn Fn(),
    failing_log: Option<usize>,
) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let run = |i: usize, args: &[&str]| {
        let output = std::process::Command::new(plexus)
            .args(["genesis", "ceremony"])
            .args(args)
            .args(["--genesis", draft.to_str().unwrap()])
            .args(["--key", names[i]])
            .args(["--dir", shared.to_str().unwrap()])
            .env("PLEXUS_HOME", homes[i])
            .output()
            .unwrap();
        let expected = !(args == ["log"] && failing_log == Some(i));
        assert_eq!(
            output.status.success(),
            expected,
            "validator {i}: ceremony {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    for step in ["deal", "ack", "log"] {
        for i in 0..names.len() {
            run(i, &[step]);
        }
        if step == "deal" {
            after_deal();
        }
    }
    (0..names.len())
        .map(|i| {
            let genesis = out.join(format!("genesis-{i}.json"));
            let share = out.join(format!("share-{i}"));
            run(
                i,
                &[
                    "finish",
                    "--out",
                    genesis.to_str().unwrap(),
                    "--share",
                    share.to_str().unwrap(),
                ],
            );
            (genesis, share)
        })
        .collect()
}

/// An amount as the API writes it (base units in decimal).
pub fn amount(text: &str) -> plexus_types::Amount {
    text.parse()
        .unwrap_or_else(|_| panic!("not an amount: {text}"))
}

/// The supply moved by exactly the emissions paid at the ends of epochs (of `epoch_blocks`
/// blocks) in `(from.height, to.height]`, whose records `to` still holds; and
/// `total == minted - burned` at both.
pub fn assert_supply_conserved(
    from: &plexus_client::dto::StatusDto,
    to: &plexus_client::dto::StatusDto,
    epoch_blocks: u64,
) {
    for s in [from, to] {
        assert_eq!(
            amount(&s.supply.total),
            amount(&s.supply.minted) - amount(&s.supply.burned)
        );
    }
    let ended: Vec<u64> = (from.height + 1..=to.height)
        .filter(|h| (h + 1) % epoch_blocks == 0)
        .map(|h| h / epoch_blocks)
        .collect();
    let mut emitted = 0;
    for epoch in &ended {
        let record = to
            .emissions
            .iter()
            .find(|e| e.epoch == *epoch)
            .unwrap_or_else(|| panic!("epoch {epoch}'s emission is no longer recorded"));
        emitted += [
            &record.validators,
            &record.providers,
            &record.verifiers,
            &record.storage,
        ]
        .into_iter()
        .map(|a| if a.is_empty() { 0 } else { amount(a) })
        .sum::<plexus_types::Amount>();
    }
    assert_eq!(
        amount(&to.supply.minted) - amount(&from.supply.minted),
        emitted,
        "minted between heights {} and {} (epochs {ended:?})",
        from.height,
        to.height
    );
}

/// Puts a devnet's first validator key (the public dev seed `0x504c5800 + 100`, as `plexus
/// devnet` derives it) in `home`'s keystore as `validator`, so the CLI can sign with it (to
/// vote, to set a commission); checks it is the chain's first validator and returns its address.
pub fn keystore_devnet_validator(home: &Path, client: &Client) -> String {
    use commonware_cryptography::Signer;
    let key = plexus_types::PrivateKey::from_seed(0x504c_5800 + 100);
    let address = plexus_types::Address(key.public_key()).to_string();
    assert_eq!(client.validators().unwrap()[0].address, address);
    let hex = plexus_client::hex_encode(&commonware_codec::Encode::encode(&key));
    std::fs::write(home.join("keys/validator.key"), format!("{hex}\n")).unwrap();
    address
}

/// The `plexus` binary under test.
pub const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");

/// Where a devnet listens: its node's API and p2p, and provider i's API at `provider_api + i`.
pub struct DevnetPorts {
    pub api: u16,
    pub p2p: u16,
    pub provider_api: u16,
}

/// The most providers a test devnet runs: the ports `provider_api..provider_api + this` are
/// checked free.
const DEVNET_PROVIDERS_MAX: u16 = 8;

impl DevnetPorts {
    /// Ports nobody listens on right now; the providers' below the system's ephemeral range.
    pub fn free() -> Self {
        DevnetPorts {
            api: free_port(),
            p2p: free_port(),
            provider_api: free_port_run(DEVNET_PROVIDERS_MAX),
        }
    }
}

/// The first of `count` consecutive ports nobody listens on right now, between 20,000 and
/// 32,000: below Linux's ephemeral range (32,768 and up), so no outgoing connection takes one
/// of them before the process it is for binds it, or while a node the test restarts is down
/// (ports taken that way failed a storage test and the network test's restart with "Address
/// already in use").
///
/// A port is handed out once per process: a port is only probed, not held, so two calls before
/// the first port's process binds it could otherwise both get it (two of a storage test's
/// providers once did).
pub fn free_port_run(count: u16) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1_000 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let base = 20_000 + (random % u64::from(12_000 - count)) as u16;
        let ports = base..base + count;
        if given.iter().any(|port| ports.contains(port)) {
            continue;
        }
        let held: Vec<_> = ports
            .clone()
            .map_while(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.len() == usize::from(count) {
            given.extend(ports);
            return base;
        }
    }
    panic!("no {count} consecutive free ports between 20000 and 32000");
}

#[test]
fn a_free_port_is_handed_out_once_per_process() {
    // 600 draws of 12,000 ports repeat one with probability 1 - e^-15 without the record.
    let mut ports: Vec<u16> = (0..600).map(|_| free_port()).collect();
    let run = free_port_run(8);
    ports.extend(run..run + 8);
    let count = ports.len();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), count, "a port was handed out twice");
}

/// `plexus devnet` on `dir/data` with `providers` providers and `extra` arguments, its keystore
/// in `dir/home`, logging to `dir/LOG`: a new chain, or the one `dir` holds.
pub fn devnet_process(
    dir: &Path,
    ports: &DevnetPorts,
    providers: u32,
    extra: &[&str],
    log: &str,
) -> Process {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let child = std::process::Command::new(PLEXUS)
        .args(["devnet", "--dir"])
        .arg(dir.join("data"))
        .args([
            "--api",
            &format!("127.0.0.1:{}", ports.api),
            "--p2p",
            &format!("127.0.0.1:{}", ports.p2p),
            "--providers",
            &providers.to_string(),
            "--provider-api",
            &format!("127.0.0.1:{}", ports.provider_api),
        ])
        .args(extra)
        .env("PLEXUS_HOME", dir.join("home"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Process(child)
}

/// A running `plexus devnet` (see [`devnet_process`]) and the CLI pointed at it.
pub struct Devnet {
    pub home: PathBuf,
    pub api: u16,
    pub client: Client,
    /// The devnet's process: dropping it stops the devnet.
    pub process: Option<Process>,
}

impl Devnet {
    /// Starts `plexus devnet` in `dir` (logging to `dir/devnet.log`); does not wait for it.
    pub fn spawn(dir: &Path, providers: u32, extra: &[&str]) -> Devnet {
        let ports = DevnetPorts::free();
        let process = devnet_process(dir, &ports, providers, extra, "devnet.log");
        Devnet {
            home: dir.join("home"),
            api: ports.api,
            client: Client::new(&format!("http://127.0.0.1:{}", ports.api)),
            process: Some(process),
        }
    }

    /// The node's API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api)
    }

    /// Runs `plexus ARGS` against this devnet with its keystore (and the models `cargo xtask
    /// models` converted for this user).
    pub fn plexus(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(PLEXUS)
            .args(args)
            .env("PLEXUS_HOME", &self.home)
            .env("PLEXUS_MODELS", plexus_exec::builtin::models_dir())
            .env("PLEXUS_NODE", self.url())
            .output()
            .unwrap()
    }

    /// Runs `args` with `--json`, which must succeed; returns its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.plexus(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs `args`, which must fail; returns its standard error.
    pub fn refused(&self, args: &[&str]) -> String {
        let out = self.plexus(args);
        assert!(
            !out.status.success(),
            "{args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
