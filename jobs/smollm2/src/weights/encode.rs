//! Writing the format (native only): `cargo xtask models` and the tests call it.

use super::{
    Config, HEADER_BYTES, LAYER_MAGIC, Layer, Linear, MAGIC, TABLE_ENTRY_BYTES, layer_at, layout,
};
use alloc::vec::Vec;

/// A whole model in memory, as the converter makes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The model's shape.
    pub config: Config,
    /// The output RMSNorm's weight (`hidden` f32).
    pub output_norm: Vec<f32>,
    /// The embedding table (also the output head): `vocab` x `hidden` int8, row-major.
    pub embed: Vec<i8>,
    /// One scale per embedding row.
    pub embed_scale: Vec<f32>,
    /// The layers, in order.
    pub layers: Vec<Layer>,
}

/// How many layers each layer blob holds so that none is over `blob_bytes_max` bytes, spread as
/// evenly as that allows (30 layers of 3.56 MB under 64 MiB: two blobs of 15). `None` if not
/// even one layer fits.
pub fn layers_per_blob(config: &Config, blob_bytes_max: u64) -> Option<usize> {
    let room = blob_bytes_max.checked_sub(super::LAYER_HEADER_BYTES)?;
    let fit = usize::try_from(room / config.layer_bytes()).ok()?;
    if fit == 0 {
        return None;
    }
    let blobs = config.layers.div_ceil(fit);
    Some(config.layers.div_ceil(blobs))
}

fn u32_le(out: &mut Vec<u8>, value: usize) {
    let value = u32::try_from(value).expect("a dimension fits u32");
    out.extend_from_slice(&value.to_le_bytes());
}

fn f32s_le(out: &mut Vec<u8>, values: &[f32]) {
    for value in values {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn linear_le(out: &mut Vec<u8>, linear: &Linear, (rows, cols): (usize, usize)) {
    assert!(
        linear.rows == rows
            && linear.cols == cols
            && linear.weight.len() == rows * cols
            && linear.scale.len() == rows
            && linear.bias.iter().all(|b| *b == 0.0),
        "linear layer: expected {rows} x {cols} without bias"
    );
    out.extend(linear.weight.iter().map(|q| *q as u8));
    f32s_le(out, &linear.scale);
}

/// The blobs for `model`: the head blob, then the layer blobs, `layers_per_blob` layers each
/// (the last may hold fewer).
///
/// # Panics
/// If a tensor's shape disagrees with `model.config`, a matrix has a bias, the config fails
/// [`Config::check`] or `layers_per_blob` is 0 (converter bugs, not input errors).
pub fn encode(model: &Model, layers_per_blob: usize) -> Vec<Vec<u8>> {
    let c = &model.config;
    c.check().expect("a valid config");
    assert!(layers_per_blob > 0, "layers per blob");
    assert_eq!(model.layers.len(), c.layers, "layer count");
    assert_eq!(model.output_norm.len(), c.hidden, "output norm");
    assert_eq!(model.embed.len(), c.vocab * c.hidden, "embedding table");
    assert_eq!(model.embed_scale.len(), c.vocab, "embedding scales");
    let layout = layout(c, layers_per_blob);
    let mut head = Vec::with_capacity(layout.head_len as usize);
    head.extend_from_slice(&MAGIC);
    for value in [
        c.vocab, c.hidden, c.layers, c.heads, c.kv_heads, c.head_dim, c.ffn, c.context,
    ] {
        u32_le(&mut head, value);
    }
    f32s_le(&mut head, &[c.rope_theta, c.norm_eps]);
    u32_le(&mut head, layout.blobs.len());
    u32_le(&mut head, layers_per_blob);
    for offset in [layout.output_norm, layout.embed, layout.embed_scale] {
        head.extend_from_slice(&offset.to_le_bytes());
    }
    assert_eq!(head.len() as u64, HEADER_BYTES, "fixed header");
    for index in 0..c.layers {
        let (blob, offset) = layer_at(c, layers_per_blob, index);
        u32_le(&mut head, blob);
        u32_le(&mut head, 0);
        head.extend_from_slice(&offset.to_le_bytes());
    }
    assert_eq!(
        head.len() as u64,
        HEADER_BYTES + TABLE_ENTRY_BYTES * c.layers as u64
    );
    f32s_le(&mut head, &model.output_norm);
    head.extend(model.embed.iter().map(|q| *q as u8));
    f32s_le(&mut head, &model.embed_scale);
    assert_eq!(head.len() as u64, layout.head_len, "head blob length");
    let mut blobs = Vec::with_capacity(1 + layout.blobs.len());
    blobs.push(head);
    for (k, (first, count, len)) in layout.blobs.iter().enumerate() {
        let mut blob = Vec::with_capacity(*len as usize);
        blob.extend_from_slice(&LAYER_MAGIC);
        for value in [k + 1, *first, *count, 0] {
            u32_le(&mut blob, value);
        }
        for layer in &model.layers[*first..first + count] {
            assert_eq!(layer.attn_norm.len(), c.hidden, "attention norm");
            assert_eq!(layer.ffn_norm.len(), c.hidden, "feed-forward norm");
            f32s_le(&mut blob, &layer.attn_norm);
            f32s_le(&mut blob, &layer.ffn_norm);
            let shapes = c.linears();
            linear_le(&mut blob, &layer.qkv, shapes[0]);
            linear_le(&mut blob, &layer.out, shapes[1]);
            linear_le(&mut blob, &layer.gate_up, shapes[2]);
            linear_le(&mut blob, &layer.down, shapes[3]);
        }
        assert_eq!(blob.len() as u64, *len, "layer blob {} length", k + 1);
        blobs.push(blob);
    }
    blobs
}
