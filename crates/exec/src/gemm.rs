//! The exact int8 matrix multiply behind the `gemm_i8` host call (and the native benchmark).
//!
//! `C[i][j] (+)= sum_t A[i][t] * B[j][t]` with A m×k and B n×k (B transposed), i8 inputs and
//! wrapping i32 sums. Integer addition is associative and commutative modulo 2^32, so any
//! summation order (scalar, SIMD lanes, another machine) gives the same bits: the kernel is exact
//! by construction and free to be vectorized. It is written as contiguous dot products over `k`
//! (both operands row-major along `t`) so LLVM widens i8 to i16/i32 and uses SIMD multiply-adds.
//!
//! The workspace builds for baseline x86-64 (SSE2), so the one safe source is also compiled under
//! `#[target_feature]` for AVX2 and AVX-512 (with VNNI where present), and a [`Kernel`] chosen
//! once per process from what the CPU reports runs every call ([`Kernel::detected`]). The choice
//! changes only the speed: every kernel gives the same bits (the tests compare them on random and
//! edge shapes), and the host call's fuel is a formula of m, n and k, so no bill, output or trace
//! depends on it.

use std::sync::OnceLock;

/// The instruction sets of the kernels, slowest first as measured ([`Kernel::detected`] runs the
/// last one the CPU has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Scalar,
    Avx2,
    Avx512,
    Avx512Vnni,
}

impl Isa {
    const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni];

    fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512vnni",
        }
    }

    /// Whether this CPU has every feature the kernel is compiled with (`x86` lists them).
    fn present(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx512.present() && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// A `gemm_i8` kernel this CPU can run. A value exists only for a kernel whose instruction set
/// the CPU reports (every constructor checks), which is what makes running it sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel(Isa);

/// Why [`Kernel::named`] refused a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// No kernel has this name.
    #[error("no gemm kernel is named {name:?} (kernels: scalar, avx2, avx512, avx512vnni)")]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The kernel exists but this CPU lacks an instruction set it needs.
    #[error("the gemm kernel {name} needs CPU features this machine does not report")]
    Unavailable {
        /// The kernel's name.
        name: &'static str,
    },
}

impl Kernel {
    /// The portable kernel (baseline x86-64 or any other target): the reference for the others.
    pub const SCALAR: Kernel = Kernel(Isa::Scalar);

    /// Every kernel this CPU can run, slowest first (the scalar one always).
    pub fn available() -> Vec<Kernel> {
        Isa::ALL
            .into_iter()
            .filter(|isa| isa.present())
            .map(Kernel)
            .collect()
    }

    /// The fastest available kernel, detected once per process: what `gemm_i8` and the host
    /// call run. `Isa::ALL` lists the kernels slowest first as measured (`plexus bench gemm`, and
    /// the `gemm_speed` test in the dev profile: about 4, 15, 18 and 45-90 G multiply-adds/s for
    /// scalar, avx2, avx512 and the `vpdpbusd` avx512vnni kernel on the MiniLM shapes), so the
    /// last one the CPU has wins.
    pub fn detected() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            Kernel::available()
                .last()
                .copied()
                .unwrap_or(Kernel::SCALAR)
        })
    }

    /// The kernel called `name` (`scalar`, `avx2`, `avx512`, `avx512vnni`), if this CPU can run it.
    pub fn named(name: &str) -> Result<Kernel, KernelError> {
        let isa = Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == name)
            .ok_or_else(|| KernelError::Unknown {
                name: name.to_owned(),
            })?;
        if !isa.present() {
            return Err(KernelError::Unavailable { name: isa.name() });
        }
        Ok(Kernel(isa))
    }

    /// The kernel's name, as [`Kernel::named`] takes it.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

/// Bytes that are read as signed 8-bit values: `i8` slices (native callers) and `u8` slices
/// (guest memory) share one kernel. Sealed: the VNNI kernel loads the slices' bytes as they are,
/// which is sound only for these two one-byte types.
pub trait Int8: Copy + sealed::Sealed {
    /// The value as a signed byte.
    fn value(self) -> i8;
}

mod sealed {
    /// Only `i8` and `u8` are [`super::Int8`].
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

impl Int8 for i8 {
    #[inline(always)]
    fn value(self) -> i8 {
        self
    }
}

impl Int8 for u8 {
    #[inline(always)]
    fn value(self) -> i8 {
        self as i8
    }
}

/// The wrapping dot product of two equally long rows. Always inlined, so each kernel's
/// `#[target_feature]` wrapper compiles it for its own instruction set.
///
/// Plain indexing over slices cut to one length, with wrapping arithmetic only: no checked
/// operation and no std iterator whose debug-build precondition checks (`ub_checks`, active in
/// crates built with debug assertions) would keep LLVM from vectorizing the loop in dev builds.
#[inline(always)]
pub fn dot<T: Int8>(a: &[T], b: &[T]) -> i32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut sum = 0i32;
    for t in 0..len {
        sum = sum.wrapping_add(i32::from(a[t].value()).wrapping_mul(i32::from(b[t].value())));
    }
    sum
}

/// Calls `emit(row * n + column, dot)` for every cell of the m×n product of `a` (m×k) and `b`
/// (n×k) with `kernel`. The caller has checked the slice lengths. An empty inner dimension
/// (`k == 0`) gives zeros here, once, so no kernel has to handle rows of no bytes.
#[inline]
pub(crate) fn products<T: Int8>(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    mut emit: impl FnMut(usize, i32),
) {
    if k == 0 {
        (0..m * n).for_each(|cell| emit(cell, 0));
        return;
    }
    match kernel.0 {
        Isa::Scalar => portable_products(m, n, k, a, b, emit),
        #[cfg(target_arch = "x86_64")]
        isa => x86::products(isa, m, n, k, a, b, emit),
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only the scalar kernel is available off x86_64"),
    }
}

/// The one kernel source (for `k > 0`: [`products`] answers `k == 0`): plain Rust that LLVM
/// vectorizes for whatever features the function it
/// is inlined into enables.
#[inline(always)]
fn portable_products<T: Int8>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    mut emit: impl FnMut(usize, i32),
) {
    for (row, a_row) in a.chunks_exact(k).take(m).enumerate() {
        for (column, b_row) in b.chunks_exact(k).take(n).enumerate() {
            emit(row * n + column, dot(a_row, b_row));
        }
    }
}

/// [`portable_products`] compiled for each x86-64 instruction set beyond the baseline.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Int8, Isa, portable_products};

    /// One wrapper per instruction set: the same body, compiled with `features` enabled.
    macro_rules! kernel {
        ($name:ident, $features:literal) => {
            #[target_feature(enable = $features)]
            fn $name<T: Int8>(
                m: usize,
                n: usize,
                k: usize,
                a: &[T],
                b: &[T],
                emit: impl FnMut(usize, i32),
            ) {
                portable_products(m, n, k, a, b, emit);
            }
        };
    }

    kernel!(avx2, "avx2");
    kernel!(avx512, "avx2,avx512f,avx512bw,avx512vl");

    /// Runs the kernel for `isa`, which a [`super::Kernel`] holds only if the CPU has it.
    // The one place the crate needs `unsafe`: calling code compiled for features the baseline
    // target does not promise.
    #[allow(unsafe_code)]
    pub(super) fn products<T: Int8>(
        isa: Isa,
        m: usize,
        n: usize,
        k: usize,
        a: &[T],
        b: &[T],
        emit: impl FnMut(usize, i32),
    ) {
        match isa {
            Isa::Scalar => portable_products(m, n, k, a, b, emit),
            // SAFETY: a `Kernel` holds `isa` only after `Isa::present` found every feature the
            // function enables on this CPU (`Kernel::available`, `Kernel::named`).
            Isa::Avx2 => unsafe { avx2(m, n, k, a, b, emit) },
            // SAFETY: as above.
            Isa::Avx512 => unsafe { avx512(m, n, k, a, b, emit) },
            // SAFETY: as above.
            Isa::Avx512Vnni => unsafe { super::vnni::products(m, n, k, a, b, emit) },
        }
    }
}

/// The `vpdpbusd` kernel (AVX-512 VNNI), written with intrinsics: register tiles of 4 A rows by
/// 4 B rows, 64 bytes of `k` per step.
///
/// `vpdpbusd` multiplies unsigned bytes by signed bytes, four per i32 lane, and adds them to the
/// lane without saturation. A's bytes are flipped to `A + 128` (xor 0x80), which is in 0..=255, so
/// the instruction sums `(A[i][t] + 128) * B[j][t]` and the kernel subtracts `128 * sum_t
/// B[j][t]`, computed once per call. Every step is addition or multiplication modulo 2^32, so the
/// result is the reference's wrapping sum for every k, however large.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::Int8;
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi32, _mm512_dpbusd_epi32, _mm512_loadu_si512,
        _mm512_maskz_loadu_epi8, _mm512_reduce_add_epi32, _mm512_set1_epi8, _mm512_setzero_si512,
        _mm512_shuffle_i64x2, _mm512_storeu_si512, _mm512_unpackhi_epi32, _mm512_unpackhi_epi64,
        _mm512_unpacklo_epi32, _mm512_unpacklo_epi64, _mm512_xor_si512,
    };

    /// Bytes of `k` per step (one zmm register).
    const WIDTH: usize = 64;
    /// A rows and B rows of a full register tile: 16 accumulators, 4 A vectors and the B vector
    /// in flight fit the 32 zmm registers.
    const TILE: usize = 4;

    /// `row[from..from + len]` (`len <= WIDTH`) in a vector, zero above `len`.
    // With `lanes` below, the crate's other `unsafe`: loads and stores have no safe intrinsic.
    #[allow(unsafe_code)]
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load<T: Int8>(row: &[T], from: usize, len: usize) -> __m512i {
        const { assert!(size_of::<T>() == 1) };
        let bytes = &row[from..from + len];
        if len == WIDTH {
            // SAFETY: `bytes` is 64 in-bounds bytes; T is i8 or u8 (sealed), whose every bit
            // pattern is a byte; the load is unaligned.
            unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
        } else {
            assert!(len < WIDTH);
            // SAFETY: a masked load touches only the bytes whose mask bit is set, the first
            // `len` of `bytes`, which are in bounds (T as above); the rest read as zero.
            unsafe { _mm512_maskz_loadu_epi8((1u64 << len) - 1, bytes.as_ptr().cast()) }
        }
    }

    /// The 16 i32 lanes of `vector`.
    #[allow(unsafe_code)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lanes(vector: __m512i) -> [i32; 16] {
        let mut out = [0i32; 16];
        // SAFETY: `out` is 64 writable bytes; the store is unaligned.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), vector) };
        out
    }

    /// The horizontal sums of a full tile's 16 accumulators, `v[r][c]`'s in `[r][c]`: a tree of
    /// in-register transposes and adds (47 instructions, against about 9 per accumulator for
    /// reducing each alone, which at k = 384 would cost as much as the multiply-adds).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce_tile(v: [[__m512i; TILE]; TILE]) -> [[i32; TILE]; TILE] {
        // Pairs of accumulators (v[q], v[q + 1], q = 4r + c): 128-bit blocks 0-1 of the sum
        // hold v[q]'s total, blocks 2-3 v[q + 1]'s.
        let pair = |x: __m512i, y: __m512i| {
            _mm512_add_epi32(
                _mm512_shuffle_i64x2::<0x44>(x, y),
                _mm512_shuffle_i64x2::<0xEE>(x, y),
            )
        };
        // Two pairs (v[q..q + 4], q = 4r): block b holds v[q + b]'s total.
        let quad = |x: __m512i, y: __m512i| {
            _mm512_add_epi32(
                _mm512_shuffle_i64x2::<0x88>(x, y),
                _mm512_shuffle_i64x2::<0xDD>(x, y),
            )
        };
        let mut rows = [_mm512_setzero_si512(); TILE];
        for r in 0..TILE {
            rows[r] = quad(pair(v[r][0], v[r][1]), pair(v[r][2], v[r][3]));
        }
        // Rows r and r + 1 (r = 0, 2): in block b, lanes 0-1 hold v[r][b]'s total, lanes 2-3
        // v[r + 1][b]'s.
        let halves = |x: __m512i, y: __m512i| {
            _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y))
        };
        let (x, y) = (halves(rows[0], rows[1]), halves(rows[2], rows[3]));
        // In block b, lane e holds v[ROW[e]][b]'s total.
        let (lo, hi) = (_mm512_unpacklo_epi32(x, y), _mm512_unpackhi_epi32(x, y));
        let sums = lanes(_mm512_add_epi32(
            _mm512_unpacklo_epi64(lo, hi),
            _mm512_unpackhi_epi64(lo, hi),
        ));
        const LANE_OF_ROW: [usize; TILE] = [0, 2, 1, 3];
        let mut out = [[0i32; TILE]; TILE];
        for (r, row) in out.iter_mut().enumerate() {
            for (c, cell) in row.iter_mut().enumerate() {
                *cell = sums[4 * c + LANE_OF_ROW[r]];
            }
        }
        out
    }

    /// The raw sums `sum_t (a[r][t] + 128) * b[c][t]`, wrapping, of one tile.
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn tile<T: Int8, const MR: usize, const NR: usize>(
        k: usize,
        a: [&[T]; MR],
        b: [&[T]; NR],
    ) -> [[i32; NR]; MR] {
        let flip = _mm512_set1_epi8(i8::MIN);
        let mut acc = [[_mm512_setzero_si512(); NR]; MR];
        let mut from = 0;
        while from < k {
            let len = (k - from).min(WIDTH);
            let mut rows = [_mm512_setzero_si512(); MR];
            for r in 0..MR {
                // Masked-off bytes load as 0 and flip to 128, against B's zeros: no term.
                rows[r] = _mm512_xor_si512(load(a[r], from, len), flip);
            }
            for c in 0..NR {
                let column = load(b[c], from, len);
                for r in 0..MR {
                    acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], rows[r], column);
                }
            }
            from += len;
        }
        let mut sums = [[0i32; NR]; MR];
        if MR == TILE && NR == TILE {
            let mut full = [[_mm512_setzero_si512(); TILE]; TILE];
            for r in 0..TILE {
                full[r].copy_from_slice(&acc[r]);
            }
            for (r, row) in reduce_tile(full).iter().enumerate() {
                sums[r].copy_from_slice(row);
            }
            return sums;
        }
        for r in 0..MR {
            for c in 0..NR {
                sums[r][c] = _mm512_reduce_add_epi32(acc[r][c]);
            }
        }
        sums
    }

    /// One block of `MR` A rows (starting at row `first`) against every B row.
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    fn block<T: Int8, const MR: usize>(
        k: usize,
        first: usize,
        a: [&[T]; MR],
        b: &[&[T]],
        corrections: &[i32],
        emit: &mut impl FnMut(usize, i32),
    ) {
        let n = b.len();
        let mut column = 0;
        while column + TILE <= n {
            let columns: [&[T]; TILE] = [b[column], b[column + 1], b[column + 2], b[column + 3]];
            let sums = tile(k, a, columns);
            for (r, row) in sums.iter().enumerate() {
                for (c, sum) in row.iter().enumerate() {
                    let j = column + c;
                    emit((first + r) * n + j, sum.wrapping_sub(corrections[j]));
                }
            }
            column += TILE;
        }
        for j in column..n {
            let sums = tile(k, a, [b[j]]);
            for (r, row) in sums.iter().enumerate() {
                emit((first + r) * n + j, row[0].wrapping_sub(corrections[j]));
            }
        }
    }

    /// [`super::portable_products`]' contract, on `vpdpbusd`.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) fn products<T: Int8>(
        m: usize,
        n: usize,
        k: usize,
        a: &[T],
        b: &[T],
        mut emit: impl FnMut(usize, i32),
    ) {
        let a_rows: Vec<&[T]> = a.chunks_exact(k).take(m).collect();
        let b_rows: Vec<&[T]> = b.chunks_exact(k).take(n).collect();
        // 128 * sum_t B[j][t]: what flipping A adds to column j.
        let corrections: Vec<i32> = b_rows
            .iter()
            .map(|row| {
                let mut sum = 0i32;
                for t in 0..row.len() {
                    sum = sum.wrapping_add(i32::from(row[t].value()));
                }
                sum.wrapping_mul(128)
            })
            .collect();
        let mut row = 0;
        while row + TILE <= m {
            let rows = [
                a_rows[row],
                a_rows[row + 1],
                a_rows[row + 2],
                a_rows[row + 3],
            ];
            block(k, row, rows, &b_rows, &corrections, &mut emit);
            row += TILE;
        }
        for (i, a_row) in a_rows.iter().enumerate().skip(row) {
            block(k, i, [*a_row], &b_rows, &corrections, &mut emit);
        }
    }
}

/// Why a native `gemm_i8` call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gemm_i8 {m}x{n}x{k}: slices of {a}, {b} and {c} elements are too short")]
pub struct GemmShapeError {
    /// Rows of A and C.
    pub m: usize,
    /// Rows of B, columns of C.
    pub n: usize,
    /// Columns of A and B.
    pub k: usize,
    /// Length of A.
    pub a: usize,
    /// Length of B.
    pub b: usize,
    /// Length of C.
    pub c: usize,
}

/// `C = (accumulate ? C : 0) + A · Bᵀ` with A m×k and B n×k i8 row-major and C m×n i32
/// row-major, wrapping. The same kernel as the `gemm_i8` host call ([`Kernel::detected`]).
pub fn gemm_i8(
    m: usize,
    n: usize,
    k: usize,
    a: &[i8],
    b: &[i8],
    c: &mut [i32],
    accumulate: bool,
) -> Result<(), GemmShapeError> {
    gemm_i8_with(Kernel::detected(), m, n, k, a, b, c, accumulate)
}

/// [`gemm_i8`] on a chosen kernel (tests and benchmarks compare them).
#[allow(clippy::too_many_arguments)] // gemm_i8's arguments plus the kernel
pub fn gemm_i8_with(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    a: &[i8],
    b: &[i8],
    c: &mut [i32],
    accumulate: bool,
) -> Result<(), GemmShapeError> {
    let fits = |len: usize, rows: usize, columns: usize| {
        rows.checked_mul(columns).is_some_and(|need| len >= need)
    };
    if !(fits(a.len(), m, k) && fits(b.len(), n, k) && fits(c.len(), m, n)) {
        return Err(GemmShapeError {
            m,
            n,
            k,
            a: a.len(),
            b: b.len(),
            c: c.len(),
        });
    }
    products(kernel, m, n, k, a, b, |cell, sum| {
        c[cell] = if accumulate {
            c[cell].wrapping_add(sum)
        } else {
            sum
        };
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt as _, SeedableRng as _};
    use rand_chacha::ChaCha8Rng;

    fn naive(m: usize, n: usize, k: usize, a: &[i8], b: &[i8], c: &mut [i32], acc: bool) {
        for i in 0..m {
            for j in 0..n {
                let mut sum: i64 = 0;
                for t in 0..k {
                    sum += i64::from(a[i * k + t]) * i64::from(b[j * k + t]);
                }
                let start = if acc { i64::from(c[i * n + j]) } else { 0 };
                // Reduce modulo 2^32: the definition is wrapping i32 arithmetic.
                c[i * n + j] = (start + sum) as i32;
            }
        }
    }

    /// Values in one of four styles: uniform, all -128, all 127, or -128 and 127 mixed (the
    /// extremes exercise the widest products and the wrapping).
    fn values(rng: &mut ChaCha8Rng, len: usize, style: u8) -> Vec<i8> {
        (0..len)
            .map(|_| match style {
                0 => rng.random(),
                1 => i8::MIN,
                2 => i8::MAX,
                _ if rng.random() => i8::MIN,
                _ => i8::MAX,
            })
            .collect()
    }

    /// Runs one case on every available kernel, as `gemm_i8_with` over i8 and as the host call's
    /// `products` over u8, and asserts each gives the naive reference's bits.
    #[allow(clippy::too_many_arguments)]
    fn check(
        seed: u64,
        m: usize,
        n: usize,
        k: usize,
        a: &[i8],
        b: &[i8],
        start: &[i32],
        acc: bool,
    ) {
        let mut want = start.to_vec();
        naive(m, n, k, a, b, &mut want, acc);
        let mut want_plain = start.to_vec();
        naive(m, n, k, a, b, &mut want_plain, false);
        let a_bytes: Vec<u8> = a.iter().map(|&x| x as u8).collect();
        let b_bytes: Vec<u8> = b.iter().map(|&x| x as u8).collect();
        for kernel in Kernel::available() {
            let name = kernel.name();
            let mut got = start.to_vec();
            gemm_i8_with(kernel, m, n, k, a, b, &mut got, acc).unwrap();
            assert!(
                got == want,
                "seed {seed:#x}: kernel {name} differs from the reference on {m}x{n}x{k} acc={acc}"
            );
            let mut cells = start.to_vec();
            products(kernel, m, n, k, &a_bytes, &b_bytes, |cell, sum| {
                cells[cell] = sum
            });
            assert!(
                cells == want_plain,
                "seed {seed:#x}: kernel {name} over u8 differs from the reference on {m}x{n}x{k}"
            );
        }
    }

    #[test]
    fn every_kernel_matches_the_reference_on_random_shapes() {
        let seed = 0x9e37_79b9_u64;
        let names: Vec<_> = Kernel::available().iter().map(|k| k.name()).collect();
        println!("gemm seed {seed:#x}, kernels {names:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..60 {
            let m = rng.random_range(0..9usize);
            let n = rng.random_range(0..9usize);
            let k = rng.random_range(0..200usize);
            let acc = rng.random();
            let style = rng.random_range(0..4u8);
            let a = values(&mut rng, m * k, style);
            let b = values(&mut rng, n * k, style);
            let start: Vec<i32> = (0..m * n).map(|_| rng.random()).collect();
            check(seed, m, n, k, &a, &b, &start, acc);
        }
    }

    #[test]
    fn every_kernel_matches_the_reference_on_edge_sizes() {
        // Around every vector width (16, 32, 64 bytes) and the MiniLM widths (384, 1536).
        const K: [usize; 16] = [
            0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 384, 1536,
        ];
        // Around the vnni kernel's 4x4 tile too: none, one, a whole number of tiles, tiles and
        // leftover rows or columns.
        const MN: [(usize, usize); 17] = [
            (0, 0),
            (0, 5),
            (5, 0),
            (1, 1),
            (1, 3),
            (2, 2),
            (3, 1),
            (3, 3),
            (2, 1),
            (4, 4),
            (8, 8),
            (4, 5),
            (5, 4),
            (7, 5),
            (4, 17),
            (16, 9),
            (9, 16),
        ];
        let seed = 0xed9e_u64;
        println!("gemm edge seed {seed:#x}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for k in K {
            for (m, n) in MN {
                let style = rng.random_range(0..4u8);
                let a = values(&mut rng, m * k, style);
                let b = values(&mut rng, n * k, style);
                let start: Vec<i32> = (0..m * n).map(|_| rng.random()).collect();
                check(seed, m, n, k, &a, &b, &start, false);
                check(seed, m, n, k, &a, &b, &start, true);
            }
        }
    }

    #[test]
    fn extreme_values_wrap_like_the_reference() {
        // k large enough that i8::MIN * i8::MIN sums overflow i32: wrapping is the definition.
        // Rows of -128 against rows of -128 and of 127, from i32::MAX and i32::MIN.
        let (m, n, k) = (2, 2, 140_000);
        let a = vec![i8::MIN; m * k];
        let b: Vec<i8> = [vec![i8::MIN; k], vec![i8::MAX; k]].concat();
        let start = [i32::MAX, i32::MIN, i32::MIN, i32::MAX];
        check(0, m, n, k, &a, &b, &start, true);
        check(0, m, n, k, &a, &b, &start, false);
        // A full 4x4 tile and a leftover row and column, k not a multiple of 64: every row of A
        // and of B -128 or 127, so each cell wraps differently.
        let (m, n, k) = (5, 5, 140_001);
        let extreme = |row: usize| [i8::MIN, i8::MAX][row % 2];
        let a: Vec<i8> = (0..m * k).map(|cell| extreme(cell / k)).collect();
        let b: Vec<i8> = (0..n * k).map(|cell| extreme(cell / k / 2)).collect();
        let start: Vec<i32> = (0..m * n)
            .map(|cell| [i32::MAX, i32::MIN][cell % 2])
            .collect();
        check(0, m, n, k, &a, &b, &start, true);
        check(0, m, n, k, &a, &b, &start, false);
    }

    #[test]
    fn kernels_are_named_and_detected_from_the_cpu() {
        let available = Kernel::available();
        assert_eq!(available[0], Kernel::SCALAR);
        // The last available kernel: `Isa::ALL` is ordered by measured speed.
        assert_eq!(Some(&Kernel::detected()), available.last());
        for isa in Isa::ALL {
            match Kernel::named(isa.name()) {
                Ok(kernel) => assert!(available.contains(&kernel), "{}", isa.name()),
                Err(err) => {
                    assert_eq!(err, KernelError::Unavailable { name: isa.name() });
                    assert!(!available.contains(&Kernel(isa)));
                }
            }
        }
        assert_eq!(
            Kernel::named("avx9"),
            Err(KernelError::Unknown {
                name: "avx9".to_owned()
            })
        );
    }

    /// Times every kernel on the MiniLM shapes and prints G multiply-adds/s (no figure is
    /// asserted: the machine is shared); asserts every kernel gives the scalar kernel's bits.
    /// `cargo test -p plexus-exec --lib gemm_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "timing: run with --ignored --nocapture"]
    fn gemm_speed() {
        const TOKENS: [usize; 4] = [12, 64, 256, 512];
        const LAYERS: [(usize, usize); 4] = [(1152, 384), (384, 384), (1536, 384), (384, 1536)];
        const MACS_PER_RUN_MIN: usize = 1 << 25;
        let seed = 0x5eed_u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let kernels = Kernel::available();
        print!("gemm G MAC/s (best of 3)\n{:<16}", "m x n x k");
        for kernel in &kernels {
            print!("{:>12}", kernel.name());
        }
        println!();
        let mut totals = vec![(0.0f64, 0.0f64); kernels.len()];
        for m in TOKENS {
            for (n, k) in LAYERS {
                let a = values(&mut rng, m * k, 0);
                let b = values(&mut rng, n * k, 0);
                let reps = MACS_PER_RUN_MIN.div_ceil(m * n * k);
                let mut first: Option<Vec<i32>> = None;
                print!("{:<16}", format!("{m}x{n}x{k}"));
                for (kernel, total) in kernels.iter().zip(&mut totals) {
                    let mut c = vec![0i32; m * n];
                    let mut best = f64::INFINITY;
                    for _ in 0..3 {
                        let start = std::time::Instant::now();
                        for _ in 0..reps {
                            gemm_i8_with(*kernel, m, n, k, &a, &b, &mut c, false).unwrap();
                        }
                        best = best.min(start.elapsed().as_secs_f64());
                    }
                    let macs = (m * n * k * reps) as f64;
                    total.0 += macs;
                    total.1 += best;
                    print!("{:>12.2}", macs / best / 1e9);
                    match &first {
                        None => first = Some(c),
                        Some(want) => assert!(&c == want, "{} differs", kernel.name()),
                    }
                }
                println!();
            }
        }
        print!("{:<16}", "all");
        for (macs, seconds) in totals {
            print!("{:>12.2}", macs / seconds / 1e9);
        }
        println!();
    }

    #[test]
    fn short_slices_are_refused() {
        let mut c = vec![0i32; 3];
        let err = gemm_i8(2, 2, 2, &[0; 4], &[0; 4], &mut c, false).unwrap_err();
        assert_eq!(err.c, 3);
        assert!(gemm_i8(usize::MAX, 2, 2, &[], &[], &mut c, false).is_err());
    }
}
