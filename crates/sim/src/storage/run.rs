//! The run: genesis, the block loop, what each block changed for whom, and the invariants.

use super::agents::{Agent, Schedule};
use super::report::{Class, ClassRow, StorageOutcome};
use crate::signing::{address, key, sign_all};
use commonware_cryptography::Signer as _;
use plexus_state::beacon::DevBeacon;
use plexus_state::storage::{ChallengeOutcome, Shard, ShardKey, ShardState};
use plexus_state::{Genesis, GenesisValidator, Params, State, StorageParams, build_block};
use plexus_storage::coding::Encoded;
use plexus_types::deal::PRICE_UNIT_BYTES;
use plexus_types::{Address, Amount, Digest, PLX, Payload, Status};
use rand::SeedableRng as _;
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
        payloads.extend(posts.iter().map(|(owner, payload, _)| (*owner, payload.clone())));
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
        self.repair_blocks.iter().sum::<u64>().checked_div(count).unwrap_or(0)
    }

    /// Every shard record on chain by key.
    pub(super) fn shards(&self) -> BTreeMap<ShardKey, Shard> {
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
        before: &BTreeMap<ShardKey, Shard>,
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

    fn observe_challenge(&mut self, was: Option<&Shard>, now: &Shard, wrong: &mut BTreeSet<u64>) {
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
            ChallengeOutcome::Missed if now.holder != *holder && was.is_some_and(|w| w.misses == now.misses) => {
                tally.wrong += 1;
                wrong.insert(k);
            }
            ChallengeOutcome::Missed => tally.missed += 1,
            ChallengeOutcome::Excused => tally.excused += 1,
        }
    }

    fn observe_loss(&mut self, shard_key: &ShardKey, was: Option<&Shard>, now: &Shard, height: u64) {
        let Some(was) = was else {
            return;
        };
        let active = |s: &ShardState| matches!(s, ShardState::Active { .. });
        let lost = |s: &ShardState| matches!(s, ShardState::Repairing { .. } | ShardState::Lost { .. });
        if active(&was.state) && lost(&now.state) {
            self.loss_heights.insert(*shard_key, height);
        }
        if lost(&was.state) && active(&now.state) {
            if let Some(at) = self.loss_heights.remove(shard_key) {
                self.repair_blocks.push(height - at);
            }
        }
        if active(&now.state) && !active(&was.state) || was.holder != now.holder && active(&now.state) {
            if let Some(k) = self.agent_key(&now.holder) {
                self.tallies.get_mut(&k).expect("tallied").shards_held += 1;
            }
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
    fn epoch_end(&mut self, shards: &BTreeMap<ShardKey, Shard>) {
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
