//! The two hashes of Plexus, each its own type so a value says which one it is.
//!
//! - [`Digest`] is SHA-256, the chain's hash, as Commonware's consensus uses it: block and
//!   transaction hashes, the SHA-256 Merkle roots of a block and of the state, job and audit ids,
//!   seals and salts. The chain computes these.
//! - [`ContentHash`] is BLAKE3, the hash of job content and of FuelTrace: the names of modules,
//!   blobs, inputs and outputs (`ContentHash::of(bytes)`, what `b3sum` prints), a job's output
//!   hash, and the FuelTrace commitments (page hashes, state roots, trace leaves, trace roots,
//!   checkpoint manifests; `plexus_types::trace` defines them). Providers, verifiers and consumers
//!   compute these off-chain; the chain records and compares them, checks leaf proofs against
//!   trace roots, and computes them itself only when its validators re-run a disputed segment.
//!
//! Both are 32 bytes and encode as exactly those 32 bytes, so the type changes nothing on the
//! wire or on disk. BLAKE3 comes from one implementation, Commonware's `Blake3` hasher (a thin
//! wrapper over the `blake3` crate, the same crate and version everywhere in the build): the
//! trace commitments need its BMT, and every content hash goes through [`ContentHash::of`] or
//! [`ContentHash::of_parts`] here. The `blake3` crate is called directly only for what the hasher
//! does not expose: BLAKE3's own chunk tree (the `content_tree` module, with `hazmat`, for the blob
//! store's pieces and the storage market's chunk proofs; its tests pin it to
//! [`ContentHash::of`]) and the guest's keyed random stream (an XOF, not a hash).

use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, ReadExt as _, Write};
use commonware_cryptography::{Hasher, Sha256, blake3::Blake3};
use commonware_math::algebra::Random;
use commonware_parallel::Strategy;
use commonware_utils::{Array, Span};
use core::{fmt, ops::Deref, str::FromStr};
use rand_core::CryptoRng;

/// A 32-byte SHA-256 digest (block hashes, transaction hashes, Merkle roots, job and audit ids).
pub type Digest = commonware_cryptography::sha256::Digest;

/// Hashes the concatenation of `parts` with SHA-256.
pub fn hash(parts: &[&[u8]]) -> Digest {
    Sha256::hash(parts)
}

/// A 32-byte BLAKE3 hash: the name of a module, blob, input or output, and every FuelTrace
/// commitment (page hash, state root, leaf, trace root). Encodes as its 32 raw bytes; shows as
/// 64 lower-case hex digits.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The all-zero value (no content hashes to it; used where a field has nothing to name).
    pub const ZERO: ContentHash = ContentHash([0; 32]);

    /// The hash whose bytes are `bytes` (as read from a file name, a wire field or a BLAKE3 tree).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }

    /// BLAKE3 of `bytes` with no prefix: the name of a module, blob, input or output.
    pub fn of(bytes: &[u8]) -> Self {
        Self::of_parts(&[bytes])
    }

    /// BLAKE3 of the concatenation of `parts` (the FuelTrace definitions hash a domain prefix and
    /// fields this way).
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        ContentHasher::hash(parts)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, without prefix (the form the API, the CLI and file names use).
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses 64 hex digits (either case; an optional `0x` prefix is accepted).
    pub fn parse(text: &str) -> Option<Self> {
        parse_hex32(text).map(ContentHash)
    }
}

impl From<[u8; 32]> for ContentHash {
    fn from(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }
}

impl AsRef<[u8]> for ContentHash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`ContentHash`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a 64-hex-digit BLAKE3 hash")]
pub struct ParseContentHashError {
    /// The refused text.
    pub text: String,
}

impl FromStr for ContentHash {
    type Err = ParseContentHashError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text).ok_or_else(|| ParseContentHashError { text: text.into() })
    }
}

impl Write for ContentHash {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}

impl Read for ContentHash {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        <[u8; 32]>::read(buf).map(ContentHash)
    }
}

impl FixedSize for ContentHash {
    const SIZE: usize = 32;
}

// What Commonware's BMT needs of a digest, so trace roots and their proofs are ContentHashes
// with no conversion (`plexus_types::trace`, the dissection's multi-proofs).
impl Deref for ContentHash {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Span for ContentHash {}

impl Array for ContentHash {}

impl Random for ContentHash {
    fn random(mut rng: impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        ContentHash(bytes)
    }
}

impl commonware_cryptography::Digest for ContentHash {
    const EMPTY: Self = ContentHash::ZERO;
}

/// The BLAKE3 hasher whose digest is a [`ContentHash`]: Commonware's [`Blake3`] with the output
/// typed, for the BMTs over trace leaves and memory pages (`bmt::Builder::<ContentHasher>`).
#[derive(Debug, Default)]
pub struct ContentHasher(Blake3);

impl Hasher for ContentHasher {
    type Digest = ContentHash;

    fn hash(parts: &[&[u8]]) -> ContentHash {
        ContentHash(Blake3::hash(parts).0)
    }

    fn hash_across(parts: &[&[u8]], strategy: &impl Strategy) -> ContentHash {
        ContentHash(Blake3::hash_across(parts, strategy).0)
    }

    fn hash_pair(
        left: &[&[u8]],
        right: &[&[u8]],
        strategy: &impl Strategy,
    ) -> (ContentHash, ContentHash) {
        let (left, right) = Blake3::hash_pair(left, right, strategy);
        (ContentHash(left.0), ContentHash(right.0))
    }

    fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    fn finalize(self) -> (Self, ContentHash) {
        let (hasher, digest) = self.0.finalize();
        (ContentHasher(hasher), ContentHash(digest.0))
    }
}

/// Parses a digest from 64 hex characters (an optional `0x` prefix is accepted).
pub fn parse_digest(text: &str) -> Option<Digest> {
    parse_hex32(text).map(commonware_cryptography::sha256::Digest)
}

/// 32 bytes from 64 hex digits, after an optional `0x` prefix.
fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
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

    #[test]
    fn content_hash_is_plain_blake3_and_round_trips() {
        // BLAKE3 of the empty input (the reference test vector).
        let empty = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        assert_eq!(ContentHash::of(b"").to_string(), empty);
        assert_eq!(ContentHash::of(b"ab"), ContentHash::of_parts(&[b"a", b"b"]));
        let hash = ContentHash::of(b"abc");
        assert_eq!(ContentHash::parse(&hash.to_hex()), Some(hash));
        assert_eq!(format!("{hash:?}"), hash.to_hex());
        assert_eq!(format!("0x{hash}").parse::<ContentHash>(), Ok(hash));
        assert_eq!(
            ContentHash::parse(&hash.to_hex().to_uppercase()),
            Some(hash)
        );
        assert!("xyz".parse::<ContentHash>().is_err());
        assert_eq!(ContentHash::parse(&"zz".repeat(32)), None);
    }

    #[test]
    fn content_hash_encodes_as_its_32_bytes_like_a_digest() {
        use commonware_codec::{DecodeExt as _, Encode as _};
        let hash = ContentHash::of(b"plexus");
        let encoded = hash.encode();
        assert_eq!(encoded.as_ref(), hash.as_bytes());
        assert_eq!(
            encoded,
            commonware_cryptography::sha256::Digest(hash.0).encode()
        );
        assert_eq!(ContentHash::decode(encoded).unwrap(), hash);
        assert!(ContentHash::decode(commonware_codec::Copying(&[0u8; 31][..])).is_err());
    }
}
