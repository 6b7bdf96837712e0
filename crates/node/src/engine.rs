//! Wires the Commonware stack for one validator: authenticated p2p, marshal (archives, backfill
//! resolver, block broadcast), the inline verification wrapper and the simplex engine.

use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self, Start,
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
use commonware_p2p::{Manager as _, authenticated::discovery};
use commonware_parallel::Sequential;
use commonware_runtime::{Handle, Quota, Supervisor as _, buffer::paged::CacheRef, tokio::Context};
use commonware_storage::{archive::prunable, translator::TwoCap};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize, ordered::Set};
use plexus_chain::{App, ChainBlock};
use plexus_types::{BLOCK_TXS_MAX, PrivateKey, TX_SIZE_MAX};
use std::{net::SocketAddr, num::NonZeroUsize, time::Duration};

/// The namespace every consensus and p2p signature is made under.
pub const NAMESPACE: &[u8] = b"_PLEXUS";

/// Consensus timing. `leader_timeout` must exceed the application's idle block interval.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub key: PrivateKey,
    pub p2p_listen: SocketAddr,
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

/// Starts consensus for a one-validator committee and returns the simplex engine's handle.
/// Finalized blocks reach `app` as marshal `Update`s.
pub async fn start(
    context: Context,
    cfg: EngineConfig,
    app: App,
    genesis: ChainBlock,
) -> Result<Handle<()>, commonware_storage::archive::Error> {
    let me = cfg.key.public_key();
    let participants = Set::try_from(vec![me.clone()]).expect("one participant is a valid set");
    let scheme = Scheme::signer(NAMESPACE, participants.clone(), cfg.key.clone())
        .expect("the validator is in its own committee");
    let provider = ConstantProvider::new(scheme.clone());
    let epocher = FixedEpocher::new(NZU64!(u64::MAX));
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(1024));

    // Real authenticated p2p even with one validator: peers join through it later.
    let handshake = Cups::<_, commonware_cryptography::ChaCha20Poly1305>::new(
        Sake {
            signer: cfg.key.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let max_message_size = (BLOCK_TXS_MAX * TX_SIZE_MAX / 16) as u32;
    let p2p_cfg = discovery::Config::local(
        handshake,
        NAMESPACE,
        cfg.p2p_listen,
        cfg.p2p_listen,
        Vec::new(),
        NZUsize!(16),
        max_message_size,
        MAILBOX,
    );
    let (mut network, mut oracle) = discovery::Network::new(context.child("network"), p2p_cfg);
    oracle.track(0, participants.clone());
    let quota = Quota::per_second(NZU32!(1024));
    let votes = network.register(0, quota);
    let certificates = network.register(1, quota);
    let simplex_resolver = network.register(2, quota);
    let backfill = network.register(3, quota);
    let broadcast = network.register(4, quota);
    network.start();

    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: oracle.clone(),
            blocker: oracle.clone(),
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
            peer_provider: oracle.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(broadcast);

    let finalizations = prunable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            "finalizations",
            page_cache.clone(),
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await?;
    let blocks = prunable::Archive::init(
        context.child("finalized_blocks"),
        archive_config("blocks", page_cache.clone(), BLOCK_TXS_MAX),
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
                partition_prefix: "marshal".into(),
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
    marshal_actor.start(app.clone(), buffer, resolver);

    let inline = Inline::new(context.child("inline"), app, marshal_mailbox, epocher);
    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker: oracle,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            strategy: Sequential,
            partition: "simplex-e0".into(),
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
    Ok(engine.start(votes, certificates, simplex_resolver))
}
