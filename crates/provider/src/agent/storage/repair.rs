//! Rebuilding the shards of one segment drawn to this provider for repair, on a thread of its
//! own: what [`super::StorageStep`] starts for each segment `rules::repairs_to_start` names.
//!
//! The chain shows the segment's holders; `k` of its `active` shards are fetched in parallel
//! from them (any the store already holds first), each read signed by this provider's key (a
//! `ShardRead` its holders authorize because the chain drew this provider to repair a shard of
//! the segment) and checked against the commitment as it arrives. A holder that refuses, is
//! unreachable or serves a bad shard is passed over for the next. The segment is then rebuilt
//! (`coding::rebuild`: one strict decode, one re-encoding whose root must be the commitment),
//! and each slot drawn here is stored, its drawn height noted first as an upload's is. The
//! storage step then accepts them through the agent's submitting thread as it accepts uploads.
//!
//! Nothing here touches the chain: a repair that cannot finish (fewer than `k` holders answer)
//! stores nothing and is retried later; if the repair deadline passes first, the chain draws
//! another repairer with no penalty to this one.

use crate::shards::ShardStore;
use commonware_parallel::Sequential;
use plexus_client::{
    Client,
    dto::{SegmentDto, ShardState, StorageFileDto},
};
use plexus_state::storage::ShardKey;
use plexus_storage::{
    access::ShardRead,
    coding::{self, Shape, Shard},
};
use plexus_types::{Address, Digest, PrivateKey, hash::digest_hex};
use std::{
    collections::BTreeMap,
    sync::mpsc,
    time::{SystemTime, UNIX_EPOCH},
};

use super::rules::{self, RepairStart, SlotView};

/// How far ahead a repairer's shard read expires (within a holder's 5-minute bound).
const READ_TTL_MS: u64 = 2 * 60 * 1_000;

/// What a repair needs from the agent.
pub struct RepairContext {
    pub node: Client,
    pub key: PrivateKey,
    /// This provider's address, as the chain names holders.
    pub me: String,
    pub store: std::sync::Arc<ShardStore>,
}

/// Rebuilds and stores the slots of `start` still drawn here for repair; returns the keys
/// stored (none when the chain no longer draws any of them here), or why it could not.
pub fn run(cx: &RepairContext, start: &RepairStart) -> Result<Vec<ShardKey>, String> {
    let deal = start.deal;
    let file = cx
        .node
        .storage_file(digest_hex(&deal))
        .map_err(|e| format!("cannot read the deal: {e}"))?;
    let me = cx.me.as_str();
    let slots: Vec<u16> = start
        .slots
        .iter()
        .copied()
        .filter(|&slot| {
            rules::slot_view(&file, start.segment, slot, me)
                == SlotView::Mine(ShardState::Repairing)
        })
        .collect();
    if slots.is_empty() {
        return Ok(Vec::new());
    }
    rebuild(cx, &file, start.segment, &slots)
}

/// Rebuilds slots `slots` of segment `index` of `file` from `k` of its other active shards
/// and stores them: the repair itself, whoever's the slots are (`plexus bench storage` times
/// it as the deal's owner, whom the holders serve too).
pub fn rebuild(
    cx: &RepairContext,
    file: &StorageFileDto,
    index: u32,
    slots: &[u16],
) -> Result<Vec<ShardKey>, String> {
    let deal = file.file.id.digest();
    let segment = file
        .segments
        .get(index as usize)
        .ok_or_else(|| format!("the deal has no segment {index}"))?;
    let shape =
        Shape::new(file.file.k, file.file.n).map_err(|e| format!("the deal's code: {e}"))?;
    let sources = fetch_k(cx, file, segment, shape, slots)?;
    let commitment = segment.commitment.hash();
    let rebuilt = coding::rebuild(shape, &commitment, &sources, slots, &Sequential)
        .map_err(|e| format!("the fetched shards do not rebuild the segment: {e}"))?;
    let mut stored = Vec::with_capacity(rebuilt.len());
    for shard in rebuilt {
        let key = (deal, index, shard.index);
        let drawn_height = segment.shards[usize::from(shard.index)]
            .drawn_height
            .unwrap_or(file.file.posted_height);
        // The height first, so no shard is on disk without it (the collection's guard).
        cx.store
            .note_height(&deal, drawn_height)
            .and_then(|()| cx.store.put(&key, &shard))
            .map_err(|e| format!("cannot store rebuilt shard {}: {e}", shard.index))?;
        stored.push(key);
    }
    Ok(stored)
}

/// `k` checked shards of `segment` but `rebuilt`'s: those of its active slots this store
/// holds, then fetched from the other active holders, `k` at a time in parallel, passing over
/// any that fail.
fn fetch_k(
    cx: &RepairContext,
    file: &StorageFileDto,
    segment: &SegmentDto,
    shape: Shape,
    rebuilt: &[u16],
) -> Result<Vec<Shard>, String> {
    let me = cx.me.as_str();
    let k = usize::from(shape.k());
    let deal = file.file.id.digest();
    let commitment = segment.commitment.hash();
    let mut got: BTreeMap<u16, Shard> = BTreeMap::new();
    let mut remote = Vec::new();
    let sources = segment
        .shards
        .iter()
        .filter(|s| s.state == ShardState::Active && !rebuilt.contains(&s.index));
    for shard in sources {
        let local = (shard.holder == me)
            .then(|| {
                cx.store
                    .get(&(deal, segment.index, shard.index))
                    .ok()
                    .flatten()
            })
            .flatten()
            .filter(|s| coding::check(shape, segment.size_bytes, &commitment, s).is_ok());
        match local {
            Some(local) => {
                got.insert(shard.index, local);
            }
            None if shard.holder != me => remote.push((shard.index, shard.holder.clone())),
            None => {}
        }
    }
    let mut failures = Vec::new();
    let mut remote = remote.into_iter();
    while got.len() < k {
        let batch: Vec<(u16, String)> = remote.by_ref().take(k - got.len()).collect();
        if batch.is_empty() {
            return Err(format!(
                "{} of the k = {k} shards needed could be had ({})",
                got.len(),
                failures.join("; ")
            ));
        }
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            for (slot, holder) in &batch {
                let tx = tx.clone();
                scope.spawn(move || {
                    let _ = tx.send((*slot, fetch_one(cx, deal, segment, *slot, holder, shape)));
                });
            }
        });
        drop(tx);
        for (slot, answer) in rx {
            match answer {
                Ok(shard) => {
                    got.insert(slot, shard);
                }
                Err(error) => failures.push(format!("slot {slot}: {error}")),
            }
        }
    }
    Ok(got.into_values().take(k).collect())
}

/// Shard `slot` of `segment` from `holder`, read as this provider (the chain's repairer).
fn fetch_one(
    cx: &RepairContext,
    deal: Digest,
    segment: &SegmentDto,
    slot: u16,
    holder: &str,
    shape: Shape,
) -> Result<Shard, String> {
    let address: Address = holder.parse().map_err(|e| format!("{e}"))?;
    let provider = cx
        .node
        .provider(&address)
        .map_err(|e| format!("no endpoint for {holder}: {e}"))?;
    let endpoint = Client::new(&provider.endpoint).with_retry(crate::http::NODE_RETRY);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let read = ShardRead::sign(
        &cx.key,
        deal,
        segment.index,
        slot,
        now_ms + READ_TTL_MS,
        None,
    );
    endpoint
        .get_checked_shard(&deal, segment, slot, shape, Some(&read))
        .map_err(|e| format!("{holder}: {e}"))
}
