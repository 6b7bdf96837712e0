//! Transformer building blocks over the exact host calls: per-row int8 quantization, the int8
//! linear layer (W8A8 over `gemm_i8`, with an optional second pass over the activation residual),
//! LayerNorm, GELU, softmax and scaled dot-product attention, in f32.
//!
//! The row-wise float work runs in the host behind the exact float host calls
//! (`quantize_rows`, `dequantize_rows`, `layer_norm`, `gelu`, `attention`, `kv_attention`; see
//! `jobs/README.md`), the same way the matrix products run behind `gemm_i8`: their results are
//! defined bit for bit by [`kernels`], the one source the executor runs for a metered job and
//! [`Host`]'s default methods run natively, so both run at native speed and agree on every bit.
//! What stays in the guest (the precise pass's residual, pooling) is IEEE-exact wasm under the
//! executor's admission (NaN canonicalization on, relaxed SIMD refused).
//!
//! Shapes are row-major: an activation is `rows` x `cols` f32, one token per row.

use crate::Host;
use alloc::vec;
use alloc::vec::Vec;

pub mod kernels;

pub use kernels::{
    QUANT_MAX, canonicalize_nans, erfc_approx, exp_approx, quantize_rows, round_ties_even, softmax,
};

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
        self.forward_residual(host, x, tokens, y, scratch, precise, None);
    }

    /// [`Linear::forward`], plus, with `residual_weights`, the weights' own rounding residual:
    /// a second int8 matrix of the same shape (`rows * cols` values) with its own row scales
    /// (`rows`), so that `W ~ q W_q + r W_r` carries about 15 bits, multiplied by the
    /// activation's first int8 pass. A model whose float weights an 8-bit copy rounds too
    /// coarsely (one converted from 4-bit blocks) keeps them this way; the residual is borrowed,
    /// so a job can stream it into one reused buffer.
    ///
    /// # Panics
    /// As [`Linear::forward`], and if `residual_weights` is not of this layer's shape.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_residual<H: Host>(
        &self,
        host: &H,
        x: &[f32],
        tokens: usize,
        y: &mut [f32],
        scratch: &mut Scratch,
        precise: bool,
        residual_weights: Option<(&[i8], &[f32])>,
    ) {
        let (m, n, k) = (tokens, self.rows, self.cols);
        let Scratch {
            q,
            scale,
            residual,
            acc,
        } = scratch;
        host.quantize_rows(m, k, &x[..m * k], &mut q[..m * k], &mut scale[..m]);
        host.gemm_i8(m, n, k, &q[..m * k], &self.weight, &mut acc[..m * n], false);
        let (col_scale, bias) = (&self.scale[..n], &self.bias[..n]);
        host.dequantize_rows(m, n, &acc[..m * n], &scale[..m], col_scale, bias, y, false);
        if let Some((weight, weight_scale)) = residual_weights {
            assert!(
                weight.len() == n * k && weight_scale.len() == n,
                "a residual of another shape"
            );
            host.gemm_i8(m, n, k, &q[..m * k], weight, &mut acc[..m * n], false);
            let rows = &scale[..m];
            host.dequantize_rows(m, n, &acc[..m * n], rows, weight_scale, bias, y, true);
        }
        if precise {
            rounding_residual(
                &x[..m * k],
                &q[..m * k],
                &scale[..m],
                &mut residual[..m * k],
            );
            host.quantize_rows(m, k, &residual[..m * k], &mut q[..m * k], &mut scale[..m]);
            host.gemm_i8(m, n, k, &q[..m * k], &self.weight, &mut acc[..m * n], false);
            host.dequantize_rows(m, n, &acc[..m * n], &scale[..m], col_scale, bias, y, true);
        }
    }
}

/// What per-row int8 quantization rounded off: `out = x - q * scale[row]` for `x` of
/// `scale.len()` rows (its quantization `q` and row scales), the input of a precise second pass.
///
/// # Panics
/// If `q` or `out` is shorter than `x`.
pub fn rounding_residual(x: &[f32], q: &[i8], scale: &[f32], out: &mut [f32]) {
    let cols = x.len() / scale.len().max(1);
    for (i, s) in scale.iter().enumerate() {
        let row = i * cols..(i + 1) * cols;
        for ((r, v), qv) in out[row.clone()]
            .iter_mut()
            .zip(&x[row.clone()])
            .zip(&q[row])
        {
            *r = v - f32::from(*qv) * s;
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
    /// Normalizes each of the `rows` rows of `x` in place (row width = `gamma.len()`), through the
    /// `layer_norm` host call ([`kernels::layer_norm`]).
    ///
    /// # Panics
    /// If `x` is shorter than `rows` rows or `beta` shorter than `gamma` (on wasm32: a trap).
    pub fn apply<H: Host>(&self, host: &H, x: &mut [f32], rows: usize) {
        let cols = self.gamma.len();
        host.layer_norm(rows, cols, x, &self.gamma, &self.beta, self.eps);
    }
}

/// GELU in place, through the `gelu` host call ([`kernels::gelu`]).
pub fn gelu<H: Host>(host: &H, x: &mut [f32]) {
    host.gelu(x);
}

/// Multi-head attention over one sequence, through the `attention` host call
/// ([`kernels::attention`]): `qkv` is `tokens` x `3 * hidden`, the context goes to `out`
/// (`tokens` x `hidden`).
///
/// # Panics
/// If a slice is short, `heads` is 0 or does not divide `hidden` (on wasm32: a trap).
pub fn attention<H: Host>(
    host: &H,
    qkv: &[f32],
    tokens: usize,
    hidden: usize,
    heads: usize,
    out: &mut [f32],
) {
    host.attention(tokens, hidden, heads, qkv, out);
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
    let norm = libm::sqrtf(kernels::dot(&out[..cols], &out[..cols]));
    // sentence-transformers divides by max(norm, 1e-12).
    let inv = 1.0 / norm.max(1e-12);
    for o in out[..cols].iter_mut() {
        *o *= inv;
    }
}

#[cfg(test)]
mod tests;
