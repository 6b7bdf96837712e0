//! Addresses: ed25519 public keys shown as bech32m with the `plx` prefix.
//!
//! Signatures are checked under ZIP-215 (commonware-cryptography's rule: cofactored, accepting
//! non-canonical encodings), which makes single and batch verification agree, so every validator
//! reaches the same verdict on every block. Under that rule a *small-order* key (one of the eight
//! torsion points, in any of its encodings) verifies a forged signature on any message: with `A`
//! of order dividing 8, `[8]kA` vanishes and `(R, s) = (a small-order point, 0)` satisfies
//! `[8]sB = [8]R + [8]kA`. Such keys are [`Address::is_weak`], and the chain refuses them wherever
//! a key enters it (sender, recipient, delegation target, genesis). Every other key is safe: its
//! prime-order part has a discrete log only its owner knows, and a torsion component or a
//! non-canonical encoding only gives that same owner another address.

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::ed25519::PublicKey;
use std::{fmt, str::FromStr, sync::LazyLock};

/// The human-readable prefix of every Plexus address.
pub const ADDRESS_HRP: &str = "plx";

/// An account address: the account's ed25519 public key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub PublicKey);

/// Why a string is not an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("not a bech32m string: {0}")]
    Bech32(String),
    #[error("wrong prefix {found:?}, expected \"plx\"")]
    Prefix { found: String },
    #[error("not an ed25519 public key")]
    Key,
}

impl Address {
    /// The raw 32 public-key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Whether this is a small-order ("weak") key, for which anyone can forge a signature (see
    /// the module documentation). The chain refuses such keys everywhere.
    pub fn is_weak(&self) -> bool {
        let mut y = [0u8; 32];
        y.copy_from_slice(self.as_bytes());
        // The top bit is the sign of x; both signs of a small-order y are small-order points.
        y[31] &= 0x7f;
        WEAK_Y.contains(&y)
    }

    /// Decodes an address from the 32 raw public-key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AddressError> {
        PublicKey::decode(commonware_codec::Copying(bytes))
            .map(Address)
            .map_err(|_| AddressError::Key)
    }
}

/// The y coordinates (sign bit cleared) of every encoding of a small-order point: the eight
/// torsion points' canonical y, plus `y + p` where that still fits in 255 bits (the non-canonical
/// encodings ZIP-215 accepts). A byte comparison instead of a decompression per check: this runs
/// for every transaction a node is sent, before its signature.
static WEAK_Y: LazyLock<Vec<[u8; 32]>> = LazyLock::new(|| {
    let mut weak = Vec::new();
    for point in curve25519_dalek::constants::EIGHT_TORSION {
        let mut y = point.compress().to_bytes();
        y[31] &= 0x7f;
        if !weak.contains(&y) {
            weak.push(y);
        }
    }
    for y in weak.clone() {
        if let Some(alias) = plus_field_prime(&y) {
            weak.push(alias);
        }
    }
    weak
});

/// `y + p` (p = 2^255 - 19) as 32 little-endian bytes, if it is below 2^255.
fn plus_field_prime(y: &[u8; 32]) -> Option<[u8; 32]> {
    let mut prime = [0xffu8; 32];
    prime[0] = 0xed;
    prime[31] = 0x7f;
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let total = u16::from(y[i]) + u16::from(prime[i]) + carry;
        sum[i] = total as u8;
        carry = total >> 8;
    }
    (carry == 0 && sum[31] & 0x80 == 0).then_some(sum)
}

impl From<PublicKey> for Address {
    fn from(key: PublicKey) -> Self {
        Address(key)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(ADDRESS_HRP);
        let text = bech32::encode::<Bech32m>(hrp, &self.0.encode()).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let checked = CheckedHrpstring::new::<Bech32m>(text)
            .map_err(|err| AddressError::Bech32(err.to_string()))?;
        if checked.hrp().as_str() != ADDRESS_HRP {
            return Err(AddressError::Prefix {
                found: checked.hrp().to_string(),
            });
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        Address::from_bytes(&bytes)
    }
}

impl commonware_codec::Write for Address {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.0.write(buf);
    }
}

impl commonware_codec::FixedSize for Address {
    const SIZE: usize = <PublicKey as commonware_codec::FixedSize>::SIZE;
}

impl commonware_codec::Read for Address {
    type Cfg = ();

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        <PublicKey as commonware_codec::ReadExt>::read(buf).map(Address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::PrivateKey;
    use commonware_cryptography::Signer;

    #[test]
    fn round_trip() {
        let address = Address(PrivateKey::from_seed(7).public_key());
        let text = address.to_string();
        assert!(text.starts_with("plx1"), "{text}");
        assert_eq!(text.parse::<Address>(), Ok(address));
    }

    /// Every encoding of a small-order point, with both sign bits, and no other key.
    #[test]
    fn weak_keys_are_exactly_the_small_order_encodings() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let small_order = |bytes: [u8; 32]| {
            CompressedEdwardsY(bytes)
                .decompress()
                .is_some_and(|p| p.is_small_order())
        };
        let mut weak = 0;
        // Every y below 64 and every non-canonical y (p..2^255), with both sign bits, plus the
        // torsion points' own encodings: the library decides, `is_weak` must agree.
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        for low in 0u8..64 {
            let mut y = [0u8; 32];
            y[0] = low;
            candidates.push(y);
        }
        for low in 0xedu8..=0xff {
            let mut y = [0xffu8; 32];
            y[0] = low;
            y[31] = 0x7f;
            candidates.push(y);
        }
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            candidates.push(point.compress().to_bytes());
        }
        for mut bytes in candidates {
            for sign in [0u8, 0x80] {
                bytes[31] = (bytes[31] & 0x7f) | sign;
                let Ok(address) = Address::from_bytes(&bytes) else {
                    assert!(CompressedEdwardsY(bytes).decompress().is_none());
                    continue;
                };
                assert_eq!(address.is_weak(), small_order(bytes), "{bytes:02x?}");
                weak += usize::from(address.is_weak());
            }
        }
        // y = 0, 1, p - 1, two order-8 y's (both signs each), and y = 0, 1 + p (both signs).
        assert!(weak >= 10, "{weak}");
        // The key: all zeros.
        assert!(Address::from_bytes(&[0u8; 32]).unwrap().is_weak());
        for seed in 0..1_000 {
            let address = Address(PrivateKey::from_seed(seed).public_key());
            assert!(!address.is_weak(), "seed {seed}");
        }
    }

    /// Under ZIP-215 a small-order key "signs" anything with (R = small order, s = 0): the
    /// reason the chain refuses such keys.
    #[test]
    fn a_weak_key_verifies_a_forged_signature() {
        use commonware_codec::DecodeExt;
        use commonware_cryptography::Verifier;
        let key = PublicKey::decode(commonware_codec::Copying(&[0u8; 32][..])).unwrap();
        let forged =
            crate::tx::Signature::decode(commonware_codec::Copying(&[0u8; 64][..])).unwrap();
        assert!(key.verify(b"any", b"message at all", &forged));
    }

    #[test]
    fn rejections() {
        let address = Address(PrivateKey::from_seed(7).public_key()).to_string();
        // One flipped character breaks the checksum.
        let mut broken = address.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'q' { b'p' } else { b'q' };
        let broken = String::from_utf8(broken).unwrap();
        assert!(matches!(
            broken.parse::<Address>(),
            Err(AddressError::Bech32(_))
        ));
        // Right checksum, wrong prefix.
        let other = bech32::encode::<Bech32m>(Hrp::parse("abc").unwrap(), &[1u8; 32]).unwrap();
        assert_eq!(
            other.parse::<Address>(),
            Err(AddressError::Prefix {
                found: "abc".into()
            })
        );
        // Right prefix, wrong length.
        let short = bech32::encode::<Bech32m>(Hrp::parse("plx").unwrap(), &[1u8; 31]).unwrap();
        assert_eq!(short.parse::<Address>(), Err(AddressError::Key));
        // Bech32 (not m) checksum is refused.
        let legacy =
            bech32::encode::<bech32::Bech32>(Hrp::parse("plx").unwrap(), &[1u8; 32]).unwrap();
        assert!(matches!(
            legacy.parse::<Address>(),
            Err(AddressError::Bech32(_))
        ));
        assert!("".parse::<Address>().is_err());
    }
}
