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
//!
//! One test binary (`compute`, which the nextest profiles name) in topic modules: `escrow` (the
//! digits job, its exact escrow and bad input at every step), `restarts` (a provider killed
//! mid-job, a node killed under `job run`), `disputes` (forged outputs disputed and slashed, on
//! one validator or four), `audits` (light audits and canaries, a slow verifier drawn for
//! several audits), `governance` (a passed proposal changes the audit rate; refusals; a
//! delegator's rewards), `models` (MiniLM embeddings as a fully audited job). This file holds the
//! devnet and helpers they share.

#[path = "../common/mod.rs"]
mod common;

mod audits;
mod disputes;
mod escrow;
mod governance;
mod models;
mod restarts;
mod storage;

use common::{DevnetPorts, PLEXUS, Process, devnet_process, free_port, tempdir, wait_for};
use plexus_client::{
    Client, TxBuilder,
    dto::{JobDto, ReceiptStatus, TxStatusDto},
};
use plexus_types::{Address, Payload, PrivateKey};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

/// The speed every provider here registers (`--fuel-per-second`), so which jobs they accept
/// never depends on how busy the machine is: 10^9 fuel (the default max) needs 20 s with the
/// margin of 2, well inside the default 200-block deadline.
const FUEL_PER_SECOND: &str = "100000000";

/// The devnet and the CLI pointed at it; [`Net::address`] and the balance reads are this
/// binary's own.
type Net = common::Devnet;

impl Net {
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
    let cheating_arg = cheating.to_string();
    let extra = [extra, &["--cheating-providers", &cheating_arg]].concat();
    let net = Net::spawn(dir, providers, &extra);
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

/// `plexus job run --from KEY --module digits --input INPUT` with `extra` arguments.
fn run_digits(net: &Net, from: &str, input: &Path, extra: &[&str]) -> Output {
    let head = [
        "job", "run", "--from", from, "--module", "digits", "--input",
    ];
    net.plexus(&[&head[..], &[input.to_str().unwrap()], extra].concat())
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

/// Signs and finalizes `payload` from dev key `name`; returns the transaction hash.
fn send(net: &Net, name: &str, payload: Payload) -> String {
    let done = finalize(net, name, payload);
    assert_eq!(done.receipt.unwrap().status, ReceiptStatus::Success);
    done.hash
}

/// Signs `payload` from dev key `name` and waits for it to be finalized, whatever its receipt.
fn finalize(net: &Net, name: &str, payload: Payload) -> TxStatusDto {
    let key = read_key(&net.home, name);
    let status = net.client.status().unwrap();
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: status.fee_min.parse().unwrap(),
    };
    let nonce = net.client.account(&builder.sender()).unwrap().next_nonce;
    let hash = net.client.submit(&builder.build(nonce, payload)).unwrap();
    net.client
        .wait_finalized(&hash, Duration::from_secs(120))
        .unwrap()
}

/// Key `name` from the devnet's keystore.
fn read_key(home: &Path, name: &str) -> PrivateKey {
    use commonware_codec::DecodeExt;
    let hex = std::fs::read_to_string(home.join("keys").join(format!("{name}.key"))).unwrap();
    let bytes = plexus_client::hex_decode(hex.trim()).unwrap();
    PrivateKey::decode(commonware_codec::Copying(&bytes[..])).unwrap()
}
