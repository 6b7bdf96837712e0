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
}

/// A panic in a job (a rejected input, a broken invariant) traps: the job fails
/// deterministically with the `unreachable` trap and no message (there is nowhere to print it).
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
