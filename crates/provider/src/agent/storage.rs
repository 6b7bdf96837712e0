//! The agent's storage step, beside the job loop: the storage offer, and the shards of storage
//! deals it holds. It runs on the agent's one submitting thread, once a poll after the jobs'
//! actions, so its transactions never race the jobs' for a nonce.
//!
//! - The offer (`provider run --storage-bytes --storage-price`) is read back from the chain when
//!   the agent registers, and a `StorageOffer` sent when it differs ([`rules::offer_to_send`]).
//!   One the chain refuses (a provider deregistering) is logged, and compute goes on.
//! - Accepts: the provider API's `PUT /v1/shards/...` (`crate::http`) checks and stores a shard,
//!   then queues its key here; the step sends its `ShardAccept` and sends it again if the chain
//!   still shows the slot waiting `RESEND_AFTER_BLOCKS` later. A restarted agent finds the
//!   shards it stored but never saw accepted by reconciling its store (below) and accepts them.
//! - Collection: every [`RECONCILE_EVERY_POLLS`] polls (and at the first) every stored shard is
//!   looked up on chain; one whose deal ended, or whose slot is drawn to another provider, is
//!   deleted. One the node could not be asked about is kept, and so is one the node answers
//!   about from below the height at which the upload saw the slot drawn here (a node catching
//!   up would otherwise show every deal unknown) ([`rules`]).
//!
//! - Challenges: each poll (before the accepts), `GET /v1/storage/holders/{address}/shards`
//!   lists this provider's shards with their latest challenge; each `open` one not answered yet
//!   (or whose proof is still not on chain [`PROOF_RESEND_AFTER_BLOCKS`] later) whose window is
//!   still open is answered ([`rules::proofs_to_send`]): `proof::prove` over the stored shard,
//!   checked with `proof::verify` against the segment's commitment exactly as the chain checks
//!   it, then a `StorageProof`. A proof that fails locally is NEVER sent (a wrong proof burns the
//!   whole collateral): the shard is corrupt, so it is logged and deleted, and the chain's misses
//!   declare it lost and draw its repairer (a fault cannot be declared while its challenge is
//!   open). A restarted agent has sent nothing, so it answers every challenge still open.
//!
//! The accepts and collection read the chain deal by deal (`GET /v1/storage/files/{id}`), for
//! the deals of the shards on disk or queued. The pure rules are [`rules`]'s; this module reads
//! and acts.
//!
//! Where the next duty goes:
//! - Repairs: a slot drawn to this provider for repair (state `repairing`) whose shard is not on
//!   disk: fetch `k` shards of its segment from their holders with repairer reads
//!   (`ShardRead` signed by this key, which the holders authorize by the chain's draw), check
//!   and `coding::decode` once per segment, keep this slot's shard and accept it: a
//!   `ShardAction::Repair` for the slots of a segment together, run on a thread of its own like
//!   a job, which reports back so the accept goes through this thread.
//! - The holders route then replaces the deal-by-deal reads of [`StorageStep::look`] as the list
//!   of slots drawn to this provider (including those never uploaded).

pub mod rules;

use super::RESEND_AFTER_BLOCKS;
use crate::shards::ShardStore;
use plexus_client::dto::{ChallengeOutcome, HolderShardDto};
use plexus_client::{Client, ClientError};
use plexus_state::storage::ShardKey;
use plexus_storage::proof;
use plexus_types::{Address, Payload, hash::digest_hex};
use rules::{ChallengeSeen, OfferOnChain, OfferWanted, ShardAction, ShardSeen, SlotView};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, mpsc::Receiver},
};
use tracing::{error, info, warn};

/// Polls between reconciliations of the whole store against the chain (at the default 200 ms
/// poll, every 5 s): collection and the accepts a restart left are found this often.
pub const RECONCILE_EVERY_POLLS: u64 = 25;

/// Blocks after which a proof not yet on chain is sent again (within its window: the chain's
/// proof window is 10 blocks by default, so the dispute's `RESEND_AFTER_BLOCKS` would never
/// resend one).
pub const PROOF_RESEND_AFTER_BLOCKS: u64 = 3;

/// The storage step's state between polls.
pub struct StorageStep {
    /// What the operator sells.
    pub offer: OfferWanted,
    pub store: Arc<ShardStore>,
    /// Shards the provider API stored, for their accept.
    uploads: Receiver<ShardKey>,
    /// Shards stored and not yet seen accepted.
    watched: BTreeSet<ShardKey>,
    /// The height each accept was last sent at.
    accepts_sent: BTreeMap<ShardKey, u64>,
    /// The height each challenge's proof (shard, epoch) was last sent at, while it is open.
    proofs_sent: BTreeMap<(ShardKey, u64), u64>,
    polls: u64,
}

impl StorageStep {
    pub fn new(offer: OfferWanted, store: Arc<ShardStore>, uploads: Receiver<ShardKey>) -> Self {
        StorageStep {
            offer,
            store,
            uploads,
            watched: BTreeSet::new(),
            accepts_sent: BTreeMap::new(),
            proofs_sent: BTreeMap::new(),
            polls: 0,
        }
    }

    /// The `StorageOffer` to send, if the chain's offer differs from the operator's.
    pub fn offer_payload(
        &self,
        node: &Client,
        me: &Address,
    ) -> Result<Option<Payload>, ClientError> {
        let me = me.to_string();
        let on_chain = node
            .storage_providers()?
            .into_iter()
            .find(|offer| offer.provider == me)
            .map(|offer| OfferOnChain {
                capacity_bytes: offer.capacity_bytes,
                used_bytes: offer.used_bytes,
                price_per_gib_epoch: offer.price_per_gib_epoch.amount(),
            });
        Ok(rules::offer_to_send(self.offer, on_chain).map(|send| {
            if send.capacity_bytes > self.offer.capacity_bytes {
                warn!(
                    capacity_bytes = send.capacity_bytes,
                    "offering the bytes of the shards drawn here: the chain refuses less"
                );
            }
            Payload::StorageOffer {
                capacity_bytes: send.capacity_bytes,
                price_per_gib_epoch: send.price_per_gib_epoch,
            }
        }))
    }

    /// What the step sees this poll, from a node at `height`: the shards queued, watched or
    /// sent, and at a reconciliation every shard on disk, each with its slot on chain. A deal
    /// the node could not be asked about is left out (nothing is decided on it this poll).
    pub fn look(&mut self, node: &Client, me: &str, height: u64) -> Vec<ShardSeen> {
        while let Ok(key) = self.uploads.try_recv() {
            self.watched.insert(key);
        }
        let mut keys: BTreeSet<ShardKey> = self.watched.clone();
        keys.extend(self.accepts_sent.keys().copied());
        let on_disk: BTreeSet<ShardKey> = if self.polls.is_multiple_of(RECONCILE_EVERY_POLLS) {
            match self.store.list() {
                Ok(list) => list.into_iter().collect(),
                Err(err) => {
                    warn!(%err, "cannot list the shard store");
                    BTreeSet::new()
                }
            }
        } else {
            BTreeSet::new()
        };
        self.polls += 1;
        keys.extend(on_disk.iter().copied());
        let deals: BTreeSet<_> = keys.iter().map(|key| key.0).collect();
        let mut seen = Vec::new();
        for deal in deals {
            let slot = match node.storage_file(digest_hex(&deal)) {
                Ok(file) => Some(file),
                Err(err) if err.code() == Some("unknown_deal") => None,
                Err(err) => {
                    warn!(deal = %digest_hex(&deal), %err, "cannot read the deal; its shards wait");
                    continue;
                }
            };
            let noted = match self.store.noted_height(&deal) {
                Ok(noted) => noted.unwrap_or(0),
                Err(err) => {
                    warn!(deal = %digest_hex(&deal), %err, "cannot read the deal's noted height; its shards wait");
                    continue;
                }
            };
            for key in keys.iter().filter(|key| key.0 == deal) {
                let view = slot.as_ref().map_or(SlotView::Gone, |file| {
                    rules::slot_view(file, key.1, key.2, me)
                });
                seen.push(ShardSeen {
                    key: *key,
                    on_disk: on_disk.contains(key) || self.store.contains(key),
                    slot: view,
                    accept_sent_height: self.accepts_sent.get(key).copied(),
                    node_behind: height < noted,
                });
            }
        }
        seen
    }

    /// Answers the open challenges of this provider's shards due at `height`; `submit` signs
    /// and submits on the agent's submitting thread. A node that cannot list them leaves them
    /// to the next poll.
    pub fn answer_challenges(
        &mut self,
        node: &Client,
        me: &str,
        height: u64,
        mut submit: impl FnMut(Payload) -> Result<String, ClientError>,
    ) {
        let held = match node.holder_shards(me) {
            Ok(held) => held,
            Err(err) => {
                warn!(%err, "cannot list this provider's shards; challenges wait a poll");
                return;
            }
        };
        let open: Vec<(ChallengeSeen, &HolderShardDto)> = held
            .iter()
            .filter_map(|held| {
                let challenge = held.shard.challenge.as_ref()?;
                if challenge.outcome != ChallengeOutcome::Open {
                    return None;
                }
                let key = (held.deal.0, held.segment, held.shard.index);
                let seen = ChallengeSeen {
                    key,
                    epoch: challenge.epoch,
                    chunk_index: challenge.chunk_index,
                    due_height: challenge.due_height,
                    proof_sent_height: self.proofs_sent.get(&(key, challenge.epoch)).copied(),
                };
                Some((seen, held))
            })
            .collect();
        // Forget the proofs of challenges no longer open (proven, or judged).
        let still_open: BTreeSet<(ShardKey, u64)> = open
            .iter()
            .map(|(seen, _)| (seen.key, seen.epoch))
            .collect();
        self.proofs_sent.retain(|sent, _| still_open.contains(sent));
        let seen: Vec<ChallengeSeen> = open.iter().map(|(seen, _)| seen.clone()).collect();
        for due in rules::proofs_to_send(height, PROOF_RESEND_AFTER_BLOCKS, &seen) {
            let Some((_, held)) = open.iter().find(|(seen, _)| seen == &due) else {
                continue;
            };
            let Some(payload) = self.proof_payload(held, &due) else {
                continue;
            };
            let (deal, segment, shard) = due.key;
            match submit(payload) {
                Ok(tx) => {
                    info!(deal = %digest_hex(&deal), segment, shard, epoch = due.epoch, chunk = due.chunk_index, %tx, "storage proof sent");
                    self.proofs_sent.insert((due.key, due.epoch), height);
                }
                Err(err) => {
                    warn!(deal = %digest_hex(&deal), segment, shard, %err, "storage proof not sent; next poll")
                }
            }
        }
    }

    /// The `StorageProof` answering `challenge` of `held`, checked locally as the chain checks
    /// it; `None` when the shard cannot be read, or does not prove itself (then it is deleted:
    /// a wrong proof would burn the whole collateral, a miss only a part of it).
    fn proof_payload(&self, held: &HolderShardDto, challenge: &ChallengeSeen) -> Option<Payload> {
        let key = challenge.key;
        let (deal, segment, slot) = key;
        let shard = match self.store.get(&key) {
            Ok(Some(shard)) => shard,
            Ok(None) => {
                error!(deal = %digest_hex(&deal), segment, slot, "a challenged shard is not on disk: the challenge will be missed");
                return None;
            }
            Err(err) => {
                // Kept: a disk error may pass before the window closes; a shard that does not
                // prove itself is dropped below.
                error!(deal = %digest_hex(&deal), segment, slot, %err, "cannot read a challenged shard; next poll");
                return None;
            }
        };
        let proven = proof::prove(&shard, challenge.chunk_index).and_then(|proof| {
            proof::verify(
                &held.commitment.0,
                held.n,
                slot,
                held.shard_bytes,
                challenge.chunk_index,
                &proof,
            )
            .map(|()| proof)
        });
        match proven {
            Ok(proof) => Some(Payload::StorageProof {
                deal,
                segment,
                shard: slot,
                epoch: challenge.epoch,
                proof,
            }),
            Err(err) => {
                error!(deal = %digest_hex(&deal), segment, slot, %err, "the stored shard does not prove its challenge: not sending a wrong proof; the shard is treated as lost");
                self.drop_corrupt(&key);
                None
            }
        }
    }

    /// Deletes a shard that cannot prove itself: the chain's misses declare it lost and draw
    /// its repairer; keeping it would only answer the next challenge wrongly again.
    fn drop_corrupt(&self, key: &ShardKey) {
        if let Err(err) = self.store.delete(key) {
            warn!(%err, "cannot delete a corrupt shard");
        }
    }

    /// What to do about what was seen at `height`.
    pub fn decide(&self, height: u64, seen: &[ShardSeen]) -> Vec<ShardAction> {
        rules::shard_actions(height, RESEND_AFTER_BLOCKS, seen)
    }

    /// Carries out one action; `submit` signs and submits on the agent's submitting thread.
    pub fn carry_out(
        &mut self,
        action: ShardAction,
        height: u64,
        submit: impl FnOnce(Payload) -> Result<String, ClientError>,
    ) {
        match action {
            ShardAction::Accept(key) => {
                let (deal, segment, shard) = key;
                match submit(Payload::ShardAccept {
                    deal,
                    segment,
                    shard,
                }) {
                    Ok(tx) => {
                        info!(deal = %digest_hex(&deal), segment, shard, %tx, "shard accept sent");
                        self.watched.insert(key);
                        self.accepts_sent.insert(key, height);
                    }
                    Err(err) => {
                        warn!(deal = %digest_hex(&deal), segment, shard, %err, "shard accept not sent; next poll")
                    }
                }
            }
            ShardAction::Delete((deal, segment, shard)) => {
                match self.store.delete(&(deal, segment, shard)) {
                    Ok(()) => {
                        info!(deal = %digest_hex(&deal), segment, shard, "shard no longer held here: deleted")
                    }
                    Err(err) => {
                        warn!(deal = %digest_hex(&deal), segment, shard, %err, "cannot delete a shard")
                    }
                }
            }
            ShardAction::Forget(key) => {
                self.watched.remove(&key);
                self.accepts_sent.remove(&key);
            }
        }
    }
}
