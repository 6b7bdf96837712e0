//! The exact float host calls: `quantize_rows`, `dequantize_rows`, `layer_norm`, `gelu`,
//! `attention` and `kv_attention` (see `jobs/README.md`).
//!
//! Each result is defined bit for bit by its function in `plexus_guest::nn::kernels`, which this
//! module runs natively on copies of the arguments, so a metered job's row-wise float work runs
//! at native speed and gives the bits the same job gives natively (`NativeHost` runs the same
//! functions through the SDK's `Host` defaults). Like `gemm_i8`, each call pays its fuel first
//! (a formula of its sizes), then checks every size and range (a negative size, an out-of-range
//! pointer or a bad shape traps with `bad_host_call`), then works: in place on views of guest
//! memory when it can (a little-endian host, every range aligned to its element and no two ranges
//! overlapping), else on copies, every input read before any output is written (outputs in the
//! order of the signature). Both paths hand the kernel the same values, so they give the same
//! bits; the views only save the copies.

use super::{HostResult, HostState, charge, memory, pay, range, trap};
use plexus_guest::nn::kernels;
use plexus_types::trace::TrapCode;
use std::ops::Range;
use wasmtime::Caller;
use zerocopy::FromBytes as _;

/// `value` as a size, or `None` if it is negative.
fn size(value: i32) -> Option<u128> {
    u32::try_from(value).ok().map(u128::from)
}

/// The sizes, or a `bad_host_call` trap if one is negative.
fn sizes<const N: usize>(values: [i32; N]) -> HostResult<[u128; N]> {
    let mut out = [0u128; N];
    for (o, v) in out.iter_mut().zip(values) {
        match size(v) {
            Some(s) => *o = s,
            None => return trap(TrapCode::BadHostCall),
        }
    }
    Ok(out)
}

/// Pays `extra` fuel (a u128 formula of sizes below 2^31 each; saturates at `u64::MAX`).
fn pay_extra(caller: &mut Caller<'_, HostState>, extra: u128) -> HostResult<()> {
    pay(caller, u64::try_from(extra).unwrap_or(u64::MAX))
}

/// The range of `count` values of `width` bytes at `ptr` in a memory of `memory_size` bytes.
fn span(memory_size: usize, ptr: i32, count: u128, width: u128) -> Option<Range<usize>> {
    let len = u64::try_from(count.checked_mul(width)?).ok()?;
    range(memory_size, ptr, len)
}

/// The ranges, or a `bad_host_call` trap if one lies outside memory.
fn spans<const N: usize>(ranges: [Option<Range<usize>>; N]) -> HostResult<[Range<usize>; N]> {
    if ranges.iter().any(Option::is_none) {
        return trap(TrapCode::BadHostCall);
    }
    Ok(ranges.map(|r| r.unwrap_or_default()))
}

/// Disjoint views of `ranges` of guest memory, if the kernel may work in place on them: the host
/// is little-endian like wasm memory, and no two ranges overlap.
pub(super) fn views<const N: usize>(
    data: &mut [u8],
    ranges: [Range<usize>; N],
) -> Option<[&mut [u8]; N]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    data.get_disjoint_mut(ranges).ok()
}

/// `bytes` as f32 values, if aligned.
fn as_f32(bytes: &[u8]) -> Option<&[f32]> {
    <[f32]>::ref_from_bytes(bytes).ok()
}

/// `bytes` as mutable f32 values, if aligned.
fn as_f32_mut(bytes: &mut [u8]) -> Option<&mut [f32]> {
    <[f32]>::mut_from_bytes(bytes).ok()
}

fn read_f32s(data: &[u8], at: Range<usize>) -> Vec<f32> {
    data[at]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn read_i32s(data: &[u8], at: Range<usize>) -> Vec<i32> {
    data[at]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn write_f32s(data: &mut [u8], at: Range<usize>, values: &[f32]) {
    for (cell, v) in data[at].chunks_exact_mut(4).zip(values) {
        cell.copy_from_slice(&v.to_le_bytes());
    }
}

/// `quantize_rows(rows, cols, x, q, scale)`: `x` is `rows` x `cols` f32, `q` the same shape in
/// i8, `scale` `rows` f32. Fuel: `rows * cols / 2 + rows`.
pub(super) fn quantize_rows(
    mut caller: Caller<'_, HostState>,
    rows: i32,
    cols: i32,
    x: i32,
    q: i32,
    scale: i32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [m, k] = sizes([rows, cols])?;
    pay_extra(&mut caller, m * k / 2 + m)?;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let n = data.len();
    let [x_at, q_at, scale_at] = spans([
        span(n, x, m * k, 4),
        span(n, q, m * k, 1),
        span(n, scale, m, 4),
    ])?;
    // In range of a memory far below 2^32 bytes, so these fit usize.
    let (m, k) = (m as usize, k as usize);
    if let Some([x, q, s]) = views(data, [x_at.clone(), q_at.clone(), scale_at.clone()]) {
        let (q, s) = (<[i8]>::mut_from_bytes(q).ok(), as_f32_mut(s));
        if let (Some(x), Some(q), Some(s)) = (as_f32(x), q, s) {
            kernels::quantize_rows(x, m, k, q, s);
            return Ok(());
        }
    }
    let input = read_f32s(data, x_at);
    let mut out_q = vec![0i8; m * k];
    let mut out_scale = vec![0f32; m];
    kernels::quantize_rows(&input, m, k, &mut out_q, &mut out_scale);
    for (cell, v) in data[q_at].iter_mut().zip(&out_q) {
        *cell = *v as u8;
    }
    write_f32s(data, scale_at, &out_scale);
    Ok(())
}

/// `dequantize_rows(rows, cols, acc, row_scale, col_scale, bias, y, accumulate)`: `acc` and `y`
/// are `rows` x `cols` (i32, f32), `row_scale` `rows` f32, `col_scale` and `bias` `cols` f32
/// (`bias` is not read, nor checked, when `accumulate` is nonzero). Fuel: `rows * cols / 2 +
/// rows`.
// The ABI fixes the arity: the caller plus eight i32 arguments.
#[allow(clippy::too_many_arguments)]
pub(super) fn dequantize_rows(
    mut caller: Caller<'_, HostState>,
    rows: i32,
    cols: i32,
    acc: i32,
    row_scale: i32,
    col_scale: i32,
    bias: i32,
    y: i32,
    accumulate: i32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [m, n] = sizes([rows, cols])?;
    pay_extra(&mut caller, m * n / 2 + m)?;
    let accumulate = accumulate != 0;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let size = data.len();
    let bias_at = if accumulate {
        Some(0..0)
    } else {
        span(size, bias, n, 4)
    };
    let [acc_at, row_at, col_at, bias_at, y_at] = spans([
        span(size, acc, m * n, 4),
        span(size, row_scale, m, 4),
        span(size, col_scale, n, 4),
        bias_at,
        span(size, y, m * n, 4),
    ])?;
    let (m, n) = (m as usize, n as usize);
    let all = [
        acc_at.clone(),
        row_at.clone(),
        col_at.clone(),
        bias_at.clone(),
        y_at.clone(),
    ];
    if let Some([acc, rs, cs, bias, y]) = views(data, all) {
        let views = (
            <[i32]>::ref_from_bytes(acc).ok(),
            as_f32(rs),
            as_f32(cs),
            // Not read with `accumulate` (an empty range then).
            if accumulate {
                Some(&[][..])
            } else {
                as_f32(bias)
            },
        );
        if let ((Some(acc), Some(rs), Some(cs), Some(bias)), Some(y)) = (views, as_f32_mut(y)) {
            kernels::dequantize_rows(acc, m, n, rs, cs, bias, y, accumulate);
            return Ok(());
        }
    }
    let cells = read_i32s(data, acc_at);
    let (row_s, col_s) = (read_f32s(data, row_at), read_f32s(data, col_at));
    let bias = if accumulate {
        vec![0f32; n]
    } else {
        read_f32s(data, bias_at)
    };
    // Without `accumulate` every cell of `y` is written and none read.
    let mut out = if accumulate {
        read_f32s(data, y_at.clone())
    } else {
        vec![0f32; m * n]
    };
    kernels::dequantize_rows(&cells, m, n, &row_s, &col_s, &bias, &mut out, accumulate);
    write_f32s(data, y_at, &out);
    Ok(())
}

/// `layer_norm(rows, cols, x, gamma, beta, eps)`: `x` is `rows` x `cols` f32, normalized in
/// place; `gamma` and `beta` `cols` f32. Fuel: `rows * cols + rows`.
pub(super) fn layer_norm(
    mut caller: Caller<'_, HostState>,
    rows: i32,
    cols: i32,
    x: i32,
    gamma: i32,
    beta: i32,
    eps: f32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [m, k] = sizes([rows, cols])?;
    pay_extra(&mut caller, m * k + m)?;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let n = data.len();
    let [x_at, gamma_at, beta_at] = spans([
        span(n, x, m * k, 4),
        span(n, gamma, k, 4),
        span(n, beta, k, 4),
    ])?;
    let (m, k) = (m as usize, k as usize);
    if let Some([x, g, b]) = views(data, [x_at.clone(), gamma_at.clone(), beta_at.clone()])
        && let (Some(x), Some(g), Some(b)) = (as_f32_mut(x), as_f32(g), as_f32(b))
    {
        kernels::layer_norm(x, m, k, g, b, eps);
        return Ok(());
    }
    let (gamma, beta) = (read_f32s(data, gamma_at), read_f32s(data, beta_at));
    let mut values = read_f32s(data, x_at.clone());
    kernels::layer_norm(&mut values, m, k, &gamma, &beta, eps);
    write_f32s(data, x_at, &values);
    Ok(())
}

/// `gelu(x, len)`: `len` f32 in place. Fuel: `len * 4`.
pub(super) fn gelu(mut caller: Caller<'_, HostState>, x: i32, len: i32) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [len] = sizes([len])?;
    pay_extra(&mut caller, len * 4)?;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let [x_at] = spans([span(data.len(), x, len, 4)])?;
    if let Some(x) = as_f32_mut(&mut data[x_at.clone()]).filter(|_| cfg!(target_endian = "little"))
    {
        kernels::gelu(x);
        return Ok(());
    }
    let mut values = read_f32s(data, x_at.clone());
    kernels::gelu(&mut values);
    write_f32s(data, x_at, &values);
    Ok(())
}

/// `attention(tokens, hidden, heads, qkv, out)`: `qkv` is `tokens` x `3 * hidden` f32, `out`
/// `tokens` x `hidden` f32; `heads` must be positive and divide `hidden`. Fuel:
/// `tokens * tokens * (hidden / 2 + 4 * heads) + tokens * hidden`.
pub(super) fn attention(
    mut caller: Caller<'_, HostState>,
    tokens: i32,
    hidden: i32,
    heads: i32,
    qkv: i32,
    out: i32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [t, h, heads] = sizes([tokens, hidden, heads])?;
    if heads == 0 || h % heads != 0 {
        return trap(TrapCode::BadHostCall);
    }
    pay_extra(&mut caller, t * t * (h / 2 + 4 * heads) + t * h)?;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let n = data.len();
    let [qkv_at, out_at] = spans([span(n, qkv, t * 3 * h, 4), span(n, out, t * h, 4)])?;
    let (t, h, heads) = (t as usize, h as usize, heads as usize);
    if let Some([qkv, out]) = views(data, [qkv_at.clone(), out_at.clone()])
        && let (Some(qkv), Some(out)) = (as_f32(qkv), as_f32_mut(out))
    {
        kernels::attention(qkv, t, h, heads, out);
        return Ok(());
    }
    let input = read_f32s(data, qkv_at);
    let mut context = vec![0f32; t * h];
    kernels::attention(&input, t, h, heads, &mut context);
    write_f32s(data, out_at, &context);
    Ok(())
}

/// `kv_attention`'s `residual` argument: the flag, and the factor `f` of its fuel formula
/// (every key and value stored and read twice with it); anything but 0 or 1 is a bad call.
fn residual_flag(residual: i32) -> HostResult<(bool, u128)> {
    match residual {
        0 => Ok((false, 1)),
        1 => Ok((true, 2)),
        _ => trap(TrapCode::BadHostCall),
    }
}

/// `kv_attention(rows, heads, kv_heads, head_dim, slots, context, stride, residual, qkv, at,
/// cache, scales, out)` (layouts in `kernels::KvShape`): `qkv` is `rows` x `(heads + 2 *
/// kv_heads) * head_dim` f32, `at` `rows` pairs of i32 (slot, position), `cache` `vectors *
/// head_dim` i8 and `scales` `vectors` f32 with `vectors = (slots * context - 1) * stride + v`
/// (0 if `slots * context` is; both read and written), `out` `rows` x `heads * head_dim` f32,
/// where `v`, the head vectors of a position, is `2 * kv_heads`, or `4 * kv_heads` when
/// `residual` is 1 (it must be 0 or 1). `heads` and `kv_heads` must be positive, `kv_heads` must
/// divide `heads`, `stride` must be at least `v`, and every row's slot and position must lie in
/// the cache. Fuel: `rows * ((heads + f * kv_heads) * head_dim + 2)`, paid before `at` is read,
/// then `pairs * heads * (f * head_dim / 2 + 4)` with `pairs` the sum over the rows of `position
/// + 1` and `f` 1, or 2 with `residual` (which stores and reads every key and value twice).
// The ABI fixes the arity: the caller plus thirteen i32 arguments.
#[allow(clippy::too_many_arguments)]
pub(super) fn kv_attention(
    mut caller: Caller<'_, HostState>,
    rows: i32,
    heads: i32,
    kv_heads: i32,
    head_dim: i32,
    slots: i32,
    context: i32,
    stride: i32,
    residual: i32,
    qkv: i32,
    at: i32,
    cache: i32,
    scales: i32,
    out: i32,
) -> HostResult<()> {
    charge(&mut caller, 0)?;
    let [m, heads, kv_heads, d, slots, context, stride] =
        sizes([rows, heads, kv_heads, head_dim, slots, context, stride])?;
    let (residual, f) = residual_flag(residual)?;
    // Each size is below 2^31, so it fits usize; the shape's own checks decide what is valid.
    let shape = kernels::KvShape {
        heads: heads as usize,
        kv_heads: kv_heads as usize,
        head_dim: d as usize,
        slots: slots as usize,
        context: context as usize,
        stride: stride as usize,
        residual,
    };
    let (Some(width), Some(vectors), true) =
        (shape.row_width(), shape.cache_vectors(), shape.is_valid())
    else {
        return trap(TrapCode::BadHostCall);
    };
    pay_extra(&mut caller, m * ((heads + f * kv_heads) * d + 2))?;
    let memory = memory(&caller)?;
    let data = memory.data_mut(&mut caller);
    let [at_at] = spans([span(data.len(), at, 2 * m, 4)])?;
    let at_values: Vec<u32> = read_i32s(data, at_at)
        .into_iter()
        .map(|v| v as u32)
        .collect();
    let mut pairs = 0u128;
    for cell in at_values.chunks_exact(2) {
        // Negative values read as u32 are at least 2^31, above any size.
        let (slot, position) = (u128::from(cell[0]), u128::from(cell[1]));
        if slot >= slots || position >= context {
            return trap(TrapCode::BadHostCall);
        }
        pairs += position + 1;
    }
    pay_extra(&mut caller, pairs * heads * (f * d / 2 + 4))?;
    let data = memory.data_mut(&mut caller);
    let n = data.len();
    let (width, vectors) = (width as u128, vectors as u128);
    let [qkv_at, cache_at, scales_at, out_at] = spans([
        span(n, qkv, m * width, 4),
        span(n, cache, vectors * d, 1),
        span(n, scales, vectors, 4),
        span(n, out, m * heads * d, 4),
    ])?;
    let m = m as usize;
    let all = [
        qkv_at.clone(),
        cache_at.clone(),
        scales_at.clone(),
        out_at.clone(),
    ];
    if let Some([q, c, s, o]) = views(data, all) {
        let (c, s, o) = (<[i8]>::mut_from_bytes(c).ok(), as_f32_mut(s), as_f32_mut(o));
        if let (Some(q), Some(c), Some(s), Some(o)) = (as_f32(q), c, s, o) {
            kernels::kv_attention(&shape, m, q, &at_values, c, s, o);
            return Ok(());
        }
    }
    let input = read_f32s(data, qkv_at);
    let mut values: Vec<i8> = data[cache_at.clone()].iter().map(|b| *b as i8).collect();
    let mut scale_values = read_f32s(data, scales_at.clone());
    let mut context_values = vec![0f32; m * shape.heads * shape.head_dim];
    kernels::kv_attention(
        &shape,
        m,
        &input,
        &at_values,
        &mut values,
        &mut scale_values,
        &mut context_values,
    );
    for (cell, v) in data[cache_at].iter_mut().zip(&values) {
        *cell = *v as u8;
    }
    write_f32s(data, scales_at, &scale_values);
    write_f32s(data, out_at, &context_values);
    Ok(())
}
