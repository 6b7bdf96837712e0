//! The storage step's pure rules: what the agent does about its storage offer and about each
//! shard it holds or is drawn for, from what the chain shows and what its disk holds. No I/O,
//! no clock: the host (the parent module) reads the chain and the store, asks these rules and
//! carries the answers out.
//!
//! A shard's slot matches on the chain's state (`drawn`, `active`, `faulty`, `repairing`,
//! `lost`): a slot `drawn` or `repairing` to this provider is one it must accept once the shard
//! is on its disk; an `active` or `faulty` one it holds (and proves); a slot that is no longer
//! this provider's (its deal ended, it was drawn to another, or it was declared `lost` from
//! this provider, which the chain no longer pays for it) is deleted. Nothing is deleted on an answer the
//! chain did not give (the node unreachable: the host then gives no [`SlotView`] at all), nor on
//! the word of a node below the height at which this provider saw the slot drawn to it.

use plexus_client::dto::{ShardState, StorageFileDto};
use plexus_state::storage::ShardKey;
use plexus_types::Digest;
use std::collections::{BTreeMap, BTreeSet};

/// The storage the operator wants to sell (`provider run --storage-bytes --storage-price`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferWanted {
    pub capacity_bytes: u64,
    /// Base units per GiB-epoch.
    pub price_per_gib_epoch: u128,
}

/// The provider's storage offer as the chain holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferOnChain {
    pub capacity_bytes: u64,
    /// The bytes of the shards drawn to it: the chain refuses an offer below them.
    pub used_bytes: u64,
    pub price_per_gib_epoch: u128,
}

/// The `StorageOffer` to send, if the chain's differs from the operator's: none while nothing
/// is offered and nothing wanted; never less capacity than the shards drawn to it use (a
/// provider that sells less, or none, winds down to exactly what it holds).
pub fn offer_to_send(wanted: OfferWanted, on_chain: Option<OfferOnChain>) -> Option<OfferWanted> {
    let Some(current) = on_chain else {
        return (wanted.capacity_bytes > 0).then_some(wanted);
    };
    let target = OfferWanted {
        capacity_bytes: wanted.capacity_bytes.max(current.used_bytes),
        price_per_gib_epoch: wanted.price_per_gib_epoch,
    };
    let same = target.capacity_bytes == current.capacity_bytes
        && target.price_per_gib_epoch == current.price_per_gib_epoch;
    (!same).then_some(target)
}

/// A shard's slot as the chain shows it to this provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotView {
    /// No such slot on chain: the deal ended (or never was), or it has no such segment or slot.
    Gone,
    /// Drawn to another provider, or lost from this one (the chain keeps the lost holder's
    /// address on a `lost` slot, but it is no longer this provider's).
    Other,
    /// Drawn to this provider, in this state (`drawn`, `active`, `faulty` or `repairing`).
    Mine(ShardState),
}

impl SlotView {
    /// Whether the chain waits for this provider's upload and accept of the slot: only a slot
    /// `drawn` or `repairing` to it (an `active` or `faulty` one is accepted already).
    pub fn awaits_accept(&self) -> bool {
        matches!(
            self,
            SlotView::Mine(ShardState::Drawn | ShardState::Repairing)
        )
    }
}

/// Slot `slot` of segment `segment` of `file`, as the provider `me` sees it.
pub fn slot_view(file: &StorageFileDto, segment: u32, slot: u16, me: &str) -> SlotView {
    let shard = file
        .segments
        .get(segment as usize)
        .and_then(|record| record.shards.get(usize::from(slot)));
    match shard {
        None => SlotView::Gone,
        Some(shard) if shard.holder == me && shard.state != ShardState::Lost => {
            SlotView::Mine(shard.state)
        }
        Some(_) => SlotView::Other,
    }
}

/// Whether `reader` repairs a shard of segment `segment` of `file`: the chain shows it as the
/// holder of a `repairing` slot of that segment. Only that: a `faulty` holder (or a `drawn`
/// one) reading the others' shards could rebuild each challenged chunk without storing its own,
/// the attack read authorization blocks.
pub fn is_repairer(file: &StorageFileDto, segment: u32, reader: &str) -> bool {
    file.segments.get(segment as usize).is_some_and(|record| {
        record
            .shards
            .iter()
            .any(|shard| shard.holder == reader && shard.state == ShardState::Repairing)
    })
}

/// One shard the step looks at this poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSeen {
    pub key: ShardKey,
    /// The store holds it.
    pub on_disk: bool,
    pub slot: SlotView,
    /// The height its accept was last sent at, if one was since the agent started.
    pub accept_sent_height: Option<u64>,
    /// The node is below the height at which it showed this provider the slot drawn to it
    /// (`ShardStore::note_height`): its answer may predate the draw (a node catching up, or
    /// another node than the one the upload was checked on), so it deletes nothing.
    pub node_behind: bool,
}

/// What the host does about one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardAction {
    /// Send its `ShardAccept` and remember the height.
    Accept(ShardKey),
    /// Delete it from the store: the chain no longer draws it to this provider.
    Delete(ShardKey),
    /// Stop following it: accepted (or gone without a copy here).
    Forget(ShardKey),
}

/// What to do about each shard seen at `height`; an accept still not on chain
/// `resend_after_blocks` after it was sent is sent again.
pub fn shard_actions(
    height: u64,
    resend_after_blocks: u64,
    seen: &[ShardSeen],
) -> Vec<ShardAction> {
    let mut actions = Vec::new();
    for shard in seen {
        match &shard.slot {
            SlotView::Gone | SlotView::Other if shard.node_behind => {}
            SlotView::Gone | SlotView::Other => {
                if shard.on_disk {
                    actions.push(ShardAction::Delete(shard.key));
                }
                actions.push(ShardAction::Forget(shard.key));
            }
            slot if slot.awaits_accept() => {
                let due = shard
                    .accept_sent_height
                    .is_none_or(|sent| height >= sent.saturating_add(resend_after_blocks));
                if shard.on_disk && due {
                    actions.push(ShardAction::Accept(shard.key));
                }
            }
            SlotView::Mine(_) => actions.push(ShardAction::Forget(shard.key)),
        }
    }
    actions
}

/// An open challenge of a shard this provider holds, as the holders route shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeSeen {
    pub key: ShardKey,
    pub epoch: u64,
    pub chunk_index: u64,
    /// The last height a proof may be included at.
    pub due_height: u64,
    /// The height this agent last sent its proof at, if it did since it started.
    pub proof_sent_height: Option<u64>,
}

/// The open challenges to answer at `height`: each not answered yet, or whose proof is still
/// not on chain `resend_after_blocks` after it was sent; none whose window has closed (a
/// transaction sent at `height` is included at `height + 1` at the earliest). A restarted agent
/// has sent nothing, so it answers every challenge still open.
pub fn proofs_to_send(
    height: u64,
    resend_after_blocks: u64,
    open: &[ChallengeSeen],
) -> Vec<ChallengeSeen> {
    open.iter()
        .filter(|challenge| height < challenge.due_height)
        .filter(|challenge| {
            challenge
                .proof_sent_height
                .is_none_or(|sent| height >= sent.saturating_add(resend_after_blocks))
        })
        .cloned()
        .collect()
}

/// A slot drawn to this provider to repair (state `repairing`), as the holders route shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairSeen {
    pub key: ShardKey,
    /// The store holds it already (rebuilt, or uploaded by the owner): only its accept is due.
    pub on_disk: bool,
}

/// A segment whose slots drawn here for repair are to be rebuilt together (one decode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairStart {
    pub deal: Digest,
    pub segment: u32,
    /// Its slots drawn here and not on disk, ascending.
    pub slots: Vec<u16>,
}

/// The segments whose repairs start at `height`: those with a slot drawn here for repair and
/// not on disk, not being rebuilt (`running`), and not failed within `retry_after_blocks`
/// (`failed`: the height each segment's last attempt failed at), at most `running_max` running
/// at once, in deal and segment order.
pub fn repairs_to_start(
    height: u64,
    drawn: &[RepairSeen],
    running: &BTreeSet<(Digest, u32)>,
    failed: &BTreeMap<(Digest, u32), u64>,
    (retry_after_blocks, running_max): (u64, usize),
) -> Vec<RepairStart> {
    let mut wanted: BTreeMap<(Digest, u32), Vec<u16>> = BTreeMap::new();
    for repair in drawn.iter().filter(|repair| !repair.on_disk) {
        let (deal, segment, slot) = repair.key;
        wanted.entry((deal, segment)).or_default().push(slot);
    }
    wanted
        .into_iter()
        .filter(|(segment, _)| !running.contains(segment))
        .filter(|(segment, _)| {
            failed
                .get(segment)
                .is_none_or(|at| height >= at.saturating_add(retry_after_blocks))
        })
        .take(running_max.saturating_sub(running.len()))
        .map(|((deal, segment), mut slots)| {
            slots.sort_unstable();
            slots.dedup();
            RepairStart {
                deal,
                segment,
                slots,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTED: OfferWanted = OfferWanted {
        capacity_bytes: 1_000,
        price_per_gib_epoch: 5,
    };

    #[test]
    fn the_offer_is_sent_when_it_differs_and_never_below_what_is_used() {
        assert_eq!(offer_to_send(WANTED, None), Some(WANTED));
        let none = OfferWanted {
            capacity_bytes: 0,
            ..WANTED
        };
        assert_eq!(offer_to_send(none, None), None);
        let on_chain = OfferOnChain {
            capacity_bytes: 1_000,
            used_bytes: 300,
            price_per_gib_epoch: 5,
        };
        assert_eq!(offer_to_send(WANTED, Some(on_chain)), None);
        let dearer = OfferWanted {
            price_per_gib_epoch: 6,
            ..WANTED
        };
        assert_eq!(offer_to_send(dearer, Some(on_chain)), Some(dearer));
        // Selling none (or less than is held) winds down to what is held.
        let wind_down = OfferWanted {
            capacity_bytes: 300,
            ..WANTED
        };
        assert_eq!(offer_to_send(none, Some(on_chain)), Some(wind_down));
        let wound_down = OfferOnChain {
            capacity_bytes: 300,
            ..on_chain
        };
        assert_eq!(offer_to_send(none, Some(wound_down)), None);
    }

    fn seen(slot: SlotView, on_disk: bool, sent: Option<u64>) -> ShardSeen {
        ShardSeen {
            key: (Digest::from([1u8; 32]), 0, 2),
            on_disk,
            slot,
            accept_sent_height: sent,
            node_behind: false,
        }
    }

    #[test]
    fn a_drawn_shard_on_disk_is_accepted_and_sent_again_only_when_due() {
        let key = seen(SlotView::Gone, false, None).key;
        let drawn = SlotView::Mine(ShardState::Drawn);
        let check = |shard: ShardSeen, expected: Vec<ShardAction>| {
            assert_eq!(
                shard_actions(100, 8, std::slice::from_ref(&shard)),
                expected,
                "{shard:?}"
            );
        };
        check(
            seen(drawn.clone(), true, None),
            vec![ShardAction::Accept(key)],
        );
        check(seen(drawn.clone(), true, Some(95)), vec![]);
        check(
            seen(drawn.clone(), true, Some(92)),
            vec![ShardAction::Accept(key)],
        );
        // Not uploaded yet: nothing to accept.
        check(seen(drawn, false, None), vec![]);
        // A repair drawn here waits for the accept too.
        check(
            seen(SlotView::Mine(ShardState::Repairing), true, None),
            vec![ShardAction::Accept(key)],
        );
        check(
            seen(SlotView::Mine(ShardState::Active), true, Some(99)),
            vec![ShardAction::Forget(key)],
        );
        // A faulty slot is accepted already: accepting it again is refused on chain, and the
        // fault is this provider's to end with a proof.
        check(
            seen(SlotView::Mine(ShardState::Faulty), true, None),
            vec![ShardAction::Forget(key)],
        );
    }

    #[test]
    fn only_a_shard_the_chain_no_longer_draws_here_is_deleted() {
        let key = seen(SlotView::Gone, false, None).key;
        for slot in [SlotView::Gone, SlotView::Other] {
            assert_eq!(
                shard_actions(1, 8, &[seen(slot.clone(), true, Some(1))]),
                vec![ShardAction::Delete(key), ShardAction::Forget(key)]
            );
            assert_eq!(
                shard_actions(1, 8, &[seen(slot, false, None)]),
                vec![ShardAction::Forget(key)]
            );
        }
        // A node behind the draw this provider saw is not believed.
        for slot in [SlotView::Gone, SlotView::Other] {
            let behind = ShardSeen {
                node_behind: true,
                ..seen(slot, true, Some(1))
            };
            assert_eq!(shard_actions(1, 8, &[behind]), vec![]);
        }
        for state in [
            ShardState::Drawn,
            ShardState::Active,
            ShardState::Faulty,
            ShardState::Repairing,
        ] {
            let actions = shard_actions(1, 8, &[seen(SlotView::Mine(state), true, None)]);
            assert!(
                !actions.contains(&ShardAction::Delete(key)),
                "{state}: {actions:?}"
            );
        }
    }

    #[test]
    fn an_open_challenge_is_answered_once_then_again_only_when_due_and_in_its_window() {
        let open = |sent: Option<u64>, due_height: u64| ChallengeSeen {
            key: (Digest::from([1u8; 32]), 0, 2),
            epoch: 4,
            chunk_index: 7,
            due_height,
            proof_sent_height: sent,
        };
        let sends = |height: u64, challenge: ChallengeSeen| {
            !proofs_to_send(height, 3, std::slice::from_ref(&challenge)).is_empty()
        };
        // Not answered yet (a restarted agent too): answered.
        assert!(sends(100, open(None, 110)));
        // Sent two blocks ago: waits; three: sent again.
        assert!(!sends(100, open(Some(98), 110)));
        assert!(sends(100, open(Some(97), 110)));
        // The window closes at 110: a proof sent at 109 may still land, one at 110 cannot.
        assert!(sends(109, open(None, 110)));
        assert!(!sends(110, open(None, 110)));
        assert!(!sends(120, open(Some(97), 110)));
    }

    #[test]
    fn a_segment_drawn_here_for_repair_is_rebuilt_once_and_retried_only_after_a_pause() {
        let deal = Digest::from([1u8; 32]);
        let other = Digest::from([2u8; 32]);
        let drawn = |key: ShardKey, on_disk: bool| RepairSeen { key, on_disk };
        let seen = [
            drawn((deal, 0, 3), false),
            drawn((deal, 0, 1), false),
            drawn((deal, 1, 0), true),
            drawn((other, 2, 5), false),
        ];
        let none = BTreeSet::new();
        let no_failures = BTreeMap::new();
        // Two slots of one segment are rebuilt by one repair; a slot on disk waits only for
        // its accept.
        assert_eq!(
            repairs_to_start(10, &seen, &none, &no_failures, (5, 4)),
            vec![
                RepairStart {
                    deal,
                    segment: 0,
                    slots: vec![1, 3]
                },
                RepairStart {
                    deal: other,
                    segment: 2,
                    slots: vec![5]
                },
            ]
        );
        // A running repair is not started again, and no more than the limit run.
        let running = BTreeSet::from([(deal, 0)]);
        let started = repairs_to_start(10, &seen, &running, &no_failures, (5, 4));
        assert_eq!(started.len(), 1);
        assert_eq!((started[0].deal, started[0].segment), (other, 2));
        assert!(repairs_to_start(10, &seen, &running, &no_failures, (5, 1)).is_empty());
        // A failed one waits `retry_after_blocks`.
        let failed = BTreeMap::from([((other, 2), 8)]);
        let started = repairs_to_start(12, &seen, &running, &failed, (5, 4));
        assert!(started.is_empty(), "{started:?}");
        let started = repairs_to_start(13, &seen, &running, &failed, (5, 4));
        assert_eq!(started.len(), 1);
    }
}
