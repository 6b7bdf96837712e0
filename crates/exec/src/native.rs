//! The host API natively: a [`plexus_guest::Host`] with the executor's own kernels (the same
//! `gemm_i8`, the same `random_fill` stream, and through `Host`'s default methods the same
//! `plexus_guest::nn::kernels` the exact float host calls run), so a job's Rust code run
//! in-process gives the output the wasm module gives in [`crate::run`]. The benchmark's "native" column runs the
//! reference jobs through it.

use crate::{gemm_i8, job_seed, random_bytes};
use plexus_guest::Host;
use std::sync::Arc;

/// A job's input and blobs in memory, served the way the executor serves them.
pub struct NativeHost {
    seed: [u8; 32],
    input: Arc<[u8]>,
    blobs: Vec<Arc<[u8]>>,
}

impl NativeHost {
    /// The host of job `job_id` with this input and blobs.
    pub fn new(job_id: &[u8; 32], input: Arc<[u8]>, blobs: Vec<Arc<[u8]>>) -> Self {
        NativeHost {
            seed: job_seed(job_id),
            input,
            blobs,
        }
    }
}

fn copy_from(src: &[u8], offset: u64, dst: &mut [u8]) -> usize {
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| src.get(o..)) else {
        return 0;
    };
    let count = rest.len().min(dst.len());
    dst[..count].copy_from_slice(&rest[..count]);
    count
}

impl Host for NativeHost {
    fn input_len(&self) -> usize {
        self.input.len()
    }

    fn input_read(&self, offset: usize, dst: &mut [u8]) -> usize {
        copy_from(&self.input, offset as u64, dst)
    }

    fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    fn blob_len(&self, index: usize) -> Option<u64> {
        self.blobs.get(index).map(|b| b.len() as u64)
    }

    fn blob_read(&self, index: usize, offset: u64, dst: &mut [u8]) -> Option<usize> {
        self.blobs.get(index).map(|b| copy_from(b, offset, dst))
    }

    fn random_fill(&self, counter: u64, dst: &mut [u8]) {
        random_bytes(&self.seed, counter, dst);
    }

    fn gemm_i8(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: &[i8],
        b: &[i8],
        c: &mut [i32],
        accumulate: bool,
    ) {
        if let Err(err) = gemm_i8(m, n, k, a, b, c, accumulate) {
            // The guest's contract: a short slice is a trap on wasm32, a panic natively.
            panic!("gemm_i8: {err:?}");
        }
    }
}
