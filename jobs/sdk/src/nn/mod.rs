//! Transformer building blocks over the exact `gemm_i8` host call: per-row int8 quantization,
//! the int8 linear layer (W8A8, with an optional second pass over the activation residual),
//! LayerNorm, GELU, softmax and scaled dot-product attention, in f32.
//!
//! The loops are written to vectorize (the job modules are built with wasm `simd128`, and
//! wasmtime charges fuel per operator, so a 4-lane operator costs what a scalar one does): no
//! library calls inside them (`exp` and `erfc` are branchless approximations here), no early
//! exits, and reductions over eight fixed partial sums.
//!
//! Float arithmetic in wasm is deterministic under the executor's admission (NaN canonicalization
//! on, relaxed SIMD refused), every operation here is IEEE-exact and in an order fixed by the source
//! (`libm`, for the few square roots, is plain Rust), so every host computes the same bits; only
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
/// row, so dequantizing gives zeros). Rounds half to even ([`round_ties_even`]); `|x / scale|` is
/// at most 127 plus a few ulps, so no value leaves -127..=127.
///
/// # Panics
/// If `x`, `q` or `scale` is shorter than the shape requires.
pub fn quantize_rows(x: &[f32], rows: usize, cols: usize, q: &mut [i8], scale: &mut [f32]) {
    for i in 0..rows {
        let row = &x[i * cols..(i + 1) * cols];
        let max = max_abs(row);
        let s = if max > 0.0 { max / QUANT_MAX } else { 1.0 };
        scale[i] = s;
        let inv = 1.0 / s;
        for (out, v) in q[i * cols..(i + 1) * cols].iter_mut().zip(row) {
            *out = round_ties_even(v * inv) as i32 as i8;
        }
    }
}

/// Partial sums kept by the reductions below: a reduction over one accumulator is a chain LLVM
/// may not reorder (float addition is not associative), so it cannot vectorize; eight fixed
/// lanes, summed in a fixed tree at the end, give two `f32x4` chains and the same bits natively
/// and in wasm.
const LANES: usize = 8;

/// Sums the lanes in a fixed tree.
#[inline(always)]
fn reduce(acc: [f32; LANES]) -> f32 {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// `sum_t f(x[t], y[t])` over [`LANES`] partial sums (the tail goes to the first lanes).
#[inline(always)]
fn sum_by(x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let (xs, ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
    for (a, b) in xs.zip(ys) {
        for l in 0..LANES {
            acc[l] += f(a[l], b[l]);
        }
    }
    for (l, (a, b)) in x_tail.iter().zip(y_tail).enumerate() {
        acc[l] += f(*a, *b);
    }
    reduce(acc)
}

/// `sum_t x[t] * y[t]` (lengths must match).
fn dot(x: &[f32], y: &[f32]) -> f32 {
    sum_by(x, y, |a, b| a * b)
}

/// `max_t |x[t]|` (0 for an empty slice), by compare-and-select so it vectorizes.
fn max_abs(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = greater(c[l].abs(), acc[l]);
        }
    }
    for (l, v) in tail.iter().enumerate() {
        acc[l] = greater(v.abs(), acc[l]);
    }
    acc.into_iter().fold(0.0, greater)
}

/// The larger of `a` and `b` (`b` if they are unordered): one compare and one select, unlike
/// `f32::max`, whose NaN rule costs several wasm operators.
#[inline(always)]
fn greater(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// 1.5 * 2^23: adding it to `|x| <= 2^22` leaves `x` rounded to an integer (the default
/// rounding, to nearest, ties to even) in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `x` rounded to the nearest integer, ties to even, for `|x| <= 2^22` (branchless, unlike
/// `libm::roundf`).
#[inline(always)]
pub fn round_ties_even(x: f32) -> f32 {
    (x + ROUND_MAGIC) - ROUND_MAGIC
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
        for (i, s) in row_scale[..m].iter().enumerate() {
            let out = &mut y[i * n..(i + 1) * n];
            let cells = &acc[i * n..(i + 1) * n];
            let per_column = self.scale[..n].iter().zip(&self.bias[..n]);
            // Two loops rather than a branch in one, so each vectorizes.
            if add {
                for ((o, c), (w, _)) in out.iter_mut().zip(cells).zip(per_column) {
                    *o += *c as f32 * (s * w);
                }
            } else {
                for ((o, c), (w, b)) in out.iter_mut().zip(cells).zip(per_column) {
                    *o = *c as f32 * (s * w) + b;
                }
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
            let mean = sum_by(row, row, |v, _| v) / cols as f32;
            let var = sum_by(row, row, |v, _| (v - mean) * (v - mean)) / cols as f32;
            let inv = 1.0 / libm::sqrtf(var + self.eps);
            for ((v, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// GELU with the exact error function (BERT's `gelu`): `x / 2 * (1 + erf(x / sqrt 2))`, in place.
///
/// `1 + erf` comes from [`erfc_approx`] (`2 - erfc(z)` for `z >= 0`, `erfc(-z)` below), so the
/// negative tail keeps its relative accuracy; branchless, so the loop vectorizes.
pub fn gelu(x: &mut [f32]) {
    for v in x {
        let z = *v * core::f32::consts::FRAC_1_SQRT_2;
        let tail = erfc_approx(z.abs());
        let one_plus_erf = if z >= 0.0 { 2.0 - tail } else { tail };
        *v = 0.5 * *v * one_plus_erf;
    }
}

/// `erfc(z)` for `z >= 0`, within 1.5e-7 of it (Abramowitz and Stegun 7.1.26:
/// `t (a1 + t (a2 + ... + t a5)) exp(-z^2)`, `t = 1 / (1 + p z)`). `z` is capped at 9, where
/// erfc is below 1e-36 (and `exp(-81)` is still a normal float).
#[inline(always)]
pub fn erfc_approx(z: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let z = if z < 9.0 { z } else { 9.0 };
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    poly * exp_approx(-(z * z))
}

/// ln 2 split so that `n * LN2_HI` is exact for `|n| < 2^8` (its low 12 mantissa bits are zero).
const LN2_HI: f32 = 0.693_145_75;
/// ln 2 - `LN2_HI`.
const LN2_LO: f32 = 1.428_606_8e-6;

/// `e^x` within a few ulps for `x` in [-87, 88] (clamped to it, so `e^x` stays a normal float
/// and the result is never 0 or infinite): `x = n ln 2 + r` with `n` rounded to nearest and
/// `|r| <= ln 2 / 2`, `e^r` by its Taylor series to degree 7 (truncation error below 6e-9
/// relative), times `2^n` built in the exponent bits. Branchless, unlike `libm::expf`.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    let x = if x > -87.0 { x } else { -87.0 };
    let x = if x < 88.0 { x } else { 88.0 };
    let n = round_ties_even(x * core::f32::consts::LOG2_E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // n is in -126..=127: 2^n is a normal float.
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Softmax of `x` in place (max subtracted first, so large logits do not overflow).
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, v| greater(*v, m));
    for v in x.iter_mut() {
        *v = exp_approx(*v - max);
    }
    let inv = 1.0 / sum_by(x, x, |v, _| v);
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
                *score = dot(q, k) * norm;
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
    let norm = libm::sqrtf(dot(&out[..cols], &out[..cols]));
    // sentence-transformers divides by max(norm, 1e-12).
    let inv = 1.0 / norm.max(1e-12);
    for o in out[..cols].iter_mut() {
        *o *= inv;
    }
}

#[cfg(test)]
mod tests;
