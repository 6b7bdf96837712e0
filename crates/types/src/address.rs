//! Addresses: ed25519 public keys shown as bech32m with the `plx` prefix.

use crate::tx::PublicKey;
use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use commonware_codec::{DecodeExt, Encode};
use std::{fmt, str::FromStr};

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

    /// Decodes an address from the 32 raw public-key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AddressError> {
        PublicKey::decode(commonware_codec::Copying(bytes))
            .map(Address)
            .map_err(|_| AddressError::Key)
    }
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
