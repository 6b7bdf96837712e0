//! The application simplex drives through marshal: propose from the mempool, verify by
//! re-execution, and hand finalized blocks (with marshal's acknowledgement) to the node.

use crate::{ChainBlock, Executed, Ledger, LedgerError, Mempool, MempoolConfig};
use commonware_actor::Feedback;
use commonware_consensus::{
    Application, Reporter,
    marshal::{Update, ancestry::Ancestry},
    simplex::{scheme::ed25519::Scheme, types::Context},
};
use commonware_cryptography::{Digested, Digestible};
use commonware_runtime::Clock;
use commonware_utils::acknowledgement::Exact;
use futures::{StreamExt, channel::mpsc};
use plexus_types::{Digest, PublicKey, SignedTransaction};
use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::{debug, warn};

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
}

/// A finalized block on its way to the node, which must persist it and then acknowledge.
pub struct Finalized {
    pub block: Digested<ChainBlock>,
    pub ack: Exact,
}

struct Shared {
    cfg: AppConfig,
    ledger: Mutex<Ledger>,
    mempool: Mutex<Mempool>,
    finalized: mpsc::UnboundedSender<Finalized>,
}

/// The Plexus application. Cloning shares it. Lock order: ledger, then mempool.
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
        let app = App {
            shared: Arc::new(Shared {
                cfg,
                ledger: Mutex::new(ledger),
                mempool: Mutex::new(Mempool::default()),
                finalized: sender,
            }),
        };
        (app, receiver)
    }

    pub fn config(&self) -> &AppConfig {
        &self.shared.cfg
    }

    /// The last finalized block with its post-state and receipts. The lock is held only to clone
    /// the `Arc`, so readers (the API) never stall block production.
    pub fn finalized(&self) -> Arc<Executed> {
        lock(&self.shared.ledger).finalized().clone()
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
        let ledger = lock(&self.shared.ledger);
        let account = ledger.finalized().state.account(&tx.tx.sender);
        lock(&self.shared.mempool).admit(&self.shared.cfg.mempool, tx, hash, &account)
    }

    /// Admits many transactions (signatures verified by the caller) under one lock.
    pub fn submit_batch(
        &self,
        txs: Vec<(SignedTransaction, Digest)>,
    ) -> Vec<Result<Digest, crate::AdmitError>> {
        let ledger = lock(&self.shared.ledger);
        let state = &ledger.finalized().state;
        let mut mempool = lock(&self.shared.mempool);
        txs.into_iter()
            .map(|(tx, hash)| {
                let account = state.account(&tx.tx.sender);
                mempool.admit(&self.shared.cfg.mempool, tx, hash, &account)
            })
            .collect()
    }

    /// Finalizes a block delivered by marshal: executes it if needed, advances the ledger and
    /// evicts consumed transactions from the mempool. The caller persists, then acknowledges.
    pub fn finalize(&self, block: &ChainBlock) -> Result<Arc<Executed>, LedgerError> {
        let mut ledger = lock(&self.shared.ledger);
        let executed = ledger.finalize(block.shared())?;
        let mut mempool = lock(&self.shared.mempool);
        let mut senders: Vec<_> = block.block().txs.iter().map(|t| &t.tx.sender).collect();
        senders.sort();
        senders.dedup();
        for sender in senders {
            mempool.evict_below(sender, executed.state.account(sender).nonce);
        }
        Ok(executed)
    }

    /// Waits until the block after `parent_ms` is due: at least the minimum block time, and
    /// either work in the mempool or the idle interval elapsed.
    async fn pace<E: Clock>(&self, clock: &E, parent_ms: u64) {
        let cfg = &self.shared.cfg;
        let earliest = UNIX_EPOCH + Duration::from_millis(parent_ms + cfg.block_time_min_ms);
        clock.sleep_until(earliest).await;
        let idle_deadline = parent_ms + cfg.idle_block_ms;
        while unix_ms(clock.current()) < idle_deadline && self.with_mempool(Mempool::is_empty) {
            clock.sleep(Duration::from_millis(10)).await;
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
        let mut ledger = lock(&self.shared.ledger);
        if ledger.executed(&parent.digest()).is_none()
            && let Err(err) = ledger.verify(parent.inner().shared())
        {
            warn!(%err, "cannot execute the parent to build on");
            return None;
        }
        let parent_state = &ledger.executed(&parent.digest())?.state;
        let txs: Vec<SignedTransaction> = lock(&self.shared.mempool)
            .select(self.shared.cfg.block_txs_max, |sender| {
                parent_state.account(sender).nonce
            })
            .into_iter()
            .map(|tx| (*tx).clone())
            .collect();
        let proposer = self.shared.cfg.proposer.clone();
        match ledger.build(&parent.digest(), txs, now_ms, proposer) {
            Ok(executed) => {
                let block = ChainBlock::new((*executed.block).clone());
                let digest = block.digest();
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
        (clock, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let header = &block.inner().block().header;
        let now_ms = unix_ms(clock.current());
        if header.timestamp_ms > now_ms + self.shared.cfg.clock_skew_max_ms {
            warn!(
                height = header.height,
                "proposal timestamp is in the future"
            );
            return false;
        }
        let result = lock(&self.shared.ledger).verify(block.inner().shared());
        match result {
            Ok(_) => true,
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
