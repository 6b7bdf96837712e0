//! The run: genesis, the block loop, what each block changed for whom, and the invariants;
//! and the providers (the second half): when each is online, what it stores, and the
//! transactions it sends (offers, accepts, proofs, declared faults, repairs, leaving).

use super::report::{Class, ClassRow, StorageOutcome};
use crate::signing::{address, key, sign_all};
use commonware_cryptography::Signer as _;
use commonware_parallel::Sequential;
use plexus_state::beacon::DevBeacon;
use plexus_state::storage::{ChallengeOutcome, Shard as ShardRecord, ShardKey, ShardState};
use plexus_state::{Genesis, GenesisValidator, Params, State, StorageParams, build_block};
use plexus_storage::access::ShardRead;
use plexus_storage::coding::{self, Encoded, Shape, Shard};
use plexus_storage::proof::{chunk_count, prove, verify};
use plexus_types::deal::PRICE_UNIT_BYTES;
use plexus_types::job::ResourceProfile;
use plexus_types::{Address, Amount, Digest, PLX, Payload, Status};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// The scenario's chain id.
const CHAIN: u64 = 16;
/// Key 0 is the only validator.
const VALIDATOR: u64 = 0;
/// Every key starts with this.
const START: Amount = 1_000_000 * PLX;
pub(super) const FEE: Amount = 1_000;
/// Blocks per epoch, and the proof and accept windows: small, so tens of epochs run in seconds.
pub(super) const EPOCH: u64 = 10;
pub(super) const PROOF_WINDOW: u64 = 3;
const ACCEPT_WINDOW: u64 = 4;
/// Each provider's bond and price per GiB-epoch (high, so 8 KiB shards earn whole units).
pub(super) const BOND: Amount = 1_000 * PLX;
pub(super) const PRICE: Amount = 2_000 * PLX;
/// A segment's bytes: shards of about 8 KiB at k = 3, eight chunks each.
pub(super) const SEGMENT_BYTES: usize = 24_000;

/// The population and length of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// Epochs run.
    pub epochs: u64,
    /// Providers of each class (churn providers join during the run).
    pub honest: u64,
    pub lazy: u64,
    pub offline: u64,
    pub churn: u64,
    /// The share of each shard's chunks a lazy provider drops, in percent.
    pub lazy_drop_pct: u64,
    /// Deals each owner posts per epoch at most (1 to 3 segments each).
    pub owners: u64,
}

impl StorageConfig {
    /// The default test's size: seconds in a debug build.
    pub fn small() -> Self {
        StorageConfig {
            epochs: 24,
            honest: 9,
            lazy: 2,
            offline: 2,
            churn: 3,
            lazy_drop_pct: 50,
            owners: 2,
        }
    }

    /// The CI profile's size.
    pub fn large() -> Self {
        StorageConfig {
            epochs: 60,
            honest: 14,
            lazy: 3,
            offline: 3,
            churn: 5,
            lazy_drop_pct: 50,
            owners: 3,
        }
    }

    fn providers(&self) -> u64 {
        self.honest + self.lazy + self.offline + self.churn
    }
}

fn params() -> Params {
    Params {
        epoch_length_blocks: EPOCH,
        provider_bond_min: 100 * PLX,
        storage: StorageParams {
            k: 3,
            n: 6,
            accept_window_blocks: ACCEPT_WINDOW,
            proof_window_blocks: PROOF_WINDOW,
            ..StorageParams::default()
        },
        ..Params::default()
    }
}

/// The chain, the parties, and what the run has seen.
pub(super) struct World {
    pub(super) seed: u64,
    pub(super) state: State,
    beacon: DevBeacon,
    pub(super) rng: ChaCha8Rng,
    pub(super) agents: Vec<Agent>,
    /// The owners' encodings of every placed segment (the owner keeps its data).
    pub(super) originals: BTreeMap<(Digest, u32), Encoded>,
    /// Owners' keys, outsiders' keys and a grantee's key.
    pub(super) owners: Vec<u64>,
    pub(super) outsiders: Vec<u64>,
    pub(super) grantee: u64,
    pub(super) tallies: BTreeMap<u64, ClassRow>,
    loss_heights: BTreeMap<ShardKey, u64>,
    repair_blocks: Vec<u64>,
    pub(super) lost_segments: BTreeSet<(Digest, u32)>,
    pub(super) failed_max: u64,
    /// Deals whose every shard was accepted once (their segments are checked from then on).
    pub(super) started: BTreeSet<Digest>,
    pub(super) decodes: u64,
    pub(super) reads_refused: u64,
    pub(super) reads_allowed: u64,
}

/// Runs the scenario for `seed` at `config`'s size; an error names the seed and the broken
/// invariant.
pub fn run(seed: u64, config: &StorageConfig) -> Result<StorageOutcome, String> {
    let mut world = World::new(seed, config)?;
    let blocks = config.epochs * EPOCH;
    while world.state.height < blocks {
        world
            .step(config)
            .map_err(|err| format!("seed {seed}, block {}: {err}", world.state.height + 1))?;
    }
    world
        .finish(config)
        .map_err(|err| format!("seed {seed}: {err}"))
}

impl World {
    fn new(seed: u64, config: &StorageConfig) -> Result<World, String> {
        let providers = config.providers();
        let owners: Vec<u64> = (1..=config.owners).map(|i| providers + i).collect();
        let outsiders = vec![providers + config.owners + 1, providers + config.owners + 2];
        let grantee = providers + config.owners + 3;
        let keys = grantee + 1;
        let beacon = DevBeacon::deal(seed, [key(VALIDATOR).public_key()]);
        let state = Genesis {
            chain_id: CHAIN,
            timestamp_ms: 0,
            params: params(),
            allocations: (0..keys).map(|i| (address(i), START)).collect(),
            validators: vec![GenesisValidator {
                address: address(VALIDATOR),
                self_bond: 10_000 * PLX,
            }],
            beacon: beacon.output.clone(),
        }
        .build()
        .map_err(|err| format!("genesis: {err}"))?
        .0;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut agents = Vec::new();
        let classes = [
            (Class::Honest, config.honest),
            (Class::Lazy, config.lazy),
            (Class::Offline, config.offline),
            (Class::Churn, config.churn),
        ];
        for (class, count) in classes {
            for _ in 0..count {
                let key = agents.len() as u64 + 1;
                let schedule = Schedule::draw(class, config, &mut rng);
                agents.push(Agent::new(key, class, schedule));
            }
        }
        let tallies = agents
            .iter()
            .map(|a| (a.key, ClassRow::default()))
            .collect();
        Ok(World {
            seed,
            state,
            beacon,
            rng,
            agents,
            originals: BTreeMap::new(),
            owners,
            outsiders,
            grantee,
            tallies,
            loss_heights: BTreeMap::new(),
            repair_blocks: Vec::new(),
            lost_segments: BTreeSet::new(),
            failed_max: 0,
            started: BTreeSet::new(),
            decodes: 0,
            reads_refused: 0,
            reads_allowed: 0,
        })
    }

    /// One block: every party acts, the block is built and applied, and what changed is
    /// tallied and checked.
    fn step(&mut self, config: &StorageConfig) -> Result<(), String> {
        let height = self.state.height + 1;
        let mut payloads = Vec::new();
        for i in 0..self.agents.len() {
            let mut agent = std::mem::take(&mut self.agents[i]);
            let acted = agent.act(self, height);
            self.agents[i] = agent;
            payloads.extend(acted?);
        }
        self.outsider_reads(height)?;
        let posts = self.posts(config, height);
        let first_post = payloads.len();
        payloads.extend(
            posts
                .iter()
                .map(|(owner, payload, _)| (*owner, payload.clone())),
        );
        let before = self.shards();
        let wealth = self.wealth();
        let senders: Vec<u64> = payloads.iter().map(|(from, _)| *from).collect();
        let wrong_before = self.state.storage_stats.proofs_wrong;
        let results = self.block(payloads)?;
        let mut fees = BTreeMap::<u64, Amount>::new();
        for ((from, (_, status)), result) in senders.iter().zip(&results).zip(0..) {
            if !matches!(status, Status::Rejected(_)) {
                *fees.entry(*from).or_default() += FEE;
            }
            if result >= first_post && *status == Status::Success {
                let (_, _, encoded) = &posts[result - first_post];
                for (s, segment) in encoded.iter().enumerate() {
                    self.originals
                        .insert((results[result].0, s as u32), segment.clone());
                }
            }
        }
        let wrong = self.state.storage_stats.proofs_wrong > wrong_before;
        self.observe(&before, &wealth, &fees, height)?;
        if wrong {
            // Every agent checks its proof with the chain's `verify` before sending it.
            return Err("a proof the prover verified was judged wrong".into());
        }
        for agent in &mut self.agents {
            agent.sync(&self.state);
        }
        self.check_segments()
    }

    /// Builds and applies the next block of `payloads`; the supply must recount after it.
    fn block(&mut self, payloads: Vec<(u64, Payload)>) -> Result<Vec<(Digest, Status)>, String> {
        let txs = sign_all(&self.state, CHAIN, FEE, payloads);
        let hashes: Vec<Digest> = txs.iter().map(|tx| tx.hash()).collect();
        let height = self.state.height + 1;
        let built = build_block(
            &self.state,
            txs,
            self.state.timestamp_ms + 1_000,
            key(VALIDATOR).public_key(),
            self.beacon.block_signature(height),
        )
        .map_err(|err| format!("the block does not build: {err}"))?;
        self.state = built.state;
        let total = self.state.supply.total();
        if self.state.recount() != Ok(total)
            || self.state.supply.minted() - self.state.supply.burned() != total
        {
            return Err(format!(
                "the ledger sums to {:?}, the supply is {total}",
                self.state.recount()
            ));
        }
        Ok(hashes
            .into_iter()
            .zip(built.receipts.into_iter().map(|r| r.status))
            .collect())
    }

    /// The mean blocks from a shard's loss to its repairer's accept (0 with no repair).
    pub(super) fn repair_blocks_mean(&self) -> u64 {
        let count = self.repair_blocks.len() as u64;
        self.repair_blocks
            .iter()
            .sum::<u64>()
            .checked_div(count)
            .unwrap_or(0)
    }

    /// Every shard record on chain by key.
    pub(super) fn shards(&self) -> BTreeMap<ShardKey, ShardRecord> {
        let mut out = BTreeMap::new();
        for (id, deal) in &self.state.deals {
            for (s, segment) in deal.segments.iter().enumerate() {
                for (i, shard) in segment.shards.iter().enumerate() {
                    out.insert((*id, s as u32, i as u16), shard.clone());
                }
            }
        }
        out
    }

    /// Each provider's balance and bond.
    fn wealth(&self) -> BTreeMap<u64, (Amount, Option<Amount>)> {
        self.agents
            .iter()
            .map(|a| {
                let at = address(a.key);
                let bond = self.state.providers.get(&at).map(|p| p.bond);
                (a.key, (self.state.account(&at).balance, bond))
            })
            .collect()
    }

    fn agent_key(&self, holder: &Address) -> Option<u64> {
        self.agents
            .iter()
            .find(|a| address(a.key) == *holder)
            .map(|a| a.key)
    }

    /// Tallies what the block did to each provider: challenges opened, proven, missed and
    /// excused; money earned, burned and slashed; losses and repairs. An honest provider
    /// burned or slashed is an error.
    fn observe(
        &mut self,
        before: &BTreeMap<ShardKey, ShardRecord>,
        wealth: &BTreeMap<u64, (Amount, Option<Amount>)>,
        fees: &BTreeMap<u64, Amount>,
        height: u64,
    ) -> Result<(), String> {
        let after = self.shards();
        let mut wrong_by = BTreeSet::<u64>::new();
        for (shard_key, now) in &after {
            let was = before.get(shard_key);
            self.observe_challenge(was, now, &mut wrong_by);
            self.observe_loss(shard_key, was, now, height);
        }
        for shard_key in before.keys() {
            if !after.contains_key(shard_key) {
                self.loss_heights.remove(shard_key);
            }
        }
        self.observe_money(wealth, fees, &wrong_by)?;
        if height.is_multiple_of(EPOCH) {
            self.epoch_end(&after);
        }
        Ok(())
    }

    fn observe_challenge(
        &mut self,
        was: Option<&ShardRecord>,
        now: &ShardRecord,
        wrong: &mut BTreeSet<u64>,
    ) {
        let Some(challenge) = now.challenge else {
            return;
        };
        let previous = was.and_then(|w| w.challenge);
        let holder = was.map_or(&now.holder, |w| &w.holder);
        let Some(k) = self.agent_key(holder) else {
            return;
        };
        let fresh = previous.is_none_or(|p| p.opened_height != challenge.opened_height);
        if fresh {
            if let Some(k) = self.agent_key(&now.holder) {
                self.tallies.get_mut(&k).expect("tallied").challenges += 1;
            }
            return;
        }
        if previous.map(|p| p.outcome) != Some(ChallengeOutcome::Open) {
            return;
        }
        let tally = self.tallies.get_mut(&k).expect("tallied");
        match challenge.outcome {
            ChallengeOutcome::Open => {}
            ChallengeOutcome::Proven { .. } => tally.passed += 1,
            // A wrong proof loses the shard with its challenge still open.
            ChallengeOutcome::Missed
                if now.holder != *holder && was.is_some_and(|w| w.misses == now.misses) =>
            {
                tally.wrong += 1;
                wrong.insert(k);
            }
            ChallengeOutcome::Missed => tally.missed += 1,
            ChallengeOutcome::Excused => tally.excused += 1,
        }
    }

    fn observe_loss(
        &mut self,
        shard_key: &ShardKey,
        was: Option<&ShardRecord>,
        now: &ShardRecord,
        height: u64,
    ) {
        let Some(was) = was else {
            return;
        };
        let active = |s: &ShardState| matches!(s, ShardState::Active { .. });
        let lost =
            |s: &ShardState| matches!(s, ShardState::Repairing { .. } | ShardState::Lost { .. });
        if active(&was.state) && lost(&now.state) {
            self.loss_heights.insert(*shard_key, height);
        }
        if lost(&was.state)
            && active(&now.state)
            && let Some(at) = self.loss_heights.remove(shard_key)
        {
            self.repair_blocks.push(height - at);
        }
        let newly_held = active(&now.state) && (!active(&was.state) || was.holder != now.holder);
        if newly_held && let Some(k) = self.agent_key(&now.holder) {
            self.tallies.get_mut(&k).expect("tallied").shards_held += 1;
        }
    }

    fn observe_money(
        &mut self,
        before: &BTreeMap<u64, (Amount, Option<Amount>)>,
        fees: &BTreeMap<u64, Amount>,
        wrong: &BTreeSet<u64>,
    ) -> Result<(), String> {
        let after = self.wealth();
        for agent in &self.agents {
            let (b0, bond0) = before[&agent.key];
            let (b1, bond1) = after[&agent.key];
            let tally = self.tallies.get_mut(&agent.key).expect("tallied");
            let lost = match (bond0, bond1) {
                (Some(x), Some(y)) if y < x => x - y,
                _ => 0,
            };
            let w0 = b0 + bond0.unwrap_or(0);
            let w1 = b1 + bond1.unwrap_or(0);
            let fee = fees.get(&agent.key).copied().unwrap_or(0);
            tally.fees += fee;
            if wrong.contains(&agent.key) {
                tally.slashed += lost;
            } else {
                tally.burned += lost;
            }
            // Wealth moves by what was earned less fees and burns: earned is the rest.
            let earned = (w1 + lost + fee).checked_sub(w0).ok_or_else(|| {
                format!("provider {} lost more than its fees and burns", agent.key)
            })?;
            tally.earned += earned;
            if matches!(agent.class, Class::Honest | Class::Churn) && lost > 0 {
                return Err(format!(
                    "honest provider {} ({:?}) lost {lost} from its bond",
                    agent.key, agent.class
                ));
            }
        }
        Ok(())
    }

    /// At an epoch's end: shard-epochs held and the storage each holder paid for.
    fn epoch_end(&mut self, shards: &BTreeMap<ShardKey, ShardRecord>) {
        for (shard_key, shard) in shards {
            if !matches!(shard.state, ShardState::Active { .. }) {
                continue;
            }
            let Some(k) = self.agent_key(&shard.holder) else {
                continue;
            };
            let bytes = self.state.deals[&shard_key.0].segments[shard_key.1 as usize].shard_bytes;
            let cost = PRICE * u128::from(bytes) / PRICE_UNIT_BYTES / 2;
            let agent = &self.agents[(k - 1) as usize];
            let kept = agent.kept_share_pct(shard_key);
            let tally = self.tallies.get_mut(&k).expect("tallied");
            tally.shard_epochs += 1;
            tally.storage_cost += cost * u128::from(kept) / 100;
            tally.saved += cost - cost * u128::from(kept) / 100;
        }
    }
}

// The providers.

/// When a provider joins, leaves and is away.
#[derive(Clone, Debug, Default)]
pub(super) struct Schedule {
    join_epoch: u64,
    leave_epoch: Option<u64>,
    /// An epoch of planned downtime, declared at its first block.
    planned_epoch: Option<u64>,
    /// Undeclared outages: heights `from..to`.
    spells: Vec<(u64, u64)>,
    /// Short outages (shorter than the proof window) come and go.
    blips: bool,
    /// Percent of each shard's chunks dropped.
    drop_pct: u64,
}

impl Schedule {
    pub(super) fn draw(class: Class, config: &StorageConfig, rng: &mut ChaCha8Rng) -> Schedule {
        let epochs = config.epochs;
        let mut schedule = Schedule::default();
        match class {
            Class::Honest => {
                schedule.blips = true;
                if rng.random_bool(0.5) {
                    schedule.planned_epoch = Some(rng.random_range(3..epochs - 3));
                }
            }
            Class::Lazy => schedule.drop_pct = config.lazy_drop_pct,
            Class::Offline => {
                for _ in 0..rng.random_range(1..=2u32) {
                    let from = rng.random_range(2..epochs - 6) * EPOCH + rng.random_range(0..EPOCH);
                    schedule
                        .spells
                        .push((from, from + rng.random_range(3..=5) * EPOCH));
                }
            }
            Class::Churn => {
                schedule.blips = true;
                schedule.join_epoch = rng.random_range(1..epochs / 2);
                if rng.random_bool(0.5) {
                    schedule.leave_epoch = Some(rng.random_range(schedule.join_epoch + 4..epochs));
                }
            }
        }
        schedule
    }
}

/// A shard as a provider keeps it, with the chunks a lazy one dropped (see `Agent::keep`).
#[derive(Clone, Debug)]
struct Held {
    shard: Shard,
    dropped: BTreeSet<u64>,
}

/// One provider.
#[derive(Debug, Default)]
pub(super) struct Agent {
    pub(super) key: u64,
    pub(super) class: Class,
    schedule: Schedule,
    registered: bool,
    leaving: bool,
    left: bool,
    /// Heights below this are a short outage.
    down_until: u64,
    store: BTreeMap<ShardKey, Held>,
}

fn register() -> Payload {
    Payload::ProviderRegister {
        endpoint: "http://127.0.0.1:7000".into(),
        profile: ResourceProfile {
            cores: 4,
            memory_mb: 16_384,
            gpus: 0,
            gpu_model: String::new(),
            storage_gb: 100,
        },
        fuel_per_second: 50_000_000,
        ask_per_mfuel: 1,
        bond: BOND,
    }
}

impl Agent {
    pub(super) fn new(key: u64, class: Class, schedule: Schedule) -> Agent {
        Agent {
            key,
            class,
            schedule,
            ..Agent::default()
        }
    }

    fn address(&self) -> Address {
        address(self.key)
    }

    /// Whether the provider is up at `height` (a short outage, an undeclared spell or a
    /// planned epoch away count as down).
    pub(super) fn online(&self, height: u64) -> bool {
        let planned = self
            .schedule
            .planned_epoch
            .is_some_and(|e| height > e * EPOCH && height < (e + 1) * EPOCH);
        let spell = self
            .schedule
            .spells
            .iter()
            .any(|(from, to)| (*from..*to).contains(&height));
        self.registered && !self.left && height >= self.down_until && !planned && !spell
    }

    /// The share of shard `key`'s chunks this provider keeps, in percent.
    pub(super) fn kept_share_pct(&self, key: &ShardKey) -> u64 {
        self.store.get(key).map_or(100, |held| {
            let chunks = chunk_count(held.shard.bytes.len() as u64);
            100 - held.dropped.len() as u64 * 100 / chunks
        })
    }

    /// The whole shard `key` if this provider holds all of it.
    fn whole(&self, key: &ShardKey) -> Option<&Shard> {
        self.store
            .get(key)
            .filter(|held| held.dropped.is_empty())
            .map(|held| &held.shard)
    }

    /// Whether this provider keeps a whole copy of shard `key`, and is up at `height`.
    pub(super) fn serves(&self, key: &ShardKey, height: u64) -> bool {
        self.online(height) && self.whole(key).is_some()
    }

    /// A whole copy of shard `key`, if this provider keeps one.
    pub(super) fn copy(&self, key: &ShardKey) -> Option<Shard> {
        self.whole(key).cloned()
    }

    /// Whether this provider keeps a whole copy of shard `key` on its disk, up or not.
    pub(super) fn keeps(&self, key: &ShardKey) -> bool {
        self.whole(key).is_some()
    }

    /// Forgets every shard the chain no longer has it hold.
    pub(super) fn sync(&mut self, state: &State) {
        let me = self.address();
        self.store.retain(|(deal, segment, slot), _| {
            state.deals.get(deal).is_some_and(|d| {
                let shard = &d.segments[*segment as usize].shards[usize::from(*slot)];
                shard.holder == me && matches!(shard.state, ShardState::Active { .. })
            })
        });
    }

    /// This provider's transactions for block `height`.
    pub(super) fn act(
        &mut self,
        world: &mut World,
        height: u64,
    ) -> Result<Vec<(u64, Payload)>, String> {
        if self.left {
            return Ok(Vec::new());
        }
        if !self.registered {
            if height < self.schedule.join_epoch * EPOCH + 1 {
                return Ok(Vec::new());
            }
            self.registered = true;
            let offer = Payload::StorageOffer {
                capacity_bytes: 1 << 30,
                price_per_gib_epoch: PRICE,
            };
            return Ok(vec![(self.key, register()), (self.key, offer)]);
        }
        self.blip(world, height);
        if !self.online(height) {
            return Ok(Vec::new());
        }
        if self
            .schedule
            .planned_epoch
            .is_some_and(|e| height == e * EPOCH)
        {
            return Ok(self.declare(&world.state));
        }
        let mut out = self.leave(&world.state);
        let me = self.address();
        let mut todo = Vec::new();
        for (id, deal) in &world.state.deals {
            for (s, segment) in deal.segments.iter().enumerate() {
                for (i, shard) in segment.shards.iter().enumerate() {
                    if shard.holder == me {
                        todo.push(((*id, s as u32, i as u16), shard.state, shard.challenge));
                    }
                }
            }
        }
        for (shard_key, state, challenge) in todo {
            let (id, segment, slot) = shard_key;
            let accept = Payload::ShardAccept {
                deal: id,
                segment,
                shard: slot,
            };
            match state {
                ShardState::Drawn { .. } if !self.leaving => {
                    self.upload(world, shard_key)?;
                    out.push((self.key, accept));
                }
                ShardState::Repairing { .. } if !self.leaving => {
                    let rebuilt = self.repair(world, shard_key, height)?;
                    if rebuilt {
                        out.push((self.key, accept));
                    }
                }
                ShardState::Active { .. } => {
                    let open = challenge.filter(|c| c.outcome == ChallengeOutcome::Open);
                    if let Some(c) = open
                        && let Some(proof) = self.proof(&world.state, shard_key, c.chunk)?
                    {
                        out.push((
                            self.key,
                            Payload::StorageProof {
                                deal: id,
                                segment,
                                shard: slot,
                                epoch: c.epoch,
                                proof,
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// A short outage (one or two blocks, below the proof window) starts now and then, never
    /// right before a planned epoch away.
    fn blip(&mut self, world: &mut World, height: u64) {
        let near_planned = self
            .schedule
            .planned_epoch
            .is_some_and(|e| (e * EPOCH).abs_diff(height) <= PROOF_WINDOW);
        if self.schedule.blips
            && height > self.down_until
            && !near_planned
            && world.rng.random_range(0..60u32) == 0
        {
            self.down_until = height + world.rng.random_range(1..PROOF_WINDOW);
        }
    }

    /// Faults declared for every active shard before an epoch away.
    fn declare(&self, state: &State) -> Vec<(u64, Payload)> {
        let mut out = Vec::new();
        for (deal, segment, slot) in self.store.keys() {
            let shard = &state.deals[deal].segments[*segment as usize].shards[usize::from(*slot)];
            let open = shard
                .challenge
                .is_some_and(|c| c.outcome == ChallengeOutcome::Open);
            if !open && shard.fault_epoch.is_none() {
                out.push((
                    self.key,
                    Payload::FaultDeclare {
                        deal: *deal,
                        segment: *segment,
                        shard: *slot,
                    },
                ));
            }
        }
        out
    }

    /// A churn provider past its leaving epoch offers only what it holds, then deregisters
    /// once it holds nothing.
    fn leave(&mut self, state: &State) -> Vec<(u64, Payload)> {
        if self
            .schedule
            .leave_epoch
            .is_none_or(|e| state.height + 1 < e * EPOCH)
        {
            return Vec::new();
        }
        let me = self.address();
        let used = state.storage_offers.get(&me).map_or(0, |o| o.used_bytes);
        if !self.leaving {
            self.leaving = true;
            let offer = Payload::StorageOffer {
                capacity_bytes: used,
                price_per_gib_epoch: PRICE,
            };
            return vec![(self.key, offer)];
        }
        let locked = state.providers.get(&me).map_or(0, |p| p.bond_locked);
        if used == 0 && locked == 0 {
            self.left = true;
            return vec![(self.key, Payload::ProviderDeregister)];
        }
        Vec::new()
    }

    /// Keeps `shard`. A lazy provider drops some of its chunks' bytes and keeps only their
    /// BLAKE3 chaining values (32 bytes a chunk): enough to prove the chunks it kept, which a
    /// cheater would do, and not to serve or prove the ones it dropped. The sim keeps the
    /// original bytes and the set dropped; nothing dropped is ever served or proven.
    fn keep(&mut self, world: &mut World, shard_key: ShardKey, shard: Shard) {
        let chunks = chunk_count(shard.bytes.len() as u64);
        let drop = (chunks * self.schedule.drop_pct).div_ceil(100);
        let mut dropped = BTreeSet::new();
        while (dropped.len() as u64) < drop {
            dropped.insert(world.rng.random_range(0..chunks));
        }
        self.store.insert(shard_key, Held { shard, dropped });
    }

    /// The owner uploads the drawn shard; the provider checks it against the commitment.
    fn upload(&mut self, world: &mut World, shard_key: ShardKey) -> Result<(), String> {
        let (deal, segment, slot) = shard_key;
        let encoded = world
            .originals
            .get(&(deal, segment))
            .ok_or("a shard drawn for a segment nobody uploads")?;
        let shard = encoded.shards[usize::from(slot)].clone();
        let record = &world.state.deals[&deal].segments[segment as usize];
        coding::check(shape(), record.size_bytes, &record.commitment, &shard)
            .map_err(|err| format!("the owner's shard does not check: {err}"))?;
        self.keep(world, shard_key, shard);
        Ok(())
    }

    /// Rebuilds lost shard `shard_key`, drawn to this provider: reads any `k` whole shards of
    /// the segment from holders that are up (authorized as the chain's repairer), checks each,
    /// decodes strictly, re-encodes and keeps its slot. False when fewer than `k` are there.
    fn repair(
        &mut self,
        world: &mut World,
        shard_key: ShardKey,
        height: u64,
    ) -> Result<bool, String> {
        let (deal, segment, slot) = shard_key;
        let record = world.state.deals[&deal].segments[segment as usize].clone();
        let owner = world.state.deals[&deal].owner.clone();
        let now_ms = world.state.timestamp_ms;
        let k = usize::from(shape().k());
        let mut got = Vec::new();
        for (j, shard) in record.shards.iter().enumerate() {
            let source = (deal, segment, j as u16);
            let Some(holder) = world.agents.iter().find(|a| a.address() == shard.holder) else {
                continue;
            };
            if got.len() == k || j == usize::from(slot) || !holder.online(height) {
                continue;
            }
            let Some(held) = holder.store.get(&source) else {
                continue;
            };
            let read = ShardRead::sign(
                &key(self.key),
                deal,
                segment,
                j as u16,
                now_ms + 60_000,
                None,
            );
            let is_repairer = |reader: &Address| {
                record
                    .shards
                    .iter()
                    .any(|s| s.holder == *reader && matches!(s.state, ShardState::Repairing { .. }))
            };
            read.authorize((&deal, segment, j as u16), &owner, now_ms, is_repairer)
                .map_err(|err| format!("the chain's repairer was refused a read: {err}"))?;
            world.reads_allowed += 1;
            // A lazy holder can serve its shard only with holes, which the check refuses.
            if held.dropped.is_empty()
                && coding::check(shape(), record.size_bytes, &record.commitment, &held.shard)
                    .is_ok()
            {
                got.push(held.shard.clone());
            }
        }
        if got.len() < k {
            return Ok(false);
        }
        let data = coding::decode(shape(), &record.commitment, &got, &Sequential)
            .map_err(|err| format!("a repair does not decode: {err}"))?;
        let encoded = coding::encode(shape(), &data, &Sequential)
            .map_err(|err| format!("a repair does not encode: {err}"))?;
        let rebuilt = encoded.shards[usize::from(slot)].clone();
        coding::check(shape(), record.size_bytes, &record.commitment, &rebuilt)
            .map_err(|err| format!("a rebuilt shard does not check: {err}"))?;
        world.decodes += 1;
        self.keep(world, shard_key, rebuilt);
        Ok(true)
    }

    /// The proof of `chunk` of shard `shard_key`, checked as the chain will check it; `None`
    /// when this provider dropped that chunk (it answers only what it can).
    fn proof(
        &self,
        state: &State,
        shard_key: ShardKey,
        chunk: u64,
    ) -> Result<Option<plexus_types::storage::ChunkProof>, String> {
        let Some(held) = self.store.get(&shard_key) else {
            return Ok(None);
        };
        if held.dropped.contains(&chunk) {
            return Ok(None);
        }
        let (deal, segment, slot) = shard_key;
        let record = &state.deals[&deal].segments[segment as usize];
        let proof = prove(&held.shard, chunk).map_err(|err| format!("prove: {err}"))?;
        verify(
            &record.commitment,
            shape().n(),
            slot,
            record.shard_bytes,
            chunk,
            &proof,
        )
        .map_err(|err| format!("a kept chunk's proof does not verify: {err}"))?;
        Ok(Some(proof))
    }
}

/// The scenario's code: 3 of 6.
pub(super) fn shape() -> Shape {
    Shape::new(3, 6).expect("3 of 6 is a shape")
}
