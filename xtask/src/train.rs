//! `cargo xtask train-digits`: trains, quantizes and evaluates the digits job's model.
//!
//! - Data: `jobs/digits/data/digits.csv.gz` (1497 labelled rows). Rows whose 0-based index is
//!   4 mod 5 (every 5th row, 299 of them) are held out: never trained on, used only to report
//!   accuracy, and written to `jobs/build/digits-heldout.csv` (64 pixels then the label).
//! - Training: a float (f64) MLP 64 -> HIDDEN -> 10 on `pixel / 16`, softmax cross-entropy,
//!   minibatch SGD with momentum and L2, single-threaded, ChaCha8 seeded with `SEED`: the same
//!   run gives the same weights.
//! - Quantization (post-training, per tensor, symmetric): `w1` and `w2` scaled so their largest
//!   magnitude is 127; `b1` in first-layer accumulator units; the hidden activation's scale is
//!   chosen so the largest training-set activation maps to 127 and written as a fixed-point
//!   multiplier and shift; `b2` in second-layer accumulator units.
//! - Evaluation of the int8 model uses the job's own code (`plexus_job_digits::DigitsJob` under
//!   `run_native` with an in-memory host serving the weights blob and a naive exact `gemm_i8`),
//!   so the reported int8 accuracy is what the module computes.
//! - Output: `jobs/build/digits.weights` and `jobs/build/digits-heldout.csv`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use plexus_guest::{VecHost, run_native};
use plexus_job_digits::input::parse_labeled_csv_rows;
use plexus_job_digits::{
    CLASSES, DigitsJob, PIXEL_MAX, PIXELS, Pixels, Requant, Weights, decode_output, encode_input,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Hidden units.
const HIDDEN: usize = 64;
/// The training run's seed (weights init and shuffling).
const SEED: u64 = 20_260_401;
/// Passes over the training rows.
const EPOCHS: usize = 150;
/// Rows per gradient step.
const BATCH_ROWS: usize = 16;
/// Initial learning rate, decayed linearly to a tenth by the last epoch.
const LEARNING_RATE: f64 = 0.05;
/// SGD momentum.
const MOMENTUM: f64 = 0.9;
/// L2 penalty on the weights (not the biases).
const WEIGHT_DECAY: f64 = 1e-4;
/// Held out: rows whose index is `HELDOUT_REMAINDER` mod `HELDOUT_EVERY`.
const HELDOUT_EVERY: usize = 5;
const HELDOUT_REMAINDER: usize = 4;

type Row = (Pixels, u8);

/// A parameter tensor, its gradient, its velocity, and whether weight decay applies.
type Tensor<'a> = (&'a mut Vec<f64>, &'a Vec<f64>, &'a mut Vec<f64>, bool);

/// The float model.
struct Mlp {
    w1: Vec<f64>, // HIDDEN x PIXELS
    b1: Vec<f64>,
    w2: Vec<f64>, // CLASSES x HIDDEN
    b2: Vec<f64>,
}

fn features(pixels: &Pixels) -> [f64; PIXELS] {
    std::array::from_fn(|i| f64::from(pixels[i]) / f64::from(PIXEL_MAX))
}

impl Mlp {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        let mut uniform = |len: usize, fan_in: usize| -> Vec<f64> {
            let bound = (6.0 / fan_in as f64).sqrt();
            (0..len)
                .map(|_| (rng.random::<f64>() * 2.0 - 1.0) * bound)
                .collect()
        };
        Self {
            w1: uniform(HIDDEN * PIXELS, PIXELS),
            b1: vec![0.0; HIDDEN],
            w2: uniform(CLASSES * HIDDEN, HIDDEN),
            b2: vec![0.0; CLASSES],
        }
    }

    /// Hidden activations (post-ReLU) and logits.
    fn forward(&self, x: &[f64; PIXELS]) -> ([f64; HIDDEN], [f64; CLASSES]) {
        let mut hidden = [0.0; HIDDEN];
        for (j, h) in hidden.iter_mut().enumerate() {
            let row = &self.w1[j * PIXELS..(j + 1) * PIXELS];
            let z: f64 = row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.b1[j];
            *h = z.max(0.0);
        }
        let mut logits = [0.0; CLASSES];
        for (c, l) in logits.iter_mut().enumerate() {
            let row = &self.w2[c * HIDDEN..(c + 1) * HIDDEN];
            *l = row.iter().zip(&hidden).map(|(w, h)| w * h).sum::<f64>() + self.b2[c];
        }
        (hidden, logits)
    }

    fn predict(&self, pixels: &Pixels) -> u8 {
        let (_, logits) = self.forward(&features(pixels));
        let mut best = 0;
        for c in 1..CLASSES {
            if logits[c] > logits[best] {
                best = c;
            }
        }
        best as u8
    }

    /// Accumulates the cross-entropy gradient of one row into `grad` (same layout as `self`).
    fn backward(&self, x: &[f64; PIXELS], label: u8, grad: &mut Mlp) {
        let (hidden, logits) = self.forward(x);
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = exps.iter().sum();
        let mut d_hidden = [0.0; HIDDEN];
        for (c, e) in exps.iter().enumerate() {
            let d = e / total - if c == usize::from(label) { 1.0 } else { 0.0 };
            grad.b2[c] += d;
            for j in 0..HIDDEN {
                grad.w2[c * HIDDEN + j] += d * hidden[j];
                d_hidden[j] += d * self.w2[c * HIDDEN + j];
            }
        }
        for j in 0..HIDDEN {
            if hidden[j] <= 0.0 {
                continue;
            }
            grad.b1[j] += d_hidden[j];
            for (g, xi) in grad.w1[j * PIXELS..(j + 1) * PIXELS].iter_mut().zip(x) {
                *g += d_hidden[j] * xi;
            }
        }
    }

    fn zeros() -> Self {
        Self {
            w1: vec![0.0; HIDDEN * PIXELS],
            b1: vec![0.0; HIDDEN],
            w2: vec![0.0; CLASSES * HIDDEN],
            b2: vec![0.0; CLASSES],
        }
    }

    /// (parameter, gradient, velocity, decayed) for every tensor.
    fn tensors<'a>(&'a mut self, grad: &'a Mlp, velocity: &'a mut Mlp) -> [Tensor<'a>; 4] {
        [
            (&mut self.w1, &grad.w1, &mut velocity.w1, true),
            (&mut self.b1, &grad.b1, &mut velocity.b1, false),
            (&mut self.w2, &grad.w2, &mut velocity.w2, true),
            (&mut self.b2, &grad.b2, &mut velocity.b2, false),
        ]
    }
}

fn train(rows: &[Row]) -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut model = Mlp::new(&mut rng);
    let mut velocity = Mlp::zeros();
    let inputs: Vec<[f64; PIXELS]> = rows.iter().map(|(p, _)| features(p)).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    for epoch in 0..EPOCHS {
        // Fisher-Yates with the seeded generator.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let rate = LEARNING_RATE * (1.0 - 0.9 * epoch as f64 / EPOCHS as f64);
        for batch in order.chunks(BATCH_ROWS) {
            let mut grad = Mlp::zeros();
            for &i in batch {
                model.backward(&inputs[i], rows[i].1, &mut grad);
            }
            let scale = 1.0 / batch.len() as f64;
            for (param, grad, vel, decayed) in model.tensors(&grad, &mut velocity) {
                for ((p, g), v) in param.iter_mut().zip(grad.iter()).zip(vel.iter_mut()) {
                    let g = g * scale + if decayed { WEIGHT_DECAY * *p } else { 0.0 };
                    *v = MOMENTUM * *v - rate * g;
                    *p += *v;
                }
            }
        }
    }
    model
}

/// The fixed-point form `multiplier / 2^shift` of a positive factor, with the most precision
/// that keeps the multiplier inside i32.
fn fixed_point(factor: f64) -> Result<Requant> {
    ensure!(
        factor > 0.0 && factor.is_finite(),
        "bad requantization factor {factor}"
    );
    for shift in (1..=plexus_job_digits::weights::REQUANT_SHIFT_MAX).rev() {
        let multiplier = (factor * 2f64.powi(i32::from(shift))).round();
        if multiplier < f64::from(i32::MAX) {
            ensure!(
                multiplier >= 1.0,
                "requantization factor {factor} too small"
            );
            return Ok(Requant {
                multiplier: multiplier as i32,
                shift,
            });
        }
    }
    bail!("requantization factor {factor} too large")
}

fn quantize_tensor(values: &[f64]) -> (Vec<i8>, f64) {
    let max = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    let scale = max / 127.0;
    let q = values
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scale)
}

fn quantize(model: &Mlp, train_rows: &[Row]) -> Result<Weights> {
    let (w1, s_w1) = quantize_tensor(&model.w1);
    // One first-layer accumulator unit is s_w1 * (1/16) in the float model's units.
    let acc1_unit = s_w1 / f64::from(PIXEL_MAX);
    let b1: Vec<i32> = model
        .b1
        .iter()
        .map(|b| (b / acc1_unit).round() as i32)
        .collect();
    // The largest post-ReLU accumulator over the training rows maps to 127.
    let mut acc_max = 1i64;
    for (pixels, _) in train_rows {
        for j in 0..HIDDEN {
            let row = &w1[j * PIXELS..(j + 1) * PIXELS];
            let acc: i64 = row
                .iter()
                .zip(pixels)
                .map(|(&w, &p)| i64::from(w) * i64::from(p))
                .sum::<i64>()
                + i64::from(b1[j]);
            acc_max = acc_max.max(acc);
        }
    }
    let requant = fixed_point(127.0 / acc_max as f64)?;
    let act_unit = acc1_unit * 2f64.powi(i32::from(requant.shift)) / f64::from(requant.multiplier);
    let (w2, s_w2) = quantize_tensor(&model.w2);
    let acc2_unit = s_w2 * act_unit;
    let b2 = model
        .b2
        .iter()
        .map(|b| (b / acc2_unit).round() as i32)
        .collect();
    Ok(Weights {
        hidden: HIDDEN,
        w1,
        b1,
        requant,
        w2,
        b2,
    })
}

/// Runs the digits job natively on `rows` (in jobs of at most `IMAGES_MAX`); returns the count
/// of correct labels and the step calls made.
pub fn evaluate_int8(weights_blob: &[u8], rows: &[Row]) -> Result<(usize, u64)> {
    let mut correct = 0;
    let mut steps = 0;
    for chunk in rows.chunks(plexus_job_digits::IMAGES_MAX) {
        let images: Vec<Pixels> = chunk.iter().map(|(p, _)| *p).collect();
        let host = VecHost::new(encode_input(&images)?, vec![weights_blob.to_vec()]);
        let (bytes, job_steps) = run_native::<DigitsJob, _>(&host);
        let output = decode_output(&bytes)?;
        correct += output
            .labels
            .iter()
            .zip(chunk)
            .filter(|(got, (_, want))| *got == want)
            .count();
        steps += job_steps;
    }
    Ok((correct, steps))
}

fn accuracy_line(name: &str, correct: usize, total: usize) -> String {
    format!(
        "{name}: {correct}/{total} = {:.2}%",
        100.0 * correct as f64 / total as f64
    )
}

/// Reads the data set, trains, quantizes, evaluates and writes the build files.
pub fn train_digits(root: &Path) -> Result<()> {
    let data = root.join("jobs/digits/data/digits.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&data).with_context(|| format!("open {}", data.display()))?,
    )
    .read_to_string(&mut text)
    .with_context(|| format!("gunzip {}", data.display()))?;
    let rows = parse_labeled_csv_rows(&text)?;
    let (mut heldout, mut train_rows): (Vec<Row>, Vec<Row>) = (Vec::new(), Vec::new());
    for (index, row) in rows.into_iter().enumerate() {
        if index % HELDOUT_EVERY == HELDOUT_REMAINDER {
            heldout.push(row);
        } else {
            train_rows.push(row);
        }
    }
    eprintln!(
        "train-digits: {} training rows, {} held out (row index % {HELDOUT_EVERY} == {HELDOUT_REMAINDER}); \
         MLP 64-{HIDDEN}-10, {EPOCHS} epochs, seed {SEED}",
        train_rows.len(),
        heldout.len()
    );
    let model = train(&train_rows);
    let float_correct = |rows: &[Row]| rows.iter().filter(|(p, l)| model.predict(p) == *l).count();
    let weights = quantize(&model, &train_rows)?;
    let blob = weights.encode()?;
    let (int8_heldout, heldout_steps) = evaluate_int8(&blob, &heldout)?;
    let (int8_train, _) = evaluate_int8(&blob, &train_rows)?;
    println!(
        "{}",
        accuracy_line("float train", float_correct(&train_rows), train_rows.len())
    );
    println!(
        "{}",
        accuracy_line("float held-out", float_correct(&heldout), heldout.len())
    );
    println!(
        "{}",
        accuracy_line("int8 train", int8_train, train_rows.len())
    );
    println!(
        "{}",
        accuracy_line("int8 held-out", int8_heldout, heldout.len())
    );
    println!(
        "int8 held-out job: {} images, {heldout_steps} step calls; requant {} / 2^{}",
        heldout.len(),
        weights.requant.multiplier,
        weights.requant.shift
    );
    let build = root.join("jobs/build");
    std::fs::create_dir_all(&build)?;
    std::fs::write(build.join("digits.weights"), &blob)?;
    let mut csv = String::new();
    for (pixels, label) in &heldout {
        for p in pixels {
            csv.push_str(&format!("{p},"));
        }
        csv.push_str(&format!("{label}\n"));
    }
    std::fs::write(build.join("digits-heldout.csv"), csv)?;
    println!(
        "wrote jobs/build/digits.weights ({} bytes) and jobs/build/digits-heldout.csv",
        blob.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_close_and_in_range() {
        for factor in [1.0, 0.5, 127.0 / 3000.0, 1e-6, 3.5] {
            let r = fixed_point(factor).unwrap();
            let back = f64::from(r.multiplier) / 2f64.powi(i32::from(r.shift));
            assert!((back - factor).abs() <= factor * 1e-8, "{factor} -> {r:?}");
            assert!(
                r.multiplier >= 1 << 29 || r.shift == 62,
                "{factor} -> {r:?}"
            );
        }
        assert!(fixed_point(0.0).is_err());
        assert!(fixed_point(1e30).is_err());
    }

    #[test]
    fn quantize_tensor_maps_the_largest_magnitude_to_127() {
        let (q, scale) = quantize_tensor(&[0.5, -1.0, 0.25, 0.0]);
        assert_eq!(q, vec![64, -127, 32, 0]);
        assert!((scale - 1.0 / 127.0).abs() < 1e-12);
    }
}
