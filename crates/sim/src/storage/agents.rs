//! The providers: when each is online, what it stores, and the transactions it sends (offers,
//! accepts, proofs, declared faults, repairs, leaving).

use super::report::Class;
use super::run::{EPOCH, PRICE, PROOF_WINDOW, StorageConfig, World};
use crate::signing::{address, key};
use commonware_parallel::Sequential;
use plexus_state::State;
use plexus_state::storage::{ChallengeOutcome, ShardKey, ShardState};
use plexus_storage::access::ShardRead;
use plexus_storage::coding::{self, Shape, Shard};
use plexus_storage::proof::{chunk_count, prove, verify};
use plexus_types::job::ResourceProfile;
use plexus_types::{Address, Payload};
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

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
                    schedule.spells.push((from, from + rng.random_range(3..=5) * EPOCH));
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
        bond: super::run::BOND,
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
    pub(super) fn act(&mut self, world: &mut World, height: u64) -> Result<Vec<(u64, Payload)>, String> {
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
        if self.schedule.planned_epoch.is_some_and(|e| height == e * EPOCH) {
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
            let accept = Payload::ShardAccept { deal: id, segment, shard: slot };
            match state {
                ShardState::Drawn { .. } if !self.leaving => {
                    self.upload(world, shard_key)?;
                    out.push((self.key, accept));
                }
                ShardState::Repairing { .. } if !self.leaving => {
                    if self.repair(world, shard_key, height)? {
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
                            Payload::StorageProof { deal: id, segment, shard: slot, epoch: c.epoch, proof },
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
            && height >= self.down_until + 1
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
            let open = shard.challenge.is_some_and(|c| c.outcome == ChallengeOutcome::Open);
            if !open && shard.fault_epoch.is_none() {
                out.push((
                    self.key,
                    Payload::FaultDeclare { deal: *deal, segment: *segment, shard: *slot },
                ));
            }
        }
        out
    }

    /// A churn provider past its leaving epoch offers only what it holds, then deregisters
    /// once it holds nothing.
    fn leave(&mut self, state: &State) -> Vec<(u64, Payload)> {
        if self.schedule.leave_epoch.is_none_or(|e| state.height + 1 < e * EPOCH) {
            return Vec::new();
        }
        let me = self.address();
        let used = state.storage_offers.get(&me).map_or(0, |o| o.used_bytes);
        if !self.leaving {
            self.leaving = true;
            let offer = Payload::StorageOffer { capacity_bytes: used, price_per_gib_epoch: PRICE };
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
    fn repair(&mut self, world: &mut World, shard_key: ShardKey, height: u64) -> Result<bool, String> {
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
            let read = ShardRead::sign(&key(self.key), deal, segment, j as u16, now_ms + 60_000, None);
            let is_repairer = |reader: &Address| {
                record.shards.iter().any(|s| {
                    s.holder == *reader && matches!(s.state, ShardState::Repairing { .. })
                })
            };
            read.authorize((&deal, segment, j as u16), &owner, now_ms, is_repairer)
                .map_err(|err| format!("the chain's repairer was refused a read: {err}"))?;
            world.reads_allowed += 1;
            // A lazy holder can serve its shard only with holes, which the check refuses.
            if held.dropped.is_empty()
                && coding::check(shape(), record.size_bytes, &record.commitment, &held.shard).is_ok()
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
        verify(&record.commitment, shape().n(), slot, record.shard_bytes, chunk, &proof)
            .map_err(|err| format!("a kept chunk's proof does not verify: {err}"))?;
        Ok(Some(proof))
    }
}

/// The scenario's code: 3 of 6.
pub(super) fn shape() -> Shape {
    Shape::new(3, 6).expect("3 of 6 is a shape")
}
