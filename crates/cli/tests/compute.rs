//! End-to-end compute: real `plexus` processes on loopback sockets.
//!
//! A devnet of one validator and two providers; a consumer runs the digits classifier on the
//! held-out images with `plexus job run`, gets the model's reported accuracy, and every balance
//! moves exactly as the escrow rules say. Then bad input at every step: malformed and
//! forbidden modules, an infinite loop, a memory bomb, a loop that ends out of bounds (each
//! billed max_fuel), oversized inputs and blobs, bytes that do
//! not match their hash, a price cap below every ask (unmatched, cancelled for a refund) and a
//! provider that never commits (refund at the deadline, provider slashed). A second test kills a
//! provider mid-job and restarts it: the job still settles. A third runs a provider that forges
//! its outputs (the devnet's testing aid): its fully audited job is disputed by the honest
//! provider acting as verifier, the forger loses the dissection and the re-run, is slashed, and
//! the consumer gets its escrow back. Another has every job fully audited and light-audited with
//! canaries. One draws a slow verifier (a low --fuel-per-second, and a throttled re-run so it is
//! that slow on any machine) for several full audits at once and restarts it mid-audit, then
//! restarts it too slow to finish: it re-runs in parallel, declines what it cannot finish in
//! time, and is never slashed. The last kills the node under a waiting `job run`.

use plexus_client::{
    Client, TxBuilder,
    dto::{
        AuditKind, AuditStage, BaseUnits, DisputeEnd, EmissionDto, JobDto, JobStatus, ReceiptStatus,
    },
};
use plexus_types::{Address, ContentHash, Payload, PrivateKey, job::ResourceProfile};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");
/// Held-out images the committed digits weights classify correctly (`cargo xtask train-digits`
/// reports 293/299 = 97.99%; `jobs/digits/tests/heldout.rs` pins the same count natively).
const HELDOUT_CORRECT: usize = 293;
/// The speed every provider here registers (`--fuel-per-second`), so which jobs they accept
/// never depends on how busy the machine is: 10^9 fuel (the default max) needs 20 s with the
/// margin of 2, well inside the default 200-block deadline.
const FUEL_PER_SECOND: &str = "100000000";
/// A speed at which no job of the default 10^9 fuel ever fits a deadline.
const SLOW_FUEL_PER_SECOND: &str = "1000";

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
        "plexus-compute-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Net {
    home: PathBuf,
    api: u16,
    client: Client,
    _devnet: Process,
}

impl Net {
    fn plexus(&self, args: &[&str]) -> Output {
        Command::new(PLEXUS)
            .args(args)
            .env("PLEXUS_HOME", &self.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", self.api))
            .output()
            .unwrap()
    }

    fn address(&self, key: &str) -> Address {
        let out = self.plexus(&["keys", "show", key]);
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn balance(&self, key: &str) -> u128 {
        self.client
            .account(&self.address(key))
            .unwrap()
            .balance
            .parse()
            .unwrap()
    }

    /// A balance and the height it was read at, in one response.
    fn balance_at(&self, key: &str) -> (u128, u64) {
        let proof = self.client.proof(&self.address(key)).unwrap();
        (proof.balance.parse().unwrap(), proof.height)
    }
}

/// Starts `plexus devnet` with `providers` honest providers (each also a verifier) and waits
/// until they are registered.
fn devnet(dir: &Path, providers: u32) -> Net {
    devnet_with(dir, providers, 0, &[])
}

/// Starts `plexus devnet` with `providers` providers, the last `cheating` of which forge their
/// outputs (a testing aid) and do not verify, and waits until all are registered. They all
/// register `FUEL_PER_SECOND` instead of measuring.
fn devnet_with(dir: &Path, providers: u32, cheating: u32, extra: &[&str]) -> Net {
    let with_speed = [&["--provider-fuel-per-second", FUEL_PER_SECOND][..], extra].concat();
    let extra = with_speed.as_slice();
    let home = dir.join("home");
    let ports = DevnetPorts {
        api: free_port(),
        p2p: free_port(),
        provider_api: free_port(),
    };
    let child = devnet_process(dir, &ports, providers, cheating, extra, "devnet.log");
    let net = Net {
        home,
        api: ports.api,
        client: Client::new(&format!("http://127.0.0.1:{}", ports.api)),
        _devnet: child,
    };
    wait_for(
        "the providers to register",
        Duration::from_secs(180),
        || {
            net.client
                .providers()
                .is_ok_and(|p| p.iter().filter(|p| p.active).count() == providers as usize)
                && net
                    .client
                    .verifiers()
                    .is_ok_and(|v| v.len() == (providers - cheating) as usize)
        },
    );
    net
}

/// Where a devnet listens: its node's API and p2p, and provider i's API at `provider_api + i`.
struct DevnetPorts {
    api: u16,
    p2p: u16,
    provider_api: u16,
}

/// `plexus devnet` on `dir` (logging to `dir/log`): a new chain, or the one `dir` holds.
fn devnet_process(
    dir: &Path,
    ports: &DevnetPorts,
    providers: u32,
    cheating: u32,
    extra: &[&str],
    log: &str,
) -> Process {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let child = Command::new(PLEXUS)
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
            "--cheating-providers",
            &cheating.to_string(),
        ])
        .args(extra)
        .env("PLEXUS_HOME", dir.join("home"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Process(child)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Fees burned by `sender`'s transactions in blocks `(from, to]`.
fn fees_of(client: &Client, sender: &Address, from: u64, to: u64) -> u128 {
    (from + 1..=to)
        .flat_map(|h| client.block(Some(h)).unwrap().txs)
        .filter(|tx| tx.sender == sender.to_string())
        .map(|tx| tx.receipt.unwrap().fee_burned.parse::<u128>().unwrap())
        .sum()
}

fn wat_file(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

/// A module with the ABI's exports whose `step` body is `step` (returning an i32).
fn abi_module(memory: &str, step: &str) -> String {
    format!(
        r#"(module
            (memory (export "memory") {memory})
            (global (export "plexus_output") i32 (i32.const 0))
            (func (export "init"))
            (func (export "step") (result i32) {step}))"#
    )
}

/// The first 20 held-out digits images, without labels, written to `dir/images.csv`.
fn twenty_images(dir: &Path) -> PathBuf {
    let images: String = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../jobs/build/digits-heldout.csv"),
    )
    .unwrap()
    .lines()
    .take(20)
    .map(|line| format!("{}\n", line.rsplit_once(',').unwrap().0))
    .collect();
    let input = dir.join("images.csv");
    std::fs::write(&input, images).unwrap();
    input
}

fn job(client: &Client, id: &str) -> JobDto {
    client.job(id).unwrap()
}

#[test]
fn digits_job_end_to_end_with_exact_escrow_and_bad_input() {
    let dir = tempdir("digits");
    let net = devnet(&dir, 2);
    let client = &net.client;

    // The held-out images, without their labels, as `job run` takes them.
    let heldout = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../jobs/build/digits-heldout.csv"),
    )
    .unwrap();
    let (mut images, mut labels) = (String::new(), Vec::new());
    for line in heldout.lines() {
        let (pixels, label) = line.rsplit_once(',').unwrap();
        images.push_str(pixels);
        images.push('\n');
        labels.push(label.parse::<u64>().unwrap());
    }
    let input = dir.join("heldout.csv");
    std::fs::write(&input, images).unwrap();

    let consumer = net.address("dev0");
    let providers: Vec<Address> = (0..2)
        .map(|i| net.address(&format!("provider{i}")))
        .collect();
    let (consumer_before, _) = net.balance_at("dev0");
    let before: Vec<(u128, u64)> = (0..2)
        .map(|i| net.balance_at(&format!("provider{i}")))
        .collect();

    let run = json(&net.plexus(&[
        "job",
        "run",
        "--from",
        "dev0",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        // The job needs about 2.4 M fuel: 10^8 keeps the escrow small.
        "--max-fuel",
        "100000000",
        "--json",
    ]));
    let id = run["job_id"].as_str().unwrap().to_string();
    let got: Vec<u64> = run["output"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    assert_eq!(got.len(), labels.len());
    let correct = got.iter().zip(&labels).filter(|(a, b)| a == b).count();
    assert_eq!(correct, HELDOUT_CORRECT, "held-out accuracy");
    assert_eq!(
        run["output"]["logits"].as_array().unwrap().len(),
        labels.len()
    );

    // Matched in the block that included it; settled after the window.
    let done = job(client, &id);
    assert_eq!(done.status, JobStatus::Settled);
    assert_eq!(done.assigned_height, Some(done.posted_height));
    assert_eq!(run["blocks"]["matched"], done.posted_height);
    let fuel = done.total_fuel.unwrap();
    assert_eq!(run["fuel"], fuel);
    assert!(fuel > 0 && fuel <= done.max_fuel);

    // The bill: escrow = ceil(max_fuel * cap / 1e6), paid = floor(fuel * ask / 1e6).
    let escrow: u128 = done.escrow.0;
    let cap: u128 = done.price_cap_per_mfuel.0;
    assert_eq!(
        escrow,
        (u128::from(done.max_fuel) * cap).div_ceil(1_000_000)
    );
    let ask: u128 = done.ask_per_mfuel.unwrap().0;
    let paid: u128 = done.paid.unwrap().0;
    let refunded: u128 = done.refunded.unwrap().0;
    assert_eq!(paid, u128::from(fuel) * ask / 1_000_000);
    assert_eq!(paid + refunded, escrow);

    // Of the bill, 10% is burned and 2% goes to the audit pool (both rounded down); the
    // provider gets the rest.
    let burned: u128 = done.burned.unwrap().0;
    let audit_fee: u128 = done.audit_fee.unwrap().0;
    assert_eq!((burned, audit_fee), (paid / 10, paid / 50));

    // Balances: the consumer paid the bill and one fee; the assigned provider earned the bill
    // less the burn and the fee, and its own fees; the other provider only paid fees, unless
    // the job drew a random audit, which it (the only other verifier) was paid for from the pool.
    let status = client.status().unwrap();
    let fee_min: u128 = status.fee_min.parse().unwrap();
    let (consumer_after, _) = net.balance_at("dev0");
    assert_eq!(consumer_after, consumer_before - paid - fee_min);
    let assigned = done.provider.clone().unwrap();
    if let Some(audit) = &done.audit_record {
        assert_ne!(
            audit.verifier, assigned,
            "a provider never verifies its own job"
        );
    }
    let audit_pay: u128 = done.audit_record.as_ref().map_or(0, |audit| audit.paid.0);
    // The protocol may also have drawn a canary copying the job (rho = 2%); once it is closed,
    // its verifier (the other provider) may have been paid from the pool.
    let canary = plexus_types::hash::digest_hex(&plexus_state::dispute::canary_id(
        &plexus_types::hash::parse_digest(&id).unwrap(),
    ));
    let closed = |c: &JobDto| c.audit_record.as_ref().is_some_and(|a| !a.stage.is_open());
    wait_for("any canary to close", Duration::from_secs(180), || {
        client.job(&canary).map_or(true, |c| closed(&c))
    });
    let canary_pay: u128 = client
        .job(&canary)
        .ok()
        .and_then(|c| c.audit_record)
        .map_or(0, |audit| audit.paid.0);
    let afters: Vec<(u128, u64)> = (0..2)
        .map(|i| net.balance_at(&format!("provider{i}")))
        .collect();
    // The emission of an epoch that ended inside a provider's window pays it too. This job is
    // the devnet's first, so its audit (if it passed) is the epoch's only audited work: the
    // whole providers' share goes to its provider, the verifiers' share to its verifier.
    let emissions = client.status().unwrap().emissions;
    let emitted = |from: u64, to: u64, share: fn(&EmissionDto) -> &String| -> u128 {
        emissions
            .iter()
            .filter(|e| (from + 1..=to).contains(&((e.epoch + 1) * status.epoch_length - 1)))
            .map(|e| share(e).parse::<u128>().unwrap())
            .sum()
    };
    for (i, provider) in providers.iter().enumerate() {
        let ((after, height), from) = (afters[i], before[i].1);
        let fees = fees_of(client, provider, from, height);
        let mut earned = 0;
        if provider.to_string() == assigned {
            earned += paid - burned - audit_fee + emitted(from, height, |e| &e.providers);
        }
        // Only the other provider can verify this job, its audit or its canary.
        if provider.to_string() != assigned {
            earned += audit_pay + canary_pay + emitted(from, height, |e| &e.verifiers);
        }
        assert_eq!(after + fees, before[i].0 + earned, "provider {i}");
    }
    // Once settled, the provider frees the job's checkpoints and input (regression: pages used
    // to stay on disk for good).
    let index = providers
        .iter()
        .position(|p| p.to_string() == assigned)
        .unwrap();
    let provider_dir = dir.join(format!("data/provider-{index}"));
    assert!(
        provider_dir.join("checkpoints").is_dir(),
        "the job ran here"
    );
    wait_for("the provider to clean up", Duration::from_secs(120), || {
        !provider_dir.join("checkpoints").join(&id).exists()
    });
    let record = client.provider(&assigned.parse().unwrap()).unwrap();
    assert_eq!(record.jobs_done, 1);
    assert_eq!(record.bond_locked, "0");
    assert_eq!(record.jobs_in_flight, 0);
    let supply = client.status().unwrap().supply;
    let total: u128 = supply.total.parse().unwrap();
    let burned: u128 = supply.burned.parse().unwrap();
    assert_eq!(total + burned, supply.minted.parse::<u128>().unwrap());

    // status and result read the same job back; result re-checks the output against the
    // commitment.
    let status = json(&net.plexus(&["job", "status", &id, "--json"]));
    assert_eq!(status["status"], "settled");
    let result = json(&net.plexus(&["job", "result", &id, "--json"]));
    assert_eq!(result["output"]["labels"], run["output"]["labels"]);
    assert_eq!(result["output_hash"], run["output_hash"]);
    // The consumer re-runs the job itself and agrees with the provider's commitment.
    let verified = json(&net.plexus(&["job", "verify", &id, "--json"]));
    assert_eq!(verified["agrees"], true, "{verified}");
    assert_eq!(verified["computed"]["fuel"], fuel);

    too_big_for_the_deadline(&net, &input);
    bad_modules(&net, &dir);
    bad_blobs(&net, &dir);
    unmatched_job_is_cancelled(&net, &input, &consumer);
    silent_provider_is_slashed(&net, &input);
    a_lying_commitment_fails_verification(&net, &images_of(&input));
}

fn images_of(csv: &Path) -> Vec<u8> {
    let rows = plexus_job_digits::parse_csv_rows(&std::fs::read_to_string(csv).unwrap()).unwrap();
    plexus_job_digits::encode_input(&rows).unwrap()
}

/// Signs and finalizes `payload` from dev key `name`; returns the transaction hash.
fn send(net: &Net, name: &str, payload: Payload) -> String {
    let key = read_key(&net.home, name);
    let status = net.client.status().unwrap();
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: status.fee_min.parse().unwrap(),
    };
    let nonce = net.client.account(&builder.sender()).unwrap().next_nonce;
    let hash = net.client.submit(&builder.build(nonce, payload)).unwrap();
    let done = net
        .client
        .wait_finalized(&hash, Duration::from_secs(120))
        .unwrap();
    assert_eq!(done.receipt.unwrap().status, ReceiptStatus::Success);
    hash
}

/// A provider that commits to an output and a bill it never computed: the consumer's own re-run
/// (`plexus job verify`) says which fields differ and fails.
fn a_lying_commitment_fails_verification(net: &Net, input: &[u8]) {
    // The silent provider leaves; a liar registers at the lowest ask.
    send(net, "dev5", Payload::ProviderDeregister);
    send(net, "dev7", silent_registration());
    let digits = plexus_exec::builtin::lookup("digits").unwrap();
    let digest = |bytes: &[u8]| ContentHash::of(bytes);
    let post = Payload::JobPost {
        module: digest(digits.wasm),
        blobs: vec![digest(digits.blobs[0])],
        input: digest(input),
        max_fuel: 1_000_000_000,
        price_cap_per_mfuel: 1,
        audit: plexus_types::job::AuditClass::Standard,
        deadline_blocks: 50,
    };
    let id = send(net, "dev8", post);
    assert_eq!(
        job(&net.client, &id).provider,
        Some(net.address("dev7").to_string())
    );
    let fake = ContentHash::of(b"not computed");
    let lie = Payload::JobCommit {
        job: plexus_types::hash::parse_digest(&id).unwrap(),
        output_hash: fake,
        total_fuel: 999_999,
        segments: 7,
        trace_root: fake,
        failed: false,
    };
    send(net, "dev7", lie);
    let out = net.plexus(&["job", "verify", &id, "--json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("differs"), "{}", stderr(&out));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["agrees"], false);
    let differs: Vec<&str> = verdict["differs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(differs, ["output_hash", "fuel", "segments", "trace_root"]);

    // The consumer disputes it. The liar never answers, so it loses at the move's deadline: the
    // job is refuted, the liar slashed and the escrow refunded. (A verifier drawn for a random
    // audit may have opened the dispute first; then the consumer's is refused as a second one.)
    let out = net.plexus(&[
        "job",
        "verify",
        &id,
        "--dispute",
        "--from",
        "dev8",
        "--json",
    ]);
    wait_for(
        "the liar's job to be refuted",
        Duration::from_secs(300),
        || job(&net.client, &id).status == JobStatus::Refuted,
    );
    let done = job(&net.client, &id);
    let dispute = done.dispute.unwrap();
    let ruling = dispute.ruling.unwrap();
    assert!(ruling.provider_lost);
    assert_eq!(ruling.end, DisputeEnd::Timeout);
    assert_eq!(done.refunded, Some(done.escrow));
    if out.status.success() {
        assert_eq!(dispute.challenger, net.address("dev8").to_string());
        assert!(!dispute.by_verifier);
        let ruled: Value = serde_json::from_slice(&out.stdout)
            .ok()
            .or_else(|| {
                // --json prints the dispute-open receipt first, then the ruling.
                String::from_utf8_lossy(&out.stdout)
                    .rsplit_once("\n{")
                    .and_then(|(_, last)| serde_json::from_str(&format!("{{{last}")).ok())
            })
            .unwrap();
        assert_eq!(ruled["provider_lost"], true);
    } else {
        assert!(stderr(&out).contains("not_disputable"), "{}", stderr(&out));
        assert!(dispute.by_verifier);
    }
    let liar = net.client.provider(&net.address("dev7")).unwrap();
    assert_eq!(liar.disputes_lost, 1);
    assert_eq!(liar.slashed, ruling.slashed.to_string());
}

fn silent_registration() -> Payload {
    Payload::ProviderRegister {
        endpoint: "http://127.0.0.1:9".into(),
        profile: ResourceProfile {
            cores: 1,
            memory_mb: 1024,
            gpus: 0,
            gpu_model: String::new(),
            storage_gb: 1,
        },
        fuel_per_second: 1_000_000,
        ask_per_mfuel: 1,
        bond: 1_000 * plexus_types::PLX,
    }
}

/// A job whose `max_fuel` its provider cannot run before the deadline is refused at once (no
/// fuel, no slash) instead of being run and missed: a consumer cannot get an honest provider
/// slashed with a short deadline.
fn too_big_for_the_deadline(net: &Net, input: &Path) {
    let client = &net.client;
    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev6",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        // Worth 50 PLX at the providers' ask: within the bond rule for their 1000 PLX bonds
        // ((1 + 1/p) * 50 = 505 PLX at p = 11%), far beyond 10 blocks of work at the
        // providers' FUEL_PER_SECOND (1 000 s with the margin).
        "--max-fuel",
        "50000000000",
        "--deadline-blocks",
        "10",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("fuel does not run"),
        "{}",
        stderr(&out)
    );
    let refused = client
        .jobs_of_consumer(&net.address("dev6"), 1)
        .unwrap()
        .remove(0);
    assert_eq!(refused.status, JobStatus::Settled);
    assert_eq!(refused.failed, Some(true));
    assert_eq!(refused.total_fuel, Some(0));
    assert_eq!(refused.paid, Some(BaseUnits(0)));
    assert!(client.providers().unwrap().iter().all(|p| p.slashed == "0"));
}

/// Modules refused before any money moves, and modules that run and fail.
fn bad_modules(net: &Net, dir: &Path) {
    let client = &net.client;
    let input = dir.join("empty.bin");
    std::fs::write(&input, b"").unwrap();
    let balance = net.balance("dev1");
    let refused = [
        (dir.join("garbage.wasm"), "malformed module"),
        (
            wat_file(
                dir,
                "import.wasm",
                r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                    (memory (export "memory") 1 1)
                    (global (export "plexus_output") i32 (i32.const 0))
                    (func (export "init")) (func (export "step") (result i32) (i32.const 0)))"#,
            ),
            "wasi_snapshot_preview1.fd_write",
        ),
        (
            wat_file(dir, "unbounded.wasm", &abi_module("1", "(i32.const 0)")),
            "maximum",
        ),
    ];
    std::fs::write(&refused[0].0, b"not wasm at all").unwrap();
    for (module, expected) in &refused {
        let out = net.plexus(&[
            "job",
            "run",
            "--from",
            "dev1",
            "--module",
            module.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert_eq!(
            stderr(&out).lines().count(),
            1,
            "one clear line: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        net.balance("dev1"),
        balance,
        "a refused module costs nothing"
    );

    // An infinite loop, a memory bomb and a long loop that ends out of bounds (issue 12's
    // attack) run, fail deterministically and are billed max_fuel; the provider carries on.
    let looping = wat_file(
        dir,
        "loop.wasm",
        &abi_module("1 1", "(loop $l (br $l)) (i32.const 0)"),
    );
    let bomb = wat_file(
        dir,
        "bomb.wasm",
        &abi_module(
            "1 1024",
            "(block $full (loop $l (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br $l))) unreachable",
        ),
    );
    let out_of_bounds = wat_file(
        dir,
        "out-of-bounds.wasm",
        &abi_module(
            "1 1",
            "(local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 400000)))) (i32.load (i32.const 0x7ffffff0))",
        ),
    );
    for (module, max_fuel, trap) in [
        (&looping, "5000000", "out_of_fuel"),
        (&bomb, "5000000", "unreachable"),
        (&out_of_bounds, "5000000", "memory_out_of_bounds"),
    ] {
        let out = net.plexus(&[
            "job",
            "run",
            "--from",
            "dev1",
            "--module",
            module.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--max-fuel",
            max_fuel,
            "--json",
        ]);
        assert!(!out.status.success(), "a failed job is an error exit");
        let message = stderr(&out);
        assert!(message.contains(trap), "{message}");
        let id = message
            .split_whitespace()
            .find(|w| w.len() == 64)
            .expect("the error names the job");
        let failed = job(client, id);
        assert_eq!(failed.failed, Some(true));
        assert_eq!(failed.status, JobStatus::Settled);
        // A trap is reproducible: the consumer's own run commits to the same trap leaf.
        let verified = json(&net.plexus(&["job", "verify", id, "--json"]));
        assert_eq!(verified["agrees"], true, "{verified}");
        assert_eq!(failed.total_fuel, Some(5_000_000), "{trap} bills max_fuel");
    }
    assert!(client.providers().unwrap().iter().all(|p| p.active));
}

/// Oversized and mismatched blobs are refused with clear codes.
fn bad_blobs(net: &Net, dir: &Path) {
    let http = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{}", net.api);
    let hash = ContentHash::of(b"expected");
    let response = http
        .put(format!("{base}/v1/blobs/{hash}"))
        .body(b"other bytes".to_vec())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["code"], "hash_mismatch");
    let response = http
        .put(format!("{base}/v1/blobs/{}", "0".repeat(64)))
        .body(vec![0u8; (64 << 20) + 1])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().unwrap();
    assert_eq!(body["code"], "blob_too_large");
    let response = http
        .get(format!("{base}/v1/blobs/not-a-hash"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // blob put/get round trip through the CLI.
    let file = dir.join("blob.bin");
    std::fs::write(&file, b"some weights").unwrap();
    let out = net.plexus(&["blob", "put", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let back = dir.join("back.bin");
    let out = net.plexus(&["blob", "get", &hash, "--out", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&back).unwrap(), b"some weights");

    // An input over the executor's limit is refused before anything is uploaded or posted.
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![1u8; (16 << 20) + 1]).unwrap();
    let looping = dir.join("loop.wasm");
    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev1",
        "--module",
        looping.to_str().unwrap(),
        "--input",
        big.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("limit"), "{}", stderr(&out));
}

/// A cap below every ask: the job stays posted, `job run` says so, and cancel refunds it.
fn unmatched_job_is_cancelled(net: &Net, input: &Path, consumer: &Address) {
    let client = &net.client;
    let before = net.balance("dev2");
    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev2",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--price-cap",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no provider matched"),
        "{}",
        stderr(&out)
    );
    let dev2 = net.address("dev2");
    let posted = client.jobs_of_consumer(&dev2, 1).unwrap().remove(0);
    assert_eq!(posted.status, JobStatus::Posted);
    assert_ne!(dev2, *consumer);
    let escrow: u128 = posted.escrow.0;
    let fee: u128 = client.status().unwrap().fee_min.parse().unwrap();
    assert_eq!(net.balance("dev2"), before - escrow - fee);
    let out = net.plexus(&["job", "cancel", &posted.id.to_string(), "--from", "dev2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cancelled = job(client, &posted.id.to_string());
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(net.balance("dev2"), before - 2 * fee);
    let again = net.plexus(&["job", "cancel", &posted.id.to_string(), "--from", "dev2"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("job_not_cancellable"),
        "{}",
        stderr(&again)
    );
}

/// A provider that registers (cheapest ask) but never runs anything: its job is refunded at the
/// deadline and its bond slashed.
fn silent_provider_is_slashed(net: &Net, input: &Path) {
    let client = &net.client;
    let key = read_key(&net.home, "dev5");
    let status = client.status().unwrap();
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: status.fee_min.parse().unwrap(),
    };
    let silent = builder.sender();
    let nonce = client.account(&silent).unwrap().next_nonce;
    let register = builder.build(nonce, silent_registration());
    let hash = client.submit(&register).unwrap();
    let done = client
        .wait_finalized(&hash, Duration::from_secs(120))
        .unwrap();
    assert_eq!(done.receipt.unwrap().status, ReceiptStatus::Success);

    let before = net.balance("dev3");
    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev3",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--price-cap",
        "1",
        "--deadline-blocks",
        "10",
        "--timeout-secs",
        "300",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    let dev3 = net.address("dev3");
    let expired = client.jobs_of_consumer(&dev3, 1).unwrap().remove(0);
    assert_eq!(expired.status, JobStatus::Expired);
    assert_eq!(expired.provider, Some(silent.to_string()));
    let fee: u128 = status.fee_min.parse().unwrap();
    assert_eq!(
        net.balance("dev3"),
        before - fee,
        "the whole escrow came back"
    );
    let record = client.provider(&silent).unwrap();
    let lock: u128 = expired.bond_locked.unwrap().0;
    assert!(lock > 0);
    assert_eq!(record.slashed, lock.to_string(), "the job's lock is burned");
    assert_eq!(record.bond, (1_000 * plexus_types::PLX - lock).to_string());
    assert_eq!(record.jobs_missed, 1);
    assert!(record.reputation < 5_000);
}

fn read_key(home: &Path, name: &str) -> PrivateKey {
    use commonware_codec::DecodeExt;
    let hex = std::fs::read_to_string(home.join("keys").join(format!("{name}.key"))).unwrap();
    let bytes = plexus_client::hex_decode(hex.trim()).unwrap();
    PrivateKey::decode(commonware_codec::Copying(&bytes[..])).unwrap()
}

/// Regression (issue 18): a provider killed mid-job and restarted while its machine looks much
/// slower (under load its benchmark once measured 56.5 M fuel/s, and it refused the job it had
/// accepted and begun) resumes the job: it settles and the provider is paid. The speeds are set
/// with `provider run --fuel-per-second`, so the test does not depend on the machine's load; at
/// the restart's figure the job could never make its deadline, so a provider that judged it again
/// would refuse it. New jobs are judged at the new figure.
#[test]
fn a_provider_restarted_mid_job_still_settles_it() {
    let dir = tempdir("restart");
    let net = devnet(&dir, 0);
    let port = free_port();
    let provider_dir = dir.join("provider");
    let start = |fuel_per_second: &str| {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("provider.log"))
            .unwrap();
        Process(
            Command::new(PLEXUS)
                .args(["provider", "run", "--key", "provider0", "--dir"])
                .arg(&provider_dir)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--fuel-per-second", fuel_per_second])
                .env("PLEXUS_HOME", &net.home)
                .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
                .env("PLEXUS_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let provider = start(FUEL_PER_SECOND);
    wait_for("the provider to register", Duration::from_secs(180), || {
        net.client.providers().is_ok_and(|p| p.len() == 1)
    });
    let count = dir.join("images.txt");
    std::fs::write(&count, "32").unwrap();
    // About 5 * 10^8 fuel: tens of seconds on a loaded machine's debug build, so a deadline
    // far beyond it (2 000 blocks, 500 s or more) that only a hang can miss.
    let run_cnn = |from: &str| {
        Command::new(PLEXUS)
            .args(["job", "run", "--from", from, "--module", "cnn", "--input"])
            .arg(&count)
            .args([
                "--deadline-blocks",
                "2000",
                "--json",
                "--timeout-secs",
                "500",
            ])
            .env("PLEXUS_HOME", &net.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
            .output()
            .unwrap()
    };
    let (out, id, _restarted) = std::thread::scope(|scope| {
        let consumer = scope.spawn(|| run_cnn("dev4"));
        // Kill the provider while it is running the job (SIGKILL: no chance to save anything).
        let provider_api = Client::new(&format!("http://127.0.0.1:{port}"));
        let dev4 = net.address("dev4");
        wait_for(
            "the provider to start the job",
            Duration::from_secs(180),
            || {
                net.client
                    .jobs_of_consumer(&dev4, 1)
                    .ok()
                    .and_then(|jobs| jobs.into_iter().next())
                    .and_then(|job| provider_record(&provider_api, &job.id.to_string()))
                    .is_some_and(|record| record["running"] == true)
            },
        );
        let mut provider = provider;
        provider.0.kill().unwrap();
        provider.0.wait().unwrap();
        let id = net
            .client
            .jobs_of_consumer(&dev4, 1)
            .unwrap()
            .remove(0)
            .id
            .to_string();
        assert_eq!(job(&net.client, &id).status, JobStatus::Assigned);
        // Restarted a thousand times slower than it was: 10^9 fuel at 1 000 fuel/s never fits.
        let restarted = start(SLOW_FUEL_PER_SECOND);
        (consumer.join().unwrap(), id, restarted)
    });
    let run = json(&out);
    assert_eq!(run["job_id"], id);
    assert_eq!(run["output"]["labels"].as_array().unwrap().len(), 32);
    let settled = job(&net.client, &id);
    assert_eq!(settled.status, JobStatus::Settled);
    assert_eq!(settled.failed, Some(false));
    let provider0 = net.address("provider0");
    assert_eq!(settled.provider, Some(provider0.to_string()));
    let paid: u128 = settled.paid.unwrap().0;
    assert!(paid > 0, "the resumed job is paid");

    // The provider's journal kept the one decision it made, at the first start's figure.
    let provider_api = Client::new(&format!("http://127.0.0.1:{port}"));
    let record = provider_record(&provider_api, &id).unwrap();
    assert_eq!(record["decision"]["decision"], "accepted", "{record}");
    assert_eq!(
        record["decision"]["fuel_per_second"].to_string(),
        FUEL_PER_SECOND,
        "{record}"
    );
    // The restart registered its new figure, and a job it has not seen is judged at it: the
    // same job is refused now, for no fuel, with the reason in its output.
    let registered = net.client.provider(&provider0).unwrap();
    assert_eq!(registered.fuel_per_second.to_string(), SLOW_FUEL_PER_SECOND);
    let out = run_cnn("dev5");
    assert!(!out.status.success());
    let reason = format!("fuel does not run at {SLOW_FUEL_PER_SECOND} fuel/s");
    assert!(stderr(&out).contains(&reason), "{}", stderr(&out));
    let refused = net
        .client
        .jobs_of_consumer(&net.address("dev5"), 1)
        .unwrap()
        .remove(0);
    assert_eq!((refused.failed, refused.total_fuel), (Some(true), Some(0)));
    let record = provider_record(&provider_api, &refused.id.to_string()).unwrap();
    assert_eq!(record["decision"]["decision"], "refused", "{record}");
}

/// The provider API's record of job `id` (phase, decision, commitment, running), if it has one.
fn provider_record(provider_api: &Client, id: &str) -> Option<Value> {
    let body = provider_api
        .get_bytes(&format!("/v1/jobs/{id}"), 1 << 16)
        .ok()
        .flatten()?;
    serde_json::from_slice(&body).ok()
}

#[test]
fn a_forged_output_is_disputed_and_the_forger_slashed() {
    let dir = tempdir("forged");
    // provider0 is honest and verifies; provider1 forges every output.
    let net = devnet_with(&dir, 2, 1, &[]);
    let client = &net.client;
    let forger = net.address("provider1");
    let verifier = net.address("provider0");
    // provider0 stops taking jobs but keeps verifying, so the job goes to the forger.
    let out = net.plexus(&["provider", "deregister", "--from", "provider0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let input = twenty_images(&dir);
    let bond_before: u128 = client.provider(&forger).unwrap().bond.parse().unwrap();
    let (consumer_before, from) = net.balance_at("dev0");

    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev0",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--audit",
        "full",
        "--max-fuel",
        "50000000",
    ]);
    assert!(!out.status.success(), "a forged job must not be accepted");
    let message = stderr(&out);
    assert!(message.contains("was refuted"), "{message}");
    let id = message
        .split_whitespace()
        .skip_while(|word| *word != "job")
        .nth(1)
        .unwrap()
        .to_string();

    // The chain's record: audited in full by provider0, disputed, ruled on a re-run.
    let done = job(client, &id);
    assert_eq!(done.status, JobStatus::Refuted);
    assert_eq!(done.provider.as_deref(), Some(forger.to_string().as_str()));
    let audit = done.audit_record.clone().unwrap();
    assert_eq!(
        (audit.kind, audit.stage),
        (AuditKind::Full, AuditStage::Disputed)
    );
    assert_eq!(audit.verifier, verifier.to_string());
    let dispute = done.dispute.clone().unwrap();
    assert!(dispute.by_verifier);
    let ruling = dispute.ruling.unwrap();
    assert!(ruling.provider_lost);
    assert_eq!(ruling.end, DisputeEnd::Replay);
    // The slash: 13 times the job's value at the forger's ask (0.001 PLX per Mfuel).
    let value: u128 = 50_000_000 * 1_000_000 / 1_000_000;
    let slashed: u128 = ruling.slashed.0;
    assert_eq!(slashed, 13 * value);
    assert_eq!(done.slashed, Some(ruling.slashed));
    assert_eq!(done.refunded, Some(done.escrow));

    // The forger's record and bond, through the API and the CLI.
    let record = client.provider(&forger).unwrap();
    assert_eq!(record.disputes_lost, 1);
    assert_eq!(record.reputation, 0);
    assert_eq!(record.bond.parse::<u128>().unwrap(), bond_before - slashed);
    assert_eq!(record.slashed.parse::<u128>().unwrap(), slashed);
    let listed = json(&net.plexus(&["query", "providers", "--json"]));
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == forger.to_string())
        .unwrap();
    assert_eq!(row["disputes_lost"], 1);
    assert_eq!(row["slashed"], ruling.slashed.to_string());
    let status = json(&net.plexus(&["job", "status", &id, "--json"]));
    assert_eq!(status["status"], "refuted");
    let text = net.plexus(&["job", "status", &id]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("the provider lost (replay)"));
    let verifiers = json(&net.plexus(&["query", "verifiers", "--json"]));
    assert_eq!(verifiers[0]["disputes_won"], 1);

    // The consumer paid only fees: the escrow came back whole.
    let (consumer_after, to) = net.balance_at("dev0");
    let fees = fees_of(client, &net.address("dev0"), from, to);
    assert_eq!(consumer_after, consumer_before - fees);
}

#[test]
fn honest_work_passes_light_audits_and_verifiers_flag_canaries() {
    let dir = tempdir("canaries");
    // Every job is light-audited and copied into a canary: both providers verify.
    let net = devnet_with(
        &dir,
        2,
        0,
        &[
            "--light-audit-ppm",
            "1000000",
            "--full-audit-ppm",
            "0",
            "--canary-ppm",
            "1000000",
            // Small segments: the providers must adopt the chain's, or the verifier's re-run
            // of a drawn segment would not line up with the provider's checkpoints.
            "--seg-fuel",
            "20000",
        ],
    );
    let client = &net.client;
    let input = twenty_images(&dir);
    let run = json(&net.plexus(&[
        "job",
        "run",
        "--from",
        "dev0",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--max-fuel",
        "50000000",
        "--json",
    ]));
    let id = run["job_id"].as_str().unwrap();
    let done = job(client, id);
    assert_eq!(done.status, JobStatus::Settled);
    let audit = done.audit_record.clone().unwrap();
    assert_eq!(
        (audit.kind, audit.stage),
        (AuditKind::Light, AuditStage::Passed)
    );
    // More than the one segment the default 2^26 gives this job: the provider checkpointed at
    // the chain's seg_fuel. The last segment is always drawn.
    let segments = u64::from(done.segments.unwrap());
    assert!(segments >= 2, "{segments} segments");
    assert_eq!(audit.segments.last().copied(), Some(segments - 1));
    assert_ne!(Some(audit.verifier.clone()), done.provider);
    let provider: Address = done.provider.as_deref().unwrap().parse().unwrap();
    assert_eq!(client.provider(&provider).unwrap().audits_passed, 1);
    // The canary copying the job went to the same verifier (the only eligible one), which
    // re-ran it and flagged its forged claim.
    wait_for("the canary to be flagged", Duration::from_secs(180), || {
        client
            .verifiers()
            .unwrap()
            .iter()
            .any(|v| v.canaries_flagged == 1)
    });
    for verifier in client.verifiers().unwrap() {
        assert_eq!(verifier.canaries_passed, 0);
        assert_eq!(verifier.slashed, "0");
    }
    for provider in client.providers().unwrap() {
        assert_eq!(
            (provider.slashed.as_str(), provider.disputes_lost),
            ("0", 0)
        );
    }
}

#[test]
fn a_dispute_whose_content_one_validator_holds_settles_on_all_four() {
    let dir = tempdir("spread");
    // Four validators; the consumer and both providers talk to validator 0 only, so the job's
    // module and input and the settled pre-state reach validator 0's blob store and no other.
    // Small segments: the game ends past leaf 0, so the re-run needs a manifest and its pages.
    let net = devnet_with(&dir, 2, 1, &["--validators", "4", "--seg-fuel", "20000"]);
    let client = &net.client;
    let forger = net.address("provider1");
    let out = net.plexus(&["provider", "deregister", "--from", "provider0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let input = twenty_images(&dir);
    let bond_before: u128 = client.provider(&forger).unwrap().bond.parse().unwrap();
    let out = net.plexus(&[
        "job",
        "run",
        "--from",
        "dev0",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--audit",
        "full",
        "--max-fuel",
        "50000000",
    ]);
    let message = stderr(&out);
    assert!(!out.status.success(), "a forged job must not be accepted");
    assert!(message.contains("was refuted"), "{message}");
    let id = message
        .split_whitespace()
        .skip_while(|word| *word != "job")
        .nth(1)
        .unwrap()
        .to_string();

    let done = job(client, &id);
    let dispute = done.dispute.clone().unwrap();
    let (lo, _) = dispute.resolved.clone().unwrap();
    assert!(
        lo.index > 0,
        "the re-run starts from an uploaded checkpoint"
    );
    let ruling = dispute.ruling.unwrap();
    assert!(ruling.provider_lost);
    assert_eq!(
        ruling.end,
        DisputeEnd::Replay,
        "the validators re-ran the segment"
    );
    let slashed: u128 = ruling.slashed.0;
    // 13 times the job's value at the forger's ask (0.001 PLX per Mfuel).
    assert_eq!(slashed, 13 * 50_000_000);
    assert_eq!(
        client
            .provider(&forger)
            .unwrap()
            .bond
            .parse::<u128>()
            .unwrap(),
        bond_before - slashed
    );

    // Every validator executed the settlement itself and reached the same state.
    let settled = client.block(Some(ruling.height)).unwrap();
    let module: ContentHash = done.module.hash();
    for i in 1..4u16 {
        let other = Client::new(&format!("http://127.0.0.1:{}", net.api + i));
        wait_for(
            &format!("validator {i} to reach the settlement's height"),
            Duration::from_secs(180),
            || other.status().is_ok_and(|s| s.height >= ruling.height),
        );
        let theirs = other.block(Some(ruling.height)).unwrap();
        assert_eq!(
            (&theirs.hash, &theirs.state_root),
            (&settled.hash, &settled.state_root),
            "validator {i}"
        );
        assert!(
            other.get_blob(&module, 16 << 20).unwrap().is_some(),
            "validator {i} fetched the module from a peer"
        );
    }
}

/// A `plexus provider run` process of its own on this devnet, logging to `DIR/NAME.log`.
fn start_provider(net: &Net, dir: &Path, name: &str, args: &[String]) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    Process(
        Command::new(PLEXUS)
            .args(["provider", "run", "--dir"])
            .arg(dir.join(name))
            .args(args)
            .env("PLEXUS_HOME", &net.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
            .env("PLEXUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Posts one cnn job per consumer key at once (`job run`, a full audit by the devnet's
/// parameters) on threads; returns them, to be joined for their output.
fn post_cnn_jobs(
    net: &Net,
    consumers: &[&str],
    count: &Path,
) -> Vec<std::thread::JoinHandle<Output>> {
    consumers
        .iter()
        .map(|consumer| {
            let (home, api) = (net.home.clone(), net.api);
            let (consumer, count) = (consumer.to_string(), count.to_path_buf());
            std::thread::spawn(move || {
                Command::new(PLEXUS)
                    .args([
                        "job", "run", "--from", &consumer, "--module", "cnn", "--input",
                    ])
                    .arg(&count)
                    .args(["--max-fuel", "100000000", "--json", "--timeout-secs", "400"])
                    .env("PLEXUS_HOME", home)
                    .env("PLEXUS_NODE", format!("http://127.0.0.1:{api}"))
                    .output()
                    .unwrap()
            })
        })
        .collect()
}

/// The newest job of each consumer, once each has one whose audit is drawn to `verifier`.
fn audits_drawn_to(net: &Net, consumers: &[&str], verifier: &Address) -> Vec<String> {
    let mut ids = Vec::new();
    wait_for("the audits to be drawn", Duration::from_secs(180), || {
        ids = consumers
            .iter()
            .filter_map(|c| {
                let job = net
                    .client
                    .jobs_of_consumer(&net.address(c), 1)
                    .ok()?
                    .into_iter()
                    .next()?;
                let audit = job.audit_record?;
                (audit.verifier == verifier.to_string() && audit.stage == AuditStage::Drawn)
                    .then(|| job.id.to_string())
            })
            .collect();
        ids.len() == consumers.len()
    });
    ids
}

/// Regression (issue 12, finding 3): a verifier drawn for several full audits at once re-ran
/// them one after the other in its poll loop; the second finished after its window and the
/// lapse took the job's value from its bond. Here a slow verifier (it declares 2 * 10^6 fuel/s
/// and its re-runs are throttled to that, so it is as slow on any machine) with room for two audits is drawn for two at once, killed mid-audit and
/// restarted: it re-runs both in parallel and passes them. Then it is drawn for two more, killed,
/// and restarted far slower: it declines both in time, and those jobs settle unaudited. Nobody
/// honest is slashed and every job settles.
#[test]
fn a_slow_verifier_drawn_for_several_audits_and_restarted_is_never_slashed() {
    let dir = tempdir("verifier-load");
    let net = devnet_with(
        &dir,
        0,
        0,
        &[
            "--full-audit-ppm",
            "1000000",
            "--light-audit-ppm",
            "0",
            "--canary-ppm",
            "0",
        ],
    );
    let client = &net.client;
    let (provider_port, verifier_port) = (free_port(), free_port());
    let _provider = start_provider(
        &net,
        &dir,
        "provider",
        &[
            "--key",
            "provider0",
            "--listen",
            &format!("127.0.0.1:{provider_port}"),
            "--cores",
            "4",
            "--fuel-per-second",
            "1000000000",
        ]
        .map(String::from),
    );
    // A slow machine that knows it: it declares 2 * 10^6 fuel/s and re-runs no faster (the
    // throttle; any machine re-runs faster than that), so a re-run of the 3-image cnn job
    // (about 5 * 10^7 fuel) takes 20-30 s whatever the machine, and the chain grants each of
    // its full audits the job's max fuel (10^8) at that speed, times 3: 600 blocks.
    let verifier_args = |fuel_per_second: &str| {
        [
            "--key",
            "provider1",
            "--listen",
            &format!("127.0.0.1:{verifier_port}"),
            // Never matched to a job: its ask is above every consumer's cap.
            "--ask",
            "1000plx",
            "--fuel-per-second",
            fuel_per_second,
            "--verifier-bond",
            "500plx",
            "--verifier-capacity",
            "2",
            "--throttle-audits",
            fuel_per_second,
        ]
        .map(String::from)
    };
    let mut verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000000"));
    let verifier = net.address("provider1");
    wait_for(
        "the provider and the verifier",
        Duration::from_secs(120),
        || {
            client.providers().is_ok_and(|p| p.len() == 2)
                && client
                    .verifiers()
                    .is_ok_and(|v| v.len() == 1 && v[0].capacity == 2)
        },
    );
    let count = dir.join("images.txt");
    std::fs::write(&count, "3").unwrap();

    // Two full audits drawn at once to the slow verifier; it is killed mid-audit and restarted.
    let consumers = ["dev0", "dev1"];
    let runs = post_cnn_jobs(&net, &consumers, &count);
    let first = audits_drawn_to(&net, &consumers, &verifier);
    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.open, record.fuel_per_second),
        (2, 2_000_000),
        "two audits open at once, due at the declared speed"
    );
    std::thread::sleep(Duration::from_secs(3));
    verifier_process.0.kill().unwrap();
    verifier_process.0.wait().unwrap();
    verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000000"));
    for run in runs {
        let out = run.join().unwrap();
        assert_eq!(json(&out)["output"]["labels"].as_array().unwrap().len(), 3);
    }
    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.slashed.as_str(), record.audits_missed),
        ("0", 0),
        "an honest verifier lost its bond to load"
    );
    for id in &first {
        let done = job(client, id);
        assert_eq!(done.status, JobStatus::Settled, "{id}");
        let audit = done.audit_record.unwrap();
        assert_eq!(
            (audit.verifier.as_str(), audit.stage),
            (verifier.to_string().as_str(), AuditStage::Passed)
        );
    }

    // Two more, and a restart on a machine far too slow for them: declined in time, redrawn to
    // nobody (the provider never audits itself), settled unaudited.
    let runs = post_cnn_jobs(&net, &consumers, &count);
    let second = audits_drawn_to(&net, &consumers, &verifier);
    verifier_process.0.kill().unwrap();
    verifier_process.0.wait().unwrap();
    let _verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000"));
    for run in runs {
        json(&run.join().unwrap());
    }
    for id in &second {
        let done = job(client, id);
        assert_eq!(done.status, JobStatus::Settled, "{id}");
        let audit = done.audit_record.unwrap();
        assert_eq!(audit.stage, AuditStage::Declined, "{id}");
        assert_eq!(audit.declined, vec![verifier.to_string()]);
    }

    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.slashed.as_str(), record.audits_missed),
        ("0", 0),
        "an honest verifier lost its bond to load"
    );
    assert_eq!((record.audits_done, record.audits_declined), (2, 2));
    for provider in client.providers().unwrap() {
        assert_eq!(
            (provider.slashed.as_str(), provider.disputes_lost),
            ("0", 0)
        );
    }
}

/// `plexus job run` waits out its node being killed (SIGKILL) and restarted while it follows
/// the job: the command still succeeds and prints the settled job's real result.
#[test]
fn job_run_waits_out_its_node_killed_and_restarted() {
    let dir = tempdir("node-restart");
    let ports = DevnetPorts {
        api: free_port(),
        p2p: free_port(),
        provider_api: free_port(),
    };
    // One-second blocks: a commitment settles five of them later, so the job seen on chain
    // is still unsettled when the node dies right after.
    let extra = ["--block-time-ms", "1000"];
    let mut devnet = devnet_process(&dir, &ports, 1, 0, &extra, "devnet.log");
    let client = Client::new(&format!("http://127.0.0.1:{}", ports.api));
    wait_for("the provider to register", Duration::from_secs(120), || {
        client
            .providers()
            .is_ok_and(|p| p.iter().any(|provider| provider.active))
    });
    let input = twenty_images(&dir);
    let (out_path, err_path) = (dir.join("job-run.json"), dir.join("job-run.err"));
    let mut run = Command::new(PLEXUS)
        .args([
            "job", "run", "--from", "dev5", "--module", "digits", "--input",
        ])
        .arg(&input)
        // Little fuel: a provider measuring itself on a loaded machine still takes the job.
        .args(["--max-fuel", "10000000", "--json", "--timeout-secs", "280"])
        .env("PLEXUS_HOME", dir.join("home"))
        .env("PLEXUS_NODE", client.base())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let shown = Command::new(PLEXUS)
        .args(["keys", "show", "dev5"])
        .env("PLEXUS_HOME", dir.join("home"))
        .output()
        .unwrap();
    let consumer: Address = String::from_utf8(shown.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut posted = None;
    wait_for("the job to be posted", Duration::from_secs(120), || {
        posted = client
            .jobs_of_consumer(&consumer, 1)
            .ok()
            .and_then(|jobs| jobs.into_iter().next());
        posted.is_some()
    });
    let posted = posted.unwrap();
    assert_ne!(
        posted.status,
        JobStatus::Settled,
        "the job settled before the kill"
    );

    devnet.0.kill().unwrap();
    devnet.0.wait().unwrap();
    // The provider follows its parent out; its port must be free before the restart.
    wait_for("the provider to exit", Duration::from_secs(60), || {
        std::net::TcpListener::bind(("127.0.0.1", ports.provider_api)).is_ok()
    });
    // Long enough for the command to meet refused connections and, before the fix, give up.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        run.try_wait().unwrap().is_none(),
        "job run gave up while the node was down: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let _devnet = devnet_process(&dir, &ports, 1, 0, &extra, "devnet-restarted.log");
    wait_for("job run to finish", Duration::from_secs(300), || {
        run.try_wait().unwrap().is_some()
    });
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(run.wait().unwrap().success(), "job run failed: {stderr}");
    let printed: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(printed["job_id"], posted.id.to_string());
    assert_eq!(printed["output"]["labels"].as_array().unwrap().len(), 20);
    let settled = job(&client, &posted.id.to_string());
    assert_eq!(settled.status, JobStatus::Settled);
    assert_eq!(
        printed["output_hash"],
        settled.output_hash.unwrap().to_string()
    );
    assert_eq!(
        printed["blocks"]["settled"],
        settled.finished_height.unwrap()
    );
}
