//! Wires the Commonware stack for a validator: authenticated p2p, marshal (archives, backfill
//! resolver, block broadcast), the inline verification wrapper and the simplex engine, and
//! beside them gossip, the beacon, the reshare and dispute content (`crate::content`). The
//! consensus part is generic over the runtime and the network, so the simulation runs the very
//! same wiring on Commonware's deterministic runtime and simulated p2p.

use crate::epocher::ChainEpocher;
use commonware_broadcast::buffered;
use commonware_consensus::{
    Application, Reporter,
    marshal::{
        self, Start, Update,
        core::Actor as MarshalActor,
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
    },
    simplex::{
        self,
        config::{Floor, ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        scheme::ed25519::Scheme,
    },
    types::{Epoch, Epocher as _, ViewDelta},
};
use commonware_cryptography::{Digested, Sha256, Signer, certificate, certificate::Verifier as _};
use commonware_p2p::{
    Blocker, Manager as _, Provider, Receiver, Sender,
    authenticated::discovery,
    utils::mux::{Builder as _, MuxHandle, Muxer},
};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Quota, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_storage::{archive::prunable, translator::TwoCap};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize, ordered::Set};
use plexus_chain::{App, ChainBlock};
use plexus_types::{Address, BLOCK_TXS_MAX, Digest, PrivateKey, PublicKey, TX_SIZE_MAX};
use rand::CryptoRng;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::Duration,
};
use tracing::{info, warn};

/// The namespace every consensus and p2p signature is made under.
pub const NAMESPACE: &[u8] = plexus_types::CONSENSUS_NAMESPACE;

/// One validator's consensus settings. `leader_timeout` must exceed the application's idle
/// block interval.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub key: PrivateKey,
    /// Prepended to every storage partition name: several validators can share one runtime's
    /// storage in simulation. Empty in a node.
    pub partition_prefix: String,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
}

const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 20);
const MAILBOX: NonZeroUsize = NZUsize!(1024);
const ITEMS_PER_SECTION: u64 = 4096;

fn archive_config<C>(
    name: &str,
    page_cache: CacheRef,
    codec_config: C,
) -> prunable::Config<TwoCap, C> {
    prunable::Config {
        translator: TwoCap,
        metadata_partition: format!("{name}-metadata"),
        key_partition: format!("{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{name}-value"),
        compression: None,
        codec_config,
        items_per_section: NZU64!(ITEMS_PER_SECTION),
        key_write_buffer: IO_BUFFER,
        value_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
    }
}

/// The p2p channels a validator uses, in registration order: votes, certificates, simplex's
/// resolver, marshal's backfill, the block broadcast, transaction gossip, beacon partials, the
/// beacon reshare's dealings and dispute content.
pub const CHANNELS: [u64; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/// The registered channel pairs, in the order of [`CHANNELS`].
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub simplex_resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub txs: (S, R),
    pub beacon: (S, R),
    pub reshare: (S, R),
    pub content: (S, R),
}

impl<S, R> Channels<S, R> {
    /// Takes the pairs in the order of [`CHANNELS`].
    pub fn from_ordered(pairs: Vec<(S, R)>) -> Option<Self> {
        let mut pairs = pairs.into_iter();
        let channels = Channels {
            votes: pairs.next()?,
            certificates: pairs.next()?,
            simplex_resolver: pairs.next()?,
            backfill: pairs.next()?,
            broadcast: pairs.next()?,
            txs: pairs.next()?,
            beacon: pairs.next()?,
            reshare: pairs.next()?,
            content: pairs.next()?,
        };
        pairs.next().is_none().then_some(channels)
    }
}

/// The rate each peer may send at on `channel`. The p2p layer sizes its queues by these bursts
/// times the peers it tracks, so they are what a peer needs, not more: a few votes and
/// certificates per view, occasional backfill, one block per view, a gossip batch every 10 ms,
/// a beacon partial or two per block, and dispute content in pieces of up to 1 MiB (a 64 MiB
/// blob from three peers in about a second).
pub fn channel_quota(channel: u64) -> Quota {
    match channel {
        0 | 1 => Quota::per_second(NZU32!(256)),
        2 | 3 => Quota::per_second(NZU32!(128)),
        4 | 8 => Quota::per_second(NZU32!(32)),
        _ => Quota::per_second(NZU32!(128)),
    }
}

/// Peers beyond two committees a node keeps room for (full nodes).
const EXTRA_PEERS: usize = 16;

/// The largest peer set a node tracks: the committee, the next one's new members and full
/// nodes. The p2p layer sizes its queues by this bound, so it is no larger than needed.
pub fn peer_set_max(committee: usize) -> usize {
    2 * committee + EXTRA_PEERS
}

/// What the epoch loop calls to track each epoch's peers on a node's discovery network: the
/// committee as primary peers; the next committee's new members and the full nodes this node
/// serves as secondary ones (trimmed to the set bound, never the committee).
pub fn peer_tracker(
    mut oracle: discovery::Oracle<PublicKey>,
    full_nodes: Vec<PublicKey>,
    bound: usize,
) -> impl FnMut(u64, Set<PublicKey>, Set<PublicKey>) + Send + 'static {
    move |epoch, primary, secondary| {
        let room = bound.saturating_sub(primary.len());
        let secondary = Set::from_iter_dedup(
            secondary
                .iter()
                .chain(full_nodes.iter())
                .filter(|k| primary.position(k).is_none())
                .take(room)
                .cloned(),
        );
        if primary.len() > bound {
            warn!(
                epoch,
                committee = primary.len(),
                bound,
                "the committee outgrew the peer set bound; restart the node to resize"
            );
            return;
        }
        oracle.track(epoch, commonware_p2p::TrackedPeers::new(primary, secondary));
    }
}

/// The largest p2p message: a full block.
pub fn max_message_size() -> u32 {
    (BLOCK_TXS_MAX * TX_SIZE_MAX / 16) as u32
}

/// Starts consensus (marshal, its resolver, the block broadcast and simplex) for this
/// validator over already-registered channels, on any Commonware runtime: the tokio one in a
/// node, the deterministic one in simulation. Consensus proposes and verifies through
/// `automaton` (the app itself in a node; simulation may wrap it), gossip feeds `app`'s mempool,
/// and finalized blocks reach `reporter` (the app, or a wrapper that observes and forwards to it)
/// as marshal updates. `content` is the store dispute re-runs read and the wants of the
/// replayer that reads it; content it lacks is fetched from peers. Without it (the simulation,
/// which settles no disputes) channel 8 is registered but unused.
#[allow(clippy::too_many_arguments)]
pub async fn start<E, S, R, P, B, A, F>(
    context: E,
    cfg: EngineConfig,
    app: App,
    automaton: A,
    reporter: F,
    genesis: ChainBlock,
    channels: Channels<S, R>,
    peers: P,
    blocker: B,
    track: impl FnMut(u64, Set<PublicKey>, Set<PublicKey>) + Send + 'static,
    durability: crate::reshare::Durability,
    content: Option<crate::content::Content>,
) -> Result<Started, commonware_storage::archive::Error>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
    A: Application<
            E,
            SigningScheme = Scheme,
            Context = simplex::types::Context<Digest, PublicKey>,
            Block = ChainBlock,
            Input = (),
        >,
    F: Reporter<Activity = Update<ChainBlock>>,
{
    let consensus_channels = ConsensusChannels {
        votes: channels.votes,
        certificates: channels.certificates,
        resolver: channels.simplex_resolver,
    };
    let (epocher, provider) = epoch_schemes(&app, &cfg.key);
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(1024));

    let transport = start_block_transport(
        &context,
        &cfg.key.public_key(),
        &peers,
        &blocker,
        channels.backfill,
        channels.broadcast,
    );
    start_services(
        &context,
        &cfg.key,
        &app,
        Services {
            txs: channels.txs,
            beacon: channels.beacon,
            reshare: channels.reshare,
            durability,
            content: content.map(|content| (content, channels.content)),
        },
        peers,
        &blocker,
    );
    let marshal = start_marshal(
        &context,
        &cfg.partition_prefix,
        &page_cache,
        &provider,
        &epocher,
        genesis,
        reporter,
        transport,
    )
    .await?;

    let (inline, faults) =
        start_verification(&context, &cfg.key, &app, automaton, &marshal, &epocher);
    let consensus = Consensus {
        cfg,
        app,
        marshal: marshal.clone(),
        provider,
        epocher,
        inline,
        faults,
        blocker,
        page_cache,
    };
    let handle = context
        .child("epochs")
        .spawn(move |context| consensus.run(context, consensus_channels, track));
    Ok(Started { handle, marshal })
}

/// The epoch boundaries (the chain's epoch schedule, as the finalized state knows it) and the
/// certificate schemes of the epochs the finalized state knows.
fn epoch_schemes(app: &App, key: &PrivateKey) -> (ChainEpocher, EpochProvider) {
    let epocher = ChainEpocher::new(app.clone());
    let provider = EpochProvider::new(key.clone());
    for (epoch, committee) in &app.finalized().state.epoch_committees {
        provider.register(*epoch, committee);
    }
    (epocher, provider)
}

/// Starts the inline verification wrapper every epoch's engine proposes and verifies through
/// (over `automaton`, asking marshal for blocks), and the submitter of the evidence of faults
/// the engines observe; returns the wrapper and where to report faults.
fn start_verification<E, A>(
    context: &E,
    key: &PrivateKey,
    app: &App,
    automaton: A,
    marshal: &MarshalMailbox,
    epocher: &ChainEpocher,
) -> (
    Inline<E, Scheme, A, ChainBlock, ChainEpocher>,
    futures::channel::mpsc::UnboundedSender<crate::evidence::Observed>,
)
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    A: Application<
            E,
            SigningScheme = Scheme,
            Context = simplex::types::Context<Digest, PublicKey>,
            Block = ChainBlock,
            Input = (),
        >,
{
    let inline = Inline::new(
        context.child("inline"),
        automaton,
        marshal.clone(),
        epocher.clone(),
    );
    let (faults, fault_inbox) = futures::channel::mpsc::unbounded();
    crate::evidence::start_submitter(
        context.child("evidence"),
        app.clone(),
        key.clone(),
        fault_inbox,
    );
    (inline, faults)
}

/// How blocks reach marshal from peers: the backfill resolver (fetches by digest or height) and
/// the broadcast buffer (blocks proposers send).
struct BlockTransport {
    resolver: (
        marshal::resolver::handler::Receiver<Digest>,
        marshal_resolver::Mailbox<Digest, PublicKey>,
    ),
    buffer: buffered::Mailbox<PublicKey, ChainBlock>,
}

/// Starts marshal's backfill resolver on `backfill` and the block broadcast on `broadcast`.
fn start_block_transport<E, S, R, P, B>(
    context: &E,
    me: &PublicKey,
    peers: &P,
    blocker: &B,
    backfill: (S, R),
    broadcast: (S, R),
) -> BlockTransport
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: MAILBOX,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: MAILBOX,
            deque_size: 10,
            priority: false,
            codec_config: BLOCK_TXS_MAX,
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(broadcast);
    BlockTransport { resolver, buffer }
}

/// The actors beside consensus and the channel each one owns.
struct Services<S, R> {
    txs: (S, R),
    beacon: (S, R),
    reshare: (S, R),
    durability: crate::reshare::Durability,
    /// The dispute content store and its channel; without a store the channel goes unused.
    content: Option<(crate::content::Content, (S, R))>,
}

/// Starts transaction gossip, the beacon, the beacon reshare and (given a store) the dispute
/// content actor.
fn start_services<E, S, R, P, B>(
    context: &E,
    key: &PrivateKey,
    app: &App,
    services: Services<S, R>,
    peers: P,
    blocker: &B,
) where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    crate::gossip::start(
        context.child("gossip"),
        app.clone(),
        services.txs,
        blocker.clone(),
    );
    crate::beacon::start(
        context.child("beacon"),
        app.clone(),
        services.beacon,
        blocker.clone(),
    );
    crate::reshare::start(
        context.child("reshare"),
        app.clone(),
        key.clone(),
        services.reshare,
        services.durability,
    );
    if let Some((content, channel)) = services.content {
        crate::content::start(
            context.child("content"),
            key.public_key(),
            app.clone(),
            content,
            channel,
            peers,
            blocker.clone(),
        );
    }
}

/// Opens marshal's archives (finalizations by height, finalized blocks) under `prefix` and
/// starts marshal from `genesis`: it takes blocks from `transport`, verifies finalizations with
/// `provider`'s schemes and delivers finalized blocks in order to `reporter`.
#[allow(clippy::too_many_arguments)]
async fn start_marshal<E, F>(
    context: &E,
    prefix: &str,
    page_cache: &CacheRef,
    provider: &EpochProvider,
    epocher: &ChainEpocher,
    genesis: ChainBlock,
    reporter: F,
    transport: BlockTransport,
) -> Result<MarshalMailbox, commonware_storage::archive::Error>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    F: Reporter<Activity = Update<ChainBlock>>,
{
    let finalizations = prunable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            &format!("{prefix}finalizations"),
            page_cache.clone(),
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await?;
    let blocks = prunable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(
            &format!("{prefix}blocks"),
            page_cache.clone(),
            BLOCK_TXS_MAX,
        ),
    )
    .await?;

    let genesis_digest = commonware_cryptography::Digestible::digest(&genesis);
    let (marshal_actor, marshal_mailbox, _floor) =
        MarshalActor::<_, Standard<ChainBlock>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: provider.clone(),
                epocher: epocher.clone(),
                start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
                partition_prefix: format!("{prefix}marshal"),
                mailbox_size: MAILBOX,
                view_retention: ViewDelta::new(1024),
                prunable_items_per_section: NZU64!(ITEMS_PER_SECTION),
                page_cache: page_cache.clone(),
                replay_buffer: IO_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: BLOCK_TXS_MAX,
                max_repair: NZUsize!(16),
                max_pending_acks: NZUsize!(16),
                strategy: Sequential,
            },
        )
        .await;
    marshal_actor.start(reporter, transport.buffer, transport.resolver);
    Ok(marshal_mailbox)
}

/// The certificate schemes of the epochs this node knows: each epoch's committee, signing for
/// the epochs this node is a member of. Marshal verifies every finalization it fetches with the
/// scheme of the finalization's epoch.
#[derive(Clone)]
pub struct EpochProvider {
    key: PrivateKey,
    schemes: Arc<Mutex<BTreeMap<Epoch, Arc<Scheme>>>>,
}

impl EpochProvider {
    fn new(key: PrivateKey) -> Self {
        EpochProvider {
            key,
            schemes: Arc::default(),
        }
    }

    /// Registers `epoch`'s committee (a no-op if known); forgets epochs far behind it.
    fn register(&self, epoch: u64, committee: &[Address]) {
        let Ok(participants) =
            Set::try_from(committee.iter().map(|a| a.0.clone()).collect::<Vec<_>>())
        else {
            return;
        };
        let scheme = Scheme::signer(NAMESPACE, participants.clone(), self.key.clone())
            .unwrap_or_else(|| Scheme::verifier(NAMESPACE, participants));
        let mut schemes = self.schemes.lock().unwrap_or_else(|p| p.into_inner());
        schemes
            .entry(Epoch::new(epoch))
            .or_insert_with(|| Arc::new(scheme));
        let keep = Epoch::new(epoch.saturating_sub(EPOCHS_KEPT));
        schemes.retain(|e, _| *e >= keep);
    }

    fn get(&self, epoch: u64) -> Option<Arc<Scheme>> {
        self.schemes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&Epoch::new(epoch))
            .cloned()
    }
}

impl certificate::Provider for EpochProvider {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, scope: Epoch) -> Option<certificate::Scoped<Scheme>> {
        // Always the full scope: marshal's notarization fetches ask for it, and a verifier-only
        // scheme simply cannot sign.
        self.get(scope.get()).map(certificate::Scoped::scheme)
    }
}

/// Epochs whose schemes marshal keeps (to verify what it backfills).
const EPOCHS_KEPT: u64 = 4;

/// The per-epoch consensus channels, each multiplexed by epoch.
pub struct ConsensusChannels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub resolver: (S, R),
}

/// Runs one simplex engine per epoch: the committee the finalized state names for the epoch
/// after the tip; a node outside it follows the chain through marshal instead.
struct Consensus<E, A, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    A: Application<
            E,
            SigningScheme = Scheme,
            Context = simplex::types::Context<Digest, PublicKey>,
            Block = ChainBlock,
            Input = (),
        >,
{
    cfg: EngineConfig,
    app: App,
    marshal: MarshalMailbox,
    provider: EpochProvider,
    epocher: ChainEpocher,
    inline: Inline<E, Scheme, A, ChainBlock, ChainEpocher>,
    faults: futures::channel::mpsc::UnboundedSender<crate::evidence::Observed>,
    blocker: B,
    page_cache: CacheRef,
}

impl<E, A, B> Consensus<E, A, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    A: Application<
            E,
            SigningScheme = Scheme,
            Context = simplex::types::Context<Digest, PublicKey>,
            Block = ChainBlock,
            Input = (),
        >,
    B: Blocker<PublicKey = PublicKey>,
{
    async fn run<S, R>(
        mut self,
        context: E,
        channels: ConsensusChannels<S, R>,
        mut track: impl FnMut(u64, Set<PublicKey>, Set<PublicKey>) + Send + 'static,
    ) where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let mut muxes = EpochMuxes::start(&context, channels);
        loop {
            let Some(epoch) = self.enter_epoch(&context, &mut muxes, &mut track).await else {
                return;
            };
            self.wait_for_epoch_end(&context, &mut muxes, &epoch).await;
            epoch.task.abort();
        }
    }

    /// Enters the epoch after the finalized tip: registers its committee's scheme, tracks its
    /// peers and starts a simplex engine if this node is a member, or else the follow loop.
    /// `None` once the consensus channels are closed. (`&mut self` across the awaits: the
    /// task needs `Consensus` to be `Send`, not `Sync`.)
    async fn enter_epoch<S: Sender<PublicKey = PublicKey>>(
        &mut self,
        context: &E,
        muxes: &mut EpochMuxes<S>,
        track: &mut impl FnMut(u64, Set<PublicKey>, Set<PublicKey>),
    ) -> Option<EpochRun> {
        let me = self.cfg.key.public_key();
        let executed = self.app.finalized();
        let state = &executed.state;
        let epoch = state.epoch_of(state.height + 1);
        let last = self
            .epocher
            .last(Epoch::new(epoch))
            .expect("epochs cover every height")
            .get();
        for (e, committee) in &state.epoch_committees {
            self.provider.register(*e, committee);
        }
        let committee = Set::from_iter_dedup(state.committee().iter().map(|a| a.0.clone()));
        let next = Set::from_iter_dedup(
            state
                .next_committee()
                .iter()
                .map(|a| a.0.clone())
                .filter(|k| committee.position(k).is_none()),
        );
        track(epoch, committee.clone(), next);
        let task = if committee.position(&me).is_some() {
            // The epoch starts from the previous epoch's last block (or genesis).
            let boundary = state.epoch_start_block();
            let (Ok(v), Ok(c), Ok(r)) = (
                muxes.votes.register(epoch).await,
                muxes.certificates.register(epoch).await,
                muxes.resolver.register(epoch).await,
            ) else {
                warn!(epoch, "consensus channels closed");
                return None;
            };
            info!(
                epoch,
                members = committee.len(),
                "entering epoch as a committee member"
            );
            self.start_engine(context, epoch, boundary).start(v, c, r)
        } else {
            info!(epoch, "following epoch (not in its committee)");
            follow(
                context.child("follow"),
                self.app.clone(),
                self.marshal.clone(),
                &committee,
            )
        };
        Some(EpochRun { epoch, last, task })
    }

    /// Runs until the epoch's last block is finalized; a peer heard from a later epoch means
    /// this node is behind: fetch the boundary finalization from it.
    async fn wait_for_epoch_end<S: Sender<PublicKey = PublicKey>>(
        &mut self,
        context: &E,
        muxes: &mut EpochMuxes<S>,
        run: &EpochRun,
    ) {
        loop {
            if self.app.finalized().state.height >= run.last {
                break;
            }
            let sleep = context.sleep(EPOCH_POLL);
            futures::pin_mut!(sleep);
            let backup = futures::future::select(
                Box::pin(muxes.votes_backup.recv()),
                Box::pin(muxes.certificates_backup.recv()),
            );
            match futures::future::select(sleep, backup).await {
                futures::future::Either::Left(_) => {}
                futures::future::Either::Right((either, _)) => {
                    let message = match either {
                        futures::future::Either::Left((m, _))
                        | futures::future::Either::Right((m, _)) => m,
                    };
                    if let Some((their_epoch, (from, _))) = message
                        && their_epoch > run.epoch
                    {
                        self.marshal.hint_finalized(
                            commonware_consensus::types::Height::new(run.last),
                            commonware_utils::vec::NonEmptyVec::new(from),
                        );
                    }
                }
            }
        }
    }

    fn start_engine(&self, context: &E, epoch: u64, boundary: Digest) -> EpochEngine<E, A, B> {
        let scheme = self
            .provider
            .get(epoch)
            .expect("the epoch's scheme is registered before its engine starts");
        let prefix = &self.cfg.partition_prefix;
        simplex::Engine::new(
            context.child("simplex").with_attribute("epoch", epoch),
            simplex::Config {
                scheme: scheme.as_ref().clone(),
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.blocker.clone(),
                automaton: self.inline.clone(),
                relay: self.inline.clone(),
                reporter: crate::evidence::ActivityReporter::new(
                    self.inline.clone(),
                    self.faults.clone(),
                ),
                strategy: Sequential,
                partition: format!("{prefix}simplex-e{epoch}"),
                mailbox_size: MAILBOX,
                epoch: Epoch::new(epoch),
                floor: Floor::Genesis(boundary),
                replay_buffer: IO_BUFFER,
                write_buffer: IO_BUFFER,
                page_cache: self.page_cache.clone(),
                leader_timeout: self.cfg.leader_timeout,
                certification_timeout: self.cfg.certification_timeout,
                timeout_retry: Duration::from_secs(1),
                view_retention: ViewDelta::new(256),
                skip: SkipPolicy::Disabled,
                fetch_timeout: NZDuration!(Duration::from_secs(2)),
                fetch_retry_delay: Duration::from_millis(250),
                forward: ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
        )
    }
}

/// Messages a muxer received on a subchannel (an epoch) nobody registered: (epoch, message).
type Backup = commonware_utils::channel::mpsc::Receiver<(u64, commonware_p2p::Message<PublicKey>)>;

/// The consensus channels multiplexed by epoch; votes and certificates also hand over what
/// arrives for epochs without an engine here (how a node notices it is behind).
struct EpochMuxes<S: Sender> {
    votes: MuxHandle<S>,
    votes_backup: Backup,
    certificates: MuxHandle<S>,
    certificates_backup: Backup,
    resolver: MuxHandle<S>,
}

impl<S: Sender<PublicKey = PublicKey>> EpochMuxes<S> {
    /// Starts one muxer per consensus channel.
    fn start<E, R>(context: &E, channels: ConsensusChannels<S, R>) -> Self
    where
        E: Spawner + Metrics + Supervisor,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (votes_mux, votes, votes_backup) = Muxer::builder(
            context.child("votes_mux"),
            channels.votes.0,
            channels.votes.1,
        )
        .with_backup()
        .build();
        votes_mux.start();
        let (certificates_mux, certificates, certificates_backup) = Muxer::builder(
            context.child("certificates_mux"),
            channels.certificates.0,
            channels.certificates.1,
        )
        .with_backup()
        .build();
        certificates_mux.start();
        let (resolver_mux, resolver) = Muxer::new(
            context.child("resolver_mux"),
            channels.resolver.0,
            channels.resolver.1,
        );
        resolver_mux.start();
        EpochMuxes {
            votes,
            votes_backup,
            certificates,
            certificates_backup,
            resolver,
        }
    }
}

/// This node's part in one epoch until its last block: a member's simplex engine, or the
/// follow loop of a node outside the committee.
struct EpochRun {
    epoch: u64,
    /// The epoch's last height.
    last: u64,
    task: Handle<()>,
}

/// One epoch's simplex engine, over the shared inline wrapper.
type EpochEngine<E, A, B> = simplex::Engine<
    E,
    Scheme,
    RoundRobin<Sha256>,
    B,
    Digest,
    Inline<E, Scheme, A, ChainBlock, ChainEpocher>,
    Inline<E, Scheme, A, ChainBlock, ChainEpocher>,
    crate::evidence::ActivityReporter<Inline<E, Scheme, A, ChainBlock, ChainEpocher>>,
    Sequential,
>;

/// How often the epoch loop looks whether its epoch's last block is finalized.
const EPOCH_POLL: Duration = Duration::from_millis(20);

/// A running engine: the handle of its main task (simplex, or a full node's follow loop) and
/// marshal's mailbox.
pub struct Started {
    pub handle: Handle<()>,
    pub marshal: MarshalMailbox,
}

/// Marshal's mailbox for Plexus blocks.
pub type MarshalMailbox = marshal::core::Mailbox<Scheme, Standard<ChainBlock>>;

/// A full node's progress: it asks the committee for the finalizations just above its tip, and
/// marshal fetches them and their blocks (backfilling any gap) and delivers them in order.
fn follow<E: Clock + Spawner + Supervisor>(
    context: E,
    app: App,
    marshal: marshal::core::Mailbox<Scheme, Standard<ChainBlock>>,
    committee: &Set<PublicKey>,
) -> Handle<()> {
    let targets = fetch_targets(committee);
    context.child("follow").spawn(move |context| async move {
        loop {
            let tip = app.finalized().state.height;
            for height in tip + 1..=tip + FOLLOW_AHEAD {
                marshal.hint_finalized(
                    commonware_consensus::types::Height::new(height),
                    targets.clone(),
                );
            }
            context.sleep(FOLLOW_INTERVAL).await;
        }
    })
}

/// Confirms a state-synced `block`: asks `committee` (the committee of the block's epoch) for its
/// height's finalization (marshal verifies the certificate), requires it to finalize exactly this
/// block, and sets marshal's floor there so it delivers only what follows. Gives up after
/// `timeout` of runtime time.
pub async fn confirm_synced<E: Clock>(
    clock: &E,
    marshal: &MarshalMailbox,
    committee: &Set<PublicKey>,
    block: &plexus_types::Block,
    timeout: Duration,
) -> Result<(), String> {
    let height = commonware_consensus::types::Height::new(block.header.height);
    let targets = fetch_targets(committee);
    let deadline = clock.current() + timeout;
    loop {
        marshal.hint_finalized(height, targets.clone());
        if let Some(finalization) = marshal.get_finalization(height).await {
            if finalization.proposal.payload != block.digest() {
                return Err(format!(
                    "the committee finalized another block at height {}: the peer's snapshot is not on the chain",
                    block.header.height
                ));
            }
            marshal.set_floor(finalization);
            return Ok(());
        }
        if clock.current() > deadline {
            return Err(format!(
                "no finalization of height {} from the committee within {} s",
                block.header.height,
                timeout.as_secs()
            ));
        }
        clock.sleep(Duration::from_millis(250)).await;
    }
}

/// The peers marshal may fetch finalizations from: the committee (never empty).
pub fn fetch_targets(committee: &Set<PublicKey>) -> commonware_utils::vec::NonEmptyVec<PublicKey> {
    commonware_utils::vec::NonEmptyVec::try_from(committee.iter().cloned().collect::<Vec<_>>())
        .expect("a committee is never empty")
}

/// How many heights above its tip a full node asks for at a time, and how often.
const FOLLOW_AHEAD: u64 = 16;
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

/// The authenticated p2p network of a node: discovery through bootstrappers, with the
/// committee as the tracked peer set.
pub struct P2p {
    pub listen: SocketAddr,
    /// The address peers dial (the listen address unless behind NAT).
    pub dialable: SocketAddr,
    pub bootstrappers: Vec<(PublicKey, SocketAddr)>,
}

/// The consensus channels of a node's authenticated network.
pub type NodeChannels = Channels<
    discovery::Sender<PublicKey, commonware_runtime::tokio::Context>,
    discovery::Receiver<PublicKey>,
>;

/// Starts authenticated discovery p2p under `context` and registers the consensus channels.
pub fn start_p2p(
    context: &commonware_runtime::tokio::Context,
    key: &PrivateKey,
    peer_set_bound: usize,
    p2p: P2p,
) -> (NodeChannels, discovery::Oracle<PublicKey>) {
    let handshake = Cups::<_, commonware_cryptography::ChaCha20Poly1305>::new(
        Sake {
            signer: key.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let bootstrappers = p2p
        .bootstrappers
        .into_iter()
        .map(|(key, addr)| (key, addr.into()))
        .collect();
    let p2p_cfg = discovery::Config::local(
        handshake,
        NAMESPACE,
        p2p.listen,
        p2p.dialable,
        bootstrappers,
        NonZeroUsize::new(peer_set_bound).expect("non-zero"),
        max_message_size(),
        MAILBOX,
    );
    let (mut network, oracle) = discovery::Network::new(context.child("network"), p2p_cfg);
    let pairs = CHANNELS
        .iter()
        .map(|channel| network.register(*channel, channel_quota(*channel)))
        .collect();
    network.start();
    let channels = Channels::from_ordered(pairs).expect("one pair per channel");
    (channels, oracle)
}
