//! The one hash function of the chain: SHA-256, as Commonware's consensus digests use it.

use commonware_cryptography::{Hasher, Sha256};

/// A 32-byte SHA-256 digest (block hashes, transaction hashes, Merkle roots).
pub type Digest = commonware_cryptography::sha256::Digest;

/// Hashes the concatenation of `parts`.
pub fn hash(parts: &[&[u8]]) -> Digest {
    Sha256::hash(parts)
}

/// The digest type around 32 raw bytes (BLAKE3 content hashes share it: both are 32 bytes).
pub fn digest_from_bytes(bytes: [u8; 32]) -> Digest {
    commonware_cryptography::sha256::Digest(bytes)
}

/// Parses a digest from 64 hex characters (an optional `0x` prefix is accepted).
pub fn parse_digest(text: &str) -> Option<Digest> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(commonware_cryptography::sha256::Digest(bytes))
}

/// Lower-case hex of a digest, without prefix.
pub fn digest_hex(digest: &Digest) -> String {
    to_hex(&digest.0)
}

/// Lower-case hex of any bytes, without prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex (an even number of hex digits, either case); `None` otherwise.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_hex_round_trips_and_refuses_odd_or_bad_digits() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex("0001ABff").unwrap(), bytes);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn hex_round_trip_and_rejections() {
        let digest = hash(&[b"plexus"]);
        let text = digest_hex(&digest);
        assert_eq!(parse_digest(&text), Some(digest));
        assert_eq!(parse_digest(&format!("0x{text}")), Some(digest));
        assert_eq!(parse_digest(&text[..63]), None);
        assert_eq!(parse_digest(&"zz".repeat(32)), None);
        assert_eq!(parse_digest("é"), None);
    }
}
