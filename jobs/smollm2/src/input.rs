//! The job's input and output encodings (see the crate docs), shared by the module, the CLI and
//! the tests so that they agree by construction.

use crate::{MAX_NEW_MAX, PROMPT_BYTES_MAX, PROMPTS_MAX};
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

/// How the linear layers multiply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// One int8 pass (W8A8).
    #[default]
    Default,
    /// Second int8 passes over the activations' rounding residual, the weights' (the residual
    /// weights blobs) and the key/value cache's: three times the multiply-adds, at most
    /// [`crate::context_max`] positions, top-1 agreement with float32 100.0% instead of 90.1%,
    /// greedy completions the reference's on 16 of 16 prompts instead of 2 (`tests/fidelity.rs`).
    Precise,
}

/// Why a completion ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its turn (`<|im_end|>`, not part of the completion).
    EndOfTurn,
    /// It reached the input's most new tokens.
    Length,
}

/// Why an input or output cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No prompts, or more than `PROMPTS_MAX`.
    #[error("{0} prompts: a job completes 1 to {PROMPTS_MAX}")]
    Count(usize),
    /// A prompt over `PROMPT_BYTES_MAX` bytes.
    #[error("prompt {index} is {len} bytes, over the limit of {PROMPT_BYTES_MAX}")]
    PromptTooLong {
        /// Which prompt (0-based).
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// A prompt that is not UTF-8.
    #[error("prompt {0} is not UTF-8")]
    NotUtf8(usize),
    /// A mode byte other than 0 or 1.
    #[error("unknown mode {0} (0 default, 1 precise)")]
    Mode(u8),
    /// A most-new-tokens outside `1..=MAX_NEW_MAX`.
    #[error("{0} new tokens: a completion has 1 to {MAX_NEW_MAX}")]
    MaxNew(usize),
    /// The bytes end early or go on past the last record.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

/// A checked input: the mode, the most new tokens per completion and where each prompt lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// How the layers multiply.
    pub mode: Mode,
    /// The most tokens generated per prompt.
    pub max_new: usize,
    /// Each prompt's bytes in the input (valid UTF-8).
    pub prompts: Vec<Range<usize>>,
}

/// Encodes `prompts` for the job, refusing what the job would refuse: `u8 mode`, `u16 LE
/// max_new`, `u32 LE N`, then `N` prompts, each `u32 LE len` and `len` bytes of UTF-8.
pub fn encode_input<S: AsRef<str>>(
    prompts: &[S],
    max_new: usize,
    mode: Mode,
) -> Result<Vec<u8>, InputError> {
    if prompts.is_empty() || prompts.len() > PROMPTS_MAX {
        return Err(InputError::Count(prompts.len()));
    }
    if max_new == 0 || max_new > MAX_NEW_MAX {
        return Err(InputError::MaxNew(max_new));
    }
    let total: usize = prompts.iter().map(|p| 4 + p.as_ref().len()).sum();
    let mut out = Vec::with_capacity(7 + total);
    out.push(match mode {
        Mode::Default => 0,
        Mode::Precise => 1,
    });
    out.extend_from_slice(&(max_new as u16).to_le_bytes());
    out.extend_from_slice(&(prompts.len() as u32).to_le_bytes());
    for (index, prompt) in prompts.iter().enumerate() {
        let prompt = prompt.as_ref().as_bytes();
        if prompt.len() > PROMPT_BYTES_MAX {
            let len = prompt.len();
            return Err(InputError::PromptTooLong { index, len });
        }
        out.extend_from_slice(&(prompt.len() as u32).to_le_bytes());
        out.extend_from_slice(prompt);
    }
    Ok(out)
}

/// Reads `N` little-endian bytes at `*at`, advancing it.
fn take<const N: usize>(
    bytes: &[u8],
    at: &mut usize,
    what: &'static str,
) -> Result<[u8; N], InputError> {
    let word = bytes.get(*at..*at + N).ok_or(InputError::Malformed(what))?;
    *at += N;
    let mut out = [0u8; N];
    out.copy_from_slice(word);
    Ok(out)
}

/// Checks an input without copying it.
pub fn parse_input(bytes: &[u8]) -> Result<Input, InputError> {
    let mode = match bytes.first() {
        Some(0) => Mode::Default,
        Some(1) => Mode::Precise,
        Some(other) => return Err(InputError::Mode(*other)),
        None => return Err(InputError::Malformed("empty")),
    };
    let mut at = 1;
    let max_new = usize::from(u16::from_le_bytes(take(
        bytes,
        &mut at,
        "ends in the header",
    )?));
    if max_new == 0 || max_new > MAX_NEW_MAX {
        return Err(InputError::MaxNew(max_new));
    }
    let count = u32::from_le_bytes(take(bytes, &mut at, "ends in the header")?) as usize;
    if count == 0 || count > PROMPTS_MAX {
        return Err(InputError::Count(count));
    }
    let mut prompts = Vec::with_capacity(count);
    for index in 0..count {
        let len = u32::from_le_bytes(take(bytes, &mut at, "ends inside a length")?) as usize;
        if len > PROMPT_BYTES_MAX {
            return Err(InputError::PromptTooLong { index, len });
        }
        let raw = bytes
            .get(at..at + len)
            .ok_or(InputError::Malformed("ends inside a prompt"))?;
        core::str::from_utf8(raw).map_err(|_| InputError::NotUtf8(index))?;
        prompts.push(at..at + len);
        at += len;
    }
    if at != bytes.len() {
        return Err(InputError::Malformed("bytes after the last prompt"));
    }
    Ok(Input {
        mode,
        max_new,
        prompts,
    })
}

/// One completion as the output carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The prompt's tokens, chat template included.
    pub prompt_tokens: u32,
    /// The tokens generated (the end-of-turn token not counted).
    pub completion_tokens: u32,
    /// Why it ended.
    pub stop: Stop,
    /// The generated text, detokenized in the job. A completion cut at `max_new` may end inside
    /// a character: the bytes are kept as generated.
    pub text: Vec<u8>,
}

/// Appends `completion` to an output: `u32 LE prompt_tokens`, `u32 LE completion_tokens`, `u8
/// stop` (0 end of turn, 1 length), `u32 LE len`, `len` bytes of text. The output is `u32 LE N`
/// then `N` of these, in prompt order.
pub fn push_completion(out: &mut Vec<u8>, completion: &Completion) {
    out.extend_from_slice(&completion.prompt_tokens.to_le_bytes());
    out.extend_from_slice(&completion.completion_tokens.to_le_bytes());
    out.push(match completion.stop {
        Stop::EndOfTurn => 0,
        Stop::Length => 1,
    });
    out.extend_from_slice(&(completion.text.len() as u32).to_le_bytes());
    out.extend_from_slice(&completion.text);
}

/// Decodes an output into its completions.
pub fn decode_output(bytes: &[u8]) -> Result<Vec<Completion>, InputError> {
    let mut at = 0;
    let count = u32::from_le_bytes(take(bytes, &mut at, "ends in the count")?) as usize;
    if count > PROMPTS_MAX {
        return Err(InputError::Count(count));
    }
    let mut completions = Vec::with_capacity(count);
    for _ in 0..count {
        let prompt_tokens = u32::from_le_bytes(take(bytes, &mut at, "ends in a completion")?);
        let completion_tokens = u32::from_le_bytes(take(bytes, &mut at, "ends in a completion")?);
        let stop = match take::<1>(bytes, &mut at, "ends in a completion")? {
            [0] => Stop::EndOfTurn,
            [1] => Stop::Length,
            _ => return Err(InputError::Malformed("an unknown stop reason")),
        };
        let len = u32::from_le_bytes(take(bytes, &mut at, "ends in a completion")?) as usize;
        let text = bytes
            .get(at..at + len)
            .ok_or(InputError::Malformed("ends inside a text"))?
            .to_vec();
        at += len;
        completions.push(Completion {
            prompt_tokens,
            completion_tokens,
            stop,
            text,
        });
    }
    if at != bytes.len() {
        return Err(InputError::Malformed("bytes after the last completion"));
    }
    Ok(completions)
}

/// A completion's text as a string (a character cut at `max_new` shows as U+FFFD).
pub fn text_lossy(completion: &Completion) -> String {
    String::from_utf8_lossy(&completion.text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn inputs_round_trip_and_bad_ones_are_refused_with_their_reason() {
        let prompts = ["What is the capital of France?", "", "héllo"];
        let bytes = encode_input(&prompts, 64, Mode::Precise).unwrap();
        let input = parse_input(&bytes).unwrap();
        assert_eq!((input.mode, input.max_new), (Mode::Precise, 64));
        let back: Vec<&str> = input
            .prompts
            .iter()
            .map(|r| core::str::from_utf8(&bytes[r.clone()]).unwrap())
            .collect();
        assert_eq!(back, prompts);
        assert_eq!(
            encode_input::<&str>(&[], 8, Mode::Default),
            Err(InputError::Count(0))
        );
        assert_eq!(
            encode_input(&["a"], 0, Mode::Default),
            Err(InputError::MaxNew(0))
        );
        let over = MAX_NEW_MAX + 1;
        assert_eq!(
            encode_input(&["a"], over, Mode::Default),
            Err(InputError::MaxNew(over))
        );
        let long = "x".repeat(PROMPT_BYTES_MAX + 1);
        assert_eq!(
            encode_input(&[long.as_str()], 8, Mode::Default),
            Err(InputError::PromptTooLong {
                index: 0,
                len: PROMPT_BYTES_MAX + 1
            })
        );
        let mut bad = bytes.clone();
        bad[0] = 7;
        assert_eq!(parse_input(&bad), Err(InputError::Mode(7)));
        let mut zero = bytes.clone();
        zero[1..3].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(parse_input(&zero), Err(InputError::MaxNew(0)));
        for cut in 0..bytes.len() {
            assert!(
                parse_input(&bytes[..cut]).is_err(),
                "accepted a cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(parse_input(&extra), Err(InputError::Malformed(_))));
        let mut not_utf8 = encode_input(&["ab"], 8, Mode::Default).unwrap();
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0xff;
        assert_eq!(parse_input(&not_utf8), Err(InputError::NotUtf8(0)));
        let mut huge = vec![0u8, 8, 0];
        huge.extend_from_slice(&(PROMPTS_MAX as u32 + 1).to_le_bytes());
        assert_eq!(parse_input(&huge), Err(InputError::Count(PROMPTS_MAX + 1)));
    }

    #[test]
    fn outputs_round_trip_and_bad_ones_are_refused() {
        let completions = [
            Completion {
                prompt_tokens: 37,
                completion_tokens: 7,
                stop: Stop::EndOfTurn,
                text: b"The capital of France is Paris.".to_vec(),
            },
            Completion {
                prompt_tokens: 40,
                completion_tokens: 2,
                stop: Stop::Length,
                text: vec![0xe2, 0x82],
            },
        ];
        let mut bytes = (completions.len() as u32).to_le_bytes().to_vec();
        for c in &completions {
            push_completion(&mut bytes, c);
        }
        assert_eq!(decode_output(&bytes).unwrap(), completions);
        assert_eq!(text_lossy(&completions[1]), "\u{fffd}");
        for cut in 0..bytes.len() {
            assert!(
                decode_output(&bytes[..cut]).is_err(),
                "accepted a cut at {cut}"
            );
        }
        let mut stop = bytes.clone();
        stop[12] = 9;
        assert!(decode_output(&stop).is_err());
    }
}
