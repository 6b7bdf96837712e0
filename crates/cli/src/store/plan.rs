//! The decisions of `store put` and `store get` that need no I/O: which shards to send this
//! round (and which slots the chain redrew), and which shards of a segment to fetch next after
//! a holder failed. The hosts (`put`, `get`) do the requests and feed the answers back.

use plexus_client::dto::{ShardState, StorageFileDto};
use std::collections::BTreeMap;

/// A shard's place in a file: its segment and its slot in the segment.
pub type SlotKey = (u32, u16);

/// What `put` knows of a slot it sent (or tried to send) a shard to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sending {
    /// The holder the shard was last addressed to.
    pub holder: String,
    /// Whether that holder answered that it stored the shard.
    pub stored: bool,
    /// Times the chain drew the slot to another holder after the first draw.
    pub redraws: u32,
    /// The accept due first seen for this holder: the chain re-dates a slot it finds no other
    /// holder for, so the first due is the one that bounds the wait.
    pub due_height: Option<u64>,
    /// The last refusal or failure, for the error that names a slot never accepted.
    pub last_error: Option<String>,
}

/// One shard to send: segment, slot and its current holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub segment: u32,
    pub slot: u16,
    pub holder: String,
}

/// The shards to send this round, given the chain's view of the file: every slot still drawn
/// (not accepted) whose current holder has not stored it. A slot drawn to another holder than
/// the one it was sent to (the chain redrew it after its accept window) counts a redraw and is
/// sent again. Updates `sending` with the holders seen.
pub fn uploads(file: &StorageFileDto, sending: &mut BTreeMap<SlotKey, Sending>) -> Vec<Upload> {
    let mut out = Vec::new();
    for segment in &file.segments {
        for shard in &segment.shards {
            let key = (segment.index, shard.index);
            let entry = sending.entry(key).or_insert_with(|| Sending {
                holder: shard.holder.clone(),
                ..Sending::default()
            });
            if entry.holder != shard.holder {
                entry.holder = shard.holder.clone();
                entry.stored = false;
                entry.redraws += 1;
                entry.due_height = None;
            }
            if entry.due_height.is_none() {
                entry.due_height = shard.accept_due_height;
            }
            if shard.state == ShardState::Drawn && !entry.stored {
                out.push(Upload {
                    segment: segment.index,
                    slot: shard.index,
                    holder: shard.holder.clone(),
                });
            }
        }
    }
    out
}

/// A slot the chain has not seen accepted, with what is known of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unaccepted {
    pub segment: u32,
    pub slot: u16,
    pub holder: String,
    pub accept_due_height: Option<u64>,
}

/// The slots not accepted yet.
pub fn unaccepted(file: &StorageFileDto) -> Vec<Unaccepted> {
    file.segments
        .iter()
        .flat_map(|segment| {
            segment
                .shards
                .iter()
                .filter(|shard| shard.state != ShardState::Active)
                .map(|shard| Unaccepted {
                    segment: segment.index,
                    slot: shard.index,
                    holder: shard.holder.clone(),
                    accept_due_height: shard.accept_due_height,
                })
        })
        .collect()
}

/// The slots `put` gives up on at `height`: past the first accept due seen for their holder by
/// more than `grace_blocks` (the chain found no other holder and re-dated the slot, or did not
/// redraw it yet), or redrawn more than `redraws_max` times (every holder drawn for it failed
/// to take it).
pub fn given_up(
    file: &StorageFileDto,
    sending: &BTreeMap<SlotKey, Sending>,
    height: u64,
    grace_blocks: u64,
    redraws_max: u32,
) -> Vec<Unaccepted> {
    unaccepted(file)
        .into_iter()
        .filter(|slot| {
            let sent = sending.get(&(slot.segment, slot.slot));
            let overdue = sent
                .and_then(|s| s.due_height)
                .or(slot.accept_due_height)
                .is_some_and(|due| height > due.saturating_add(grace_blocks));
            let redrawn = sent.is_some_and(|s| s.redraws > redraws_max);
            overdue || redrawn
        })
        .collect()
}

/// Where one slot of a segment being read is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// Not asked for yet.
    Waiting,
    /// Asked for, no answer yet.
    InFlight,
    /// Came back and matched the commitment.
    Good,
    /// Refused, unreachable, or did not match: its holder is dropped.
    Failed,
    /// Not worth asking (its holder was dropped earlier, or holds nothing yet).
    Unavailable,
}

/// How a segment can be read from the shards that came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// Shards `0..k` came: slice the segment out of them, no decoding.
    Systematic,
    /// These `k` shards (some of them recovery shards) came: decode.
    Decode(Vec<u16>),
}

/// Spare fetches beyond `k` kept in flight, so one slow or bad holder does not stall a read.
pub const SPARE_FETCHES: usize = 2;

/// The fetch plan of one segment: shards `0..k` first (the systematic read needs no decode),
/// then recovery shards, with at most `k + SPARE_FETCHES` in flight and never more asked for
/// than could still be used.
#[derive(Clone, Debug)]
pub struct FetchPlan {
    k: usize,
    slots: Vec<Fetch>,
}

impl FetchPlan {
    /// A plan over `n` slots of which `available` says which are worth asking.
    pub fn new(k: u16, n: u16, available: impl Fn(u16) -> bool) -> FetchPlan {
        let slots = (0..n)
            .map(|slot| {
                if available(slot) {
                    Fetch::Waiting
                } else {
                    Fetch::Unavailable
                }
            })
            .collect();
        FetchPlan {
            k: usize::from(k),
            slots,
        }
    }

    fn count(&self, state: Fetch) -> usize {
        self.slots.iter().filter(|s| **s == state).count()
    }

    /// The next slot to ask for, if one should be asked for now (marked in flight): the
    /// lowest waiting slot while fewer than `k + SPARE_FETCHES` are good or in flight.
    pub fn next(&mut self) -> Option<u16> {
        if self.ready().is_some()
            || self.count(Fetch::Good) + self.count(Fetch::InFlight) >= self.k + SPARE_FETCHES
        {
            return None;
        }
        let slot = self.slots.iter().position(|s| *s == Fetch::Waiting)?;
        self.slots[slot] = Fetch::InFlight;
        Some(slot as u16)
    }

    /// Records an answer for `slot`: a good shard, or a failed holder.
    pub fn answered(&mut self, slot: u16, good: bool) {
        if let Some(state) = self.slots.get_mut(usize::from(slot)) {
            *state = if good { Fetch::Good } else { Fetch::Failed };
        }
    }

    /// How the segment can be read now, if it can without waiting: systematically once shards
    /// `0..k` are good, or by decoding `k` good shards once a systematic one cannot come.
    pub fn ready(&self) -> Option<Ready> {
        if self.slots[..self.k].iter().all(|s| *s == Fetch::Good) {
            return Some(Ready::Systematic);
        }
        let systematic_lost = self.slots[..self.k]
            .iter()
            .any(|s| matches!(s, Fetch::Failed | Fetch::Unavailable));
        if systematic_lost {
            return self.decodable().map(Ready::Decode);
        }
        None
    }

    /// `k` good slots, if that many came (the decode a slow systematic holder may be left for).
    pub fn decodable(&self) -> Option<Vec<u16>> {
        let good: Vec<u16> = (0..self.slots.len() as u16)
            .filter(|slot| self.slots[usize::from(*slot)] == Fetch::Good)
            .take(self.k)
            .collect();
        (good.len() == self.k).then_some(good)
    }

    /// Whether nothing is in flight or left to ask and the segment still cannot be read.
    pub fn exhausted(&self) -> bool {
        self.ready().is_none()
            && self.decodable().is_none()
            && !self
                .slots
                .iter()
                .any(|s| matches!(s, Fetch::Waiting | Fetch::InFlight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_client::dto::{BaseUnits, HexContentHash, HexDigest, SegmentDto, ShardDto};
    use plexus_client::dto::{ShardState, StorageFileSummaryDto};

    /// Drives a plan: starts what it asks for, answers in the order given (slot, good).
    fn started(plan: &mut FetchPlan) -> Vec<u16> {
        std::iter::from_fn(|| plan.next()).collect()
    }

    #[test]
    fn systematic_shards_first_with_two_spares_and_no_decode_when_they_come() {
        let mut plan = FetchPlan::new(4, 10, |_| true);
        assert_eq!(started(&mut plan), vec![0, 1, 2, 3, 4, 5]);
        for slot in [0, 2, 1] {
            plan.answered(slot, true);
            assert_eq!(plan.ready(), None);
        }
        // A spare arriving early makes k good shards, but a systematic one is still coming.
        plan.answered(4, true);
        assert_eq!(plan.ready(), None);
        assert_eq!(plan.decodable(), Some(vec![0, 1, 2, 4]));
        plan.answered(3, true);
        assert_eq!(plan.ready(), Some(Ready::Systematic));
        assert_eq!(plan.next(), None, "nothing more is asked once readable");
    }

    #[test]
    fn a_failed_holder_is_replaced_by_the_next_slot_and_the_segment_decoded() {
        let mut plan = FetchPlan::new(2, 6, |_| true);
        assert_eq!(started(&mut plan), vec![0, 1, 2, 3]);
        plan.answered(1, false);
        // One more asked for, to keep k + 2 good or in flight.
        assert_eq!(started(&mut plan), vec![4]);
        plan.answered(0, true);
        assert_eq!(plan.ready(), None);
        plan.answered(3, true);
        assert_eq!(plan.ready(), Some(Ready::Decode(vec![0, 3])));
        assert!(!plan.exhausted());
    }

    #[test]
    fn dropped_holders_are_skipped_and_too_many_failures_exhaust_the_plan() {
        // Slots 0 and 2 belong to holders dropped earlier.
        let mut plan = FetchPlan::new(2, 4, |slot| slot != 0 && slot != 2);
        assert_eq!(started(&mut plan), vec![1, 3]);
        assert_eq!(plan.ready(), None);
        plan.answered(1, true);
        assert!(!plan.exhausted());
        plan.answered(3, false);
        assert!(
            plan.exhausted(),
            "one good shard of the two needed, none left"
        );
        assert_eq!(started(&mut plan), Vec::<u16>::new());
    }

    fn file(shards: &[(u16, &str, ShardState)]) -> StorageFileDto {
        StorageFileDto {
            file: StorageFileSummaryDto {
                id: HexDigest(plexus_types::Digest::from([1u8; 32])),
                owner: "owner".into(),
                public: false,
                k: 1,
                n: shards.len() as u16,
                size_bytes: 10,
                segment_count: 1,
                shard_count: shards.len() as u32,
                shards_active: 0,
                price_cap_per_gib_epoch: BaseUnits(1),
                escrow: BaseUnits(1),
                paid: BaseUnits(0),
                start_epoch: 1,
                end_epoch: 2,
                posted_height: 1,
            },
            segments: vec![SegmentDto {
                index: 0,
                commitment: HexContentHash(plexus_types::ContentHash::of(b"c")),
                size_bytes: 10,
                shard_bytes: 8,
                shards: shards
                    .iter()
                    .map(|(index, holder, state)| ShardDto {
                        index: *index,
                        holder: holder.to_string(),
                        state: *state,
                        price_per_gib_epoch: BaseUnits(1),
                        collateral: BaseUnits(1),
                        drawn_height: Some(1),
                        accept_due_height: (*state == ShardState::Drawn).then_some(21),
                        active_since_height: None,
                        last_proof_height: None,
                        misses: 0,
                        challenge: None,
                        fault_epoch: None,
                        repair_fee: None,
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn a_redrawn_slot_is_sent_again_to_its_new_holder() {
        let mut sending = BTreeMap::new();
        let first = file(&[(0, "a", ShardState::Drawn), (1, "b", ShardState::Drawn)]);
        let slots = |uploads: Vec<Upload>| {
            uploads
                .into_iter()
                .map(|u| (u.slot, u.holder))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            slots(uploads(&first, &mut sending)),
            vec![(0, "a".into()), (1, "b".into())]
        );
        sending.get_mut(&(0, 0)).unwrap().stored = true;
        sending.get_mut(&(0, 1)).unwrap().stored = true;
        assert!(uploads(&first, &mut sending).is_empty(), "both stored");
        // Slot 0 accepted; slot 1's holder never did and the chain drew it to c.
        let redrawn = file(&[(0, "a", ShardState::Active), (1, "c", ShardState::Drawn)]);
        assert_eq!(
            slots(uploads(&redrawn, &mut sending)),
            vec![(1, "c".into())]
        );
        assert_eq!(sending[&(0, 1)].redraws, 1);
        assert!(!sending[&(0, 1)].stored);
        // Past its due by more than the grace, or redrawn too often: given up, by name.
        assert!(given_up(&redrawn, &sending, 21 + 5, 5, 1).is_empty());
        let late = given_up(&redrawn, &sending, 21 + 6, 5, 1);
        assert_eq!((late[0].segment, late[0].slot), (0, 1));
        assert_eq!(given_up(&redrawn, &sending, 0, 5, 0).len(), 1);
        assert_eq!(unaccepted(&redrawn).len(), 1);
    }

    #[test]
    fn a_slot_the_chain_re_dates_for_the_same_holder_is_given_up_at_its_first_due() {
        let mut sending = BTreeMap::new();
        let drawn = file(&[(0, "a", ShardState::Drawn)]);
        uploads(&drawn, &mut sending);
        // No other holder could be drawn: the chain keeps "a" with a later due each window.
        let mut re_dated = drawn.clone();
        re_dated.segments[0].shards[0].accept_due_height = Some(41);
        assert_eq!(uploads(&re_dated, &mut sending).len(), 1);
        assert_eq!(sending[&(0, 0)].due_height, Some(21));
        assert!(given_up(&re_dated, &sending, 26, 5, 3).is_empty());
        assert_eq!(given_up(&re_dated, &sending, 27, 5, 3).len(), 1);
    }
}
