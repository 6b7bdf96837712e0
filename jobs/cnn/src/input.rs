//! The cnn job's input: `u32 LE N` (`1..=IMAGES_MAX`), then exactly `N * 4096` pixel bytes.

use alloc::vec::Vec;

use crate::{IMAGE_BYTES, IMAGES_MAX};

/// Why bytes are not a cnn input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Shorter than the 4-byte count.
    #[error("input of {len} bytes has no image count")]
    NoCount {
        /// The input's length.
        len: usize,
    },
    /// A count of 0 or above `IMAGES_MAX`.
    #[error("input has {images} images, expected 1..={max}")]
    Count {
        /// The count given.
        images: u64,
        /// `IMAGES_MAX`.
        max: usize,
    },
    /// The length does not match the count.
    #[error("input of {len} bytes does not hold {images} images ({expected} bytes)")]
    Length {
        /// The count in the input.
        images: usize,
        /// The input's length.
        len: usize,
        /// The length the count requires.
        expected: usize,
    },
}

/// The number of input bytes for `images` images.
pub const fn input_bytes(images: usize) -> usize {
    4 + IMAGE_BYTES * images
}

/// The largest valid input in bytes.
pub const INPUT_BYTES_MAX: usize = input_bytes(IMAGES_MAX);

fn check_count(images: u64) -> Result<usize, InputError> {
    match usize::try_from(images) {
        Ok(n) if (1..=IMAGES_MAX).contains(&n) => Ok(n),
        _ => Err(InputError::Count {
            images,
            max: IMAGES_MAX,
        }),
    }
}

/// Encodes images as a job input.
pub fn encode_input(images: &[[u8; IMAGE_BYTES]]) -> Result<Vec<u8>, InputError> {
    check_count(images.len() as u64)?;
    let mut bytes = Vec::with_capacity(input_bytes(images.len()));
    bytes.extend_from_slice(&(images.len() as u32).to_le_bytes());
    for image in images {
        bytes.extend_from_slice(image);
    }
    Ok(bytes)
}

/// A job input of `images` pseudo-random images drawn from `seed` (SplitMix64: the same seed
/// always gives the same bytes, on every platform).
pub fn random_input(seed: u64, images: usize) -> Result<Vec<u8>, InputError> {
    check_count(images as u64)?;
    let mut bytes = alloc::vec![0u8; input_bytes(images)];
    bytes[..4].copy_from_slice(&(images as u32).to_le_bytes());
    plexus_guest::splitmix_fill(seed, 0, &mut bytes[4..]);
    Ok(bytes)
}

/// Checks a job input and returns its image count and pixel bytes (`count * 4096`).
pub fn decode_input(bytes: &[u8]) -> Result<(usize, &[u8]), InputError> {
    let count: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(InputError::NoCount { len: bytes.len() })?;
    let images = check_count(u64::from(u32::from_le_bytes(count)))?;
    let expected = input_bytes(images);
    if bytes.len() != expected {
        return Err(InputError::Length {
            images,
            len: bytes.len(),
            expected,
        });
    }
    Ok((images, &bytes[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn input_round_trips() {
        let images = vec![[7u8; IMAGE_BYTES], [255u8; IMAGE_BYTES]];
        let bytes = encode_input(&images).unwrap();
        let (count, pixels) = decode_input(&bytes).unwrap();
        assert_eq!(count, 2);
        assert_eq!(pixels, images.concat().as_slice());
    }

    #[test]
    fn random_input_is_seeded_and_valid() {
        let a = random_input(11, 3).unwrap();
        assert_eq!(a, random_input(11, 3).unwrap());
        assert_ne!(a, random_input(12, 3).unwrap());
        assert_eq!(decode_input(&a).unwrap().0, 3);
    }

    #[test]
    fn bad_inputs_are_rejected() {
        let max = IMAGES_MAX;
        assert_eq!(decode_input(&[0; 3]), Err(InputError::NoCount { len: 3 }));
        assert_eq!(
            decode_input(&0u32.to_le_bytes()),
            Err(InputError::Count { images: 0, max })
        );
        assert_eq!(encode_input(&[]), Err(InputError::Count { images: 0, max }));
        assert_eq!(
            random_input(1, max + 1),
            Err(InputError::Count {
                images: max as u64 + 1,
                max
            })
        );
        let mut bytes = random_input(1, 2).unwrap();
        bytes.pop();
        assert_eq!(
            decode_input(&bytes),
            Err(InputError::Length {
                images: 2,
                len: input_bytes(2) - 1,
                expected: input_bytes(2)
            })
        );
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_input(&bytes),
            Err(InputError::Count { .. })
        ));
    }
}
