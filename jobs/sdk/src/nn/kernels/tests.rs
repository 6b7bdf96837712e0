//! Each kernel against a straightforward reference on seeded random data with edge values
//! (zero rows, huge and tiny values, subnormals, infinities, NaNs with payloads).

use super::*;
use alloc::vec::Vec;

/// SplitMix64 words from `seed`, so the tests need no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    /// Uniform in [-4, 4).
    fn plain(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 8.0 - 4.0
    }

    /// Often an edge value, else [`Rng::plain`].
    fn edgy(&mut self) -> f32 {
        match self.below(40) {
            0 => 0.0,
            1 => -0.0,
            2 => 3.0e38,
            3 => -1.0e-38,
            4 => f32::from_bits(1 + self.below(0x007f_ffff) as u32), // subnormal
            5 => f32::INFINITY,
            6 => f32::NEG_INFINITY,
            7 => f32::from_bits(0xffc0_0000 | self.below(0x003f_ffff) as u32), // NaN, payload
            _ => self.plain(),
        }
    }

    fn floats(&mut self, len: usize, edges: bool) -> Vec<f32> {
        (0..len)
            .map(|_| if edges { self.edgy() } else { self.plain() })
            .collect()
    }
}

const SEED: u64 = 0x5eed_4b65_726e;

fn assert_canonical(values: &[f32], what: &str) {
    for v in values {
        assert!(
            !v.is_nan() || v.to_bits() == CANONICAL_NAN_BITS,
            "seed {SEED:#x}: {what}: NaN {:#x}",
            v.to_bits()
        );
    }
}

/// The same bits, NaNs compared as canonical.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn quantize_rows_matches_the_definition_on_edge_values() {
    let mut rng = Rng(SEED);
    for round in 0..300 {
        let (rows, cols) = (rng.below(6), rng.below(80));
        let mut x = rng.floats(rows * cols, round % 3 != 0);
        if rows > 1 {
            x[..cols].fill(0.0);
        }
        if rows > 2 && round % 5 == 0 {
            // A row of subnormals and tiny normals: below QUANT_SCALED_MIN, all zeros.
            for v in &mut x[cols..2 * cols] {
                *v = f32::from_bits(1 + rng.below(0x0100_0000) as u32);
            }
        }
        let (mut q, mut scale) = (vec![0i8; rows * cols], vec![0f32; rows]);
        quantize_rows(&x, rows, cols, &mut q, &mut scale);
        assert_canonical(&scale, "scale");
        for i in 0..rows {
            let row = &x[i * cols..(i + 1) * cols];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let want_scale = if max >= QUANT_SCALED_MIN {
                max / 127.0
            } else {
                1.0
            };
            assert_eq!(
                scale[i].to_bits(),
                want_scale.to_bits(),
                "seed {SEED:#x} round {round} row {i}"
            );
            for (t, v) in row.iter().enumerate() {
                let got = q[i * cols + t];
                let want = libm::rintf(v / want_scale);
                // NaN (a NaN value, or x * 0 for an infinite scale) quantizes to 0.
                let want = if want.is_nan() { 0 } else { want as i8 };
                assert!(
                    (-127..=127).contains(&got) && (got - want).abs() <= 1,
                    "seed {SEED:#x} round {round} ({i}, {t}): {v} -> {got}, want {want}"
                );
                // The sign is kept: a positive value never quantizes below zero.
                assert!(
                    got == 0 || (got > 0) == (*v > 0.0),
                    "seed {SEED:#x}: {v} -> {got}"
                );
            }
        }
    }
}

#[test]
fn dequantize_rows_matches_the_definition_on_edge_values() {
    let mut rng = Rng(SEED ^ 1);
    for round in 0..300 {
        let (rows, cols) = (rng.below(6), rng.below(80));
        let edges = round % 3 != 0;
        let acc: Vec<i32> = (0..rows * cols).map(|_| rng.next() as i32).collect();
        let (rs, cs, bias) = (
            rng.floats(rows, edges),
            rng.floats(cols, edges),
            rng.floats(cols, edges),
        );
        let y0 = rng.floats(rows * cols, edges);
        for accumulate in [false, true] {
            let mut y = y0.clone();
            dequantize_rows(&acc, rows, cols, &rs, &cs, &bias, &mut y, accumulate);
            assert_canonical(&y, "dequantize");
            for i in 0..rows {
                for j in 0..cols {
                    let product = acc[i * cols + j] as f32 * (rs[i] * cs[j]);
                    let want = if accumulate {
                        y0[i * cols + j] + product
                    } else {
                        product + bias[j]
                    };
                    assert!(
                        same(y[i * cols + j], want),
                        "seed {SEED:#x} round {round} ({i}, {j})"
                    );
                }
            }
        }
    }
}

#[test]
fn layer_norm_matches_a_float64_reference_and_propagates_edges_as_canonical_nans() {
    let mut rng = Rng(SEED ^ 2);
    for round in 0..300 {
        let (rows, cols) = (rng.below(6), 1 + rng.below(400));
        let edges = round % 2 == 0;
        let mut x = rng.floats(rows * cols, edges);
        if rows > 1 {
            x[..cols].fill(0.0);
        }
        let (gamma, beta) = (rng.floats(cols, false), rng.floats(cols, false));
        let input = x.clone();
        layer_norm(&mut x, rows, cols, &gamma, &beta, 1e-12);
        assert_canonical(&x, "layer_norm");
        for i in 0..rows {
            let row = &input[i * cols..(i + 1) * cols];
            let got = &x[i * cols..(i + 1) * cols];
            if row.iter().any(|v| !v.is_finite() || v.abs() > 1e30) {
                // Overflow, an infinity or a NaN: the row's statistics are NaN, and so is the row.
                if row.iter().any(|v| !v.is_finite()) {
                    assert!(
                        got.iter().all(|v| v.is_nan()),
                        "seed {SEED:#x} round {round}"
                    );
                }
                continue;
            }
            let n = cols as f64;
            let mean = row.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
            let var = row
                .iter()
                .map(|v| (f64::from(*v) - mean).powi(2))
                .sum::<f64>()
                / n;
            for t in 0..cols {
                let want = (f64::from(row[t]) - mean) / libm::sqrt(var + 1e-12)
                    * f64::from(gamma[t])
                    + f64::from(beta[t]);
                // Relative to the row's spread (a zero row gives exactly beta).
                let tol = if var == 0.0 {
                    0.0
                } else {
                    1e-4 * (1.0 + want.abs())
                };
                assert!(
                    (f64::from(got[t]) - want).abs() <= tol,
                    "seed {SEED:#x} round {round} ({i}, {t}): {} vs {want}",
                    got[t]
                );
            }
        }
    }
}

#[test]
fn gelu_keeps_edges_and_canonicalizes_nans() {
    let mut rng = Rng(SEED ^ 3);
    let mut x = rng.floats(4096, true);
    let input = x.clone();
    gelu(&mut x);
    assert_canonical(&x, "gelu");
    for (v, g) in input.iter().zip(&x) {
        if v.is_nan() {
            assert!(g.is_nan());
        } else if *v == f32::INFINITY {
            assert_eq!(*g, f32::INFINITY);
        } else if v.abs() < 1e-30 {
            // x Phi(x) with Phi(0) = 1/2 (zero stays zero; subnormals within a rounding).
            assert!(
                (g - 0.5 * v).abs() <= 1e-6 * v.abs() + 1e-44,
                "gelu({v:e}) = {g:e}"
            );
        } else if v.is_finite() && v.abs() < 20.0 {
            let want = 0.5 * v * (1.0 + libm::erff(v * core::f32::consts::FRAC_1_SQRT_2));
            assert!(
                (g - want).abs() <= 5e-7 * v.abs() + 2.0 * f32::EPSILON * want.abs(),
                "gelu({v})"
            );
        }
    }
}

/// Attention in f64, straight from the definition.
fn attention_reference(qkv: &[f32], tokens: usize, hidden: usize, heads: usize) -> Vec<f64> {
    let dim = hidden / heads;
    let mut out = vec![0f64; tokens * hidden];
    let at = |row: usize, col: usize| f64::from(qkv[row * 3 * hidden + col]);
    for h in 0..heads {
        for i in 0..tokens {
            let scores: Vec<f64> = (0..tokens)
                .map(|j| {
                    (0..dim)
                        .map(|d| at(i, h * dim + d) * at(j, hidden + h * dim + d))
                        .sum::<f64>()
                        / libm::sqrt(dim as f64)
                })
                .collect();
            let max = scores.iter().fold(f64::NEG_INFINITY, |m, s| m.max(*s));
            let weights: Vec<f64> = scores.iter().map(|s| libm::exp(s - max)).collect();
            let total: f64 = weights.iter().sum();
            for d in 0..dim {
                out[i * hidden + h * dim + d] = (0..tokens)
                    .map(|j| weights[j] / total * at(j, 2 * hidden + h * dim + d))
                    .sum();
            }
        }
    }
    out
}

#[test]
fn attention_and_softmax_match_a_float64_reference() {
    let mut rng = Rng(SEED ^ 4);
    for round in 0..100 {
        let heads = 1 + rng.below(4);
        let hidden = heads * rng.below(12);
        let tokens = rng.below(20);
        let qkv = rng.floats(tokens * 3 * hidden, false);
        let mut out = vec![0f32; tokens * hidden];
        attention(&qkv, tokens, hidden, heads, &mut out);
        let want = attention_reference(&qkv, tokens, hidden, heads);
        for (g, w) in out.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() < 1e-5 * (1.0 + w.abs()),
                "seed {SEED:#x} round {round}: {g} vs {w}"
            );
        }
    }
    // An edge value anywhere poisons only what it reaches, as canonical NaN.
    let (tokens, hidden, heads) = (5, 8, 2);
    let mut qkv = rng.floats(tokens * 3 * hidden, false);
    qkv[3] = f32::from_bits(0xffc0_1234);
    let mut out = vec![0f32; tokens * hidden];
    attention(&qkv, tokens, hidden, heads, &mut out);
    assert_canonical(&out, "attention");
    let mut s = vec![1.0, f32::from_bits(0x7fc0_0001), 2.0];
    softmax(&mut s);
    assert_canonical(&s, "softmax");
}

/// `kv_attention` stores each row's key and value as [`quantize_rows`] gives them (and, with a
/// residual cache, their rounding residuals likewise) and attends, causally and with
/// grouped-query heads, like a float64 reference over the cache it leaves.
#[test]
fn kv_attention_stores_rows_and_attends_like_a_float64_reference() {
    let mut rng = Rng(SEED ^ 5);
    for round in 0..300 {
        let kv_heads = 1 + rng.below(3);
        let residual = rng.below(2) == 1;
        let shape = KvShape {
            heads: kv_heads * (1 + rng.below(3)),
            kv_heads,
            head_dim: 1 + rng.below(20),
            slots: 1 + rng.below(3),
            context: 1 + rng.below(12),
            stride: if residual { 4 } else { 2 } * kv_heads + rng.below(3),
            residual,
        };
        let (heads, d) = (shape.heads, shape.head_dim);
        let rows = rng.below(10);
        let width = shape.row_width().unwrap();
        let qkv = rng.floats(rows * width, false);
        let at: Vec<u32> = (0..rows)
            .flat_map(|_| {
                [
                    rng.below(shape.slots as u64) as u32,
                    rng.below(shape.context as u64) as u32,
                ]
            })
            .collect();
        let vectors = shape.cache_vectors().unwrap();
        let mut cache: Vec<i8> = (0..vectors * d)
            .map(|_| (rng.below(255) as i32 - 127) as i8)
            .collect();
        let mut scales: Vec<f32> = (0..vectors)
            .map(|_| rng.plain().abs() / 127.0 + 1e-3)
            .collect();
        let mut out = vec![0f32; rows * heads * d];
        kv_attention(&shape, rows, &qkv, &at, &mut cache, &mut scales, &mut out);
        let first = |slot: usize, position: usize| (slot * shape.context + position) * shape.stride;
        for r in 0..rows {
            let (slot, position) = (at[2 * r] as usize, at[2 * r + 1] as usize);
            // A later row at the same slot and position overwrote this one's.
            if (r + 1..rows).any(|s| at[2 * s..2 * s + 2] == at[2 * r..2 * r + 2]) {
                continue;
            }
            let (mut q, mut s) = (vec![0i8; 2 * kv_heads * d], vec![0f32; 2 * kv_heads]);
            let kv = &qkv[r * width + heads * d..(r + 1) * width];
            quantize_rows(kv, 2 * kv_heads, d, &mut q, &mut s);
            let cell = first(slot, position);
            assert_eq!(
                &cache[cell * d..(cell + 2 * kv_heads) * d],
                &q[..],
                "round {round}"
            );
            assert_eq!(&scales[cell..cell + 2 * kv_heads], &s[..], "round {round}");
            if residual {
                let mut rest = vec![0f32; 2 * kv_heads * d];
                crate::nn::rounding_residual(kv, &q, &s, &mut rest);
                quantize_rows(&rest, 2 * kv_heads, d, &mut q, &mut s);
                let cell = cell + 2 * kv_heads;
                let values = &cache[cell * d..(cell + 2 * kv_heads) * d];
                assert_eq!(values, &q[..], "round {round}");
                assert_eq!(&scales[cell..cell + 2 * kv_heads], &s[..], "round {round}");
            }
        }
        for r in 0..rows {
            let (slot, position) = (at[2 * r] as usize, at[2 * r + 1] as usize);
            for h in 0..heads {
                let g = h / (heads / kv_heads);
                let q = &qkv[r * width + h * d..r * width + (h + 1) * d];
                // Head vector `value` (0 key, 1 value) at position `p`, dequantized, with its
                // residual when the cache keeps one.
                let vector = |p: usize, value: usize| -> Vec<f64> {
                    let at = |v: usize| {
                        let scale = f64::from(scales[v]);
                        cache[v * d..(v + 1) * d]
                            .iter()
                            .map(move |x| f64::from(*x) * scale)
                    };
                    let v = first(slot, p) + value * kv_heads + g;
                    let rest = residual.then(|| at(v + 2 * kv_heads).collect::<Vec<f64>>());
                    at(v)
                        .enumerate()
                        .map(|(t, x)| x + rest.as_ref().map_or(0.0, |r| r[t]))
                        .collect()
                };
                let scores: Vec<f64> = (0..=position)
                    .map(|p| {
                        let k = vector(p, 0);
                        let dot: f64 = q.iter().zip(&k).map(|(a, b)| f64::from(*a) * b).sum();
                        dot / libm::sqrt(d as f64)
                    })
                    .collect();
                let max = scores.iter().fold(f64::NEG_INFINITY, |m, s| m.max(*s));
                let weights: Vec<f64> = scores.iter().map(|s| libm::exp(s - max)).collect();
                let total: f64 = weights.iter().sum();
                for t in 0..d {
                    let want: f64 = (0..=position)
                        .map(|p| weights[p] / total * vector(p, 1)[t])
                        .sum();
                    let got = out[r * heads * d + h * d + t];
                    assert!(
                        (f64::from(got) - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "seed {SEED:#x} round {round} row {r} head {h}: {got} vs {want}"
                    );
                }
            }
        }
    }
    // An infinite value makes its head vector's scale infinite and its int8 values 0: the
    // context of every row attending to it is NaN, canonical.
    let shape = KvShape {
        heads: 2,
        kv_heads: 1,
        head_dim: 4,
        slots: 1,
        context: 2,
        stride: 2,
        residual: false,
    };
    let mut qkv = rng.floats(2 * shape.row_width().unwrap(), false);
    qkv[13] = f32::INFINITY;
    let (mut cache, mut scales, mut out) = (vec![0i8; 16], vec![0f32; 4], vec![0f32; 16]);
    kv_attention(
        &shape,
        2,
        &qkv,
        &[0, 0, 0, 1],
        &mut cache,
        &mut scales,
        &mut out,
    );
    assert_canonical(&out, "kv_attention");
    assert!(out.iter().all(|v| v.is_nan()));
}
