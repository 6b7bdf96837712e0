//! The network: weights drawn from the job's random stream, one layer per call.
//!
//! Activations are int8 in HWC order (row, column, channel), so an im2col row for output pixel
//! `(y, x)` is nine contiguous copies of `c_in` bytes ((ky, kx) major, channel minor) and a
//! convolution's weights are `c_out` rows of `9 * c_in` in the same order. A layer's i32
//! accumulators are max-pooled 2x2 first, then ReLU'd and shifted (`(acc + 2^(s-1)) >> s`,
//! clamped to `0..=127`): pooling commutes with that monotone map, so this is the same as
//! requantizing first, for a quarter of the work. There are no biases (the weights are random;
//! only the cost matters).
//!
//! Weights are raw random bytes read as i8, layer `l` from `random_fill(l, ..)`. The shifts
//! keep typical activations in the middle of `0..=127` for random inputs (checked by a test),
//! so the network neither saturates nor dies.

use alloc::vec::Vec;

use plexus_guest::classify::{CLASSES, OutputBuffer};
use plexus_guest::{Host, Job};

use crate::input::{INPUT_BYTES_MAX, decode_input};
use crate::{IMAGE_BYTES, SIDE};

/// Layers, hence step calls per image.
pub const LAYERS: usize = 5;

/// A 3x3 convolution (padding 1) followed by 2x2 max pooling.
#[derive(Clone, Copy, Debug)]
struct Conv {
    side: usize,
    c_in: usize,
    c_out: usize,
    shift: u32,
}

impl Conv {
    const fn k(self) -> usize {
        9 * self.c_in
    }
    const fn positions(self) -> usize {
        self.side * self.side
    }
    const fn weights(self) -> usize {
        self.c_out * self.k()
    }
    const fn out_bytes(self) -> usize {
        self.positions() / 4 * self.c_out
    }
}

const CONVS: [Conv; 3] = [
    Conv {
        side: SIDE,
        c_in: 1,
        c_out: 32,
        shift: 8,
    },
    Conv {
        side: SIDE / 2,
        c_in: 32,
        c_out: 64,
        shift: 10,
    },
    Conv {
        side: SIDE / 4,
        c_in: 64,
        c_out: 128,
        shift: 10,
    },
];

/// Features entering the first fully connected layer (8x8x128).
const FEATURES: usize = CONVS[2].out_bytes();
/// Units of the first fully connected layer.
const HIDDEN: usize = 512;
/// The first fully connected layer's shift.
const FC_SHIFT: u32 = 11;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The largest im2col matrix of the three convolutions.
const COLS_MAX: usize = max(
    CONVS[0].positions() * CONVS[0].k(),
    max(
        CONVS[1].positions() * CONVS[1].k(),
        CONVS[2].positions() * CONVS[2].k(),
    ),
);
/// The largest accumulator matrix.
const ACC_MAX: usize = max(
    CONVS[0].positions() * CONVS[0].c_out,
    max(
        CONVS[1].positions() * CONVS[1].c_out,
        CONVS[2].positions() * CONVS[2].c_out,
    ),
);
/// The largest activation tensor between layers.
const ACT_MAX: usize = max(IMAGE_BYTES, CONVS[0].out_bytes());

/// Shifts, rounds, ReLUs and saturates an accumulator to `0..=127`.
fn requant(acc: i32, shift: u32) -> i8 {
    let rounded = (i64::from(acc) + (1i64 << (shift - 1))) >> shift;
    rounded.clamp(0, 127) as i8
}

/// The network's weights and buffers; its methods are generic over the host, so the module and
/// a native benchmark run the same code.
pub struct Model {
    convs: [Vec<i8>; 3],
    fc1: Vec<i8>,
    fc2: Vec<i8>,
    cols: Vec<i8>,
    acc: Vec<i32>,
    /// The current layer's input and output activations (swapped after each layer).
    act_in: Vec<i8>,
    act_out: Vec<i8>,
}

impl Model {
    /// Draws the weights from `host`'s random stream (layer `l` at counter `l`) and allocates
    /// every buffer: about 5.3 MB in all.
    pub fn new<H: Host>(host: &H) -> Self {
        let draw = |counter: u64, len: usize| {
            let mut weights = alloc::vec![0i8; len];
            host.random_fill_i8(counter, &mut weights);
            weights
        };
        Self {
            convs: [
                draw(0, CONVS[0].weights()),
                draw(1, CONVS[1].weights()),
                draw(2, CONVS[2].weights()),
            ],
            fc1: draw(3, HIDDEN * FEATURES),
            fc2: draw(4, CLASSES * HIDDEN),
            cols: alloc::vec![0; COLS_MAX],
            acc: alloc::vec![0; ACC_MAX],
            act_in: alloc::vec![0; ACT_MAX],
            act_out: alloc::vec![0; ACT_MAX],
        }
    }

    /// Runs layer `layer` (`0..LAYERS`) of `image` (4096 pixels; read only by layer 0, the
    /// others continue from the previous layer's activations); the last layer returns the logits.
    ///
    /// # Panics
    /// If `layer >= LAYERS` or `image` is not 4096 bytes.
    pub fn run_layer<H: Host>(
        &mut self,
        host: &H,
        layer: usize,
        image: &[u8],
    ) -> Option<[i32; CLASSES]> {
        match layer {
            0 => {
                assert_eq!(image.len(), IMAGE_BYTES, "cnn: image size");
                for (dst, &src) in self.act_in.iter_mut().zip(image) {
                    *dst = (src >> 1) as i8;
                }
                self.conv(host, 0);
            }
            1 | 2 => self.conv(host, layer),
            3 => {
                let acc = &mut self.acc[..HIDDEN];
                host.gemm_i8(1, HIDDEN, FEATURES, &self.act_in, &self.fc1, acc, false);
                for (q, &a) in self.act_out.iter_mut().zip(acc.iter()) {
                    *q = requant(a, FC_SHIFT);
                }
            }
            4 => {
                let mut logits = [0i32; CLASSES];
                host.gemm_i8(
                    1,
                    CLASSES,
                    HIDDEN,
                    &self.act_in,
                    &self.fc2,
                    &mut logits,
                    false,
                );
                return Some(logits);
            }
            _ => panic!("cnn: no layer {layer}"),
        }
        core::mem::swap(&mut self.act_in, &mut self.act_out);
        None
    }

    /// Convolution `index`: im2col, one `gemm_i8`, then pool, ReLU and shift into `act_out`.
    fn conv<H: Host>(&mut self, host: &H, index: usize) {
        let conv = CONVS[index];
        let (side, c_in, k) = (conv.side, conv.c_in, conv.k());
        let cols = &mut self.cols[..conv.positions() * k];
        for (position, row) in cols.chunks_exact_mut(k).enumerate() {
            let (y, x) = (position / side, position % side);
            for (tap, dst) in row.chunks_exact_mut(c_in).enumerate() {
                let (sy, sx) = ((y + tap / 3).wrapping_sub(1), (x + tap % 3).wrapping_sub(1));
                if sy < side && sx < side {
                    let at = (sy * side + sx) * c_in;
                    dst.copy_from_slice(&self.act_in[at..at + c_in]);
                } else {
                    dst.fill(0);
                }
            }
        }
        let acc = &mut self.acc[..conv.positions() * conv.c_out];
        host.gemm_i8(
            conv.positions(),
            conv.c_out,
            k,
            cols,
            &self.convs[index],
            acc,
            false,
        );
        let (half, c_out) = (side / 2, conv.c_out);
        for py in 0..half {
            for px in 0..half {
                let out = &mut self.act_out[(py * half + px) * c_out..][..c_out];
                let at = |dy: usize, dx: usize| ((2 * py + dy) * side + 2 * px + dx) * c_out;
                let (a, b, c, d) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
                for (channel, q) in out.iter_mut().enumerate() {
                    let pooled = acc[a + channel]
                        .max(acc[b + channel])
                        .max(acc[c + channel])
                        .max(acc[d + channel]);
                    *q = requant(pooled, conv.shift);
                }
            }
        }
    }
}

/// The cnn job: one layer of one image per step.
pub struct CnnJob {
    input: Vec<u8>,
    images: usize,
    image: usize,
    layer: usize,
    model: Model,
    output: OutputBuffer,
}

impl Job for CnnJob {
    fn init<H: Host>(host: &H) -> Self {
        let Some(input) = host.read_input(INPUT_BYTES_MAX) else {
            panic!("cnn: input longer than {INPUT_BYTES_MAX} bytes");
        };
        let images = match decode_input(&input) {
            Ok((images, _)) => images,
            Err(error) => panic!("cnn: {error}"),
        };
        Self {
            input,
            images,
            image: 0,
            layer: 0,
            model: Model::new(host),
            output: OutputBuffer::new(images),
        }
    }

    fn step<H: Host>(&mut self, host: &H) -> bool {
        let start = 4 + self.image * IMAGE_BYTES;
        let pixels = &self.input[start..start + IMAGE_BYTES];
        if let Some(logits) = self.model.run_layer(host, self.layer, pixels) {
            self.output.set(self.image, &logits);
            self.image += 1;
            self.layer = 0;
        } else {
            self.layer += 1;
        }
        self.image < self.images
    }

    fn output(&self) -> &[u8] {
        self.output.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_output, random_input};
    use alloc::vec;
    use plexus_guest::{VecHost, run_native, splitmix_fill};

    fn host(input: Vec<u8>, seed: u64) -> VecHost {
        VecHost::new(input, vec![])
            .with_random(move |counter, dst| splitmix_fill(seed, counter, dst))
    }

    #[test]
    fn same_job_gives_identical_output_and_step_count() {
        let input = random_input(5, 2).unwrap();
        let (first, steps) = run_native::<CnnJob, _>(&host(input.clone(), 9));
        let (second, steps_again) = run_native::<CnnJob, _>(&host(input, 9));
        assert_eq!(first, second);
        assert_eq!(steps, (LAYERS * 2) as u64);
        assert_eq!(steps_again, steps);
        let output = decode_output(&first).unwrap();
        assert_eq!(output.labels.len(), 2);
    }

    #[test]
    fn output_depends_on_the_job_seed_and_the_image() {
        let input = random_input(5, 2).unwrap();
        let a = decode_output(&run_native::<CnnJob, _>(&host(input.clone(), 1)).0).unwrap();
        let b = decode_output(&run_native::<CnnJob, _>(&host(input, 2)).0).unwrap();
        assert_ne!(
            a.logits, b.logits,
            "weights come from the job's random stream"
        );
        assert_ne!(
            a.logits[0], a.logits[1],
            "different images, different logits"
        );
    }

    #[test]
    fn activations_stay_inside_the_int8_range_without_dying() {
        // For random inputs every layer must keep a spread of activations: not all zero (dead)
        // and not mostly 127 (saturated), or the benchmark would not exercise real arithmetic.
        let input = random_input(3, 1).unwrap();
        let host = host(input.clone(), 4);
        let mut model = Model::new(&host);
        let sizes = [
            CONVS[0].out_bytes(),
            CONVS[1].out_bytes(),
            CONVS[2].out_bytes(),
            HIDDEN,
        ];
        for (layer, size) in sizes.into_iter().enumerate() {
            assert_eq!(model.run_layer(&host, layer, &input[4..]), None);
            let act = &model.act_in[..size];
            let zeros = act.iter().filter(|&&q| q == 0).count();
            let saturated = act.iter().filter(|&&q| q == 127).count();
            let mean = act.iter().map(|&q| q as i64).sum::<i64>() / size as i64;
            std::eprintln!("layer {layer}: zeros {zeros}/{size} saturated {saturated} mean {mean}");
            assert!(zeros < size * 7 / 8, "layer {layer} mostly dead");
            assert!(saturated < size / 4, "layer {layer} saturated");
            assert!((8..=100).contains(&mean), "layer {layer} mean {mean}");
        }
        let logits = model.run_layer(&host, 4, &input[4..]).unwrap();
        assert!(logits.iter().any(|&l| l != logits[0]));
    }
}
