//! The exact float kernels: the one definition of the row-wise f32 work of a transformer (row
//! quantization, dequantization with bias, LayerNorm, GELU, softmax, attention, and attention
//! over an int8 key/value cache), run by the host behind the float host calls of
//! `jobs/README.md` and natively by [`crate::Host`]'s default methods, so a metered run and a
//! native run compute the same bits at native speed.
//!
//! Every result is specified bit for bit by this source:
//!
//! - plain IEEE f32 arithmetic (`+ - * /` and the correctly rounded square root), in the order
//!   the source writes it: Rust never contracts `a * b + c` into a fused multiply-add, and LLVM
//!   does not reorder float additions, so x86-64, AArch64 and wasm32 give the same bits;
//! - reductions over [`LANES`] fixed partial sums summed in a fixed tree (so they vectorize
//!   without changing the order of any addition);
//! - `exp` and `erfc` as branchless polynomial approximations written from those operations
//!   (no platform `libm`, whose results may differ by a last bit between platforms);
//! - every NaN an output holds replaced by the canonical NaN (`0x7fc0_0000`, what wasm's NaN
//!   canonicalization produces), because NaN payloads differ between x86 and ARM. Intermediate
//!   NaN payloads cannot reach an output otherwise: comparisons ignore them and `as i32` turns
//!   NaN into 0.
//!
//! The loops are written to vectorize natively (no library calls in them, no early exits).
//! Shapes are row-major: an activation is `rows` x `cols` f32, one token per row.
//!
//! # Panics
//! Every function panics if a slice is shorter than its shape requires (the host checks the
//! ranges before it calls them, so a guest's bad arguments trap instead).

use alloc::vec;

/// The largest magnitude of an int8 quantized value (symmetric: -127..=127, never -128).
pub const QUANT_MAX: f32 = 127.0;

/// The smallest row magnitude [`quantize_rows`] scales, `127 * f32::MIN_POSITIVE` (1.5e-36):
/// below it `max / 127` is subnormal and its reciprocal may overflow.
pub const QUANT_SCALED_MIN: f32 = QUANT_MAX * f32::MIN_POSITIVE;

/// The canonical NaN every NaN output is replaced by (quiet, positive, zero payload).
pub const CANONICAL_NAN_BITS: u32 = 0x7fc0_0000;

/// Replaces every NaN of `x` by the canonical NaN ([`CANONICAL_NAN_BITS`]).
#[inline]
pub fn canonicalize_nans(x: &mut [f32]) {
    for v in x {
        // `v != v` only for NaN; a select, so the loop vectorizes.
        *v = if v.is_nan() {
            f32::from_bits(CANONICAL_NAN_BITS)
        } else {
            *v
        };
    }
}

/// Quantizes each row of `x` (`rows` x `cols`) to int8 with one symmetric scale per row:
/// `q[i][t] = round(x[i][t] / scale[i])`, `scale[i] = max_t |x[i][t]| / 127` (1 for an all-zero
/// row, so dequantizing gives zeros). Rounds half to even ([`round_ties_even`]); `|x / scale|` is
/// at most 127 plus a few ulps, so no value leaves -127..=127. NaNs are skipped by the maximum
/// and quantize to 0; an infinite value makes the scale infinite and the row's values 0. A row
/// whose largest magnitude is below [`QUANT_SCALED_MIN`] quantizes to zeros with scale 1 (its
/// scale would be subnormal, `1 / scale` infinite, and its values would leave the range).
pub fn quantize_rows(x: &[f32], rows: usize, cols: usize, q: &mut [i8], scale: &mut [f32]) {
    for i in 0..rows {
        let row = &x[i * cols..(i + 1) * cols];
        let max = max_abs(row);
        let s = if max >= QUANT_SCALED_MIN {
            max / QUANT_MAX
        } else {
            1.0
        };
        scale[i] = s;
        let inv = 1.0 / s;
        for (out, v) in q[i * cols..(i + 1) * cols].iter_mut().zip(row) {
            *out = round_ties_even(v * inv) as i32 as i8;
        }
    }
    canonicalize_nans(&mut scale[..rows]);
}

/// Dequantizes an int8 product with bias: `y[i][j] = acc[i][j] * (row_scale[i] * col_scale[j]) +
/// bias[j]`, or with `accumulate`, `y[i][j] += acc[i][j] * (row_scale[i] * col_scale[j])` (`bias`
/// is not read then). `acc` and `y` are `rows` x `cols`; `row_scale` has `rows` values,
/// `col_scale` and `bias` `cols`.
// The arguments are the import's, one to one.
#[allow(clippy::too_many_arguments)]
pub fn dequantize_rows(
    acc: &[i32],
    rows: usize,
    cols: usize,
    row_scale: &[f32],
    col_scale: &[f32],
    bias: &[f32],
    y: &mut [f32],
    accumulate: bool,
) {
    for (i, s) in row_scale[..rows].iter().enumerate() {
        let out = &mut y[i * cols..(i + 1) * cols];
        let cells = &acc[i * cols..(i + 1) * cols];
        // Two loops rather than a branch in one, so each vectorizes.
        if accumulate {
            for ((o, c), w) in out.iter_mut().zip(cells).zip(&col_scale[..cols]) {
                *o += *c as f32 * (s * w);
            }
        } else {
            let per_column = col_scale[..cols].iter().zip(&bias[..cols]);
            for ((o, c), (w, b)) in out.iter_mut().zip(cells).zip(per_column) {
                *o = *c as f32 * (s * w) + b;
            }
        }
    }
    canonicalize_nans(&mut y[..rows * cols]);
}

/// LayerNorm of each of the `rows` rows of `x` (`rows` x `cols`) in place:
/// `y = (x - mean) / sqrt(var + eps) * gamma + beta`, mean and variance over the row.
pub fn layer_norm(x: &mut [f32], rows: usize, cols: usize, gamma: &[f32], beta: &[f32], eps: f32) {
    let (gamma, beta) = (&gamma[..cols], &beta[..cols]);
    for row in x[..rows * cols].chunks_exact_mut(cols.max(1)) {
        let mean = sum_by(row, row, |v, _| v) / cols as f32;
        let var = sum_by(row, row, |v, _| (v - mean) * (v - mean)) / cols as f32;
        let inv = 1.0 / libm::sqrtf(var + eps);
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
    canonicalize_nans(&mut x[..rows * cols]);
}

/// GELU with the exact error function (BERT's `gelu`): `x / 2 * (1 + erf(x / sqrt 2))`, in place.
///
/// `1 + erf` comes from [`erfc_approx`] (`2 - erfc(z)` for `z >= 0`, `erfc(-z)` below), so the
/// negative tail keeps its relative accuracy; branchless, so the loop vectorizes.
pub fn gelu(x: &mut [f32]) {
    for v in x.iter_mut() {
        let z = *v * core::f32::consts::FRAC_1_SQRT_2;
        let tail = erfc_approx(z.abs());
        let one_plus_erf = if z >= 0.0 { 2.0 - tail } else { tail };
        *v = 0.5 * *v * one_plus_erf;
    }
    canonicalize_nans(x);
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
    canonicalize_nans(x);
}

/// Multi-head scaled dot-product self-attention over one sequence, in f32, no mask (every token
/// of the sequence attends to every other: the caller passes one sequence, unpadded).
///
/// `qkv` is `tokens` x `3 * hidden` (each row: the query, then the key, then the value, each
/// `heads` blocks of `hidden / heads`); the context goes to `out` (`tokens` x `hidden`).
///
/// # Panics
/// Also if `heads` is 0 or does not divide `hidden`.
pub fn attention(qkv: &[f32], tokens: usize, hidden: usize, heads: usize, out: &mut [f32]) {
    assert!(
        heads > 0 && hidden.is_multiple_of(heads),
        "attention: heads must divide hidden"
    );
    let dim = hidden / heads;
    let width = 3 * hidden;
    let norm = 1.0 / libm::sqrtf(dim as f32);
    let mut scores = vec![0f32; tokens];
    for h in 0..heads {
        let (qo, ko, vo) = (h * dim, hidden + h * dim, 2 * hidden + h * dim);
        for i in 0..tokens {
            let q = &qkv[i * width + qo..i * width + qo + dim];
            for (j, score) in scores.iter_mut().enumerate() {
                let k = &qkv[j * width + ko..j * width + ko + dim];
                *score = dot(q, k) * norm;
            }
            softmax(&mut scores);
            let ctx = &mut out[i * hidden + h * dim..i * hidden + (h + 1) * dim];
            ctx.fill(0.0);
            for (j, p) in scores.iter().enumerate() {
                let v = &qkv[j * width + vo..j * width + vo + dim];
                for (c, x) in ctx.iter_mut().zip(v) {
                    *c += p * x;
                }
            }
        }
    }
    canonicalize_nans(&mut out[..tokens * hidden]);
}

/// The shape of an int8 key/value cache and of the grouped-query attention over it
/// ([`kv_attention`]).
///
/// The cache holds `slots` sequences of `context` positions of head vectors (`head_dim` int8
/// values each) and their scales (one f32 each): position `p` of slot `s` starts at head vector
/// `(s * context + p) * stride` and holds `kv_heads` key head vectors then `kv_heads` value head
/// vectors; scale `i` belongs to head vector `i`. With `stride = 2 * kv_heads` the positions are
/// packed (`[slot][position][key, value][kv_head][head_dim]`); a larger stride leaves room
/// between them, e.g. for the other layers' entries of the same position, so that a decode step,
/// which writes one position of each sequence in every layer, changes few memory pages. A query
/// row holds `heads` query head vectors, then `kv_heads` key and `kv_heads` value head vectors
/// (f32); query head `h` attends with key/value head `h / (heads / kv_heads)`.
///
/// With `residual`, each key and value head vector is kept to about 15 bits: a position also
/// holds, after its values, the int8 rounding residual of its `kv_heads` keys then of its
/// `kv_heads` values (quantized the same way, one scale each), so a position spans `4 *
/// kv_heads` head vectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvShape {
    /// Query heads (positive, a multiple of `kv_heads`).
    pub heads: usize,
    /// Key/value heads (positive).
    pub kv_heads: usize,
    /// Values per head vector.
    pub head_dim: usize,
    /// Sequences the cache holds.
    pub slots: usize,
    /// Positions per sequence.
    pub context: usize,
    /// Head vectors from one position to the next (at least [`KvShape::position_vectors`]).
    pub stride: usize,
    /// Whether each position also holds its keys' and values' rounding residuals.
    pub residual: bool,
}

impl KvShape {
    /// Whether [`kv_attention`] accepts the shape: `kv_heads` positive and dividing a positive
    /// `heads`, and `stride` at least [`KvShape::position_vectors`].
    pub fn is_valid(&self) -> bool {
        self.heads > 0
            && self.kv_heads > 0
            && self.heads.is_multiple_of(self.kv_heads)
            && self.stride / self.vectors_per_kv_head() >= self.kv_heads
    }

    /// Head vectors per key/value head in one position: a key and a value, and their residuals
    /// with `residual`.
    fn vectors_per_kv_head(&self) -> usize {
        if self.residual { 4 } else { 2 }
    }

    /// Head vectors one position holds: `2 * kv_heads`, or `4 * kv_heads` with `residual`, or
    /// `None` on overflow.
    pub fn position_vectors(&self) -> Option<usize> {
        self.kv_heads.checked_mul(self.vectors_per_kv_head())
    }

    /// f32 values of one query row: `(heads + 2 * kv_heads) * head_dim`, or `None` on overflow.
    pub fn row_width(&self) -> Option<usize> {
        self.heads
            .checked_add(self.kv_heads.checked_mul(2)?)?
            .checked_mul(self.head_dim)
    }

    /// Head vectors (and scales) the cache spans, to the end of its last position: `(slots *
    /// context - 1) * stride + position_vectors()` (0 without positions), or `None` on overflow.
    pub fn cache_vectors(&self) -> Option<usize> {
        match self.slots.checked_mul(self.context)? {
            0 => Some(0),
            positions => (positions - 1)
                .checked_mul(self.stride)?
                .checked_add(self.position_vectors()?),
        }
    }

    /// Int8 values of the cache: `cache_vectors() * head_dim`, or `None` on overflow.
    pub fn cache_values(&self) -> Option<usize> {
        self.cache_vectors()?.checked_mul(self.head_dim)
    }
}

/// Causal grouped-query attention of `rows` query rows over an int8 key/value cache (layouts in
/// [`KvShape`]), after storing each row's key and value in it.
///
/// Row `r` (of `qkv`, `rows` x `row_width()` f32) is the token at position `at[2r + 1]` of
/// sequence `at[2r]`. First, row by row in order, its `2 * kv_heads` key and value head vectors
/// are quantized ([`quantize_rows`], one scale per head vector) into `cache` and `scales` at
/// that slot and position. Then each row's query head `h` attends to its sequence's positions
/// `0..=position` with key/value head `g = h / (heads / kv_heads)`:
/// `score[p] = dot(q_h, key[p][g]) * key_scale[p][g] * (1 / sqrt(head_dim))` (the int8 values
/// as f32, the dot summed in order from 0: [`key_scores`]), `w = softmax(score)` ([`softmax`]),
/// and `out_h = sum_p (w[p] * value_scale[p][g]) * value[p][g]`, summed in position order. `out`
/// is `rows` x `heads * head_dim`. With [`KvShape::residual`], the residuals are stored after
/// them ([`super::rounding_residual`], quantized the same way), each score then adds
/// `dot(q_h, key_residual) * key_residual_scale * (1 / sqrt(head_dim))`, and each position adds
/// its value residual's term after its value's.
///
/// # Panics
/// Also if the shape is not [`KvShape::is_valid`] or a row's slot or position is outside the
/// cache.
// The arguments are the import's, one to one.
#[allow(clippy::too_many_arguments)]
pub fn kv_attention(
    shape: &KvShape,
    rows: usize,
    qkv: &[f32],
    at: &[u32],
    cache: &mut [i8],
    scales: &mut [f32],
    out: &mut [f32],
) {
    assert!(shape.is_valid(), "kv_attention: a bad shape");
    let KvShape {
        heads,
        kv_heads,
        head_dim: d,
        slots,
        context,
        stride,
        residual,
    } = *shape;
    let width = (heads + 2 * kv_heads) * d;
    let q_len = heads * d;
    // The head vector where `(slot, position)` starts.
    let cell = |r: usize| -> (usize, usize) {
        let (slot, position) = (at[2 * r] as usize, at[2 * r + 1] as usize);
        assert!(
            slot < slots && position < context,
            "kv_attention: a row outside the cache"
        );
        ((slot * context + position) * stride, position)
    };
    let mut rest = vec![0f32; if residual { 2 * kv_heads * d } else { 0 }];
    for r in 0..rows {
        let (first, _) = cell(r);
        let kv = &qkv[r * width + q_len..(r + 1) * width];
        let vectors = first..first + 2 * kv_heads;
        let values = &mut cache[vectors.start * d..vectors.end * d];
        quantize_rows(kv, 2 * kv_heads, d, values, &mut scales[vectors.clone()]);
        if residual {
            super::rounding_residual(kv, values, &scales[vectors.clone()], &mut rest);
            let vectors = vectors.end..vectors.end + 2 * kv_heads;
            let values = &mut cache[vectors.start * d..vectors.end * d];
            quantize_rows(&rest, 2 * kv_heads, d, values, &mut scales[vectors]);
        }
    }
    let group = heads / kv_heads;
    let norm = 1.0 / libm::sqrtf(d as f32);
    // The rows' positions are in the cache (checked above): at most `context` scores, and only
    // as many as the longest row attends to (which its caller has paid for).
    let longest = (0..rows).map(|r| cell(r).1 + 1).max().unwrap_or(0);
    let mut scores = vec![0f32; longest];
    for r in 0..rows {
        let (position_0, position) = cell(r);
        let first = position_0 - position * stride;
        let scores = &mut scores[..=position];
        for h in 0..heads {
            let g = h / group;
            let q = &qkv[r * width + h * d..r * width + (h + 1) * d];
            key_scores(q, cache, scales, first + g, stride, norm, scores, false);
            if residual {
                let rest = first + 2 * kv_heads + g;
                key_scores(q, cache, scales, rest, stride, norm, scores, true);
            }
            softmax(scores);
            let ctx = &mut out[r * q_len + h * d..r * q_len + (h + 1) * d];
            ctx.fill(0.0);
            // The value head vector, then (with `residual`) its residual, 2 * kv_heads on.
            let parts = if residual { 2 } else { 1 };
            for (p, weight) in scores.iter().enumerate() {
                let value = first + p * stride + kv_heads + g;
                for v in (0..parts).map(|i| value + i * 2 * kv_heads) {
                    let w = weight * scales[v];
                    for (c, x) in ctx.iter_mut().zip(&cache[v * d..(v + 1) * d]) {
                        *c += w * f32::from(*x);
                    }
                }
            }
        }
    }
    canonicalize_nans(&mut out[..rows * q_len]);
}

/// `scores[p] = dot(q, key_p) * scales[k_p] * norm` (or `+=`, with `add`) for the key head
/// vectors `k_p = first + p * stride` of `cache` (`q.len()` int8 values each), every dot one
/// chain `((0 + q[0] k[0]) + q[1] k[1]) + ...` in order (as plain code sums it). [`LANES`]
/// positions are computed at a time, so their chains interleave and run in parallel without
/// changing any of them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn key_scores(
    q: &[f32],
    cache: &[i8],
    scales: &[f32],
    first: usize,
    stride: usize,
    norm: f32,
    scores: &mut [f32],
    add: bool,
) {
    let put = |score: &mut f32, value: f32| {
        if add {
            *score += value;
        } else {
            *score = value;
        }
    };
    let d = q.len();
    let key = |p: usize| &cache[(first + p * stride) * d..(first + p * stride + 1) * d];
    let blocks = scores.len() / LANES;
    for block in 0..blocks {
        let keys: [&[i8]; LANES] = core::array::from_fn(|l| key(block * LANES + l));
        let mut acc = [0f32; LANES];
        for (t, qt) in q.iter().enumerate() {
            for l in 0..LANES {
                acc[l] += qt * f32::from(keys[l][t]);
            }
        }
        let block_scores = &mut scores[block * LANES..(block + 1) * LANES];
        for (l, (score, sum)) in block_scores.iter_mut().zip(acc).enumerate() {
            put(
                score,
                sum * scales[first + (block * LANES + l) * stride] * norm,
            );
        }
    }
    for p in blocks * LANES..scores.len() {
        let mut sum = 0f32;
        for (a, b) in q.iter().zip(key(p)) {
            sum += a * f32::from(*b);
        }
        put(&mut scores[p], sum * scales[first + p * stride] * norm);
    }
}

/// Partial sums kept by the reductions: a reduction over one accumulator is a chain LLVM may not
/// reorder (float addition is not associative), so it cannot vectorize; eight fixed lanes,
/// summed in a fixed tree at the end, give two `f32x4` chains and the same bits on every target.
pub const LANES: usize = 8;

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

/// `sum_t x[t] * y[t]` (lengths must match), over [`LANES`] partial sums.
pub fn dot(x: &[f32], y: &[f32]) -> f32 {
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

#[cfg(test)]
mod tests;
