//! The beacon's share exchange: each validator releases its share of the signature over a
//! height once it holds a valid block at that height, and recovers the committee's signature
//! from a threshold of shares. Proposers put the signature over `height - BEACON_LAG` into the
//! block at `height` (see `plexus_types::beacon`).
//!
//! Partials are accepted unverified (each signer index once) and checked as a whole: the
//! recovered signature must verify against the group key, so one verification per height
//! suffices when everyone is honest. When it fails, each partial is verified alone and the bad
//! ones are dropped and reported, so the caller can block whoever sent them.

use commonware_cryptography::bls12381::primitives::group::Share;
use plexus_state::beacon;
use plexus_types::{BeaconPartial, BeaconSharing, BeaconSignature};
use std::collections::{BTreeMap, BTreeSet};

/// How far around the finalized tip partials are kept: heights above the tip wait for their
/// blocks, heights below it may still be needed by a proposal in flight.
pub const BEACON_WINDOW: u64 = 16;

/// A partial that was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BeaconError {
    #[error("beacon partial for height {height} is outside the window around the tip {tip}")]
    OutOfWindow { height: u64, tip: u64 },
    #[error("beacon partial names signer {0}, which is not in the committee")]
    UnknownSigner(u32),
    #[error("beacon partials from signers {0:?} for height {1} are invalid")]
    Invalid(Vec<u32>, u64),
}

/// Partials and recovered signatures around the tip.
pub struct Beacons {
    /// The committee's key from each height on (a reshare hands a new one over at an epoch
    /// boundary): the public sharing and this validator's share of it, if any.
    keys: BTreeMap<u64, (BeaconSharing, Option<Share>)>,
    tip: u64,
    partials: BTreeMap<u64, BTreeMap<u32, BeaconPartial>>,
    signatures: BTreeMap<u64, BeaconSignature>,
    /// Heights this validator has released its share for.
    released: BTreeSet<u64>,
}

impl Beacons {
    /// `share` is this validator's share of `sharing` (none on a full node).
    pub fn new(sharing: BeaconSharing, share: Option<Share>, tip: u64) -> Self {
        Beacons {
            keys: BTreeMap::from([(0, (sharing, share))]),
            tip,
            partials: BTreeMap::new(),
            signatures: BTreeMap::new(),
            released: BTreeSet::new(),
        }
    }

    /// From `height` on, the committee signs with `sharing` (this validator holding `share`).
    pub fn set_key(&mut self, height: u64, sharing: BeaconSharing, share: Option<Share>) {
        self.keys.split_off(&height);
        self.keys.insert(height, (sharing, share));
    }

    /// The public key that signs `height`.
    pub fn sharing_at(&self, height: u64) -> BeaconSharing {
        self.key(height).0.clone()
    }

    /// This validator's share of the key that signs `height`, if it holds one.
    pub fn share_at(&self, height: u64) -> Option<Share> {
        self.key(height).1.clone()
    }

    /// The key that signs `height`.
    fn key(&self, height: u64) -> &(BeaconSharing, Option<Share>) {
        self.keys
            .range(..=height)
            .next_back()
            .map(|(_, key)| key)
            .expect("a key from height 0 on")
    }

    /// The committee's signature over `height`, once recovered.
    pub fn signature(&self, height: u64) -> Option<BeaconSignature> {
        self.signatures.get(&height).copied()
    }

    /// Releases this validator's share for `height` (it holds a valid block there). Returns the
    /// partial to send to the committee, or `None` without a share or if already released.
    pub fn release(&mut self, height: u64) -> Option<BeaconPartial> {
        let share = self.key(height).1.as_ref()?;
        if height + BEACON_WINDOW <= self.tip || self.released.contains(&height) {
            return None;
        }
        let partial = beacon::sign(share, height);
        self.released.insert(height);
        // Our own partial is valid by construction; a failure here can only name others.
        let _ = self.add(height, partial.clone());
        Some(partial)
    }

    /// This validator's partials for every released height above the tip minus `BEACON_LAG`:
    /// what peers that restarted (or missed a message) may still need.
    pub fn unsealed_released(&self) -> Vec<(u64, BeaconPartial)> {
        let from = self
            .tip
            .saturating_sub(plexus_types::beacon::BEACON_LAG - 1);
        self.released
            .range(from..)
            .filter_map(|height| {
                let share = self.key(*height).1.as_ref()?;
                Some((*height, beacon::sign(share, *height)))
            })
            .collect()
    }

    /// Takes a partial for `height`. Recovers the signature once a threshold is present.
    pub fn add(&mut self, height: u64, partial: BeaconPartial) -> Result<(), BeaconError> {
        if height + BEACON_WINDOW <= self.tip || height > self.tip + BEACON_WINDOW {
            return Err(BeaconError::OutOfWindow {
                height,
                tip: self.tip,
            });
        }
        let index = partial.index.get();
        let sharing = self.key(height).0.clone();
        if index >= sharing.total().get() {
            return Err(BeaconError::UnknownSigner(index));
        }
        if self.signatures.contains_key(&height) {
            return Ok(());
        }
        let partials = self.partials.entry(height).or_default();
        partials.entry(index).or_insert(partial);
        if partials.len() < sharing.required() as usize {
            return Ok(());
        }
        if let Some(signature) = beacon::recover(&sharing, height, partials.values()) {
            self.signatures.insert(height, signature);
            self.partials.remove(&height);
            return Ok(());
        }
        let invalid: Vec<u32> = partials
            .iter()
            .filter(|(_, p)| !beacon::verify_partial(&sharing, height, p))
            .map(|(i, _)| *i)
            .collect();
        partials.retain(|i, _| !invalid.contains(i));
        Err(BeaconError::Invalid(invalid, height))
    }

    /// Moves the window up to the finalized `tip`, forgetting what fell out of it.
    pub fn set_tip(&mut self, tip: u64) {
        self.tip = self.tip.max(tip);
        let keep = self.tip.saturating_sub(BEACON_WINDOW - 1);
        self.partials = self.partials.split_off(&keep);
        self.signatures = self.signatures.split_off(&keep);
        self.released = self.released.split_off(&keep);
        // Keep the key in force at `keep` and every later one.
        if let Some(in_force) = self.keys.range(..=keep).next_back().map(|(h, _)| *h) {
            self.keys = self.keys.split_off(&in_force);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_state::beacon::DevBeacon;
    use plexus_types::PrivateKey;

    fn dev(n: u64) -> DevBeacon {
        DevBeacon::deal(3, (0..n).map(|i| PrivateKey::from_seed(i).public_key()))
    }

    fn beacons(dev: &DevBeacon, member: usize) -> Beacons {
        Beacons::new(
            dev.output.public().clone(),
            Some(dev.shares[member].1.clone()),
            0,
        )
    }

    #[test]
    fn a_threshold_of_released_shares_recovers_the_signature() {
        let dev = dev(4);
        let mut mine = beacons(&dev, 0);
        let own = mine.release(5).unwrap();
        assert_eq!(mine.release(5), None, "released once");
        assert_eq!(mine.signature(5), None);
        let theirs: Vec<_> = (1..4)
            .map(|m| beacons(&dev, m).release(5).unwrap())
            .collect();
        mine.add(5, theirs[0].clone()).unwrap();
        mine.add(5, theirs[0].clone()).unwrap();
        assert_eq!(
            mine.signature(5),
            None,
            "a duplicate is not a second signer"
        );
        mine.add(5, theirs[1].clone()).unwrap();
        let signature = mine.signature(5).unwrap();
        assert!(beacon::verify(dev.output.public(), 5, &signature));
        assert_eq!(
            plexus_state::beacon::recover(dev.output.public(), 5, [&own, &theirs[1], &theirs[2]]),
            Some(signature)
        );
    }

    #[test]
    fn bad_partials_are_named_and_dropped_and_honest_ones_still_recover() {
        let dev = dev(4);
        let mut mine = beacons(&dev, 0);
        mine.release(7).unwrap();
        let mut forged = beacons(&dev, 1).release(8).unwrap();
        forged.index = dev.shares[1].1.index;
        mine.add(7, forged).unwrap();
        let honest = beacons(&dev, 2).release(7).unwrap();
        assert_eq!(mine.add(7, honest), Err(BeaconError::Invalid(vec![1], 7)));
        assert_eq!(mine.signature(7), None);
        mine.add(7, beacons(&dev, 3).release(7).unwrap()).unwrap();
        assert!(mine.signature(7).is_some());
    }

    #[test]
    fn a_new_key_signs_from_its_first_height_on() {
        let old = dev(1);
        let new = DevBeacon::deal(4, [PrivateKey::from_seed(9).public_key()]);
        let mut mine = beacons(&old, 0);
        mine.set_key(
            10,
            new.output.public().clone(),
            Some(new.shares[0].1.clone()),
        );
        let signed_old = mine.release(9).unwrap();
        assert!(beacon::verify_partial(old.output.public(), 9, &signed_old));
        let signed_new = mine.release(10).unwrap();
        assert!(beacon::verify_partial(new.output.public(), 10, &signed_new));
        assert!(beacon::verify(
            old.output.public(),
            9,
            &mine.signature(9).unwrap()
        ));
        assert!(beacon::verify(
            new.output.public(),
            10,
            &mine.signature(10).unwrap()
        ));
        // A partial of the old key for a height the new key signs is refused.
        let mut other = beacons(&dev(1), 0);
        let stale = beacon::sign(&old.shares[0].1, 11);
        other.set_key(10, new.output.public().clone(), None);
        assert_eq!(other.add(11, stale), Err(BeaconError::Invalid(vec![0], 11)));
    }

    #[test]
    fn the_window_bounds_what_is_kept() {
        let dev = dev(1);
        let mut mine = beacons(&dev, 0);
        mine.set_tip(100);
        let far = beacon::sign(&dev.shares[0].1, 200);
        assert!(matches!(
            mine.add(200, far),
            Err(BeaconError::OutOfWindow { .. })
        ));
        assert_eq!(mine.release(50), None);
        mine.release(101).unwrap();
        assert!(
            mine.signature(101).is_some(),
            "one validator is its own threshold"
        );
        mine.set_tip(101 + BEACON_WINDOW);
        assert_eq!(mine.signature(101), None, "forgotten below the window");
        let mut unknown = beacon::sign(&dev.shares[0].1, 110);
        unknown.index = commonware_utils::Participant::new(5);
        assert_eq!(mine.add(110, unknown), Err(BeaconError::UnknownSigner(5)));
    }
}
