//! The wasm32 side: the `plexus` imports behind [`WasmHost`] and the panic handler.
//!
//! Every pointer passed to the host is derived from a live Rust slice, so the ranges are in
//! bounds by construction; lengths are narrowed to `i32` and checked, so a call the ABI cannot
//! express traps here instead of reaching the host with a wrong number.

use crate::Host;

#[link(wasm_import_module = "plexus")]
unsafe extern "C" {
    fn input_len() -> i32;
    fn input_read(offset: i32, dst: *mut u8, len: i32) -> i32;
    fn blob_count() -> i32;
    fn blob_len(index: i32) -> i64;
    fn blob_read(index: i32, offset: i64, dst: *mut u8, len: i32) -> i32;
    fn random_fill(counter: i64, dst: *mut u8, len: i32);
    fn gemm_i8(m: i32, n: i32, k: i32, a: *const i8, b: *const i8, c: *mut i32, accumulate: i32);
    fn quantize_rows(rows: i32, cols: i32, x: *const f32, q: *mut i8, scale: *mut f32);
    fn dequantize_rows(
        rows: i32,
        cols: i32,
        acc: *const i32,
        row_scale: *const f32,
        col_scale: *const f32,
        bias: *const f32,
        y: *mut f32,
        accumulate: i32,
    );
    fn layer_norm(rows: i32, cols: i32, x: *mut f32, gamma: *const f32, beta: *const f32, eps: f32);
    fn gelu(x: *mut f32, len: i32);
    fn attention(tokens: i32, hidden: i32, heads: i32, qkv: *const f32, out: *mut f32);
    fn kv_attention(
        rows: i32,
        heads: i32,
        kv_heads: i32,
        head_dim: i32,
        slots: i32,
        context: i32,
        stride: i32,
        residual: i32,
        qkv: *const f32,
        at: *const u32,
        cache: *mut i8,
        scales: *mut f32,
        out: *mut f32,
    );
}

/// Whether `len >= rows * cols` (false if the product overflows).
fn holds(len: usize, rows: usize, cols: usize) -> bool {
    rows.checked_mul(cols).is_some_and(|need| len >= need)
}

/// Traps unless `ok`: a slice shorter than its shape is a broken invariant of the caller.
fn check(ok: bool) {
    if !ok {
        core::arch::wasm32::unreachable();
    }
}

/// Narrows a length or index to the ABI's `i32`; traps if it does not fit.
fn abi_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or_else(|_| core::arch::wasm32::unreachable())
}

/// The host as seen from inside a Plexus module: the `plexus` imports.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmHost;

impl Host for WasmHost {
    fn input_len(&self) -> usize {
        // SAFETY: the import takes no arguments.
        unsafe { input_len() as u32 as usize }
    }

    fn input_read(&self, offset: usize, dst: &mut [u8]) -> usize {
        // SAFETY: `dst` is a live, writable range of `dst.len()` bytes.
        let count = unsafe { input_read(abi_i32(offset), dst.as_mut_ptr(), abi_i32(dst.len())) };
        count as u32 as usize
    }

    fn blob_count(&self) -> usize {
        // SAFETY: the import takes no arguments.
        unsafe { blob_count() as u32 as usize }
    }

    fn blob_len(&self, index: usize) -> Option<u64> {
        // SAFETY: the import only reads its integer argument.
        let len = unsafe { blob_len(abi_i32(index)) };
        u64::try_from(len).ok()
    }

    fn blob_read(&self, index: usize, offset: u64, dst: &mut [u8]) -> Option<usize> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        // SAFETY: `dst` is a live, writable range of `dst.len()` bytes.
        let count =
            unsafe { blob_read(abi_i32(index), offset, dst.as_mut_ptr(), abi_i32(dst.len())) };
        usize::try_from(count).ok()
    }

    fn random_fill(&self, counter: u64, dst: &mut [u8]) {
        // SAFETY: `dst` is a live, writable range of `dst.len()` bytes. The counter's bits are
        // passed as they are (the ABI's i64 is just 64 bits).
        unsafe { random_fill(counter as i64, dst.as_mut_ptr(), abi_i32(dst.len())) }
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
        let enough = |len: usize, rows: usize| rows.checked_mul(k).is_some_and(|need| len >= need);
        let c_enough = m.checked_mul(n).is_some_and(|need| c.len() >= need);
        if !(enough(a.len(), m) && enough(b.len(), n) && c_enough) {
            core::arch::wasm32::unreachable();
        }
        // SAFETY: the three ranges are live slices at least as long as the dimensions need
        // (checked above); `c` is writable and does not overlap `a` or `b` (borrow rules).
        unsafe {
            gemm_i8(
                abi_i32(m),
                abi_i32(n),
                abi_i32(k),
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                i32::from(accumulate),
            )
        }
    }

    fn quantize_rows(&self, rows: usize, cols: usize, x: &[f32], q: &mut [i8], scale: &mut [f32]) {
        check(holds(x.len(), rows, cols) && holds(q.len(), rows, cols) && scale.len() >= rows);
        // SAFETY: the ranges are live slices as long as the shape needs (checked above); the
        // outputs are writable and do not overlap the input (borrow rules).
        unsafe {
            quantize_rows(
                abi_i32(rows),
                abi_i32(cols),
                x.as_ptr(),
                q.as_mut_ptr(),
                scale.as_mut_ptr(),
            )
        }
    }

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
        check(
            holds(acc.len(), rows, cols)
                && holds(y.len(), rows, cols)
                && row_scale.len() >= rows
                && col_scale.len() >= cols
                && bias.len() >= cols,
        );
        // SAFETY: as in `quantize_rows`.
        unsafe {
            dequantize_rows(
                abi_i32(rows),
                abi_i32(cols),
                acc.as_ptr(),
                row_scale.as_ptr(),
                col_scale.as_ptr(),
                bias.as_ptr(),
                y.as_mut_ptr(),
                i32::from(accumulate),
            )
        }
    }

    fn layer_norm(
        &self,
        rows: usize,
        cols: usize,
        x: &mut [f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) {
        check(holds(x.len(), rows, cols) && gamma.len() >= cols && beta.len() >= cols);
        // SAFETY: as in `quantize_rows`.
        unsafe {
            layer_norm(
                abi_i32(rows),
                abi_i32(cols),
                x.as_mut_ptr(),
                gamma.as_ptr(),
                beta.as_ptr(),
                eps,
            )
        }
    }

    fn gelu(&self, x: &mut [f32]) {
        // SAFETY: `x` is a live, writable range of `x.len()` floats.
        unsafe { gelu(x.as_mut_ptr(), abi_i32(x.len())) }
    }

    fn attention(&self, tokens: usize, hidden: usize, heads: usize, qkv: &[f32], out: &mut [f32]) {
        let width = hidden.checked_mul(3).unwrap_or(usize::MAX);
        check(holds(qkv.len(), tokens, width) && holds(out.len(), tokens, hidden));
        // SAFETY: as in `quantize_rows`; the host checks `heads` and traps on a bad one.
        unsafe {
            attention(
                abi_i32(tokens),
                abi_i32(hidden),
                abi_i32(heads),
                qkv.as_ptr(),
                out.as_mut_ptr(),
            )
        }
    }

    fn kv_attention(
        &self,
        shape: &crate::nn::kernels::KvShape,
        rows: usize,
        qkv: &[f32],
        at: &[u32],
        cache: &mut [i8],
        scales: &mut [f32],
        out: &mut [f32],
    ) {
        let width = shape.row_width().unwrap_or(usize::MAX);
        let q_len = shape
            .heads
            .checked_mul(shape.head_dim)
            .unwrap_or(usize::MAX);
        check(
            holds(qkv.len(), rows, width)
                && holds(at.len(), rows, 2)
                && holds(out.len(), rows, q_len)
                && shape.cache_values().is_some_and(|n| cache.len() >= n)
                && shape.cache_vectors().is_some_and(|n| scales.len() >= n),
        );
        // SAFETY: as in `quantize_rows`; the host checks the shape and every row's slot and
        // position, and traps on a bad one.
        unsafe {
            kv_attention(
                abi_i32(rows),
                abi_i32(shape.heads),
                abi_i32(shape.kv_heads),
                abi_i32(shape.head_dim),
                abi_i32(shape.slots),
                abi_i32(shape.context),
                abi_i32(shape.stride),
                i32::from(shape.residual),
                qkv.as_ptr(),
                at.as_ptr(),
                cache.as_mut_ptr(),
                scales.as_mut_ptr(),
                out.as_mut_ptr(),
            )
        }
    }
}

/// A panic in a job (a rejected input, a broken invariant) traps: the job fails
/// deterministically with the `unreachable` trap and no message (there is nowhere to print it).
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
