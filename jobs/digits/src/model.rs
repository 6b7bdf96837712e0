//! The integer-only forward pass and the job around it.
//!
//! For a batch of `m` images (pixels `0..=16`, read as i8):
//!
//! 1. `acc = gemm_i8(pixels, w1)` (`m`×`H`), plus `b1`, ReLU;
//! 2. `act = Requant::apply(acc)` in `0..=127` (multiply, round half up, shift, saturate);
//! 3. `logits = gemm_i8(act, w2)` (`m`×10), plus `b2`; the label is the argmax (ties to the
//!    lowest class).
//!
//! Accumulators cannot overflow for any valid blob: `|acc| <= 64 * 16 * 128 + |b1|` in layer one
//! and `H * 127 * 128 + |b2|` in layer two; biases use wrapping adds like the kernel, so even a
//! hostile blob gives the same bits everywhere.

use alloc::vec::Vec;

use plexus_guest::classify::{CLASSES, OutputBuffer};
use plexus_guest::{Host, Job};

use crate::input::{INPUT_BYTES_MAX, decode_input};
use crate::weights::{WEIGHTS_BYTES_MAX, Weights};
use crate::{PIXELS, STEP_IMAGES, WEIGHTS_BLOB};

/// The weights plus scratch buffers for one batch of up to [`STEP_IMAGES`] images.
pub struct Model {
    weights: Weights,
    pixels: Vec<i8>,
    acc: Vec<i32>,
    act: Vec<i8>,
    logits: Vec<i32>,
}

impl Model {
    /// A model over `weights` with its batch buffers allocated.
    pub fn new(weights: Weights) -> Self {
        let hidden = weights.hidden;
        Self {
            weights,
            pixels: alloc::vec![0; STEP_IMAGES * PIXELS],
            acc: alloc::vec![0; STEP_IMAGES * hidden],
            act: alloc::vec![0; STEP_IMAGES * hidden],
            logits: alloc::vec![0; STEP_IMAGES * CLASSES],
        }
    }

    /// Classifies `pixels` (whole images, at most [`STEP_IMAGES`] of them, values `0..=16`) and
    /// hands each image's logits to `emit` in order.
    ///
    /// # Panics
    /// If `pixels` is not a whole number of images or holds more than [`STEP_IMAGES`].
    pub fn forward<H: Host>(
        &mut self,
        host: &H,
        pixels: &[u8],
        mut emit: impl FnMut(usize, &[i32; CLASSES]),
    ) {
        assert!(pixels.len().is_multiple_of(PIXELS) && pixels.len() <= STEP_IMAGES * PIXELS);
        let m = pixels.len() / PIXELS;
        let h = self.weights.hidden;
        for (dst, &src) in self.pixels.iter_mut().zip(pixels) {
            *dst = src as i8;
        }
        let acc = &mut self.acc[..m * h];
        host.gemm_i8(m, h, PIXELS, &self.pixels, &self.weights.w1, acc, false);
        for (row, act_row) in acc.chunks_exact(h).zip(self.act.chunks_exact_mut(h)) {
            for ((&a, &b), q) in row.iter().zip(&self.weights.b1).zip(act_row) {
                *q = self.weights.requant.apply(a.wrapping_add(b).max(0));
            }
        }
        let logits = &mut self.logits[..m * CLASSES];
        host.gemm_i8(m, CLASSES, h, &self.act, &self.weights.w2, logits, false);
        for (image, row) in logits.chunks_exact(CLASSES).enumerate() {
            let mut out = [0i32; CLASSES];
            for ((o, &l), &b) in out.iter_mut().zip(row).zip(&self.weights.b2) {
                *o = l.wrapping_add(b);
            }
            emit(image, &out);
        }
    }
}

/// The digits job: `init` checks the input and weights, each `step` classifies one batch.
pub struct DigitsJob {
    input: Vec<u8>,
    images: usize,
    next: usize,
    model: Model,
    output: OutputBuffer,
}

impl Job for DigitsJob {
    fn init<H: Host>(host: &H) -> Self {
        let Some(input) = host.read_input(INPUT_BYTES_MAX) else {
            panic!("digits: input longer than {INPUT_BYTES_MAX} bytes");
        };
        let images = match decode_input(&input) {
            Ok((images, _)) => images,
            Err(error) => panic!("digits: {error}"),
        };
        let Some(blob) = host.read_blob(WEIGHTS_BLOB, WEIGHTS_BYTES_MAX) else {
            panic!("digits: no weights blob of at most {WEIGHTS_BYTES_MAX} bytes");
        };
        let weights = match Weights::decode(&blob) {
            Ok(weights) => weights,
            Err(error) => panic!("digits: {error}"),
        };
        Self {
            input,
            images,
            next: 0,
            model: Model::new(weights),
            output: OutputBuffer::new(images),
        }
    }

    fn step<H: Host>(&mut self, host: &H) -> bool {
        let first = self.next;
        let last = self.images.min(first + STEP_IMAGES);
        let pixels = &self.input[4 + first * PIXELS..4 + last * PIXELS];
        let output = &mut self.output;
        self.model.forward(host, pixels, |image, logits| {
            output.set(first + image, logits)
        });
        self.next = last;
        self.next < self.images
    }

    fn output(&self) -> &[u8] {
        self.output.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::encode_input;
    use crate::weights::Requant;
    use crate::{CLASSES, Pixels, decode_output};
    use alloc::vec;
    use plexus_guest::{VecHost, run_native};

    /// A model whose class c's logit is (number of pixels equal to 16 in row c of the image, for
    /// c < 8) times a known factor: checks the whole pipeline by hand.
    fn row_counter() -> Weights {
        // Hidden unit r (r < 8) sums row r's pixels.
        let hidden = 8;
        let mut w1 = vec![0i8; PIXELS * hidden];
        for r in 0..8 {
            for c in 0..8 {
                w1[r * PIXELS + r * 8 + c] = 1;
            }
        }
        let mut w2 = vec![0i8; CLASSES * hidden];
        for r in 0..8 {
            w2[r * hidden + r] = 1;
        }
        Weights {
            hidden,
            w1,
            b1: vec![-8; hidden],
            // acc / 2, rounded half up.
            requant: Requant {
                multiplier: 1,
                shift: 1,
            },
            w2,
            b2: vec![0, 0, 0, 0, 0, 0, 0, 0, 5, -1],
        }
    }

    #[test]
    fn forward_matches_a_hand_computed_model() {
        let mut image: Pixels = [0; PIXELS];
        image[3 * 8..3 * 8 + 8].fill(16); // row 3: sum 128 -> (128-8)/2 = 60
        image[5 * 8] = 9; // row 5: sum 9 -> 1 -> round(0.5) = 1
        let input = encode_input(&[image, [0; PIXELS]]).unwrap();
        let host = VecHost::new(input, vec![row_counter().encode().unwrap()]);
        let (bytes, steps) = run_native::<DigitsJob, _>(&host);
        assert_eq!(steps, 1);
        let output = decode_output(&bytes).unwrap();
        assert_eq!(output.logits[0], [0, 0, 0, 60, 0, 1, 0, 0, 5, -1]);
        assert_eq!(output.labels, vec![3, 8]);
        assert_eq!(output.logits[1], [0, 0, 0, 0, 0, 0, 0, 0, 5, -1]);
    }

    #[test]
    fn batches_split_into_steps_and_agree_with_one_image_runs() {
        let images: Vec<Pixels> = (0..STEP_IMAGES * 2 + 3)
            .map(|i| core::array::from_fn(|p| ((i * 31 + p * 7) % 17) as u8))
            .collect();
        let weights = row_counter().encode().unwrap();
        let host = VecHost::new(encode_input(&images).unwrap(), vec![weights.clone()]);
        let (bytes, steps) = run_native::<DigitsJob, _>(&host);
        assert_eq!(steps, 3);
        let batch = decode_output(&bytes).unwrap();
        for index in [0, STEP_IMAGES - 1, STEP_IMAGES, images.len() - 1] {
            let single = VecHost::new(
                encode_input(&images[index..=index]).unwrap(),
                vec![weights.clone()],
            );
            let one = decode_output(&run_native::<DigitsJob, _>(&single).0).unwrap();
            assert_eq!(one.logits[0], batch.logits[index], "image {index}");
        }
    }
}
