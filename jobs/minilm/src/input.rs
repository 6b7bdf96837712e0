//! The job's input and output encodings (see the crate docs), shared by the module, the CLI and
//! the tests so that they agree by construction.

use crate::{DIM, TEXT_BYTES_MAX, TEXTS_MAX};
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

/// How the linear layers multiply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// One int8 pass (W8A8).
    #[default]
    Default,
    /// A second int8 pass over the activations' rounding residual: twice the multiply-adds,
    /// cosine to float32 above 0.9995.
    Precise,
}

impl Mode {
    fn byte(self) -> u8 {
        match self {
            Mode::Default => 0,
            Mode::Precise => 1,
        }
    }
}

/// Why an input or output cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No texts, or more than `TEXTS_MAX`.
    #[error("{0} texts: a job embeds 1 to {TEXTS_MAX}")]
    Count(usize),
    /// A text over `TEXT_BYTES_MAX` bytes.
    #[error("text {index} is {len} bytes, over the limit of {TEXT_BYTES_MAX}")]
    TextTooLong {
        /// Which text (0-based).
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A text that is not UTF-8.
    #[error("text {0} is not UTF-8")]
    NotUtf8(usize),
    /// A mode byte other than 0 or 1.
    #[error("unknown mode {0} (0 default, 1 precise)")]
    Mode(u8),
    /// The bytes end early or go on past the last record.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

/// Encodes `texts` for the job in `mode`, refusing what the job would refuse.
pub fn encode_input<S: AsRef<str>>(texts: &[S], mode: Mode) -> Result<Vec<u8>, InputError> {
    if texts.is_empty() || texts.len() > TEXTS_MAX {
        return Err(InputError::Count(texts.len()));
    }
    let total: usize = texts.iter().map(|t| 4 + t.as_ref().len()).sum();
    let mut out = Vec::with_capacity(5 + total);
    out.push(mode.byte());
    out.extend_from_slice(&(texts.len() as u32).to_le_bytes());
    for (index, text) in texts.iter().enumerate() {
        let text = text.as_ref().as_bytes();
        if text.len() > TEXT_BYTES_MAX {
            return Err(InputError::TextTooLong {
                index,
                len: text.len(),
            });
        }
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text);
    }
    Ok(out)
}

/// Reads a u32 LE at `*at`, advancing it.
fn take_u32(bytes: &[u8], at: &mut usize) -> Result<u32, InputError> {
    let word = bytes
        .get(*at..*at + 4)
        .ok_or(InputError::Malformed("ends inside a length"))?;
    *at += 4;
    Ok(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// Checks an input without copying it: the mode and where each text lies in `bytes` (every
/// range is valid UTF-8).
pub fn parse_input(bytes: &[u8]) -> Result<(Mode, Vec<Range<usize>>), InputError> {
    let mode = match bytes.first() {
        Some(0) => Mode::Default,
        Some(1) => Mode::Precise,
        Some(other) => return Err(InputError::Mode(*other)),
        None => return Err(InputError::Malformed("empty")),
    };
    let mut at = 1;
    let count = take_u32(bytes, &mut at)? as usize;
    if count == 0 || count > TEXTS_MAX {
        return Err(InputError::Count(count));
    }
    let mut texts = Vec::with_capacity(count);
    for index in 0..count {
        let len = take_u32(bytes, &mut at)? as usize;
        if len > TEXT_BYTES_MAX {
            return Err(InputError::TextTooLong { index, len });
        }
        let raw = bytes
            .get(at..at + len)
            .ok_or(InputError::Malformed("ends inside a text"))?;
        core::str::from_utf8(raw).map_err(|_| InputError::NotUtf8(index))?;
        texts.push(at..at + len);
        at += len;
    }
    if at != bytes.len() {
        return Err(InputError::Malformed("bytes after the last text"));
    }
    Ok((mode, texts))
}

/// Decodes an input: the mode and the texts.
pub fn decode_input(bytes: &[u8]) -> Result<(Mode, Vec<String>), InputError> {
    let (mode, ranges) = parse_input(bytes)?;
    let texts = ranges
        .into_iter()
        .map(|r| String::from_utf8_lossy(&bytes[r]).into_owned())
        .collect();
    Ok((mode, texts))
}

/// The output's header: `u32 N`, `u32 DIM`.
pub fn output_header(count: usize) -> [u8; 8] {
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&(count as u32).to_le_bytes());
    header[4..].copy_from_slice(&(DIM as u32).to_le_bytes());
    header
}

/// Decodes an output into one `DIM`-float embedding per text.
pub fn decode_output(bytes: &[u8]) -> Result<Vec<Vec<f32>>, InputError> {
    let mut at = 0;
    let count = take_u32(bytes, &mut at)? as usize;
    let dim = take_u32(bytes, &mut at)? as usize;
    if dim != DIM {
        return Err(InputError::Malformed("embedding width is not 384"));
    }
    if count > TEXTS_MAX || bytes.len() != 8 + count * DIM * 4 {
        return Err(InputError::Malformed("length does not match the count"));
    }
    Ok(bytes[8..]
        .chunks_exact(DIM * 4)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn inputs_round_trip_and_bad_ones_are_refused_with_their_reason() {
        let texts = ["a cat", "", "héllo wörld"];
        let bytes = encode_input(&texts, Mode::Precise).unwrap();
        let (mode, back) = decode_input(&bytes).unwrap();
        assert_eq!(mode, Mode::Precise);
        assert_eq!(back, texts);
        assert_eq!(
            encode_input::<&str>(&[], Mode::Default),
            Err(InputError::Count(0))
        );
        let long = "x".repeat(TEXT_BYTES_MAX + 1);
        assert_eq!(
            encode_input(&[long.as_str()], Mode::Default),
            Err(InputError::TextTooLong {
                index: 0,
                len: TEXT_BYTES_MAX + 1
            })
        );
        let mut bad = bytes.clone();
        bad[0] = 7;
        assert_eq!(decode_input(&bad), Err(InputError::Mode(7)));
        assert!(matches!(
            decode_input(&bytes[..bytes.len() - 1]),
            Err(InputError::Malformed(_))
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(
            decode_input(&extra),
            Err(InputError::Malformed(_))
        ));
        let mut not_utf8 = encode_input(&["ab"], Mode::Default).unwrap();
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0xff;
        assert_eq!(decode_input(&not_utf8), Err(InputError::NotUtf8(0)));
        let mut huge = vec![0u8];
        huge.extend_from_slice(&(TEXTS_MAX as u32 + 1).to_le_bytes());
        assert_eq!(decode_input(&huge), Err(InputError::Count(TEXTS_MAX + 1)));
    }

    #[test]
    fn outputs_decode_to_one_row_per_text_and_bad_lengths_are_refused() {
        let mut bytes = output_header(2).to_vec();
        for i in 0..2 * DIM {
            bytes.extend_from_slice(&(i as f32).to_le_bytes());
        }
        let rows = decode_output(&bytes).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][0], DIM as f32);
        assert!(decode_output(&bytes[..bytes.len() - 4]).is_err());
    }
}
