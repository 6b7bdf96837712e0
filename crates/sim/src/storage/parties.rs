//! The owners (deal posts), the readers (outsiders, holders of other shards, the owner and a
//! grantee), and the segment checks every block and at the end.

use super::report::{Class, ClassRow, StorageOutcome};
use super::run::shape;
use super::run::{EPOCH, PRICE, SEGMENT_BYTES, StorageConfig, World};
use crate::signing::key;
use commonware_parallel::Sequential;
use plexus_state::storage::ShardState;
use plexus_storage::access::{ReadGrant, ReadRefusal, ShardRead};
use plexus_storage::coding::{self, Encoded};
use plexus_types::deal::DealSegment;
use plexus_types::{Address, Payload};
use rand::RngExt as _;

impl World {
    /// Each owner may post a deal of one to three fresh segments at an epoch's second block,
    /// until eight epochs before the end.
    pub(super) fn posts(
        &mut self,
        config: &StorageConfig,
        height: u64,
    ) -> Vec<(u64, Payload, Vec<Encoded>)> {
        if height % EPOCH != 1 || height + 8 * EPOCH > config.epochs * EPOCH {
            return Vec::new();
        }
        let mut out = Vec::new();
        for owner in self.owners.clone() {
            if !self.rng.random_bool(0.6) {
                continue;
            }
            let mut encoded = Vec::new();
            let mut segments = Vec::new();
            for _ in 0..self.rng.random_range(1..=3u32) {
                let len = SEGMENT_BYTES - self.rng.random_range(0..2_000);
                let data: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
                let coded =
                    coding::encode(shape(), &data, &Sequential).expect("a small segment encodes");
                segments.push(DealSegment {
                    commitment: coded.commitment,
                    size_bytes: len as u64,
                    shard_bytes: coded.shards[0].bytes.len() as u64,
                });
                encoded.push(coded);
            }
            let post = Payload::DealPost {
                segments,
                k: shape().k(),
                n: shape().n(),
                price_cap_per_gib_epoch: 2 * PRICE,
                epochs: self.rng.random_range(4..=10),
                public: false,
            };
            out.push((owner, post, encoded));
        }
        out
    }

    /// Once an epoch, reads of a few shards: outsiders and holders of other shards of the
    /// segment are refused, the owner and its grantee allowed, by the holder's own check
    /// against the chain's owner and repairers.
    pub(super) fn outsider_reads(&mut self, height: u64) -> Result<(), String> {
        if height % EPOCH != 5 {
            return Ok(());
        }
        let shards: Vec<_> = self.shards().into_keys().collect();
        if shards.is_empty() {
            return Ok(());
        }
        let now_ms = self.state.timestamp_ms;
        let expires = now_ms + 60_000;
        for _ in 0..4 {
            let (deal, segment, slot) = shards[self.rng.random_range(0..shards.len())];
            let record = &self.state.deals[&deal];
            let owner = record.owner.clone();
            let holders: Vec<Address> = record.segments[segment as usize]
                .shards
                .iter()
                .map(|s| s.holder.clone())
                .collect();
            let is_repairer = |reader: &Address| {
                record.segments[segment as usize]
                    .shards
                    .iter()
                    .any(|s| s.holder == *reader && matches!(s.state, ShardState::Repairing { .. }))
            };
            let at = (&deal, segment, slot);
            let other_holder = holders
                .iter()
                .enumerate()
                .find(|(j, h)| *j != usize::from(slot) && !is_repairer(h))
                .and_then(|(_, h)| {
                    self.agents
                        .iter()
                        .find(|a| crate::signing::address(a.key) == *h)
                })
                .map(|a| a.key);
            let mut refused = self.outsiders.clone();
            refused.extend(other_holder);
            for reader in refused {
                let read = ShardRead::sign(&key(reader), deal, segment, slot, expires, None);
                match read.authorize(at, &owner, now_ms, is_repairer) {
                    Err(ReadRefusal::NotAllowed) => self.reads_refused += 1,
                    other => return Err(format!("reader {reader} of {at:?} got {other:?}")),
                }
            }
            // A grant for another key does not carry over to an outsider.
            let owner_key = self
                .owners
                .iter()
                .copied()
                .find(|o| crate::signing::address(*o) == owner)
                .ok_or("an owner outside the sim")?;
            let grant = ReadGrant::sign(
                &key(owner_key),
                deal,
                crate::signing::address(self.grantee),
                expires,
            );
            let stolen = ShardRead::sign(
                &key(self.outsiders[0]),
                deal,
                segment,
                slot,
                expires,
                Some(grant.clone()),
            );
            if stolen.authorize(at, &owner, now_ms, is_repairer) != Err(ReadRefusal::BadGrant) {
                return Err(format!("an outsider read {at:?} with another's grant"));
            }
            self.reads_refused += 1;
            for read in [
                ShardRead::sign(&key(owner_key), deal, segment, slot, expires, None),
                ShardRead::sign(
                    &key(self.grantee),
                    deal,
                    segment,
                    slot,
                    expires,
                    Some(grant),
                ),
            ] {
                read.authorize(at, &owner, now_ms, is_repairer)
                    .map_err(|err| format!("an allowed read of {at:?} was refused: {err}"))?;
                self.reads_allowed += 1;
            }
        }
        Ok(())
    }

    /// Every segment of an active deal keeps at least `k` whole copies on its holders' disks
    /// (up or not); the most holders of one segment failed at once (down, lazy or not yet
    /// rebuilt) is recorded.
    pub(super) fn check_segments(&mut self) -> Result<(), String> {
        let height = self.state.height;
        let n = u64::from(shape().n());
        let k = u64::from(shape().k());
        for (id, deal) in &self.state.deals {
            if !deal.is_active() && !self.started.contains(id) {
                continue;
            }
            self.started.insert(*id);
            for (s, segment) in deal.segments.iter().enumerate() {
                let (mut kept, mut serving) = (0, 0);
                for (i, shard) in segment.shards.iter().enumerate() {
                    let shard_key = (*id, s as u32, i as u16);
                    let Some(agent) = self
                        .agents
                        .iter()
                        .find(|a| crate::signing::address(a.key) == shard.holder)
                    else {
                        continue;
                    };
                    if !matches!(shard.state, ShardState::Active { .. }) {
                        continue;
                    }
                    kept += u64::from(agent.keeps(&shard_key));
                    serving += u64::from(agent.serves(&shard_key, height + 1));
                }
                self.failed_max = self.failed_max.max(n - serving);
                if kept < k && self.lost_segments.insert((*id, s as u32)) {
                    return Err(format!(
                        "segment {s} of deal {id} has {kept} whole copies, fewer than k = {k}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The end: every open segment decodes from its holders' whole copies, lazy providers
    /// earn less per shard-epoch than honest ones and burned more than they saved; the figures.
    pub(super) fn finish(self, config: &StorageConfig) -> Result<StorageOutcome, String> {
        for (id, deal) in &self.state.deals {
            for (s, segment) in deal.segments.iter().enumerate() {
                let copies: Vec<_> = segment
                    .shards
                    .iter()
                    .enumerate()
                    .filter_map(|(i, shard)| {
                        let agent = self
                            .agents
                            .iter()
                            .find(|a| crate::signing::address(a.key) == shard.holder)?;
                        agent.copy(&(*id, s as u32, i as u16))
                    })
                    .collect();
                if !self.started.contains(id) {
                    continue;
                }
                coding::decode(shape(), &segment.commitment, &copies, &Sequential).map_err(
                    |err| {
                        format!("segment {s} of deal {id} does not decode from its holders: {err}")
                    },
                )?;
            }
        }
        let mut rows: Vec<(Class, ClassRow)> = Class::ALL
            .iter()
            .map(|c| (*c, ClassRow::default()))
            .collect();
        for agent in &self.agents {
            let row = &mut rows
                .iter_mut()
                .find(|(c, _)| *c == agent.class)
                .expect("a class")
                .1;
            let mut tally = self.tallies[&agent.key].clone();
            tally.providers = 1;
            row.add(&tally);
        }
        let outcome = StorageOutcome {
            seed: self.seed,
            blocks: self.state.height,
            epochs: config.epochs,
            rows,
            segments_stored: self.originals.len() as u64,
            segments_lost: self.lost_segments.len() as u64,
            failed_holders_max: self.failed_max,
            shards_lost: self.state.storage_stats.shards_lost,
            repairs_done: self.state.storage_stats.repairs_done,
            repair_blocks_mean: self.repair_blocks_mean(),
            decodes: self.decodes,
            reads_refused: self.reads_refused,
            reads_allowed: self.reads_allowed,
            state_root: self.state.root(),
        };
        let (honest, lazy) = (outcome.row(Class::Honest), outcome.row(Class::Lazy));
        if lazy.shard_epochs > 0 && lazy.net_per_shard_epoch() >= honest.net_per_shard_epoch() {
            return Err(format!(
                "lazy providers did not lose money:\n{}",
                outcome.table()
            ));
        }
        if lazy.shard_epochs > 0 && lazy.burned <= lazy.saved {
            return Err(format!(
                "lazy providers burned less than they saved:\n{}",
                outcome.table()
            ));
        }
        Ok(outcome)
    }
}
