//! Who holds each shard: the candidates for a slot, the draw of a new deal's holders (`n`
//! distinct per segment, `plexus_storage::draws`), the holder's accept (a repairer's too, paid
//! its repair fee then), the redraw of a slot not accepted in time (a repair's after
//! `repair_deadline_epochs`, a lost shard's retry), the draw of a lost shard's repairer, and the
//! reservation each drawn shard makes on its holder (bytes of its offer, collateral of its
//! bond).

use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::index::take_due;
use crate::storage::records::{Shard, ShardKey, ShardState};
use plexus_storage::draws::{draw_distinct, draw_slot};
use plexus_storage::money::shard_collateral;
use plexus_types::deal::DealSegment;
use plexus_types::{Address, Amount, Digest, Reason};
use std::collections::BTreeMap;

/// A provider that may hold a slot: at its offer's price, with the collateral the shard would
/// lock, weighted by `Provider::draw_weight`.
#[derive(Clone, Debug)]
struct Candidate {
    holder: Address,
    price_per_gib_epoch: Amount,
    collateral: Amount,
    weight: u128,
}

/// What a slot asks of its holder, and who may not hold it.
struct Slot<'a> {
    owner: &'a Address,
    price_cap_per_gib_epoch: Amount,
    shard_bytes: u64,
    /// The providers already holding (or drawn for) a shard of the segment.
    taken: &'a [Address],
}

/// Reservations not yet written, per provider: (bytes, collateral). The draws of a new deal
/// count the slots drawn before them through it.
type Pending = BTreeMap<Address, (u64, Amount)>;

/// The providers that may hold `slot` at `height`, in address order: serving and heard from, a
/// bond of at least `provider_bond_min` whose free part covers the collateral, an offer at most
/// the deal's cap with room for the shard, not the deal's owner and no shard of the segment yet.
fn candidates(state: &State, slot: &Slot<'_>, pending: &Pending, height: u64) -> Vec<Candidate> {
    let params = &state.params;
    state
        .storage_offers
        .iter()
        .filter(|(address, offer)| {
            *address != slot.owner
                && !slot.taken.contains(address)
                && offer.price_per_gib_epoch <= slot.price_cap_per_gib_epoch
        })
        .filter_map(|(address, offer)| {
            let provider = state.providers.get(address)?;
            let (bytes, locked) = pending.get(address).copied().unwrap_or_default();
            let collateral =
                shard_collateral(&params.storage, offer.price_per_gib_epoch, slot.shard_bytes)?;
            let room = offer.free_bytes().saturating_sub(bytes) >= slot.shard_bytes;
            let bond = provider.bond_free().saturating_sub(locked) >= collateral;
            (provider.is_active(params, height)
                && provider.bond >= params.provider_bond_min
                && room
                && bond)
                .then(|| Candidate {
                    holder: address.clone(),
                    price_per_gib_epoch: offer.price_per_gib_epoch,
                    collateral,
                    weight: provider.draw_weight(),
                })
        })
        .collect()
}

/// A shard drawn to `candidate` in `state`, before it is written.
fn drawn(candidate: Candidate, state: ShardState) -> Shard {
    Shard::new(
        candidate.holder,
        candidate.price_per_gib_epoch,
        candidate.collateral,
        state,
    )
}

/// The holders of a new deal `id`'s segments drawn from the block's `seed` at `height`: `n`
/// distinct providers per segment, the slots of earlier segments counted against the providers'
/// room and bond; `None` when some segment cannot be held. Reads the state only.
pub(crate) fn draw_deal(
    state: &State,
    id: &Digest,
    owner: &Address,
    price_cap_per_gib_epoch: Amount,
    segments: &[DealSegment],
    height: u64,
    seed: &Digest,
) -> Option<Vec<Vec<Shard>>> {
    let n = u16::try_from(state.params.storage.n).ok()?;
    let accept_due = height.saturating_add(state.params.storage.accept_window_blocks);
    let mut pending = Pending::new();
    let mut drawn_segments = Vec::with_capacity(segments.len());
    for (index, segment) in segments.iter().enumerate() {
        let slot = Slot {
            owner,
            price_cap_per_gib_epoch,
            shard_bytes: segment.shard_bytes,
            taken: &[],
        };
        let candidates = candidates(state, &slot, &pending, height);
        let weights: Vec<u128> = candidates.iter().map(|c| c.weight).collect();
        let picks = draw_distinct(seed, id, u32::try_from(index).ok()?, n, &weights)?;
        let mut shards = Vec::with_capacity(picks.len());
        for pick in picks {
            let candidate = candidates[pick].clone();
            let entry = pending.entry(candidate.holder.clone()).or_default();
            entry.0 = entry.0.saturating_add(segment.shard_bytes);
            entry.1 = entry.1.saturating_add(candidate.collateral);
            let state = ShardState::Drawn {
                drawn_height: height,
                accept_due,
            };
            shards.push(drawn(candidate, state));
        }
        drawn_segments.push(shards);
    }
    Some(drawn_segments)
}

/// Reserves a drawn shard's bytes of its holder's offer and its collateral of its bond (a lost
/// shard reserves nothing).
pub(crate) fn reserve(state: &mut State, shard: &Shard, shard_bytes: u64) {
    if !shard.reserves() {
        return;
    }
    if let Some(offer) = state.storage_offers.get_mut(&shard.holder) {
        offer.used_bytes += shard_bytes;
    }
    if let Some(provider) = state.providers.get_mut(&shard.holder) {
        provider.bond_locked += shard.collateral;
    }
}

/// Releases what [`reserve`] took: the shard's holder no longer holds it.
pub(crate) fn release(state: &mut State, shard: &Shard, shard_bytes: u64) {
    if !shard.reserves() {
        return;
    }
    if let Some(offer) = state.storage_offers.get_mut(&shard.holder) {
        offer.used_bytes -= shard_bytes;
    }
    if let Some(provider) = state.providers.get_mut(&shard.holder) {
        provider.bond_locked -= shard.collateral;
    }
}

/// The drawn holder (or repairer) of shard `slot` of segment `segment` of `deal` accepts it:
/// from now on it holds the shard, is challenged once an epoch and paid for what it proves. A
/// repairer is paid its repair fee out of the deal's escrow (at most what the escrow holds).
/// Returns whether it was a repair.
pub(crate) fn accept(
    state: &mut State,
    sender: &Address,
    (deal, segment, slot): ShardKey,
    height: u64,
) -> Result<bool, Reason> {
    let record = state.deals.get_mut(&deal).ok_or(Reason::UnknownDeal)?;
    let shard = record
        .segments
        .get_mut(segment as usize)
        .and_then(|segment| segment.shards.get_mut(usize::from(slot)))
        .filter(|shard| shard.holder == *sender && shard.reserves())
        .ok_or(Reason::NotShardHolder)?;
    let (accept_due, fee) = match shard.state {
        ShardState::Drawn { accept_due, .. } => (accept_due, None),
        ShardState::Repairing {
            accept_due, fee, ..
        } => (accept_due, Some(fee)),
        ShardState::Active { .. } | ShardState::Lost { .. } => {
            return Err(Reason::ShardAlreadyAccepted);
        }
    };
    shard.state = ShardState::Active {
        since_height: height,
    };
    let key = (deal, segment, slot);
    let index = &mut state.storage_index;
    index.accept_dues.remove(&(accept_due, key));
    index.unchallenged.insert(key);
    if let Some(fee) = fee {
        let fee = fee.min(record.escrow);
        record.paid += fee;
        state.unlock(Held::DealEscrow(&deal), sender, fee);
    }
    Ok(fee.is_some())
}

/// The candidate drawn from `seed` at `height` to hold slot `key` of an open deal, among the
/// providers holding no shard of its segment; `None` when nobody can (or no such slot).
fn draw_for(
    state: &State,
    (id, segment, slot): ShardKey,
    height: u64,
    seed: &Digest,
) -> Option<Candidate> {
    let deal = state.deals.get(&id)?;
    let record = deal.segments.get(segment as usize)?;
    let taken: Vec<Address> = record.shards.iter().map(|s| s.holder.clone()).collect();
    let query = Slot {
        owner: &deal.owner,
        price_cap_per_gib_epoch: deal.price_cap_per_gib_epoch,
        shard_bytes: record.shard_bytes,
        taken: &taken,
    };
    let candidates = candidates(state, &query, &Pending::new(), height);
    let weights: Vec<u128> = candidates.iter().map(|c| c.weight).collect();
    let pick = draw_slot(seed, &id, segment, slot, &weights)?;
    candidates.into_iter().nth(pick)
}

/// Replaces shard `key` (of `shard_bytes` bytes) with `new`: the old holder's reservation is
/// released, the new one's made, and the accept index follows.
pub(crate) fn replace(state: &mut State, key: ShardKey, shard_bytes: u64, new: Shard) {
    let (id, segment, slot) = key;
    let Some(shard) = state
        .deals
        .get_mut(&id)
        .and_then(|deal| deal.segments.get_mut(segment as usize))
        .and_then(|segment| segment.shards.get_mut(usize::from(slot)))
    else {
        return;
    };
    let old = std::mem::replace(shard, new.clone());
    release(state, &old, shard_bytes);
    reserve(state, &new, shard_bytes);
    let index = &mut state.storage_index;
    if let Some(due) = old.state.accept_due() {
        index.accept_dues.remove(&(due, key));
    }
    if let Some(challenge) = old.open_challenge() {
        index.proof_dues.remove(&(challenge.due_height, key));
    }
    index.unchallenged.remove(&key);
    if let Some(due) = new.state.accept_due() {
        index.accept_dues.insert((due, key));
    }
}

/// The repairer of lost shard `key` drawn from `seed` at `height`, or, with nobody to draw, the
/// lost shard waiting for a retry: `lost` is the lost holder's record (its address stays so it
/// is not drawn again; nothing is reserved) and `fee` the repair fee.
pub(crate) fn repair(
    state: &mut State,
    key: ShardKey,
    shard_bytes: u64,
    lost: &Shard,
    fee: Amount,
    height: u64,
    seed: &Digest,
) {
    let deadline = repair_deadline_blocks(state);
    let retry = state.params.storage.accept_window_blocks;
    let new = match draw_for(state, key, height, seed) {
        Some(candidate) => drawn(
            candidate,
            ShardState::Repairing {
                drawn_height: height,
                accept_due: height.saturating_add(deadline),
                fee,
            },
        ),
        None => Shard::new(
            lost.holder.clone(),
            lost.price_per_gib_epoch,
            0,
            ShardState::Lost {
                since_height: height,
                retry_height: height.saturating_add(retry),
                fee,
            },
        ),
    };
    replace(state, key, shard_bytes, new);
}

/// The shard at `key` of an open deal, with its segment's shard length.
pub(crate) fn shard_at(state: &State, (id, segment, slot): ShardKey) -> Option<(u64, Shard)> {
    let record = state.deals.get(&id)?.segments.get(segment as usize)?;
    Some((
        record.shard_bytes,
        record.shards.get(usize::from(slot))?.clone(),
    ))
}

/// `repair_deadline_epochs` in blocks, at the current epoch's length.
fn repair_deadline_blocks(state: &State) -> u64 {
    let length = state.epochs().length_of(state.epoch_of(state.height + 1));
    state
        .params
        .storage
        .repair_deadline_epochs
        .saturating_mul(length)
}

/// Draws again every slot whose accept fell due at `height`, from the block's `seed`, among the
/// providers holding no shard of its segment (so never the holder that let it lapse): a drawn
/// slot gets a new `accept_window_blocks`, a repair a new `repair_deadline_epochs`, and a lost
/// shard waiting for a repairer is drawn one. With nobody else to draw, the same holder keeps
/// the slot for another window (a lost shard waits another `accept_window_blocks`).
pub(crate) fn redraw_due(state: &mut State, height: u64, seed: &Digest) {
    let window = state.params.storage.accept_window_blocks;
    let deadline = repair_deadline_blocks(state);
    for key in take_due(&mut state.storage_index.accept_dues, height) {
        let Some((shard_bytes, old)) = shard_at(state, key) else {
            continue;
        };
        let next = match old.state {
            ShardState::Drawn { .. } => ShardState::Drawn {
                drawn_height: height,
                accept_due: height.saturating_add(window),
            },
            ShardState::Repairing { fee, .. } => ShardState::Repairing {
                drawn_height: height,
                accept_due: height.saturating_add(deadline),
                fee,
            },
            ShardState::Lost { fee, .. } => {
                repair(state, key, shard_bytes, &old, fee, height, seed);
                continue;
            }
            ShardState::Active { .. } => continue,
        };
        let new = match draw_for(state, key, height, seed) {
            Some(candidate) => drawn(candidate, next),
            None => Shard {
                state: next,
                ..old.clone()
            },
        };
        replace(state, key, shard_bytes, new);
    }
}
