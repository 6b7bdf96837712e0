//! The host API of the guest ABI (module `plexus`, see `jobs/README.md`).
//!
//! Every call first pays `HOST_CALL_FUEL` plus its extra fuel (out of the store's fuel, so the
//! bill is the same whether the work is done by guest code or the host), then checks its
//! arguments, then works. Nothing here panics on any argument: pointers and lengths are read as
//! unsigned 32-bit values, every range is checked against the memory, every product is computed
//! in u128, and a failure is a [`HostTrap`] the executor turns into a stable trap code.

mod float;

use crate::{HOST_CALL_FUEL, gemm};
use plexus_types::trace::TrapCode;
use std::{ops::Range, sync::Arc};
use wasmtime::{Caller, Linker, Memory, StoreLimits};
use zerocopy::FromBytes as _;

/// The domain of the job seed: `seed = BLAKE3("plexus/job-seed" | job id)`.
const JOB_SEED_DOMAIN: &[u8] = b"plexus/job-seed";

/// A trap raised by a host function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("host call trapped: {0}")]
pub(crate) struct HostTrap(pub TrapCode);

/// The data a store carries for the host functions.
pub(crate) struct HostState {
    pub input: Arc<[u8]>,
    pub blobs: Vec<Arc<[u8]>>,
    pub seed: [u8; 32],
    pub metering: bool,
    /// The instance's memory, set right after instantiation (no guest code runs before).
    pub memory: Option<Memory>,
    /// Reused buffer for `gemm_i8` results when C overlaps A or B or is misaligned (computed
    /// before writing, so the overlap cannot change them).
    pub scratch: Vec<i32>,
    pub limits: StoreLimits,
}

/// The seed of a job's `random_fill` stream.
pub fn job_seed(job_id: &[u8; 32]) -> [u8; 32] {
    plexus_types::ContentHash::of_parts(&[JOB_SEED_DOMAIN, job_id]).0
}

/// The bytes `random_fill(counter, ..)` writes: the keyed BLAKE3 XOF (key = job seed) of the
/// counter as 8 little-endian bytes. The one direct use of the `blake3` crate here: the hasher
/// behind `ContentHash` has no keyed XOF.
pub fn random_bytes(seed: &[u8; 32], counter: u64, out: &mut [u8]) {
    let mut hasher = blake3::Hasher::new_keyed(seed);
    hasher.update(&counter.to_le_bytes());
    hasher.finalize_xof().fill(out);
}

type HostResult<T> = wasmtime::Result<T>;

fn trap<T>(code: TrapCode) -> HostResult<T> {
    Err(wasmtime::Error::new(HostTrap(code)))
}

/// Pays `HOST_CALL_FUEL + extra`.
fn charge(caller: &mut Caller<'_, HostState>, extra: u64) -> HostResult<()> {
    pay(caller, HOST_CALL_FUEL.saturating_add(extra))
}

/// Pays `cost` fuel; traps with `out_of_fuel` (and leaves no fuel) if it cannot.
fn pay(caller: &mut Caller<'_, HostState>, cost: u64) -> HostResult<()> {
    if !caller.data().metering {
        return Ok(());
    }
    let remaining = caller.get_fuel()?;
    match remaining.checked_sub(cost) {
        Some(left) => caller.set_fuel(left),
        None => {
            caller.set_fuel(0)?;
            trap(TrapCode::OutOfFuel)
        }
    }
}

/// `ptr..ptr + len` if it lies inside a memory of `size` bytes.
fn range(size: usize, ptr: i32, len: u64) -> Option<Range<usize>> {
    let start = u64::from(ptr as u32);
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

fn memory(caller: &Caller<'_, HostState>) -> HostResult<Memory> {
    match caller.data().memory {
        Some(memory) => Ok(memory),
        None => trap(TrapCode::BadHostCall),
    }
}

/// Copies `source[offset..]` (at most `len` bytes) to memory at `dst`; returns the count.
fn copy_out(
    caller: &mut Caller<'_, HostState>,
    source: &[u8],
    offset: u64,
    dst: i32,
    len: u32,
) -> HostResult<i32> {
    let memory = memory(caller)?;
    let data = memory.data_mut(&mut *caller);
    let Some(target) = range(data.len(), dst, u64::from(len)) else {
        return trap(TrapCode::BadHostCall);
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(source.len());
    let count = (source.len() - start).min(target.len());
    data[target.start..target.start + count].copy_from_slice(&source[start..start + count]);
    // `count <= len <= u32::MAX`, and memory is far below 2 GiB, so it fits an i32.
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

fn input_len(mut caller: Caller<'_, HostState>) -> HostResult<i32> {
    charge(&mut caller, 0)?;
    Ok(i32::try_from(caller.data().input.len()).unwrap_or(i32::MAX))
}

fn input_read(
    mut caller: Caller<'_, HostState>,
    offset: i32,
    dst: i32,
    len: i32,
) -> HostResult<i32> {
    let len = len as u32;
    charge(&mut caller, u64::from(len) / 8)?;
    let input = caller.data().input.clone();
    copy_out(&mut caller, &input, u64::from(offset as u32), dst, len)
}

fn blob_count(mut caller: Caller<'_, HostState>) -> HostResult<i32> {
    charge(&mut caller, 0)?;
    Ok(i32::try_from(caller.data().blobs.len()).unwrap_or(i32::MAX))
}

fn blob(caller: &Caller<'_, HostState>, index: i32) -> Option<Arc<[u8]>> {
    let index = usize::try_from(index).ok()?;
    caller.data().blobs.get(index).cloned()
}

fn blob_len(mut caller: Caller<'_, HostState>, index: i32) -> HostResult<i64> {
    charge(&mut caller, 0)?;
    Ok(blob(&caller, index).map_or(-1, |blob| i64::try_from(blob.len()).unwrap_or(i64::MAX)))
}

fn blob_read(
    mut caller: Caller<'_, HostState>,
    index: i32,
    offset: i64,
    dst: i32,
    len: i32,
) -> HostResult<i32> {
    let len = len as u32;
    charge(&mut caller, u64::from(len) / 8)?;
    let Some(blob) = blob(&caller, index) else {
        return Ok(-1);
    };
    let Ok(offset) = u64::try_from(offset) else {
        return trap(TrapCode::BadHostCall);
    };
    copy_out(&mut caller, &blob, offset, dst, len)
}

fn random_fill(
    mut caller: Caller<'_, HostState>,
    counter: i64,
    dst: i32,
    len: i32,
) -> HostResult<()> {
    let len = len as u32;
    charge(&mut caller, u64::from(len))?;
    let memory = memory(&caller)?;
    let (data, state) = memory.data_and_store_mut(&mut caller);
    let Some(target) = range(data.len(), dst, u64::from(len)) else {
        return trap(TrapCode::BadHostCall);
    };
    random_bytes(&state.seed, counter as u64, &mut data[target]);
    Ok(())
}

// The ABI fixes the arity: the caller plus seven i32 arguments.
#[allow(clippy::too_many_arguments)]
fn gemm_i8(
    mut caller: Caller<'_, HostState>,
    m: i32,
    n: i32,
    k: i32,
    a: i32,
    b: i32,
    c: i32,
    accumulate: i32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let (Ok(m), Ok(n), Ok(k)) = (u32::try_from(m), u32::try_from(n), u32::try_from(k)) else {
        return trap(TrapCode::BadHostCall);
    };
    let (m, n, k) = (u128::from(m), u128::from(n), u128::from(k));
    // m, n, k < 2^31, so these products fit u128; the fuel saturates at u64::MAX.
    let extra = m * n * k / 8 + m * n;
    pay(&mut caller, u64::try_from(extra).unwrap_or(u64::MAX))?;
    let memory = memory(&caller)?;
    let (data, state) = memory.data_and_store_mut(&mut caller);
    let size = data.len();
    let span = |rows: u128, columns: u128, width: u128| u64::try_from(rows * columns * width).ok();
    let ranges = (
        span(m, k, 1).and_then(|len| range(size, a, len)),
        span(n, k, 1).and_then(|len| range(size, b, len)),
        span(m, n, 4).and_then(|len| range(size, c, len)),
    );
    let (Some(a_range), Some(b_range), Some(c_range)) = ranges else {
        return trap(TrapCode::BadHostCall);
    };
    // In range of a memory of at most 64 MiB, so these fit usize.
    let (m, n, k) = (m as usize, n as usize, k as usize);
    // In place when C overlaps neither A nor B and is aligned (the usual case): no scratch copy.
    let ranges = [a_range.clone(), b_range.clone(), c_range.clone()];
    if let Some([a_view, b_view, c_view]) = float::views(data, ranges) {
        let views = (
            <[i8]>::ref_from_bytes(a_view),
            <[i8]>::ref_from_bytes(b_view),
            <[i32]>::mut_from_bytes(c_view),
        );
        if let (Ok(a_view), Ok(b_view), Ok(c_view)) = views {
            // The ranges hold exactly the shape, so this cannot fail.
            return match gemm::gemm_i8(m, n, k, a_view, b_view, c_view, accumulate != 0) {
                Ok(()) => Ok(()),
                Err(_) => trap(TrapCode::BadHostCall),
            };
        }
    }
    let scratch = &mut state.scratch;
    scratch.clear();
    scratch.resize(m * n, 0);
    gemm::products(
        gemm::Kernel::detected(),
        m,
        n,
        k,
        &data[a_range],
        &data[b_range],
        |cell, sum| {
            scratch[cell] = sum;
        },
    );
    let out = &mut data[c_range];
    for (cell, sum) in out.chunks_exact_mut(4).zip(scratch.iter()) {
        let old = if accumulate != 0 {
            i32::from_le_bytes([cell[0], cell[1], cell[2], cell[3]])
        } else {
            0
        };
        cell.copy_from_slice(&old.wrapping_add(*sum).to_le_bytes());
    }
    Ok(())
}

/// A linker with the host API defined.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    let module = crate::admission::HOST_MODULE;
    linker.func_wrap(module, "input_len", input_len)?;
    linker.func_wrap(module, "input_read", input_read)?;
    linker.func_wrap(module, "blob_count", blob_count)?;
    linker.func_wrap(module, "blob_len", blob_len)?;
    linker.func_wrap(module, "blob_read", blob_read)?;
    linker.func_wrap(module, "random_fill", random_fill)?;
    linker.func_wrap(module, "gemm_i8", gemm_i8)?;
    linker.func_wrap(module, "quantize_rows", float::quantize_rows)?;
    linker.func_wrap(module, "dequantize_rows", float::dequantize_rows)?;
    linker.func_wrap(module, "layer_norm", float::layer_norm)?;
    linker.func_wrap(module, "gelu", float::gelu)?;
    linker.func_wrap(module, "attention", float::attention)?;
    linker.func_wrap(module, "kv_attention", float::kv_attention)?;
    Ok(linker)
}
