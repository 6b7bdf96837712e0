//! Wires the Commonware stack for a validator: authenticated p2p, marshal (archives, backfill
//! resolver, block broadcast), the inline verification wrapper and the simplex engine. The
//! consensus part is generic over the runtime and the network, so the simulation runs the very
//! same wiring on Commonware's deterministic runtime and simulated p2p.

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
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{
    Digested, Sha256, Signer, certificate::ConstantProvider, certificate::Verifier as _,
};
use commonware_p2p::{Blocker, Manager as _, Provider, Receiver, Sender, authenticated::discovery};
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
use plexus_types::{BLOCK_TXS_MAX, Digest, PrivateKey, PublicKey, TX_SIZE_MAX};
use rand::CryptoRng;
use std::{net::SocketAddr, num::NonZeroUsize, time::Duration};

/// The namespace every consensus and p2p signature is made under.
pub const NAMESPACE: &[u8] = plexus_types::CONSENSUS_NAMESPACE;

/// One validator's consensus settings. `leader_timeout` must exceed the application's idle
/// block interval.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub key: PrivateKey,
    /// The committee that signs (the genesis committee, in canonical order).
    pub participants: Set<PublicKey>,
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
/// resolver, marshal's backfill, the block broadcast, transaction gossip and beacon partials.
pub const CHANNELS: [u64; 7] = [0, 1, 2, 3, 4, 5, 6];

/// The registered channel pairs, in the order of [`CHANNELS`].
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub simplex_resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub txs: (S, R),
    pub beacon: (S, R),
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
        };
        pairs.next().is_none().then_some(channels)
    }
}

/// The rate each peer may send at on `channel`. The p2p layer sizes its queues by these bursts
/// times the peers it tracks, so they are what a peer needs, not more: a few votes and
/// certificates per view, occasional backfill, one block per view, a gossip batch every 10 ms,
/// a beacon partial or two per block.
pub fn channel_quota(channel: u64) -> Quota {
    match channel {
        0 | 1 => Quota::per_second(NZU32!(256)),
        2 | 3 => Quota::per_second(NZU32!(128)),
        4 => Quota::per_second(NZU32!(32)),
        _ => Quota::per_second(NZU32!(128)),
    }
}

/// Peers beyond the committee a node keeps room for (full nodes, the next committee).
const EXTRA_PEERS: usize = 16;

/// The largest p2p message: a full block.
pub fn max_message_size() -> u32 {
    (BLOCK_TXS_MAX * TX_SIZE_MAX / 16) as u32
}

/// Starts consensus (marshal, its resolver, the block broadcast and simplex) for this
/// validator over already-registered channels, on any Commonware runtime: the tokio one in a
/// node, the deterministic one in simulation. Consensus proposes and verifies through
/// `automaton` (the app itself in a node; simulation may wrap it), gossip feeds `app`'s mempool,
/// and finalized blocks reach `reporter` (the app, or a wrapper that observes and forwards to it)
/// as marshal updates.
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
    let me = cfg.key.public_key();
    // Outside the committee this node is a full node: it verifies and follows, never votes.
    let signer = Scheme::signer(NAMESPACE, cfg.participants.clone(), cfg.key.clone());
    let provider = ConstantProvider::new(
        signer
            .clone()
            .unwrap_or_else(|| Scheme::verifier(NAMESPACE, cfg.participants.clone())),
    );
    let epocher = FixedEpocher::new(NZU64!(u64::MAX));
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(1024));
    let prefix = &cfg.partition_prefix;

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
        channels.backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: MAILBOX,
            deque_size: 10,
            priority: false,
            codec_config: BLOCK_TXS_MAX,
            peer_provider: peers,
            strategy: Sequential,
        },
    );
    broadcast_engine.start(channels.broadcast);
    crate::gossip::start(
        context.child("gossip"),
        app.clone(),
        channels.txs,
        blocker.clone(),
    );
    crate::beacon::start(
        context.child("beacon"),
        app.clone(),
        channels.beacon,
        blocker.clone(),
        cfg.participants.clone(),
    );

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
                provider,
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
    marshal_actor.start(reporter, buffer, resolver);
    let Some(scheme) = signer else {
        let handle = follow(context, app, marshal_mailbox.clone(), &cfg.participants);
        return Ok(Started {
            handle,
            marshal: marshal_mailbox,
        });
    };

    let inline = Inline::new(
        context.child("inline"),
        automaton,
        marshal_mailbox.clone(),
        epocher,
    );
    let (faults, fault_inbox) = futures::channel::mpsc::unbounded();
    crate::evidence::start_submitter(
        context.child("evidence"),
        app.clone(),
        cfg.key.clone(),
        fault_inbox,
    );
    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: crate::evidence::ActivityReporter::new(inline, faults),
            strategy: Sequential,
            partition: format!("{prefix}simplex-e0"),
            mailbox_size: MAILBOX,
            epoch: Epoch::zero(),
            floor: Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
            leader_timeout: cfg.leader_timeout,
            certification_timeout: cfg.certification_timeout,
            timeout_retry: Duration::from_secs(1),
            view_retention: ViewDelta::new(256),
            skip: SkipPolicy::Disabled,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(250),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let handle = engine.start(
        channels.votes,
        channels.certificates,
        channels.simplex_resolver,
    );
    Ok(Started {
        handle,
        marshal: marshal_mailbox,
    })
}

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
    /// Full nodes allowed to connect (secondary peers: they receive data but do not vote). A full
    /// node lists itself here.
    pub full_nodes: Vec<PublicKey>,
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
    participants: &Set<PublicKey>,
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
        NonZeroUsize::new(participants.len() + EXTRA_PEERS).expect("non-zero"),
        max_message_size(),
        MAILBOX,
    );
    let (mut network, mut oracle) = discovery::Network::new(context.child("network"), p2p_cfg);
    let secondary = Set::from_iter_dedup(
        p2p.full_nodes
            .into_iter()
            .filter(|k| participants.position(k).is_none()),
    );
    oracle.track(
        0,
        commonware_p2p::TrackedPeers::new(participants.clone(), secondary),
    );
    let pairs = CHANNELS
        .iter()
        .map(|channel| network.register(*channel, channel_quota(*channel)))
        .collect();
    network.start();
    let channels = Channels::from_ordered(pairs).expect("one pair per channel");
    (channels, oracle)
}
