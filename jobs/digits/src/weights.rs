//! The digits weights blob: a small versioned binary format.
//!
//! Layout (integers little-endian), version 1:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `PXDW` |
//! | 4 | 2 | version, 1 |
//! | 6 | 2 | inputs, must be 64 |
//! | 8 | 2 | hidden units `H`, `1..=HIDDEN_MAX` |
//! | 10 | 2 | classes, must be 10 |
//! | 12 | 4 | requantization multiplier (i32, `1..=i32::MAX`) |
//! | 16 | 1 | requantization shift (`1..=REQUANT_SHIFT_MAX`) |
//! | 17 | 3 | zero |
//! | 20 | `64 H` | `w1`: i8, one row of 64 per hidden unit (the `B` operand of `gemm_i8`) |
//! | | `4 H` | `b1`: i32 per hidden unit |
//! | | `10 H` | `w2`: i8, one row of `H` per class |
//! | | 40 | `b2`: i32 per class |
//!
//! The blob is exactly that long; anything else is rejected. See [`crate::model`] for how the
//! fields are used.

use alloc::vec::Vec;

use crate::{CLASSES, PIXELS};

/// The format's magic bytes.
pub const MAGIC: [u8; 4] = *b"PXDW";
/// The format version this code reads and writes.
pub const VERSION: u16 = 1;
/// The most hidden units the format allows.
pub const HIDDEN_MAX: usize = 256;
/// The largest requantization shift (keeps `acc * multiplier + rounding` inside i64).
pub const REQUANT_SHIFT_MAX: u8 = 62;
/// The header's length in bytes.
pub const HEADER_BYTES: usize = 20;
/// The largest valid blob in bytes.
pub const WEIGHTS_BYTES_MAX: usize = weights_bytes(HIDDEN_MAX);

/// The blob's length for `hidden` hidden units.
pub const fn weights_bytes(hidden: usize) -> usize {
    HEADER_BYTES + PIXELS * hidden + 4 * hidden + CLASSES * hidden + 4 * CLASSES
}

/// The fixed-point factor that maps a hidden accumulator to an int8 activation:
/// `q = clamp((acc * multiplier + 2^(shift-1)) >> shift, 0, 127)` (round half up, in i64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    /// The multiplier, positive.
    pub multiplier: i32,
    /// The right shift, `1..=REQUANT_SHIFT_MAX`.
    pub shift: u8,
}

impl Requant {
    /// Requantizes a non-negative (post-ReLU) accumulator to `0..=127`.
    pub fn apply(self, acc: i32) -> i8 {
        let scaled = (i64::from(acc) * i64::from(self.multiplier) + (1i64 << (self.shift - 1)))
            >> self.shift;
        scaled.clamp(0, 127) as i8
    }
}

/// The quantized model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights {
    /// Hidden units.
    pub hidden: usize,
    /// First layer, `hidden` rows of 64.
    pub w1: Vec<i8>,
    /// First layer biases, in accumulator units (pixel × weight).
    pub b1: Vec<i32>,
    /// Hidden accumulator -> int8 activation.
    pub requant: Requant,
    /// Second layer, 10 rows of `hidden`.
    pub w2: Vec<i8>,
    /// Second layer biases, in accumulator units (activation × weight).
    pub b2: Vec<i32>,
}

/// Why bytes are not a weights blob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    /// Shorter than the header.
    #[error("weights of {len} bytes have no header")]
    NoHeader {
        /// The blob's length.
        len: usize,
    },
    /// Not this format.
    #[error("weights do not start with the magic PXDW")]
    Magic,
    /// A version this code does not read.
    #[error("weights version {version}, expected {VERSION}")]
    Version {
        /// The version found.
        version: u16,
    },
    /// Dimensions other than 64 -> 1..=HIDDEN_MAX -> 10.
    #[error(
        "weights of shape {inputs} -> {hidden} -> {classes}, expected 64 -> 1..={HIDDEN_MAX} -> 10"
    )]
    Shape {
        /// Inputs found.
        inputs: u16,
        /// Hidden units found.
        hidden: u16,
        /// Classes found.
        classes: u16,
    },
    /// A multiplier that is not positive or a shift out of range.
    #[error("requantization multiplier {multiplier} / shift {shift} out of range")]
    Requant {
        /// The multiplier found.
        multiplier: i32,
        /// The shift found.
        shift: u8,
    },
    /// Reserved header bytes that are not zero.
    #[error("reserved header bytes are not zero")]
    Reserved,
    /// The length does not match the shape.
    #[error("weights of {len} bytes, expected {expected} for {hidden} hidden units")]
    Length {
        /// Hidden units in the header.
        hidden: usize,
        /// The blob's length.
        len: usize,
        /// The length the shape requires.
        expected: usize,
    },
    /// Vectors whose lengths do not match `hidden` (encoding only).
    #[error("weight vectors do not match {hidden} hidden units")]
    Inconsistent {
        /// Hidden units claimed.
        hidden: usize,
    },
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn i32s(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(4)
        .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

fn i8s(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}

impl Weights {
    /// Decodes and checks a blob.
    pub fn decode(bytes: &[u8]) -> Result<Self, WeightsError> {
        if bytes.len() < HEADER_BYTES {
            return Err(WeightsError::NoHeader { len: bytes.len() });
        }
        if bytes[..4] != MAGIC {
            return Err(WeightsError::Magic);
        }
        let version = u16_at(bytes, 4);
        if version != VERSION {
            return Err(WeightsError::Version { version });
        }
        let (inputs, hidden, classes) = (u16_at(bytes, 6), u16_at(bytes, 8), u16_at(bytes, 10));
        let h = usize::from(hidden);
        if usize::from(inputs) != PIXELS
            || h == 0
            || h > HIDDEN_MAX
            || usize::from(classes) != CLASSES
        {
            return Err(WeightsError::Shape {
                inputs,
                hidden,
                classes,
            });
        }
        let multiplier = i32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let shift = bytes[16];
        if multiplier <= 0 || shift == 0 || shift > REQUANT_SHIFT_MAX {
            return Err(WeightsError::Requant { multiplier, shift });
        }
        if bytes[17..20] != [0; 3] {
            return Err(WeightsError::Reserved);
        }
        let expected = weights_bytes(h);
        if bytes.len() != expected {
            return Err(WeightsError::Length {
                hidden: h,
                len: bytes.len(),
                expected,
            });
        }
        let (w1, rest) = bytes[HEADER_BYTES..].split_at(PIXELS * h);
        let (b1, rest) = rest.split_at(4 * h);
        let (w2, b2) = rest.split_at(CLASSES * h);
        Ok(Self {
            hidden: h,
            w1: i8s(w1),
            b1: i32s(b1),
            requant: Requant { multiplier, shift },
            w2: i8s(w2),
            b2: i32s(b2),
        })
    }

    /// Encodes the blob; fails if the fields do not describe a valid model.
    pub fn encode(&self) -> Result<Vec<u8>, WeightsError> {
        let h = self.hidden;
        if self.w1.len() != PIXELS * h
            || self.b1.len() != h
            || self.w2.len() != CLASSES * h
            || self.b2.len() != CLASSES
        {
            return Err(WeightsError::Inconsistent { hidden: h });
        }
        let hidden = u16::try_from(h)
            .ok()
            .filter(|&hidden| hidden > 0 && h <= HIDDEN_MAX)
            .ok_or(WeightsError::Shape {
                inputs: PIXELS as u16,
                hidden: u16::try_from(h).unwrap_or(u16::MAX),
                classes: CLASSES as u16,
            })?;
        let Requant { multiplier, shift } = self.requant;
        if multiplier <= 0 || shift == 0 || shift > REQUANT_SHIFT_MAX {
            return Err(WeightsError::Requant { multiplier, shift });
        }
        let mut bytes = Vec::with_capacity(weights_bytes(h));
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(PIXELS as u16).to_le_bytes());
        bytes.extend_from_slice(&hidden.to_le_bytes());
        bytes.extend_from_slice(&(CLASSES as u16).to_le_bytes());
        bytes.extend_from_slice(&multiplier.to_le_bytes());
        bytes.extend_from_slice(&[shift, 0, 0, 0]);
        bytes.extend(self.w1.iter().map(|&w| w as u8));
        bytes.extend(self.b1.iter().flat_map(|b| b.to_le_bytes()));
        bytes.extend(self.w2.iter().map(|&w| w as u8));
        bytes.extend(self.b2.iter().flat_map(|b| b.to_le_bytes()));
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample(hidden: usize) -> Weights {
        Weights {
            hidden,
            w1: (0..PIXELS * hidden)
                .map(|i| (i % 255) as u8 as i8)
                .collect(),
            b1: (0..hidden).map(|i| i as i32 * -1000).collect(),
            requant: Requant {
                multiplier: 1 << 30,
                shift: 40,
            },
            w2: (0..CLASSES * hidden)
                .map(|i| (i * 7 % 256) as u8 as i8)
                .collect(),
            b2: (0..CLASSES).map(|i| i as i32 * 77_777).collect(),
        }
    }

    #[test]
    fn weights_round_trip() {
        for hidden in [1, 32, HIDDEN_MAX] {
            let weights = sample(hidden);
            let bytes = weights.encode().unwrap();
            assert_eq!(bytes.len(), weights_bytes(hidden));
            assert_eq!(Weights::decode(&bytes).unwrap(), weights);
        }
    }

    #[test]
    fn decode_rejects_each_malformation() {
        let good = sample(4).encode().unwrap();
        let with = |at: usize, value: u8| {
            let mut bytes = good.clone();
            bytes[at] = value;
            Weights::decode(&bytes)
        };
        assert_eq!(
            Weights::decode(&good[..19]),
            Err(WeightsError::NoHeader { len: 19 })
        );
        assert_eq!(with(0, b'X'), Err(WeightsError::Magic));
        assert_eq!(with(4, 2), Err(WeightsError::Version { version: 2 }));
        assert!(matches!(
            with(6, 63),
            Err(WeightsError::Shape { inputs: 63, .. })
        ));
        assert!(matches!(
            with(8, 0),
            Err(WeightsError::Shape { hidden: 0, .. })
        ));
        assert!(matches!(
            with(10, 9),
            Err(WeightsError::Shape { classes: 9, .. })
        ));
        assert!(matches!(with(15, 0x80), Err(WeightsError::Requant { .. })));
        assert!(matches!(
            with(16, 0),
            Err(WeightsError::Requant { shift: 0, .. })
        ));
        assert!(matches!(
            with(16, 63),
            Err(WeightsError::Requant { shift: 63, .. })
        ));
        assert_eq!(with(18, 1), Err(WeightsError::Reserved));
        assert_eq!(
            Weights::decode(&good[..good.len() - 1]),
            Err(WeightsError::Length {
                hidden: 4,
                len: weights_bytes(4) - 1,
                expected: weights_bytes(4)
            })
        );
        let mut hidden_max = good.clone();
        hidden_max[8..10].copy_from_slice(&(HIDDEN_MAX as u16 + 1).to_le_bytes());
        assert!(matches!(
            Weights::decode(&hidden_max),
            Err(WeightsError::Shape { .. })
        ));
    }

    #[test]
    fn encode_rejects_inconsistent_fields() {
        let mut weights = sample(3);
        weights.b1 = vec![0; 2];
        assert_eq!(
            weights.encode(),
            Err(WeightsError::Inconsistent { hidden: 3 })
        );
        let mut weights = sample(3);
        weights.requant.shift = 0;
        assert!(matches!(
            weights.encode(),
            Err(WeightsError::Requant { .. })
        ));
    }

    #[test]
    fn requant_rounds_half_up_and_saturates() {
        let half = Requant {
            multiplier: 1,
            shift: 1,
        };
        assert_eq!(half.apply(0), 0);
        assert_eq!(half.apply(1), 1); // 0.5 rounds up
        assert_eq!(half.apply(4), 2);
        assert_eq!(half.apply(5), 3);
        assert_eq!(half.apply(i32::MAX), 127);
        let big = Requant {
            multiplier: i32::MAX,
            shift: REQUANT_SHIFT_MAX,
        };
        // (2^31-1)^2 + 2^61 stays inside i64; (2^62 - 2^32 + 1) / 2^62 rounds to 1.
        assert_eq!(big.apply(i32::MAX), 1);
    }
}
