//! The content actor's loop: turns reports of missing content into resolver fetches, judges
//! and stores what peers send, and answers peers' requests.

use super::ingress::{Deliver, Produce, Wanted, WantsReceiver};
use super::serve::Server;
use super::state::{Delivery, Fetches};
use super::wire::{Item, Key};
use bytes::Bytes;
use commonware_codec::DecodeExt as _;
use commonware_resolver::{Outcome, Resolution, Resolver as _};
use commonware_runtime::Clock;
use futures::{FutureExt as _, StreamExt as _, channel::mpsc};
use plexus_blobs::BlobStore;
use plexus_chain::{App, Executed, SettlementSeen};
use plexus_state::State;
use plexus_types::audit::Manifest;
use plexus_types::{Address, ContentHash, Digest, PublicKey};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{debug, info, warn};

/// How often deadlines are checked.
const TICK: Duration = Duration::from_secs(1);

/// Every this many ticks the keys still unanswered are handed to the resolver again (it merges
/// them with its own), so no answer lost on the way leaves a fetch hanging until its deadline.
const RESYNC_TICKS: u64 = 10;

/// Manifests each party of a dispute may have prefetched from its settlements in the mempool.
const SETTLEMENT_MANIFESTS_MAX: usize = 2;

/// The resolver's mailbox for content keys.
pub type ResolverMailbox = commonware_resolver::p2p::Mailbox<Key, PublicKey, ()>;

/// What the actor listens to.
pub struct Inputs {
    pub wanted: WantsReceiver,
    pub settlements: mpsc::Receiver<SettlementSeen>,
    pub finalized: mpsc::UnboundedReceiver<Arc<Executed>>,
    pub deliveries: mpsc::UnboundedReceiver<Deliver>,
    pub produces: mpsc::Receiver<Produce>,
}

pub struct Actor<E> {
    pub context: E,
    pub app: App,
    pub store: Arc<BlobStore>,
    pub resolver: ResolverMailbox,
    pub fetches: Fetches,
    pub server: Server,
    /// Jobs whose open, resolved dispute's content was already asked for.
    pub prefetched: BTreeSet<Digest>,
    /// The manifests each `(job, party)` named in settlements seen in the mempool (pruned with
    /// `prefetched`, as disputes close).
    pub settlement_manifests: BTreeMap<(Digest, Address), BTreeSet<ContentHash>>,
}

impl<E: Clock> Actor<E> {
    pub async fn run(mut self, mut inputs: Inputs) {
        let mut next_tick = self.context.current() + TICK;
        let mut ticks: u64 = 0;
        loop {
            let tick = self.context.sleep_until(next_tick).fuse();
            futures::pin_mut!(tick);
            // Biased, in this order, so a run is a function of its inputs (the simulation
            // replays it from a seed): answers first, then requests, then new wants.
            futures::select_biased! {
                deliver = inputs.deliveries.next() => {
                    let Some(deliver) = deliver else { return };
                    self.deliver(deliver);
                }
                produce = inputs.produces.next() => {
                    let Some(Produce { key, answer }) = produce else { return };
                    let tip = self.app.finalized();
                    if let Some(bytes) = self.server.serve(&tip.state, &self.store, &key) {
                        let _ = answer.send(bytes);
                    }
                }
                wanted = inputs.wanted.next() => {
                    let Some(wanted) = wanted else { return };
                    self.want(wanted);
                }
                seen = inputs.settlements.next() => {
                    let Some(seen) = seen else { return };
                    let tip = self.app.finalized();
                    if self.settlement_counts(&tip.state, &seen)
                        && let Some(wanted) = wanted_by(&tip.state, seen.job, Some(seen.manifest))
                    {
                        self.want(wanted);
                    }
                }
                executed = inputs.finalized.next() => {
                    let Some(executed) = executed else { return };
                    self.prefetch_resolved(&executed.state);
                }
                _ = tick => {
                    next_tick = self.context.current() + TICK;
                    ticks += 1;
                    self.expire(ticks.is_multiple_of(RESYNC_TICKS));
                }
            }
            let keys = self.fetches.next_requests();
            if !keys.is_empty() {
                self.resolver.fetch_all(keys);
            }
        }
    }

    fn now(&self) -> SystemTime {
        self.context.current()
    }

    /// Whether a settlement seen in the mempool is worth a prefetch: its sender is one of the
    /// dispute's two parties (the only ones who may settle it) and has named fewer than
    /// [`SETTLEMENT_MANIFESTS_MAX`] manifests for it, so nobody else can fill the fetch slots
    /// with manifests no peer serves, and a party only a few.
    fn settlement_counts(&mut self, state: &State, seen: &SettlementSeen) -> bool {
        let Some(dispute) = state.disputes.get(&seen.job) else {
            return false;
        };
        if !plexus_state::dispute::is_party(state, &seen.job, dispute, &seen.sender) {
            return false;
        }
        let named = self
            .settlement_manifests
            .entry((seen.job, seen.sender.clone()))
            .or_default();
        if named.len() >= SETTLEMENT_MANIFESTS_MAX && !named.contains(&seen.manifest) {
            return false;
        }
        named.insert(seen.manifest);
        true
    }

    /// Asks for what of `wanted` the store lacks; for a manifest it holds, the pages it lacks.
    fn want(&mut self, wanted: Wanted) {
        let now = self.now();
        let job = wanted.job;
        for hash in wanted.content {
            if !self.store.contains(&hash) {
                self.fetches.want(Item::Job { job, hash }, now);
            }
        }
        if let Some(manifest) = wanted.manifest {
            if self.store.contains(&manifest) {
                self.want_pages(job, manifest);
            } else {
                self.fetches.want(
                    Item::Manifest {
                        job,
                        hash: manifest,
                    },
                    now,
                );
            }
        }
    }

    /// Asks for the pages a stored manifest lists that the store lacks. A manifest that does
    /// not decode is left alone: the settlement fails on it the same way on every node.
    fn want_pages(&mut self, job: Digest, manifest: ContentHash) {
        let Ok(Some(bytes)) = self.store.get(&manifest) else {
            return;
        };
        let Ok(decoded) = Manifest::decode(Bytes::from(bytes)) else {
            return;
        };
        let now = self.now();
        let pages: BTreeSet<ContentHash> = decoded.locators.iter().copied().collect();
        for hash in pages {
            if !self.store.contains(&hash) {
                self.fetches.want(
                    Item::Page {
                        job,
                        manifest,
                        hash,
                    },
                    now,
                );
            }
        }
    }

    /// Judges a peer's answer; stores completed content.
    fn deliver(
        &mut self,
        Deliver {
            key,
            value,
            verdict,
        }: Deliver,
    ) {
        let outcome = match self.fetches.deliver(&key, value) {
            Delivery::Ignored => Outcome::Ignored,
            Delivery::Invalid => {
                warn!(%key, "a peer sent content that does not match its name");
                Outcome::Invalid
            }
            // Not the sender's fault for certain (the outline may be the lie): nobody is
            // blocked, the item's piece keys are retired and its head is asked again.
            Delivery::Doubtful => {
                warn!(%key, "a piece does not match its outline: asking for the outline again");
                let keep = self.fetches.requested().clone();
                self.resolver.retain(move |key, _| keep.contains(key));
                Outcome::Ignored
            }
            Delivery::Accepted => Outcome::Resolved(Resolution::Complete),
            Delivery::Complete { item, bytes } => {
                let hash = item.hash();
                match self.store.put_expecting(&hash, &bytes) {
                    Ok(()) => {
                        info!(
                            content = %hash,
                            bytes = bytes.len(),
                            "fetched dispute content from peers"
                        );
                        if let Item::Manifest { job, hash } = item {
                            self.want_pages(job, hash);
                        }
                    }
                    Err(err) => warn!(%err, "cannot store fetched dispute content"),
                }
                Outcome::Resolved(Resolution::Complete)
            }
        };
        let _ = verdict.send(outcome);
    }

    /// Asks, once per dispute, for the module, blobs and input of every open dispute whose game
    /// is resolved: its settlement re-runs a segment of that job.
    fn prefetch_resolved(&mut self, state: &State) {
        let open: Vec<Digest> = state
            .disputes
            .iter()
            .filter(|(_, dispute)| dispute.ruling.is_none() && dispute.game.resolved().is_some())
            .map(|(job, _)| *job)
            .collect();
        self.prefetched.retain(|job| open.contains(job));
        self.settlement_manifests
            .retain(|(job, _), _| state.disputes.get(job).is_some_and(|d| d.ruling.is_none()));
        for job in open {
            if self.prefetched.insert(job)
                && let Some(wanted) = wanted_by(state, job, None)
            {
                debug!(job = %plexus_types::hash::digest_hex(&job), "prefetching a resolved dispute's content");
                self.want(wanted);
            }
        }
    }

    /// Drops what is past its deadline (and tells the resolver); on `resync`, hands the
    /// resolver every key still unanswered again.
    fn expire(&mut self, resync: bool) {
        let expired = self.fetches.expire(self.now());
        if expired > 0 {
            debug!(expired, "dispute content not found in time");
            let keep = self.fetches.requested().clone();
            self.resolver.retain(move |key, _| keep.contains(key));
        }
        if resync && !self.fetches.requested().is_empty() {
            self.resolver
                .fetch_all(self.fetches.requested().iter().copied().collect());
        }
    }
}

/// What settling `job`'s dispute with `manifest` re-runs from, by `state`: the job's module,
/// blobs and input, and the manifest unless the agreed pre-state is leaf 0 (the chain's own
/// request is built by `plexus_state::dispute`; this is only a prefetch). `None` unless the job
/// has an open, resolved dispute.
pub fn wanted_by(state: &State, job: Digest, manifest: Option<ContentHash>) -> Option<Wanted> {
    let dispute = state.disputes.get(&job)?;
    let (lo, _) = dispute.game.resolved()?;
    if dispute.ruling.is_some() {
        return None;
    }
    let record = state.jobs.get(&job)?;
    let mut content = vec![record.module, record.input];
    content.extend(record.blobs.iter().copied());
    Some(Wanted {
        job,
        content,
        manifest: manifest.filter(|_| lo.index > 0),
    })
}
