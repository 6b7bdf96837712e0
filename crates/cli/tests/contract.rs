//! The node's HTTP API keeps its own contract, checked from outside on a real devnet with the
//! tools an operator would use (CI profile; `.ci/install` installs them):
//!
//! - schemathesis fuzzes every operation of the OpenAPI document the node serves, with every
//!   check (`tests/schemathesis/`: its config and the hooks for what a schema cannot express);
//! - promtool lints `/metrics` in the Prometheus text format, and prometheus-client's
//!   OpenMetrics parser reads the OpenMetrics answer a scraper that asks for it gets.
//!
//! A missing tool fails the test under CI (the `CI` environment variable set) and skips it
//! loudly elsewhere.

use commonware_cryptography::Signer;
use plexus_client::Client;
use plexus_types::{Address, PrivateKey};
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PLEXUS: &str = env!("CARGO_BIN_EXE_plexus");
/// Test cases schemathesis generates per operation and phase: enough to reach every status an
/// operation answers, few enough for a few minutes on two loaded cores.
const SCHEMATHESIS_EXAMPLES_MAX: u32 = 30;
/// The whole schemathesis run is stopped (and the test failed) past this.
const SCHEMATHESIS_TIMEOUT: Duration = Duration::from_secs(8 * 60);

struct Devnet {
    child: Child,
    client: Client,
    home: PathBuf,
    workdir: PathBuf,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn devnet(name: &str) -> Devnet {
    let workdir = std::env::temp_dir().join(format!(
        "plexus-contract-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&workdir).unwrap();
    let home = workdir.join("home");
    let (api, p2p) = (free_port(), free_port());
    let log = std::fs::File::create(workdir.join("devnet.log")).unwrap();
    let child = Command::new(PLEXUS)
        .args(["devnet", "--dir"])
        .arg(workdir.join("data"))
        .args([
            "--api",
            &format!("127.0.0.1:{api}"),
            "--p2p",
            &format!("127.0.0.1:{p2p}"),
        ])
        .env("PLEXUS_HOME", &home)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let devnet = Devnet {
        child,
        client: Client::new(&format!("http://127.0.0.1:{api}")),
        home,
        workdir,
    };
    let started = Instant::now();
    while devnet.client.status().map(|s| s.height).unwrap_or(0) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the devnet did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    devnet
}

/// The tool's path, or `None` after saying loudly why the test is skipped; under CI a missing
/// tool fails the test.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed: CI must run .ci/install first"
        );
        eprintln!(
            "\n*** SKIPPED: {name} is not installed. Run .ci/install (see README, Set-up) to \
             check the node's API contract. ***\n"
        );
    }
    found
}

/// Whether `python3` can import `module`; a missing one is treated like a missing tool.
fn python_module(module: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Python module {module} is not installed: CI must run .ci/install first"
        );
        eprintln!(
            "\n*** SKIPPED: the Python module {module} is not installed. Run .ci/install (see \
             README, Set-up). ***\n"
        );
    }
    found
}

/// Runs `command` with `input` on stdin; returns (success, stdout and stderr).
fn run_with_input(command: &mut Command, input: &[u8]) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn metrics(client: &Client, accept: Option<&str>) -> (String, String) {
    let mut request = reqwest::blocking::Client::new().get(format!("{}/metrics", client.base()));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.text().unwrap())
}

/// `/metrics` is valid for the content type it declares: promtool accepts the Prometheus text
/// format served by default, and the OpenMetrics parser the OpenMetrics served on request.
#[test]
fn metrics_are_valid_in_the_format_they_declare() {
    let (Some(promtool), true) = (tool("promtool"), python_module("prometheus_client")) else {
        return;
    };
    let net = devnet("metrics");
    // Something in every family: a rejected and an accepted submission.
    let _ = net.client.submit_raw(b"garbage".to_vec());
    let to = Address(PrivateKey::from_seed(5).public_key());
    let hash = net.client.faucet(&to, Some("1plx".into())).unwrap();
    net.client
        .wait_finalized(&hash, Duration::from_secs(60))
        .unwrap();

    let (content_type, text) = metrics(&net.client, None);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let (ok, out) = run_with_input(
        Command::new(&promtool).args(["check", "metrics"]),
        text.as_bytes(),
    );
    assert!(ok, "promtool refused /metrics: {out}\n{text}");
    assert!(text.contains("plexus_txs_accepted_total 1"), "{text}");

    let (content_type, text) = metrics(
        &net.client,
        Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4"),
    );
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let parse = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        families = list(text_string_to_metric_families(sys.stdin.read()))\n\
        print(sorted(f.name for f in families))\n";
    let (ok, out) = run_with_input(Command::new("python3").args(["-c", parse]), text.as_bytes());
    assert!(ok, "the OpenMetrics parser refused /metrics: {out}\n{text}");
    assert!(out.contains("'plexus_txs_rejected'"), "{out}");
}

/// Addresses for the fuzzer's address format: the devnet's funded keys and fresh ones.
fn addresses(net: &Devnet) -> String {
    let out = Command::new(PLEXUS)
        .args(["keys", "list", "--json"])
        .env("PLEXUS_HOME", &net.home)
        .output()
        .unwrap();
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut addresses: Vec<String> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["address"].as_str().unwrap().to_string())
        .collect();
    addresses
        .extend((1..=10).map(|seed| Address(PrivateKey::from_seed(seed).public_key()).to_string()));
    addresses.join(",")
}

/// Runs `command` to completion or `timeout` (then kills it); returns whether it succeeded.
fn wait_bounded(mut child: Child, timeout: Duration) -> Option<bool> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.success());
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// schemathesis, every check, every phase, against a devnet: no failure. Set
/// PLEXUS_SCHEMATHESIS_SEED to replay a run.
#[test]
fn schemathesis_finds_no_failure() {
    let Some(schemathesis) = tool("schemathesis") else {
        return;
    };
    let seed: u64 = std::env::var("PLEXUS_SCHEMATHESIS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let net = devnet("schemathesis");
    // Run in the devnet's scratch directory (schemathesis keeps a cache where it runs), with
    // the config's hooks named by their absolute path.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let config = std::fs::read_to_string(dir.join("schemathesis.toml"))
        .unwrap()
        .replace("\"hooks.py\"", &format!("{:?}", dir.join("hooks.py")));
    std::fs::write(net.workdir.join("schemathesis.toml"), config).unwrap();
    let report = net.workdir.join("schemathesis.txt");
    let child = Command::new(schemathesis)
        .current_dir(&net.workdir)
        .args(["--config-file", "schemathesis.toml", "--no-color", "run"])
        .arg(format!("{}/v1/openapi.json", net.client.base()))
        // One worker: with two, hypothesis describes lambdas with `ast.parse` on two threads at
        // once, and this machine's CPython (3.11.7) shares the AST converter's recursion
        // counter between threads (CPython gh-106905): a CI run failed with "AST constructor
        // recursion depth mismatch", an error of the tool, not of the API.
        .args(["--checks", "all", "--workers", "1", "--max-examples"])
        .arg(SCHEMATHESIS_EXAMPLES_MAX.to_string())
        // The seed alone decides the run: no examples replayed from an earlier one.
        .args(["--seed", &seed.to_string(), "--generation-database", "none"])
        .env("PLEXUS_ADDRESSES", addresses(&net))
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let passed = wait_bounded(child, SCHEMATHESIS_TIMEOUT);
    let output = std::fs::read_to_string(&report).unwrap_or_default();
    match passed {
        Some(true) => eprintln!("{output}"),
        Some(false) => {
            panic!("schemathesis found failures (PLEXUS_SCHEMATHESIS_SEED={seed}):\n{output}")
        }
        None => panic!(
            "schemathesis ran over {SCHEMATHESIS_TIMEOUT:?} (PLEXUS_SCHEMATHESIS_SEED={seed}):\n{output}"
        ),
    }
}
