//! The weights blobs: SmolLM2-135M-Instruct with every matrix quantized to int8 with one f32
//! scale per output row (`plexus_guest::nn::quantize_rows`, the SDK's one rule), written by
//! `cargo xtask models` and read by the job one transformer layer at a time.
//!
//! The int8 model is 135 MB: more than the guest's memory (64 MiB) and more than one blob may
//! hold (`BLOB_BYTES_MAX`, 64 MiB). So the weights are a *head blob* and `layer_blobs` *layer
//! blobs* after it in the job's blob order (head at index `base`, layer blob `k` at `base + k`,
//! `k = 1..=layer_blobs`), and the head's table says where every layer is: a job keeps the
//! header (a few hundred bytes) in memory and reads the layer it is about to run into one
//! reused [`Layer`] ([`Header::read_layer`]), and the embedding rows it needs
//! ([`Header::embed_rows`]: one row per token to embed, or a chunk of the tied output head).
//!
//! Every integer and float is little-endian. The head blob:
//!
//! | offset | field |
//! | --- | --- |
//! | 0 | magic `PLXSML01` (8 bytes) |
//! | 8 | `vocab`, `hidden`, `layers`, `heads`, `kv_heads`, `head_dim`, `ffn`, `context`: 8 x u32 |
//! | 40 | `rope_theta` f32, `norm_eps` f32 |
//! | 48 | `layer_blobs` u32, `layers_per_blob` u32 |
//! | 56 | offsets in this blob of the output norm, the embedding table, its scales: 3 x u64 |
//! | 80 | the layer table: `layers` x (`blob` u32 = k, `0` u32, `offset` u64 in layer blob k) |
//! | 80 + 16 `layers` | output RMSNorm weight: `hidden` f32 |
//! | | the embedding table (tied: also the output head): `vocab` x `hidden` i8, row-major |
//! | | its scales: `vocab` f32 |
//!
//! Layer blob `k`: magic `PLXSMLL1` (8 bytes); `k`, its first layer, its layer count, 0
//! (4 x u32); then its layers back to back, `layers_per_blob` of them in every blob but the
//! last (the layers split as evenly as the blob size allows). One layer, in this order:
//!
//! | tensor | shape | |
//! | --- | --- | --- |
//! | attention RMSNorm weight | `hidden` f32 | |
//! | feed-forward RMSNorm weight | `hidden` f32 | |
//! | `qkv` | (`heads` + 2 `kv_heads`) `head_dim` x `hidden` i8, then one f32 scale per row | rows: q, then k, then v |
//! | `out` | `hidden` x `heads` `head_dim` i8, then `hidden` f32 scales | the attention output |
//! | `gate_up` | 2 `ffn` x `hidden` i8, then 2 `ffn` f32 scales | rows: gate, then up |
//! | `down` | `hidden` x `ffn` i8, then `hidden` f32 scales | |
//!
//! A matrix is `rows` x `cols` with `W[j][t] ~ q[j * cols + t] * scale[j]` (no biases: llama
//! has none). The model it encodes is llama as llama.cpp runs it: `x = embed[token]`; per layer
//! `x += out(attention(rope(q), rope(k), v))` on `rms_norm(x) * attn_norm`, then
//! `x += down(silu(gate) * up)` on `rms_norm(x) * ffn_norm`; logits `= embed * (rms_norm(x) *
//! output_norm)`. RMSNorm is `x / sqrt(mean(x^2) + norm_eps)`. The q and k rows are in the GGUF
//! file's order, which llama.cpp's converter permuted for its "normal" rope: within each head,
//! rope rotates adjacent pairs `(2i, 2i+1)` by `pos * rope_theta^(-2i / head_dim)` (not the
//! halves, as Hugging Face's `rotate_half` does on the unpermuted rows). Query head `h` attends
//! with key/value head `h / (heads / kv_heads)` (grouped-query attention).
//!
//! [`Header::load`] reads and checks the header, the table (it must be the one [`layout`] gives,
//! so a layer never overlaps another or the header) and every blob's length, before it
//! allocates anything the blobs size: a corrupt header cannot make it allocate more than the
//! blobs hold. Floats are read through a small stack buffer and checked finite. `encode`
//! (native only) writes the format; `cargo xtask models` calls it.

use alloc::vec;
use alloc::vec::Vec;
use plexus_guest::Host;
use plexus_guest::nn::Linear;

#[cfg(not(target_arch = "wasm32"))]
mod encode;
#[cfg(not(target_arch = "wasm32"))]
pub use encode::{Model, encode, layers_per_blob};

/// The head blob's first bytes.
pub const MAGIC: [u8; 8] = *b"PLXSML01";
/// A layer blob's first bytes.
pub const LAYER_MAGIC: [u8; 8] = *b"PLXSMLL1";
/// The head blob's fixed part, before the layer table.
pub const HEADER_BYTES: u64 = 80;
/// One entry of the layer table.
pub const TABLE_ENTRY_BYTES: u64 = 16;
/// A layer blob's header.
pub const LAYER_HEADER_BYTES: u64 = 24;
/// The largest value of any dimension (bounds every size computed from the header).
pub const DIM_MAX: usize = 1 << 20;
/// The most layers (bounds the table the loader reads).
pub const LAYERS_MAX: usize = 1024;
/// Floats are read through a stack buffer of this many bytes (no heap copy of a blob).
const CHUNK_BYTES: usize = 4096;

/// Why the weights blobs cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    /// The job names no blob at this index.
    #[error("the job has no weights blob {0}")]
    MissingBlob(usize),
    /// A blob does not start with its magic.
    #[error(
        "weights blob {0} does not start with its magic (PLXSML01, or PLXSMLL1 for a layer blob)"
    )]
    BadMagic(usize),
    /// A blob is not exactly as long as the header declares.
    #[error("weights blob {blob} is {got} bytes; the header declares {expected}")]
    Length {
        /// The blob's index.
        blob: usize,
        /// The length the header implies.
        expected: u64,
        /// The blob's length.
        got: u64,
    },
    /// The header declares a shape the format cannot hold.
    #[error("the weights header declares {0}")]
    Shape(&'static str),
    /// The layer table, or a layer blob's header, is not the canonical layout.
    #[error("layer {0}'s place in the table or its blob header is not the format's layout")]
    Table(usize),
    /// A float that is NaN or infinite.
    #[error("non-finite {field} at byte {offset} of weights blob {blob}")]
    NonFinite {
        /// Which tensor it belongs to.
        field: &'static str,
        /// The blob's index.
        blob: usize,
        /// Its offset in the blob.
        offset: u64,
    },
    /// The host returned fewer bytes than the blob's checked length promised.
    #[error("the host served no bytes at offset {offset} of weights blob {blob}")]
    Read {
        /// The blob's index.
        blob: usize,
        /// The offset.
        offset: u64,
    },
    /// A row or layer outside the model.
    #[error("{what} {index} is outside the model")]
    Index {
        /// "layer", "matrix" or "embedding row".
        what: &'static str,
        /// The index asked for.
        index: usize,
    },
}

/// The model's shape and constants, as the head blob declares them (read from the GGUF file's
/// metadata by the converter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Rows of the embedding table and of the output head (49,152).
    pub vocab: usize,
    /// Width of a token's vector (576).
    pub hidden: usize,
    /// Transformer layers (30).
    pub layers: usize,
    /// Query heads (9).
    pub heads: usize,
    /// Key/value heads (3): each serves `heads / kv_heads` query heads.
    pub kv_heads: usize,
    /// Width of one head (64).
    pub head_dim: usize,
    /// Width of the feed-forward layer (1,536).
    pub ffn: usize,
    /// The context the model was trained for (8,192 positions).
    pub context: usize,
    /// RoPE's frequency base (100,000).
    pub rope_theta: f32,
    /// RMSNorm's epsilon (1e-5).
    pub norm_eps: f32,
}

impl Config {
    /// Rows of the query projection.
    pub fn q_rows(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Rows of the key projection (and of the value projection).
    pub fn kv_rows(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// The four matrices of a layer, `(rows, cols)`, in blob order: qkv, out, gate_up, down.
    pub fn linears(&self) -> [(usize, usize); 4] {
        let h = self.hidden;
        [
            (self.q_rows() + 2 * self.kv_rows(), h),
            (h, self.q_rows()),
            (2 * self.ffn, h),
            (h, self.ffn),
        ]
    }

    /// Bytes of one layer (its two norms and four matrices with their scales).
    pub fn layer_bytes(&self) -> u64 {
        self.matrix_offset(4)
    }

    /// Where matrix `which` (in [`Config::linears`]' order) starts in a layer: after the two
    /// norms (`hidden` f32 each) and the matrices before it (`rows * cols` int8, then `rows` f32
    /// scales each); `which` = 4 gives the layer's length.
    fn matrix_offset(&self, which: usize) -> u64 {
        let norms = 8 * self.hidden as u64;
        self.linears()[..which]
            .iter()
            .fold(norms, |sum, (rows, cols)| {
                sum + (*rows as u64) * (*cols as u64 + 4)
            })
    }

    /// Checks the shape the format can hold: every dimension positive and at most [`DIM_MAX`]
    /// (so no size computed from them overflows u64), at most [`LAYERS_MAX`] layers, `kv_heads`
    /// dividing `heads`, an even `head_dim`, finite positive constants.
    pub fn check(&self) -> Result<(), WeightsError> {
        let dims = [
            self.vocab,
            self.hidden,
            self.layers,
            self.heads,
            self.kv_heads,
            self.head_dim,
            self.ffn,
            self.context,
        ];
        if dims.iter().any(|d| *d == 0 || *d > DIM_MAX) {
            return Err(WeightsError::Shape("a dimension of 0 or over 2^20"));
        }
        if self.layers > LAYERS_MAX {
            return Err(WeightsError::Shape("over 1,024 layers"));
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return Err(WeightsError::Shape("kv_heads that do not divide heads"));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(WeightsError::Shape("an odd head_dim (rope rotates pairs)"));
        }
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.rope_theta) || !positive(self.norm_eps) {
            return Err(WeightsError::Shape(
                "a rope_theta or norm_eps not finite and positive",
            ));
        }
        Ok(())
    }
}

/// Where the canonical layout puts layer `index`: (layer blob k, offset in it).
fn layer_at(config: &Config, layers_per_blob: usize, index: usize) -> (usize, u64) {
    let blob = 1 + index / layers_per_blob;
    let offset = LAYER_HEADER_BYTES + (index % layers_per_blob) as u64 * config.layer_bytes();
    (blob, offset)
}

/// The canonical layout for `config` with `layers_per_blob` layers per layer blob: the head
/// blob's section offsets (output norm, embedding, its scales) and length, and every layer blob's
/// `(first layer, count, length)`.
pub fn layout(config: &Config, layers_per_blob: usize) -> Layout {
    let (h, vocab, layers) = (config.hidden as u64, config.vocab as u64, config.layers);
    let output_norm = HEADER_BYTES + TABLE_ENTRY_BYTES * layers as u64;
    let embed = output_norm + 4 * h;
    let embed_scale = embed + vocab * h;
    let head_len = embed_scale + 4 * vocab;
    let per = layers_per_blob.max(1);
    let blobs = (0..layers.div_ceil(per))
        .map(|k| {
            let first = k * per;
            let count = per.min(layers - first);
            (
                first,
                count,
                LAYER_HEADER_BYTES + count as u64 * config.layer_bytes(),
            )
        })
        .collect();
    Layout {
        output_norm,
        embed,
        embed_scale,
        head_len,
        blobs,
    }
}

/// Where everything is, as [`layout`] computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the output norm in the head blob.
    pub output_norm: u64,
    /// Offset of the embedding table in the head blob.
    pub embed: u64,
    /// Offset of the embedding scales in the head blob.
    pub embed_scale: u64,
    /// The head blob's length.
    pub head_len: u64,
    /// Per layer blob (k = 1, 2, ...): its first layer, its layer count, its length.
    pub blobs: Vec<(usize, usize, u64)>,
}

/// One transformer layer, read from its blob ([`Header::read_layer`]). The matrices' biases are
/// zeros (llama has none; `Linear` carries them for the layers that do).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// RMSNorm weight before attention.
    pub attn_norm: Vec<f32>,
    /// RMSNorm weight before the feed-forward block.
    pub ffn_norm: Vec<f32>,
    /// Query, key and value stacked: rows `0..q_rows` query, then key, then value.
    pub qkv: Linear,
    /// The attention output projection.
    pub out: Linear,
    /// Gate and up stacked: rows `0..ffn` gate (SiLU), then up.
    pub gate_up: Linear,
    /// The feed-forward projection back to `hidden`.
    pub down: Linear,
}

impl Layer {
    /// A zeroed layer of `config`'s shape: the buffers [`Header::read_layer`] fills (a job
    /// allocates one and reuses it for every layer).
    pub fn zeroed(config: &Config) -> Layer {
        let [qkv, out, gate_up, down] = config.linears().map(|(rows, cols)| Linear {
            rows,
            cols,
            weight: vec![0; rows * cols],
            scale: vec![0.0; rows],
            bias: vec![0.0; rows],
        });
        Layer {
            attn_norm: vec![0.0; config.hidden],
            ffn_norm: vec![0.0; config.hidden],
            qkv,
            out,
            gate_up,
            down,
        }
    }
}

/// Where layer `index` is: layer blob `blob` (relative to the head blob), at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerAt {
    /// The layer blob, `1..=layer_blobs`: the job's blob `base + blob`.
    pub blob: usize,
    /// The layer's offset in that blob.
    pub offset: u64,
}

/// The head blob's header, checked against every blob's length ([`Header::load`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The model's shape.
    pub config: Config,
    /// The job's blob index of the head blob; layer blob `k` is at `base + k`.
    pub base: usize,
    /// Layers per layer blob (the last may hold fewer).
    pub layers_per_blob: usize,
    /// Offset of the output norm in the head blob.
    pub output_norm: u64,
    /// Offset of the embedding table (`vocab` x `hidden` i8) in the head blob.
    pub embed: u64,
    /// Offset of the embedding scales (`vocab` f32) in the head blob.
    pub embed_scale: u64,
    /// Where every layer is, in order.
    pub layers: Vec<LayerAt>,
}

/// Reads blob `blob` at increasing offsets, checking every read.
struct Reader<'a, H> {
    host: &'a H,
    blob: usize,
    offset: u64,
}

impl<H: Host> Reader<'_, H> {
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

    fn u64(&mut self) -> Result<u64, WeightsError> {
        let mut word = [0u8; 8];
        self.bytes(&mut word)?;
        Ok(u64::from_le_bytes(word))
    }

    fn f32(&mut self) -> Result<f32, WeightsError> {
        Ok(f32::from_bits(self.u32()? as u32))
    }

    /// Fills `out` with little-endian f32, each checked finite.
    fn f32s(&mut self, out: &mut [f32], field: &'static str) -> Result<(), WeightsError> {
        let mut chunk = [0u8; CHUNK_BYTES];
        for part in out.chunks_mut(CHUNK_BYTES / 4) {
            let bytes = &mut chunk[..part.len() * 4];
            let start = self.offset;
            self.bytes(bytes)?;
            for (at, (value, word)) in part.iter_mut().zip(bytes.chunks_exact(4)).enumerate() {
                *value = f32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                if !value.is_finite() {
                    let (blob, offset) = (self.blob, start + 4 * at as u64);
                    return Err(WeightsError::NonFinite {
                        field,
                        blob,
                        offset,
                    });
                }
            }
        }
        Ok(())
    }

    fn linear(&mut self, linear: &mut Linear) -> Result<(), WeightsError> {
        self.matrix(&mut linear.weight, &mut linear.scale)
    }

    fn matrix(&mut self, weight: &mut [i8], scale: &mut [f32]) -> Result<(), WeightsError> {
        self.bytes(plexus_guest::i8_as_u8_mut(weight))?;
        self.f32s(scale, "scale")
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
            Some(0) | None => return Err(WeightsError::Read { blob, offset: at }),
            Some(copied) => done += copied,
        }
    }
    Ok(())
}

/// Fails unless blob `blob` is exactly `expected` bytes long.
fn check_len<H: Host>(host: &H, blob: usize, expected: u64) -> Result<(), WeightsError> {
    let got = host.blob_len(blob).ok_or(WeightsError::MissingBlob(blob))?;
    // The length bounds every allocation sized from the header, and keeps offsets in usize.
    if got != expected || usize::try_from(expected).is_err() {
        return Err(WeightsError::Length {
            blob,
            expected,
            got,
        });
    }
    Ok(())
}

impl Header {
    /// Reads the head blob's header at blob index `base`, and checks it: the shape
    /// ([`Config::check`]), the table and section offsets against [`layout`], the head blob's and
    /// every layer blob's length, and every layer blob's header.
    pub fn load<H: Host>(host: &H, base: usize) -> Result<Header, WeightsError> {
        let got = host.blob_len(base).ok_or(WeightsError::MissingBlob(base))?;
        if got < HEADER_BYTES {
            let (blob, expected) = (base, HEADER_BYTES);
            return Err(WeightsError::Length {
                blob,
                expected,
                got,
            });
        }
        let mut reader = Reader {
            host,
            blob: base,
            offset: 0,
        };
        let mut magic = [0u8; 8];
        reader.bytes(&mut magic)?;
        if magic != MAGIC {
            return Err(WeightsError::BadMagic(base));
        }
        let config = Config {
            vocab: reader.u32()?,
            hidden: reader.u32()?,
            layers: reader.u32()?,
            heads: reader.u32()?,
            kv_heads: reader.u32()?,
            head_dim: reader.u32()?,
            ffn: reader.u32()?,
            context: reader.u32()?,
            rope_theta: reader.f32()?,
            norm_eps: reader.f32()?,
        };
        config.check()?;
        let layer_blobs = reader.u32()?;
        let layers_per_blob = reader.u32()?;
        if layers_per_blob == 0 || config.layers.div_ceil(layers_per_blob) != layer_blobs {
            return Err(WeightsError::Shape(
                "a layer blob count that does not fit the layers",
            ));
        }
        let layout = layout(&config, layers_per_blob);
        let sections = [reader.u64()?, reader.u64()?, reader.u64()?];
        if sections != [layout.output_norm, layout.embed, layout.embed_scale] {
            return Err(WeightsError::Shape(
                "section offsets other than the format's",
            ));
        }
        check_len(host, base, layout.head_len)?;
        let mut layers = Vec::with_capacity(config.layers);
        for index in 0..config.layers {
            let (blob, zero, offset) = (reader.u32()?, reader.u32()?, reader.u64()?);
            if (blob, offset) != layer_at(&config, layers_per_blob, index) || zero != 0 {
                return Err(WeightsError::Table(index));
            }
            layers.push(LayerAt { blob, offset });
        }
        for (k, (first, count, len)) in layout.blobs.iter().enumerate() {
            let blob = base + k + 1;
            check_len(host, blob, *len)?;
            let mut layer_reader = Reader {
                host,
                blob,
                offset: 0,
            };
            layer_reader.bytes(&mut magic)?;
            if magic != LAYER_MAGIC {
                return Err(WeightsError::BadMagic(blob));
            }
            let mut fields = [0usize; 4];
            for field in &mut fields {
                *field = layer_reader.u32()?;
            }
            if fields != [k + 1, *first, *count, 0] {
                return Err(WeightsError::Table(*first));
            }
        }
        Ok(Header {
            config,
            base,
            layers_per_blob,
            output_norm: layout.output_norm,
            embed: layout.embed,
            embed_scale: layout.embed_scale,
            layers,
        })
    }

    /// Where layer `index` is, if the model has it.
    fn find_layer(&self, index: usize) -> Result<&LayerAt, WeightsError> {
        self.layers.get(index).ok_or(WeightsError::Index {
            what: "layer",
            index,
        })
    }

    /// Reads layer `index` into `layer` (made by [`Layer::zeroed`] for this header's config).
    ///
    /// # Panics
    /// If `layer`'s buffers are not of the config's shape.
    pub fn read_layer<H: Host>(
        &self,
        host: &H,
        index: usize,
        layer: &mut Layer,
    ) -> Result<(), WeightsError> {
        let at = self.find_layer(index)?;
        let shapes = self.config.linears();
        for ((linear, (rows, cols)), name) in [&layer.qkv, &layer.out, &layer.gate_up, &layer.down]
            .into_iter()
            .zip(shapes)
            .zip(["qkv", "out", "gate_up", "down"])
        {
            assert!(
                linear.rows == rows
                    && linear.cols == cols
                    && linear.weight.len() == rows * cols
                    && linear.scale.len() == rows,
                "layer buffer {name}: expected {rows} x {cols}"
            );
        }
        let mut reader = Reader {
            host,
            blob: self.base + at.blob,
            offset: at.offset,
        };
        reader.f32s(&mut layer.attn_norm[..self.config.hidden], "attention norm")?;
        reader.f32s(
            &mut layer.ffn_norm[..self.config.hidden],
            "feed-forward norm",
        )?;
        reader.linear(&mut layer.qkv)?;
        reader.linear(&mut layer.out)?;
        reader.linear(&mut layer.gate_up)?;
        reader.linear(&mut layer.down)
    }

    /// Reads matrix `which` of layer `index` (in [`Config::linears`]' order: 0 `qkv`, 1 `out`,
    /// 2 `gate_up`, 3 `down`) into the front of `weight` and `scale`, and returns its
    /// `(rows, cols)`: one pair of buffers, sized for the largest of the four, serves them all.
    ///
    /// # Panics
    /// If the buffers are shorter than the matrix.
    pub fn read_matrix<H: Host>(
        &self,
        host: &H,
        index: usize,
        which: usize,
        weight: &mut [i8],
        scale: &mut [f32],
    ) -> Result<(usize, usize), WeightsError> {
        let at = self.find_layer(index)?;
        let shapes = self.config.linears();
        let (rows, cols) = *shapes.get(which).ok_or(WeightsError::Index {
            what: "matrix",
            index: which,
        })?;
        let mut reader = Reader {
            host,
            blob: self.base + at.blob,
            offset: at.offset + self.config.matrix_offset(which),
        };
        reader.matrix(&mut weight[..rows * cols], &mut scale[..rows])?;
        Ok((rows, cols))
    }

    /// Reads embedding rows `first..first + scale.len()`: their int8 values into `q` (`hidden`
    /// per row) and their scales into `scale`. One row embeds a token; a run of rows is a chunk
    /// of the tied output head.
    ///
    /// # Panics
    /// If `q` is not `scale.len() * hidden` long.
    pub fn embed_rows<H: Host>(
        &self,
        host: &H,
        first: usize,
        q: &mut [i8],
        scale: &mut [f32],
    ) -> Result<(), WeightsError> {
        let hidden = self.config.hidden;
        assert_eq!(q.len(), scale.len() * hidden, "embedding rows buffer");
        let end = first.saturating_add(scale.len());
        if end > self.config.vocab {
            return Err(WeightsError::Index {
                what: "embedding row",
                index: end - 1,
            });
        }
        let blob = self.base;
        read_exact(
            host,
            blob,
            self.embed + (first * hidden) as u64,
            plexus_guest::i8_as_u8_mut(q),
        )?;
        let offset = self.embed_scale + 4 * first as u64;
        Reader { host, blob, offset }.f32s(scale, "embedding scale")
    }

    /// The output RMSNorm's weight (`hidden` f32).
    pub fn read_output_norm<H: Host>(&self, host: &H) -> Result<Vec<f32>, WeightsError> {
        let mut norm = vec![0.0; self.config.hidden];
        let (blob, offset) = (self.base, self.output_norm);
        Reader { host, blob, offset }.f32s(&mut norm, "output norm")?;
        Ok(norm)
    }
}

#[cfg(test)]
mod tests;
