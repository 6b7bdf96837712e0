//! How a file's bytes split into segments: consecutive ranges of at most [`SEGMENT_BYTES_MAX`]
//! bytes, each erasure-coded on its own (the `coding` module).
//!
//! A file of `len` bytes has `ceil(len / SEGMENT_BYTES_MAX)` segments, every one full but the
//! last; an empty file has one empty segment, so every stored file has at least one segment
//! (and one commitment) to name. Pure arithmetic on `u64`.

use std::ops::Range;

/// The most bytes one segment holds: 64 MiB, as Storj's segments, small enough that a repairer
/// decodes one in memory and large enough that a 4 MiB shard amortizes its proofs.
pub const SEGMENT_BYTES_MAX: u64 = 64 << 20;

/// The segments a file of `len` bytes splits into (one for an empty file).
pub const fn segment_count(len: u64) -> u64 {
    if len == 0 {
        1
    } else {
        len.div_ceil(SEGMENT_BYTES_MAX)
    }
}

/// The byte range of segment `index` in a file of `len` bytes, if the file has that segment.
pub fn segment_range(len: u64, index: u64) -> Option<Range<u64>> {
    if index >= segment_count(len) {
        return None;
    }
    // index < segment_count(len), so start <= len; the end is measured from it, as the sum
    // `start + SEGMENT_BYTES_MAX` overflows in a file's last segment near `u64::MAX`.
    let start = index * SEGMENT_BYTES_MAX;
    Some(start..start + (len - start).min(SEGMENT_BYTES_MAX))
}

/// The length of segment `index` of a file of `len` bytes, if the file has that segment.
pub fn segment_len(len: u64, index: u64) -> Option<u64> {
    segment_range(len, index).map(|range| range.end - range.start)
}

/// The file length that segments of these lengths, in order, come from: `None` unless every
/// segment but the last is full, the last is at most full, and there is at least one (the
/// inverse of [`segment_len`], for a manifest read back).
pub fn file_len(segment_lens: &[u64]) -> Option<u64> {
    let (last, full) = segment_lens.split_last()?;
    if *last > SEGMENT_BYTES_MAX || full.iter().any(|len| *len != SEGMENT_BYTES_MAX) {
        return None;
    }
    if *last == 0 && !full.is_empty() {
        return None;
    }
    (full.len() as u64)
        .checked_mul(SEGMENT_BYTES_MAX)?
        .checked_add(*last)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = SEGMENT_BYTES_MAX;

    #[test]
    fn counts_and_ranges_at_the_edges() {
        for (len, count) in [
            (0, 1),
            (1, 1),
            (MAX - 1, 1),
            (MAX, 1),
            (MAX + 1, 2),
            (2 * MAX, 2),
            (2 * MAX + 1, 3),
            (u64::MAX, u64::MAX.div_ceil(MAX)),
        ] {
            assert_eq!(segment_count(len), count, "{len} bytes");
            let lens: Vec<u64> = (0..count.min(4))
                .map(|index| segment_len(len, index).unwrap())
                .collect();
            if count <= 4 {
                assert_eq!(file_len(&lens), Some(len), "{len} bytes from {lens:?}");
            }
            assert_eq!(segment_range(len, count), None, "{len} bytes");
            let last = segment_range(len, count - 1).unwrap();
            assert_eq!(last.end, len);
            assert!(last.end - last.start <= MAX);
            assert!(
                len == 0 || last.end > last.start,
                "only an empty file has an empty segment"
            );
        }
        assert_eq!(segment_range(0, 0), Some(0..0));
        assert_eq!(segment_range(MAX + 1, 1), Some(MAX..MAX + 1));
        assert_eq!(segment_range(3 * MAX, 1), Some(MAX..2 * MAX));
    }

    #[test]
    fn a_manifest_that_no_file_splits_into_is_refused() {
        assert_eq!(file_len(&[]), None);
        assert_eq!(file_len(&[MAX + 1]), None);
        assert_eq!(
            file_len(&[MAX - 1, 5]),
            None,
            "a short segment before the last"
        );
        assert_eq!(
            file_len(&[MAX, 0]),
            None,
            "an empty last segment after a full one"
        );
        assert_eq!(file_len(&[0]), Some(0));
        assert_eq!(file_len(&[MAX, MAX, 7]), Some(2 * MAX + 7));
    }
}
