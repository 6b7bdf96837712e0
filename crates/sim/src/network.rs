//! The simulated validator network: the node's engine and application per validator on
//! Commonware's deterministic runtime and simulated p2p (`PlexusEngine`, the harness's engine
//! definition), the genesis and keys of a simulated chain, what each validator keeps across a
//! crash (`Durable`), the workload, and the exit condition runs end on.

use crate::byzantine::{self, Behavior, SimChannels};
use commonware_cryptography::Signer;
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_glue::simulate::{
    engine::{EngineDefinition, InitContext},
    exit::ExitCondition,
    processed::ProcessedHeight,
    reporter::MonitorReporter,
    tracker::ProgressTracker,
};
use commonware_p2p::simulated;
use commonware_runtime::{Clock, Handle, Quota, Spawner, Supervisor, deterministic};
use futures::{StreamExt, channel::mpsc};
use plexus_chain::{App, AppConfig, ChainBlock, Executed, Finalized, Ledger, MempoolConfig};
use plexus_node::engine::{self, Channels, EngineConfig};
use plexus_state::{Genesis, GenesisValidator, Params, beacon::DevBeacon};
use plexus_types::{Address, Block, Digest, PLX, Payload, PrivateKey, PublicKey, Transaction};
use rand::RngExt as _;
use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};

/// The simulated chain's id.
pub const CHAIN_ID: u64 = 7;
/// Funded workload accounts per validator.
const WORKLOAD_ACCOUNTS: u64 = 4;

/// Validator `i`'s key.
pub fn validator_key(i: usize) -> PrivateKey {
    PrivateKey::from_seed(i as u64)
}

/// Workload account `j` of validator `i`.
fn account_key(i: usize, j: u64) -> PrivateKey {
    PrivateKey::from_seed(10_000 + i as u64 * WORKLOAD_ACCOUNTS + j)
}

/// The genesis of an `n`-validator simulated chain: equal self-bonds, funded workload accounts.
pub fn genesis(n: usize) -> Genesis {
    let mut allocations = Vec::new();
    let mut validators = Vec::new();
    for i in 0..n {
        let address = Address(validator_key(i).public_key());
        allocations.push((address.clone(), 100_000 * PLX));
        validators.push(GenesisValidator {
            address,
            self_bond: 10_000 * PLX,
        });
        for j in 0..WORKLOAD_ACCOUNTS {
            allocations.push((Address(account_key(i, j).public_key()), 1_000_000 * PLX));
        }
    }
    Genesis {
        chain_id: CHAIN_ID,
        timestamp_ms: 0,
        params: Params::default(),
        allocations,
        validators,
        beacon: dev_beacon(n).output,
    }
}

/// The beacon key of an `n`-validator simulated chain, with every validator's share.
pub fn dev_beacon(n: usize) -> DevBeacon {
    DevBeacon::deal(BEACON_SEED, (0..n).map(|i| validator_key(i).public_key()))
}

const BEACON_SEED: u64 = 0xbeac0;

/// What one validator has durably finalized: the latest execution (what a restart recovers
/// from) and, per height, the block hash, state root and the simulated time it was finalized.
#[derive(Default)]
pub struct Durable {
    pub tip: Option<Arc<Executed>>,
    pub history: Vec<FinalizedEntry>,
    pub txs: u64,
    /// Beacon shares reshares gave this validator, by the epoch they sign from (what a node
    /// keeps on disk).
    pub shares: Vec<(u64, Share)>,
    /// `(epoch, dealer)` of every dealer log a finalized block recorded.
    pub dealer_logs: BTreeSet<(u64, Address)>,
    /// Epochs in which, after finalizing one of their heights, this node held a position in the
    /// beacon key and its beacon had a valid share to sign the next height with.
    pub signing_epochs: BTreeSet<u64>,
    /// Heights after whose finalization this node held a position in the beacon key but its
    /// beacon had no valid share to sign the next height with (an epoch's last height, where
    /// the share changes hands, is not counted).
    pub unsigned: Vec<u64>,
    /// This validator's progress in the current reshare round, as a node keeps it on disk.
    pub reshare_round: Option<Vec<u8>>,
    /// The height a state-synced node started from: `history` holds the heights after it.
    pub synced_from: u64,
}

/// One finalized height as a validator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedEntry {
    pub block_hash: Digest,
    pub state_root: Digest,
    pub proposer: PublicKey,
    pub finalized_at_ms: u64,
}

type DurableMap = Arc<Mutex<BTreeMap<usize, Durable>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Consensus and block timing in simulation (simulated time, so short is free).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub block_time_min_ms: u64,
    pub idle_block_ms: u64,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    /// How long a proposer waits for its block's beacon signature (idle time plus this stays
    /// below the leader timeout).
    pub beacon_wait_ms: u64,
    /// How long verification waits for dispute content fetched from peers (below the
    /// certification timeout).
    pub content_wait_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            block_time_min_ms: 200,
            idle_block_ms: 500,
            leader_timeout: Duration::from_millis(1_500),
            certification_timeout: Duration::from_millis(2_500),
            beacon_wait_ms: 800,
            content_wait_ms: 1_000,
        }
    }
}

/// Keeps what validator `index`'s reshare must not lose (its shares, its round record, encoded
/// as a node writes it to disk) in its durable record, and gives back the round record kept
/// before a restart.
fn reshare_durability(durable: &DurableMap, index: usize) -> plexus_node::reshare::Durability {
    let saved = lock(durable)
        .get(&index)
        .and_then(|record| record.reshare_round.as_deref())
        .map(|bytes| {
            plexus_node::reshare::RoundRecord::decode(bytes)
                .unwrap_or_else(|err| panic!("validator {index}'s round record: {err}"))
        });
    let (rounds, shares) = (durable.clone(), durable.clone());
    plexus_node::reshare::Durability {
        saved,
        save_round: Box::new(move |record| {
            lock(&rounds).entry(index).or_default().reshare_round =
                Some(commonware_codec::Encode::encode(record).to_vec());
            true
        }),
        save_share: Box::new(move |epoch, share| {
            lock(&shares)
                .entry(index)
                .or_default()
                .shares
                .push((epoch, share.clone()));
        }),
    }
}

/// The engine definition the glue harness instantiates per validator.
#[derive(Clone)]
pub struct PlexusEngine {
    validators: usize,
    /// Nodes beyond the committee (indices after the validators): full nodes that follow.
    full_nodes: usize,
    genesis: Genesis,
    genesis_block: Block,
    /// Every validator's beacon share (full nodes hold none).
    beacon: DevBeacon,
    timing: Timing,
    durable: DurableMap,
    byzantine: BTreeMap<usize, Behavior>,
    /// Whether the joiner bonds and the last validator unbonds at start (see `with_rotation`).
    rotation: bool,
    /// The epoch length validator 1 proposes and votes for at start (see `with_epoch_change`).
    epoch_change: Option<u64>,
    /// A node that starts from a peer's latest state instead of genesis (see `with_state_sync`).
    state_sync: Option<usize>,
    /// `(blocker, blocked)` pairs the simulated network reported, sampled by faulty validators.
    blocked: Arc<Mutex<Vec<(PublicKey, PublicKey)>>>,
}

impl PlexusEngine {
    pub fn new(validators: usize, timing: Timing) -> Self {
        let genesis = genesis(validators);
        let (_, header) = genesis.build().expect("the simulated genesis is valid");
        PlexusEngine {
            validators,
            full_nodes: 0,
            genesis,
            beacon: dev_beacon(validators),
            genesis_block: Block {
                header,
                txs: Vec::new(),
            },
            timing,
            durable: Arc::default(),
            byzantine: BTreeMap::new(),
            rotation: false,
            epoch_change: None,
            state_sync: None,
            blocked: Arc::default(),
        }
    }

    /// Adds `count` full nodes: not in the committee, they follow the chain through marshal.
    pub fn with_full_nodes(mut self, count: usize) -> Self {
        self.full_nodes = count;
        self
    }

    /// Epochs of `epoch_length` blocks with a committee of at most the validators: the first full
    /// node is funded and bonds more than anyone at start, the last validator unbonds down to
    /// the minimum, so the committee elected at epoch 1's first block swaps them, and the
    /// reshare during epoch 1 hands the beacon key over at its last block.
    pub fn with_rotation(mut self, epoch_length: u64) -> Self {
        self.full_nodes = self.full_nodes.max(1);
        self.rotation = true;
        self.genesis.params.epoch_length_blocks = epoch_length;
        self.genesis.params.committee_size_max = self.validators as u32;
        self.genesis.allocations.push((
            Address(validator_key(self.validators).public_key()),
            100_000 * PLX,
        ));
        self.rebuild_genesis_block();
        self
    }

    /// Validator 1 proposes `chain.epoch_length_blocks = length` at start and votes for it; its
    /// stake alone makes the quorum (10%), the vote ends 4 blocks later and the change applies
    /// a block after that, in epoch 0, so epochs take the new length from epoch 2 on.
    pub fn with_epoch_change(mut self, length: u64) -> Self {
        self.epoch_change = Some(length);
        let params = &mut self.genesis.params;
        params.gov_quorum_bps = 1_000;
        params.gov_voting_period_blocks = 4;
        params.gov_effect_delay_blocks = 1;
        self.rebuild_genesis_block();
        self
    }

    fn rebuild_genesis_block(&mut self) {
        let (_, header) = self
            .genesis
            .build()
            .expect("the simulated genesis is valid");
        self.genesis_block = Block {
            header,
            txs: Vec::new(),
        };
    }

    /// Makes the last full node state-sync: on its first start (an empty store) it takes
    /// validator 0's latest finalized block and state, as `GET /v1/snapshot` serves them, checks
    /// the state against the block's state root, and confirms the block with the committee's
    /// finalization through marshal before it follows the chain from there.
    pub fn with_state_sync(mut self) -> Self {
        self.full_nodes = self.full_nodes.max(1);
        self.state_sync = Some(self.validators + self.full_nodes - 1);
        self
    }

    /// Makes validator `index` faulty in the given way.
    pub fn with_byzantine(mut self, index: usize, behavior: Behavior) -> Self {
        self.byzantine.insert(index, behavior);
        self
    }

    /// The latest `(blocker, blocked)` pairs of the simulated network.
    pub fn blocked(&self) -> Vec<(PublicKey, PublicKey)> {
        lock(&self.blocked).clone()
    }

    /// Every validator's durable record, by index.
    pub fn durable(&self) -> DurableMap {
        self.durable.clone()
    }

    /// Validator `index`'s share of the recovered state's beacon key: the dealt one, or one a
    /// reshare gave it; none if it holds no valid share (as a node does).
    fn share(&self, index: usize, me: &PublicKey, ledger: &Ledger) -> Option<Share> {
        let mut candidates: Vec<Share> = self.beacon.share_of(me).cloned().into_iter().collect();
        if let Some(durable) = lock(&self.durable).get(&index) {
            candidates.extend(durable.shares.iter().map(|(_, share)| share.clone()));
        }
        plexus_state::beacon::current_share(&ledger.finalized().state, me, candidates)
    }

    /// A state-syncing node's first start: validator 0's latest finalized block and state, checked
    /// as a node checks a fetched snapshot.
    fn snapshot(&self, index: usize) -> Option<(Ledger, Block)> {
        if self.state_sync != Some(index) {
            return None;
        }
        let mut map = lock(&self.durable);
        if map.get(&index).is_some_and(|d| d.tip.is_some()) {
            return None;
        }
        let donor = map.get(&0)?.tip.clone()?;
        let (block, state) = ((*donor.block).clone(), donor.state.clone());
        assert!(
            state.root() == block.header.state_root && state.block_hash == block.digest(),
            "the donor's snapshot does not match its block"
        );
        map.entry(index).or_default().synced_from = state.height;
        Some((Ledger::new(block.clone(), state, Vec::new()), block))
    }

    fn recover(&self, index: usize) -> Ledger {
        match lock(&self.durable).get(&index).and_then(|d| d.tip.clone()) {
            Some(tip) => Ledger::new(
                (*tip.block).clone(),
                tip.state.clone(),
                tip.receipts.clone(),
            ),
            None => Ledger::new(
                self.genesis_block.clone(),
                self.genesis.build().expect("valid").0,
                Vec::new(),
            ),
        }
    }
}

/// A validator as the harness sees it: its application, for progress and inspection.
pub struct Node {
    pub app: App,
    /// Faulty validators do not count towards the exit condition.
    pub honest: bool,
}

impl ProcessedHeight for Node {
    async fn processed_height(&self) -> u64 {
        self.app.finalized().state.height
    }
}

/// Everything `start` needs, prepared by `init`.
pub struct Prepared {
    context: deterministic::Context,
    index: usize,
    cfg: EngineConfig,
    /// The genesis committee (the equivocator signs with it).
    participants: commonware_utils::ordered::Set<PublicKey>,
    app: App,
    reporter: MonitorReporter<PublicKey, App>,
    finalized: mpsc::UnboundedReceiver<Finalized>,
    channels: SimChannels,
    oracle: simulated::Oracle<PublicKey, deterministic::Context>,
    genesis: ChainBlock,
    durable: DurableMap,
    behavior: Option<Behavior>,
    blocked: Arc<Mutex<Vec<(PublicKey, PublicKey)>>>,
    /// Staking and governance transactions this node submits at its first start.
    first_txs: Vec<(PrivateKey, Payload)>,
    /// The block a state-synced node starts from, to confirm with the committee.
    synced: Option<Block>,
}

impl EngineDefinition for PlexusEngine {
    type PublicKey = PublicKey;
    type Engine = Prepared;
    type State = Node;

    fn participants(&self) -> Vec<PublicKey> {
        (0..self.validators + self.full_nodes)
            .map(|i| validator_key(i).public_key())
            .collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        engine::CHANNELS
            .iter()
            .map(|channel| (*channel, engine::channel_quota(*channel)))
            .collect()
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size()
    }

    fn init(
        &self,
        ctx: InitContext<'_, PublicKey>,
    ) -> impl Future<Output = (Prepared, Node)> + Send {
        let key = validator_key(ctx.index);
        let mut app_cfg = AppConfig {
            proposer: key.public_key(),
            block_time_min_ms: self.timing.block_time_min_ms,
            idle_block_ms: self.timing.idle_block_ms,
            block_txs_max: 1_000,
            clock_skew_max_ms: 1_000,
            mempool: MempoolConfig {
                chain_id: CHAIN_ID,
                fee_min: self.genesis.params.fee_min,
                txs_max: 10_000,
                per_account_max: 64,
            },
            beacon_share: None,
            beacon_wait_ms: self.timing.beacon_wait_ms,
            content_wait_ms: self.timing.content_wait_ms,
        };
        let (ledger, synced) = match self.snapshot(ctx.index) {
            Some((ledger, block)) => (ledger, Some(block)),
            None => (self.recover(ctx.index), None),
        };
        app_cfg.beacon_share = self.share(ctx.index, &key.public_key(), &ledger);
        let (app, finalized) = App::new(app_cfg, ledger);
        let participants = plexus_node::node::committee(&self.genesis).expect("valid committee");
        let prepared = Prepared {
            context: ctx.context,
            index: ctx.index,
            participants,
            cfg: EngineConfig {
                key: key.clone(),
                partition_prefix: format!("v{}-", ctx.index),
                leader_timeout: self.timing.leader_timeout,
                certification_timeout: self.timing.certification_timeout,
            },
            reporter: MonitorReporter::new(key.public_key(), ctx.monitor, app.clone()),
            app: app.clone(),
            finalized,
            channels: Channels::from_ordered(ctx.channels).expect("one pair per channel"),
            oracle: ctx.oracle.clone(),
            genesis: ChainBlock::new(self.genesis_block.clone()),
            durable: self.durable.clone(),
            behavior: self.byzantine.get(&ctx.index).copied(),
            blocked: self.blocked.clone(),
            synced,
            // Validator 0 (like an API the joiner uses) takes the joiner's bond; the last
            // validator unbonds its own stake; validator 1 proposes a new epoch length and
            // votes for it. Each once, on a fresh start.
            first_txs: match ctx.index {
                0 if self.rotation => vec![(
                    validator_key(self.validators),
                    Payload::Bond {
                        amount: 50_000 * PLX,
                    },
                )],
                i if self.rotation && i + 1 == self.validators => vec![(
                    key.clone(),
                    Payload::Unbond {
                        amount: 9_000 * PLX,
                    },
                )],
                1 => self
                    .epoch_change
                    .map(|length| epoch_change_txs(&key, length))
                    .unwrap_or_default(),
                _ => Vec::new(),
            },
        };
        let honest = !self.byzantine.contains_key(&ctx.index);
        async move { (prepared, Node { app, honest }) }
    }

    fn start(engine: Prepared) -> Handle<()> {
        let Prepared {
            context,
            index,
            cfg,
            participants,
            app,
            reporter,
            finalized,
            channels,
            oracle,
            genesis,
            durable,
            behavior,
            blocked,
            first_txs,
            synced,
        } = engine;
        context.spawn(move |context| async move {
            let me = cfg.key.public_key();
            let validators = participants.len();
            match behavior {
                Some(Behavior::Garbage) => {
                    return byzantine::send_garbage(context, channels, oracle, blocked).await;
                }
                Some(Behavior::Equivocate) => {
                    return byzantine::equivocate(context, cfg.key, participants, channels).await;
                }
                Some(Behavior::CorruptProposals) => {
                    // Votes like everyone else, but every block it proposes is invalid.
                    let corrupt = byzantine::Corrupt::new(app.clone());
                    let _consensus = engine::start(
                        context.child("engine"),
                        cfg,
                        app.clone(),
                        corrupt,
                        reporter,
                        genesis,
                        channels,
                        oracle.manager(),
                        oracle.control(me.clone()),
                        // The harness tracks every participant as one peer set.
                        |_, _, _| {},
                        reshare_durability(&durable, index),
                        // The simulation settles no disputes: no content to fetch.
                        None,
                    )
                    .await
                    .expect("consensus storage opens");
                }
                None => {
                    let consensus = engine::start(
                        context.child("engine"),
                        cfg,
                        app.clone(),
                        app.clone(),
                        reporter,
                        genesis,
                        channels,
                        oracle.manager(),
                        oracle.control(me.clone()),
                        // The harness tracks every participant as one peer set.
                        |_, _, _| {},
                        reshare_durability(&durable, index),
                        // The simulation settles no disputes: no content to fetch.
                        None,
                    )
                    .await
                    .expect("consensus storage opens");
                    if let Some(block) = &synced {
                        let committee = app
                            .committee_at(block.header.height)
                            .expect("the synced state knows its epoch's committee");
                        engine::confirm_synced(
                            &context,
                            &consensus.marshal,
                            &committee,
                            block,
                            Duration::from_secs(60),
                        )
                        .await
                        .expect("the committee confirms the synced block");
                    }
                }
            }
            // Only honest validators' records are checked for safety.
            let durable = behavior.is_none().then_some(durable);
            submit_first(&app, first_txs);
            if index < validators {
                let workload_app = app.clone();
                context
                    .child("workload")
                    .spawn(move |context| workload(context, index, validators, workload_app));
            }
            follow_finalized(&context, &app, finalized, durable.as_ref(), index, &me).await;
        })
    }
}

/// Proposes epochs of `length` blocks and votes for the proposal (id 0: the chain's first).
fn epoch_change_txs(key: &PrivateKey, length: u64) -> Vec<(PrivateKey, Payload)> {
    vec![
        (
            key.clone(),
            Payload::GovPropose {
                changes: vec![("chain.epoch_length_blocks".into(), u128::from(length))],
                title: format!("Epochs of {length} blocks"),
                description: String::new(),
                deposit: 100 * PLX,
            },
        ),
        (
            key.clone(),
            Payload::GovVote {
                proposal: 0,
                option: plexus_types::gov::VoteOption::Yes,
            },
        ),
    ]
}

/// Submits the transactions a node sends at its first start (none once the chain has
/// finalized a block: a restart does not send them again).
fn submit_first(app: &App, txs: Vec<(PrivateKey, Payload)>) {
    for (key, payload) in txs {
        if app.finalized().state.height > 0 {
            break;
        }
        let sender = Address(key.public_key());
        let tx = Transaction {
            chain_id: CHAIN_ID,
            sender: sender.clone(),
            nonce: app.next_nonce(&sender),
            fee: 10_000,
            payload,
        }
        .sign(&key);
        let hash = tx.hash();
        let _ = app.submit(tx, hash);
    }
}

/// Executes every block consensus finalizes, recording each in validator `index`'s durable
/// record when it has one (an honest validator), until the engine stops delivering.
async fn follow_finalized(
    context: &deterministic::Context,
    app: &App,
    mut finalized: mpsc::UnboundedReceiver<Finalized>,
    durable: Option<&DurableMap>,
    index: usize,
    me: &PublicKey,
) {
    while let Some(delivered) = finalized.next().await {
        let now_ms = context
            .current()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let result = app
            .finalize(context, delivered, |executed| {
                let Some(durable) = durable else {
                    return Ok(());
                };
                let mut map = lock(durable);
                let record = map.entry(index).or_default();
                record.history.push(FinalizedEntry {
                    block_hash: executed.state.block_hash,
                    state_root: executed.block.header.state_root,
                    proposer: executed.block.header.proposer.clone(),
                    finalized_at_ms: now_ms,
                });
                record.txs += executed.block.txs.len() as u64;
                record.dealer_logs.extend(recorded_logs(executed));
                record.tip = Some(executed.clone());
                Ok::<_, std::convert::Infallible>(())
            })
            .await;
        match result {
            Ok(Some(executed)) => {
                if let Some(durable) = durable {
                    record_signing(durable, index, app, me, &executed);
                }
            }
            Ok(None) => {}
            Err(err) => panic!("validator {index} cannot finalize: {err}"),
        }
    }
}

/// `(epoch, dealer)` of each dealer log `executed`'s block recorded.
fn recorded_logs(executed: &Executed) -> Vec<(u64, Address)> {
    executed
        .block
        .txs
        .iter()
        .zip(&executed.receipts)
        .filter(|(_, receipt)| receipt.status == plexus_types::Status::Success)
        .filter_map(|(tx, _)| match &tx.tx.payload {
            Payload::DealerLog { epoch, .. } => Some((*epoch, tx.tx.sender.clone())),
            _ => None,
        })
        .collect()
}

/// Records whether this node, after finalizing `executed`, can sign the next height's beacon:
/// a position in the state's key and, in its beacon, a share that is that position's share.
fn record_signing(
    durable: &DurableMap,
    index: usize,
    app: &App,
    me: &PublicKey,
    executed: &Executed,
) {
    let state = &executed.state;
    let height = state.height;
    let Some(position) = state.beacon_key.players().position(me) else {
        return;
    };
    // At an epoch's last height the key changes hands; the reshare actor installs the new
    // share right after, so only heights inside an epoch are judged.
    if state.epoch_of(height) != state.epoch_of(height + 1) {
        return;
    }
    let signs = app
        .with_beacons(|beacons| beacons.share_at(height + 1))
        .is_some_and(|share| {
            plexus_state::beacon::share_matches(state.beacon_sharing(), &share, position as u32)
        });
    let mut map = lock(durable);
    let record = map.entry(index).or_default();
    if signs {
        record.signing_epochs.insert(state.epoch_of(height));
    } else {
        record.unsigned.push(height);
    }
}

/// Submits signed transfers (and now and then a delegation or undelegation) from this
/// validator's workload accounts to its mempool, as API clients would.
async fn workload(context: deterministic::Context, index: usize, validators: usize, app: App) {
    let mut rng = context.child("rng");
    let others: Vec<Address> = (0..validators)
        .flat_map(|i| (0..WORKLOAD_ACCOUNTS).map(move |j| Address(account_key(i, j).public_key())))
        .collect();
    let validator = Address(validator_key(index).public_key());
    let mut round: u64 = 0;
    loop {
        context.sleep(Duration::from_millis(100)).await;
        round += 1;
        for j in 0..WORKLOAD_ACCOUNTS {
            let key = account_key(index, j);
            let sender = Address(key.public_key());
            let payload = match (round + j) % 25 {
                0 => Payload::Delegate {
                    validator: validator.clone(),
                    amount: 10 * PLX,
                },
                12 => Payload::Undelegate {
                    validator: validator.clone(),
                    amount: 5 * PLX,
                },
                _ => Payload::Transfer {
                    to: others[rng.random_range(0..others.len())].clone(),
                    amount: rng.random_range(1..1_000) * PLX / 1_000,
                },
            };
            let tx = Transaction {
                chain_id: CHAIN_ID,
                sender: sender.clone(),
                nonce: app.next_nonce(&sender),
                fee: 1_000 + rng.random_range(0..1_000),
                payload,
            }
            .sign(&key);
            let hash = tx.hash();
            // A full mempool or a duplicate is the workload's problem, not the chain's.
            let _ = app.submit(tx, hash);
        }
    }
}

/// Ends a run once at least `min_active` honest validators are running and every running honest
/// one has finalized `height`.
#[derive(Clone)]
pub struct AllActiveReach {
    pub height: u64,
    pub min_active: usize,
}

impl ExitCondition<PublicKey, Node> for AllActiveReach {
    fn name(&self) -> &str {
        "all_active_reach"
    }

    fn requires_polling(&self) -> bool {
        true
    }

    fn reached<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<PublicKey>,
        states: &'a [&'a Node],
        _target_count: usize,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            let honest: Vec<_> = states.iter().filter(|s| s.honest).collect();
            let mut reached = 0;
            for state in &honest {
                if state.processed_height().await >= self.height {
                    reached += 1;
                }
            }
            Ok(honest.len() >= self.min_active && reached == honest.len())
        })
    }
}
