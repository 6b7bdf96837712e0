//! Transformer building blocks over the exact `gemm_i8` host call: per-row int8 quantization,
//! the int8 linear layer (W8A8, with an optional second pass over the activation residual),
//! LayerNorm, GELU, softmax and scaled dot-product attention, in f32 with `libm`.
//!
//! Float arithmetic in wasm is deterministic under the executor's admission (NaN canonicalization
//! on, relaxed SIMD refused) and `libm` is plain Rust, so every host computes the same bits; only
//! the matrix products leave the guest, and they are exact integers.
//!
//! Shapes are row-major: an activation is `rows` x `cols` f32, one token per row.

use crate::Host;
use alloc::vec;
use alloc::vec::Vec;

/// The largest magnitude of an int8 quantized value (symmetric: -127..=127, never -128).
pub const QUANT_MAX: f32 = 127.0;

/// Quantizes each row of `x` (`rows` x `cols`) to int8 with one symmetric scale per row:
/// `q[i][t] = round(x[i][t] / scale[i])`, `scale[i] = max_t |x[i][t]| / 127` (1 for an all-zero
/// row, so dequantizing gives zeros). Rounds half away from zero.
///
/// # Panics
/// If `x`, `q` or `scale` is shorter than the shape requires.
pub fn quantize_rows(x: &[f32], rows: usize, cols: usize, q: &mut [i8], scale: &mut [f32]) {
    for i in 0..rows {
        let row = &x[i * cols..(i + 1) * cols];
        let max = row.iter().fold(0f32, |m, v| m.max(libm::fabsf(*v)));
        let s = if max > 0.0 { max / QUANT_MAX } else { 1.0 };
        scale[i] = s;
        let inv = 1.0 / s;
        for (out, v) in q[i * cols..(i + 1) * cols].iter_mut().zip(row) {
            *out = libm::roundf(v * inv).clamp(-QUANT_MAX, QUANT_MAX) as i8;
        }
    }
}

/// An int8 linear layer `y = x W^T + b` with one scale per output row of `W`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Linear {
    /// Output features (rows of `weight`).
    pub rows: usize,
    /// Input features (columns of `weight`).
    pub cols: usize,
    /// `rows` x `cols`, row-major: `W[j][t] ~ weight[j * cols + t] * scale[j]`.
    pub weight: Vec<i8>,
    /// One dequantization scale per output row.
    pub scale: Vec<f32>,
    /// One bias per output feature.
    pub bias: Vec<f32>,
}

/// Scratch buffers for [`Linear::forward`], reused across calls (the guest allocator never frees,
/// so a job allocates these once, at its largest shape).
#[derive(Default)]
pub struct Scratch {
    q: Vec<i8>,
    scale: Vec<f32>,
    residual: Vec<f32>,
    acc: Vec<i32>,
}

impl Scratch {
    /// Buffers for activations up to `rows` x `cols_max` in and `rows` x `out_max` out.
    pub fn new(rows: usize, cols_max: usize, out_max: usize) -> Self {
        Scratch {
            q: vec![0; rows * cols_max],
            scale: vec![0.0; rows],
            residual: vec![0.0; rows * cols_max],
            acc: vec![0; rows * out_max],
        }
    }
}

impl Linear {
    /// Quantizes the float matrix `w` (`rows` x `cols`, row-major) with one scale per row.
    pub fn quantize(w: &[f32], rows: usize, cols: usize, bias: Vec<f32>) -> Self {
        let mut weight = vec![0i8; rows * cols];
        let mut scale = vec![0f32; rows];
        quantize_rows(w, rows, cols, &mut weight, &mut scale);
        Linear {
            rows,
            cols,
            weight,
            scale,
            bias,
        }
    }

    /// `y = x W^T + b` for `x` of `tokens` x `cols`, into `y` (`tokens` x `rows`).
    ///
    /// The activation is quantized per token row and multiplied exactly by `gemm_i8`. With
    /// `precise`, the rounding residual `x - dequant(quant(x))` is quantized and multiplied too
    /// (twice the multiply-adds), which removes most of the activation's quantization error.
    ///
    /// # Panics
    /// If a slice or the scratch is shorter than the shape requires.
    pub fn forward<H: Host>(
        &self,
        host: &H,
        x: &[f32],
        tokens: usize,
        y: &mut [f32],
        scratch: &mut Scratch,
        precise: bool,
    ) {
        let (m, n, k) = (tokens, self.rows, self.cols);
        let Scratch {
            q,
            scale,
            residual,
            acc,
        } = scratch;
        quantize_rows(x, m, k, q, scale);
        host.gemm_i8(m, n, k, &q[..m * k], &self.weight, &mut acc[..m * n], false);
        self.dequantize_into(&acc[..m * n], &scale[..m], m, y, false);
        if precise {
            for (i, s) in scale[..m].iter().enumerate() {
                let rows = i * k..(i + 1) * k;
                for ((r, v), qv) in residual[rows.clone()]
                    .iter_mut()
                    .zip(&x[rows.clone()])
                    .zip(&q[rows])
                {
                    *r = v - f32::from(*qv) * s;
                }
            }
            quantize_rows(&residual[..m * k], m, k, q, scale);
            host.gemm_i8(m, n, k, &q[..m * k], &self.weight, &mut acc[..m * n], false);
            self.dequantize_into(&acc[..m * n], &scale[..m], m, y, true);
        }
    }

    /// `y[i][j] (+)= acc[i][j] * row_scale[i] * scale[j]`, plus the bias on the first pass.
    fn dequantize_into(&self, acc: &[i32], row_scale: &[f32], m: usize, y: &mut [f32], add: bool) {
        let n = self.rows;
        for i in 0..m {
            let s = row_scale[i];
            let out = &mut y[i * n..(i + 1) * n];
            let cells = &acc[i * n..(i + 1) * n];
            for j in 0..n {
                let v = cells[j] as f32 * (s * self.scale[j]);
                out[j] = if add { out[j] + v } else { v + self.bias[j] };
            }
        }
    }
}

/// LayerNorm over the last dimension: `y = (x - mean) / sqrt(var + eps) * gamma + beta`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerNorm {
    /// Per-feature gain.
    pub gamma: Vec<f32>,
    /// Per-feature shift.
    pub beta: Vec<f32>,
    /// Added to the variance (BERT: 1e-12).
    pub eps: f32,
}

impl LayerNorm {
    /// Normalizes each of the `rows` rows of `x` in place (row width = `gamma.len()`).
    pub fn apply(&self, x: &mut [f32], rows: usize) {
        let cols = self.gamma.len();
        for row in x[..rows * cols].chunks_exact_mut(cols) {
            let mean = row.iter().sum::<f32>() / cols as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
            let inv = 1.0 / libm::sqrtf(var + self.eps);
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// GELU with the exact error function (BERT's `gelu`): `x / 2 * (1 + erf(x / sqrt 2))`, in place.
pub fn gelu(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + libm::erff(*v * core::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Softmax of `x` in place (max subtracted first, so large logits do not overflow).
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// Multi-head scaled dot-product self-attention over one sequence, in f32, no mask (every token
/// of the sequence attends to every other: the caller passes one sequence, unpadded).
///
/// `qkv` is `tokens` x `3 * hidden` (each row: the query, then the key, then the value, each
/// `heads` blocks of `hidden / heads`); the context goes to `out` (`tokens` x `hidden`). `scores`
/// needs `tokens` floats.
pub fn attention(
    qkv: &[f32],
    tokens: usize,
    hidden: usize,
    heads: usize,
    out: &mut [f32],
    scores: &mut [f32],
) {
    let dim = hidden / heads;
    let width = 3 * hidden;
    let norm = 1.0 / libm::sqrtf(dim as f32);
    for h in 0..heads {
        let (qo, ko, vo) = (h * dim, hidden + h * dim, 2 * hidden + h * dim);
        for i in 0..tokens {
            let q = &qkv[i * width + qo..i * width + qo + dim];
            for (j, score) in scores[..tokens].iter_mut().enumerate() {
                let k = &qkv[j * width + ko..j * width + ko + dim];
                *score = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * norm;
            }
            softmax(&mut scores[..tokens]);
            let ctx = &mut out[i * hidden + h * dim..i * hidden + (h + 1) * dim];
            ctx.fill(0.0);
            for (j, p) in scores[..tokens].iter().enumerate() {
                let v = &qkv[j * width + vo..j * width + vo + dim];
                for (c, x) in ctx.iter_mut().zip(v) {
                    *c += p * x;
                }
            }
        }
    }
}

/// The mean of the `rows` rows of `x` (`rows` x `cols`), L2-normalized, into `out` (`cols`):
/// sentence-transformers' mean pooling followed by its `Normalize` module.
pub fn mean_pool_normalized(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    out[..cols].fill(0.0);
    for row in x[..rows * cols].chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    let inv_rows = 1.0 / rows.max(1) as f32;
    for o in out[..cols].iter_mut() {
        *o *= inv_rows;
    }
    let norm = libm::sqrtf(out[..cols].iter().map(|v| v * v).sum::<f32>());
    // sentence-transformers divides by max(norm, 1e-12).
    let inv = 1.0 / norm.max(1e-12);
    for o in out[..cols].iter_mut() {
        *o *= inv;
    }
}

#[cfg(test)]
mod tests;
