//! An upper bound on the job's fuel from its texts' token counts, so that `plexus job run` buys
//! enough fuel for an input without running it (a job that runs out of fuel fails and is billed
//! all of it).
//!
//! Fuel is a deterministic function of the input, and for this job it is close to
//! `init + sum over texts of (per_text + per_token * t + per_pair * t^2)` for a text of `t`
//! tokens: the linear layers and the element-wise work are per token, attention is per pair of
//! tokens. The constants below are measured on the committed module and rounded up, and
//! `tests/fidelity.rs` checks the bound against real runs (short, long and mixed texts, both
//! modes): it must hold and must not overshoot by more than [`SLACK_MAX`], so a change to the
//! module that moves its fuel fails there until the constants are measured again.

use crate::Mode;

/// `init`: reading the input, the weights and the vocabulary (fixed: the blobs do not change).
const INIT: u64 = 120_000_000;
/// Per text: tokenizing it, pooling, writing its vector.
const PER_TEXT: u64 = 2_000_000;
/// Per token, default mode: six layers of linear layers, norms and GELU.
const PER_TOKEN: u64 = 8_000_000;
/// Per token, precise mode (the second int8 pass over every linear layer's input).
const PER_TOKEN_PRECISE: u64 = 12_000_000;
/// Per pair of tokens of one text: attention's scores, softmax and weighted sum.
const PER_PAIR: u64 = 20_000;

/// How far above the real fuel the bound may be (checked by the tests): a larger margin would
/// lock more escrow than the job needs (the unused part returns at settlement).
pub const SLACK_MAX: f64 = 2.0;

/// An upper bound on the fuel of a job whose texts have `tokens` tokens each (`[CLS]` and
/// `[SEP]` included, after truncation), in `mode`.
pub fn fuel_bound(tokens: &[usize], mode: Mode) -> u64 {
    let per_token = match mode {
        Mode::Default => PER_TOKEN,
        Mode::Precise => PER_TOKEN_PRECISE,
    };
    tokens.iter().fold(INIT, |sum, &t| {
        let t = t as u64;
        sum.saturating_add(PER_TEXT + per_token * t + PER_PAIR * t * t)
    })
}
