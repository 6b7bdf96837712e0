//! The blob format round-trips, each corruption gets its own error, and word rows dequantize.

use super::*;
use plexus_guest::nn::quantize_rows;
use plexus_guest::{VecHost, splitmix_fill};

/// The seed of every random tensor here (printed by the failing assertion's message).
const SEED: u64 = 14;

/// A small model the job would accept: the real width and positions, one layer, a tiny vocab.
const SMALL: Config = Config {
    hidden: DIM,
    layers: 1,
    heads: 12,
    intermediate: 8,
    vocab: 5,
    positions: TOKENS_MAX,
};

/// `count` floats in about [-2, 2), from the seeded stream at `counter`.
fn floats(counter: u64, count: usize) -> Vec<f32> {
    let mut bytes = vec![0u8; count * 2];
    splitmix_fill(SEED, counter, &mut bytes);
    bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 16384.0)
        .collect()
}

fn linear(counter: u64, rows: usize, cols: usize) -> Linear {
    Linear::quantize(
        &floats(counter, rows * cols),
        rows,
        cols,
        floats(counter + 1, rows),
    )
}

fn norm(counter: u64, hidden: usize) -> LayerNorm {
    LayerNorm {
        gamma: floats(counter, hidden),
        beta: floats(counter + 1, hidden),
        eps: NORM_EPS,
    }
}

/// The model, its word table as floats, and its encoded blob.
fn small() -> (Weights, Vec<f32>, Vec<u8>) {
    let c = SMALL;
    let (h, i) = (c.hidden, c.intermediate);
    let layers = (0..c.layers as u64)
        .map(|l| Layer {
            qkv: linear(100 * l + 10, 3 * h, h),
            attn_out: linear(100 * l + 20, h, h),
            attn_norm: norm(100 * l + 30, h),
            up: linear(100 * l + 40, i, h),
            down: linear(100 * l + 50, h, i),
            out_norm: norm(100 * l + 60, h),
        })
        .collect();
    let mut weights = Weights {
        config: c,
        position: floats(1, c.positions * h),
        embed_norm: norm(2, h),
        layers,
        word_offset: 0,
    };
    let words = floats(3, c.vocab * h);
    let (mut word_q, mut word_scale) = (vec![0i8; words.len()], vec![0f32; c.vocab]);
    quantize_rows(&words, c.vocab, h, &mut word_q, &mut word_scale);
    let blob = encode(&weights, &word_q, &word_scale);
    weights.word_offset = (blob.len() - c.vocab * (4 + h)) as u64;
    (weights, words, blob)
}

fn load(blob: Vec<u8>) -> Result<Weights, WeightsError> {
    Weights::load(&VecHost::new(vec![], vec![blob]), 0)
}

/// The blob with the header's u32 number `field` (0 = hidden .. 5 = positions) set to `value`.
fn with_field(blob: &[u8], field: usize, value: u32) -> Vec<u8> {
    let mut blob = blob.to_vec();
    let at = 8 + 4 * field;
    blob[at..at + 4].copy_from_slice(&value.to_le_bytes());
    blob
}

#[test]
fn encode_then_load_gives_the_same_weights() {
    let (weights, _, blob) = small();
    let (_, total) = SMALL.layout();
    assert_eq!(blob.len() as u64, total);
    assert_eq!(load(blob).unwrap(), weights, "seed {SEED}");
}

#[test]
fn word_rows_dequantize_to_within_half_a_step_of_the_floats() {
    let (weights, words, blob) = small();
    let host = VecHost::new(vec![], vec![vec![7], blob]);
    let loaded = Weights::load(&host, 1).unwrap();
    let h = SMALL.hidden;
    let (mut bytes, mut row) = (vec![0u8; 4 + h], vec![0f32; h]);
    for id in 0..SMALL.vocab {
        loaded.word_row(&host, 1, id as u32, &mut bytes, &mut row);
        let scale = f32::from_le_bytes(bytes[..4].try_into().unwrap());
        let original = &words[id * h..(id + 1) * h];
        let max = original.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(scale, max / 127.0, "row {id} scale, seed {SEED}");
        for (t, (got, want)) in row.iter().zip(original).enumerate() {
            assert_eq!(*got, f32::from(bytes[4 + t] as i8) * scale);
            assert!(
                (got - want).abs() <= scale / 2.0 * 1.0001,
                "row {id} col {t}: {got} vs {want}"
            );
        }
    }
    assert_eq!(loaded.word_offset, weights.word_offset);
}

#[test]
fn word_row_panics_on_an_id_outside_the_vocabulary() {
    let (_, _, blob) = small();
    let host = VecHost::new(vec![], vec![blob]);
    let loaded = Weights::load(&host, 0).unwrap();
    let (mut bytes, mut row) = (vec![0u8; 4 + DIM], vec![0f32; DIM]);
    let id = SMALL.vocab as u32;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        loaded.word_row(&host, 0, id, &mut bytes, &mut row);
    }));
    let message = caught.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("outside the vocabulary"), "{message}");
}

#[test]
fn every_corruption_is_refused_with_its_reason() {
    let (_, _, blob) = small();
    let got = blob.len() as u64;
    let (_, total) = SMALL.layout();
    let mut bad_magic = blob.clone();
    bad_magic[7] ^= 1;
    let mut nan_scale = blob.clone();
    // The first linear layer's first scale: after the header, the position table, the
    // embedding norm and the qkv weights.
    let at = HEADER_BYTES as usize + 4 * SMALL.positions * DIM + 8 * DIM + 3 * DIM * DIM;
    nan_scale[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut infinite_position = blob.clone();
    infinite_position[HEADER_BYTES as usize + 8..][..4]
        .copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
    let mut longer = blob.clone();
    longer.push(0);
    let cases: Vec<(&str, Vec<u8>, WeightsError)> = vec![
        (
            "shorter than a header",
            blob[..31].to_vec(),
            WeightsError::Length {
                expected: 32,
                got: 31,
            },
        ),
        ("bad magic", bad_magic, WeightsError::BadMagic),
        (
            "hidden",
            with_field(&blob, 0, 383),
            WeightsError::Hidden(383),
        ),
        (
            "no layers",
            with_field(&blob, 1, 0),
            WeightsError::Empty("layers"),
        ),
        (
            "heads",
            with_field(&blob, 2, 5),
            WeightsError::Heads {
                heads: 5,
                hidden: DIM,
            },
        ),
        (
            "zero heads",
            with_field(&blob, 2, 0),
            WeightsError::Heads {
                heads: 0,
                hidden: DIM,
            },
        ),
        (
            "no intermediate",
            with_field(&blob, 3, 0),
            WeightsError::Empty("intermediate"),
        ),
        (
            "no vocab",
            with_field(&blob, 4, 0),
            WeightsError::Empty("vocab"),
        ),
        (
            "positions",
            with_field(&blob, 5, 255),
            WeightsError::Positions(255),
        ),
        (
            "word table cut",
            blob[..blob.len() - 1].to_vec(),
            WeightsError::Length {
                expected: total,
                got: got - 1,
            },
        ),
        (
            "trailing byte",
            longer,
            WeightsError::Length {
                expected: total,
                got: got + 1,
            },
        ),
        (
            "vocab larger than the table",
            with_field(&blob, 4, 6),
            WeightsError::Length {
                expected: total + 4 + DIM as u64,
                got,
            },
        ),
        (
            "nan scale",
            nan_scale,
            WeightsError::NonFinite {
                field: "scale",
                offset: at as u64,
            },
        ),
        (
            "infinite position",
            infinite_position,
            WeightsError::NonFinite {
                field: "position",
                offset: HEADER_BYTES + 8,
            },
        ),
    ];
    for (name, blob, want) in cases {
        assert_eq!(load(blob), Err(want), "{name}");
    }
    let none = VecHost::new(vec![], vec![]);
    assert_eq!(Weights::load(&none, 0), Err(WeightsError::MissingBlob(0)));
}

#[test]
fn a_shape_that_overflows_is_a_length_error_not_an_allocation() {
    let (_, _, blob) = small();
    let huge = with_field(&with_field(&blob, 1, u32::MAX), 3, u32::MAX);
    let err = load(huge).unwrap_err();
    assert!(
        matches!(err, WeightsError::Length { got, .. } if got == blob.len() as u64),
        "{err:?}"
    );
}

/// A host whose blob claims `missing` more bytes than it serves.
struct Lying {
    inner: VecHost,
    missing: u64,
}

impl Host for Lying {
    fn input_len(&self) -> usize {
        self.inner.input_len()
    }
    fn input_read(&self, offset: usize, dst: &mut [u8]) -> usize {
        self.inner.input_read(offset, dst)
    }
    fn blob_count(&self) -> usize {
        self.inner.blob_count()
    }
    fn blob_len(&self, index: usize) -> Option<u64> {
        Some(self.inner.blob_len(index)? + self.missing)
    }
    fn blob_read(&self, index: usize, offset: u64, dst: &mut [u8]) -> Option<usize> {
        self.inner.blob_read(index, offset, dst)
    }
    fn random_fill(&self, counter: u64, dst: &mut [u8]) {
        self.inner.random_fill(counter, dst);
    }
    fn gemm_i8(&self, m: usize, n: usize, k: usize, a: &[i8], b: &[i8], c: &mut [i32], acc: bool) {
        self.inner.gemm_i8(m, n, k, a, b, c, acc);
    }
}

#[test]
fn a_host_that_serves_less_than_it_declared_is_a_read_error() {
    let (_, _, blob) = small();
    // Cut inside the last layer's weights, then claim the full length.
    let cut = blob.len() - SMALL.vocab * (4 + DIM) - 100;
    let missing = (blob.len() - cut) as u64;
    let host = Lying {
        inner: VecHost::new(vec![], vec![blob[..cut].to_vec()]),
        missing,
    };
    assert_eq!(Weights::load(&host, 0), Err(WeightsError::Read(cut as u64)));
}
