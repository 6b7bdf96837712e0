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
//! The challenges, repairs, accepts and collection all read one list a poll, the holders route
//! (`GET /v1/storage/holders/{address}/shards`: every slot drawn to or held by this provider),
//! however many deals the provider holds shards of. The pure rules are [`rules`]'s; this module
//! reads and acts.
//!
//! - Repairs: each poll the same holders list shows the slots drawn here for repair (state
//!   `repairing`); for each segment with such a slot not on disk, and not being rebuilt or
//!   failed within [`REPAIR_RETRY_AFTER_BLOCKS`] ([`rules::repairs_to_start`]), a thread of its
//!   own fetches `k` shards from the other holders and rebuilds and stores this provider's
//!   slots ([`repair`]), at most [`REPAIRS_RUNNING_MAX`] segments at once. When it reports
//!   back, its shards are watched like uploads, so their accepts go through this thread.
//!
pub mod repair;
pub mod rules;

use super::RESEND_AFTER_BLOCKS;
use crate::shards::ShardStore;
use plexus_client::dto::ShardState;
use plexus_client::dto::{ChallengeOutcome, HolderShardDto};
use plexus_client::{Client, ClientError};
use plexus_state::storage::ShardKey;
use plexus_storage::proof;
use plexus_types::Digest;
use plexus_types::{Address, Payload, hash::digest_hex};
use rules::{
    ChallengeSeen, OfferOnChain, OfferWanted, RepairSeen, RepairStart, ShardAction, ShardSeen,
    SlotView,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        mpsc::{self, Receiver, Sender},
    },
};
use tracing::{error, info, warn};

/// Polls between reconciliations of the whole store against the chain (at the default 200 ms
/// poll, every 5 s): collection and the accepts a restart left are found this often.
pub const RECONCILE_EVERY_POLLS: u64 = 25;

/// Blocks after which a proof not yet on chain is sent again (within its window: the chain's
/// proof window is 10 blocks by default, so the dispute's `RESEND_AFTER_BLOCKS` would never
/// resend one).
pub const PROOF_RESEND_AFTER_BLOCKS: u64 = 3;

/// Segments rebuilt at once: each holds `k` shards and its decoding in memory (a 64 MiB
/// segment's repair takes a few hundred MiB), beside the jobs.
pub const REPAIRS_RUNNING_MAX: usize = 2;

/// Blocks after a failed repair (too few holders answered) before it is tried again.
pub const REPAIR_RETRY_AFTER_BLOCKS: u64 = 5;

/// A repair's report: its segment and the shards it stored, or why it could not.
type RepairDone = ((Digest, u32), Result<Vec<ShardKey>, String>);

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
    /// Segments being rebuilt here, and the height each segment's last repair failed at.
    repairs_running: BTreeSet<(Digest, u32)>,
    repairs_failed: BTreeMap<(Digest, u32), u64>,
    repairs_done: (Sender<RepairDone>, Receiver<RepairDone>),
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
            repairs_running: BTreeSet::new(),
            repairs_failed: BTreeMap::new(),
            repairs_done: mpsc::channel(),
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

    /// What the step sees this poll, from the holders list `held` of a node at `height` (or
    /// above): the shards queued, watched or sent, and at a reconciliation every shard on disk,
    /// each with its slot as the list shows it (a slot the list does not show is no longer this
    /// provider's: its deal ended, it was drawn to another, or lost from this one). One request
    /// for all of them, however many deals the provider holds shards of. A deal whose noted
    /// height cannot be read is left out (nothing is decided on it this poll).
    pub fn look(&mut self, held: &[HolderShardDto], height: u64) -> Vec<ShardSeen> {
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
        let mine: BTreeMap<ShardKey, ShardState> = held
            .iter()
            .map(|held| {
                (
                    (held.deal.0, held.segment, held.shard.index),
                    held.shard.state,
                )
            })
            .collect();
        let mut noted: BTreeMap<Digest, Option<u64>> = BTreeMap::new();
        let mut seen = Vec::new();
        for key in keys {
            let deal = key.0;
            let noted = *noted.entry(deal).or_insert_with(|| {
                self.store
                    .noted_height(&deal)
                    .map(|noted| noted.unwrap_or(0))
                    .inspect_err(|err| {
                        warn!(deal = %digest_hex(&deal), %err, "cannot read the deal's noted height; its shards wait");
                    })
                    .ok()
            });
            let Some(noted) = noted else {
                continue;
            };
            seen.push(ShardSeen {
                key,
                on_disk: on_disk.contains(&key) || self.store.contains(&key),
                slot: mine
                    .get(&key)
                    .map_or(SlotView::Other, |state| SlotView::Mine(*state)),
                accept_sent_height: self.accepts_sent.get(&key).copied(),
                node_behind: height < noted,
            });
        }
        seen
    }

    /// Answers the open challenges of this provider's shards (`held`, as the holders route
    /// lists them) due at `height`; `submit` signs and submits on the agent's submitting
    /// thread.
    pub fn answer_challenges(
        &mut self,
        held: &[HolderShardDto],
        height: u64,
        mut submit: impl FnMut(Payload) -> Result<String, ClientError>,
    ) {
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

    /// Takes in the repairs that finished (their shards are then watched for their accepts,
    /// like uploads) and starts those due at `height` among the slots `held` shows drawn here
    /// for repair, each on a thread of its own with `cx`.
    pub fn repair(
        &mut self,
        held: &[HolderShardDto],
        height: u64,
        cx: impl Fn() -> repair::RepairContext,
    ) {
        while let Ok((segment, result)) = self.repairs_done.1.try_recv() {
            self.repairs_running.remove(&segment);
            let (deal, index) = segment;
            match result {
                Ok(stored) => {
                    info!(deal = %digest_hex(&deal), segment = index, shards = ?stored.iter().map(|key| key.2).collect::<Vec<_>>(), "repaired: rebuilt shards stored, to accept");
                    self.repairs_failed.remove(&segment);
                    self.watched.extend(stored);
                }
                Err(err) => {
                    warn!(deal = %digest_hex(&deal), segment = index, %err, "repair failed; tried again in {REPAIR_RETRY_AFTER_BLOCKS} blocks");
                    self.repairs_failed.insert(segment, height);
                }
            }
        }
        let drawn: Vec<RepairSeen> = held
            .iter()
            .filter(|held| held.shard.state == ShardState::Repairing)
            .map(|held| {
                let key = (held.deal.0, held.segment, held.shard.index);
                RepairSeen {
                    key,
                    on_disk: self.store.contains(&key),
                }
            })
            .collect();
        let limits = (REPAIR_RETRY_AFTER_BLOCKS, REPAIRS_RUNNING_MAX);
        let starts = rules::repairs_to_start(
            height,
            &drawn,
            &self.repairs_running,
            &self.repairs_failed,
            limits,
        );
        for start in starts {
            self.start_repair(start, cx());
        }
    }

    fn start_repair(&mut self, start: RepairStart, cx: repair::RepairContext) {
        let segment = (start.deal, start.segment);
        info!(deal = %digest_hex(&start.deal), segment = start.segment, slots = ?start.slots, "repairing: fetching k shards of the segment");
        let done = self.repairs_done.0.clone();
        let spawned = std::thread::Builder::new()
            .name("repair".into())
            .spawn(move || {
                let result = repair::run(&cx, &start);
                let _ = done.send(((start.deal, start.segment), result));
            });
        match spawned {
            Ok(_) => {
                self.repairs_running.insert(segment);
            }
            Err(err) => warn!(%err, "cannot start a repair thread; next poll"),
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
