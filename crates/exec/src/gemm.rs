//! The exact int8 matrix multiply behind the `gemm_i8` host call (and the native benchmark).
//!
//! `C[i][j] (+)= sum_t A[i][t] * B[j][t]` with A m×k and B n×k (B transposed), i8 inputs and
//! wrapping i32 sums. Integer addition is associative and commutative modulo 2^32, so any
//! summation order (scalar, SIMD lanes, another machine) gives the same bits: the kernel is exact
//! by construction and free to be vectorized. It is written as contiguous dot products over `k`
//! (both operands row-major along `t`) so LLVM widens i8 to i16/i32 and uses SIMD multiply-adds.

/// Bytes that are read as signed 8-bit values: `i8` slices (native callers) and `u8` slices
/// (guest memory) share one kernel.
pub trait Int8: Copy {
    /// The value as a signed byte.
    fn value(self) -> i8;
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

/// Lanes summed independently before the final reduction (a multiple of every SIMD width LLVM
/// picks for i32 here, so the inner loop has no loop-carried dependency on one register).
const LANES: usize = 16;

/// The wrapping dot product of two equally long rows.
#[inline]
pub fn dot<T: Int8>(a: &[T], b: &[T]) -> i32 {
    let mut lanes = [0i32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (a_chunk, b_chunk) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..LANES {
            let product = i32::from(a_chunk[lane].value()) * i32::from(b_chunk[lane].value());
            lanes[lane] = lanes[lane].wrapping_add(product);
        }
    }
    let mut sum = lanes.iter().fold(0i32, |acc, lane| acc.wrapping_add(*lane));
    for (x, y) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
        sum = sum.wrapping_add(i32::from(x.value()) * i32::from(y.value()));
    }
    sum
}

/// Calls `emit(row * n + column, dot)` for every cell of the m×n product of `a` (m×k) and `b`
/// (n×k). The caller has checked the slice lengths.
#[inline]
pub(crate) fn products<T: Int8>(
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
    for (row, a_row) in a.chunks_exact(k).take(m).enumerate() {
        for (column, b_row) in b.chunks_exact(k).take(n).enumerate() {
            emit(row * n + column, dot(a_row, b_row));
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
/// row-major, wrapping. The same kernel as the `gemm_i8` host call.
pub fn gemm_i8(
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
    products(m, n, k, a, b, |cell, sum| {
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

    #[test]
    fn matches_naive_reference_on_random_shapes() {
        let seed = 0x9e37_79b9_u64;
        println!("gemm seed {seed}");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for round in 0..60 {
            let m = rng.random_range(0..9usize);
            let n = rng.random_range(0..9usize);
            let k = rng.random_range(0..70usize);
            let accumulate = rng.random_range(0..2u8) == 1;
            let a: Vec<i8> = (0..m * k).map(|_| rng.random()).collect();
            let b: Vec<i8> = (0..n * k).map(|_| rng.random()).collect();
            let start: Vec<i32> = (0..m * n).map(|_| rng.random()).collect();
            let mut want = start.clone();
            naive(m, n, k, &a, &b, &mut want, accumulate);
            let mut got = start.clone();
            gemm_i8(m, n, k, &a, &b, &mut got, accumulate).unwrap();
            assert_eq!(got, want, "round {round}: {m}x{n}x{k} acc={accumulate}");
        }
    }

    #[test]
    fn extreme_values_wrap_like_the_reference() {
        // k large enough that i8::MIN * i8::MIN sums overflow i32: wrapping is the definition.
        let (m, n, k) = (1, 1, 140_000);
        let a = vec![i8::MIN; k];
        let b = vec![i8::MIN; k];
        let mut want = vec![i32::MAX];
        naive(m, n, k, &a, &b, &mut want, true);
        let mut got = vec![i32::MAX];
        gemm_i8(m, n, k, &a, &b, &mut got, true).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn short_slices_are_refused() {
        let mut c = vec![0i32; 3];
        let err = gemm_i8(2, 2, 2, &[0; 4], &[0; 4], &mut c, false).unwrap_err();
        assert_eq!(err.c, 3);
        assert!(gemm_i8(usize::MAX, 2, 2, &[], &[], &mut c, false).is_err());
    }
}
