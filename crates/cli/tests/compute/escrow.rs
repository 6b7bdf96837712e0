//! The digits job end to end with exact escrow, then bad input at every step.

use crate::run_digits;
use crate::{Net, devnet, fees_of, job, json, read_key, send, stderr, tempdir, wait_for};
use plexus_client::{
    TxBuilder,
    dto::{BaseUnits, DisputeEnd, EmissionDto, JobDto, JobStatus, ReceiptStatus},
};
use plexus_types::{Address, ContentHash, Payload, job::ResourceProfile};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Held-out images the committed digits weights classify correctly (`cargo xtask train-digits`
/// reports 293/299 = 97.99%; `jobs/digits/tests/heldout.rs` pins the same count natively).
const HELDOUT_CORRECT: usize = 293;

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

    let run = json(&run_digits(
        &net,
        "dev0",
        &input,
        &[
            // The job needs about 2.4 M fuel: 10^8 keeps the escrow small.
            "--max-fuel",
            "100000000",
            "--json",
        ],
    ));
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
    let out = run_digits(
        net,
        "dev6",
        input,
        &[
            // Worth 50 PLX at the providers' ask: within the bond rule for their 1000 PLX bonds
            // ((1 + 1/p) * 50 = 505 PLX at p = 11%), far beyond 10 blocks of work at the
            // providers' FUEL_PER_SECOND (1 000 s with the margin).
            "--max-fuel",
            "50000000000",
            "--deadline-blocks",
            "10",
        ],
    );
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
    let out = run_digits(net, "dev2", input, &["--price-cap", "1"]);
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
    let out = run_digits(
        net,
        "dev3",
        input,
        &[
            "--price-cap",
            "1",
            "--deadline-blocks",
            "10",
            "--timeout-secs",
            "300",
        ],
    );
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
