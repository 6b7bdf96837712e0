//! Typed values the API writes as strings: a hash as 64 lower-case hex digits ([`HexDigest`] for
//! the chain's SHA-256, [`HexContentHash`] for a BLAKE3 content hash), an amount as a decimal
//! string of base units ([`BaseUnits`]). Each serializes to exactly the
//! string the node always wrote and parses back only from that form, so a consumer gets the value
//! and never parses a DTO field by hand.

use super::params::HashParam;
use plexus_types::{
    Amount, ContentHash, Digest,
    hash::{digest_hex, parse_digest},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::{borrow::Cow, fmt, str::FromStr};
use utoipa::openapi::{
    RefOr, Type,
    schema::{ObjectBuilder, Schema},
};

/// The pattern of an amount: a decimal string of base units, no sign, no fraction.
pub const AMOUNT_PATTERN: &str = "^[0-9]+$";

/// A chain hash (transaction, job, block; SHA-256) as 64 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HexDigest(pub Digest);

/// A content hash (module, blob, input, output, trace root; BLAKE3) as 64 lower-case hex digits:
/// the same string form as a [`HexDigest`], a different hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HexContentHash(pub ContentHash);

/// Why a string is not a [`HexDigest`], a [`HexContentHash`] or a [`BaseUnits`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{text:?} is not a 64-hex-digit hash")]
    Hash { text: String },
    #[error("{text:?} is not a decimal amount of base units")]
    Amount { text: String },
}

impl HexDigest {
    /// The digest itself.
    pub fn digest(&self) -> Digest {
        self.0
    }
}

impl From<Digest> for HexDigest {
    fn from(digest: Digest) -> Self {
        HexDigest(digest)
    }
}

impl From<&Digest> for HexDigest {
    fn from(digest: &Digest) -> Self {
        HexDigest(*digest)
    }
}

impl fmt::Display for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&digest_hex(&self.0))
    }
}

impl FromStr for HexDigest {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_digest(text)
            .map(HexDigest)
            .ok_or_else(|| ValueError::Hash { text: text.into() })
    }
}

impl HexContentHash {
    /// The content hash itself.
    pub fn hash(&self) -> ContentHash {
        self.0
    }
}

impl From<ContentHash> for HexContentHash {
    fn from(hash: ContentHash) -> Self {
        HexContentHash(hash)
    }
}

impl fmt::Display for HexContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for HexContentHash {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ContentHash::parse(text)
            .map(HexContentHash)
            .ok_or_else(|| ValueError::Hash { text: text.into() })
    }
}

/// Serde through the hex string and the API's one `Hash` schema, for both hash types.
macro_rules! hex_string_hash {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                <HashParam as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                <HashParam as utoipa::ToSchema>::name()
            }
        }
    };
}

hex_string_hash!(HexDigest);
hex_string_hash!(HexContentHash);

/// An amount of base units (1 PLX = 10^9), written as a decimal string: JSON numbers lose
/// precision past 2^53.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseUnits(pub Amount);

impl BaseUnits {
    /// The amount itself.
    pub fn amount(&self) -> Amount {
        self.0
    }
}

impl From<Amount> for BaseUnits {
    fn from(amount: Amount) -> Self {
        BaseUnits(amount)
    }
}

impl fmt::Display for BaseUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for BaseUnits {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Digits only: `u128::from_str` would also take a leading `+`.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Amount { text: text.into() });
        }
        text.parse()
            .map(BaseUnits)
            .map_err(|_| ValueError::Amount { text: text.into() })
    }
}

impl Serialize for BaseUnits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BaseUnits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl utoipa::PartialSchema for BaseUnits {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(AMOUNT_PATTERN))
            .description(Some(
                "An amount of base units (1 PLX = 10^9) as a decimal string.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for BaseUnits {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Amount")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::params::HASH_PATTERN;

    #[test]
    fn values_serialize_to_the_strings_the_node_always_wrote() {
        let digest = plexus_types::hash(&[b"job".as_slice()]);
        let hex = HexDigest(digest);
        let json = serde_json::to_string(&hex).unwrap();
        assert_eq!(json, format!("\"{}\"", digest_hex(&digest)));
        assert_eq!(serde_json::from_str::<HexDigest>(&json).unwrap(), hex);
        assert!(
            regex::Regex::new(HASH_PATTERN)
                .unwrap()
                .is_match(&hex.to_string())
        );
        // A content hash writes the same string its bytes always made in a digest-typed field.
        let content = ContentHash::of(b"module");
        let json = serde_json::to_string(&HexContentHash(content)).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", digest_hex(&Digest::from(content.0)))
        );
        assert_eq!(
            serde_json::from_str::<HexContentHash>(&json).unwrap(),
            HexContentHash(content)
        );
        let amount = BaseUnits(u128::MAX);
        let json = serde_json::to_string(&amount).unwrap();
        assert_eq!(json, format!("\"{}\"", u128::MAX));
        assert_eq!(serde_json::from_str::<BaseUnits>(&json).unwrap(), amount);
        assert!(
            regex::Regex::new(AMOUNT_PATTERN)
                .unwrap()
                .is_match(&amount.to_string())
        );
    }

    #[test]
    fn values_refuse_every_other_form() {
        for bad in [
            "\"\"",
            "\"abc\"",
            "12",
            "null",
            &format!("\"{}0\"", "0".repeat(64)),
        ] {
            assert!(serde_json::from_str::<HexDigest>(bad).is_err(), "{bad}");
            assert!(
                serde_json::from_str::<HexContentHash>(bad).is_err(),
                "{bad}"
            );
        }
        for bad in ["\"\"", "\"+1\"", "\"-1\"", "\"1.5\"", "1", "\"1plx\""] {
            assert!(serde_json::from_str::<BaseUnits>(bad).is_err(), "{bad}");
        }
        let too_big = format!("\"{}0\"", u128::MAX);
        assert!(serde_json::from_str::<BaseUnits>(&too_big).is_err());
    }
}
