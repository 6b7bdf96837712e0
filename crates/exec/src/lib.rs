//! The deterministic metered WASM executor of Plexus jobs: admission, fuel, checkpoints, trace
//! root, single-segment re-execution.
//!
//! The guest ABI is `jobs/README.md`; the protocol is FuelTrace (`plexus_types::trace` defines
//! the commitments). The flow:
//!
//! 1. [`admit`] checks submitted bytes (wasmparser, explicit feature set, host imports, memory
//!    maximum, exports) and rewrites the module so every mutable global is exported.
//! 2. [`Engine::compile`] compiles an [`Admitted`] module on an [`Engine`] (wasmtime 48.0.8, fuel,
//!    NaN canonicalization, no relaxed SIMD or threads; optionally baseline-ISA codegen).
//! 3. [`run`] instantiates a [`Job`], calls `init` then `step` until it returns 0, takes a
//!    [`Checkpoint`] whenever `seg_fuel` fuel has been used since the last one, and returns an
//!    [`Execution`]: outcome, output hash, total fuel, leaves, trace root.
//! 4. [`replay_segment`] re-runs one segment from a checkpoint and its pages, for audits and
//!    disputes; it returns the same post leaf the run committed.
//!
//! Invariants: a guest can only cause an [`Outcome`] (a stable [`TrapCode`] when it misbehaves),
//! never a panic, a hang (fuel, plus the wall-clock backstop) or an [`ExecError`]; results, fuel
//! and trace roots do not depend on the machine or the codegen settings; every limit is a named
//! constant below, or, for the limits the chain and the blob stores enforce too (fuel, blobs,
//! segments, memory), in `plexus_types::limits`.

pub mod admission;
pub mod builtin;
pub mod checkpoint;
pub mod engine;
pub mod gemm;
pub mod honest;
mod host;
pub mod native;
pub mod run;

pub use admission::{AdmissionError, Admitted, admit};
pub use checkpoint::{
    Checkpoint, CheckpointSink, DiscardCheckpoints, MemoryCheckpoints, NewPage, PageSource,
};
pub use engine::{Compiled, Engine, EngineError, EngineOptions};
pub use gemm::{GemmShapeError, Kernel, KernelError, gemm_i8, gemm_i8_with};
pub use host::{job_seed, random_bytes};
pub use plexus_types::trace::{GlobalValue, TrapCode};
pub use run::{
    ExecError, Execution, Job, Leaf, Outcome, RunStats, SegmentEnd, SegmentOutcome,
    replay_first_segment, replay_segment, run, run_measured,
};

/// Largest module accepted by admission, in bytes.
pub const MODULE_BYTES_MAX: usize = 8 << 20;
/// Largest memory a module may declare, in 64 KiB pages (64 MiB); the chain bounds checkpoint
/// manifests by it too.
pub use plexus_types::limits::MEMORY_PAGES_MAX;
/// Largest initial table size a module may declare, in elements (tables cannot grow).
pub const TABLE_ELEMENTS_MAX: u64 = 65_536;
/// Largest input, in bytes.
pub const INPUT_BYTES_MAX: usize = 16 << 20;
/// Largest output, in bytes: as large as the input, so one MiniLM job returns 10,000 embeddings
/// (8 + 10,000 * 384 * 4 = 15.4 MB). The output lives in guest memory and is hashed once at the
/// end; the provider stores it and serves it to the consumer, who checks it against the
/// commitment's hash, so a larger output costs storage and transfer, not verification.
pub const OUTPUT_BYTES_MAX: usize = 16 << 20;
/// Default fuel per segment: about 30 ms of the cnn job on the 2-core CI machine type. A
/// checkpoint compares the whole memory with the previous one (about 1.2 ms for the cnn job's
/// 6.4 MB, bound by memory bandwidth) and hashes the changed pages, so checkpoints cost about 5%
/// of a long run at this size and more on short ones, where the first full hash dominates
/// (`plexus bench exec`). Audits re-run one segment: this is also the unit of verification work.
pub const SEG_FUEL_DEFAULT: u64 = 1 << 26;
/// Default wall-clock backstop per run, in milliseconds.
pub const WALL_TIME_MS_DEFAULT: u64 = 600_000;
/// Flat fuel cost of every host call.
pub const HOST_CALL_FUEL: u64 = 64;
