//! FNV-1a, the hash of the tokenizers' lookup tables: fixed (no random seed), so a table's layout
//! and the probes a lookup makes, hence the fuel a job burns, are the same on every host.

/// FNV-1a's 64-bit offset basis: the hash of no bytes.
pub(crate) const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_BASIS, bytes)
}

/// FNV-1a continued from `state` over `bytes`: `fnv1a_extend(fnv1a(a), b) == fnv1a(a ++ b)`, so
/// the hash of a concatenation needs no concatenated copy.
pub(crate) fn fnv1a_extend(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
