//! The weights blob: all-MiniLM-L6-v2 quantized to int8 with one scale per output row, written
//! by `cargo xtask models` and read by the job.
//!
//! Format (every integer and float little-endian):
//!
//! | field | bytes |
//! | --- | --- |
//! | magic `PLXMLM01` | 8 |
//! | `hidden`, `layers`, `heads`, `intermediate`, `vocab`, `positions` | 6 x u32 |
//! | position table: `positions * hidden` f32, token type 0's embedding already added | |
//! | embedding LayerNorm: gamma, beta (`hidden` f32 each) | |
//! | per layer: `qkv` (3 * hidden x hidden), `attn_out` (hidden x hidden), `attn_norm`, `up` (intermediate x hidden), `down` (hidden x intermediate), `out_norm` | |
//! | a linear layer: `rows * cols` i8 weights (row-major), `rows` f32 scales, `rows` f32 biases | |
//! | a norm: `hidden` f32 gamma, `hidden` f32 beta | |
//! | the word table, last: `vocab` rows of `f32 scale` then `hidden` i8 | |
//!
//! The word table stays in the blob: the job reads the rows of the tokens it embeds
//! ([`Weights::word_row`]) instead of holding 11.7 MB it mostly does not use.
//!
//! [`Weights::load`] runs in the guest's `init`. The guest allocator never frees and memory is
//! capped at 64 MiB, so it reads each tensor from the blob straight into its own vector (floats
//! through a small stack buffer), never the whole blob into one. Before it allocates anything it
//! checks that the blob's length is exactly what the header declares, so a corrupt header cannot
//! make it allocate more than the blob holds. [`encode`] (native only) writes the format; `cargo
//! xtask models` calls it.

use crate::{DIM, TOKENS_MAX};
use alloc::vec;
use alloc::vec::Vec;
use plexus_guest::Host;
use plexus_guest::nn::{LayerNorm, Linear};

/// The blob's first bytes.
pub const MAGIC: [u8; 8] = *b"PLXMLM01";
/// BERT's LayerNorm epsilon.
pub const NORM_EPS: f32 = 1e-12;
/// The header's length: the magic and six u32.
pub const HEADER_BYTES: u64 = 8 + 6 * 4;
/// Floats are read through a stack buffer of this many bytes (no heap copy of the blob).
const CHUNK_BYTES: usize = 4096;

/// Why a weights blob cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    /// The job names no blob at this index.
    #[error("the job has no weights blob (blob {0})")]
    MissingBlob(usize),
    /// The blob does not start with [`MAGIC`].
    #[error("the weights blob does not start with PLXMLM01")]
    BadMagic,
    /// The blob is shorter than the header, or not exactly as long as its header declares.
    #[error("the weights blob is {got} bytes; its header declares {expected}")]
    Length {
        /// The length the header implies ([`HEADER_BYTES`] if the header itself is cut;
        /// `u64::MAX` if the declared shape overflows).
        expected: u64,
        /// The blob's length.
        got: u64,
    },
    /// A hidden width other than [`DIM`].
    #[error("hidden width {0}; the job embeds {DIM}")]
    Hidden(usize),
    /// Fewer positions than [`TOKENS_MAX`].
    #[error("{0} positions; the job needs {TOKENS_MAX}")]
    Positions(usize),
    /// A head count of 0 or one that does not divide the hidden width.
    #[error("{heads} attention heads do not divide the hidden width {hidden}")]
    Heads {
        /// Declared heads.
        heads: usize,
        /// Declared hidden width.
        hidden: usize,
    },
    /// A dimension that must be positive is 0 (`layers`, `intermediate` or `vocab`).
    #[error("the header declares 0 {0}")]
    Empty(&'static str),
    /// A float that is NaN or infinite.
    #[error("non-finite {field} at byte {offset} of the weights blob")]
    NonFinite {
        /// Which tensor it belongs to.
        field: &'static str,
        /// Its offset in the blob.
        offset: u64,
    },
    /// The host returned fewer bytes than the blob's declared length promised.
    #[error("the host served no bytes at offset {0} of the weights blob")]
    Read(u64),
}

/// The model's shape, as the blob declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Width of a token's vector (384).
    pub hidden: usize,
    /// Transformer layers (6).
    pub layers: usize,
    /// Attention heads per layer (12).
    pub heads: usize,
    /// Width of the feed-forward layer (1,536).
    pub intermediate: usize,
    /// Rows of the word table (30,522).
    pub vocab: usize,
    /// Rows of the position table (512).
    pub positions: usize,
}

/// One transformer layer (BERT post-norm).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Query, key and value in one matrix: rows `0..hidden` query, then key, then value.
    pub qkv: Linear,
    /// The attention output projection.
    pub attn_out: Linear,
    /// LayerNorm after the attention block's residual.
    pub attn_norm: LayerNorm,
    /// The feed-forward expansion (GELU follows).
    pub up: Linear,
    /// The feed-forward projection back to `hidden`.
    pub down: Linear,
    /// LayerNorm after the feed-forward block's residual.
    pub out_norm: LayerNorm,
}

/// The weights the job holds in memory; the word table stays in the blob at `word_offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// The model's shape.
    pub config: Config,
    /// `positions * hidden` f32: position embeddings with token type 0's added.
    pub position: Vec<f32>,
    /// LayerNorm over the summed embeddings.
    pub embed_norm: LayerNorm,
    /// The transformer layers, in order.
    pub layers: Vec<Layer>,
    /// Where the word table starts in the blob (rows of `f32 scale`, `hidden` i8).
    pub word_offset: u64,
}

impl Config {
    /// Checks the shape the job can run (see [`WeightsError`] for what it refuses).
    fn check(&self) -> Result<(), WeightsError> {
        if self.hidden != DIM {
            return Err(WeightsError::Hidden(self.hidden));
        }
        if self.positions < TOKENS_MAX {
            return Err(WeightsError::Positions(self.positions));
        }
        if self.heads == 0 || !self.hidden.is_multiple_of(self.heads) {
            return Err(WeightsError::Heads {
                heads: self.heads,
                hidden: self.hidden,
            });
        }
        for (name, value) in [
            ("layers", self.layers),
            ("intermediate", self.intermediate),
            ("vocab", self.vocab),
        ] {
            if value == 0 {
                return Err(WeightsError::Empty(name));
            }
        }
        Ok(())
    }

    /// Where the word table starts and the blob's whole length, in bytes (saturating: an
    /// overflowing shape declares `u64::MAX`, which no blob matches).
    fn layout(&self) -> (u64, u64) {
        let [h, i, layers, vocab, positions] = [
            self.hidden,
            self.intermediate,
            self.layers,
            self.vocab,
            self.positions,
        ]
        .map(|v| v as u64);
        let linear = |rows: u64, cols: u64| rows.saturating_mul(cols.saturating_add(8));
        let norm = 8 * h;
        let layer = linear(3 * h, h)
            .saturating_add(linear(h, h))
            .saturating_add(linear(i, h))
            .saturating_add(linear(h, i))
            .saturating_add(2 * norm);
        let word_offset = HEADER_BYTES
            .saturating_add(positions.saturating_mul(h).saturating_mul(4))
            .saturating_add(norm)
            .saturating_add(layers.saturating_mul(layer));
        let total = word_offset.saturating_add(vocab.saturating_mul(4 + h));
        (word_offset, total)
    }
}

/// Reads the blob front to back, checking every read against its length.
struct Reader<'a, H> {
    host: &'a H,
    blob: usize,
    offset: u64,
}

impl<H: Host> Reader<'_, H> {
    /// Fills `dst` from the current offset.
    fn bytes(&mut self, dst: &mut [u8]) -> Result<(), WeightsError> {
        read_exact(self.host, self.blob, self.offset, dst)?;
        self.offset += dst.len() as u64;
        Ok(())
    }

    fn u32(&mut self) -> Result<usize, WeightsError> {
        let mut word = [0u8; 4];
        self.bytes(&mut word)?;
        Ok(u32::from_le_bytes(word) as usize)
    }

    /// `count` little-endian f32, each checked finite.
    fn f32s(&mut self, count: usize, field: &'static str) -> Result<Vec<f32>, WeightsError> {
        let mut out = Vec::with_capacity(count);
        let mut chunk = [0u8; CHUNK_BYTES];
        while out.len() < count {
            let bytes = &mut chunk[..(count - out.len()).min(CHUNK_BYTES / 4) * 4];
            let start = self.offset;
            self.bytes(bytes)?;
            for (at, word) in bytes.chunks_exact(4).enumerate() {
                let value = f32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                if !value.is_finite() {
                    let offset = start + 4 * at as u64;
                    return Err(WeightsError::NonFinite { field, offset });
                }
                out.push(value);
            }
        }
        Ok(out)
    }

    fn linear(&mut self, rows: usize, cols: usize) -> Result<Linear, WeightsError> {
        let mut weight = vec![0i8; rows * cols];
        self.bytes(plexus_guest::i8_as_u8_mut(&mut weight))?;
        Ok(Linear {
            rows,
            cols,
            weight,
            scale: self.f32s(rows, "scale")?,
            bias: self.f32s(rows, "bias")?,
        })
    }

    fn norm(&mut self, hidden: usize) -> Result<LayerNorm, WeightsError> {
        Ok(LayerNorm {
            gamma: self.f32s(hidden, "norm gamma")?,
            beta: self.f32s(hidden, "norm beta")?,
            eps: NORM_EPS,
        })
    }

    fn layer(&mut self, config: &Config) -> Result<Layer, WeightsError> {
        let (h, i) = (config.hidden, config.intermediate);
        Ok(Layer {
            qkv: self.linear(3 * h, h)?,
            attn_out: self.linear(h, h)?,
            attn_norm: self.norm(h)?,
            up: self.linear(i, h)?,
            down: self.linear(h, i)?,
            out_norm: self.norm(h)?,
        })
    }
}

/// Fills `dst` from `offset` of blob `blob`, however the host splits the copy.
fn read_exact<H: Host>(
    host: &H,
    blob: usize,
    offset: u64,
    dst: &mut [u8],
) -> Result<(), WeightsError> {
    let mut done = 0;
    while done < dst.len() {
        let at = offset + done as u64;
        match host.blob_read(blob, at, &mut dst[done..]) {
            Some(0) | None => return Err(WeightsError::Read(at)),
            Some(copied) => done += copied,
        }
    }
    Ok(())
}

impl Weights {
    /// Loads the weights from blob `blob`: the header, the position table, the norms and the
    /// layers; the word table stays in the blob ([`Weights::word_row`]).
    pub fn load<H: Host>(host: &H, blob: usize) -> Result<Weights, WeightsError> {
        let got = host.blob_len(blob).ok_or(WeightsError::MissingBlob(blob))?;
        if got < HEADER_BYTES {
            let expected = HEADER_BYTES;
            return Err(WeightsError::Length { expected, got });
        }
        let mut reader = Reader {
            host,
            blob,
            offset: 0,
        };
        let mut magic = [0u8; 8];
        reader.bytes(&mut magic)?;
        if magic != MAGIC {
            return Err(WeightsError::BadMagic);
        }
        let config = Config {
            hidden: reader.u32()?,
            layers: reader.u32()?,
            heads: reader.u32()?,
            intermediate: reader.u32()?,
            vocab: reader.u32()?,
            positions: reader.u32()?,
        };
        config.check()?;
        let (word_offset, expected) = config.layout();
        // Every allocation below is part of the blob, so this bounds them all (and keeps the
        // element counts within usize on wasm32).
        if got != expected || usize::try_from(expected).is_err() {
            return Err(WeightsError::Length { expected, got });
        }
        let position = reader.f32s(config.positions * config.hidden, "position")?;
        let embed_norm = reader.norm(config.hidden)?;
        let mut layers = Vec::with_capacity(config.layers);
        for _ in 0..config.layers {
            layers.push(reader.layer(&config)?);
        }
        debug_assert_eq!(reader.offset, word_offset);
        Ok(Weights {
            config,
            position,
            embed_norm,
            layers,
            word_offset,
        })
    }

    /// Writes row `id` of the word table, dequantized, into `dst` (`hidden` floats), reading it
    /// through `bytes` (at least `4 + hidden` bytes).
    ///
    /// # Panics
    /// If `id` is not below `vocab`, a buffer is too short, or the blob changed since
    /// [`Weights::load`] checked its length.
    pub fn word_row<H: Host>(
        &self,
        host: &H,
        blob: usize,
        id: u32,
        bytes: &mut [u8],
        dst: &mut [f32],
    ) {
        let hidden = self.config.hidden;
        assert!(
            (id as usize) < self.config.vocab,
            "token id {id} is outside the vocabulary ({})",
            self.config.vocab
        );
        let row = 4 + hidden;
        let bytes = &mut bytes[..row];
        let offset = self.word_offset + u64::from(id) * row as u64;
        if let Err(err) = read_exact(host, blob, offset, bytes) {
            panic!("word row {id}: {err}");
        }
        let scale = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        for (out, q) in dst[..hidden].iter_mut().zip(&bytes[4..]) {
            *out = f32::from(*q as i8) * scale;
        }
    }
}

/// Writes the blob for `weights` and the word table (`vocab` x `hidden` int8 in `word_q`, one
/// scale per row in `word_scale`); `weights.word_offset` is not read (the table goes where the
/// layers end).
///
/// # Panics
/// If a tensor's length disagrees with `weights.config` (a converter bug, not an input error).
#[cfg(not(target_arch = "wasm32"))]
pub fn encode(weights: &Weights, word_q: &[i8], word_scale: &[f32]) -> Vec<u8> {
    let c = &weights.config;
    let (h, i) = (c.hidden, c.intermediate);
    assert_eq!(weights.position.len(), c.positions * h, "position table");
    assert_eq!(weights.layers.len(), c.layers, "layer count");
    assert_eq!(word_q.len(), c.vocab * h, "word table");
    assert_eq!(word_scale.len(), c.vocab, "word scales");
    let (_, total) = c.layout();
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&MAGIC);
    for value in [
        c.hidden,
        c.layers,
        c.heads,
        c.intermediate,
        c.vocab,
        c.positions,
    ] {
        out.extend_from_slice(
            &u32::try_from(value)
                .expect("dimension fits u32")
                .to_le_bytes(),
        );
    }
    put_f32s(&mut out, &weights.position);
    put_norm(&mut out, &weights.embed_norm, h);
    for layer in &weights.layers {
        put_linear(&mut out, &layer.qkv, 3 * h, h);
        put_linear(&mut out, &layer.attn_out, h, h);
        put_norm(&mut out, &layer.attn_norm, h);
        put_linear(&mut out, &layer.up, i, h);
        put_linear(&mut out, &layer.down, h, i);
        put_norm(&mut out, &layer.out_norm, h);
    }
    for (row, scale) in word_q.chunks_exact(h).zip(word_scale) {
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend(row.iter().map(|q| *q as u8));
    }
    assert_eq!(out.len() as u64, total, "encoded length");
    out
}

#[cfg(not(target_arch = "wasm32"))]
fn put_f32s(out: &mut Vec<u8>, values: &[f32]) {
    for value in values {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn put_linear(out: &mut Vec<u8>, linear: &Linear, rows: usize, cols: usize) {
    assert!(
        linear.rows == rows
            && linear.cols == cols
            && linear.weight.len() == rows * cols
            && linear.scale.len() == rows
            && linear.bias.len() == rows,
        "linear layer shape: expected {rows} x {cols}"
    );
    out.extend(linear.weight.iter().map(|q| *q as u8));
    put_f32s(out, &linear.scale);
    put_f32s(out, &linear.bias);
}

#[cfg(not(target_arch = "wasm32"))]
fn put_norm(out: &mut Vec<u8>, norm: &LayerNorm, hidden: usize) {
    assert!(
        norm.gamma.len() == hidden && norm.beta.len() == hidden,
        "norm width: expected {hidden}"
    );
    put_f32s(out, &norm.gamma);
    put_f32s(out, &norm.beta);
}

#[cfg(test)]
mod tests;
