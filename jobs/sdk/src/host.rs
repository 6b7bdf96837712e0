//! The host API as a trait over safe slices, and an in-memory host for native runs.
//!
//! Every method mirrors one import of `jobs/README.md`; lengths and offsets are `usize` where the
//! ABI uses `i32` and `u64` where it uses `i64`. Implementations must be exact: a job's output
//! may depend only on the bytes these methods return, never on how they compute them.

use crate::nn::kernels;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The guest's view of the host: the job's input, its blobs, the job-seeded random stream, the
/// exact int8 matrix multiply and the exact float kernels.
///
/// The float methods (`quantize_rows` .. `kv_attention`) are the exact float host calls: each result
/// is defined bit for bit by its [`kernels`] function, which the default method runs in-process
/// (natively); `WasmHost` asks the executor, which runs the same function natively. An
/// implementation that overrides one must give the same bits.
pub trait Host {
    /// The length of the job's input in bytes.
    fn input_len(&self) -> usize;

    /// Copies input bytes from `offset` into `dst`; returns the count copied (0 past the end).
    fn input_read(&self, offset: usize, dst: &mut [u8]) -> usize;

    /// The number of blobs the job names.
    fn blob_count(&self) -> usize;

    /// The length of blob `index`, or `None` if the job has no such blob.
    fn blob_len(&self, index: usize) -> Option<u64>;

    /// Copies bytes of blob `index` from `offset` into `dst`; returns the count copied, or `None`
    /// if the job has no such blob.
    fn blob_read(&self, index: usize, offset: u64, dst: &mut [u8]) -> Option<usize>;

    /// Fills `dst` with the job's random stream at `counter`: the same job and counter always give
    /// the same bytes.
    fn random_fill(&self, counter: u64, dst: &mut [u8]);

    /// [`Host::random_fill`] into signed bytes (the same bits, reinterpreted).
    fn random_fill_i8(&self, counter: u64, dst: &mut [i8]) {
        self.random_fill(counter, i8_as_u8_mut(dst));
    }

    /// `C[i][j] = (accumulate ? C[i][j] : 0) + sum_t A[i][t] * B[j][t]`: `A` is `m`×`k`, `B` is
    /// `n`×`k` (transposed), `C` is `m`×`n`, all row-major, wrapping i32 arithmetic.
    ///
    /// # Panics
    /// If a slice is shorter than its dimensions require (on wasm32: a trap).
    #[allow(clippy::too_many_arguments)] // mirrors the `gemm_i8` import one to one
    fn gemm_i8(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: &[i8],
        b: &[i8],
        c: &mut [i32],
        accumulate: bool,
    );

    /// Quantizes each row of `x` (`rows` x `cols` f32) to int8 `q` with one scale per row
    /// (`scale`, `rows` values): [`kernels::quantize_rows`], bit for bit.
    ///
    /// # Panics
    /// If a slice is shorter than its shape requires (on wasm32: a trap).
    fn quantize_rows(&self, rows: usize, cols: usize, x: &[f32], q: &mut [i8], scale: &mut [f32]) {
        kernels::quantize_rows(x, rows, cols, q, scale);
    }

    /// `y[i][j] = acc[i][j] * (row_scale[i] * col_scale[j]) + bias[j]`, or with `accumulate`,
    /// `y[i][j] += acc[i][j] * (row_scale[i] * col_scale[j])`: [`kernels::dequantize_rows`].
    ///
    /// # Panics
    /// If a slice is shorter than its shape requires (on wasm32: a trap).
    #[allow(clippy::too_many_arguments)] // mirrors the `dequantize_rows` import one to one
    fn dequantize_rows(
        &self,
        rows: usize,
        cols: usize,
        acc: &[i32],
        row_scale: &[f32],
        col_scale: &[f32],
        bias: &[f32],
        y: &mut [f32],
        accumulate: bool,
    ) {
        kernels::dequantize_rows(acc, rows, cols, row_scale, col_scale, bias, y, accumulate);
    }

    /// LayerNorm of each row of `x` (`rows` x `cols`) in place: [`kernels::layer_norm`].
    ///
    /// # Panics
    /// If a slice is shorter than its shape requires (on wasm32: a trap).
    fn layer_norm(
        &self,
        rows: usize,
        cols: usize,
        x: &mut [f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) {
        kernels::layer_norm(x, rows, cols, gamma, beta, eps);
    }

    /// GELU (exact-erf form) of `x` in place: [`kernels::gelu`].
    fn gelu(&self, x: &mut [f32]) {
        kernels::gelu(x);
    }

    /// Unmasked multi-head self-attention over one sequence: `qkv` is `tokens` x `3 * hidden`,
    /// the context goes to `out` (`tokens` x `hidden`): [`kernels::attention`].
    ///
    /// # Panics
    /// If a slice is short, or `heads` is 0 or does not divide `hidden` (on wasm32: a trap).
    fn attention(&self, tokens: usize, hidden: usize, heads: usize, qkv: &[f32], out: &mut [f32]) {
        kernels::attention(qkv, tokens, hidden, heads, out);
    }

    /// Causal grouped-query attention of `rows` query rows (`qkv`) over the int8 key/value
    /// `cache` and its `scales`, after storing each row's key and value at its `at` slot and
    /// position: [`kernels::kv_attention`] (layouts in [`kernels::KvShape`]); the context goes
    /// to `out` (`rows` x `heads * head_dim`).
    ///
    /// # Panics
    /// If a slice is short, the shape is not [`kernels::KvShape::is_valid`] or a row's slot or
    /// position is outside the cache (on wasm32: a trap).
    #[allow(clippy::too_many_arguments)] // mirrors the `kv_attention` import
    fn kv_attention(
        &self,
        shape: &kernels::KvShape,
        rows: usize,
        qkv: &[f32],
        at: &[u32],
        cache: &mut [i8],
        scales: &mut [f32],
        out: &mut [f32],
    ) {
        kernels::kv_attention(shape, rows, qkv, at, cache, scales, out);
    }

    /// Reads the whole input into a vector, or `None` if it is longer than `len_max` bytes (checked
    /// before anything is allocated).
    fn read_input(&self, len_max: usize) -> Option<Vec<u8>> {
        let len = self.input_len();
        if len > len_max {
            return None;
        }
        let mut bytes = alloc::vec![0u8; len];
        let mut done = 0;
        while done < len {
            let copied = self.input_read(done, &mut bytes[done..]);
            if copied == 0 {
                return None;
            }
            done += copied;
        }
        Some(bytes)
    }

    /// Reads the whole of blob `index`, or `None` if there is no such blob or it is longer than
    /// `len_max` bytes (checked before anything is allocated).
    fn read_blob(&self, index: usize, len_max: usize) -> Option<Vec<u8>> {
        let len = usize::try_from(self.blob_len(index)?).ok()?;
        if len > len_max {
            return None;
        }
        let mut bytes = alloc::vec![0u8; len];
        let mut done = 0;
        while done < len {
            let copied = self.blob_read(index, done as u64, &mut bytes[done..])?;
            if copied == 0 {
                return None;
            }
            done += copied;
        }
        Some(bytes)
    }
}

/// Views signed bytes as unsigned bytes (same size, alignment and validity).
pub fn i8_as_u8_mut(bytes: &mut [i8]) -> &mut [u8] {
    // SAFETY: i8 and u8 have the same size and alignment and every bit pattern is valid for
    // both; the returned slice borrows `bytes` exclusively for its whole lifetime.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<u8>(), bytes.len()) }
}

/// The naive exact `gemm_i8`: the definition the executor's fast kernel must match bit for bit.
///
/// # Panics
/// If a slice is shorter than its dimensions require.
#[allow(clippy::too_many_arguments)] // the ABI's argument list
pub fn gemm_i8_reference(
    m: usize,
    n: usize,
    k: usize,
    a: &[i8],
    b: &[i8],
    c: &mut [i32],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= n * k && c.len() >= m * n,
        "gemm_i8: short slice"
    );
    for i in 0..m {
        let row = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let col = &b[j * k..(j + 1) * k];
            let dot = row.iter().zip(col).fold(0i32, |sum, (&x, &y)| {
                sum.wrapping_add(i32::from(x) * i32::from(y))
            });
            let cell = &mut c[i * n + j];
            *cell = if accumulate {
                cell.wrapping_add(dot)
            } else {
                dot
            };
        }
    }
}

/// A stand-in random stream for native runs: SplitMix64 over `(seed, counter, word index)`.
///
/// It is deterministic but it is NOT the executor's stream (BLAKE3 XOF of the job seed): a job
/// that draws random bytes gives the executor's output natively only with the executor's host.
pub fn splitmix_fill(seed: u64, counter: u64, dst: &mut [u8]) {
    let mut state = seed ^ counter.wrapping_mul(0xA076_1D64_78BD_642F);
    for chunk in dst.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

/// The random source of a [`VecHost`]: `(counter, dst)`.
pub type RandomSource = Box<dyn Fn(u64, &mut [u8])>;

/// A host over in-memory input and blobs, with the naive [`gemm_i8_reference`] kernel: runs a job
/// natively with exactly the bytes a provider would serve.
pub struct VecHost {
    input: Vec<u8>,
    blobs: Vec<Vec<u8>>,
    random: RandomSource,
}

impl VecHost {
    /// A host serving `input` and `blobs` (in the job's order); its random stream is
    /// [`splitmix_fill`] with seed 0 until [`VecHost::with_random`] replaces it.
    pub fn new(input: Vec<u8>, blobs: Vec<Vec<u8>>) -> Self {
        Self {
            input,
            blobs,
            random: Box::new(|counter, dst| splitmix_fill(0, counter, dst)),
        }
    }

    /// Replaces the random stream (e.g. with the executor's, to match a wasm run exactly).
    pub fn with_random(mut self, random: impl Fn(u64, &mut [u8]) + 'static) -> Self {
        self.random = Box::new(random);
        self
    }
}

/// Copies `src[offset..]` into `dst` as far as both reach; returns the count.
fn copy_from(src: &[u8], offset: usize, dst: &mut [u8]) -> usize {
    let Some(rest) = src.get(offset..) else {
        return 0;
    };
    let count = rest.len().min(dst.len());
    dst[..count].copy_from_slice(&rest[..count]);
    count
}

impl Host for VecHost {
    fn input_len(&self) -> usize {
        self.input.len()
    }

    fn input_read(&self, offset: usize, dst: &mut [u8]) -> usize {
        copy_from(&self.input, offset, dst)
    }

    fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    fn blob_len(&self, index: usize) -> Option<u64> {
        self.blobs.get(index).map(|blob| blob.len() as u64)
    }

    fn blob_read(&self, index: usize, offset: u64, dst: &mut [u8]) -> Option<usize> {
        let blob = self.blobs.get(index)?;
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        Some(copy_from(blob, offset, dst))
    }

    fn random_fill(&self, counter: u64, dst: &mut [u8]) {
        (self.random)(counter, dst);
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
        gemm_i8_reference(m, n, k, a, b, c, accumulate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn gemm_reference_matches_hand_computed_product() {
        // A = [[1, 2], [3, -4]], B^T rows = [[5, 6], [-7, 8], [0, 1]].
        let a = [1i8, 2, 3, -4];
        let b = [5i8, 6, -7, 8, 0, 1];
        let mut c = [100i32; 6];
        gemm_i8_reference(2, 3, 2, &a, &b, &mut c, false);
        assert_eq!(c, [17, 9, 2, -9, -53, -4]);
        gemm_i8_reference(2, 3, 2, &a, &b, &mut c, true);
        assert_eq!(c, [34, 18, 4, -18, -106, -8]);
    }

    #[test]
    fn gemm_reference_wraps_instead_of_overflowing() {
        let mut c = [i32::MAX];
        gemm_i8_reference(1, 1, 1, &[1], &[1], &mut c, true);
        assert_eq!(c, [i32::MIN]);
    }

    #[test]
    fn vec_host_reads_input_and_blobs_in_pieces() {
        let host = VecHost::new(vec![1, 2, 3, 4, 5], vec![vec![9; 3]]);
        let mut buf = [0u8; 2];
        assert_eq!(host.input_read(4, &mut buf), 1);
        assert_eq!(buf[0], 5);
        assert_eq!(host.input_read(9, &mut buf), 0);
        assert_eq!(host.read_input(5), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(host.read_input(4), None, "longer than the limit");
        assert_eq!(host.blob_count(), 1);
        assert_eq!(host.blob_len(1), None);
        assert_eq!(host.blob_read(1, 0, &mut buf), None);
        assert_eq!(host.blob_read(0, u64::MAX, &mut buf), Some(0));
        assert_eq!(host.read_blob(0, 3), Some(vec![9, 9, 9]));
        assert_eq!(host.read_blob(0, 2), None);
        assert_eq!(host.read_blob(1, 10), None);
    }

    #[test]
    fn splitmix_stream_depends_on_counter_and_is_stable() {
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        splitmix_fill(7, 1, &mut a);
        splitmix_fill(7, 1, &mut b);
        assert_eq!(a, b);
        splitmix_fill(7, 2, &mut b);
        assert_ne!(a, b);
        // A prefix of a longer fill is the shorter fill.
        let mut long = [0u8; 16];
        splitmix_fill(7, 1, &mut long);
        assert_eq!(&long[..13], &a);
    }
}
