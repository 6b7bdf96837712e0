use super::*;
use crate::VecHost;

/// A seeded stream of floats in [-1, 1) (SplitMix64), so the tests need no RNG crate.
fn floats(seed: u64, len: usize) -> Vec<f32> {
    let mut bytes = vec![0u8; len * 4];
    crate::splitmix_fill(seed, 0, &mut bytes);
    bytes
        .chunks_exact(4)
        .map(|b| {
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

fn matmul_t(x: &[f32], w: &[f32], m: usize, n: usize, k: usize, bias: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|t| f64::from(x[i * k + t]) * f64::from(w[j * k + t]))
                .sum();
            y[i * n + j] = dot as f32 + bias[j];
        }
    }
    y
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn quantize_rows_is_symmetric_per_row_and_within_half_a_step() {
    let (rows, cols) = (5, 33);
    let mut x = floats(1, rows * cols);
    x[2 * cols..3 * cols].fill(0.0); // an all-zero row
    let mut q = vec![0i8; rows * cols];
    let mut scale = vec![0f32; rows];
    quantize_rows(&x, rows, cols, &mut q, &mut scale);
    assert_eq!(scale[2], 1.0);
    assert!(q[2 * cols..3 * cols].iter().all(|v| *v == 0));
    for i in 0..rows {
        assert!(q[i * cols..(i + 1) * cols].iter().all(|v| *v != -128));
        if i != 2 {
            assert_eq!(
                q[i * cols..(i + 1) * cols]
                    .iter()
                    .map(|v| v.unsigned_abs())
                    .max(),
                Some(127)
            );
        }
        for t in 0..cols {
            let back = f32::from(q[i * cols + t]) * scale[i];
            assert!(
                (back - x[i * cols + t]).abs() <= scale[i] / 2.0 + 1e-7,
                "row {i} col {t}"
            );
        }
    }
}

#[test]
fn linear_forward_matches_float_and_the_precise_pass_is_closer() {
    let (m, n, k) = (7, 24, 96);
    let x = floats(2, m * k);
    let w = floats(3, n * k);
    let bias = floats(4, n);
    let exact = matmul_t(&x, &w, m, n, k, &bias);
    let layer = Linear::quantize(&w, n, k, bias);
    let host = VecHost::new(vec![], vec![]);
    let mut scratch = Scratch::new(m, k, n);
    let mut plain = vec![0.0; m * n];
    layer.forward(&host, &x, m, &mut plain, &mut scratch, false);
    let mut precise = vec![0.0; m * n];
    layer.forward(&host, &x, m, &mut precise, &mut scratch, true);
    let (err_plain, err_precise) = (max_abs_diff(&plain, &exact), max_abs_diff(&precise, &exact));
    // Values are O(sqrt(k)) ~ 5; int8 on both sides keeps the error near 1% of that.
    assert!(err_plain < 0.15, "plain error {err_plain}");
    assert!(
        err_precise < err_plain,
        "precise {err_precise} not below plain {err_plain}"
    );
    // Scratch reused after a precise pass gives the same bits: forward is a function of its inputs.
    let mut again = vec![0.0; m * n];
    layer.forward(&host, &x, m, &mut again, &mut scratch, false);
    assert_eq!(again, plain);
}

#[test]
fn the_residual_weights_pass_carries_what_int8_weights_round_off() {
    let (m, n, k) = (5, 16, 128);
    let x = floats(6, m * k);
    // 4-bit blocks of 32 with their own scales, as a Q4_1 file holds: one row's blocks differ
    // in scale, so one int8 scale per row rounds the small blocks coarsely.
    let levels = floats(7, n * k);
    let w: Vec<f32> = levels
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let step = [0.002, 0.05, 0.01, 0.2][(i / 32) % 4];
            ((v * 8.0).round()) * step
        })
        .collect();
    let bias = vec![0.0; n];
    let exact = matmul_t(&x, &w, m, n, k, &bias);
    let layer = Linear::quantize(&w, n, k, bias.clone());
    let rest: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, v)| v - f32::from(layer.weight[i]) * layer.scale[i / k])
        .collect();
    let residual = Linear::quantize(&rest, n, k, bias);
    let host = VecHost::new(vec![], vec![]);
    let mut scratch = Scratch::new(m, k, n);
    let mut precise = vec![0.0; m * n];
    layer.forward(&host, &x, m, &mut precise, &mut scratch, true);
    let mut both = vec![0.0; m * n];
    let rest = Some((&residual.weight[..], &residual.scale[..]));
    layer.forward_residual(&host, &x, m, &mut both, &mut scratch, true, rest);
    let (err_precise, err_both) = (max_abs_diff(&precise, &exact), max_abs_diff(&both, &exact));
    assert!(
        err_both < err_precise / 4.0,
        "with the residual {err_both}, without {err_precise}"
    );
    // Without residual weights it is `forward`, bit for bit.
    let mut none = vec![0.0; m * n];
    layer.forward_residual(&host, &x, m, &mut none, &mut scratch, true, None);
    assert_eq!(none, precise);
}

#[test]
#[should_panic(expected = "a residual of another shape")]
fn a_residual_of_another_shape_is_refused() {
    let layer = Linear::quantize(&floats(8, 4 * 8), 4, 8, vec![0.0; 4]);
    let other = Linear::quantize(&floats(9, 4 * 9), 4, 9, vec![0.0; 4]);
    let host = VecHost::new(vec![], vec![]);
    let mut y = vec![0.0; 4];
    let mut scratch = Scratch::new(1, 8, 8);
    let rest = Some((&other.weight[..], &other.scale[..]));
    layer.forward_residual(&host, &floats(10, 8), 1, &mut y, &mut scratch, false, rest);
}

#[test]
fn layer_norm_centres_and_scales_each_row() {
    let cols = 16;
    let mut x = floats(5, 3 * cols);
    let norm = LayerNorm {
        gamma: vec![1.0; cols],
        beta: vec![0.0; cols],
        eps: 1e-12,
    };
    let host = VecHost::new(vec![], vec![]);
    norm.apply(&host, &mut x, 3);
    for row in x.chunks_exact(cols) {
        let mean = row.iter().sum::<f32>() / cols as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "mean {mean} var {var}"
        );
    }
    let shifted = LayerNorm {
        gamma: vec![2.0; cols],
        beta: vec![0.5; cols],
        eps: 1e-12,
    };
    let mut y = floats(5, cols);
    let mut z = y.clone();
    norm.apply(&host, &mut z, 1);
    shifted.apply(&host, &mut y, 1);
    for (a, b) in y.iter().zip(&z) {
        assert!((a - (2.0 * b + 0.5)).abs() < 1e-5);
    }
}

#[test]
fn gelu_and_softmax_match_their_definitions() {
    let mut x = vec![-3.0f32, -1.0, 0.0, 1.0, 3.0];
    gelu(&VecHost::new(vec![], vec![]), &mut x);
    // x * Phi(x): Phi(1) = 0.841345, Phi(3) = 0.998650.
    let want = [-0.004_05, -0.158_655, 0.0, 0.841_345, 2.995_95];
    for (got, want) in x.iter().zip(want) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    let mut s = vec![1000.0f32, 1000.0, 999.0];
    softmax(&mut s);
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!((s[0] - s[1]).abs() < 1e-7 && s[2] < s[0]);
    let e = core::f32::consts::E;
    assert!((s[0] - e / (2.0 * e + 1.0)).abs() < 1e-6);
}

#[test]
fn attention_of_one_token_is_its_value_and_of_equal_keys_the_mean_value() {
    let (hidden, heads) = (8, 2);
    let qkv = floats(6, 3 * hidden);
    let host = VecHost::new(vec![], vec![]);
    let mut out = vec![0.0; hidden];
    attention(&host, &qkv, 1, hidden, heads, &mut out);
    assert_eq!(out, qkv[2 * hidden..]);
    // Two tokens with the same key: each attends half to each value.
    let mut two = floats(7, 2 * 3 * hidden);
    let key: Vec<f32> = two[hidden..2 * hidden].to_vec();
    two[3 * hidden + hidden..3 * hidden + 2 * hidden].copy_from_slice(&key);
    let mut out = vec![0.0; 2 * hidden];
    attention(&host, &two, 2, hidden, heads, &mut out);
    for c in 0..hidden {
        let mean = (two[2 * hidden + c] + two[3 * hidden + 2 * hidden + c]) / 2.0;
        assert!((out[c] - mean).abs() < 1e-6 && (out[hidden + c] - mean).abs() < 1e-6);
    }
}

#[test]
fn mean_pool_normalized_is_the_unit_mean() {
    let x = vec![1.0f32, 0.0, 3.0, 4.0];
    let mut out = vec![0.0; 2];
    mean_pool_normalized(&x, 2, 2, &mut out);
    // mean (2, 2) -> (1/sqrt 2, 1/sqrt 2)
    assert!(
        (out[0] - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7 && (out[0] - out[1]).abs() < 1e-9
    );
    let mut zero = vec![9.0; 2];
    mean_pool_normalized(&[0.0; 4], 2, 2, &mut zero);
    assert_eq!(zero, [0.0, 0.0]);
}

/// `count` points evenly spaced over `[lo, hi]`.
fn dense(lo: f32, hi: f32, count: usize) -> impl Iterator<Item = f32> {
    (0..=count).map(move |i| lo + (hi - lo) * (i as f32 / count as f32))
}

#[test]
fn round_ties_even_matches_rint_and_rounds_ties_to_even() {
    for x in dense(-200.0, 200.0, 1 << 20).chain(floats(8, 1 << 16).iter().map(|v| v * 4e6)) {
        assert_eq!(round_ties_even(x), libm::rintf(x), "{x}");
    }
    for (x, want) in [
        (0.5f32, 0.0f32),
        (1.5, 2.0),
        (2.5, 2.0),
        (-0.5, -0.0),
        (-2.5, -2.0),
        (126.5, 126.0),
    ] {
        assert_eq!(round_ties_even(x), want, "{x}");
    }
}

#[test]
fn exp_approx_is_within_a_few_ulps_of_libm() {
    let mut worst = (0f64, 0f32);
    for x in dense(-87.0, 88.0, 1 << 22).chain(dense(-1.0, 1.0, 1 << 20)) {
        let (got, want) = (f64::from(exp_approx(x)), f64::from(libm::expf(x)));
        let rel = ((got - want) / want).abs();
        if rel > worst.0 {
            worst = (rel, x);
        }
    }
    // 2^-23 is one ulp at the top of a binade; a few of them is the Horner rounding.
    assert!(
        worst.0 < 3.0 * f64::from(f32::EPSILON),
        "relative error {} at {}",
        worst.0,
        worst.1
    );
    assert_eq!(exp_approx(0.0), 1.0);
    // Clamped: tiny and huge arguments stay finite and positive.
    assert!(exp_approx(-1e4) > 0.0 && exp_approx(1e4).is_finite());
}

#[test]
fn erfc_approx_and_gelu_are_within_1e6_of_libm() {
    let mut worst = (0f32, 0f32);
    for z in dense(0.0, 12.0, 1 << 22) {
        let err = (erfc_approx(z) - libm::erfcf(z)).abs();
        if err > worst.0 {
            worst = (err, z);
        }
    }
    // 1.5e-7 from the approximation, the rest from the f32 rounding of the polynomial (its terms
    // cancel near z = 0, where the sum is 1 and the terms up to 1.45).
    assert!(worst.0 < 1e-6, "erfc error {} at {}", worst.0, worst.1);
    let xs: Vec<f32> = dense(-20.0, 20.0, 1 << 22).collect();
    let mut got = xs.clone();
    kernels::gelu(&mut got);
    for (x, g) in xs.iter().zip(&got) {
        let want = 0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2));
        // erfc's error scaled by x / 2, plus the float rounding of the product.
        let bound = 5e-7 * x.abs() + 2.0 * f32::EPSILON * want.abs();
        assert!((g - want).abs() <= bound, "gelu({x}) = {g}, libm {want}");
    }
}
