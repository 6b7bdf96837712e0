//! End-to-end: real `plexus` processes on loopback sockets.
//!
//! Starts a devnet, transfers between keys, bonds stake, sends bad input at every endpoint,
//! kills the node with SIGKILL under load, restarts it on the same directory, and checks that
//! every transaction finalized before the kill is still there with the same balances.
//!
//! One test binary (`e2e`) in topic modules: `sigkill` (a devnet through transactions, bad
//! input and SIGKILL), `api` (the batch, faucet, stream, metrics and OpenAPI endpoints and the
//! refusals of issue 12), `genesis` (a network from a genesis file and the ceremony), `rewards`
//! (a delegator's staking rewards accrue, are shown and withdrawn; supply conserved). This file
//! holds what they share.

#[path = "../common/mod.rs"]
mod common;

use common::{TempDir, free_port};

mod api;
mod genesis;
mod gov;
mod rewards;
mod sigkill;

use plexus_client::{Client, ClientError};
use plexus_types::{Address, PrivateKey};
use std::{
    path::Path,
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

fn start(dir: &Path, home: &Path, api: u16, p2p: u16) -> (Node, Client) {
    start_with(dir, home, api, p2p, &[])
}

/// [`start`] with more `plexus devnet` arguments (`--epoch-blocks 20`).
fn start_with(dir: &Path, home: &Path, api: u16, p2p: u16, extra: &[&str]) -> (Node, Client) {
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
        .args(extra)
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

fn tempdir() -> TempDir {
    common::tempdir("e2e")
}

/// A reader that closes the pipe early (`plexus keys list | head -1`) ends the command quietly:
/// exit 0, no panic. Before, `println!` panicked with "failed printing to stdout: Broken pipe".
#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let home = tempdir();
    for name in ["alice", "bob", "carol"] {
        assert_succeeded(&plexus(&home, 0, &["keys", "new", name]));
    }
    let mut child = Command::new(PLEXUS)
        .args(["keys", "list", "--json"])
        .env("PLEXUS_HOME", &*home)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the command writes.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{:?}: {stderr}",
        out.status
    );
}
