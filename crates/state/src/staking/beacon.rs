//! The random beacon's key handling: dealing the first committee's shares, signing a height with
//! one share, recovering and checking the threshold signature. See `plexus_types::beacon` for
//! what is signed and how a block carries it.

use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt,
    primitives::{group::Share, ops::threshold, sharing::Mode},
};
use commonware_parallel::Sequential;
use commonware_utils::{N3f1, ordered::Set};
use plexus_types::{
    BeaconOutput, BeaconPartial, BeaconSharing, BeaconSignature, PublicKey,
    beacon::{BEACON_NAMESPACE, BeaconVariant, message},
};

/// Deals a fresh beacon key to `committee` (any order; shares follow the canonical key order,
/// which is also the consensus order): the public sharing, and each member's secret share. The
/// dealer sees the whole secret, so only a trusted genesis ceremony (or a devnet) deals this way;
/// the threshold is the consensus quorum (2f + 1 of 3f + 1).
pub fn deal(
    rng: impl rand::CryptoRng,
    committee: impl IntoIterator<Item = PublicKey>,
) -> Option<(BeaconOutput, Vec<(PublicKey, Share)>)> {
    let players = Set::from_iter_dedup(committee);
    let (output, shares) =
        feldman_desmedt::deal::<BeaconVariant, PublicKey, N3f1>(rng, Mode::NonZeroCounter, players)
            .ok()?;
    let shares = shares
        .iter_pairs()
        .map(|(key, share)| (key.clone(), share.clone()))
        .collect();
    Some((output, shares))
}

/// A beacon key whose every share one party holds: for devnets, simulations, benchmarks and
/// tests that build blocks offline. Dealt from a seed, so anyone can recompute the shares; no
/// real chain may use one.
#[derive(Clone, Debug)]
pub struct DevBeacon {
    pub output: BeaconOutput,
    /// Each committee member's share, in canonical key order.
    pub shares: Vec<(PublicKey, Share)>,
}

impl DevBeacon {
    /// Deals deterministically from `seed` to `committee`.
    pub fn deal(seed: u64, committee: impl IntoIterator<Item = PublicKey>) -> Self {
        use rand::SeedableRng;
        let (output, shares) = deal(rand_chacha::ChaCha8Rng::seed_from_u64(seed), committee)
            .expect("a committee has at least one member");
        DevBeacon { output, shares }
    }

    /// The share `key` holds, if it is a member.
    pub fn share_of(&self, key: &PublicKey) -> Option<&Share> {
        self.shares.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }

    /// The beacon signature block `height` carries (none in the first `BEACON_LAG` blocks).
    pub fn block_signature(&self, height: u64) -> Option<BeaconSignature> {
        let signed = plexus_types::beacon::signed_height(height)?;
        let sharing = self.output.public();
        let required = sharing.required() as usize;
        let partials: Vec<_> = self.shares[..required]
            .iter()
            .map(|(_, share)| sign(share, signed))
            .collect();
        recover(sharing, signed, &partials)
    }
}

/// One member's share of the signature over `height`.
pub fn sign(share: &Share, height: u64) -> BeaconPartial {
    threshold::sign_message::<BeaconVariant>(share, BEACON_NAMESPACE, &message(height))
}

/// Whether `share` is member `index`'s share of `sharing`: its signatures verify against that
/// member's public share.
pub fn share_matches(sharing: &BeaconSharing, share: &Share, index: u32) -> bool {
    share.index.get() == index && verify_partial(sharing, u64::MAX, &sign(share, u64::MAX))
}

/// Among `candidates` (the dealt share, shares later reshares gave), the one that is `me`'s share
/// of `state`'s current beacon key; `None` if `me` holds no share of it.
pub fn current_share(
    state: &crate::State,
    me: &PublicKey,
    candidates: impl IntoIterator<Item = Share>,
) -> Option<Share> {
    let position = state.beacon_key.players().position(me)? as u32;
    candidates
        .into_iter()
        .find(|share| share_matches(state.beacon_sharing(), share, position))
}

/// Whether `partial` is a valid share of the signature over `height`.
pub fn verify_partial(sharing: &BeaconSharing, height: u64, partial: &BeaconPartial) -> bool {
    threshold::verify_message::<BeaconVariant>(sharing, BEACON_NAMESPACE, &message(height), partial)
        .is_ok()
}

/// Whether `signature` is the committee's signature over `height`.
pub fn verify(sharing: &BeaconSharing, height: u64, signature: &BeaconSignature) -> bool {
    commonware_cryptography::bls12381::primitives::ops::verify_message::<BeaconVariant>(
        sharing.public(),
        BEACON_NAMESPACE,
        &message(height),
        signature,
    )
    .is_ok()
}

/// Recovers the signature over `height` from at least a threshold of partials and checks it.
/// `None` if there are too few or the result does not verify (some partial was bad).
pub fn recover<'a>(
    sharing: &BeaconSharing,
    height: u64,
    partials: impl IntoIterator<Item = &'a BeaconPartial>,
) -> Option<BeaconSignature> {
    let signature = threshold::recover::<BeaconVariant, _>(sharing, partials, &Sequential).ok()?;
    verify(sharing, height, &signature).then_some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_types::PrivateKey;
    use rand::SeedableRng;

    fn committee(n: u64) -> Vec<PublicKey> {
        (0..n)
            .map(|i| PrivateKey::from_seed(i).public_key())
            .collect()
    }

    #[test]
    fn a_quorum_of_shares_signs_and_fewer_cannot() {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (output, shares) = deal(rng, committee(4)).unwrap();
        let sharing = output.public().clone();
        assert_eq!(sharing.required(), 3);
        let shares: Vec<Share> = shares.into_iter().map(|(_, s)| s).collect();
        let partials: Vec<_> = shares.iter().map(|s| sign(s, 10)).collect();
        assert!(partials.iter().all(|p| verify_partial(&sharing, 10, p)));
        assert!(!verify_partial(&sharing, 11, &partials[0]));
        let any_three = recover(&sharing, 10, &partials[1..]).unwrap();
        let other_three = recover(&sharing, 10, &partials[..3]).unwrap();
        assert_eq!(any_three, other_three, "the signature is unique");
        assert!(verify(&sharing, 10, &any_three));
        assert!(!verify(&sharing, 11, &any_three));
        assert!(recover(&sharing, 10, &partials[..2]).is_none());
    }

    #[test]
    fn a_bad_partial_spoils_recovery_instead_of_passing() {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let (output, shares) = deal(rng, committee(4)).unwrap();
        let sharing = output.public().clone();
        let mut partials: Vec<_> = shares.iter().map(|(_, s)| sign(s, 5)).collect();
        partials[0] = sign(&shares[0].1, 6);
        partials[0].index = shares[0].1.index;
        assert!(recover(&sharing, 5, &partials[..3]).is_none());
    }

    #[test]
    fn a_share_matches_only_its_own_member_of_its_own_key() {
        let dev = DevBeacon::deal(10, committee(4));
        let other = DevBeacon::deal(11, committee(4));
        let sharing = dev.output.public();
        for (position, (_, share)) in dev.shares.iter().enumerate() {
            assert!(share_matches(sharing, share, position as u32));
            assert!(!share_matches(sharing, share, (position as u32 + 1) % 4));
            assert!(!share_matches(
                other.output.public(),
                share,
                position as u32
            ));
        }
        // Another member's share, claimed at this member's position, is refused too.
        let mut borrowed = dev.shares[1].1.clone();
        borrowed.index = dev.shares[0].1.index;
        assert!(!share_matches(sharing, &borrowed, 0));
    }

    #[test]
    fn one_validator_signs_alone() {
        let dev = DevBeacon::deal(9, committee(1));
        assert_eq!(dev.output.public().required(), 1);
        assert_eq!(dev.block_signature(2), None);
        let signature = dev.block_signature(3).unwrap();
        assert!(verify(dev.output.public(), 1, &signature));
    }
}
