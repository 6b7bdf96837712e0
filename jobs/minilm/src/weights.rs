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

use plexus_guest::nn::{LayerNorm, Linear};

/// The blob's first bytes.
pub const MAGIC: [u8; 8] = *b"PLXMLM01";
/// BERT's LayerNorm epsilon.
pub const NORM_EPS: f32 = 1e-12;

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
