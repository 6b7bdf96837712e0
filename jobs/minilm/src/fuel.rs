//! An upper bound on the job's fuel from its texts' token counts, so that `plexus job run` buys
//! enough fuel for an input without running it (a job that runs out of fuel fails and is billed
//! all of it).
//!
//! Fuel is a deterministic function of the input, and for this job it is close to
//! `init + per_byte * bytes + sum over texts of (per_text + per_token * t + per_pair * t^2)`
//! for texts of `t` tokens: the linear layers and the element-wise work are per token, attention is per pair of
//! tokens. The constants below are measured on the committed module and rounded up, and
//! `tests/fidelity.rs` checks the bound against real runs (short, long and mixed texts, both
//! modes): it must hold and must not overshoot by more than [`SLACK_MAX`], so a change to the
//! module that moves its fuel fails there until the constants are measured again.

use crate::Mode;

/// `init`: reading the input, the weights and the vocabulary (76.0 M measured).
const INIT: u64 = 85_000_000;
/// Per text: pooling, writing its vector, the step's bookkeeping (under 0.2 M measured).
const PER_TEXT: u64 = 300_000;
/// Per token, default mode: six layers of linear layers (the `gemm_i8` charge is 1.35 M of it),
/// norms and GELU through the exact float host calls, and the residual sums in guest code
/// (1.446 M measured).
const PER_TOKEN: u64 = 1_600_000;
/// Per token, precise mode: the second int8 pass over every linear layer's input (2.932 M
/// measured).
const PER_TOKEN_PRECISE: u64 = 3_250_000;
/// Per pair of tokens of one text: the `attention` host call's charge, six layers of
/// `hidden / 2 + 4 * heads` = 240 (1,462 measured with the rest of attention's bookkeeping).
const PER_PAIR: u64 = 1_700;
/// Per byte of text: normalizing and splitting it (1.43 K measured on a 64 KiB word, the
/// worst case found; a text's bytes past its 256th token are not read, so this overcounts
/// long texts a little).
const PER_BYTE: u64 = 1_700;

/// How far above the real fuel the bound may be (checked by the tests): a larger margin would
/// lock more escrow than the job needs (the unused part returns at settlement) and ask for a
/// longer deadline.
pub const SLACK_MAX: f64 = 1.5;

/// An upper bound on the fuel of a job whose texts have `tokens` tokens each (`[CLS]` and
/// `[SEP]` included, after truncation) and `bytes` bytes in all, in `mode`.
pub fn fuel_bound(tokens: &[usize], bytes: usize, mode: Mode) -> u64 {
    let per_token = match mode {
        Mode::Default => PER_TOKEN,
        Mode::Precise => PER_TOKEN_PRECISE,
    };
    let start = INIT.saturating_add(PER_BYTE.saturating_mul(bytes as u64));
    tokens.iter().fold(start, |sum, &t| {
        let t = t as u64;
        sum.saturating_add(PER_TEXT + per_token * t + PER_PAIR * t * t)
    })
}
