//! The digits job's input: encoding, decoding (the module's own check) and CSV parsing.
//!
//! Layout: `u32 LE N` with `1 <= N <= IMAGES_MAX`, then exactly `N * 64` bytes, each `0..=16`
//! (8x8 images, row-major). Anything else is rejected, with the first offending image and pixel.
//! CSV rows (for the CLI) are exactly 64 comma-separated integers `0..=16`; labelled rows (the
//! data set and the held-out file) are 65, the last a label `0..=9`. Blank lines are skipped.

use alloc::vec::Vec;

use crate::{CLASSES, IMAGES_MAX, PIXEL_MAX, PIXELS};

/// One 8x8 image, row-major, pixel values `0..=16`.
pub type Pixels = [u8; PIXELS];

/// Why bytes or rows are not a digits input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Shorter than the 4-byte count.
    #[error("input of {len} bytes has no image count")]
    NoCount {
        /// The input's length.
        len: usize,
    },
    /// No images.
    #[error("input has no images")]
    Empty,
    /// More images than a job may classify.
    #[error("input has {images} images, more than {max}")]
    TooMany {
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
    /// A pixel value above `PIXEL_MAX`.
    #[error("pixel {pixel} of image {image} is {value}, above {max}")]
    Pixel {
        /// The image's index.
        image: usize,
        /// The pixel's index in the image.
        pixel: usize,
        /// Its value.
        value: u64,
        /// `PIXEL_MAX`.
        max: u8,
    },
    /// A CSV row has the wrong number of columns.
    #[error("line {line}: {columns} columns, expected {expected}")]
    Columns {
        /// 1-based line number.
        line: usize,
        /// Columns found.
        columns: usize,
        /// Columns required.
        expected: usize,
    },
    /// A CSV field is not a non-negative integer.
    #[error("line {line}, column {column}: not a non-negative integer")]
    Field {
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
    },
    /// A CSV label is not a class.
    #[error("line {line}: label {label} is not a digit 0..9")]
    Label {
        /// 1-based line number.
        line: usize,
        /// The label found.
        label: u64,
    },
}

/// The number of input bytes for `images` images.
pub const fn input_bytes(images: usize) -> usize {
    4 + PIXELS * images
}

/// The largest valid input in bytes.
pub const INPUT_BYTES_MAX: usize = input_bytes(IMAGES_MAX);

fn check_count(images: usize) -> Result<(), InputError> {
    if images == 0 {
        return Err(InputError::Empty);
    }
    if images > IMAGES_MAX {
        return Err(InputError::TooMany {
            images: images as u64,
            max: IMAGES_MAX,
        });
    }
    Ok(())
}

fn check_pixels(image: usize, pixels: &[u8]) -> Result<(), InputError> {
    match pixels.iter().position(|&p| p > PIXEL_MAX) {
        Some(pixel) => Err(InputError::Pixel {
            image,
            pixel,
            value: u64::from(pixels[pixel]),
            max: PIXEL_MAX,
        }),
        None => Ok(()),
    }
}

/// Encodes images as a job input.
pub fn encode_input(images: &[Pixels]) -> Result<Vec<u8>, InputError> {
    check_count(images.len())?;
    let mut bytes = Vec::with_capacity(input_bytes(images.len()));
    bytes.extend_from_slice(&(images.len() as u32).to_le_bytes());
    for (image, pixels) in images.iter().enumerate() {
        check_pixels(image, pixels)?;
        bytes.extend_from_slice(pixels);
    }
    Ok(bytes)
}

/// Checks a job input and returns its image count and its pixel bytes (`count * 64`, row by row).
/// This is the module's own check: it accepts exactly what [`encode_input`] produces.
pub fn decode_input(bytes: &[u8]) -> Result<(usize, &[u8]), InputError> {
    let count: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(InputError::NoCount { len: bytes.len() })?;
    let count = u32::from_le_bytes(count);
    let images = usize::try_from(count).map_err(|_| InputError::TooMany {
        images: u64::from(count),
        max: IMAGES_MAX,
    })?;
    check_count(images)?;
    let expected = input_bytes(images);
    if bytes.len() != expected {
        return Err(InputError::Length {
            images,
            len: bytes.len(),
            expected,
        });
    }
    let pixels = &bytes[4..];
    for (image, chunk) in pixels.chunks_exact(PIXELS).enumerate() {
        check_pixels(image, chunk)?;
    }
    Ok((images, pixels))
}

/// Parses one CSV line into `N` integers, each at most `max_value` in its column kind.
fn parse_fields<const N: usize>(line_no: usize, line: &str) -> Result<[u64; N], InputError> {
    let mut fields = [0u64; N];
    let mut columns = 0;
    for (index, field) in line.split(',').enumerate() {
        columns += 1;
        let Some(slot) = fields.get_mut(index) else {
            continue;
        };
        let field = field.trim();
        // Reject signs and empty fields (u64::from_str accepts a leading '+').
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InputError::Field {
                line: line_no,
                column: index + 1,
            });
        }
        *slot = field.parse().map_err(|_| InputError::Field {
            line: line_no,
            column: index + 1,
        })?;
    }
    if columns != N {
        return Err(InputError::Columns {
            line: line_no,
            columns,
            expected: N,
        });
    }
    Ok(fields)
}

/// Converts parsed fields to pixels, checking each value.
fn to_pixels(image: usize, fields: &[u64]) -> Result<Pixels, InputError> {
    let mut pixels = [0u8; PIXELS];
    for (pixel, (&value, slot)) in fields.iter().zip(pixels.iter_mut()).enumerate() {
        if value > u64::from(PIXEL_MAX) {
            return Err(InputError::Pixel {
                image,
                pixel,
                value,
                max: PIXEL_MAX,
            });
        }
        *slot = value as u8;
    }
    Ok(pixels)
}

/// The non-blank lines of `text` with their 1-based line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
}

/// Parses CSV rows of exactly 64 integers `0..=16` (what `plexus job run --module digits` takes).
/// Rejects more than `IMAGES_MAX` rows and no rows at all.
pub fn parse_csv_rows(text: &str) -> Result<Vec<Pixels>, InputError> {
    let mut images = Vec::new();
    for (line_no, line) in lines(text) {
        if images.len() == IMAGES_MAX {
            return Err(InputError::TooMany {
                images: images.len() as u64 + 1,
                max: IMAGES_MAX,
            });
        }
        let fields = parse_fields::<PIXELS>(line_no, line)?;
        images.push(to_pixels(images.len(), &fields)?);
    }
    check_count(images.len())?;
    Ok(images)
}

/// Parses labelled CSV rows: 64 integers `0..=16` then a label `0..=9` (the data set's rows and
/// the held-out file). No row limit: this reads training data, not a job's input.
pub fn parse_labeled_csv_rows(text: &str) -> Result<Vec<(Pixels, u8)>, InputError> {
    let mut rows = Vec::new();
    for (line_no, line) in lines(text) {
        let fields = parse_fields::<{ PIXELS + 1 }>(line_no, line)?;
        let pixels = to_pixels(rows.len(), &fields[..PIXELS])?;
        let label = fields[PIXELS];
        if label >= CLASSES as u64 {
            return Err(InputError::Label {
                line: line_no,
                label,
            });
        }
        rows.push((pixels, label as u8));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;

    fn image(seed: u8) -> Pixels {
        core::array::from_fn(|i| (i as u8).wrapping_mul(seed) % 17)
    }

    #[test]
    fn input_round_trips() {
        let images = vec![image(3), image(5), [16; PIXELS], [0; PIXELS]];
        let bytes = encode_input(&images).unwrap();
        assert_eq!(bytes.len(), input_bytes(4));
        assert_eq!(&bytes[..4], &4u32.to_le_bytes());
        let (count, pixels) = decode_input(&bytes).unwrap();
        assert_eq!(count, 4);
        assert_eq!(pixels, images.concat().as_slice());
    }

    #[test]
    fn encode_rejects_empty_too_many_and_bright_pixels() {
        assert_eq!(encode_input(&[]), Err(InputError::Empty));
        let many = vec![[0; PIXELS]; IMAGES_MAX + 1];
        assert_eq!(
            encode_input(&many),
            Err(InputError::TooMany {
                images: IMAGES_MAX as u64 + 1,
                max: IMAGES_MAX
            })
        );
        assert!(encode_input(&many[..IMAGES_MAX]).is_ok());
        let mut bright = [0; PIXELS];
        bright[9] = 17;
        assert_eq!(
            encode_input(&[image(1), bright]),
            Err(InputError::Pixel {
                image: 1,
                pixel: 9,
                value: 17,
                max: PIXEL_MAX
            })
        );
    }

    #[test]
    fn decode_rejects_malformed_inputs() {
        let good = encode_input(&[image(7), image(2)]).unwrap();
        assert_eq!(
            decode_input(&good[..3]),
            Err(InputError::NoCount { len: 3 })
        );
        let mut short = good.clone();
        short.pop();
        assert_eq!(
            decode_input(&short),
            Err(InputError::Length {
                images: 2,
                len: input_bytes(2) - 1,
                expected: input_bytes(2)
            })
        );
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            decode_input(&long),
            Err(InputError::Length { .. })
        ));
        let mut zero = good.clone();
        zero[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(decode_input(&zero), Err(InputError::Empty));
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_input(&huge),
            Err(InputError::TooMany { .. })
        ));
        let mut bright = good;
        bright[4 + PIXELS + 63] = 200;
        assert_eq!(
            decode_input(&bright),
            Err(InputError::Pixel {
                image: 1,
                pixel: 63,
                value: 200,
                max: PIXEL_MAX
            })
        );
    }

    fn csv_row(pixels: &Pixels) -> String {
        let fields: Vec<String> = pixels.iter().map(|p| format!("{p}")).collect();
        fields.join(",")
    }

    #[test]
    fn csv_rows_parse_with_blank_lines_and_spaces() {
        let a = image(3);
        let b = image(11);
        let text = format!(
            "\n{}\r\n\n {} \n",
            csv_row(&a),
            csv_row(&b).replace(',', ", ")
        );
        assert_eq!(parse_csv_rows(&text).unwrap(), vec![a, b]);
    }

    #[test]
    fn csv_rejections_name_the_line_and_column() {
        let row = csv_row(&image(3));
        assert_eq!(parse_csv_rows(""), Err(InputError::Empty));
        assert_eq!(
            parse_csv_rows(&format!("{row}\n{row},4")),
            Err(InputError::Columns {
                line: 2,
                columns: 65,
                expected: 64
            })
        );
        assert_eq!(
            parse_csv_rows(&format!("{row}\n1,2")),
            Err(InputError::Columns {
                line: 2,
                columns: 2,
                expected: 64
            })
        );
        let negative = row.replacen('0', "-1", 1);
        assert_eq!(
            parse_csv_rows(&negative),
            Err(InputError::Field { line: 1, column: 1 })
        );
        let plus = format!("+{row}");
        assert_eq!(
            parse_csv_rows(&plus),
            Err(InputError::Field { line: 1, column: 1 })
        );
        let bright = format!("{},99", csv_row(&image(3))[..].rsplit_once(',').unwrap().0);
        assert_eq!(
            parse_csv_rows(&bright),
            Err(InputError::Pixel {
                image: 0,
                pixel: 63,
                value: 99,
                max: PIXEL_MAX
            })
        );
        let huge = row.replacen('0', "99999999999999999999999", 1);
        assert_eq!(
            parse_csv_rows(&huge),
            Err(InputError::Field { line: 1, column: 1 })
        );
    }

    #[test]
    fn csv_rejects_more_rows_than_a_job_takes() {
        let row = csv_row(&image(5));
        let text: String = (0..=IMAGES_MAX).map(|_| format!("{row}\n")).collect();
        assert!(matches!(
            parse_csv_rows(&text),
            Err(InputError::TooMany { .. })
        ));
    }

    #[test]
    fn labeled_rows_parse_and_check_the_label() {
        let row = csv_row(&image(9));
        let rows = parse_labeled_csv_rows(&format!("{row},7\n{row},0")).unwrap();
        assert_eq!(rows, vec![(image(9), 7), (image(9), 0)]);
        assert_eq!(
            parse_labeled_csv_rows(&format!("{row},10")),
            Err(InputError::Label { line: 1, label: 10 })
        );
        assert!(matches!(
            parse_labeled_csv_rows(&row),
            Err(InputError::Columns { columns: 64, .. })
        ));
    }
}
