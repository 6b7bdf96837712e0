//! The Plexus guest SDK: the step ABI and host API for job modules (no_std).
//!
//! A job is written once against two traits and runs in two places:
//!
//! - [`Host`] is the guest's view of the host API of `jobs/README.md` (ABI version 1) over safe
//!   slices. [`WasmHost`] (wasm32 only) calls the real imports of module `plexus`; [`VecHost`]
//!   serves an input and blobs from memory so the same job code runs natively (training, tests,
//!   benchmarks).
//! - [`Job`] is the step ABI: `init` once, then `step` until it returns `false`, then `output`.
//!   [`export_job!`] turns a `Job` into the module's `init`/`step` exports and maintains the exported
//!   `plexus_output` record; [`run_native`] drives the same job in-process.
//!
//! On wasm32 the SDK also provides the guest's global allocator (a bump allocator over
//! `memory.grow`, see the `heap` module, wasm32 only) and a panic handler that traps with
//! `unreachable`, so a job's `panic!` (a rejected input, a broken invariant) ends the job as failed,
//! deterministically. Guest crates must therefore be `no_std` on wasm32 (they may use `alloc`):
//! `#![cfg_attr(target_arch = "wasm32", no_std)]`, so that their native `cdylib` still links std.
//!
//! [`classify`] holds the output encoding shared by the classifier jobs (labels and logits);
//! [`nn`] the transformer building blocks (int8 linear layers over `gemm_i8`, LayerNorm, GELU,
//! softmax, attention, pooling; their row-wise float work goes through the exact float host calls,
//! whose results [`nn::kernels`] defines); [`wordpiece`] the BERT WordPiece tokenizer (a `vocab.txt` in, the
//! token ids HuggingFace `tokenizers` gives out); [`bpe`] the byte-level BPE tokenizer and chat
//! template of SmolLM2 (a tokenizer blob converted from the GGUF file in, the token ids llama.cpp
//! gives out).

#![no_std]

extern crate alloc;

pub mod bpe;
pub mod classify;
mod fnv;
#[cfg(target_arch = "wasm32")]
pub mod heap;
mod host;
mod job;
pub mod nn;
#[cfg(target_arch = "wasm32")]
mod wasm;
pub mod wordpiece;

pub use host::{Host, VecHost, gemm_i8_reference, i8_as_u8_mut, splitmix_fill};
pub use job::{Job, OutputRecord, run_native};
#[cfg(target_arch = "wasm32")]
pub use wasm::WasmHost;

/// The ABI version this SDK implements (`jobs/README.md`).
pub const ABI_VERSION: u32 = 1;

/// The size of a WebAssembly memory page in bytes.
pub const PAGE_BYTES: usize = 65_536;
