//! The digits classifier job: an int8 MLP over 8x8 images.
//!
//! The model is `64 -> hidden -> 10` with int8 weights and i32 biases, trained and quantized by
//! `cargo xtask train-digits` and shipped as blob 0 in the format of [`weights`]. The forward pass
//! is integer-only ([`model`]), so every host computes the same bits.
//!
//! - Input ([`input`]): `u32 LE N` (`1..=IMAGES_MAX`), then `N * 64` pixel bytes, each `0..=16`.
//! - Output ([`plexus_guest::classify`]): `u32 LE N`, `N` labels, `N * 10` i32 LE logits.
//! - Steps: `init` reads and checks the input and weights and allocates every buffer; each
//!   `step` classifies up to [`STEP_IMAGES`] images, so a job of `N` images makes
//!   `ceil(N / STEP_IMAGES)` step calls.
//! - A bad input (wrong length or count, a pixel above 16) or a missing or malformed weights blob
//!   makes `init` panic, which traps (`unreachable`) in the module: the job fails
//!   deterministically and no output is produced. Clients check inputs first with
//!   [`input::encode_input`] / [`input::parse_csv_rows`], which return the same errors.
//!
//! The native helpers (input encoding, CSV parsing, weights encode/decode, output decoding) are
//! the same code the module runs, so the CLI, the trainer and the module agree by construction.

// no_std in the module; natively the crate links std (its cdylib needs a panic handler and an
// allocator, which std provides there).
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod input;
pub mod model;
pub mod weights;

pub use input::{InputError, Pixels, decode_input, encode_input, parse_csv_rows};
pub use model::DigitsJob;
pub use plexus_guest::classify::{CLASSES, Output, OutputError, decode_output};
pub use weights::{Requant, Weights, WeightsError};

/// Pixels per image (8x8, row-major).
pub const PIXELS: usize = 64;
/// The largest pixel value.
pub const PIXEL_MAX: u8 = 16;
/// The most images one job may classify.
pub const IMAGES_MAX: usize = 4096;
/// Images classified per `step` call.
pub const STEP_IMAGES: usize = 64;
/// The blob index of the weights.
pub const WEIGHTS_BLOB: usize = 0;

plexus_guest::export_job!(crate::DigitsJob);
