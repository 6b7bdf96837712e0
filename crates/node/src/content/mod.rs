//! Dispute content between validators: what a settlement's re-run reads, fetched by hash from
//! peers and checked, as marshal fetches blocks.
//!
//! Block execution re-runs a disputed segment from content (the job's module, blobs and input,
//! the agreed pre-state's manifest and its pages), which the parties upload to the one node they
//! talk to. Every other validator fetches it here, over p2p channel 8 with Commonware's p2p
//! resolver (peer selection, timeouts, retries, blocking a peer whose answer is refused):
//! - Keys name content and the dispute that needs it ([`wire`]); a peer serves only content the
//!   finalized state gives a reason for, and only bytes it checked ([`serve`]).
//! - Content over one piece (1 MiB) travels as an outline and pieces; every head and piece is
//!   checked against the content's BLAKE3 name before it is kept ([`state`],
//!   `plexus_blobs::pieces`), so a peer that sends bad bytes is known and blocked.
//! - Wants come from block execution (the replayer reports what it lacked, [`Wants`]), from
//!   settlements entering the mempool, and from disputes whose game resolves, so content is
//!   usually here before a block needs it. The block paths re-execute while it arrives
//!   (`plexus_chain::App`: bounded waits), and a proposer leaves out a settlement whose content it
//!   still lacks, so content nobody has never stalls block production.
//!
//! Limits: [`state::FETCHES_MAX`] items tracked, [`state::ACTIVE_MAX`] fetched at once,
//! [`state::ASSEMBLY_BYTES_MAX`] of pieces in memory, [`state::FETCH_TTL`] per item (retried until
//! then), [`ingress::SERVES_QUEUE_MAX`] requests waiting to be served, and the channel's quota.

mod actor;
mod ingress;
pub mod serve;
pub mod state;
pub mod wire;

pub use actor::wanted_by;
pub use ingress::{Wanted, Wants, WantsReceiver, wants};

use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_runtime::{Clock, Metrics, Spawner, Supervisor};
use commonware_utils::{NZDuration, NZUsize};
use futures::channel::mpsc;
use plexus_blobs::BlobStore;
use plexus_chain::App;
use plexus_types::PublicKey;
use rand::CryptoRng;
use std::{num::NonZeroUsize, sync::Arc, time::Duration};

/// Settlements seen entering the mempool, queued for prefetching; more are dropped.
const SETTLEMENTS_QUEUE_MAX: usize = 256;

/// The resolver's mailbox backlog.
const RESOLVER_MAILBOX: NonZeroUsize = NZUsize!(1024);

/// How long a peer has to answer one request (a piece is 1 MiB).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause before a key is asked of another peer after a miss.
const FETCH_RETRY_DELAY: Duration = Duration::from_millis(200);

/// The node's content store and the wants block execution reports.
pub struct Content {
    pub store: Arc<BlobStore>,
    pub wanted: WantsReceiver,
}

/// Starts the content actor and its resolver on `channel`.
pub fn start<E, S, R, P, B>(
    context: E,
    me: PublicKey,
    app: App,
    content: Content,
    channel: (S, R),
    peers: P,
    blocker: B,
) where
    E: Clock + CryptoRng + Spawner + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let (deliveries_in, deliveries) = mpsc::unbounded();
    let (produces_in, produces) = mpsc::channel(ingress::SERVES_QUEUE_MAX);
    let handler = ingress::Handler {
        deliveries: deliveries_in,
        produces: produces_in,
    };
    let (engine, resolver) = commonware_resolver::p2p::Engine::new(
        context.child("resolver"),
        commonware_resolver::p2p::Config {
            peer_provider: peers,
            blocker,
            consumer: handler.clone(),
            producer: handler,
            mailbox_size: RESOLVER_MAILBOX,
            me: Some(me),
            fetch_timeout: NZDuration!(FETCH_TIMEOUT),
            fetch_retry_delay: FETCH_RETRY_DELAY,
            priority_requests: false,
            priority_responses: false,
        },
    );
    engine.start(channel);
    let (settlements_in, settlements) = mpsc::channel(SETTLEMENTS_QUEUE_MAX);
    app.watch_settlements(settlements_in);
    let (finalized_in, finalized) = mpsc::unbounded();
    app.watch_finalized(finalized_in);
    let inputs = actor::Inputs {
        wanted: content.wanted,
        settlements,
        finalized,
        deliveries,
        produces,
    };
    // Store reads and writes are synchronous (up to 64 MiB): a thread of its own.
    context.child("actor").dedicated().spawn(move |context| {
        actor::Actor {
            context,
            app,
            store: content.store,
            resolver,
            fetches: state::Fetches::default(),
            server: serve::Server::default(),
            prefetched: Default::default(),
            settlement_manifests: Default::default(),
        }
        .run(inputs)
    });
}
