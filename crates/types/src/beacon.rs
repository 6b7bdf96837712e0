//! The random beacon: a threshold BLS12-381 signature (MinSig: 48-byte signatures, 96-byte public
//! keys) that the committee makes, share by share, over each height.
//!
//! Block `h` carries the committee's threshold signature over height `h - BEACON_LAG`. A
//! threshold signature is unique for its message and key, so nobody (not the proposer, not any
//! coalition below the threshold) can choose it, and nobody can compute it before a threshold of
//! validators has released its shares for that height, which honest validators do only once they
//! have seen a valid block at that height. The block's seed is the hash of that signature. The
//! first `BEACON_LAG` blocks have no signature to carry; their seeds are fixed by their height.

use crate::{Digest, hash};
use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt::Output,
    primitives::{
        sharing::{ModeVersion, Sharing},
        variant::{MinSig, PartialSignature, Variant},
    },
};

/// The signature variant of the beacon (signatures in G1).
pub type BeaconVariant = MinSig;
/// A threshold signature over one height.
pub type BeaconSignature = <MinSig as Variant>::Signature;
/// One validator's share of a height's signature.
pub type BeaconPartial = PartialSignature<MinSig>;
/// The committee's public sharing: the group key and each member's public share.
pub type BeaconSharing = Sharing<MinSig>;
/// The public result of the dealing (or reshare) that gave the committee its shares: the sharing
/// plus who dealt and who holds shares, which the next reshare builds on.
pub type BeaconOutput = Output<MinSig, crate::PublicKey>;

/// The namespace beacon signatures are made under.
pub const BEACON_NAMESPACE: &[u8] = b"_PLEXUS_BEACON";

/// Block `h` carries the signature over height `h - BEACON_LAG`.
pub const BEACON_LAG: u64 = 2;

/// The largest committee a beacon sharing may describe (bounds decoding).
pub const BEACON_PARTICIPANTS_MAX: u32 = 1_024;

/// The codec configuration of a [`BeaconSharing`] or a [`BeaconOutput`].
pub fn sharing_cfg() -> (std::num::NonZeroU32, ModeVersion) {
    (
        std::num::NonZeroU32::new(BEACON_PARTICIPANTS_MAX).expect("non-zero"),
        ModeVersion::v0(),
    )
}

/// What the committee signs for `height`.
pub fn message(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// The height whose signature block `height` carries, if any.
pub fn signed_height(height: u64) -> Option<u64> {
    height
        .checked_sub(BEACON_LAG)
        .filter(|_| height > BEACON_LAG)
}

/// The seed of block `height` carrying `signature` (`None` only in the first `BEACON_LAG` blocks).
pub fn seed(height: u64, signature: Option<&BeaconSignature>) -> Digest {
    use commonware_codec::Encode;
    match signature {
        Some(signature) => hash(&[b"plexus/seed", &signature.encode()]),
        None => hash(&[b"plexus/seed/early", &height.to_be_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_heights_lag_behind() {
        assert_eq!(signed_height(0), None);
        assert_eq!(signed_height(1), None);
        assert_eq!(signed_height(BEACON_LAG), None);
        assert_eq!(signed_height(BEACON_LAG + 1), Some(1));
        assert_eq!(signed_height(100), Some(100 - BEACON_LAG));
    }

    #[test]
    fn early_seeds_differ_by_height() {
        assert_ne!(seed(1, None), seed(2, None));
    }
}
