//! The fetch bookkeeping, without I/O: which content this node wants, which parts it asks its
//! peers for, and whether an answer is what its key names.
//!
//! Every wanted item goes through the same stages: queued, then its head asked for (at most
//! [`ACTIVE_MAX`] items at once), then either done (content that fits a piece arrives whole)
//! or outlined, then its pieces asked for while the pieces held in memory stay within
//! [`ASSEMBLY_BYTES_MAX`] (one item at a time may exceed it alone). Nothing is kept that was not
//! checked: a head against the item's name, a piece against the outline's chaining value. An
//! item not done by its deadline is dropped; wanting it again starts over.
//!
//! A head that does not name its item is a lie of the peer that sent it. A piece that does not
//! match its outline is not: BLAKE3's parent nodes do not commit to their depth, so a peer can
//! send an outline that names the content but lists, say, the root's two children as two
//! "pieces", and then every honest piece fails against it. Such a piece is `Doubtful`: its
//! sender is not blamed, the outline is dropped and the head asked for again.
//!
//! Items are tracked by what they are (content and reason), not by content alone: a want with
//! a reason no peer accepts (a settlement naming another job's page as its manifest, say) must
//! not stand in for the same content wanted with a real one.

use super::wire::{Head, Item, Key};
use bytes::Bytes;
use commonware_codec::DecodeExt as _;
use plexus_blobs::pieces::Outline;
use plexus_types::ContentHash;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

/// The most items tracked at once: a settlement's module, blobs, input and manifest, and the up
/// to 1 024 pages its manifest lists, for a few settlements.
pub const FETCHES_MAX: usize = 4_096;

/// The most items whose parts are asked for at once.
pub const ACTIVE_MAX: usize = 32;

/// The most bytes of pieces held while their items are assembled.
pub const ASSEMBLY_BYTES_MAX: u64 = 128 << 20;

/// How long an item stays wanted: its fetch is retried (other peers, after timeouts) until then.
pub const FETCH_TTL: Duration = Duration::from_secs(60);

/// What became of an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// No longer wanted, or already had: nothing to judge.
    Ignored,
    /// Not what the key names: the peer that sent it lied.
    Invalid,
    /// A piece that does not match its outline: the outline or the piece is false, and which one
    /// cannot be told, so nobody is blamed; the outline is dropped and the head asked again.
    Doubtful,
    /// Checked and kept; the item needs more parts.
    Accepted,
    /// Checked and complete: the item's content, to store.
    Complete { item: Item, bytes: Vec<u8> },
}

enum Stage {
    Queued,
    /// Its head is asked for.
    Head,
    /// Its outline is checked; its pieces wait for room in memory.
    Outlined(Outline),
    /// Its pieces are asked for.
    Pieces {
        outline: Outline,
        pieces: Vec<Option<Bytes>>,
        missing: usize,
    },
}

struct Fetch {
    item: Item,
    deadline: SystemTime,
    stage: Stage,
}

/// The items this node fetches.
#[derive(Default)]
pub struct Fetches {
    items: BTreeMap<Item, Fetch>,
    /// Queued items in the order they were wanted.
    queue: VecDeque<Item>,
    /// Keys handed to the resolver that have not been answered with good bytes.
    requested: BTreeSet<Key>,
    /// Items past their head (outlined or assembling).
    active: usize,
    /// Bytes reserved by items whose pieces are asked for (their pieces all full).
    assembling_bytes: u64,
}

impl Fetches {
    /// Wants `item` until `now + FETCH_TTL` (wanting a tracked item again extends its
    /// deadline). `false` when too many items are tracked.
    pub fn want(&mut self, item: Item, now: SystemTime) -> bool {
        let deadline = now + FETCH_TTL;
        if let Some(fetch) = self.items.get_mut(&item) {
            fetch.deadline = fetch.deadline.max(deadline);
            return true;
        }
        if self.items.len() >= FETCHES_MAX {
            return false;
        }
        self.items.insert(
            item,
            Fetch {
                item,
                deadline,
                stage: Stage::Queued,
            },
        );
        self.queue.push_back(item);
        true
    }

    /// Whether `hash` is being fetched (for any reason).
    pub fn is_wanted(&self, hash: &ContentHash) -> bool {
        self.items.keys().any(|item| item.hash() == *hash)
    }

    /// Items tracked.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Keys handed to the resolver and not yet answered well.
    pub fn requested(&self) -> &BTreeSet<Key> {
        &self.requested
    }

    /// Starts what the limits allow (queued items' heads, outlined items' pieces) and returns
    /// the keys to ask the resolver for.
    pub fn next_requests(&mut self) -> Vec<Key> {
        let mut keys = Vec::new();
        // Outlined items first: their heads are done, their pieces wait only for memory.
        let outlined: Vec<Item> = self
            .items
            .iter()
            .filter(|(_, f)| matches!(f.stage, Stage::Outlined(_)))
            .map(|(item, _)| *item)
            .collect();
        for item in outlined {
            let fetch = self.items.get_mut(&item).expect("listed above");
            let Stage::Outlined(outline) = &fetch.stage else {
                continue;
            };
            let size = outline.len_max();
            if self.assembling_bytes > 0 && self.assembling_bytes + size > ASSEMBLY_BYTES_MAX {
                continue;
            }
            self.assembling_bytes += size;
            let outline = outline.clone();
            let count = outline.pieces.len();
            keys.extend((0..count as u32).map(|index| Key::piece(fetch.item, index)));
            fetch.stage = Stage::Pieces {
                outline,
                pieces: vec![None; count],
                missing: count,
            };
        }
        while self.active < ACTIVE_MAX {
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            let Some(fetch) = self.items.get_mut(&item) else {
                continue;
            };
            fetch.stage = Stage::Head;
            self.active += 1;
            keys.push(Key::head(fetch.item));
        }
        self.requested.extend(keys.iter().copied());
        keys
    }

    /// Judges `value`, an answer to `key`.
    pub fn deliver(&mut self, key: &Key, value: Bytes) -> Delivery {
        let hash = key.item.hash();
        let Some(fetch) = self.items.get_mut(&key.item) else {
            return Delivery::Ignored;
        };
        if !self.requested.contains(key) {
            return Delivery::Ignored;
        }
        let delivery = match (&mut fetch.stage, key.part) {
            (Stage::Head, 0) => match Head::decode(value) {
                Ok(Head::Whole(bytes)) if ContentHash::of(&bytes) == hash => Delivery::Complete {
                    item: fetch.item,
                    bytes: bytes.to_vec(),
                },
                Ok(Head::Outline(outline)) if outline.root() == Some(hash) => {
                    fetch.stage = Stage::Outlined(outline);
                    Delivery::Accepted
                }
                _ => Delivery::Invalid,
            },
            (
                Stage::Pieces {
                    outline,
                    pieces,
                    missing,
                },
                part,
            ) if part > 0 => {
                let index = part - 1;
                match pieces.get_mut(index as usize) {
                    Some(slot @ None) if outline.check_piece(u64::from(index), &value) => {
                        *slot = Some(value);
                        *missing -= 1;
                        if *missing == 0 {
                            Delivery::Complete {
                                item: fetch.item,
                                bytes: pieces
                                    .iter()
                                    .flatten()
                                    .flat_map(|p| p.iter())
                                    .copied()
                                    .collect(),
                            }
                        } else {
                            Delivery::Accepted
                        }
                    }
                    Some(None) => Delivery::Doubtful,
                    _ => Delivery::Ignored,
                }
            }
            _ => Delivery::Ignored,
        };
        match &delivery {
            Delivery::Accepted => {
                self.requested.remove(key);
            }
            // The content is here: whatever else wanted it for another reason is done too.
            Delivery::Complete { .. } => {
                let same: Vec<Item> = self
                    .items
                    .keys()
                    .filter(|item| item.hash() == hash)
                    .copied()
                    .collect();
                for item in &same {
                    self.forget(item);
                }
            }
            Delivery::Doubtful => self.doubt(&key.item),
            Delivery::Ignored | Delivery::Invalid => {}
        }
        delivery
    }

    /// Drops `item`'s outline and the pieces checked against it, and queues its head to be
    /// asked for again (first: it was already under way), keeping its deadline.
    fn doubt(&mut self, item: &Item) {
        let Some(fetch) = self.items.get_mut(item) else {
            return;
        };
        if let Stage::Pieces { outline, .. } = &fetch.stage {
            self.assembling_bytes -= outline.len_max();
        }
        fetch.stage = Stage::Queued;
        self.active -= 1;
        self.queue.push_front(*item);
        self.requested.retain(|key| key.item != *item);
    }

    /// Drops the items whose deadline is before `now`; returns how many.
    pub fn expire(&mut self, now: SystemTime) -> usize {
        let expired: Vec<Item> = self
            .items
            .iter()
            .filter(|(_, fetch)| fetch.deadline < now)
            .map(|(item, _)| *item)
            .collect();
        for item in &expired {
            self.forget(item);
        }
        expired.len()
    }

    /// Stops tracking `item`: its keys, its slot and the memory its pieces reserved.
    fn forget(&mut self, item: &Item) {
        let Some(fetch) = self.items.remove(item) else {
            return;
        };
        match fetch.stage {
            Stage::Queued => self.queue.retain(|queued| queued != item),
            Stage::Head | Stage::Outlined(_) => self.active -= 1,
            Stage::Pieces { outline, .. } => {
                self.active -= 1;
                self.assembling_bytes -= outline.len_max();
            }
        }
        self.requested.retain(|key| key.item != *item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Encode as _;
    use plexus_blobs::pieces::PIECE_BYTES;

    fn digest(i: u8) -> plexus_types::Digest {
        plexus_types::Digest::from([i; 32])
    }

    fn name(i: u8) -> ContentHash {
        ContentHash::from_bytes([i; 32])
    }

    fn item(bytes: &[u8]) -> Item {
        Item::Job {
            job: digest(9),
            hash: ContentHash::of(bytes),
        }
    }

    fn whole(bytes: &[u8]) -> Bytes {
        Head::Whole(Bytes::copy_from_slice(bytes)).encode()
    }

    #[test]
    fn small_content_arrives_whole_and_lies_are_invalid() {
        let now = SystemTime::UNIX_EPOCH;
        let mut fetches = Fetches::default();
        let page = vec![3u8; 65_536];
        let wanted = item(&page);
        assert!(fetches.want(wanted, now));
        assert_eq!(fetches.next_requests(), vec![Key::head(wanted)]);
        assert!(fetches.next_requests().is_empty(), "asked once");
        // Other bytes, garbage, an outline of other content: the sender lied.
        let key = Key::head(wanted);
        assert_eq!(fetches.deliver(&key, whole(b"other")), Delivery::Invalid);
        assert_eq!(
            fetches.deliver(&key, Bytes::from_static(b"\x07")),
            Delivery::Invalid
        );
        assert_eq!(
            fetches.deliver(&Key::piece(wanted, 0), Bytes::from(page.clone())),
            Delivery::Ignored,
            "no piece was asked for"
        );
        assert_eq!(
            fetches.deliver(&key, whole(&page)),
            Delivery::Complete {
                item: wanted,
                bytes: page.clone()
            }
        );
        assert!(fetches.is_empty() && fetches.requested().is_empty());
        assert_eq!(fetches.deliver(&key, whole(&page)), Delivery::Ignored);
    }

    #[test]
    fn large_content_arrives_in_checked_pieces_within_the_memory_bound() {
        let now = SystemTime::UNIX_EPOCH;
        let mut fetches = Fetches::default();
        let piece = PIECE_BYTES as usize;
        let module: Vec<u8> = (0..3 * piece + 100).map(|i| (i % 251) as u8).collect();
        let wanted = item(&module);
        fetches.want(wanted, now);
        fetches.next_requests();
        let outline = Outline::of(&module).unwrap();
        // An outline that does not name the content is a lie; the right one is kept.
        let mut wrong = outline.clone();
        wrong.pieces.swap(1, 2);
        let head = Key::head(wanted);
        assert_eq!(
            fetches.deliver(&head, Head::Outline(wrong).encode()),
            Delivery::Invalid
        );
        assert_eq!(
            fetches.deliver(&head, Head::Outline(outline.clone()).encode()),
            Delivery::Accepted
        );
        let keys = fetches.next_requests();
        assert_eq!(
            keys,
            (0..4).map(|i| Key::piece(wanted, i)).collect::<Vec<_>>()
        );
        let pieces: Vec<Bytes> = module.chunks(piece).map(Bytes::copy_from_slice).collect();
        // A piece in another's place is refused; each right one is kept.
        assert_eq!(
            fetches.deliver(&keys[0], pieces[1].clone()),
            Delivery::Doubtful
        );
        // Doubted, the outline is dropped: the head is asked again, and the pieces after it.
        assert_eq!(fetches.next_requests(), vec![head]);
        assert_eq!(
            fetches.deliver(&head, Head::Outline(outline.clone()).encode()),
            Delivery::Accepted
        );
        assert_eq!(fetches.next_requests(), keys);
        for i in [2, 0, 3] {
            assert_eq!(
                fetches.deliver(&keys[i], pieces[i].clone()),
                Delivery::Accepted
            );
        }
        assert_eq!(
            fetches.deliver(&keys[0], pieces[0].clone()),
            Delivery::Ignored
        );
        assert_eq!(
            fetches.deliver(&keys[1], pieces[1].clone()),
            Delivery::Complete {
                item: wanted,
                bytes: module
            }
        );
        assert!(fetches.is_empty() && fetches.requested().is_empty());
    }

    /// A want whose reason no peer accepts (a settlement naming another job's page as its
    /// manifest) once stood in for the same content wanted with a real reason.
    #[test]
    fn the_same_content_wanted_for_two_reasons_is_asked_for_both() {
        let now = SystemTime::UNIX_EPOCH;
        let mut fetches = Fetches::default();
        let page = vec![5u8; 1_000];
        let hash = ContentHash::of(&page);
        let false_reason = Item::Manifest {
            job: digest(9),
            hash,
        };
        let real = Item::Page {
            job: digest(9),
            manifest: name(1),
            hash,
        };
        assert!(fetches.want(false_reason, now));
        assert!(fetches.want(real, now));
        assert_eq!(
            fetches.next_requests(),
            vec![Key::head(false_reason), Key::head(real)]
        );
        // Peers refuse the first; the second arrives, and both are done.
        assert_eq!(
            fetches.deliver(&Key::head(real), whole(&page)),
            Delivery::Complete {
                item: real,
                bytes: page.clone()
            }
        );
        assert!(fetches.is_empty() && fetches.requested().is_empty());
    }

    #[test]
    fn limits_hold_and_deadlines_drop_items() {
        let now = SystemTime::UNIX_EPOCH;
        let mut fetches = Fetches::default();
        for i in 0..FETCHES_MAX {
            assert!(fetches.want(item(&(i as u64).to_le_bytes()), now));
        }
        assert!(!fetches.want(item(b"one too many"), now));
        // Wanting a tracked item again is fine and extends its deadline.
        let first = item(&0u64.to_le_bytes());
        assert!(fetches.want(first, now + Duration::from_secs(30)));
        assert_eq!(fetches.next_requests().len(), ACTIVE_MAX);
        assert_eq!(fetches.requested().len(), ACTIVE_MAX);
        assert_eq!(fetches.expire(now + FETCH_TTL), 0);
        let expired = fetches.expire(now + FETCH_TTL + Duration::from_secs(1));
        assert_eq!(expired, FETCHES_MAX - 1);
        assert!(fetches.is_wanted(&first.hash()));
        assert_eq!(
            fetches
                .requested()
                .iter()
                .map(|k| k.item)
                .collect::<Vec<_>>(),
            vec![first]
        );
        // Heads of outlined content wait for memory: two 64 MiB items, then one more.
        let mut fetches = Fetches::default();
        let big = Outline {
            pieces: vec![[0; 32]; 64],
        };
        let mut items = Vec::new();
        for i in 0..3u8 {
            let wanted = Item::Job {
                job: digest(9),
                hash: name(i),
            };
            fetches.want(wanted, now);
            items.push(wanted);
        }
        fetches.next_requests();
        for wanted in &items {
            // The outline is taken as checked here: the stage is what is tested.
            let fetch = fetches.items.get_mut(wanted).unwrap();
            fetch.stage = Stage::Outlined(big.clone());
        }
        let started = fetches.next_requests();
        assert_eq!(started.len(), 128, "two items fit 128 MiB");
        assert!(fetches.next_requests().is_empty());
        fetches.forget(&items[0]);
        assert_eq!(
            fetches.next_requests().len(),
            64,
            "the third starts when one ends"
        );
    }
}
