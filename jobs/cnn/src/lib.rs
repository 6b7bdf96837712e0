//! A heavier int8 convolutional network job: large memory, many segments.
//!
//! It exists to measure what the executor and the provider pay for big state: about 4.3 MB of
//! weights (drawn in `init` from the job's random stream, so deterministic per job id and
//! identical on every host) plus about 1 MB of activations and scratch, and one step per layer
//! per image. The network is untrained: its labels mean nothing, its cost is the point.
//!
//! - Input ([`input`]): `u32 LE N` (`1..=IMAGES_MAX`), then `N` images of 64x64 `u8` pixels
//!   (row-major, any value; the network reads `pixel >> 1`, so activations are `0..=127`).
//! - Output ([`plexus_guest::classify`]): `u32 LE N`, `N` labels, `N * 10` i32 LE logits.
//! - Network ([`model`]): three 3x3 convolutions (1 -> 32 -> 64 -> 128 channels, padding 1, each
//!   followed by 2x2 max pooling, ReLU and a rounding right shift to int8) over 64x64 -> 8x8,
//!   then fully connected 8192 -> 512 (ReLU, shift) -> 10 logits. Every convolution is im2col
//!   plus one `gemm_i8` host call; the fully connected layers are one `gemm_i8` each.
//! - Steps: `init` checks the input and draws the weights; each `step` runs one layer of one
//!   image, so a job of `N` images makes `LAYERS * N` step calls (40 for a batch of 8).
//! - A bad input (wrong length, a count of 0 or above `IMAGES_MAX`) makes `init` panic, which
//!   traps (`unreachable`) in the module: the job fails deterministically.
//!
//! The compute is [`model::Model`], generic over the [`plexus_guest::Host`] it runs on, so a
//! native benchmark runs exactly this code with a native host.

// no_std in the module; natively the crate links std (its cdylib needs a panic handler and an
// allocator, which std provides there).
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod input;
pub mod model;

pub use input::{InputError, decode_input, encode_input, random_input};
pub use model::{CnnJob, LAYERS, Model};
pub use plexus_guest::classify::{CLASSES, Output, OutputError, decode_output};

/// Image side in pixels.
pub const SIDE: usize = 64;
/// Bytes per image.
pub const IMAGE_BYTES: usize = SIDE * SIDE;
/// The most images one job may process.
pub const IMAGES_MAX: usize = 32;

plexus_guest::export_job!(crate::CnnJob);
