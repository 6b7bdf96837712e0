//! The OpenAPI schemas of the values the API reads from paths, queries and the faucet's body:
//! addresses, hashes and heights exactly as the node accepts them, so that a request generated
//! from the document is one the node parses. The node's own parsers (`plexus_node::http`)
//! enforce the same patterns; `params_match_the_canonical_forms` below pins them to
//! `Address`'s and `digest_hex`'s output.

use std::borrow::Cow;
use utoipa::openapi::{
    RefOr, Type,
    schema::{ObjectBuilder, Schema, SchemaFormat},
};

/// An address as the API takes it: `plx1` and 58 characters of the bech32 alphabet, lower
/// case (the canonical form `Address` displays).
pub const ADDRESS_PATTERN: &str = "^plx1[02-9ac-hj-np-z]{58}$";
/// The OpenAPI `format` of an address. A pattern cannot express the bech32m checksum or that
/// the 32 bytes are an ed25519 point; generators that know this format make valid ones.
pub const ADDRESS_FORMAT: &str = "plexus-address";
/// A hash (transaction, job, block, blob) as the API takes it: 64 lower-case hex digits.
pub const HASH_PATTERN: &str = "^[0-9a-f]{64}$";

/// A `plx1...` address.
pub struct AddressParam;

impl utoipa::PartialSchema for AddressParam {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom(ADDRESS_FORMAT.into())))
            .pattern(Some(ADDRESS_PATTERN))
            .description(Some(
                "A bech32m address: `plx1` and 58 lower-case bech32 characters whose checksum \
                 holds and whose 32 bytes are an ed25519 public key.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for AddressParam {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Address")
    }
}

/// A 32-byte hash in hex.
pub struct HashParam;

impl utoipa::PartialSchema for HashParam {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(HASH_PATTERN))
            .description(Some("A 32-byte hash as 64 lower-case hex digits."))
            .into()
    }
}

impl utoipa::ToSchema for HashParam {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Hash")
    }
}

/// A block height: any u64 (heights not finalized yet are 404).
pub struct HeightParam;

impl utoipa::PartialSchema for HeightParam {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0u64))
            .maximum(Some(u64::MAX))
            .description(Some(
                "A block height: a decimal u64 (digits only, 0 to 18446744073709551615).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for HeightParam {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Height")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_types::{Address, PrivateKey, hash::digest_hex};

    /// The patterns accept every canonical address and hash, and nothing in another case.
    #[test]
    fn params_match_the_canonical_forms() {
        let address_re = regex::Regex::new(ADDRESS_PATTERN).unwrap();
        let hash_re = regex::Regex::new(HASH_PATTERN).unwrap();
        for seed in 0..200 {
            let address = Address(PrivateKey::from_seed(seed).public_key()).to_string();
            assert!(address_re.is_match(&address), "{address}");
            assert!(!address_re.is_match(&address.to_uppercase()));
            let hash = digest_hex(&plexus_types::hash(&[&seed.to_be_bytes()]));
            assert!(hash_re.is_match(&hash), "{hash}");
            assert!(!hash_re.is_match(&hash.to_uppercase()));
        }
    }
}
