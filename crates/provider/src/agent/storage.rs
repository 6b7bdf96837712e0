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
//! The chain is read deal by deal (`GET /v1/storage/files/{id}`), for the deals of the shards
//! on disk or queued. The pure rules are [`rules`]'s; this module reads and acts.
//!
//! Where the next duties go (they need the chain side's challenge payloads and its
//! `GET /v1/storage/holders/{address}/shards` route):
//! - Challenges: each poll, read the open challenges of this provider's shards, answer each with
//!   `plexus_storage::proof::prove` over the stored shard (`ShardStore::get`) in a
//!   `StorageProof` transaction: a `ShardAction::Prove` decided in [`rules`] from the
//!   challenges seen and the proofs sent, carried out here like an accept.
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
use plexus_client::{Client, ClientError};
use plexus_state::storage::ShardKey;
use plexus_types::{Address, Payload, hash::digest_hex};
use rules::{OfferOnChain, OfferWanted, ShardAction, ShardSeen, SlotView};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, mpsc::Receiver},
};
use tracing::{info, warn};

/// Polls between reconciliations of the whole store against the chain (at the default 200 ms
/// poll, every 5 s): collection and the accepts a restart left are found this often.
pub const RECONCILE_EVERY_POLLS: u64 = 25;

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
