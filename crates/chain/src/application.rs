//! The application simplex drives through marshal: propose from the mempool, verify by
//! re-execution, and hand finalized blocks (with marshal's acknowledgement) to the node.

use crate::{Beacons, ChainBlock, Executed, Ledger, LedgerError, Mempool, MempoolConfig};
use commonware_actor::Feedback;
use commonware_consensus::{
    Application, Reporter,
    marshal::{Update, ancestry::Ancestry},
    simplex::{scheme::ed25519::Scheme, types::Context},
};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_cryptography::{Digested, Digestible};
use commonware_runtime::Clock;
use commonware_utils::{Acknowledgement as _, acknowledgement::Exact};
use futures::{StreamExt, channel::mpsc};
use plexus_state::ApplyError;
use plexus_types::{BeaconPartial, BeaconSignature, Digest, PublicKey, SignedTransaction};
use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::{debug, warn};

/// How often a proposer looks for the beacon signature it waits for.
const BEACON_POLL: Duration = Duration::from_millis(5);

/// How many unseen ancestors a proposal may bring before it is refused.
pub const ANCESTRY_DEPTH_MAX: usize = 64;

/// Block pacing and size.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// This validator's identity (the `proposer` in headers).
    pub proposer: PublicKey,
    /// No block is proposed sooner than this after its parent's timestamp.
    pub block_time_min_ms: u64,
    /// With an empty mempool, wait this long after the parent before proposing an empty block.
    /// Must stay below simplex's leader timeout.
    pub idle_block_ms: u64,
    /// The most transactions per block.
    pub block_txs_max: usize,
    /// A proposal whose timestamp is further than this ahead of our clock is refused.
    pub clock_skew_max_ms: u64,
    pub mempool: MempoolConfig,
    /// This validator's share of the committee's beacon key (none on a full node).
    pub beacon_share: Option<Share>,
    /// How long a proposer waits for the beacon signature its block must carry before it gives
    /// up the view. Must stay below simplex's leader timeout.
    pub beacon_wait_ms: u64,
    /// How long verifying a proposal (or building on an unseen parent) waits for dispute
    /// content this node lacks, re-executing as it arrives, before it refuses the block. The
    /// node fetches the content from peers meanwhile. Must stay below simplex's timeouts.
    pub content_wait_ms: u64,
}

/// How long a finalized block whose dispute content this node lacks waits for it before the
/// node gives up (`FinalizeError::Execute`): a quorum executed the block, so peers hold the
/// content; only a network that lost it makes this node stop.
pub const FINALIZED_CONTENT_WAIT: Duration = Duration::from_secs(600);

/// How often a block whose dispute content is missing is executed again while it is fetched.
const CONTENT_POLL: Duration = Duration::from_millis(100);

/// A dispute settlement a client or a peer got into this node's mempool: the job and the
/// manifest of the pre-state its re-run starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementSeen {
    pub job: Digest,
    pub manifest: plexus_types::ContentHash,
    /// Who sent it (only the dispute's parties may settle it; the watcher checks).
    pub sender: plexus_types::Address,
}

/// A finalized block on its way to the node, which must persist it and then acknowledge.
pub struct Finalized {
    pub block: Digested<ChainBlock>,
    pub ack: Exact,
}

/// Why a finalized block could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum FinalizeError<E> {
    /// The network finalized a block this node cannot execute: a bug or a corrupted store.
    #[error("executing finalized block {height}: {source}")]
    Execute { height: u64, source: LedgerError },
    #[error("persisting a finalized block: {0}")]
    Persist(E),
}

struct Shared {
    cfg: AppConfig,
    ledger: Mutex<Ledger>,
    mempool: Mutex<Mempool>,
    finalized: mpsc::UnboundedSender<Finalized>,
    /// Where transactions admitted from this node's clients go to be gossiped to peers.
    gossip: Mutex<Option<mpsc::UnboundedSender<Vec<SignedTransaction>>>>,
    /// The finalized tip (see `finalized`).
    tip: Mutex<Arc<Executed>>,
    beacons: Mutex<Beacons>,
    /// Where every newly finalized block's execution goes (the beacon reshare follows them).
    finalized_watchers: Mutex<Vec<mpsc::UnboundedSender<Arc<Executed>>>>,
    /// Where this validator's beacon partials go to be sent to the committee.
    beacon_outbox: Mutex<Option<mpsc::UnboundedSender<(u64, BeaconPartial)>>>,
    /// Where admitted dispute settlements go (the node prefetches their content).
    settlements: Mutex<Option<mpsc::Sender<SettlementSeen>>>,
}

/// The Plexus application. Cloning shares it. Lock order: ledger, then mempool, then beacons.
#[derive(Clone)]
pub struct App {
    shared: Arc<Shared>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock is a bug that already stopped consensus; keep serving reads.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl App {
    /// Creates the application and the receiver of finalized blocks. The channel is unbounded in
    /// type but bounded in practice: marshal holds back deliveries beyond `max_pending_acks`.
    pub fn new(cfg: AppConfig, ledger: Ledger) -> (Self, mpsc::UnboundedReceiver<Finalized>) {
        let (sender, receiver) = mpsc::unbounded();
        let tip_executed = ledger.finalized().clone();
        let tip = &tip_executed.state;
        let mut beacons = Beacons::new(
            tip.beacon_sharing().clone(),
            cfg.beacon_share.clone(),
            tip.height,
        );
        // After a restart the next proposals need the signatures over the tip and the height
        // below it; peers get these partials when the beacon channel starts.
        for height in tip.height.saturating_sub(1).max(1)..=tip.height {
            beacons.release(height);
        }
        let app = App {
            shared: Arc::new(Shared {
                cfg,
                ledger: Mutex::new(ledger),
                mempool: Mutex::new(Mempool::default()),
                finalized: sender,
                gossip: Mutex::new(None),
                tip: Mutex::new(tip_executed.clone()),
                beacons: Mutex::new(beacons),
                finalized_watchers: Mutex::new(Vec::new()),
                beacon_outbox: Mutex::new(None),
                settlements: Mutex::new(None),
            }),
        };
        (app, receiver)
    }

    /// Sends this validator's beacon partials to `outbox` from now on, for the committee.
    pub fn beacon_to(&self, outbox: mpsc::UnboundedSender<(u64, BeaconPartial)>) {
        *lock(&self.shared.beacon_outbox) = Some(outbox);
    }

    /// The consensus committee (sorted, as signer indices count) of the epoch of `height`, if
    /// the finalized state still remembers that epoch: the current epoch's, the next one's once
    /// the current epoch's last block is final, and a few past ones.
    pub fn committee_at(&self, height: u64) -> Option<commonware_utils::ordered::Set<PublicKey>> {
        let executed = self.finalized();
        let state = &executed.state;
        let committee = state.epoch_committees.get(&state.epoch_of(height))?;
        Some(commonware_utils::ordered::Set::from_iter_dedup(
            committee.iter().map(|a| a.0.clone()),
        ))
    }

    /// Sends the execution of every block finalized from now on, in order, to `watcher`.
    pub fn watch_finalized(&self, watcher: mpsc::UnboundedSender<Arc<Executed>>) {
        lock(&self.shared.finalized_watchers).push(watcher);
    }

    /// Sends every dispute settlement admitted to the mempool from now on to `watcher`, so the
    /// content its re-run needs can be fetched before a block carries it. Settlements that find
    /// the watcher's queue full are not sent (the block paths fetch what is missing anyway).
    pub fn watch_settlements(&self, watcher: mpsc::Sender<SettlementSeen>) {
        *lock(&self.shared.settlements) = Some(watcher);
    }

    /// Runs `f` with the beacon exchange locked.
    pub fn with_beacons<T>(&self, f: impl FnOnce(&mut Beacons) -> T) -> T {
        f(&mut lock(&self.shared.beacons))
    }

    /// Releases this validator's beacon shares for heights `from..=to` (it holds a valid chain
    /// up to `to`) and sends the new partials to the committee.
    pub fn release_beacon(&self, from: u64, to: u64) {
        let partials: Vec<_> = self.with_beacons(|beacons| {
            (from.max(1)..=to)
                .filter_map(|height| beacons.release(height).map(|p| (height, p)))
                .collect()
        });
        if let Some(outbox) = lock(&self.shared.beacon_outbox).as_ref() {
            for partial in partials {
                let _ = outbox.unbounded_send(partial);
            }
        }
    }

    /// Waits for the beacon signature the block at `height` must carry (none for the first
    /// blocks). `Err` if it did not arrive within the configured wait.
    async fn beacon_for<E: Clock>(
        &self,
        clock: &E,
        height: u64,
    ) -> Result<Option<BeaconSignature>, u64> {
        let Some(signed) = plexus_types::beacon::signed_height(height) else {
            return Ok(None);
        };
        let deadline = clock.current() + Duration::from_millis(self.shared.cfg.beacon_wait_ms);
        loop {
            if let Some(signature) = self.with_beacons(|b| b.signature(signed)) {
                return Ok(Some(signature));
            }
            if clock.current() >= deadline {
                return Err(signed);
            }
            clock.sleep(BEACON_POLL).await;
        }
    }

    /// The last finalized block with its post-state and receipts. Read from a copy of the tip
    /// kept under its own lock, never the ledger's: the ledger is locked while a block executes,
    /// and a reader that blocked on it would stall one of the runtime's worker threads for that
    /// long (on two cores, half the node).
    pub fn finalized(&self) -> Arc<Executed> {
        lock(&self.shared.tip).clone()
    }

    /// Runs `f` with the ledger locked.
    pub fn with_ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        f(&lock(&self.shared.ledger))
    }

    /// Runs `f` with the mempool locked.
    pub fn with_mempool<T>(&self, f: impl FnOnce(&Mempool) -> T) -> T {
        f(&lock(&self.shared.mempool))
    }

    /// Admits a transaction whose signature the caller has verified.
    pub fn submit(&self, tx: SignedTransaction, hash: Digest) -> Result<Digest, crate::AdmitError> {
        let mut results = self.submit_batch(vec![(tx, hash)]);
        results.pop().expect("one result per transaction")
    }

    /// Signs `payload` as the next transaction of `key`'s account (the chain's minimum fee) and
    /// admits it like a client's: what a node submits on its own behalf (evidence, participation
    /// records, reshare logs).
    pub fn submit_from(
        &self,
        key: &plexus_types::PrivateKey,
        payload: plexus_types::Payload,
    ) -> Result<Digest, crate::AdmitError> {
        use commonware_cryptography::Signer as _;
        let sender = plexus_types::Address(key.public_key());
        let (chain_id, fee) = {
            let tip = self.finalized();
            (tip.state.chain_id, tip.state.params.fee_min)
        };
        let tx = plexus_types::Transaction {
            chain_id,
            nonce: self.next_nonce(&sender),
            sender,
            fee,
            payload,
        }
        .sign(key);
        let hash = tx.hash();
        self.submit(tx, hash)
    }

    /// Sends every transaction this node's clients get admitted from now on to `outbox`, for
    /// gossip to the other validators (whichever leads next can then include it).
    pub fn gossip_to(&self, outbox: mpsc::UnboundedSender<Vec<SignedTransaction>>) {
        *lock(&self.shared.gossip) = Some(outbox);
    }

    /// Admits many transactions from this node's clients (signatures verified by the caller)
    /// under one lock, and passes the admitted ones on for gossip.
    pub fn submit_batch(
        &self,
        txs: Vec<(SignedTransaction, Digest)>,
    ) -> Vec<Result<Digest, crate::AdmitError>> {
        let gossip = lock(&self.shared.gossip).clone();
        let mut admitted = Vec::new();
        let results = self.admit(txs, gossip.is_some().then_some(&mut admitted));
        if let Some(outbox) = gossip
            && !admitted.is_empty()
        {
            let _ = outbox.unbounded_send(admitted);
        }
        results
    }

    /// Admits transactions a peer gossiped (signatures verified by the caller); they are not
    /// gossiped again. Returns how many entered the mempool.
    pub fn admit_gossiped(&self, txs: Vec<(SignedTransaction, Digest)>) -> usize {
        self.admit(txs, None).iter().filter(|r| r.is_ok()).count()
    }

    /// The checks that need no signature (`Mempool::precheck`) for each transaction, against
    /// the finalized tip: callers verify signatures only of what passes.
    pub fn precheck(
        &self,
        txs: &[(SignedTransaction, Digest)],
    ) -> Vec<Result<(), crate::AdmitError>> {
        let mempool = lock(&self.shared.mempool);
        let tip = self.finalized();
        txs.iter()
            .map(|(tx, hash)| {
                let account = tip.state.account(&tx.tx.sender);
                mempool.precheck(&self.shared.cfg.mempool, tx, hash, &account)
            })
            .collect()
    }

    /// Admits against the finalized tip, never under the ledger's lock (held while a block is
    /// built or executed). The mempool's lock is taken first: `commit_finalized` moves the tip
    /// and evicts under it, so admission always sees a tip and a mempool that agree.
    fn admit(
        &self,
        txs: Vec<(SignedTransaction, Digest)>,
        mut admitted: Option<&mut Vec<SignedTransaction>>,
    ) -> Vec<Result<Digest, crate::AdmitError>> {
        let mut mempool = lock(&self.shared.mempool);
        let tip = self.finalized();
        let state = &tip.state;
        txs.into_iter()
            .map(|(tx, hash)| {
                let account = state.account(&tx.tx.sender);
                let copy = admitted.is_some().then(|| tx.clone());
                let settlement = match tx.tx.payload {
                    plexus_types::Payload::DisputeSettle { job, manifest } => {
                        Some(SettlementSeen {
                            job,
                            manifest,
                            sender: tx.tx.sender.clone(),
                        })
                    }
                    _ => None,
                };
                let result = mempool.admit(&self.shared.cfg.mempool, tx, hash, &account);
                if let (Ok(_), Some(out), Some(copy)) = (&result, admitted.as_deref_mut(), copy) {
                    out.push(copy);
                }
                if let (Ok(_), Some(settlement)) = (&result, settlement)
                    && let Some(watcher) = lock(&self.shared.settlements).as_mut()
                {
                    let _ = watcher.try_send(settlement);
                }
                result
            })
            .collect()
    }

    /// Executes a block delivered by marshal as finalized (or returns its cached execution)
    /// without advancing anything: the caller stores it, then calls `commit_finalized`.
    pub fn execute_finalized(&self, block: &ChainBlock) -> Result<Arc<Executed>, LedgerError> {
        lock(&self.shared.ledger).verify(block.shared())
    }

    /// Makes a stored finalized block the ledger's tip and evicts from the mempool every nonce it
    /// consumed, and every transaction it rejected for a reason that would repeat forever.
    pub fn commit_finalized(&self, executed: &Arc<Executed>) {
        let mut ledger = lock(&self.shared.ledger);
        // Tip and eviction move together under the mempool's lock (see `admit`).
        let mut mempool = lock(&self.shared.mempool);
        ledger.advance(executed.clone());
        *lock(&self.shared.tip) = executed.clone();
        lock(&self.shared.finalized_watchers)
            .retain(|watcher| watcher.unbounded_send(executed.clone()).is_ok());
        let mut senders: Vec<_> = executed.block.txs.iter().map(|t| &t.tx.sender).collect();
        senders.sort();
        senders.dedup();
        for sender in senders {
            mempool.evict_below(sender, executed.state.account(sender).nonce);
        }
        // What is left of a rejected transaction has a nonce at or above the account's. A bad
        // nonce may still become good (a later nonce placed first); any other rejection will
        // repeat forever, so it goes, with the nonces that queue behind it.
        for receipt in &executed.receipts {
            if let plexus_types::Status::Rejected(reason) = receipt.status
                && reason != plexus_types::Reason::BadNonce
            {
                mempool.evict_rejected(&receipt.tx_hash);
            }
        }
    }

    /// Finalizes one block marshal delivered: a redelivery (at or below our tip, after a
    /// restart) is acknowledged at once; otherwise the block is executed, handed to `persist`,
    /// made the tip, and only then acknowledged, so marshal never forgets a block that was not
    /// persisted. A block that settles a dispute whose content this node lacks waits for it (the
    /// node fetches it from peers) up to [`FINALIZED_CONTENT_WAIT`]. Returns the execution of a
    /// newly finalized block.
    pub async fn finalize<C: Clock, E>(
        &self,
        clock: &C,
        finalized: Finalized,
        persist: impl FnOnce(&Arc<Executed>) -> Result<(), E>,
    ) -> Result<Option<Arc<Executed>>, FinalizeError<E>> {
        let Finalized { block, ack } = finalized;
        let chain_block = block.inner();
        let height = chain_block.block().header.height;
        if height <= self.finalized().state.height {
            ack.acknowledge();
            return Ok(None);
        }
        let executed = with_content(clock, FINALIZED_CONTENT_WAIT, height, || {
            self.execute_finalized(chain_block)
        })
        .await
        .map_err(|source| FinalizeError::Execute { height, source })?;
        persist(&executed).map_err(FinalizeError::Persist)?;
        self.commit_finalized(&executed);
        self.with_beacons(|beacons| beacons.set_tip(height));
        self.release_beacon(height, height);
        ack.acknowledge();
        Ok(Some(executed))
    }

    /// The nonce the sender's next transaction must carry: its account nonce after the last
    /// finalized block plus what it has pending here.
    pub fn next_nonce(&self, sender: &plexus_types::Address) -> u64 {
        let mempool = lock(&self.shared.mempool);
        let nonce = self.finalized().state.account(sender).nonce;
        nonce + mempool.pending_count(sender) as u64
    }

    /// Executes `block`, first executing (and verifying) every ancestor the ledger has not seen,
    /// pulled from marshal's `ancestry` stream (newest first). A block whose branch leaves the
    /// finalized chain, or lies deeper than `ANCESTRY_DEPTH_MAX`, is refused. Dispute content
    /// this node lacks is waited for up to `content_wait_ms`.
    async fn execute_ancestry<E: Clock>(
        &self,
        clock: &E,
        block: Digested<ChainBlock>,
        ancestry: &mut impl Ancestry<ChainBlock>,
    ) -> Result<(), LedgerError> {
        let height = block.inner().block().header.height;
        let missing = self.unseen_ancestry(block, ancestry).await?;
        let wait = Duration::from_millis(self.shared.cfg.content_wait_ms);
        with_content(clock, wait, height, || {
            let mut ledger = lock(&self.shared.ledger);
            for block in missing.iter().rev() {
                ledger.verify(block.inner().shared())?;
            }
            Ok(())
        })
        .await
    }

    /// `block` and the ancestors the ledger has not executed, newest first, pulled from
    /// marshal's `ancestry` stream.
    async fn unseen_ancestry(
        &self,
        block: Digested<ChainBlock>,
        ancestry: &mut impl Ancestry<ChainBlock>,
    ) -> Result<Vec<Digested<ChainBlock>>, LedgerError> {
        let mut missing = vec![block];
        loop {
            let newest_missing = missing.last().expect("never empty");
            let parent = newest_missing.inner().block().header.parent;
            let (known, finalized_height) = self.with_ledger(|l| {
                (
                    l.executed(&newest_missing.digest()).is_some() || l.executed(&parent).is_some(),
                    l.finalized().state.height,
                )
            });
            if known {
                return Ok(missing);
            }
            let height = newest_missing.inner().block().header.height;
            if missing.len() >= ANCESTRY_DEPTH_MAX || height <= finalized_height + 1 {
                return Err(LedgerError::UnknownParent(parent));
            }
            match ancestry.next().await {
                Some(ancestor) if ancestor.digest() == parent => missing.push(ancestor),
                _ => return Err(LedgerError::UnknownParent(parent)),
            }
        }
    }

    /// Waits until the block after `parent_ms` is due: at least the minimum block time, and
    /// either work in the mempool or the idle interval elapsed.
    async fn pace<E: Clock>(&self, clock: &E, parent_ms: u64) {
        let cfg = &self.shared.cfg;
        let earliest =
            UNIX_EPOCH + Duration::from_millis(parent_ms.saturating_add(cfg.block_time_min_ms));
        clock.sleep_until(earliest).await;
        let idle_deadline = parent_ms.saturating_add(cfg.idle_block_ms);
        while unix_ms(clock.current()) < idle_deadline && self.with_mempool(Mempool::is_empty) {
            clock.sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Runs `execute` until it stops failing for want of dispute content, or `wait` has passed:
/// the node fetches content a failed execution names, so a later attempt may find it.
async fn with_content<C: Clock, T>(
    clock: &C,
    wait: Duration,
    height: u64,
    mut execute: impl FnMut() -> Result<T, LedgerError>,
) -> Result<T, LedgerError> {
    let deadline = clock.current() + wait;
    let mut waited = false;
    loop {
        match execute() {
            Err(LedgerError::Apply(ApplyError::ContentUnavailable { what, .. }))
                if clock.current() < deadline =>
            {
                if !waited {
                    debug!(height, %what, "waiting for dispute content from peers");
                    waited = true;
                }
                clock.sleep(CONTENT_POLL).await;
            }
            result => return result,
        }
    }
}

impl<E: Clock + Send + 'static> Application<E> for App {
    type SigningScheme = Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (clock, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> Option<Digested<Self::Block>> {
        let parent = ancestry.next().await?;
        self.pace(&clock, parent.inner().block().header.timestamp_ms)
            .await;
        let now_ms = unix_ms(clock.current());
        if let Err(err) = self
            .execute_ancestry(&clock, parent.clone(), &mut ancestry)
            .await
        {
            warn!(%err, "cannot execute the parent to build on");
            return None;
        }
        let parent_height = parent.inner().block().header.height;
        let height = parent_height + 1;
        // The parent and its ancestors executed: we hold valid blocks up to the parent.
        if let Some(signed) = plexus_types::beacon::signed_height(height) {
            self.release_beacon(signed, parent_height);
        }
        let beacon = match self.beacon_for(&clock, height).await {
            Ok(beacon) => beacon,
            Err(signed) => {
                warn!(height, signed, "no beacon signature in time; not proposing");
                return None;
            }
        };
        let mut ledger = lock(&self.shared.ledger);
        let parent_state = &ledger.executed(&parent.digest())?.state;
        let txs: Vec<SignedTransaction> = lock(&self.shared.mempool)
            .select(self.shared.cfg.block_txs_max, |sender| {
                parent_state.account(sender).nonce
            })
            .into_iter()
            .map(|tx| (*tx).clone())
            .collect();
        let proposer = self.shared.cfg.proposer.clone();
        match ledger.build(&parent.digest(), txs, now_ms, proposer, beacon) {
            Ok(executed) => {
                let finalized_height = ledger.finalized().state.height;
                drop(ledger);
                self.release_beacon(finalized_height + 1, height);
                let digest = executed.state.block_hash;
                let block = ChainBlock::with_digest(executed.block.clone(), digest);
                debug!(
                    height = executed.state.height,
                    txs = block.block().txs.len(),
                    "proposed"
                );
                Some(Digested::precomputed(block, digest))
            }
            Err(err) => {
                warn!(%err, "failed to build a block");
                None
            }
        }
    }

    async fn verify(
        &mut self,
        (clock, context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let header = &block.inner().block().header;
        if header.proposer != context.leader {
            warn!(
                height = header.height,
                "proposal names a proposer other than the view's leader"
            );
            return false;
        }
        let now_ms = unix_ms(clock.current());
        if header.timestamp_ms > now_ms + self.shared.cfg.clock_skew_max_ms {
            warn!(
                height = header.height,
                "proposal timestamp is in the future"
            );
            return false;
        }
        let result = self
            .execute_ancestry(&clock, block.clone(), &mut ancestry)
            .await;
        match result {
            Ok(_) => {
                let finalized_height = self.finalized().state.height;
                self.release_beacon(finalized_height + 1, header.height);
                true
            }
            Err(err) => {
                warn!(%err, height = header.height, "refused a proposal");
                false
            }
        }
    }
}

impl Reporter for App {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, update: Self::Activity) -> Feedback {
        match update {
            Update::Tip(..) => Feedback::Ok,
            Update::Block(block, ack) => {
                match self
                    .shared
                    .finalized
                    .unbounded_send(Finalized { block, ack })
                {
                    Ok(()) => Feedback::Ok,
                    Err(_) => Feedback::Closed,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MempoolConfig;
    use commonware_cryptography::Signer;
    use futures::Stream;
    use plexus_state::{Genesis, GenesisValidator, Params};
    use plexus_types::{Address, Block, PLX, PrivateKey};
    use std::{
        collections::VecDeque,
        pin::Pin,
        task::{Context as TaskContext, Poll},
    };

    /// Marshal's ancestry stream, played from a list (newest first).
    #[derive(Clone)]
    struct Replay(VecDeque<Digested<ChainBlock>>);

    impl Stream for Replay {
        type Item = Digested<ChainBlock>;
        fn poll_next(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    impl Ancestry<ChainBlock> for Replay {
        fn peek(&self) -> Option<&Digested<ChainBlock>> {
            self.0.front()
        }
    }

    fn ledger() -> Ledger {
        let key = PrivateKey::from_seed(0);
        Ledger::genesis(&Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: vec![(Address(key.public_key()), 20_000 * PLX)],
            validators: vec![GenesisValidator {
                address: Address(key.public_key()),
                self_bond: 10_000 * PLX,
            }],
            beacon: dev_beacon().output,
        })
        .unwrap()
    }

    fn dev_beacon() -> plexus_state::beacon::DevBeacon {
        plexus_state::beacon::DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()])
    }

    fn new_app() -> App {
        let cfg = AppConfig {
            proposer: PrivateKey::from_seed(0).public_key(),
            block_time_min_ms: 0,
            idle_block_ms: 0,
            block_txs_max: 10,
            clock_skew_max_ms: 0,
            mempool: MempoolConfig {
                chain_id: 1,
                fee_min: 1,
                txs_max: 10,
                per_account_max: 10,
            },
            beacon_share: Some(dev_beacon().shares[0].1.clone()),
            beacon_wait_ms: 0,
            content_wait_ms: 0,
        };
        App::new(cfg, ledger()).0
    }

    fn digested(block: &Arc<Block>) -> Digested<ChainBlock> {
        let chain_block = ChainBlock::new((**block).clone());
        let digest = chain_block.digest();
        Digested::precomputed(chain_block, digest)
    }

    #[test]
    fn unseen_ancestors_are_executed_oldest_first() {
        // Someone else built three blocks; our app has seen none of them.
        let mut theirs = ledger();
        let mut parent = theirs.finalized().state.block_hash;
        let mut blocks = Vec::new();
        for t in 1..=3 {
            let executed = theirs
                .build(
                    &parent,
                    Vec::new(),
                    t,
                    PrivateKey::from_seed(0).public_key(),
                    dev_beacon().block_signature(t),
                )
                .unwrap();
            parent = executed.state.block_hash;
            blocks.push(executed.block.clone());
        }
        use commonware_runtime::{Runner as _, deterministic};
        deterministic::Runner::default().start(|clock| async move {
            let app = new_app();
            let newest = digested(&blocks[2]);
            let mut ancestry = Replay(VecDeque::from(vec![
                digested(&blocks[1]),
                digested(&blocks[0]),
            ]));
            app.execute_ancestry(&clock, newest, &mut ancestry)
                .await
                .unwrap();
            assert!(app.with_ledger(|l| l.executed(&blocks[2].digest()).is_some()));

            // A branch whose ancestry runs out before reaching a known block is refused.
            let app = new_app();
            let mut short = Replay(VecDeque::from(vec![digested(&blocks[1])]));
            let result = app
                .execute_ancestry(&clock, digested(&blocks[2]), &mut short)
                .await;
            assert!(matches!(result, Err(LedgerError::UnknownParent(_))));
        });
    }

    #[test]
    fn missing_content_is_waited_for_a_bounded_time() {
        use commonware_runtime::{Runner as _, deterministic};
        fn unavailable<T>() -> Result<T, LedgerError> {
            Err(LedgerError::Apply(ApplyError::ContentUnavailable {
                tx: plexus_types::hash(&[b"settle"]),
                what: "manifest".into(),
            }))
        }
        deterministic::Runner::default().start(|clock| async move {
            // Content that arrives after three attempts: the fourth execution succeeds.
            let mut attempts = 0;
            let result = with_content(&clock, Duration::from_secs(2), 5, || {
                attempts += 1;
                if attempts < 4 {
                    unavailable()
                } else {
                    Ok(attempts)
                }
            })
            .await;
            assert_eq!(result, Ok(4));
            // Content that never arrives: refused once the wait is over, not before.
            let started = clock.current();
            let result: Result<(), _> =
                with_content(&clock, Duration::from_secs(2), 5, unavailable::<()>).await;
            assert!(matches!(
                result,
                Err(LedgerError::Apply(ApplyError::ContentUnavailable { .. }))
            ));
            let waited = clock.current().duration_since(started).unwrap();
            assert!(
                waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
                "{waited:?}"
            );
            // Any other failure ends at once.
            let result: Result<(), _> = with_content(&clock, Duration::from_secs(2), 5, || {
                Err(LedgerError::Signature)
            })
            .await;
            assert_eq!(result, Err(LedgerError::Signature));
        });
    }

    #[test]
    fn verify_refuses_a_proposer_that_is_not_the_leader() {
        use commonware_consensus::types::{Epoch, Round, View};
        use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
        let leader = PrivateKey::from_seed(0).public_key();
        let mut theirs = ledger();
        let genesis = theirs.finalized().state.block_hash;
        // Timestamp 0: the deterministic clock starts at the epoch and the app allows no skew.
        let block = theirs
            .build(&genesis, Vec::new(), 0, leader.clone(), None)
            .unwrap()
            .block
            .clone();
        let context = |leader| Context {
            round: Round::new(Epoch::zero(), View::new(1)),
            leader,
            parent: (View::zero(), genesis),
        };
        let verdicts = deterministic::Runner::default().start(|clock| async move {
            let mut app = new_app();
            let one = |b: &Arc<Block>| Replay(VecDeque::from(vec![digested(b)]));
            let impostor = PrivateKey::from_seed(5).public_key();
            let wrong = Application::verify(
                &mut app,
                (clock.child("wrong"), context(impostor)),
                one(&block),
            )
            .await;
            let right = Application::verify(&mut app, (clock, context(leader)), one(&block)).await;
            (wrong, right)
        });
        assert_eq!(verdicts, (false, true));
    }

    #[test]
    fn client_admissions_are_gossiped_and_gossiped_ones_are_not_sent_again() {
        use plexus_types::{Payload, Transaction};
        let app = new_app();
        let (outbox, mut inbox) = mpsc::unbounded();
        app.gossip_to(outbox);
        let key = PrivateKey::from_seed(0);
        let transfer = |nonce| {
            let tx = Transaction {
                chain_id: 1,
                sender: Address(key.public_key()),
                nonce,
                fee: 1_000,
                payload: Payload::Transfer {
                    to: Address(PrivateKey::from_seed(9).public_key()),
                    amount: 1,
                },
            }
            .sign(&key);
            let hash = tx.hash();
            (tx, hash)
        };
        // Nonce 0 is admitted, nonce 5 is refused (a gap): only nonce 0 goes out.
        let results = app.submit_batch(vec![transfer(0), transfer(5)]);
        assert!(results[0].is_ok() && results[1].is_err());
        let sent = inbox.try_recv().expect("one batch");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].tx.nonce, 0);
        // What a peer gossiped enters the mempool but is not passed on again.
        assert_eq!(app.admit_gossiped(vec![transfer(1)]), 1);
        assert!(inbox.try_recv().is_err());
        assert_eq!(app.next_nonce(&Address(key.public_key())), 2);
    }

    #[test]
    fn a_rejected_duplicate_does_not_evict_the_senders_later_nonces() {
        use plexus_types::{Payload, Transaction};
        let app = new_app();
        let key = PrivateKey::from_seed(0);
        let transfer = |nonce| {
            Transaction {
                chain_id: 1,
                sender: Address(key.public_key()),
                nonce,
                fee: 1_000,
                payload: Payload::Transfer {
                    to: Address(PrivateKey::from_seed(9).public_key()),
                    amount: 1,
                },
            }
            .sign(&key)
        };
        for nonce in 0..2 {
            let tx = transfer(nonce);
            let hash = tx.hash();
            app.submit(tx, hash).unwrap();
        }
        // A block (from some other leader) carrying nonce 0 twice: the copy is rejected.
        let executed = {
            let mut ledger = lock(&app.shared.ledger);
            let genesis = ledger.finalized().state.block_hash;
            ledger
                .build(
                    &genesis,
                    vec![transfer(0), transfer(0)],
                    0,
                    key.public_key(),
                    None,
                )
                .unwrap()
        };
        assert_eq!(
            executed.receipts[1].status,
            plexus_types::Status::Rejected(plexus_types::Reason::BadNonce)
        );
        app.commit_finalized(&executed);
        let sender = Address(key.public_key());
        assert_eq!(
            app.with_mempool(|m| m.pending_count(&sender)),
            1,
            "nonce 1 must stay"
        );
        assert_eq!(app.next_nonce(&sender), 2);
    }
}
