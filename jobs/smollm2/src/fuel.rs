//! An upper bound on the job's fuel from its prompts' token counts and the most new tokens, so
//! that `plexus job run` buys enough fuel for an input without running it (a job that runs out of
//! fuel fails and is billed all of it).
//!
//! Fuel is a deterministic function of the input; for this job it is close to
//! `init + per_step * steps + per_row * rows + per_pair * pairs + per_head * heads`:
//!
//! - a step streams the 30 layers (and, when a row ends, the output head) through the blob reads;
//! - a row (one token fed at one position) runs the linear layers, the norms, rope and SiLU;
//! - a pair (a row and one cached position it attends to) is attention's work, in the
//!   `kv_attention` host call, charged by its formula (`heads * (head_dim / 2 + 4)` a layer);
//! - a head row (a token picked) multiplies the tied 49,152-row output head.
//!
//! The constants are the least-squares fit of real runs of the committed module
//! (`tests/measure.rs`'s `fuel_fit`: ten shapes per mode, one to twelve prompts, within 0.05% of
//! each; the pairs' cost fixed at its formula) rounded up (3-13%), and the counts are upper
//! bounds: every prompt is assumed to generate all `max_new` tokens, and the steps are at most
//! the full ones (`ROWS_MAX` rows) plus the ones that feed every slot's pending rows (each gives
//! every active slot a token). `tests/fidelity.rs` checks the bound against real runs: it must hold, and must
//! not overshoot by more than [`SLACK_MAX`] when every completion runs to `max_new`.

use crate::model::ROWS_MAX;
use crate::{Mode, job::batch_for};

/// `init`: the tokenizer blob's tables, the chat template, the weights' header (124.4 M fitted).
const INIT: u64 = 140_000_000;
/// Per byte of prompt: pre-tokenizing and merging it (a generous bound; short prompts dominate).
const PER_BYTE: u64 = 20_000;
/// The costs that differ between the modes.
struct Costs {
    /// Per step: streaming the 30 layers and the head through the blob reads.
    step: u64,
    /// Per row: the four linear layers of 30 layers, the norms, rope, SiLU, and the row's
    /// key/value store and context.
    row: u64,
    /// Per token picked: the output head's 49,152 x 576 multiply and the argmax.
    head: u64,
    /// Per pair of a row and a cached position: `kv_attention`'s `heads * (head_dim / 2 + 4)` in
    /// each of 30 layers, `30 * 9 * 36` = 9,720, or `heads * (head_dim + 4)` with the precise
    /// mode's residual cache, `30 * 9 * 68` = 18,360 (exact: no guest code runs per pair).
    pair: u64,
}

/// The default mode: one int8 pass per product; a step streams 30 layers of 3.56 MB and the
/// head's 28.3 MB (fitted: a step 25.0 M, a row 15.5 M, a head row 4.3 M).
const DEFAULT: Costs = Costs {
    step: 28_000_000,
    row: 17_500_000,
    head: 4_500_000,
    pair: 10_000,
};

/// The precise mode: three int8 passes per product (the activation's residual and the
/// weights'), and a step streams the residual weights too (fitted: a step 48.6 M, a row
/// 43.3 M, a head row 11.6 M).
const PRECISE: Costs = Costs {
    step: 54_000_000,
    row: 49_000_000,
    head: 12_500_000,
    pair: 18_500,
};

/// How far above the real fuel the bound may be when every completion runs to `max_new`
/// (checked by the tests): a larger margin locks more escrow than the job needs (the unused part
/// returns at settlement) and asks for a longer deadline.
pub const SLACK_MAX: f64 = 1.6;

/// An upper bound on the fuel of a job whose prompts have `tokens` tokens each (chat template
/// included) and `bytes` bytes in all, generating at most `max_new` tokens each, in `mode`.
pub fn fuel_bound(tokens: &[usize], bytes: usize, max_new: usize, mode: Mode) -> u64 {
    let n = tokens.len() as u64;
    let new = max_new as u64;
    let longest = tokens.iter().copied().max().unwrap_or(0);
    let batch = batch_for(tokens.len(), longest + max_new, mode) as u64;
    let lengths = tokens.iter().map(|t| *t as u64 + new);
    let rows: u64 = lengths.clone().sum();
    let pairs: u64 = lengths.map(|l| l * (l + 1) / 2).sum();
    let heads = n * new;
    let queued = if n > batch {
        (n * new).div_ceil(batch)
    } else {
        0
    };
    let steps = rows.div_ceil(ROWS_MAX as u64) + queued + new + 1;
    let costs = match mode {
        Mode::Default => &DEFAULT,
        Mode::Precise => &PRECISE,
    };
    [
        INIT,
        PER_BYTE.saturating_mul(bytes as u64),
        costs.step.saturating_mul(steps),
        costs.row.saturating_mul(rows),
        costs.pair.saturating_mul(pairs),
        costs.head.saturating_mul(heads),
    ]
    .into_iter()
    .fold(0u64, u64::saturating_add)
}
