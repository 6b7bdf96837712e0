//! The limits of a job that more than one party enforces, each defined once: the chain when it
//! accepts a posting or a commitment, the executor when it runs or re-runs a job, the blob
//! stores and the content fetch when they take a job's bytes. Every other crate uses these
//! names; limits only one party knows (the executor's module, input and output sizes, the API's
//! body sizes) stay beside the code that enforces them.
//!
//! Two bounds on a trace's length exist and are different rules:
//! - [`TRACE_SEGMENTS_MAX`] is how long a job's trace may be: the executor refuses a job whose
//!   fuel could make it longer, so an honest trace never is; the simulation sizes its jobs by
//!   it.
//! - `plexus_types::dissection::LEAVES_MAX` (`u32::MAX` leaves) is the longest trace a
//!   dissection game can address (its positions are `u32`): the chain refuses a commitment
//!   beyond it, whoever made it, because a trace that cannot be disputed is no commitment. It is
//!   far above the executor's bound, so it never decides an honest job.

/// The most fuel one job may buy (the chain refuses a posting above it; the executor refuses to
/// run one). It bounds what one escrow locks and what one full audit re-runs: at the default
/// `seg_fuel` (2^26 fuel, about 30 ms of the cnn job on the 2-core CI machine type) it is
/// 14,901 segments, about 7.5 minutes of work, and it keeps `max_fuel / seg_fuel` below
/// [`TRACE_SEGMENTS_MAX`] for any `seg_fuel` of at least 2^24.
pub const JOB_FUEL_MAX: u64 = 1_000_000_000_000;

/// The most blobs (model weights, data) one job may name: the chain refuses a posting with
/// more, the executor a job with more. A blob is fetched and kept whole, so this and
/// [`BLOB_BYTES_MAX`] bound what one job makes a provider hold (1 GiB).
pub const JOB_BLOBS_MAX: usize = 16;

/// The largest blob, in bytes (64 MiB): the executor refuses a job with a larger one, the blob
/// stores refuse to keep one by default, and clients and peers fetch no more (content fetched
/// from peers travels in 1 MiB pieces, at most 64 of them). A blob is read whole into memory,
/// so this is what one blob costs a provider or a validator.
pub const BLOB_BYTES_MAX: u64 = 64 << 20;

/// The largest memory a job may declare, in 64 KiB pages (64 MiB): the executor's admission
/// refuses a module whose memory maximum is above it, so no checkpoint has more pages, and the
/// chain refuses a checkpoint manifest that names more.
pub const MEMORY_PAGES_MAX: u64 = 1024;

/// The most segments a job's trace may have: the executor refuses a job with
/// `max_fuel / seg_fuel >= TRACE_SEGMENTS_MAX` (every segment but the last uses at least
/// `seg_fuel`, so its trace then has at most `TRACE_SEGMENTS_MAX` segments and
/// `TRACE_SEGMENTS_MAX + 1` leaves). It bounds what a provider keeps per job (a leaf and a
/// checkpoint per segment) and the rounds of a dispute over it.
pub const TRACE_SEGMENTS_MAX: u64 = 1 << 16;
