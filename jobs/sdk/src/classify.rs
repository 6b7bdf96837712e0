//! The output encoding of the classifier jobs (digits, cnn): labels and logits for a batch.
//!
//! Layout (all integers little-endian): `u32 N`, then `N` label bytes (`0..CLASSES`), then
//! `N * CLASSES` `i32` logits, image by image. Length is exactly `4 + N + 4 * CLASSES * N`.
//! A label is the argmax of its image's logits, ties going to the lowest class index.

use alloc::vec::Vec;

/// Classes of every classifier job (digits 0..9; the cnn job reuses the shape).
pub const CLASSES: usize = 10;

/// The bytes of a batch of `images` classifications.
pub const fn output_bytes(images: usize) -> usize {
    4 + images + 4 * CLASSES * images
}

/// The argmax of `logits`, ties going to the lowest index.
pub fn argmax(logits: &[i32; CLASSES]) -> u8 {
    let mut best = 0;
    for (class, &logit) in logits.iter().enumerate().skip(1) {
        if logit > logits[best] {
            best = class;
        }
    }
    best as u8
}

/// A decoded classifier output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// One label per image.
    pub labels: Vec<u8>,
    /// One row of logits per image.
    pub logits: Vec<[i32; CLASSES]>,
}

/// Why output bytes are not a classifier output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// Shorter than the 4-byte count.
    #[error("output of {len} bytes has no image count")]
    NoCount {
        /// The output's length.
        len: usize,
    },
    /// The length does not match the count.
    #[error("output of {len} bytes does not hold {images} images ({expected} bytes)")]
    Length {
        /// The count in the output.
        images: u32,
        /// The output's length.
        len: usize,
        /// The length the count requires.
        expected: usize,
    },
    /// A label is not the argmax of its logits (or not a class at all).
    #[error("label {label} of image {image} is not the argmax of its logits")]
    Label {
        /// The image's index.
        image: usize,
        /// The label found.
        label: u8,
    },
}

/// A writer that fills an output buffer of a known image count in place, image by image, so a
/// job allocates its output once.
#[derive(Clone, Debug)]
pub struct OutputBuffer {
    bytes: Vec<u8>,
    images: usize,
}

impl OutputBuffer {
    /// A zeroed output for `images` images (count already written).
    pub fn new(images: usize) -> Self {
        let mut bytes = alloc::vec![0u8; output_bytes(images)];
        bytes[..4].copy_from_slice(&(images as u32).to_le_bytes());
        Self { bytes, images }
    }

    /// Records image `image`'s logits and their argmax label.
    ///
    /// # Panics
    /// If `image` is not below the buffer's image count.
    pub fn set(&mut self, image: usize, logits: &[i32; CLASSES]) {
        assert!(image < self.images, "image {image} out of range");
        self.bytes[4 + image] = argmax(logits);
        let start = 4 + self.images + 4 * CLASSES * image;
        for (class, logit) in logits.iter().enumerate() {
            let at = start + 4 * class;
            self.bytes[at..at + 4].copy_from_slice(&logit.to_le_bytes());
        }
    }

    /// The encoded output.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Encodes labels (the argmax of each row) and logits.
pub fn encode_output(logits: &[[i32; CLASSES]]) -> Vec<u8> {
    let mut buffer = OutputBuffer::new(logits.len());
    for (image, row) in logits.iter().enumerate() {
        buffer.set(image, row);
    }
    buffer.bytes
}

/// Decodes an output, checking its length and that every label is its logits' argmax.
pub fn decode_output(bytes: &[u8]) -> Result<Output, OutputError> {
    let count: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(OutputError::NoCount { len: bytes.len() })?;
    let images = u32::from_le_bytes(count);
    let expected = usize::try_from(images)
        .ok()
        .and_then(|n| n.checked_mul(1 + 4 * CLASSES))
        .and_then(|n| n.checked_add(4));
    let n = images as usize;
    if expected != Some(bytes.len()) {
        return Err(OutputError::Length {
            images,
            len: bytes.len(),
            expected: expected.unwrap_or(usize::MAX),
        });
    }
    let labels = bytes[4..4 + n].to_vec();
    let logits: Vec<[i32; CLASSES]> = bytes[4 + n..]
        .chunks_exact(4 * CLASSES)
        .map(|row| {
            let mut logits = [0i32; CLASSES];
            for (logit, word) in logits.iter_mut().zip(row.chunks_exact(4)) {
                *logit = i32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            }
            logits
        })
        .collect();
    for (image, (&label, row)) in labels.iter().zip(&logits).enumerate() {
        if label != argmax(row) {
            return Err(OutputError::Label { image, label });
        }
    }
    Ok(Output { labels, logits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn argmax_takes_lowest_index_on_ties() {
        assert_eq!(argmax(&[3, 7, 7, 0, 0, 0, 0, 0, 0, 7]), 1);
        assert_eq!(argmax(&[-5; CLASSES]), 0);
        assert_eq!(argmax(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 9);
    }

    #[test]
    fn output_round_trips() {
        let logits = vec![[1, 2, 3, 4, 5, 6, 7, 8, 9, -10], [i32::MIN; CLASSES]];
        let bytes = encode_output(&logits);
        assert_eq!(bytes.len(), output_bytes(2));
        let output = decode_output(&bytes).unwrap();
        assert_eq!(output.labels, vec![8, 0]);
        assert_eq!(output.logits, logits);
    }

    #[test]
    fn decode_rejects_bad_outputs() {
        assert_eq!(decode_output(&[1, 0]), Err(OutputError::NoCount { len: 2 }));
        let mut bytes = encode_output(&[[0; CLASSES]]);
        bytes.push(0);
        assert_eq!(
            decode_output(&bytes),
            Err(OutputError::Length {
                images: 1,
                len: 46,
                expected: 45
            })
        );
        bytes.pop();
        bytes[4] = 3; // not the argmax of all-zero logits
        assert_eq!(
            decode_output(&bytes),
            Err(OutputError::Label { image: 0, label: 3 })
        );
        let huge = u32::MAX.to_le_bytes();
        assert!(matches!(
            decode_output(&huge),
            Err(OutputError::Length {
                images: u32::MAX,
                ..
            })
        ));
    }
}
